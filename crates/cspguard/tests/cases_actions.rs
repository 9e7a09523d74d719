//! Cases and mitigation end to end: the real `cspguard` binary against local stand-ins for Partner Center, Graph, the
//! Entra token endpoint, a webhook receiver and an SMTP server (`cspguard-standins`, built from the documented
//! shapes). A simulated cryptojacking incident goes alert -> case -> timeline -> approved suspension -> Microsoft
//! status update, and every external failure is survived without a lost or doubled action.

use cspguard_standins::entra::EntraStandIn;
use cspguard_standins::graph::GraphStandIn;
use cspguard_standins::harness::{Body, Fault};
use cspguard_standins::partner_center::{routes, PartnerCenterStandIn};
use cspguard_standins::smtp::SmtpStandIn;
use cspguard_standins::webhook::WebhookStandIn;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

mod support;
use support::small_book;

const CLIENT_ID: &str = "cspguard-app";
const SECRET: &str = "s3cret-value-never-logged";
const PARTNER_TENANT: &str = "0a0b0c0d-0000-4000-8000-00000000000f";

struct World {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
    entra: EntraStandIn,
    pc: PartnerCenterStandIn,
    graph: GraphStandIn,
    webhook: WebhookStandIn,
    smtp: SmtpStandIn,
}

