//! Detection from the command line: `cspguard scan` (incremental over stored events), `cspguard alerts` and
//! `cspguard customer`. The same [`scan`] runs after an import with `--detect` (streaming evaluation of what was just
//! stored) and from the demo.
//!
//! A scan reads the events stored since the checkpoint, orders them by event time (ties by arrival), evaluates them,
//! and writes the changed alerts with the new checkpoint in one transaction. Events older than what an earlier scan
//! already evaluated are still evaluated (late arrivals), in their own order.

use crate::settings::Settings;
use anyhow::Context;
use chrono::Utc;
use cspguard_detect::{Alert, Engine};
use cspguard_domain::TenantId;
use cspguard_store::{AlertFilter, AlertRow, Checkpoint, Store};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant as WallClock;

/// The checkpoint's name: one detection pipeline per store today.
pub const PIPELINE: &str = "default";

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub events: u64,
    pub alerts_new: u64,
    pub alerts_updated: u64,
    pub alerts_total: u64,
    pub customers_tracked: u64,
    pub unattributed: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    /// CPU seconds (user + system, all threads) the process spent in the scan itself (reading, ordering, evaluating,
    /// saving), where the system says (Linux); the commands that run after it (case intake, credit check, screening)
    /// are not counted.
    pub cpu_seconds: Option<f64>,
    pub checkpoint_bytes: u64,
    pub last_seq: i64,
}

impl ScanReport {
    pub fn render(&self) -> String {
        format!(
            "scanned {} new events in {:.2} s ({:.0} events/s): {} new alerts, {} updated, {} in all; {} customers \
             tracked ({} bytes of state){}\n",
            self.events,
            self.seconds,
            self.events_per_second,
            self.alerts_new,
            self.alerts_updated,
            self.alerts_total,
            self.customers_tracked,
            self.checkpoint_bytes,
            if self.unattributed > 0 {
                format!("; {} events named no known customer", self.unattributed)
            } else {
                String::new()
            }
        )
    }
}

/// Loads the engine from the checkpoint (or starts one), seeded with the subscription owners the store knows.
pub async fn load_engine(store: &Store, settings: &Settings) -> anyhow::Result<(Engine, i64)> {
    let (mut engine, last_seq) = match store.load_checkpoint(PIPELINE).await? {
        Some(cp) => (
            Engine::restore(&cp.state, settings.detect.clone())?
                .with_rules(settings.rules.clone(), settings.overrides.clone()),
            cp.last_seq,
        ),
        None => (settings.engine(), 0),
    };
    seed_owners(store, &mut engine).await?;
    Ok((engine, last_seq))
}

/// Teaches an engine the subscription owners the store knows (activity logs do not name their customer).
pub async fn seed_owners(store: &Store, engine: &mut Engine) -> anyhow::Result<()> {
    for (sub, tenant) in store.azure_subscription_owners().await? {
        if let Ok(t) = TenantId::parse(&tenant) {
            engine.learn_azure_owner(&sub, t);
        }
    }
    for (sub, tenant) in store.billing_subscription_owners().await? {
        if let Ok(t) = TenantId::parse(&tenant) {
            engine.learn_billing_owner(&sub, t);
        }
    }
    Ok(())
}

/// Evaluates every event stored since the last scan.
pub async fn scan(
    store: &Store,
    settings: &Settings,
    from_start: bool,
) -> anyhow::Result<ScanReport> {
    let started = WallClock::now();
    let cpu_started = process_cpu_seconds();
    if from_start {
        store.reset_detection(PIPELINE).await?;
    }
    let (mut engine, last_seq) = load_engine(store, settings).await?;
    let now = Utc::now();
    let mut changed: Vec<Alert> = Vec::new();
    let (events, last_seq) =
        crate::time_order::for_each_in_time_order(store, last_seq, crate::time_order::RUN, |e| {
            engine.process(&e.envelope, now, &mut changed)
        })
        .await?;
    // Several changes to one alert in one scan: the last is the alert.
    let mut latest: BTreeMap<String, Alert> = BTreeMap::new();
    for a in changed {
        latest.insert(a.id.clone(), a);
    }
    let existing: std::collections::HashSet<String> = store
        .alerts(&AlertFilter::default())
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let alerts_new = latest.keys().filter(|k| !existing.contains(*k)).count() as u64;
    let rows: Vec<AlertRow> = latest
        .values()
        .map(alert_row)
        .collect::<anyhow::Result<_>>()?;
    let state = engine.checkpoint();
    let cp = Checkpoint {
        last_seq,
        watermark: engine.watermark(),
        state,
    };
    store
        .save_detection(PIPELINE, &cp, &rows, now)
        .await
        .context("saving the detection checkpoint and alerts")?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = process_cpu_seconds()
        .zip(cpu_started)
        .map(|(end, start)| end - start);
    Ok(ScanReport {
        events,
        alerts_new,
        alerts_updated: rows.len() as u64 - alerts_new,
        alerts_total: existing.len() as u64 + alerts_new,
        customers_tracked: engine.tenants() as u64,
        unattributed: engine.unattributed(),
        seconds,
        events_per_second: events as f64 / seconds.max(1e-9),
        cpu_seconds,
        checkpoint_bytes: cp.state.len() as u64,
        last_seq,
    })
}

