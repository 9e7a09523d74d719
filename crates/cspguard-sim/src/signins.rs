//! Entra sign-in logs per customer tenant (`signins/<tenant>.json`, Graph `auditLogs/signIns` pages, newest
//! first): ordinary business-hours activity from the customer's city with stable office and home addresses,
//! occasional failures, token refreshes and legacy mail clients, trips abroad, plus the sign-ins injected by
//! incidents.

use serde::Serialize;

use crate::catalog::{
    Place, APPS, APP_EXCHANGE, APP_OFFICE, APP_OFFICE_HOME, APP_PORTAL, APP_SHAREPOINT, APP_TEAMS,
};
use crate::model::{Customer, Risk, SignIn, World, RISK_NONE};
use crate::out::{write_lines, Output};
use crate::rng::{between, chance, guid, index, rng_for, tag, weighted, SimRng};
use crate::time::{is_weekend, ts_z, DAY};
use crate::world::local_ts;
use crate::SimError;

const CONTEXT: &str =
    "\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns\",";

/// Risk of a sign-in abroad that passed the MFA challenge the risk policy asked for.
const RISK_TRAVEL: Risk = Risk {
    detail: "userPassedMFADrivenByRiskBasedPolicy",
    aggregated: "low",
    during: "low",
    state: "remediated",
    events: &["unfamiliarFeatures"],
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignInJson<'a> {
    id: String,
    created_date_time: String,
    user_principal_name: &'a str,
    user_id: &'a str,
    user_display_name: &'a str,
    app_id: &'a str,
    app_display_name: &'a str,
    ip_address: &'a str,
    client_app_used: &'a str,
    conditional_access_status: &'a str,
    is_interactive: bool,
    risk_detail: &'a str,
    risk_level_aggregated: &'a str,
    risk_level_during_sign_in: &'a str,
    risk_state: &'a str,
    #[serde(rename = "riskEventTypes_v2")]
    risk_event_types_v2: &'a [&'a str],
    resource_tenant_id: &'a str,
    home_tenant_id: &'a str,
    status: Status,
    location: Location<'a>,
    device_detail: Device<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    error_code: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    city: &'a str,
    state: &'a str,
    country_or_region: &'a str,
    geo_coordinates: Geo,
}

#[derive(Serialize)]
struct Geo {
    latitude: f64,
    longitude: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Device<'a> {
    operating_system: &'a str,
    browser: &'a str,
}

fn failure_reason(code: u32) -> Option<&'static str> {
    match code {
        0 => None,
        50126 => Some("Invalid username or password."),
        50074 => Some("Strong Authentication is required."),
        50053 => Some("Account is locked because user tried to sign in too many times with an incorrect user ID or password."),
        _ => Some("Other."),
    }
}

