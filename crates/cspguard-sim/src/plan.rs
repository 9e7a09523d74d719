//! Injects the labelled incidents and benign look-alikes into the ordinary book, each on its own customer, plus
//! unlabelled noise (short trips, failed password sprays) and a few false-positive Microsoft alerts.
//!
//! Every injection writes the evidence it leaves into the model (sign-ins, control-plane operations, usage
//! streams, billing plans, fraud alerts, subscription status) and one `Label` describing it.

use rand::seq::SliceRandom;

use crate::catalog::{
    vm_meter, Origin, VmBilling, APP_CLI, APP_EXCHANGE, APP_PORTAL, APP_POWERSHELL, ATTACK_DEVICES,
    ATTACK_REGIONS, CARD_FRAUD_COUNTRIES, COUNTRIES, MINING_POOL_IPS, ORIGINS, REGIONS,
    ROLE_CONTRIBUTOR, ROLE_OWNER, VM_ATTACK, VM_BATCH, VM_SIZES,
};
use crate::model::{
    invoice_periods, Actor, CardAttempt, CardTest, Customer, FraudEvent, Label, NewModel,
    NonPayment, Op, OpStatus, Pattern, PayStyle, PostingWindowPay, ResKind, Resource, Risk, Role,
    Shape, SignIn, StolenCard, Trip, Window, World, RISK_NONE,
};
use crate::rng::{
    between, chance, choose, guid, hex, index, ip_in, log_uniform, pick, poisson, rng_for, tag,
    uniform, SimRng,
};
use crate::time::{add_business_days, is_weekend, next_month_start, DAY, HOUR, MINUTE};
use crate::world::{add_stream, customer_actor, delete_resource, local_ts, push_write};

pub(crate) const CRYPTOJACKING: &str = "cryptojacking";
pub(crate) const STOLEN_CARD_SIGNUP: &str = "stolen_card_signup";
pub(crate) const NONPAYMENT: &str = "nonpayment";
pub(crate) const CARD_TESTING: &str = "card_testing";
pub(crate) const AUP_ENFORCEMENT: &str = "aup_enforcement";
pub(crate) const STEADY_GROWTH: &str = "steady_growth";
pub(crate) const MONTH_END_BATCH: &str = "month_end_batch";
pub(crate) const REGION_MOVE: &str = "region_move";
pub(crate) const TRAVELLER: &str = "traveller";
pub(crate) const PAYMENT_IN_POSTING_WINDOW: &str = "payment_in_posting_window";

/// Kinds and their count per 300 customers (at least one each from 20 customers on).
const PLAN: [(&str, f64); 10] = [
    (CRYPTOJACKING, 5.0),
    (STOLEN_CARD_SIGNUP, 4.0),
    (NONPAYMENT, 5.0),
    (CARD_TESTING, 3.0),
    (AUP_ENFORCEMENT, 3.0),
    (STEADY_GROWTH, 4.0),
    (MONTH_END_BATCH, 4.0),
    (REGION_MOVE, 4.0),
    (TRAVELLER, 6.0),
    (PAYMENT_IN_POSTING_WINDOW, 6.0),
];

/// Customers needed before incidents are injected.
pub(crate) const MIN_CUSTOMERS: usize = 20;
/// Days needed before incidents are injected.
pub(crate) const MIN_DAYS: i64 = 7;

const RISK_MEDIUM: Risk = Risk {
    detail: "none",
    aggregated: "medium",
    during: "medium",
    state: "atRisk",
    events: &["unfamiliarFeatures"],
};
const RISK_ANON_MEDIUM: Risk = Risk {
    detail: "none",
    aggregated: "medium",
    during: "medium",
    state: "atRisk",
    events: &["anonymizedIPAddress"],
};
const RISK_HIGH: Risk = Risk {
    detail: "none",
    aggregated: "high",
    during: "high",
    state: "atRisk",
    events: &["unfamiliarFeatures", "anonymizedIPAddress"],
};
const RISK_LOW: Risk = Risk {
    detail: "none",
    aggregated: "low",
    during: "low",
    state: "atRisk",
    events: &["unfamiliarFeatures"],
};

fn scaled(n: usize, per300: f64) -> usize {
    ((n as f64 * per300 / 300.0).round() as usize).max(1)
}

pub(crate) fn inject(w: &mut World) {
    let n = w.customers.len();
    let win = w.win;
    if n >= MIN_CUSTOMERS && win.days >= MIN_DAYS {
        let mut rng = rng_for(w.seed, tag::PLAN, 0);
        let mut pool: Vec<usize> = (0..n)
            .filter(|&i| w.customers[i].role == Role::Ordinary)
            .collect();
        pool.shuffle(&mut rng);
        let mut next = 0;
        for (k, (kind, per300)) in PLAN.iter().enumerate() {
            for j in 0..scaled(n, *per300) {
                let Some(&ci) = pool.get(next) else { break };
                next += 1;
                let r = &mut rng_for(w.seed, tag::INCIDENT, (k * 100_000 + j) as u64);
                match *kind {
                    CRYPTOJACKING => cryptojacking(w, ci, r),
                    STOLEN_CARD_SIGNUP => stolen_card_signup(w, ci, r),
                    NONPAYMENT => nonpayment(w, ci, r),
                    CARD_TESTING => card_testing(w, ci, r),
                    AUP_ENFORCEMENT => aup_enforcement(w, ci, r),
                    STEADY_GROWTH => steady_growth(w, ci, r),
                    MONTH_END_BATCH => month_end_batch(w, ci, r),
                    REGION_MOVE => region_move(w, ci, r),
                    TRAVELLER => traveller(w, ci, r),
                    _ => posting_window(w, ci, r),
                }
            }
        }
        false_positives(w, &mut rng);
    }
    ordinary_noise(w);
}

fn label(
    kind: &'static str,
    cust: usize,
    subs: Vec<usize>,
    start: i64,
    end: i64,
    description: String,
) -> Label {
    Label {
        kind,
        cust,
        subs,
        start,
        end,
        description,
    }
}

fn pick_origin(rng: &mut SimRng, not_country: &str) -> &'static Origin {
    for _ in 0..32 {
        let o = pick(rng, ORIGINS);
        if o.place.country != not_country {
            return o;
        }
    }
    &ORIGINS[1]
}

fn country_code(c: &Customer) -> &'static str {
    COUNTRIES[c.country].code
}

#[allow(clippy::too_many_arguments)]
fn signin(
    ts: i64,
    user: usize,
    app: usize,
    ip: &str,
    client: &'static str,
    interactive: bool,
    risk: Risk,
    error: u32,
    origin: &Origin,
    device: (&'static str, &'static str),
) -> SignIn {
    SignIn {
        ts,
        user,
        app,
        ip: ip.to_string(),
        client,
        ca_status: "notApplied",
        interactive,
        risk,
        error,
        place: origin.place,
        device,
    }
}

/// What a malicious deployment creates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AttackKind {
    Vmss,
    Vm,
    Batch,
    Aci,
    Aml,
}

/// What cryptojackers deploy, one mix per incident.
const KIND_MIXES: &[&[AttackKind]] = &[
    &[AttackKind::Vmss, AttackKind::Vmss, AttackKind::Vm],
    &[AttackKind::Vmss, AttackKind::Batch],
    &[AttackKind::Vm, AttackKind::Aci, AttackKind::Vmss],
    &[AttackKind::Aml, AttackKind::Vmss],
];

