//! `cspguard users …`, `cspguard audit verify` and `cspguard serve`: access to the server, and the audit log's proof.

use crate::cli::{AuditCommand, GlobalArgs, TokenCommand, UsersCommand};
use crate::server::auth::{hash_password, new_secret, Role};
use anyhow::Context;
use chrono::Utc;
use cspguard_domain::Instant;
use cspguard_store::{AuditEntry, Store, TokenRow, UserRow};

/// Passwords shorter than this are refused.
const MIN_PASSWORD: usize = 10;

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("CSPGUARD_PASSWORD") {
        return Ok(p);
    }
    eprintln!("password (then Enter):");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::parse(role).with_context(|| {
        format!("{role:?} is not a role: use global-admin, user-management-admin, admin-agent or billing-admin")
    })
}

/// Adds a user (`users add`, `POST /api/v1/users`) and audits it as `actor`: the role must exist, the name be new
/// and the password long enough.
pub async fn add_user(
    store: &Store,
    username: &str,
    role: &str,
    reseller: Option<&str>,
    password: &str,
    actor: &str,
    now: Instant,
) -> anyhow::Result<Role> {
    let r = parse_role(role)?;
    if username.is_empty()
        || username.len() > 64
        || username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        anyhow::bail!("{username:?} is not a username: 1 to 64 characters, no spaces");
    }
    if store.user(username).await?.is_some() {
        anyhow::bail!("user {username:?} exists already");
    }
    if password.chars().count() < MIN_PASSWORD {
        anyhow::bail!("the password is too short: use at least {MIN_PASSWORD} characters");
    }
    store
        .add_user(&UserRow {
            username: username.to_string(),
            password_hash: hash_password(password)?,
            role: r.as_str().to_string(),
            reseller_mpn_id: reseller.map(str::to_string),
            created_at: now,
            disabled: false,
        })
        .await?;
    store
        .append_audit(&[AuditEntry::new(
            now,
            actor,
            "user.added",
            serde_json::json!({"username": username, "role": r.as_str(), "reseller_mpn_id": reseller}),
        )])
        .await?;
    Ok(r)
}

/// The user named `username`, or the error the API answers 404 for.
async fn existing(store: &Store, username: &str) -> anyhow::Result<UserRow> {
    store.user(username).await?.with_context(|| {
        format!("there is no user {username:?} (`cspguard users list` shows them)")
    })
}

/// An API token as `users token list --json` and `GET /api/v1/users` show it: never the token itself.
pub fn token_json(t: &TokenRow) -> serde_json::Value {
    serde_json::json!({"id": t.id, "username": t.username, "name": t.name, "created_at": t.created_at})
}

/// Disables or enables a user (`users disable|enable`, `POST /api/v1/users/{name}/disable|enable`), audited as
/// `user.disabled` or `user.enabled` by `actor`. Disabling ends the user's console sessions; its API tokens are
/// refused while it is disabled. Nobody disables themself (that locks the last admin out). Returns whether anything
/// changed (a user already in that state is left alone and nothing is audited).
pub async fn set_disabled(
    store: &Store,
    username: &str,
    disabled: bool,
    actor: &str,
    now: Instant,
) -> anyhow::Result<bool> {
    let u = existing(store, username).await?;
    if disabled && username == actor {
        return Err(UserError::SelfDisable.into());
    }
    if u.disabled == disabled {
        return Ok(false);
    }
    let verb = if disabled {
        "user.disabled"
    } else {
        "user.enabled"
    };
    let entry = AuditEntry::new(
        now,
        actor,
        verb,
        serde_json::json!({"username": username, "role": u.role, "reseller_mpn_id": u.reseller_mpn_id}),
    );
    if !store
        .set_user_disabled(username, disabled, &[entry])
        .await?
    {
        anyhow::bail!("there is no user {username:?}");
    }
    Ok(true)
}

/// Creates an API token for `username` (`users token NAME`, `POST /api/v1/users/{name}/tokens`) and audits it as
/// `user.token_created` by `actor`, in one transaction. Returns the token (to show once) and its public ID.
pub async fn create_token(
    store: &Store,
    username: &str,
    name: &str,
    actor: &str,
    now: Instant,
) -> anyhow::Result<(String, String)> {
    let u = existing(store, username).await?;
    if u.disabled {
        return Err(UserError::Disabled(username.to_string()).into());
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(UserError::BadTokenName.into());
    }
    let token = new_secret("cspg");
    let id_of = cspguard_store::secret_hash(&token);
    let entry = AuditEntry::new(
        now,
        actor,
        "user.token_created",
        serde_json::json!({"username": username, "name": name, "id": &id_of[..16]}),
    );
    let id = store
        .add_api_token(username, name, &token, now, &[entry])
        .await?;
    Ok((token, id))
}

/// Revokes `username`'s API token `id` (`users token revoke`, `DELETE /api/v1/users/{name}/tokens/{id}`), audited
/// as `user.token_revoked` by `actor` in the same transaction. Requests with it are refused from then on.
pub async fn revoke_token(
    store: &Store,
    username: &str,
    id: &str,
    actor: &str,
    now: Instant,
) -> anyhow::Result<TokenRow> {
    existing(store, username).await?;
    let entry = AuditEntry::new(
        now,
        actor,
        "user.token_revoked",
        serde_json::json!({"username": username, "id": id.to_ascii_lowercase()}),
    );
    store
        .revoke_api_token(username, id, &[entry])
        .await?
        .with_context(|| {
            format!("there is no API token {id:?} of user {username:?} (`cspguard users token list {username}`)")
        })
}

