//! `cspguard serve`: the REST API (axum) over the same store and stages as the CLI.
//!
//! Public: `/healthz` (the process answers), `/readyz` (the database answers), `/metrics` (Prometheus text),
//! `/openapi.json` (OpenAPI 3, generated from the handlers by utoipa). Everything under `/api/v1/` is authenticated
//! and authorised (`auth`); handlers call the same functions as the CLI (`crate::cases`, `crate::actions`), so an
//! action through the API is planned, approved, audited and executed exactly as one through the CLI.
//!
//! Shutdown is graceful: on Ctrl-C or SIGTERM the server stops accepting connections and finishes the requests in
//! flight (each commits or not as a whole).

pub mod admin;
pub mod api;
pub mod auth;
pub mod billing;
pub mod console;
pub mod ingest;
pub mod views;
pub mod webhooks;

use crate::settings::Settings;
use auth::Principal;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cspguard_store::Store;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::sync::Arc;
use std::time::Instant as WallClock;
use utoipa::OpenApi;

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    /// How the store keys usage lines (fixed for a store's life: read once at start).
    pub usage_keys: cspguard_domain::UsageKeyVersion,
    pub settings: Settings,
    pub metrics: Metrics,
    /// Ingest requests allowed in flight; beyond them the API answers 503 with Retry-After (never an unbounded queue).
    pub ingest_slots: Arc<tokio::sync::Semaphore>,
    /// The writer that group-commits ingested documents and evaluates them ([`ingest`]).
    pub ingest: ingest::Ingest,
    /// Partner Center's webhook signing certificates, by URL.
    pub webhook_certs: webhooks::signature::CertCache,
    /// Refused webhooks audited this minute ([`webhooks::AUDITED_REFUSALS_PER_MINUTE`]).
    pub webhook_refusals: webhooks::RefusalBudget,
}

impl AppState {
    /// The state, with its ingest writer and case-intake tasks started (they hold it weakly, and end with it).
    pub async fn start(store: Store, settings: Settings) -> anyhow::Result<Arc<AppState>> {
        let usage_keys = store.usage_key_version().await?;
        let metrics = Metrics::new()?;
        let webhook_certs = webhooks::signature::CertCache::new()?;
        Ok(Arc::new_cyclic(|me| AppState {
            store,
            usage_keys,
            settings,
            metrics,
            webhook_certs,
            webhook_refusals: webhooks::RefusalBudget::default(),
            ingest_slots: Arc::new(tokio::sync::Semaphore::new(INGEST_SLOTS)),
            ingest: ingest::Ingest::start(me.clone(), INGEST_SLOTS),
        }))
    }
}

/// Ingest requests in flight at once: each parses on a blocking thread, then waits for the writer's group commit.
/// Enough for both cores to parse while the writer commits.
pub const INGEST_SLOTS: usize = 8;

/// Request counters and latencies, per route template and status.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "cspguard_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "cspguard_http_request_seconds",
                "HTTP request latency by route",
            ),
            &["route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
        })
    }
}

/// A JSON error with a status: `{"error": "..."}`.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({"error": self.1}))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        // Domain refusals (a case going backwards, the same approver twice) are the client's to fix.
        let msg = format!("{e:#}");
        let status = if e.downcast_ref::<cspguard_cases::CaseError>().is_some()
            || e.downcast_ref::<cspguard_cases::ActionError>().is_some()
            || e.downcast_ref::<cspguard_exception::RequestError>()
                .is_some()
        {
            StatusCode::CONFLICT
        } else if msg.starts_with("there is no ") {
            StatusCode::NOT_FOUND
        } else if msg.contains("is not a ") {
            StatusCode::BAD_REQUEST
        } else {
            tracing::error!("request failed: {msg}");
            StatusCode::INTERNAL_SERVER_ERROR
        };
        ApiError(status, msg)
    }
}

impl From<cspguard_store::StoreError> for ApiError {
    fn from(e: cspguard_store::StoreError) -> ApiError {
        ApiError::from(anyhow::Error::from(e))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "cspguard", description = "Fraud, misuse and nonpayment protection for Microsoft CSP partners."),
    paths(
        api::me,
        api::login,
        api::logout,
        api::list_alerts,
        api::list_cases,
        api::get_case,
        api::note_case,
        api::assign_case,
        api::case_assignees,
        api::tick_step,
        api::resolve_case,
        api::list_actions,
        api::approve_action,
        api::list_customers,
        api::verify_audit,
        api::ingest,
        views::dashboard,
        views::customer,
        billing::receivables,
        billing::credit,
        billing::exceptions,
        billing::check,
        billing::set_status,
        billing::open_exception,
        billing::set_line,
        billing::package,
        billing::liability,
        admin::rules,
        admin::check_rules,
        admin::backtest,
        admin::list_users,
        admin::add_user,
        webhooks::partner_center,
        admin::disable_user,
        admin::enable_user,
        admin::create_token,
        admin::revoke_token
    ),
    modifiers(&SecurityAddon)
)]
pub struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(api::SESSION_COOKIE))),
        );
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    match s.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}")).into_response(),
    }
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let mut buf = Vec::new();
    if let Err(e) = prometheus::TextEncoder::new().encode(&s.metrics.registry.gather(), &mut buf) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], buf).into_response()
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Counts and times every request by its route template (never the raw path: IDs would explode the label set).
async fn observe(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = WallClock::now();
    let resp = next.run(req).await;
    s.metrics
        .latency
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    s.metrics
        .requests
        .with_label_values(&[&route, resp.status().as_str()])
        .inc();
    resp
}

