//! [`PartnerCenter`]: the Partner Center REST calls cspguard makes (formats.md sections 2 and 6).

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use url::Url;

use crate::error::{ConnectorError, Result};
use crate::http::{self, Call};
use crate::resilience::{CircuitBreaker, RetryPolicy};
use crate::token::{TokenConfig, TokenProvider};

/// Partner Center's public base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.partnercenter.microsoft.com";

/// The scope of Partner Center tokens.
pub const PARTNER_CENTER_SCOPE: &str = "https://api.partnercenter.microsoft.com/.default";

/// Whether a write changed something or found it already done (what a recovering executor needs to know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The change was made now.
    Done,
    /// The resource was already in the wanted state: nothing was written.
    AlreadyInEffect,
}

/// How to reach Partner Center.
#[derive(Debug, Clone)]
pub struct PartnerCenterConfig {
    /// [`DEFAULT_BASE_URL`], or the Microsoft Cloud for US Government one.
    pub base_url: Url,
    /// The partner tenant's app credentials (scope [`PARTNER_CENTER_SCOPE`]).
    pub token: TokenConfig,
    /// Retries of throttled and failed calls.
    pub retry: RetryPolicy,
    /// Consecutive failed calls that open the circuit.
    pub breaker_failures: u32,
    /// How long the circuit stays open.
    pub breaker_cooldown: Duration,
}

impl PartnerCenterConfig {
    /// The public cloud's base URL, default retries, a breaker of 5 failures / 60 s.
    pub fn new(token: TokenConfig) -> Self {
        PartnerCenterConfig {
            base_url: Url::parse(DEFAULT_BASE_URL).unwrap_or_else(|_| unreachable!("constant URL")),
            token,
            retry: RetryPolicy::default(),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(60),
        }
    }
}

/// A query of `GET /v1/fraudEvents`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FraudEventQuery {
    /// `EventStatus`: Active, Investigating or Resolved (all when `None`).
    pub status: Option<String>,
    /// `SubscriptionId`: one Azure subscription.
    pub subscription_id: Option<String>,
    /// `EventType` (new events model only).
    pub event_type: Option<String>,
    /// Send `X-NewEventsModel: true` and page with `PageSize`/`PageNumber`.
    pub new_events_model: bool,
    /// `PageSize` (new events model only).
    pub page_size: u32,
}

impl Default for FraudEventQuery {
    /// All events, new events model, 100 a page.
    fn default() -> Self {
        FraudEventQuery {
            status: None,
            subscription_id: None,
            event_type: None,
            new_events_model: true,
            page_size: 100,
        }
    }
}

/// One page of fraud events, as Partner Center sent them.
#[derive(Debug, Clone, PartialEq)]
pub struct FraudEventsPage {
    /// The raw event documents (for the fraud-event importer).
    pub items: Vec<Value>,
    /// New model: the page was full, so another may follow. Old model: always false (one page).
    pub has_more: bool,
}

/// One page of a `links.next`-paged collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The raw documents.
    pub items: Vec<Value>,
    /// The `links.next` link (relative to the base URL or absolute on the same origin), to pass back for the next page.
    pub next: Option<String>,
}

/// The Partner Center client. Every call takes a (cached) token, goes through the retry policy and the circuit
/// breaker, and sends `MS-RequestId` (one per call, the same on its retries) and `MS-CorrelationId` (one per client).
#[derive(Debug)]
pub struct PartnerCenter {
    http: reqwest::Client,
    base_url: Url,
    token: TokenProvider,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
    correlation_id: String,
}

enum Method {
    Get,
    Patch(Value),
    Post(Value),
}

