use cspguard_connectors::{Applied, ConnectorError, FraudEventQuery};
use cspguard_standins::fixtures;
use cspguard_standins::partner_center::routes;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::common::*;

const TENANT: &str = "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01";
const AZURE_SUB: &str = "6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f";

#[tokio::test]
async fn suspend_patches_the_whole_object_once() {
    let env = env().await;
    let original = fixtures::subscriptions().remove(0);
    let id = original["id"].as_str().expect("id").to_string();
    env.pc.set_subscriptions(TENANT, vec![original.clone()]);
    let pc = client(&env);

    assert_eq!(
        pc.suspend_subscription(TENANT, &id).await.expect("suspend"),
        Applied::Done
    );
    let patches = env.pc.harness().requests_to(routes::PATCH_SUBSCRIPTION);
    assert_eq!(patches.len(), 1);
    let mut expected = original.clone();
    expected["status"] = json!("suspended");
    assert_eq!(
        patches[0].json(),
        Some(&expected),
        "the whole object, status suspended"
    );
    assert_eq!(
        patches[0].path,
        format!("/v1/customers/{TENANT}/subscriptions/{id}")
    );
    assert!(patches[0]
        .header("ms-requestid")
        .is_some_and(|v| v.len() == 36));
    assert!(patches[0]
        .header("ms-correlationid")
        .is_some_and(|v| v.len() == 36));
    assert_eq!(env.pc.subscription(TENANT, &id), Some(expected));

    assert_eq!(
        pc.suspend_subscription(TENANT, &id).await.expect("again"),
        Applied::AlreadyInEffect
    );
    assert_eq!(
        env.pc.harness().count(routes::PATCH_SUBSCRIPTION),
        1,
        "no second PATCH"
    );
    assert_eq!(env.pc.harness().count(routes::GET_SUBSCRIPTION), 2);
}

#[tokio::test]
async fn subscriptions_list_and_get() {
    let env = env().await;
    env.pc.set_subscriptions(
        TENANT,
        vec![
            fixtures::subscription(1, "active"),
            fixtures::subscription(2, "suspended"),
        ],
    );
    let pc = client(&env);
    let subs = pc.subscriptions(TENANT).await.expect("list");
    assert_eq!(subs.len(), 2);
    let id = subs[1]["id"].as_str().expect("id");
    assert_eq!(
        pc.get_subscription(TENANT, id).await.expect("get")["status"],
        "suspended"
    );
}

#[tokio::test]
async fn budget_set_and_get() {
    let env = env().await;
    let pc = client(&env);
    assert_eq!(pc.get_budget(TENANT).await.expect("none yet"), None);
    let amount = Decimal::new(150050, 2); // 1500.50
    assert_eq!(
        pc.set_budget(TENANT, amount).await.expect("set"),
        Applied::Done
    );
    let patch = &env.pc.harness().requests_to(routes::PATCH_BUDGET)[0];
    assert_eq!(patch.json(), Some(&json!({"amount": 1500.5})));
    assert_eq!(env.pc.budget(TENANT), Some(json!(1500.5)));
    assert_eq!(pc.get_budget(TENANT).await.expect("get"), Some(amount));
    assert_eq!(
        pc.set_budget(TENANT, amount).await.expect("same"),
        Applied::AlreadyInEffect
    );
    assert_eq!(env.pc.harness().count(routes::PATCH_BUDGET), 1);
}

#[tokio::test]
async fn fraud_status_update_sends_the_documented_body() {
    let env = env().await;
    env.pc.set_fraud_events(fixtures::fraud_events());
    let pc = client(&env);
    let event_id = fixtures::fraud_events()[0]["eventId"]
        .as_str()
        .expect("id")
        .to_string();

    assert_eq!(
        pc.fraud_event_status(AZURE_SUB, &event_id)
            .await
            .expect("status"),
        Some(("Active".into(), None))
    );
    let applied = pc
        .update_fraud_status(
            AZURE_SUB,
            std::slice::from_ref(&event_id),
            "Resolved",
            Some("Fraud"),
        )
        .await;
    assert_eq!(applied.expect("update"), Applied::Done);
    let posts = env.pc.harness().requests_to(routes::FRAUD_STATUS);
    assert_eq!(
        posts[0].path,
        format!("/v1/fraudEvents/subscription/{AZURE_SUB}/status")
    );
    assert_eq!(
        posts[0].json(),
        Some(
            &json!({"EventIds": [event_id], "EventStatus": "Resolved", "ResolvedReason": "Fraud"})
        )
    );
    assert_eq!(
        pc.fraud_event_status(AZURE_SUB, &event_id)
            .await
            .expect("status"),
        Some(("Resolved".into(), Some("Fraud".into())))
    );
    let check = &env.pc.harness().requests_to(routes::FRAUD_EVENTS)[1];
    assert_eq!(check.query_param("SubscriptionId"), Some(AZURE_SUB));
    assert_eq!(check.header("x-neweventsmodel"), None);

    pc.update_fraud_status(AZURE_SUB, &[], "Investigating", None)
        .await
        .expect("all, no reason");
    let posts = env.pc.harness().requests_to(routes::FRAUD_STATUS);
    assert_eq!(
        posts[1].json(),
        Some(&json!({"EventIds": [], "EventStatus": "Investigating"}))
    );
    assert!(env
        .pc
        .fraud_events()
        .iter()
        .all(|e| e["eventStatus"] == "Investigating"));
    assert_eq!(
        pc.fraud_event_status(AZURE_SUB, "no-such-event")
            .await
            .expect("absent"),
        None
    );
}

