//! The log read for sorting: every event after a position as one self-contained binary record, decoded only when it is
//! consumed.
//!
//! An external sort by event time ([`Store::log_reader`] → [`RawBatch`] → sort → spill → merge) moves each event through
//! memory and temporary files before anything looks inside it. Domain values are the wrong shape for that: a usage line
//! is ~20 heap strings, and serialising it to spill costs more than detecting on it. A record is instead the stored
//! bytes, rearranged:
//!
//! `event time µs (i64 LE) | seq (i64 LE) | ingest time µs (i64 LE) | source id | line (0 = none, else line + 1) |
//! key (16 bytes) | tag (1 byte) | body`
//!
//! (source id and line are LEB128 varints). The tag says what the body is: [`TAG_USAGE`] a usage line from a segment
//! with its strings inline (`segment::Transcoder`), `1 + i` the stored JSON payload of `EventKind::ALL[i]` (a row of
//! `events`), [`TAG_EVENT`] a JSON payload of an unknown kind (read as a tagged `Event`). The sort key (event time,
//! seq) is the first 16 bytes, so a record orders without being decoded. [`RawDecoder::decode`] turns one back into
//! the [`StoredEvent`] that [`Store::events_after`] returns for it.

use crate::compact;
use crate::segment::{self, InlineIds};
use crate::{from_micros, Result, Store, StoreError, StoredEvent};
use cspguard_domain::{Envelope, Event, EventKind, IdempotencyKey, SourceRef};
use sqlx::Row;
use std::collections::HashMap;

/// Body: a usage line with its strings inline.
pub const TAG_USAGE: u8 = 0;
/// Body: a JSON `Event` whose kind column was not one this build knows.
pub const TAG_EVENT: u8 = 0xff;
/// Body: `TAG_COMPACT + i` the compact encoding (`compact.rs`) of an event of `EventKind::ALL[i]` (from a block).
pub const TAG_COMPACT: u8 = 0x40;

const HEAD: usize = 24;

/// Event records in one buffer, each with its sort key: a run of an external sort.
#[derive(Debug, Default)]
pub struct RawBatch {
    bytes: Vec<u8>,
    index: Vec<RawRef>,
}

/// Where one record of a [`RawBatch`] is, with its sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RawRef {
    time_us: i64,
    seq: i64,
    start: usize,
    end: usize,
}

impl RawBatch {
    /// A batch with room for `bytes` of records and `records` records without growing: growing a large buffer copies
    /// it into freshly faulted pages (a fifth of a scan's time, measured). Capacity is kept across [`RawBatch::clear`].
    pub fn with_capacity(bytes: usize, records: usize) -> RawBatch {
        RawBatch {
            bytes: Vec::with_capacity(bytes),
            index: Vec::with_capacity(records),
        }
    }
    /// Records held.
    pub fn len(&self) -> usize {
        self.index.len()
    }
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
    /// Bytes held by the records (the buffer, not counting the index).
    pub fn bytes_len(&self) -> usize {
        self.bytes.len()
    }
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.index.clear();
    }
    /// Orders the records by event time, ties by position in the log.
    pub fn sort(&mut self) {
        self.index.sort_unstable();
    }
    /// The record at `i` (in sorted order after [`RawBatch::sort`]).
    pub fn get(&self, i: usize) -> &[u8] {
        let r = self.index[i];
        &self.bytes[r.start..r.end]
    }
    /// The records, in their current order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.index.iter().map(|r| &self.bytes[r.start..r.end])
    }
    /// Adds a record (one read back from a spill, for instance).
    pub fn push(&mut self, record: &[u8]) -> Result<()> {
        let (time_us, seq) = order(record)?;
        let start = self.bytes.len();
        self.bytes.extend_from_slice(record);
        self.index.push(RawRef {
            time_us,
            seq,
            start,
            end: self.bytes.len(),
        });
        Ok(())
    }

    fn begin(&mut self, time_us: i64, seq: i64, ingest_us: i64, source: i64, line: u64) -> usize {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&time_us.to_le_bytes());
        self.bytes.extend_from_slice(&seq.to_le_bytes());
        self.bytes.extend_from_slice(&ingest_us.to_le_bytes());
        put_varint(&mut self.bytes, source as u64);
        put_varint(&mut self.bytes, line);
        start
    }

    fn commit(&mut self, start: usize) {
        let (time_us, seq) = split_head(&self.bytes[start..]);
        self.index.push(RawRef {
            time_us,
            seq,
            start,
            end: self.bytes.len(),
        });
    }
}

