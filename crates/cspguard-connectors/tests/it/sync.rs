use std::collections::BTreeMap;

use async_trait::async_trait;
use cspguard_connectors::sync::SinkError;
use cspguard_connectors::{
    ConnectorError, FraudEventQuery, PartnerCenterSync, SyncConfig, SyncCursor, SyncPhase, SyncSink,
};
use cspguard_standins::partner_center::routes;
use cspguard_standins::{fixtures, Harness};
use serde_json::Value;

use crate::common::*;

const AZURE_SUB: &str = "6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f";

/// Collects what the sync delivers; stores each checkpoint as JSON (as a database would). Optionally makes the
/// fraud-events route fail for good once the first fraud page has arrived.
#[derive(Default)]
struct MemSink {
    customers: Vec<Value>,
    subscriptions: BTreeMap<String, Vec<Value>>,
    fraud_events: Vec<Value>,
    checkpoints: Vec<String>,
    break_after_first_fraud_page: Option<Harness>,
}

#[async_trait]
impl SyncSink for MemSink {
    async fn customers(&mut self, page: &[Value]) -> Result<(), SinkError> {
        self.customers.extend_from_slice(page);
        Ok(())
    }
    async fn subscriptions(&mut self, tenant: &str, items: &[Value]) -> Result<(), SinkError> {
        self.subscriptions
            .entry(tenant.to_string())
            .or_default()
            .extend_from_slice(items);
        Ok(())
    }
    async fn fraud_events(&mut self, items: &[Value]) -> Result<(), SinkError> {
        self.fraud_events.extend_from_slice(items);
        if let Some(h) = self.break_after_first_fraud_page.take() {
            h.fail_always(routes::FRAUD_EVENTS);
        }
        Ok(())
    }
    async fn checkpoint(&mut self, cursor: &SyncCursor) -> Result<(), SinkError> {
        self.checkpoints.push(serde_json::to_string(cursor)?);
        Ok(())
    }
}

impl MemSink {
    fn last_checkpoint(&self) -> SyncCursor {
        serde_json::from_str(self.checkpoints.last().expect("a checkpoint")).expect("cursor JSON")
    }
}

/// 3 customers (2 pages of 2), 2 with subscriptions; 5 fraud events (3 pages of 2 in the new model).
fn fill(env: &Env) {
    let customers: Vec<Value> = (1..=3).map(fixtures::customer).collect();
    env.pc.set_customers(customers.clone());
    env.pc.set_customers_page_size(2);
    let tenant = |i: usize| customers[i]["id"].as_str().expect("id").to_string();
    env.pc.set_subscriptions(
        &tenant(0),
        vec![
            fixtures::subscription(1, "active"),
            fixtures::subscription(2, "active"),
        ],
    );
    env.pc
        .set_subscriptions(&tenant(2), vec![fixtures::subscription(3, "suspended")]);
    env.pc.set_fraud_events(
        (1..=5)
            .map(|n| fixtures::fraud_event(n, AZURE_SUB, "Active"))
            .collect(),
    );
}

fn config() -> SyncConfig {
    SyncConfig {
        customers: true,
        fraud_queries: vec![
            FraudEventQuery {
                page_size: 2,
                ..FraudEventQuery::default()
            },
            FraudEventQuery {
                status: Some("Active".into()),
                new_events_model: false,
                ..FraudEventQuery::default()
            },
        ],
        max_pages_per_query: 100,
    }
}

#[tokio::test]
async fn pulls_customers_subscriptions_and_fraud_events_in_both_models() {
    let env = env().await;
    fill(&env);
    let pc = client(&env);
    let mut cursor = SyncCursor::default();
    let mut sink = MemSink::default();
    let summary = PartnerCenterSync::new(config())
        .run(&pc, &mut cursor, &mut sink)
        .await
        .expect("sync");
    assert_eq!(
        (
            summary.customers,
            summary.subscriptions,
            summary.fraud_events
        ),
        (3, 3, 10)
    );
    // customers 2 pages + 3 tenants + new model 3 pages + old model 1 page
    assert_eq!(summary.pages, 9);
    assert!(summary.completed);
    assert_eq!(sink.customers.len(), 3);
    assert_eq!(
        sink.subscriptions
            .values()
            .map(Vec::len)
            .collect::<Vec<_>>()
            .iter()
            .sum::<usize>(),
        3
    );
    assert_eq!(
        sink.subscriptions.len(),
        3,
        "every customer's list delivered, empty ones too"
    );
    assert_eq!(sink.fraud_events.len(), 10, "5 per model");
    assert_eq!(
        sink.checkpoints.len(),
        10,
        "after every page, and at the end"
    );
    assert_eq!(cursor.phase, SyncPhase::Done);
    assert!(cursor.last_completed.is_some());
    assert_eq!(sink.last_checkpoint(), cursor);

    // The next run is a new round.
    let mut sink2 = MemSink::default();
    let again = PartnerCenterSync::new(config())
        .run(&pc, &mut cursor, &mut sink2)
        .await
        .expect("second round");
    assert_eq!(again.fraud_events, 10);
}

