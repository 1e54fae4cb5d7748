//! What `--target` drives: the scenario's `[target]` section (flags override it) and the checked
//! [`TargetSpec`] the executor runs from.
//!
//! Everything a user can get wrong is checked here, before any load starts: the URL (scheme,
//! host, port), the method, headers, the body template (rendered once with a sample and, when it
//! is JSON, parsed), the protocol and its JSON pointers. Each error names the flag (or scenario
//! key) and shows a correct value.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::protocol::Protocol;
use super::template::BodyTemplate;

/// The `[target]` section of a scenario file; `ragperf run --target …` flags override each key.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TargetConfig {
    /// The endpoint, e.g. `http://127.0.0.1:8080/chat/stream`.
    pub url: String,
    /// A label for reports (default: the URL's path).
    pub name: Option<String>,
    /// `sse` (default), `openai` or `json`.
    pub protocol: Option<String>,
    /// HTTP method (default POST).
    pub method: Option<String>,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Request body template: `{question}`, `{session}` and `{n}` are filled per request
    /// (JSON-string escaped). Default per protocol (see the README).
    pub body: Option<String>,
    /// `openai`: the model named in the default body.
    pub model: Option<String>,
    /// JSON pointer to the token text in an event (sse default `/content`; json default
    /// `/answer`).
    pub token_pointer: Option<String>,
    /// When an event is the final one: `POINTER=VALUE` or `POINTER` (sse default `/type=done`).
    pub done_marker: Option<String>,
    /// JSON pointer to the citations in the done event or JSON body (default `/citations`).
    pub citations_pointer: Option<String>,
    /// Count a successful answer without citations as a citation mismatch.
    pub expect_citations: bool,
    /// The server's process id, sampled from `/proc` during the run.
    pub pid: Option<u32>,
    /// A command that starts the server (run with `sh -c`, stopped after the run).
    pub cmd: Option<String>,
    /// URL polled until the started server answers (default: the target URL's origin + `/`).
    pub ready: Option<String>,
    /// How long to wait for `ready`, seconds (default 60).
    pub ready_timeout_s: Option<f64>,
    /// Sample the server's GIL with py-spy (a Python server started by `cmd` or at `pid`).
    pub py_spy: bool,
}

/// A checked target, ready to drive.
#[derive(Clone, Debug)]
pub struct TargetSpec {
    /// The endpoint URL.
    pub url: reqwest::Url,
    /// Report label.
    pub name: String,
    /// HTTP method.
    pub method: reqwest::Method,
    /// Headers sent with every request (defaults filled in).
    pub headers: Vec<(String, String)>,
    /// The body template (None: no body).
    pub body: Option<BodyTemplate>,
    /// How the response is read.
    pub protocol: Protocol,
    /// Count answers without citations as mismatches.
    pub expect_citations: bool,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time allowed until the response headers arrive.
    pub response_timeout: Duration,
    /// Longest silence allowed between two body chunks.
    pub idle_timeout: Duration,
}

/// The request every ticket sends: method, headers, body template.
type RequestParts = (reqwest::Method, Vec<(String, String)>, Option<BodyTemplate>);

/// A target setting that cannot work, naming the flag and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct TargetError {
    /// The flag (or scenario key) at fault.
    pub flag: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn err(flag: &'static str, message: impl Into<String>) -> TargetError {
    TargetError {
        flag,
        message: message.into(),
    }
}

/// The protocols' names, for help and errors.
pub const PROTOCOLS: &str = "sse, openai or json";

/// Checks a target base or endpoint URL: `http://host:port/path`, port 1–65535 (the one rule
/// of [`crate::client::url`]).
pub fn check_http_url(flag: &'static str, url: &str) -> Result<reqwest::Url, TargetError> {
    crate::client::url::check_http(url).map_err(|e| err(flag, e.describe(url)))
}

/// Parses `-H 'name: value'`.
pub fn parse_header(h: &str) -> Result<(String, String), TargetError> {
    let Some((name, value)) = h.split_once(':') else {
        return Err(err(
            "-H",
            format!("`{h}` is not `name: value`; write e.g. -H 'authorization: Bearer TOKEN'"),
        ));
    };
    let name = name.trim();
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(err(
            "-H",
            format!("`{name}` is not a valid header name (letters, digits and -)"),
        ));
    }
    let value = value.trim();
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(err(
            "-H",
            format!("the value of `{name}` has characters a header cannot carry"),
        ));
    }
    Ok((name.to_ascii_lowercase(), value.to_string()))
}

