//! What the case stage keeps: cases, actions, the append-only audit log, sync cursors, and the reads a case's
//! timeline needs.
//!
//! Cases and actions are stored as JSON bodies (the contracts are in `cspguard-cases`) with indexed columns for
//! filters; the store does not interpret the bodies. Every change goes through [`Store::commit_case_changes`]: case
//! upserts, new actions (kept only if their key is new), action updates (optimistic: an update names the version it
//! read) and audit entries, in one transaction — a change is never recorded without its audit entry or vice versa.

use crate::{from_micros, micros, stored_event, Result, Store, StoreError};
use cspguard_domain::Instant;
use sqlx::Row;

/// A case as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    pub id: String,
    pub customer_tenant_id: String,
    pub status: String,
    pub severity: String,
    pub score: i64,
    pub opened_at: Instant,
    pub updated_at: Instant,
    pub body: String,
}

/// Which cases to read.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<String>,
    pub customer: Option<String>,
}

/// An action as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub key: String,
    pub case_id: String,
    pub state: String,
    pub next_attempt_at: Option<Instant>,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub body: String,
}

/// An action update: the new row, and the `updated_at` of the version it was made from.
#[derive(Debug, Clone)]
pub struct ActionUpdate {
    pub row: ActionRow,
    pub read_version: Instant,
}

/// One audit entry. `detail` is JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Instant,
    pub actor: String,
    pub verb: String,
    pub case_id: Option<String>,
    pub action_key: Option<String>,
    pub detail: String,
}

impl AuditEntry {
    pub fn new(at: Instant, actor: &str, verb: &str, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at,
            actor: actor.to_string(),
            verb: verb.to_string(),
            case_id: None,
            action_key: None,
            detail: detail.to_string(),
        }
    }
    pub fn case(mut self, id: &str) -> AuditEntry {
        self.case_id = Some(id.to_string());
        self
    }
    pub fn action(mut self, key: &str) -> AuditEntry {
        self.action_key = Some(key.to_string());
        self
    }
}

/// Changes to commit together.
#[derive(Debug, Clone, Default)]
pub struct CaseChanges {
    pub cases: Vec<CaseRow>,
    /// Inserted only when their key is new.
    pub new_actions: Vec<ActionRow>,
    pub action_updates: Vec<ActionUpdate>,
    pub audit: Vec<AuditEntry>,
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Committed {
    /// Keys of `new_actions` that were actually inserted (the others existed already).
    pub inserted_actions: Vec<String>,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub case_id: Option<String>,
    pub action_key: Option<String>,
    pub limit: Option<u32>,
}

impl Store {
    /// Commits case and action changes with their audit entries, in one transaction. An action update whose
    /// version is no longer current fails with [`StoreError::Stale`] and nothing is written.
    pub async fn commit_case_changes(&self, ch: &CaseChanges) -> Result<Committed> {
        let mut tx = self.pool.begin().await?;
        for c in &ch.cases {
            sqlx::query(
                "INSERT INTO cases (id, customer_tenant_id, status, severity, score, opened_us, updated_us, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
                 severity = excluded.severity, score = excluded.score, updated_us = excluded.updated_us, \
                 body = excluded.body",
            )
            .bind(&c.id)
            .bind(&c.customer_tenant_id)
            .bind(&c.status)
            .bind(&c.severity)
            .bind(c.score)
            .bind(micros(&c.opened_at))
            .bind(micros(&c.updated_at))
            .bind(&c.body)
            .execute(&mut *tx)
            .await?;
        }
        let mut done = Committed::default();
        for a in &ch.new_actions {
            let r = sqlx::query(
                "INSERT INTO actions (action_key, case_id, state, next_attempt_us, created_us, updated_us, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (action_key) DO NOTHING",
            )
            .bind(&a.key)
            .bind(&a.case_id)
            .bind(&a.state)
            .bind(a.next_attempt_at.as_ref().map(micros))
            .bind(micros(&a.created_at))
            .bind(micros(&a.updated_at))
            .bind(&a.body)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 1 {
                done.inserted_actions.push(a.key.clone());
            }
        }
        for u in &ch.action_updates {
            let a = &u.row;
            let r = sqlx::query(
                "UPDATE actions SET state = $1, next_attempt_us = $2, updated_us = $3, body = $4 \
                 WHERE action_key = $5 AND updated_us = $6",
            )
            .bind(&a.state)
            .bind(a.next_attempt_at.as_ref().map(micros))
            .bind(micros(&a.updated_at))
            .bind(&a.body)
            .bind(&a.key)
            .bind(micros(&u.read_version))
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() != 1 {
                return Err(StoreError::Stale(format!(
                    "action {} changed since it was read (another executor or person acted on it); read it again",
                    a.key
                )));
            }
        }
        crate::access::insert_audit(&mut tx, &ch.audit).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Cases, newest first.
    pub async fn cases(&self, f: &CaseFilter) -> Result<Vec<CaseRow>> {
        let rows = sqlx::query(
            "SELECT id, customer_tenant_id, status, severity, score, opened_us, updated_us, body FROM cases \
             WHERE ($1 = '' OR status = $1) AND ($2 = '' OR customer_tenant_id = $2) ORDER BY opened_us DESC, id",
        )
        .bind(f.status.clone().unwrap_or_default())
        .bind(f.customer.clone().unwrap_or_default().to_ascii_lowercase())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(case_row).collect()
    }

    pub async fn case(&self, id: &str) -> Result<Option<CaseRow>> {
        let row = sqlx::query(
            "SELECT id, customer_tenant_id, status, severity, score, opened_us, updated_us, body FROM cases WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(case_row).transpose()
    }

    /// Actions of one case or all, optionally in one state, oldest first.
    pub async fn actions(
        &self,
        case_id: Option<&str>,
        state: Option<&str>,
    ) -> Result<Vec<ActionRow>> {
        let rows = sqlx::query(
            "SELECT action_key, case_id, state, next_attempt_us, created_us, updated_us, body FROM actions \
             WHERE ($1 = '' OR case_id = $1) AND ($2 = '' OR state = $2) ORDER BY created_us, action_key",
        )
        .bind(case_id.unwrap_or_default())
        .bind(state.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(action_row).collect()
    }

    /// Actions an executor should look at: ready or in flight.
    pub async fn pending_actions(&self) -> Result<Vec<ActionRow>> {
        let rows = sqlx::query(
            "SELECT action_key, case_id, state, next_attempt_us, created_us, updated_us, body FROM actions \
             WHERE state IN ('ready', 'in_flight') ORDER BY created_us, action_key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(action_row).collect()
    }

    /// One action by key, or by a unique prefix of at least 6 characters of it.
    pub async fn action(&self, key: &str) -> Result<Option<ActionRow>> {
        if key.len() < 6 {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT action_key, case_id, state, next_attempt_us, created_us, updated_us, body FROM actions \
             WHERE action_key >= $1 AND action_key < $2 ORDER BY action_key LIMIT 2",
        )
        .bind(key)
        .bind(format!("{key}~"))
        .fetch_all(&self.pool)
        .await?;
        if rows.len() > 1 {
            return Err(StoreError::Stale(format!(
                "{key} is the start of several action keys: give more of it"
            )));
        }
        rows.first().map(action_row).transpose()
    }

    /// Audit entries in order.
    pub async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at_us, actor, verb, case_id, action_key, detail FROM audit_log \
             WHERE ($1 = '' OR case_id = $1) AND ($2 = '' OR action_key = $2) ORDER BY seq LIMIT $3",
        )
        .bind(f.case_id.clone().unwrap_or_default())
        .bind(f.action_key.clone().unwrap_or_default())
        .bind(i64::from(f.limit.unwrap_or(u32::MAX)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.try_get(0)?,
                    at: from_micros(r.try_get(1)?),
                    actor: r.try_get(2)?,
                    verb: r.try_get(3)?,
                    case_id: r.try_get(4)?,
                    action_key: r.try_get(5)?,
                    detail: r.try_get(6)?,
                })
            })
            .collect()
    }