impl PartnerCenter {
    /// A client for `config`. Makes no request.
    pub fn new(config: PartnerCenterConfig) -> Result<Self> {
        let http = http::client()?;
        let token = TokenProvider::with_client(config.token, http.clone())?;
        Ok(PartnerCenter {
            http,
            base_url: config.base_url,
            token,
            retry: config.retry,
            breaker: CircuitBreaker::new(
                "partner-center",
                config.breaker_failures,
                config.breaker_cooldown,
            ),
            correlation_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// The circuit breaker (to observe its state).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The token provider (to observe or invalidate the token).
    pub fn token_provider(&self) -> &TokenProvider {
        &self.token
    }

    async fn request(
        &self,
        what: &str,
        url: Url,
        method: Method,
        query: &[(&str, String)],
        headers: &[(&str, &str)],
    ) -> Result<http::Reply> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let call = Call {
            retry: &self.retry,
            breaker: &self.breaker,
            token: Some(&self.token),
            what,
        };
        call.send(|| {
            let mut rb = match &method {
                Method::Get => self.http.get(url.clone()),
                Method::Patch(body) => self.http.patch(url.clone()).json(body),
                Method::Post(body) => self.http.post(url.clone()).json(body),
            };
            rb = rb
                .header("MS-RequestId", &request_id)
                .header("MS-CorrelationId", &self.correlation_id)
                .header(reqwest::header::ACCEPT, "application/json");
            if !query.is_empty() {
                rb = rb.query(query);
            }
            for (k, v) in headers {
                rb = rb.header(*k, *v);
            }
            rb
        })
        .await
    }

    fn url(&self, segments: &[&str]) -> Result<Url> {
        http::join_segments(&self.base_url, segments)
    }

    /// One page of `GET /v1/fraudEvents`. `page_number` (1-based) is sent only in the new events model.
    pub async fn fraud_events_page(
        &self,
        q: &FraudEventQuery,
        page_number: u32,
    ) -> Result<FraudEventsPage> {
        let mut query = Vec::new();
        if let Some(s) = &q.status {
            query.push(("EventStatus", s.clone()));
        }
        if let Some(s) = &q.subscription_id {
            query.push(("SubscriptionId", s.clone()));
        }
        let mut headers = Vec::new();
        if q.new_events_model {
            if let Some(t) = &q.event_type {
                query.push(("EventType", t.clone()));
            }
            query.push(("PageSize", q.page_size.max(1).to_string()));
            query.push(("PageNumber", page_number.max(1).to_string()));
            headers.push(("X-NewEventsModel", "true"));
        }
        let reply = self
            .request(
                "GET /v1/fraudEvents",
                self.url(&["v1", "fraudEvents"])?,
                Method::Get,
                &query,
                &headers,
            )
            .await?;
        let items = items_of(reply.json("fraud events")?, "fraud events")?;
        let has_more = q.new_events_model && items.len() == q.page_size.max(1) as usize;
        Ok(FraudEventsPage { items, has_more })
    }

    /// One page of `GET /v1/customers`: the first with `next = None`, then with the previous page's `next`.
    /// A `next` link pointing to another origin than the base URL is refused (the token must not leave).
    pub async fn customers_page(&self, next: Option<&str>) -> Result<Page> {
        let url = match next {
            None => self.url(&["v1", "customers"])?,
            Some(link) => self.resolve_link(link)?,
        };
        let reply = self
            .request("GET /v1/customers", url, Method::Get, &[], &[])
            .await?;
        let doc: Value = reply.json("customers")?;
        let next = match doc.pointer("/links/next") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Object(o)) => o
                .get("uri")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            _ => None,
        };
        Ok(Page {
            items: items_of(doc, "customers")?,
            next,
        })
    }

    fn resolve_link(&self, link: &str) -> Result<Url> {
        let url = self
            .base_url
            .join(link)
            .map_err(|e| ConnectorError::Decode(format!("links.next is not a URL ({e})")))?;
        if url.origin() != self.base_url.origin() {
            return Err(ConnectorError::Decode(format!(
                "links.next points to {}, not to {}: refused so the token stays with Partner Center",
                http::origin(&url),
                http::origin(&self.base_url)
            )));
        }
        Ok(url)
    }

