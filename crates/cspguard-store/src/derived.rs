//! Derived tables: folded from newly inserted events inside the append's transaction, read by later stages.

use crate::segment::{StringTable, UsageFacts};
use crate::{Backend, Result, StoreError};
use chrono::NaiveDate;
use cspguard_domain::{Currency, Envelope, Event, Money};
use rustc_hash::FxHashMap as HashMap;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Cost of one Azure subscription on one day for one meter category in one region.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyMeterCost {
    pub azure_subscription_id: String,
    pub customer_tenant_id: String,
    pub usage_date: NaiveDate,
    pub meter_category: String,
    pub region: String,
    pub cost: Money,
    pub lines: u64,
}

/// Cost of one resource on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyResourceCost {
    pub resource_id: String,
    pub azure_subscription_id: String,
    pub customer_tenant_id: String,
    pub usage_date: NaiveDate,
    pub cost: Money,
    pub lines: u64,
}

/// A customer's merged profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRow {
    pub tenant_id: String,
    pub name: Option<String>,
    pub domain: Option<String>,
    pub country: Option<String>,
    pub reseller_mpn_id: Option<String>,
}

/// Parameters per statement of a key lookup: under SQLite's limit (32,766) and PostgreSQL's (65,535).
pub(crate) const MAX_PARAMS: usize = 32_000;

/// Rows per upsert of a derived table. Measured on a million usage rows: 400 rows a statement beat ~4,500 (17.5-18.9 s
/// against 20.2-21.3 s for the whole import), unlike plain inserts where larger statements win.
const UPSERT_ROWS: usize = 400;

#[derive(Default)]
struct CustomerPatch {
    name: Option<String>,
    domain: Option<String>,
    country: Option<String>,
    reseller: Option<String>,
}

/// Usage cost in micros; amounts finer than a millionth are rounded (Partner Center totals have two decimals).
pub(crate) fn cost_micros(m: &Money) -> i64 {
    m.to_micros().unwrap_or_else(|| {
        Money::new(m.amount.round_dp(6), m.currency)
            .to_micros()
            .unwrap_or(0)
    })
}

/// Interned strings: the fold's keys are small integers, so adding a line allocates only for strings not seen yet.
#[derive(Default)]
struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), i);
        i
    }
    fn get(&self, i: u32) -> &str {
        &self.names[i as usize]
    }
}

/// (subscription, date, meter category, region, currency) -> (customer, cost, lines)
type MeterFold = HashMap<(u32, NaiveDate, u32, u32, Currency), (u32, i64, i64)>;
/// (resource, date, currency) -> (subscription, customer, cost, lines)
type ResourceFold = HashMap<(u32, NaiveDate, Currency), (u32, u32, i64, i64)>;

/// The derived tables' changes from a run of newly inserted events, folded in memory and written by [`Fold::flush`] in
/// the transaction that inserted the events. Folding then writing equals applying the events one by one.
#[derive(Default)]
pub(crate) struct Fold {
    names: Names,
    meter: MeterFold,
    resource: ResourceFold,
    /// Mapping tables: the latest event wins (insertion order is kept by `Vec` + index).
    subs: HashMap<u32, u32>,
    billing_subs: HashMap<u32, u32>,
    customers: HashMap<u32, CustomerPatch>,
}

fn set_if_new(slot: &mut Option<String>, v: Option<&str>) {
    if let Some(v) = v {
        if slot.as_deref() != Some(v) {
            *slot = Some(v.to_string());
        }
    }
}

impl Fold {
    /// Distinct rows folded so far.
    pub(crate) fn len(&self) -> usize {
        self.meter.len()
            + self.resource.len()
            + self.subs.len()
            + self.billing_subs.len()
            + self.customers.len()
    }

