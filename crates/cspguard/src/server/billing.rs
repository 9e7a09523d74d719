//! The billing routes (Billing permission): receivables, credit exposure, Microsoft fraud-credit exception requests
//! and the liability report. Each answers the same JSON as the CLI's `--json` (`cspguard receivables`, `credit`,
//! `exception list|check`, `report liability`), computed by the same functions, limited to the customers the user
//! sees: a reseller-scoped user gets only its customers' rows, and another reseller's request or case is a 404.

use super::api::{need, not_visible};
use super::auth::{Permission, Principal};
use super::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
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
