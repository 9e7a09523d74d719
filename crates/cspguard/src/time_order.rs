//! Stored events in event-time order with bounded memory: an external merge sort over compact records.
//!
//! The log is in arrival order, and files arrive in any order (a month of usage, then the sign-ins of the same month),
//! but detectors need event time. The store hands the log out as self-contained binary records
//! ([`cspguard_store::RawBatch`]: the sort key, then the stored bytes — a usage line with its segment strings inline,
//! any other event its stored JSON), so sorting and spilling move bytes, and each event is decoded exactly once, when
//! it is merged out to the caller. Up to [`RUN`] events or [`RUN_BYTES`] bytes of records are sorted in memory; beyond
//! that, sorted runs are spilled to anonymous temporary files (length-prefixed records, deleted when closed) and
//! merged, so a backfill over millions of events holds about one run in memory, not the whole log.
//!
//! Usage segments whose lines are already in time order (a usage file is usually in date order, and usage is most of a
//! log) skip all that: the reader keeps them as chains ([`cspguard_store::SegmentChain`], at most
//! [`cspguard_store::MAX_CHAINS`]) that the merge reads straight from the store, a segment at a time, beside the runs.
//! Memory stays bounded either way: one run buffer, one open segment per chain, a read buffer per spilled run.
//! Written by hand:
//! the merge is a few lines over `BinaryHeap`, and the external-sort crates on crates.io sort plain records, not a
//! store's paged reads.

use anyhow::Context;
use cspguard_store::{record_order, RawBatch, SegmentChain, Store, StoredEvent};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufReader, BufWriter, Read, Seek, Write};

/// Events sorted in memory per run (at most; [`RUN_BYTES`] may end a run first).
pub const RUN: usize = 262_144;
/// Bytes of records sorted in memory per run.
pub const RUN_BYTES: usize = 48 << 20;
/// Rows of `events` read from the store per query (a query of segments reads one, ~10,000 usage lines).
const PAGE: u32 = 1_024;
/// What one read adds at most, roughly: a page of rows or a segment.
const READ_BYTES: usize = 8 << 20;

/// Feeds `f` every event stored after `after_seq`, in event-time order (ties by arrival). Returns how many there were
/// and the last log position read (the next scan's starting point).
pub async fn for_each_in_time_order(
    store: &Store,
    after_seq: i64,
    run: usize,
    mut f: impl FnMut(&StoredEvent),
) -> anyhow::Result<(u64, i64)> {
    let mut reader = store.log_reader(after_seq).await?;
    // Room for a whole run, allocated once: pages are only touched as records arrive, so a small scan stays small.
    let mut buf = RawBatch::with_capacity(RUN_BYTES + READ_BYTES, run.min(RUN) + PAGE as usize);
    let mut runs: Vec<std::fs::File> = Vec::new();
    while reader.read_into(&mut buf, PAGE).await? {
        if buf.len() >= run || buf.bytes_len() >= RUN_BYTES {
            runs.push(spill(&mut buf)?);
        }
    }
    let (count, last_seq) = (reader.count(), reader.last_seq());
    let chains = reader.take_chains();
    let mut dec = reader.decoder().await?;
    buf.sort();
    if runs.is_empty() && chains.is_empty() {
        for r in buf.iter() {
            f(dec.decode_ref(r)?);
        }
        return Ok((count, last_seq));
    }
    // k-way merge of the spilled runs, the in-memory remainder and the chains of sorted segments read from the store.
    let mut sources: Vec<Source> = Vec::with_capacity(runs.len() + chains.len() + 1);
    for mut file in runs {
        file.rewind().context("rewinding a sort run")?;
        let mut r = RunReader {
            file: BufReader::with_capacity(1 << 16, file),
            record: Vec::new(),
        };
        r.advance()?;
        sources.push(Source::Spilled(r));
    }
    sources.push(Source::Memory(buf, 0));
    for mut chain in chains {
        chain.advance(store, &dec).await?;
        sources.push(Source::Chain(Box::new(chain)));
    }
    let mut heap: BinaryHeap<Reverse<((i64, i64), usize)>> =
        BinaryHeap::with_capacity(sources.len());
    for (i, s) in sources.iter().enumerate() {
        if let Some(k) = s.key()? {
            heap.push(Reverse((k, i)));
        }
    }
    while let Some(Reverse((_, i))) = heap.pop() {
        match &mut sources[i] {
            Source::Chain(c) => {
                if let Some(e) = c.current() {
                    f(e);
                }
                c.advance(store, &dec).await?;
            }
            Source::Spilled(r) => {
                f(dec.decode_ref(&r.record)?);
                r.advance()?;
            }
            Source::Memory(b, at) => {
                f(dec.decode_ref(b.get(*at))?);
                *at += 1;
            }
        }
        if let Some(k) = sources[i].key()? {
            heap.push(Reverse((k, i)));
        }
    }
    Ok((count, last_seq))
}

/// One sorted input of the merge: a spilled run, the run still in memory, or a chain of sorted segments in the store
/// (its next event already decoded: [`SegmentChain::current`]).
enum Source {
    Spilled(RunReader),
    Memory(RawBatch, usize),
    Chain(Box<SegmentChain>),
}

