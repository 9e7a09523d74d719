//! The write path: idempotent appends of prepared batches, many batches per transaction.

use crate::compact;
use crate::derived::{self, Fold};
use crate::{
    micros, segment, AppendOutcome, Backend, Item, PreparedBatch, Result, SourceId, Store,
    StoreError,
};
use cspguard_domain::{Event, EventKind, IdempotencyKey, Instant};
use sqlx::{Any, Row, Transaction};
// FxHash: keys are BLAKE3 output (uniform), and every usage line of an import goes through these sets.
use rustc_hash::FxHashSet as HashSet;

/// Rows per INSERT statement into `events`: 3,500 x 9 parameters stays under SQLite's 32,766 and PostgreSQL's 65,535.
const ROWS_PER_STATEMENT: usize = 3500;

/// Usage keys per INSERT statement (4 parameters each).
const KEYS_PER_STATEMENT: usize = 8000;

/// Writes one import's batches. Each [`BulkWriter::append`] is idempotent and its counts are final once the
/// transaction commits: every [`BulkWriter::COMMIT_EVENTS`] events read, and at [`BulkWriter::finish`]. Dropping the
/// writer without `finish` rolls the open transaction back, so events and their derived rows always go together.
///
/// The derived tables are folded in memory between commits (bounded by [`BulkWriter::FOLD_ROWS`] distinct rows, then
/// written out within the same transaction): a usage file adds to the same resource-days over and over, and one
/// upsert per resource-day per transaction replaces one per line.
pub struct BulkWriter<'s> {
    store: &'s Store,
    source: SourceId,
    tx: Option<Transaction<'static, Any>>,
    next_seq: i64,
    in_tx: u64,
    fold: Fold,
    last_ingest_us: i64,
    pending: AppendOutcome,
    committed: AppendOutcome,
}

impl<'s> BulkWriter<'s> {
    /// Events read per transaction (measured: larger transactions write each touched index page once per commit, not
    /// once per batch).
    pub const COMMIT_EVENTS: u64 = 262_144;
    /// Distinct derived rows folded in memory before they are written out (a few hundred bytes each).
    pub const FOLD_ROWS: usize = 100_000;

    pub(crate) fn new(store: &'s Store, source: SourceId) -> Self {
        BulkWriter {
            store,
            source,
            tx: None,
            next_seq: 0,
            in_tx: 0,
            fold: Fold::default(),
            last_ingest_us: 0,
            pending: AppendOutcome::default(),
            committed: AppendOutcome::default(),
        }
    }

    /// What the committed transactions stored.
    pub fn committed(&self) -> AppendOutcome {
        self.committed
    }

    /// Makes the next appends belong to another import (a `sources` row): one transaction can then carry several
    /// documents (the server's group commit).
    pub fn set_source(&mut self, source: SourceId) {
        self.source = source;
    }

    /// The log position the next new event gets; only meaningful once an append opened the transaction.
    pub fn next_seq(&self) -> i64 {
        self.next_seq
    }

