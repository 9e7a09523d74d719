//! cspguard's event store: the append-only event log, the record of imports that fed it, and the derived tables later
//! stages query. One code path serves SQLite (the embedded default) and PostgreSQL: sqlx's `Any` driver with queries
//! checked at run time, `$N` placeholders (both understand them), integers for instants and money.
//!
//! API boundary: [`Store`] takes domain [`Envelope`]s (or [`PreparedBatch`]es encoded from them on the producer's
//! threads) and returns domain types and plain rows; callers never see SQL.
//!
//! Layout (migration 0002): the log is one sequence of positions (`seq`) over two tables. Usage lines, the bulk of any
//! partner's data, are stored many to a row in `event_segments` (compact binary, see `segment.rs`) with their keys in
//! `usage_keys`; every other event is one JSON row of `events`. `log_head.next_seq` is the next free position. Read the
//! log with [`Store::events_after`]: it merges both tables by position. To sort it by event time, [`Store::log_reader`]
//! hands it out as compact binary records decoded only when consumed (`raw.rs`), reading the rows of `events` from
//! `event_blocks` (migration 0009: the same rows in the binary encoding of `compact.rs`, written with them) where a
//! block of this build's encoding covers them, and from their JSON where none does (rows stored before 0009).
//!
//! Invariants:
//! - the log is append-only: rows of `events`, `event_segments` and `usage_keys` are inserted, never updated or
//!   deleted; positions are given under the write lock, so they commit in order and are never reused;
//! - `event_blocks` is derived from `events` and never read as the record: a block is inserted with the rows it covers,
//!   in the same transaction, and covers every row in its range of positions;
//! - an event whose idempotency key is already stored is not stored again ([`Store::append`] reports it as a duplicate),
//!   so re-importing a file, or an overlapping one, adds nothing; usage keys are checked in `usage_keys`, other keys in
//!   `events`;
//! - derived tables change in the same transaction as the events they derive from, and only for events actually
//!   inserted, so they always equal a replay of the log ([`BulkWriter`] folds them in memory between its commits);
//! - money in derived tables is an integer count of millionths of the currency unit (exact sums, no floats).

mod access;
mod bulk;
mod cases;
mod compact;
mod credit;
mod derived;
mod detection;
mod exceptions;
mod raw;
mod schema;
mod segment;

use chrono::{DateTime, NaiveDate, Utc};
use cspguard_domain::{
    Envelope, Event, EventKind, IdempotencyKey, Instant, Money, SourceRef, UsageKeyVersion,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::str::FromStr;

pub use access::{chain_hash, secret_hash, AuditVerification, TokenRow, UserRow};
pub use bulk::BulkWriter;
pub use cases::{
    ActionRow, ActionUpdate, AuditEntry, AuditFilter, CaseChanges, CaseFilter, CaseRow, Committed,
};
pub use credit::{CustomerDailyCost, BILLING_KINDS};
pub use derived::{CustomerRow, DailyMeterCost, DailyResourceCost};
pub use detection::{AlertFilter, AlertRow, Checkpoint};
pub use exceptions::{ExceptionRow, Opened, ScreeningRow};
pub use raw::{order as record_order, LogReader, RawBatch, RawDecoder, SegmentChain, MAX_CHAINS};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {0:?} is neither sqlite:// nor postgres://")]
    UnsupportedUrl(String),
    #[error("cannot open the database at {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("another writer stored some of the same events at the same time; the batch was not written: retry it")]
    Conflict,
    #[error("{0}")]
    Stale(String),
    #[error("stored event #{seq} cannot be read back: {reason}")]
    Corrupt { seq: i64, reason: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What an append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    pub inserted: u64,
    pub duplicates: u64,
}

/// An import (a file, an API batch) as recorded in `sources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceId(pub i64);

/// The counts an import ends with.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportCounts {
    pub read: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub outcome: String,
}

/// A stored event with its position in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub ingest_time: Instant,
    pub envelope: Envelope,
}

/// Counts over the whole store, for summaries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    pub events_by_kind: Vec<(EventKind, u64)>,
    pub customers: u64,
    pub azure_subscriptions: u64,
    pub usage_cost_by_currency: Vec<Money>,
    pub first_usage_date: Option<NaiveDate>,
    pub last_usage_date: Option<NaiveDate>,
}

