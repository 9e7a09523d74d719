//! The `/api/v1` handlers. Each checks its permission, then the reseller scope of what it touches (out of scope is
//! answered exactly like "does not exist"), then calls the same functions as the CLI.

use super::auth::{new_secret, verify_password, Permission, Principal};
use super::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use cspguard_store::{AuditEntry, AuditFilter, CaseFilter};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "cspguard_session";
/// How long a console session lasts.
const SESSION_HOURS: i64 = 8;

type Res = Result<Response, ApiError>;

pub(crate) fn need(p: &Principal, perm: Permission) -> Result<(), ApiError> {
    if p.role.may(perm) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("the {} role may not do this ({perm:?})", p.role),
        ))
    }
}

pub(crate) fn not_visible(what: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("there is no {what}"))
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

pub async fn not_found() -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        "no such API route: see /openapi.json".into(),
    )
}

/// The signed-in user and what the role may do (the console shows only the pages and buttons these allow).
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, description = "username, role, reseller scope, permissions")),
    security(("bearer" = []), ("session" = [])))]
pub async fn me(Extension(p): Extension<Principal>) -> Json<Value> {
    let permissions: Vec<&str> = Permission::ALL
        .iter()
        .filter(|perm| p.role.may(**perm))
        .map(|perm| perm.as_str())
        .collect();
    Json(
        json!({"username": p.username, "role": p.role, "reseller_mpn_id": p.reseller,
                "permissions": permissions}),
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// Signs in (console): sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", request_body = Login,
    responses((status = 204, description = "signed in; cookie set"), (status = 401, description = "wrong username or password")))]
pub async fn login(State(s): State<Arc<AppState>>, Json(l): Json<Login>) -> Res {
    let now = Utc::now();
    let user = s.store.user(&l.username).await?;
    let ok = user
        .as_ref()
        .is_some_and(|u| !u.disabled && verify_password(&l.password, &u.password_hash));
    let verb = if ok {
        "user.signed_in"
    } else {
        "user.sign_in_failed"
    };
    s.store
        .append_audit(&[AuditEntry::new(
            now,
            &l.username,
            verb,
            json!({"via": "console"}),
        )])
        .await?;
    if !ok {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "wrong username or password".into(),
        ));
    }
    let session = new_secret("s");
    s.store
        .add_session(
            &session,
            &l.username,
            now + chrono::Duration::hours(SESSION_HOURS),
        )
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_HOURS * 3600
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Signs out.
#[utoipa::path(delete, path = "/api/v1/session", responses((status = 204, description = "signed out")),
    security(("session" = [])))]
pub async fn logout(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Res {
    if let Some(c) = session_cookie(&headers) {
        s.store.end_session(&c).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            format!("{SESSION_COOKIE}=; Path=/; Max-Age=0"),
        )],
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AlertQuery {
    /// Customer tenant ID.
    pub customer: Option<String>,
    /// RFC 3339 instant: fired at or after.
    pub since: Option<String>,
}

/// Alerts, most recently fired first.
#[utoipa::path(get, path = "/api/v1/alerts", params(AlertQuery), responses((status = 200, description = "{\"alerts\": [...]}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_alerts(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<AlertQuery>,
) -> Res {
    need(&p, Permission::ReadAlerts)?;
    let since = match q.since.as_deref() {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    ApiError(
                        StatusCode::BAD_REQUEST,
                        format!("since {t:?} is not a RFC 3339 instant: {e}"),
                    )
                })?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let alerts = crate::detect::load_alerts(
        &s.store,
        &cspguard_store::AlertFilter {
            since,
            customer: q.customer,
        },
    )
    .await?;
    let visible: Vec<_> = alerts
        .into_iter()
        .filter(|a| p.sees(&a.customer_tenant_id))
        .collect();
    Ok(Json(json!({ "alerts": visible })).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CaseQuery {
    /// open, investigating, mitigating, resolved
    pub status: Option<String>,
    /// Customer tenant ID.
    pub customer: Option<String>,
}

pub(crate) fn case_json(c: &cspguard_cases::Case) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(c).map_err(|e| ApiError::from(anyhow::Error::from(e)))?;
    v["sla"] = serde_json::to_value(c.sla(Utc::now())).unwrap_or(Value::Null);
    Ok(v)
}

/// Cases, newest first, with their SLA clocks.
#[utoipa::path(get, path = "/api/v1/cases", params(CaseQuery), responses((status = 200, description = "{\"cases\": [...]}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_cases(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<CaseQuery>,
) -> Res {
    need(&p, Permission::ReadCases)?;
    let rows = s
        .store
        .cases(&CaseFilter {
            status: q.status,
            customer: q.customer,
        })
        .await?;
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| p.sees(&r.customer_tenant_id)) {
        out.push(case_json(&crate::cases::parse_case(r)?)?);
    }
    Ok(Json(json!({ "cases": out })).into_response())
}

