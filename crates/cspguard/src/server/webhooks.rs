//! Partner Center webhooks: `POST /webhooks/partner-center`.
//!
//! Partner Center POSTs `{"EventName", "ResourceUri", "ResourceName", "AuditUri", "ResourceChangeUtcDate"}` when
//! something changes; the receiver fetches the resource the event names and feeds it through the importers, exactly
//! like `sync partner-center` would, so a webhook and a later sync of the same facts are one event.
//!
//! Authenticity, before anything is parsed or fetched:
//! - Partner Center's signature (`[webhooks] require_signature`, on by default): the body as received must carry a
//!   valid RSA-SHA256 signature by Microsoft's notification certificate, downloaded only from an allow-listed location
//!   ([`signature`]);
//! - optionally a secret token in the registered callback URL (`?token=…`, `[webhooks] token_env` or `token_file`),
//!   compared in constant time — a second factor beside the signature, or the only one when signatures are off.
//!
//! A refused call answers 401, is audited as `webhook.refused` with the reason (never the signature, the token or the
//! body) and fetches nothing. No `[webhooks]`, no receiver (503). Only the path of `ResourceUri` is used: the
//! resource is always fetched from the configured Partner Center base URL with the app's own credentials, so a
//! forged URI cannot send a token elsewhere, and the webhook body itself is never trusted as data.
//!
//! Handled: `subscription-updated` (the subscription), `azure-fraud-event-detected` (the fraud events of the
//! subscription it names, every page). Other events are acknowledged and audited, nothing is fetched.

pub mod signature;

use super::api::store_document;
use super::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use cspguard_connectors::FraudEventQuery;
use cspguard_ingest::SourceKind;
use cspguard_store::AuditEntry;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct TokenQuery {
    /// The secret token of the registered callback URL, when `[webhooks]` configures one.
    pub token: Option<String>,
}

/// Partner Center's webhook body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookEvent {
    pub event_name: String,
    pub resource_uri: Option<String>,
    pub resource_name: Option<String>,
    pub resource_change_utc_date: Option<String>,
}

fn same(a: &str, b: &str) -> bool {
    // Constant time in the length of the expected token.
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the ResourceUri names.
#[derive(Debug, PartialEq)]
pub enum Resource {
    Subscription { tenant: String, id: String },
    FraudEvents { subscription: Option<String> },
    Other,
}

/// Reads a ResourceUri (absolute, or a path) into what to fetch.
pub fn resource(uri: &str) -> Resource {
    let (path, query) = match url::Url::parse(uri) {
        Ok(u) => (u.path().to_string(), u.query().unwrap_or("").to_string()),
        Err(_) => {
            let (p, q) = uri.split_once('?').unwrap_or((uri, ""));
            (p.to_string(), q.to_string())
        }
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["v1", "customers", t, "subscriptions", id, ..] => Resource::Subscription {
            tenant: t.to_string(),
            id: id.to_string(),
        },
        ["v1", "fraudEvents", "subscription", sub, ..] => Resource::FraudEvents {
            subscription: Some(sub.to_string()),
        },
        ["v1", "fraudEvents", ..] => Resource::FraudEvents {
            subscription: url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k.eq_ignore_ascii_case("subscriptionid"))
                .map(|(_, v)| v.into_owned()),
        },
        _ => Resource::Other,
    }
}

/// How many refused webhooks are audited per minute at most: the route is open to anyone, and a flood of forged calls
/// must not grow the audit log without bound. Past the budget, refusals are still logged and answered 401; the next
/// audited refusal says how many were left out.
pub const AUDITED_REFUSALS_PER_MINUTE: u32 = 60;

/// The per-minute budget of audited refusals.
#[derive(Default)]
pub struct RefusalBudget(std::sync::Mutex<(i64, u32, u64)>);

impl RefusalBudget {
    /// Whether this refusal is audited, and how many were left out before it.
    fn take(&self, now: chrono::DateTime<Utc>) -> Option<u64> {
        let minute = now.timestamp() / 60;
        let mut g = self.0.lock().ok()?;
        let (m, used, skipped) = &mut *g;
        if *m != minute {
            (*m, *used) = (minute, 0);
        }
        if *used >= AUDITED_REFUSALS_PER_MINUTE {
            *skipped += 1;
            return None;
        }
        *used += 1;
        Some(std::mem::take(skipped))
    }
}

/// Answers 401 and audits the refusal (the reason only: never the signature, the token or the body), within
/// [`AUDITED_REFUSALS_PER_MINUTE`].
async fn refuse(
    s: &AppState,
    now: chrono::DateTime<Utc>,
    reason: String,
) -> Result<Response, ApiError> {
    tracing::warn!("Partner Center webhook refused: {reason}");
    if let Some(left_out) = s.webhook_refusals.take(now) {
        s.store
            .append_audit(&[AuditEntry::new(
                now,
                "partner-center-webhook",
                "webhook.refused",
                json!({"reason": reason, "refusals_not_audited_before": left_out}),
            )])
            .await?;
    }
    Err(ApiError(
        StatusCode::UNAUTHORIZED,
        format!("webhook refused: {reason}"),
    ))
}

/// Receives a Partner Center webhook: authenticates it (signature, optional token), then fetches and stores what it
/// names.
#[utoipa::path(post, path = "/webhooks/partner-center", tag = "webhooks",
    request_body(content = String, content_type = "application/json",
        description = "Partner Center's notification, exactly as signed: {EventName, ResourceUri, ResourceName, AuditUri, ResourceChangeUtcDate}"),
    params(TokenQuery,
        ("Authorization" = String, Header, description = "`Signature <base64>`: RSA PKCS#1 v1.5 SHA-256 signature of the raw body (required unless `[webhooks] require_signature = false`)"),
        ("X-MS-Certificate-Url" = String, Header, description = "the signing certificate; must be under `[webhooks] certificate_url_prefixes` (default https://3psostorageacct.blob.core.windows.net/cert/) and end in .cer"),
        ("X-MS-Signature-Algorithm" = String, Header, description = "`rsa-sha256`")),
    responses((status = 200, description = "authenticated: {event, fetched, stored}"),
              (status = 400, description = "not a Partner Center webhook body"),
              (status = 401, description = "refused (signature or token); audited, nothing fetched"),
              (status = 503, description = "webhooks are not configured, or Partner Center is unavailable")))]
