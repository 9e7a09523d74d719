//! Notifications: [`Webhook`] (generic JSON, Teams, Slack) and [`Smtp`] mail.
//!
//! Both carry the action's key so a receiver can recognise a resend: the `Idempotency-Key` header of a webhook and
//! the `Message-ID: <{action_key}@cspguard>` of a mail. A webhook URL is a secret (it holds the token): only its
//! scheme and host are ever logged or shown.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Map, Value};
use url::Url;

use crate::error::{error_chain, ConnectorError, Result};
use crate::http::{self, Call};
use crate::resilience::{CircuitBreaker, RetryPolicy};
use crate::secret::Secret;

/// What to tell people, whatever the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The key of the action that sends it: the idempotency key of the send.
    pub action_key: String,
    /// One line.
    pub title: String,
    /// The body (plain text).
    pub text: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// Where to look (the case in the console), if anywhere.
    pub link: Option<String>,
    /// Name/value pairs shown as a table, in order.
    pub facts: Vec<(String, String)>,
}

/// The body shape a webhook expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// cspguard's own JSON: `{"action_key","title","text","severity","link","facts":{...}}`.
    Generic,
    /// A Teams (Workflows / incoming webhook) message holding an Adaptive Card.
    Teams,
    /// A Slack incoming-webhook message: `{"text", "blocks"}`.
    Slack,
}

/// The JSON body of `message` in `format` (what [`Webhook::send`] POSTs).
pub fn webhook_body(format: WebhookFormat, m: &Message) -> Value {
    match format {
        WebhookFormat::Generic => {
            let facts: Map<String, Value> = m
                .facts
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({
                "action_key": m.action_key,
                "title": m.title,
                "text": m.text,
                "severity": m.severity,
                "link": m.link,
                "facts": facts,
            })
        }
        WebhookFormat::Slack => {
            let mut blocks = vec![
                json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&m.title, 150)}}),
                json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&m.text), 3000)}}),
            ];
            // Slack allows at most 10 fields per section.
            for chunk in m.facts.chunks(10) {
                let fields: Vec<Value> = chunk
                    .iter()
                    .map(|(k, v)| json!({"type": "mrkdwn", "text": truncate(&format!("*{}*\n{}", slack_escape(k), slack_escape(v)), 2000)}))
                    .collect();
                blocks.push(json!({"type": "section", "fields": fields}));
            }
            if let Some(link) = &m.link {
                blocks.push(json!({"type": "actions", "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open in cspguard"}, "url": link}
                ]}));
            }
            blocks.push(json!({"type": "context", "elements": [
                {"type": "mrkdwn", "text": format!("severity: {} · {}", slack_escape(&m.severity), slack_escape(&m.action_key))}
            ]}));
            json!({"text": format!("[{}] {}", m.severity, m.title), "blocks": blocks})
        }
        WebhookFormat::Teams => {
            let color = match m.severity.to_ascii_lowercase().as_str() {
                "high" | "critical" => "Attention",
                "medium" => "Warning",
                _ => "Default",
            };
            let facts: Vec<Value> = m
                .facts
                .iter()
                .map(|(k, v)| json!({"title": k, "value": v}))
                .collect();
            let mut body = vec![
                json!({"type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium", "color": color, "wrap": true}),
                json!({"type": "TextBlock", "text": m.text, "wrap": true}),
            ];
            if !facts.is_empty() {
                body.push(json!({"type": "FactSet", "facts": facts}));
            }
            body.push(json!({"type": "TextBlock", "text": format!("severity {} · {}", m.severity, m.action_key), "isSubtle": true, "size": "Small", "wrap": true}));
            let mut card = json!({
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            });
            if let (Some(link), Some(obj)) = (&m.link, card.as_object_mut()) {
                obj.insert(
                    "actions".into(),
                    json!([{"type": "Action.OpenUrl", "title": "Open in cspguard", "url": link}]),
                );
            }
            json!({
                "type": "message",
                "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}],
            })
        }
    }
}

fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A webhook to POST notifications to. `Debug` shows only the URL's scheme and host.
pub struct Webhook {
    http: reqwest::Client,
    url: Url,
    origin: String,
    format: WebhookFormat,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("origin", &self.origin)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// A webhook at `url` (a secret: it usually holds the token). Errors never show the URL.
    pub fn new(url: &Secret, format: WebhookFormat, retry: RetryPolicy) -> Result<Self> {
        let url = Url::parse(url.expose())
            .map_err(|e| ConnectorError::Config(format!("the webhook URL is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConnectorError::Config(format!(
                "the webhook URL's scheme is {}, not http(s)",
                url.scheme()
            )));
        }
        let origin = http::origin(&url);
        let breaker = CircuitBreaker::new(format!("webhook {origin}"), 5, Duration::from_secs(60));
        Ok(Webhook {
            http: http::client()?,
            url,
            origin,
            format,
            retry,
            breaker,
        })
    }

    /// The circuit breaker (to observe its state).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// POSTs `m` in the webhook's format with `Idempotency-Key: {action_key}`, retried and breaker-guarded.
    pub async fn send(&self, m: &Message) -> Result<()> {
        let body = webhook_body(self.format, m);
        let call = Call {
            retry: &self.retry,
            breaker: &self.breaker,
            token: None,
            what: "POST webhook",
        };
        call.send(|| {
            self.http
                .post(self.url.clone())
                .header("Idempotency-Key", &m.action_key)
                .json(&body)
        })
        .await?;
        tracing::info!(webhook = %self.origin, action_key = %m.action_key, "notification sent");
        Ok(())
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
    /// No TLS at all: only for a relay on the same host or a test server.
    None,
}

/// Where and how to send mail.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The relay's host name.
    pub host: String,
    /// The relay's port.
    pub port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// SMTP AUTH user, if the relay needs one.
    pub username: Option<String>,
    /// SMTP AUTH password.
    pub password: Option<Secret>,
    /// The sender mailbox, e.g. `cspguard <alerts@partner.example>`.
    pub from: String,
    /// Recipient mailboxes.
    pub to: Vec<String>,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

/// A mail sender (lettre over tokio, rustls). `Debug` shows no password.
pub struct Smtp {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    to: Vec<lettre::message::Mailbox>,
    host: String,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
}

impl fmt::Debug for Smtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl Smtp {
    /// A sender for `config`. Makes no connection.
    pub fn new(config: SmtpConfig) -> Result<Self> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::{AsyncSmtpTransport, Tokio1Executor};
        let bad = |e: &dyn std::error::Error| {
            ConnectorError::Config(format!("SMTP relay {}: {}", config.host, error_chain(e)))
        };
        let builder = match config.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| bad(&e))?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(|e| bad(&e))?
            }
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(Duration::from_secs(30)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        let mailbox = |s: &str| {
            s.parse::<lettre::message::Mailbox>()
                .map_err(|e| ConnectorError::Config(format!("{s:?} is not a mail address ({e})")))
        };
        let from = mailbox(&config.from)?;
        let to = config
            .to
            .iter()
            .map(|s| mailbox(s))
            .collect::<Result<Vec<_>>>()?;
        if to.is_empty() {
            return Err(ConnectorError::Config(
                "SMTP: no recipient (`to` is empty)".into(),
            ));
        }
        let breaker =
            CircuitBreaker::new(format!("smtp {}", config.host), 5, Duration::from_secs(60));
        Ok(Smtp {
            transport: builder.build(),
            from,
            to,
            host: config.host,
            retry: config.retry,
            breaker,
        })
    }

    /// The `Message-ID` a message gets: `<{action_key}@cspguard>`, with characters a Message-ID cannot hold
    /// replaced by `_`.
    pub fn message_id(action_key: &str) -> String {
        let local: String = action_key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("<{local}@cspguard>")
    }

    /// Sends `m` to every recipient; transient failures are retried, permanent ones are not.
    pub async fn send(&self, m: &Message) -> Result<()> {
        use lettre::AsyncTransport;
        let mut text = m.text.clone();
        if !m.facts.is_empty() {
            text.push_str("\n\n");
            for (k, v) in &m.facts {
                text.push_str(&format!("{k}: {v}\n"));
            }
        }
        if let Some(link) = &m.link {
            text.push_str(&format!("\n{link}\n"));
        }
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(format!("[{}] {}", m.severity, m.title))
            .message_id(Some(Self::message_id(&m.action_key)))
            .header(lettre::message::header::ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let mail = builder.body(text).map_err(|e| ConnectorError::Mail {
            permanent: true,
            message: format!("cannot build the mail: {e}"),
        })?;
        let permit = self.breaker.acquire()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match self.transport.send(mail.clone()).await {
                Ok(_) => {
                    permit.success();
                    tracing::info!(relay = %self.host, action_key = %m.action_key, "mail sent");
                    return Ok(());
                }
                Err(e) => ConnectorError::Mail {
                    permanent: e.is_permanent(),
                    message: error_chain(&e),
                },
            };
            if !err.is_retryable() {
                permit.success();
                return Err(err);
            }
            if attempt >= self.retry.max_attempts.max(1) {
                permit.failure();
                return Err(err);
            }
            let wait = self.retry.delay(attempt, None);
            tracing::info!(relay = %self.host, attempt, error = %err, "mail failed, retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_safe() {
        assert_eq!(
            Smtp::message_id("case-1:suspend <x>"),
            "<case-1_suspend__x_@cspguard>"
        );
    }
}