impl World {
    /// Stand-ins up, settings written, a simulated book imported with detection (which opens the cases and plans the
    /// playbook's actions).
    async fn new(two_approvers_above: &str) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let entra = EntraStandIn::start(CLIENT_ID, SECRET).await;
        let pc = PartnerCenterStandIn::start(&entra).await;
        let graph = GraphStandIn::start(&entra).await;
        let webhook = WebhookStandIn::start().await;
        let smtp = SmtpStandIn::start().await;
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let config = tmp.path().join("cspguard.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[actions]
two_approvers_above = "{two_approvers_above}"
retry_base_seconds = 0
max_attempts = 4

[notify.soc]
type = "webhook"
format = "teams"
url_env = "T_WEBHOOK_URL"

[notify.mail]
type = "smtp"
host = "{smtp_host}"
port = {smtp_port}
tls = "none"
from = "cspguard@partner.example"
to = ["soc@partner.example"]

[[playbooks]]
name = "compromise"
when = 'case.kind in ["account_compromise", "resource_abuse"]'
actions = [
  {{ type = "notify", channel = "soc" }},
  {{ type = "notify", channel = "mail" }},
  {{ type = "fraud_status", status = "Investigating" }},
  {{ type = "suspend_subscription" }},
  {{ type = "revoke_sessions" }},
]

[partner_center]
base_url = "{pc}"
authority = "{entra}"
tenant = "{PARTNER_TENANT}"
client_id = "{CLIENT_ID}"
client_secret_env = "T_PC_SECRET"

[graph]
base_url = "{graph}"
authority = "{entra}"
client_id = "{CLIENT_ID}"
client_secret_env = "T_PC_SECRET"
"#,
                smtp_host = smtp.host(),
                smtp_port = smtp.port(),
                pc = pc.url(),
                entra = entra.url(),
                graph = graph.url(),
            ),
        )
        .unwrap();
        let w = World {
            data,
            config,
            entra,
            pc,
            graph,
            webhook,
            smtp,
            _tmp: tmp,
        };
        let book = small_book(w._tmp.path());
        let o = w.run(&[
            "import",
            "auto",
            book.to_str().unwrap(),
            "--detect",
            "--quiet",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        w
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cspguard"));
        c.arg("--data-dir")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("CSPGUARD_DATABASE_URL")
            .env_remove("CSPGUARD_USER")
            .env("T_PC_SECRET", SECRET)
            .env(
                "T_WEBHOOK_URL",
                format!("{}/hook/soc-secret-token", self.webhook.url()),
            );
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run cspguard")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            !all.contains(SECRET) && !all.contains("soc-secret-token"),
            "a secret reached the output of {args:?}: {all}"
        );
        assert_eq!(o.status.code(), Some(0), "{args:?}: {all}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{args:?} did not print JSON ({e}): {out}"))
    }

    /// The cryptojacking case (the book has one).
    fn compromise_case(&self) -> Value {
        let list = self.json(&["cases", "list", "--json"]);
        list["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                matches!(
                    c["kind"].as_str(),
                    Some("account_compromise" | "resource_abuse")
                )
            })
            .cloned()
            .unwrap_or_else(|| panic!("no compromise case in {list}"))
    }

    fn actions(&self, case: &str) -> Vec<Value> {
        self.json(&["actions", "list", "--json", "--case", case])["actions"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn action(&self, case: &str, kind: &str) -> Value {
        self.actions(case)
            .into_iter()
            .find(|a| a["kind"]["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} action in case {case}"))
    }

    /// Partner Center knows the customer's subscriptions (active) and Microsoft's fraud events of the case.
    fn seed_partner_center(&self, case: &str) {
        for a in self.actions(case) {
            let k = &a["kind"];
            match k["type"].as_str() {
                Some("suspend_subscription") => {
                    let tenant = k["customer_tenant_id"].as_str().unwrap();
                    let mut s = cspguard_standins::fixtures::subscription(1, "active");
                    s["id"] = k["subscription_id"].clone();
                    self.pc.set_subscriptions(tenant, vec![s]);
                }
                Some("fraud_status") => {
                    let sub = k["azure_subscription_id"].as_str().unwrap();
                    let events = k["event_ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .enumerate()
                        .map(|(i, id)| {
                            let mut e =
                                cspguard_standins::fixtures::fraud_event(i as u64, sub, "Active");
                            e["eventId"] = id.clone();
                            e
                        })
                        .collect();
                    self.pc.set_fraud_events(events);
                }
                _ => {}
            }
        }
    }
}

fn audit_verbs(case: &Value) -> Vec<String> {
    case["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["verb"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cryptojacking_incident_goes_from_alert_to_approved_suspension_and_microsoft_status() {
    let w = World::new("0").await;
    let case = w.compromise_case();
    let id = case["id"].as_str().unwrap().to_string();
    assert_eq!(case["status"], "open");
    assert!(case["sla"]["respond"]["due"].is_string());
    assert!(case["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == "reset_credentials"));

    // The timeline gathers the incident: sign-ins, control-plane operations, usage, the alerts.
    let shown = w.json(&["cases", "show", &id, "--json"]);
    let kinds: std::collections::HashSet<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["sign_in", "control_plane", "usage", "alert"] {
        assert!(kinds.contains(k), "timeline of {id} has no {k}: {kinds:?}");
    }
    w.seed_partner_center(&id);
    let suspend = w.action(&id, "suspend_subscription");
    assert_eq!(suspend["state"], "awaiting_approval");
    assert_eq!(
        suspend["approvals_required"], 2,
        "above two_approvers_above = 0"
    );

    // Automatic actions run: notifications and "Investigating" at Microsoft; the suspension waits.
    let r = w.json(&["actions", "run", "--json"]);
    assert!(r["succeeded"].as_u64().unwrap() >= 3, "{r}");
    let hooks = w.webhook.received();
    assert_eq!(hooks.len(), 1);
    let Body::Json(body) = &hooks[0].body else {
        panic!("webhook body is not JSON")
    };
    assert_eq!(body["type"], "message");
    assert_eq!(
        body["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(body.to_string().contains(&id), "the message names the case");
    let keys: Vec<&str> = hooks
        .iter()
        .filter_map(|h| h.header("idempotency-key"))
        .collect();
    assert!(
        keys.iter()
            .all(|k| w.actions(&id).iter().any(|a| a["key"] == *k)),
        "{keys:?}"
    );
    let mails = w.smtp.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].header("message-id").unwrap().contains("@cspguard"));
    let status_posts = w.pc.harness().requests_to(routes::FRAUD_STATUS);
    assert_eq!(status_posts.len(), 1);
    let Body::Json(sb) = &status_posts[0].body else {
        panic!()
    };
    assert_eq!(sb["EventStatus"], "Investigating");
    assert!(sb.get("ResolvedReason").is_none());
    assert!(!sb["EventIds"].as_array().unwrap().is_empty());
    assert_eq!(
        w.pc.harness().count(routes::PATCH_SUBSCRIPTION),
        0,
        "not approved yet"
    );

    // Two different approvers: the same person twice is refused.
    let key = suspend["key"].as_str().unwrap();
    w.ok(&["--as", "alice", "actions", "approve", key]);
    let again = w.run(&["--as", "alice", "actions", "approve", key]);
    assert_ne!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("different person"));
    w.ok(&["actions", "run"]);
    assert_eq!(
        w.pc.harness().count(routes::PATCH_SUBSCRIPTION),
        0,
        "one approval of two"
    );
    w.ok(&["--as", "bob", "actions", "approve", key]);
    let revoke = w.action(&id, "revoke_sessions");
    w.ok(&[
        "--as",
        "alice",
        "actions",
        "approve",
        revoke["key"].as_str().unwrap(),
    ]);
    w.ok(&["actions", "run"]);
    let patches = w.pc.harness().requests_to(routes::PATCH_SUBSCRIPTION);
    assert_eq!(patches.len(), 1);
    let Body::Json(pb) = &patches[0].body else {
        panic!()
    };
    assert_eq!(pb["status"], "suspended");
    assert_eq!(pb["id"], suspend["kind"]["subscription_id"]);
    assert!(
        pb.get("offerId").is_some(),
        "the whole subscription object is sent"
    );
    let tenant = suspend["kind"]["customer_tenant_id"].as_str().unwrap();
    let sub = suspend["kind"]["subscription_id"].as_str().unwrap();
    assert_eq!(
        w.pc.subscription(tenant, sub).unwrap()["status"],
        "suspended"
    );
    assert!(
        !w.graph.revocations().is_empty(),
        "sessions of the compromised user were revoked"
    );

    // The verdict goes to Microsoft.
    w.ok(&[
        "--as",
        "carol",
        "cases",
        "resolve",
        &id,
        "--verdict",
        "fraud",
        "--note",
        "confirmed with the customer",
    ]);
    w.ok(&["actions", "run"]);
    let posts = w.pc.harness().requests_to(routes::FRAUD_STATUS);
    let Body::Json(last) = &posts.last().unwrap().body else {
        panic!()
    };
    assert_eq!(last["EventStatus"], "Resolved");
    assert_eq!(last["ResolvedReason"], "Fraud");
    assert!(w
        .pc
        .fraud_events()
        .iter()
        .all(|e| e["eventStatus"] == "Resolved"));

    // Every step is audited, with who.
    let shown = w.json(&["cases", "show", &id, "--json"]);
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["verdict"], "Fraud");
    assert!(shown["mitigated_at"].is_string());
    let verbs = audit_verbs(&shown);
    for v in [
        "case.opened",
        "action.planned",
        "action.approved",
        "action.started",
        "action.succeeded",
        "case.mitigated",
        "case.resolved",
    ] {
        assert!(
            verbs.iter().any(|x| x == v),
            "no {v} in the audit log: {verbs:?}"
        );
    }
    let actors: Vec<&str> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verb"] == "action.approved" && e["action_key"] == suspend["key"])
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["alice", "bob"]);

    // Intake again (a re-scan): nothing new is planned, nothing is sent twice.
    let r = w.json(&["cases", "intake", "--json"]);
    assert_eq!(r["actions_planned"], 0);
    w.ok(&["actions", "run"]);
    assert_eq!(w.pc.harness().count(routes::PATCH_SUBSCRIPTION), 1);
    assert_eq!(w.webhook.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_server_errors_and_expired_tokens_are_survived_without_doubling() {
    let w = World::new("1000000").await;
    let id = w.compromise_case()["id"].as_str().unwrap().to_string();
    w.seed_partner_center(&id);
    let suspend = w.action(&id, "suspend_subscription");
    assert_eq!(suspend["approvals_required"], 1);
    w.ok(&[
        "--as",
        "alice",
        "actions",
        "approve",
        suspend["key"].as_str().unwrap(),
    ]);
    // 429 with Retry-After, then a 500: the client waits as asked and retries; one suspension results.
    w.pc.harness().fail_next(
        routes::PATCH_SUBSCRIPTION,
        vec![Fault::Status429 { retry_after_s: 1 }, Fault::Status500],
    );
    let started = std::time::Instant::now();
    let r = w.json(&["actions", "run", "--json"]);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(r["failed"], 0, "{r}");
    let tenant = suspend["kind"]["customer_tenant_id"].as_str().unwrap();
    let sub = suspend["kind"]["subscription_id"].as_str().unwrap();
    assert_eq!(
        w.pc.subscription(tenant, sub).unwrap()["status"],
        "suspended"
    );
    assert_eq!(
        w.pc.harness().count(routes::PATCH_SUBSCRIPTION),
        3,
        "429, 500, then the one that worked"
    );
    let after = w.action(&id, "suspend_subscription");
    assert_eq!(after["state"], "succeeded");
    // A token that expires while in use: Partner Center answers 401, the client gets a new token and retries once.
    let before = w.entra.token_requests();
    w.entra.expire_all();
    w.pc.harness()
        .fail_next(routes::FRAUD_STATUS, vec![Fault::Status401]);
    w.ok(&[
        "--as",
        "bob",
        "cases",
        "resolve",
        &id,
        "--verdict",
        "ignore",
    ]);
    let r = w.json(&["actions", "run", "--json"]);
    assert_eq!(r["failed"], 0, "{r}");
    assert_eq!(
        w.entra.token_requests() - before,
        2,
        "the first token, then a new one after the 401"
    );
    let Body::Json(last) = &w
        .pc
        .harness()
        .requests_to(routes::FRAUD_STATUS)
        .last()
        .unwrap()
        .body
        .clone()
    else {
        panic!()
    };
    assert_eq!(last["ResolvedReason"], "Ignore");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_sending_and_recording_does_not_suspend_twice() {
    let w = World::new("1000000").await;
    let id = w.compromise_case()["id"].as_str().unwrap().to_string();
    w.seed_partner_center(&id);
    // The automatic actions run first; then only the approved suspension is left to send.
    w.ok(&["actions", "run"]);
    let suspend = w.action(&id, "suspend_subscription");
    w.ok(&[
        "--as",
        "alice",
        "actions",
        "approve",
        suspend["key"].as_str().unwrap(),
    ]);
    let o = w
        .command(&["actions", "run"])
        .env("CSPGUARD_FAULT", "crash-after-send")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the fault point aborts the process");
    assert_eq!(
        w.pc.harness().count(routes::PATCH_SUBSCRIPTION),
        1,
        "the request went out before the crash"
    );
    let stuck: Vec<Value> = w
        .actions(&id)
        .into_iter()
        .filter(|a| a["state"] == "in_flight")
        .collect();
    assert_eq!(
        stuck.len(),
        1,
        "the crash left exactly the action it was sending in flight"
    );
    // The restart finds it in flight, reads first, and finds the suspension in effect.
    let r = w.json(&["actions", "run", "--json"]);
    assert_eq!(r["already_in_effect"], 1, "{r}");
    assert_eq!(
        w.pc.harness().count(routes::PATCH_SUBSCRIPTION),
        1,
        "no second suspension"
    );
    let shown = w.json(&["cases", "show", &id, "--json"]);
    assert!(shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["verb"] == "action.started"
            && e["detail"]["recovering_after_interruption"] == true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_is_down_is_retried_later_and_does_not_block_the_case() {
    let w = World::new("1000000").await;
    let id = w.compromise_case()["id"].as_str().unwrap().to_string();
    w.seed_partner_center(&id);
    w.webhook.harness().down();
    let r = w.run(&["actions", "run", "--json"]);
    let r: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(r["retry_scheduled"], 1, "{r}");
    assert!(
        r["succeeded"].as_u64().unwrap() >= 2,
        "the other actions ran: {r}"
    );
    let webhook_action = w
        .actions(&id)
        .into_iter()
        .find(|a| a["kind"]["channel"] == "soc")
        .unwrap();
    assert_eq!(webhook_action["state"], "ready");
    assert!(webhook_action["last_error"]
        .as_str()
        .unwrap()
        .contains("503"));
    // The case moves on meanwhile.
    w.ok(&["--as", "alice", "cases", "status", &id, "investigating"]);
    w.webhook.harness().up();
    let r = w.json(&["actions", "run", "--json"]);
    assert_eq!(r["succeeded"], 1, "{r}");
    let got = w.webhook.received();
    let delivered: Vec<_> = got
        .iter()
        .filter(|h| h.header("idempotency-key") == webhook_action["key"].as_str())
        .collect();
    assert!(!delivered.is_empty());
    let r = w.json(&["actions", "run", "--json"]);
    assert_eq!(r["succeeded"], 0, "nothing is sent twice: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_pulls_partner_center_and_resumes_after_a_failure() {
    let w = World::new("1000000").await;
    let customers: Vec<Value> = (1..=3).map(cspguard_standins::fixtures::customer).collect();
    w.pc.set_customers(customers.clone());
    for c in &customers {
        let t = c["id"].as_str().unwrap();
        w.pc.set_subscriptions(
            t,
            vec![cspguard_standins::fixtures::subscription(1, "active")],
        );
    }
    let sub = "11111111-2222-4333-8444-555555555555";
    w.pc.set_fraud_events(
        (0..5)
            .map(|i| cspguard_standins::fixtures::fraud_event(i, sub, "Active"))
            .collect(),
    );
    // Fraud events come 2 a page; page 2 fails longer than the retries last.
    std::fs::write(
        &w.config,
        std::fs::read_to_string(&w.config).unwrap().replace(
            "client_secret_env = \"T_PC_SECRET\"\n\n[graph]",
            "client_secret_env = \"T_PC_SECRET\"\npage_size = 2\n\n[graph]",
        ),
    )
    .unwrap();
    w.pc.harness().fail_next(
        routes::FRAUD_EVENTS,
        vec![Fault::Delay(std::time::Duration::ZERO)],
    );
    w.pc.harness()
        .fail_next(routes::FRAUD_EVENTS, vec![Fault::Status500; 3]);
    let o = w.run(&["sync", "partner-center"]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "a service down for longer than the retries stops the run"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("resumes"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let pages_before: Vec<String> =
        w.pc.harness()
            .requests_to(routes::FRAUD_EVENTS)
            .iter()
            .filter_map(|r| r.query_param("PageNumber").map(str::to_string))
            .collect();
    w.pc.harness().clear_requests();
    let r = w.json(&["sync", "partner-center", "--json"]);
    assert_eq!(r["completed"], true, "{r}");
    let pages_after: Vec<String> =
        w.pc.harness()
            .requests_to(routes::FRAUD_EVENTS)
            .iter()
            .filter_map(|r| r.query_param("PageNumber").map(str::to_string))
            .collect();
    assert!(pages_before.contains(&"1".to_string()), "{pages_before:?}");
    assert!(
        !pages_after.contains(&"1".to_string()),
        "page 1 is not fetched again: {pages_after:?}"
    );
    assert_eq!(
        w.pc.harness().count(routes::CUSTOMERS),
        0,
        "customers were done before the failure"
    );
    // Everything is stored once: a new round adds nothing.
    let r = w.json(&["sync", "partner-center", "--json"]);
    assert_eq!(r["imported"], 0, "{r}");
    assert!(r["duplicates"].as_u64().unwrap() >= 5 + 3 + 3, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_failures_and_an_unreachable_mail_server_are_retried_without_doubling() {
    let w = World::new("1000000").await;
    let id = w.compromise_case()["id"].as_str().unwrap().to_string();
    w.seed_partner_center(&id);
    let revoke = w.action(&id, "revoke_sessions");
    w.ok(&[
        "--as",
        "alice",
        "actions",
        "approve",
        revoke["key"].as_str().unwrap(),
    ]);
    // Graph fails longer than one run's retries; the mail server is not listening at all.
    w.graph
        .harness()
        .fail_always(cspguard_standins::graph::REVOKE_ROUTE);
    let good = std::fs::read_to_string(&w.config).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &w.config,
        good.replace(
            &format!("port = {}", w.smtp.port()),
            &format!("port = {closed}"),
        ),
    )
    .unwrap();
    let r = w.json(&["actions", "run", "--json"]);
    assert_eq!(r["failed"], 0, "{r}");
    assert!(
        r["retry_scheduled"].as_u64().unwrap() >= 2,
        "revocation and mail are rescheduled: {r}"
    );
    assert!(
        r["succeeded"].as_u64().unwrap() >= 2,
        "the webhook and the status update went out: {r}"
    );
    let mail = w
        .actions(&id)
        .into_iter()
        .find(|a| a["kind"]["channel"] == "mail")
        .unwrap();
    assert_eq!(mail["state"], "ready");
    assert_eq!(w.action(&id, "revoke_sessions")["state"], "ready");
    assert!(w.graph.revocations().is_empty());
    // Both services are back: each action is done once, and nothing else is sent again.
    w.graph.harness().clear_faults();
    std::fs::write(&w.config, &good).unwrap();
    let hooks_before = w.webhook.received().len();
    let r = w.json(&["actions", "run", "--json"]);
    assert_eq!(r["succeeded"], 2, "{r}");
    assert_eq!(w.smtp.mails().len(), 1);
    assert_eq!(w.graph.revocations().len(), 1);
    assert_eq!(
        w.webhook.received().len(),
        hooks_before,
        "the webhook is not sent again"
    );
    let r = w.json(&["actions", "run", "--json"]);
    assert_eq!(r["succeeded"], 0, "{r}");
}
