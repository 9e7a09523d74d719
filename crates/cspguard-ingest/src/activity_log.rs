//! Azure activity log: the REST/CLI export (`EventData` objects) and the streamed export (`{"records": [...]}`).
//!
//! Both become [`ControlPlaneOp`]s with a lower-cased operation, a normalised status, and the region, SKU and instance
//! count read from the write's `requestbody` where it has one. REST events are keyed by `eventDataId`; streamed records,
//! which have none, by their correlation ID, operation, resource, time and result.

use crate::fields::{FieldError, Obj};
use crate::json_source::JsonShape;
use crate::{ImportOptions, SourceKind};
use cspguard_domain::{
    AzureSubscriptionId, ControlPlaneOp, Envelope, Event, EventKind, IdempotencyKey, ResourceId,
    SourceRef, TenantId,
};
use serde_json::Value;

pub(crate) struct ActivityLog;

const UPN_CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
const NAME_CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";

impl JsonShape for ActivityLog {
    fn kind(&self) -> SourceKind {
        SourceKind::ActivityLog
    }
    fn looks_like(&self, o: &Obj) -> bool {
        o.has("operationname") && (o.has("eventtimestamp") || o.has("time") || o.has("resourceid"))
    }
    fn expected(&self) -> &'static str {
        "operationName and eventTimestamp/time keys"
    }

    fn convert(
        &self,
        o: Obj,
        opts: &ImportOptions,
        line: u64,
    ) -> Result<Vec<Envelope>, FieldError> {
        let streamed = !o.has("eventtimestamp");
        let at = if streamed {
            o.instant("time")?
        } else {
            o.instant("eventtimestamp")?
        };
        let operation = o
            .str_or_value("operationname")
            .ok_or_else(|| FieldError::new("operationName", "missing"))?;
        let resource = match o.opt_str("resourceid") {
            Some(r) => Some(
                ResourceId::parse(&r).map_err(|e| FieldError::new("resourceId", e.to_string()))?,
            ),
            None => None,
        };
        let azure_subscription = match o.opt_str("subscriptionid") {
            Some(s) => Some(
                AzureSubscriptionId::parse(&s)
                    .map_err(|e| FieldError::new("subscriptionId", e.to_string()))?,
            ),
            None => resource.as_ref().and_then(ResourceId::azure_subscription),
        };
        let customer = match o.opt_str("tenantid") {
            Some(t) => {
                Some(TenantId::parse(&t).map_err(|e| FieldError::new("tenantId", e.to_string()))?)
            }
            None => opts.customer.clone(),
        };
        let raw_status = if streamed {
            o.opt_str("resulttype")
        } else {
            o.str_or_value("status")
        };
        let status = normalise_status(raw_status.as_deref().unwrap_or(""));
        let (caller, caller_ip) = if streamed {
            let claims = o.obj("identity").and_then(|i| i.obj("claims"));
            let caller = claims
                .as_ref()
                .and_then(|c| c.opt_str(UPN_CLAIM).or_else(|| c.opt_str(NAME_CLAIM)));
            (caller, o.opt_str("calleripaddress"))
        } else {
            (
                o.opt_str("caller"),
                o.obj("httprequest")
                    .and_then(|h| h.opt_str("clientipaddress")),
            )
        };
        let body = o.obj("properties").and_then(|p| p.opt_str("requestbody"));
        let deployment = body.as_deref().map(read_request_body).unwrap_or_default();
        let id = if streamed {
            None
        } else {
            o.opt_str("eventdataid")
        };
        let key_id = match &id {
            Some(i) => i.clone(),
            None => {
                let k = format!(
                    "{}|{}|{}|{}|{}",
                    o.opt_str("correlationid").unwrap_or_default(),
                    operation.to_ascii_lowercase(),
                    resource.as_ref().map(ResourceId::as_str).unwrap_or(""),
                    at.timestamp_micros(),
                    status
                );
                let h = IdempotencyKey::derive(EventKind::ControlPlane, &[k.as_bytes()]);
                format!("rec-{}", h.to_hex())
            }
        };
        let op = ControlPlaneOp {
            id: key_id.clone(),
            customer,
            azure_subscription: azure_subscription.clone(),
            at,
            operation: operation.to_ascii_lowercase(),
            resource,
            status,
            category: o.str_or_value("category"),
            caller: caller.map(|c| c.to_ascii_lowercase()),
            caller_ip,
            region: deployment.region,
            sku: deployment.sku,
            capacity: deployment.capacity,
        };
        let key = IdempotencyKey::derive(
            EventKind::ControlPlane,
            &[
                azure_subscription
                    .as_ref()
                    .map(AzureSubscriptionId::as_str)
                    .unwrap_or("")
                    .as_bytes(),
                key_id.as_bytes(),
            ],
        );
        Ok(vec![Envelope {
            key,
            event_time: at,
            source: SourceRef {
                origin: opts.origin.clone(),
                line: Some(line),
            },
            event: Event::ControlPlane(op),
        }])
    }
}

