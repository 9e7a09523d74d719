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
    let routes: Vec<MatrixRoute> = vec![
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
        // The new routes, each asked for something that is not there (404) or not a format (400): nothing changes.
        (
            "POST",
            format!("{b}/api/v1/exceptions"),
            Some(serde_json::json!({"case": "CS-NOPE"})),
            billing_only,
        ),
        (
            "POST",
            format!("{b}/api/v1/exceptions/{own_req}/lines/zzzzzzzz"),
            Some(serde_json::json!({"included": false, "reason": "not ours"})),
            billing_only,
        ),
        (
            "GET",
            format!("{b}/api/v1/exceptions/{own_req}/package/docx"),
            None,
            billing_only,
        ),
        (
            "POST",
            format!("{b}/api/v1/users/nobody/disable"),
            None,
            [true, true, false, false],
        ),
        (
            "POST",
            format!("{b}/api/v1/users/nobody/enable"),
            None,
            [true, true, false, false],
        ),
        (
            "POST",
            format!("{b}/api/v1/users/nobody/tokens"),
            Some(serde_json::json!({"name": "ci"})),
            [true, true, false, false],
        ),
        (
            "DELETE",
            format!("{b}/api/v1/users/nobody/tokens/0123456789abcdef"),
            None,
            [true, true, false, false],
        ),
    ];
    assert_role_matrix(&routes, [&tokens[0], &tokens[1], &tokens[2], &tokens[3]]).await;
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
        "/api/v1/exceptions/{id}/lines/{line}",
        "/api/v1/exceptions/{id}/package/{format}",
        "/api/v1/users/{name}/disable",
        "/api/v1/users/{name}/enable",
        "/api/v1/users/{name}/tokens",
        "/api/v1/users/{name}/tokens/{id}",
    ] {
        assert!(spec["paths"][p].is_object(), "{p} in the OpenAPI document");
    }
    assert!(spec["paths"]["/api/v1/exceptions"]["post"].is_object());
    assert!(spec["paths"]["/api/v1/users/{name}/tokens/{id}"]["delete"].is_object());

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

/// The simulated book's compromised customer (seed 2: cryptojacking from 2026-09-06), and a filing day in its 60 days.
const COMPROMISED: &str = "7b3b8024-8309-4f82-a108-968fea6e478c";
const AS_OF: &str = "2026-09-20";