/// User + system CPU seconds of this process so far, all threads (Linux: `/proc/self/stat`, in 1/100 s); `None`
/// elsewhere.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces, so after the last ')'): state is field 3, utime 14,
    // stime 15; the kernel reports them in USER_HZ, 100 on Linux.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

pub fn alert_row(a: &Alert) -> anyhow::Result<AlertRow> {
    Ok(AlertRow {
        id: a.id.clone(),
        customer_tenant_id: a.customer_tenant_id.clone(),
        kind: a.kind.clone(),
        severity: a.severity.as_str().to_string(),
        score: i64::from(a.score),
        origin: serde_json::to_value(a.origin)?
            .as_str()
            .unwrap_or("cspguard")
            .to_string(),
        fired_at: a.fired_at,
        updated_at: a.updated_at,
        body: serde_json::to_string(a)?,
    })
}

/// Reads stored alerts back as [`Alert`]s.
pub async fn load_alerts(store: &Store, filter: &AlertFilter) -> anyhow::Result<Vec<Alert>> {
    store
        .alerts(filter)
        .await?
        .into_iter()
        .map(|r| {
            serde_json::from_str(&r.body)
                .with_context(|| format!("stored alert {} cannot be read back", r.id))
        })
        .collect()
}

/// A table of alerts for a terminal.
pub fn render_alerts(alerts: &[Alert], explain: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if alerts.is_empty() {
        s.push_str("no alerts\n");
        return s;
    }
    let _ = writeln!(
        s,
        "{:<17} {:<8} {:>5}  {:<22} {:<30} {:>14}  id",
        "fired (UTC)", "severity", "score", "kind", "customer", "money at risk"
    );
    for a in alerts {
        let name = a
            .customer_name
            .clone()
            .unwrap_or_else(|| a.customer_tenant_id.clone());
        let _ = writeln!(
            s,
            "{:<17} {:<8} {:>5}  {:<22} {:<30} {:>14}  {}",
            a.fired_at.format("%Y-%m-%d %H:%M"),
            a.severity.as_str(),
            a.score,
            a.kind,
            truncate(&name, 30),
            a.money_at_risk.to_string(),
            a.id
        );
        if explain {
            let _ = writeln!(s, "    why: {}", a.explanation.rule);
            for e in &a.explanation.signals {
                let _ = writeln!(
                    s,
                    "    - {} [{} +{}] {}",
                    e.at.format("%Y-%m-%d %H:%M"),
                    e.detector,
                    e.points,
                    e.summary
                );
            }
            let _ = writeln!(s, "    money at risk: {}", a.explanation.money);
            if !a.related_alert_ids.is_empty() {
                let _ = writeln!(s, "    related: {}", a.related_alert_ids.join(", "));
            }
        }
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('~');
        t
    }
}

/// Detection for a long-running process (`cspguard serve`): the engine stays in memory between steps instead of being
/// loaded from the checkpoint each time; each step evaluates what was stored since the last one, saves the changed
/// alerts at once, and writes the checkpoint at most every [`Live::CHECKPOINT_EVERY`] (a crash re-evaluates the events
/// since the last checkpoint, which gives the same alerts — alert IDs are stable and saving is an upsert).
///
/// One process should run it per store: a `cspguard scan` run meanwhile is harmless (both evaluate the same events
/// into the same alerts) but each then writes its own checkpoint.
pub struct Live {
    engine: Engine,
    last_seq: i64,
    saved_seq: i64,
    last_checkpoint: WallClock,
}

