//! The billing routes (Billing permission): receivables, credit exposure, Microsoft fraud-credit exception requests
//! and the liability report. Each answers the same JSON as the CLI's `--json` (`cspguard receivables`, `credit`,
//! `exception list|check`, `report liability`), computed by the same functions, limited to the customers the user
//! sees: a reseller-scoped user gets only its customers' rows, and another reseller's request or case is a 404.

use super::api::{need, not_visible};
use super::auth::{Permission, Principal};
use super::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Res = Result<Response, ApiError>;

/// Customers listed in the liability report (as `report liability`'s default).
const REPORT_TOP: usize = 15;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AsOfQuery {
    /// The day (YYYY-MM-DD) [default: today, UTC].
    pub as_of: Option<String>,
}

fn as_of(q: &AsOfQuery) -> Result<NaiveDate, ApiError> {
    match q.as_of.as_deref() {
        None | Some("") => Ok(Utc::now().date_naive()),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("as_of {d:?} is not a date (YYYY-MM-DD): {e}"),
            )
        }),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Res {
    Ok(
        Json(serde_json::to_value(v).map_err(|e| ApiError::from(anyhow::Error::from(e)))?)
            .into_response(),
    )
}

/// The aging of what customers owe, per customer, reseller and in total (`cspguard receivables --json`).
#[utoipa::path(get, path = "/api/v1/receivables", params(AsOfQuery),
    responses((status = 200, description = "{as_of, totals, by_customer, by_reseller, open_invoices, unapplied}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn receivables(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<AsOfQuery>,
) -> Res {
    need(&p, Permission::Billing)?;
    let day = as_of(&q)?;
    let r = crate::credit::receivables_for(&s.store, &s.settings, day, |t| p.sees(t)).await?;
    to_json(&r)
}

/// Each customer's exposure against its credit limit, alerts and breaches (`cspguard credit --json`).
#[utoipa::path(get, path = "/api/v1/credit", params(AsOfQuery),
    responses((status = 200, description = "{as_of, customers, alerts, breaches}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn credit(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<AsOfQuery>,
) -> Res {
    need(&p, Permission::Billing)?;
    let day = as_of(&q)?;
    let r = crate::credit::credit_for(&s.store, &s.settings, day, |t| p.sees(t)).await?;
    to_json(&r)
}

/// Microsoft fraud-credit exception requests (`cspguard exception list --json`).
#[utoipa::path(get, path = "/api/v1/exceptions", responses((status = 200, description = "{\"requests\": [...]}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn exceptions(State(s): State<Arc<AppState>>, Extension(p): Extension<Principal>) -> Res {
    need(&p, Permission::Billing)?;
    let reqs: Vec<_> = crate::exception::requests(&s.store)
        .await?
        .into_iter()
        .filter(|r| p.sees(&r.customer_tenant_id))
        .collect();
    Ok(Json(json!({ "requests": reqs })).into_response())
}

/// Whether a case's claim qualifies: each eligibility rule pass/fail with its reason, the filing deadline and days
/// left, the claim's lines and totals (`cspguard exception check CASE --json`). `case` is a case ID or a customer
/// tenant ID.
#[utoipa::path(get, path = "/api/v1/exceptions/check/{case}", params(("case" = String, Path, description = "case ID or customer tenant ID"), AsOfQuery),
    responses((status = 200, description = "the assessment"), (status = 404, description = "no such case (or not yours)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn check(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(case): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> Res {
    need(&p, Permission::Billing)?;
    let day = as_of(&q)?;
    // A tenant outside the scope, or its case, is answered like a missing one.
    let c = crate::exception::target_case(&s.store, &case)
        .await
        .map_err(|_| not_visible(&format!("case {case:?}")))?;
    if !p.sees(&c.customer_tenant_id) {
        return Err(not_visible(&format!("case {case:?}")));
    }
    let x = crate::exception::assess(&s.store, &c, day).await?;
    to_json(&x)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StatusBody {
    /// submitted, approved or denied
    pub status: String,
    /// Microsoft's ticket number (submitted).
    pub ticket: Option<String>,
    /// The amount Microsoft credited (approved), in the claim's currency.
    pub credited: Option<String>,
    pub note: Option<String>,
}

/// Records an exception request's status (`cspguard exception status`), audited as the signed-in user.
#[utoipa::path(post, path = "/api/v1/exceptions/{id}/status", params(("id" = String, Path, description = "request ID (EX-...) or customer tenant ID")),
    request_body = StatusBody,
    responses((status = 200, description = "{request, warning}"), (status = 404, description = "no such request (or not yours)"),
              (status = 409, description = "the request cannot go to that status")),
    security(("bearer" = []), ("session" = [])))]
pub async fn set_status(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Json(b): Json<StatusBody>,
) -> Res {
    need(&p, Permission::Billing)?;
    let (r, _) = crate::exception::find_request(&s.store, &id)
        .await
        .map_err(|_| not_visible(&format!("exception request {id:?}")))?;
    if !p.sees(&r.customer_tenant_id) {
        return Err(not_visible(&format!("exception request {id:?}")));
    }
    let args = crate::exception::StatusArgs {
        request: r.id.clone(),
        status: b.status,
        ticket: b.ticket.filter(|t| !t.trim().is_empty()),
        credited: b.credited.filter(|c| !c.trim().is_empty()),
        note: b.note.filter(|n| !n.trim().is_empty()),
    };
    let (r, warning) =
        crate::exception::set_status(&s.store, &args, &p.username, Utc::now()).await?;
    Ok(Json(json!({"request": r, "warning": warning})).into_response())
}

/// The liability report (`cspguard report liability --json`): exposure, money at risk, saved by early action,
/// credits claimed and received, by reseller, top customers and by month.
#[utoipa::path(get, path = "/api/v1/report/liability", params(AsOfQuery),
    responses((status = 200, description = "the liability report")),
    security(("bearer" = []), ("session" = [])))]