/// One event of a [`PreparedBatch`], as it will be stored.
#[derive(Debug, Clone)]
enum Item {
    /// A usage line: its record in the batch's `records` buffer (for a segment) and what the store needs of it. The
    /// domain value itself is dropped on the producer's thread.
    Usage {
        key: IdempotencyKey,
        event_time_us: i64,
        scope: [u8; 8],
        facts: segment::UsageFacts,
        record: std::ops::Range<usize>,
    },
    /// Any other event, with its JSON payload, for a row of `events`, and its compact encoding for the row's block
    /// (`compact.rs`).
    Other {
        envelope: Box<Envelope>,
        payload: String,
        compact: Vec<u8>,
    },
}

impl Item {
    fn key(&self) -> &IdempotencyKey {
        match self {
            Item::Usage { key, .. } => key,
            Item::Other { envelope, .. } => &envelope.key,
        }
    }
}

/// A batch of events encoded for the log, ready for [`Store::append_prepared`] or [`BulkWriter::append`]. Built on the
/// producer's thread so that the work spreads over the parsing threads and overlaps the store writing the previous
/// batch. A usage line takes a compact record (~200 bytes) here, not its ~1 KiB in-memory form.
#[derive(Debug, Clone, Default)]
pub struct PreparedBatch {
    items: Vec<Item>,
    /// Segment string table shared by the batch's usage records.
    strings: segment::StringTable,
    records: Vec<u8>,
}

