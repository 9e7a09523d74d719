//! What the exception (fraud-credit) request and onboarding screening keep (migration 0005), and the usage-line read
//! a claim needs.
//!
//! Requests are JSON bodies (the contract is in `cspguard-exception`) with indexed columns. One per customer tenant
//! ID, ever: `customer_tenant_id` is UNIQUE, rows cannot be deleted or moved to another tenant (triggers), and
//! [`Store::open_exception_request`] answers [`Opened::Exists`] with the tenant's request instead of a second one.
//! Every change is written with its audit entries in one transaction, and updates are optimistic (they name the
//! `updated_at` they read).

use crate::{from_micros, micros, AuditEntry, Result, Store, StoreError};
use chrono::NaiveDate;
use cspguard_domain::{Event, IdempotencyKey, Instant, UsageLine};
use sqlx::{Any, Row, Transaction};
use std::collections::HashSet;

/// An exception request as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionRow {
    pub id: String,
    pub customer_tenant_id: String,
    pub case_id: String,
    pub status: String,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub body: String,
}

/// What [`Store::open_exception_request`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    Created,
    /// The tenant already has a request (this one): nothing was written.
    Exists(ExceptionRow),
}

/// A customer's latest screening.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreeningRow {
    pub customer_tenant_id: String,
    pub score: i64,
    pub screened_at: Instant,
    pub body: String,
}

const COLS: &str = "id, customer_tenant_id, case_id, status, created_us, updated_us, body";

fn exception_row(r: &sqlx::any::AnyRow) -> Result<ExceptionRow> {
    Ok(ExceptionRow {
        id: r.try_get(0)?,
        customer_tenant_id: r.try_get(1)?,
        case_id: r.try_get(2)?,
        status: r.try_get(3)?,
        created_at: from_micros(r.try_get(4)?),
        updated_at: from_micros(r.try_get(5)?),
        body: r.try_get(6)?,
    })
}

/// Exception request changes are audited in the hash chain like every other change (they once were written outside
/// it, which `audit verify` reports as an entry inserted into the chain).
async fn insert_audit(tx: &mut Transaction<'_, Any>, audit: &[AuditEntry]) -> Result<()> {
    crate::access::insert_audit(tx, audit).await
}

impl Store {
    /// Creates a request with its audit entries, unless the tenant (or the ID) has one already: then nothing is
    /// written and the existing request is returned.
    pub async fn open_exception_request(
        &self,
        row: &ExceptionRow,
        audit: &[AuditEntry],
    ) -> Result<Opened> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(&format!(
            "INSERT INTO exception_requests ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
        ))
        .bind(&row.id)
        .bind(row.customer_tenant_id.to_ascii_lowercase())
        .bind(&row.case_id)
        .bind(&row.status)
        .bind(micros(&row.created_at))
        .bind(micros(&row.updated_at))
        .bind(&row.body)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            let existing = match self
                .exception_request_for_tenant(&row.customer_tenant_id)
                .await?
            {
                Some(e) => e,
                None => self.exception_request(&row.id).await?.ok_or_else(|| {
                    StoreError::Stale(format!(
                        "exception request {} conflicted with a row that is gone; try again",
                        row.id
                    ))
                })?,
            };
            return Ok(Opened::Exists(existing));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Opened::Created)
    }

    /// Replaces a request's status and body with its audit entries. Fails with [`StoreError::Stale`] (nothing
    /// written) when the request changed since `read_version` was read.
    pub async fn update_exception_request(
        &self,
        row: &ExceptionRow,
        read_version: Instant,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE exception_requests SET status = $1, updated_us = $2, body = $3 WHERE id = $4 AND updated_us = $5",
        )
        .bind(&row.status)
        .bind(micros(&row.updated_at))
        .bind(&row.body)
        .bind(&row.id)
        .bind(micros(&read_version))
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Stale(format!(
                "exception request {} changed since it was read (someone else edited it); read it again",
                row.id
            )));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn exception_request(&self, id: &str) -> Result<Option<ExceptionRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM exception_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(exception_row).transpose()
    }

    pub async fn exception_request_for_tenant(&self, tenant: &str) -> Result<Option<ExceptionRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM exception_requests WHERE customer_tenant_id = $1"
        ))
        .bind(tenant.to_ascii_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(exception_row).transpose()
    }

    /// Every request, oldest first.
    pub async fn exception_requests(&self) -> Result<Vec<ExceptionRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM exception_requests ORDER BY created_us, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(exception_row).collect()
    }

    /// The usage lines of the given Azure subscriptions with usage dates in `[from, to]`, in log order, with their
    /// keys. Reads the whole log (usage segments decode at about a million lines a second).
    pub async fn usage_lines(
        &self,
        azure_subscriptions: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(IdempotencyKey, UsageLine)>> {
        let subs: HashSet<String> = azure_subscriptions
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        let mut out = Vec::new();
        let mut after = 0i64;
        loop {
            let page = self.events_after(after, 16_384).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in page {
                if let Event::Usage(u) = e.envelope.event {
                    if u.usage_date >= from
                        && u.usage_date <= to
                        && subs.contains(u.azure_subscription.as_str())
                    {
                        out.push((e.envelope.key, u));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Stores a customer's screening, replacing the one before.
    pub async fn save_screening(&self, row: &ScreeningRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO screenings (customer_tenant_id, score, screened_us, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (customer_tenant_id) DO UPDATE SET score = excluded.score, screened_us = excluded.screened_us, \
             body = excluded.body",
        )
        .bind(row.customer_tenant_id.to_ascii_lowercase())
        .bind(row.score)
        .bind(micros(&row.screened_at))
        .bind(&row.body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every stored screening, by tenant.
    pub async fn screenings(&self) -> Result<Vec<ScreeningRow>> {
        let rows = sqlx::query(
            "SELECT customer_tenant_id, score, screened_us, body FROM screenings ORDER BY customer_tenant_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ScreeningRow {
                    customer_tenant_id: r.try_get(0)?,
                    score: r.try_get(1)?,
                    screened_at: from_micros(r.try_get(2)?),
                    body: r.try_get(3)?,
                })
            })
            .collect()
    }
}