/// A record's sort key: (event time µs, seq).
pub fn order(record: &[u8]) -> Result<(i64, i64)> {
    if record.len() < HEAD {
        return Err(StoreError::Corrupt {
            seq: -1,
            reason: format!("an event record of {} bytes is too short", record.len()),
        });
    }
    Ok(split_head(record))
}

fn split_head(record: &[u8]) -> (i64, i64) {
    let mut t = [0u8; 8];
    t.copy_from_slice(&record[0..8]);
    let mut s = [0u8; 8];
    s.copy_from_slice(&record[8..16]);
    (i64::from_le_bytes(t), i64::from_le_bytes(s))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(*at)?;
        *at += 1;
        if shift >= 64 {
            return None;
        }
        v |= ((byte & 0x7f) as u64) << shift;
        if byte < 0x80 {
            return Some(v);
        }
        shift += 7;
    }
}

/// 32 hexadecimal digits (either case) as 16 bytes.
fn unhex16(h: &str) -> Option<[u8; 16]> {
    let b = h.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
    }
    Some(out)
}

fn kind_tag(kind: &str) -> u8 {
    EventKind::ALL
        .iter()
        .position(|k| k.as_str() == kind)
        .map_or(TAG_EVENT, |i| i as u8 + 1)
}

/// Reads the log after a position as [`RawBatch`] records: the rows of `events` and the segments, each table in
/// position order but not merged with the other (the caller sorts anyway). Bounded by the head of the log when the
/// reader was made, so events committed meanwhile are left, whole, to the next read.
pub struct LogReader<'s> {
    store: &'s Store,
    after: i64,
    upto: i64,
    /// Stretches of `events` to read as JSON, `(after, upto]`: rows stored before blocks existed, and the rows of
    /// blocks of another encoding version. The first is being read.
    json: std::collections::VecDeque<(i64, i64)>,
    blocks_after: i64,
    blocks_done: bool,
    segments_after: i64,
    segments_done: bool,
    last_seq: i64,
    count: u64,
    chains: Vec<SegmentChain>,
    max_chains: usize,
    /// Bytes of segment bodies kept for the chains, and whether more may be kept.
    kept_bytes: usize,
    keeping: bool,
}

/// Segment bodies kept for the chains at most (beyond this, a chain reads its segments again when the merge reaches
/// them).
const KEEP_BYTES: usize = 32 << 20;

/// At most this many chains of sorted segments per read; later sorted segments go through the sort.
pub const MAX_CHAINS: usize = 8;

/// What [`transcode_segment`] found.
struct SegmentInfo {
    last_seq: i64,
    records: u64,
    /// The event times of the records taken are non-decreasing.
    sorted: bool,
    first_time: i64,
    last_time: i64,
}

/// A segment row (`last_seq, first_seq, ingest_time_us, source_id, body`), open for decoding.
struct OpenSegment {
    first: i64,
    last: i64,
    ingest_us: i64,
    source: i64,
    d: segment::Decoder,
}

fn open_segment(g: &sqlx::any::AnyRow) -> Result<OpenSegment> {
    let last: i64 = g.try_get(0)?;
    let first: i64 = g.try_get(1)?;
    let body: Vec<u8> = g.try_get(4)?;
    let d =
        segment::Decoder::new(body).map_err(|reason| StoreError::Corrupt { seq: first, reason })?;
    if d.remaining() != (last - first + 1) as u64 {
        return Err(StoreError::Corrupt {
            seq: first,
            reason: format!(
                "segment holds {} events, its positions {}",
                d.remaining(),
                last - first + 1
            ),
        });
    }
    Ok(OpenSegment {
        first,
        last,
        ingest_us: g.try_get(2)?,
        source: g.try_get(3)?,
        d,
    })
}

