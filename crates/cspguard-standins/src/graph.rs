//! [`GraphStandIn`]: `POST /users/{id}/revokeSignInSessions`, token-checked (Graph scope).

use std::sync::{Arc, Mutex};

use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::entra::{EntraStandIn, TokenInfo};
use crate::harness::{record_and_fault, serve, Harness, Server};

/// The scope Graph tokens must carry.
pub const SCOPE: &str = "https://graph.microsoft.com/.default";

/// The revoke route (fault key).
pub const REVOKE_ROUTE: &str = "POST /users/{id}/revokeSignInSessions";

type Revocations = Arc<Mutex<Vec<(String, String)>>>;

/// The Graph stand-in. Its base URL stands for `https://graph.microsoft.com/v1.0`.
#[derive(Debug)]
pub struct GraphStandIn {
    server: Server,
    harness: Harness,
    revocations: Revocations,
}

impl GraphStandIn {
    /// Starts a stand-in accepting the tokens `entra` issues for [`SCOPE`].
    pub async fn start(entra: &EntraStandIn) -> Self {
        let harness = Harness::default();
        let revocations = Revocations::default();
        let tokens = entra.tokens();
        let router = Router::new()
            .route("/users/{id}/revokeSignInSessions", post(revoke))
            .route_layer(axum::middleware::from_fn(move |req, next| {
                tokens.clone().require(SCOPE, req, next)
            }))
            .route_layer(axum::middleware::from_fn_with_state(
                harness.clone(),
                record_and_fault,
            ))
            .with_state(revocations.clone());
        GraphStandIn {
            server: serve(router).await,
            harness,
            revocations,
        }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Requests, faults, down/up.
    pub fn harness(&self) -> &Harness {
        &self.harness
    }

    /// `(token tenant, user)` of every revocation served.
    pub fn revocations(&self) -> Vec<(String, String)> {
        self.revocations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn revoke(
    State(revocations): State<Revocations>,
    Extension(token): Extension<TokenInfo>,
    Path(user): Path<String>,
) -> Response {
    revocations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((token.tenant, user));
    Json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": true})).into_response()
}
