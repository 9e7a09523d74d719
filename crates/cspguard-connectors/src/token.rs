//! [`TokenProvider`]: Entra ID access tokens by client credentials, cached and shared.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::error::{excerpt, ConnectorError, Result};
use crate::http;
use crate::secret::Secret;

/// Entra ID's public authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// A token is renewed this long before it expires (or at half its lifetime, if shorter).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Where and as whom to get tokens.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The Entra authority, e.g. `https://login.microsoftonline.com` ([`DEFAULT_AUTHORITY`]).
    pub authority: Url,
    /// The tenant whose token endpoint is used: the partner tenant for Partner Center, the customer tenant for
    /// Graph calls under GDAP.
    pub tenant: String,
    /// The app registration's client ID.
    pub client_id: String,
    /// The app registration's client secret.
    pub client_secret: Secret,
    /// The scope, e.g. `https://api.partnercenter.microsoft.com/.default`.
    pub scope: String,
}

impl TokenConfig {
    /// A configuration on the public authority.
    pub fn new(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        scope: impl Into<String>,
    ) -> Self {
        TokenConfig {
            authority: default_authority(),
            tenant: tenant.into(),
            client_id: client_id.into(),
            client_secret,
            scope: scope.into(),
        }
    }
}

/// [`DEFAULT_AUTHORITY`] as a URL.
pub fn default_authority() -> Url {
    // A constant that parses: covered by a unit test.
    Url::parse(DEFAULT_AUTHORITY)
        .unwrap_or_else(|_| unreachable!("DEFAULT_AUTHORITY is a valid URL"))
}

#[derive(Debug)]
struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// Gets, caches and renews client-credentials tokens for one tenant and scope.
///
/// One token request at a time: concurrent callers wait on the same lock and share the token it fetched. The
/// token is kept until [`REFRESH_MARGIN`] before it expires (half its lifetime for tokens shorter than twice that).
#[derive(Debug)]
pub struct TokenProvider {
    http: reqwest::Client,
    config: TokenConfig,
    token_url: Url,
    cache: Mutex<Option<Cached>>,
    requests: AtomicU64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct TokenErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl TokenProvider {
    /// A provider for `config`; no request is made until the first [`TokenProvider::token`].
    pub fn new(config: TokenConfig) -> Result<Self> {
        Self::with_client(config, http::client()?)
    }

    pub(crate) fn with_client(config: TokenConfig, http: reqwest::Client) -> Result<Self> {
        let token_url = http::join_segments(
            &config.authority,
            &[&config.tenant, "oauth2", "v2.0", "token"],
        )?;
        Ok(TokenProvider {
            http,
            config,
            token_url,
            cache: Mutex::new(None),
            requests: AtomicU64::new(0),
        })
    }

    /// The tenant this provider gets tokens for.
    pub fn tenant(&self) -> &str {
        &self.config.tenant
    }

    /// Token requests sent so far.
    pub fn requests_made(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// A valid access token: the cached one, or a new one (one request at a time).
    ///
    /// Errors: [`ConnectorError::Auth`] when Entra refuses the credentials or scope; retryable errors (throttling,
    /// 5xx, transport) for the caller's retry loop.
    pub async fn token(&self) -> Result<Secret> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref() {
            if Instant::now() < cached.renew_at {
                return Ok(cached.token.clone());
            }
        }
        let (token, lifetime) = self.fetch().await?;
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        *cache = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + lifetime - margin,
        });
        Ok(token)
    }

    /// Forgets the cached token: the next call fetches a new one.
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    /// Forgets the cached token if it is `rejected` (another caller may already have replaced it).
    pub(crate) async fn invalidate_if(&self, rejected: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == rejected) {
            *cache = None;
        }
    }

    async fn fetch(&self) -> Result<(Secret, Duration)> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose()),
            ("scope", self.config.scope.as_str()),
        ];
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(ConnectorError::transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::resilience::parse_retry_after);
        let body = response.bytes().await.map_err(ConnectorError::transport)?;
        match status {
            200..=299 => {
                let parsed: TokenResponse = serde_json::from_slice(&body)
                    .map_err(|e| ConnectorError::Decode(format!("token endpoint answer: {e}")))?;
                let secs = match parsed.expires_in {
                    Some(serde_json::Value::Number(n)) => n.as_u64(),
                    Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
                    _ => None,
                }
                .unwrap_or(3600);
                tracing::debug!(tenant = %self.config.tenant, expires_in = secs, "new access token");
                Ok((Secret::new(parsed.access_token), Duration::from_secs(secs)))
            }
            400 | 401 | 403 => {
                let err: TokenErrorBody = serde_json::from_slice(&body).unwrap_or_default();
                let detail = if err.error.is_empty() {
                    excerpt(&body)
                } else {
                    excerpt(format!("{}: {}", err.error, err.error_description).as_bytes())
                };
                Err(ConnectorError::Auth(format!(
                    "Entra refused a token for client {} in tenant {} (scope {}), HTTP {status}: {detail}; \
                     check the client ID, the client secret (and its expiry), the tenant and the scope",
                    self.config.client_id, self.config.tenant, self.config.scope
                )))
            }
            _ => Err(ConnectorError::from_status(status, retry_after, &body)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_authority_parses() {
        assert_eq!(
            super::default_authority().as_str(),
            "https://login.microsoftonline.com/"
        );
    }
}
