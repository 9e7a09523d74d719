//! The event store against real databases: SQLite always, PostgreSQL when `CSPGUARD_TEST_POSTGRES_URL` names a server
//! (`.ci/run` starts one; under CI its absence is a failure, not a skip).

use chrono::NaiveDate;
use cspguard_domain::{Envelope, UsageKeyVersion};
use cspguard_ingest::{ImportOptions, SourceKind};
use cspguard_store::{ImportCounts, Store};

mod support;
use support::*;

async fn append_is_idempotent_and_derives_costs(store: Store) {
    let usage = example_events(SourceKind::Usage, "usage_small.csv", None);
    let src = store
        .begin_import("usage_small.csv", "usage", now())
        .await
        .unwrap();
    let first = store.append(src, &usage, now()).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (12, 0));
    // The same file again, and a batch that overlaps it, add nothing.
    let again = store.append(src, &usage, now()).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 12));
    let overlap: Vec<Envelope> = usage[6..]
        .iter()
        .chain(usage[6..].iter())
        .cloned()
        .collect();
    let o = store.append(src, &overlap, now()).await.unwrap();
    assert_eq!((o.inserted, o.duplicates), (0, 12));
    store
        .finish_import(
            src,
            &ImportCounts {
                read: 12,
                imported: 12,
                outcome: "ok".into(),
                ..Default::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(store.event_count().await.unwrap(), 12);

    // Derived daily cost equals the sum of the usage lines, per subscription x day x meter x region.
    let from = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
    let rows = store.daily_meter_cost(None, from, to).await.unwrap();
    let total: rust_decimal::Decimal = rows.iter().map(|r| r.cost.amount).sum();
    let expected: rust_decimal::Decimal = usage
        .iter()
        .map(|e| match &e.event {
            cspguard_domain::Event::Usage(u) => u.cost.amount,
            _ => unreachable!(),
        })
        .sum();
    assert_eq!(total, expected);
    assert_eq!(rows.iter().map(|r| r.lines).sum::<u64>(), 12);
    let one = store
        .daily_meter_cost(Some("D6645FA9-E8A8-529F-035E-FA259B08923D"), from, to)
        .await
        .unwrap();
    assert!(
        !one.is_empty()
            && one
                .iter()
                .all(|r| r.azure_subscription_id == "d6645fa9-e8a8-529f-035e-fa259b08923d")
    );
    assert_eq!(
        store
            .billing_subscription_customer("10C67FD994B2B8FD")
            .await
            .unwrap()
            .as_deref(),
        Some("795b929e-9a9a-80fd-ea7b-5bf55eb561a4"),
        "usage lines map a billing subscription to its customer"
    );
    assert_eq!(
        store.billing_subscription_customer("nope").await.unwrap(),
        None
    );
    let res = store.daily_resource_cost(None, from, to).await.unwrap();
    assert_eq!(
        res.iter()
            .map(|r| r.cost.amount)
            .sum::<rust_decimal::Decimal>(),
        expected
    );

    // The log reads back exactly what went in, in arrival order.
    let back = store.events_after(0, 100).await.unwrap();
    assert_eq!(back.len(), 12);
    assert_eq!(back[0].envelope, usage[0]);
    assert_eq!(back[0].envelope.source.origin, "usage_small.csv");
    assert!(back.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.events_after(back[5].seq, 100).await.unwrap().len(), 6);

    // Every other shape stores and reads back too.
    let mut others: Vec<Envelope> = every_example()
        .into_iter()
        .filter(|e| e.event.kind() != cspguard_domain::EventKind::Usage)
        .collect();
    let src2 = store.begin_import("examples", "auto", now()).await.unwrap();
    for e in &mut others {
        e.source.origin = "examples".into();
    }
    let r = store.append(src2, &others, now()).await.unwrap();
    assert_eq!(r.inserted as usize, others.len());
    let back = store.events_after(12, 1000).await.unwrap();
    let got: Vec<&Envelope> = back.iter().map(|s| &s.envelope).collect();
    assert_eq!(got, others.iter().collect::<Vec<_>>());
    let stats = store.stats().await.unwrap();
    assert_eq!(
        stats.events_by_kind.iter().map(|(_, n)| n).sum::<u64>(),
        12 + others.len() as u64
    );
    let contoso = store.customers().await.unwrap();
    let c = contoso
        .iter()
        .find(|c| c.tenant_id == "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01")
        .unwrap();
    assert_eq!(c.name.as_deref(), Some("Contoso Ltd"));
    assert_eq!(
        c.country.as_deref(),
        Some("US"),
        "billing's country merges with Partner Center's name"
    );
}

#[tokio::test]
async fn sqlite_append_is_idempotent_and_derives_costs() {
    let (_dir, store) = sqlite().await;
    append_is_idempotent_and_derives_costs(store).await;
}

#[tokio::test]
async fn postgres_append_is_idempotent_and_derives_costs() {
    if let Some(store) = postgres().await {
        append_is_idempotent_and_derives_costs(store).await;
    }
}

#[tokio::test]
async fn sqlite_store_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let usage = example_events(SourceKind::Usage, "usage_small.csv", None);
    {
        let store = Store::open(&url).await.unwrap();
        let src = store.begin_import("a", "usage", now()).await.unwrap();
        store.append(src, &usage, now()).await.unwrap();
        store.close().await;
    }
    let store = Store::open(&url).await.unwrap();
    let src = store.begin_import("a", "usage", now()).await.unwrap();
    assert_eq!(store.append(src, &usage, now()).await.unwrap().inserted, 0);
    assert_eq!(store.event_count().await.unwrap(), 12);
}

