use std::time::{Duration, Instant};

use cspguard_connectors::{
    BreakerState, ConnectorError, PartnerCenter, PartnerCenterConfig, RetryPolicy,
};
use cspguard_standins::partner_center::routes;
use cspguard_standins::Fault;

use crate::common::*;

const TENANT: &str = "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01";

#[tokio::test]
async fn throttled_429_waits_retry_after_seconds_then_succeeds() {
    let env = env().await;
    env.pc.set_budget(TENANT, Some(10.0));
    let pc = client(&env);
    pc.get_budget(TENANT).await.expect("warm the token");
    env.pc.harness().fail_next(
        routes::GET_BUDGET,
        vec![Fault::Status429 { retry_after_s: 1 }],
    );
    let started = Instant::now();
    assert!(pc.get_budget(TENANT).await.expect("after 429").is_some());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(env.pc.harness().count(routes::GET_BUDGET), 3);
}

#[tokio::test]
async fn throttled_429_with_an_http_date_is_honoured() {
    let env = env().await;
    let pc = client(&env);
    pc.get_budget(TENANT).await.expect("warm the token");
    env.pc.harness().fail_next(
        routes::GET_BUDGET,
        vec![Fault::Status429Date { retry_after_s: 2 }],
    );
    let started = Instant::now();
    pc.get_budget(TENANT).await.expect("after 429");
    // An HTTP-date has whole seconds: "2 s from now" is between 1 and 2 s away when the client reads it.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn throttled_beyond_the_attempts_is_a_throttled_error() {
    let env = env().await;
    let pc = client(&env);
    env.pc
        .harness()
        .fail_always_with(routes::GET_BUDGET, Fault::Status429 { retry_after_s: 0 });
    let err = pc.get_budget(TENANT).await.expect_err("throttled");
    assert!(
        matches!(err, ConnectorError::Throttled { retry_after: Some(d) } if d.is_zero()),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_500_then_success() {
    let env = env().await;
    let pc = client(&env);
    env.pc
        .harness()
        .fail_next(routes::GET_BUDGET, vec![Fault::Status500, Fault::Status503]);
    assert_eq!(pc.get_budget(TENANT).await.expect("third attempt"), None);
    assert_eq!(env.pc.harness().count(routes::GET_BUDGET), 3);
}

#[tokio::test]
async fn persistent_500_gives_server_error_then_the_circuit_opens_then_closes_after_cooldown() {
    let env = env().await;
    let pc = PartnerCenter::new(PartnerCenterConfig {
        breaker_failures: 2,
        breaker_cooldown: Duration::from_millis(600),
        ..pc_config(&env)
    })
    .expect("client");
    let h = env.pc.harness();
    h.fail_always(routes::GET_BUDGET);
    for call in 1..=2 {
        let err = pc.get_budget(TENANT).await.expect_err("500 forever");
        match &err {
            ConnectorError::Server { status: 500, body } => {
                assert!(body.contains("internal error"), "{body}")
            }
            other => panic!("call {call}: {other:?}"),
        }
        assert_eq!(
            h.count(routes::GET_BUDGET),
            3 * call,
            "max_attempts = 3 per call"
        );
    }
    assert_eq!(pc.breaker().state(), BreakerState::Open);
    let err = pc.get_budget(TENANT).await.expect_err("open");
    assert!(
        matches!(&err, ConnectorError::CircuitOpen { service, until_secs: 1 } if service == "partner-center"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(h.count(routes::GET_BUDGET), 6, "no request while open");

    h.clear_faults();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(pc.breaker().state(), BreakerState::HalfOpen);
    pc.get_budget(TENANT).await.expect("the probe succeeds");
    assert_eq!(pc.breaker().state(), BreakerState::Closed);
    assert_eq!(h.count(routes::GET_BUDGET), 7);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_do_not_open_the_circuit() {
    let env = env().await;
    let pc = PartnerCenter::new(PartnerCenterConfig {
        breaker_failures: 1,
        ..pc_config(&env)
    })
    .expect("client");
    for _ in 0..3 {
        let err = pc
            .get_subscription(TENANT, "no-such-subscription")
            .await
            .expect_err("404");
        assert!(
            matches!(&err, ConnectorError::Client { status: 404, .. }),
            "{err:?}"
        );
        assert!(!err.is_retryable());
    }
    assert_eq!(
        env.pc.harness().count(routes::GET_SUBSCRIPTION),
        3,
        "one request per call"
    );
    assert_eq!(pc.breaker().state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_401_that_persists_is_an_auth_error_after_one_fresh_token() {
    let env = env().await;
    let pc = client(&env);
    env.pc
        .harness()
        .fail_always_with(routes::GET_BUDGET, Fault::Status401);
    let err = pc.get_budget(TENANT).await.expect_err("401");
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    assert_eq!(env.pc.harness().count(routes::GET_BUDGET), 2);
    assert_eq!(env.entra.token_requests(), 2);
}

#[tokio::test]
async fn nothing_listening_is_a_retryable_transport_error() {
    let env = env().await;
    let pc = PartnerCenter::new(PartnerCenterConfig {
        base_url: url(&format!("http://127.0.0.1:{}", closed_port())),
        retry: RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::fast_for_tests()
        },
        ..pc_config(&env)
    })
    .expect("client");
    let err = pc.get_budget(TENANT).await.expect_err("refused");
    assert!(matches!(err, ConnectorError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}