fn corrupt(seq: i64) -> impl Fn(String) -> StoreError {
    move |reason| StoreError::Corrupt { seq, reason }
}

/// Looks at the event times of a segment's records after `after` (without decoding the rest), then rewinds it.
fn scan_heads(seg: &mut OpenSegment, after: i64) -> Result<SegmentInfo> {
    let mut info = SegmentInfo {
        last_seq: seg.last,
        records: 0,
        sorted: true,
        first_time: i64::MIN,
        last_time: i64::MIN,
    };
    let mut seq = seg.first;
    while let Some((_, time_us, _)) = seg.d.next_head().map_err(corrupt(seq))? {
        seg.d.skip_rest().map_err(corrupt(seq))?;
        if seq > after {
            if info.records == 0 {
                info.first_time = time_us;
            } else if time_us < info.last_time {
                info.sorted = false;
            }
            info.last_time = time_us;
            info.records += 1;
        }
        seq += 1;
    }
    seg.d.rewind();
    Ok(info)
}

/// Appends the records of a segment after position `after` to `out`.
fn transcode(seg: &mut OpenSegment, after: i64, out: &mut RawBatch) -> Result<()> {
    let mut seq = seg.first;
    while let Some((key, time_us, line)) = seg.d.next_head().map_err(corrupt(seq))? {
        if seq > after {
            let start = out.begin(time_us, seq, seg.ingest_us, seg.source, line);
            out.bytes.extend_from_slice(&key);
            out.bytes.push(TAG_USAGE);
            seg.d.inline_rest(&mut out.bytes).map_err(corrupt(seq))?;
            out.commit(start);
        } else {
            seg.d.skip_rest().map_err(corrupt(seq))?;
        }
        seq += 1;
    }
    Ok(())
}

/// Consecutive usage segments whose lines are already in event-time order: merged straight from the store, a segment
/// at a time, instead of going through the sort (each imported usage file is usually in date order, and usage is most
/// of a log). Holds one segment's records.
pub struct SegmentChain {
    /// Records after this position only (the scan's start).
    after: i64,
    /// The last segment read ends here.
    cursor: i64,
    /// The chain's last segment ends here.
    upto: i64,
    last_time: i64,
    /// The segment being read, and the position of its next record.
    open: Option<OpenSegment>,
    seq: i64,
    /// The last event decoded (its allocations are reused for the next), and whether it is the chain's current one.
    current: Option<StoredEvent>,
    has_current: bool,
    /// The chain's next segments, already read by the [`LogReader`] (so not read again).
    kept: std::collections::VecDeque<OpenSegment>,
}

impl SegmentChain {
    /// The chain's next event, decoded straight from its segment (identifiers parsed once per segment string); `None`
    /// once the chain is exhausted.
    pub async fn next(&mut self, store: &Store, dec: &RawDecoder) -> Result<Option<StoredEvent>> {
        Ok(self.advance(store, dec).await?.cloned())
    }