#[tokio::test]
async fn a_failure_on_page_2_stops_the_run_and_the_rerun_resumes_there() {
    let env = env().await;
    fill(&env);
    let pc = client(&env);
    let sync = PartnerCenterSync::new(config());
    let mut cursor = SyncCursor::default();
    let mut sink = MemSink {
        break_after_first_fraud_page: Some(env.pc.harness().clone()),
        ..MemSink::default()
    };

    let err = sync
        .run(&pc, &mut cursor, &mut sink)
        .await
        .expect_err("500 beyond the retries");
    assert!(
        matches!(err, ConnectorError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(cursor.phase, SyncPhase::FraudEvents { query: 0, page: 2 });
    let stored = sink.last_checkpoint();
    assert_eq!(
        stored, cursor,
        "the stored checkpoint points at the failed page"
    );
    assert_eq!(sink.fraud_events.len(), 2);
    let failed: Vec<_> = env.pc.harness().requests_to(routes::FRAUD_EVENTS);
    assert_eq!(
        failed
            .iter()
            .filter(|r| r.query_param("PageNumber") == Some("2"))
            .count(),
        3,
        "retried, then gave up"
    );

    // The service recovers; a new process resumes from the stored checkpoint.
    env.pc.harness().clear_faults();
    env.pc.harness().clear_requests();
    let mut resumed = stored;
    let summary = sync
        .run(&pc, &mut resumed, &mut sink)
        .await
        .expect("resumed");
    assert!(summary.completed);
    assert_eq!(
        summary.customers + summary.subscriptions,
        0,
        "customers were not pulled again"
    );
    let requests = env.pc.harness().requests();
    assert!(
        requests.iter().all(|r| r.route == routes::FRAUD_EVENTS),
        "only fraud events fetched"
    );
    let new_model_pages: Vec<_> = requests
        .iter()
        .filter(|r| r.header("x-neweventsmodel").is_some())
        .map(|r| r.query_param("PageNumber").map(str::to_string))
        .collect();
    assert_eq!(
        new_model_pages,
        vec![Some("2".to_string()), Some("3".to_string())],
        "page 1 not fetched again"
    );
    assert_eq!(sink.customers.len(), 3);
    assert_eq!(sink.fraud_events.len(), 10, "everything, once");
    let mut ids: Vec<_> = sink
        .fraud_events
        .iter()
        .take(5)
        .map(|e| e["eventId"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "no page delivered twice");
    assert_eq!(resumed.phase, SyncPhase::Done);
}

#[tokio::test]
async fn a_failing_sink_stops_the_run_at_that_page() {
    struct Refuses;
    #[async_trait]
    impl SyncSink for Refuses {
        async fn customers(&mut self, _: &[Value]) -> Result<(), SinkError> {
            Err("disk full".into())
        }
        async fn subscriptions(&mut self, _: &str, _: &[Value]) -> Result<(), SinkError> {
            Ok(())
        }
        async fn fraud_events(&mut self, _: &[Value]) -> Result<(), SinkError> {
            Ok(())
        }
        async fn checkpoint(&mut self, _: &SyncCursor) -> Result<(), SinkError> {
            Ok(())
        }
    }
    let env = env().await;
    fill(&env);
    let pc = client(&env);
    let mut cursor = SyncCursor::default();
    let err = PartnerCenterSync::new(config())
        .run(&pc, &mut cursor, &mut Refuses)
        .await
        .expect_err("sink");
    assert!(
        matches!(&err, ConnectorError::Sink(m) if m.contains("disk full")),
        "{err:?}"
    );
    assert_eq!(cursor.phase, SyncPhase::Customers { next: None });
}

#[tokio::test]
async fn a_customer_gone_before_its_subscriptions_is_skipped() {
    let env = env().await;
    fill(&env);
    // The first customer's subscriptions answer 404 (it left between the two phases).
    env.pc.harness().fail_next(
        routes::SUBSCRIPTIONS,
        vec![cspguard_standins::Fault::Status(404)],
    );
    let pc = client(&env);
    let mut cursor = SyncCursor::default();
    let mut sink = MemSink::default();
    let summary = PartnerCenterSync::new(config())
        .run(&pc, &mut cursor, &mut sink)
        .await
        .expect("sync");
    assert!(summary.completed);
    assert_eq!(
        (
            summary.customers,
            summary.skipped_tenants,
            summary.subscriptions
        ),
        (3, 1, 1)
    );
}
