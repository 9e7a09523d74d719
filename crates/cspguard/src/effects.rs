//! The real [`Effects`]: Partner Center, Graph, webhooks and SMTP, built from `cspguard.toml`.
//!
//! Clients are built once per executor pass; a service the settings do not configure (or whose secret is not set)
//! is not an error until an action needs it, and then the action is *blocked* (kept ready, attempt not counted) with
//! a message saying what to configure — a configuration gap must not burn an action's attempts or fail it for good.

use crate::actions::{request_shape, service_request, text, title, Effects, SendError, Sent};
use crate::settings::{
    ChannelSettings, GraphSettings, PartnerCenterSettings, SecretRef, Settings, SmtpTlsSetting,
    WebhookFormatSetting,
};
use cspguard_cases::{ActionKind, ActionRecord, Case};
use cspguard_connectors::{
    Applied, ConnectorError, Graph, GraphConfig, Message, PartnerCenter, PartnerCenterConfig,
    RetryPolicy, Secret, Smtp, SmtpConfig, SmtpTls, TokenConfig, Webhook, WebhookFormat,
};
use std::collections::HashMap;
use std::time::Duration;

enum Channel {
    Webhook(Webhook),
    Smtp(Smtp),
}

/// Clients for every configured service, or why one is unavailable.
pub struct Connected {
    pc: Result<PartnerCenter, String>,
    graph: Result<Graph, String>,
    channels: HashMap<String, Result<Channel, String>>,
}

/// Retries inside one executor attempt: short, because the executor retries across passes with its own backoff.
pub fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
    }
}

fn url(s: &str, what: &str) -> Result<url::Url, String> {
    url::Url::parse(s).map_err(|e| format!("{what} {s:?} is not a URL: {e}"))
}

/// A Partner Center client from `[partner_center]`, or why there is none.
pub fn partner_center(s: Option<&PartnerCenterSettings>) -> Result<PartnerCenter, String> {
    let s =
        s.ok_or("Partner Center is not configured: add a [partner_center] table to cspguard.toml")?;
    let secret = SecretRef {
        env: s.client_secret_env.clone(),
        file: s.client_secret_file.clone(),
    }
    .read("Partner Center client secret")
    .map_err(|e| e.to_string())?;
    let mut token = TokenConfig::new(
        s.tenant.clone(),
        s.client_id.clone(),
        Secret::new(secret),
        cspguard_connectors::partner_center::PARTNER_CENTER_SCOPE,
    );
    token.authority = url(&s.authority, "[partner_center] authority")?;
    let mut cfg = PartnerCenterConfig::new(token);
    cfg.base_url = url(&s.base_url, "[partner_center] base_url")?;
    cfg.retry = retry();
    PartnerCenter::new(cfg).map_err(|e| e.to_string())
}

fn graph(s: Option<&GraphSettings>) -> Result<Graph, String> {
    let s = s.ok_or("Microsoft Graph is not configured: add a [graph] table to cspguard.toml")?;
    let secret = SecretRef {
        env: s.client_secret_env.clone(),
        file: s.client_secret_file.clone(),
    }
    .read("Graph client secret")
    .map_err(|e| e.to_string())?;
    let mut cfg = GraphConfig::new(s.client_id.clone(), Secret::new(secret));
    cfg.base_url = url(&s.base_url, "[graph] base_url")?;
    cfg.authority = url(&s.authority, "[graph] authority")?;
    cfg.retry = retry();
    Graph::new(cfg).map_err(|e| e.to_string())
}

fn channel(name: &str, c: &ChannelSettings) -> Result<Channel, String> {
    match c {
        ChannelSettings::Webhook {
            format,
            url_env,
            url_file,
        } => {
            let u = SecretRef {
                env: url_env.clone(),
                file: url_file.clone(),
            }
            .read(&format!("URL of the [notify.{name}] webhook"))
            .map_err(|e| e.to_string())?;
            let f = match format {
                WebhookFormatSetting::Generic => WebhookFormat::Generic,
                WebhookFormatSetting::Teams => WebhookFormat::Teams,
                WebhookFormatSetting::Slack => WebhookFormat::Slack,
            };
            Webhook::new(&Secret::new(u), f, retry())
                .map(Channel::Webhook)
                .map_err(|e| e.to_string())
        }
        ChannelSettings::Smtp {
            host,
            port,
            tls,
            username,
            password_env,
            password_file,
            from,
            to,
        } => {
            let password = if password_env.is_some() || password_file.is_some() {
                Some(Secret::new(
                    SecretRef {
                        env: password_env.clone(),
                        file: password_file.clone(),
                    }
                    .read(&format!("SMTP password of [notify.{name}]"))
                    .map_err(|e| e.to_string())?,
                ))
            } else {
                None
            };
            Smtp::new(SmtpConfig {
                host: host.clone(),
                port: *port,
                tls: match tls {
                    SmtpTlsSetting::Starttls => SmtpTls::Starttls,
                    SmtpTlsSetting::Tls => SmtpTls::Tls,
                    SmtpTlsSetting::None => SmtpTls::None,
                },
                username: username.clone(),
                password,
                from: from.clone(),
                to: to.clone(),
                retry: retry(),
            })
            .map(Channel::Smtp)
            .map_err(|e| e.to_string())
        }
    }
}

