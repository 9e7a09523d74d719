//! Partner Center Azure fraud events (`GET /v1/fraudEvents`), both events models.
//!
//! Each record becomes a [`FraudAlert`] snapshot (keyed by event ID plus the fields that change as Microsoft updates it,
//! so a later pull with a new status or hit count is a new fact and a re-pull is not), and one
//! [`FraudAlertStatusChange`] per entry of its `activityLogs`. Unknown `eventType`s are kept verbatim.

use crate::fields::{is_sentinel, FieldError, Obj};
use crate::json_source::JsonShape;
use crate::{ImportOptions, SourceKind};
use cspguard_domain::{
    AzureSubscriptionId, Envelope, Event, EventKind, FraudAlert, FraudAlertStatusChange,
    FraudEventId, IdempotencyKey, ResourceId, SourceRef, TenantId,
};
use std::collections::BTreeMap;

pub(crate) struct FraudEvents;

impl JsonShape for FraudEvents {
    fn kind(&self) -> SourceKind {
        SourceKind::FraudEvents
    }
    fn looks_like(&self, o: &Obj) -> bool {
        o.has("eventid") || (o.has("customertenantid") && o.has("eventstatus"))
    }
    fn expected(&self) -> &'static str {
        "eventId or customerTenantId/eventStatus keys"
    }

    fn convert(
        &self,
        o: Obj,
        opts: &ImportOptions,
        line: u64,
    ) -> Result<Vec<Envelope>, FieldError> {
        let customer = TenantId::parse(&o.str("customertenantid")?)
            .map_err(|e| FieldError::new("customerTenantId", e.to_string()))?;
        let sub = AzureSubscriptionId::parse(&o.str("subscriptionid")?)
            .map_err(|e| FieldError::new("subscriptionId", e.to_string()))?;
        let id = match o.opt_str("eventid") {
            Some(id) => id,
            None => format!("{}_{}", sub, o.str("entityid")?),
        };
        let id = FraudEventId::parse(&id).map_err(|e| FieldError::new("eventId", e.to_string()))?;
        let event_time = o.instant("eventtime")?;
        let resolved_on = o.opt_instant("resolvedon")?.filter(|t| !is_sentinel(t));
        let resolved_reason = o
            .opt_str("resolvedreason")
            .filter(|r| !r.eq_ignore_ascii_case("none"));
        let status = o.str("eventstatus")?;
        let mut affected = Vec::new();
        if let Some(serde_json::Value::Array(items)) = o.get("affectedresources") {
            for it in items {
                if let Some(r) =
                    Obj::from_value(it.clone()).and_then(|r| r.opt_str("azureresourceid"))
                {
                    affected.push(
                        ResourceId::parse(&r)
                            .map_err(|e| FieldError::new("affectedResources", e.to_string()))?,
                    );
                }
            }
        }
        let mut details = BTreeMap::new();
        if let Some(serde_json::Value::Object(d)) = o.get("additionaldetails") {
            for (k, v) in d {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                details.insert(k.clone(), text);
            }
        }
        let is_test = o.opt_bool("istest")?.unwrap_or(false);
        let mut status_changes = Vec::new();
        if let Some(logs) = o.opt_str("activitylogs") {
            let parsed: serde_json::Value = serde_json::from_str(&logs).map_err(|e| {
                FieldError::new("activityLogs", format!("not a JSON array in a string: {e}"))
            })?;
            if let serde_json::Value::Array(entries) = parsed {
                for entry in entries {
                    let Some(eo) = Obj::from_value(entry) else {
                        continue;
                    };
                    status_changes.push(FraudAlertStatusChange {
                        alert: id.clone(),
                        customer: Some(customer.clone()),
                        at: eo
                            .instant("datetime")
                            .map_err(|e| FieldError::new("activityLogs", e.to_string()))?,
                        from: eo.opt_str("statusfrom").unwrap_or_default(),
                        to: eo.opt_str("statusto").unwrap_or_default(),
                        by: eo.opt_str("updatedby"),
                    });
                }
            }
        }
        let alert = FraudAlert {
            id: id.clone(),
            customer: customer.clone(),
            azure_subscription: sub,
            event_time,
            event_type: o.opt_str("eventtype"),
            severity: o.opt_str("severity"),
            confidence: o.opt_str("confidencelevel"),
            status: status.clone(),
            resolved_reason: resolved_reason.clone(),
            resolved_on,
            resolved_by: o.opt_str("resolvedby"),
            first_occurrence: o.opt_instant("firstoccurrence")?,
            last_occurrence: o.opt_instant("lastoccurrence")?,
            first_observed: o.opt_instant("firstobserved")?,
            last_observed: o.opt_instant("lastobserved")?,
            hit_count: o.opt_i64("hitcount")?,
            service_name: o.opt_str("servicename"),
            resource_name: o.opt_str("resourcename"),
            resource_group: o.opt_str("resourcegroupname"),
            display_name: o.opt_str("displayname"),
            description: o.opt_str("description"),
            country: o.opt_str("country"),
            reseller_tenant: o.opt_str("valueaddedresellertenantid"),
            affected_resources: affected,
            details,
            is_test,
        };
        // The snapshot is known when Microsoft last changed it.
        let known_at = [
            Some(event_time),
            resolved_on,
            status_changes.iter().map(|c| c.at).max(),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(event_time);
        let source = SourceRef {
            origin: opts.origin.clone(),
            line: Some(line),
        };
        let hit = alert.hit_count.unwrap_or(-1).to_le_bytes();
        let last = alert
            .last_observed
            .or(alert.last_occurrence)
            .map(|t| t.timestamp_micros())
            .unwrap_or(0)
            .to_le_bytes();
        let key = IdempotencyKey::derive(
            EventKind::FraudAlert,
            &[
                id.as_str().as_bytes(),
                status.to_ascii_lowercase().as_bytes(),
                resolved_reason
                    .as_deref()
                    .unwrap_or("")
                    .to_ascii_lowercase()
                    .as_bytes(),
                &hit,
                &last,
            ],
        );
        let mut out = vec![Envelope {
            key,
            event_time: known_at,
            source: source.clone(),
            event: Event::FraudAlert(alert),
        }];
        for c in status_changes {
            let key = IdempotencyKey::derive(
                EventKind::FraudAlertStatus,
                &[
                    c.alert.as_str().as_bytes(),
                    &c.at.timestamp_micros().to_le_bytes(),
                    c.from.as_bytes(),
                    c.to.as_bytes(),
                ],
            );
            out.push(Envelope {
                key,
                event_time: c.at,
                source: source.clone(),
                event: Event::FraudAlertStatus(c),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{example, run};
    use crate::SourceKind;
    use cspguard_domain::Event;

    #[test]
    fn both_models_from_the_example() {
        let c = run(SourceKind::FraudEvents, &example("fraud_events.json"), None).unwrap();
        assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        let alerts: Vec<_> = c
            .events
            .iter()
            .filter_map(|e| match &e.event {
                Event::FraudAlert(a) => Some(a),
                _ => None,
            })
            .collect();
        assert_eq!(alerts.len(), 2);
        let a = alerts[0];
        assert_eq!(a.event_type.as_deref(), Some("CryptoMining"));
        assert_eq!(a.resolved_on, None, "the 9999 sentinel means open");
        assert_eq!(a.resolved_reason, None);
        assert_eq!(a.hit_count, Some(412));
        assert_eq!(a.affected_resources.len(), 1);
        assert_eq!(
            a.details.get("connectionCount").map(String::as_str),
            Some("412")
        );
        assert_eq!(alerts[1].resolved_reason.as_deref(), Some("Legitimate"));
        // The resolved one carries one status change from its activityLogs.
        assert_eq!(
            c.events
                .iter()
                .filter(|e| matches!(e.event, Event::FraudAlertStatus(_)))
                .count(),
            1
        );
    }

    #[test]
    fn older_model_and_unknown_types_are_kept() {
        let input = r#"[{"eventTime":"2026-10-01T00:00:00","eventId":"6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f_x",
            "customerTenantId":"3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01","subscriptionId":"6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f",
            "eventStatus":"Active","hitCount":"2"},
            {"eventTime":"2026-10-01T00:00:00","eventId":"6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f_y","eventType":"Brand_NewType",
            "customerTenantId":"3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01","subscriptionId":"6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f",
            "eventStatus":"Active","hitCount":"many"}]"#;
        let c = run(SourceKind::FraudEvents, input, None).unwrap();
        assert_eq!(c.events.len(), 1);
        assert_eq!(c.rejects.len(), 1);
        assert_eq!(c.rejects[0].field.as_deref(), Some("hitcount"));
    }

    #[test]
    fn a_sign_in_file_is_not_fraud_events() {
        let e = run(SourceKind::FraudEvents, &example("signins.json"), None)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("not a Partner Center fraud events JSON"),
            "{e}"
        );
    }
}