impl TargetConfig {
    /// The default body for a protocol: the seed's `ChatRequest` for sse and json, an OpenAI
    /// chat completion for openai.
    fn default_body(protocol: &Protocol, model: &str) -> String {
        match protocol {
            Protocol::OpenAi => format!(
                r#"{{"model":"{}","stream":true,"stream_options":{{"include_usage":true}},"messages":[{{"role":"user","content":"{{question}}"}}]}}"#,
                super::template::json_escape(model)
            ),
            _ => r#"{"session_id":"{session}","message":"{question}"}"#.to_string(),
        }
    }

    /// Checks every setting and builds the spec. `client` gives the timeouts.
    pub fn spec(&self, client: &crate::client::ClientConfig) -> Result<TargetSpec, TargetError> {
        if self.url.trim().is_empty() {
            return Err(err(
                "--target",
                "no URL; write e.g. --target http://127.0.0.1:8080/chat/stream",
            ));
        }
        let url = check_http_url("--target", &self.url)?;
        let protocol = Protocol::parse(
            self.protocol.as_deref().unwrap_or("sse"),
            self.token_pointer.as_deref(),
            self.done_marker.as_deref(),
            self.citations_pointer.as_deref(),
        )
        .map_err(|e| err(e.flag, e.message))?;
        let (method, headers, body) = self.request(&protocol)?;
        let name = self
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| url.path().to_string());
        if name.len() > 80 || name.chars().any(char::is_control) {
            return Err(err(
                "--target-name",
                "must be at most 80 printable characters",
            ));
        }
        self.check_server()?;
        Ok(TargetSpec {
            url,
            name,
            method,
            headers,
            body,
            protocol,
            expect_citations: self.expect_citations,
            connect_timeout: client.connect_timeout(),
            response_timeout: client.request_timeout(),
            idle_timeout: client.stream_idle_timeout(),
        })
    }

    /// The request every ticket sends: method, headers (defaults filled in) and body template
    /// (a JSON template is rendered once with a sample and parsed, so a broken one fails now).
    fn request(&self, protocol: &Protocol) -> Result<RequestParts, TargetError> {
        if self.model.is_some() && !matches!(protocol, Protocol::OpenAi) {
            return Err(err(
                "--model",
                "only the openai protocol's default body names a model; put it in --body instead",
            ));
        }
        let method_name = self.method.as_deref().unwrap_or("POST").trim();
        let method = reqwest::Method::from_bytes(method_name.to_ascii_uppercase().as_bytes())
            .map_err(|_| {
                err(
                    "--method",
                    format!("`{method_name}` is not an HTTP method; use POST or GET"),
                )
            })?;
        let mut headers: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.headers {
            headers.push(parse_header(&format!("{k}: {v}"))?);
        }
        let has = |headers: &[(String, String)], name: &str| headers.iter().any(|(k, _)| k == name);
        let body_text = match (&self.body, method.as_str()) {
            (Some(b), _) => Some(b.clone()),
            (None, "GET" | "HEAD") => None,
            (None, _) => Some(Self::default_body(
                protocol,
                self.model.as_deref().unwrap_or("default"),
            )),
        };
        let body = match body_text {
            Some(text) => Some(BodyTemplate::parse(&text).map_err(|m| err("--body", m))?),
            None => None,
        };
        if let Some(b) = body.as_ref().filter(|b| b.looks_like_json()) {
            if !has(&headers, "content-type") {
                headers.push(("content-type".into(), "application/json".into()));
            }
            let sample = b.render("What is the site status?", "ragperf-user-0", 0);
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&sample) {
                return Err(err(
                    "--body",
                    format!(
                        "the template is not valid JSON once filled in ({e}): {sample}; \
                         placeholders are filled with JSON-escaped text, so put them inside \
                         quotes, e.g. '{{\"message\":\"{{question}}\"}}'"
                    ),
                ));
            }
        }
        if protocol.is_streaming() && !has(&headers, "accept") {
            headers.push(("accept".into(), "text/event-stream".into()));
        }
        Ok((method, headers, body))
    }

    /// The server settings: `pid` or `cmd`, and what only `cmd` uses.
    fn check_server(&self) -> Result<(), TargetError> {
        if let Some(t) = self.ready_timeout_s
            && (!t.is_finite() || t <= 0.0 || t > 3600.0)
        {
            return Err(err(
                "--target-ready-timeout",
                format!("must be between 0 and 3600 seconds, got {t}"),
            ));
        }
        if let Some(r) = &self.ready {
            check_http_url("--target-ready", r)?;
        }
        if self.pid.is_some() && self.cmd.is_some() {
            return Err(err(
                "--target-pid",
                "give either --target-pid (a running server) or --target-cmd (ragperf starts it), not both",
            ));
        }
        if (self.ready.is_some() || self.ready_timeout_s.is_some()) && self.cmd.is_none() {
            return Err(err(
                "--target-ready",
                "only used with --target-cmd (ragperf waits for the server it started)",
            ));
        }
        Ok(())
    }

    /// The URL polled for readiness: `ready`, or the target's origin.
    pub fn ready_url(&self) -> String {
        if let Some(r) = &self.ready {
            return r.clone();
        }
        match reqwest::Url::parse(&self.url) {
            Ok(u) => format!("{}/", u.origin().ascii_serialization()),
            Err(_) => self.url.clone(),
        }
    }

    /// Readiness timeout.
    pub fn ready_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.ready_timeout_s.unwrap_or(60.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientConfig;

    fn cfg(url: &str) -> TargetConfig {
        TargetConfig {
            url: url.into(),
            ..TargetConfig::default()
        }
    }

    #[test]
    fn urls_are_checked_with_the_flag_named() {
        let c = ClientConfig::default();
        assert!(cfg("http://127.0.0.1:8080/chat/stream").spec(&c).is_ok());
        for (bad, says) in [
            ("http://127.0.0.1:99999/x", "not a URL"),
            ("https://example.invalid/x", "https is not supported"),
            ("ftp://127.0.0.1/x", "scheme `ftp`"),
            ("127.0.0.1:8080/chat", "is not a URL"),
            ("http://127.0.0.1:0/x", "port 0"),
            ("", "no URL"),
        ] {
            let e = cfg(bad).spec(&c).expect_err(bad).to_string();
            assert!(e.starts_with("--target:"), "{e}");
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn defaults_fill_headers_and_the_seed_body() {
        let s = cfg("http://127.0.0.1:8080/chat/stream")
            .spec(&ClientConfig::default())
            .unwrap();
        assert_eq!(s.method, reqwest::Method::POST);
        assert_eq!(s.name, "/chat/stream");
        assert!(
            s.headers
                .contains(&("content-type".into(), "application/json".into()))
        );
        assert!(
            s.headers
                .contains(&("accept".into(), "text/event-stream".into()))
        );
        let body = s.body.unwrap().render("Why \"x\"?", "ragperf-user-3", 7);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["message"], "Why \"x\"?");
        assert_eq!(v["session_id"], "ragperf-user-3");
    }

    #[test]
    fn bad_templates_headers_and_methods_name_their_flag() {
        let c = ClientConfig::default();
        let mut t = cfg("http://127.0.0.1:8080/x");
        t.body = Some(r#"{"message": {question}}"#.into());
        let e = t.spec(&c).unwrap_err().to_string();
        assert!(
            e.starts_with("--body:") && e.contains("inside quotes"),
            "{e}"
        );
        assert!(
            parse_header("no colon")
                .unwrap_err()
                .to_string()
                .starts_with("-H:")
        );
        assert!(parse_header("bad name: v").is_err());
        let mut m = cfg("http://127.0.0.1:8080/x");
        m.method = Some("PO ST".into());
        assert!(m.spec(&c).unwrap_err().to_string().starts_with("--method:"));
        let mut p = cfg("http://127.0.0.1:8080/x");
        p.protocol = Some("grpc".into());
        assert!(
            p.spec(&c)
                .unwrap_err()
                .to_string()
                .starts_with("--protocol:")
        );
        let mut both = cfg("http://127.0.0.1:8080/x");
        both.pid = Some(1);
        both.cmd = Some("true".into());
        assert!(
            both.spec(&c)
                .unwrap_err()
                .to_string()
                .starts_with("--target-pid:")
        );
    }

    #[test]
    fn openai_body_names_the_model() {
        let mut t = cfg("http://127.0.0.1:8000/v1/chat/completions");
        t.protocol = Some("openai".into());
        t.model = Some("llama-3".into());
        let s = t.spec(&ClientConfig::default()).unwrap();
        let body = s.body.unwrap().render("hi", "s", 1);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["model"], "llama-3");
        assert_eq!(v["stream"], true);
        assert_eq!(v["messages"][0]["content"], "hi");
    }
}