    /// Appends a batch: events whose key is new are stored and folded into the derived tables; the others are counted
    /// as duplicates.
    ///
    /// Under the write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the row lock of `log_head`, so concurrent writers
    /// queue and positions commit in order): usage keys are inserted into `usage_keys` and the ones that went in are
    /// the new usage lines; other keys are looked up in `events`. New events get the next positions in batch order:
    /// runs of usage lines become one segment each, other events one row each.
    pub async fn append(
        &mut self,
        batch: &PreparedBatch,
        ingest_time: Instant,
    ) -> Result<AppendOutcome> {
        if batch.is_empty() {
            return Ok(AppendOutcome::default());
        }
        let store = self.store;
        let backend = store.backend;
        let ingest = micros(&ingest_time);
        if self.tx.is_none() {
            let mut tx = match backend {
                Backend::Sqlite => store.pool.begin_with("BEGIN IMMEDIATE").await?,
                Backend::Postgres => store.pool.begin().await?,
            };
            self.next_seq = sqlx::query(
                "UPDATE log_head SET next_seq = next_seq WHERE id = 1 RETURNING next_seq",
            )
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            self.tx = Some(tx);
        }
        let Some(tx) = self.tx.as_mut() else {
            unreachable!("a transaction was just opened")
        };
        // Duplicates within the batch are dropped here so each statement inserts distinct keys.
        let mut seen = HashSet::with_capacity_and_hasher(batch.len(), Default::default());
        let unique: Vec<usize> = (0..batch.len())
            .filter(|&i| seen.insert(*batch.items[i].key()))
            .collect();
        drop(seen);
        let (usage, other): (Vec<usize>, Vec<usize>) = unique
            .into_iter()
            .partition(|&i| matches!(batch.items[i], Item::Usage { .. }));
        // `next_seq` is unique to this append among those that store anything.
        let stored_usage = insert_usage_keys(tx, backend, batch, &usage, self.next_seq).await?;
        let known = existing_keys(tx, backend, batch, &other).await?;
        let mut fresh: Vec<usize> = usage
            .into_iter()
            .filter(|&i| stored_usage.is_empty() || !stored_usage.contains(batch.items[i].key()))
            .chain(
                other
                    .into_iter()
                    .filter(|&i| !known.contains(batch.items[i].key())),
            )
            .collect();
        fresh.sort_unstable();
        // Positions in batch order; consecutive usage lines share a segment.
        let mut rows: Vec<(i64, usize)> = Vec::new();
        let mut seq = self.next_seq;
        let mut run: Vec<&[u8]> = Vec::new();
        let mut run_first = seq;
        for &i in &fresh {
            match &batch.items[i] {
                Item::Usage { record, .. } => {
                    if run.is_empty() {
                        run_first = seq;
                    }
                    run.push(&batch.records[record.clone()]);
                }
                Item::Other { .. } => {
                    if !run.is_empty() {
                        insert_segment(tx, batch, &run, run_first, self.source, ingest).await?;
                        run.clear();
                    }
                    rows.push((seq, i));
                }
            }
            seq += 1;
        }
        if !run.is_empty() {
            insert_segment(tx, batch, &run, run_first, self.source, ingest).await?;
        }
        insert_rows(tx, backend, batch, &rows, self.source, ingest).await?;
        self.next_seq = seq;
        let mut names = Vec::new();
        for &i in &fresh {
            match &batch.items[i] {
                Item::Usage { facts, .. } => self.fold.add_usage(facts, &batch.strings, &mut names),
                Item::Other { envelope, .. } => self.fold.add(envelope),
            }
        }
        self.last_ingest_us = ingest;
        if self.fold.len() >= Self::FOLD_ROWS {
            self.fold.flush(tx, backend, ingest).await?;
        }
        let outcome = AppendOutcome {
            inserted: fresh.len() as u64,
            duplicates: (batch.len() - fresh.len()) as u64,
        };
        self.pending.inserted += outcome.inserted;
        self.pending.duplicates += outcome.duplicates;
        self.in_tx += batch.len() as u64;
        if self.in_tx >= Self::COMMIT_EVENTS {
            self.commit().await?;
        }
        Ok(outcome)
    }

