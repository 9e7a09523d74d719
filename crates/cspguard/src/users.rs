//! `cspguard users …`, `cspguard audit verify` and `cspguard serve`: access to the server, and the audit log's proof.

use crate::cli::{AuditCommand, GlobalArgs, UsersCommand};
use crate::server::auth::{hash_password, new_secret, Role};
use anyhow::Context;
use chrono::Utc;
use cspguard_domain::Instant;
use cspguard_store::{AuditEntry, Store, UserRow};

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
                        "{:<24} {:<22} {}",
                        u.username,
                        u.role,
                        u.reseller_mpn_id.as_deref().unwrap_or("partner-wide")
                    );
                }
            }
        }
        UsersCommand::Token { username, name } => {
            if store.user(&username).await?.is_none() {
                anyhow::bail!("there is no user {username:?}: add it with `cspguard users add`");
            }
            let token = new_secret("cspg");
            store.add_api_token(&username, &name, &token, now).await?;
            store
                .append_audit(&[AuditEntry::new(
                    now,
                    &actor,
                    "user.token_created",
                    serde_json::json!({"username": username, "name": name}),
                )])
                .await?;
            eprintln!("API token for {username} (shown once; send it as `Authorization: Bearer <token>`):");
            outln!("{token}");
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