    /// Decodes the chain's next event in place of the previous one (reusing its allocations) and returns it; `None`
    /// once the chain is exhausted. [`SegmentChain::current`] gives it again.
    pub async fn advance(
        &mut self,
        store: &Store,
        dec: &RawDecoder,
    ) -> Result<Option<&StoredEvent>> {
        self.has_current = false;
        loop {
            if let Some(seg) = self.open.as_mut() {
                while seg.d.remaining() > 0 {
                    let seq = self.seq;
                    self.seq += 1;
                    if seq <= self.after {
                        seg.d.next_head().map_err(corrupt(seq))?;
                        seg.d.skip_rest().map_err(corrupt(seq))?;
                        continue;
                    }
                    let origin = dec.origin(seg.source, seq)?;
                    let slot = match self.current.as_mut() {
                        Some(e) => e,
                        None => self.current.insert(StoredEvent {
                            seq,
                            ingest_time: from_micros(0),
                            envelope: blank_envelope(Event::Usage(
                                segment::blank_usage().map_err(corrupt(seq))?,
                            )),
                        }),
                    };
                    if !seg
                        .d
                        .next_event_into(origin, &mut slot.envelope)
                        .map_err(corrupt(seq))?
                    {
                        break;
                    }
                    slot.seq = seq;
                    slot.ingest_time = from_micros(seg.ingest_us);
                    self.has_current = true;
                    return Ok(self.current.as_ref());
                }
                self.open = None;
            }
            if let Some(seg) = self.kept.pop_front() {
                self.cursor = seg.last;
                self.seq = seg.first;
                self.open = Some(seg);
                continue;
            }
            if self.cursor >= self.upto {
                return Ok(None);
            }
            let g = sqlx::query(
                "SELECT last_seq, first_seq, ingest_time_us, source_id, body FROM event_segments \
                 WHERE last_seq > $1 AND last_seq <= $2 ORDER BY last_seq LIMIT 1",
            )
            .bind(self.cursor)
            .bind(self.upto)
            .fetch_optional(&store.pool)
            .await?;
            let Some(g) = g else {
                return Err(StoreError::Corrupt {
                    seq: self.cursor,
                    reason: "a usage segment went missing during the scan".into(),
                });
            };
            let seg = open_segment(&g)?;
            self.cursor = seg.last;
            self.seq = seg.first;
            self.open = Some(seg);
        }
    }

    /// The event the last [`SegmentChain::advance`] returned, if it returned one.
    pub fn current(&self) -> Option<&StoredEvent> {
        self.current.as_ref().filter(|_| self.has_current)
    }
}

impl Store {
    /// A reader of every event stored after `after_seq` (up to the head of the log now) as sortable records.
    pub async fn log_reader(&self, after_seq: i64) -> Result<LogReader<'_>> {
        let head = sqlx::query("SELECT next_seq, blocks_from FROM log_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let next: i64 = head.try_get(0)?;
        let blocks_from: i64 = head.try_get(1)?;
        let upto = next - 1;
        // Rows before `blocks_from` have no block: JSON.
        let mut json = std::collections::VecDeque::new();
        if after_seq < blocks_from - 1 {
            json.push_back((after_seq, upto.min(blocks_from - 1)));
        }
        Ok(LogReader {
            store: self,
            after: after_seq,
            upto,
            json,
            blocks_after: after_seq.max(blocks_from - 1),
            blocks_done: false,
            segments_after: after_seq,
            segments_done: false,
            last_seq: after_seq,
            count: 0,
            chains: Vec::new(),
            max_chains: MAX_CHAINS,
            kept_bytes: 0,
            keeping: true,
        })
    }
}