pub async fn partner_center(
    State(s): State<Arc<AppState>>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let Some(ws) = &s.settings.webhooks else {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks are not configured: add [webhooks] to cspguard.toml".into(),
        ));
    };
    if !ws.require_signature && ws.token().is_none() {
        // Settings refuse this on load; never serve an unauthenticated receiver anyway.
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks need a signature or a token: see [webhooks] in cspguard.toml".into(),
        ));
    }
    let now = Utc::now();
    if let Some(token) = ws.token() {
        let expected = token
            .read("webhook token")
            .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        if !q.token.as_deref().is_some_and(|t| same(t, &expected)) {
            return refuse(&s, now, "missing or wrong webhook token".into()).await;
        }
    }
    if ws.require_signature {
        let prefixes = ws
            .certificate_url_prefixes
            .iter()
            .map(|p| signature::UrlPrefix::parse(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("[webhooks] certificate_url_prefixes: {e}"),
                )
            })?;
        let policy = signature::Policy {
            prefixes: &prefixes,
            common_name: &ws.certificate_subject,
            organization: ws.certificate_organization.as_deref(),
        };
        if let Err(r) = signature::verify(&s.webhook_certs, &policy, &headers, &body, now).await {
            return refuse(&s, now, r.to_string()).await;
        }
    }
    let ev: WebhookEvent = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("not a Partner Center webhook body: {e}"),
        )
    })?;
    let target = ev
        .resource_uri
        .as_deref()
        .map(resource)
        .unwrap_or(Resource::Other);
    let pc = || {
        crate::effects::partner_center(s.settings.partner_center.as_ref())
            .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e))
    };
    let upstream = |e: cspguard_connectors::ConnectorError| {
        ApiError(
            if e.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_GATEWAY
            },
            format!("fetching the resource from Partner Center: {e}"),
        )
    };
    let mut stored: Vec<Value> = Vec::new();
    match (ev.event_name.as_str(), &target) {
        ("subscription-updated", Resource::Subscription { tenant, id }) => {
            let customer = cspguard_domain::TenantId::parse(tenant).map_err(|e| {
                ApiError(StatusCode::BAD_REQUEST, format!("ResourceUri tenant: {e}"))
            })?;
            let sub = pc()?.get_subscription(tenant, id).await.map_err(upstream)?;
            let doc = serde_json::to_vec(&json!({"items": [sub]})).unwrap_or_default();
            let key = format!("webhook-{}", blake3::hash(&doc).to_hex());
            stored.push(
                store_document(
                    &s,
                    SourceKind::Subscriptions,
                    Some(customer),
                    doc.into(),
                    &key[..40],
                )
                .await?,
            );
        }
        ("azure-fraud-event-detected", Resource::FraudEvents { subscription }) => {
            let client = pc()?;
            let q = FraudEventQuery {
                subscription_id: subscription.clone(),
                ..Default::default()
            };
            for page in 1..=1_000u32 {
                let p = client.fraud_events_page(&q, page).await.map_err(upstream)?;
                let doc = serde_json::to_vec(&json!({"items": p.items})).unwrap_or_default();
                let key = format!("webhook-{}", blake3::hash(&doc).to_hex());
                stored.push(
                    store_document(&s, SourceKind::FraudEvents, None, doc.into(), &key[..40])
                        .await?,
                );
                if !p.has_more {
                    break;
                }
            }
        }
        _ => {}
    }
    let fetched = !stored.is_empty();
    s.store
        .append_audit(&[AuditEntry::new(
            now,
            "partner-center-webhook",
            "webhook.received",
            json!({"event": ev.event_name, "resource": ev.resource_name, "changed": ev.resource_change_utc_date,
                   "fetched": fetched}),
        )])
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({"event": ev.event_name, "fetched": fetched, "stored": stored})),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_uris_name_what_to_fetch() {
        assert_eq!(
            resource("https://api.partnercenter.microsoft.com/v1/customers/T1/subscriptions/S1"),
            Resource::Subscription {
                tenant: "T1".into(),
                id: "S1".into()
            }
        );
        assert_eq!(
            resource("/v1/fraudEvents?SubscriptionId=abc&EventStatus=Active"),
            Resource::FraudEvents {
                subscription: Some("abc".into())
            }
        );
        assert_eq!(
            resource("/v1/fraudEvents/subscription/xyz/status"),
            Resource::FraudEvents {
                subscription: Some("xyz".into())
            }
        );
        assert_eq!(resource("/v1/invoices/G1"), Resource::Other);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::*;

    #[test]
    fn refusals_past_the_budget_are_not_audited_and_the_next_minute_says_how_many() {
        let b = RefusalBudget::default();
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:05Z")
            .unwrap()
            .with_timezone(&Utc);
        for _ in 0..AUDITED_REFUSALS_PER_MINUTE {
            assert_eq!(b.take(t), Some(0));
        }
        assert_eq!(b.take(t), None);
        assert_eq!(b.take(t + chrono::Duration::seconds(50)), None);
        assert_eq!(b.take(t + chrono::Duration::seconds(60)), Some(2));
        assert_eq!(b.take(t + chrono::Duration::seconds(61)), Some(0));
    }
}