    /// `GET /v1/customers/{tenant}/subscriptions`: all subscriptions of a customer (raw documents).
    pub async fn subscriptions(&self, tenant: &str) -> Result<Vec<Value>> {
        let url = self.url(&["v1", "customers", tenant, "subscriptions"])?;
        let reply = self
            .request(
                "GET /v1/customers/{tenant}/subscriptions",
                url,
                Method::Get,
                &[],
                &[],
            )
            .await?;
        items_of(reply.json("subscriptions")?, "subscriptions")
    }

    /// `GET /v1/customers/{tenant}/subscriptions/{id}`.
    pub async fn get_subscription(&self, tenant: &str, id: &str) -> Result<Value> {
        let url = self.url(&["v1", "customers", tenant, "subscriptions", id])?;
        let reply = self
            .request(
                "GET /v1/customers/{tenant}/subscriptions/{id}",
                url,
                Method::Get,
                &[],
                &[],
            )
            .await?;
        let doc: Value = reply.json("subscription")?;
        if !doc.is_object() {
            return Err(ConnectorError::Decode(
                "subscription: not a JSON object".into(),
            ));
        }
        Ok(doc)
    }

    /// Suspends a subscription: reads it; if its status is already `suspended` returns
    /// [`Applied::AlreadyInEffect`] without writing; else PATCHes the whole object with `"status": "suspended"`.
    pub async fn suspend_subscription(&self, tenant: &str, id: &str) -> Result<Applied> {
        let mut doc = self.get_subscription(tenant, id).await?;
        let current = doc
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if current.eq_ignore_ascii_case("suspended") {
            return Ok(Applied::AlreadyInEffect);
        }
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("status".into(), Value::String("suspended".into()));
        }
        let url = self.url(&["v1", "customers", tenant, "subscriptions", id])?;
        self.request(
            "PATCH /v1/customers/{tenant}/subscriptions/{id}",
            url,
            Method::Patch(doc),
            &[],
            &[],
        )
        .await?;
        tracing::info!(tenant, subscription = id, "subscription suspended");
        Ok(Applied::Done)
    }

    /// `GET /v1/customers/{tenant}/usagebudget`: the monthly spending budget, `None` when none is set.
    pub async fn get_budget(&self, tenant: &str) -> Result<Option<Decimal>> {
        let url = self.url(&["v1", "customers", tenant, "usagebudget"])?;
        let reply = self
            .request(
                "GET /v1/customers/{tenant}/usagebudget",
                url,
                Method::Get,
                &[],
                &[],
            )
            .await?;
        let doc: Value = reply.json("usage budget")?;
        match doc.get("amount") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => decimal_of(&n.to_string()).map(Some),
            Some(Value::String(s)) => decimal_of(s).map(Some),
            Some(other) => Err(ConnectorError::Decode(format!(
                "usage budget amount is {other}, not a number"
            ))),
        }
    }

    /// Sets the spending budget: reads it first; equal → [`Applied::AlreadyInEffect`]; else PATCH `{"amount": n}`.
    pub async fn set_budget(&self, tenant: &str, amount: Decimal) -> Result<Applied> {
        if self.get_budget(tenant).await? == Some(amount) {
            return Ok(Applied::AlreadyInEffect);
        }
        let number = amount
            .to_f64()
            .and_then(serde_json::Number::from_f64)
            .ok_or_else(|| {
                ConnectorError::Config(format!("budget {amount} cannot be sent as a JSON number"))
            })?;
        let url = self.url(&["v1", "customers", tenant, "usagebudget"])?;
        self.request(
            "PATCH /v1/customers/{tenant}/usagebudget",
            url,
            Method::Patch(json!({ "amount": number })),
            &[],
            &[],
        )
        .await?;
        tracing::info!(tenant, %amount, "spending budget set");
        Ok(Applied::Done)
    }

    /// `POST /v1/fraudEvents/subscription/{azure_subscription_id}/status` with
    /// `{"EventIds": [...], "EventStatus": status, "ResolvedReason": reason}` (`ResolvedReason` omitted when `None`;
    /// empty `event_ids` = every event of the subscription). The POST sets a state, so repeating it is harmless;
    /// use [`PartnerCenter::fraud_event_status`] to check before, when recovering.
    pub async fn update_fraud_status(
        &self,
        azure_subscription_id: &str,
        event_ids: &[String],
        status: &str,
        reason: Option<&str>,
    ) -> Result<Applied> {
        let mut body = json!({ "EventIds": event_ids, "EventStatus": status });
        if let (Some(reason), Some(obj)) = (reason, body.as_object_mut()) {
            obj.insert("ResolvedReason".into(), Value::String(reason.to_string()));
        }
        let url = self.url(&[
            "v1",
            "fraudEvents",
            "subscription",
            azure_subscription_id,
            "status",
        ])?;
        self.request(
            "POST /v1/fraudEvents/subscription/{id}/status",
            url,
            Method::Post(body),
            &[],
            &[],
        )
        .await?;
        tracing::info!(
            subscription = azure_subscription_id,
            events = event_ids.len(),
            status,
            "fraud event status updated"
        );
        Ok(Applied::Done)
    }

    /// The status and resolved reason (`None` while `"None"`) of one fraud event, `None` if Partner Center does not
    /// list it: `GET /v1/fraudEvents?SubscriptionId=...` (old model, one page).
    pub async fn fraud_event_status(
        &self,
        azure_subscription_id: &str,
        event_id: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        let q = FraudEventQuery {
            status: None,
            subscription_id: Some(azure_subscription_id.to_string()),
            event_type: None,
            new_events_model: false,
            page_size: 0,
        };
        let page = self.fraud_events_page(&q, 1).await?;
        Ok(page
            .items
            .iter()
            .find(|e| field_ci(e, "eventId").and_then(Value::as_str) == Some(event_id))
            .map(|e| {
                let status = field_ci(e, "eventStatus")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let reason = field_ci(e, "resolvedReason")
                    .and_then(Value::as_str)
                    .filter(|r| !r.is_empty() && !r.eq_ignore_ascii_case("none"))
                    .map(str::to_string);
                (status, reason)
            }))
    }
}