impl Connected {
    pub fn from_settings(s: &Settings) -> anyhow::Result<Connected> {
        Ok(Connected {
            pc: partner_center(s.partner_center.as_ref()),
            graph: graph(s.graph.as_ref()),
            channels: s
                .notify
                .iter()
                .map(|(n, c)| (n.clone(), channel(n, c)))
                .collect(),
        })
    }
}

fn blocked(why: &str) -> SendError {
    SendError::permanent(why).blocked()
}

fn failed(e: ConnectorError) -> SendError {
    let retry_after = match &e {
        ConnectorError::Throttled { retry_after } => *retry_after,
        ConnectorError::CircuitOpen { until_secs, .. } => Some(Duration::from_secs(*until_secs)),
        _ => None,
    };
    SendError {
        retryable: e.is_retryable() || matches!(e, ConnectorError::CircuitOpen { .. }),
        retry_after,
        message: e.to_string(),
        blocked: false,
    }
}

fn applied(a: Applied, what: serde_json::Value) -> Sent {
    match a {
        Applied::Done => Sent::Done(what),
        Applied::AlreadyInEffect => Sent::AlreadyInEffect(what),
    }
}

fn message(a: &ActionRecord, case: &Case) -> Message {
    Message {
        action_key: a.key.0.clone(),
        title: title(case),
        text: text(case),
        severity: case.severity.as_str().to_string(),
        link: None,
        facts: vec![
            ("Case".into(), case.id.0.clone()),
            ("Customer".into(), case.customer_tenant_id.clone()),
            ("Kind".into(), case.kind.clone()),
            ("Score".into(), case.score.to_string()),
            ("Money at risk".into(), case.money_at_risk.to_string()),
            ("Respond by".into(), case.respond_due.to_rfc3339()),
            ("Reason".into(), a.reason.clone()),
        ],
    }
}

impl Effects for Connected {
    async fn send(&self, a: &ActionRecord, case: &Case) -> Result<Sent, SendError> {
        let shape = request_shape(&a.kind, case);
        match &a.kind {
            ActionKind::Notify { channel } => {
                let c = match self.channels.get(channel) {
                    None => {
                        return Err(blocked(&format!(
                            "notify channel {channel:?} is not defined: add [notify.{channel}]"
                        )))
                    }
                    Some(Err(why)) => return Err(blocked(why)),
                    Some(Ok(c)) => c,
                };
                let m = message(a, case);
                match c {
                    Channel::Webhook(w) => w.send(&m).await.map_err(failed)?,
                    Channel::Smtp(s) => s.send(&m).await.map_err(failed)?,
                }
                Ok(Sent::Done(
                    serde_json::json!({"channel": channel, "title": m.title}),
                ))
            }
            ActionKind::ServiceRequest { .. } => Ok(Sent::Done(service_request(case))),
            ActionKind::RevokeSessions {
                customer_tenant_id,
                user,
            } => {
                let g = self.graph.as_ref().map_err(|w| blocked(w))?;
                g.revoke_sign_in_sessions(customer_tenant_id, user)
                    .await
                    .map_err(failed)?;
                Ok(Sent::Done(shape))
            }
            ActionKind::SetBudget {
                customer_tenant_id,
                amount,
            } => {
                let pc = self.pc.as_ref().map_err(|w| blocked(w))?;
                let r = pc
                    .set_budget(customer_tenant_id, *amount)
                    .await
                    .map_err(failed)?;
                Ok(applied(r, shape))
            }
            ActionKind::SuspendSubscription {
                customer_tenant_id,
                subscription_id,
            } => {
                let pc = self.pc.as_ref().map_err(|w| blocked(w))?;
                let r = pc
                    .suspend_subscription(customer_tenant_id, subscription_id)
                    .await
                    .map_err(failed)?;
                Ok(applied(r, shape))
            }
            ActionKind::FraudStatus {
                azure_subscription_id,
                event_ids,
                status,
                reason,
            } => {
                let pc = self.pc.as_ref().map_err(|w| blocked(w))?;
                let r = pc
                    .update_fraud_status(
                        azure_subscription_id,
                        event_ids,
                        status,
                        reason.as_deref(),
                    )
                    .await
                    .map_err(failed)?;
                Ok(applied(r, shape))
            }
        }
    }
}
