//! The `--target` flags of `run`, `sweep` and `baseline`, and how they become a
//! [`TargetPlan`]: flags override the scenario's `[target]` section.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use super::flags::{flag_err, parse_duration};
use super::run::CommonArgs;
use crate::run::{ServerSource, TargetPlan};
use crate::scenario::Scenario;
use crate::target::config::{TargetConfig, parse_header};

/// Drive a real HTTP endpoint instead of the built-in variants.
#[derive(Clone, Debug, Args, Default)]
pub struct TargetArgs {
    /// Drive this HTTP endpoint (e.g. http://127.0.0.1:8080/chat/stream) instead of the
    /// built-in variants.
    #[arg(long, value_name = "URL", help_heading = "Target (a real service)")]
    pub target: Option<String>,
    /// Label of the target in reports (default: the URL's path).
    #[arg(long, value_name = "NAME", help_heading = "Target (a real service)")]
    pub target_name: Option<String>,
    /// How the response is read: sse (default; `data: {"type":"token","content":…}` then
    /// `data: {"type":"done","citations":[…]}`), openai (chat/completions with "stream": true)
    /// or json (a whole answer).
    #[arg(
        long,
        value_name = "PROTOCOL",
        help_heading = "Target (a real service)"
    )]
    pub protocol: Option<String>,
    /// HTTP method (default POST).
    #[arg(long, value_name = "METHOD", help_heading = "Target (a real service)")]
    pub method: Option<String>,
    /// Request header, repeatable: -H 'authorization: Bearer …'.
    #[arg(
        long = "header",
        short = 'H',
        value_name = "NAME: VALUE",
        help_heading = "Target (a real service)"
    )]
    pub headers: Vec<String>,
    /// Body template; {question}, {session} and the request number (`{` `n` `}`, written
    /// together) are filled in per request (JSON-escaped). `@FILE` reads it from a file.
    /// Default: {"session_id":"{session}","message":"{question}"} (openai: a chat completion
    /// request).
    // clap's help turns the three characters `{`, `n`, `}` into a line break wherever they
    // appear, so the help cannot print that placeholder as one word.
    #[arg(
        long,
        value_name = "TEMPLATE",
        help_heading = "Target (a real service)"
    )]
    pub body: Option<String>,
    /// Questions file, one per line (# starts a comment); default: the built-in questions.
    #[arg(long, value_name = "FILE", help_heading = "Target (a real service)")]
    pub questions: Option<std::path::PathBuf>,
    /// openai: the model named in the default body.
    #[arg(long, value_name = "MODEL", help_heading = "Target (a real service)")]
    pub model: Option<String>,
    /// JSON pointer to the token text of an event (sse: /content; json: /answer).
    #[arg(long, value_name = "POINTER", help_heading = "Target (a real service)")]
    pub token_pointer: Option<String>,
    /// The final event: POINTER=VALUE or POINTER (sse default: /type=done).
    #[arg(
        long,
        value_name = "POINTER[=VALUE]",
        help_heading = "Target (a real service)"
    )]
    pub done_marker: Option<String>,
    /// JSON pointer to the citations in the done event or JSON body (default /citations).
    #[arg(long, value_name = "POINTER", help_heading = "Target (a real service)")]
    pub citations_pointer: Option<String>,
    /// Count a successful answer with no citations as a citation mismatch.
    #[arg(long, help_heading = "Target (a real service)")]
    pub expect_citations: bool,
    /// Sample this running server process (threads, RSS, CPU, context switches).
    #[arg(long, value_name = "PID", help_heading = "Target (a real service)")]
    pub target_pid: Option<u32>,
    /// Start the server with this shell command, sample it, stop it after the run. It gets
    /// RAGPERF_QDRANT_URL and RAGPERF_BEDROCK_URL (the embedded mocks) in its environment.
    #[arg(long, value_name = "COMMAND", help_heading = "Target (a real service)")]
    pub target_cmd: Option<String>,
    /// With --target-cmd: poll this URL until the server answers (default: the target's
    /// origin, e.g. http://127.0.0.1:8080/).
    #[arg(long, value_name = "URL", help_heading = "Target (a real service)")]
    pub target_ready: Option<String>,
    /// With --target-cmd: how long to wait for it to answer (default 60s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Target (a real service)")]
    pub target_ready_timeout: Option<Duration>,
    /// Record who holds the server's GIL with py-spy (a Python server sampled by --target-cmd
    /// or --target-pid; `pip install py-spy`, root or CAP_SYS_PTRACE).
    #[arg(long, help_heading = "Target (a real service)")]
    pub py_spy: bool,
}

impl TargetArgs {
    /// True when any target flag was given.
    fn any(&self) -> bool {
        self.target.is_some()
            || self.target_name.is_some()
            || self.protocol.is_some()
            || self.method.is_some()
            || !self.headers.is_empty()
            || self.body.is_some()
            || self.model.is_some()
            || self.token_pointer.is_some()
            || self.done_marker.is_some()
            || self.citations_pointer.is_some()
            || self.expect_citations
            || self.target_pid.is_some()
            || self.target_cmd.is_some()
            || self.target_ready.is_some()
            || self.target_ready_timeout.is_some()
            || self.py_spy
    }
}

