//! [`WebhookStandIn`]: records POSTed bodies and headers; can be down (503) and up again.

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

use crate::harness::{record_and_fault, serve, Harness, Recorded, Server};

/// The webhook stand-in: answers 200 to any POST.
#[derive(Debug)]
pub struct WebhookStandIn {
    server: Server,
    harness: Harness,
}

impl WebhookStandIn {
    /// Starts it.
    pub async fn start() -> Self {
        let harness = Harness::default();
        let router = Router::new()
            .route("/", post(|| async { StatusCode::OK }))
            .route("/{*path}", post(|| async { StatusCode::OK }))
            .route_layer(axum::middleware::from_fn_with_state(
                harness.clone(),
                record_and_fault,
            ));
        WebhookStandIn {
            server: serve(router).await,
            harness,
        }
    }

    /// A webhook URL with a secret-looking path, like the real ones.
    pub fn url(&self) -> String {
        format!("http://{}/hooks/T0KEN-s3cr3t-path", self.server.addr)
    }

    /// Requests, faults, down/up.
    pub fn harness(&self) -> &Harness {
        &self.harness
    }

    /// Every POST received (those answered 503 while down included).
    pub fn received(&self) -> Vec<Recorded> {
        self.harness.requests()
    }
}
