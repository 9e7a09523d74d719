//! Microsoft fraud alerts (`fraud_events.json`, Partner Center `GET /v1/fraudEvents`), mixing the older model
//! (no eventType, severity, ...) and the new events model, with the quirks of Microsoft's own samples: open events
//! carry resolvedReason "None" and the resolvedOn sentinel, some write `IsTest` instead of `isTest`, and
//! `activityLogs` is a string holding a JSON array.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::World;
use crate::out::{write_pretty, Output};
use crate::time::{ts_plain, ts_plain_cs, HOUR};
use crate::SimError;

const OPEN_RESOLVED_ON: &str = "9999-12-31T23:59:59.9970000";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<'a> {
    total_count: usize,
    items: Vec<EventJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Affected<'a> {
    azure_resource_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogEntry<'a> {
    status_from: &'a str,
    status_to: &'a str,
    updated_by: &'a str,
    date_time: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventJson<'a> {
    event_time: String,
    event_id: String,
    partner_tenant_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    partner_friendly_name: Option<&'a str>,
    customer_tenant_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_friendly_name: Option<&'a str>,
    subscription_id: &'a str,
    subscription_type: &'a str,
    entity_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_url: Option<&'a str>,
    hit_count: String,
    catalog_offer_id: &'a str,
    event_status: &'a str,
    service_name: &'a str,
    resource_name: &'a str,
    resource_group_name: &'a str,
    first_occurrence: String,
    last_occurrence: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_observed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_observed: Option<String>,
    resolved_reason: &'a str,
    resolved_on: String,
    resolved_by: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence_level: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_added_reseller_tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_added_reseller_friendly_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    affected_resources: Option<Vec<Affected<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_details: Option<BTreeMap<&'a str, &'a str>>,
    #[serde(rename = "isTest", skip_serializing_if = "Option::is_none")]
    is_test: Option<&'a str>,
    #[serde(rename = "IsTest", skip_serializing_if = "Option::is_none")]
    is_test_upper: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    activity_logs: Option<String>,
}

/// Writes `fraud_events.json`; returns the number of events.
pub(crate) fn write(w: &World, out: &mut Output) -> Result<u64, SimError> {
    let end = w.win.end_ts();
    let mut events: Vec<_> = w.fraud.iter().filter(|e| e.event_time < end).collect();
    events.sort_by_key(|e| (e.event_time, e.cust));
    let items: Vec<EventJson<'_>> = events
        .iter()
        .map(|e| {
            let c = &w.customers[e.cust];
            let sub = &c.subs[e.sub];
            let reseller = c.reseller.map(|r| &w.resellers[r]);
            let nm = e.new_model.as_ref();
            let full = nm.is_none_or(|m| m.full);
            let log = nm.map(|_| {
                let mut entries = Vec::new();
                if e.status == "Investigating" {
                    entries.push(LogEntry {
                        status_from: "Active",
                        status_to: "Investigating",
                        updated_by: "secops@fabrikamcloud.onmicrosoft.com",
                        date_time: ts_plain((e.event_time + 2 * HOUR).min(end - 1)),
                    });
                }
                if let Some(at) = e.resolved_on {
                    entries.push(LogEntry {
                        status_from: "Active",
                        status_to: "Resolved",
                        updated_by: &e.resolved_by,
                        date_time: ts_plain(at),
                    });
                }
                serde_json::to_string(&entries).unwrap_or_else(|_| "[]".to_string())
            });
            let is_test = nm.map(|m| m.upper_is_test);
            EventJson {
                event_time: ts_plain_cs(e.event_time, e.event_cs),
                event_id: format!("{}_{}", sub.id, e.entity_id),
                partner_tenant_id: &w.partner.tenant,
                partner_friendly_name: full.then_some(w.partner.name),
                customer_tenant_id: &c.tenant,
                customer_friendly_name: full.then_some(c.name.as_str()),
                subscription_id: &sub.id,
                subscription_type: "modern",
                entity_id: &e.entity_id,
                entity_name: full.then_some(e.entity_name.as_str()),
                entity_url: full.then_some(""),
                hit_count: e.hit_count.to_string(),
                catalog_offer_id: "ms-azr-17g",
                event_status: e.status,
                service_name: e.service,
                resource_name: &e.entity_name,
                resource_group_name: &e.rg,
                first_occurrence: ts_plain(e.first_occ),
                last_occurrence: ts_plain(e.last_occ),
                first_observed: full.then(|| ts_plain(e.first_occ + 20 * 60)),
                last_observed: full.then(|| ts_plain(e.last_occ)),
                resolved_reason: e.resolved_reason,
                resolved_on: e
                    .resolved_on
                    .map_or_else(|| OPEN_RESOLVED_ON.to_string(), ts_plain),
                resolved_by: &e.resolved_by,
                event_type: nm.map(|m| m.event_type),
                severity: nm.map(|m| m.severity),
                confidence_level: nm.map(|m| m.confidence),
                display_name: nm.filter(|m| m.full).map(|m| m.display_name),
                description: nm.filter(|m| m.full).map(|m| m.description),
                country: nm.filter(|m| m.full).map(|m| m.country),
                value_added_reseller_tenant_id: nm
                    .filter(|m| m.full)
                    .map(|_| reseller.map_or("", |r| r.tenant.as_str())),
                value_added_reseller_friendly_name: nm
                    .filter(|m| m.full)
                    .map(|_| reseller.map_or("", |r| r.name)),
                subscription_name: nm.filter(|m| m.full).map(|_| sub.name.as_str()),
                affected_resources: nm.map(|m| {
                    if m.with_affected && !e.resource_uri.is_empty() {
                        vec![Affected {
                            azure_resource_id: &e.resource_uri,
                            kind: &e.resource_type,
                        }]
                    } else {
                        Vec::new()
                    }
                }),
                additional_details: nm
                    .map(|m| m.details.iter().map(|(k, v)| (*k, v.as_str())).collect()),
                is_test: is_test.filter(|upper| !upper).map(|_| "false"),
                is_test_upper: is_test.filter(|upper| *upper).map(|_| "false"),
                activity_logs: log,
            }
        })
        .collect();
    let count = items.len();
    let page = Page {
        total_count: count,
        items,
    };
    out.write("fraud_events.json", |f| write_pretty(f, &page))?;
    Ok(count as u64)
}