struct Planned {
    kind: AttackKind,
    size: usize,
    region: usize,
    sub: usize,
    ts: i64,
    weight: f64,
}

/// Deployments in `regions`, `per_region` each, starting at `first` in quick succession.
fn plan_deployments(
    rng: &mut SimRng,
    regions: &[usize],
    subs: &[usize],
    kinds: &[AttackKind],
    per_region: (i64, i64),
    first: i64,
) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut ts = first;
    for (i, &region) in regions.iter().enumerate() {
        for _ in 0..between(rng, per_region.0, per_region.1) {
            let kind = kinds[index(rng, kinds.len())];
            out.push(Planned {
                kind,
                size: choose(rng, VM_ATTACK),
                region,
                sub: subs[i % subs.len().max(1)],
                ts,
                weight: uniform(rng, 0.5, 1.5),
            });
            ts += between(rng, 40, 8 * MINUTE);
        }
    }
    out
}

fn quota_op(
    c: &Customer,
    rng: &mut SimRng,
    sub: usize,
    region: usize,
    family: &str,
    ts: i64,
    actor: &Actor,
) -> Op {
    let az = &c.subs[sub].id;
    let loc = REGIONS[region].loc;
    let limit = choose(rng, &[96u32, 192, 350, 500, 1000]);
    let (operation, resource_id, body) = if chance(rng, 0.5) {
        (
            "Microsoft.Capacity/resourceProviders/locations/serviceLimits/write",
            format!("/subscriptions/{az}/providers/Microsoft.Capacity/resourceProviders/Microsoft.Compute/locations/{loc}/serviceLimits/{family}"),
            serde_json::json!({"location": loc, "properties": {"limit": limit, "name": {"value": family}}}),
        )
    } else {
        (
            "Microsoft.Quota/quotas/write",
            format!("/subscriptions/{az}/providers/Microsoft.Compute/locations/{loc}/providers/Microsoft.Quota/quotas/{family}"),
            serde_json::json!({"location": loc, "properties": {"limit": {"limitObjectType": "LimitValue", "value": limit},
                "name": {"value": family}}}),
        )
    };
    Op {
        sub,
        ts,
        ms: between(rng, 0, 999) as u32,
        operation: operation.to_string(),
        resource_id,
        rg: String::new(),
        status: OpStatus::Succeeded,
        actor: actor.clone(),
        body: Some(body.to_string()),
    }
}

