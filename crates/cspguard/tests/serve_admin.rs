//! `cspguard serve`'s billing and administration routes as a user meets them: the real binary on a loopback port,
//! every role against every new route, the same JSON as the CLI's `--json`, reseller scope (lists filtered, other
//! resellers' objects 404), exception status and user creation audited as the signed-in user.

use serde_json::Value;
use std::path::Path;

mod support;
use support::*;

async fn audit_entries(data: &Path) -> Vec<cspguard_store::AuditEntry> {
    let store = cspguard_store::Store::open(&format!("sqlite://{}/cspguard.db", data.display()))
        .await
        .unwrap();
    let v = store
        .audit(&cspguard_store::AuditFilter {
            limit: Some(1_000_000),
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
    v
}

fn cli_json(data: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(data, args, None)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_and_admin_routes_follow_the_role_matrix_the_cli_and_the_reseller_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let data = book_data(tmp.path());
    // The simulated book's fraud cases are all of direct customers: overdue invoices open nonpayment cases for
    // indirect resellers' customers too.
    ok(&data, &["credit", "check", "--as-of", "2030-01-01"], None);
    let tokens = [
        user(&data, "ada", "global-admin", None),
        user(&data, "umar", "user-management-admin", None),
        user(&data, "agnes", "admin-agent", None),
        user(&data, "bill", "billing-admin", None),
    ];
    let admin = tokens[0].clone();
    let srv = start(&data).await;
    let b = &srv.base;

    let (_, customers) = call("GET", &format!("{b}/api/v1/customers"), Some(&admin), None).await;
    let customers = customers["customers"].as_array().unwrap().clone();
    // A reseller with a case (its customers are the scoped user's), and a case of anybody else.
    let (_, cases) = call("GET", &format!("{b}/api/v1/cases"), Some(&admin), None).await;
    let cases = cases["cases"].as_array().unwrap().clone();
    let reseller_of = |tenant: &str| {
        customers
            .iter()
            .find(|c| c["tenant_id"] == tenant)
            .and_then(|c| c["reseller_mpn_id"].as_str())
            .map(str::to_string)
    };
    let reseller = cases
        .iter()
        .find_map(|c| reseller_of(c["customer_tenant_id"].as_str().unwrap()))
        .expect("a case of an indirect reseller's customer");
    let mine: std::collections::HashSet<String> = customers
        .iter()
        .filter(|c| c["reseller_mpn_id"].as_str() == Some(reseller.as_str()))
        .map(|c| c["tenant_id"].as_str().unwrap().to_string())
        .collect();
    assert!(!mine.is_empty() && mine.len() < customers.len());
    let rita = user(&data, "rita", "billing-admin", Some(&reseller));

    // One exception request draft inside the reseller's scope, one outside.
    let tenant_of = |c: &Value| c["customer_tenant_id"].as_str().unwrap().to_string();
    let own_case = cases
        .iter()
        .find(|c| mine.contains(&tenant_of(c)))
        .expect("a case of the reseller's customers");
    let foreign_case = cases
        .iter()
        .find(|c| !mine.contains(&tenant_of(c)))
        .expect("a case of another customer");
    let own_id = own_case["id"].as_str().unwrap().to_string();
    let foreign_id = foreign_case["id"].as_str().unwrap().to_string();
    ok(&data, &["exception", "open", &own_id], None);
    ok(&data, &["exception", "open", &foreign_id], None);
    let (_, reqs) = call("GET", &format!("{b}/api/v1/exceptions"), Some(&admin), None).await;
    let reqs = reqs["requests"].as_array().unwrap().clone();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    let req_of = |case: &str| {
        reqs.iter().find(|r| r["case_id"] == case).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (own_req, foreign_req) = (req_of(&own_id), req_of(&foreign_id));

    // Role x route: [global admin, user management admin, admin agent, billing admin]. Allowed means neither 401 nor
    // 403 (the POSTs send a body the route refuses with 400, so nothing changes); refused is 403; no credential 401.
    let bad_status = serde_json::json!({"status": "bogus"});
    let bad_user = serde_json::json!({"username": "x", "role": "boss", "password": "0123456789ab"});
    let window = serde_json::json!({"from": "2020-01-01", "to": "2030-12-31"});
    let toml =
        serde_json::json!({"toml": "[[rules]]\nname = \"r\"\ncondition = \"signal.score > 1\"\n"});
    let billing_only = [true, false, false, true];
    let routes: Vec<(&str, String, Option<Value>, [bool; 4])> = vec![
        ("GET", format!("{b}/api/v1/receivables"), None, billing_only),
        (
            "GET",
            format!("{b}/api/v1/credit?as_of=2030-01-01"),
            None,
            billing_only,
        ),
        ("GET", format!("{b}/api/v1/exceptions"), None, billing_only),
        (
            "GET",
            format!("{b}/api/v1/exceptions/check/{own_id}"),
            None,
            billing_only,
        ),
        (
            "POST",
            format!("{b}/api/v1/exceptions/{own_req}/status"),
            Some(bad_status.clone()),
            billing_only,
        ),
        (
            "GET",
            format!("{b}/api/v1/report/liability"),
            None,
            billing_only,
        ),
        (
            "GET",
            format!("{b}/api/v1/rules"),
            None,
            [true, false, true, true],
        ),
        (
            "POST",
            format!("{b}/api/v1/rules/check"),
            Some(toml.clone()),
            [true, false, true, false],
        ),
        (
            "POST",
            format!("{b}/api/v1/rules/backtest"),
            Some(window.clone()),
            [true, false, true, false],
        ),
        (
            "GET",
            format!("{b}/api/v1/users"),
            None,
            [true, true, false, false],
        ),
        (
            "POST",
            format!("{b}/api/v1/users"),
            Some(bad_user.clone()),
            [true, true, false, false],
        ),
    ];
    for (method, url, body, allowed) in &routes {
        let (anon, _) = call(method, url, None, body.clone()).await;
        assert_eq!(anon, 401, "{method} {url} without a credential");
        for (i, t) in tokens.iter().enumerate() {
            let (status, v) = call(method, url, Some(t), body.clone()).await;
            if allowed[i] {
                assert!(
                    status != 401 && status != 403 && status < 500,
                    "{method} {url} as role #{i}: {status} {v}"
                );
            } else {
                assert_eq!(status, 403, "{method} {url} as role #{i}: {v}");
            }
        }
    }
    let spec: Value = reqwest::get(format!("{b}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/api/v1/receivables",
        "/api/v1/credit",
        "/api/v1/exceptions",
        "/api/v1/exceptions/check/{case}",
        "/api/v1/exceptions/{id}/status",
        "/api/v1/report/liability",
        "/api/v1/rules",
        "/api/v1/rules/check",
        "/api/v1/rules/backtest",
        "/api/v1/users",
    ] {
        assert!(spec["paths"][p].is_object(), "{p} in the OpenAPI document");
    }

    // The same JSON as the CLI's --json, on a fixed day.
    let day = "2030-01-01";
    let (_, recv) = call(
        "GET",
        &format!("{b}/api/v1/receivables?as_of={day}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        recv,
        cli_json(&data, &["receivables", "--json", "--as-of", day])
    );
    assert!(
        !recv["open_invoices"].as_array().unwrap().is_empty(),
        "the book has open invoices"
    );
    let (_, credit) = call(
        "GET",
        &format!("{b}/api/v1/credit?as_of={day}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        credit,
        cli_json(&data, &["credit", "--json", "--as-of", day])
    );
    let (_, report) = call(
        "GET",
        &format!("{b}/api/v1/report/liability?as_of={day}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        report,
        cli_json(&data, &["report", "liability", "--json", "--as-of", day])
    );
    let (_, check) = call(
        "GET",
        &format!("{b}/api/v1/exceptions/check/{own_id}?as_of={day}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        check,
        cli_json(
            &data,
            &["exception", "check", &own_id, "--json", "--as-of", day]
        )
    );
    let (s, _) = call(
        "GET",
        &format!("{b}/api/v1/receivables?as_of=yesterday"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 400);

    // Reseller scope: lists hold only the reseller's customers; another reseller's case and request are 404.
    let (_, recv) = call(
        "GET",
        &format!("{b}/api/v1/receivables?as_of={day}"),
        Some(&rita),
        None,
    )
    .await;
    for l in recv["open_invoices"].as_array().unwrap() {
        assert!(mine.contains(&tenant_of(l)), "{l}");
    }
    for r in recv["by_customer"].as_array().unwrap() {
        assert!(mine.contains(r["group"].as_str().unwrap()), "{r}");
    }
    let (_, credit) = call(
        "GET",
        &format!("{b}/api/v1/credit?as_of={day}"),
        Some(&rita),
        None,
    )
    .await;
    let rows = credit["customers"].as_array().unwrap();
    assert!(!rows.is_empty());
    for c in rows {
        assert!(mine.contains(&tenant_of(c)), "{c}");
    }
    let (_, report) = call(
        "GET",
        &format!("{b}/api/v1/report/liability"),
        Some(&rita),
        None,
    )
    .await;
    for c in report["top_customers"].as_array().unwrap() {
        assert!(mine.contains(&tenant_of(c)), "{c}");
    }
    let (_, list) = call("GET", &format!("{b}/api/v1/exceptions"), Some(&rita), None).await;
    let ids: Vec<&str> = list["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![own_req.as_str()]);
    let (s, _) = call(
        "GET",
        &format!("{b}/api/v1/exceptions/check/{foreign_id}"),
        Some(&rita),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        "GET",
        &format!("{b}/api/v1/exceptions/check/CS-NOPE"),
        Some(&rita),
        None,
    )
    .await;
    assert_eq!(s, 404, "missing and out of scope look the same");
    let submit = serde_json::json!({"status": "submitted", "ticket": "T-1"});
    let (s, _) = call(
        "POST",
        &format!("{b}/api/v1/exceptions/{foreign_req}/status"),
        Some(&rita),
        Some(submit.clone()),
    )
    .await;
    assert_eq!(s, 404);
    let (s, v) = call(
        "POST",
        &format!("{b}/api/v1/exceptions/{own_req}/status"),
        Some(&rita),
        Some(submit.clone()),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["request"]["status"], "submitted");
    assert_eq!(v["request"]["ticket"], "T-1");
    let (s, _) = call(
        "POST",
        &format!("{b}/api/v1/exceptions/{own_req}/status"),
        Some(&rita),
        Some(submit),
    )
    .await;
    assert_eq!(s, 409, "a submitted request cannot be submitted again");
    let listed = cli_json(&data, &["exception", "list", "--json"]);
    let foreign = listed["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == foreign_req.as_str())
        .unwrap();
    assert_eq!(
        foreign["status"], "draft",
        "the refused update changed nothing"
    );

    // Rules: a broken condition is reported, nothing is written; the backtest is the CLI's.
    let (_, v) = call(
        "POST",
        &format!("{b}/api/v1/rules/check"),
        Some(&tokens[2]),
        Some(toml),
    )
    .await;
    assert_eq!(v["valid"], true, "{v}");
    let broken =
        serde_json::json!({"toml": "[[rules]]\nname = \"bad\"\ncondition = \"signal.score >\"\n"});
    let (_, v) = call(
        "POST",
        &format!("{b}/api/v1/rules/check"),
        Some(&tokens[2]),
        Some(broken),
    )
    .await;
    assert_eq!(v["valid"], false);
    assert!(v["errors"][0].as_str().unwrap().contains("bad"), "{v}");
    let (_, bt) = call(
        "POST",
        &format!("{b}/api/v1/rules/backtest"),
        Some(&tokens[2]),
        Some(window),
    )
    .await;
    let cli = cli_json(
        &data,
        &[
            "rules",
            "backtest",
            "--from",
            "2020-01-01",
            "--to",
            "2030-12-31",
            "--json",
        ],
    );
    assert_eq!(bt["alerts"], cli["alerts"]);
    assert_eq!(bt["rows"], cli["rows"]);
    assert!(bt["alerts"].as_u64().unwrap() > 0);

    drop(srv);
    let audit = audit_entries(&data).await;
    assert!(
        audit
            .iter()
            .any(|e| e.verb == "exception.submitted" && e.actor == "rita"),
        "the status change is audited as the signed-in user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_added_through_the_api_audited_and_limited_by_role_and_reseller() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = user(&data, "ada", "global-admin", None);
    let um = user(&data, "umar", "user-management-admin", None);
    let agent = user(&data, "agnes", "admin-agent", None);
    let scoped = user(&data, "ursula", "user-management-admin", Some("1234567"));
    let srv = start(&data).await;
    let url = format!("{}/api/v1/users", srv.base);
    let new = |name: &str, role: &str, reseller: Option<&str>| serde_json::json!({"username": name, "role": role, "reseller_mpn_id": reseller, "password": "new user password"});

    let (s, v) = call(
        "POST",
        &url,
        Some(&um),
        Some(new("nina", "billing_admin", None)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["role"], "billing_admin");
    let signin = reqwest::Client::new()
        .post(format!("{}/api/v1/session", srv.base))
        .json(&serde_json::json!({"username": "nina", "password": "new user password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), 204, "the new user signs in");
    let (s, _) = call(
        "POST",
        &url,
        Some(&um),
        Some(new("nina", "billing_admin", None)),
    )
    .await;
    assert_eq!(s, 409, "the name is taken");
    let (s, _) = call(
        "POST",
        &url,
        Some(&agent),
        Some(new("otto", "admin_agent", None)),
    )
    .await;
    assert_eq!(s, 403, "an admin agent may not manage users");
    let (s, _) = call(
        "POST",
        &url,
        Some(&um),
        Some(new("gus", "global_admin", None)),
    )
    .await;
    assert_eq!(s, 403, "only a global admin makes a global admin");
    let (s, _) = call(
        "POST",
        &url,
        Some(&admin),
        Some(new("gus", "global_admin", None)),
    )
    .await;
    assert_eq!(s, 201);
    let mut short = new("sam", "admin_agent", None);
    short["password"] = "short".into();
    let (s, v) = call("POST", &url, Some(&um), Some(short)).await;
    assert_eq!(s, 400, "{v}");
    // A reseller-scoped manager: only its own reseller's users, and it sees only those.
    let (s, _) = call(
        "POST",
        &url,
        Some(&scoped),
        Some(new("pia", "admin_agent", None)),
    )
    .await;
    assert_eq!(s, 403, "partner-wide is not its to give");
    let (s, _) = call(
        "POST",
        &url,
        Some(&scoped),
        Some(new("pia", "admin_agent", Some("7654321"))),
    )
    .await;
    assert_eq!(s, 403, "another reseller's user");
    let (s, v) = call(
        "POST",
        &url,
        Some(&scoped),
        Some(new("pia", "admin_agent", Some("1234567"))),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (_, v) = call("GET", &url, Some(&scoped), None).await;
    let names: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        ["pia", "ursula"].into()
    );
    let (_, v) = call("GET", &url, Some(&um), None).await;
    assert_eq!(v["users"].as_array().unwrap().len(), 7);
    assert!(
        v.to_string().find("argon2").is_none(),
        "no password hash leaves the server"
    );

    drop(srv);
    let audit = audit_entries(&data).await;
    let added: Vec<(&str, String)> = audit
        .iter()
        .filter(|e| e.verb == "user.added")
        .map(|e| (e.actor.as_str(), e.detail.clone()))
        .collect();
    assert!(
        added
            .iter()
            .any(|(a, d)| *a == "umar" && d.contains("nina")),
        "{added:?}"
    );
    assert!(
        added
            .iter()
            .any(|(a, d)| *a == "ursula" && d.contains("pia")),
        "{added:?}"
    );
    assert!(
        !added.iter().any(|(_, d)| d.contains("otto")),
        "a refused user is not added"
    );
    let v: Value = serde_json::from_str(&ok(&data, &["audit", "verify", "--json"], None)).unwrap();
    assert_eq!(v["ok"], true);
}