#[tokio::test]
async fn unsupported_urls_are_refused_with_a_reason() {
    let e = Store::open("mysql://x").await.err().unwrap();
    assert!(e.to_string().contains("neither sqlite:// nor postgres://"));
}

async fn a_partly_known_batch_stores_only_the_new_events(store: Store) {
    let usage = example_events(SourceKind::Usage, "usage_small.csv", None);
    let src = store
        .begin_import("usage_small.csv", "usage", now())
        .await
        .unwrap();
    let first = store.append(src, &usage[..5], now()).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (5, 0));
    let second = store.append(src, &usage, now()).await.unwrap();
    assert_eq!((second.inserted, second.duplicates), (7, 5));
    // The derived table counted each line once.
    let from = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
    let rows = store.daily_meter_cost(None, from, to).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.lines).sum::<u64>(), 12);
    let back = store.events_after(0, 100).await.unwrap();
    let keys: Vec<_> = back.iter().map(|s| s.envelope.key).collect();
    let want: Vec<_> = usage.iter().map(|e| e.key).collect();
    assert_eq!(keys, want, "stored once each, in arrival order");
}

#[tokio::test]
async fn sqlite_a_partly_known_batch_stores_only_the_new_events() {
    let (_dir, store) = sqlite().await;
    a_partly_known_batch_stores_only_the_new_events(store).await;
}

#[tokio::test]
async fn postgres_a_partly_known_batch_stores_only_the_new_events() {
    if let Some(store) = postgres().await {
        a_partly_known_batch_stores_only_the_new_events(store).await;
    }
}