/// Ordinary sign-ins of one customer over the window.
fn ordinary(c: &Customer, w: &World) -> Vec<SignIn> {
    let win = w.win;
    let rng = &mut rng_for(w.seed, tag::SIGNIN, c.idx as u64);
    let mut out = Vec::new();
    let first_day = win.start_day.max(c.created.div_euclid(DAY));
    let ca = if c.mfa { "success" } else { "notApplied" };
    for day in first_day..win.end_day() {
        let weekend = is_weekend(day);
        for (u, user) in c.users.iter().enumerate() {
            if user.works <= 0.0 {
                continue;
            }
            let trip = c
                .trips
                .iter()
                .find(|t| t.user == u && t.from < (day + 1) * DAY && t.to > day * DAY);
            let p = match (trip.is_some(), weekend) {
                (true, false) => 0.9,
                (true, true) => 0.5,
                (false, false) => user.works,
                (false, true) => user.works * 0.06,
            };
            if !chance(rng, p) {
                continue;
            }
            let place: Place = trip.map_or(c.city, |t| t.place);
            let pick_ip = |rng: &mut SimRng| -> String {
                if let Some(t) = trip {
                    t.ip.clone()
                } else if !c.office_ips.is_empty() && chance(rng, 0.75) {
                    c.office_ips[index(rng, c.office_ips.len())].clone()
                } else {
                    user.home_ip.clone()
                }
            };
            let in_trip = |ts: i64| trip.is_none_or(|t| ts >= t.from && ts < t.to);
            let n = between(rng, 1, 2) + i64::from(user.admin && chance(rng, 0.4));
            for k in 0..n {
                let ts = local_ts(rng, day, place.utc_min, 7.5, 18.5);
                if !in_trip(ts) {
                    continue;
                }
                let app = if user.admin && k == n - 1 && n > 1 {
                    APP_PORTAL
                } else {
                    [
                        APP_OFFICE_HOME,
                        APP_TEAMS,
                        APP_OFFICE,
                        APP_SHAREPOINT,
                        APP_EXCHANGE,
                    ][weighted(rng, &[3, 3, 2, 1, 2])]
                };
                let client = match app {
                    APP_TEAMS | APP_OFFICE | APP_EXCHANGE => "Mobile Apps and Desktop clients",
                    _ => "Browser",
                };
                let ip = pick_ip(rng);
                let risk = if trip.is_some() && chance(rng, 0.3) {
                    RISK_TRAVEL
                } else {
                    RISK_NONE
                };
                let base = SignIn {
                    ts,
                    user: u,
                    app,
                    ip,
                    client,
                    ca_status: ca,
                    interactive: true,
                    risk,
                    error: 0,
                    place,
                    device: user.device,
                };
                if chance(rng, 0.025) {
                    out.push(SignIn {
                        ts: ts - between(rng, 10, 120),
                        ca_status: "notApplied",
                        error: 50126,
                        ip: base.ip.clone(),
                        ..base
                    });
                } else if c.mfa && chance(rng, 0.01) {
                    out.push(SignIn {
                        ts: ts - between(rng, 20, 90),
                        ca_status: "failure",
                        error: 50074,
                        ip: base.ip.clone(),
                        ..base
                    });
                }
                out.push(base);
            }
            // Background token refreshes of desktop and mobile apps.
            if chance(rng, 0.6) {
                let ts = local_ts(rng, day, place.utc_min, 7.0, 20.0);
                if in_trip(ts) {
                    out.push(SignIn {
                        ts,
                        user: u,
                        app: [APP_TEAMS, APP_EXCHANGE, APP_OFFICE][index(rng, 3)],
                        ip: pick_ip(rng),
                        client: "Mobile Apps and Desktop clients",
                        ca_status: ca,
                        interactive: false,
                        risk: RISK_NONE,
                        error: 0,
                        place,
                        device: user.device,
                    });
                }
            }
            if let Some(legacy) = user.legacy {
                if trip.is_none() && chance(rng, 0.5) {
                    out.push(SignIn {
                        ts: local_ts(rng, day, place.utc_min, 6.0, 22.0),
                        user: u,
                        app: APP_EXCHANGE,
                        ip: user.home_ip.clone(),
                        client: legacy,
                        ca_status: "notApplied",
                        interactive: false,
                        risk: RISK_NONE,
                        error: 0,
                        place,
                        device: ("", ""),
                    });
                }
            }
        }
    }
    out
}

/// Writes one file per customer; returns the number of sign-ins written.
pub(crate) fn write(w: &World, out: &mut Output) -> Result<u64, SimError> {
    out.dir("signins")?;
    let mut total = 0u64;
    let (start, end) = (w.win.start_ts(), w.win.end_ts());
    for c in &w.customers {
        let mut all = ordinary(c, w);
        all.extend(c.extra_signins.iter().map(|s| SignIn {
            ip: s.ip.clone(),
            ..*s
        }));
        all.retain(|s| s.ts >= start && s.ts < end && s.user < c.users.len());
        all.sort_by_key(|s| std::cmp::Reverse(s.ts));
        let ids = &mut rng_for(w.seed, tag::SIGNIN, (1 << 40) | c.idx as u64);
        let items: Vec<SignInJson<'_>> = all
            .iter()
            .map(|s| {
                let user = &c.users[s.user];
                let app = &APPS[s.app];
                SignInJson {
                    id: guid(ids),
                    created_date_time: ts_z(s.ts),
                    user_principal_name: &user.upn,
                    user_id: &user.id,
                    user_display_name: &user.display,
                    app_id: app.id,
                    app_display_name: app.name,
                    ip_address: &s.ip,
                    client_app_used: s.client,
                    conditional_access_status: s.ca_status,
                    is_interactive: s.interactive,
                    risk_detail: s.risk.detail,
                    risk_level_aggregated: s.risk.aggregated,
                    risk_level_during_sign_in: s.risk.during,
                    risk_state: s.risk.state,
                    risk_event_types_v2: s.risk.events,
                    resource_tenant_id: &c.tenant,
                    home_tenant_id: &c.tenant,
                    status: Status {
                        error_code: s.error,
                        failure_reason: failure_reason(s.error),
                    },
                    location: Location {
                        city: s.place.city,
                        state: s.place.state,
                        country_or_region: s.place.country,
                        geo_coordinates: Geo {
                            latitude: s.place.lat,
                            longitude: s.place.lon,
                        },
                    },
                    device_detail: Device {
                        operating_system: s.device.0,
                        browser: s.device.1,
                    },
                }
            })
            .collect();
        total += items.len() as u64;
        out.write(&format!("signins/{}.json", c.tenant), |f| {
            write_lines(f, CONTEXT, "value", items)
        })?;
    }
    out.prune("signins", is_guid_json)?;
    Ok(total)
}

/// `<guid>.json`.
pub(crate) fn is_guid_json(name: &str) -> bool {
    name.len() == 41
        && name.ends_with(".json")
        && name[..36]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '-')
}
