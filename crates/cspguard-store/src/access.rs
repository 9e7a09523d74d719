//! Who may use cspguard — users, API tokens, console sessions — and the audit log's hash chain.
//!
//! Secrets are never stored: passwords as the caller's argon2 PHC strings, tokens and session cookies as BLAKE3
//! hashes (they are long random values, so a fast hash is enough; a password needs a slow one).
//!
//! The chain: each audit entry's `hash` is BLAKE3 over the previous entry's hash and the entry's fields;
//! `audit_head` holds the last hash and the number of chained entries. Entries are appended under the head row's
//! lock (an UPDATE first: SQLite's write lock, PostgreSQL's row lock), so concurrent writers never fork the chain.
//! [`Store::verify_audit`] recomputes it: an edited, inserted, reordered or removed entry — the last one included —
//! is found. It proves integrity against edits of the table, not against someone who can also rewrite every later
//! hash and the head: for that, export the head hash elsewhere (`cspguard audit verify` prints it).

use crate::cases::AuditEntry;
use crate::{from_micros, micros, Result, Store};
use cspguard_domain::Instant;
use sqlx::Row;

/// A user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub reseller_mpn_id: Option<String>,
    pub created_at: Instant,
    pub disabled: bool,
}

/// An API token as listed: never the token, only its public ID (the first 16 hex digits of its stored hash, which
/// reveal nothing of the token) and name.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub created_at: Instant,
}

/// Length of a token's public ID.
const TOKEN_ID_LEN: usize = 16;

/// The result of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq)]
pub struct AuditVerification {
    /// Entries whose chain was checked.
    pub checked: u64,
    /// Entries written before the chain existed (migration 0007), not covered.
    pub unchained: u64,
    /// The last hash (compare with a copy kept elsewhere).
    pub head: String,
    /// The first problem found: the entry's sequence number and what is wrong.
    pub broken: Option<(i64, String)>,
}

/// The hash of one entry after `prev`.
pub fn chain_hash(prev: &str, e: &AuditEntry) -> String {
    let body = serde_json::json!([
        prev,
        micros(&e.at),
        e.actor,
        e.verb,
        e.case_id,
        e.action_key,
        e.detail
    ]);
    blake3::hash(body.to_string().as_bytes())
        .to_hex()
        .to_string()
}

/// A token or session value's stored form.
pub fn secret_hash(value: &str) -> String {
    blake3::hash(format!("cspguard-secret/v1/{value}").as_bytes())
        .to_hex()
        .to_string()
}