/// A database written before migration 0002 (usage lines as JSON rows of `events`): after the upgrade its events read
/// back in order, its usage keys still count as stored, and new events continue the same positions.
#[tokio::test]
async fn sqlite_a_database_from_before_segments_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
    let usage = example_events(SourceKind::Usage, "usage_small.csv", None);
    {
        // Only the first migration, and the rows the previous store wrote.
        let old = tempfile::tempdir().unwrap();
        std::fs::copy(
            std::path::Path::new(&manifest_dir()).join("migrations/sqlite/0001_event_log.sql"),
            old.path().join("0001_event_log.sql"),
        )
        .unwrap();
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::migrate::Migrator::new(old.path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO sources (origin, kind, started_us) VALUES ('usage_small.csv', 'usage', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        for e in &usage[..5] {
            sqlx::query(
                "INSERT INTO events (idem_key, kind, customer_tenant_id, event_time_us, ingest_time_us, source_id, \
                 source_line, payload) VALUES (?, 'usage', ?, ?, 0, 1, ?, ?)",
            )
            .bind(&e.key.0[..])
            .bind(e.event.customer().unwrap().as_str())
            .bind(e.event_time.timestamp_micros())
            .bind(e.source.line.map(|l| l as i64))
            .bind(serde_json::to_string(&e.event).unwrap())
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.event_count().await.unwrap(), 5);
    let src = store
        .begin_import("usage_small.csv", "usage", now())
        .await
        .unwrap();
    let o = store.append(src, &usage, now()).await.unwrap();
    assert_eq!(
        (o.inserted, o.duplicates),
        (7, 5),
        "the old rows' keys still count"
    );
    let back = store.events_after(0, 100).await.unwrap();
    assert_eq!(
        back.iter().map(|s| s.seq).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    let got: Vec<&Envelope> = back.iter().map(|s| &s.envelope).collect();
    assert_eq!(got, usage.iter().collect::<Vec<_>>());
    assert_eq!(
        store
            .events_after(3, 4)
            .await
            .unwrap()
            .iter()
            .map(|s| s.seq)
            .collect::<Vec<_>>(),
        vec![4, 5, 6, 7]
    );
}

fn usage_keyed(version: UsageKeyVersion) -> Vec<Envelope> {
    let text = std::fs::read(
        std::path::Path::new(&manifest_dir()).join("../../testdata/examples/usage_small.csv"),
    )
    .unwrap();
    let opts = ImportOptions {
        origin: "usage_small.csv".into(),
        customer: None,
        observed_at: now(),
        usage_keys: version,
    };
    let mut c = Collect(Vec::new());
    cspguard_ingest::parse(SourceKind::Usage, text.as_slice(), &opts, &mut c).unwrap();
    c.0
}

/// A new store derives usage keys with version 2; a store that held usage keys before migration 0008 keeps version 1,
/// so re-importing its files still finds every line stored.
#[tokio::test]
async fn sqlite_a_store_with_usage_from_before_key_version_2_keeps_version_1() {
    let (_dir, fresh) = sqlite().await;
    assert_eq!(
        fresh.usage_key_version().await.unwrap(),
        UsageKeyVersion::V2
    );
    let v1 = usage_keyed(UsageKeyVersion::V1);
    let v2 = usage_keyed(UsageKeyVersion::V2);
    assert_ne!(v1[0].key, v2[0].key);
    assert_eq!(
        v1.iter().map(|e| &e.event).collect::<Vec<_>>(),
        v2.iter().map(|e| &e.event).collect::<Vec<_>>()
    );

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    {
        // A store as cspguard wrote it before migration 0008: version 1 keys, no version column.
        let store = Store::open(&url).await.unwrap();
        let src = store
            .begin_import("usage_small.csv", "usage", now())
            .await
            .unwrap();
        let o = store.append(src, &v1, now()).await.unwrap();
        assert_eq!(o.inserted, 12);
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        for sql in [
            "ALTER TABLE log_head DROP COLUMN usage_key_version",
            "DELETE FROM _sqlx_migrations WHERE version = 8",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let store = Store::open(&url).await.unwrap();
    let version = store.usage_key_version().await.unwrap();
    assert_eq!(version, UsageKeyVersion::V1);
    let src = store
        .begin_import("usage_small.csv", "usage", now())
        .await
        .unwrap();
    let o = store
        .append(src, &usage_keyed(version), now())
        .await
        .unwrap();
    assert_eq!(
        (o.inserted, o.duplicates),
        (0, 12),
        "a re-import adds nothing"
    );
}

async fn a_mixed_batch_keeps_its_order(store: Store) {
    let usage = example_events(SourceKind::Usage, "usage_small.csv", None);
    let fraud = example_events(SourceKind::FraudEvents, "fraud_events.json", None);
    let mut batch: Vec<Envelope> = Vec::new();
    batch.extend(usage[..3].iter().cloned());
    batch.push(fraud[0].clone());
    batch.extend(usage[3..7].iter().cloned());
    batch.push(usage[1].clone()); // a duplicate inside the batch
    batch.extend(fraud[1..].iter().cloned());
    batch.extend(usage[7..].iter().cloned());
    for e in &mut batch {
        e.source.origin = "mixed".into();
    }
    let src = store.begin_import("mixed", "auto", now()).await.unwrap();
    let o = store.append(src, &batch, now()).await.unwrap();
    assert_eq!((o.inserted, o.duplicates), (batch.len() as u64 - 1, 1));
    let back = store.events_after(0, 1000).await.unwrap();
    let mut want = batch.clone();
    want.remove(8);
    let got: Vec<&Envelope> = back.iter().map(|s| &s.envelope).collect();
    assert_eq!(
        got,
        want.iter().collect::<Vec<_>>(),
        "stored in arrival order"
    );
    assert_eq!(
        back.iter().map(|s| s.seq).collect::<Vec<_>>(),
        (1..=want.len() as i64).collect::<Vec<_>>()
    );
    // Any window of the log, whatever table its events are in.
    for after in 0..want.len() as i64 {
        let page = store.events_after(after, 3).await.unwrap();
        let seqs: Vec<i64> = page.iter().map(|s| s.seq).collect();
        let end = (after + 3).min(want.len() as i64);
        assert_eq!(seqs, ((after + 1)..=end).collect::<Vec<_>>());
    }
    assert_eq!(store.event_count().await.unwrap(), want.len() as u64);
    let again = store.append(src, &batch, now()).await.unwrap();
    assert_eq!(again.inserted, 0);
}

#[tokio::test]
async fn sqlite_a_mixed_batch_keeps_its_order() {
    let (_dir, store) = sqlite().await;
    a_mixed_batch_keeps_its_order(store).await;
}

#[tokio::test]
async fn postgres_a_mixed_batch_keeps_its_order() {
    if let Some(store) = postgres().await {
        a_mixed_batch_keeps_its_order(store).await;
    }
}

/// Two writers (two pools, as two processes would have) appending the same lines at once store each line once.
async fn concurrent_writers_store_each_line_once(a: Store, b: Store) {
    let usage = example_events(SourceKind::Usage, "usage_small.csv", None);
    let sa = a
        .begin_import("usage_small.csv", "usage", now())
        .await
        .unwrap();
    let sb = b
        .begin_import("usage_small.csv", "usage", now())
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(a.append(sa, &usage, now()), b.append(sb, &usage, now()));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.inserted + rb.inserted, usage.len() as u64);
    assert_eq!(ra.duplicates + rb.duplicates, usage.len() as u64);
    let back = a.events_after(0, 100).await.unwrap();
    assert_eq!(back.len(), usage.len());
    assert!(back.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    let from = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
    let rows = b.daily_meter_cost(None, from, to).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.lines).sum::<u64>(),
        usage.len() as u64
    );
}

#[tokio::test]
async fn sqlite_concurrent_writers_store_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let a = Store::open(&url).await.unwrap();
    let b = Store::open(&url).await.unwrap();
    concurrent_writers_store_each_line_once(a, b).await;
}

#[tokio::test]
async fn postgres_concurrent_writers_store_each_line_once() {
    if let Some(url) = postgres_url().await {
        let a = Store::open(&url).await.unwrap();
        let b = Store::open(&url).await.unwrap();
        concurrent_writers_store_each_line_once(a, b).await;
    }
}

fn action(key: &str, state: &str, at: cspguard_domain::Instant) -> cspguard_store::ActionRow {
    cspguard_store::ActionRow {
        key: key.into(),
        case_id: "CS-1".into(),
        state: state.into(),
        next_attempt_at: None,
        created_at: at,
        updated_at: at,
        body: format!("{{\"state\":\"{state}\"}}"),
    }
}

/// Cases and actions commit with their audit entries; an action key is stored once; a stale update is refused and
/// writes nothing; the audit log refuses updates and deletes at the database level.
async fn case_changes_are_atomic_idempotent_and_audited(store: Store, url: &str) {
    use cspguard_store::{ActionUpdate, AuditEntry, AuditFilter, CaseChanges, CaseFilter, CaseRow};
    let t = now();
    let case = CaseRow {
        id: "CS-1".into(),
        customer_tenant_id: "6f1b2c3d-0000-4000-8000-000000000001".into(),
        status: "open".into(),
        severity: "high".into(),
        score: 80,
        opened_at: t,
        updated_at: t,
        body: "{}".into(),
    };
    let first = CaseChanges {
        cases: vec![case.clone()],
        new_actions: vec![
            action("aaaaaaaa01", "ready", t),
            action("bbbbbbbb02", "awaiting_approval", t),
        ],
        audit: vec![
            AuditEntry::new(t, "cspguard", "case.opened", serde_json::json!({})).case("CS-1"),
        ],
        ..Default::default()
    };
    let done = store.commit_case_changes(&first).await.unwrap();
    assert_eq!(done.inserted_actions.len(), 2);
    let again = store.commit_case_changes(&first).await.unwrap();
    assert!(
        again.inserted_actions.is_empty(),
        "the same keys again add nothing"
    );
    assert_eq!(store.actions(Some("CS-1"), None).await.unwrap().len(), 2);
    assert_eq!(
        store.cases(&CaseFilter::default()).await.unwrap(),
        vec![case]
    );

    let t2 = t + chrono::Duration::seconds(1);
    let claim = |read| CaseChanges {
        action_updates: vec![ActionUpdate {
            row: action("aaaaaaaa01", "in_flight", t2),
            read_version: read,
        }],
        audit: vec![
            AuditEntry::new(t2, "executor", "action.started", serde_json::json!({}))
                .action("aaaaaaaa01"),
        ],
        ..Default::default()
    };
    store.commit_case_changes(&claim(t)).await.unwrap();
    let stale = store.commit_case_changes(&claim(t)).await;
    assert!(
        matches!(stale, Err(cspguard_store::StoreError::Stale(_))),
        "{stale:?}"
    );
    let audit = store.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        audit.len(),
        3,
        "2 commits of the opening + 1 claim; the refused claim wrote no entry"
    );
    assert_eq!(
        store.action("aaaaaa").await.unwrap().unwrap().state,
        "in_flight"
    );
    assert_eq!(store.pending_actions().await.unwrap().len(), 1);

    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(url).await.unwrap();
    assert!(sqlx::query("UPDATE audit_log SET actor = 'mallory'")
        .execute(&raw)
        .await
        .is_err());
    assert!(sqlx::query("DELETE FROM audit_log")
        .execute(&raw)
        .await
        .is_err());
    raw.close().await;
    assert_eq!(store.audit(&AuditFilter::default()).await.unwrap().len(), 3);
}

#[tokio::test]
async fn sqlite_case_changes_are_atomic_idempotent_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    case_changes_are_atomic_idempotent_and_audited(store, &url).await;
}