async fn visible_case(
    s: &AppState,
    p: &Principal,
    id: &str,
) -> Result<cspguard_cases::Case, ApiError> {
    match s.store.case(id).await? {
        Some(r) if p.sees(&r.customer_tenant_id) => Ok(crate::cases::parse_case(&r)?),
        _ => Err(not_visible(&format!("case {id:?}"))),
    }
}

/// One case: SLA, checklist, notes, actions, timeline and its audit entries.
#[utoipa::path(get, path = "/api/v1/cases/{id}", params(("id" = String, Path, description = "case ID")),
    responses((status = 200, description = "the case"), (status = 404, description = "no such case (or not yours)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_case(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Res {
    need(&p, Permission::ReadCases)?;
    let case = visible_case(&s, &p, &id).await?;
    let mut v = case_json(&case)?;
    let actions: Vec<_> = s
        .store
        .actions(Some(&id), None)
        .await?
        .iter()
        .map(crate::cases::parse_action)
        .collect::<anyhow::Result<_>>()?;
    v["actions"] = json!(actions);
    v["timeline"] = json!(crate::cases::timeline(&s.store, &case, 500).await?);
    let audit: Vec<crate::cases::AuditJson> = s
        .store
        .audit(&AuditFilter {
            case_id: Some(id.clone()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    v["audit"] = json!(audit);
    Ok(Json(v).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NoteBody {
    pub text: String,
}

/// Adds a note.
#[utoipa::path(post, path = "/api/v1/cases/{id}/notes", params(("id" = String, Path)), request_body = NoteBody,
    responses((status = 200, description = "the case")), security(("bearer" = []), ("session" = [])))]
pub async fn note_case(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Json(b): Json<NoteBody>,
) -> Res {
    need(&p, Permission::WorkCases)?;
    visible_case(&s, &p, &id).await?;
    let who = p.username.clone();
    let c = crate::cases::apply_edit(
        &s.store,
        &id,
        &who,
        Utc::now(),
        "case.noted",
        json!({"text": b.text}),
        |c| {
            c.note(&who, &b.text, Utc::now());
            Ok(())
        },
    )
    .await?;
    Ok(Json(case_json(&c)?).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AssignBody {
    pub assignee: String,
}

/// Assigns the case.
#[utoipa::path(post, path = "/api/v1/cases/{id}/assign", params(("id" = String, Path)), request_body = AssignBody,
    responses((status = 200, description = "the case")), security(("bearer" = []), ("session" = [])))]
pub async fn assign_case(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Json(b): Json<AssignBody>,
) -> Res {
    need(&p, Permission::WorkCases)?;
    visible_case(&s, &p, &id).await?;
    let assignee = b.assignee.trim();
    if assignee.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "assignee is empty: name a user".into(),
        ));
    }
    let c = crate::cases::assign(&s.store, &id, assignee, &p.username, Utc::now()).await?;
    Ok(Json(case_json(&c)?).into_response())
}

/// The people a case can be assigned to (for the console's select): enabled users whose role may work cases and
/// who can see the case (partner-wide, or of the case's customer's reseller). A reseller-scoped user is offered its
/// own reseller's users only.
#[utoipa::path(get, path = "/api/v1/cases/{id}/assignees", params(("id" = String, Path)),
    responses((status = 200, description = "{\"me\", \"assignees\": [{username, role, reseller_mpn_id}]}"),
              (status = 404, description = "no such case (or not yours)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn case_assignees(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Res {
    need(&p, Permission::WorkCases)?;
    let case = visible_case(&s, &p, &id).await?;
    let tenant = case.customer_tenant_id.to_ascii_lowercase();
    let mut resellers_seeing: std::collections::HashMap<String, bool> = Default::default();
    let mut out = Vec::new();
    for u in s.store.users().await? {
        let works = super::auth::Role::parse(&u.role).is_some_and(|r| r.may(Permission::WorkCases));
        if u.disabled || !works {
            continue;
        }
        let sees = match &u.reseller_mpn_id {
            None => p.reseller.is_none(),
            Some(r) => {
                if p.reseller.as_ref().is_some_and(|mine| mine != r) {
                    false
                } else if let Some(v) = resellers_seeing.get(r) {
                    *v
                } else {
                    let v = s
                        .store
                        .reseller_customers(r)
                        .await?
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(&tenant));
                    resellers_seeing.insert(r.clone(), v);
                    v
                }
            }
        };
        if sees {
            out.push(json!({"username": u.username, "role": u.role, "reseller_mpn_id": u.reseller_mpn_id}));
        }
    }
    Ok(Json(json!({"me": p.username, "assignees": out})).into_response())
}

/// Ticks a checklist step (its `id`, as the case's `checklist` lists them), recorded as done by the signed-in user
/// and audited as `case.checked` (`cspguard cases check`). A step ticked already keeps who ticked it first.
#[utoipa::path(post, path = "/api/v1/cases/{id}/checklist/{step}",
    params(("id" = String, Path, description = "case ID"), ("step" = String, Path, description = "checklist step ID")),
    responses((status = 200, description = "the case"), (status = 404, description = "no such case (or not yours), or no such step")),
    security(("bearer" = []), ("session" = [])))]
