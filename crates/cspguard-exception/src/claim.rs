//! The claim: which usage lines are compromise-related, the first fraudulent usage date, the 30-day window, and the
//! totals.
//!
//! **First fraudulent usage date.** The incident starts `lead_days` (2) before the case's first evidence (a sign-in
//! from a new place, a deployment, a spend spike: a usage day is only known once it ends, so its evidence can come a
//! day after the usage) — or earlier, on the first usage day of a resource the alerts name, when that resource first
//! appeared at most `named_lookback_days` (7) before (an alert that came late, e.g. Microsoft's after days of mining;
//! a named resource older than that was already there and does not move the start). The baseline is the
//! `baseline_days` (30) before the incident start. A usage line on or after the incident
//! start is *linked to the incident* when
//! 1. its resource is named in the case's alerts (their evidence), or
//! 2. its resource was not used in the baseline and its meter was not used in the baseline (a GPU meter the customer
//!    never used), or
//! 3. its resource was not used in the baseline and its region was not used in the baseline (a region the customer
//!    never deployed to).
//!
//! A resource, meter or region the customer already used in the baseline is ordinary use and stays out unless the
//! alerts name it. The first fraudulent usage date is the earliest usage date of a linked line; the claim is every
//! line of the case's subscriptions from that day (day 1) to day 30 inclusive, linked lines included and the others
//! listed as excluded, each with the reason. The user may exclude or include any line of the window ([`Override`]).

use chrono::{Duration, NaiveDate};
use cspguard_domain::{Currency, IdempotencyKey, Instant, Money, UsageLine};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Days a claim covers, counting the first fraudulent usage date as day 1.
pub const CLAIM_DAYS: i64 = 30;

/// Day number of `d` counting `first` as day 1 (day 0 and below are before it).
pub fn day_number(first: NaiveDate, d: NaiveDate) -> i64 {
    (d - first).num_days() + 1
}

/// The last day of the claim window: day 30.
pub fn claim_last_day(first: NaiveDate) -> NaiveDate {
    first + Duration::days(CLAIM_DAYS - 1)
}

/// Whether `d` is one of days 1-30 from `first`.
pub fn in_claim_window(first: NaiveDate, d: NaiveDate) -> bool {
    (1..=CLAIM_DAYS).contains(&day_number(first, d))
}

/// One usage line, reduced to what a claim shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeLine {
    /// The first 16 hex digits of the line's idempotency key: stable across re-imports.
    pub id: String,
    pub usage_date: NaiveDate,
    pub azure_subscription_id: String,
    pub billing_subscription_id: String,
    pub resource_id: Option<String>,
    pub meter_id: String,
    pub meter_category: String,
    pub meter_name: String,
    /// `MeterRegion`, else `ResourceLocation`.
    pub region: String,
    pub product_id: String,
    pub sku_name: String,
    pub charge_type: String,
    pub quantity: Decimal,
    pub cost: Money,
}

impl ChargeLine {
    pub fn from_usage(key: &IdempotencyKey, u: &UsageLine) -> ChargeLine {
        ChargeLine {
            id: key.to_hex()[..16].to_string(),
            usage_date: u.usage_date,
            azure_subscription_id: u.azure_subscription.to_string(),
            billing_subscription_id: u.billing_subscription.to_string(),
            resource_id: u.resource.as_ref().map(|r| r.to_string()),
            meter_id: u.meter_id.clone(),
            meter_category: u.meter_category.clone(),
            meter_name: u.meter_name.clone(),
            region: if u.meter_region.is_empty() {
                u.resource_location.clone()
            } else {
                u.meter_region.clone()
            },
            product_id: u.product_id.clone(),
            sku_name: u.sku_name.clone(),
            charge_type: u.charge_type.clone(),
            quantity: u.quantity,
            cost: u.cost,
        }
    }
    fn meter_label(&self) -> String {
        format!("{} / {}", self.meter_category, self.meter_name)
    }
}

/// What the case says about the incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Resource IDs named in the case's alerts (lower-case).
    pub resource_ids: Vec<String>,
    /// The date of the case's first evidence.
    pub first_evidence: NaiveDate,
    /// A person's first fraudulent usage date, with the reason (it replaces the computed one).
    pub first_usage_override: Option<(NaiveDate, String)>,
}