impl PreparedBatch {
    pub fn new(envelopes: Vec<Envelope>) -> Result<Self> {
        let mut b = PreparedBatch::builder();
        for e in envelopes {
            b.push(e)?;
        }
        Ok(b.finish())
    }
    /// Builds a batch one event at a time, so a parser's events are encoded (and dropped) as they come.
    pub fn builder() -> PreparedBatchBuilder {
        PreparedBatchBuilder::default()
    }
    /// [`PreparedBatch::builder`] with room for about `events` events of which the usage lines take `record_bytes`
    /// (~200 bytes a line), so the buffers do not grow (and copy, and touch fresh memory) as the batch fills.
    pub fn builder_with_capacity(events: usize, record_bytes: usize) -> PreparedBatchBuilder {
        PreparedBatchBuilder {
            items: Vec::with_capacity(events),
            records: Vec::with_capacity(record_bytes),
            enc: segment::UsageEncoder::default(),
        }
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Encodes events into a [`PreparedBatch`] as they come.
#[derive(Default)]
pub struct PreparedBatchBuilder {
    items: Vec<Item>,
    records: Vec<u8>,
    enc: segment::UsageEncoder,
}

impl PreparedBatchBuilder {
    pub fn push(&mut self, e: Envelope) -> Result<()> {
        let item = match &e.event {
            Event::Usage(u) => {
                let start = self.records.len();
                let facts =
                    self.enc
                        .record(&mut self.records, &e, u, derived::cost_micros(&u.cost));
                Item::Usage {
                    key: e.key,
                    event_time_us: micros(&e.event_time),
                    scope: bulk::scope(&e.event),
                    facts,
                    record: start..self.records.len(),
                }
            }
            other => {
                let mut compact = Vec::new();
                compact::encode(other, &mut compact);
                Item::Other {
                    payload: serde_json::to_string(other).map_err(|e| StoreError::Corrupt {
                        seq: -1,
                        reason: format!("event cannot be serialised: {e}"),
                    })?,
                    compact,
                    envelope: Box::new(e),
                }
            }
        };
        self.items.push(item);
        Ok(())
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn finish(self) -> PreparedBatch {
        PreparedBatch {
            items: self.items,
            strings: self.enc.finish(),
            records: self.records,
        }
    }
}

/// The event store.
#[derive(Clone)]
pub struct Store {
    /// Writes and most reads. SQLite: one connection (see [`Store::open`]).
    pool: AnyPool,
    /// Reads that must not queue behind a long write transaction (authentication, alert lists): on a SQLite file,
    /// read-only connections that WAL lets read the last commit while a write is in progress; otherwise `pool`.
    reader: AnyPool,
    backend: Backend,
}

pub(crate) fn micros(t: &Instant) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> Instant {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    ///
    /// `sqlite://PATH` creates the file; it runs in WAL mode with `synchronous=NORMAL` (a committed import survives a
    /// process crash; an OS crash may lose the last transactions, which a re-import restores since imports are
    /// idempotent). `postgres://...` needs an existing database.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            let mut u = url.to_string();
            if !u.contains("mode=") {
                u.push(if u.contains('?') { '&' } else { '?' });
                u.push_str("mode=rwc");
            }
            (Backend::Sqlite, u)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let opts = AnyPoolOptions::new();
        let opts = match backend {
            // One connection: SQLite has one writer at a time anyway, and a pool that alternates connections throws
            // away each one's page cache whenever the other commits (measured: import time grew with database size
            // from re-reading pages). It lives as long as the store, for the same reason.
            Backend::Sqlite => opts
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        for pragma in [
                            // Only takes effect when the database is created (before WAL is switched on).
                            "PRAGMA page_size=16384",
                            "PRAGMA journal_mode=WAL",
                            "PRAGMA synchronous=NORMAL",
                            "PRAGMA foreign_keys=ON",
                            "PRAGMA busy_timeout=30000",
                            "PRAGMA cache_size=-32768",
                            "PRAGMA temp_store=MEMORY",
                            // Checkpoint every 64 MiB of WAL rather than 4 MiB: index pages dirtied by consecutive
                            // transactions are then copied into the database once, not once per transaction.
                            "PRAGMA wal_autocheckpoint=4096",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                        Ok(())
                    })
                }),
            Backend::Postgres => opts.max_connections(8),
        };
        let pool = opts
            .connect(&url)
            .await
            .map_err(|source| StoreError::Open {
                url: redact(&url),
                source,
            })?;
        schema::migrate(&pool, backend).await?;
        // A separate reader only where it helps and is safe: a SQLite file (an in-memory database is private to its
        // one connection). PostgreSQL's pool already reads concurrently.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let reader = if backend == Backend::Sqlite && !in_memory {
            let ro = url.replace("mode=rwc", "mode=ro");
            AnyPoolOptions::new()
                .max_connections(4)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        for pragma in ["PRAGMA busy_timeout=30000", "PRAGMA cache_size=-8192"] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                        Ok(())
                    })
                })
                .connect(&ro)
                .await
                .map_err(|source| StoreError::Open {
                    url: redact(&ro),
                    source,
                })?
        } else {
            pool.clone()
        };
        Ok(Store {
            pool,
            reader,
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How usage lines' idempotency keys are derived in this store (`log_head.usage_key_version`, migration 0008):
    /// importers must derive the keys of lines for this store with it (`ImportOptions::usage_keys`), since keys of
    /// two versions never match. Stores that held usage before version 2 existed stay on version 1.
    pub async fn usage_key_version(&self) -> Result<UsageKeyVersion> {
        let n: i64 = sqlx::query("SELECT usage_key_version FROM log_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        UsageKeyVersion::from_number(n).ok_or_else(|| {
            StoreError::Stale(format!(
                "this database derives usage keys with version {n}, which this cspguard does not know: upgrade cspguard"
            ))
        })
    }

    /// Records the start of an import and returns its id for the events it adds.
    pub async fn begin_import(
        &self,
        origin: &str,
        kind: &str,
        started: Instant,
    ) -> Result<SourceId> {
        let row = sqlx::query(
            "INSERT INTO sources (origin, kind, started_us) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(origin)
        .bind(kind)
        .bind(micros(&started))
        .fetch_one(&self.pool)
        .await?;
        Ok(SourceId(row.try_get::<i64, _>(0)?))
    }

    /// Records how an import ended.
    pub async fn finish_import(
        &self,
        id: SourceId,
        counts: &ImportCounts,
        finished: Instant,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE sources SET finished_us = $1, read_count = $2, imported_count = $3, duplicate_count = $4, \
             rejected_count = $5, outcome = $6 WHERE id = $7",
        )
        .bind(micros(&finished))
        .bind(counts.read as i64)
        .bind(counts.imported as i64)
        .bind(counts.duplicates as i64)
        .bind(counts.rejected as i64)
        .bind(counts.outcome.as_str())
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Appends a batch atomically: events whose key is new are stored and folded into the derived tables; the others are
    /// counted as duplicates. Batches of a few thousand events amortise the transaction.
    pub async fn append(
        &self,
        source: SourceId,
        batch: &[Envelope],
        ingest_time: Instant,
    ) -> Result<AppendOutcome> {
        let prepared = PreparedBatch::new(batch.to_vec())?;
        self.append_prepared(source, &prepared, ingest_time).await
    }

    /// [`Store::append`] for events already encoded with [`PreparedBatch::new`]: one transaction.
    pub async fn append_prepared(
        &self,
        source: SourceId,
        batch: &PreparedBatch,
        ingest_time: Instant,
    ) -> Result<AppendOutcome> {
        let mut w = self.bulk_writer(source);
        let o = w.append(batch, ingest_time).await?;
        w.finish().await?;
        Ok(o)
    }

    /// A writer for one import's batches that commits every [`BulkWriter::COMMIT_EVENTS`] events (and at
    /// [`BulkWriter::finish`]) and folds the derived tables in memory between commits: the fast path for large imports.
    pub fn bulk_writer(&self, source: SourceId) -> BulkWriter<'_> {
        BulkWriter::new(self, source)
    }

    /// Events stored after position `after_seq`, in log (arrival) order, at most `limit`. Resume with the `seq` of the
    /// last event returned. Usage lines are decoded from their segments without JSON; large limits (tens of thousands)
    /// read fastest, since a segment holds thousands of events.
    pub async fn events_after(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>> {
        let limit = limit as usize;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT e.seq, e.event_time_us, e.ingest_time_us, e.idem_key, e.source_line, e.payload, s.origin \
             FROM events e JOIN sources s ON s.id = e.source_id WHERE e.seq > $1 ORDER BY e.seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut from_rows = rows.iter().map(stored_event).collect::<Result<Vec<_>>>()?;
        // Segments overlapping (after_seq, ...): enough of them to cover `limit` events.
        let mut from_segments: Vec<StoredEvent> = Vec::with_capacity(limit.min(1 << 16));
        let mut cursor = after_seq;
        'segments: loop {
            let segs = sqlx::query(
                "SELECT g.last_seq, g.first_seq, g.ingest_time_us, g.body, s.origin \
                 FROM event_segments g JOIN sources s ON s.id = g.source_id WHERE g.last_seq > $1 \
                 ORDER BY g.last_seq LIMIT 4",
            )
            .bind(cursor)
            .fetch_all(&self.pool)
            .await?;
            if segs.is_empty() {
                break;
            }
            for g in &segs {
                let last: i64 = g.try_get(0)?;
                let first: i64 = g.try_get(1)?;
                let ingest_time = from_micros(g.try_get(2)?);
                let body: Vec<u8> = g.try_get(3)?;
                let origin: String = g.try_get(4)?;
                decode_segment(
                    body,
                    first,
                    last,
                    after_seq,
                    ingest_time,
                    &origin,
                    limit - from_segments.len(),
                    &mut from_segments,
                )?;
                cursor = last;
                if from_segments.len() >= limit {
                    break 'segments;
                }
            }
        }
        if from_segments.is_empty() {
            return Ok(from_rows);
        }
        if from_rows.is_empty() {
            return Ok(from_segments);
        }
        let mut out = Vec::with_capacity(limit.min(from_rows.len() + from_segments.len()));
        let mut a = from_rows.drain(..).peekable();
        let mut b = from_segments.into_iter().peekable();
        while out.len() < limit {
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x.seq < y.seq,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            out.extend(if take_a { a.next() } else { b.next() });
        }
        Ok(out)
    }

    /// Number of events in the log.
    pub async fn event_count(&self) -> Result<u64> {
        let rows = count(&self.pool, "SELECT COUNT(*) FROM events").await?;
        let segs = count(
            &self.pool,
            "SELECT CAST(COALESCE(SUM(event_count), 0) AS BIGINT) FROM event_segments",
        )
        .await?;
        Ok(rows + segs)
    }

    pub async fn stats(&self) -> Result<StoreStats> {
        let mut s = StoreStats::default();
        let mut by_kind: std::collections::BTreeMap<EventKind, u64> = Default::default();
        for row in sqlx::query(
            "SELECT kind, CAST(COUNT(*) AS BIGINT) FROM events GROUP BY kind \
             UNION ALL SELECT kind, CAST(SUM(event_count) AS BIGINT) FROM event_segments GROUP BY kind",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let kind: String = row.try_get(0)?;
            let n: i64 = row.try_get(1)?;
            if let Some(k) = EventKind::parse(&kind) {
                *by_kind.entry(k).or_default() += n as u64;
            }
        }
        s.events_by_kind = by_kind.into_iter().collect();
        s.customers = count(&self.pool, "SELECT COUNT(*) FROM customers").await?;
        s.azure_subscriptions =
            count(&self.pool, "SELECT COUNT(*) FROM azure_subscriptions").await?;
        for row in sqlx::query(
            "SELECT currency, CAST(SUM(cost_micros) AS BIGINT), MIN(usage_date), MAX(usage_date) FROM usage_daily_meter \
             GROUP BY currency ORDER BY currency",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let cur: String = row.try_get(0)?;
            let total: i64 = derived::sum_col(&row, 1)?;
            if let Ok(c) = cspguard_domain::Currency::parse(&cur) {
                s.usage_cost_by_currency.push(Money::from_micros(total, c));
            }
            let first: Option<String> = row.try_get(2)?;
            let last: Option<String> = row.try_get(3)?;
            let first = first.and_then(|d| NaiveDate::from_str(&d).ok());
            let last = last.and_then(|d| NaiveDate::from_str(&d).ok());
            s.first_usage_date = s.first_usage_date.into_iter().chain(first).min();
            s.last_usage_date = s.last_usage_date.into_iter().chain(last).max();
        }
        Ok(s)
    }

    /// Daily cost per meter category and region of one Azure subscription, or of all, between two dates (inclusive).
    pub async fn daily_meter_cost(
        &self,
        azure_subscription: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyMeterCost>> {
        derived::daily_meter_cost(&self.pool, azure_subscription, from, to).await
    }

    /// Daily cost per resource of one Azure subscription, or of all, between two dates (inclusive).
    pub async fn daily_resource_cost(
        &self,
        azure_subscription: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyResourceCost>> {
        derived::daily_resource_cost(&self.pool, azure_subscription, from, to).await
    }

    /// The customer a billing (Azure plan) subscription belongs to, as usage lines told.
    pub async fn billing_subscription_customer(
        &self,
        billing_subscription: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query("SELECT customer_tenant_id FROM billing_subscriptions WHERE billing_subscription_id = $1")
            .bind(billing_subscription.to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    pub async fn customers(&self) -> Result<Vec<CustomerRow>> {
        derived::customers(&self.pool).await
    }

    /// Closes the pool, checkpointing SQLite's WAL.
    pub async fn close(self) {
        self.reader.close().await;
        self.pool.close().await;
    }
}

/// Decodes the events of a segment at positions `first..=last` that come after `after`, at most `max` of them.
#[allow(clippy::too_many_arguments)]
fn decode_segment(
    body: Vec<u8>,
    first: i64,
    last: i64,
    after: i64,
    ingest_time: Instant,
    origin: &str,
    max: usize,
    out: &mut Vec<StoredEvent>,
) -> Result<()> {
    let corrupt = |reason: String| StoreError::Corrupt { seq: first, reason };
    let mut d = segment::Decoder::new(body).map_err(corrupt)?;
    if d.remaining() != (last - first + 1) as u64 {
        return Err(corrupt(format!(
            "segment holds {} events, its positions {}",
            d.remaining(),
            last - first + 1
        )));
    }
    let mut seq = first;
    let mut taken = 0;
    while taken < max {
        let Some(envelope) = d
            .next_event(origin)
            .map_err(|reason| StoreError::Corrupt { seq, reason })?
        else {
            break;
        };
        if seq > after {
            out.push(StoredEvent {
                seq,
                ingest_time,
                envelope,
            });
            taken += 1;
        }
        seq += 1;
    }
    Ok(())
}

async fn count(pool: &AnyPool, sql: &str) -> Result<u64> {
    let n: i64 = sqlx::query(sql).fetch_one(pool).await?.try_get(0)?;
    Ok(n as u64)
}

fn stored_event(row: &AnyRow) -> Result<StoredEvent> {
    let seq: i64 = row.try_get(0)?;
    let key: Vec<u8> = row.try_get(3)?;
    let key = <[u8; 16]>::try_from(key.as_slice()).map_err(|_| StoreError::Corrupt {
        seq,
        reason: format!("idempotency key has {} bytes, not 16", key.len()),
    })?;
    let payload: String = row.try_get(5)?;
    let event: Event = serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
        seq,
        reason: format!("payload: {e}"),
    })?;
    let line: Option<i64> = row.try_get(4)?;
    Ok(StoredEvent {
        seq,
        ingest_time: from_micros(row.try_get(2)?),
        envelope: Envelope {
            key: IdempotencyKey(key),
            event_time: from_micros(row.try_get(1)?),
            source: SourceRef {
                origin: row.try_get(6)?,
                line: line.map(|l| l as u64),
            },
            event,
        },
    })
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://cs:s3cret@localhost/db"),
            "postgres://cs:***@localhost/db"
        );
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
