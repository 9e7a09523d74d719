//! Partner Center webhooks into `cspguard serve`: the token is checked, the named resource is fetched from (the
//! stand-in for) Partner Center with the app's credentials, and what it says reaches the event store and the alerts.

use cspguard_standins::entra::EntraStandIn;
use cspguard_standins::partner_center::{routes, PartnerCenterStandIn};
use serde_json::{json, Value};
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
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("cspguard.toml"),
        format!(
            "[partner_center]\nbase_url = \"{}\"\nauthority = \"{}\"\ntenant = \"0a0b0c0d-0000-4000-8000-00000000000f\"\n\
             client_id = \"app\"\nclient_secret_env = \"T_PC_SECRET\"\n\n[webhooks]\ntoken_env = \"T_HOOK_TOKEN\"\n",
            pc.url(),
            entra.url()
        ),
    )
    .unwrap();
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
    let api = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _srv = Server(
        cspguard(&data)
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
    let http = reqwest::Client::new();
    let hook = |token: &str, body: Value| {
        http.post(format!("{base}/webhooks/partner-center?token={token}"))
            .json(&body)
            .send()
    };
    let updated = json!({
        "EventName": "subscription-updated",
        "ResourceUri": format!("{}/v1/customers/{tenant}/subscriptions/{sub_id}", pc.url()),
        "ResourceName": "Subscription", "AuditUri": null, "ResourceChangeUtcDate": "2026-10-02T10:00:00Z"
    });
    assert_eq!(hook("wrong", updated.clone()).await.unwrap().status(), 401);
    let no_token = http
        .post(format!("{base}/webhooks/partner-center"))
        .json(&updated)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    assert_eq!(
        pc.harness().count(routes::GET_SUBSCRIPTION),
        0,
        "nothing is fetched for an unauthenticated call"
    );

    let r = hook(TOKEN, updated.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["fetched"], true, "{v}");
    assert_eq!(v["stored"][0]["imported"], 1, "{v}");
    assert_eq!(pc.harness().count(routes::GET_SUBSCRIPTION), 1);
    // The same notification again adds nothing.
    let v: Value = hook(TOKEN, updated).await.unwrap().json().await.unwrap();
    assert_eq!(v["stored"][0]["imported"], 0, "{v}");

    let detected = json!({
        "EventName": "azure-fraud-event-detected",
        "ResourceUri": format!("/v1/fraudEvents?SubscriptionId={azure}"),
        "ResourceName": "FraudEvent", "ResourceChangeUtcDate": "2026-10-02T11:00:00Z"
    });
    let v: Value = hook(TOKEN, detected).await.unwrap().json().await.unwrap();
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
    let v: Value = hook(TOKEN, other).await.unwrap().json().await.unwrap();
    assert_eq!(v["fetched"], false, "acknowledged, nothing to fetch");
}