/// How lines are linked to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectConfig {
    /// Days before the incident whose resources, meters and regions count as ordinary use.
    pub baseline_days: i64,
    /// The incident starts this many days before the first evidence.
    pub lead_days: i64,
    /// A resource named in the alerts that first appeared at most this many days before that moves the start back.
    pub named_lookback_days: i64,
}

impl Default for SelectConfig {
    fn default() -> Self {
        SelectConfig {
            baseline_days: 30,
            lead_days: 2,
            named_lookback_days: 7,
        }
    }
}

/// A person's decision on one line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    pub included: bool,
    pub reason: String,
    pub by: String,
    pub at: Instant,
}

/// A line of the claim window, with the decision and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimLine {
    #[serde(flatten)]
    pub line: ChargeLine,
    /// 1-30.
    pub day: i64,
    pub included: bool,
    /// Why it is included or excluded (a person's reason when overridden).
    pub reason: String,
    /// The automatic decision before any override.
    pub linked: bool,
    pub overridden_by: Option<String>,
}

/// The result of [`select`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub first_fraudulent_usage: Option<NaiveDate>,
    /// How the date was found, in one sentence.
    pub how: String,
    pub incident_start: NaiveDate,
    pub baseline_from: NaiveDate,
    /// Lines of days 1-30, in (date, id) order.
    pub lines: Vec<ClaimLine>,
    /// Linked charges after day 30: compromise-related but outside what Microsoft covers.
    pub linked_after_window: Vec<Money>,
    /// Overrides naming a line that is not in the window (the data changed since).
    pub unmatched_overrides: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClaimError {
    #[error("the claim mixes currencies ({0} and {1}); Microsoft credits one billing currency: exclude the lines in the other currency")]
    MixedCurrencies(Currency, Currency),
    #[error("line {0} is not in the claim window (days 1-30 from the first fraudulent usage date): `cspguard exception check` lists its lines")]
    UnknownLine(String),
    #[error("no compromise-related usage was found, so there is no first fraudulent usage date and nothing to claim")]
    NoFraudulentUsage,
}

