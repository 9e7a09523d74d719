//! End-to-end checks of the simulator: determinism, exact money, file shapes, and that every label is backed by
//! the evidence it describes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use cspguard_sim::{simulate, write_usage_benchmark, SimConfig, SimError, USAGE_COLUMNS};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

fn cfg(customers: usize, days: u32, seed: u64) -> SimConfig {
    SimConfig {
        customers,
        days,
        seed,
        ..SimConfig::default()
    }
}

fn run(cfg: &SimConfig) -> (tempfile::TempDir, cspguard_sim::SimSummary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = simulate(cfg, dir.path()).expect("simulate");
    (dir, summary)
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read json");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

fn rel_files(root: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| f.strip_prefix(root).expect("under root").to_path_buf())
        .collect()
}

/// All usage rows as header-keyed maps.
fn usage_rows(root: &Path) -> Vec<BTreeMap<String, String>> {
    let mut rows = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("usage"))
        .expect("usage dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        let mut reader = csv::Reader::from_path(&f).expect("open csv");
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(header, USAGE_COLUMNS, "{}", f.display());
        for rec in reader.records() {
            let rec = rec.expect("csv record");
            assert_eq!(rec.len(), 55, "{}", f.display());
            rows.push(
                header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(str::to_string))
                    .collect(),
            );
        }
    }
    rows
}

fn dec(s: &str) -> Decimal {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} is not a decimal: {e}"))
}

fn check_money(row: &BTreeMap<String, String>) {
    let price = dec(&row["EffectiveUnitPrice"]);
    let qty = dec(&row["Quantity"]);
    let rate = dec(&row["PCToBCExchangeRate"]);
    let expect =
        (price * qty * rate).round_dp_with_strategy(2, RoundingStrategy::ToNegativeInfinity);
    assert_eq!(dec(&row["BillingPreTaxTotal"]), expect, "{row:?}");
    let pricing = (price * qty).round_dp_with_strategy(2, RoundingStrategy::ToNegativeInfinity);
    assert_eq!(dec(&row["PricingPreTaxTotal"]), pricing, "{row:?}");
    assert!(qty > Decimal::ZERO);
    assert!(qty.scale() <= 6);
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let a = run(&cfg(40, 45, 7));
    let b = run(&cfg(40, 45, 7));
    let c = run(&cfg(40, 45, 8));
    let fa = rel_files(a.0.path(), &a.1.files);
    assert_eq!(fa, rel_files(b.0.path(), &b.1.files));
    assert!(fa.len() > 40);
    for f in &fa {
        let x = std::fs::read(a.0.path().join(f)).expect("read a");
        let y = std::fs::read(b.0.path().join(f)).expect("read b");
        assert!(
            x == y,
            "{} differs between two runs with the same seed",
            f.display()
        );
    }
    let usage = |root: &Path| std::fs::read(root.join("usage/usage_2026-08.csv")).expect("usage");
    assert_ne!(usage(a.0.path()), usage(c.0.path()));
    assert_ne!(
        std::fs::read(a.0.path().join("customers.json")).expect("customers"),
        std::fs::read(c.0.path().join("customers.json")).expect("customers")
    );
}

