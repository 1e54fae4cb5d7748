//! Starting, watching and stopping the user's server for `--target-cmd "…" --target-ready URL`:
//! [`ManagedServer`] owns the server's process group from spawn to stop, so a run never leaves a
//! server behind (it is stopped on every error path and on drop).
//!
//! The command runs as `sh -c "exec <cmd>"` in a process group of its own: `exec` makes the
//! server itself the process whose pid ragperf samples, and the group lets one signal reach
//! everything it forks (uvicorn's workers, a reloader). When the command is not a simple command
//! (`cd app && uvicorn …`, `FOO=1 uvicorn …`, pipelines, lists), `exec` would break it, so it runs
//! as written and the shell stays the root of the tree (the server sampler sums the tree, so the
//! figures are the same). Its own group also keeps a terminal's Ctrl-C away from the server:
//! ragperf stops it, gracefully, itself. Output (stdout and stderr) goes to a log file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::metrics::process::{parse_u64, stat_fields};

/// Pause between two readiness requests.
pub const READY_POLL_EVERY: Duration = Duration::from_millis(100);
/// Timeout of one readiness request (connect, send and response together).
pub const READY_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// How long [`ManagedServer`]'s `Drop` waits after `SIGTERM` before `SIGKILL`.
pub const DROP_GRACE: Duration = Duration::from_secs(2);
/// Log lines quoted in a [`LaunchError`].
pub const LOG_TAIL_LINES: usize = 20;
/// How much of the end of the log [`ManagedServer::log_tail`] reads, bytes.
const LOG_TAIL_BYTES: u64 = 64 * 1024;
/// How long to wait for the group to go after `SIGKILL`.
const KILL_WAIT: Duration = Duration::from_secs(1);
/// Words after which `exec` would not run the command as written.
const NO_EXEC_FIRST_WORDS: &[&str] = &[
    "exec", "cd", "if", "for", "while", "until", "case", "{", "!", "export", "set", "ulimit",
    "umask", "source", ".", "time", "trap", "eval",
];

/// Why the server could not be started and made ready.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// `--target-cmd` is empty.
    #[error(
        "--target-cmd is empty: give the command that starts the server, e.g. --target-cmd \"uvicorn app:app --port 8000\""
    )]
    EmptyCommand,
    /// The readiness URL is not an `http://` URL with a host.
    #[error(
        "--target-ready must be an http:// URL with a host (got `{url}`), e.g. --target-ready http://127.0.0.1:8000/health"
    )]
    NotHttp {
        /// The URL given.
        url: String,
    },
    /// Something answers the readiness URL before the command has started.
    #[error(
        "{url} (--target-ready) already answers (HTTP {status}) before --target-cmd has started: another server is running on that port; stop it or use another port"
    )]
    AlreadyAnswering {
        /// The URL given.
        url: String,
        /// The status it answered with.
        status: u16,
    },
    /// The log file could not be created.
    #[error("cannot create the server log {}: {source}", path.display())]
    LogFile {
        /// The log's path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// `sh` could not be started.
    #[error("cannot start --target-cmd with sh: {source}")]
    Spawn {
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The command exited before the readiness URL answered.
    #[error("--target-cmd exited ({status}) before {url} (--target-ready) answered: check the command; the last lines of {}:\n{log_tail}", log_path.display())]
    ExitedBeforeReady {
        /// How it ended.
        status: ExitStatus,
        /// The readiness URL.
        url: String,
        /// The server's log.
        log_path: PathBuf,
        /// The last [`LOG_TAIL_LINES`] lines of the log.
        log_tail: String,
    },
    /// The readiness URL did not answer below 500 in time; the server has been stopped.
    #[error("{url} (--target-ready) did not answer with a status below 500 within {timeout:?} of starting --target-cmd (last try: {last_attempt}); the server was stopped. Check that --target-ready names the address and port the server listens on, or allow it more time; the last lines of {}:\n{log_tail}", log_path.display())]
    NotReady {
        /// The readiness URL.
        url: String,
        /// How long it waited.
        timeout: Duration,
        /// The last request's outcome (`HTTP 503`, connection refused, …).
        last_attempt: String,
        /// The server's log.
        log_path: PathBuf,
        /// The last [`LOG_TAIL_LINES`] lines of the log.
        log_tail: String,
    },
    /// Ctrl-C while waiting for readiness; the server has been stopped.
    #[error("interrupted while waiting for {url} (--target-ready); the server was stopped")]
    Interrupted {
        /// The readiness URL.
        url: String,
    },
}

/// How a [`ManagedServer::stop`] ended the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopOutcome {
    /// The server had already exited; anything left in its group was signalled.
    AlreadyExited,
    /// It (and its group) ended within the grace period after `SIGTERM`.
    Terminated,
    /// It or something in its group outlived the grace period and got `SIGKILL`.
    Killed,
}