pub async fn liability(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<AsOfQuery>,
) -> Res {
    need(&p, Permission::Billing)?;
    let day = as_of(&q)?;
    let r =
        crate::report::liability_for(&s.store, &s.settings, day, REPORT_TOP, |t| p.sees(t)).await?;
    to_json(&r)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct OpenBody {
    /// The case ID (CS-...).
    pub case: String,
}

/// Opens the draft exception request for a case (`cspguard exception open`), audited as `exception.opened` by the
/// signed-in user: 201 with the new draft, 200 with the case's existing draft, 409 when the customer tenant already
/// used its one request (for another case, or this case's request is past draft).
#[utoipa::path(post, path = "/api/v1/exceptions", request_body = OpenBody,
    responses((status = 201, description = "{request}: the new draft"), (status = 200, description = "{request}: the case's draft already open"),
              (status = 404, description = "no such case (or not yours)"), (status = 409, description = "the tenant used its one request")),
    security(("bearer" = []), ("session" = [])))]
pub async fn open_exception(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Json(b): Json<OpenBody>,
) -> Res {
    need(&p, Permission::Billing)?;
    let id = b.case.trim();
    let c = match s.store.case(id).await? {
        Some(r) if p.sees(&r.customer_tenant_id) => crate::cases::parse_case(&r)?,
        _ => return Err(not_visible(&format!("case {id:?}"))),
    };
    let before = s
        .store
        .exception_request_for_tenant(&c.customer_tenant_id)
        .await?
        .is_some();
    let r = crate::exception::open_request(&s.store, &c, &p.username, Utc::now()).await?;
    let status = if before {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(json!({ "request": r }))).into_response())
}