    /// Adds a usage line given by its batch's string ids; `map` caches the batch ids' fold ids (start it empty per
    /// batch).
    pub(crate) fn add_usage(&mut self, f: &UsageFacts, strings: &StringTable, map: &mut Vec<u32>) {
        if map.len() != strings.len() {
            *map = vec![u32::MAX; strings.len()];
        }
        let names = &mut self.names;
        let mut id = |i: u32| {
            let slot = &mut map[i as usize];
            if *slot == u32::MAX {
                *slot = names.id(strings.get(i));
            }
            *slot
        };
        let sub = id(f.azure_subscription);
        let cust = id(f.customer);
        let cat = id(f.meter_category);
        let region = id(f.region);
        let resource = f.resource.map(&mut id);
        let billing = id(f.billing_subscription);
        let name = id(f.customer_name);
        let country = f.customer_country.map(&mut id);
        let reseller = f.reseller.map(&mut id);
        let c = f.cost_micros;
        let m = self
            .meter
            .entry((sub, f.usage_date, cat, region, f.currency))
            .or_insert((cust, 0, 0));
        m.1 += c;
        m.2 += 1;
        if let Some(r) = resource {
            let x = self
                .resource
                .entry((r, f.usage_date, f.currency))
                .or_insert((sub, cust, 0, 0));
            x.2 += c;
            x.3 += 1;
        }
        self.subs.insert(sub, cust);
        self.billing_subs.insert(billing, cust);
        let n = &self.names;
        let p = self.customers.entry(cust).or_default();
        let name = n.get(name);
        if !name.is_empty() {
            set_if_new(&mut p.name, Some(name));
        }
        set_if_new(&mut p.country, country.map(|c| n.get(c)));
        set_if_new(&mut p.reseller, reseller.map(|r| n.get(r)));
    }

    /// Adds an event other than a usage line (those come through [`Fold::add_usage`]).
    pub(crate) fn add(&mut self, e: &Envelope) {
        let n = &mut self.names;
        match &e.event {
            Event::ControlPlane(o) => {
                if let (Some(s), Some(c)) = (&o.azure_subscription, &o.customer) {
                    let (s, c) = (n.id(s.as_str()), n.id(c.as_str()));
                    self.subs.insert(s, c);
                }
            }
            Event::FraudAlert(a) => {
                let (s, c) = (
                    n.id(a.azure_subscription.as_str()),
                    n.id(a.customer.as_str()),
                );
                self.subs.insert(s, c);
            }
            Event::CustomerProfile(p) => {
                let c = n.id(p.customer.as_str());
                let x = self.customers.entry(c).or_default();
                set_if_new(&mut x.name, p.name.as_deref());
                set_if_new(&mut x.domain, p.domain.as_deref());
                set_if_new(&mut x.country, p.country.as_deref());
                set_if_new(&mut x.reseller, p.reseller.as_ref().map(|r| r.as_str()));
            }
            _ => {}
        }
    }

