//! The web console: static HTML, CSS and ES-module JavaScript compiled into the binary (`console/`), so a fresh machine
//! needs no front-end build. The pages hold no secrets and render only what the authenticated `/api/v1` API returns
//! (signed in with the session cookie); the server enforces every permission again.
//!
//! Every answer carries a strict Content-Security-Policy (scripts and styles from this origin only, no inline script,
//! no framing), `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// The policy every console answer carries.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's files: path under `/console/`, content type, content.
const FILES: &[(&str, &str, &str)] = &[
    (
        "",
        "text/html; charset=utf-8",
        include_str!("console/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("console/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("console/favicon.svg"),
    ),
    ("app.js", JS, include_str!("console/app.js")),
    ("api.js", JS, include_str!("console/api.js")),
    ("dom.js", JS, include_str!("console/dom.js")),
    ("chart.js", JS, include_str!("console/chart.js")),
    (
        "pages/signin.js",
        JS,
        include_str!("console/pages/signin.js"),
    ),
    (
        "pages/dashboard.js",
        JS,
        include_str!("console/pages/dashboard.js"),
    ),
    ("pages/cases.js", JS, include_str!("console/pages/cases.js")),
    ("pages/case.js", JS, include_str!("console/pages/case.js")),
    (
        "pages/customers.js",
        JS,
        include_str!("console/pages/customers.js"),
    ),
    (
        "pages/customer.js",
        JS,
        include_str!("console/pages/customer.js"),
    ),
    ("pages/audit.js", JS, include_str!("console/pages/audit.js")),
    (
        "pages/receivables.js",
        JS,
        include_str!("console/pages/receivables.js"),
    ),
    (
        "pages/exceptions.js",
        JS,
        include_str!("console/pages/exceptions.js"),
    ),
    (
        "pages/report.js",
        JS,
        include_str!("console/pages/report.js"),
    ),
    ("pages/rules.js", JS, include_str!("console/pages/rules.js")),
    ("pages/users.js", JS, include_str!("console/pages/users.js")),
];

const JS: &str = "text/javascript; charset=utf-8";

/// Adds the console's security headers to an answer.
fn secured(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

fn file(path: &str) -> Response {
    match FILES.iter().find(|(p, _, _)| *p == path) {
        Some((_, ctype, body)) => secured(
            (
                [
                    (header::CONTENT_TYPE, *ctype),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                *body,
            )
                .into_response(),
        ),
        None => secured((StatusCode::NOT_FOUND, "no such console file").into_response()),
    }
}

async fn index() -> Response {
    file("")
}

async fn asset(Path(path): Path<String>) -> Response {
    file(&path)
}

async fn to_console() -> Response {
    secured(Redirect::to("/console/").into_response())
}

/// `/` and `/console` redirect to `/console/`; `/console/{file}` serves the embedded files.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(to_console))
        .route("/console", get(to_console))
        .route("/console/", get(index))
        .route("/console/{*path}", get(asset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_served_and_scripts_are_modules_without_inline_code() {
        let html = FILES[0].2;
        assert!(html.contains(r#"<script type="module" src="/console/app.js">"#));
        assert!(
            !html.contains("<script>") && !html.contains(" style="),
            "the CSP forbids inline script and style"
        );
        for (p, _, _) in FILES {
            assert_eq!(file(p).status(), StatusCode::OK, "{p}");
        }
        let r = file("nope.js");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        // Every module a script imports is served.
        for (_, _, body) in FILES.iter().filter(|(_, t, _)| *t == JS) {
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let target = line.rsplit("from ").next().unwrap_or(line);
                let target = target.trim_matches(|c| c == '\'' || c == '"' || c == ';' || c == ' ');
                let target = target.trim_start_matches("/console/");
                assert!(
                    FILES.iter().any(|(p, _, _)| *p == target),
                    "{line}: {target} is not served"
                );
            }
        }
    }
}