/// Refusals of user management that are the caller's to fix (the API answers 409).
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("you cannot disable yourself: another user manager must do it")]
    SelfDisable,
    #[error("user {0:?} is disabled: enable it before giving it an API token")]
    Disabled(String),
    #[error("a token name is 1 to 64 characters")]
    BadTokenName,
}

pub async fn users(g: &GlobalArgs, command: UsersCommand) -> anyhow::Result<i32> {
    let store = crate::open_store(g).await?;
    let now = Utc::now();
    let actor = g.actor();
    match command {
        UsersCommand::Add {
            username,
            role,
            reseller,
        } => {
            parse_role(&role)?;
            let password = read_password()?;
            let r = add_user(
                &store,
                &username,
                &role,
                reseller.as_deref(),
                &password,
                &actor,
                now,
            )
            .await?;
            outln!(
                "user {username} added ({r}{})",
                reseller
                    .map(|m| format!(", reseller {m}"))
                    .unwrap_or_default()
            );
        }
        UsersCommand::List { json } => {
            let users = store.users().await?;
            if json {
                let v: Vec<_> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({"username": u.username, "role": u.role,
                        "reseller_mpn_id": u.reseller_mpn_id, "disabled": u.disabled})
                    })
                    .collect();
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"users": v}))?
                );
            } else {
                for u in users {
                    outln!(
                        "{:<24} {:<22} {}{}",
                        u.username,
                        u.role,
                        u.reseller_mpn_id.as_deref().unwrap_or("partner-wide"),
                        if u.disabled { "  (disabled)" } else { "" }
                    );
                }
            }
        }
        UsersCommand::Token(t) => match t.command {
            None => {
                let username = t.username.unwrap_or_default();
                let (token, id) = create_token(&store, &username, &t.name, &actor, now).await?;
                eprintln!(
                    "API token {id} ({}) for {username} (shown once; send it as `Authorization: Bearer <token>`):",
                    t.name
                );
                outln!("{token}");
            }
            Some(TokenCommand::List { username, json }) => {
                if let Some(u) = &username {
                    existing(&store, u).await?;
                }
                let tokens = store.api_tokens(username.as_deref()).await?;
                if json {
                    let v: Vec<_> = tokens.iter().map(token_json).collect();
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({"tokens": v}))?
                    );
                } else {
                    if tokens.is_empty() {
                        outln!("no API tokens (`cspguard users token NAME` creates one)");
                    }
                    for t in tokens {
                        outln!(
                            "{}  {:<24} {:<16} {}",
                            t.id,
                            t.username,
                            t.name,
                            t.created_at.format("%Y-%m-%d %H:%M UTC")
                        );
                    }
                }
            }
            Some(TokenCommand::Revoke { username, id }) => {
                let t = revoke_token(&store, &username, &id, &actor, now).await?;
                outln!("API token {} ({}) of {} revoked", t.id, t.name, t.username);
            }
        },
        UsersCommand::Disable { username } => {
            let changed = set_disabled(&store, &username, true, &actor, now).await?;
            outln!(
                "user {username} {}",
                if changed {
                    "disabled: it cannot sign in, its sessions ended and its API tokens are refused"
                } else {
                    "was disabled already"
                }
            );
        }
        UsersCommand::Enable { username } => {
            let changed = set_disabled(&store, &username, false, &actor, now).await?;
            outln!(
                "user {username} {}",
                if changed {
                    "enabled"
                } else {
                    "was enabled already"
                }
            );
        }
    }
    store.close().await;
    Ok(crate::exit::OK)
}

pub async fn audit(g: &GlobalArgs, command: AuditCommand) -> anyhow::Result<i32> {
    let AuditCommand::Verify { json } = command;
    let store = crate::open_store(g).await?;
    let v = store.verify_audit().await?;
    store.close().await;
    if json {
        outln!(
            "{}",
            serde_json::json!({"ok": v.broken.is_none(), "checked": v.checked, "unchained": v.unchained,
                "head": v.head, "broken": v.broken.as_ref().map(|(s, r)| serde_json::json!({"seq": s, "reason": r}))})
        );
    } else {
        match &v.broken {
            None => outln!(
                "audit log intact: {} entries chained{}; head {}",
                v.checked,
                if v.unchained > 0 {
                    format!(", {} from before the chain", v.unchained)
                } else {
                    String::new()
                },
                v.head
            ),
            Some((seq, why)) => outln!("audit log TAMPERED at entry {seq}: {why}"),
        }
    }
    Ok(if v.broken.is_none() {
        crate::exit::OK
    } else {
        crate::exit::FAILURE
    })
}

pub async fn serve(g: &GlobalArgs, listen: &str) -> anyhow::Result<i32> {
    let settings = crate::settings::load(g)?;
    let store = crate::open_store(g).await?;
    crate::server::serve(store, settings, listen).await?;
    Ok(crate::exit::OK)
}
