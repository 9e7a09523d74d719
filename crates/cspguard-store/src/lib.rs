//! cspguard's event store: the append-only event log, the record of imports that fed it, and the derived tables later
//! stages query. One code path serves SQLite (the embedded default) and PostgreSQL: sqlx's `Any` driver with queries
//! checked at run time, `$N` placeholders (both understand them), integers for instants and money.
//!
//! API boundary: [`Store`] takes domain [`Envelope`]s and returns domain types and plain rows; callers never see SQL.
//!
//! Invariants:
//! - the `events` table is append-only: rows are inserted, never updated or deleted;
//! - an event whose idempotency key is already stored is not stored again ([`Store::append`] reports it as a duplicate),
//!   so re-importing a file, or an overlapping one, adds nothing;
//! - derived tables change in the same transaction as the events they derive from, and only for events actually
//!   inserted, so they always equal a replay of the log;
//! - money in derived tables is an integer count of millionths of the currency unit (exact sums, no floats).

mod derived;
mod detection;
mod schema;

use chrono::{DateTime, NaiveDate, Utc};
use cspguard_domain::{Envelope, Event, EventKind, IdempotencyKey, Instant, Money, SourceRef};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::collections::HashSet;
use std::str::FromStr;

pub use derived::{CustomerRow, DailyMeterCost, DailyResourceCost};
pub use detection::{AlertFilter, AlertRow, Checkpoint};

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

/// An event serialised for the log, ready for [`Store::append_prepared`].
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    envelope: Envelope,
    payload: String,
}

impl PreparedEvent {
    pub fn new(envelope: Envelope) -> Result<Self> {
        let payload = serde_json::to_string(&envelope.event).map_err(|e| StoreError::Corrupt {
            seq: -1,
            reason: format!("event cannot be serialised: {e}"),
        })?;
        Ok(PreparedEvent { envelope, payload })
    }
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
}

