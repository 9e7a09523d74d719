//! The sample documents of `formats.md` (copied into `fixtures/`, compiled in) and builders of more like them.

use serde_json::Value;

/// `GET /v1/customers` sample (one customer).
pub const CUSTOMERS_JSON: &str = include_str!("../fixtures/customers.json");
/// `GET /v1/customers/{tenant}/subscriptions` sample (one Azure plan).
pub const SUBSCRIPTIONS_JSON: &str = include_str!("../fixtures/subscriptions.json");
/// `GET /v1/fraudEvents` sample (two events, new events model fields).
pub const FRAUD_EVENTS_JSON: &str = include_str!("../fixtures/fraud_events.json");

fn items(text: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(text).expect("fixture is valid JSON");
    doc.get("items")
        .and_then(Value::as_array)
        .cloned()
        .expect("fixture has items")
}

/// The sample customers.
pub fn customers() -> Vec<Value> {
    items(CUSTOMERS_JSON)
}

/// The sample subscriptions.
pub fn subscriptions() -> Vec<Value> {
    items(SUBSCRIPTIONS_JSON)
}

/// The sample fraud events.
pub fn fraud_events() -> Vec<Value> {
    items(FRAUD_EVENTS_JSON)
}

/// A GUID-shaped ID made from a number (`00000000-0000-4000-8000-{n:012}`).
pub fn guid(prefix: u32, n: u64) -> String {
    format!("{prefix:08x}-0000-4000-8000-{n:012x}")
}

/// Customer `n`, shaped like the sample.
pub fn customer(n: u64) -> Value {
    let mut c = customers().remove(0);
    let id = guid(0xc0, n);
    c["id"] = Value::String(id.clone());
    c["companyProfile"]["tenantId"] = Value::String(id);
    c["companyProfile"]["companyName"] = Value::String(format!("Customer {n}"));
    c["companyProfile"]["domain"] = Value::String(format!("customer{n}.example"));
    c
}

/// Subscription `n`, shaped like the sample, with `status`.
pub fn subscription(n: u64, status: &str) -> Value {
    let mut s = subscriptions().remove(0);
    s["id"] = Value::String(guid(0x5b, n));
    s["status"] = Value::String(status.to_string());
    s
}

/// Fraud event `n` of Azure subscription `subscription_id`, shaped like the first sample event, with `status`.
pub fn fraud_event(n: u64, subscription_id: &str, status: &str) -> Value {
    let mut e = fraud_events().remove(0);
    let entity = guid(0xe0, n);
    e["subscriptionId"] = Value::String(subscription_id.to_string());
    e["entityId"] = Value::String(entity.clone());
    e["eventId"] = Value::String(format!("{subscription_id}_{entity}"));
    e["eventStatus"] = Value::String(status.to_string());
    e
}
