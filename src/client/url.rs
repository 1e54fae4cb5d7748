//! The one rule every URL ragperf connects to follows (`--target`, `--qdrant-url`,
//! `--bedrock-url`, a scenario's endpoints): `http://` (this build has no TLS, to measure the
//! service rather than the handshake), a host, a port other than 0, no credentials. Each caller
//! adds its own checks (a base URL has no path) and words the error for its flag or field.

/// Why a URL breaks the rule.
#[derive(Clone, Debug, PartialEq)]
pub enum UrlProblem {
    /// Not a URL at all (the parser's reason).
    NotAUrl(String),
    /// `https://`: no TLS in this build.
    Https,
    /// Another scheme than http.
    Scheme(String),
    /// No host.
    NoHost,
    /// Port 0, which nothing listens on.
    PortZero,
    /// A user name or password, which would not be sent.
    Credentials,
}

impl UrlProblem {
    /// What is wrong with `url` and the fix, worded for an endpoint URL (the `--target` flags).
    pub fn describe(&self, url: &str) -> String {
        match self {
            UrlProblem::NotAUrl(e) => {
                format!("`{url}` is not a URL ({e}); write e.g. http://127.0.0.1:8080/chat/stream")
            }
            UrlProblem::Https => format!(
                "`{url}`: https is not supported by this build (no TLS); put the service on \
                 plain http on the load generator's network, e.g. http://127.0.0.1:8080/…"
            ),
            UrlProblem::Scheme(other) => {
                format!(
                    "`{url}`: scheme `{other}` is not http; write e.g. http://127.0.0.1:8080/chat"
                )
            }
            UrlProblem::NoHost => {
                format!("`{url}` has no host; write e.g. http://127.0.0.1:8080/chat")
            }
            UrlProblem::PortZero => format!(
                "`{url}`: port 0 cannot be connected to; give the port the server listens on"
            ),
            UrlProblem::Credentials => {
                format!("`{url}`: credentials in the URL are not sent; use -H 'authorization: …'")
            }
        }
    }
}

/// Checks `url` against the rule and parses it.
pub fn check_http(url: &str) -> Result<reqwest::Url, UrlProblem> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| UrlProblem::NotAUrl(e.to_string()))?;
    match parsed.scheme() {
        "http" => {}
        "https" => return Err(UrlProblem::Https),
        other => return Err(UrlProblem::Scheme(other.to_string())),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(UrlProblem::NoHost);
    }
    if parsed.port_or_known_default() == Some(0) {
        return Err(UrlProblem::PortZero);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlProblem::Credentials);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert!(check_http("http://127.0.0.1:6333").is_ok());
        assert!(check_http("http://localhost:8080/chat/stream").is_ok());
        assert_eq!(check_http("https://x:1"), Err(UrlProblem::Https));
        assert_eq!(
            check_http("ftp://x:1"),
            Err(UrlProblem::Scheme("ftp".into()))
        );
        assert_eq!(check_http("http://x:0"), Err(UrlProblem::PortZero));
        assert_eq!(check_http("http://u:p@x:1"), Err(UrlProblem::Credentials));
        assert!(matches!(
            check_http("127.0.0.1:6333"),
            Err(UrlProblem::NotAUrl(_) | UrlProblem::Scheme(_))
        ));
        assert!(matches!(check_http("http://"), Err(UrlProblem::NotAUrl(_))));
    }
}
