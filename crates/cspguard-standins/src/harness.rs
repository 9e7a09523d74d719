//! What every HTTP stand-in shares: request recording, scripted faults, down/up, and serving on port 0.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// A fault a stand-in answers with instead of serving the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: {retry_after_s}`.
    Status429 {
        /// Seconds to put in `Retry-After`.
        retry_after_s: u64,
    },
    /// 429 with `Retry-After` as an HTTP-date this many seconds ahead.
    Status429Date {
        /// Seconds ahead.
        retry_after_s: u64,
    },
    /// 500 Internal Server Error.
    Status500,
    /// 503 Service Unavailable.
    Status503,
    /// 401 Unauthorized.
    Status401,
    /// Any status, with a JSON error body.
    Status(u16),
    /// Waits this long, then serves the request normally.
    Delay(Duration),
}

/// A recorded request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON body.
    Json(Value),
    /// An `application/x-www-form-urlencoded` body.
    Form(Vec<(String, String)>),
    /// Anything else, lossy UTF-8.
    Text(String),
}

/// One request as the stand-in received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// `"{METHOD} {route template}"`, e.g. `GET /v1/customers/{tenant}/subscriptions` (the fault key).
    pub route: String,
    /// The method.
    pub method: String,
    /// The path as requested.
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
}

impl Recorded {
    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's value (name case-insensitive).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The JSON body, if it was JSON.
    pub fn json(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(v) => Some(v),
            _ => None,
        }
    }

    /// A form field, if the body was a form.
    pub fn form_field(&self, name: &str) -> Option<&str> {
        match &self.body {
            Body::Form(fields) => fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Control {
    records: Vec<Recorded>,
    next_faults: HashMap<String, VecDeque<Fault>>,
    always: HashMap<String, Fault>,
    down: bool,
}

/// The recorder and fault script of one stand-in (cheap to clone; clones share state).
#[derive(Debug, Clone, Default)]
pub struct Harness(Arc<Mutex<Control>>);

impl Harness {
    fn lock(&self) -> MutexGuard<'_, Control> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every request received so far, in order (faulted ones included).
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().records.clone()
    }

    /// The requests to one route (`"GET /v1/fraudEvents"`).
    pub fn requests_to(&self, route: &str) -> Vec<Recorded> {
        self.lock()
            .records
            .iter()
            .filter(|r| r.route == route)
            .cloned()
            .collect()
    }

    /// How many requests reached one route.
    pub fn count(&self, route: &str) -> usize {
        self.lock()
            .records
            .iter()
            .filter(|r| r.route == route)
            .count()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.lock().records.clear();
    }

    /// The next requests to `route` get these faults, one each, in order; later ones are served.
    pub fn fail_next(&self, route: &str, faults: Vec<Fault>) {
        self.lock()
            .next_faults
            .entry(route.to_string())
            .or_default()
            .extend(faults);
    }

    /// Every request to `route` gets a 500 until [`Harness::clear_faults`].
    pub fn fail_always(&self, route: &str) {
        self.fail_always_with(route, Fault::Status500);
    }

    /// Every request to `route` gets `fault` until [`Harness::clear_faults`].
    pub fn fail_always_with(&self, route: &str, fault: Fault) {
        self.lock().always.insert(route.to_string(), fault);
    }

    /// Removes every scripted fault (not down).
    pub fn clear_faults(&self) {
        let mut c = self.lock();
        c.next_faults.clear();
        c.always.clear();
    }

    /// Every route answers 503 until [`Harness::up`].
    pub fn down(&self) {
        self.lock().down = true;
    }

    /// Serves again after [`Harness::down`].
    pub fn up(&self) {
        self.lock().down = false;
    }

    fn take_fault(&self, route: &str) -> Option<Fault> {
        let mut c = self.lock();
        if c.down {
            return Some(Fault::Status503);
        }
        if let Some(f) = c.next_faults.get_mut(route).and_then(VecDeque::pop_front) {
            return Some(f);
        }
        c.always.get(route).cloned()
    }
}

/// A JSON error answer in Partner Center's style.
pub(crate) fn error_response(status: StatusCode, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": status.as_u16(), "description": description})),
    )
        .into_response()
}

/// Middleware (as a `route_layer`): records the request, then answers a scripted fault or passes it on.
pub(crate) async fn record_and_fault(
    State(harness): State<Harness>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let template = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let route = format!("{} {}", parts.method, template);
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    harness.lock().records.push(Recorded {
        route: route.clone(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query,
        headers,
        body: decode_body(content_type, &bytes),
    });
    match harness.take_fault(&route) {
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(fault) => return fault_response(&fault),
        None => {}
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

fn decode_body(content_type: &str, bytes: &Bytes) -> Body {
    if bytes.is_empty() {
        Body::Empty
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        Body::Form(url::form_urlencoded::parse(bytes).into_owned().collect())
    } else if let Ok(v) = serde_json::from_slice(bytes) {
        Body::Json(v)
    } else {
        Body::Text(String::from_utf8_lossy(bytes).into_owned())
    }
}

fn fault_response(fault: &Fault) -> Response {
    match fault {
        Fault::Status429 { retry_after_s } => {
            let mut r = error_response(StatusCode::TOO_MANY_REQUESTS, "throttled (scripted)");
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(*retry_after_s));
            r
        }
        Fault::Status429Date { retry_after_s } => {
            let mut r = error_response(StatusCode::TOO_MANY_REQUESTS, "throttled (scripted)");
            let at = std::time::SystemTime::now() + Duration::from_secs(*retry_after_s);
            if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
        Fault::Status500 => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (scripted)",
        ),
        Fault::Status503 => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "service unavailable (scripted)",
        ),
        Fault::Status401 => error_response(StatusCode::UNAUTHORIZED, "unauthorized (scripted)"),
        Fault::Status(s) => error_response(
            StatusCode::from_u16(*s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "scripted fault",
        ),
        Fault::Delay(_) => StatusCode::OK.into_response(),
    }
}

/// A running server; aborted when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on `127.0.0.1:0`. Panics if the port cannot be bound (a test-environment failure).
pub(crate) async fn serve(router: Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server { addr, task }
}
