//! Control plane: Azure activity-log operations. Bursts of compute deployments (VMs, scale sets, Batch pools,
//! Container Instances, Machine Learning compute), first-seen GPU, HPC or high-core sizes, deployments into several new
//! regions in a short window, quota increases, and role assignments by a user whose sign-in was just flagged.
//!
//! Money at risk from a deployment is projected from its size and instance count before any usage is billed
//! ([`crate::catalog::estimated_hourly_usd`]).

use crate::catalog::{self, ComputeClass};
use crate::signal::{Family, Signal};
use crate::state::{insert_bounded, Output, TenantState};
use crate::DetectConfig;
use chrono::Duration;
use cspguard_domain::{ControlPlaneOp, Instant, Money, TenantId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};

/// Deployments remembered for the burst windows.
const MAX_RECENT: usize = 64;
/// The window in which deployments count towards a burst or a multi-region spread.
const BURST_HOURS: i64 = 6;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Size names (lower-cased) and compute classes already deployed in the tenant.
    pub sizes: BTreeSet<String>,
    pub classes: BTreeSet<ComputeClass>,
    pub callers: BTreeSet<String>,
    pub operations: u64,
    pub recent: VecDeque<Deployment>,
    pub burst_reported_at: Option<Instant>,
    pub spread_reported_at: Option<Instant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    pub at: Instant,
    pub region: Option<String>,
    pub new_region: bool,
}

const DEPLOYMENTS: [&str; 6] = [
    "microsoft.compute/virtualmachines/write",
    "microsoft.compute/virtualmachinescalesets/write",
    "microsoft.batch/batchaccounts/pools/write",
    "microsoft.containerinstance/containergroups/write",
    "microsoft.machinelearningservices/workspaces/computes/write",
    "microsoft.containerservice/managedclusters/agentpools/write",
];
const QUOTA: [&str; 3] = [
    "microsoft.capacity/resourceproviders/locations/servicelimits/write",
    "microsoft.quota/quotas/write",
    "microsoft.capacity/resourceproviders/locations/servicelimitsrequests/write",
];
const ROLE_ASSIGNMENT: &str = "microsoft.authorization/roleassignments/write";

/// Operations a tenant must have had before "first seen" means anything.
const WARMUP_OPERATIONS: u64 = 3;

