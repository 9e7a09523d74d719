//! Entra sign-in logs (Graph `auditLogs/signIns` pages or JSON Lines of the same objects).
//!
//! The customer tenant is `resourceTenantId` when present, else the import's customer (`--customer`, or a tenant GUID
//! in the file name). The key is the tenant plus Graph's sign-in `id`, unique per sign-in.

use crate::fields::{FieldError, Obj};
use crate::json_source::JsonShape;
use crate::{ImportOptions, SourceKind};
use cspguard_domain::{
    Envelope, Event, EventKind, GeoLocation, IdempotencyKey, SignIn, SourceRef, TenantId,
};

pub(crate) struct SignIns;

impl JsonShape for SignIns {
    fn kind(&self) -> SourceKind {
        SourceKind::SignIns
    }
    fn looks_like(&self, o: &Obj) -> bool {
        o.has("createddatetime") && (o.has("userprincipalname") || o.has("userid"))
    }
    fn expected(&self) -> &'static str {
        "createdDateTime and userPrincipalName keys"
    }

    fn convert(
        &self,
        o: Obj,
        opts: &ImportOptions,
        line: u64,
    ) -> Result<Vec<Envelope>, FieldError> {
        let customer = match o.opt_str("resourcetenantid") {
            Some(t) => TenantId::parse(&t).map_err(|e| FieldError::new("resourceTenantId", e.to_string()))?,
            None => opts.customer.clone().ok_or_else(|| {
                FieldError::new(
                    "resourceTenantId",
                    "the sign-in names no tenant: pass --customer TENANT (or put the tenant ID in the file name)",
                )
            })?,
        };
        let id = o.str("id")?;
        let at = o.instant("createddatetime")?;
        let status = o.obj("status");
        let error_code = match &status {
            Some(s) => s.opt_i64("errorcode")?.unwrap_or(0),
            None => 0,
        };
        let location = o.obj("location").map(|l| {
            let geo = l.obj("geocoordinates");
            GeoLocation {
                city: l.opt_str("city"),
                state: l.opt_str("state"),
                country: l.opt_str("countryorregion").map(|c| c.to_ascii_uppercase()),
                latitude: geo.as_ref().and_then(|g| g.opt_f64("latitude")),
                longitude: geo.as_ref().and_then(|g| g.opt_f64("longitude")),
            }
        });
        let device = o.obj("devicedetail");
        let s = SignIn {
            id: id.clone(),
            customer: customer.clone(),
            at,
            user_principal_name: o
                .opt_str("userprincipalname")
                .unwrap_or_default()
                .to_ascii_lowercase(),
            user_id: o.opt_str("userid"),
            app_display_name: o.opt_str("appdisplayname"),
            ip_address: o.opt_str("ipaddress"),
            client_app_used: o.opt_str("clientappused"),
            is_interactive: o.opt_bool("isinteractive")?,
            error_code,
            failure_reason: status.as_ref().and_then(|s| s.opt_str("failurereason")),
            conditional_access_status: o.opt_str("conditionalaccessstatus"),
            risk_level_aggregated: o.opt_str("risklevelaggregated"),
            risk_level_during_sign_in: o.opt_str("risklevelduringsignin"),
            risk_state: o.opt_str("riskstate"),
            risk_event_types: o.str_array("riskeventtypes_v2"),
            location,
            device_os: device.as_ref().and_then(|d| d.opt_str("operatingsystem")),
            device_browser: device.as_ref().and_then(|d| d.opt_str("browser")),
        };
        let key = IdempotencyKey::derive(
            EventKind::SignIn,
            &[customer.as_str().as_bytes(), id.as_bytes()],
        );
        Ok(vec![Envelope {
            key,
            event_time: at,
            source: SourceRef {
                origin: opts.origin.clone(),
                line: Some(line),
            },
            event: Event::SignIn(s),
        }])
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{example, run};
    use crate::SourceKind;
    use cspguard_domain::Event;

    #[test]
    fn graph_page_from_the_example() {
        let c = run(SourceKind::SignIns, &example("signins.json"), None).unwrap();
        assert!(c.rejects.is_empty());
        assert_eq!(c.events.len(), 3);
        let Event::SignIn(s) = &c.events[0].event else {
            panic!()
        };
        assert!(!s.succeeded());
        assert_eq!(s.location.as_ref().unwrap().country.as_deref(), Some("RO"));
        assert_eq!(c.events[0].source.line, Some(4));
        let Event::SignIn(s) = &c.events[2].event else {
            panic!()
        };
        assert_eq!(s.client_app_used.as_deref(), Some("IMAP4"));
    }

    #[test]
    fn json_lines_without_tenant_need_a_customer() {
        let line = r#"{"id":"x","createdDateTime":"2026-10-02T20:51:12Z","userPrincipalName":"a@b","status":{"errorCode":0}}"#;
        let c = run(SourceKind::SignIns, line, None).unwrap();
        assert_eq!(c.rejects.len(), 1);
        assert!(c.rejects[0].reason.contains("--customer"));
        let c = run(
            SourceKind::SignIns,
            line,
            Some("3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01"),
        )
        .unwrap();
        assert_eq!(c.events.len(), 1);
    }
}
