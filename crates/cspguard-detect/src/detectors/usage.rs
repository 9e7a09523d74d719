//! Usage: rated usage lines, per Azure subscription and day. Spend far above the subscription's own baseline,
//! first-seen expensive meters (GPU, HPC), first-seen regions and several new regions in one day, and a new customer
//! whose spend before its first successful payment passes a limit (or its credit limit).
//!
//! Each subscription's daily cost also runs through the streaming anomaly core ([`cspguard_anomaly`], the scorer
//! `cspguard detect series` uses), judged when the day closes: `usage.series_anomaly` corroborates the spike detector
//! with a model of the series' own shape (weekly phase, level, noise).
//!
//! Usage lines of one day arrive together (a reconciliation file, or a day of unbilled usage), so each day's running
//! totals are judged as lines arrive and the day is folded into the baseline when the next day begins.

use crate::catalog::{self, ComputeClass};
use crate::signal::{Family, Signal};
use crate::state::{insert_bounded, Output, TenantState};
use crate::DetectConfig;
use chrono::NaiveDate;
use cspguard_domain::{Instant, TenantId, UsageLine};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Subscriptions remembered per tenant.
const MAX_SUBSCRIPTIONS: usize = 64;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub subscriptions: BTreeMap<String, Sub>,
    /// Meter sub-categories of expensive classes the tenant already uses.
    pub expensive_meters: BTreeSet<String>,
    /// Days with any usage, tenant-wide (for warm-up).
    pub days_seen: u32,
    pub last_day: Option<NaiveDate>,
    /// Spend since the first usage line (billing currency), for the new-customer-before-payment check.
    pub total: Decimal,
    pub before_payment_reported: bool,
    /// Per day: the regions new for the tenant that day, and what they cost.
    pub new_regions_day: Option<NaiveDate>,
    pub new_regions_today: BTreeMap<String, Decimal>,
    pub new_regions_reported: u32,
    /// Per day and meter: spend on first-seen expensive meters.
    pub novel_meter_today: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sub {
    pub day: Option<NaiveDate>,
    pub day_cost: Decimal,
    /// Exponentially weighted mean and variance of daily cost (a statistic, not money: it only scales a threshold).
    pub mean: f64,
    pub var: f64,
    pub days: u32,
    pub spike_reported_ratio: f64,
    /// The streaming anomaly core over this subscription's daily cost.
    pub series: Option<cspguard_anomaly::SeriesDetector>,
}

/// A closed day the anomaly core found unusual: its score and cost.
struct ClosedDay {
    day: NaiveDate,
    cost: Decimal,
    score: f64,
    mean: f64,
}

/// Score of the anomaly core at which a closed day is unusual.
const SERIES_SCORE: f64 = 0.6;

/// Weight of the newest day in the baseline: about a month of memory.
const ALPHA: f64 = 0.07;

impl Sub {
    fn close_day(&mut self) -> Option<ClosedDay> {
        let x = self.day_cost.to_f64().unwrap_or(0.0).max(0.0);
        let closed = self.day.map(|day| {
            let series = self.series.get_or_insert_with(|| {
                cspguard_anomaly::SeriesDetector::new(cspguard_anomaly::Config::compact())
            });
            let ts = crate::state::end_of_day(day).timestamp();
            ClosedDay {
                day,
                cost: self.day_cost,
                score: series.score(ts, x),
                mean: self.mean,
            }
        });
        if self.days == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let d = x - self.mean;
            self.mean += ALPHA * d;
            self.var = (1.0 - ALPHA) * (self.var + ALPHA * d * d);
        }
        self.days += 1;
        self.day_cost = Decimal::ZERO;
        self.spike_reported_ratio = 0.0;
        if let Some(d) = self.day.as_mut() {
            *d += chrono::Duration::days(1);
        }
        closed
    }
}

