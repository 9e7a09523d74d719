//! The fraud-credit exception request and onboarding screening end to end, through the real binary on a simulated
//! book (seed 2: a cryptojacking incident on Evergreen Robotics from 2026-09-06, a stolen-card sign-up of Alpine
//! Software Group).

use rust_decimal::Decimal;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

mod support;
use support::small_book;

const COMPROMISED: &str = "7b3b8024-8309-4f82-a108-968fea6e478c";
const STOLEN_CARD: &str = "aa61abab-b8bd-4382-8ae9-8ed5d77bc6a5";
/// A filing day inside the 60 days (the book's incident starts 2026-09-06).
const AS_OF: &str = "2026-09-20";

struct Book {
    tmp: tempfile::TempDir,
    data: PathBuf,
}

impl Book {
    fn new() -> Book {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let book = small_book(tmp.path());
        let b = Book { tmp, data };
        let o = b.run(
            &[
                "import",
                "auto",
                book.to_str().unwrap(),
                "--detect",
                "--quiet",
            ],
            None,
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        b
    }

    fn run(&self, args: &[&str], last: Option<&Path>) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cspguard"));
        c.arg("--data-dir")
            .arg(&self.data)
            .args(["--as", "ana"])
            .args(args);
        if let Some(p) = last {
            c.arg(p);
        }
        c.env_remove("CSPGUARD_CONFIG")
            .env_remove("CSPGUARD_DATABASE_URL");
        c.current_dir(self.tmp.path()).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args, None);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// The case of the compromised customer.
    fn compromise_case(&self) -> String {
        let cases = self.json(&["cases", "list", "--json"]);
        cases["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["customer_tenant_id"] == COMPROMISED)
            .expect("the cryptojacking incident opened a case")["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn rule<'a>(check: &'a Value, id: &str) -> &'a Value {
    check["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == id)
        .unwrap()
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap()).unwrap()
}

#[test]
fn a_verified_compromise_is_checked_packaged_and_filed_once_per_tenant() {
    let b = Book::new();
    let case = b.compromise_case();

    // Not verified yet: the case is open.
    let c = b.json(&["exception", "check", &case, "--json", "--as-of", AS_OF]);
    assert_eq!(c["eligible"], false);
    assert_eq!(rule(&c, "verified_compromise")["pass"], false);
    assert!(rule(&c, "verified_compromise")["reason"]
        .as_str()
        .unwrap()
        .contains("--verdict fraud"));

    b.ok(&["cases", "resolve", &case, "--verdict", "fraud"]);
    // By tenant ID too: its latest Fraud case.
    let c = b.json(&[
        "exception",
        "check",
        COMPROMISED,
        "--json",
        "--as-of",
        AS_OF,
    ]);
    assert_eq!(c["case_id"], case.as_str());
    assert_eq!(c["eligible"], true, "{:#}", c["rules"]);
    assert_eq!(c["rules"].as_array().unwrap().len(), 5);
    assert!(c["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["pass"] == true));
    assert_eq!(
        c["first_fraudulent_usage"], "2026-09-06",
        "the labelled incident start"
    );
    assert_eq!(
        c["claim_window"],
        serde_json::json!(["2026-09-06", "2026-10-05"])
    );
    assert_eq!(c["deadline"]["deadline"], "2026-11-04");
    assert_eq!(c["deadline"]["days_left"], 45);
    let total = dec(&c["totals"]["total"]["amount"]);
    assert!(
        total > Decimal::from(1000),
        "GPU burst of several days: {total}"
    );
    let lines = c["lines"].as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["included"] == false),
        "ordinary use of the window is listed as excluded"
    );
    for l in lines {
        assert!(!l["reason"].as_str().unwrap().is_empty());
        let day = l["day"].as_i64().unwrap();
        assert!((1..=30).contains(&day));
    }
    let by_day: Decimal = c["totals"]["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| dec(&b["total"]["amount"]))
        .sum();
    let by_region: Decimal = c["totals"]["by_region"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| dec(&b["total"]["amount"]))
        .sum();
    assert_eq!((by_day, by_region), (total, total));

    // Today (the real clock) is past 2026-11-04: too late.
    let late = b.json(&["exception", "check", &case, "--json"]);
    assert_eq!(rule(&late, "within_60_days")["pass"], false);
    assert_eq!(late["eligible"], false);

    // The package.
    let out = b.tmp.path().join("package");
    let o = b.run(
        &["exception", "package", &case, "--as-of", AS_OF, "--out"],
        Some(&out),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let by_ext = |ext: &str| {
        files
            .iter()
            .find(|p| p.to_string_lossy().ends_with(ext))
            .unwrap()
            .clone()
    };
    let pdf = std::fs::read(by_ext(".pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let md = std::fs::read_to_string(by_ext(".md")).unwrap();
    assert!(md.contains("## Eligibility") && md.contains("2026-11-04"));
    assert!(
        md.contains(&format!("{} USD", total.round_dp(2))),
        "the total is in the document"
    );
    let mut csv = csv::Reader::from_path(by_ext("-charges.csv")).unwrap();
    let cost = csv
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "cost")
        .unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let csv_total: Decimal = rows
        .iter()
        .map(|r| Decimal::from_str(&r[cost]).unwrap())
        .sum();
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(by_ext("-evidence.json")).unwrap()).unwrap();
    assert_eq!(
        csv_total,
        dec(&ev["assessment"]["totals"]["total"]["amount"]),
        "the CSV adds up to the total"
    );
    assert_eq!(csv_total, total);
    assert_eq!(
        rows.len() as u64,
        ev["assessment"]["totals"]["lines"].as_u64().unwrap()
    );
    assert!(!ev["timeline"].as_array().unwrap().is_empty());
    let request = ev["request"]["id"].as_str().unwrap().to_string();
    assert!(request.starts_with("EX-"));

    // Editing the claim: exclude a claimed line, the total drops by its cost; include it back.
    let first = &rows[0];
    let (line, line_cost) = (
        first[0].to_string(),
        Decimal::from_str(&first[cost]).unwrap(),
    );
    b.ok(&[
        "exception",
        "exclude",
        &request,
        &line[..8],
        "--reason",
        "the customer's own test VM",
    ]);
    let c = b.json(&["exception", "check", &case, "--json", "--as-of", AS_OF]);
    assert_eq!(dec(&c["totals"]["total"]["amount"]), total - line_cost);
    let l = c["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == line.as_str())
        .unwrap();
    assert_eq!(
        (l["included"].as_bool(), l["reason"].as_str()),
        (Some(false), Some("the customer's own test VM"))
    );
    b.ok(&[
        "exception",
        "include",
        &request,
        &line,
        "--reason",
        "checked: attacker's",
    ]);
    let c = b.json(&["exception", "check", &case, "--json", "--as-of", AS_OF]);
    assert_eq!(dec(&c["totals"]["total"]["amount"]), total);
    let o = b.run(
        &[
            "exception",
            "exclude",
            &request,
            "nosuchline",
            "--reason",
            "x",
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not in the claim window"));

    // A person can move the first fraudulent usage date (day 1 and the 60 days follow it).
    b.ok(&[
        "exception",
        "first-usage",
        COMPROMISED,
        "2026-09-07",
        "--reason",
        "the 09-06 usage was a test",
    ]);
    let c = b.json(&["exception", "check", &case, "--json", "--as-of", AS_OF]);
    assert_eq!(c["first_fraudulent_usage"], "2026-09-07");
    assert_eq!(c["deadline"]["deadline"], "2026-11-05");
    assert!(c["how_found"]
        .as_str()
        .unwrap()
        .starts_with("set by a person to 2026-09-07"));
    assert!(dec(&c["totals"]["total"]["amount"]) < total);
    b.ok(&[
        "exception",
        "first-usage",
        &request,
        "2026-09-06",
        "--reason",
        "reviewed: 09-06 was the attacker",
    ]);

    // Filed; then no second request for the tenant, ever.
    let o = b.run(&["exception", "status", &request, "submitted"], None);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--ticket"),
        "a submission needs the ticket"
    );
    b.ok(&[
        "exception",
        "status",
        &request,
        "submitted",
        "--ticket",
        "2409180010001234",
    ]);
    let o = b.run(
        &[
            "exception",
            "exclude",
            &request,
            &line,
            "--reason",
            "late edit",
        ],
        None,
    );
    assert!(!o.status.success(), "a submitted claim is not edited");
    let o = b.run(&["exception", "open", &case], None);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("already used its one exception request") && err.contains(&request),
        "{err}"
    );
    // Packaging the same request again is not a second request: it says it was submitted.
    let o = b.run(
        &["exception", "package", &case, "--as-of", AS_OF, "--out"],
        Some(&out),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{request} (submitted)")));
    assert!(std::fs::read_to_string(by_ext(".md"))
        .unwrap()
        .contains("Support ticket: 2409180010001234"));
    let c = b.json(&["exception", "check", &case, "--json", "--as-of", AS_OF]);
    assert_eq!(c["request"]["status"], "submitted");
    assert_eq!(c["request"]["ticket"], "2409180010001234");
    b.ok(&[
        "exception",
        "status",
        &request,
        "approved",
        "--credited",
        "1500.00",
    ]);
    let list = b.json(&["exception", "list", "--json"]);
    assert_eq!(list["requests"].as_array().unwrap().len(), 1);
    assert_eq!(list["requests"][0]["credited"]["amount"], "1500.00");

    // Every change is audited on the case, by the person acting.
    let shown = b.json(&["cases", "show", &case, "--json"]);
    let verbs: Vec<&str> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["verb"].as_str().unwrap())
        .collect();
    for v in [
        "exception.opened",
        "exception.packaged",
        "exception.line_excluded",
        "exception.line_included",
        "exception.first_usage_set",
        "exception.submitted",
        "exception.approved",
    ] {
        assert!(verbs.contains(&v), "{v} missing from {verbs:?}");
    }
    assert!(shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["verb"] == "exception.submitted" && e["actor"] == "ana"));
    // The deadline shows on the case (passed by now).
    assert_eq!(shown["exception_deadline"]["deadline"], "2026-11-04");
    let text = b.ok(&["cases", "show", &case]);
    assert!(
        text.contains("fraud-credit request: deadline 2026-11-04 PASSED"),
        "{text}"
    );
}

#[test]
fn new_customers_are_screened_once_and_a_stolen_card_signup_scores_high() {
    let b = Book::new();
    // `scan` screens every customer not screened yet, once.
    let s = b.json(&["scan", "--json"]);
    assert_eq!(s["screening"]["screened"], 40);
    let high: Vec<&str> = s["screening"]["high"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap())
        .collect();
    assert!(high.contains(&STOLEN_CARD), "{high:?}");
    let s = b.json(&["scan", "--json"]);
    assert_eq!(s["screening"]["screened"], 0, "screened once");

    let cases = b.json(&["cases", "list", "--json"]);
    let risk: Vec<&Value> = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "new_customer_risk")
        .collect();
    assert!(risk.iter().any(|c| c["customer_tenant_id"] == STOLEN_CARD));
    let n = risk.len();

    // On demand: screened again, with reasons and evidence; the open case is not doubled.
    let r = b.json(&["screen", STOLEN_CARD, "--json"]);
    assert!(r["score"].as_u64().unwrap() >= 60, "{r:#}");
    assert_eq!(r["level"], "high");
    let codes: Vec<&str> = r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    for want in [
        "prepaid_card",
        "instrument_country_mismatch",
        "consumption_before_payment",
        "mfa_not_enforced",
    ] {
        assert!(codes.contains(&want), "{codes:?}");
    }
    assert!(r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["evidence"].is_object()));
    let controls: Vec<&str> = r["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    for want in ["prepayment", "low_credit_limit", "no_admin_rights"] {
        assert!(controls.contains(&want), "{controls:?}");
    }
    let cases = b.json(&["cases", "list", "--json"]);
    assert_eq!(
        cases["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "new_customer_risk")
            .count(),
        n
    );
    let text = b.ok(&["screen", STOLEN_CARD]);
    assert!(text.contains("screening score") && text.contains("recommended controls"));

    // An unknown tenant is unusable input.
    let o = b.run(&["screen", "00000000-0000-4000-8000-000000000000"], None);
    assert_eq!(o.status.code(), Some(2));
}
