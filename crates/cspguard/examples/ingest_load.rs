//! Load generator for `POST /api/v1/events/{kind}` (used by `bench/serve.sh`): CONCURRENCY clients post batches of
//! BATCH sign-ins (distinct, spread over 200 customer tenants and a day) for SECONDS, then one Microsoft fraud alert,
//! and report durable events/s, POST→202 latency percentiles, 503s, and the time from posting the fraud alert to its
//! alert being readable through the API.
//!
//! `cargo run --release -p cspguard --example ingest_load -- BASE_URL TOKEN [CONCURRENCY] [BATCH] [SECONDS]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request body: `size` distinct sign-ins. Written with `write!` from a template, not built as `serde_json::Value`s:
/// the generator shares the machine with the server, so it should spend as little CPU per event as it can.
fn batch(client: u64, n: u64, size: u64) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(size as usize * 600);
    out.extend_from_slice(b"{\"value\": [");
    for i in 0..size {
        let k = (client << 40) | (n << 16) | i;
        let sec = k % 86_400;
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(
            out,
            "{{\"id\":\"load-{k:x}\",\"createdDateTime\":\"2026-10-02T{:02}:{:02}:{:02}Z\",\
             \"userPrincipalName\":\"user{}@tenant{}.example\",\"ipAddress\":\"203.0.113.{}\",\
             \"clientAppUsed\":\"Browser\",\"isInteractive\":true,\"riskLevelDuringSignIn\":\"none\",\
             \"riskLevelAggregated\":\"none\",\"riskState\":\"none\",\
             \"resourceTenantId\":\"3f2a9c1e-7b4d-4e8a-9f10-{:012x}\",\"status\":{{\"errorCode\":0}},\
             \"location\":{{\"city\":\"Berlin\",\"countryOrRegion\":\"DE\",\
             \"geoCoordinates\":{{\"latitude\":52.5,\"longitude\":13.4}}}}}}",
            sec / 3600,
            sec / 60 % 60,
            sec % 60,
            k % 7,
            k % 200,
            k % 250,
            k % 200
        );
    }
    out.extend_from_slice(b"]}");
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let token = args.get(2).cloned().unwrap_or_default();
    let concurrency: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let size: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(500);
    let seconds: u64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(20);
    let http = reqwest::Client::new();
    let stored = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let (http, base, token, stored, busy) = (
            http.clone(),
            base.clone(),
            token.clone(),
            stored.clone(),
            busy.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let body = batch(c, n, size);
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/events/signins"))
                    .bearer_auth(&token)
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 202 => {
                        lat.push(t.elapsed());
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        stored.fetch_add(v["imported"].as_u64().unwrap_or(0), Ordering::Relaxed);
                        n += 1;
                    }
                    Ok(r) if r.status() == 503 => {
                        busy.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(r) => anyhow::bail!(
                        "ingest answered {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ),
                    Err(e) => anyhow::bail!("ingest failed: {e}"),
                }
            }
            Ok(lat)
        }));
    }
    // Meanwhile: a fraud alert every 500 ms, timed from its POST until its alert is readable through the API.
    let prober = {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tokio::spawn(async move {
            let mut out = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let marker = format!("probe-{}-{i}", std::process::id());
                out.push(post_to_alert(&http, &base, &token, &marker).await?);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            anyhow::Ok(out)
        })
    };
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let mut probes = prober.await??;
    let wall = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let events = stored.load(Ordering::Relaxed);
    println!(
        "ingest: {events} sign-ins in {wall:.1} s = {:.0} events/s durable; {} requests of {size}; POST->202 p50 {:.1} ms, p99 {:.1} ms; {} answered 503",
        events as f64 / wall,
        lat.len(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        busy.load(Ordering::Relaxed)
    );
    probes.sort();
    let p = |q: f64| {
        probes
            .get(((probes.len() as f64 * q) as usize).min(probes.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "POST -> alert readable, under that load: {} probes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        probes.len(),
        p(0.50).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        probes.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    Ok(())
}

/// Posts one Microsoft fraud alert (a new event ID) and waits until its alert is listed; returns the time taken.
async fn post_to_alert(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    marker: &str,
) -> anyhow::Result<Duration> {
    let event = serde_json::json!({"items": [{
        "eventTime": "2026-10-02T23:00:00Z", "eventId": format!("11111111-2222-4333-8444-555555555555_{marker}"),
        "partnerTenantId": "0a0b0c0d-0000-4000-8000-00000000000f", "customerTenantId": "3f2a9c1e-7b4d-4e8a-9f10-000000000001",
        "customerFriendlyName": "Load", "subscriptionId": "11111111-2222-4333-8444-555555555555", "entityId": marker,
        "entityName": "vm", "hitCount": "1", "eventStatus": "Active", "serviceName": "Compute",
        "resourceName": "vm", "resourceGroupName": "rg", "firstOccurrence": "2026-10-02T22:00:00Z",
        "lastOccurrence": "2026-10-02T23:00:00Z", "firstObserved": "2026-10-02T22:00:00Z", "lastObserved": "2026-10-02T23:00:00Z",
        "resolvedReason": "None", "resolvedOn": "9999-12-31T23:59:59.997Z", "eventType": "CryptoMining", "severity": "High"
    }]});
    // Timed from the POST that was accepted: a 503 (ingest at capacity) is retried after a pause, as a client should.
    let t = loop {
        let t = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/events/fraud-events"))
            .bearer_auth(token)
            .body(event.to_string())
            .send()
            .await?;
        match r.status().as_u16() {
            202 => break t,
            503 => tokio::time::sleep(Duration::from_millis(20)).await,
            s => anyhow::bail!("fraud event answered {s}"),
        }
    };
    loop {
        let a = http
            .get(format!("{base}/api/v1/alerts?since=2026-10-02T00:00:00Z"))
            .bearer_auth(token)
            .send()
            .await?
            .text()
            .await?;
        if a.contains(marker) {
            return Ok(t.elapsed());
        }
        if t.elapsed() > Duration::from_secs(120) {
            anyhow::bail!("no alert for {marker} after 120 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