impl LogReader<'_> {
    /// Appends the next records to `out`: up to `rows` rows of `events`, or once those are read, a few segments (a
    /// segment holds ~10,000 usage lines). Returns false, adding nothing, when everything has been read.
    pub async fn read_into(&mut self, out: &mut RawBatch, rows: u32) -> Result<bool> {
        let before = out.len();
        while out.len() == before
            && !(self.json.is_empty() && self.blocks_done && self.segments_done)
        {
            if !self.json.is_empty() {
                self.read_rows(out, rows).await?;
            } else if !self.blocks_done {
                self.read_blocks(out).await?;
            } else {
                self.read_segments(out).await?;
            }
        }
        Ok(out.len() > before)
    }

    /// The last log position read so far (where the next scan starts), or the starting position if none.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Events read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Reads up to `limit` rows of `events` as one text value aggregated by the database: each row crossing sqlx on
    /// its own (a value copied per column on the worker thread, converted, sent over a channel, freed across threads)
    /// cost more than decoding it. Fields are separated by U+001F and rows by U+001E, which stored JSON never holds
    /// unescaped. The order within the aggregate does not matter: the caller sorts.
    async fn read_rows(&mut self, out: &mut RawBatch, limit: u32) -> Result<()> {
        let limit = limit.max(1);
        let Some(&(rows_after, rows_upto)) = self.json.front() else {
            return Ok(());
        };
        let sql = match self.store.backend {
            crate::Backend::Sqlite => {
                "SELECT group_concat(r, char(30)), COUNT(*), MAX(seq) FROM (SELECT seq, CAST(seq AS TEXT) || char(31) \
                 || CAST(event_time_us AS TEXT) || char(31) || CAST(ingest_time_us AS TEXT) || char(31) \
                 || hex(idem_key) || char(31) || COALESCE(CAST(source_line AS TEXT), '') || char(31) \
                 || CAST(source_id AS TEXT) || char(31) || kind || char(31) || payload AS r \
                 FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3) t"
            }
            crate::Backend::Postgres => {
                "SELECT string_agg(r, chr(30)), COUNT(*), MAX(seq) FROM (SELECT seq, CAST(seq AS TEXT) || chr(31) \
                 || CAST(event_time_us AS TEXT) || chr(31) || CAST(ingest_time_us AS TEXT) || chr(31) \
                 || encode(idem_key, 'hex') || chr(31) || COALESCE(CAST(source_line AS TEXT), '') || chr(31) \
                 || CAST(source_id AS TEXT) || chr(31) || kind || chr(31) || payload AS r \
                 FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3) t"
            }
        };
        let row = sqlx::query(sql)
            .bind(rows_after)
            .bind(rows_upto)
            .bind(i64::from(limit))
            .fetch_one(&self.store.pool)
            .await?;
        let text: Option<String> = row.try_get(0)?;
        let n: i64 = row.try_get(1)?;
        let Some(text) = text else {
            self.json.pop_front();
            return Ok(());
        };
        let max: i64 = row.try_get(2)?;
        let mut parsed = 0i64;
        for r in text.split('\u{1e}') {
            let bad = |what: &str| StoreError::Corrupt {
                seq: rows_after,
                reason: format!("an aggregated row of `events` has a bad {what}"),
            };
            let mut f = r.splitn(8, '\u{1f}');
            let mut int = |what: &str| -> Result<i64> {
                f.next()
                    .and_then(|v| v.parse::<i64>().ok())
                    .ok_or_else(|| bad(what))
            };
            let seq = int("seq")?;
            let time_us = int("event time")?;
            let ingest_us = int("ingest time")?;
            let key = f
                .next()
                .and_then(unhex16)
                .ok_or_else(|| StoreError::Corrupt {
                    seq,
                    reason: "idempotency key is not 16 bytes".into(),
                })?;
            let line = match f.next().ok_or_else(|| bad("source line"))? {
                "" => 0,
                l => l.parse::<u64>().map_err(|_| bad("source line"))? + 1,
            };
            let source = f
                .next()
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| bad("source id"))?;
            let kind = f.next().ok_or_else(|| bad("kind"))?;
            let payload = f.next().ok_or_else(|| bad("payload"))?;
            let start = out.begin(time_us, seq, ingest_us, source, line);
            out.bytes.extend_from_slice(&key);
            out.bytes.push(kind_tag(kind));
            out.bytes.extend_from_slice(payload.as_bytes());
            out.commit(start);
            parsed += 1;
        }
        if parsed != n {
            return Err(StoreError::Corrupt {
                seq: rows_after,
                reason: format!("{n} rows of `events` came back as {parsed}"),
            });
        }
        self.count += n as u64;
        self.last_seq = self.last_seq.max(max);
        if n < i64::from(limit) {
            self.json.pop_front();
        } else if let Some(front) = self.json.front_mut() {
            front.0 = max;
        }
        Ok(())
    }

    /// Reads a few rows of `event_blocks` (each up to 3,500 events): the compact records go into `out` as they are;
    /// a block of another encoding version leaves its stretch of `events` to be read as JSON.
    async fn read_blocks(&mut self, out: &mut RawBatch) -> Result<()> {
        const BLOCKS: i64 = 8;
        let rows = sqlx::query(
            "SELECT last_seq, first_seq, version, source_id, ingest_time_us, event_count, body FROM event_blocks \
             WHERE last_seq > $1 AND first_seq <= $2 ORDER BY last_seq LIMIT $3",
        )
        .bind(self.blocks_after)
        .bind(self.upto)
        .bind(BLOCKS)
        .fetch_all(&self.store.pool)
        .await?;
        if (rows.len() as i64) < BLOCKS {
            self.blocks_done = true;
        }
        for g in &rows {
            let last: i64 = g.try_get(0)?;
            let first: i64 = g.try_get(1)?;
            let version: i64 = g.try_get(2)?;
            self.blocks_after = last;
            if version != compact::VERSION {
                self.json
                    .push_back((self.after.max(first - 1), last.min(self.upto)));
                continue;
            }
            let source: i64 = g.try_get(3)?;
            let ingest_us: i64 = g.try_get(4)?;
            let count: i64 = g.try_get(5)?;
            let body: Vec<u8> = g.try_get(6)?;
            let mut r = compact::BlockReader::new(first, &body);
            let mut seen = 0i64;
            while let Some(e) = r.next_event().map_err(corrupt(first))? {
                seen += 1;
                if e.seq <= self.after || e.seq > self.upto {
                    continue;
                }
                let start = out.begin(e.time_us, e.seq, ingest_us, source, e.line);
                out.bytes.extend_from_slice(e.key);
                out.bytes.push(TAG_COMPACT + e.kind);
                out.bytes.extend_from_slice(e.body);
                out.commit(start);
                self.count += 1;
                self.last_seq = self.last_seq.max(e.seq);
            }
            if seen != count {
                return Err(StoreError::Corrupt {
                    seq: first,
                    reason: format!("a block of {count} events holds {seen}"),
                });
            }
        }
        Ok(())
    }

    async fn read_segments(&mut self, out: &mut RawBatch) -> Result<()> {
        let segs = sqlx::query(
            "SELECT last_seq, first_seq, ingest_time_us, source_id, body FROM event_segments \
             WHERE last_seq > $1 AND first_seq <= $2 ORDER BY last_seq LIMIT 1",
        )
        .bind(self.segments_after)
        .bind(self.upto)
        .fetch_all(&self.store.pool)
        .await?;
        let Some(g) = segs.first() else {
            self.segments_done = true;
            return Ok(());
        };
        let mut seg = open_segment(g)?;
        let info = scan_heads(&mut seg, self.after)?;
        self.count += info.records;
        if info.records > 0 && info.sorted && self.chain(&info) {
            // Kept for the chain while there is room, rather than read again when the merge reaches it.
            let len = seg.d.body_len();
            if self.keeping && self.kept_bytes + len <= KEEP_BYTES {
                self.kept_bytes += len;
                if let Some(c) = self.chains.last_mut() {
                    c.kept.push_back(seg);
                }
            } else {
                // Each chain's kept segments must be the first of its segments: none after one that was not kept.
                self.keeping = false;
            }
        } else {
            transcode(&mut seg, self.after, out)?;
        }
        let seg = info;
        self.segments_after = seg.last_seq;
        self.last_seq = self.last_seq.max(seg.last_seq);
        Ok(())
    }

    /// Adds an internally sorted segment to the open chain when it continues it (the segment just before it, in time
    /// order after it), else starts a chain; false when there are [`MAX_CHAINS`] already or chains are off.
    fn chain(&mut self, seg: &SegmentInfo) -> bool {
        if let Some(c) = self.chains.last_mut() {
            if c.upto == self.segments_after && seg.first_time >= c.last_time {
                c.upto = seg.last_seq;
                c.last_time = seg.last_time;
                return true;
            }
        }
        if self.chains.len() >= self.max_chains {
            return false;
        }
        self.chains.push(SegmentChain {
            after: self.after,
            cursor: self.segments_after,
            upto: seg.last_seq,
            last_time: seg.last_time,
            open: None,
            seq: 0,
            current: None,
            has_current: false,
            kept: std::collections::VecDeque::new(),
        });
        true
    }

    /// Leaves every segment to the sort (for tests: the chains' path and the sort's must agree).
    pub fn without_chains(mut self) -> Self {
        self.max_chains = 0;
        self
    }

    /// The chains of already-sorted segments found so far: their events are counted but not in the batches, to be
    /// merged straight from the store ([`SegmentChain::next`]).
    pub fn take_chains(&mut self) -> Vec<SegmentChain> {
        std::mem::take(&mut self.chains)
    }

    /// A decoder for the records this reader produces (it knows the imports' origins).
    pub async fn decoder(&self) -> Result<RawDecoder> {
        let mut origins = HashMap::new();
        for row in sqlx::query("SELECT id, origin FROM sources")
            .fetch_all(&self.store.pool)
            .await?
        {
            origins.insert(row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?);
        }
        Ok(RawDecoder {
            origins,
            ids: InlineIds::default(),
            usage_slot: None,
            other_slot: None,
        })
    }
}