#[tokio::test]
async fn postgres_case_changes_are_atomic_idempotent_and_audited() {
    if let Some(url) = postgres_url().await {
        let store = Store::open(&url).await.unwrap();
        case_changes_are_atomic_idempotent_and_audited(store, &url).await;
    }
}

/// Every example file, every event kind, usage in segments and the rest as rows.
fn every_example() -> Vec<Envelope> {
    let mut all = Vec::new();
    for (k, f, c) in [
        (SourceKind::Usage, "usage_small.csv", None),
        (SourceKind::FraudEvents, "fraud_events.json", None),
        (SourceKind::SignIns, "signins.json", None),
        (SourceKind::ActivityLog, "activity_log_rest.json", None),
        (SourceKind::ActivityLog, "activity_log_records.json", None),
        (SourceKind::Billing, "billing.jsonl", None),
        (SourceKind::Customers, "customers.json", None),
        (
            SourceKind::Subscriptions,
            "subscriptions.json",
            Some("3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01"),
        ),
    ] {
        all.extend(example_events(k, f, c));
    }
    // The partner's own Microsoft records are not in the domain examples (they are cspguard's own extension of the
    // billing format): one of each.
    let partner = concat!(
        r#"{"type":"partner_invoice","invoice_id":"G000001","issued_on":"2026-10-08","due_on":"2026-11-07","amount":"1200.50","currency":"USD"}"#,
        "\n",
        r#"{"type":"partner_payment","payment_id":"MSP-1","invoice_id":"G000001","amount":"1200.50","currency":"USD","submitted_on":"2026-11-05","posted_on":"2026-11-10","status":"succeeded"}"#,
        "\n",
        r#"{"type":"partner_credit_limit","observed_on":"2026-11-01","amount":"50000","currency":"USD","used":"12000"}"#,
        "\n"
    );
    let opts = ImportOptions {
        origin: "partner.jsonl".into(),
        customer: None,
        observed_at: cspguard_ingest::parse_instant("2026-11-01T00:00:00Z").unwrap(),
        usage_keys: Default::default(),
    };
    let mut c = Collect(Vec::new());
    cspguard_ingest::parse(SourceKind::Billing, partner.as_bytes(), &opts, &mut c).unwrap();
    assert_eq!(c.0.len(), 3, "the three partner records parse");
    all.extend(c.0);
    all
}