/// Resolves the request's user (bearer token or session cookie) or answers 401.
async fn authenticate(State(s): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let now = chrono::Utc::now();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let cookie = api::session_cookie(req.headers());
    let user = match (bearer, cookie) {
        (Some(t), _) => s.store.user_by_token(&t).await,
        (None, Some(c)) => s.store.user_by_session(&c, now).await,
        (None, None) => Ok(None),
    };
    let user = match user {
        Ok(u) => u,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(mut p) = user.as_ref().and_then(Principal::from_user) else {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "sign in (POST /api/v1/session) or send an API token as `Authorization: Bearer <token>`".into(),
        )
        .into_response();
    };
    if let Some(r) = &p.reseller {
        match s.store.reseller_customers(r).await {
            Ok(c) => p.customers = Some(c.into_iter().map(|t| t.to_ascii_lowercase()).collect()),
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    req.extensions_mut().insert(p);
    next.run(req).await
}

/// The application.
pub fn router(state: Arc<AppState>) -> Router {
    let protected = Router::new()
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/session", axum::routing::delete(api::logout))
        .route("/api/v1/alerts", get(api::list_alerts))
        .route("/api/v1/cases", get(api::list_cases))
        .route("/api/v1/cases/{id}", get(api::get_case))
        .route("/api/v1/cases/{id}/notes", post(api::note_case))
        .route("/api/v1/cases/{id}/assign", post(api::assign_case))
        .route("/api/v1/cases/{id}/assignees", get(api::case_assignees))
        .route("/api/v1/cases/{id}/checklist/{step}", post(api::tick_step))
        .route("/api/v1/cases/{id}/resolve", post(api::resolve_case))
        .route("/api/v1/actions", get(api::list_actions))
        .route("/api/v1/actions/{key}/approve", post(api::approve_action))
        .route("/api/v1/customers", get(api::list_customers))
        .route("/api/v1/customers/{tenant}", get(views::customer))
        .route("/api/v1/dashboard", get(views::dashboard))
        .route("/api/v1/audit/verify", get(api::verify_audit))
        .route("/api/v1/receivables", get(billing::receivables))
        .route("/api/v1/credit", get(billing::credit))
        .route(
            "/api/v1/exceptions",
            get(billing::exceptions).post(billing::open_exception),
        )
        .route("/api/v1/exceptions/check/{case}", get(billing::check))
        .route("/api/v1/exceptions/{id}/status", post(billing::set_status))
        .route(
            "/api/v1/exceptions/{id}/lines/{line}",
            post(billing::set_line),
        )
        .route(
            "/api/v1/exceptions/{id}/package/{format}",
            get(billing::package),
        )
        .route("/api/v1/report/liability", get(billing::liability))
        .route("/api/v1/rules", get(admin::rules))
        .route(
            "/api/v1/rules/check",
            post(admin::check_rules).layer(axum::extract::DefaultBodyLimit::max(
                admin::RULES_CHECK_MAX_BYTES,
            )),
        )
        .route("/api/v1/rules/backtest", post(admin::backtest))
        .route(
            "/api/v1/users",
            get(admin::list_users).post(admin::add_user),
        )
        .route("/api/v1/users/{name}/disable", post(admin::disable_user))
        .route("/api/v1/users/{name}/enable", post(admin::enable_user))
        .route("/api/v1/users/{name}/tokens", post(admin::create_token))
        .route(
            "/api/v1/users/{name}/tokens/{id}",
            axum::routing::delete(admin::revoke_token),
        )
        .route(
            "/api/v1/events/{kind}",
            post(api::ingest).layer(axum::extract::DefaultBodyLimit::max(api::INGEST_MAX_BYTES)),
        )
        .route("/api/v1/{*rest}", axum::routing::any(api::not_found))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/api/v1/session", post(api::login))
        .route("/webhooks/partner-center", post(webhooks::partner_center))
        .merge(protected)
        .merge(console::router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(store: Store, settings: Settings, listen: &str) -> anyhow::Result<()> {
    let state = AppState::start(store, settings).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {listen}: {e} (choose another with --listen)")
    })?;
    let addr = listener.local_addr()?;
    eprintln!(
        "cspguard serving on http://{addr} (console at http://{addr}/console/, API under /api/v1, OpenAPI at \
         /openapi.json)"
    );
    if state.store.user_count().await? == 0 {
        eprintln!(
            "no users yet: create the first with `cspguard users add NAME --role global-admin` (password from \
             CSPGUARD_PASSWORD or standard input)"
        );
    }
    axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    eprintln!("shutting down: finishing the requests in flight");
}