pub fn on_operation(
    st: &mut TenantState,
    tenant: &TenantId,
    op: &ControlPlaneOp,
    cfg: &DetectConfig,
    out: &mut Output,
) {
    let warm = st.control.operations >= WARMUP_OPERATIONS || !st.regions.is_empty();
    st.control.operations += 1;
    let failed = op.status == "failed";
    let sub = op.azure_subscription.as_ref().map(|s| s.as_str());
    let res = op.resource.as_ref().map(|r| r.as_str());
    let caller = op.caller.clone().unwrap_or_default();
    let risky = st.identity.last_risky.as_ref().filter(|r| {
        op.at >= r.at
            && op.at - r.at <= Duration::hours(24)
            && (r.user == caller || r.ip == op.caller_ip)
    });
    let risky_note = risky.map(|r| {
        format!(
            " by {caller}, whose sign-in from {} at {} was flagged",
            r.country.as_deref().unwrap_or("an unknown place"),
            r.at.format("%Y-%m-%d %H:%M UTC")
        )
    });
    let base = |detector: &str, points: u32, summary: String| {
        Signal::new(
            tenant,
            detector,
            Family::ControlPlane,
            op.at,
            points,
            summary,
        )
        .subscription(sub)
        .resource(res)
        .feature("operation", op.operation.clone())
        .feature("caller", caller.clone())
        .feature("caller_ip", op.caller_ip.clone().unwrap_or_default())
        .feature("status", op.status.clone())
    };
    let mut signals = Vec::new();

    if op.operation == ROLE_ASSIGNMENT && !failed {
        if let Some(note) = &risky_note {
            signals.push(base(
                "control_plane.role_assignment_after_risky_sign_in",
                35,
                format!("Role assignment{note}"),
            ));
        }
    } else if QUOTA.contains(&op.operation.as_str()) {
        let points = if risky.is_some() { 30 } else { 15 };
        signals.push(base(
            "control_plane.quota_increase",
            points,
            format!(
                "Quota increase requested{}{}",
                op.region
                    .as_deref()
                    .map(|r| format!(" in {r}"))
                    .unwrap_or_default(),
                risky_note.clone().unwrap_or_default()
            ),
        ));
    } else if DEPLOYMENTS.contains(&op.operation.as_str()) {
        let size = op.sku.as_deref().unwrap_or("");
        let (class, vcpus) = catalog::vm_size(size);
        let count = op.capacity.unwrap_or(1).clamp(1, 10_000);
        let region = op.region.as_deref().map(str::to_ascii_lowercase);
        let new_region = warm
            && region
                .as_deref()
                .is_some_and(|r| !st.regions.contains(r) && !cfg.allow.region(r));
        // A failed attempt (quota exceeded, say) is evidence of intent but deploys nothing.
        if !failed {
            let hourly = catalog::estimated_hourly_usd(size) * Decimal::from(count);
            let first_class = class.is_expensive() && !st.control.classes.contains(&class);
            let first_size =
                !size.is_empty() && !st.control.sizes.contains(&size.to_ascii_lowercase());
            if class.is_expensive()
                && first_size
                && !cfg.allow.size(size)
                && (warm || risky.is_some() || st.is_new_customer(op.at, cfg))
            {
                // Weighed by what it would burn: a pair of small GPUs is an experiment, dozens of A100s are not.
                let daily = hourly * Decimal::from(24);
                let points = if daily >= Decimal::from(1000) {
                    35
                } else if daily >= Decimal::from(100) {
                    30
                } else {
                    20
                } - if first_class { 0 } else { 5 };
                let mut s = base(
                    "control_plane.expensive_size",
                    points,
                    format!(
                        "{count} x {size} ({}, {} vCPUs) deployed{} for the first time in this tenant{}",
                        class.as_str(),
                        vcpus.unwrap_or(0),
                        region.as_deref().map(|r| format!(" in {r}")).unwrap_or_default(),
                        risky_note.clone().unwrap_or_default()
                    ),
                )
                .feature("size", size.to_string())
                .feature("class", class.as_str())
                .feature("instances", count)
                .feature("estimated_hourly_usd", hourly.round_dp(2).to_string());
                s.burn_per_day = Some(Money::new(
                    daily.round_dp(2),
                    cspguard_domain::Currency::USD,
                ));
                signals.push(s);
            }
            if class.is_expensive() {
                st.control.classes.insert(class);
            }
            if !size.is_empty() {
                insert_bounded(&mut st.control.sizes, &size.to_ascii_lowercase());
            }
        }
        if st.control.recent.len() >= MAX_RECENT {
            st.control.recent.pop_front();
        }
        st.control.recent.push_back(Deployment {
            at: op.at,
            region: region.clone(),
            new_region,
        });
        let window = Duration::hours(BURST_HOURS);
        while st
            .control
            .recent
            .front()
            .is_some_and(|d| op.at - d.at > window)
        {
            st.control.recent.pop_front();
        }
        let new_regions: BTreeSet<&str> = st
            .control
            .recent
            .iter()
            .filter(|d| d.new_region)
            .filter_map(|d| d.region.as_deref())
            .collect();
        let quiet = |last: Option<Instant>| last.is_none_or(|l| op.at - l > window);
        if new_regions.len() >= 2 && quiet(st.control.spread_reported_at) {
            st.control.spread_reported_at = Some(op.at);
            let first = st
                .control
                .recent
                .iter()
                .find(|d| d.new_region)
                .map(|d| d.at);
            signals.push(
                base(
                    "control_plane.multi_region_spread",
                    30,
                    format!(
                        "Deployments into {} regions new for this tenant within {BURST_HOURS} h: {}",
                        new_regions.len(),
                        new_regions.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                )
                .since(first.unwrap_or(op.at))
                .feature("new_regions", new_regions.iter().map(|r| r.to_string()).collect::<Vec<_>>()),
            );
        } else if new_region && !failed {
            signals.push(base(
                "control_plane.new_region",
                10,
                format!(
                    "Deployment into {}, a region this tenant has not used",
                    region.as_deref().unwrap_or("?")
                ),
            ));
        }
        if st.control.recent.len() >= 5 && quiet(st.control.burst_reported_at) {
            st.control.burst_reported_at = Some(op.at);
            let first = st.control.recent.front().map(|d| d.at).unwrap_or(op.at);
            signals.push(
                base(
                    "control_plane.deployment_burst",
                    20,
                    format!(
                        "{} compute deployments within {BURST_HOURS} h{}",
                        st.control.recent.len(),
                        risky_note.clone().unwrap_or_default()
                    ),
                )
                .since(first)
                .feature("deployments", st.control.recent.len()),
            );
        }
        if let Some(r) = &region {
            if !failed {
                st.learn_region(r);
            }
        }
    }
    if !caller.is_empty() {
        insert_bounded(&mut st.control.callers, &caller);
    }
    out.signals.extend(signals);
}
