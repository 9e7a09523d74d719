//! The administration routes: the detection rules in force, checking a proposed `cspguard.toml`, backtesting the
//! rules (`cspguard rules check|backtest`), and user management (`cspguard users list|add|disable|enable|token`).
//!
//! The rules editor never writes the settings file: `POST /api/v1/rules/check` only says whether a proposed text is
//! valid. Applying it is the operator's who owns the file (edit `cspguard.toml`, `cspguard rules check`, restart
//! `cspguard serve`), so a browser session can never change what the detectors do.

use super::api::{need, not_visible};
use super::auth::{Permission, Principal, Role};
use super::{ApiError, AppState};
use axum::extract::{Path, State};
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

/// The users (a reseller-scoped manager sees its reseller's only), each with its API tokens' IDs and names. Never a
/// password hash or a token.
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, description = "{\"users\": [{username, role, reseller_mpn_id, disabled, created_at, tokens: [{id, name, created_at}]}]}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_users(State(s): State<Arc<AppState>>, Extension(p): Extension<Principal>) -> Res {
    need(&p, Permission::ManageUsers)?;
    let tokens = s.store.api_tokens(None).await?;
    let users: Vec<_> = s
        .store
        .users()
        .await?
        .into_iter()
        .filter(|u| manages(&p, u.reseller_mpn_id.as_deref()))
        .map(|u| {
            let own: Vec<_> = tokens
                .iter()
                .filter(|t| t.username == u.username)
                .map(crate::users::token_json)
                .collect();
            json!({"username": u.username, "role": u.role, "reseller_mpn_id": u.reseller_mpn_id,
                   "disabled": u.disabled, "created_at": u.created_at, "tokens": own})
        })
        .collect();
    Ok(Json(json!({ "users": users })).into_response())
}

/// The user `name` if `p` may manage it: another reseller's user (or a partner-wide one, for a reseller-scoped
/// manager) is a 404 like a missing one, since the list does not show it; a global admin is a 403 to anyone but a
/// global admin.
async fn managed_user(
    s: &AppState,
    p: &Principal,
    name: &str,
) -> Result<cspguard_store::UserRow, ApiError> {
    let u = match s.store.user(name).await? {
        Some(u) if manages(p, u.reseller_mpn_id.as_deref()) => u,
        _ => return Err(not_visible(&format!("user {name:?}"))),
    };
    if Role::parse(&u.role) == Some(Role::GlobalAdmin) && p.role != Role::GlobalAdmin {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "only a global admin may change a global admin".into(),
        ));
    }
    Ok(u)
}

/// A refusal of `crate::users` as the API answers it: 409 for what the caller can fix, else as any error.
fn user_error(e: anyhow::Error) -> ApiError {
    if e.downcast_ref::<crate::users::UserError>().is_some() {
        ApiError(StatusCode::CONFLICT, format!("{e:#}"))
    } else {
        ApiError::from(e)
    }
}

async fn set_disabled(s: &AppState, p: &Principal, name: &str, disabled: bool) -> Res {
    need(p, Permission::ManageUsers)?;
    managed_user(s, p, name).await?;
    let changed = crate::users::set_disabled(&s.store, name, disabled, &p.username, Utc::now())
        .await
        .map_err(user_error)?;
    Ok(Json(json!({"username": name, "disabled": disabled, "changed": changed})).into_response())
}

/// Disables a user (`cspguard users disable`): it can no longer sign in, its console sessions end at once and its
/// API tokens are refused. Audited as `user.disabled` by the signed-in user. Nobody disables themself (409).
#[utoipa::path(post, path = "/api/v1/users/{name}/disable", params(("name" = String, Path, description = "username")),
    responses((status = 200, description = "{username, disabled, changed}"), (status = 403, description = "a global admin, and you are not one"),
              (status = 404, description = "no such user (or not yours to manage)"), (status = 409, description = "that is you")),
    security(("bearer" = []), ("session" = [])))]
pub async fn disable_user(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Res {
    set_disabled(&s, &p, &name, true).await
}

/// Enables a disabled user again (`cspguard users enable`): it may sign in, and its API tokens work again. Audited
/// as `user.enabled` by the signed-in user.
#[utoipa::path(post, path = "/api/v1/users/{name}/enable", params(("name" = String, Path, description = "username")),
    responses((status = 200, description = "{username, disabled, changed}"), (status = 403, description = "a global admin, and you are not one"),
              (status = 404, description = "no such user (or not yours to manage)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn enable_user(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Res {
    set_disabled(&s, &p, &name, false).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// Which machine or job uses it [default: api].
    pub name: Option<String>,
}

/// Creates an API token for a user (`cspguard users token`): the answer holds the token, shown this once (only its
/// hash is kept). Audited as `user.token_created` by the signed-in user. A disabled user gets none (409).
#[utoipa::path(post, path = "/api/v1/users/{name}/tokens", params(("name" = String, Path, description = "username")), request_body = NewToken,
    responses((status = 201, description = "{username, id, name, token}"), (status = 403, description = "a global admin, and you are not one"),
              (status = 404, description = "no such user (or not yours to manage)"), (status = 409, description = "the user is disabled, or a bad name")),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_token(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Json(b): Json<NewToken>,
) -> Res {
    need(&p, Permission::ManageUsers)?;
    managed_user(&s, &p, &name).await?;
    let label = b.name.unwrap_or_else(|| "api".into());
    let (token, id) = crate::users::create_token(&s.store, &name, &label, &p.username, Utc::now())
        .await
        .map_err(user_error)?;
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(json!({"username": name, "id": id, "name": label.trim(), "token": token})),
    )
        .into_response())
}

/// Revokes a user's API token by its ID (`cspguard users token revoke`): requests with it are refused from then on.
/// Audited as `user.token_revoked` by the signed-in user.
#[utoipa::path(delete, path = "/api/v1/users/{name}/tokens/{id}",
    params(("name" = String, Path, description = "username"), ("id" = String, Path, description = "the token's ID (GET /api/v1/users lists them)")),
    responses((status = 200, description = "{username, id, name, revoked: true}"), (status = 403, description = "a global admin, and you are not one"),
              (status = 404, description = "no such user or token (or not yours to manage)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn revoke_token(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path((name, id)): Path<(String, String)>,
) -> Res {
    need(&p, Permission::ManageUsers)?;
    managed_user(&s, &p, &name).await?;
    let t = crate::users::revoke_token(&s.store, &name, &id, &p.username, Utc::now())
        .await
        .map_err(user_error)?;
    Ok(
        Json(json!({"username": t.username, "id": t.id, "name": t.name, "revoked": true}))
            .into_response(),
    )
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
