//! `cspguard report liability` on a simulated book: exposure and money at risk by reseller, what acting before
//! Microsoft saved, and fraud credits once a request is filed and decided.

use serde_json::Value;
use std::path::Path;

mod support;
use support::book_data;

/// The binary's output for `args` on `data`, which must succeed.
fn ok(data: &Path, args: &[&str]) -> String {
    support::ok(data, args, None)
}

fn sum(v: &Value) -> f64 {
    v.as_object()
        .map(|m| {
            m.values()
                .map(|x| {
                    x.as_str()
                        .and_then(|s| s.parse::<f64>().ok())
                        .or(x.as_f64())
                        .unwrap_or(0.0)
                })
                .sum()
        })
        .unwrap_or(0.0)
}

#[test]
fn liability_reports_exposure_savings_and_credits() {
    let tmp = tempfile::tempdir().unwrap();
    let data = book_data(tmp.path());
    let r: Value = serde_json::from_str(&ok(&data, &["report", "liability", "--json"])).unwrap();
    assert!(sum(&r["exposure"]) > 0.0, "{}", r["exposure"]);
    assert!(sum(&r["money_at_risk"]) > 0.0, "{}", r["money_at_risk"]);
    let resellers = r["by_reseller"].as_array().unwrap();
    assert!(
        resellers.iter().any(|l| l["reseller_mpn_id"] == "-"),
        "direct customers are a row"
    );
    assert!(resellers.len() > 1, "indirect resellers have their rows");
    let by_reseller: f64 = resellers.iter().map(|l| sum(&l["exposure"])).sum();
    assert!(
        (by_reseller - sum(&r["exposure"])).abs() < 0.01,
        "the reseller rows add up to the total"
    );
    let early = r["early_actions"].as_array().unwrap();
    assert!(
        early
            .iter()
            .any(|e| e["hours_earlier"].as_f64().is_some_and(|h| h > 0.0)),
        "cspguard alerted before Microsoft on the cryptojacking incident: {early:?}"
    );
    assert_eq!(sum(&r["credits_claimed"]), 0.0);

    // A fraud credit filed, submitted and approved shows as claimed and received.
    let cases: Value = serde_json::from_str(&ok(&data, &["cases", "list", "--json"])).unwrap();
    let case = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "account_compromise" || c["kind"] == "resource_abuse")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &data,
        &[
            "--as",
            "ann",
            "cases",
            "resolve",
            &case,
            "--verdict",
            "fraud",
        ],
    );
    let pkg = tmp.path().join("pkg");
    ok(
        &data,
        &[
            "exception",
            "package",
            &case,
            "--out",
            pkg.to_str().unwrap(),
            "--as-of",
            "2026-09-20",
        ],
    );
    let list: Value = serde_json::from_str(&ok(&data, &["exception", "list", "--json"])).unwrap();
    let req = list.as_array().or(list["requests"].as_array()).unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &data,
        &[
            "exception",
            "status",
            &req,
            "submitted",
            "--ticket",
            "2609200010001",
        ],
    );
    ok(
        &data,
        &[
            "exception",
            "status",
            &req,
            "approved",
            "--credited",
            "1000",
        ],
    );
    let r: Value = serde_json::from_str(&ok(&data, &["report", "liability", "--json"])).unwrap();
    assert!(sum(&r["credits_claimed"]) > 0.0, "{}", r["credits_claimed"]);
    assert!(
        (sum(&r["credits_received"]) - 1000.0).abs() < 0.001,
        "{}",
        r["credits_received"]
    );
    let text = ok(&data, &["report", "liability"]);
    assert!(text.contains("fraud credits claimed / received"));
}