    /// Writes the folded rows (in primary-key order, for locality) and empties the fold.
    pub(crate) async fn flush(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        backend: Backend,
        ingest_us: i64,
    ) -> Result<()> {
        let fold = std::mem::take(self);
        let n = &fold.names;
        let mut meter: Vec<_> = fold
            .meter
            .iter()
            .map(|(&(s, d, c, r, cur), &(cust, cost, lines))| {
                (
                    (n.get(s), d, n.get(c), n.get(r), cur),
                    (n.get(cust), cost, lines),
                )
            })
            .collect();
        meter.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for chunk in meter.chunks(UPSERT_ROWS) {
            let sql = values_sql(
                backend,
                "INSERT INTO usage_daily_meter (azure_subscription_id, usage_date, meter_category, region, currency, \
                 customer_tenant_id, cost_micros, line_count) VALUES ",
                chunk.len(),
                8,
                " ON CONFLICT (azure_subscription_id, usage_date, meter_category, region, currency) DO UPDATE SET \
                 cost_micros = usage_daily_meter.cost_micros + excluded.cost_micros, \
                 line_count = usage_daily_meter.line_count + excluded.line_count",
            );
            // Only full-size statements are worth caching: each odd-sized remainder would stay in the connection's
            // statement cache, megabytes apiece.
            let mut q = sqlx::query(&sql).persistent(chunk.len() == UPSERT_ROWS);
            for ((s, d, c, r, cur), (cust, cost, lines)) in chunk {
                q = q
                    .bind(*s)
                    .bind(d.to_string())
                    .bind(*c)
                    .bind(*r)
                    .bind(cur.as_str())
                    .bind(*cust)
                    .bind(*cost)
                    .bind(*lines);
            }
            q.execute(&mut **tx).await?;
        }
        let mut resource: Vec<_> = fold
            .resource
            .iter()
            .map(|(&(r, d, cur), &(s, cust, cost, lines))| {
                ((n.get(r), d, cur), (n.get(s), n.get(cust), cost, lines))
            })
            .collect();
        resource.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for chunk in resource.chunks(UPSERT_ROWS) {
            let sql = values_sql(
                backend,
                "INSERT INTO usage_daily_resource (resource_id, usage_date, currency, azure_subscription_id, \
                 customer_tenant_id, cost_micros, line_count) VALUES ",
                chunk.len(),
                7,
                " ON CONFLICT (resource_id, usage_date, currency) DO UPDATE SET \
                 cost_micros = usage_daily_resource.cost_micros + excluded.cost_micros, \
                 line_count = usage_daily_resource.line_count + excluded.line_count",
            );
            // Only full-size statements are worth caching: each odd-sized remainder would stay in the connection's
            // statement cache, megabytes apiece.
            let mut q = sqlx::query(&sql).persistent(chunk.len() == UPSERT_ROWS);
            for ((r, d, cur), (s, cust, cost, lines)) in chunk {
                q = q
                    .bind(*r)
                    .bind(d.to_string())
                    .bind(cur.as_str())
                    .bind(*s)
                    .bind(*cust)
                    .bind(*cost)
                    .bind(*lines);
            }
            q.execute(&mut **tx).await?;
        }
        let pairs = |m: &HashMap<u32, u32>| -> BTreeMap<String, String> {
            m.iter()
                .map(|(&k, &v)| (n.get(k).to_string(), n.get(v).to_string()))
                .collect()
        };
        upsert_mapping(
            tx,
            backend,
            "azure_subscriptions",
            "azure_subscription_id",
            pairs(&fold.subs),
        )
        .await?;
        upsert_mapping(
            tx,
            backend,
            "billing_subscriptions",
            "billing_subscription_id",
            pairs(&fold.billing_subs),
        )
        .await?;
        let mut customers: Vec<_> = fold.customers.iter().map(|(&c, p)| (n.get(c), p)).collect();
        customers.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for chunk in customers.chunks(UPSERT_ROWS) {
            let sql = values_sql(
                backend,
                "INSERT INTO customers (tenant_id, name, domain, country, reseller_mpn_id, updated_us) VALUES ",
                chunk.len(),
                6,
                " ON CONFLICT (tenant_id) DO UPDATE SET name = COALESCE(excluded.name, customers.name), \
                 domain = COALESCE(excluded.domain, customers.domain), country = COALESCE(excluded.country, customers.country), \
                 reseller_mpn_id = COALESCE(excluded.reseller_mpn_id, customers.reseller_mpn_id), updated_us = excluded.updated_us",
            );
            // Only full-size statements are worth caching: each odd-sized remainder would stay in the connection's
            // statement cache, megabytes apiece.
            let mut q = sqlx::query(&sql).persistent(chunk.len() == UPSERT_ROWS);
            for (t, p) in chunk {
                q = q
                    .bind(*t)
                    .bind(p.name.clone())
                    .bind(p.domain.clone())
                    .bind(p.country.clone())
                    .bind(p.reseller.clone())
                    .bind(ingest_us);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// A multi-row `VALUES` statement. SQLite gets anonymous `?` placeholders: sqlx-sqlite resolves each numbered `$N` by
/// scanning parameter names, which is quadratic in the parameter count and dominated import time (measured: 58% of
/// an import in `sqlite3_bind_parameter_name`). PostgreSQL needs `$N`.
/// Upserts `key -> customer_tenant_id` pairs into one of the mapping tables (the latest statement wins).
async fn upsert_mapping(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    table: &str,
    key_column: &str,
    pairs: BTreeMap<String, String>,
) -> Result<()> {
    let pairs: Vec<_> = pairs.into_iter().collect();
    for chunk in pairs.chunks(UPSERT_ROWS) {
        let sql = values_sql(
            backend,
            &format!("INSERT INTO {table} ({key_column}, customer_tenant_id) VALUES "),
            chunk.len(),
            2,
            &format!(" ON CONFLICT ({key_column}) DO UPDATE SET customer_tenant_id = excluded.customer_tenant_id"),
        );
        // Only full-size statements are worth caching: each odd-sized remainder would stay in the connection's
        // statement cache, megabytes apiece.
        let mut q = sqlx::query(&sql).persistent(chunk.len() == UPSERT_ROWS);
        for (k, c) in chunk {
            q = q.bind(k).bind(c);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) fn values_sql(
    backend: Backend,
    head: &str,
    rows: usize,
    cols: usize,
    tail: &str,
) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * cols * 5);
    sql.push_str(head);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// `head (p1, p2, ...)` with the backend's placeholders.
pub(crate) fn in_list_sql(backend: Backend, head: &str, n: usize) -> String {
    let mut sql = String::with_capacity(head.len() + n * 6 + 2);
    sql.push_str(head);
    sql.push('(');
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        match backend {
            Backend::Sqlite => sql.push('?'),
            Backend::Postgres => {
                sql.push('$');
                sql.push_str(&(i + 1).to_string());
            }
        }
    }
    sql.push(')');
    sql
}

pub(crate) fn sum_col(row: &AnyRow, i: usize) -> Result<i64> {
    Ok(row.try_get::<Option<i64>, _>(i)?.unwrap_or(0))
}

fn date(row: &AnyRow, i: usize) -> Result<NaiveDate> {
    let s: String = row.try_get(i)?;
    NaiveDate::from_str(&s).map_err(|e| StoreError::Corrupt {
        seq: -1,
        reason: format!("usage date {s:?}: {e}"),
    })
}

fn money(row: &AnyRow, micros: usize, currency: usize) -> Result<Money> {
    let c: String = row.try_get(currency)?;
    let c = Currency::parse(&c).map_err(|e| StoreError::Corrupt {
        seq: -1,
        reason: e.to_string(),
    })?;
    Ok(Money::from_micros(row.try_get(micros)?, c))
}

/// Rows of a daily derived table between two dates (inclusive), of one Azure subscription or of all.
async fn in_range(
    pool: &AnyPool,
    select: &str,
    order: &str,
    sub: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AnyRow>> {
    let sql = format!(
        "{select} WHERE ($1 = '' OR azure_subscription_id = $1) AND usage_date >= $2 AND usage_date <= $3 {order}"
    );
    Ok(sqlx::query(&sql)
        .bind(sub.unwrap_or("").to_ascii_lowercase())
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(pool)
        .await?)
}

pub(crate) async fn daily_meter_cost(
    pool: &AnyPool,
    sub: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DailyMeterCost>> {
    let rows = in_range(
        pool,
        "SELECT azure_subscription_id, customer_tenant_id, usage_date, meter_category, region, cost_micros, currency, \
         line_count FROM usage_daily_meter",
        "ORDER BY azure_subscription_id, usage_date, meter_category, region, currency",
        sub,
        from,
        to,
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DailyMeterCost {
                azure_subscription_id: r.try_get(0)?,
                customer_tenant_id: r.try_get(1)?,
                usage_date: date(r, 2)?,
                meter_category: r.try_get(3)?,
                region: r.try_get(4)?,
                cost: money(r, 5, 6)?,
                lines: r.try_get::<i64, _>(7)? as u64,
            })
        })
        .collect()
}

pub(crate) async fn daily_resource_cost(
    pool: &AnyPool,
    sub: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DailyResourceCost>> {
    let rows = in_range(
        pool,
        "SELECT resource_id, azure_subscription_id, customer_tenant_id, usage_date, cost_micros, currency, line_count \
         FROM usage_daily_resource",
        "ORDER BY resource_id, usage_date, currency",
        sub,
        from,
        to,
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DailyResourceCost {
                resource_id: r.try_get(0)?,
                azure_subscription_id: r.try_get(1)?,
                customer_tenant_id: r.try_get(2)?,
                usage_date: date(r, 3)?,
                cost: money(r, 4, 5)?,
                lines: r.try_get::<i64, _>(6)? as u64,
            })
        })
        .collect()
}

pub(crate) async fn customers(pool: &AnyPool) -> Result<Vec<CustomerRow>> {
    let rows = sqlx::query("SELECT tenant_id, name, domain, country, reseller_mpn_id FROM customers ORDER BY tenant_id")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(CustomerRow {
                tenant_id: r.try_get(0)?,
                name: r.try_get(1)?,
                domain: r.try_get(2)?,
                country: r.try_get(3)?,
                reseller_mpn_id: r.try_get(4)?,
            })
        })
        .collect()
}
