//! [`PartnerCenterStandIn`]: customers, subscriptions, spending budgets and fraud events (both events models),
//! with real state changes, bearer tokens checked against an [`EntraStandIn`]. It also plays Partner Center's webhook
//! sender: [`PartnerCenterStandIn::signed_webhook`] signs a body with the fixture key ([`crate::signing`]), and
//! `GET /cert/{name}` serves the certificates (Microsoft's storage host, on loopback; no token needed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::entra::EntraStandIn;
use crate::harness::{error_response, record_and_fault, serve, Harness, Server};

/// The scope Partner Center tokens must carry.
pub const SCOPE: &str = "https://api.partnercenter.microsoft.com/.default";

/// Route keys (for [`Harness::fail_next`] and [`Harness::requests_to`]).
pub mod routes {
    /// `GET /v1/customers`.
    pub const CUSTOMERS: &str = "GET /v1/customers";
    /// `GET /v1/customers/{tenant}/subscriptions`.
    pub const SUBSCRIPTIONS: &str = "GET /v1/customers/{tenant}/subscriptions";
    /// `GET /v1/customers/{tenant}/subscriptions/{id}`.
    pub const GET_SUBSCRIPTION: &str = "GET /v1/customers/{tenant}/subscriptions/{id}";
    /// `PATCH /v1/customers/{tenant}/subscriptions/{id}`.
    pub const PATCH_SUBSCRIPTION: &str = "PATCH /v1/customers/{tenant}/subscriptions/{id}";
    /// `GET /v1/customers/{tenant}/usagebudget`.
    pub const GET_BUDGET: &str = "GET /v1/customers/{tenant}/usagebudget";
    /// `PATCH /v1/customers/{tenant}/usagebudget`.
    pub const PATCH_BUDGET: &str = "PATCH /v1/customers/{tenant}/usagebudget";
    /// `GET /v1/fraudEvents`.
    pub const FRAUD_EVENTS: &str = "GET /v1/fraudEvents";
    /// `POST /v1/fraudEvents/subscription/{id}/status`.
    pub const FRAUD_STATUS: &str = "POST /v1/fraudEvents/subscription/{id}/status";
    /// `GET /cert/{name}`: a webhook signing certificate.
    pub const CERTIFICATE: &str = "GET /cert/{name}";
}

/// The certificate names served under `/cert/` from the start (DER, like Microsoft's `.cer`).
pub mod certs {
    /// [`crate::signing::CERT_PEM`]: the good one.
    pub const GOOD: &str = "pcnotifications-dispatch.microsoft.com.cer";
    /// [`crate::signing::EXPIRED_PEM`].
    pub const EXPIRED: &str = "expired.cer";
    /// [`crate::signing::WRONG_SUBJECT_PEM`].
    pub const WRONG_SUBJECT: &str = "wrong-subject.cer";
}

#[derive(Debug, Default)]
struct PcState {
    customers: Vec<Value>,
    customers_page_size: usize,
    subscriptions: HashMap<String, Vec<Value>>,
    budgets: HashMap<String, Value>,
    fraud_events: Vec<Value>,
    certificates: HashMap<String, Vec<u8>>,
}

