//! Partner Center pages: the customer list (`customers.json`) and each customer's subscriptions
//! (`subscriptions/<tenant>.json`; the API's items do not carry the tenant, so the file name does).

use serde::Serialize;

use crate::model::World;
use crate::out::{write_pretty, Output};
use crate::signins::is_guid_json;
use crate::time::{date, ts_z, DAY};
use crate::SimError;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomersPage<'a> {
    total_count: usize,
    items: Vec<CustomerItem<'a>>,
    links: Links,
}

#[derive(Serialize)]
struct Links {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerItem<'a> {
    id: &'a str,
    company_profile: CompanyProfile<'a>,
    relationship_to_partner: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    associated_partner_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CompanyProfile<'a> {
    tenant_id: &'a str,
    domain: &'a str,
    company_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionsPage<'a> {
    total_count: usize,
    items: Vec<SubscriptionItem<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionItem<'a> {
    id: &'a str,
    offer_id: &'a str,
    offer_name: &'a str,
    friendly_name: &'a str,
    quantity: u32,
    unit_type: &'a str,
    creation_date: String,
    effective_start_date: String,
    commitment_end_date: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    suspension_reasons: Option<Vec<&'a str>>,
    billing_type: &'a str,
    billing_cycle: &'a str,
    term_duration: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    partner_id: Option<&'a str>,
}

/// Writes `customers.json` and `subscriptions/*.json`; returns the number of subscription items.
pub(crate) fn write(w: &World, out: &mut Output) -> Result<u64, SimError> {
    let page = CustomersPage {
        total_count: w.customers.len(),
        items: w
            .customers
            .iter()
            .map(|c| CustomerItem {
                id: &c.tenant,
                company_profile: CompanyProfile {
                    tenant_id: &c.tenant,
                    domain: &c.domain,
                    company_name: &c.name,
                },
                relationship_to_partner: "reseller",
                associated_partner_id: c.reseller.map(|r| w.resellers[r].tenant.as_str()),
            })
            .collect(),
        links: Links {},
    };
    out.write("customers.json", |f| write_pretty(f, &page))?;

    out.dir("subscriptions")?;
    let mut count = 0u64;
    for c in &w.customers {
        let page = SubscriptionsPage {
            total_count: c.plans.len(),
            items: c
                .plans
                .iter()
                .map(|p| SubscriptionItem {
                    id: &p.id,
                    offer_id: "DZH318Z0BPS6:0001",
                    offer_name: "Azure plan",
                    friendly_name: &p.friendly,
                    quantity: 1,
                    unit_type: "Usage-based",
                    creation_date: ts_z(p.created),
                    effective_start_date: format!("{}T00:00:00Z", date(p.created.div_euclid(DAY))),
                    commitment_end_date: "9999-12-31T00:00:00Z",
                    status: if p.suspended.is_some() {
                        "suspended"
                    } else {
                        "active"
                    },
                    suspension_reasons: p.suspended.map(|r| vec![r]),
                    billing_type: "usage",
                    billing_cycle: "monthly",
                    term_duration: "",
                    partner_id: c.reseller.map(|r| w.resellers[r].mpn.as_str()),
                })
                .collect(),
        };
        count += page.items.len() as u64;
        out.write(&format!("subscriptions/{}.json", c.tenant), |f| {
            write_pretty(f, &page)
        })?;
    }
    out.prune("subscriptions", is_guid_json)?;
    Ok(count)
}
