//! Detection speed, printed as figures (a bench, not a test): `cargo bench -p cspguard-detect` or `bash bench/detect.sh`.
//!
//! Simulates a partner book (300 customers x 90 days, seed 1, or BENCH_CUSTOMERS / BENCH_DAYS), parses it with the real
//! importers into memory, orders it by event time, and then measures on one thread:
//! - throughput: events per second through `Engine::process` (the scan's work without the store);
//! - streaming latency: the time of each single `process` call, p50 / p99 / p99.9 / max;
//! - state: checkpoint bytes per tracked customer.

use chrono::Utc;
use cspguard_detect::{DetectConfig, Engine};
use cspguard_domain::Envelope;
use cspguard_ingest::{parse, sniff, ImportOptions, Reject, Sink, Stopped};
use std::time::Instant;

struct Collect(Vec<Envelope>);
impl Sink for Collect {
    fn accept(&mut self, e: Envelope) -> Result<(), Stopped> {
        self.0.push(e);
        Ok(())
    }
    fn reject(&mut self, _: Reject) -> Result<(), Stopped> {
        Ok(())
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let customers = env_or("BENCH_CUSTOMERS", 300);
    let days = env_or("BENCH_DAYS", 90) as u32;
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = cspguard_sim::SimConfig {
        customers,
        days,
        seed: 1,
        ..Default::default()
    };
    cspguard_sim::simulate(&cfg, dir.path()).expect("simulate");
    let mut sink = Collect(Vec::new());
    let mut files: Vec<std::path::PathBuf> = walk(dir.path());
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        let Some(kind) = sniff(&bytes[..bytes.len().min(64 * 1024)]) else {
            continue;
        };
        let customer = f
            .file_stem()
            .and_then(|s| cspguard_domain::TenantId::parse(&s.to_string_lossy()).ok())
            .filter(|_| kind != cspguard_ingest::SourceKind::ActivityLog);
        let opts = ImportOptions {
            origin: f.display().to_string(),
            customer,
            observed_at: Utc::now(),
            usage_keys: Default::default(),
        };
        let _ = parse(kind, &bytes[..], &opts, &mut sink);
    }
    let mut events = sink.0;
    events.sort_by_key(|e| e.event_time);
    let n = events.len();
    println!("book: {customers} customers x {days} days, {n} events");

    // Throughput: best of three passes over the whole book.
    let now = Utc::now();
    let mut best = f64::MAX;
    let mut alerts = 0;
    for _ in 0..3 {
        let mut engine = Engine::new(DetectConfig::default());
        for (sub, t) in owners(&events) {
            engine.learn_azure_owner(&sub, t);
        }
        let mut changed = Vec::new();
        let t0 = Instant::now();
        for e in &events {
            engine.process(e, now, &mut changed);
        }
        best = best.min(t0.elapsed().as_secs_f64());
        alerts = changed.len();
    }
    println!(
        "throughput: {:.0} events/s on one core ({n} events in {:.3} s, {alerts} alert changes)",
        n as f64 / best,
        best
    );

    // Streaming latency: each event's own evaluation, as it would be evaluated when posted.
    let mut engine = Engine::new(DetectConfig::default());
    let mut lat: Vec<u64> = Vec::with_capacity(n);
    let mut changed = Vec::new();
    for e in &events {
        let t0 = Instant::now();
        engine.process(e, now, &mut changed);
        lat.push(t0.elapsed().as_nanos() as u64);
        changed.clear();
    }
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    println!(
        "streaming latency per event: p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us",
        q(0.5),
        q(0.99),
        q(0.999),
        *lat.last().unwrap_or(&0) as f64 / 1000.0
    );
    let bytes = engine.checkpoint().len();
    println!(
        "state: {bytes} bytes of checkpoint for {} customers = {} bytes per tracked customer",
        engine.tenants(),
        bytes / engine.tenants().max(1)
    );
}

/// The azure subscription -> customer pairs usage lines name (what the store's table gives a scan).
fn owners(events: &[Envelope]) -> Vec<(String, cspguard_domain::TenantId)> {
    let mut m = std::collections::BTreeMap::new();
    for e in events {
        if let cspguard_domain::Event::Usage(u) = &e.event {
            m.entry(u.azure_subscription.as_str().to_string())
                .or_insert_with(|| u.customer.clone());
        }
    }
    m.into_iter().collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p
                .extension()
                .is_some_and(|x| x != "json" || !p.ends_with("labels.json"))
            {
                out.push(p);
            }
        }
    }
    out
}