pub fn on_usage(
    st: &mut TenantState,
    tenant: &TenantId,
    u: &UsageLine,
    at: Instant,
    cfg: &DetectConfig,
    out: &mut Output,
) {
    if st.profile.currency.is_none() {
        st.profile.currency = Some(u.cost.currency);
    }
    if u.cost.currency != st.currency() {
        // One tenant is billed in one currency; a line in another cannot join its sums.
        return;
    }
    let cost = u.cost.amount;
    let sub_id = u.azure_subscription.as_str();
    let region: std::borrow::Cow<str> =
        if u.resource_location.bytes().any(|b| b.is_ascii_uppercase()) {
            u.resource_location.to_ascii_lowercase().into()
        } else {
            u.resource_location.as_str().into()
        };
    let class = catalog::meter(&u.meter_category, &u.meter_subcategory);
    let warm = st.usage.days_seen >= cfg.usage_warmup_days;

    if st.usage.last_day.is_none_or(|d| u.usage_date > d) {
        st.usage.last_day = Some(u.usage_date);
        st.usage.days_seen += 1;
        st.usage.novel_meter_today.clear();
    }
    st.usage.total += cost;
    let base = |detector: &str, points: u32, summary: String| {
        Signal::new(tenant, detector, Family::Usage, at, points, summary)
            .subscription(Some(sub_id))
            .feature("usage_date", u.usage_date.to_string())
    };
    let mut signals = Vec::new();

    // First-seen expensive meters: judged on the day's spend on them, reported once per meter.
    if class.is_expensive() && !st.usage.expensive_meters.contains(&u.meter_subcategory) {
        let novel = st
            .usage
            .novel_meter_today
            .entry(u.meter_subcategory.clone())
            .or_default();
        *novel += cost;
        let novel = *novel;
        // Material: above the absolute floor and above twice what the subscription normally spends in a day.
        let usual = st
            .usage
            .subscriptions
            .get(sub_id)
            .map_or(0.0, |s| s.mean * 2.0);
        let material =
            novel >= cfg.novelty_min_daily_cost && novel.to_f64().unwrap_or(0.0) >= usual;
        if (warm || st.is_new_customer(at, cfg)) && material {
            insert_bounded(&mut st.usage.expensive_meters, &u.meter_subcategory);
            let mut s = base(
                "usage.new_expensive_meter",
                if class == ComputeClass::Gpu { 35 } else { 30 },
                format!(
                    "{} {} ({}) billed for the first time: {} on {}",
                    u.meter_category,
                    u.meter_subcategory,
                    class.as_str(),
                    st.money(novel),
                    u.usage_date
                ),
            )
            .resource(u.resource.as_ref().map(|r| r.as_str()))
            .feature("meter_category", u.meter_category.clone())
            .feature("meter_subcategory", u.meter_subcategory.clone())
            .feature("class", class.as_str())
            .feature("region", region.to_string());
            s.observed = Some(st.money(novel));
            s.burn_per_day = Some(st.money(novel));
            signals.push(s);
        } else if !warm && !st.is_new_customer(at, cfg) {
            // Learning: what a tenant used in its first days is its normal.
            insert_bounded(&mut st.usage.expensive_meters, &u.meter_subcategory);
        }
    }

    // Regions: new ones are collected per day; one is a note, several on one day are a spread.
    if !region.is_empty() && !st.regions.contains(region.as_ref()) && !cfg.allow.region(&region) {
        if !warm {
            st.learn_region(&region);
        } else {
            if st.usage.new_regions_day != Some(u.usage_date) {
                // Yesterday's new regions are known from today on.
                let learned: Vec<String> = std::mem::take(&mut st.usage.new_regions_today)
                    .into_keys()
                    .collect();
                for r in learned {
                    st.learn_region(&r);
                }
                st.usage.new_regions_day = Some(u.usage_date);
                st.usage.new_regions_reported = 0;
            }
            if st.usage.new_regions_today.len() < 32
                || st.usage.new_regions_today.contains_key(region.as_ref())
            {
                *st.usage
                    .new_regions_today
                    .entry(region.to_string())
                    .or_default() += cost;
            }
            let material: Vec<(&String, &Decimal)> = st
                .usage
                .new_regions_today
                .iter()
                .filter(|(_, c)| **c >= cfg.novelty_min_daily_cost)
                .collect();
            let n = material.len() as u32;
            if n > st.usage.new_regions_reported && (n == 1 || n >= 3) {
                st.usage.new_regions_reported = n;
                let total: Decimal = material.iter().map(|(_, c)| **c).sum();
                let names: Vec<String> = material.iter().map(|(r, _)| (*r).clone()).collect();
                let (detector, points) = if n >= 3 {
                    ("usage.multi_region", 35)
                } else {
                    ("usage.new_region", 10)
                };
                let mut s = base(
                    detector,
                    points,
                    format!(
                        "Spend of {} on {} in {} region(s) new for this tenant: {}",
                        st.money(total),
                        u.usage_date,
                        n,
                        names.join(", ")
                    ),
                )
                .feature("new_regions", names);
                s.observed = Some(st.money(total));
                s.burn_per_day = Some(st.money(total));
                signals.push(s);
            }
        }
    }

    // Spend against the subscription's baseline.
    let known_sub = st.usage.subscriptions.contains_key(sub_id);
    if !known_sub && st.usage.subscriptions.len() >= MAX_SUBSCRIPTIONS {
        if let Some(k) = st
            .usage
            .subscriptions
            .iter()
            .min_by_key(|(_, s)| s.day)
            .map(|(k, _)| k.clone())
        {
            st.usage.subscriptions.remove(&k);
        }
    }
    let currency = st.currency();
    let money = |a: Decimal| cspguard_domain::Money::new(a.round_dp(2), currency);
    if !known_sub {
        // (The eviction above removed another subscription, never this one.)
        st.usage
            .subscriptions
            .insert(sub_id.to_string(), Sub::default());
    }
    let Some(sub) = st.usage.subscriptions.get_mut(sub_id) else {
        return;
    };
    match sub.day {
        Some(d) if u.usage_date > d => {
            // Days without usage count as zero-spend days.
            let gap = (u.usage_date - d).num_days().clamp(1, 60);
            let closed = sub.close_day();
            for _ in 1..gap {
                sub.close_day();
            }
            sub.day = Some(u.usage_date);
            // Only rises matter here: spend that stops is not money at risk.
            let min_excess = cfg.spike_min_excess.to_f64().unwrap_or(25.0);
            if let Some(c) = closed.filter(|c| {
                let x = c.cost.to_f64().unwrap_or(0.0);
                c.score >= SERIES_SCORE
                    && x >= c.mean * cfg.spike_ratio / 2.0
                    && x - c.mean >= min_excess
            }) {
                let points = (c.score * 25.0).round().clamp(15.0, 25.0) as u32;
                let excess = (c.cost - Decimal::from_f64_retain(c.mean).unwrap_or_default())
                    .max(Decimal::ZERO);
                let mut s = base(
                    "usage.series_anomaly",
                    points,
                    format!(
                        "The anomaly core scored {} of spend on {} at {:.2} against this subscription's own daily series",
                        money(c.cost),
                        c.day,
                        c.score
                    ),
                )
                .feature("day", c.day.to_string())
                .feature("anomaly_score", (c.score * 1000.0).round() / 1000.0)
                .feature("observed", c.cost.round_dp(2).to_string())
                .feature("baseline_mean", (c.mean * 100.0).round() / 100.0);
                s.observed = Some(money(excess));
                signals.push(s);
            }
        }
        None => sub.day = Some(u.usage_date),
        _ => {}
    }
    if sub.day == Some(u.usage_date) {
        sub.day_cost += cost;
    }
    if sub.days >= cfg.usage_warmup_days * 2 && sub.day == Some(u.usage_date) {
        let day = sub.day_cost.to_f64().unwrap_or(0.0);
        let expected = sub.mean + 2.0 * sub.var.sqrt();
        let floor = sub.mean.max(1.0);
        let ratio = day / floor;
        let excess = day - expected.max(sub.mean);
        let min_excess = cfg.spike_min_excess.to_f64().unwrap_or(200.0);
        if ratio >= cfg.spike_ratio
            && excess >= min_excess
            && ratio >= sub.spike_reported_ratio * 2.0
        {
            sub.spike_reported_ratio = ratio;
            let points = (15.0 + 10.0 * (ratio / cfg.spike_ratio).log2()).clamp(15.0, 40.0) as u32;
            let observed = Decimal::from_f64_retain(excess.max(0.0)).unwrap_or_default();
            let mut s = base(
                "usage.spend_spike",
                points,
                format!(
                    "Spend of {} on {} is {:.1}x this subscription's baseline of {} a day",
                    money(sub.day_cost),
                    u.usage_date,
                    ratio,
                    money(Decimal::from_f64_retain(sub.mean).unwrap_or_default())
                ),
            )
            .feature("observed", sub.day_cost.round_dp(2).to_string())
            .feature("baseline_mean", (sub.mean * 100.0).round() / 100.0)
            .feature("baseline_sd", (sub.var.sqrt() * 100.0).round() / 100.0)
            .feature("ratio", (ratio * 10.0).round() / 10.0);
            s.observed = Some(money(observed));
            s.burn_per_day = Some(money(observed));
            signals.push(s);
        }
    }

    // A new customer consuming before it has ever paid.
    if !st.usage.before_payment_reported
        && st.payment.first_success.is_none()
        && st.is_new_customer(at, cfg)
    {
        let limit = st
            .profile
            .credit_limit
            .filter(|l| l.currency == st.currency())
            .map_or(cfg.spend_before_payment_limit, |l| {
                l.amount.min(cfg.spend_before_payment_limit)
            });
        if st.usage.total >= limit {
            st.usage.before_payment_reported = true;
            let mut s = base(
                "usage.spend_before_first_payment",
                40,
                format!(
                    "New customer has consumed {} before any successful payment (limit {})",
                    st.money(st.usage.total),
                    st.money(limit)
                ),
            )
            .feature("spend", st.usage.total.round_dp(2).to_string())
            .feature("limit", limit.to_string());
            s.observed = Some(st.money(st.usage.total));
            signals.push(s);
        }
    }
    if !region.is_empty() && !warm {
        st.learn_region(&region);
    }
    out.signals.extend(signals);
}