#[test]
fn usage_rows_are_complete_and_money_is_exact() {
    let config = SimConfig {
        start: NaiveDate::from_ymd_opt(2026, 8, 20).expect("date"),
        ..cfg(60, 50, 3)
    };
    let (dir, summary) = run(&config);
    let rows = usage_rows(dir.path());
    assert_eq!(rows.len() as u64, summary.usage_rows);
    assert!(rows.len() > 5_000);
    let customers = json(&dir.path().join("customers.json"));
    let mut reseller_of: BTreeMap<String, Option<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(dir.path().join("billing.jsonl"))
        .expect("billing")
        .lines()
    {
        let v: Value = serde_json::from_str(line).expect("billing line");
        if v["type"] == "customer" {
            reseller_of.insert(
                v["customer_tenant_id"]
                    .as_str()
                    .expect("tenant")
                    .to_string(),
                v["reseller_mpn_id"].as_str().map(str::to_string),
            );
        }
    }
    let indirect: BTreeSet<&str> = customers["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|c| c.get("associatedPartnerId").is_some())
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    let mut eur = 0;
    let mut billed_reseller_rows = 0;
    for row in &rows {
        check_money(row);
        let uri = &row["ResourceURI"];
        assert!(
            uri.starts_with(&format!(
                "/subscriptions/{}/resourceGroups/",
                row["EntitlementId"]
            )),
            "{uri}"
        );
        assert!(uri.contains("/providers/"));
        let billed = row["UsageDate"].as_str() < "2026-10-01";
        // August and September ended before the last day (2026-10-08); October is unbilled.
        assert_eq!(!row["InvoiceNumber"].is_empty(), billed, "{row:?}");
        let tenant = row["CustomerId"].as_str();
        if billed && indirect.contains(tenant) {
            billed_reseller_rows += 1;
            assert_eq!(
                Some(row["ResellerMPNID"].clone()),
                reseller_of[tenant],
                "{row:?}"
            );
            assert_eq!(row["ResellerMPNID"].len(), 7);
        } else {
            assert!(row["ResellerMPNID"].is_empty(), "{row:?}");
        }
        if row["BillingCurrency"] == "EUR" {
            eur += 1;
            assert_ne!(row["PCToBCExchangeRate"], "1");
        }
    }
    assert!(billed_reseller_rows > 0);
    assert!(eur > 0, "some customers are billed in EUR");
}

fn signins_of(root: &Path, tenant: &str) -> Vec<Value> {
    json(&root.join(format!("signins/{tenant}.json")))["value"]
        .as_array()
        .expect("value")
        .clone()
}

fn activity_of(root: &Path, sub: &str) -> Vec<Value> {
    let v = json(&root.join(format!("activity_log/{sub}.json")));
    v.get("value")
        .or_else(|| v.get("records"))
        .and_then(Value::as_array)
        .expect("events")
        .clone()
}

fn field<'a>(v: &'a Value, keys: &[&str]) -> &'a str {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or_default()
}

fn op_name(e: &Value) -> String {
    match &e["operationName"] {
        Value::String(s) => s.to_lowercase(),
        v => v["value"].as_str().unwrap_or_default().to_lowercase(),
    }
}

#[test]
fn labels_are_backed_by_evidence() {
    for (n, days, seed) in [(120, 90, 11), (40, 30, 5), (25, 10, 7)] {
        check_labels(n, days, seed);
    }
}

