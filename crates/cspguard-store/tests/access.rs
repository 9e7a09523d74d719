//! Users, API tokens and sessions: a disabled user's sessions end and its tokens stop working, a revoked token is
//! gone, and each change is written with its audit entry, chained. SQLite always, PostgreSQL when configured.

use cspguard_store::{AuditEntry, Store, UserRow};

mod support;
use support::*;

fn user(name: &str) -> UserRow {
    UserRow {
        username: name.into(),
        password_hash: "$argon2id$not-checked-here".into(),
        role: "admin_agent".into(),
        reseller_mpn_id: None,
        created_at: now(),
        disabled: false,
    }
}

fn entry(verb: &str, who: &str) -> AuditEntry {
    AuditEntry::new(now(), "ada", verb, serde_json::json!({ "username": who }))
}

async fn disabling_ends_sessions_and_refuses_tokens_and_revoked_tokens_are_gone(store: Store) {
    store.add_user(&user("bob")).await.unwrap();
    store.add_user(&user("eve")).await.unwrap();
    store
        .add_api_token("bob", "ci", "cspg_bob_1", now(), &[])
        .await
        .unwrap();
    let laptop_id = store
        .add_api_token("bob", "laptop", "cspg_bob_2", now(), &[])
        .await
        .unwrap();
    store
        .add_api_token("eve", "ci", "cspg_eve_1", now(), &[])
        .await
        .unwrap();
    let later = now() + chrono::Duration::hours(1);
    store.add_session("s_bob", "bob", later).await.unwrap();
    assert!(store
        .user_by_session("s_bob", now())
        .await
        .unwrap()
        .is_some());

    // Listing shows public IDs only: never the token, and not the whole stored hash either.
    let bobs = store.api_tokens(Some("bob")).await.unwrap();
    assert!(bobs.iter().any(|t| t.id == laptop_id));
    assert_eq!(bobs.len(), 2);
    assert_eq!(store.api_tokens(None).await.unwrap().len(), 3);
    for t in &bobs {
        assert_eq!(t.id.len(), 16);
        assert!(!t.id.contains("cspg"));
    }

    // Disabled: the session ends for good, the tokens are refused.
    assert!(store
        .set_user_disabled("bob", true, &[entry("user.disabled", "bob")])
        .await
        .unwrap());
    assert!(store.user("bob").await.unwrap().unwrap().disabled);
    assert!(store
        .user_by_session("s_bob", now())
        .await
        .unwrap()
        .is_none());
    assert!(store.user_by_token("cspg_bob_1").await.unwrap().is_none());
    assert!(store.user_by_token("cspg_eve_1").await.unwrap().is_some());
    assert!(!store
        .set_user_disabled("nobody", true, &[entry("user.disabled", "nobody")])
        .await
        .unwrap());

    // Enabled again: tokens work again; the ended session does not come back.
    assert!(store
        .set_user_disabled("bob", false, &[entry("user.enabled", "bob")])
        .await
        .unwrap());
    assert!(store.user_by_token("cspg_bob_1").await.unwrap().is_some());
    assert!(store
        .user_by_session("s_bob", now())
        .await
        .unwrap()
        .is_none());

    // Revoking: only the named token of that user; a wrong user or ID revokes nothing.
    let laptop = bobs.iter().find(|t| t.name == "laptop").unwrap();
    assert!(store
        .revoke_api_token("eve", &laptop.id, &[entry("user.token_revoked", "eve")])
        .await
        .unwrap()
        .is_none());
    assert!(store
        .revoke_api_token("bob", "0123", &[entry("user.token_revoked", "bob")])
        .await
        .unwrap()
        .is_none());
    let gone = store
        .revoke_api_token(
            "bob",
            &laptop.id.to_ascii_uppercase(),
            &[entry("user.token_revoked", "bob")],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.name, "laptop");
    assert!(store.user_by_token("cspg_bob_2").await.unwrap().is_none());
    assert!(store.user_by_token("cspg_bob_1").await.unwrap().is_some());
    assert!(store
        .revoke_api_token("bob", &laptop.id, &[entry("user.token_revoked", "bob")])
        .await
        .unwrap()
        .is_none());

    // Exactly the changes that happened were audited, and the chain holds.
    let verbs: Vec<String> = store
        .audit(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.verb)
        .collect();
    let mut sorted = verbs.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["user.disabled", "user.enabled", "user.token_revoked"],
        "{verbs:?}"
    );
    let v = store.verify_audit().await.unwrap();
    assert!(v.broken.is_none(), "{v:?}");
    assert_eq!(v.checked, 3);
}

#[tokio::test]
async fn sqlite_disabling_ends_sessions_and_refuses_tokens_and_revoked_tokens_are_gone() {
    let (_dir, store) = sqlite().await;
    disabling_ends_sessions_and_refuses_tokens_and_revoked_tokens_are_gone(store).await;
}

#[tokio::test]
async fn postgres_disabling_ends_sessions_and_refuses_tokens_and_revoked_tokens_are_gone() {
    if let Some(store) = postgres().await {
        disabling_ends_sessions_and_refuses_tokens_and_revoked_tokens_are_gone(store).await;
    }
}
