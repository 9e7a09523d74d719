//! The one path every HTTP call takes: breaker → (token) → send → classify → retry. Crate-private.

use std::time::Duration;

use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{ConnectorError, Result};
use crate::resilience::{parse_retry_after, CircuitBreaker, RetryPolicy};
use crate::token::TokenProvider;

/// Request timeout of every connector client.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A reqwest client with rustls, the timeout and a user agent.
pub(crate) fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("cspguard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            ConnectorError::Config(format!(
                "cannot build the HTTP client: {}",
                crate::error::error_chain(&e)
            ))
        })
}

/// `base` with `segments` appended as path segments (each percent-encoded).
pub(crate) fn join_segments(base: &Url, segments: &[&str]) -> Result<Url> {
    let mut url = base.clone();
    {
        let mut path = url.path_segments_mut().map_err(|()| {
            ConnectorError::Config(format!("{} cannot be a base URL", origin(base)))
        })?;
        path.pop_if_empty();
        path.extend(segments);
    }
    Ok(url)
}

/// Scheme, host and port of a URL: what may be logged of a URL that may hold a secret.
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON of type `T`; `what` names the call in the error.
    pub(crate) fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return serde_json::from_slice(b"null").map_err(|_| {
                ConnectorError::Decode(format!("{what}: empty body where JSON was expected"))
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ConnectorError::Decode(format!(
                "{what}: {e} in {}",
                crate::error::excerpt(&self.body)
            ))
        })
    }
}

/// Everything a call needs besides the request itself.
pub(crate) struct Call<'a> {
    pub retry: &'a RetryPolicy,
    pub breaker: &'a CircuitBreaker,
    pub token: Option<&'a TokenProvider>,
    /// What is logged: method and path template, never a full URL.
    pub what: &'a str,
}

impl Call<'_> {
    /// Sends the request `build` makes (once per attempt) until it succeeds, fails for good or runs out of attempts.
    /// A 401 with a token invalidates that token and tries once more with a fresh one (not counted as an attempt).
    pub(crate) async fn send(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Reply> {
        let permit = self.breaker.acquire()?;
        let mut attempt = 0u32;
        let mut auth_retried = false;
        loop {
            attempt += 1;
            let outcome = self.attempt(&build).await;
            let err = match outcome {
                Ok(reply) => {
                    permit.success();
                    return Ok(reply);
                }
                Err(Failure::Unauthorized(token, err)) => {
                    if let (Some(provider), false) = (self.token, auth_retried) {
                        tracing::info!(
                            service = self.breaker.service(),
                            call = self.what,
                            "401: fetching a new token"
                        );
                        provider.invalidate_if(&token).await;
                        auth_retried = true;
                        attempt -= 1;
                        continue;
                    }
                    err
                }
                Err(Failure::Other(err)) => err,
            };
            if !err.is_retryable() {
                // The service answered: it is up, whatever it thought of the request.
                permit.success();
                return Err(err);
            }
            if attempt >= self.retry.max_attempts.max(1) {
                tracing::warn!(service = self.breaker.service(), call = self.what, attempt, error = %err, "giving up");
                permit.failure();
                return Err(err);
            }
            let retry_after = match &err {
                ConnectorError::Throttled { retry_after } => *retry_after,
                _ => None,
            };
            let wait = self.retry.delay(attempt, retry_after);
            tracing::info!(
                service = self.breaker.service(),
                call = self.what,
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %err,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        build: &impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Reply, Failure> {
        let mut request = build();
        let mut token_used = None;
        if let Some(provider) = self.token {
            let token = provider.token().await.map_err(Failure::Other)?;
            request = request.bearer_auth(token.expose());
            token_used = Some(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure::Other(ConnectorError::transport(e)))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response
            .bytes()
            .await
            .map_err(|e| Failure::Other(ConnectorError::transport(e)))?
            .to_vec();
        tracing::debug!(
            service = self.breaker.service(),
            call = self.what,
            status,
            "answer"
        );
        if (200..300).contains(&status) {
            return Ok(Reply { body });
        }
        let err = ConnectorError::from_status(status, retry_after, &body);
        match (status, token_used) {
            (401, Some(token)) => Err(Failure::Unauthorized(token, err)),
            _ => Err(Failure::Other(err)),
        }
    }
}

enum Failure {
    Unauthorized(crate::secret::Secret, ConnectorError),
    Other(ConnectorError),
}