/// Every label names a listed customer and the data shows what it describes. Windows shorter than 60 days may
/// lack the calendar a kind needs (a month end, a due date), so only long ones must have every kind.
fn check_labels(n: usize, days: u32, seed: u64) {
    let (dir, summary) = run(&cfg(n, days, seed));
    let root = dir.path();
    let labels = json(&root.join("labels.json"));
    let customers = json(&root.join("customers.json"));
    let tenants: BTreeSet<&str> = customers["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(customers["totalCount"], n);
    let fraud = json(&root.join("fraud_events.json"));
    let events = fraud["items"].as_array().expect("items");
    let billing: Vec<Value> = std::fs::read_to_string(root.join("billing.jsonl"))
        .expect("billing")
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    let incidents = labels["incidents"].as_array().expect("incidents");
    let benign = labels["benign"].as_array().expect("benign");
    assert_eq!(incidents.len(), summary.incidents);
    assert_eq!(benign.len(), summary.benign);
    let kinds: BTreeSet<&str> = incidents
        .iter()
        .chain(benign)
        .map(|l| l["kind"].as_str().expect("kind"))
        .collect();
    for kind in [
        "cryptojacking",
        "stolen_card_signup",
        "nonpayment",
        "card_testing",
        "aup_enforcement",
        "steady_growth",
        "month_end_batch",
        "region_move",
        "traveller",
        "payment_in_posting_window",
    ] {
        assert!(days < 60 || kinds.contains(kind), "no {kind} label");
    }
    let inc_tenants: BTreeSet<&str> = incidents
        .iter()
        .map(|l| l["customer_tenant_id"].as_str().expect("t"))
        .collect();
    for b in benign {
        assert!(
            !inc_tenants.contains(b["customer_tenant_id"].as_str().expect("t")),
            "benign on an incident customer"
        );
    }
    for l in incidents.iter().chain(benign) {
        let tenant = l["customer_tenant_id"].as_str().expect("tenant");
        assert!(
            tenants.contains(tenant),
            "label customer {tenant} not in customers.json"
        );
        let start = &l["start"].as_str().expect("start")[..19];
        let end = &l["end"].as_str().expect("end")[..19];
        assert!(start <= end, "{l}");
        let subs: Vec<&str> = l["azure_subscription_ids"]
            .as_array()
            .expect("subs")
            .iter()
            .map(|s| s.as_str().expect("s"))
            .collect();
        for s in &subs {
            assert!(root.join(format!("activity_log/{s}.json")).exists());
        }
        match l["kind"].as_str().expect("kind") {
            "cryptojacking" => {
                assert!(
                    events.iter().any(|e| e["customerTenantId"] == tenant
                        && subs.contains(&e["subscriptionId"].as_str().expect("sub"))
                        && &e["eventTime"].as_str().expect("t")[..19] >= start),
                    "no fraud event for {l}"
                );
                let signins = signins_of(root, tenant);
                let after: Vec<&Value> = signins
                    .iter()
                    .filter(|s| &s["createdDateTime"].as_str().expect("t")[..19] >= start)
                    .collect();
                assert!(after.iter().any(|s| s["status"]["errorCode"] == 50126));
                assert!(
                    after
                        .iter()
                        .any(|s| s["status"]["errorCode"] == 0
                            && s["riskLevelDuringSignIn"] != "none")
                );
                let ops: Vec<String> = subs
                    .iter()
                    .flat_map(|s| activity_of(root, s))
                    .map(|e| op_name(&e))
                    .collect();
                assert!(ops
                    .iter()
                    .any(|o| o.contains("quota") || o.contains("servicelimits")));
                assert!(ops.iter().any(|o| o.contains("roleassignments/write")));
            }
            "aup_enforcement" => {
                let page = json(&root.join(format!("subscriptions/{tenant}.json")));
                assert!(page["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .any(|s| s["status"] == "suspended"
                        && s["suspensionReasons"][0] == "AcceptableUsePolicy"));
            }
            "stolen_card_signup" => {
                let c = billing
                    .iter()
                    .find(|r| r["type"] == "customer" && r["customer_tenant_id"] == tenant)
                    .expect("customer record");
                assert_eq!(&c["created_at"].as_str().expect("created")[..19], start);
                let card = billing
                    .iter()
                    .find(|r| r["type"] == "instrument" && r["customer_tenant_id"] == tenant)
                    .expect("instrument");
                assert_ne!(card["country"], c["country"]);
            }
            "nonpayment" => {
                assert!(billing.iter().any(|r| r["type"] == "payment"
                    && r["customer_tenant_id"] == tenant
                    && r["status"] == "failed"
                    && r["submitted_on"].as_str().expect("d") >= &start[..10]));
            }
            "card_testing" => {
                let added = billing
                    .iter()
                    .filter(|r| {
                        r["type"] == "instrument"
                            && r["customer_tenant_id"] == tenant
                            && r["action"] == "added"
                            && &r["at"].as_str().expect("at")[..19] >= start
                            && &r["at"].as_str().expect("at")[..19] <= end
                    })
                    .count();
                assert!(added >= 8, "{added} cards for {l}");
            }
            "traveller" => {
                let abroad = signins_of(root, tenant)
                    .iter()
                    .filter(|s| {
                        let t = &s["createdDateTime"].as_str().expect("t")[..19];
                        t >= start && t < end && s["status"]["errorCode"] == 0
                    })
                    .count();
                assert!(abroad > 0, "no sign-in during the trip {l}");
            }
            _ => {}
        }
    }
}

#[test]
fn every_file_has_the_documented_shape() {
    let (dir, summary) = run(&cfg(30, 40, 5));
    let root = dir.path();
    for f in &summary.files {
        let name = f.to_string_lossy();
        if name.ends_with(".json") {
            let v = json(f);
            assert!(v.is_object(), "{name}");
        }
    }
    for line in std::fs::read_to_string(root.join("billing.jsonl"))
        .expect("billing")
        .lines()
    {
        let v: Value = serde_json::from_str(line).expect("billing line");
        let t = v["type"].as_str().expect("type");
        assert!(["customer", "invoice", "payment", "instrument"].contains(&t));
        for key in ["amount"] {
            if let Some(a) = v.get(key).and_then(Value::as_str) {
                let d = dec(a);
                assert_eq!(d.scale(), 2, "{line}");
            }
        }
    }
    let customers = json(&root.join("customers.json"));
    for c in customers["items"].as_array().expect("items") {
        let tenant = c["id"].as_str().expect("id");
        assert_eq!(c["companyProfile"]["tenantId"], tenant);
        let subs = json(&root.join(format!("subscriptions/{tenant}.json")));
        assert_eq!(
            subs["totalCount"].as_u64(),
            Some(subs["items"].as_array().expect("items").len() as u64)
        );
        let signins = json(&root.join(format!("signins/{tenant}.json")));
        assert!(signins["@odata.context"]
            .as_str()
            .expect("context")
            .contains("auditLogs/signIns"));
        for s in signins["value"].as_array().expect("value") {
            for key in [
                "id",
                "createdDateTime",
                "userPrincipalName",
                "userId",
                "userDisplayName",
                "appId",
                "appDisplayName",
                "ipAddress",
                "clientAppUsed",
                "conditionalAccessStatus",
                "isInteractive",
                "riskDetail",
                "riskLevelAggregated",
                "riskLevelDuringSignIn",
                "riskState",
                "riskEventTypes_v2",
                "resourceTenantId",
                "status",
                "location",
                "deviceDetail",
            ] {
                assert!(s.get(key).is_some(), "sign-in without {key}: {s}");
            }
            assert_eq!(s["resourceTenantId"], tenant);
        }
    }
    let activity: Vec<PathBuf> = std::fs::read_dir(root.join("activity_log"))
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    let (mut rest, mut records) = (0, 0);
    for f in &activity {
        let v = json(f);
        if let Some(events) = v.get("value").and_then(Value::as_array) {
            rest += 1;
            for e in events {
                assert!(e["operationName"]["value"].is_string());
                assert!(e["tenantId"].is_string());
                if let Some(body) = e["properties"].get("requestbody").and_then(Value::as_str) {
                    let _: Value = serde_json::from_str(body).expect("requestbody is JSON");
                }
            }
        } else {
            records += 1;
            for e in v["records"].as_array().expect("records") {
                let id = field(e, &["resourceId"]);
                assert_eq!(id, id.to_uppercase());
                assert!(e["resultType"].is_string());
            }
        }
    }
    assert!(rest > 0 && records > 0, "both activity log shapes are used");
    let fraud = json(&root.join("fraud_events.json"));
    for e in fraud["items"].as_array().expect("items") {
        let id = format!(
            "{}_{}",
            field(e, &["subscriptionId"]),
            field(e, &["entityId"])
        );
        assert_eq!(e["eventId"], id.as_str());
        if e["eventStatus"] != "Resolved" {
            assert_eq!(e["resolvedReason"], "None");
            assert_eq!(e["resolvedOn"], "9999-12-31T23:59:59.9970000");
        }
        if let Some(logs) = e.get("activityLogs") {
            let _: Value =
                serde_json::from_str(logs.as_str().expect("string")).expect("activityLogs is JSON");
        }
    }
}

#[test]
fn degenerate_configs_write_empty_but_valid_files() {
    for (customers, days) in [
        (0, 90),
        (50, 0),
        (0, 0),
        (1, 1),
        (5, 3),
        (19, 30),
        (20, 7),
        (21, 8),
        (25, 13),
        (3, 400),
    ] {
        let (dir, summary) = run(&cfg(customers, days, 1));
        let root = dir.path();
        assert_eq!(summary.customers, customers);
        let c = json(&root.join("customers.json"));
        assert_eq!(c["totalCount"].as_u64(), Some(customers as u64));
        let l = json(&root.join("labels.json"));
        assert_eq!(l["days"].as_u64(), Some(u64::from(days)));
        let _ = json(&root.join("fraud_events.json"));
        let rows = usage_rows(root);
        assert_eq!(rows.len() as u64, summary.usage_rows);
        for row in &rows {
            check_money(row);
        }
        if days == 0 || customers == 0 {
            assert_eq!(summary.usage_rows, 0);
            assert_eq!(summary.incidents, 0);
        }
        if customers >= 20 && days >= 7 {
            assert!(
                summary.incidents >= 5,
                "{customers} x {days}: {} incidents",
                summary.incidents
            );
        }
    }
}

#[test]
fn a_rerun_with_fewer_customers_leaves_no_stale_files() {
    let dir = tempfile::tempdir().expect("dir");
    let big = simulate(&cfg(30, 40, 1), dir.path()).expect("big");
    let small = simulate(&cfg(10, 20, 1), dir.path()).expect("small");
    let count = |sub: &str| {
        std::fs::read_dir(dir.path().join(sub))
            .expect("dir")
            .count()
    };
    assert!(big.files.len() > small.files.len());
    assert_eq!(count("signins"), 10);
    assert_eq!(count("subscriptions"), 10);
    assert_eq!(count("usage"), 1);
}

#[test]
fn overlong_window_is_rejected() {
    let dir = tempfile::tempdir().expect("dir");
    let err = simulate(&cfg(1, 100_000, 1), dir.path());
    assert!(matches!(err, Err(SimError::Config(_))));
}

#[test]
fn benchmark_writes_header_and_exact_rows() {
    let mut a = Vec::new();
    write_usage_benchmark(5_000, 9, &mut a).expect("write");
    let mut b = Vec::new();
    write_usage_benchmark(5_000, 9, &mut b).expect("write");
    assert!(a == b, "deterministic");
    let mut reader = csv::Reader::from_reader(a.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, USAGE_COLUMNS);
    let mut n = 0;
    for rec in reader.records() {
        let rec = rec.expect("record");
        assert_eq!(rec.len(), 55);
        let row: BTreeMap<String, String> = header
            .iter()
            .cloned()
            .zip(rec.iter().map(str::to_string))
            .collect();
        check_money(&row);
        n += 1;
    }
    assert_eq!(n, 5_000);
    let per_row = a.len() / 5_000;
    assert!((600..=800).contains(&per_row), "{per_row} bytes a row");
    let mut empty = Vec::new();
    write_usage_benchmark(0, 9, &mut empty).expect("write");
    assert_eq!(empty.iter().filter(|&&b| b == b'\n').count(), 1);
}

#[test]
fn benchmark_throughput() {
    // Release builds must beat 300k rows/s (the target is 1M/s); debug builds only exercise the path.
    let rows: u64 = if cfg!(debug_assertions) {
        100_000
    } else {
        2_000_000
    };
    let mut sink = std::io::sink();
    let t = std::time::Instant::now();
    write_usage_benchmark(rows, 1, &mut sink).expect("write");
    let per_sec = rows as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "benchmark writer: {rows} rows in {:?} = {per_sec:.0} rows/s",
        t.elapsed()
    );
    if !cfg!(debug_assertions) {
        assert!(per_sec > 300_000.0, "{per_sec:.0} rows/s");
    }
}

#[test]
fn default_config_volume() {
    let dir = tempfile::tempdir().expect("dir");
    let t = std::time::Instant::now();
    let s = simulate(&SimConfig::default(), dir.path()).expect("simulate");
    eprintln!(
        "default config: {} customers, {} usage rows, {} sign-ins, {} activity ops, {} fraud events, {} billing records, {} incidents, {} benign, {} files in {:?}",
        s.customers,
        s.usage_rows,
        s.signins,
        s.activity_ops,
        s.fraud_events,
        s.billing_records,
        s.incidents,
        s.benign,
        s.files.len(),
        t.elapsed()
    );
    assert!(
        (150_000..=250_000).contains(&s.usage_rows),
        "{} usage rows",
        s.usage_rows
    );
    assert_eq!(s.incidents, 20);
    assert_eq!(s.benign, 24);
}