#[derive(Debug, Clone, Default)]
struct Shared(Arc<Mutex<PcState>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, PcState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The Partner Center stand-in. Starts empty; fill it with the setters (or [`crate::fixtures`]).
#[derive(Debug)]
pub struct PartnerCenterStandIn {
    server: Server,
    harness: Harness,
    state: Shared,
}

impl PartnerCenterStandIn {
    /// Starts a stand-in accepting the tokens `entra` issues for [`SCOPE`].
    pub async fn start(entra: &EntraStandIn) -> Self {
        let state = Shared::default();
        {
            let mut s = state.lock();
            s.customers_page_size = 100;
            for (name, pem) in [
                (certs::GOOD, crate::signing::CERT_PEM),
                (certs::EXPIRED, crate::signing::EXPIRED_PEM),
                (certs::WRONG_SUBJECT, crate::signing::WRONG_SUBJECT_PEM),
            ] {
                s.certificates
                    .insert(name.to_string(), crate::signing::der(pem));
            }
        }
        let harness = Harness::default();
        let tokens = entra.tokens();
        let router = Router::new()
            .route("/v1/customers", get(customers))
            .route("/v1/customers/{tenant}/subscriptions", get(subscriptions))
            .route(
                "/v1/customers/{tenant}/subscriptions/{id}",
                get(get_subscription).patch(patch_subscription),
            )
            .route(
                "/v1/customers/{tenant}/usagebudget",
                get(get_budget).patch(patch_budget),
            )
            .route("/v1/fraudEvents", get(fraud_events))
            .route(
                "/v1/fraudEvents/subscription/{id}/status",
                post(fraud_status),
            )
            .route_layer(axum::middleware::from_fn(move |req, next| {
                tokens.clone().require(SCOPE, req, next)
            }))
            .route("/cert/{name}", get(certificate))
            .route_layer(axum::middleware::from_fn_with_state(
                harness.clone(),
                record_and_fault,
            ))
            .with_state(state.clone());
        PartnerCenterStandIn {
            server: serve(router).await,
            harness,
            state,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Requests, faults, down/up.
    pub fn harness(&self) -> &Harness {
        &self.harness
    }

    /// Replaces the customers.
    pub fn set_customers(&self, customers: Vec<Value>) {
        self.state.lock().customers = customers;
    }

    /// Customers per page of `GET /v1/customers` (default 100).
    pub fn set_customers_page_size(&self, n: usize) {
        self.state.lock().customers_page_size = n.max(1);
    }

    /// Replaces a customer's subscriptions.
    pub fn set_subscriptions(&self, tenant: &str, subscriptions: Vec<Value>) {
        self.state
            .lock()
            .subscriptions
            .insert(tenant.to_string(), subscriptions);
    }

    /// A subscription as it is now.
    pub fn subscription(&self, tenant: &str, id: &str) -> Option<Value> {
        find_sub(&self.state.lock(), tenant, id).cloned()
    }

    /// Sets (or with `None` removes) a customer's budget amount.
    pub fn set_budget(&self, tenant: &str, amount: Option<f64>) {
        let mut s = self.state.lock();
        match amount {
            Some(a) => s.budgets.insert(tenant.to_string(), json!(a)),
            None => s.budgets.remove(tenant),
        };
    }

    /// A customer's budget amount as stored.
    pub fn budget(&self, tenant: &str) -> Option<Value> {
        self.state.lock().budgets.get(tenant).cloned()
    }

    /// Replaces the fraud events.
    pub fn set_fraud_events(&self, events: Vec<Value>) {
        self.state.lock().fraud_events = events;
    }

    /// The fraud events as they are now.
    pub fn fraud_events(&self) -> Vec<Value> {
        self.state.lock().fraud_events.clone()
    }

    /// Serves `bytes` as `GET /cert/{name}` (replacing what was there).
    pub fn set_certificate(&self, name: &str, bytes: Vec<u8>) {
        self.state
            .lock()
            .certificates
            .insert(name.to_string(), bytes);
    }

    /// Where `GET /cert/{name}` is, e.g. `http://127.0.0.1:41234/cert/pcnotifications-dispatch.microsoft.com.cer`.
    pub fn certificate_url(&self, name: &str) -> String {
        format!("{}/cert/{name}", self.url())
    }

    /// A webhook as Partner Center sends it: the body's bytes and the signature headers, signed with the fixture
    /// key, the certificate at [`Self::certificate_url`]`(certificate)`.
    pub fn signed_webhook(
        &self,
        event: &Value,
        certificate: &str,
    ) -> (Vec<u8>, Vec<(&'static str, String)>) {
        let body = serde_json::to_vec(event).unwrap_or_default();
        let headers = crate::signing::headers(&body, &self.certificate_url(certificate));
        (body, headers)
    }
}

async fn certificate(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    match state.lock().certificates.get(&name) {
        Some(der) => (
            [(axum::http::header::CONTENT_TYPE, "application/pkix-cert")],
            der.clone(),
        )
            .into_response(),
        None => error_response(StatusCode::NOT_FOUND, "no such certificate"),
    }
}

fn find_sub<'a>(s: &'a PcState, tenant: &str, id: &str) -> Option<&'a Value> {
    s.subscriptions
        .get(tenant)?
        .iter()
        .find(|v| v.get("id").and_then(Value::as_str) == Some(id))
}

fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn str_field<'a>(v: &'a Value, name: &str) -> &'a str {
    v.as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
}