fn five_events() -> Vec<Value> {
    (1..=5)
        .map(|n| fixtures::fraud_event(n, AZURE_SUB, if n == 3 { "Resolved" } else { "Active" }))
        .collect()
}

#[tokio::test]
async fn new_events_model_pages_with_page_size_and_number() {
    let env = env().await;
    let mut events = five_events();
    events.push(fixtures::fraud_event(9, AZURE_SUB, "Resolved"));
    env.pc.set_fraud_events(events);
    let pc = client(&env);
    let q = FraudEventQuery {
        page_size: 2,
        ..FraudEventQuery::default()
    };
    let mut seen = Vec::new();
    let mut page_number = 1;
    loop {
        let page = pc.fraud_events_page(&q, page_number).await.expect("page");
        seen.push((page.items.len(), page.has_more));
        if !page.has_more {
            break;
        }
        page_number += 1;
    }
    assert_eq!(
        seen,
        vec![(2, true), (2, true), (2, true), (0, false)],
        "6 events, 2 a page"
    );
    let reqs = env.pc.harness().requests_to(routes::FRAUD_EVENTS);
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.header("x-neweventsmodel"), Some("true"));
        assert_eq!(r.query_param("PageSize"), Some("2"));
        assert_eq!(
            r.query_param("PageNumber"),
            Some((i + 1).to_string().as_str())
        );
    }

    // Five Active/Resolved events filtered to Active: 4 events → pages of 2, 2, 0; with page size 3: 3, 1.
    env.pc.set_fraud_events(five_events());
    let q = FraudEventQuery {
        status: Some("Active".into()),
        page_size: 3,
        event_type: Some("CryptoMining".into()),
        ..q
    };
    let p1 = pc.fraud_events_page(&q, 1).await.expect("p1");
    let p2 = pc.fraud_events_page(&q, 2).await.expect("p2");
    assert_eq!(
        (p1.items.len(), p1.has_more, p2.items.len(), p2.has_more),
        (3, true, 1, false)
    );
    let last = env
        .pc
        .harness()
        .requests_to(routes::FRAUD_EVENTS)
        .pop()
        .expect("request");
    assert_eq!(last.query_param("EventStatus"), Some("Active"));
    assert_eq!(last.query_param("EventType"), Some("CryptoMining"));
}

#[tokio::test]
async fn three_pages_in_the_new_model_one_in_the_old() {
    let env = env().await;
    env.pc.set_fraud_events(five_events());
    let pc = client(&env);
    let q = FraudEventQuery {
        page_size: 2,
        ..FraudEventQuery::default()
    };
    let mut got = Vec::new();
    for n in 1..=3 {
        let page = pc.fraud_events_page(&q, n).await.expect("page");
        got.push((page.items.len(), page.has_more));
    }
    assert_eq!(got, vec![(2, true), (2, true), (1, false)]);

    let old = FraudEventQuery {
        new_events_model: false,
        page_size: 2,
        ..FraudEventQuery::default()
    };
    let page = pc.fraud_events_page(&old, 1).await.expect("old model");
    assert_eq!((page.items.len(), page.has_more), (5, false));
    let r = env
        .pc
        .harness()
        .requests_to(routes::FRAUD_EVENTS)
        .pop()
        .expect("request");
    assert_eq!(r.header("x-neweventsmodel"), None);
    assert_eq!(r.query_param("PageSize"), None);
    assert_eq!(r.query_param("PageNumber"), None);
}

#[tokio::test]
async fn customers_follow_links_next() {
    let env = env().await;
    env.pc
        .set_customers((1..=5).map(fixtures::customer).collect());
    env.pc.set_customers_page_size(2);
    let pc = client(&env);
    let mut next: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let page = pc.customers_page(next.as_deref()).await.expect("page");
        sizes.push(page.items.len());
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(sizes, vec![2, 2, 1]);
    let err = pc
        .customers_page(Some("https://elsewhere.example/v1/customers?offset=2"))
        .await
        .expect_err("other origin");
    assert!(matches!(err, ConnectorError::Decode(_)), "{err:?}");
    assert_eq!(env.pc.harness().count(routes::CUSTOMERS), 3);
}