pub async fn tick_step(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path((id, step)): Path<(String, String)>,
) -> Res {
    need(&p, Permission::WorkCases)?;
    let case = visible_case(&s, &p, &id).await?;
    if !case.checklist.iter().any(|i| i.id == step) {
        return Err(not_visible(&format!("step {step:?} in case {id}")));
    }
    let c = crate::cases::tick(&s.store, &id, &step, &p.username, Utc::now()).await?;
    Ok(Json(case_json(&c)?).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResolveBody {
    /// legitimate, fraud or ignore
    pub verdict: String,
    pub note: Option<String>,
}

/// Resolves the case with a verdict; Microsoft's alerts of the case are then resolved the same way.
#[utoipa::path(post, path = "/api/v1/cases/{id}/resolve", params(("id" = String, Path)), request_body = ResolveBody,
    responses((status = 200, description = "the case and the actions planned")), security(("bearer" = []), ("session" = [])))]
pub async fn resolve_case(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Json(b): Json<ResolveBody>,
) -> Res {
    need(&p, Permission::WorkCases)?;
    visible_case(&s, &p, &id).await?;
    let (c, planned) = crate::cases::resolve_case(
        &s.store,
        &s.settings,
        &id,
        &b.verdict,
        b.note.as_deref(),
        &p.username,
        Utc::now(),
    )
    .await?;
    let mut v = case_json(&c)?;
    v["actions_planned"] = json!(planned);
    Ok(Json(v).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ActionQuery {
    /// Case ID.
    pub case: Option<String>,
    /// awaiting_approval, ready, in_flight, succeeded, failed, dry_run, cancelled
    pub state: Option<String>,
}

/// Actions, oldest first.
#[utoipa::path(get, path = "/api/v1/actions", params(ActionQuery), responses((status = 200, description = "{\"actions\": [...]}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_actions(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<ActionQuery>,
) -> Res {
    need(&p, Permission::ReadCases)?;
    let customer_of: std::collections::HashMap<String, String> = s
        .store
        .cases(&CaseFilter::default())
        .await?
        .into_iter()
        .map(|c| (c.id, c.customer_tenant_id))
        .collect();
    let rows = s
        .store
        .actions(q.case.as_deref(), q.state.as_deref())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        if customer_of.get(&r.case_id).is_some_and(|c| p.sees(c)) {
            out.push(crate::cases::parse_action(&r)?);
        }
    }
    Ok(Json(json!({ "actions": out })).into_response())
}

/// Approves an action (some need two different approvers).
#[utoipa::path(post, path = "/api/v1/actions/{key}/approve", params(("key" = String, Path, description = "action key")),
    responses((status = 200, description = "the action"), (status = 409, description = "not awaiting approval, or you approved it already")),
    security(("bearer" = []), ("session" = [])))]
pub async fn approve_action(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(key): Path<String>,
) -> Res {
    need(&p, Permission::ApproveActions)?;
    let row = s
        .store
        .action(&key)
        .await?
        .ok_or_else(|| not_visible(&format!("action {key:?}")))?;
    visible_case(&s, &p, &row.case_id)
        .await
        .map_err(|_| not_visible(&format!("action {key:?}")))?;
    let rec = crate::actions::approve(&s.store, &row.key, &p.username).await?;
    Ok(Json(json!(rec)).into_response())
}

/// Customers (profile as the store merged it).
#[utoipa::path(get, path = "/api/v1/customers", responses((status = 200, description = "{\"customers\": [...]}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_customers(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
) -> Res {
    need(&p, Permission::ReadCustomers)?;
    let out: Vec<Value> = s
        .store
        .customers()
        .await?
        .into_iter()
        .filter(|c| p.sees(&c.tenant_id))
        .map(|c| {
            json!({"tenant_id": c.tenant_id, "name": c.name, "domain": c.domain, "country": c.country,
                   "reseller_mpn_id": c.reseller_mpn_id})
        })
        .collect();
    Ok(Json(json!({ "customers": out })).into_response())
}

