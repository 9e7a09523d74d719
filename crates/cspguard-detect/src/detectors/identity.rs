//! Identity: Entra sign-ins. New countries for a user or the tenant, impossible travel, bursts of failed attempts
//! followed by a success, legacy protocols (IMAP, POP, SMTP, ActiveSync), and Entra's own risk levels.
//!
//! A new country alone is weak (people travel); it counts when other evidence joins it. The strongest single signal is
//! a success right after a burst of failures: the shape of a password spray or brute force that got in.

use crate::signal::{Family, Signal};
use crate::state::{insert_bounded, Output, TenantState};
use crate::DetectConfig;
use chrono::Duration;
use cspguard_domain::{Instant, SignIn, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Users remembered per tenant; past this the least recently seen is forgotten.
const MAX_USERS: usize = 512;
/// Failed attempts remembered per user.
const MAX_FAILURES: usize = 64;
/// Countries remembered per user.
const MAX_USER_COUNTRIES: usize = 16;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub users: BTreeMap<String, User>,
    /// Countries anyone in the tenant signed in from successfully.
    pub countries: BTreeSet<String>,
    pub successes: u64,
    /// The last sign-in that produced a signal, for correlating control-plane operations with it.
    pub last_risky: Option<RiskySignIn>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct User {
    pub countries: BTreeSet<String>,
    pub successes: u32,
    pub last_seen: Option<Instant>,
    pub last_success: Option<Place>,
    pub failures: VecDeque<Instant>,
    pub legacy_seen: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Place {
    pub at: Instant,
    pub country: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RiskySignIn {
    pub at: Instant,
    pub user: String,
    pub ip: Option<String>,
    pub country: Option<String>,
}

const LEGACY: [&str; 8] = [
    "imap",
    "pop",
    "smtp",
    "exchange activesync",
    "activesync",
    "other clients",
    "exchange web services",
    "autodiscover",
];

fn is_legacy(client: &str) -> bool {
    LEGACY.iter().any(|l| {
        client
            .as_bytes()
            .get(..l.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(l.as_bytes()))
    })
}

pub fn on_sign_in(
    st: &mut TenantState,
    tenant: &TenantId,
    s: &SignIn,
    cfg: &DetectConfig,
    out: &mut Output,
) {
    let id = &mut st.identity;
    // Lower-cased (most sources already send it so: then without a copy).
    let upn: std::borrow::Cow<str> = if s
        .user_principal_name
        .bytes()
        .any(|b| b.is_ascii_uppercase())
    {
        s.user_principal_name.to_ascii_lowercase().into()
    } else {
        s.user_principal_name.as_str().into()
    };
    let upn = upn.as_ref();
    let known = id.users.contains_key(upn);
    if !known && id.users.len() >= MAX_USERS {
        if let Some(oldest) = id
            .users
            .iter()
            .min_by_key(|(_, u)| u.last_seen)
            .map(|(k, _)| k.clone())
        {
            id.users.remove(&oldest);
        }
    }
    let tenant_warm = id.successes >= u64::from(cfg.identity_warmup_sign_ins) * 2;
    if !known {
        id.users.insert(upn.to_string(), User::default());
    }
    let Some(user) = id.users.get_mut(upn) else {
        return;
    };
    user.last_seen = Some(user.last_seen.map_or(s.at, |l| l.max(s.at)));
    let country = s
        .location
        .as_ref()
        .and_then(|l| l.country.clone())
        .filter(|c| !c.is_empty());
    let window = Duration::minutes(cfg.failed_burst_minutes);
    while user.failures.front().is_some_and(|&f| s.at - f > window) {
        user.failures.pop_front();
    }
    let mut signals = Vec::new();
    let base = |detector: &str, points: u32, summary: String| {
        Signal::new(tenant, detector, Family::Identity, s.at, points, summary)
            .feature("user", upn.to_string())
            .feature("ip", s.ip_address.clone().unwrap_or_default())
            .feature("country", country.clone().unwrap_or_default())
    };

    if !s.succeeded() {
        if user.failures.len() >= MAX_FAILURES {
            user.failures.pop_front();
        }
        user.failures.push_back(s.at);
        // A burst in progress is reported once, when it reaches the count.
        if user.failures.len() == cfg.failed_burst_count.max(1) as usize * 2 {
            signals.push(
                base(
                    "identity.failed_burst",
                    15,
                    format!(
                        "{} failed sign-ins for {upn} within {} minutes",
                        user.failures.len(),
                        cfg.failed_burst_minutes
                    ),
                )
                .since(user.failures[0])
                .feature("failures", user.failures.len()),
            );
        }
    } else {
        let warm = user.successes >= cfg.identity_warmup_sign_ins;
        if user.failures.len() >= cfg.failed_burst_count.max(1) as usize {
            signals.push(
                base(
                    "identity.failed_burst_then_success",
                    45,
                    format!(
                        "{upn} signed in after {} failed attempts within {} minutes",
                        user.failures.len(),
                        cfg.failed_burst_minutes
                    ),
                )
                .since(user.failures[0])
                .feature("failures", user.failures.len()),
            );
        }
        user.failures.clear();
        let allowed = country.as_deref().is_some_and(|c| cfg.allow.country(c))
            || s.ip_address.as_deref().is_some_and(|ip| cfg.allow.ip(ip));
        if let Some(c) = country.as_ref().filter(|_| !allowed) {
            let new_for_user = warm && !user.countries.contains(c);
            let new_for_tenant = tenant_warm && !id.countries.contains(c);
            if new_for_user || new_for_tenant {
                let (points, whose) = if new_for_tenant {
                    (20, "the tenant")
                } else {
                    (10, "this user")
                };
                signals.push(
                    base(
                        "identity.new_country",
                        points,
                        format!("{upn} signed in from {c}, a country new for {whose}"),
                    )
                    .feature(
                        "known_countries",
                        user.countries.iter().cloned().collect::<Vec<_>>(),
                    ),
                );
            }
            if user.countries.len() < MAX_USER_COUNTRIES {
                user.countries.insert(c.clone());
            }
            insert_bounded(&mut id.countries, c);
        }
        let here = Place {
            at: s.at,
            country: country.clone(),
            lat: s.location.as_ref().and_then(|l| l.latitude),
            lon: s.location.as_ref().and_then(|l| l.longitude),
        };
        if let (Some(prev), Some(km)) = (
            &user.last_success,
            user.last_success
                .as_ref()
                .and_then(|p| distance_km(p, &here)),
        ) {
            let hours = ((s.at - prev.at).num_seconds().max(60) as f64) / 3600.0;
            let speed = km / hours;
            if km > 500.0 && speed > cfg.impossible_travel_kmh && s.at >= prev.at && !allowed {
                signals.push(
                    base(
                        "identity.impossible_travel",
                        35,
                        format!(
                            "{upn} signed in {km:.0} km from the previous sign-in {:.1} h earlier ({speed:.0} km/h)",
                            hours
                        ),
                    )
                    .since(prev.at)
                    .feature("distance_km", km.round())
                    .feature("speed_kmh", speed.round())
                    .feature("previous_country", prev.country.clone().unwrap_or_default()),
                );
            }
        }
        if user.last_success.as_ref().is_none_or(|p| p.at <= s.at) {
            user.last_success = Some(here);
        }
        if let Some(client) = s.client_app_used.as_deref().filter(|c| is_legacy(c)) {
            if !user.legacy_seen && warm {
                signals.push(
                    base(
                        "identity.legacy_protocol",
                        20,
                        format!(
                            "{upn} signed in over a legacy protocol ({client}), which skips MFA"
                        ),
                    )
                    .feature("client", client.to_string()),
                );
            }
            user.legacy_seen = true;
        }
        let risk = [
            s.risk_level_during_sign_in.as_deref(),
            s.risk_level_aggregated.as_deref(),
        ]
        .into_iter()
        .flatten()
        .map(|r| {
            if r.eq_ignore_ascii_case("high") {
                2
            } else if r.eq_ignore_ascii_case("medium") {
                1
            } else {
                0
            }
        })
        .max()
        .unwrap_or(0);
        if risk > 0 {
            let (points, level) = if risk == 2 {
                (40, "high")
            } else {
                (20, "medium")
            };
            signals.push(
                base(
                    "identity.entra_risk",
                    points,
                    format!("Entra rated {upn}'s successful sign-in {level} risk"),
                )
                .feature("risk_level", level)
                .feature("risk_event_types", s.risk_event_types.clone()),
            );
        }
        user.successes = user.successes.saturating_add(1);
        id.successes += 1;
    }
    // A sign-in is risky for what follows (role assignments, deployments) when its evidence together is not weak.
    let weight: u32 = signals.iter().map(|s| s.points).sum();
    if weight >= 30 && s.succeeded() {
        id.last_risky = Some(RiskySignIn {
            at: s.at,
            user: upn.to_string(),
            ip: s.ip_address.clone(),
            country: country.clone(),
        });
    }
    out.signals.extend(signals);
}

/// Great-circle distance between two places, where both have coordinates.
fn distance_km(a: &Place, b: &Place) -> Option<f64> {
    let (la1, lo1, la2, lo2) = (a.lat?, a.lon?, b.lat?, b.lon?);
    if ![la1, lo1, la2, lo2].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (p1, p2) = (la1.to_radians(), la2.to_radians());
    let dp = (la2 - la1).to_radians();
    let dl = (lo2 - lo1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    Some(2.0 * 6371.0 * h.sqrt().min(1.0).asin())
}
