//! [`EntraStandIn`]: Entra ID's client-credentials token endpoint, and the registry of the tokens it issued that
//! the resource stand-ins check bearer tokens against.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::json;
use tokio::time::Instant;

use crate::harness::{error_response, record_and_fault, serve, Harness, Server};

/// The token route (fault key).
pub const TOKEN_ROUTE: &str = "POST /{tenant}/oauth2/v2.0/token";

/// What a bearer token was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The tenant of the token endpoint that issued it.
    pub tenant: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The scope asked for.
    pub scope: String,
    expires_at: Instant,
}

#[derive(Debug)]
struct EntraState {
    clients: HashMap<String, String>,
    expires_in: u64,
    tokens: HashMap<String, TokenInfo>,
    requests: usize,
    requests_per_tenant: HashMap<String, usize>,
}

/// Shared view of the issued tokens (what resource stand-ins check).
#[derive(Debug, Clone)]
pub struct Tokens(Arc<Mutex<EntraState>>);

impl Tokens {
    fn lock(&self) -> MutexGuard<'_, EntraState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The token's grant, if it is known, unexpired and for `scope`.
    pub fn check(&self, token: &str, scope: &str) -> Option<TokenInfo> {
        let state = self.lock();
        let info = state.tokens.get(token)?;
        (Instant::now() < info.expires_at && info.scope == scope).then(|| info.clone())
    }

    /// Axum middleware body: 401 unless the request has a valid bearer token for `scope`; on success the
    /// [`TokenInfo`] is put in the request's extensions.
    pub(crate) async fn require(
        self,
        scope: &'static str,
        mut req: Request,
        next: Next,
    ) -> Response {
        let bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        match bearer.and_then(|t| self.check(&t, scope)) {
            Some(info) => {
                req.extensions_mut().insert(info);
                next.run(req).await
            }
            None => error_response(
                StatusCode::UNAUTHORIZED,
                "missing, unknown or expired bearer token",
            ),
        }
    }
}

/// The Entra ID stand-in.
#[derive(Debug)]
pub struct EntraStandIn {
    server: Server,
    harness: Harness,
    tokens: Tokens,
}

impl EntraStandIn {
    /// Starts with one registered client; tokens live one hour.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        let tokens = Tokens(Arc::new(Mutex::new(EntraState {
            clients: HashMap::from([(client_id.to_string(), client_secret.to_string())]),
            expires_in: 3600,
            tokens: HashMap::new(),
            requests: 0,
            requests_per_tenant: HashMap::new(),
        })));
        let harness = Harness::default();
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route_layer(axum::middleware::from_fn_with_state(
                harness.clone(),
                record_and_fault,
            ))
            .with_state(tokens.clone());
        EntraStandIn {
            server: serve(router).await,
            harness,
            tokens,
        }
    }

    /// The authority URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Requests, faults, down/up.
    pub fn harness(&self) -> &Harness {
        &self.harness
    }

    /// The issued tokens (for resource stand-ins).
    pub fn tokens(&self) -> Tokens {
        self.tokens.clone()
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.tokens.lock().expires_in = secs;
    }

    /// Makes every issued token invalid: resource stand-ins answer 401 to them.
    pub fn expire_all(&self) {
        self.tokens.lock().tokens.clear();
    }

    /// Tokens issued (successful requests) so far.
    pub fn token_requests(&self) -> usize {
        self.tokens.lock().requests
    }

    /// Tokens issued for one tenant.
    pub fn token_requests_for(&self, tenant: &str) -> usize {
        self.tokens
            .lock()
            .requests_per_tenant
            .get(tenant)
            .copied()
            .unwrap_or(0)
    }
}

async fn token(
    State(tokens): State<Tokens>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    if field("grant_type") != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: grant_type must be client_credentials",
        );
    }
    let mut state = tokens.lock();
    match state.clients.get(field("client_id")) {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "AADSTS700016: application not found",
            )
        }
        Some(secret) if secret != field("client_secret") => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            )
        }
        Some(_) => {}
    }
    let scope = field("scope");
    if !scope.ends_with("/.default") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: scope must end with /.default",
        );
    }
    let access_token = format!("tok-{}", uuid::Uuid::new_v4());
    let expires_in = state.expires_in;
    let info = TokenInfo {
        tenant: tenant.clone(),
        client_id: field("client_id").to_string(),
        scope: scope.to_string(),
        expires_at: Instant::now() + Duration::from_secs(expires_in),
    };
    state.tokens.insert(access_token.clone(), info);
    state.requests += 1;
    *state.requests_per_tenant.entry(tenant).or_default() += 1;
    Json(json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": access_token}))
        .into_response()
}
