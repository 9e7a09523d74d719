//! [`Graph`]: Microsoft Graph calls in customer tenants (GDAP): one token provider per customer tenant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use url::Url;

use crate::error::Result;
use crate::http::{self, Call};
use crate::resilience::{CircuitBreaker, RetryPolicy};
use crate::secret::Secret;
use crate::token::{default_authority, TokenConfig, TokenProvider};

/// Graph's v1.0 endpoint.
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com/v1.0";

/// The scope of Graph tokens.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// How to reach Graph.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// [`DEFAULT_BASE_URL`], or a national cloud's.
    pub base_url: Url,
    /// The Entra authority tokens come from.
    pub authority: Url,
    /// The partner's multi-tenant app (consented in the customer tenants through GDAP).
    pub client_id: String,
    /// Its client secret.
    pub client_secret: Secret,
    /// The token scope ([`GRAPH_SCOPE`]).
    pub scope: String,
    /// Retries of throttled and failed calls.
    pub retry: RetryPolicy,
    /// Consecutive failed calls that open the circuit.
    pub breaker_failures: u32,
    /// How long the circuit stays open.
    pub breaker_cooldown: Duration,
}

impl GraphConfig {
    /// Public cloud, default retries, a breaker of 5 failures / 60 s.
    pub fn new(client_id: impl Into<String>, client_secret: Secret) -> Self {
        GraphConfig {
            base_url: Url::parse(DEFAULT_BASE_URL).unwrap_or_else(|_| unreachable!("constant URL")),
            authority: default_authority(),
            client_id: client_id.into(),
            client_secret,
            scope: GRAPH_SCOPE.to_string(),
            retry: RetryPolicy::default(),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(60),
        }
    }
}

/// The Graph client. Tokens are per customer tenant (the token endpoint's tenant is the customer's); every call
/// goes through the retry policy and the circuit breaker.
#[derive(Debug)]
pub struct Graph {
    http: reqwest::Client,
    config: GraphConfig,
    breaker: CircuitBreaker,
    tokens: Mutex<HashMap<String, Arc<TokenProvider>>>,
}

impl Graph {
    /// A client for `config`. Makes no request.
    pub fn new(config: GraphConfig) -> Result<Self> {
        let breaker =
            CircuitBreaker::new("graph", config.breaker_failures, config.breaker_cooldown);
        Ok(Graph {
            http: http::client()?,
            config,
            breaker,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The circuit breaker (to observe its state).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    fn provider(&self, customer_tenant: &str) -> Result<Arc<TokenProvider>> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = tokens.get(customer_tenant) {
            return Ok(p.clone());
        }
        let config = TokenConfig {
            authority: self.config.authority.clone(),
            tenant: customer_tenant.to_string(),
            client_id: self.config.client_id.clone(),
            client_secret: self.config.client_secret.clone(),
            scope: self.config.scope.clone(),
        };
        let provider = Arc::new(TokenProvider::with_client(config, self.http.clone())?);
        tokens.insert(customer_tenant.to_string(), provider.clone());
        Ok(provider)
    }

    /// `POST /users/{user}/revokeSignInSessions` in the customer's tenant: signs the user out everywhere (refresh
    /// tokens and session cookies). Idempotent by nature: revoking twice is harmless.
    pub async fn revoke_sign_in_sessions(&self, customer_tenant: &str, user: &str) -> Result<()> {
        let provider = self.provider(customer_tenant)?;
        let url = http::join_segments(
            &self.config.base_url,
            &["users", user, "revokeSignInSessions"],
        )?;
        let call = Call {
            retry: &self.config.retry,
            breaker: &self.breaker,
            token: Some(&provider),
            what: "POST /users/{id}/revokeSignInSessions",
        };
        call.send(|| {
            self.http
                .post(url.clone())
                .header(reqwest::header::CONTENT_LENGTH, "0")
        })
        .await?;
        tracing::info!(tenant = customer_tenant, "sign-in sessions revoked");
        Ok(())
    }
}
