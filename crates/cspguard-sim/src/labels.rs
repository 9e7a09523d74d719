//! Ground truth (`labels.json`): the window, the injected incidents and the benign look-alikes, each with its
//! customer tenant, affected Azure subscriptions, RFC 3339 start and end, and a one-line description.

use serde::Serialize;

use crate::model::{Label, World};
use crate::out::{write_pretty, Output};
use crate::time::ts_z;
use crate::SimError;

#[derive(Serialize)]
struct Labels<'a> {
    seed: u64,
    customers: usize,
    days: i64,
    start: String,
    end: String,
    incidents: Vec<LabelJson<'a>>,
    benign: Vec<LabelJson<'a>>,
}

#[derive(Serialize)]
struct LabelJson<'a> {
    id: String,
    kind: &'a str,
    customer_tenant_id: &'a str,
    azure_subscription_ids: Vec<&'a str>,
    start: String,
    end: String,
    description: &'a str,
}

fn entries<'a>(w: &'a World, labels: &'a [Label], prefix: &str) -> Vec<LabelJson<'a>> {
    let mut sorted: Vec<&Label> = labels.iter().collect();
    sorted.sort_by_key(|l| (l.start, l.cust));
    sorted
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let c = &w.customers[l.cust];
            LabelJson {
                id: format!("{prefix}-{:03}", i + 1),
                kind: l.kind,
                customer_tenant_id: &c.tenant,
                azure_subscription_ids: l.subs.iter().map(|&s| c.subs[s].id.as_str()).collect(),
                start: ts_z(l.start),
                end: ts_z(l.end),
                description: &l.description,
            }
        })
        .collect()
}

pub(crate) fn write(w: &World, out: &mut Output) -> Result<(), SimError> {
    let labels = Labels {
        seed: w.seed,
        customers: w.customers.len(),
        days: w.win.days,
        start: ts_z(w.win.start_ts()),
        end: ts_z(w.win.end_ts()),
        incidents: entries(w, &w.incidents, "inc"),
        benign: entries(w, &w.benign, "ben"),
    };
    out.write("labels.json", |f| write_pretty(f, &labels))
}