pub(crate) async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entries: &[AuditEntry],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    // Take the head's lock before reading it.
    sqlx::query("UPDATE audit_head SET entries = entries + 0 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let head = sqlx::query("SELECT hash, entries FROM audit_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    let mut prev: String = head.try_get(0)?;
    let mut count: i64 = head.try_get(1)?;
    for e in entries {
        let h = chain_hash(&prev, e);
        sqlx::query(
            "INSERT INTO audit_log (at_us, actor, verb, case_id, action_key, detail, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(micros(&e.at))
        .bind(&e.actor)
        .bind(&e.verb)
        .bind(e.case_id.as_deref())
        .bind(e.action_key.as_deref())
        .bind(&e.detail)
        .bind(&h)
        .execute(&mut **tx)
        .await?;
        prev = h;
        count += 1;
    }
    sqlx::query("UPDATE audit_head SET hash = $1, entries = $2 WHERE id = 1")
        .bind(&prev)
        .bind(count)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn user_row(r: &sqlx::any::AnyRow) -> Result<UserRow> {
    let disabled: i64 = r.try_get(5)?;
    Ok(UserRow {
        username: r.try_get(0)?,
        password_hash: r.try_get(1)?,
        role: r.try_get(2)?,
        reseller_mpn_id: r.try_get(3)?,
        created_at: from_micros(r.try_get(4)?),
        disabled: disabled != 0,
    })
}

impl Store {
    /// Appends audit entries that belong to no case change (sign-ins, user management), chained like the others.
    pub async fn append_audit(&self, entries: &[AuditEntry]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, entries).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Recomputes the audit log's hash chain.
    pub async fn verify_audit(&self) -> Result<AuditVerification> {
        let rows = sqlx::query(
            "SELECT seq, at_us, actor, verb, case_id, action_key, detail, hash FROM audit_log ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        let head = sqlx::query("SELECT hash, entries FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let head_hash: String = head.try_get(0)?;
        let head_entries: i64 = head.try_get(1)?;
        let mut v = AuditVerification {
            checked: 0,
            unchained: 0,
            head: head_hash.clone(),
            broken: None,
        };
        let mut prev = String::new();
        let mut chain_started = false;
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let stored: Option<String> = r.try_get(7)?;
            let e = AuditEntry {
                seq,
                at: from_micros(r.try_get(1)?),
                actor: r.try_get(2)?,
                verb: r.try_get(3)?,
                case_id: r.try_get(4)?,
                action_key: r.try_get(5)?,
                detail: r.try_get(6)?,
            };
            let Some(stored) = stored else {
                if chain_started {
                    v.broken = Some((
                        seq,
                        "an entry without a hash inside the chain (inserted around it)".into(),
                    ));
                    return Ok(v);
                }
                v.unchained += 1;
                continue;
            };
            chain_started = true;
            if chain_hash(&prev, &e) != stored {
                v.broken = Some((
                    seq,
                    "its content or its place in the chain was changed (the hash does not match)"
                        .into(),
                ));
                return Ok(v);
            }
            prev = stored;
            v.checked += 1;
        }
        if prev != head_hash || v.checked as i64 != head_entries {
            v.broken = Some((
                rows.last().map_or(0, |r| r.try_get(0).unwrap_or(0)),
                format!(
                    "the log ends at {} chained entries but the head records {head_entries}: entries were removed or \
                     added at the end",
                    v.checked
                ),
            ));
        }
        Ok(v)
    }

    pub async fn add_user(&self, u: &UserRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (username, password_hash, role, reseller_mpn_id, created_us, disabled) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(&u.role)
        .bind(u.reseller_mpn_id.as_deref())
        .bind(micros(&u.created_at))
        .bind(i64::from(u.disabled))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn user(&self, username: &str) -> Result<Option<UserRow>> {
        let r = sqlx::query(
            "SELECT username, password_hash, role, reseller_mpn_id, created_us, disabled FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(user_row).transpose()
    }

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(
            "SELECT username, password_hash, role, reseller_mpn_id, created_us, disabled FROM users ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_row).collect()
    }

    pub async fn user_count(&self) -> Result<u64> {
        let r = sqlx::query("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<i64, _>(0)? as u64)
    }

    /// Stores a token's hash for `username` with `audit`, in one transaction. Returns the token's public ID.
    pub async fn add_api_token(
        &self,
        username: &str,
        name: &str,
        token: &str,
        now: Instant,
        audit: &[AuditEntry],
    ) -> Result<String> {
        let hash = secret_hash(token);
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO api_tokens (token_hash, username, name, created_us) VALUES ($1, $2, $3, $4)")
            .bind(&hash)
            .bind(username)
            .bind(name)
            .bind(micros(&now))
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(hash[..TOKEN_ID_LEN].to_string())
    }

    /// The API tokens of `username` (every user's when `None`), oldest first.
    pub async fn api_tokens(&self, username: Option<&str>) -> Result<Vec<TokenRow>> {
        let rows = sqlx::query(
            "SELECT token_hash, username, name, created_us FROM api_tokens \
             WHERE ($1 = '' OR username = $1) ORDER BY created_us, token_hash",
        )
        .bind(username.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let hash: String = r.try_get(0)?;
                Ok(TokenRow {
                    id: hash[..TOKEN_ID_LEN.min(hash.len())].to_string(),
                    username: r.try_get(1)?,
                    name: r.try_get(2)?,
                    created_at: from_micros(r.try_get(3)?),
                })
            })
            .collect()
    }

    /// Revokes `username`'s token `id` (its public ID) and appends `audit` in the same transaction. Returns the
    /// token revoked, or `None` (and writes nothing) when the user has no such token.
    pub async fn revoke_api_token(
        &self,
        username: &str,
        id: &str,
        audit: &[AuditEntry],
    ) -> Result<Option<TokenRow>> {
        let id = id.to_ascii_lowercase();
        if id.len() != TOKEN_ID_LEN {
            return Ok(None);
        }
        let Some(t) = self
            .api_tokens(Some(username))
            .await?
            .into_iter()
            .find(|t| t.id == id)
        else {
            return Ok(None);
        };
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query(
            "DELETE FROM api_tokens WHERE username = $1 AND substr(token_hash, 1, 16) = $2",
        )
        .bind(username)
        .bind(&id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if gone == 0 {
            // Revoked by someone else between the read and the write.
            return Ok(None);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Some(t))
    }

    /// Disables or enables `username` and appends `audit` in the same transaction. Disabling also ends the user's
    /// console sessions (its API tokens are refused while it is disabled, and work again if it is enabled). Returns
    /// false (and writes nothing) when there is no such user.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        audit: &[AuditEntry],
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("UPDATE users SET disabled = $1 WHERE username = $2")
            .bind(i64::from(disabled))
            .bind(username)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE username = $1")
                .bind(username)
                .execute(&mut *tx)
                .await?;
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The enabled user a token belongs to.
    pub async fn user_by_token(&self, token: &str) -> Result<Option<UserRow>> {
        let r = sqlx::query(
            "SELECT u.username, u.password_hash, u.role, u.reseller_mpn_id, u.created_us, u.disabled \
             FROM api_tokens t JOIN users u ON u.username = t.username WHERE t.token_hash = $1 AND u.disabled = 0",
        )
        .bind(secret_hash(token))
        .fetch_optional(&self.reader)
        .await?;
        r.as_ref().map(user_row).transpose()
    }

    pub async fn add_session(&self, session: &str, username: &str, expires: Instant) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (session_hash, username, expires_us) VALUES ($1, $2, $3)",
        )
        .bind(secret_hash(session))
        .bind(username)
        .bind(micros(&expires))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The enabled user of an unexpired session.
    pub async fn user_by_session(&self, session: &str, now: Instant) -> Result<Option<UserRow>> {
        let r = sqlx::query(
            "SELECT u.username, u.password_hash, u.role, u.reseller_mpn_id, u.created_us, u.disabled \
             FROM sessions s JOIN users u ON u.username = s.username \
             WHERE s.session_hash = $1 AND s.expires_us > $2 AND u.disabled = 0",
        )
        .bind(secret_hash(session))
        .bind(micros(&now))
        .fetch_optional(&self.reader)
        .await?;
        r.as_ref().map(user_row).transpose()
    }

    pub async fn end_session(&self, session: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE session_hash = $1")
            .bind(secret_hash(session))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Customers of one indirect reseller (tenant IDs), for scoping.
    pub async fn reseller_customers(&self, reseller_mpn_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT tenant_id FROM customers WHERE reseller_mpn_id = $1")
            .bind(reseller_mpn_id)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }
}