impl Source {
    /// The sort key of the next event, `None` when exhausted.
    fn key(&self) -> anyhow::Result<Option<(i64, i64)>> {
        Ok(match self {
            Source::Spilled(r) if !r.record.is_empty() => Some(record_order(&r.record)?),
            Source::Memory(b, at) if *at < b.len() => Some(record_order(b.get(*at))?),
            Source::Chain(c) => c
                .current()
                .map(|e| (e.envelope.event_time.timestamp_micros(), e.seq)),
            _ => None,
        })
    }
}

/// A spilled run being merged: its current record (empty once the run is exhausted).
struct RunReader {
    file: BufReader<std::fs::File>,
    record: Vec<u8>,
}

impl RunReader {
    fn advance(&mut self) -> anyhow::Result<()> {
        self.record.clear();
        let mut len = [0u8; 4];
        match self.file.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e).context("reading a sort run"),
        }
        let n = u32::from_le_bytes(len) as usize;
        self.record.resize(n, 0);
        self.file
            .read_exact(&mut self.record)
            .context("a sort run is truncated")?;
        anyhow::ensure!(n > 0, "a sort run holds an empty record");
        Ok(())
    }
}

fn spill(buf: &mut RawBatch) -> anyhow::Result<std::fs::File> {
    buf.sort();
    let file = tempfile::tempfile()
        .context("creating a temporary file to sort events (is the temp folder writable?)")?;
    let mut w = BufWriter::with_capacity(1 << 18, file);
    for r in buf.iter() {
        let n = u32::try_from(r.len()).context("an event record over 4 GiB")?;
        w.write_all(&n.to_le_bytes())?;
        w.write_all(r)?;
    }
    buf.clear();
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("writing a sort run: {}", e.error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use cspguard_domain::{
        Envelope, Event, EventKind, IdempotencyKey, Instant, InstrumentAction, InstrumentChange,
        InstrumentId, InstrumentKind, SourceRef, TenantId,
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

    /// The usage lines of the example file (dated 2026-09-01 to 09-29).
    fn usage_lines() -> Vec<Envelope> {
        struct Collect(Vec<Envelope>);
        impl cspguard_ingest::Sink for Collect {
            fn accept(&mut self, e: Envelope) -> Result<(), cspguard_ingest::Stopped> {
                self.0.push(e);
                Ok(())
            }
            fn reject(
                &mut self,
                r: cspguard_ingest::Reject,
            ) -> Result<(), cspguard_ingest::Stopped> {
                panic!("example rejected: {r}")
            }
        }
        let dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
        let text = std::fs::read(format!("{dir}/../../testdata/examples/usage_small.csv")).unwrap();
        let opts = cspguard_ingest::ImportOptions {
            origin: "usage_small.csv".into(),
            customer: None,
            observed_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            usage_keys: Default::default(),
        };
        let mut c = Collect(Vec::new());
        cspguard_ingest::parse(
            cspguard_ingest::SourceKind::Usage,
            text.as_slice(),
            &opts,
            &mut c,
        )
        .unwrap();
        c.0
    }

    #[tokio::test]
    async fn spilled_runs_and_store_chains_merge_into_event_time_order_and_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap();
        // Arrival order scrambles time: (i * 37 mod 101) x 7 hours over September; every time twice (ties order by
        // position). Usage lines in between: six in date order (a chain of sorted segments, merged from the store),
        // six in reverse (sorted with the rest).
        let batch: Vec<Envelope> = (0..202)
            .map(|i| event(i, t0 + Duration::hours(i * 37 % 101 * 7)))
            .collect();
        let usage = usage_lines();
        let src = store.begin_import("test", "billing", t0).await.unwrap();
        store.append(src, &batch[..101], t0).await.unwrap();
        store.append(src, &usage[..6], t0).await.unwrap();
        store.append(src, &batch[101..], t0).await.unwrap();
        let reversed: Vec<Envelope> = usage[6..].iter().rev().cloned().collect();
        store.append(src, &reversed, t0).await.unwrap();
        let total = 202 + usage.len() as i64;
        // What the merge must give: the log, stably sorted by event time.
        let mut want = store.events_after(0, 1000).await.unwrap();
        assert_eq!(want.len() as i64, total);
        want.sort_by_key(|e| (e.envelope.event_time, e.seq));
        for run in [1, 7, 101, RUN] {
            for after in [0, 50, 110, 150] {
                let mut seen: Vec<StoredEvent> = Vec::new();
                let (n, last) =
                    for_each_in_time_order(&store, after, run, |e| seen.push(e.clone()))
                        .await
                        .unwrap();
                let expect: Vec<StoredEvent> =
                    want.iter().filter(|e| e.seq > after).cloned().collect();
                assert_eq!(
                    (n, last),
                    (expect.len() as u64, total),
                    "run of {run}, after #{after}"
                );
                assert_eq!(seen, expect, "run of {run}, after #{after}");
            }
        }
        // Nothing new: nothing read, the position stays.
        let (n, last) = for_each_in_time_order(&store, total, 7, |_| panic!("no events"))
            .await
            .unwrap();
        assert_eq!((n, last), (0, total));
    }
}
