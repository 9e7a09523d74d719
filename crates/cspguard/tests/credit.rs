//! Credit control end to end: the real `cspguard` binary imports a small billing book (and the example usage file),
//! then `receivables`, `credit`, `credit check` (twice: the dunning actions are planned once) and `credit partner`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::small_book;

/// Has usage in the example file (September 2026), so it has billing subscriptions to suspend.
const A: &str = "795b929e-9a9a-80fd-ea7b-5bf55eb561a4";
const B: &str = "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a0b";
const C: &str = "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a0c";
const AS_OF: &str = "2026-11-05";

fn book() -> String {
    [
        // A: limit 1000 USD from cspguard.toml; 800 due 10-01, 300 paid: 500 open, 35 days past due.
        format!(r#"{{"type":"customer","customer_tenant_id":"{A}","name":"Contoso 0","country":"BR","created_at":"2025-01-01T00:00:00Z","credit_limit":{{"amount":"99999","currency":"USD"}},"payment_terms_days":30}}"#),
        format!(r#"{{"type":"invoice","invoice_id":"A-1","customer_tenant_id":"{A}","issued_on":"2026-09-01","due_on":"2026-10-01","period_start":"2026-08-01","period_end":"2026-08-31","amount":"800.00","currency":"USD"}}"#),
        format!(r#"{{"type":"payment","payment_id":"pa1","customer_tenant_id":"{A}","invoice_id":"A-1","amount":"300.00","currency":"USD","submitted_on":"2026-09-20","posted_on":"2026-09-21","status":"succeeded"}}"#),
        format!(r#"{{"type":"payment","payment_id":"pa2","customer_tenant_id":"{A}","invoice_id":"A-1","amount":"500.00","currency":"USD","submitted_on":"2026-10-01","status":"failed","failure_reason":"insufficient_funds"}}"#),
        // B (EUR, reseller 7654321): paid on the due date 11-03, not posted yet: in the posting window, not dunned.
        format!(r#"{{"type":"customer","customer_tenant_id":"{B}","name":"Fabrikam","country":"DE","reseller_mpn_id":"7654321","created_at":"2025-01-01T00:00:00Z","credit_limit":{{"amount":"5000","currency":"EUR"}},"payment_terms_days":30}}"#),
        format!(r#"{{"type":"invoice","invoice_id":"B-1","customer_tenant_id":"{B}","issued_on":"2026-10-04","due_on":"2026-11-03","period_start":"2026-09-01","period_end":"2026-09-30","amount":"1200.00","currency":"EUR"}}"#),
        format!(r#"{{"type":"payment","payment_id":"pb1","customer_tenant_id":"{B}","invoice_id":"B-1","amount":"1200.00","currency":"EUR","submitted_on":"2026-11-03","posted_on":null,"status":"succeeded"}}"#),
        // C (no limit of its own: the default 1500 USD): paid, then charged back: 2000 owed again, 16 days past due.
        format!(r#"{{"type":"customer","customer_tenant_id":"{C}","name":"Northwind","country":"US","reseller_mpn_id":"7654321","created_at":"2025-01-01T00:00:00Z"}}"#),
        format!(r#"{{"type":"invoice","invoice_id":"C-1","customer_tenant_id":"{C}","issued_on":"2026-09-20","due_on":"2026-10-20","period_start":"2026-08-01","period_end":"2026-08-31","amount":"2000.00","currency":"USD"}}"#),
        format!(r#"{{"type":"payment","payment_id":"pc1","customer_tenant_id":"{C}","invoice_id":"C-1","amount":"2000.00","currency":"USD","submitted_on":"2026-10-01","posted_on":"2026-10-02","status":"succeeded"}}"#),
        format!(r#"{{"type":"payment","payment_id":"pc2","customer_tenant_id":"{C}","invoice_id":"C-1","amount":"2000.00","currency":"USD","submitted_on":"2026-10-15","status":"disputed","failure_reason":"fraudulent"}}"#),
        // The partner: Microsoft's invoice due 09-01 unpaid (65 days on 11-05), 10000 of a 12000 limit.
        r#"{"type":"partner_invoice","invoice_id":"G-9","issued_on":"2026-08-08","due_on":"2026-09-01","amount":"10000.00","currency":"USD"}"#.to_string(),
        r#"{"type":"partner_credit_limit","observed_on":"2026-10-01","amount":"12000","currency":"USD"}"#.to_string(),
    ]
    .join("\n")
}

const SETTINGS: &str = r#"
[notify.billing]
type = "webhook"
url_env = "CSPGUARD_TEST_BILLING_WEBHOOK_UNSET"

[credit]
default_limit = "1500"
default_country = "US"
[credit.holidays]
DE = ["2026-10-03"]
[[credit.customers]]
customer = "795b929e-9a9a-80fd-ea7b-5bf55eb561a4"
limit = "1000"
currency = "USD"
terms_days = 45
[credit.dunning]
reminder_days = [1, 7, 14]
final_notice_day = 21
suspend_after_days = 30
channel = "billing"
"#;

struct World {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let config = tmp.path().join("cspguard.toml");
        std::fs::write(&config, SETTINGS).unwrap();
        let billing = tmp.path().join("billing.jsonl");
        std::fs::write(&billing, book()).unwrap();
        let usage = Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("../../testdata/examples/usage_small.csv");
        let w = World {
            _tmp: tmp,
            data,
            config,
        };
        let (code, out, err) = w.run(&[
            "import",
            "auto",
            billing.to_str().unwrap(),
            usage.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
        w
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_cspguard"))
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .args(["--as", "tester"])
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    fn json(&self, args: &[&str]) -> Value {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }
}

fn row<'a>(rows: &'a Value, group: &str, currency: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == group && r["currency"] == currency)
        .unwrap_or_else(|| panic!("no row {group} {currency} in {rows}"))
}

fn amount(v: &Value) -> f64 {
    v["amount"].as_str().unwrap().parse().unwrap()
}

#[test]
fn receivables_age_per_customer_reseller_and_currency() {
    let w = World::new();
    let r = w.json(&["receivables", "--json", "--as-of", AS_OF]);
    assert_eq!(r["as_of"], AS_OF);
    // USD and EUR are separate rows, never added.
    let usd = row(&r["totals"], "all", "USD");
    assert_eq!(amount(&usd["open"]), 2500.0);
    assert_eq!(amount(&usd["1-30"]), 2000.0);
    assert_eq!(amount(&usd["31-60"]), 500.0);
    // DSO = open 2500 / invoiced in the last 90 days (800 + 2000) x 90.
    assert_eq!(usd["dso_days"], "80.36");
    let eur = row(&r["totals"], "all", "EUR");
    assert_eq!(amount(&eur["1-30"]), 1200.0);
    assert_eq!(amount(&row(&r["by_customer"], A, "USD")["31-60"]), 500.0);
    assert_eq!(
        amount(&row(&r["by_reseller"], "7654321", "USD")["1-30"]),
        2000.0
    );
    assert_eq!(amount(&row(&r["by_reseller"], "-", "USD")["31-60"]), 500.0);
    let inv = |id: &str| {
        r["open_invoices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["invoice_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(inv("C-1")["reopened"], true);
    assert_eq!(inv("C-1")["status"], "overdue");
    assert_eq!(inv("B-1")["status"], "in_transit");
    assert_eq!(inv("A-1")["days_past_due"], 35);

    let one = w.json(&[
        "receivables",
        "--json",
        "--as-of",
        AS_OF,
        "--reseller",
        "7654321",
    ]);
    let ids: Vec<&str> = one["open_invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["invoice_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["C-1", "B-1"]);
    let one = w.json(&["receivables", "--json", "--as-of", AS_OF, "--customer", A]);
    assert_eq!(one["open_invoices"].as_array().unwrap().len(), 1);
    let (code, _, err) = w.run(&["receivables", "--customer", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("--customer"), "{err}");
}

#[test]
fn credit_shows_exposure_against_each_limit() {
    let w = World::new();
    let r = w.json(&["credit", "--json", "--as-of", AS_OF]);
    let cust = |t: &str| {
        r["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["customer_tenant_id"] == t)
            .unwrap_or_else(|| panic!("{t} missing from {r}"))
            .clone()
    };
    let a = cust(A);
    assert_eq!(a["limit_source"], "settings");
    assert_eq!(amount(&a["limit"]), 1000.0);
    assert_eq!(a["terms_days"], 45);
    assert_eq!(amount(&a["open_invoices"]), 500.0);
    // Usage after the invoiced August is unbilled (the example file is September's).
    assert!(amount(&a["unbilled_usage"]) > 0.0);
    assert_eq!(a["unbilled_from"], "2026-09-01");
    let b = cust(B);
    assert_eq!(b["limit_source"], "billing");
    assert_eq!(b["currency"], "EUR");
    let c = cust(C);
    assert_eq!(c["limit_source"], "default");
    assert_eq!(c["breach"], true);
    assert_eq!(c["threshold"], "100");
    let breaches: Vec<&str> = r["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(breaches.contains(&C), "{breaches:?}");
}

#[test]
fn credit_check_opens_cases_and_plans_dunning_once() {
    let w = World::new();
    let first = w.json(&["credit", "check", "--json", "--as-of", AS_OF]);
    // A: nonpayment; C: nonpayment and credit_limit.
    assert_eq!(first["cases_opened"], 3, "{first}");
    assert_eq!(first["overdue_invoices"], 2, "{first}");
    // The partner's own invoice is past Microsoft's 60-day rule: the check says so.
    assert!(first["partner"].to_string().contains("60-day"), "{first}");
    let planned = first["actions_planned"].as_u64().unwrap();
    assert!(planned >= 3, "{first}");

    let again = w.json(&["credit", "check", "--json", "--as-of", AS_OF]);
    assert_eq!(again["cases_opened"], 0, "{again}");
    assert_eq!(again["cases_updated"], 0, "{again}");
    assert_eq!(again["actions_planned"], 0, "{again}");

    let actions = w.json(&["actions", "list", "--json"]);
    let actions = actions["actions"].as_array().unwrap();
    assert_eq!(actions.len() as u64, planned);
    let reasons: Vec<(&str, &str, &str)> = actions
        .iter()
        .map(|a| {
            (
                a["kind"]["type"].as_str().unwrap(),
                a["state"].as_str().unwrap(),
                a["reason"].as_str().unwrap(),
            )
        })
        .collect();
    // C-1, 16 days past due: the 14-day reminder; A-1, 35 days: the final notice and suspensions needing approval.
    assert!(reasons.iter().any(|(k, s, r)| *k == "notify"
        && *s == "ready"
        && r.contains("C-1")
        && r.contains("reminder (14")));
    assert!(reasons
        .iter()
        .any(|(k, _, r)| *k == "notify" && r.contains("A-1") && r.contains("final notice")));
    let suspensions: Vec<_> = reasons
        .iter()
        .filter(|r| r.0 == "suspend_subscription")
        .collect();
    assert!(!suspensions.is_empty());
    assert!(suspensions
        .iter()
        .all(|(_, s, r)| *s == "awaiting_approval" && r.contains("A-1")));

    // The executor takes them: notices run (here in dry run), suspensions wait for their approval.
    let run = w.json(&["actions", "run", "--dry-run", "--json"]);
    assert_eq!(run["dry_run"], 2, "{run}");

    // A later day moves C-1 to the final notice: one new action, the earlier ones stay single.
    let later = w.json(&["credit", "check", "--json", "--as-of", "2026-11-10"]);
    assert_eq!(later["actions_planned"], 1, "{later}");
    assert_eq!(later["cases_opened"], 0, "{later}");

    let cases = w.json(&["cases", "list", "--json"]);
    let kinds: Vec<&str> = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "nonpayment").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "credit_limit").count(),
        1,
        "{kinds:?}"
    );

    // A person resolves C's nonpayment case (a payment plan was agreed): no more dunning for that invoice, and no new
    // case for it.
    let c_case = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "nonpayment" && c["customer_tenant_id"] == C)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, out, err) = w.run(&["cases", "resolve", &c_case, "--verdict", "legitimate"]);
    assert_eq!(code, 0, "{out}{err}");
    // On 11-21 C-1 (32 days) would call for suspension; B-1's posting window has closed, so B's case opens.
    let after = w.json(&["credit", "check", "--json", "--as-of", "2026-11-21"]);
    assert!(after["settled"].to_string().contains("C-1"), "{after}");
    assert!(!after["warnings"].to_string().contains("C-1"), "{after}");
    assert_eq!(after["cases_opened"], 1, "{after}");
    let cases = w.json(&["cases", "list", "--json"]);
    let of = |t: &str| {
        cases["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "nonpayment" && c["customer_tenant_id"] == t)
            .count()
    };
    assert_eq!((of(A), of(B), of(C)), (1, 1, 1));
}

#[test]
fn credit_partner_shows_the_60_day_rule_and_the_limit_notice() {
    let w = World::new();
    let p = w.json(&["credit", "partner", "--json", "--as-of", AS_OF]);
    assert_eq!(p["oldest_overdue_days"], 65);
    assert_eq!(p["suspension_risk"], true);
    assert_eq!(p["credit_notice"], "70");
    assert_eq!(p["credit_use_pct"], "83.33");
    assert_eq!(p["pay_within_24h"], false);
    let (code, out, _) = w.run(&["credit", "partner", "--as-of", AS_OF]);
    assert_eq!(code, 0);
    assert!(out.contains("60-day"), "{out}");
}

#[test]
fn a_dunning_channel_that_is_not_defined_is_refused() {
    let w = World::new();
    std::fs::write(&w.config, "[credit.dunning]\nchannel = \"nowhere\"\n").unwrap();
    let (code, _, err) = w.run(&["credit", "--as-of", AS_OF]);
    assert_eq!(code, 1);
    assert!(err.contains("[notify.nowhere]"), "{err}");
}

/// The simulator's nonpayment incident opens a nonpayment case with a suspension to approve; its benign payment made in
/// the posting window does not; `scan` runs the check too.
#[test]
fn the_simulated_nonpayment_incident_is_dunned_and_the_posting_window_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let book = small_book(tmp.path());
    let labels: Value =
        serde_json::from_str(&std::fs::read_to_string(book.join("labels.json")).unwrap()).unwrap();
    let find = |kind: &str| -> String {
        labels
            .as_object()
            .unwrap()
            .values()
            .filter_map(|v| v.as_array())
            .flatten()
            .find(|i| i["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in labels.json"))["customer_tenant_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (late, in_window) = (find("nonpayment"), find("payment_in_posting_window"));
    let w = World {
        data: tmp.path().join("data"),
        config: tmp.path().join("cspguard.toml"),
        _tmp: tmp,
    };
    std::fs::write(&w.config, "").unwrap();
    let (code, out, err) = w.run(&[
        "import",
        "auto",
        book.join("billing.jsonl").to_str().unwrap(),
        book.join("usage").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let end = labels["end"].as_str().unwrap()[..10].to_string();
    let check = w.json(&["credit", "check", "--json", "--as-of", &end]);
    // Without a dunning channel, notices are not planned, and the check says so.
    assert!(
        check["warnings"]
            .to_string()
            .contains("[credit.dunning] channel"),
        "{check}"
    );
    let cases = w.json(&["cases", "list", "--json"]);
    let nonpayment: Vec<&str> = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "nonpayment")
        .map(|c| c["customer_tenant_id"].as_str().unwrap())
        .collect();
    assert!(nonpayment.contains(&late.as_str()), "{nonpayment:?}");
    assert!(!nonpayment.contains(&in_window.as_str()), "{nonpayment:?}");
    let r = w.json(&[
        "receivables",
        "--json",
        "--as-of",
        &end,
        "--customer",
        &in_window,
    ]);
    assert_eq!(r["totals"][0]["overdue_invoices"], 0, "{r}");

    let scan = w.json(&["scan", "--json"]);
    assert!(scan["credit"]["as_of"].is_string(), "{scan}");
}