/// Turns records back into [`StoredEvent`]s.
pub struct RawDecoder {
    origins: HashMap<i64, String>,
    ids: InlineIds,
    usage_slot: Option<StoredEvent>,
    other_slot: Option<StoredEvent>,
}

impl RawDecoder {
    fn origin(&self, source: i64, seq: i64) -> Result<&str> {
        self.origins
            .get(&source)
            .map(String::as_str)
            .ok_or_else(|| StoreError::Corrupt {
                seq,
                reason: format!("source #{source} is not in `sources`"),
            })
    }

    /// Decodes a record into a new [`StoredEvent`].
    pub fn decode(&mut self, record: &[u8]) -> Result<StoredEvent> {
        let mut e = StoredEvent {
            seq: 0,
            ingest_time: from_micros(0),
            envelope: blank_envelope(Event::Usage(segment::blank_usage().map_err(corrupt(-1))?)),
        };
        self.decode_into(record, &mut e)?;
        Ok(e)
    }

    /// Decodes a record into a slot the decoder keeps (one for usage lines, one for the rest), reusing the previous
    /// event's allocations: a usage line decoded into the last one allocates only what differs from it. The event is
    /// valid until the next call.
    pub fn decode_ref(&mut self, record: &[u8]) -> Result<&StoredEvent> {
        let usage = record_tag(record)? == TAG_USAGE;
        let mut slot = if usage {
            self.usage_slot.take()
        } else {
            self.other_slot.take()
        };
        match slot.as_mut() {
            Some(e) => self.decode_into(record, e)?,
            None => slot = Some(self.decode(record)?),
        }
        let slot_ref = if usage {
            &mut self.usage_slot
        } else {
            &mut self.other_slot
        };
        *slot_ref = slot;
        slot_ref.as_ref().ok_or_else(|| StoreError::Corrupt {
            seq: -1,
            reason: "no decoded event".into(),
        })
    }