/// The sort records ([`Store::log_reader`]) decode to exactly what [`Store::events_after`] returns, for every event
/// kind, from any starting position (a segment split by it included), and leave out nothing.
async fn raw_records_decode_to_the_stored_events(store: Store) {
    let all = every_example();
    let kinds: std::collections::BTreeSet<_> = all.iter().map(|e| e.event.kind()).collect();
    assert_eq!(
        kinds.len(),
        cspguard_domain::EventKind::ALL.len(),
        "the examples hold every kind of event: {kinds:?}"
    );
    // Two imports, usage between other events, so positions interleave the two tables.
    let (usage, other): (Vec<Envelope>, Vec<Envelope>) = all
        .into_iter()
        .partition(|e| e.event.kind() == cspguard_domain::EventKind::Usage);
    let a = store.begin_import("a.json", "auto", now()).await.unwrap();
    store.append(a, &other[..5], now()).await.unwrap();
    let u = store
        .begin_import("usage_small.csv", "usage", now())
        .await
        .unwrap();
    store.append(u, &usage, now()).await.unwrap();
    store.append(a, &other[5..], now()).await.unwrap();
    let want = store.events_after(0, 10_000).await.unwrap();
    assert_eq!(want.len(), usage.len() + other.len());
    for chains in [true, false] {
        for after in [0, 3, 5, 6, 9, want.len() as i64 - 1, want.len() as i64] {
            let mut reader = store.log_reader(after).await.unwrap();
            if !chains {
                reader = reader.without_chains();
            }
            let mut batch = cspguard_store::RawBatch::default();
            while reader.read_into(&mut batch, 4).await.unwrap() {}
            let mut dec = reader.decoder().await.unwrap();
            let mut got: Vec<_> = batch.iter().map(|r| dec.decode(r).unwrap()).collect();
            let found = reader.take_chains();
            if chains && after == 0 {
                // usage_small.csv is in date order: its segment is merged from the store, not sorted.
                assert_eq!(found.len(), 1, "one chain of sorted segments");
            }
            if !chains {
                assert!(found.is_empty());
            }
            for mut c in found {
                let mut prev = None;
                while let Some(e) = c.next(&store, &dec).await.unwrap() {
                    let k = (e.envelope.event_time, e.seq);
                    assert!(prev <= Some(k), "a chain is in event-time order");
                    prev = Some(k);
                    got.push(e);
                }
            }
            got.sort_by_key(|e| e.seq);
            let expect: Vec<_> = want.iter().filter(|e| e.seq > after).cloned().collect();
            assert_eq!(got, expect, "after #{after}, chains {chains}");
            assert_eq!(reader.count(), expect.len() as u64);
            assert_eq!(
                reader.last_seq(),
                expect.last().map_or(after, |e| e.seq),
                "after #{after}"
            );
            // Sorted records come out by event time, ties by position.
            batch.sort();
            let order: Vec<(i64, i64)> = batch
                .iter()
                .map(|r| cspguard_store::record_order(r).unwrap())
                .collect();
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(order, sorted);
        }
    }
}