/// Reads `--questions FILE`: one question per line, blank lines and `#` comments skipped.
pub fn read_questions(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        flag_err(
            "--questions",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let questions: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if questions.is_empty() {
        return Err(flag_err(
            "--questions",
            format!("{} has no questions; write one per line", path.display()),
        ));
    }
    Ok(questions)
}

/// The built-in variants' knobs mean nothing to a real service: refuse rather than ignore.
fn refuse_variant_knobs(common: &CommonArgs, s: &Scenario) -> anyhow::Result<()> {
    let l = &s.load;
    for (flag, set) in [
        ("--variant", !l.variants.is_empty()),
        ("--workers", l.workers.is_some()),
        ("--max-blocking-threads", l.max_blocking_threads.is_some()),
        ("--gil", s.request.gil),
    ] {
        if set {
            return Err(flag_err(
                flag,
                "has no effect on a --target run (it configures the built-in variants); leave it out",
            ));
        }
    }
    for (flag, set) in [
        ("--cpu-work-us", common.cpu_work_us.is_some()),
        ("--cpu-per-token-us", common.cpu_per_token_us.is_some()),
        ("--cpu-per-read-us", common.cpu_per_read_us.is_some()),
        ("--cpu-steps", common.cpu_steps.is_some()),
        ("--cpu-offloop-share", common.cpu_offloop_share.is_some()),
        ("--cpu-parallel-share", common.cpu_parallel_share.is_some()),
        (
            "--cpu-token-loop-share",
            common.cpu_token_loop_share.is_some(),
        ),
        (
            "--cpu-request-loop-share",
            common.cpu_request_loop_share.is_some(),
        ),
        (
            "--cpu-outside-gil-share",
            common.cpu_outside_gil_share.is_some(),
        ),
        ("--gil-max-busy", common.gil_max_busy.is_some()),
    ] {
        if set {
            return Err(flag_err(
                flag,
                "has no effect on a --target run (the server spends its own CPU); leave it out",
            ));
        }
    }
    Ok(())
}

/// Applies the target flags to the scenario's `[target]` section. Returns the target plan when
/// the run drives a target, after checking every setting (before any load starts).
pub fn target_plan(common: &CommonArgs, s: &mut Scenario) -> anyhow::Result<Option<TargetPlan>> {
    let a = &common.target;
    if let Some(path) = &a.questions {
        s.request.questions = read_questions(path)?;
    }
    if !a.any() && s.target.is_none() {
        return Ok(None);
    }
    let mut t: TargetConfig = s.target.clone().unwrap_or_default();
    if let Some(u) = &a.target {
        t.url = u.clone();
    }
    if t.url.trim().is_empty() {
        return Err(flag_err(
            "--target",
            "the target flags need the endpoint: add --target http://127.0.0.1:8080/chat/stream (or [target] url in the scenario)",
        ));
    }
    macro_rules! over {
        ($($f:ident <- $g:ident),*) => { $( if a.$g.is_some() { t.$f = a.$g.clone(); } )* };
    }
    over!(name <- target_name, protocol <- protocol, method <- method, model <- model,
          token_pointer <- token_pointer, done_marker <- done_marker,
          citations_pointer <- citations_pointer, pid <- target_pid, cmd <- target_cmd,
          ready <- target_ready);
    if let Some(body) = &a.body {
        t.body = Some(match body.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| flag_err("--body", format!("cannot read {path}: {e}")))?,
            None => body.clone(),
        });
    }
    for h in &a.headers {
        let (k, v) = parse_header(h)?;
        t.headers.insert(k, v);
    }
    if a.expect_citations {
        t.expect_citations = true;
    }
    if let Some(d) = a.target_ready_timeout {
        t.ready_timeout_s = Some(d.as_secs_f64());
    }
    if a.py_spy {
        t.py_spy = true;
    }
    refuse_variant_knobs(common, s)?;
    let spec = t.spec(&s.client)?;
    let server = match (&t.pid, &t.cmd) {
        (Some(pid), _) => ServerSource::Pid(*pid),
        (None, Some(cmd)) => {
            if cmd.trim().is_empty() {
                return Err(flag_err(
                    "--target-cmd",
                    "is empty; give the command that starts the server",
                ));
            }
            ServerSource::Command {
                cmd: cmd.clone(),
                ready: t.ready_url(),
                timeout: t.ready_timeout(),
                log: common.out.join("target-server.log"),
            }
        }
        (None, None) => ServerSource::Unsampled,
    };
    if t.py_spy {
        if matches!(server, ServerSource::Unsampled) {
            return Err(flag_err(
                "--py-spy",
                "samples the server's process: add --target-cmd (ragperf starts it) or --target-pid",
            ));
        }
        crate::metrics::gil::check_available().map_err(|e| flag_err("--py-spy", e))?;
    }
    s.target = Some(t.clone());
    Ok(Some(TargetPlan {
        spec,
        config: t,
        server,
    }))
}