/// The event store.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
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
            // from re-reading pages).
            Backend::Sqlite => opts.max_connections(1).after_connect(|conn, _| {
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
        let store = Store { pool, backend };
        schema::migrate(&store.pool, backend).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
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
        let prepared = batch
            .iter()
            .cloned()
            .map(PreparedEvent::new)
            .collect::<Result<Vec<_>>>()?;
        self.append_prepared(source, &prepared, ingest_time).await
    }

    /// [`Store::append`] for events already serialised with [`PreparedEvent::new`], so that work can run on the
    /// producer's thread while the store writes the previous batch.
    pub async fn append_prepared(
        &self,
        source: SourceId,
        batch: &[PreparedEvent],
        ingest_time: Instant,
    ) -> Result<AppendOutcome> {
        if batch.is_empty() {
            return Ok(AppendOutcome::default());
        }
        // Duplicates within the batch are dropped here so each statement inserts distinct keys.
        let mut seen = HashSet::with_capacity(batch.len());
        let unique: Vec<&PreparedEvent> = batch
            .iter()
            .filter(|e| seen.insert(e.envelope.key))
            .collect();
        let ingest = micros(&ingest_time);
        let (mut tx, fresh) = match self.backend {
            Backend::Sqlite => {
                // The write lock is taken up front (BEGIN IMMEDIATE), so the rows with a seq above the one read here
                // are exactly this transaction's: all of the batch when nothing conflicted (the common case, one
                // count to check), otherwise the ones a query on seq finds. No lookup of every key beforehand.
                let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                let before: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM events")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
                let done = self.insert_chunks(&mut tx, &unique, source, ingest).await?;
                let fresh = if done == unique.len() as u64 {
                    unique
                } else {
                    let mut ours = HashSet::with_capacity(done as usize);
                    for row in sqlx::query("SELECT idem_key FROM events WHERE seq > $1")
                        .bind(before)
                        .fetch_all(&mut *tx)
                        .await?
                    {
                        let k: Vec<u8> = row.try_get(0)?;
                        if let Ok(arr) = <[u8; 16]>::try_from(k.as_slice()) {
                            ours.insert(IdempotencyKey(arr));
                        }
                    }
                    unique
                        .into_iter()
                        .filter(|p| ours.contains(&p.envelope.key))
                        .collect()
                };
                (tx, fresh)
            }
            Backend::Postgres => {
                // Concurrent writers are possible: look the keys up first, insert the rest, and refuse the batch if
                // another writer got in between (the caller retries).
                let mut tx = self.pool.begin().await?;
                let existing = self.existing_keys(&mut tx, &unique).await?;
                let fresh: Vec<&PreparedEvent> = unique
                    .into_iter()
                    .filter(|p| !existing.contains(&p.envelope.key))
                    .collect();
                if self.insert_chunks(&mut tx, &fresh, source, ingest).await? != fresh.len() as u64
                {
                    return Err(StoreError::Conflict);
                }
                (tx, fresh)
            }
        };
        let inserted: Vec<&Envelope> = fresh.iter().map(|p| &p.envelope).collect();
        derived::apply(&mut tx, self.backend, &inserted, ingest).await?;
        tx.commit().await?;
        Ok(AppendOutcome {
            inserted: inserted.len() as u64,
            duplicates: (batch.len() - inserted.len()) as u64,
        })
    }

    /// Which of the batch's keys are already stored.
    async fn existing_keys(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        batch: &[&PreparedEvent],
    ) -> Result<HashSet<IdempotencyKey>> {
        let mut existing = HashSet::new();
        for chunk in batch.chunks(derived::MAX_PARAMS) {
            let sql = derived::in_list_sql(
                self.backend,
                "SELECT idem_key FROM events WHERE idem_key IN ",
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q.bind(&p.envelope.key.0[..]);
            }
            for row in q.fetch_all(&mut **tx).await? {
                let k: Vec<u8> = row.try_get(0)?;
                if let Ok(arr) = <[u8; 16]>::try_from(k.as_slice()) {
                    existing.insert(IdempotencyKey(arr));
                }
            }
        }
        Ok(existing)
    }

    /// Inserts by multi-row statements, skipping keys already stored; returns the rows inserted.
    async fn insert_chunks(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        batch: &[&PreparedEvent],
        source: SourceId,
        ingest: i64,
    ) -> Result<u64> {
        let mut done = 0;
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_sql(self.backend, chunk.len());
            let mut q = sqlx::query(&sql);
            for p in chunk {
                let e = &p.envelope;
                q = q
                    .bind(&e.key.0[..])
                    .bind(e.event.kind().as_str())
                    .bind(e.event.customer().map(|c| c.as_str()))
                    .bind(micros(&e.event_time))
                    .bind(ingest)
                    .bind(source.0)
                    .bind(e.source.line.map(|l| l as i64))
                    .bind(p.payload.as_str());
            }
            done += q.execute(&mut **tx).await?.rows_affected();
        }
        Ok(done)
    }

    /// Events stored after `after_seq`, in log order, at most `limit`.
    pub async fn events_after(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT e.seq, e.event_time_us, e.ingest_time_us, e.idem_key, e.source_line, e.payload, s.origin \
             FROM events e JOIN sources s ON s.id = e.source_id WHERE e.seq > $1 ORDER BY e.seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_event).collect()
    }

    /// Number of events in the log.
    pub async fn event_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(n as u64)
    }

    pub async fn stats(&self) -> Result<StoreStats> {
        let mut s = StoreStats::default();
        for row in sqlx::query("SELECT kind, COUNT(*) FROM events GROUP BY kind ORDER BY kind")
            .fetch_all(&self.pool)
            .await?
        {
            let kind: String = row.try_get(0)?;
            let n: i64 = row.try_get(1)?;
            if let Some(k) = EventKind::parse(&kind) {
                s.events_by_kind.push((k, n as u64));
            }
        }
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
        self.pool.close().await;
    }
}

/// Rows per INSERT statement: 4,000 x 8 parameters stays under SQLite's 32,766 and PostgreSQL's 65,535. Larger
/// statements are markedly faster through sqlx (measured on a million usage rows: 500 rows a statement 25.9 s,
/// 4,000 rows 17.9 s).
const ROWS_PER_STATEMENT: usize = 4000;

fn insert_sql(backend: Backend, rows: usize) -> String {
    derived::values_sql(
        backend,
        "INSERT INTO events (idem_key, kind, customer_tenant_id, event_time_us, ingest_time_us, source_id, source_line, \
         payload) VALUES ",
        rows,
        8,
        " ON CONFLICT (idem_key) DO NOTHING",
    )
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