/// A field of a JSON object, key matched case-insensitively.
fn field_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The `items` of a page, or the page itself when it is a bare array.
pub(crate) fn items_of(doc: Value, what: &str) -> Result<Vec<Value>> {
    match doc {
        Value::Array(items) => Ok(items),
        Value::Object(mut obj) => match obj.remove("items").or_else(|| obj.remove("Items")) {
            Some(Value::Array(items)) => Ok(items),
            Some(Value::Null) | None => Ok(Vec::new()),
            Some(_) => Err(ConnectorError::Decode(format!(
                "{what}: `items` is not an array"
            ))),
        },
        Value::Null => Ok(Vec::new()),
        _ => Err(ConnectorError::Decode(format!(
            "{what}: neither an array nor an object with `items`"
        ))),
    }
}

fn decimal_of(s: &str) -> Result<Decimal> {
    Decimal::from_str(s)
        .or_else(|_| Decimal::from_scientific(s))
        .map_err(|e| ConnectorError::Decode(format!("amount {s:?} is not a decimal number ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_of_both_shapes() {
        assert_eq!(items_of(json!([1, 2]), "x").expect("array").len(), 2);
        assert_eq!(
            items_of(json!({"items": [1]}), "x").expect("object").len(),
            1
        );
        assert!(items_of(json!("no"), "x").is_err());
    }

    #[test]
    fn decimals_from_json_numbers() {
        assert_eq!(decimal_of("1000.0").expect("d"), Decimal::new(1000, 0));
        assert_eq!(decimal_of("1e3").expect("d"), Decimal::new(1000, 0));
    }
}