/// Links the lines (of the case's Azure subscriptions, any order) to the incident, finds the first fraudulent usage
/// date and lays out days 1-30, applying `overrides` (by line ID).
pub fn select(
    lines: &[ChargeLine],
    incident: &Incident,
    cfg: &SelectConfig,
    overrides: &BTreeMap<String, Override>,
) -> Selection {
    let named: HashSet<String> = incident
        .resource_ids
        .iter()
        .map(|r| r.to_ascii_lowercase())
        .collect();
    let mut incident_start = incident.first_evidence - Duration::days(cfg.lead_days);
    let mut named_first: HashMap<String, NaiveDate> = HashMap::new();
    for l in lines {
        if let Some(r) = l.resource_id.as_deref().map(str::to_ascii_lowercase) {
            if named.contains(&r) {
                let e = named_first.entry(r).or_insert(l.usage_date);
                *e = (*e).min(l.usage_date);
            }
        }
    }
    let earliest_new = incident_start - Duration::days(cfg.named_lookback_days);
    if let Some(d) = named_first.values().filter(|d| **d >= earliest_new).min() {
        incident_start = incident_start.min(*d);
    }
    let start_why = if incident_start < incident.first_evidence - Duration::days(cfg.lead_days) {
        "the first usage of a new resource the alerts name".to_string()
    } else {
        format!(
            "{} days before the first evidence, {}",
            cfg.lead_days, incident.first_evidence
        )
    };
    let baseline_from = incident_start - Duration::days(cfg.baseline_days);
    let mut base_res: HashSet<&str> = HashSet::new();
    let mut base_meter: HashSet<&str> = HashSet::new();
    let mut base_region: HashSet<&str> = HashSet::new();
    for l in lines {
        if l.usage_date >= baseline_from && l.usage_date < incident_start {
            if let Some(r) = &l.resource_id {
                base_res.insert(r);
            }
            base_meter.insert(&l.meter_id);
            base_region.insert(&l.region);
        }
    }
    // When each meter / region was first seen in the incident, for the reasons.
    let mut first_meter: HashMap<&str, NaiveDate> = HashMap::new();
    let mut first_region: HashMap<&str, NaiveDate> = HashMap::new();
    for l in lines.iter().filter(|l| l.usage_date >= incident_start) {
        let m = first_meter.entry(&l.meter_id).or_insert(l.usage_date);
        *m = (*m).min(l.usage_date);
        let r = first_region.entry(&l.region).or_insert(l.usage_date);
        *r = (*r).min(l.usage_date);
    }
    let link = |l: &ChargeLine| -> Option<String> {
        if l.usage_date < incident_start {
            return None;
        }
        let res = l.resource_id.as_deref().map(str::to_ascii_lowercase);
        if let Some(r) = &res {
            if named.contains(r) {
                return Some(format!("resource {r} is named in the case's alerts"));
            }
        }
        let new_resource = l
            .resource_id
            .as_deref()
            .is_none_or(|r| !base_res.contains(r));
        if !new_resource {
            return None;
        }
        if !base_meter.contains(l.meter_id.as_str()) {
            return Some(format!(
                "meter {} first seen on {} (not used in the {} days before the incident)",
                l.meter_label(),
                first_meter[l.meter_id.as_str()],
                cfg.baseline_days
            ));
        }
        if !base_region.contains(l.region.as_str()) {
            return Some(format!(
                "region {} first seen on {} (not used in the {} days before the incident)",
                l.region,
                first_region[l.region.as_str()],
                cfg.baseline_days
            ));
        }
        None
    };
    let linked: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| link(l).map(|why| (i, why)))
        .collect();
    let computed = linked.iter().map(|(i, _)| lines[*i].usage_date).min();
    let first = incident
        .first_usage_override
        .as_ref()
        .map(|(d, _)| *d)
        .or(computed);
    let how = match (&incident.first_usage_override, first) {
        (Some((d, why)), _) => format!(
            "set by a person to {d}: {why} (computed: {})",
            computed.map_or("none".to_string(), |c| c.to_string())
        ),
        (None, Some(f)) => format!(
            "the earliest usage date ({f}) of a line linked to the incident: a resource named in the case's alerts, \
             or a new resource on a meter or in a region not used in the {} days before the incident start \
             ({incident_start}: {start_why})",
            cfg.baseline_days
        ),
        (None, None) => format!(
            "no usage line on or after the incident start ({incident_start}) is linked to the incident: no resource \
             named in the case's alerts, no new meter or region"
        ),
    };
    let mut sel = Selection {
        first_fraudulent_usage: first,
        how,
        incident_start,
        baseline_from,
        lines: Vec::new(),
        linked_after_window: Vec::new(),
        unmatched_overrides: Vec::new(),
    };
    let Some(first) = first else {
        sel.unmatched_overrides = overrides.keys().cloned().collect();
        return sel;
    };
    let why: HashMap<usize, String> = linked.into_iter().collect();
    let mut after: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let day = day_number(first, l.usage_date);
        if day > CLAIM_DAYS {
            if why.contains_key(&i) {
                *after.entry(l.cost.currency).or_default() += l.cost.amount;
            }
            continue;
        }
        if day < 1 {
            continue;
        }
        let (linked, auto_reason) = match why.get(&i) {
            Some(w) => (true, w.clone()),
            None => (
                false,
                "ordinary use: its resource, meter and region were all in use before the incident"
                    .to_string(),
            ),
        };
        let (included, reason, by) = match overrides.get(&l.id) {
            Some(o) => (o.included, o.reason.clone(), Some(o.by.clone())),
            None => (linked, auto_reason, None),
        };
        sel.lines.push(ClaimLine {
            line: l.clone(),
            day,
            included,
            reason,
            linked,
            overridden_by: by,
        });
    }
    sel.lines
        .sort_by(|a, b| (a.line.usage_date, &a.line.id).cmp(&(b.line.usage_date, &b.line.id)));
    let ids: BTreeSet<&str> = sel.lines.iter().map(|l| l.line.id.as_str()).collect();
    sel.unmatched_overrides = overrides
        .keys()
        .filter(|k| !ids.contains(k.as_str()))
        .cloned()
        .collect();
    sel.linked_after_window = after.into_iter().map(|(c, a)| Money::new(a, c)).collect();
    sel
}