    pub async fn sync_cursor(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT cursor FROM sync_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    pub async fn save_sync_cursor(&self, name: &str, cursor: &str, now: Instant) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_cursors (name, cursor, updated_us) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_us = excluded.updated_us",
        )
        .bind(name)
        .bind(cursor)
        .bind(micros(&now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored events (not usage lines: those are in the derived daily tables) about `customer` with event times
    /// in `[from, to]`, plus control-plane operations that named no customer (the caller filters those by
    /// subscription), in event-time order. At most `limit`.
    pub async fn customer_events(
        &self,
        customer: &str,
        from: Instant,
        to: Instant,
        limit: u32,
    ) -> Result<Vec<crate::StoredEvent>> {
        let rows = sqlx::query(
            "SELECT e.seq, e.event_time_us, e.ingest_time_us, e.idem_key, e.source_line, e.payload, s.origin \
             FROM events e JOIN sources s ON s.id = e.source_id \
             WHERE (e.customer_tenant_id = $1 OR (e.customer_tenant_id IS NULL AND e.kind = 'control_plane')) \
             AND e.kind <> 'usage' AND e.event_time_us >= $2 AND e.event_time_us <= $3 \
             ORDER BY e.event_time_us, e.seq LIMIT $4",
        )
        .bind(customer.to_ascii_lowercase())
        .bind(micros(&from))
        .bind(micros(&to))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_event).collect()
    }
}

fn case_row(r: &sqlx::any::AnyRow) -> Result<CaseRow> {
    Ok(CaseRow {
        id: r.try_get(0)?,
        customer_tenant_id: r.try_get(1)?,
        status: r.try_get(2)?,
        severity: r.try_get(3)?,
        score: r.try_get(4)?,
        opened_at: from_micros(r.try_get(5)?),
        updated_at: from_micros(r.try_get(6)?),
        body: r.try_get(7)?,
    })
}

fn action_row(r: &sqlx::any::AnyRow) -> Result<ActionRow> {
    let next: Option<i64> = r.try_get(3)?;
    Ok(ActionRow {
        key: r.try_get(0)?,
        case_id: r.try_get(1)?,
        state: r.try_get(2)?,
        next_attempt_at: next.map(from_micros),
        created_at: from_micros(r.try_get(4)?),
        updated_at: from_micros(r.try_get(5)?),
        body: r.try_get(6)?,
    })
}