    /// Writes the folded derived rows and the log head, and commits.
    pub async fn commit(&mut self) -> Result<()> {
        let Some(mut tx) = self.tx.take() else {
            return Ok(());
        };
        self.fold
            .flush(&mut tx, self.store.backend, self.last_ingest_us)
            .await?;
        sqlx::query("UPDATE log_head SET next_seq = $1 WHERE id = 1")
            .bind(self.next_seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.committed.inserted += self.pending.inserted;
        self.committed.duplicates += self.pending.duplicates;
        self.pending = AppendOutcome::default();
        self.in_tx = 0;
        Ok(())
    }

    /// Commits what is pending and returns the totals.
    pub async fn finish(mut self) -> Result<AppendOutcome> {
        self.commit().await?;
        Ok(self.committed)
    }
}

/// The clustering prefix of a usage key: the first 8 bytes of the customer's tenant GUID. Usage files come grouped by
/// customer and subscription (or by day), so an import's keys land in a few regions of the index rather than all over
/// it. The customer is part of the key's content, so equal keys have equal prefixes.
pub(crate) fn scope(e: &Event) -> [u8; 8] {
    let mut out = [0u8; 8];
    let Some(c) = e.customer() else {
        return out;
    };
    let mut nibbles = c.as_str().bytes().filter_map(|b| (b as char).to_digit(16));
    for o in &mut out {
        let hi = nibbles.next().unwrap_or(0) as u8;
        let lo = nibbles.next().unwrap_or(0) as u8;
        *o = hi << 4 | lo;
    }
    out
}

/// Inserts the usage keys (sorted, for locality in the index) and returns those that were already stored (the
/// duplicates; empty on any first import, so the caller's filter costs nothing there).
///
/// Each statement inserts the keys not stored yet, tagged with `batch` (unique to this append). When it inserts every
/// row (any first import) all its keys are new and nothing comes back over the connection; otherwise the keys tagged
/// with `batch` are looked up: they are this append's, the others of the statement were stored before.
async fn insert_usage_keys(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    batch: &PreparedBatch,
    usage: &[usize],
    tag: i64,
) -> Result<HashSet<IdempotencyKey>> {
    let mut keys: Vec<([u8; 8], i64, &IdempotencyKey)> = usage
        .iter()
        .filter_map(|&i| match &batch.items[i] {
            Item::Usage {
                key,
                event_time_us,
                scope,
                ..
            } => Some((*scope, *event_time_us, key)),
            Item::Other { .. } => None,
        })
        .collect();
    keys.sort_unstable();
    let mut stored = HashSet::default();
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let n = insert_keys(tx, backend, chunk, tag).await?;
        if n == chunk.len() as u64 {
            continue;
        }
        let mut fresh = HashSet::with_capacity_and_hasher(n as usize, Default::default());
        let sql = format!(
            "SELECT v.column3 FROM ({}) AS v JOIN usage_keys k ON k.scope = v.column1 AND \
             k.event_time_us = v.column2 AND k.idem_key = v.column3 WHERE k.batch = {tag}",
            derived::values_sql(backend, "VALUES ", chunk.len(), 3, "")
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for (s, t, k) in chunk {
            q = q.bind(&s[..]).bind(*t).bind(&k.0[..]);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let k: Vec<u8> = row.try_get(0)?;
            if let Ok(arr) = <[u8; 16]>::try_from(k.as_slice()) {
                fresh.insert(IdempotencyKey(arr));
            }
        }
        stored.extend(
            chunk
                .iter()
                .map(|(_, _, k)| **k)
                .filter(|k| !fresh.contains(k)),
        );
    }
    Ok(stored)
}

/// Inserts keys tagged with `tag`, skipping those already stored; returns how many went in.
async fn insert_keys(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    keys: &[([u8; 8], i64, &IdempotencyKey)],
    tag: i64,
) -> Result<u64> {
    if keys.is_empty() {
        return Ok(0);
    }
    // SQLite: `OR IGNORE` rather than `ON CONFLICT DO NOTHING`, so no constraint can abort the statement half-way
    // and SQLite keeps no statement journal for it (measured: 3-4% of an import's CPU).
    let sql = match backend {
        Backend::Sqlite => derived::values_sql(
            backend,
            "INSERT OR IGNORE INTO usage_keys (scope, event_time_us, idem_key, batch) VALUES ",
            keys.len(),
            4,
            "",
        ),
        Backend::Postgres => derived::values_sql(
            backend,
            "INSERT INTO usage_keys (scope, event_time_us, idem_key, batch) VALUES ",
            keys.len(),
            4,
            " ON CONFLICT (scope, event_time_us, idem_key) DO NOTHING",
        ),
    };
    // Only full-size statements are worth caching: each odd-sized remainder would stay in the connection's
    // statement cache, megabytes apiece.
    let mut q = sqlx::query(&sql).persistent(keys.len() == KEYS_PER_STATEMENT);
    for (s, t, k) in keys {
        q = q.bind(&s[..]).bind(*t).bind(&k.0[..]).bind(tag);
    }
    Ok(q.execute(&mut **tx).await?.rows_affected())
}

async fn insert_segment(
    tx: &mut Transaction<'static, Any>,
    batch: &PreparedBatch,
    records: &[&[u8]],
    first_seq: i64,
    source: SourceId,
    ingest: i64,
) -> Result<()> {
    let body = segment::body(&batch.strings, records);
    let n = records.len() as i64;
    sqlx::query(
        "INSERT INTO event_segments (last_seq, first_seq, kind, source_id, ingest_time_us, event_count, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(first_seq + n - 1)
    .bind(first_seq)
    .bind(EventKind::Usage.as_str())
    .bind(source.0)
    .bind(ingest)
    .bind(n)
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which of the batch's keys are already stored in `events`.
async fn existing_keys(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    batch: &PreparedBatch,
    which: &[usize],
) -> Result<HashSet<IdempotencyKey>> {
    let mut existing = HashSet::default();
    for chunk in which.chunks(derived::MAX_PARAMS) {
        let sql = derived::in_list_sql(
            backend,
            "SELECT idem_key FROM events WHERE idem_key IN ",
            chunk.len(),
        );
        // Only full-size statements are worth caching: each odd-sized remainder would stay in the connection's
        // statement cache, megabytes apiece.
        let mut q = sqlx::query(&sql).persistent(chunk.len() == derived::MAX_PARAMS);
        for &i in chunk {
            q = q.bind(&batch.items[i].key().0[..]);
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

/// Inserts events (other than usage lines) as rows of `events`, at the given positions.
async fn insert_rows(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    batch: &PreparedBatch,
    rows: &[(i64, usize)],
    source: SourceId,
    ingest: i64,
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = derived::values_sql(
            backend,
            "INSERT INTO events (seq, idem_key, kind, customer_tenant_id, event_time_us, ingest_time_us, source_id, \
             source_line, payload) VALUES ",
            chunk.len(),
            9,
            "",
        );
        // Only full-size statements are worth caching: each odd-sized remainder would stay in the connection's
        // statement cache, megabytes apiece.
        let mut q = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
        let mut block = compact::Block::new(chunk[0].0);
        for &(seq, i) in chunk {
            let Item::Other {
                envelope: e,
                payload,
                compact: bin,
            } = &batch.items[i]
            else {
                continue; // only other events are given positions here
            };
            block.push(seq, e, bin);
            q = q
                .bind(seq)
                .bind(&e.key.0[..])
                .bind(e.event.kind().as_str())
                .bind(e.event.customer().map(|c| c.as_str()))
                .bind(micros(&e.event_time))
                .bind(ingest)
                .bind(source.0)
                .bind(e.source.line.map(|l| l as i64))
                .bind(payload.as_str());
        }
        let n = q.execute(&mut **tx).await?.rows_affected();
        if n != chunk.len() as u64 {
            // Only possible if another writer bypassed the write lock.
            return Err(StoreError::Conflict);
        }
        // The same rows in the compact encoding, for `cspguard scan` (`raw.rs`).
        let (first, last, count, body) = block.finish();
        sqlx::query(
            "INSERT INTO event_blocks (last_seq, first_seq, version, source_id, ingest_time_us, event_count, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(last)
        .bind(first)
        .bind(compact::VERSION)
        .bind(source.0)
        .bind(ingest)
        .bind(count)
        .bind(body)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cspguard_domain::TenantId;

    #[test]
    fn scopes_are_the_tenant_guid_prefix() {
        let e = Event::CustomerProfile(cspguard_domain::CustomerProfile {
            customer: TenantId::parse("2eefae5a-c81d-408e-aff9-27ec662fa247").unwrap(),
            name: None,
            domain: None,
            country: None,
            reseller: None,
            associated_partner: None,
            relationship: None,
            created_at: None,
            signup_ip: None,
            mfa_enforced: None,
            credit_limit: None,
            payment_terms_days: None,
        });
        assert_eq!(scope(&e), [0x2e, 0xef, 0xae, 0x5a, 0xc8, 0x1d, 0x40, 0x8e]);
    }
}