fn role_assignment_op(
    c: &Customer,
    rng: &mut SimRng,
    sub: usize,
    ts: i64,
    actor: &Actor,
    delete: bool,
) -> Op {
    let az = &c.subs[sub].id;
    let id = guid(rng);
    let role = if chance(rng, 0.7) {
        ROLE_OWNER
    } else {
        ROLE_CONTRIBUTOR
    };
    let body = (!delete).then(|| {
        serde_json::json!({"properties": {"principalId": guid(rng), "principalType": if chance(rng, 0.5) { "User" } else { "ServicePrincipal" },
            "roleDefinitionId": format!("/subscriptions/{az}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "scope": format!("/subscriptions/{az}")}})
        .to_string()
    });
    Op {
        sub,
        ts,
        ms: between(rng, 0, 999) as u32,
        operation: format!(
            "Microsoft.Authorization/roleAssignments/{}",
            if delete { "delete" } else { "write" }
        ),
        resource_id: format!(
            "/subscriptions/{az}/providers/Microsoft.Authorization/roleAssignments/{id}"
        ),
        rg: String::new(),
        status: OpStatus::Succeeded,
        actor: actor.clone(),
        body,
    }
}

fn simple_op(
    sub: usize,
    ts: i64,
    operation: String,
    resource_id: String,
    rg: &str,
    actor: &Actor,
    body: String,
) -> Op {
    Op {
        sub,
        ts,
        ms: (ts.rem_euclid(997)) as u32,
        operation,
        resource_id,
        rg: rg.to_string(),
        status: OpStatus::Succeeded,
        actor: actor.clone(),
        body: Some(body),
    }
}

/// Creates the planned malicious resources with their control-plane operations and usage streams costing
/// `total_usd` per day together, from their deployment until `stop`. Returns the resource indices.
fn realize(
    c: &mut Customer,
    rng: &mut SimRng,
    win: Window,
    planned: &[Planned],
    total_usd: f64,
    stop: i64,
    actor: &Actor,
) -> Vec<usize> {
    let weights: f64 = planned.iter().map(|p| p.weight).sum::<f64>().max(1e-9);
    let stop_rel = if stop == i64::MAX {
        f64::INFINITY
    } else {
        win.rel(stop)
    };
    let mut rgs: Vec<(usize, usize, String)> = Vec::new();
    let mut out = Vec::new();
    for p in planned {
        let size = &VM_SIZES[p.size];
        let meter = match p.kind {
            AttackKind::Vmss | AttackKind::Vm => vm_meter(size, VmBilling::VirtualMachines),
            AttackKind::Batch => vm_meter(size, VmBilling::Batch),
            AttackKind::Aml => vm_meter(size, VmBilling::MachineLearning),
            AttackKind::Aci => crate::catalog::M_ACI_GPU,
        };
        let price =
            (meter.price_micro * REGIONS[p.region].price_permille / 1000).max(1) as f64 / 1e6;
        let base = p.weight / weights * total_usd / price;
        let units = ((base / 24.0).round() as u32).max(1);
        let az = c.subs[p.sub].id.clone();
        let loc = REGIONS[p.region].loc;
        let rg = match rgs.iter().find(|(s, r, _)| *s == p.sub && *r == p.region) {
            Some((_, _, rg)) => rg.clone(),
            None => {
                let rg = if chance(rng, 0.5) {
                    format!("rg-{}", hex(rng, 6))
                } else {
                    format!("rg-tmp-{}", between(rng, 1, 99))
                };
                rgs.push((p.sub, p.region, rg.clone()));
                let body = serde_json::json!({"location": loc}).to_string();
                c.ops.push(simple_op(
                    p.sub,
                    p.ts - between(rng, 20, 90),
                    "Microsoft.Resources/subscriptions/resourceGroups/write".into(),
                    format!("/subscriptions/{az}/resourceGroups/{rg}"),
                    &rg,
                    actor,
                    body,
                ));
                rg
            }
        };
        let (name, kind) = match p.kind {
            AttackKind::Vmss => (
                format!("vmss-{}", hex(rng, 4)),
                ResKind::Vmss {
                    size: p.size,
                    capacity: units,
                },
            ),
            AttackKind::Vm => (
                format!("vm-node-{}", hex(rng, 4)),
                ResKind::Vm { size: p.size },
            ),
            AttackKind::Batch => (
                format!("pool{}", hex(rng, 4)),
                ResKind::BatchPool {
                    account: format!("batch{}", hex(rng, 8)),
                    size: p.size,
                    nodes: units,
                },
            ),
            AttackKind::Aci => (
                format!("aci-{}", hex(rng, 6)),
                ResKind::Aci {
                    cpu: 6,
                    mem_gb: 56,
                    gpu: true,
                },
            ),
            AttackKind::Aml => (
                format!("compute-{}", hex(rng, 4)),
                ResKind::AmlCompute {
                    workspace: format!("ws-{}", hex(rng, 6)),
                    size: p.size,
                    nodes: units,
                },
            ),
        };
        let mut res = Resource::new(&az, p.sub, p.region, rg.clone(), name, kind, None, p.ts);
        res.routine = false;
        // Parents the deployment needs first.
        match &res.kind {
            ResKind::BatchPool { account, .. } => {
                let body = serde_json::json!({"location": loc}).to_string();
                let id = format!("/subscriptions/{az}/resourceGroups/{rg}/providers/Microsoft.Batch/batchAccounts/{account}");
                c.ops.push(simple_op(
                    p.sub,
                    p.ts - 25,
                    "Microsoft.Batch/batchAccounts/write".into(),
                    id,
                    &rg,
                    actor,
                    body,
                ));
            }
            ResKind::AmlCompute { workspace, .. } => {
                let body =
                    serde_json::json!({"location": loc, "sku": {"name": "Basic"}}).to_string();
                let id = format!("/subscriptions/{az}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{workspace}");
                c.ops.push(simple_op(
                    p.sub,
                    p.ts - 35,
                    "Microsoft.MachineLearningServices/workspaces/write".into(),
                    id,
                    &rg,
                    actor,
                    body,
                ));
            }
            _ => {}
        }
        c.resources.push(res);
        let r = c.resources.len() - 1;
        if chance(rng, 0.25) {
            // A first attempt rejected for lack of quota.
            let ms = between(rng, 0, 999) as u32;
            push_write(
                c,
                r,
                p.ts - between(rng, 30, 300),
                ms,
                actor.clone(),
                OpStatus::Failed,
                None,
            );
        }
        let ms = between(rng, 0, 999) as u32;
        push_write(c, r, p.ts, ms, actor.clone(), OpStatus::Succeeded, None);
        add_stream(
            c,
            r,
            meter,
            base,
            win.rel(p.ts),
            stop_rel,
            Pattern::CONSTANT,
        );
        out.push(r);
    }
    out
}

/// The partner cleans up: deletes the given resources from `at` on.
fn remediate(
    c: &mut Customer,
    rng: &mut SimRng,
    win: Window,
    resources: &[usize],
    at: i64,
    partner: &Actor,
) {
    let mut ts = at;
    for &r in resources {
        let ms = between(rng, 0, 999) as u32;
        delete_resource(c, win, r, ts, ms, partner.clone());
        ts += between(rng, 10, 90);
    }
}

fn partner_actor(w: &World) -> Actor {
    Actor {
        caller: w.partner.admin_upn.clone(),
        ip: w.partner.ip.clone(),
    }
}

enum Resolution {
    Open(&'static str),
    Resolved {
        reason: &'static str,
        at: i64,
        by: String,
    },
}

/// Builds a Microsoft fraud alert about `sub` (and resource `res` when given).
#[allow(clippy::too_many_arguments)]
fn fraud_event(
    rng: &mut SimRng,
    c: &Customer,
    sub: usize,
    res: Option<usize>,
    event_time: i64,
    first_occ: i64,
    new_model: Option<NewModel>,
    resolution: Resolution,
) -> FraudEvent {
    let (entity_name, service, rg, uri, rtype) = match res.and_then(|r| c.resources.get(r)) {
        Some(r) => {
            let service = if r.rtype.starts_with("Microsoft.Batch") {
                "Microsoft.Batch"
            } else if r.rtype.starts_with("Microsoft.MachineLearningServices") {
                "Microsoft.MachineLearningServices"
            } else if r.rtype.starts_with("Microsoft.ContainerInstance") {
                "Microsoft.ContainerInstance"
            } else {
                "Microsoft.Compute"
            };
            (
                r.name.clone(),
                service,
                r.rg.clone(),
                r.uri.clone(),
                r.rtype.clone(),
            )
        }
        None => (
            c.subs[sub].name.clone(),
            "Microsoft.Compute",
            String::new(),
            format!("/subscriptions/{}", c.subs[sub].id),
            "Microsoft.Resources/subscriptions".to_string(),
        ),
    };
    let last_occ = (event_time - between(rng, 5, 40) * MINUTE).max(first_occ);
    let (status, reason, resolved_on, resolved_by) = match resolution {
        Resolution::Open(status) => (status, "None", None, String::new()),
        Resolution::Resolved { reason, at, by } => ("Resolved", reason, Some(at), by),
    };
    FraudEvent {
        cust: c.idx,
        sub,
        event_time,
        event_cs: between(rng, 0, 99) as u32,
        entity_id: guid(rng),
        entity_name,
        service,
        rg,
        resource_uri: uri,
        resource_type: rtype,
        hit_count: between(rng, 3, 900) as u32,
        first_occ,
        last_occ,
        status,
        resolved_reason: reason,
        resolved_on,
        resolved_by,
        new_model,
    }
}

fn new_model(
    rng: &mut SimRng,
    c: &Customer,
    event_type: &'static str,
    severity: &'static str,
    details: Vec<(&'static str, String)>,
) -> NewModel {
    let (display_name, description) = match event_type {
        "CryptoMining" => (
            "Crypto mining activity detected",
            "Network connections to known mining pools from virtual machines.",
        ),
        "VM_AnomalousDeployment" => (
            "Anomalous virtual machine deployment",
            "Unusual deployment of high-cost virtual machines in several regions.",
        ),
        "AzureBatch_AnomalousDeployment" => (
            "Anomalous Azure Batch deployment",
            "Unusual Batch pool creation with GPU or high-core nodes.",
        ),
        "AzureContainerInstances_AnomalousDeployment" => (
            "Anomalous container instances deployment",
            "Unusual creation of GPU container groups.",
        ),
        "AzureMachineLearning_AnomalousDeployment" => (
            "Anomalous Azure Machine Learning deployment",
            "Unusual machine learning compute creation.",
        ),
        _ => (
            "Anomalous resource consumption",
            "Resource consumption far above this subscription's history.",
        ),
    };
    NewModel {
        event_type,
        severity,
        confidence: match severity {
            "High" => "high",
            "Medium" => "medium",
            _ => "low",
        },
        display_name,
        description,
        country: country_code(c),
        details,
        upper_is_test: chance(rng, 0.5),
        with_affected: true,
        full: chance(rng, 0.7),
    }
}

fn cryptojacking(w: &mut World, ci: usize, rng: &mut SimRng) {
    let win = w.win;
    let end_ts = win.end_ts();
    let partner = partner_actor(w);
    let day = between(rng, win.baseline(), win.days - 4);
    let c = &mut w.customers[ci];
    c.role = Role::Incident(CRYPTOJACKING);
    c.mfa = false;
    let origin = pick_origin(rng, country_code(c));
    let ip = ip_in(rng, origin.ip_prefixes);
    let device = choose(rng, ATTACK_DEVICES);
    let t0 = (win.start_day + day) * DAY + between(rng, 0, 20 * HOUR);

    // Password spray / guessing, then a success on the admin.
    let legacy = chance(rng, 0.4);
    let legacy_client = choose(rng, &["IMAP4", "Authenticated SMTP"]);
    let risk_fail = if origin.anonymizer {
        RISK_ANON_MEDIUM
    } else {
        RISK_MEDIUM
    };
    let n_fail = between(rng, 3, 15);
    let mut t = t0;
    for _ in 0..n_fail {
        let user = if c.users.len() > 1 && chance(rng, 0.3) {
            1 + index(rng, c.users.len() - 1)
        } else {
            0
        };
        let s = if legacy {
            signin(
                t,
                user,
                APP_EXCHANGE,
                &ip,
                legacy_client,
                false,
                risk_fail,
                50126,
                origin,
                ("", ""),
            )
        } else {
            signin(
                t, user, APP_PORTAL, &ip, "Browser", true, risk_fail, 50126, origin, device,
            )
        };
        c.extra_signins.push(s);
        t += between(rng, 15, 240);
    }
    if legacy {
        let s = signin(
            t,
            0,
            APP_EXCHANGE,
            &ip,
            legacy_client,
            false,
            risk_fail,
            0,
            origin,
            ("", ""),
        );
        c.extra_signins.push(s);
        t += between(rng, 60, 900);
    }
    let risk_ok = if chance(rng, 0.5) {
        RISK_HIGH
    } else {
        RISK_MEDIUM
    };
    c.extra_signins.push(signin(
        t, 0, APP_PORTAL, &ip, "Browser", true, risk_ok, 0, origin, device,
    ));
    let t_login = t;
    let actor = Actor {
        caller: c.users[0].upn.clone(),
        ip: ip.clone(),
    };

    // Where the attacker goes: regions the customer never used.
    let used = c.regions_used();
    let mut cand: Vec<usize> = ATTACK_REGIONS
        .iter()
        .copied()
        .filter(|r| !used.contains(r))
        .collect();
    cand.shuffle(rng);
    let n_regions = (between(rng, 3, 6) as usize).min(cand.len()).max(1);
    let regions: Vec<usize> = cand.iter().copied().take(n_regions).collect();
    let mut subs = vec![0];
    if c.subs.len() > 1 && chance(rng, 0.25) {
        subs.push(1);
    }

    let mut ts = t_login + between(rng, 5, 60) * MINUTE;
    for &s in &subs {
        let op = role_assignment_op(c, rng, s, ts, &actor, false);
        c.ops.push(op);
        ts += between(rng, 20, 120);
    }
    let kinds: &[AttackKind] = choose(rng, KIND_MIXES);
    let quota_start = ts;
    let first_dep =
        quota_start + (regions.len() as i64) * 3 * MINUTE + between(rng, 3, 40) * MINUTE;
    let planned = plan_deployments(rng, &regions, &subs, kinds, (2, 4), first_dep);
    // Quota increase per region for the family of the first size deployed there.
    let mut qts = quota_start;
    for &region in &regions {
        if let Some(p) = planned.iter().find(|p| p.region == region) {
            let op = quota_op(c, rng, p.sub, region, VM_SIZES[p.size].family, qts, &actor);
            c.ops.push(op);
            qts += between(rng, 40, 170);
        }
    }

    // Microsoft's alert 24-60 hours after the first deployment; usage stops 2-7 days in (or runs to the end).
    let fe = (first_dep + between(rng, 24, 60) * HOUR)
        .min(end_ts - HOUR)
        .max(first_dep + HOUR);
    let mut stop = first_dep + (uniform(rng, 2.0, 7.0) * DAY as f64) as i64;
    if stop <= fe {
        stop = fe + between(rng, 2, 30) * HOUR;
    }
    let stopped = stop < end_ts;
    if !stopped {
        stop = i64::MAX;
    }
    let factor = uniform(rng, 20.0, 200.0);
    let total = factor * c.daily_spend;
    let resources = realize(c, rng, win, &planned, total, stop, &actor);

    // The attacker keeps using the CLI while the miners run.
    let active_to = stop.min(end_ts);
    c.extra_signins.push(signin(
        first_dep - between(rng, 60, 600),
        0,
        APP_CLI,
        &ip,
        "Mobile Apps and Desktop clients",
        true,
        risk_ok,
        0,
        origin,
        device,
    ));
    let mut d = first_dep.div_euclid(DAY) + 1;
    while d * DAY < active_to {
        for _ in 0..between(rng, 1, 3) {
            let ts = d * DAY + between(rng, 0, DAY - 1);
            let app = if chance(rng, 0.3) {
                APP_POWERSHELL
            } else {
                APP_CLI
            };
            if ts < active_to {
                c.extra_signins.push(signin(
                    ts,
                    0,
                    app,
                    &ip,
                    "Mobile Apps and Desktop clients",
                    false,
                    risk_ok,
                    0,
                    origin,
                    device,
                ));
            }
        }
        d += 1;
    }

    // Alerts.
    let affected = resources.first().copied();
    let sub = affected.map_or(0, |r| c.resources[r].sub);
    let resolution = |rng: &mut SimRng| {
        if stopped && stop + 6 * HOUR < end_ts && chance(rng, 0.7) {
            Resolution::Resolved {
                reason: "Fraud",
                at: stop + between(rng, HOUR, 6 * HOUR),
                by: "secops@fabrikamcloud.onmicrosoft.com".to_string(),
            }
        } else {
            Resolution::Open(if chance(rng, 0.3) {
                "Investigating"
            } else {
                "Active"
            })
        }
    };
    let region_list =
        serde_json::to_string(&regions.iter().map(|&r| REGIONS[r].loc).collect::<Vec<_>>())
            .unwrap_or_default();
    let mut events = Vec::new();
    let res = resolution(rng);
    if chance(rng, 0.6) {
        let first_kind = planned.first().map_or(AttackKind::Vmss, |p| p.kind);
        let event_type = if chance(rng, 0.5) {
            "CryptoMining"
        } else {
            match first_kind {
                AttackKind::Batch => "AzureBatch_AnomalousDeployment",
                AttackKind::Aci => "AzureContainerInstances_AnomalousDeployment",
                AttackKind::Aml => "AzureMachineLearning_AnomalousDeployment",
                _ => "VM_AnomalousDeployment",
            }
        };
        let details = if event_type == "CryptoMining" {
            mining_details(rng)
        } else {
            vec![
                ("regions", region_list.clone()),
                ("deploymentCount", planned.len().to_string()),
            ]
        };
        let severity = if chance(rng, 0.8) { "High" } else { "Medium" };
        let nm = new_model(rng, c, event_type, severity, details);
        events.push(fraud_event(
            rng,
            c,
            sub,
            affected,
            fe,
            first_dep,
            Some(nm),
            res,
        ));
    } else {
        events.push(fraud_event(rng, c, sub, affected, fe, first_dep, None, res));
    }
    if chance(rng, 0.3) {
        let fe2 = (fe + between(rng, 2, 20) * HOUR).min(end_ts - 1);
        let res = resolution(rng);
        events.push(fraud_event(
            rng, c, sub, affected, fe2, first_dep, None, res,
        ));
    }

    if stopped {
        remediate(c, rng, win, &resources, stop, &partner);
        for &s in &subs {
            let op = role_assignment_op(c, rng, s, stop + 5 * MINUTE, &partner, true);
            c.ops.push(op);
        }
    }
    let end = stop.min(end_ts);
    let upn = c.users[0].upn.clone();
    let locs: Vec<&str> = regions.iter().map(|&r| REGIONS[r].loc).collect();
    let description = format!(
        "Admin {upn} compromised from {} ({ip}{}) after {n_fail} failed sign-ins{}; role assignment, quota increases and {} GPU/HPC deployments in {}; usage about {factor:.0}x the normal daily spend {}.",
        origin.place.country,
        if origin.anonymizer { ", anonymising network" } else { "" },
        if legacy { format!(" over {legacy_client}") } else { String::new() },
        planned.len(),
        locs.join(", "),
        if stopped { "until the partner removed the resources" } else { "until the end of the window" },
    );
    let subs_ids = subs.clone();
    w.fraud.extend(events);
    w.incidents
        .push(label(CRYPTOJACKING, ci, subs_ids, t0, end, description));
}

fn stolen_card_signup(w: &mut World, ci: usize, rng: &mut SimRng) {
    let win = w.win;
    let end_ts = win.end_ts();
    let partner = partner_actor(w);
    let base = win.baseline();
    // Prefer a sign-up that leaves an invoice with usage (and its failed payment) inside the window: at least
    // four days before a month end whose next 1st falls inside the window.
    let cands: Vec<i64> = (base..=win.days - 3)
        .filter(|&d| {
            let next = next_month_start(win.start_day + d);
            next < win.last_day() && next - (win.start_day + d) >= 4
        })
        .collect();
    let day = if cands.is_empty() {
        between(rng, base, win.days - 3)
    } else {
        cands[index(rng, cands.len())]
    };
    let c = &mut w.customers[ci];
    c.role = Role::Incident(STOLEN_CARD_SIGNUP);
    let origin = pick_origin(rng, country_code(c));
    let ip = ip_in(rng, origin.ip_prefixes);
    let device = choose(rng, ATTACK_DEVICES);
    let created = (win.start_day + day) * DAY + between(rng, 0, DAY - 2 * HOUR);
    let mut card_country = choose(rng, CARD_FRAUD_COUNTRIES);
    while card_country == country_code(c) {
        card_country = choose(rng, CARD_FRAUD_COUNTRIES);
    }
    c.stolen_card = Some(StolenCard {
        card_country,
        prepaid: chance(rng, 0.4),
        disputed: chance(rng, 0.5),
    });
    c.created = created;
    c.signup_ip = ip.clone();
    c.mfa = false;
    c.pays_by_card = true;
    c.pay_style = PayStyle::Punctual;
    c.credit_limit = choose(rng, &[1_000i64, 2_500]);
    c.terms = choose(rng, &[14u32, 30]);
    c.resources.clear();
    c.streams.clear();
    c.ops.clear();
    c.trips.clear();
    c.growth = None;
    c.month_end_bump = None;
    c.plans.truncate(1);
    c.plans[0].created = created + between(rng, 3, 20) * MINUTE;
    c.subs.retain(|s| s.plan == 0);
    c.subs.truncate(1);
    c.users.truncate(2);
    for u in &mut c.users {
        u.works = 0.0;
        u.legacy = None;
        u.device = device;
    }

    // GPU / high-core consumption from day one to three.
    let mut regions: Vec<usize> = ATTACK_REGIONS.to_vec();
    regions.shuffle(rng);
    regions.truncate(between(rng, 1, 3) as usize);
    c.home_regions = regions.clone();
    let first_dep = created + between(rng, 2 * HOUR, 48 * HOUR);
    let actor = Actor {
        caller: c.users[0].upn.clone(),
        ip: ip.clone(),
    };
    let planned = plan_deployments(
        rng,
        &regions,
        &[0],
        &[
            AttackKind::Vmss,
            AttackKind::Vm,
            AttackKind::Batch,
            AttackKind::Aml,
        ],
        (1, 3),
        first_dep,
    );
    let mut qts = first_dep - between(rng, 10, 40) * MINUTE;
    for &region in regions.iter().take(2) {
        if let Some(p) = planned.iter().find(|p| p.region == region) {
            let op = quota_op(c, rng, 0, region, VM_SIZES[p.size].family, qts, &actor);
            c.ops.push(op);
            qts += between(rng, 60, 300);
        }
    }
    // The partner acts a day or so after the first invoice's payment fails.
    let issued = next_month_start(created.div_euclid(DAY));
    let mut stop = issued * DAY + between(rng, 20 * HOUR, 72 * HOUR);
    let stopped = stop < end_ts && stop > first_dep;
    if !stopped {
        stop = i64::MAX;
    }
    let total = log_uniform(rng, 400.0, 4000.0);
    let resources = realize(c, rng, win, &planned, total, stop, &actor);

    // The fraudster's own sign-ins: at sign-up, then most days while the resources run.
    let mut t = created + between(rng, 60, 600);
    let active_to = stop.min(end_ts);
    while t < active_to {
        let user = index(rng, c.users.len());
        let app = if chance(rng, 0.5) {
            APP_PORTAL
        } else {
            APP_CLI
        };
        let client = if app == APP_PORTAL {
            "Browser"
        } else {
            "Mobile Apps and Desktop clients"
        };
        let risk = if chance(rng, 0.4) {
            RISK_LOW
        } else {
            RISK_NONE
        };
        c.extra_signins.push(signin(
            t, user, app, &ip, client, true, risk, 0, origin, device,
        ));
        t += between(rng, 3 * HOUR, 30 * HOUR);
    }
    if stopped {
        remediate(c, rng, win, &resources, stop, &partner);
    }
    let subs: Vec<usize> = (0..c.subs.len()).collect();
    let description = format!(
        "New customer signed up from {} ({ip}) with a {} from {card_country} while claiming {}; GPU/high-core consumption of about ${total:.0}/day from {} deployment(s) in {} region(s); first invoice payment {}.",
        origin.place.country,
        if c.stolen_card.as_ref().is_some_and(|s| s.prepaid) { "prepaid card" } else { "card" },
        country_code(c),
        planned.len(),
        regions.len(),
        if c.stolen_card.as_ref().is_some_and(|s| s.disputed) { "disputed" } else { "failed" },
    );
    w.incidents.push(label(
        STOLEN_CARD_SIGNUP,
        ci,
        subs,
        created,
        stop.min(end_ts),
        description,
    ));
}

fn nonpayment(w: &mut World, ci: usize, rng: &mut SimRng) {
    let win = w.win;
    let c = &mut w.customers[ci];
    let earliest = win.start_ts() - between(rng, 200, 900) * DAY;
    if c.created > earliest {
        c.created = earliest;
        c.plans[0].created = earliest + between(rng, 5, 60) * MINUTE;
    }
    let periods = invoice_periods(c.created, c.terms, win);
    let lo = win.start_day + win.baseline();
    let hi = win.last_day() - 5;
    let mut cands: Vec<i64> = periods
        .iter()
        .map(|p| p.due)
        .filter(|&d| d >= lo && d <= hi)
        .collect();
    if cands.is_empty() {
        cands = periods
            .iter()
            .map(|p| p.due)
            .filter(|&d| d <= hi)
            .rev()
            .take(1)
            .collect();
    }
    let Some(&due) = cands.get(index(rng, cands.len().min(2))) else {
        return;
    };
    c.role = Role::Incident(NONPAYMENT);
    c.pays_by_card = true;
    c.nonpayment = Some(NonPayment {
        first_missed_due: due,
    });
    let subs: Vec<usize> = (0..c.subs.len()).collect();
    let description = format!(
        "Payments drift later and partial over the preceding months with frequent card changes; the invoice due {} is not paid and receivables age until the end of the window.",
        crate::time::date(due)
    );
    w.incidents.push(label(
        NONPAYMENT,
        ci,
        subs,
        (due + 1) * DAY,
        win.end_ts(),
        description,
    ));
}

fn card_testing(w: &mut World, ci: usize, rng: &mut SimRng) {
    let win = w.win;
    let end_ts = win.end_ts();
    let day = between(rng, win.baseline(), win.days - 1);
    let at = (win.start_day + day) * DAY + between(rng, 0, 20 * HOUR);
    let c = &mut w.customers[ci];
    let home = country_code(c);
    let n = between(rng, 8, 30);
    let mut attempts = Vec::new();
    let mut t = at;
    for _ in 0..n {
        if t >= end_ts {
            break;
        }
        let failure = chance(rng, 0.85).then(|| {
            choose(
                rng,
                &[
                    "card_declined",
                    "incorrect_cvc",
                    "do_not_honor",
                    "insufficient_funds",
                    "stolen_card",
                    "expired_card",
                ],
            )
        });
        attempts.push(CardAttempt {
            ts: t,
            fingerprint: format!("fp_{}", hex(rng, 12)),
            country: if chance(rng, 0.3) {
                home
            } else {
                choose(rng, CARD_FRAUD_COUNTRIES)
            },
            prepaid: chance(rng, 0.3),
            amount_cents: choose(rng, &[50i64, 100, 100, 200, 500]),
            failure,
        });
        t += between(rng, 20, 15 * MINUTE);
    }
    let Some(last) = attempts.last().map(|a| a.ts) else {
        return;
    };
    let count = attempts.len();
    c.role = Role::Incident(CARD_TESTING);
    c.card_test = Some(CardTest { attempts });
    let description = format!(
        "{count} cards added within minutes on the billing portal, each tried with a small charge that mostly fails."
    );
    w.incidents.push(label(
        CARD_TESTING,
        ci,
        Vec::new(),
        at,
        last + 1,
        description,
    ));
}

fn aup_enforcement(w: &mut World, ci: usize, rng: &mut SimRng) {
    let win = w.win;
    let end_ts = win.end_ts();
    let day = between(rng, win.baseline(), win.days - 4);
    let c = &mut w.customers[ci];
    c.role = Role::Incident(AUP_ENFORCEMENT);
    let plan = c.subs[0].plan;
    let t_start = local_ts(rng, win.start_day + day, c.city.utc_min, 9.0, 23.0);
    let mut actor = customer_actor(c, rng);
    if actor.caller == c.sp_app_id {
        actor.caller = c.users[0].upn.clone();
        actor.ip = c
            .office_ips
            .first()
            .cloned()
            .unwrap_or_else(|| c.users[0].home_ip.clone());
    }
    let regions: Vec<usize> = c.home_regions.iter().copied().take(2).collect();
    let planned = plan_deployments(
        rng,
        &regions,
        &[0],
        &[AttackKind::Vm, AttackKind::Vmss],
        (1, 2),
        t_start,
    );
    let factor = uniform(rng, 5.0, 30.0);
    let total = factor * c.daily_spend;
    let fe = (t_start + between(rng, 12, 48) * HOUR)
        .min(end_ts - 2 * HOUR)
        .max(t_start + HOUR);
    let susp = (fe + between(rng, 2, 60) * HOUR)
        .min(end_ts - HOUR)
        .max(fe + 1);
    let resources = realize(c, rng, win, &planned, total, i64::MAX, &actor);

    // Microsoft suspends the whole Azure plan: its subscriptions stop consuming and change no more.
    c.plans[plan].suspended = Some("AcceptableUsePolicy");
    let susp_rel = win.rel(susp);
    let subs: Vec<usize> = (0..c.subs.len())
        .filter(|&s| c.subs[s].plan == plan)
        .collect();
    for &s in &subs {
        c.subs[s].frozen_at = Some(susp);
    }
    let frozen: Vec<bool> = c.resources.iter().map(|r| subs.contains(&r.sub)).collect();
    for s in &mut c.streams {
        if frozen[s.res] {
            s.to = s.to.min(susp_rel);
        }
    }
    c.ops.retain(|op| !(subs.contains(&op.sub) && op.ts > susp));

    let mut events = Vec::new();
    if chance(rng, 0.7) {
        let res = if chance(rng, 0.5) {
            Resolution::Resolved {
                reason: "Fraud",
                at: (susp + between(rng, HOUR, 12 * HOUR)).min(end_ts - 1),
                by: "secops@fabrikamcloud.onmicrosoft.com".to_string(),
            }
        } else {
            Resolution::Open("Active")
        };
        let affected = resources.first().copied();
        let nm = chance(rng, 0.4).then(|| {
            let details = mining_details(rng);
            new_model(rng, c, "CryptoMining", "High", details)
        });
        events.push(fraud_event(rng, c, 0, affected, fe, t_start, nm, res));
    }
    let description = format!(
        "Customer runs crypto-mining on {} GPU/high-core deployment(s) in its own regions (about {factor:.0}x normal spend); Microsoft suspends the Azure plan for acceptable-use violation.",
        planned.len()
    );
    w.fraud.extend(events);
    w.incidents
        .push(label(AUP_ENFORCEMENT, ci, subs, t_start, susp, description));
}

fn steady_growth(w: &mut World, ci: usize, rng: &mut SimRng) {
    let win = w.win;
    let base = win.baseline();
    let from = between(rng, base / 2, (win.days - 21).max(base / 2));
    let len = between(rng, 21, 42).min(win.days - from).max(1);
    let rate = uniform(rng, 0.02, 0.04);
    let c = &mut w.customers[ci];
    c.role = Role::Benign(STEADY_GROWTH);
    c.growth = Some((from as f64, (from + len) as f64, rate));
    c.drift = 0.0;
    // Scale-outs along the way.
    let scalable: Vec<usize> = (0..c.resources.len())
        .filter(|&r| {
            c.resources[r].alive_from == i64::MIN
                && matches!(
                    c.resources[r].kind,
                    ResKind::Vmss { .. } | ResKind::AppPlan { .. }
                )
        })
        .collect();
    if !scalable.is_empty() {
        for step in 0..between(rng, 2, 5) {
            let r = scalable[index(rng, scalable.len())];
            let day = win.start_day + from + between(rng, 0, len - 1);
            let ts = local_ts(rng, day, c.city.utc_min, 9.0, 17.0);
            let actor = customer_actor(c, rng);
            let ms = between(rng, 0, 999) as u32;
            push_write(
                c,
                r,
                ts,
                ms,
                actor,
                OpStatus::Updated,
                Some(3 + step as u32),
            );
        }
    }
    let description = format!(
        "Spend grows steadily by about {:.1}% a day for {len} days as the customer's workload grows.",
        rate * 100.0
    );
    let start = (win.start_day + from) * DAY;
    let end = (win.start_day + from + len) * DAY;
    w.benign.push(label(
        STEADY_GROWTH,
        ci,
        (0..c.subs.len()).collect(),
        start,
        end,
        description,
    ));
}

fn month_end_batch(w: &mut World, ci: usize, rng: &mut SimRng) {
    const PEAK_DAYS: i64 = 3;
    let win = w.win;
    let end_ts = win.end_ts();
    // Month ends (last days) inside the window.
    let mut ends = Vec::new();
    let mut m = next_month_start(win.start_day) - 1;
    while m <= win.last_day() {
        ends.push(m);
        m = next_month_start(m + 1) - 1;
    }
    let (Some(&first), Some(&last)) = (ends.first(), ends.last()) else {
        return;
    };
    let c = &mut w.customers[ci];
    c.role = Role::Benign(MONTH_END_BATCH);
    let size = choose(rng, VM_BATCH);
    let nodes = between(rng, 8, 40) as u32;
    let slug = c.slug();
    let kind = ResKind::BatchPool {
        account: format!("batch{slug}"),
        size,
        nodes,
    };
    let az = c.subs[0].id.clone();
    let mut res = Resource::new(
        &az,
        0,
        c.home_regions[0],
        "rg-batch".into(),
        "pool-monthend".into(),
        kind,
        Some("{\"workload\":\"month-end-close\"}"),
        i64::MIN,
    );
    res.routine = false;
    c.resources.push(res);
    let r = c.resources.len() - 1;
    let meter = vm_meter(&VM_SIZES[size], VmBilling::Batch);
    let price =
        (meter.price_micro * REGIONS[c.home_regions[0]].price_permille / 1000).max(1) as f64 / 1e6;
    let factor = uniform(rng, 3.0, 8.0);
    let base = factor * c.daily_spend / price;
    add_stream(
        c,
        r,
        meter,
        base,
        f64::NEG_INFINITY,
        f64::INFINITY,
        Pattern::CONSTANT.shaped(Shape::MonthEnd {
            days: PEAK_DAYS as u32,
        }),
    );
    let actor = Actor {
        caller: c.sp_app_id.clone(),
        ip: format!(
            "20.{}.{}.{}",
            between(rng, 36, 60),
            between(rng, 0, 255),
            between(rng, 1, 254)
        ),
    };
    for &e in &ends {
        let up = (e - PEAK_DAYS + 1) * DAY + between(rng, 0, 30) * MINUTE;
        if up >= win.start_ts() {
            push_write(c, r, up, 0, actor.clone(), OpStatus::Updated, Some(nodes));
        }
        let down = (e + 1) * DAY + between(rng, 30, 120) * MINUTE;
        if down < end_ts && down >= win.start_ts() {
            push_write(c, r, down, 0, actor.clone(), OpStatus::Updated, Some(0));
        }
    }
    let start = ((first - PEAK_DAYS + 1) * DAY).max(win.start_ts());
    let end = ((last + 1) * DAY).min(end_ts);
    let description = format!(
        "Month-end close: a Batch pool of {nodes} {} nodes runs the last {PEAK_DAYS} days of every month, about {factor:.0}x the normal daily spend.",
        VM_SIZES[size].arm
    );
    w.benign
        .push(label(MONTH_END_BATCH, ci, vec![0], start, end, description));
}

fn region_move(w: &mut World, ci: usize, rng: &mut SimRng) {
    let win = w.win;
    let end_ts = win.end_ts();
    let base = win.baseline();
    let c = &mut w.customers[ci];
    let old = c.home_regions[0];
    let used = c.regions_used();
    let country_regions: Vec<usize> = COUNTRIES[c.country]
        .regions
        .iter()
        .copied()
        .filter(|r| !used.contains(r))
        .collect();
    let any: Vec<usize> = (0..REGIONS.len()).filter(|r| !used.contains(r)).collect();
    let target = if !country_regions.is_empty() {
        country_regions[index(rng, country_regions.len())]
    } else if !any.is_empty() {
        any[index(rng, any.len())]
    } else {
        return;
    };
    let movers: Vec<usize> = (0..c.resources.len())
        .filter(|&r| {
            let res = &c.resources[r];
            res.region == old
                && res.alive_from == i64::MIN
                && res.alive_to == i64::MAX
                && res.routine
        })
        .collect();
    if movers.is_empty() {
        return;
    }
    c.role = Role::Benign(REGION_MOVE);
    let from = between(rng, base / 2, (win.days - 16).max(base / 2));
    let len = between(rng, 7, 14).min(win.days - from - 1).max(2);
    let a = win.start_day + from;
    let mig_end = (a + len) * DAY;
    let mig_end_rel = win.rel(mig_end);
    let mut first_create = i64::MAX;
    let mut subs = Vec::new();
    for &r in &movers {
        let day = a + between(rng, 0, len / 2);
        let t = local_ts(rng, day, c.city.utc_min, 9.0, 17.0);
        first_create = first_create.min(t);
        let old_res = &c.resources[r];
        let sub = old_res.sub;
        if !subs.contains(&sub) {
            subs.push(sub);
        }
        let suffix = REGIONS[target].loc.chars().take(3).collect::<String>();
        let (name, kind) = match &old_res.kind {
            ResKind::Storage => (format!("{}{}", old_res.name, suffix), ResKind::Storage),
            ResKind::SqlDb {
                server,
                sku,
                capacity,
            } => (
                old_res.name.clone(),
                ResKind::SqlDb {
                    server: format!("{server}-{suffix}"),
                    sku,
                    capacity: *capacity,
                },
            ),
            k => (format!("{}-{suffix}", old_res.name), k.clone()),
        };
        let az = c.subs[sub].id.clone();
        let tags = Some("{\"env\":\"prod\",\"migration\":\"wave1\"}");
        let new_res = Resource::new(&az, sub, target, old_res.rg.clone(), name, kind, tags, t);
        c.resources.push(new_res);
        let nr = c.resources.len() - 1;
        let t_rel = win.rel(t);
        let old_streams: Vec<usize> = (0..c.streams.len())
            .filter(|&s| c.streams[s].res == r)
            .collect();
        for s in old_streams {
            let (meter, b, elastic, wd) = {
                let st = &mut c.streams[s];
                st.shape = Shape::RampDown {
                    a: t_rel,
                    b: mig_end_rel,
                };
                (st.meter, st.base, st.elastic, st.weekdays_only)
            };
            let shape = Shape::RampUp {
                a: t_rel,
                b: mig_end_rel,
            };
            add_stream(
                c,
                nr,
                meter,
                b,
                t_rel,
                f64::INFINITY,
                Pattern {
                    elastic,
                    weekdays_only: wd,
                    seasonal: true,
                    shape,
                },
            );
        }
        let actor = customer_actor(c, rng);
        let ms = between(rng, 0, 999) as u32;
        push_write(c, nr, t, ms, actor, OpStatus::Succeeded, None);
        let del_day = a + len + between(rng, 0, 2);
        let del = local_ts(rng, del_day, c.city.utc_min, 9.0, 17.0);
        if del < end_ts {
            let actor = customer_actor(c, rng);
            delete_resource(
                c,
                win,
                r,
                del.max(mig_end),
                between(rng, 0, 999) as u32,
                actor,
            );
        }
    }
    c.home_regions.push(target);
    let description = format!(
        "Planned migration of {} resource(s) from {} to {} over {len} days with ordinary sizes; the old region fades out.",
        movers.len(),
        REGIONS[old].loc,
        REGIONS[target].loc
    );
    w.benign.push(label(
        REGION_MOVE,
        ci,
        subs,
        first_create,
        mig_end,
        description,
    ));
}

fn traveller(w: &mut World, ci: usize, rng: &mut SimRng) {
    let win = w.win;
    let base = win.baseline();
    let c = &mut w.customers[ci];
    let own = country_code(c);
    let mut dest = pick(rng, COUNTRIES);
    while dest.code == own {
        dest = pick(rng, COUNTRIES);
    }
    let place = choose(rng, dest.cities);
    let day = between(rng, base / 2, (win.days - 4).max(base / 2));
    let len = between(rng, 3, 10).min(win.days - day).max(1);
    let user = index(rng, c.users.len());
    let from = local_ts(rng, win.start_day + day, place.utc_min, 6.0, 11.0).max(win.start_ts());
    let to = ((win.start_day + day + len) * DAY).min(win.end_ts());
    c.role = Role::Benign(TRAVELLER);
    c.mfa = true;
    let ip = ip_in(rng, dest.ip_prefixes);
    c.trips.push(Trip {
        user,
        from,
        to,
        place,
        ip,
    });
    let description = format!(
        "{} travels to {}, {} for {len} days and signs in from there with MFA; no control-plane or usage change.",
        c.users[user].upn, place.city, place.country
    );
    w.benign
        .push(label(TRAVELLER, ci, Vec::new(), from, to, description));
}

fn posting_window(w: &mut World, ci: usize, rng: &mut SimRng) {
    let win = w.win;
    let c = &mut w.customers[ci];
    let periods = invoice_periods(c.created, c.terms, win);
    let cands: Vec<i64> = periods
        .iter()
        .map(|p| p.due)
        .filter(|&d| d >= win.start_day + 5 && d <= win.last_day() - 8 && !is_weekend(d))
        .collect();
    if cands.is_empty() {
        return;
    }
    let due = cands[index(rng, cands.len())];
    let k = between(rng, 1, 4);
    let submitted = add_business_days(due, -k);
    let posted = add_business_days(submitted, between(rng, k + 1, 5));
    c.role = Role::Benign(PAYMENT_IN_POSTING_WINDOW);
    c.pays_by_card = false;
    c.posting_window = Some(PostingWindowPay {
        due_day: due,
        submitted_day: submitted,
        posted_day: posted,
    });
    let description = format!(
        "Bank payment submitted {} ({k} business day(s) before the due date {}) and posted {}, within the 5-business-day posting window: not late.",
        crate::time::date(submitted),
        crate::time::date(due),
        crate::time::date(posted)
    );
    w.benign.push(label(
        PAYMENT_IN_POSTING_WINDOW,
        ci,
        Vec::new(),
        submitted * DAY,
        (posted + 1) * DAY,
        description,
    ));
}

/// Alerts Microsoft raises on legitimate activity, which the partner resolves as Legitimate.
fn false_positives(w: &mut World, rng: &mut SimRng) {
    let win = w.win;
    let end_ts = win.end_ts();
    let n = scaled(w.customers.len(), 4.0);
    let mut cands: Vec<usize> = (0..w.customers.len())
        .filter(|&i| {
            let c = &w.customers[i];
            matches!(
                c.role,
                Role::Benign(MONTH_END_BATCH | REGION_MOVE | STEADY_GROWTH)
            ) || (c.role == Role::Ordinary
                && c.resources
                    .iter()
                    .any(|r| matches!(r.kind, ResKind::AmlCompute { .. })))
        })
        .collect();
    cands.shuffle(rng);
    let mut events = Vec::new();
    for &ci in cands.iter().take(n) {
        let c = &w.customers[ci];
        let label_start = w.benign.iter().find(|l| l.cust == ci).map(|l| l.start);
        let t = match (c.role, label_start) {
            (Role::Benign(_), Some(s)) => s + between(rng, 20 * HOUR, 40 * HOUR),
            _ => win.start_ts() + between(rng, DAY, (win.days - 1).max(1) * DAY),
        };
        let t = t.min(end_ts - 2 * HOUR).max(win.start_ts());
        let res = c
            .resources
            .iter()
            .position(|r| {
                matches!(
                    r.kind,
                    ResKind::AmlCompute { .. } | ResKind::BatchPool { .. }
                )
            })
            .or_else(|| (!c.resources.is_empty()).then_some(0));
        let sub = res.map_or(0, |r| c.resources[r].sub);
        let resolved_at = t + between(rng, 2 * HOUR, 30 * HOUR);
        let resolution = if resolved_at < end_ts {
            Resolution::Resolved {
                reason: "Legitimate",
                at: resolved_at,
                by: "ops@fabrikamcloud.onmicrosoft.com".to_string(),
            }
        } else {
            Resolution::Open("Investigating")
        };
        // The older model carries no type; the new one names what Microsoft saw.
        let new = match c.role {
            Role::Benign(REGION_MOVE) => "VM_AnomalousDeployment",
            Role::Benign(_) => "ARM_AnomalousResourceConsumption",
            _ => "AzureMachineLearning_AnomalousDeployment",
        };
        let nm = chance(rng, 0.6).then(|| {
            let severity = if chance(rng, 0.5) { "Medium" } else { "Low" };
            let mut m = new_model(rng, c, new, severity, Vec::new());
            m.with_affected = chance(rng, 0.5);
            m
        });
        let first = t - between(rng, 2, 20) * HOUR;
        events.push(fraud_event(
            rng,
            c,
            sub,
            res,
            t,
            first.max(win.start_ts()),
            nm,
            resolution,
        ));
    }
    w.fraud.extend(events);
}

/// Unlabelled noise on ordinary customers: short trips abroad and failed password sprays.
fn ordinary_noise(w: &mut World) {
    let win = w.win;
    if win.days < 5 {
        return;
    }
    for c in &mut w.customers {
        if !matches!(c.role, Role::Ordinary | Role::NewLegit) {
            continue;
        }
        let rng = &mut rng_for(w.seed, tag::PLAN, 1_000 + c.idx as u64);
        let own = country_code(c);
        for u in 0..c.users.len() {
            if chance(rng, 0.03) {
                let mut dest = pick(rng, COUNTRIES);
                while dest.code == own {
                    dest = pick(rng, COUNTRIES);
                }
                let place = choose(rng, dest.cities);
                let day = between(rng, 0, win.days - 3);
                let len = between(rng, 2, 5);
                let from = local_ts(rng, win.start_day + day, place.utc_min, 6.0, 11.0)
                    .max(win.start_ts());
                c.trips.push(Trip {
                    user: u,
                    from,
                    to: ((win.start_day + day + len) * DAY).min(win.end_ts()),
                    place,
                    ip: ip_in(rng, dest.ip_prefixes),
                });
            }
        }
        if chance(rng, 0.05) && !c.users.is_empty() {
            let origin = pick_origin(rng, own);
            let ip = ip_in(rng, origin.ip_prefixes);
            let mut t = win.start_ts() + between(rng, 0, win.days * DAY - HOUR);
            let client = choose(rng, &["IMAP4", "Browser", "Other clients"]);
            for _ in 0..(2 + poisson(rng, 3.0)) {
                let user = index(rng, c.users.len());
                let app = if client == "Browser" {
                    APP_PORTAL
                } else {
                    APP_EXCHANGE
                };
                let device = if client == "Browser" {
                    choose(rng, ATTACK_DEVICES)
                } else {
                    ("", "")
                };
                let risk = if chance(rng, 0.5) {
                    RISK_LOW
                } else {
                    RISK_NONE
                };
                c.extra_signins.push(signin(
                    t,
                    user,
                    app,
                    &ip,
                    client,
                    client == "Browser",
                    risk,
                    50126,
                    origin,
                    device,
                ));
                t += between(rng, 10, 600);
            }
        }
    }
}

/// `additionalDetails` of a crypto-mining alert: the VM's address, the pool's, and the connection count.
fn mining_details(rng: &mut SimRng) -> Vec<(&'static str, String)> {
    vec![
        (
            "vM_IP",
            format!(
                "[\"20.{}.{}.{}\"]",
                between(rng, 40, 120),
                between(rng, 0, 255),
                between(rng, 1, 254)
            ),
        ),
        (
            "miningPool_IP",
            format!("[\"{}\"]", pick(rng, MINING_POOL_IPS)),
        ),
        ("connectionCount", between(rng, 40, 2000).to_string()),
    ]
}
