//! `cspguard rules check|backtest`: validate the settings file, and replay the stored log with it to see what each
//! detector and rule would have fired.
//!
//! A backtest replays every stored event from the start (detectors need the history before the window), with a fresh
//! engine that writes nothing, and counts within `--from`..`--to`: signals per detector or rule, how many the rules
//! suppressed, the alerts each contributed to, and, with `--labels`, precision (its alerts that match a labelled
//! incident) and recall (labelled incidents starting in the window that one of its alerts caught).

use crate::detect;
use crate::eval::{self, Labels};
use crate::settings::Settings;
use chrono::Utc;
use cspguard_detect::{Alert, Origin};
use cspguard_domain::Instant;
use cspguard_store::Store;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default, Serialize)]
pub struct DetectorRow {
    pub name: String,
    pub signals: u64,
    pub suppressed: u64,
    pub alerts: u64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    pub from: Instant,
    pub to: Instant,
    pub events: u64,
    pub alerts: u64,
    pub rows: Vec<DetectorRow>,
}

/// An RFC 3339 instant, or a date (its start).
pub fn parse_instant(s: &str) -> anyhow::Result<Instant> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    anyhow::bail!(
        "{s:?} is neither an RFC 3339 instant (2026-09-01T00:00:00Z) nor a date (2026-09-01)"
    )
}

/// A backtest window: `from` and `to` as RFC 3339 instants or dates; a date for `to` means the end of that day.
pub fn parse_window(from: &str, to: &str) -> anyhow::Result<(Instant, Instant)> {
    let f = parse_instant(from)?;
    let mut t = parse_instant(to)?;
    if chrono::NaiveDate::parse_from_str(to, "%Y-%m-%d").is_ok() {
        t += chrono::Duration::days(1) - chrono::Duration::microseconds(1);
    }
    Ok((f, t))
}

pub async fn backtest(
    store: &Store,
    settings: &Settings,
    from: Instant,
    to: Instant,
    labels: Option<&Labels>,
) -> anyhow::Result<Backtest> {
    let mut engine = settings.engine().recording();
    detect::seed_owners(store, &mut engine).await?;
    let now = Utc::now();
    let mut changed = Vec::new();
    let (events, _) =
        crate::time_order::for_each_in_time_order(store, 0, crate::time_order::RUN, |e| {
            engine.process(&e.envelope, now, &mut changed)
        })
        .await?;
    let mut alerts: BTreeMap<String, Alert> = BTreeMap::new();
    for a in changed {
        alerts.insert(a.id.clone(), a);
    }
    let alerts: Vec<Alert> = alerts
        .into_values()
        .filter(|a| a.origin == Origin::Cspguard && a.fired_at >= from && a.fired_at <= to)
        .collect();
    let mut rows: BTreeMap<String, DetectorRow> = BTreeMap::new();
    for r in engine.take_record() {
        if r.at < from || r.at > to {
            continue;
        }
        let row = rows.entry(r.detector.clone()).or_default();
        if r.kept {
            row.signals += 1;
        } else {
            row.suppressed += 1;
        }
    }
    for name in settings.rules.names() {
        rows.entry(format!("rule.{name}")).or_default();
    }
    let incidents: Vec<&eval::Label> = labels
        .map(|l| {
            l.incidents
                .iter()
                .filter(|i| i.start >= from && i.start <= to)
                .collect()
        })
        .unwrap_or_default();
    for (name, row) in rows.iter_mut() {
        row.name = name.clone();
        let mine: Vec<&Alert> = alerts
            .iter()
            .filter(|a| a.explanation.signals.iter().any(|s| &s.detector == name))
            .collect();
        row.alerts = mine.len() as u64;
        if let Some(l) = labels {
            let true_alerts = mine
                .iter()
                .filter(|a| l.incidents.iter().any(|i| eval::matches(a, i)))
                .count();
            row.precision = (!mine.is_empty()).then(|| true_alerts as f64 / mine.len() as f64);
            let caught: BTreeSet<&str> = incidents
                .iter()
                .filter(|i| mine.iter().any(|a| eval::matches(a, i)))
                .map(|i| i.id.as_str())
                .collect();
            row.recall =
                (!incidents.is_empty()).then(|| caught.len() as f64 / incidents.len() as f64);
        }
    }
    Ok(Backtest {
        from,
        to,
        events,
        alerts: alerts.len() as u64,
        rows: rows.into_values().collect(),
    })
}

pub fn render(b: &Backtest) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "replayed {} events; {} alerts fired between {} and {}\n{:<52} {:>8} {:>11} {:>7} {:>10} {:>7}\n",
        b.events,
        b.alerts,
        b.from.format("%Y-%m-%d %H:%M"),
        b.to.format("%Y-%m-%d %H:%M"),
        "detector or rule",
        "signals",
        "suppressed",
        "alerts",
        "precision",
        "recall"
    );
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.0}%", x * 100.0));
    for r in &b.rows {
        let _ = writeln!(
            s,
            "{:<52} {:>8} {:>11} {:>7} {:>10} {:>7}",
            r.name,
            r.signals,
            r.suppressed,
            r.alerts,
            pct(r.precision),
            pct(r.recall)
        );
    }
    s
}
