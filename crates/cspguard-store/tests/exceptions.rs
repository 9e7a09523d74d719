//! Exception requests and screenings (migration 0005) against real databases: SQLite always, PostgreSQL when
//! `CSPGUARD_TEST_POSTGRES_URL` names a server (`source .ci/postgres.sh` starts one; under CI its absence is a failure).

use chrono::NaiveDate;
use cspguard_ingest::SourceKind;
use cspguard_store::{
    AuditEntry, AuditFilter, ExceptionRow, Opened, ScreeningRow, Store, StoreError,
};

mod support;
use support::*;

fn request(id: &str, tenant: &str, case: &str, at: cspguard_domain::Instant) -> ExceptionRow {
    ExceptionRow {
        id: id.into(),
        customer_tenant_id: tenant.into(),
        case_id: case.into(),
        status: "draft".into(),
        created_at: at,
        updated_at: at,
        body: format!("{{\"case_id\":\"{case}\"}}"),
    }
}

/// One request per customer tenant ID, ever: the store answers with the existing request, the database refuses a
/// second row, a deletion or a move to another tenant; updates are optimistic and audited.
async fn one_exception_request_per_tenant_ever(store: Store, url: &str) {
    let t = now();
    let tenant = "6f1b2c3d-0000-4000-8000-000000000001";
    let audit =
        |verb: &str| vec![AuditEntry::new(t, "ana", verb, serde_json::json!({})).case("CS-1")];
    let first = request("EX-1", tenant, "CS-1", t);
    assert_eq!(
        store
            .open_exception_request(&first, &audit("exception.opened"))
            .await
            .unwrap(),
        Opened::Created
    );
    // Another case of the same tenant (another ID, tenant in upper case): refused with the existing request.
    let second = request("EX-2", &tenant.to_uppercase(), "CS-2", t);
    match store
        .open_exception_request(&second, &audit("exception.opened"))
        .await
        .unwrap()
    {
        Opened::Exists(e) => assert_eq!((e.id.as_str(), e.case_id.as_str()), ("EX-1", "CS-1")),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.exception_requests().await.unwrap().len(), 1);
    assert_eq!(
        store.audit(&AuditFilter::default()).await.unwrap().len(),
        1,
        "the refused one wrote no audit entry"
    );

    let t2 = t + chrono::Duration::seconds(5);
    let mut submitted = first.clone();
    submitted.status = "submitted".into();
    submitted.updated_at = t2;
    store
        .update_exception_request(&submitted, t, &audit("exception.submitted"))
        .await
        .unwrap();
    let stale = store
        .update_exception_request(&submitted, t, &audit("exception.submitted"))
        .await;
    assert!(matches!(stale, Err(StoreError::Stale(_))), "{stale:?}");
    assert_eq!(
        store
            .exception_request_for_tenant(tenant)
            .await
            .unwrap()
            .unwrap()
            .status,
        "submitted"
    );
    assert_eq!(
        store
            .exception_request("EX-1")
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        t2
    );
    assert_eq!(store.audit(&AuditFilter::default()).await.unwrap().len(), 2);
    let chain = store.verify_audit().await.unwrap();
    assert!(
        chain.broken.is_none(),
        "audited in the hash chain: {chain:?}"
    );
    assert_eq!(chain.checked, 2);

    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(url).await.unwrap();
    let dup = sqlx::query(
        "INSERT INTO exception_requests (id, customer_tenant_id, case_id, status, created_us, updated_us, body) \
         VALUES ('EX-3', '6f1b2c3d-0000-4000-8000-000000000001', 'CS-3', 'draft', 0, 0, '{}')",
    )
    .execute(&raw)
    .await;
    assert!(
        dup.is_err(),
        "the UNIQUE constraint refuses a second request for the tenant"
    );
    assert!(sqlx::query("DELETE FROM exception_requests")
        .execute(&raw)
        .await
        .is_err());
    assert!(
        sqlx::query("UPDATE exception_requests SET customer_tenant_id = 'other'")
            .execute(&raw)
            .await
            .is_err()
    );
    raw.close().await;
    assert_eq!(store.exception_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_one_exception_request_per_tenant_ever() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    one_exception_request_per_tenant_ever(store, &url).await;
}

#[tokio::test]
async fn postgres_one_exception_request_per_tenant_ever() {
    if let Some(url) = postgres_url().await {
        let store = Store::open(&url).await.unwrap();
        one_exception_request_per_tenant_ever(store, &url).await;
    }
}

/// Usage lines of chosen Azure subscriptions and dates come back from the segments with their keys; screenings are
/// stored once per customer and replaced by a re-screening.
async fn usage_lines_and_screenings(store: Store) {
    let usage = example_events(SourceKind::Usage, "usage_small.csv", None);
    let src = store
        .begin_import("usage_small.csv", "usage", now())
        .await
        .unwrap();
    store.append(src, &usage, now()).await.unwrap();
    let sub = "fee29476-3116-2427-3bfd-1d338d0038ec".to_string();
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    let lines = store
        .usage_lines(&[sub.to_uppercase()], d("2026-09-03"), d("2026-09-19"))
        .await
        .unwrap();
    let dates: Vec<NaiveDate> = lines.iter().map(|(_, u)| u.usage_date).collect();
    assert_eq!(
        dates,
        vec![d("2026-09-03"), d("2026-09-11"), d("2026-09-19")]
    );
    let keys: Vec<_> = usage.iter().map(|e| e.key).collect();
    assert!(lines.iter().all(|(k, _)| keys.contains(k)));
    assert!(store
        .usage_lines(&[], d("2026-01-01"), d("2027-01-01"))
        .await
        .unwrap()
        .is_empty());

    let row = |score: i64| ScreeningRow {
        customer_tenant_id: "AA61ABAB-B8BD-4382-8AE9-8ED5D77BC6A5".into(),
        score,
        screened_at: now(),
        body: format!("{{\"score\":{score}}}"),
    };
    store.save_screening(&row(80)).await.unwrap();
    store.save_screening(&row(55)).await.unwrap();
    let s = store.screenings().await.unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].customer_tenant_id.as_str(), s[0].score),
        ("aa61abab-b8bd-4382-8ae9-8ed5d77bc6a5", 55)
    );
}

#[tokio::test]
async fn sqlite_usage_lines_and_screenings() {
    let (_dir, store) = sqlite().await;
    usage_lines_and_screenings(store).await;
}

#[tokio::test]
async fn postgres_usage_lines_and_screenings() {
    if let Some(store) = postgres().await {
        usage_lines_and_screenings(store).await;
    }
}
