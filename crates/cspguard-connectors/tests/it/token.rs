use cspguard_connectors::{ConnectorError, PartnerCenter};
use cspguard_standins::partner_center::routes;
use rust_decimal::Decimal;

use crate::common::*;

const TENANT: &str = "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01";

#[tokio::test]
async fn one_token_for_five_calls() {
    let env = env().await;
    env.pc.set_budget(TENANT, Some(1000.0));
    let pc = client(&env);
    for _ in 0..5 {
        assert_eq!(
            pc.get_budget(TENANT).await.expect("budget"),
            Some(Decimal::new(1000, 0))
        );
    }
    assert_eq!(env.entra.token_requests(), 1);
    assert_eq!(pc.token_provider().requests_made(), 1);
    let form = &env.entra.harness().requests()[0];
    assert_eq!(form.path, format!("/{PARTNER_TENANT}/oauth2/v2.0/token"));
    assert_eq!(form.form_field("grant_type"), Some("client_credentials"));
    assert_eq!(form.form_field("client_id"), Some(CLIENT_ID));
    assert_eq!(form.form_field("scope"), Some(PC_SCOPE));
    for r in env.pc.harness().requests() {
        assert!(r
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer tok-")));
    }
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let env = env().await;
    let pc = std::sync::Arc::new(client(&env));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let pc = pc.clone();
        tasks.spawn(async move { pc.get_budget(TENANT).await });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.expect("task").expect("budget"), None);
    }
    assert_eq!(env.entra.token_requests(), 1);
}

#[tokio::test]
async fn expired_token_gets_401_then_a_new_token() {
    let env = env().await;
    let pc = client(&env);
    pc.get_budget(TENANT).await.expect("first");
    env.entra.expire_all();
    pc.get_budget(TENANT)
        .await
        .expect("after expiry: 401, new token, success");
    assert_eq!(env.entra.token_requests(), 2);
    assert_eq!(env.pc.harness().count(routes::GET_BUDGET), 3, "ok, 401, ok");
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_before_expiry() {
    let env = env().await;
    env.entra.set_expires_in(2);
    let pc = client(&env);
    pc.get_budget(TENANT).await.expect("first");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    pc.get_budget(TENANT).await.expect("second");
    assert_eq!(env.entra.token_requests(), 2);
    assert_eq!(
        env.pc.harness().count(routes::GET_BUDGET),
        2,
        "renewed before use: no 401"
    );
}

#[tokio::test]
async fn client_secret_never_in_debug_display_or_errors() {
    let env = env().await;
    let mut config = pc_config(&env);
    config.token = token_config(&env.entra, "Wr0ng~S3cret.Value-never-printed");
    let pc = PartnerCenter::new(config.clone()).expect("client");
    let err = pc.get_budget(TENANT).await.expect_err("wrong secret");
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let text = format!("{err} {err:?} {pc:?} {config:?} {:?}", pc_config(&env));
    assert!(!text.contains("S3cret"), "a secret leaked: {text}");
    assert!(
        err.to_string().contains("client secret"),
        "says what to check: {err}"
    );
    assert_eq!(env.pc.harness().requests().len(), 0, "no token, no call");
    // The secret did go where it belongs.
    assert_eq!(
        env.entra.harness().requests()[0].form_field("client_secret"),
        Some("Wr0ng~S3cret.Value-never-printed")
    );
}
