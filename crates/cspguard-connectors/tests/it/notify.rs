use std::time::Duration;

use cspguard_connectors::notify::webhook_body;
use cspguard_connectors::{
    ConnectorError, Message, RetryPolicy, Secret, Smtp, SmtpConfig, SmtpTls, Webhook, WebhookFormat,
};
use cspguard_standins::{SmtpStandIn, WebhookStandIn};
use serde_json::json;

use crate::common::closed_port;

fn message() -> Message {
    Message {
        action_key: "case-42:suspend:6c7d8e9f".into(),
        title: "Crypto mining on Contoso".into(),
        text: "Microsoft reported CryptoMining on vmss-gpu-01 <rg-tmp-7>.".into(),
        severity: "high".into(),
        link: Some("https://cspguard.example/cases/42".into()),
        facts: vec![
            ("customer".into(), "Contoso Ltd".into()),
            ("money at risk".into(), "EUR 12,400".into()),
        ],
    }
}

#[tokio::test]
async fn webhook_down_then_up_without_leaking_the_url() {
    let hook = WebhookStandIn::start().await;
    let webhook = Webhook::new(
        &Secret::new(hook.url()),
        WebhookFormat::Generic,
        RetryPolicy::fast_for_tests(),
    )
    .expect("webhook");
    hook.harness().down();
    let err = webhook.send(&message()).await.expect_err("down");
    assert!(err.is_retryable(), "{err:?}");
    assert!(
        matches!(err, ConnectorError::Server { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(hook.received().len(), 3, "retried up to max_attempts");
    hook.harness().up();
    webhook.send(&message()).await.expect("up");
    assert_eq!(hook.received().len(), 4);
    let text = format!("{err} {err:?} {webhook:?}");
    assert!(!text.contains("T0KEN"), "webhook URL leaked: {text}");
    assert!(
        format!("{webhook:?}").contains("127.0.0.1"),
        "scheme and host are shown"
    );
}

#[tokio::test]
async fn webhook_not_listening_is_retryable_and_hides_the_url() {
    let url = format!("http://127.0.0.1:{}/hooks/T0KEN-s3cr3t", closed_port());
    let policy = RetryPolicy {
        max_attempts: 2,
        ..RetryPolicy::fast_for_tests()
    };
    let webhook = Webhook::new(&Secret::new(url), WebhookFormat::Slack, policy).expect("webhook");
    let err = webhook.send(&message()).await.expect_err("nothing listens");
    assert!(
        matches!(err, ConnectorError::Transport(_)) && err.is_retryable(),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("T0KEN"));
    let bad = Webhook::new(
        &Secret::new("not a url T0KEN"),
        WebhookFormat::Generic,
        RetryPolicy::none(),
    )
    .expect_err("bad");
    assert!(!bad.to_string().contains("T0KEN"));
}

#[tokio::test]
async fn webhook_bodies_have_the_documented_shapes_and_the_idempotency_key() {
    let hook = WebhookStandIn::start().await;
    let m = message();
    for format in [
        WebhookFormat::Generic,
        WebhookFormat::Slack,
        WebhookFormat::Teams,
    ] {
        let webhook =
            Webhook::new(&Secret::new(hook.url()), format, RetryPolicy::none()).expect("webhook");
        webhook.send(&m).await.expect("send");
        let got = hook.received().pop().expect("received");
        assert_eq!(got.header("idempotency-key"), Some(m.action_key.as_str()));
        assert_eq!(got.header("content-type"), Some("application/json"));
        assert_eq!(got.json(), Some(&webhook_body(format, &m)));
    }
    let bodies: Vec<_> = hook
        .received()
        .into_iter()
        .map(|r| r.json().cloned().expect("json"))
        .collect();
    assert_eq!(
        bodies[0],
        json!({
            "action_key": "case-42:suspend:6c7d8e9f",
            "title": "Crypto mining on Contoso",
            "text": "Microsoft reported CryptoMining on vmss-gpu-01 <rg-tmp-7>.",
            "severity": "high",
            "link": "https://cspguard.example/cases/42",
            "facts": {"customer": "Contoso Ltd", "money at risk": "EUR 12,400"},
        })
    );
    let slack = &bodies[1];
    assert_eq!(slack["text"], "[high] Crypto mining on Contoso");
    let blocks = slack["blocks"].as_array().expect("blocks");
    assert_eq!(
        blocks[0],
        json!({"type": "header", "text": {"type": "plain_text", "text": "Crypto mining on Contoso"}})
    );
    assert_eq!(
        blocks[1]["text"]["text"],
        "Microsoft reported CryptoMining on vmss-gpu-01 &lt;rg-tmp-7&gt;."
    );
    assert_eq!(blocks[2]["fields"][0]["text"], "*customer*\nContoso Ltd");
    assert_eq!(
        blocks[3]["elements"][0]["url"],
        "https://cspguard.example/cases/42"
    );
    let teams = &bodies[2];
    assert_eq!(teams["type"], "message");
    let attachment = &teams["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(
        (card["type"].as_str(), card["version"].as_str()),
        (Some("AdaptiveCard"), Some("1.4"))
    );
    assert_eq!(card["body"][0]["text"], "Crypto mining on Contoso");
    assert_eq!(
        card["body"][2],
        json!({"type": "FactSet", "facts": [
            {"title": "customer", "value": "Contoso Ltd"}, {"title": "money at risk", "value": "EUR 12,400"}
        ]})
    );
    assert_eq!(
        card["actions"][0],
        json!({"type": "Action.OpenUrl", "title": "Open in cspguard", "url": "https://cspguard.example/cases/42"})
    );
}

#[tokio::test]
async fn smtp_mail_carries_the_action_key_as_message_id() {
    let server = SmtpStandIn::start().await;
    let smtp = Smtp::new(SmtpConfig {
        host: server.host(),
        port: server.port(),
        tls: SmtpTls::None,
        username: Some("alerts".into()),
        password: Some(Secret::new("m4il-S3cret")),
        from: "cspguard <alerts@partner.example>".into(),
        to: vec![
            "soc@partner.example".into(),
            "Billing <billing@partner.example>".into(),
        ],
        retry: RetryPolicy::fast_for_tests(),
    })
    .expect("smtp");
    assert!(!format!("{smtp:?}").contains("S3cret"));
    smtp.send(&message()).await.expect("send");
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "alerts@partner.example");
    assert_eq!(
        mail.to,
        vec!["soc@partner.example", "billing@partner.example"]
    );
    assert_eq!(
        mail.header("Message-ID").as_deref(),
        Some("<case-42_suspend_6c7d8e9f@cspguard>")
    );
    assert_eq!(
        mail.header("subject").as_deref(),
        Some("[high] Crypto mining on Contoso")
    );
    assert!(mail.data.contains("money at risk: EUR 12,400"));
    assert!(mail.authenticated, "AUTH with the configured credentials");
}

#[tokio::test]
async fn smtp_unreachable_is_a_transient_error() {
    let smtp = Smtp::new(SmtpConfig {
        host: "127.0.0.1".into(),
        port: closed_port(),
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "alerts@partner.example".into(),
        to: vec!["soc@partner.example".into()],
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
    })
    .expect("smtp");
    let err = smtp.send(&message()).await.expect_err("refused");
    assert!(
        matches!(
            err,
            ConnectorError::Mail {
                permanent: false,
                ..
            }
        ) && err.is_retryable(),
        "{err:?}"
    );
}
