//! [`ConnectorError`]: what went wrong talking to an external service, and whether trying again can help.

use std::time::Duration;

/// The result of a connector call.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// Longest excerpt of a response body kept in an error.
pub const BODY_EXCERPT_CHARS: usize = 300;

/// An error from a connector. Messages never contain secrets (tokens, client secrets, passwords, webhook URLs).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    /// The service answered 429 Too Many Requests.
    #[error("throttled by the service (429){}; slow down or raise the retry policy's max_delay", fmt_after(.retry_after))]
    Throttled {
        /// The wait the service asked for (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },
    /// The service answered 5xx.
    #[error("the service failed with HTTP {status}: {body}; it is retried, and if it persists check the service's health")]
    Server {
        /// HTTP status.
        status: u16,
        /// Body excerpt (at most 300 characters).
        body: String,
    },
    /// The service rejected the request (4xx other than 401 and 429): retrying the same request will not help.
    #[error("the service rejected the request with HTTP {status}: {body}; check the identifiers and the request")]
    Client {
        /// HTTP status.
        status: u16,
        /// Body excerpt (at most 300 characters).
        body: String,
    },
    /// Authentication failed (token endpoint refused the credentials, or a fresh token was still refused).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The request did not get an answer (connect error, timeout, reset).
    #[error("transport error: {0}; check the network path to the service")]
    Transport(String),
    /// The circuit breaker of the service is open: no request was sent.
    #[error("circuit open for {service} after repeated failures; no request sent, next try allowed in {until_secs} s")]
    CircuitOpen {
        /// The service's name.
        service: String,
        /// Seconds until one probe request is let through.
        until_secs: u64,
    },
    /// The answer could not be read as the documented shape.
    #[error("unexpected response: {0}; the service's API may have changed")]
    Decode(String),
    /// Mail delivery failed.
    #[error("mail delivery failed ({}): {message}", if *.permanent { "permanent" } else { "transient" })]
    Mail {
        /// A permanent rejection (5xx reply, bad address) is not retried.
        permanent: bool,
        /// What the server or the transport said.
        message: String,
    },
    /// A configuration value is unusable (bad URL, bad address).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The caller's sink (sync) failed; the cursor still points at the page it refused.
    #[error("the sync sink failed: {0}; the cursor still points at the page that was not stored, re-run to resume")]
    Sink(String),
}

fn fmt_after(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!(", Retry-After {} s", d.as_secs_f64()),
        None => String::new(),
    }
}

impl ConnectorError {
    /// Whether the same request may succeed later: 429, 5xx, transport errors and transient mail errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectorError::Throttled { .. }
            | ConnectorError::Server { .. }
            | ConnectorError::Transport(_) => true,
            ConnectorError::Mail { permanent, .. } => !permanent,
            _ => false,
        }
    }

    /// Builds an error from an HTTP status and body (401 is [`ConnectorError::Auth`]).
    pub(crate) fn from_status(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Self {
        let body = excerpt(body);
        match status {
            429 => ConnectorError::Throttled { retry_after },
            401 => ConnectorError::Auth(format!(
                "the service answered 401 ({body}); check the app registration's permissions and consent"
            )),
            s if s >= 500 => ConnectorError::Server { status: s, body },
            s => ConnectorError::Client { status: s, body },
        }
    }

    /// A transport error from reqwest, without the URL (webhook URLs hold secrets).
    pub(crate) fn transport(e: reqwest::Error) -> Self {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        let e = e.without_url();
        ConnectorError::Transport(format!("{kind}: {}", error_chain(&e)))
    }
}

/// The error and its sources on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// At most [`BODY_EXCERPT_CHARS`] characters of a body, lossy UTF-8, whitespace collapsed.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = collapsed.chars().take(BODY_EXCERPT_CHARS).collect();
    if collapsed.chars().count() > BODY_EXCERPT_CHARS {
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        assert!(ConnectorError::from_status(429, None, b"").is_retryable());
        assert!(ConnectorError::from_status(503, None, b"").is_retryable());
        assert!(!ConnectorError::from_status(404, None, b"").is_retryable());
        assert!(matches!(
            ConnectorError::from_status(401, None, b""),
            ConnectorError::Auth(_)
        ));
    }

    #[test]
    fn body_excerpt_is_bounded() {
        let body = "x".repeat(1000);
        match ConnectorError::from_status(500, None, body.as_bytes()) {
            ConnectorError::Server { body, .. } => {
                assert!(body.chars().count() <= BODY_EXCERPT_CHARS + 1)
            }
            other => panic!("{other:?}"),
        }
    }
}
