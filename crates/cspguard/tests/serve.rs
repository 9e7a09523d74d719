//! `cspguard serve` as a user meets it: the real binary on a loopback port, users and tokens made with the CLI,
//! every role against every route, reseller isolation, console sign-in, and the audit log's tamper detection.

use serde_json::Value;
use std::path::Path;

mod support;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_reaches_exactly_its_routes_and_resellers_see_only_their_customers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = book_data(tmp.path());
    let admin = user(&data, "ada", "global-admin", None);
    let um = user(&data, "umar", "user-management-admin", None);
    let agent = user(&data, "agnes", "admin-agent", None);
    let billing = user(&data, "bill", "billing-admin", None);
    let srv = start(&data).await;
    let b = &srv.base;

    // Public endpoints.
    assert_eq!(
        reqwest::get(format!("{b}/healthz")).await.unwrap().status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{b}/readyz")).await.unwrap().status(),
        200
    );
    let spec: Value = reqwest::get(format!("{b}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["paths"]["/api/v1/cases/{id}"].is_object());

    let (_, cases) = call("GET", &format!("{b}/api/v1/cases"), Some(&admin), None).await;
    let cases = cases["cases"].as_array().unwrap().clone();
    assert!(!cases.is_empty());
    let case_id = cases[0]["id"].as_str().unwrap().to_string();
    let (_, actions) = call("GET", &format!("{b}/api/v1/actions"), Some(&admin), None).await;
    assert!(actions["actions"].is_array());

    // Role x route. Allowed means neither 401 nor 403; a refused one is 403; no credential is 401.
    let routes: Vec<MatrixRoute> = vec![
        (
            "GET",
            format!("{b}/api/v1/alerts"),
            None,
            [true, false, true, true],
        ),
        (
            "GET",
            format!("{b}/api/v1/cases"),
            None,
            [true, false, true, true],
        ),
        (
            "GET",
            format!("{b}/api/v1/cases/{case_id}"),
            None,
            [true, false, true, true],
        ),
        (
            "GET",
            format!("{b}/api/v1/actions"),
            None,
            [true, false, true, true],
        ),
        (
            "GET",
            format!("{b}/api/v1/customers"),
            None,
            [true, false, true, true],
        ),
        (
            "GET",
            format!("{b}/api/v1/audit/verify"),
            None,
            [true, true, false, false],
        ),
        (
            "POST",
            format!("{b}/api/v1/cases/{case_id}/notes"),
            Some(serde_json::json!({"text": "looked at it"})),
            [true, false, true, false],
        ),
        (
            "POST",
            format!("{b}/api/v1/actions/no-such-key/approve"),
            None,
            [true, false, true, false],
        ),
        (
            "GET",
            format!("{b}/api/v1/cases/{case_id}/assignees"),
            None,
            [true, false, true, false],
        ),
        // A step the case does not have: 404 for whoever may tick, so nothing changes.
        (
            "POST",
            format!("{b}/api/v1/cases/{case_id}/checklist/no-such-step"),
            None,
            [true, false, true, false],
        ),
    ];
    assert_role_matrix(&routes, [&admin, &um, &agent, &billing]).await;
    // The note above was written by the agent and the admin, with their names in the audit log.
    let (_, c) = call(
        "GET",
        &format!("{b}/api/v1/cases/{case_id}"),
        Some(&admin),
        None,
    )
    .await;
    let noted: Vec<&str> = c["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verb"] == "case.noted")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(noted, ["ada", "agnes"]);

    // A reseller's user sees its customers only, everywhere, and other IDs look like nothing.
    let (_, customers) = call("GET", &format!("{b}/api/v1/customers"), Some(&admin), None).await;
    let customers = customers["customers"].as_array().unwrap().clone();
    let mpn = customers
        .iter()
        .find_map(|c| c["reseller_mpn_id"].as_str())
        .expect("the book has indirect customers")
        .to_string();
    let mine: std::collections::HashSet<String> = customers
        .iter()
        .filter(|c| c["reseller_mpn_id"] == mpn.as_str())
        .map(|c| c["tenant_id"].as_str().unwrap().to_string())
        .collect();
    drop(srv);
    let scoped = user(&data, "rita", "admin-agent", Some(&mpn));
    let srv = start(&data).await;
    let b = &srv.base;
    let (_, cs) = call("GET", &format!("{b}/api/v1/customers"), Some(&scoped), None).await;
    let seen: std::collections::HashSet<String> = cs["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tenant_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, mine);
    let (_, all_cases) = call("GET", &format!("{b}/api/v1/cases"), Some(&admin), None).await;
    let (_, own_cases) = call("GET", &format!("{b}/api/v1/cases"), Some(&scoped), None).await;
    for c in own_cases["cases"].as_array().unwrap() {
        assert!(mine.contains(c["customer_tenant_id"].as_str().unwrap()));
    }
    let (_, alerts) = call("GET", &format!("{b}/api/v1/alerts"), Some(&scoped), None).await;
    for a in alerts["alerts"].as_array().unwrap() {
        assert!(mine.contains(a["customer_tenant_id"].as_str().unwrap()));
    }
    let foreign = all_cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !mine.contains(c["customer_tenant_id"].as_str().unwrap()))
        .expect("some case is another reseller's or direct");
    let fid = foreign["id"].as_str().unwrap();
    let (code, _) = call(
        "GET",
        &format!("{b}/api/v1/cases/{fid}"),
        Some(&scoped),
        None,
    )
    .await;
    assert_eq!(
        code, 404,
        "another reseller's case is not there for this user"
    );
    let (code, _) = call(
        "POST",
        &format!("{b}/api/v1/cases/{fid}/notes"),
        Some(&scoped),
        Some(serde_json::json!({"text": "x"})),
    )
    .await;
    assert_eq!(code, 404);
    let (_, acts) = call("GET", &format!("{b}/api/v1/actions"), Some(&admin), None).await;
    if let Some(a) = acts["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["case_id"] == fid)
    {
        let key = a["key"].as_str().unwrap();
        let (code, _) = call(
            "POST",
            &format!("{b}/api/v1/actions/{key}/approve"),
            Some(&scoped),
            None,
        )
        .await;
        assert_eq!(
            code, 404,
            "another reseller's action cannot be approved or probed"
        );
    }
    let (_, scoped_actions) =
        call("GET", &format!("{b}/api/v1/actions"), Some(&scoped), None).await;
    assert!(scoped_actions["actions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["case_id"] != fid));

    let metrics = reqwest::get(format!("{b}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("cspguard_http_requests_total{route=\"/api/v1/cases\",status=\"200\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_uses_a_session_cookie_and_is_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    user(&data, "ada", "global-admin", None);
    let short = run(
        &data,
        &["users", "add", "bob", "--role", "admin-agent"],
        Some("short"),
    );
    assert!(!short.status.success(), "a short password is refused");
    let bad_role = run(&data, &["users", "add", "bob", "--role", "boss"], Some(PW));
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("is not a role"));
    let srv = start(&data).await;
    let c = reqwest::Client::new();
    let wrong = c
        .post(format!("{}/api/v1/session", srv.base))
        .json(&serde_json::json!({"username": "ada", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = c
        .post(format!("{}/api/v1/session", srv.base))
        .json(&serde_json::json!({"username": "ada", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 204);
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap().to_string();
    let me: Value = c
        .get(format!("{}/api/v1/me", srv.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "global_admin");
    let out = c
        .delete(format!("{}/api/v1/session", srv.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let after = c
        .get(format!("{}/api/v1/me", srv.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "a signed-out session is gone");
    drop(srv);
    let v: Value = serde_json::from_str(&ok(&data, &["audit", "verify", "--json"], None)).unwrap();
    assert_eq!(v["ok"], true);
    assert!(
        v["checked"].as_u64().unwrap() >= 4,
        "user.added, token, failed and successful sign-in: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_finds_an_edited_and_a_removed_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let data = book_data(tmp.path());
    let v: Value = serde_json::from_str(&ok(&data, &["audit", "verify", "--json"], None)).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["checked"].as_u64().unwrap() >= 5, "{v}");
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}/cspguard.db", data.display());
    let db = sqlx::AnyPool::connect(&url).await.unwrap();
    // Someone with the database file removes the append-only guard and edits an entry.
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")
        .execute(&db)
        .await
        .unwrap();
    let o = run(&data, &["audit", "verify"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("TAMPERED at entry 5"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    sqlx::query("UPDATE audit_log SET actor = 'cspguard' WHERE seq = 5")
        .execute(&db)
        .await
        .unwrap();
    assert!(
        run(&data, &["audit", "verify"], None).status.success(),
        "restored: intact again"
    );
    // Removing the newest entry is found too (the head remembers the end of the chain).
    sqlx::query("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let o = run(&data, &["audit", "verify", "--json"], None);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["broken"]["reason"].as_str().unwrap().contains("removed"),
        "{v}"
    );
}

fn example(name: &str) -> Vec<u8> {
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    std::fs::read(Path::new(&dir).join("../../testdata/examples").join(name)).unwrap()
}

async fn post_body(url: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_over_http_is_durable_idempotent_keeps_good_rows_and_feeds_detection() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let agent = user(&data, "agnes", "admin-agent", None);
    let um = user(&data, "umar", "user-management-admin", None);
    let scoped = user(&data, "rita", "admin-agent", Some("1234567"));
    let srv = start(&data).await;
    let b = &srv.base;
    let csv = example("usage_small.csv");
    let (code, r) = post_body(&format!("{b}/api/v1/events/usage"), &agent, csv.clone()).await;
    assert_eq!(code, 202, "{r}");
    let rows = r["imported"].as_u64().unwrap();
    assert!(rows > 0 && r["rejected"] == 0, "{r}");
    let key = r["idempotency_key"].as_str().unwrap().to_string();
    let (code, again) = post_body(&format!("{b}/api/v1/events/usage"), &agent, csv.clone()).await;
    assert_eq!(code, 202);
    assert_eq!(
        again["imported"], 0,
        "the same body again adds nothing: {again}"
    );
    assert_eq!(again["duplicates"].as_u64(), Some(rows));
    assert_eq!(again["idempotency_key"].as_str(), Some(key.as_str()));
    // A malformed row is reported with line and column; the rows around it are kept.
    let text = String::from_utf8(csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let qty = header.iter().position(|h| *h == "Quantity").unwrap();
    let mut bad: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    bad[qty] = "twelve".into();
    bad[header.iter().position(|h| *h == "MeterId").unwrap()] = "changed-meter".into();
    lines.push(bad.join(","));
    let (code, r) = post_body(
        &format!("{b}/api/v1/events/usage"),
        &agent,
        lines.join("\n").into_bytes(),
    )
    .await;
    assert_eq!(code, 202, "{r}");
    assert_eq!(r["rejected"], 1, "{r}");
    assert_eq!(r["rejects"][0]["line"].as_u64(), Some(lines.len() as u64));
    assert!(
        r["rejects"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("twelve"),
        "{r}"
    );
    assert_eq!(r["duplicates"].as_u64(), Some(rows), "{r}");
    // Who may not ingest.
    let (code, _) = post_body(&format!("{b}/api/v1/events/usage"), &um, vec![]).await;
    assert_eq!(code, 403);
    let (code, _) = post_body(&format!("{b}/api/v1/events/usage"), &scoped, vec![]).await;
    assert_eq!(
        code, 403,
        "a reseller-scoped user cannot inject events about other customers"
    );
    let (code, r) = post_body(&format!("{b}/api/v1/events/nonsense"), &agent, vec![]).await;
    assert_eq!(code, 400, "{r}");
    let (code, _) = call("POST", &format!("{b}/api/v1/events/usage"), None, None).await;
    assert_eq!(code, 401);
    // Microsoft's fraud alerts in: their alerts are saved before the 202 (readable at once, no scan command), and the
    // case intake that follows opens a case shortly after.
    let (code, r) = post_body(
        &format!("{b}/api/v1/events/fraud-events"),
        &agent,
        example("fraud_events.json"),
    )
    .await;
    assert_eq!(code, 202, "{r}");
    let (_, found) = call("GET", &format!("{b}/api/v1/alerts"), Some(&agent), None).await;
    assert!(
        found["alerts"][0]["origin"] == "microsoft",
        "no alert readable when the 202 came back: {found}"
    );
    let mut cases = Value::Null;
    for _ in 0..100 {
        let (_, c) = call("GET", &format!("{b}/api/v1/cases"), Some(&agent), None).await;
        if c["cases"].as_array().is_some_and(|x| !x.is_empty()) {
            cases = c;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        cases["cases"].as_array().is_some_and(|x| !x.is_empty()),
        "the alert opened a case"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_customer_views_are_scoped_and_the_console_is_served_with_a_strict_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let data = book_data(tmp.path());
    let admin = user(&data, "ada", "global-admin", None);
    let um = user(&data, "umar", "user-management-admin", None);
    let srv = start(&data).await;
    let b = srv.base.clone();

    // The dashboard: exposure per currency equals the open cases' money at risk; lead over Microsoft's alerts.
    let (code, d) = call("GET", &format!("{b}/api/v1/dashboard"), Some(&admin), None).await;
    assert_eq!(code, 200, "{d}");
    let open = d["open_cases"].as_array().unwrap();
    assert_eq!(d["exposure"]["open_cases"], open.len());
    assert!(open
        .iter()
        .all(|c| c["status"] != "resolved" && c["sla"].is_object()));
    let usd: f64 = open
        .iter()
        .filter(|c| c["money_at_risk"]["currency"] == "USD")
        .map(|c| {
            c["money_at_risk"]["amount"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        })
        .sum();
    if let Some(t) = d["exposure"]["money_at_risk"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["currency"] == "USD")
    {
        let total: f64 = t["amount"].as_str().unwrap().parse().unwrap();
        assert!((total - usd).abs() < 0.01, "{total} vs {usd}");
    }
    let by_sev: u64 = d["by_severity"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_sev as usize, open.len());
    assert!(d["recent_alerts"].as_array().unwrap().len() <= 15);
    let lead = &d["earlier_than_microsoft"];
    assert_eq!(
        lead["linked"].as_u64().unwrap() as usize,
        lead["incidents"].as_array().unwrap().len()
    );
    let (code, _) = call("GET", &format!("{b}/api/v1/dashboard"), Some(&um), None).await;
    assert_eq!(code, 403, "user management admins read no cases");

    // A customer with a case: profile, risk, its cases, daily spend marked on alert days.
    let tenant = open
        .first()
        .or(d["recent_alerts"].as_array().unwrap().first())
        .expect("the book has an incident")["customer_tenant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, c) = call(
        "GET",
        &format!("{b}/api/v1/customers/{tenant}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(code, 200, "{c}");
    assert_eq!(c["tenant_id"], tenant.as_str());
    assert!(!c["alerts"].as_array().unwrap().is_empty());
    assert!(c["cases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["customer_tenant_id"] == tenant.as_str()));
    let days = c["daily_cost"].as_array().unwrap();
    assert!(!days.is_empty(), "the customer has Azure usage");
    assert!(days
        .windows(2)
        .all(|w| w[0]["date"].as_str() <= w[1]["date"].as_str()));
    for key in ["regions", "meters", "signins", "payments", "instruments"] {
        assert!(c[key].is_array(), "{key}");
    }
    let (code, _) = call(
        "GET",
        &format!("{b}/api/v1/customers/00000000-0000-4000-8000-000000000000"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(code, 404);

    // A reseller's user: its customer answers, anyone else's is 404, and its dashboard holds only its customers.
    let (_, all) = call("GET", &format!("{b}/api/v1/customers"), Some(&admin), None).await;
    let all = all["customers"].as_array().unwrap().clone();
    let mpn = all
        .iter()
        .find_map(|c| c["reseller_mpn_id"].as_str())
        .unwrap()
        .to_string();
    let own = all
        .iter()
        .find(|c| c["reseller_mpn_id"] == mpn.as_str())
        .unwrap()["tenant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = all
        .iter()
        .find(|c| c["reseller_mpn_id"] != mpn.as_str())
        .unwrap()["tenant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let scoped = user(&data, "rita", "admin-agent", Some(&mpn));
    let (code, _) = call(
        "GET",
        &format!("{b}/api/v1/customers/{own}"),
        Some(&scoped),
        None,
    )
    .await;
    assert_eq!(code, 200);
    let (code, v) = call(
        "GET",
        &format!("{b}/api/v1/customers/{other}"),
        Some(&scoped),
        None,
    )
    .await;
    assert_eq!(
        code, 404,
        "another reseller's customer does not exist here: {v}"
    );
    let mine: std::collections::HashSet<&str> = all
        .iter()
        .filter(|c| c["reseller_mpn_id"] == mpn.as_str())
        .map(|c| c["tenant_id"].as_str().unwrap())
        .collect();
    let (_, d) = call("GET", &format!("{b}/api/v1/dashboard"), Some(&scoped), None).await;
    for c in d["open_cases"]
        .as_array()
        .unwrap()
        .iter()
        .chain(d["recent_alerts"].as_array().unwrap())
    {
        assert!(mine.contains(c["customer_tenant_id"].as_str().unwrap()));
    }

    // The console: `/` redirects to it; pages and scripts carry the policy.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(format!("{b}/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/");
    for path in ["/console/", "/console/app.js", "/console/pages/case.js"] {
        let r = reqwest::get(format!("{b}{path}")).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    }
    let spec: Value = reqwest::get(format!("{b}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/api/v1/dashboard"].is_object());
    assert!(spec["paths"]["/api/v1/customers/{tenant}"].is_object());
    let (_, me) = call("GET", &format!("{b}/api/v1/me"), Some(&um), None).await;
    assert_eq!(
        me["permissions"],
        serde_json::json!(["manage_users", "read_audit"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_is_assigned_to_one_of_its_assignees_and_its_steps_ticked_as_the_cli_does() {
    let tmp = tempfile::tempdir().unwrap();
    let data = book_data(tmp.path());
    // The book's fraud cases are of direct customers; overdue invoices open cases for resellers' customers too.
    ok(&data, &["credit", "check", "--as-of", "2030-01-01"], None);
    let admin = user(&data, "ada", "global-admin", None);
    let agent = user(&data, "agnes", "admin-agent", None);
    user(&data, "bill", "billing-admin", None);
    user(&data, "umar", "user-management-admin", None);
    user(&data, "otto", "admin-agent", None);
    ok(&data, &["users", "disable", "otto"], None);

    // A reseller with a case, and another reseller.
    let srv = start(&data).await;
    let b = &srv.base;
    let (_, customers) = call("GET", &format!("{b}/api/v1/customers"), Some(&admin), None).await;
    let customers = customers["customers"].as_array().unwrap().clone();
    let (_, cases) = call("GET", &format!("{b}/api/v1/cases"), Some(&admin), None).await;
    let cases = cases["cases"].as_array().unwrap().clone();
    drop(srv);
    let reseller_of = |tenant: &str| {
        customers
            .iter()
            .find(|c| c["tenant_id"] == tenant)
            .and_then(|c| c["reseller_mpn_id"].as_str())
            .map(str::to_string)
    };
    let (case, mpn) = cases
        .iter()
        .filter(|c| c["status"] != "resolved" && !c["checklist"].as_array().unwrap().is_empty())
        .find_map(|c| Some((c.clone(), reseller_of(c["customer_tenant_id"].as_str()?)?)))
        .expect("an open case of an indirect reseller's customer");
    let foreign = cases
        .iter()
        .find(|c| reseller_of(c["customer_tenant_id"].as_str().unwrap()).as_deref() != Some(&mpn))
        .expect("a case of somebody else");
    let other_mpn = customers
        .iter()
        .filter_map(|c| c["reseller_mpn_id"].as_str())
        .find(|r| *r != mpn)
        .unwrap_or("0000000")
        .to_string();
    let rita = user(&data, "rita", "admin-agent", Some(&mpn));
    user(&data, "rex", "admin-agent", Some(&other_mpn));
    let srv = start(&data).await;
    let b = &srv.base;
    let id = case["id"].as_str().unwrap();
    let fid = foreign["id"].as_str().unwrap();

    // Who may be given the case: enabled users who may work cases and see it.
    let names = |v: &Value| -> std::collections::BTreeSet<String> {
        v["assignees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, v) = call(
        "GET",
        &format!("{b}/api/v1/cases/{id}/assignees"),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["me"], "agnes");
    assert_eq!(
        names(&v),
        ["ada", "agnes", "rita"].map(String::from).into(),
        "no billing or user admin, no disabled user, no other reseller's agent"
    );
    let (_, v) = call(
        "GET",
        &format!("{b}/api/v1/cases/{id}/assignees"),
        Some(&rita),
        None,
    )
    .await;
    assert_eq!(
        names(&v),
        ["rita"].map(String::from).into(),
        "a reseller's user is offered its own reseller's people"
    );

    // Assign and tick as the agent.
    let (s, v) = call(
        "POST",
        &format!("{b}/api/v1/cases/{id}/assign"),
        Some(&agent),
        Some(serde_json::json!({"assignee": "rita"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["assignee"], "rita");
    let steps: Vec<String> = case["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let (s, v) = call(
        "POST",
        &format!("{b}/api/v1/cases/{id}/checklist/{}", steps[0]),
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["checklist"][0]["done_by"], "agnes");
    assert!(v["checklist"][0]["done_at"].is_string());
    let (s, v) = call(
        "POST",
        &format!("{b}/api/v1/cases/{id}/checklist/{}", steps[0]),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["checklist"][0]["done_by"], "agnes",
        "a step keeps who ticked it first"
    );
    let (s, v) = call(
        "POST",
        &format!("{b}/api/v1/cases/{id}/assign"),
        Some(&agent),
        Some(serde_json::json!({"assignee": "  "})),
    )
    .await;
    assert_eq!(s, 400, "{v}");

    // Another reseller's case does not exist for a scoped user, whatever the route.
    for (method, url, body) in [
        ("GET", format!("{b}/api/v1/cases/{fid}/assignees"), None),
        (
            "POST",
            format!("{b}/api/v1/cases/{fid}/assign"),
            Some(serde_json::json!({"assignee": "rita"})),
        ),
        (
            "POST",
            format!("{b}/api/v1/cases/{fid}/checklist/{}", steps[0]),
            None,
        ),
    ] {
        let (s, v) = call(method, &url, Some(&rita), body).await;
        assert_eq!(s, 404, "{method} {url}: {v}");
    }

    // The CLI's tick is the same change: both show in the case and in its audit trail, under their actors.
    drop(srv);
    ok(
        &data,
        &[
            "--as",
            "carl",
            "cases",
            "check",
            id,
            &steps[steps.len() - 1],
        ],
        None,
    );
    let srv = start(&data).await;
    let b = &srv.base;
    let (_, c) = call("GET", &format!("{b}/api/v1/cases/{id}"), Some(&admin), None).await;
    let last = &c["checklist"][steps.len() - 1];
    assert_eq!(last["done_by"], "carl");
    let trail: Vec<(String, String, String)> = c["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verb"] == "case.assigned" || e["verb"] == "case.checked")
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["verb"].as_str().unwrap().to_string(),
                e["detail"].to_string(),
            )
        })
        .collect();
    assert_eq!(trail.len(), 4, "{trail:?}");
    assert!(trail[0].0 == "agnes" && trail[0].1 == "case.assigned" && trail[0].2.contains("rita"));
    assert!(trail[1].0 == "agnes" && trail[1].2.contains(&steps[0]));
    assert_eq!(trail[2].0, "ada");
    assert!(trail[3].0 == "carl" && trail[3].2.contains(&steps[steps.len() - 1]));
    drop(srv);
    let v: Value = serde_json::from_str(&ok(&data, &["audit", "verify", "--json"], None)).unwrap();
    assert_eq!(v["ok"], true);
}
