//! The credit-control reads against real databases: SQLite always, PostgreSQL when `CSPGUARD_TEST_POSTGRES_URL` names a
//! server (`source .ci/postgres.sh` starts one; under CI its absence is a failure, not a skip).

use chrono::NaiveDate;
use cspguard_domain::{Envelope, EventKind, Money};
use cspguard_ingest::{ImportOptions, SourceKind};
use cspguard_store::Store;
use rust_decimal::Decimal;

mod support;
use support::{now, Collect};

fn events(kind: SourceKind, text: &[u8]) -> Vec<Envelope> {
    let opts = ImportOptions {
        origin: "test".to_string(),
        customer: None,
        observed_at: cspguard_ingest::parse_instant("2026-11-01T00:00:00Z").unwrap(),
        usage_keys: Default::default(),
    };
    let mut c = Collect(Vec::new());
    cspguard_ingest::parse(kind, text, &opts, &mut c).unwrap();
    c.0
}

fn example(file: &str) -> Vec<u8> {
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    std::fs::read(
        std::path::Path::new(&dir)
            .join("../../testdata/examples")
            .join(file),
    )
    .unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const PARTNER: &str = concat!(
    r#"{"type":"partner_invoice","invoice_id":"G1","issued_on":"2026-09-08","due_on":"2026-10-08","amount":"900.50","currency":"USD"}"#,
    "\n",
    r#"{"type":"partner_credit_limit","observed_on":"2026-10-01","amount":"1000","currency":"USD"}"#,
    "\n"
);

async fn credit_reads(store: Store) {
    let src = store.begin_import("t", "mixed", now()).await.unwrap();
    let usage = events(SourceKind::Usage, &example("usage_small.csv"));
    store.append(src, &usage, now()).await.unwrap();
    let billing = events(SourceKind::Billing, &example("billing.jsonl"));
    store.append(src, &billing, now()).await.unwrap();
    store
        .append(src, &events(SourceKind::Billing, PARTNER.as_bytes()), now())
        .await
        .unwrap();

    // Billing events in arrival order: the example's profile, invoice, instrument change (not returned), payment,
    // then the partner's records.
    let kinds: Vec<EventKind> = store
        .billing_events()
        .await
        .unwrap()
        .iter()
        .map(|e| e.envelope.event.kind())
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::CustomerProfile,
            EventKind::Invoice,
            EventKind::Payment,
            EventKind::PartnerInvoice,
            EventKind::PartnerCreditLimit
        ]
    );

    // Daily cost per customer equals the per-meter rows summed.
    let (from, to) = (d("2026-01-01"), d("2026-12-31"));
    let meters = store.daily_meter_cost(None, from, to).await.unwrap();
    let per_customer = store.customer_daily_cost(None, from, to).await.unwrap();
    assert!(!per_customer.is_empty());
    for c in &per_customer {
        let sum: Decimal = meters
            .iter()
            .filter(|m| {
                m.customer_tenant_id == c.customer_tenant_id
                    && m.usage_date == c.usage_date
                    && m.cost.currency == c.cost.currency
            })
            .map(|m| m.cost.amount)
            .sum();
        assert_eq!(c.cost, Money::new(sum, c.cost.currency));
    }
    let one = &per_customer[0].customer_tenant_id;
    let only = store
        .customer_daily_cost(Some(&one.to_ascii_uppercase()), from, to)
        .await
        .unwrap();
    assert!(only.iter().all(|c| &c.customer_tenant_id == one));
    assert!(store
        .customer_daily_cost(None, d("2030-01-01"), d("2030-12-31"))
        .await
        .unwrap()
        .is_empty());

    let subs = store.customer_billing_subscriptions(one).await.unwrap();
    assert!(!subs.is_empty());
    assert!(store
        .customer_billing_subscriptions("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn sqlite_credit_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .unwrap();
    credit_reads(store).await;
}

#[tokio::test]
async fn postgres_credit_reads() {
    let Ok(base) = std::env::var("CSPGUARD_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL tests: start one with .ci/postgres.sh"
        );
        eprintln!("CSPGUARD_TEST_POSTGRES_URL not set: PostgreSQL half skipped");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!(
        "t_credit_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let admin = sqlx::AnyPool::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let url = format!("{}/{}", base.rsplit_once('/').unwrap().0, name);
    credit_reads(Store::open(&url).await.unwrap()).await;
}
