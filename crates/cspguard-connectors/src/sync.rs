//! [`PartnerCenterSync`]: an incremental, resumable pull of customers, their subscriptions and fraud events.
//!
//! The run walks three phases — customers (following `links.next`), each customer's subscriptions, then each
//! configured fraud-event query (one page in the old events model, `PageNumber` 1, 2, … in the new one) — and after
//! every page hands the documents to the caller's [`SyncSink`] and then the advanced [`SyncCursor`] to
//! [`SyncSink::checkpoint`]. A failure stops the run with the cursor still pointing at the page that failed; running
//! again with that cursor resumes there. Delivery is at least once: a page handed to the sink whose checkpoint was
//! not stored comes again (the importers are idempotent).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ConnectorError, Result};
use crate::partner_center::{FraudEventQuery, PartnerCenter};

/// The error a sink returns: any error; it stops the run as [`ConnectorError::Sink`].
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Where a sync delivers what it pulled. Methods are async (`async_trait`) so a sink can write to a database.
/// Each gets one page of raw documents, exactly as Partner Center sent them.
#[async_trait]
pub trait SyncSink: Send {
    /// A page of customers (`GET /v1/customers`).
    async fn customers(&mut self, page: &[Value]) -> Result<(), SinkError>;
    /// All subscriptions of customer `tenant`.
    async fn subscriptions(&mut self, tenant: &str, items: &[Value]) -> Result<(), SinkError>;
    /// A page of fraud events.
    async fn fraud_events(&mut self, items: &[Value]) -> Result<(), SinkError>;
    /// Store `cursor`: called after every page, once that page was delivered. Pass it back to resume.
    async fn checkpoint(&mut self, cursor: &SyncCursor) -> Result<(), SinkError>;
}

/// Where a run is, in the order it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum SyncPhase {
    /// Pulling customers; `next` is the link of the next page (`None` = the first page).
    Customers {
        /// `links.next` of the last page delivered.
        next: Option<String>,
    },
    /// Pulling subscriptions of `tenants[index]` (the customers found in the customer phase).
    Subscriptions {
        /// Index into [`SyncCursor::tenants`].
        index: usize,
    },
    /// Pulling fraud events of the configured query `query`, page `page` (1-based).
    FraudEvents {
        /// Index into [`SyncConfig::fraud_queries`].
        query: usize,
        /// The next page to fetch.
        page: u32,
    },
    /// The round is complete; the next run starts a new one.
    Done,
}

/// A sync's resumable position (serde: store it as JSON with the sink's data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCursor {
    /// The phase and the page within it.
    pub phase: SyncPhase,
    /// Customer tenant IDs seen in this round's customer phase (whose subscriptions are pulled next).
    pub tenants: Vec<String>,
    /// When the round in progress started.
    pub round_started: Option<DateTime<Utc>>,
    /// When the last complete round finished.
    pub last_completed: Option<DateTime<Utc>>,
}

impl Default for SyncCursor {
    /// A cursor at the very beginning.
    fn default() -> Self {
        SyncCursor {
            phase: SyncPhase::Customers { next: None },
            tenants: Vec::new(),
            round_started: None,
            last_completed: None,
        }
    }
}

/// What to pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncConfig {
    /// Pull customers and their subscriptions.
    pub customers: bool,
    /// The fraud-event queries, pulled one after the other (e.g. one per status, or one per events model).
    pub fraud_queries: Vec<FraudEventQuery>,
    /// Most pages fetched for one fraud query in one round (a guard against a server that never ends a list).
    pub max_pages_per_query: u32,
}

impl Default for SyncConfig {
    /// Customers and subscriptions, then all fraud events in the new model, 100 a page.
    fn default() -> Self {
        SyncConfig {
            customers: true,
            fraud_queries: vec![FraudEventQuery::default()],
            max_pages_per_query: 10_000,
        }
    }
}

/// What one run delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Customer documents delivered.
    pub customers: usize,
    /// Subscription documents delivered.
    pub subscriptions: usize,
    /// Fraud event documents delivered.
    pub fraud_events: usize,
    /// Pages fetched.
    pub pages: usize,
    /// Customers whose subscriptions answered 404 (gone since the customer phase): skipped.
    pub skipped_tenants: usize,
    /// The round completed (the cursor is at [`SyncPhase::Done`]).
    pub completed: bool,
}