/// A request by ID or tenant, if the user sees its customer (else the same 404 as a missing one).
async fn visible_request(
    s: &AppState,
    p: &Principal,
    id: &str,
) -> Result<cspguard_exception::ExceptionRequest, ApiError> {
    match crate::exception::find_request(&s.store, id).await {
        Ok((r, _)) if p.sees(&r.customer_tenant_id) => Ok(r),
        _ => Err(not_visible(&format!("exception request {id:?}"))),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LineBody {
    /// false takes the line out of the claim, true puts it in.
    pub included: bool,
    /// Why: goes into the claim and the audit log.
    pub reason: String,
}

/// Excludes a line from a draft request's claim, or includes it (`cspguard exception exclude|include`), with the
/// reason, audited as `exception.line_excluded|line_included` by the signed-in user. `line` is the line's ID (as
/// `GET /api/v1/exceptions/check/{case}` lists them) or a unique prefix of 6 or more characters.
#[utoipa::path(post, path = "/api/v1/exceptions/{id}/lines/{line}",
    params(("id" = String, Path, description = "request ID (EX-...) or customer tenant ID"), ("line" = String, Path, description = "line ID")),
    request_body = LineBody,
    responses((status = 200, description = "{request, line}"), (status = 404, description = "no such request (or not yours), or no such line in the claim window"),
              (status = 409, description = "the request is no longer a draft, or no reason was given")),
    security(("bearer" = []), ("session" = [])))]
pub async fn set_line(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path((id, line)): Path<(String, String)>,
    Json(b): Json<LineBody>,
) -> Res {
    need(&p, Permission::Billing)?;
    let r = visible_request(&s, &p, &id).await?;
    let (r, l) = crate::exception::set_line_decision(
        &s.store,
        &r.id,
        &line,
        b.included,
        &b.reason,
        &p.username,
        Utc::now(),
    )
    .await
    .map_err(
        |e| match e.downcast_ref::<cspguard_exception::ClaimError>() {
            Some(cspguard_exception::ClaimError::UnknownLine(_)) => {
                ApiError(StatusCode::NOT_FOUND, format!("{e:#}"))
            }
            _ => ApiError::from(e),
        },
    )?;
    Ok(Json(
        json!({"request": r, "line": {"id": l.line.id, "usage_date": l.line.usage_date,
        "cost": l.line.cost, "included": b.included}}),
    )
    .into_response())
}

/// One file of a request's package, as `cspguard exception package` writes it: `md` and `pdf` (the document for
/// Microsoft), `csv` (the claimed charges), `json` (the timeline and evidence). Sent as an attachment and audited
/// as `exception.packaged` by the signed-in user. The request must exist (`POST /api/v1/exceptions` opens it).
#[utoipa::path(get, path = "/api/v1/exceptions/{id}/package/{format}",
    params(("id" = String, Path, description = "request ID (EX-...) or customer tenant ID"), ("format" = String, Path, description = "md, pdf, csv or json"), AsOfQuery),
    responses((status = 200, description = "the file (Content-Disposition: attachment)"), (status = 400, description = "not a package format"),
              (status = 404, description = "no such request (or not yours)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn package(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path((id, format)): Path<(String, String)>,
    Query(q): Query<AsOfQuery>,
) -> Res {
    need(&p, Permission::Billing)?;
    let day = as_of(&q)?;
    let f = crate::exception::PackageFormat::parse(&format).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{format:?} is not a package format: md, pdf, csv or json"),
        )
    })?;
    let r = visible_request(&s, &p, &id).await?;
    let case = crate::cases::find_case(&s.store, &r.case_id).await?;
    let (_, body) = crate::exception::make_package(
        &s.store,
        &r,
        &case,
        day,
        &p.username,
        Utc::now(),
        json!({"format": f.as_str(), "via": "api"}),
        |_, files| Ok(files.get(f).to_vec()),
    )
    .await?;
    let disposition = format!("attachment; filename=\"{}\"", f.file_name(&r.id));
    Ok((
        [
            (header::CONTENT_TYPE, f.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