#[tokio::test]
async fn sqlite_raw_records_decode_to_the_stored_events() {
    let (_dir, store) = sqlite().await;
    raw_records_decode_to_the_stored_events(store).await;
}

#[tokio::test]
async fn postgres_raw_records_decode_to_the_stored_events() {
    if let Some(store) = postgres().await {
        raw_records_decode_to_the_stored_events(store).await;
    }
}

/// Rows of `events` without a block (stored before migration 0009) and blocks of another encoding version are read
/// from their JSON; the result is the same events either way, from any starting position.
async fn rows_without_a_usable_block_read_as_json(store: Store, url: &str) {
    let all = every_example();
    let (usage, other): (Vec<Envelope>, Vec<Envelope>) = all
        .into_iter()
        .partition(|e| e.event.kind() == cspguard_domain::EventKind::Usage);
    let a = store.begin_import("a.json", "auto", now()).await.unwrap();
    store.append(a, &other[..5], now()).await.unwrap();
    let u = store
        .begin_import("usage_small.csv", "usage", now())
        .await
        .unwrap();
    store.append(u, &usage, now()).await.unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let exec = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query(sql).execute(&pool).await.unwrap() }
    };
    // What a database from before blocks looks like: rows only, and blocks only from the next position on.
    exec("DELETE FROM event_blocks").await;
    exec("UPDATE log_head SET blocks_from = next_seq").await;
    store.append(a, &other[5..10], now()).await.unwrap();
    store.append(a, &other[10..], now()).await.unwrap();
    let blocks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM event_blocks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(blocks, 2, "each append after the upgrade wrote its block");
    let want = store.events_after(0, 10_000).await.unwrap();
    let read = |after: i64| {
        let store = &store;
        async move {
            let mut reader = store.log_reader(after).await.unwrap();
            let mut batch = cspguard_store::RawBatch::default();
            while reader.read_into(&mut batch, 3).await.unwrap() {}
            let mut dec = reader.decoder().await.unwrap();
            let mut got: Vec<_> = batch.iter().map(|r| dec.decode(r).unwrap()).collect();
            for mut c in reader.take_chains() {
                while let Some(e) = c.next(store, &dec).await.unwrap() {
                    got.push(e);
                }
            }
            got.sort_by_key(|e| e.seq);
            (got, reader.count(), reader.last_seq())
        }
    };
    for version in ["first", "other"] {
        if version == "other" {
            // A block another build wrote: not this encoding, so its rows' JSON is read instead.
            exec("UPDATE event_blocks SET version = 999 WHERE last_seq = (SELECT MIN(last_seq) FROM event_blocks)")
                .await;
        }
        for after in [0, 3, 5, 6, 9, 12, want.len() as i64 - 2, want.len() as i64] {
            let (got, count, last) = read(after).await;
            let expect: Vec<_> = want.iter().filter(|e| e.seq > after).cloned().collect();
            assert_eq!(got, expect, "after #{after}, {version} block version");
            assert_eq!(count, expect.len() as u64);
            assert_eq!(last, expect.last().map_or(after, |e| e.seq));
        }
    }
    pool.close().await;
}

#[tokio::test]
async fn sqlite_rows_without_a_usable_block_read_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    rows_without_a_usable_block_read_as_json(store, &url).await;
}

#[tokio::test]
async fn postgres_rows_without_a_usable_block_read_as_json() {
    if let Some(url) = postgres_url().await {
        let store = Store::open(&url).await.unwrap();
        rows_without_a_usable_block_read_as_json(store, &url).await;
    }
}