impl Live {
    pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

    pub async fn load(store: &Store, settings: &Settings) -> anyhow::Result<Live> {
        let (engine, last_seq) = load_engine(store, settings).await?;
        Ok(Live {
            engine,
            last_seq,
            saved_seq: last_seq,
            last_checkpoint: WallClock::now(),
        })
    }

    /// Evaluates the events stored since the last step; returns the alerts that changed.
    pub async fn step(&mut self, store: &Store) -> anyhow::Result<Vec<Alert>> {
        let now = Utc::now();
        let mut changed: Vec<Alert> = Vec::new();
        let engine = &mut self.engine;
        let (_, last_seq) = crate::time_order::for_each_in_time_order(
            store,
            self.last_seq,
            crate::time_order::RUN,
            |e| engine.process(&e.envelope, now, &mut changed),
        )
        .await?;
        self.last_seq = last_seq;
        self.save_changed(store, changed).await
    }

    /// Evaluates `events`, which the caller has just committed at log positions `first_seq..first_seq + len`, without
    /// reading them back (the server's ingest path: the alert is saved before the request is answered). Events are
    /// evaluated in event-time order (ties in log order), as [`Live::step`] would. Returns `None`, having done
    /// nothing, when those positions do not follow the last one evaluated (another writer appended in between, or
    /// the batch held duplicates): the caller then calls [`Live::step`], which reads the log.
    pub async fn step_committed(
        &mut self,
        store: &Store,
        first_seq: i64,
        events: &[&cspguard_domain::Envelope],
    ) -> anyhow::Result<Option<Vec<Alert>>> {
        if first_seq != self.last_seq + 1 {
            return Ok(None);
        }
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| (events[i].event_time, i));
        let now = Utc::now();
        let mut changed: Vec<Alert> = Vec::new();
        for i in order {
            self.engine.process(events[i], now, &mut changed);
        }
        self.last_seq = first_seq + events.len() as i64 - 1;
        self.save_changed(store, changed).await.map(Some)
    }

    /// The last log position evaluated.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Saves the alerts that changed (the latest version of each), with a checkpoint when one is due.
    async fn save_changed(
        &mut self,
        store: &Store,
        changed: Vec<Alert>,
    ) -> anyhow::Result<Vec<Alert>> {
        let mut latest: BTreeMap<String, Alert> = BTreeMap::new();
        for a in changed {
            latest.insert(a.id.clone(), a);
        }
        let rows: Vec<AlertRow> = latest
            .values()
            .map(alert_row)
            .collect::<anyhow::Result<_>>()?;
        if self.last_checkpoint.elapsed() >= Self::CHECKPOINT_EVERY
            && self.last_seq != self.saved_seq
        {
            self.checkpoint(store, &rows).await?;
        } else if !rows.is_empty() {
            store.save_alerts(&rows).await?;
        }
        Ok(latest.into_values().collect())
    }

    /// Writes the checkpoint (with `rows`, in one transaction).
    pub async fn checkpoint(&mut self, store: &Store, rows: &[AlertRow]) -> anyhow::Result<()> {
        let started = WallClock::now();
        let cp = Checkpoint {
            last_seq: self.last_seq,
            watermark: self.engine.watermark(),
            state: self.engine.checkpoint(),
        };
        store
            .save_detection(PIPELINE, &cp, rows, Utc::now())
            .await
            .context("saving the detection checkpoint and alerts")?;
        self.saved_seq = self.last_seq;
        self.last_checkpoint = WallClock::now();
        tracing::debug!(
            "detection checkpoint at position {} ({} bytes of state) took {:?}",
            self.last_seq,
            cp.state.len(),
            started.elapsed()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cspguard_domain::Envelope;
    use cspguard_ingest::SourceKind;
    use cspguard_store::{AlertFilter, PreparedBatch};

    /// The example documents as the API would receive them, cut into small documents so detection runs between them.
    fn documents() -> Vec<Vec<Envelope>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/examples");
        let now = Utc::now();
        let mut out = Vec::new();
        for (kind, file) in [
            (SourceKind::Customers, "customers.json"),
            (SourceKind::Subscriptions, "subscriptions.json"),
            (SourceKind::Usage, "usage_small.csv"),
            (SourceKind::SignIns, "signins.json"),
            (SourceKind::ActivityLog, "activity_log_records.json"),
            (SourceKind::Billing, "billing.jsonl"),
            (SourceKind::FraudEvents, "fraud_events.json"),
        ] {
            let body = std::fs::read(dir.join(file)).unwrap();
            let tenant = TenantId::parse("3f2a9c1e-7b4d-4e8a-9f10-2b6c8d4e0a11").ok();
            let doc = crate::import::parse_document(
                kind,
                file,
                tenant,
                now,
                cspguard_domain::UsageKeyVersion::default(),
                &body,
            )
            .unwrap();
            assert!(!doc.events.is_empty(), "{file} gave no events");
            out.extend(doc.events.chunks(7).map(<[Envelope]>::to_vec));
        }
        out
    }

    /// Appends one document in its own transaction; returns the position of its first new event and how many.
    async fn append(store: &Store, events: &[Envelope]) -> (i64, u64) {
        let now = Utc::now();
        let source = store.begin_import("test", "test", now).await.unwrap();
        let mut w = store.bulk_writer(source);
        let o = w
            .append(&PreparedBatch::new(events.to_vec()).unwrap(), now)
            .await
            .unwrap();
        let first = w.next_seq() - o.inserted as i64;
        w.finish().await.unwrap();
        (first, o.inserted)
    }

    /// Alerts as a reader sees them, without the wall clock of their detection.
    async fn alerts(store: &Store) -> Vec<(String, serde_json::Value)> {
        let mut out: Vec<(String, serde_json::Value)> = store
            .alerts(&AlertFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                let mut v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                v.as_object_mut().unwrap().remove("detected_at");
                (r.id, v)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[tokio::test]
    async fn evaluating_committed_events_in_memory_gives_the_alerts_of_reading_them_back() {
        let tmp = tempfile::tempdir().unwrap();
        let url = |name: &str| format!("sqlite://{}", tmp.path().join(name).display());
        let in_memory = Store::open(&url("a.db")).await.unwrap();
        let read_back = Store::open(&url("b.db")).await.unwrap();
        let settings = crate::settings::parse("").unwrap();
        let mut a = Live::load(&in_memory, &settings).await.unwrap();
        let mut b = Live::load(&read_back, &settings).await.unwrap();
        for doc in documents() {
            let (first, n) = append(&in_memory, &doc).await;
            assert_eq!(n, doc.len() as u64);
            let refs: Vec<&Envelope> = doc.iter().collect();
            let changed = a.step_committed(&in_memory, first, &refs).await.unwrap();
            assert!(
                changed.is_some(),
                "the positions follow: evaluated from memory"
            );
            append(&read_back, &doc).await;
            b.step(&read_back).await.unwrap();
        }
        assert_eq!(a.last_seq(), b.last_seq());
        let (got, want) = (alerts(&in_memory).await, alerts(&read_back).await);
        assert!(!want.is_empty(), "the examples raise alerts");
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn events_another_writer_appended_in_between_are_read_from_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", tmp.path().join("a.db").display()))
            .await
            .unwrap();
        let settings = crate::settings::parse("").unwrap();
        let mut live = Live::load(&store, &settings).await.unwrap();
        let docs = documents();
        let fraud = docs.last().unwrap();
        // Someone else (a CLI import) appends Microsoft's fraud alerts; then the server commits a document of its own.
        append(&store, fraud).await;
        let mine = &docs[0];
        let (first, _) = append(&store, mine).await;
        let refs: Vec<&Envelope> = mine.iter().collect();
        assert!(
            live.step_committed(&store, first, &refs)
                .await
                .unwrap()
                .is_none(),
            "positions that do not follow the last evaluated are refused"
        );
        let changed = live.step(&store).await.unwrap();
        assert!(
            changed
                .iter()
                .any(|a| a.origin == cspguard_detect::Origin::Microsoft),
            "the other writer's fraud alerts are evaluated: {changed:?}"
        );
        assert_eq!(live.last_seq(), first + mine.len() as i64 - 1);
    }
}
