//! The `--target` side of a run: what the plan says about the user's server, and the server
//! itself while the run lasts — started by ragperf (`--target-cmd`, with the embedded mocks'
//! URLs in its environment) or only watched (`--target-pid`), and checked between points so a
//! server that died ends the run with its log, not with a column of connection errors.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Result;

use crate::backends::Backend;
use crate::target::config::{TargetConfig, TargetSpec};
use crate::target::launch::ManagedServer;

/// Environment variable naming the Qdrant base URL for a server ragperf starts.
pub const ENV_QDRANT_URL: &str = "RAGPERF_QDRANT_URL";
/// Environment variable naming the Bedrock Runtime base URL for a server ragperf starts.
pub const ENV_BEDROCK_URL: &str = "RAGPERF_BEDROCK_URL";

/// The target of a run.
#[derive(Clone, Debug)]
pub struct TargetPlan {
    /// The checked endpoint and protocol.
    pub spec: TargetSpec,
    /// The settings as given (recorded in the result).
    pub config: TargetConfig,
    /// Where the server's process comes from.
    pub server: ServerSource,
}

/// Where the target server's process is, for its OS figures.
#[derive(Clone, Debug)]
pub enum ServerSource {
    /// Not sampled: ragperf sees only the endpoint.
    Unsampled,
    /// A running process (`--target-pid`).
    Pid(u32),
    /// A command ragperf starts and stops (`--target-cmd`).
    Command {
        /// The shell command.
        cmd: String,
        /// The readiness URL.
        ready: String,
        /// How long to wait for readiness.
        timeout: Duration,
        /// Where its stdout and stderr go.
        log: PathBuf,
    },
}

/// The server during a run.
pub(super) struct Server {
    managed: Option<ManagedServer>,
    pid: Option<u32>,
    log: Option<PathBuf>,
}

impl Server {
    /// Starts (or finds) the server.
    pub(super) fn start(t: &TargetPlan, backend: &Backend, stop: &AtomicBool) -> Result<Server> {
        match &t.server {
            ServerSource::Unsampled => Ok(Server {
                managed: None,
                pid: None,
                log: None,
            }),
            ServerSource::Pid(pid) => {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    anyhow::bail!(
                        "--target-pid: no process {pid} is running; give the pid of the server (e.g. `pgrep -f uvicorn`)"
                    );
                }
                Ok(Server {
                    managed: None,
                    pid: Some(*pid),
                    log: None,
                })
            }
            ServerSource::Command {
                cmd,
                ready,
                timeout,
                log,
            } => {
                if let Some(dir) = log.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let (qdrant, bedrock) = backend.urls();
                let env = [
                    (ENV_QDRANT_URL.to_string(), qdrant),
                    (ENV_BEDROCK_URL.to_string(), bedrock),
                ];
                let managed = ManagedServer::start(cmd, &env, ready, *timeout, log, stop)?;
                Ok(Server {
                    pid: Some(managed.pid()),
                    managed: Some(managed),
                    log: Some(log.clone()),
                })
            }
        }
    }

    /// The process to sample.
    pub(super) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Why the server is gone, if it is.
    pub(super) fn died(&mut self) -> Option<String> {
        if let Some(m) = &mut self.managed {
            let status = m.exit_status()?;
            let log = self
                .log
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            return Some(format!(
                "the target server (--target-cmd) exited during the run ({status}); the result so far is written. Last lines of {log}:\n{}",
                m.log_tail(20)
            ));
        }
        let pid = self.pid?;
        (!std::path::Path::new(&format!("/proc/{pid}")).exists())
            .then(|| format!("the target server (pid {pid}) is gone; the result so far is written"))
    }

    /// Stops a server ragperf started (a watched one is left alone).
    pub(super) fn stop(mut self) {
        if let Some(m) = &mut self.managed {
            m.stop(Duration::from_secs(5));
        }
    }
}
