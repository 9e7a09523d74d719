//! Partner Center customers (`GET /v1/customers`) and a customer's subscriptions
//! (`GET /v1/customers/{tenant}/subscriptions`).
//!
//! Both are snapshots without a time of their own: their event time is when the import observed them, and their key is
//! their canonical content, so an unchanged snapshot is a duplicate and a changed one (a subscription now `suspended`) is
//! a new fact. Subscription items do not name their customer: it comes from the import's customer (`--customer` or
//! the file name) when there is one, and is left unknown otherwise (usage lines name the billing subscription's
//! customer, and the store maps one to the other).

use crate::fields::{FieldError, Obj};
use crate::json_source::{canonical, JsonShape};
use crate::{ImportOptions, SourceKind};
use cspguard_domain::{
    BillingSubscriptionId, CustomerProfile, Envelope, Event, EventKind, IdempotencyKey, SourceRef,
    SubscriptionState, TenantId,
};

pub(crate) struct Customers;
pub(crate) struct Subscriptions;

impl JsonShape for Customers {
    fn kind(&self) -> SourceKind {
        SourceKind::Customers
    }
    fn looks_like(&self, o: &Obj) -> bool {
        o.has("companyprofile") || (o.has("id") && o.has("relationshiptopartner"))
    }
    fn expected(&self) -> &'static str {
        "companyProfile or relationshipToPartner keys"
    }

    fn convert(
        &self,
        o: Obj,
        opts: &ImportOptions,
        line: u64,
    ) -> Result<Vec<Envelope>, FieldError> {
        let profile = o.obj("companyprofile");
        let id = o
            .opt_str("id")
            .or_else(|| profile.as_ref().and_then(|p| p.opt_str("tenantid")));
        let id = id.ok_or_else(|| FieldError::new("id", "required field is missing or empty"))?;
        let customer = TenantId::parse(&id).map_err(|e| FieldError::new("id", e.to_string()))?;
        let p = CustomerProfile {
            customer: customer.clone(),
            name: profile.as_ref().and_then(|p| p.opt_str("companyname")),
            domain: profile.as_ref().and_then(|p| p.opt_str("domain")),
            country: None,
            reseller: None,
            associated_partner: o.opt_str("associatedpartnerid"),
            relationship: o.opt_str("relationshiptopartner"),
            created_at: None,
            signup_ip: None,
            mfa_enforced: None,
            credit_limit: None,
            payment_terms_days: None,
        };
        let key = IdempotencyKey::derive(
            EventKind::CustomerProfile,
            &[b"partner-center", &canonical(&o)],
        );
        Ok(vec![Envelope {
            key,
            event_time: opts.observed_at,
            source: SourceRef {
                origin: opts.origin.clone(),
                line: Some(line),
            },
            event: Event::CustomerProfile(p),
        }])
    }
}

impl JsonShape for Subscriptions {
    fn kind(&self) -> SourceKind {
        SourceKind::Subscriptions
    }
    fn looks_like(&self, o: &Obj) -> bool {
        o.has("offerid") || (o.has("id") && o.has("status") && o.has("billingtype"))
    }
    fn expected(&self) -> &'static str {
        "offerId key"
    }

    fn convert(
        &self,
        o: Obj,
        opts: &ImportOptions,
        line: u64,
    ) -> Result<Vec<Envelope>, FieldError> {
        let customer = opts.customer.clone();
        let id = BillingSubscriptionId::parse(&o.str("id")?)
            .map_err(|e| FieldError::new("id", e.to_string()))?;
        let s = SubscriptionState {
            customer: customer.clone(),
            subscription: id,
            offer_id: o.opt_str("offerid"),
            offer_name: o.opt_str("offername"),
            friendly_name: o.opt_str("friendlyname"),
            status: o.str("status")?.to_ascii_lowercase(),
            suspension_reasons: o.str_array("suspensionreasons"),
            created_at: o.opt_instant("creationdate")?,
            billing_type: o.opt_str("billingtype"),
        };
        let key = IdempotencyKey::derive(
            EventKind::SubscriptionState,
            &[
                customer.as_ref().map_or("", |c| c.as_str()).as_bytes(),
                &canonical(&o),
            ],
        );
        Ok(vec![Envelope {
            key,
            event_time: opts.observed_at,
            source: SourceRef {
                origin: opts.origin.clone(),
                line: Some(line),
            },
            event: Event::SubscriptionState(s),
        }])
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{example, run};
    use crate::SourceKind;
    use cspguard_domain::Event;

    #[test]
    fn customers_from_the_example() {
        let c = run(SourceKind::Customers, &example("customers.json"), None).unwrap();
        let Event::CustomerProfile(p) = &c.events[0].event else {
            panic!()
        };
        assert_eq!(p.name.as_deref(), Some("Contoso Ltd"));
        assert_eq!(p.relationship.as_deref(), Some("reseller"));
    }

    #[test]
    fn subscriptions_keep_status_with_or_without_their_customer() {
        let c = run(
            SourceKind::Subscriptions,
            &example("subscriptions.json"),
            None,
        )
        .unwrap();
        assert!(c.rejects.is_empty());
        let Event::SubscriptionState(s) = &c.events[0].event else {
            panic!()
        };
        assert_eq!(s.customer, None);
        let unnamed_key = c.events[0].key;
        let c = run(
            SourceKind::Subscriptions,
            &example("subscriptions.json"),
            Some("3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01"),
        )
        .unwrap();
        let Event::SubscriptionState(s) = &c.events[0].event else {
            panic!()
        };
        assert_eq!(s.status, "active");
        assert_eq!(s.offer_name.as_deref(), Some("Azure plan"));
        assert_eq!(
            s.customer.as_ref().unwrap().as_str(),
            "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01"
        );
        assert_ne!(c.events[0].key, unnamed_key);
    }
}
