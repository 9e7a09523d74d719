//! What the detection stage keeps: its checkpoint (serialised engine state + the last event it evaluated) and the
//! alerts it raised. Both are written in one transaction, so a crash between scans neither loses alerts nor evaluates
//! an event twice.

use crate::{from_micros, micros, Result, Store};
use cspguard_domain::Instant;
use sqlx::Row;

/// The detection pipeline's resumable position and state.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub last_seq: i64,
    pub watermark: Option<Instant>,
    pub state: Vec<u8>,
}

/// An alert as stored: indexed columns plus the full alert as JSON (`body`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: String,
    pub customer_tenant_id: String,
    pub kind: String,
    pub severity: String,
    pub score: i64,
    pub origin: String,
    pub fired_at: Instant,
    pub updated_at: Instant,
    pub body: String,
}

/// Which alerts to read.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Fired at or after.
    pub since: Option<Instant>,
    pub customer: Option<String>,
}

impl Store {
    pub async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>> {
        let row = sqlx::query(
            "SELECT last_seq, watermark_us, state FROM detector_checkpoints WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => None,
            Some(r) => {
                let wm: Option<i64> = r.try_get(1)?;
                let state: String = r.try_get(2)?;
                Some(Checkpoint {
                    last_seq: r.try_get(0)?,
                    watermark: wm.map(from_micros),
                    state: state.into_bytes(),
                })
            }
        })
    }

    /// Saves the checkpoint and upserts the alerts that changed, in one transaction.
    pub async fn save_detection(
        &self,
        name: &str,
        checkpoint: &Checkpoint,
        alerts: &[AlertRow],
        now: Instant,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        upsert_alerts(&mut tx, alerts).await?;
        let state = String::from_utf8_lossy(&checkpoint.state).into_owned();
        sqlx::query(
            "INSERT INTO detector_checkpoints (name, last_seq, watermark_us, state, updated_us) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq, watermark_us = excluded.watermark_us, \
             state = excluded.state, updated_us = excluded.updated_us",
        )
        .bind(name)
        .bind(checkpoint.last_seq)
        .bind(checkpoint.watermark.as_ref().map(micros))
        .bind(state)
        .bind(micros(&now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Upserts alerts without moving the checkpoint: a streaming detector saves what changed at once and checkpoints
    /// its state less often (a crash re-evaluates the events since the checkpoint, which gives the same alerts).
    pub async fn save_alerts(&self, alerts: &[AlertRow]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        upsert_alerts(&mut tx, alerts).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a pipeline's checkpoint and every alert, so the next scan starts from the first event.
    pub async fn reset_detection(&self, name: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM detector_checkpoints WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM alerts").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Alerts, most recently fired first.
    pub async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRow>> {
        let rows = sqlx::query(
            "SELECT id, customer_tenant_id, kind, severity, score, origin, fired_us, updated_us, body FROM alerts \
             WHERE fired_us >= $1 AND ($2 = '' OR customer_tenant_id = $2) ORDER BY fired_us DESC, id",
        )
        .bind(filter.since.as_ref().map_or(i64::MIN, micros))
        .bind(filter.customer.clone().unwrap_or_default().to_ascii_lowercase())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AlertRow {
                    id: r.try_get(0)?,
                    customer_tenant_id: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    severity: r.try_get(3)?,
                    score: r.try_get(4)?,
                    origin: r.try_get(5)?,
                    fired_at: from_micros(r.try_get(6)?),
                    updated_at: from_micros(r.try_get(7)?),
                    body: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// Every Azure subscription whose customer the log has told, as (subscription, customer tenant).
    pub async fn azure_subscription_owners(&self) -> Result<Vec<(String, String)>> {
        self.pairs("SELECT azure_subscription_id, customer_tenant_id FROM azure_subscriptions")
            .await
    }

    /// Every billing subscription whose customer usage lines told, as (subscription, customer tenant).
    pub async fn billing_subscription_owners(&self) -> Result<Vec<(String, String)>> {
        self.pairs("SELECT billing_subscription_id, customer_tenant_id FROM billing_subscriptions")
            .await
    }

    async fn pairs(&self, sql: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}

async fn upsert_alerts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    alerts: &[AlertRow],
) -> Result<()> {
    for a in alerts {
        sqlx::query(
                "INSERT INTO alerts (id, customer_tenant_id, kind, severity, score, origin, fired_us, updated_us, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET \
                 customer_tenant_id = excluded.customer_tenant_id, kind = excluded.kind, severity = excluded.severity, \
                 score = excluded.score, origin = excluded.origin, fired_us = excluded.fired_us, \
                 updated_us = excluded.updated_us, body = excluded.body",
            )
            .bind(&a.id)
            .bind(&a.customer_tenant_id)
            .bind(&a.kind)
            .bind(&a.severity)
            .bind(a.score)
            .bind(&a.origin)
            .bind(micros(&a.fired_at))
            .bind(micros(&a.updated_at))
            .bind(&a.body)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
