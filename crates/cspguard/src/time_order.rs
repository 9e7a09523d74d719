//! Stored events in event-time order with bounded memory: an external merge sort.
//!
//! The log is in arrival order, and files arrive in any order (a month of usage, then the sign-ins of the same month),
//! but detectors need event time. Up to [`RUN`] events are sorted in memory; beyond that, sorted runs are spilled to
//! anonymous temporary files (JSON Lines, deleted when closed) and merged, so a backfill over millions of events holds
//! about one run in memory, not the whole log. Written by hand: the merge is a few lines over `BinaryHeap`, and the
//! external-sort crates on crates.io sort plain records, not a store's paged reads.

use anyhow::Context;
use cspguard_domain::{Envelope, Event, IdempotencyKey, Instant, SourceRef};
use cspguard_store::{Store, StoredEvent};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};

/// Events sorted in memory per run.
pub const RUN: usize = 65_536;
/// Events read from the store per query.
const PAGE: u32 = 16_384;

#[derive(Serialize, Deserialize)]
struct Spilled {
    seq: i64,
    ingest: Instant,
    time: Instant,
    key: [u8; 16],
    origin: String,
    line: Option<u64>,
    event: Event,
}

impl From<StoredEvent> for Spilled {
    fn from(e: StoredEvent) -> Spilled {
        Spilled {
            seq: e.seq,
            ingest: e.ingest_time,
            time: e.envelope.event_time,
            key: e.envelope.key.0,
            origin: e.envelope.source.origin,
            line: e.envelope.source.line,
            event: e.envelope.event,
        }
    }
}

impl From<Spilled> for StoredEvent {
    fn from(s: Spilled) -> StoredEvent {
        StoredEvent {
            seq: s.seq,
            ingest_time: s.ingest,
            envelope: Envelope {
                key: IdempotencyKey(s.key),
                event_time: s.time,
                source: SourceRef {
                    origin: s.origin,
                    line: s.line,
                },
                event: s.event,
            },
        }
    }
}

fn order(e: &StoredEvent) -> (Instant, i64) {
    (e.envelope.event_time, e.seq)
}

/// Feeds `f` every event stored after `after_seq`, in event-time order (ties by arrival). Returns how many there were
/// and the last log position read (the next scan's starting point).
pub async fn for_each_in_time_order(
    store: &Store,
    mut after_seq: i64,
    run: usize,
    mut f: impl FnMut(&StoredEvent),
) -> anyhow::Result<(u64, i64)> {
    let mut buf: Vec<StoredEvent> = Vec::new();
    let mut runs: Vec<std::fs::File> = Vec::new();
    let mut count = 0u64;
    loop {
        let page = store.events_after(after_seq, PAGE).await?;
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        count += page.len() as u64;
        buf.extend(page);
        if buf.len() >= run {
            runs.push(spill(&mut buf)?);
        }
    }
    buf.sort_by_key(order);
    if runs.is_empty() {
        buf.iter().for_each(&mut f);
        return Ok((count, after_seq));
    }
    // k-way merge: the in-memory remainder is one more run.
    let mut readers: Vec<std::io::Lines<BufReader<std::fs::File>>> = Vec::new();
    for mut file in runs {
        file.rewind().context("rewinding a sort run")?;
        readers.push(BufReader::new(file).lines());
    }
    let mut rest = buf.into_iter();
    let mut heads: Vec<Option<StoredEvent>> = Vec::with_capacity(readers.len() + 1);
    for r in readers.iter_mut() {
        heads.push(next_spilled(r)?);
    }
    heads.push(rest.next());
    let mut heap: BinaryHeap<Reverse<((Instant, i64), usize)>> = heads
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.as_ref().map(|e| Reverse((order(e), i))))
        .collect();
    while let Some(Reverse((_, i))) = heap.pop() {
        let Some(e) = heads[i].take() else { continue };
        f(&e);
        heads[i] = if i < readers.len() {
            next_spilled(&mut readers[i])?
        } else {
            rest.next()
        };
        if let Some(n) = &heads[i] {
            heap.push(Reverse((order(n), i)));
        }
    }
    Ok((count, after_seq))
}

fn spill(buf: &mut Vec<StoredEvent>) -> anyhow::Result<std::fs::File> {
    buf.sort_by_key(order);
    let file = tempfile::tempfile()
        .context("creating a temporary file to sort events (is the temp folder writable?)")?;
    let mut w = BufWriter::new(file);
    for e in buf.drain(..) {
        serde_json::to_writer(&mut w, &Spilled::from(e))?;
        w.write_all(b"\n")?;
    }
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("writing a sort run: {}", e.error()))
}

fn next_spilled(
    r: &mut std::io::Lines<BufReader<std::fs::File>>,
) -> anyhow::Result<Option<StoredEvent>> {
    match r.next() {
        None => Ok(None),
        Some(line) => {
            let s: Spilled = serde_json::from_str(&line.context("reading a sort run")?)
                .context("a sort run cannot be read back")?;
            Ok(Some(s.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use cspguard_domain::{
        EventKind, InstrumentAction, InstrumentChange, InstrumentId, InstrumentKind, TenantId,
    };

    fn event(i: i64, at: Instant) -> Envelope {
        let ev = Event::InstrumentChange(InstrumentChange {
            customer: TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap(),
            instrument: InstrumentId::parse(&format!("pm_{i}")).unwrap(),
            kind: InstrumentKind::Card,
            action: InstrumentAction::Added,
            at,
            country: None,
            fingerprint: None,
        });
        Envelope {
            key: IdempotencyKey::derive(EventKind::InstrumentChange, &[&i.to_le_bytes()]),
            event_time: at,
            source: SourceRef {
                origin: "test".into(),
                line: Some(i as u64),
            },
            event: ev,
        }
    }

    #[tokio::test]
    async fn spilled_runs_merge_into_event_time_order_and_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap();
        // Arrival order scrambles time: i * 37 mod 101 minutes.
        let batch: Vec<Envelope> = (0..101)
            .map(|i| event(i, t0 + Duration::minutes(i * 37 % 101)))
            .collect();
        let src = store.begin_import("test", "billing", t0).await.unwrap();
        store.append(src, &batch, t0).await.unwrap();
        for run in [7, RUN] {
            let mut seen = Vec::new();
            let (n, last) =
                for_each_in_time_order(&store, 0, run, |e| seen.push(e.envelope.clone()))
                    .await
                    .unwrap();
            assert_eq!(n, 101);
            assert!(last > 0);
            let times: Vec<Instant> = seen.iter().map(|e| e.event_time).collect();
            let mut sorted = times.clone();
            sorted.sort();
            assert_eq!(times, sorted, "run of {run}: not in event-time order");
            let mut keys: Vec<[u8; 16]> = seen.iter().map(|e| e.key.0).collect();
            keys.sort();
            let mut want: Vec<[u8; 16]> = batch.iter().map(|e| e.key.0).collect();
            want.sort();
            assert_eq!(keys, want, "run of {run}: every event exactly once");
            assert_eq!(
                seen.iter().find(|e| e.key == batch[5].key),
                Some(&batch[5]),
                "spilled events read back whole"
            );
        }
    }
}