/// What [`ManagedServer::stop`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopReport {
    /// How it ended.
    pub outcome: StopOutcome,
    /// The root process's exit status (None only if waiting for it failed).
    pub status: Option<ExitStatus>,
    /// Time from the stop request until the group was gone (or given up on).
    pub took: Duration,
    /// Some process of the group was still alive after `SIGKILL` and [`KILL_WAIT`] (stuck in
    /// the kernel); normally false.
    pub group_survived: bool,
}

/// The user's server, started by ragperf; stopped (with its whole process group) by
/// [`stop`](Self::stop) or on drop.
#[derive(Debug)]
pub struct ManagedServer {
    child: Child,
    log_path: PathBuf,
    report: Option<StopReport>,
}

impl ManagedServer {
    /// Spawns `sh -c "exec <cmd>"` with `env` added to its environment in its own process group (see the module docs for when `exec`
    /// is left out), stdout and stderr to `log_path`, then requests `ready_url` (GET,
    /// [`READY_REQUEST_TIMEOUT`] each, every [`READY_POLL_EVERY`]) until it answers any HTTP
    /// status below 500, for up to `timeout`. Fails, with the server stopped, when the command
    /// exits first, is not ready in time or `stop_flag` (Ctrl-C) is set; and before spawning
    /// anything when the URL is not `http://` or something already answers it.
    pub fn start(
        cmd: &str,
        env: &[(String, String)],
        ready_url: &str,
        timeout: Duration,
        log_path: &Path,
        stop_flag: &AtomicBool,
    ) -> Result<ManagedServer, LaunchError> {
        let cmd = cmd.trim();
        if cmd.is_empty() {
            return Err(LaunchError::EmptyCommand);
        }
        let url = ready_url.trim().to_string();
        check_http(&url)?;
        let agent = readiness_agent();
        if let Ok(status) = probe(&agent, &url) {
            return Err(LaunchError::AlreadyAnswering { url, status });
        }
        let log_err = |source| LaunchError::LogFile {
            path: log_path.to_path_buf(),
            source,
        };
        let log = File::create(log_path).map_err(log_err)?;
        let log_stderr = log.try_clone().map_err(log_err)?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(shell_line(cmd))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_stderr)
            .process_group(0)
            .spawn()
            .map_err(|source| LaunchError::Spawn { source })?;
        let mut server = ManagedServer {
            child,
            log_path: log_path.to_path_buf(),
            report: None,
        };
        let started = Instant::now();
        loop {
            if stop_flag.load(Ordering::SeqCst) {
                server.stop(DROP_GRACE);
                return Err(LaunchError::Interrupted { url });
            }
            if let Some(status) = server.exit_status() {
                // Anything it left running in its group goes too.
                server.stop(DROP_GRACE);
                return Err(LaunchError::ExitedBeforeReady {
                    status,
                    url,
                    log_tail: server.log_tail(LOG_TAIL_LINES),
                    log_path: server.log_path.clone(),
                });
            }
            let last_attempt = match probe(&agent, &url) {
                Ok(status) if status < 500 => return Ok(server),
                Ok(status) => format!("HTTP {status}"),
                Err(e) => e,
            };
            if started.elapsed() >= timeout {
                server.stop(DROP_GRACE);
                return Err(LaunchError::NotReady {
                    url,
                    timeout,
                    last_attempt,
                    log_tail: server.log_tail(LOG_TAIL_LINES),
                    log_path: server.log_path.clone(),
                });
            }
            sleep(READY_POLL_EVERY);
        }
    }

    /// Process id of the root process: the server itself when `exec` applied, else the shell.
    /// It is also the id of the process group.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The root process's exit status once it has exited (it is reaped then), else None.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.report.and_then(|r| r.status) {
            return Some(status);
        }
        self.child.try_wait().ok().flatten()
    }

    /// The last `lines` lines of the server's log (at most the last 64 KiB of it); empty when
    /// it cannot be read.
    pub fn log_tail(&self, lines: usize) -> String {
        read_tail(&self.log_path, lines).unwrap_or_default()
    }

    /// Sends `SIGTERM` to the server's process group, waits up to `grace` for the root to exit
    /// and the group to empty, then sends `SIGKILL`; returns how it ended. Idempotent: later
    /// calls return the first report. Also called on drop, with [`DROP_GRACE`].
    pub fn stop(&mut self, grace: Duration) -> StopReport {
        if let Some(report) = self.report {
            return report;
        }
        let began = Instant::now();
        let group = self.pid();
        let already = self.child.try_wait().ok().flatten();
        let mut status = already;
        signal_group(group, libc::SIGTERM);
        let deadline = began + grace;
        loop {
            if status.is_none() {
                status = self.child.try_wait().ok().flatten();
            }
            if (status.is_some() && !group_alive(group)) || Instant::now() >= deadline {
                break;
            }
            sleep(Duration::from_millis(10));
        }
        let mut killed = false;
        if status.is_none() || group_alive(group) {
            killed = true;
            signal_group(group, libc::SIGKILL);
            if status.is_none() {
                status = self.child.wait().ok();
            }
            let until = Instant::now() + KILL_WAIT;
            while group_alive(group) && Instant::now() < until {
                sleep(Duration::from_millis(10));
            }
        }
        let outcome = match (already, killed) {
            (Some(_), _) => StopOutcome::AlreadyExited,
            (None, true) => StopOutcome::Killed,
            (None, false) => StopOutcome::Terminated,
        };
        let report = StopReport {
            outcome,
            status,
            took: began.elapsed(),
            group_survived: killed && group_alive(group),
        };
        self.report = Some(report);
        report
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        self.stop(DROP_GRACE);
    }
}