async fn customers(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let s = state.lock();
    let size = param(&q, "size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(s.customers_page_size)
        .max(1);
    let offset: usize = param(&q, "offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let items: Vec<Value> = s
        .customers
        .iter()
        .skip(offset)
        .take(size)
        .cloned()
        .collect();
    let mut body = json!({"totalCount": s.customers.len(), "items": items, "links": {}, "attributes": {"objectType": "Collection"}});
    if offset + size < s.customers.len() {
        body["links"] = json!({"next": {"uri": format!("/v1/customers?size={size}&offset={}", offset + size), "method": "GET", "headers": []}});
    }
    Json(body).into_response()
}

async fn subscriptions(State(state): State<Shared>, Path(tenant): Path<String>) -> Response {
    let s = state.lock();
    match s.subscriptions.get(&tenant) {
        Some(items) => Json(json!({"totalCount": items.len(), "items": items})).into_response(),
        None if s.customers.iter().any(|c| str_field(c, "id") == tenant) => {
            Json(json!({"totalCount": 0, "items": []})).into_response()
        }
        None => error_response(StatusCode::NOT_FOUND, "customer not found"),
    }
}

async fn get_subscription(
    State(state): State<Shared>,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    match find_sub(&state.lock(), &tenant, &id) {
        Some(v) => Json(v.clone()).into_response(),
        None => error_response(StatusCode::NOT_FOUND, "subscription not found"),
    }
}

async fn patch_subscription(
    State(state): State<Shared>,
    Path((tenant, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if !body.is_object() || str_field(&body, "id") != id {
        return error_response(
            StatusCode::BAD_REQUEST,
            "the body must be the whole subscription object, with its id",
        );
    }
    let mut s = state.lock();
    let Some(slot) = s.subscriptions.get_mut(&tenant).and_then(|subs| {
        subs.iter_mut()
            .find(|v| v.get("id").and_then(Value::as_str) == Some(id.as_str()))
    }) else {
        return error_response(StatusCode::NOT_FOUND, "subscription not found");
    };
    *slot = body.clone();
    Json(body).into_response()
}

async fn get_budget(State(state): State<Shared>, Path(tenant): Path<String>) -> Response {
    let s = state.lock();
    Json(json!({"amount": s.budgets.get(&tenant).cloned().unwrap_or(Value::Null)})).into_response()
}

async fn patch_budget(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    match body.get("amount") {
        Some(Value::Number(n)) => {
            state
                .lock()
                .budgets
                .insert(tenant, Value::Number(n.clone()));
            Json(json!({"amount": n})).into_response()
        }
        _ => error_response(StatusCode::BAD_REQUEST, "amount must be a number"),
    }
}

async fn fraud_events(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let new_model = headers
        .get("x-neweventsmodel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let s = state.lock();
    let matches = |e: &&Value| {
        param(&q, "EventStatus")
            .is_none_or(|st| str_field(e, "eventStatus").eq_ignore_ascii_case(st))
            && param(&q, "SubscriptionId")
                .is_none_or(|id| str_field(e, "subscriptionId").eq_ignore_ascii_case(id))
            && (!new_model || param(&q, "EventType").is_none_or(|t| str_field(e, "eventType") == t))
    };
    let all: Vec<&Value> = s.fraud_events.iter().filter(matches).collect();
    let items: Vec<Value> = if new_model {
        let size: usize = param(&q, "PageSize")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100)
            .max(1);
        let number: usize = param(&q, "PageNumber")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        all.into_iter()
            .skip((number - 1) * size)
            .take(size)
            .cloned()
            .collect()
    } else {
        all.into_iter().cloned().collect()
    };
    Json(json!({"totalCount": items.len(), "items": items})).into_response()
}

async fn fraud_status(
    State(state): State<Shared>,
    Path(subscription): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let ids: Vec<String> = match body.get("EventIds") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => return error_response(StatusCode::BAD_REQUEST, "EventIds must be an array"),
    };
    let Some(status) = body.get("EventStatus").and_then(Value::as_str) else {
        return error_response(StatusCode::BAD_REQUEST, "EventStatus is required");
    };
    let reason = body.get("ResolvedReason").and_then(Value::as_str);
    let mut s = state.lock();
    let mut updated = Vec::new();
    for e in s.fraud_events.iter_mut() {
        if !str_field(e, "subscriptionId").eq_ignore_ascii_case(&subscription) {
            continue;
        }
        if !ids.is_empty() && !ids.iter().any(|id| id == str_field(e, "eventId")) {
            continue;
        }
        if let Some(obj) = e.as_object_mut() {
            obj.insert("eventStatus".into(), json!(status));
            if let Some(r) = reason {
                obj.insert("resolvedReason".into(), json!(r));
            }
        }
        updated.push(e.clone());
    }
    Json(json!({"totalCount": updated.len(), "items": updated})).into_response()
}