/// The Partner Center sync.
#[derive(Debug, Clone, Default)]
pub struct PartnerCenterSync {
    config: SyncConfig,
}

fn sink_err(e: SinkError) -> ConnectorError {
    ConnectorError::Sink(e.to_string())
}

impl PartnerCenterSync {
    /// A sync pulling what `config` says.
    pub fn new(config: SyncConfig) -> Self {
        PartnerCenterSync { config }
    }

    /// Runs from `cursor` to the end of the round, advancing and checkpointing `cursor` after every page. A cursor
    /// at [`SyncPhase::Done`] starts a new round. On error the cursor points at the page that failed.
    pub async fn run(
        &self,
        pc: &PartnerCenter,
        cursor: &mut SyncCursor,
        sink: &mut dyn SyncSink,
    ) -> Result<SyncSummary> {
        let mut summary = SyncSummary::default();
        if cursor.phase == SyncPhase::Done || cursor.round_started.is_none() {
            cursor.phase = self.first_phase();
            cursor.tenants.clear();
            cursor.round_started = Some(Utc::now());
        }
        loop {
            match cursor.phase.clone() {
                SyncPhase::Customers { next } => {
                    if !self.config.customers {
                        cursor.phase = SyncPhase::FraudEvents { query: 0, page: 1 };
                        continue;
                    }
                    let page = pc.customers_page(next.as_deref()).await?;
                    summary.pages += 1;
                    sink.customers(&page.items).await.map_err(sink_err)?;
                    summary.customers += page.items.len();
                    cursor.tenants.extend(page.items.iter().filter_map(customer_tenant));
                    cursor.phase = match page.next {
                        Some(next) => SyncPhase::Customers { next: Some(next) },
                        None => SyncPhase::Subscriptions { index: 0 },
                    };
                }
                SyncPhase::Subscriptions { index } => {
                    let Some(tenant) = cursor.tenants.get(index).cloned() else {
                        cursor.phase = SyncPhase::FraudEvents { query: 0, page: 1 };
                        continue;
                    };
                    summary.pages += 1;
                    match pc.subscriptions(&tenant).await {
                        Ok(items) => {
                            sink.subscriptions(&tenant, &items).await.map_err(sink_err)?;
                            summary.subscriptions += items.len();
                        }
                        // The customer left between the two phases: nothing to pull, and no reason to stop.
                        Err(ConnectorError::Client { status: 404, .. }) => {
                            tracing::warn!(tenant = %tenant, "customer not found while pulling subscriptions: skipped");
                            summary.skipped_tenants += 1;
                        }
                        Err(e) => return Err(e),
                    }
                    cursor.phase = SyncPhase::Subscriptions { index: index + 1 };
                }
                SyncPhase::FraudEvents { query, page } => {
                    let Some(q) = self.config.fraud_queries.get(query) else {
                        cursor.phase = SyncPhase::Done;
                        cursor.last_completed = Some(Utc::now());
                        cursor.round_started = None;
                        sink.checkpoint(cursor).await.map_err(sink_err)?;
                        summary.completed = true;
                        return Ok(summary);
                    };
                    let got = pc.fraud_events_page(q, page).await?;
                    summary.pages += 1;
                    sink.fraud_events(&got.items).await.map_err(sink_err)?;
                    summary.fraud_events += got.items.len();
                    cursor.phase = if got.has_more && page < self.config.max_pages_per_query {
                        SyncPhase::FraudEvents { query, page: page + 1 }
                    } else {
                        if got.has_more {
                            tracing::warn!(query, page, "fraud events: page limit reached, the rest waits for the next round");
                        }
                        SyncPhase::FraudEvents { query: query + 1, page: 1 }
                    };
                }
                SyncPhase::Done => unreachable!("a Done cursor is restarted above and never set inside the loop without returning"),
            }
            sink.checkpoint(cursor).await.map_err(sink_err)?;
        }
    }

    fn first_phase(&self) -> SyncPhase {
        if self.config.customers {
            SyncPhase::Customers { next: None }
        } else {
            SyncPhase::FraudEvents { query: 0, page: 1 }
        }
    }
}

/// A customer document's tenant: `id`, else `companyProfile.tenantId`.
fn customer_tenant(doc: &Value) -> Option<String> {
    doc.get("id")
        .and_then(Value::as_str)
        .or_else(|| {
            doc.pointer("/companyProfile/tenantId")
                .and_then(Value::as_str)
        })
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
