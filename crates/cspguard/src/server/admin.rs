//! The administration routes: the detection rules in force, checking a proposed `cspguard.toml`, backtesting the
//! rules (`cspguard rules check|backtest`), and user management (`cspguard users list|add`).
//!
//! The rules editor never writes the settings file: `POST /api/v1/rules/check` only says whether a proposed text is
//! valid. Applying it is the operator's who owns the file (edit `cspguard.toml`, `cspguard rules check`, restart
//! `cspguard serve`), so a browser session can never change what the detectors do.

use super::api::need;
use super::auth::{Permission, Principal, Role};
use super::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

type Res = Result<Response, ApiError>;

/// Largest proposed settings text `POST /api/v1/rules/check` reads.
pub const RULES_CHECK_MAX_BYTES: usize = 1 << 20;

/// The `[[rules]]` and `[[suppress]]` sections as TOML, for the editor to start from.
#[derive(Serialize)]
struct RulesToml {
    rules: Vec<cspguard_detect::rules::RuleSpec>,
    suppress: Vec<cspguard_detect::rules::Suppression>,
}

/// The rules in force: each `[[rules]]` entry, the `[[suppress]]` windows, the allow-lists, the number of
/// per-customer overrides, where they came from, and the rule sections as TOML (the editor's starting text; empty
/// when there are none).
#[utoipa::path(get, path = "/api/v1/rules",
    responses((status = 200, description = "{source, rules, suppressions, allow, overrides, toml}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn rules(State(s): State<Arc<AppState>>, Extension(p): Extension<Principal>) -> Res {
    need(&p, Permission::ReadCases)?;
    let r = &s.settings.rules;
    let specs = r.specs();
    let suppress: Vec<_> = r.suppressions.iter().cloned().collect();
    let text = if specs.is_empty() && suppress.is_empty() {
        String::new()
    } else {
        toml::to_string(&RulesToml {
            rules: specs.clone(),
            suppress: suppress.clone(),
        })
        .unwrap_or_default()
    };
    // Only the file's name: the server's directory layout is none of the browser's business.
    let source = s
        .settings
        .path
        .as_ref()
        .and_then(|p| p.file_name())
        .map_or("built-in defaults (no cspguard.toml)".to_string(), |n| {
            n.to_string_lossy().into_owned()
        });
    Ok(Json(json!({
        "source": source, "rules": specs, "suppressions": suppress, "allow": &*r.allow,
        "overrides": s.settings.overrides.len(), "toml": text,
    }))
    .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CheckBody {
    /// A whole proposed `cspguard.toml`.
    pub toml: String,
}

/// Validates a proposed `cspguard.toml` (as `cspguard rules check` does: thresholds, allow-lists, suppressions,
/// every rule's CEL condition, playbooks) and answers `{valid, errors, rules}`. Writes nothing.
#[utoipa::path(post, path = "/api/v1/rules/check", request_body = CheckBody,
    responses((status = 200, description = "{valid, errors: [..], rules: [names]}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn check_rules(Extension(p): Extension<Principal>, Json(b): Json<CheckBody>) -> Res {
    need(&p, Permission::WorkCases)?;
    let checked = crate::settings::parse(&b.toml).and_then(|s| s.playbooks().map(|_| s));
    Ok(Json(match checked {
        Ok(s) => json!({"valid": true, "errors": [], "rules": s.rules.names()}),
        Err(e) => json!({"valid": false, "errors": [format!("{e:#}")], "rules": []}),
    })
    .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BacktestBody {
    /// Start of the window (RFC 3339 instant or date).
    pub from: String,
    /// End of the window (RFC 3339 instant or date; a date means its end).
    pub to: String,
}

/// Replays the stored events with the settings in force and reports what each detector and rule would have fired
/// in the window (`cspguard rules backtest --json`). Writes nothing.
#[utoipa::path(post, path = "/api/v1/rules/backtest", request_body = BacktestBody,
    responses((status = 200, description = "{from, to, events, alerts, rows: [{name, signals, suppressed, alerts}]}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn backtest(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Json(b): Json<BacktestBody>,
) -> Res {
    need(&p, Permission::WorkCases)?;
    let (from, to) = crate::rules::parse_window(&b.from, &b.to)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("{e:#}")))?;
    if from > to {
        return Err(ApiError(StatusCode::BAD_REQUEST, "from is after to".into()));
    }
    let r = crate::rules::backtest(&s.store, &s.settings, from, to, None).await?;
    Ok(Json(json!(r)).into_response())
}

/// Whether `p` may see user `reseller`'s account: partner-wide managers see every user, a reseller-scoped one only
/// its reseller's.
fn manages(p: &Principal, reseller: Option<&str>) -> bool {
    match &p.reseller {
        None => true,
        Some(mine) => reseller.is_some_and(|r| r.eq_ignore_ascii_case(mine)),
    }
}

/// The users (a reseller-scoped manager sees its reseller's only). Never a password hash.
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, description = "{\"users\": [...]}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_users(State(s): State<Arc<AppState>>, Extension(p): Extension<Principal>) -> Res {
    need(&p, Permission::ManageUsers)?;
    let users: Vec<_> = s
        .store
        .users()
        .await?
        .into_iter()
        .filter(|u| manages(&p, u.reseller_mpn_id.as_deref()))
        .map(|u| {
            json!({"username": u.username, "role": u.role, "reseller_mpn_id": u.reseller_mpn_id,
                   "disabled": u.disabled, "created_at": u.created_at})
        })
        .collect();
    Ok(Json(json!({ "users": users })).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub username: String,
    /// global_admin, user_management_admin, admin_agent or billing_admin
    pub role: String,
    /// Limits the user to this indirect reseller's customers.
    pub reseller_mpn_id: Option<String>,
    /// At least 10 characters.
    pub password: String,
}

/// Adds a user, audited as the signed-in user. A reseller-scoped manager may only add users of its own reseller,
/// and only a global admin may add a global admin.
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUser,
    responses((status = 201, description = "{username, role, reseller_mpn_id}"), (status = 400, description = "bad role, name or password"),
              (status = 403, description = "not allowed to add this user"), (status = 409, description = "the user exists")),
    security(("bearer" = []), ("session" = [])))]
pub async fn add_user(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Json(b): Json<NewUser>,
) -> Res {
    need(&p, Permission::ManageUsers)?;
    let reseller = b
        .reseller_mpn_id
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if !manages(&p, reseller) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "a reseller-scoped user manager may only add users of its own reseller".into(),
        ));
    }
    let role = Role::parse(&b.role).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "{:?} is not a role: global_admin, user_management_admin, admin_agent or billing_admin",
                b.role
            ),
        )
    })?;
    if role == Role::GlobalAdmin && p.role != Role::GlobalAdmin {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "only a global admin may add a global admin".into(),
        ));
    }
    if s.store.user(&b.username).await?.is_some() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("user {:?} exists already", b.username),
        ));
    }
    let r = crate::users::add_user(
        &s.store,
        &b.username,
        role.as_str(),
        reseller,
        &b.password,
        &p.username,
        Utc::now(),
    )
    .await
    .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("{e:#}")))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"username": b.username, "role": r, "reseller_mpn_id": reseller})),
    )
        .into_response())
}