    /// Decodes a record into `out`, overwriting all of it (usage lines in place, keeping allocations).
    pub fn decode_into(&mut self, record: &[u8], out: &mut StoredEvent) -> Result<()> {
        let (time_us, seq) = order(record)?;
        let corrupt = |reason: String| StoreError::Corrupt { seq, reason };
        let mut i = [0u8; 8];
        i.copy_from_slice(&record[16..24]);
        let ingest_us = i64::from_le_bytes(i);
        let mut at = HEAD;
        let source = get_varint(record, &mut at).ok_or_else(|| corrupt("truncated".into()))?;
        let line = get_varint(record, &mut at).ok_or_else(|| corrupt("truncated".into()))?;
        let key: [u8; 16] = record
            .get(at..at + 16)
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| corrupt("truncated".into()))?;
        let tag = *record
            .get(at + 16)
            .ok_or_else(|| corrupt("truncated".into()))?;
        let body = &record[at + 17..];
        let ev = &mut out.envelope.event;
        match tag {
            TAG_USAGE => {
                if !matches!(ev, Event::Usage(_)) {
                    *ev = Event::Usage(segment::blank_usage().map_err(corrupt)?);
                }
                if let Event::Usage(u) = ev {
                    segment::decode_inline_into(body, &mut self.ids, u).map_err(corrupt)?;
                }
            }
            TAG_EVENT => {
                *ev = serde_json::from_slice(body).map_err(|e| corrupt(format!("payload: {e}")))?
            }
            t if (TAG_COMPACT..TAG_COMPACT + EventKind::ALL.len() as u8).contains(&t) => {
                compact::decode_into(EventKind::ALL[(t - TAG_COMPACT) as usize], body, ev)
                    .map_err(corrupt)?
            }
            t => {
                let kind = (t as usize)
                    .checked_sub(1)
                    .and_then(|i| EventKind::ALL.get(i))
                    .ok_or_else(|| corrupt(format!("unknown record tag {t}")))?;
                *ev = decode_json(*kind, body).map_err(|e| corrupt(format!("payload: {e}")))?
            }
        }
        let origin = self.origin(source as i64, seq)?;
        segment::set_str(&mut out.envelope.source.origin, origin);
        out.envelope.source.line = line.checked_sub(1);
        out.envelope.key = IdempotencyKey(key);
        out.envelope.event_time = from_micros(time_us);
        out.seq = seq;
        out.ingest_time = from_micros(ingest_us);
        Ok(())
    }
}