/// A GET answered with bytes: status, content type, content disposition, body.
async fn download(url: &str, token: &str) -> (u16, String, String, Vec<u8>) {
    let r = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (status, ctype, disp) = (
        r.status().as_u16(),
        header("content-type"),
        header("content-disposition"),
    );
    (status, ctype, disp, r.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_request_is_opened_a_line_excluded_and_its_package_downloaded_as_the_cli_writes_it(
) {
    let tmp = tempfile::tempdir().unwrap();
    let data = book_data(tmp.path());
    let admin = user(&data, "ada", "global-admin", None);
    let bill = user(&data, "bill", "billing-admin", None);
    let srv = start(&data).await;
    let (_, customers) = call(
        "GET",
        &format!("{}/api/v1/customers", srv.base),
        Some(&admin),
        None,
    )
    .await;
    drop(srv);
    let other_reseller = customers["customers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["tenant_id"] != COMPROMISED)
        .find_map(|c| c["reseller_mpn_id"].as_str())
        .expect("an indirect reseller")
        .to_string();
    let rita = user(&data, "rita", "billing-admin", Some(&other_reseller));
    let srv = start(&data).await;
    let b = &srv.base;

    let (s, x) = call(
        "GET",
        &format!("{b}/api/v1/exceptions/check/{COMPROMISED}?as_of={AS_OF}"),
        Some(&bill),
        None,
    )
    .await;
    assert_eq!(s, 200, "{x}");
    assert!(x["request"].is_null());
    let case_id = x["case_id"].as_str().unwrap().to_string();
    let lines = x["lines"].as_array().unwrap().clone();
    let line = lines
        .iter()
        .find(|l| l["included"] == true)
        .expect("a claimed line");
    let line_id = line["id"].as_str().unwrap().to_string();
    let claimed = x["totals"]["lines"].as_u64().unwrap();

    // Opening: another reseller's user cannot see the case; the billing admin opens it once.
    let open = serde_json::json!({ "case": case_id });
    let (s, _) = call(
        "POST",
        &format!("{b}/api/v1/exceptions"),
        Some(&rita),
        Some(open.clone()),
    )
    .await;
    assert_eq!(s, 404);
    let (s, v) = call(
        "POST",
        &format!("{b}/api/v1/exceptions"),
        Some(&bill),
        Some(open.clone()),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["request"]["status"], "draft");
    let req = v["request"]["id"].as_str().unwrap().to_string();
    let (s, v) = call(
        "POST",
        &format!("{b}/api/v1/exceptions"),
        Some(&bill),
        Some(open),
    )
    .await;
    assert_eq!(
        (s, v["request"]["id"].as_str()),
        (200, Some(req.as_str())),
        "the same draft again"
    );

    // Excluding a line needs a reason; another reseller's user cannot touch it.
    let lines_url = format!("{b}/api/v1/exceptions/{req}/lines/{line_id}");
    let (s, v) = call(
        "POST",
        &lines_url,
        Some(&bill),
        Some(serde_json::json!({"included": false, "reason": " "})),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    let exclude = serde_json::json!({"included": false, "reason": "the customer's own test VM"});
    let (s, _) = call("POST", &lines_url, Some(&rita), Some(exclude.clone())).await;
    assert_eq!(s, 404);
    let (s, v) = call("POST", &lines_url, Some(&bill), Some(exclude)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["line"]["id"], line_id.as_str());
    let (_, x) = call(
        "GET",
        &format!("{b}/api/v1/exceptions/check/{case_id}?as_of={AS_OF}"),
        Some(&bill),
        None,
    )
    .await;
    let after = x["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == line_id.as_str())
        .unwrap();
    assert_eq!(after["included"], false);
    assert_eq!(after["overridden_by"], "bill");
    assert_eq!(x["totals"]["lines"].as_u64().unwrap(), claimed - 1);

    // The package, file by file.
    let pkg = |f: &str| format!("{b}/api/v1/exceptions/{req}/package/{f}?as_of={AS_OF}");
    let (s, ctype, disp, pdf) = download(&pkg("pdf"), &bill).await;
    assert_eq!(s, 200);
    assert_eq!(ctype, "application/pdf");
    assert_eq!(disp, format!("attachment; filename=\"{req}.pdf\""));
    assert!(pdf.starts_with(b"%PDF-"));
    let (s, ctype, disp, csv) = download(&pkg("csv"), &bill).await;
    assert_eq!(s, 200);
    assert!(ctype.starts_with("text/csv"));
    assert_eq!(disp, format!("attachment; filename=\"{req}-charges.csv\""));
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("line_id,usage_date,day,"));
    assert_eq!(
        csv.lines().count() as u64,
        claimed,
        "header + the lines still claimed"
    );
    assert!(!csv.contains(&line_id), "the excluded line is not claimed");
    let (s, _, _, json) = download(&pkg("json"), &bill).await;
    assert_eq!(s, 200);
    let evidence: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(evidence["request"]["id"], req.as_str());
    assert_eq!(evidence["prepared_by"], "bill");
    let (s, _, _, md) = download(&pkg("md"), &bill).await;
    assert_eq!(s, 200);
    assert!(String::from_utf8(md).unwrap().contains(&req));
    let (s, _, _, _) = download(&pkg("pdf"), &rita).await;
    assert_eq!(s, 404, "another reseller's request is not there");
    drop(srv);

    // The CLI writes the same charges for the same request and day.
    let out = tmp.path().join("package");
    ok(
        &data,
        &[
            "exception",
            "package",
            &case_id,
            "--out",
            out.to_str().unwrap(),
            "--as-of",
            AS_OF,
        ],
        None,
    );
    assert_eq!(
        std::fs::read_to_string(out.join(format!("{req}-charges.csv"))).unwrap(),
        csv
    );

    let audit = audit_entries(&data).await;
    let by_bill = |verb: &str| {
        audit
            .iter()
            .filter(|e| e.verb == verb && e.actor == "bill")
            .count()
    };
    assert_eq!(by_bill("exception.opened"), 1);
    assert_eq!(by_bill("exception.line_excluded"), 1);
    assert_eq!(by_bill("exception.packaged"), 4, "one per file downloaded");
    assert!(audit
        .iter()
        .any(|e| e.verb == "exception.packaged" && e.detail.contains("\"format\":\"pdf\"")));
    assert!(
        !audit
            .iter()
            .any(|e| e.actor == "rita" && e.verb.starts_with("exception.")),
        "nothing refused was recorded as done"
    );
    let v = cli_json(&data, &["audit", "verify", "--json"]);
    assert_eq!(v["ok"], true);
}

async fn sign_in(base: &str, name: &str) -> (u16, Option<String>) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": name, "password": PW}))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_string);
    (r.status().as_u16(), cookie)
}

async fn me_with_cookie(base: &str, cookie: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/api/v1/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_disabled_and_enabled_and_tokens_made_and_revoked_with_role_scope_and_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let admin = user(&data, "ada", "global-admin", None);
    user(&data, "gus", "global-admin", None);
    let um = user(&data, "umar", "user-management-admin", None);
    let agent = user(&data, "agnes", "admin-agent", None);
    let nina = user(&data, "nina", "billing-admin", None);
    let scoped = user(&data, "ursula", "user-management-admin", Some("1234567"));
    let pia = user(&data, "pia", "admin-agent", Some("1234567"));
    let srv = start(&data).await;
    let b = &srv.base;
    let me = |t: String| async move {
        call("GET", &format!("{b}/api/v1/me"), Some(&t), None)
            .await
            .0
    };
    let users = format!("{b}/api/v1/users");

    // Disabling: the token is refused, the session ends, sign-in fails.
    let (s, cookie) = sign_in(b, "agnes").await;
    assert_eq!(s, 204);
    let cookie = cookie.unwrap();
    assert_eq!(me_with_cookie(b, &cookie).await, 200);
    let (s, v) = call("POST", &format!("{users}/agnes/disable"), Some(&um), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["changed"], true);
    assert_eq!(me(agent.clone()).await, 401, "a disabled user's token");
    assert_eq!(
        me_with_cookie(b, &cookie).await,
        401,
        "a disabled user's session"
    );
    assert_eq!(sign_in(b, "agnes").await.0, 401, "a disabled user signs in");
    let (_, v) = call("POST", &format!("{users}/agnes/disable"), Some(&um), None).await;
    assert_eq!(v["changed"], false, "disabled already: nothing changes");
    let (s, v) = call(
        "POST",
        &format!("{users}/agnes/tokens"),
        Some(&um),
        Some(serde_json::json!({"name": "ci"})),
    )
    .await;
    assert_eq!(s, 409, "no token for a disabled user: {v}");
    let (_, list) = call("GET", &users, Some(&um), None).await;
    let agnes = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "agnes")
        .unwrap()
        .clone();
    assert_eq!(agnes["disabled"], true);
    // Enabled again: the token works again, the ended session does not come back.
    let (s, _) = call("POST", &format!("{users}/agnes/enable"), Some(&um), None).await;
    assert_eq!(s, 200);
    assert_eq!(me(agent.clone()).await, 200);
    assert_eq!(me_with_cookie(b, &cookie).await, 401);
    assert_eq!(sign_in(b, "agnes").await.0, 204);

    // Who may touch whom: only a global admin a global admin; nobody themself; a scoped manager its reseller's.
    let (s, _) = call("POST", &format!("{users}/gus/disable"), Some(&um), None).await;
    assert_eq!(s, 403);
    let (s, _) = call(
        "POST",
        &format!("{users}/gus/tokens"),
        Some(&um),
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(
        s, 403,
        "a token acting as a global admin is a global admin's to make"
    );
    let (s, _) = call("POST", &format!("{users}/gus/disable"), Some(&admin), None).await;
    assert_eq!(s, 200);
    let (s, _) = call("POST", &format!("{users}/gus/enable"), Some(&admin), None).await;
    assert_eq!(s, 200);
    let (s, v) = call("POST", &format!("{users}/umar/disable"), Some(&um), None).await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = call(
        "POST",
        &format!("{users}/agnes/disable"),
        Some(&scoped),
        None,
    )
    .await;
    assert_eq!(s, 404, "a partner-wide user is not a scoped manager's");
    let (s, _) = call("POST", &format!("{users}/pia/disable"), Some(&scoped), None).await;
    assert_eq!(s, 200);
    assert_eq!(me(pia.clone()).await, 401);
    let (s, _) = call("POST", &format!("{users}/pia/enable"), Some(&scoped), None).await;
    assert_eq!(s, 200);
    assert_eq!(me(pia.clone()).await, 200);
    let (s, _) = call("POST", &format!("{users}/nobody/disable"), Some(&um), None).await;
    assert_eq!(s, 404);

    // Tokens: made (shown once), listed by ID and name only, revoked.
    let (s, t) = call(
        "POST",
        &format!("{users}/nina/tokens"),
        Some(&um),
        Some(serde_json::json!({"name": "ci"})),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let token = t["token"].as_str().unwrap().to_string();
    let id = t["id"].as_str().unwrap().to_string();
    assert!(token.starts_with("cspg_") && id.len() == 16);
    let (_, v) = call("GET", &format!("{b}/api/v1/me"), Some(&token), None).await;
    assert_eq!(v["username"], "nina");
    let (_, list) = call("GET", &users, Some(&um), None).await;
    let text = list.to_string();
    assert!(!text.contains("cspg_"), "no token in the list");
    let tokens = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "nina")
        .unwrap()["tokens"]
        .as_array()
        .unwrap()
        .clone();
    let names: Vec<&str> = tokens.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api", "ci"], "the CLI's and the API's");
    let (s, _) = call(
        "DELETE",
        &format!("{users}/nina/tokens/{id}"),
        Some(&scoped),
        None,
    )
    .await;
    assert_eq!(s, 404, "not a scoped manager's user");
    let (s, v) = call(
        "DELETE",
        &format!("{users}/nina/tokens/{id}"),
        Some(&um),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "ci");
    assert_eq!(me(token.clone()).await, 401, "a revoked token");
    assert_eq!(me(nina.clone()).await, 200, "the user's other token");
    let (s, _) = call(
        "DELETE",
        &format!("{users}/nina/tokens/{id}"),
        Some(&um),
        None,
    )
    .await;
    assert_eq!(s, 404, "revoked already");
    drop(srv);

    // The CLI does the same through the same functions.
    let listed = cli_json(&data, &["users", "token", "list", "nina", "--json"]);
    let cli_id = listed["tokens"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 1);
    ok(
        &data,
        &["--as", "carl", "users", "token", "revoke", "nina", &cli_id],
        None,
    );
    ok(&data, &["--as", "carl", "users", "disable", "pia"], None);
    let refused = run(&data, &["users", "token", "revoke", "nina", &cli_id], None);
    assert!(!refused.status.success(), "revoked already");
    let srv = start(&data).await;
    let b = &srv.base;
    assert_eq!(
        call("GET", &format!("{b}/api/v1/me"), Some(&nina), None)
            .await
            .0,
        401
    );
    assert_eq!(
        call("GET", &format!("{b}/api/v1/me"), Some(&pia), None)
            .await
            .0,
        401
    );
    drop(srv);
    ok(&data, &["--as", "carl", "users", "enable", "pia"], None);

    let audit = audit_entries(&data).await;
    let did = |actor: &str, verb: &str, who: &str| {
        audit
            .iter()
            .filter(|e| {
                e.actor == actor && e.verb == verb && e.detail.contains(&format!("\"{who}\""))
            })
            .count()
    };
    assert_eq!(did("umar", "user.disabled", "agnes"), 1);
    assert_eq!(did("umar", "user.enabled", "agnes"), 1);
    assert_eq!(did("ada", "user.disabled", "gus"), 1);
    assert_eq!(did("ursula", "user.disabled", "pia"), 1);
    assert_eq!(did("umar", "user.token_created", "nina"), 1);
    assert_eq!(did("umar", "user.token_revoked", "nina"), 1);
    assert_eq!(did("carl", "user.token_revoked", "nina"), 1);
    assert_eq!(did("carl", "user.disabled", "pia"), 1);
    assert_eq!(did("carl", "user.enabled", "pia"), 1);
    assert_eq!(
        audit.iter().filter(|e| e.verb == "user.disabled").count(),
        4,
        "refused and no-op changes are not recorded"
    );
    let v = cli_json(&data, &["audit", "verify", "--json"]);
    assert_eq!(v["ok"], true);
}