/// `Success` (streamed) and `Succeeded` (REST) mean the same; so do `Start`/`Started` and `Failure`/`Failed`.
fn normalise_status(s: &str) -> String {
    match s.to_ascii_lowercase().as_str() {
        "success" | "succeeded" => "succeeded".into(),
        "start" | "started" => "started".into(),
        "failure" | "failed" => "failed".into(),
        "accept" | "accepted" => "accepted".into(),
        other => other.to_string(),
    }
}

#[derive(Default, Debug, PartialEq)]
struct Deployment {
    region: Option<String>,
    sku: Option<String>,
    capacity: Option<i64>,
}

/// Reads region, size and count from a write's request body. The shapes differ per resource type: a VM's
/// `properties.hardwareProfile.vmSize`, a scale set's `sku`, a Batch pool's or ML compute's `properties.vmSize`
/// (ML nests it once more under `properties.properties`). A body that is not JSON yields nothing, not an error:
/// it is evidence, not a requirement.
fn read_request_body(body: &str) -> Deployment {
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(body) else {
        return Deployment::default();
    };
    let o = Obj::new(m);
    let props = o.obj("properties");
    let inner = props.as_ref().and_then(|p| p.obj("properties"));
    let sku_obj = o.obj("sku");
    let sku = props
        .as_ref()
        .and_then(|p| p.obj("hardwareprofile"))
        .and_then(|h| h.opt_str("vmsize"))
        .or_else(|| sku_obj.as_ref().and_then(|s| s.opt_str("name")))
        .or_else(|| props.as_ref().and_then(|p| p.opt_str("vmsize")))
        .or_else(|| inner.as_ref().and_then(|p| p.opt_str("vmsize")));
    let capacity = sku_obj
        .as_ref()
        .and_then(|s| s.opt_i64("capacity").ok().flatten())
        .or_else(|| {
            props
                .as_ref()
                .and_then(|p| p.opt_i64("targetdedicatednodes").ok().flatten())
        })
        .or_else(|| {
            inner
                .as_ref()
                .and_then(|p| p.obj("scalesettings"))
                .and_then(|s| s.opt_i64("maxnodecount").ok().flatten())
        });
    Deployment {
        region: o.opt_str("location").map(|l| l.to_ascii_lowercase()),
        sku,
        capacity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{example, run};

    fn ops(c: &crate::testing::Collect) -> Vec<&ControlPlaneOp> {
        c.events
            .iter()
            .filter_map(|e| match &e.event {
                Event::ControlPlane(o) => Some(o),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn rest_shape_from_the_example() {
        let c = run(
            SourceKind::ActivityLog,
            &example("activity_log_rest.json"),
            None,
        )
        .unwrap();
        let o = ops(&c)[0];
        assert_eq!(
            o.operation,
            "microsoft.compute/virtualmachinescalesets/write"
        );
        assert_eq!(o.status, "succeeded");
        assert_eq!(o.region.as_deref(), Some("brazilsouth"));
        assert_eq!(o.sku.as_deref(), Some("Standard_NC24ads_A100_v4"));
        assert_eq!(o.capacity, Some(20));
        assert_eq!(o.caller_ip.as_deref(), Some("185.220.101.4"));
        assert_eq!(
            o.customer.as_ref().unwrap().as_str(),
            "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01"
        );
    }

    #[test]
    fn streamed_shape_from_the_example() {
        let c = run(
            SourceKind::ActivityLog,
            &example("activity_log_records.json"),
            None,
        )
        .unwrap();
        let o = ops(&c)[0];
        assert_eq!(
            o.operation,
            "microsoft.compute/virtualmachinescalesets/write"
        );
        assert_eq!(o.status, "succeeded");
        assert_eq!(
            o.azure_subscription.as_ref().unwrap().as_str(),
            "6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f"
        );
        assert_eq!(o.caller.as_deref(), Some("admin@contoso.example"));
        assert_eq!(o.region.as_deref(), Some("japaneast"));
        assert!(o.customer.is_none());
    }

    #[test]
    fn request_bodies_of_several_resource_types() {
        let vm = r#"{"location":"EastUS","properties":{"hardwareProfile":{"vmSize":"Standard_ND96asr_v4"}}}"#;
        assert_eq!(
            read_request_body(vm).sku.as_deref(),
            Some("Standard_ND96asr_v4")
        );
        assert_eq!(read_request_body(vm).region.as_deref(), Some("eastus"));
        let pool = r#"{"properties":{"vmSize":"STANDARD_HB120RS_V3","targetDedicatedNodes":50}}"#;
        assert_eq!(read_request_body(pool).capacity, Some(50));
        assert_eq!(read_request_body("not json"), Deployment::default());
    }
}