impl Selection {
    /// The line with this ID, or the only one starting with it (at least 6 characters).
    pub fn find(&self, id: &str) -> Result<&ClaimLine, ClaimError> {
        let id = id.to_ascii_lowercase();
        let hits: Vec<&ClaimLine> = self
            .lines
            .iter()
            .filter(|l| id.len() >= 6 && l.line.id.starts_with(&id))
            .collect();
        match hits.as_slice() {
            [one] => Ok(one),
            _ => Err(ClaimError::UnknownLine(id)),
        }
    }

    /// Totals of the included lines.
    pub fn totals(&self) -> Result<Totals, ClaimError> {
        Totals::of(self.lines.iter().filter(|l| l.included).map(|l| &l.line))
    }
}

/// One group of a total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub key: String,
    pub total: Money,
    pub lines: u64,
}

/// What the claim adds up to, by dimension (each sorted by key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// `None` when no line is included.
    pub total: Option<Money>,
    pub lines: u64,
    pub by_day: Vec<Bucket>,
    pub by_subscription: Vec<Bucket>,
    pub by_resource: Vec<Bucket>,
    pub by_meter: Vec<Bucket>,
    pub by_region: Vec<Bucket>,
}

impl Totals {
    pub fn of<'a>(lines: impl Iterator<Item = &'a ChargeLine>) -> Result<Totals, ClaimError> {
        let mut currency: Option<Currency> = None;
        let mut total = Decimal::ZERO;
        let mut n = 0u64;
        let mut dims: [BTreeMap<String, (Decimal, u64)>; 5] = Default::default();
        for l in lines {
            match currency {
                None => currency = Some(l.cost.currency),
                Some(c) if c != l.cost.currency => {
                    return Err(ClaimError::MixedCurrencies(c, l.cost.currency))
                }
                Some(_) => {}
            }
            total += l.cost.amount;
            n += 1;
            let keys = [
                l.usage_date.to_string(),
                l.azure_subscription_id.clone(),
                l.resource_id
                    .clone()
                    .unwrap_or_else(|| "(no resource)".into()),
                l.meter_label(),
                l.region.clone(),
            ];
            for (d, k) in dims.iter_mut().zip(keys) {
                let e = d.entry(k).or_default();
                e.0 += l.cost.amount;
                e.1 += 1;
            }
        }
        let bucket = |m: BTreeMap<String, (Decimal, u64)>, c: Currency| -> Vec<Bucket> {
            m.into_iter()
                .map(|(key, (a, lines))| Bucket {
                    key,
                    total: Money::new(a, c),
                    lines,
                })
                .collect()
        };
        let Some(c) = currency else {
            return Ok(Totals {
                total: None,
                lines: 0,
                by_day: vec![],
                by_subscription: vec![],
                by_resource: vec![],
                by_meter: vec![],
                by_region: vec![],
            });
        };
        let [day, sub, res, meter, region] = dims;
        Ok(Totals {
            total: Some(Money::new(total, c)),
            lines: n,
            by_day: bucket(day, c),
            by_subscription: bucket(sub, c),
            by_resource: bucket(res, c),
            by_meter: bucket(meter, c),
            by_region: bucket(region, c),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn line(id: &str, date: &str, res: &str, meter: &str, region: &str, cost: &str) -> ChargeLine {
        ChargeLine {
            id: id.into(),
            usage_date: d(date),
            azure_subscription_id: "sub".into(),
            billing_subscription_id: "plan".into(),
            resource_id: Some(res.into()),
            meter_id: meter.into(),
            meter_category: "Virtual Machines".into(),
            meter_name: meter.into(),
            region: region.into(),
            product_id: "DZH318Z0BQPS".into(),
            sku_name: "Azure plan".into(),
            charge_type: "new".into(),
            quantity: Decimal::ONE,
            cost: Money::parse(cost, "USD").unwrap(),
        }
    }

    fn incident(first_evidence: &str, named: &[&str]) -> Incident {
        Incident {
            resource_ids: named.iter().map(|s| s.to_string()).collect(),
            first_evidence: d(first_evidence),
            first_usage_override: None,
        }
    }

    fn sel(lines: &[ChargeLine], inc: &Incident) -> Selection {
        select(lines, inc, &SelectConfig::default(), &BTreeMap::new())
    }

    #[test]
    fn day_one_is_the_first_date_and_day_thirty_is_the_last() {
        let f = d("2026-09-06");
        assert_eq!(day_number(f, f), 1);
        assert_eq!(claim_last_day(f), d("2026-10-05"));
        assert!(in_claim_window(f, d("2026-10-05")));
        assert!(!in_claim_window(f, d("2026-10-06")));
        assert!(!in_claim_window(f, d("2026-09-05")));
    }

    #[test]
    fn charges_on_day_30_are_claimed_and_day_31_are_not() {
        let mut lines = vec![line("a1", "2026-09-01", "/r/gpu", "gpu", "uksouth", "100")];
        lines.push(line("a30", "2026-09-30", "/r/gpu", "gpu", "uksouth", "30"));
        lines.push(line("a31", "2026-10-01", "/r/gpu", "gpu", "uksouth", "31"));
        let s = sel(&lines, &incident("2026-09-01", &[]));
        assert_eq!(s.first_fraudulent_usage, Some(d("2026-09-01")));
        let ids: Vec<(&str, i64)> = s
            .lines
            .iter()
            .map(|l| (l.line.id.as_str(), l.day))
            .collect();
        assert_eq!(ids, vec![("a1", 1), ("a30", 30)]);
        assert_eq!(
            s.totals().unwrap().total,
            Some(Money::parse("130", "USD").unwrap())
        );
        assert_eq!(
            s.linked_after_window,
            vec![Money::parse("31", "USD").unwrap()]
        );
    }

    #[test]
    fn ordinary_use_is_excluded_and_new_meters_regions_and_named_resources_are_included() {
        let lines = vec![
            // Baseline: the customer's web VM in westeurope.
            line("b1", "2026-08-10", "/r/web", "d2", "westeurope", "5"),
            line("b2", "2026-09-07", "/r/web", "d2", "westeurope", "5"),
            // A new GPU meter.
            line("g1", "2026-09-06", "/r/miner1", "nc24", "westeurope", "900"),
            // A new VM on a known meter in a new region.
            line("r1", "2026-09-08", "/r/miner2", "d2", "koreacentral", "50"),
            // A new VM on a known meter and region: ordinary unless named.
            line("n1", "2026-09-08", "/r/web2", "d2", "westeurope", "7"),
            // Named in the alerts, though on a known meter and region.
            line("x1", "2026-09-09", "/R/MINER3", "d2", "westeurope", "11"),
        ];
        let s = sel(&lines, &incident("2026-09-07", &["/r/miner3"]));
        assert_eq!(s.first_fraudulent_usage, Some(d("2026-09-06")));
        let inc: Vec<&str> = s
            .lines
            .iter()
            .filter(|l| l.included)
            .map(|l| l.line.id.as_str())
            .collect();
        assert_eq!(inc, vec!["g1", "r1", "x1"]);
        let why = |id: &str| {
            s.lines
                .iter()
                .find(|l| l.line.id == id)
                .unwrap()
                .reason
                .clone()
        };
        assert!(why("g1").starts_with("meter Virtual Machines / nc24 first seen on 2026-09-06"));
        assert!(why("r1").starts_with("region koreacentral first seen on 2026-09-08"));
        assert!(why("x1").contains("named in the case's alerts"));
        assert!(why("n1").starts_with("ordinary use"));
        let t = s.totals().unwrap();
        assert_eq!(t.total, Some(Money::parse("961", "USD").unwrap()));
        assert_eq!(t.by_day.len(), 3);
        assert_eq!(
            t.by_region
                .iter()
                .map(|b| b.key.as_str())
                .collect::<Vec<_>>(),
            vec!["koreacentral", "westeurope"]
        );
        assert_eq!(t.by_resource.len(), 3);
        assert_eq!(t.by_meter.len(), 2);
    }

    #[test]
    fn a_late_alert_naming_a_new_resource_moves_the_start_back_but_an_old_one_does_not() {
        let lines = vec![
            line("b1", "2026-08-10", "/r/web", "d2", "westeurope", "5"),
            // The miner runs from 09-01; the only alert (Microsoft's) comes on 09-07 and names it.
            line("m1", "2026-09-01", "/r/miner", "nc24", "westeurope", "100"),
            line("m2", "2026-09-02", "/r/miner2", "nd96", "uksouth", "100"),
            line("m3", "2026-09-07", "/r/miner", "nc24", "westeurope", "100"),
        ];
        let s = sel(&lines, &incident("2026-09-07", &["/r/miner"]));
        assert_eq!(s.incident_start, d("2026-09-01"));
        assert_eq!(s.first_fraudulent_usage, Some(d("2026-09-01")));
        assert_eq!(
            s.totals().unwrap().lines,
            3,
            "m2: a new meter once the start moved"
        );
        // A named resource in use since long before (the attacker reused it) does not move the start.
        let s = sel(&lines, &incident("2026-09-07", &["/r/web"]));
        assert_eq!(s.incident_start, d("2026-09-05"));
        // ...so the miner, running since 09-01, is baseline use and nothing is linked...
        assert_eq!(s.first_fraudulent_usage, None);
        // ...until a person sets the date; then the window's lines are listed for them to include.
        let mut inc = incident("2026-09-07", &["/r/web"]);
        inc.first_usage_override = Some((
            d("2026-09-01"),
            "Microsoft's alert: mining since 09-01".into(),
        ));
        let s = sel(&lines, &inc);
        assert_eq!(s.first_fraudulent_usage, Some(d("2026-09-01")));
        assert!(
            s.how
                .starts_with("set by a person to 2026-09-01: Microsoft's alert"),
            "{}",
            s.how
        );
        assert_eq!(s.lines.len(), 3);
        assert_eq!(s.lines[0].day, 1);
    }

    #[test]
    fn overrides_exclude_and_include_lines_with_the_persons_reason() {
        let lines = vec![
            line("b1", "2026-08-10", "/r/web", "d2", "westeurope", "5"),
            line("b2", "2026-09-07", "/r/web", "d2", "westeurope", "5"),
            line("g1", "2026-09-06", "/r/miner1", "nc24", "westeurope", "900"),
        ];
        let mut o = BTreeMap::new();
        let at = "2026-09-20T00:00:00Z".parse().unwrap();
        o.insert(
            "g1".to_string(),
            Override {
                included: false,
                reason: "customer's own test".into(),
                by: "ana".into(),
                at,
            },
        );
        o.insert(
            "b2".to_string(),
            Override {
                included: true,
                reason: "attacker used it".into(),
                by: "ana".into(),
                at,
            },
        );
        o.insert(
            "zz".to_string(),
            Override {
                included: true,
                reason: "gone".into(),
                by: "ana".into(),
                at,
            },
        );
        let s = select(
            &lines,
            &incident("2026-09-07", &[]),
            &SelectConfig::default(),
            &o,
        );
        let g1 = s.find("g1").unwrap_err();
        assert_eq!(
            g1,
            ClaimError::UnknownLine("g1".into()),
            "IDs shorter than 6 are refused"
        );
        let g = s.lines.iter().find(|l| l.line.id == "g1").unwrap();
        assert!(!g.included && g.linked && g.reason == "customer's own test");
        let b = s.lines.iter().find(|l| l.line.id == "b2").unwrap();
        assert!(b.included && !b.linked && b.overridden_by.as_deref() == Some("ana"));
        assert_eq!(s.unmatched_overrides, vec!["zz".to_string()]);
        assert_eq!(
            s.totals().unwrap().total,
            Some(Money::parse("5", "USD").unwrap())
        );
    }

    #[test]
    fn no_linked_usage_means_no_date_and_no_lines() {
        let lines = vec![
            line("b1", "2026-08-10", "/r/web", "d2", "westeurope", "5"),
            line("b2", "2026-09-07", "/r/web", "d2", "westeurope", "5"),
        ];
        let s = sel(&lines, &incident("2026-09-07", &[]));
        assert_eq!(s.first_fraudulent_usage, None);
        assert!(s.lines.is_empty());
        assert_eq!(s.totals().unwrap().total, None);
    }

    #[test]
    fn mixed_currencies_are_refused() {
        let mut a = line("a", "2026-09-06", "/r/m", "nc", "x", "1");
        let b = line("b", "2026-09-06", "/r/m", "nc", "x", "1");
        a.cost = Money::parse("1", "EUR").unwrap();
        assert!(matches!(
            Totals::of([&a, &b].into_iter()),
            Err(ClaimError::MixedCurrencies(..))
        ));
    }
}
