//! `cspguard sync partner-center`: customers, their subscriptions and Microsoft's fraud events, pulled through
//! `cspguard_connectors::sync` and stored through the same importers as files (so a pulled document and an exported
//! file of the same facts give the same idempotency keys: pulling twice adds nothing).
//!
//! The cursor is saved in the store (`sync_cursors`, name `partner_center`) after every page, once the page is
//! stored: a run that fails (a service down longer than the retries) resumes at the page that failed.

use crate::cli::{GlobalArgs, SyncCommand};
use crate::settings::{self, SecretRef, Settings};
use anyhow::Context;
use chrono::Utc;
use cspguard_connectors::sync::SinkError;
use cspguard_connectors::{
    FraudEventQuery, PartnerCenterSync, SyncConfig, SyncCursor, SyncSink, SyncSummary,
};
use cspguard_domain::TenantId;
use cspguard_ingest::SourceKind;
use cspguard_store::Store;
use serde::Serialize;
use serde_json::Value;

/// The cursor's name in `sync_cursors`.
pub const CURSOR: &str = "partner_center";

/// Stores each page through the importer of its kind.
struct StoreSink<'a> {
    store: &'a Store,
    report: SyncReport,
}

/// What a sync run stored.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncReport {
    pub pages: u64,
    pub documents: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub completed: bool,
    /// Rejected documents: where and why (first 20).
    pub reject_reasons: Vec<String>,
}

impl StoreSink<'_> {
    async fn store_page(
        &mut self,
        kind: SourceKind,
        origin: &str,
        customer: Option<&str>,
        items: &[Value],
    ) -> Result<(), SinkError> {
        let body = serde_json::to_vec(&serde_json::json!({ "items": items }))?;
        let customer = match customer {
            Some(c) => Some(TenantId::parse(c).map_err(|e| format!("customer {c:?}: {e}"))?),
            None => None,
        };
        let c = crate::import::store_document(self.store, kind, origin, customer, body)
            .await
            .map_err(|e| format!("{e:#}"))?;
        for r in &c.rejects {
            tracing::warn!(origin, "rejected document: {r}");
            if self.report.reject_reasons.len() < 20 {
                self.report.reject_reasons.push(format!("{origin}: {r}"));
            }
        }
        self.report.pages += 1;
        self.report.documents += items.len() as u64;
        self.report.imported += c.imported;
        self.report.duplicates += c.duplicates;
        self.report.rejected += c.rejects.len() as u64;
        Ok(())
    }
}

#[async_trait::async_trait]
impl SyncSink for StoreSink<'_> {
    async fn customers(&mut self, page: &[Value]) -> Result<(), SinkError> {
        self.store_page(
            SourceKind::Customers,
            "api:partner-center/customers",
            None,
            page,
        )
        .await
    }
    async fn subscriptions(&mut self, tenant: &str, items: &[Value]) -> Result<(), SinkError> {
        self.store_page(
            SourceKind::Subscriptions,
            &format!("api:partner-center/customers/{tenant}/subscriptions"),
            Some(tenant),
            items,
        )
        .await
    }
    async fn fraud_events(&mut self, items: &[Value]) -> Result<(), SinkError> {
        self.store_page(
            SourceKind::FraudEvents,
            "api:partner-center/fraudEvents",
            None,
            items,
        )
        .await
    }
    async fn checkpoint(&mut self, cursor: &SyncCursor) -> Result<(), SinkError> {
        self.store
            .save_sync_cursor(CURSOR, &serde_json::to_string(cursor)?, Utc::now())
            .await?;
        Ok(())
    }
}

/// One sync round (or the rest of an interrupted one).
pub async fn partner_center(
    store: &Store,
    settings: &Settings,
    restart: bool,
) -> anyhow::Result<SyncReport> {
    let s = settings.partner_center.as_ref().context(
        "Partner Center is not configured: add a [partner_center] table to cspguard.toml",
    )?;
    let secret = SecretRef {
        env: s.client_secret_env.clone(),
        file: s.client_secret_file.clone(),
    }
    .read("Partner Center client secret")?;
    let mut token = cspguard_connectors::TokenConfig::new(
        s.tenant.clone(),
        s.client_id.clone(),
        cspguard_connectors::Secret::new(secret),
        cspguard_connectors::partner_center::PARTNER_CENTER_SCOPE,
    );
    token.authority = url::Url::parse(&s.authority).context("[partner_center] authority")?;
    let mut cfg = cspguard_connectors::PartnerCenterConfig::new(token);
    cfg.base_url = url::Url::parse(&s.base_url).context("[partner_center] base_url")?;
    cfg.retry = crate::effects::retry();
    let pc = cspguard_connectors::PartnerCenter::new(cfg)?;
    let mut cursor: SyncCursor = match (restart, store.sync_cursor(CURSOR).await?) {
        (false, Some(c)) => serde_json::from_str(&c).unwrap_or_default(),
        _ => SyncCursor::default(),
    };
    let sync = PartnerCenterSync::new(SyncConfig {
        customers: true,
        fraud_queries: vec![FraudEventQuery {
            new_events_model: s.new_events_model,
            page_size: s.page_size,
            ..Default::default()
        }],
        max_pages_per_query: 10_000,
    });
    let mut sink = StoreSink {
        store,
        report: SyncReport::default(),
    };
    let r: Result<SyncSummary, _> = sync.run(&pc, &mut cursor, &mut sink).await;
    let mut report = sink.report;
    match r {
        Ok(summary) => {
            report.completed = summary.completed;
            Ok(report)
        }
        Err(e) => Err(anyhow::anyhow!(
            "{e}\n(stored so far: {} pages, {} new events; the next `cspguard sync partner-center` resumes at the \
             page that failed)",
            report.pages,
            report.imported
        )),
    }
}

/// `cspguard sync …`.
pub async fn run(g: &GlobalArgs, command: SyncCommand) -> anyhow::Result<i32> {
    let SyncCommand::PartnerCenter { restart, json } = command;
    let settings = settings::load(g)?;
    let store = crate::open_store(g).await?;
    let r = partner_center(&store, &settings, restart).await;
    store.close().await;
    let r = r?;
    if json {
        outln!("{}", serde_json::to_string(&r)?);
    } else {
        outln!(
            "Partner Center: {} pages, {} documents: {} new events, {} already stored, {} rejected{}",
            r.pages,
            r.documents,
            r.imported,
            r.duplicates,
            r.rejected,
            if r.completed { "; round complete" } else { "" }
        );
        for reason in &r.reject_reasons {
            outln!("  rejected: {reason}");
        }
    }
    Ok(if r.rejected > 0 {
        crate::exit::REJECTS
    } else {
        crate::exit::OK
    })
}
