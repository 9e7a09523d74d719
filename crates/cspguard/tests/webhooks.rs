//! Partner Center webhooks into `cspguard serve`: the signature (with the certificate the Partner Center stand-in
//! serves on loopback) and the optional token are checked, the named resource is fetched from (the stand-in for)
//! Partner Center with the app's credentials, and what it says reaches the event store and the alerts. A refused
//! webhook is 401, audited, and fetches nothing.

use cspguard_standins::entra::EntraStandIn;
use cspguard_standins::partner_center::{certs, routes, PartnerCenterStandIn};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const SECRET: &str = "pc-app-secret";
const TOKEN: &str = "hook-token-0123456789";

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cspguard(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cspguard"));
    c.arg("--data-dir")
        .arg(data)
        .env_remove("CSPGUARD_DATABASE_URL")
        .env("T_PC_SECRET", SECRET)
        .env("T_HOOK_TOKEN", TOKEN);
    c
}

/// Writes `cspguard.toml` (Partner Center at the stand-in, then `webhooks`), and serves; answers the base URL.
async fn serve(
    data: &Path,
    pc: &PartnerCenterStandIn,
    entra: &EntraStandIn,
    webhooks: &str,
) -> (Server, String) {
    std::fs::write(
        data.join("cspguard.toml"),
        format!(
            "[partner_center]\nbase_url = \"{}\"\nauthority = \"{}\"\ntenant = \"0a0b0c0d-0000-4000-8000-00000000000f\"\n\
             client_id = \"app\"\nclient_secret_env = \"T_PC_SECRET\"\n\n[webhooks]\n{webhooks}",
            pc.url(),
            entra.url()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let srv = Server(
        cspguard(data)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (srv, base)
}

type Headers = Vec<(&'static str, String)>;

/// POSTs `body` as it is, with `headers`.
async fn post(url: &str, body: &[u8], headers: &[(&str, String)]) -> reqwest::Response {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.send().await.unwrap()
}

/// Makes the data folder with a user (for the API); answers it and the user's API token.
fn data_with_user(tmp: &Path) -> (std::path::PathBuf, String) {
    let data = tmp.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The settings the user commands read do not matter here: no cspguard.toml yet.
    let o = cspguard(&data)
        .args(["users", "add", "agnes", "--role", "admin-agent"])
        .env("CSPGUARD_PASSWORD", "a long enough password")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cspguard(&data)
        .args(["users", "token", "agnes"])
        .output()
        .unwrap();
    (data, String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The audit log's verbs and details, oldest first.
async fn audit(data: &Path) -> Vec<(String, Value)> {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&format!("sqlite://{}/cspguard.db", data.display()))
        .await
        .unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT verb, detail FROM audit_log ORDER BY seq")
            .fetch_all(&db)
            .await
            .unwrap();
    db.close().await;
    rows.into_iter()
        .map(|(v, d)| (v, serde_json::from_str(&d).unwrap_or(Value::Null)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_authenticated_fetch_the_resource_and_feed_detection() {
    let entra = EntraStandIn::start("app", SECRET).await;
    let pc = PartnerCenterStandIn::start(&entra).await;
    let tenant = "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01";
    let mut sub = cspguard_standins::fixtures::subscription(7, "suspended");
    sub["suspensionReasons"] = json!(["Fraud"]);
    let sub_id = sub["id"].as_str().unwrap().to_string();
    pc.set_subscriptions(tenant, vec![sub]);
    let azure = "11111111-2222-4333-8444-555555555555";
    pc.set_fraud_events(
        (0..3)
            .map(|i| cspguard_standins::fixtures::fraud_event(i, azure, "Active"))
            .collect(),
    );

    let tmp = tempfile::tempdir().unwrap();
    let (data, api) = data_with_user(tmp.path());
    // Signature and token both: the token is a second factor.
    let (_srv, base) = serve(
        &data,
        &pc,
        &entra,
        &format!(
            "token_env = \"T_HOOK_TOKEN\"\ncertificate_url_prefixes = [\"{}/cert/\"]\n",
            pc.url()
        ),
    )
    .await;
    let http = reqwest::Client::new();
    let hook = |token: &str, event: &Value| {
        let (body, headers) = pc.signed_webhook(event, certs::GOOD);
        let url = format!("{base}/webhooks/partner-center?token={token}");
        async move { post(&url, &body, &headers).await }
    };
    let updated = json!({
        "EventName": "subscription-updated",
        "ResourceUri": format!("{}/v1/customers/{tenant}/subscriptions/{sub_id}", pc.url()),
        "ResourceName": "Subscription", "AuditUri": null, "ResourceChangeUtcDate": "2026-10-02T10:00:00Z"
    });
    assert_eq!(hook("wrong", &updated).await.status(), 401);
    let (body, headers) = pc.signed_webhook(&updated, certs::GOOD);
    let no_token = post(&format!("{base}/webhooks/partner-center"), &body, &headers).await;
    assert_eq!(no_token.status(), 401);
    assert_eq!(
        pc.harness().count(routes::CERTIFICATE),
        0,
        "the token is checked before any certificate is fetched"
    );
    let unsigned = post(
        &format!("{base}/webhooks/partner-center?token={TOKEN}"),
        &body,
        &[],
    )
    .await;
    assert_eq!(
        unsigned.status(),
        401,
        "the right token alone is not enough"
    );
    assert_eq!(
        pc.harness().count(routes::GET_SUBSCRIPTION),
        0,
        "nothing is fetched for an unauthenticated call"
    );

    let r = hook(TOKEN, &updated).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["fetched"], true, "{v}");
    assert_eq!(v["stored"][0]["imported"], 1, "{v}");
    assert_eq!(pc.harness().count(routes::GET_SUBSCRIPTION), 1);
    // The same notification again adds nothing.
    let v: Value = hook(TOKEN, &updated).await.json().await.unwrap();
    assert_eq!(v["stored"][0]["imported"], 0, "{v}");

    let detected = json!({
        "EventName": "azure-fraud-event-detected",
        "ResourceUri": format!("/v1/fraudEvents?SubscriptionId={azure}"),
        "ResourceName": "FraudEvent", "ResourceChangeUtcDate": "2026-10-02T11:00:00Z"
    });
    let v: Value = hook(TOKEN, &detected).await.json().await.unwrap();
    assert_eq!(v["stored"][0]["imported"], 3, "{v}");
    let q = &pc.harness().requests_to(routes::FRAUD_EVENTS)[0];
    assert_eq!(q.query_param("SubscriptionId"), Some(azure));
    let mut alerts = Value::Null;
    for _ in 0..100 {
        alerts = http
            .get(format!("{base}/api/v1/alerts"))
            .bearer_auth(&api)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if alerts["alerts"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["origin"] == "microsoft"),
        "{alerts}"
    );

    let other = json!({"EventName": "usagerecords-thresholdExceeded", "ResourceUri": "/v1/customers/x/usagerecords"});
    let v: Value = hook(TOKEN, &other).await.json().await.unwrap();
    assert_eq!(v["fetched"], false, "acknowledged, nothing to fetch");
    assert_eq!(
        pc.harness().count(routes::CERTIFICATE),
        1,
        "one certificate download for all the webhooks"
    );

    let openapi: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let route = &openapi["paths"]["/webhooks/partner-center"]["post"];
    assert!(
        route["parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "X-MS-Certificate-Url")),
        "{route}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_altered_or_badly_certified_webhooks_are_refused_audited_and_fetch_nothing() {
    let entra = EntraStandIn::start("app", SECRET).await;
    let pc = PartnerCenterStandIn::start(&entra).await;
    let tenant = "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01";
    let sub = cspguard_standins::fixtures::subscription(3, "active");
    let sub_id = sub["id"].as_str().unwrap().to_string();
    pc.set_subscriptions(tenant, vec![sub]);
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = data_with_user(tmp.path());
    // Signatures only (no token), certificates from the stand-in's /cert/ only.
    let (srv, base) = serve(
        &data,
        &pc,
        &entra,
        &format!("certificate_url_prefixes = [\"{}/cert/\"]\n", pc.url()),
    )
    .await;
    let url = format!("{base}/webhooks/partner-center");
    let event = json!({
        "EventName": "subscription-updated",
        "ResourceUri": format!("/v1/customers/{tenant}/subscriptions/{sub_id}"),
        "ResourceName": "Subscription", "ResourceChangeUtcDate": "2026-10-02T10:00:00Z"
    });
    let (body, headers) = pc.signed_webhook(&event, certs::GOOD);
    let fetched = || pc.harness().count(routes::GET_SUBSCRIPTION);
    let downloads = |name: &str| {
        pc.harness()
            .requests_to(routes::CERTIFICATE)
            .iter()
            .filter(|r| r.path.ends_with(name))
            .count()
    };

    let r = post(&url, &body, &headers).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(fetched(), 1);

    let with = |name: &str, value: &str| -> Headers {
        headers
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    if k.eq_ignore_ascii_case(name) {
                        value.to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    };
    let without = |name: &str| -> Headers {
        headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
            .cloned()
            .collect()
    };
    let mut changed = body.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x01; // one byte of the body, after signing
    let mut refused: Vec<(&str, Vec<u8>, Headers)> = vec![
        ("a body changed by one byte", changed, headers.clone()),
        (
            "another algorithm",
            body.clone(),
            with("X-MS-Signature-Algorithm", "rsa-sha1"),
        ),
        ("no Authorization", body.clone(), without("Authorization")),
        (
            "no X-MS-Certificate-Url",
            body.clone(),
            without("X-MS-Certificate-Url"),
        ),
        (
            "no X-MS-Signature-Algorithm",
            body.clone(),
            without("X-MS-Signature-Algorithm"),
        ),
        (
            "a certificate from a host not allowed",
            body.clone(),
            with(
                "X-MS-Certificate-Url",
                &pc.certificate_url(certs::GOOD)
                    .replace("127.0.0.1", "localhost"),
            ),
        ),
        (
            "a certificate from elsewhere",
            body.clone(),
            with(
                "X-MS-Certificate-Url",
                "https://example.com/cert/pcnotifications-dispatch.microsoft.com.cer",
            ),
        ),
    ];
    for name in [certs::EXPIRED, certs::WRONG_SUBJECT] {
        let (b, h) = pc.signed_webhook(&event, name);
        refused.push((
            if name == certs::EXPIRED {
                "an expired certificate"
            } else {
                "a certificate of another subject"
            },
            b,
            h,
        ));
    }
    for (what, b, h) in &refused {
        let r = post(&url, b, h).await;
        assert_eq!(r.status(), 401, "{what}");
        let v: Value = r.json().await.unwrap();
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.starts_with("webhook refused: "), "{what}: {v}");
        if let Some((_, sig)) = h.iter().find(|(k, _)| *k == "Authorization") {
            assert!(
                !msg.contains(sig.trim_start_matches("Signature ")),
                "{what}: the signature is not echoed"
            );
        }
    }
    assert_eq!(fetched(), 1, "nothing fetched for a refused webhook");
    assert_eq!(
        pc.harness().count(routes::CERTIFICATE),
        3,
        "the good certificate once (cached), the expired and the foreign one once each; none from elsewhere"
    );
    assert_eq!(downloads(certs::GOOD), 1);

    // More good webhooks: the certificate is not downloaded again.
    for _ in 0..3 {
        assert_eq!(post(&url, &body, &headers).await.status(), 200);
    }
    assert_eq!(downloads(certs::GOOD), 1);
    assert_eq!(fetched(), 4);

    drop(srv);
    let log = audit(&data).await;
    let reasons: Vec<String> = log
        .iter()
        .filter(|(verb, _)| verb == "webhook.refused")
        .map(|(_, d)| d["reason"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(reasons.len(), refused.len(), "{reasons:#?}");
    for (reason, expected) in reasons.iter().zip([
        "signature does not match",
        "is not rsa-sha256",
        "Authorization header is missing",
        "X-MS-Certificate-Url header is missing",
        "X-MS-Signature-Algorithm header is missing",
        "not an allowed certificate location",
        "not an allowed certificate location",
        "not valid now",
        "subject",
    ]) {
        assert!(
            reason.contains(expected),
            "{reason:?} should say {expected:?}"
        );
    }
    assert_eq!(
        log.iter()
            .filter(|(verb, _)| verb == "webhook.received")
            .count(),
        4
    );
}
