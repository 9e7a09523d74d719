use cspguard_connectors::{Graph, GraphConfig, RetryPolicy, Secret};
use cspguard_standins::graph::REVOKE_ROUTE;
use cspguard_standins::{Fault, GraphStandIn};

use crate::common::*;

const CUSTOMER_A: &str = "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01";
const CUSTOMER_B: &str = "4a3b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c1d";

#[tokio::test]
async fn revoke_uses_a_token_of_the_customer_tenant() {
    let env = env().await;
    let graph_standin = GraphStandIn::start(&env.entra).await;
    let graph = Graph::new(GraphConfig {
        base_url: url(&graph_standin.url()),
        authority: url(&env.entra.url()),
        retry: RetryPolicy::fast_for_tests(),
        ..GraphConfig::new(CLIENT_ID, Secret::new(CLIENT_SECRET))
    })
    .expect("graph");
    graph_standin
        .harness()
        .fail_next(REVOKE_ROUTE, vec![Fault::Status503]);
    graph
        .revoke_sign_in_sessions(CUSTOMER_A, "admin@contoso.example")
        .await
        .expect("revoke a");
    graph
        .revoke_sign_in_sessions(CUSTOMER_A, "admin@contoso.example")
        .await
        .expect("again: idempotent");
    graph
        .revoke_sign_in_sessions(CUSTOMER_B, "user-id-7")
        .await
        .expect("revoke b");
    assert_eq!(
        graph_standin.revocations(),
        vec![
            (CUSTOMER_A.to_string(), "admin@contoso.example".to_string()),
            (CUSTOMER_A.to_string(), "admin@contoso.example".to_string()),
            (CUSTOMER_B.to_string(), "user-id-7".to_string()),
        ]
    );
    assert_eq!(env.entra.token_requests_for(CUSTOMER_A), 1);
    assert_eq!(env.entra.token_requests_for(CUSTOMER_B), 1);
    assert_eq!(
        env.entra.harness().requests()[0].form_field("scope"),
        Some("https://graph.microsoft.com/.default")
    );
    assert_eq!(
        graph_standin.harness().count(REVOKE_ROUTE),
        4,
        "one 503 retried"
    );
    assert!(!format!("{graph:?}").contains("S3cret"));
}