/// The tag of a record (what its body is).
fn record_tag(record: &[u8]) -> Result<u8> {
    let (_, seq) = order(record)?;
    let mut at = HEAD;
    let truncated = || StoreError::Corrupt {
        seq,
        reason: "truncated".into(),
    };
    get_varint(record, &mut at).ok_or_else(truncated)?;
    get_varint(record, &mut at).ok_or_else(truncated)?;
    record.get(at + 16).copied().ok_or_else(truncated)
}

fn blank_envelope(event: Event) -> Envelope {
    Envelope {
        key: IdempotencyKey([0; 16]),
        event_time: from_micros(0),
        source: SourceRef {
            origin: String::new(),
            line: None,
        },
        event,
    }
}

/// A stored payload of a known kind, read straight into its variant: the kind column already says which, so serde's
/// buffering of the whole object to find the `type` tag is skipped (the tag is ignored as an unknown field).
fn decode_json(kind: EventKind, body: &[u8]) -> serde_json::Result<Event> {
    use serde_json::from_slice as j;
    Ok(match kind {
        EventKind::Usage => Event::Usage(j(body)?),
        EventKind::SignIn => Event::SignIn(j(body)?),
        EventKind::ControlPlane => Event::ControlPlane(j(body)?),
        EventKind::FraudAlert => Event::FraudAlert(j(body)?),
        EventKind::FraudAlertStatus => Event::FraudAlertStatus(j(body)?),
        EventKind::SubscriptionState => Event::SubscriptionState(j(body)?),
        EventKind::CustomerProfile => Event::CustomerProfile(j(body)?),
        EventKind::Invoice => Event::Invoice(j(body)?),
        EventKind::Payment => Event::Payment(j(body)?),
        EventKind::InstrumentChange => Event::InstrumentChange(j(body)?),
        EventKind::PartnerInvoice => Event::PartnerInvoice(j(body)?),
        EventKind::PartnerPayment => Event::PartnerPayment(j(body)?),
        EventKind::PartnerCreditLimit => Event::PartnerCreditLimit(j(body)?),
    })
}