/// The line given to `sh -c`: `exec <cmd>` when that runs the same command, else `cmd` as is.
fn shell_line(cmd: &str) -> String {
    // `2>&1` and `>&2` are redirections, which `exec` keeps; any other `&` makes a list.
    let without_dup = cmd.replace(">&", "").replace("<&", "");
    let compound = without_dup.contains([';', '&', '|', '\n', '(', ')', '`']);
    let first = cmd.split_whitespace().next().unwrap_or_default();
    if compound || first.contains('=') || NO_EXEC_FIRST_WORDS.contains(&first) {
        cmd.to_string()
    } else {
        format!("exec {cmd}")
    }
}

fn check_http(url: &str) -> Result<(), LaunchError> {
    let not_http = || LaunchError::NotHttp {
        url: url.to_string(),
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| not_http())?;
    let has_host = uri.host().is_some_and(|h| !h.is_empty());
    if uri.scheme_str() == Some("http") && has_host {
        Ok(())
    } else {
        Err(not_http())
    }
}

/// An agent for readiness requests: one timeout for the whole request, no proxy (the server is
/// usually on loopback), redirects and error statuses returned as responses.
fn readiness_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(READY_REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build()
        .into()
}

/// One GET of `url`: its status, or why there was none.
fn probe(agent: &ureq::Agent, url: &str) -> Result<u16, String> {
    agent
        .get(url)
        .call()
        .map(|response| response.status().as_u16())
        .map_err(|e| e.to_string())
}

fn read_tail(path: &Path, lines: usize) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.trim_end().lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n"))
}

fn signal_group(group: u32, signal: libc::c_int) {
    let Ok(group) = i32::try_from(group) else {
        return;
    };
    // SAFETY: kill has no memory effects; a negative pid addresses the group we created.
    unsafe { libc::kill(-group, signal) };
}

/// Whether any process of the group is alive. Zombies do not count: a container's init may
/// never reap an orphan, and `kill` would still find it.
fn group_alive(group: u32) -> bool {
    let Ok(pgid) = i32::try_from(group) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the group exists.
    if unsafe { libc::kill(-pgid, 0) } != 0 {
        return io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    dir.flatten().any(|entry| {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            return false;
        };
        let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
            return false;
        };
        stat_fields(&stat).is_some_and(|mut f| {
            let state = f.next();
            // Field 5 (pgrp) is the third after the name.
            let pgrp = f.nth(1).and_then(parse_u64);
            pgrp == Some(u64::from(group)) && !matches!(state, Some(b"Z" | b"X"))
        })
    })
}

#[cfg(test)]
mod tests;