/// Recomputes the audit log's hash chain.
#[utoipa::path(get, path = "/api/v1/audit/verify", responses((status = 200, description = "{\"ok\", \"checked\", \"head\", \"broken\"}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn verify_audit(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
) -> Res {
    need(&p, Permission::ReadAudit)?;
    let v = s.store.verify_audit().await?;
    Ok(Json(json!({
        "ok": v.broken.is_none(), "checked": v.checked, "unchained": v.unchained, "head": v.head,
        "broken": v.broken.map(|(seq, why)| json!({"seq": seq, "reason": why})),
    }))
    .into_response())
}

/// Largest body `POST /api/v1/events/{kind}` accepts; bigger files go through `cspguard import`.
pub const INGEST_MAX_BYTES: usize = 64 << 20;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct IngestQuery {
    /// The customer tenant for shapes whose records do not name one (sign-ins, a subscriptions page).
    pub customer: Option<String>,
}

/// Ingests one source document (the body: a usage CSV, a fraud-events page, sign-ins, an activity log, billing JSON
/// Lines, customers or subscriptions — `kind` as `cspguard import` names them). Answered 202 once the events are
/// committed, with the request's idempotency key (the `Idempotency-Key` header if sent, else the content's hash):
/// sending the same body again adds nothing. 503 with `Retry-After` when the ingest slots are full.
#[utoipa::path(post, path = "/api/v1/events/{kind}", params(("kind" = String, Path, description = "usage, fraud-events, signins, activity-log, billing, customers, subscriptions"), IngestQuery),
    request_body(content = String, description = "the source document, as the source produces it"),
    responses((status = 202, description = "stored: {idempotency_key, read, imported, duplicates, rejected, rejects}"),
              (status = 503, description = "ingest is full; retry after the Retry-After seconds")),
    security(("bearer" = []), ("session" = [])))]
pub async fn ingest(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(kind): Path<String>,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Res {
    need(&p, Permission::Ingest)?;
    if p.reseller.is_some() {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "a reseller-scoped user cannot ingest: events may concern any customer".into(),
        ));
    }
    let Some(kind) = cspguard_ingest::SourceKind::from_name(&kind) else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("{kind:?} is not a source kind: usage, fraud-events, signins, activity-log, billing, customers, subscriptions"),
        ));
    };
    let Ok(_permit) = s.ingest_slots.clone().try_acquire_owned() else {
        return Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            Json(json!({"error": "ingest is at capacity; retry after 1 s"})),
        )
            .into_response());
    };
    let customer = match q.customer.as_deref() {
        Some(c) => Some(
            cspguard_domain::TenantId::parse(c)
                .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("customer: {e}")))?,
        ),
        None => None,
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| {
            let mut h = blake3::Hasher::new();
            h.update(kind.name().as_bytes());
            h.update(q.customer.as_deref().unwrap_or("").as_bytes());
            h.update(&body);
            h.finalize().to_hex()[..32].to_string()
        });
    let v = store_document(&s, kind, customer, body, &key).await?;
    Ok((StatusCode::ACCEPTED, Json(v)).into_response())
}

/// Parses `body` as a `kind` document through the importers (on a blocking thread), hands its events to the ingest
/// writer and waits until they are committed and evaluated ([`super::ingest`]). Returns `{idempotency_key, read,
/// imported, duplicates, rejected, rejects}`.
pub async fn store_document(
    s: &AppState,
    kind: cspguard_ingest::SourceKind,
    customer: Option<cspguard_domain::TenantId>,
    body: axum::body::Bytes,
    key: &str,
) -> Result<Value, ApiError> {
    let origin = format!("api:{}/{}", kind.name(), key);
    let now = chrono::Utc::now();
    let keys = s.usage_keys;
    let (doc, rejects) = tokio::task::spawn_blocking(move || {
        let parsed = crate::import::parse_document(kind, &origin, customer, now, keys, &body)?;
        let rejected = parsed.rejects.len() as u64;
        let doc = super::ingest::Document::prepare(kind, origin, parsed.events, rejected)?;
        anyhow::Ok((doc, parsed.rejects))
    })
    .await
    .map_err(|e| ApiError::from(anyhow::Error::from(e)))?
    .map_err(|e| match e.downcast::<cspguard_ingest::ParseError>() {
        Ok(p) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, p.to_string()),
        Err(e) => ApiError::from(e),
    })?;
    let read = doc.events.len() as u64 + doc.rejected;
    let o = s.ingest.submit(doc).await?;
    let rejects_json: Vec<Value> = rejects
        .iter()
        .take(100)
        .map(|r| json!({"line": r.line, "column": r.column, "field": r.field, "reason": r.reason}))
        .collect();
    Ok(json!({
        "idempotency_key": key, "read": read, "imported": o.inserted,
        "duplicates": o.duplicates, "rejected": rejects.len(), "rejects": rejects_json,
    }))
}
