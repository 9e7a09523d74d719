//! Builds the ordinary book: the partner, its resellers and customers with users, Azure plans, Azure subscriptions,
//! resources and usage streams, and the ordinary noise (new resources, deletions, the odd new region, legitimate
//! sign-ups during the window). Incidents and benign look-alikes are added afterwards by `plan`.

use std::collections::BTreeSet;

use crate::catalog::{
    self, vm_meter, Meter, VmBilling, COMPANY_FIRST, COMPANY_SECOND, COUNTRIES, FIRST_NAMES,
    LAST_NAMES, REGIONS, RESELLER_NAMES, VM_ML, VM_ORDINARY, VM_SIZES, VM_SMALL,
};
use crate::model::{
    Actor, AzSub, Currency, Customer, Op, OpStatus, Partner, Pattern, PayStyle, Plan, ResKind,
    Reseller, Resource, Role, Stream, User, Window, World,
};
use crate::rng::{
    between, chance, choose, guid, index, ip_in, log_uniform, lognormal, pick, rng_for,
    stable_guid, tag, uniform, weighted, SimRng,
};
use crate::time::{DAY, HOUR, MINUTE};

pub(crate) fn build(seed: u64, customers: usize, win: Window) -> World {
    let mut rng = rng_for(seed, tag::WORLD, 0);
    let rng = &mut rng;
    let partner = Partner {
        tenant: guid(rng),
        name: "Fabrikam Cloud",
        mpn: between(rng, 4_000_000, 6_999_999).to_string(),
        admin_upn: "adminagent@fabrikamcloud.onmicrosoft.com".to_string(),
        ip: format!(
            "52.{}.{}.{}",
            between(rng, 96, 127),
            between(rng, 0, 255),
            between(rng, 1, 254)
        ),
    };
    let mut mpns = BTreeSet::from([partner.mpn.clone()]);
    let n_resellers = between(rng, 4, 6) as usize;
    let mut resellers = Vec::with_capacity(n_resellers);
    for name in RESELLER_NAMES.iter().take(n_resellers) {
        let mut mpn = between(rng, 1_000_000, 9_999_999).to_string();
        while mpns.contains(&mpn) {
            mpn = between(rng, 1_000_000, 9_999_999).to_string();
        }
        mpns.insert(mpn.clone());
        resellers.push(Reseller {
            tenant: guid(rng),
            name,
            mpn,
        });
    }
    let mut used = BTreeSet::new();
    let customers = (0..customers)
        .map(|i| build_customer(seed, i, win, n_resellers, &mut used))
        .collect();
    World {
        seed,
        win,
        partner,
        resellers,
        customers,
        fraud: Vec::new(),
        incidents: Vec::new(),
        benign: Vec::new(),
    }
}

fn slugify(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.chars())
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// An instant on `day` (absolute day number) between local hours `from_h` and `to_h` of a place at `utc_min`.
pub(crate) fn local_ts(rng: &mut SimRng, day: i64, utc_min: i32, from_h: f64, to_h: f64) -> i64 {
    let local = (uniform(rng, from_h, to_h) * HOUR as f64) as i64;
    day * DAY + local - i64::from(utc_min) * MINUTE
}

/// A round credit limit above `amount`.
fn nice_limit(amount: f64) -> i64 {
    const STEPS: &[i64] = &[
        1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    ];
    STEPS
        .iter()
        .copied()
        .find(|&s| s as f64 >= amount)
        .unwrap_or(1_000_000)
}

fn build_customer(
    seed: u64,
    idx: usize,
    win: Window,
    n_resellers: usize,
    used: &mut BTreeSet<String>,
) -> Customer {
    let mut rng = rng_for(seed, tag::CUSTOMER, idx as u64);
    let rng = &mut rng;
    let tenant = guid(rng);
    let weights: Vec<u32> = COUNTRIES.iter().map(|c| c.weight).collect();
    let country = weighted(rng, &weights);
    let cdef = &COUNTRIES[country];
    let city = choose(rng, cdef.cities);

    let mut first = "";
    let mut second = "";
    let mut slug = String::new();
    for attempt in 0..20 {
        first = choose(rng, COMPANY_FIRST);
        second = choose(rng, COMPANY_SECOND);
        slug = slugify(&[first, second]);
        if attempt == 19 {
            slug = format!("{slug}{idx}");
        }
        if !used.contains(&slug) {
            break;
        }
    }
    used.insert(slug.clone());
    let name = format!("{first} {second} {}", pick(rng, cdef.suffixes));
    let domain = format!("{slug}.onmicrosoft.com");
    let currency = if cdef.eur && chance(rng, 0.4) {
        Currency::Eur
    } else {
        Currency::Usd
    };
    let reseller = if chance(rng, 0.6) || n_resellers == 0 {
        None
    } else {
        Some(index(rng, n_resellers))
    };
    let tier = weighted(rng, &[72, 22, 6]);
    let daily_spend = match tier {
        0 => lognormal(rng, 6.0, 0.75).clamp(1.0, 20.0),
        1 => lognormal(rng, 60.0, 0.7).clamp(20.0, 450.0),
        _ => log_uniform(rng, 500.0, 5000.0),
    };
    let mut role = Role::Ordinary;
    let age = between(rng, 60, 1100);
    let mut created = local_ts(rng, win.start_day - age, city.utc_min, 8.0, 18.0);
    if win.days >= 14 && chance(rng, 0.02) {
        role = Role::NewLegit;
        let day = win.start_day + between(rng, 2, win.days - 5);
        created = local_ts(rng, day, city.utc_min, 8.0, 18.0);
    }
    let mfa = chance(rng, 0.6);
    let terms = if tier == 2 {
        [30, 45, 60][weighted(rng, &[4, 3, 3])]
    } else {
        [30, 14, 45, 60][weighted(rng, &[70, 10, 10, 10])]
    };
    let margin_bp = between(rng, 800, 1800);
    let pay_style = [PayStyle::Punctual, PayStyle::SometimesLate, PayStyle::Flaky]
        [weighted(rng, &[75, 15, 10])];
    let pays_by_card = match tier {
        0 => chance(rng, 0.7),
        1 => chance(rng, 0.35),
        _ => false,
    };
    let business = chance(rng, 0.7);
    let weekend = if business {
        uniform(rng, 0.3, 0.75)
    } else {
        uniform(rng, 0.85, 1.0)
    };
    let weekly_peak =
        chance(rng, 0.15).then(|| (between(rng, 0, 4) as u32, uniform(rng, 1.3, 2.0)));
    let noise = uniform(rng, 0.06, 0.22);
    let drift = uniform(rng, -0.003, 0.004);
    let month_end_bump = chance(rng, 0.05).then(|| uniform(rng, 1.4, 2.2));

    let mut home_regions = vec![if chance(rng, 0.85) {
        cdef.regions[0]
    } else {
        choose(rng, cdef.regions)
    }];
    for _ in 0..weighted(rng, &[55, 35, 10]) {
        let cand = if chance(rng, 0.7) {
            choose(rng, cdef.regions)
        } else {
            choose(rng, &[0usize, 8, 18])
        };
        if !home_regions.contains(&cand) {
            home_regions.push(cand);
        }
    }

    let office_ips = (0..between(rng, 1, 2))
        .map(|_| ip_in(rng, cdef.ip_prefixes))
        .collect();
    let n_users = match tier {
        0 => between(rng, 1, 3),
        1 => between(rng, 2, 4),
        _ => between(rng, 3, 5),
    };
    let mut users: Vec<User> = Vec::new();
    for u in 0..n_users {
        let (upn, display) = if u == 0 {
            (format!("admin@{domain}"), format!("{first} Admin"))
        } else {
            let mut f = choose(rng, FIRST_NAMES);
            let mut l = choose(rng, LAST_NAMES);
            while users.iter().any(|x| x.display == format!("{f} {l}")) {
                f = choose(rng, FIRST_NAMES);
                l = choose(rng, LAST_NAMES);
            }
            (
                format!("{}.{}@{domain}", f.to_lowercase(), l.to_lowercase()),
                format!("{f} {l}"),
            )
        };
        users.push(User {
            id: guid(rng),
            upn,
            display,
            home_ip: ip_in(rng, cdef.ip_prefixes),
            device: choose(rng, catalog::DEVICES),
            works: uniform(rng, 0.55, 0.95),
            legacy: chance(rng, 0.04).then(|| choose(rng, &["IMAP4", "Exchange ActiveSync"])),
            admin: u == 0,
        });
    }

    let mut c = Customer {
        idx,
        tenant,
        name,
        domain,
        country,
        city,
        currency,
        reseller,
        created,
        signup_ip: ip_in(rng, cdef.ip_prefixes),
        mfa,
        credit_limit: nice_limit(daily_spend * 30.0 * 1.6),
        terms,
        margin_bp,
        pay_style,
        pays_by_card,
        role,
        office_ips,
        sp_app_id: guid(rng),
        users,
        plans: Vec::new(),
        subs: Vec::new(),
        resources: Vec::new(),
        streams: Vec::new(),
        home_regions,
        daily_spend,
        weekend,
        weekly_peak,
        noise,
        drift,
        growth: None,
        month_end_bump,
        extra_signins: Vec::new(),
        trips: Vec::new(),
        ops: Vec::new(),
        name_seq: 0,
        nonpayment: None,
        stolen_card: None,
        card_test: None,
        posting_window: None,
    };

    build_subscriptions(&mut c, rng, win, tier);
    build_resources(&mut c, rng, win, tier);
    c
}

fn build_subscriptions(c: &mut Customer, rng: &mut SimRng, win: Window, tier: usize) {
    let n_plans = if chance(rng, if tier == 0 { 0.2 } else { 0.4 }) {
        2
    } else {
        1
    };
    let envs = ["Prod", "Dev", "Test", "Shared"];
    let mut env = 0;
    for p in 0..n_plans {
        let created = if p == 0 {
            c.created + between(rng, 5, 60) * MINUTE
        } else {
            let lo = c.created + DAY;
            let hi = win.start_ts().max(lo + DAY);
            between(rng, lo, hi)
        };
        c.plans.push(Plan {
            id: guid(rng),
            created,
            friendly: "Azure plan".to_string(),
            suspended: None,
        });
        let n_subs = if chance(rng, 0.2 + 0.15 * tier as f64) {
            2
        } else {
            1
        };
        for _ in 0..n_subs {
            let name = if chance(rng, 0.2) {
                format!("Azure subscription {}", c.subs.len() + 1)
            } else {
                format!("{} {}", c.short_name(), envs[env % envs.len()])
            };
            env += 1;
            c.subs.push(AzSub {
                id: guid(rng),
                plan: p,
                name,
                records_shape: chance(rng, 1.0 / 3.0),
                frozen_at: None,
            });
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Vm,
    Vmss,
    Disk,
    AppPlan,
    SqlVcore,
    SqlDtu,
    Storage,
    Cosmos,
    Aci,
    Logs,
    KeyVault,
    Batch,
}

const KINDS: [Kind; 12] = [
    Kind::Vm,
    Kind::Vmss,
    Kind::Disk,
    Kind::AppPlan,
    Kind::SqlVcore,
    Kind::SqlDtu,
    Kind::Storage,
    Kind::Cosmos,
    Kind::Aci,
    Kind::Logs,
    Kind::KeyVault,
    Kind::Batch,
];

fn kind_weights(tier: usize) -> [u32; 12] {
    match tier {
        // Vm Vmss Disk App SqlV SqlD Stor Cosm Aci Logs KV Batch
        0 => [15, 0, 6, 20, 0, 12, 25, 3, 3, 8, 8, 0],
        1 => [18, 5, 8, 14, 10, 5, 18, 5, 5, 8, 6, 0],
        _ => [20, 10, 8, 10, 12, 0, 14, 7, 5, 8, 4, 2],
    }
}

fn rg_for(rng: &mut SimRng, kind: Kind) -> String {
    let options: &'static [&'static str] = match kind {
        Kind::Vm | Kind::Vmss | Kind::Disk => &["rg-app-prod", "rg-infra", "rg-dev", "rg-erp"],
        Kind::AppPlan => &["rg-web-prod", "rg-web-test", "rg-app-prod"],
        Kind::SqlVcore | Kind::SqlDtu | Kind::Cosmos => &["rg-data", "rg-app-prod", "rg-db"],
        Kind::Storage => &["rg-shared", "rg-data", "rg-backup"],
        Kind::Aci | Kind::Batch => &["rg-jobs", "rg-batch", "rg-app-prod"],
        Kind::Logs | Kind::KeyVault => &["rg-shared", "rg-monitoring", "rg-security"],
    };
    pick(rng, options).to_string()
}

/// Creates one ordinary resource of `kind` with its streams; returns its index.
fn ordinary_resource(
    c: &mut Customer,
    rng: &mut SimRng,
    win: Window,
    kind: Kind,
    tier: usize,
    region: usize,
    alive_from: i64,
) -> usize {
    let sub = if c.subs.len() > 1 && chance(rng, 0.35) {
        1 + index(rng, c.subs.len() - 1)
    } else {
        0
    };
    let seq = c.next_seq();
    let slug = c.slug();
    let rg = rg_for(rng, kind);
    let vm_size = |rng: &mut SimRng| {
        if tier == 0 {
            choose(rng, VM_SMALL)
        } else {
            choose(rng, VM_ORDINARY)
        }
    };
    let (name, res_kind) = match kind {
        Kind::Vm => (
            format!(
                "vm-{}-{seq:02}",
                pick(
                    rng,
                    &["web", "app", "sql", "dc", "jump", "build", "file", "erp"]
                )
            ),
            ResKind::Vm { size: vm_size(rng) },
        ),
        Kind::Vmss => (
            format!(
                "vmss-{}-{seq:02}",
                pick(rng, &["web", "worker", "api", "render"])
            ),
            ResKind::Vmss {
                size: vm_size(rng),
                capacity: between(rng, 2, 6) as u32,
            },
        ),
        Kind::Disk => (
            format!("disk-data-{seq:02}"),
            ResKind::Disk {
                sku: choose(rng, &["Premium_LRS", "StandardSSD_LRS"]),
            },
        ),
        Kind::AppPlan => {
            let sku = match tier {
                0 => choose(rng, &["B1", "B1", "S1"]),
                _ => choose(rng, &["S1", "P1v3", "B1"]),
            };
            (
                format!(
                    "asp-{}-{seq:02}",
                    pick(rng, &["web", "api", "portal", "shop"])
                ),
                ResKind::AppPlan {
                    sku,
                    capacity: between(rng, 1, 3) as u32,
                },
            )
        }
        Kind::SqlVcore | Kind::SqlDtu => {
            let vcore = matches!(kind, Kind::SqlVcore);
            (
                format!(
                    "db-{}",
                    pick(rng, &["app", "erp", "crm", "reporting", "orders"])
                ),
                ResKind::SqlDb {
                    server: format!("sql-{slug}-{seq:02}"),
                    sku: if vcore { "GP_Gen5" } else { "S1" },
                    capacity: if vcore {
                        choose(rng, &[2u32, 4, 8])
                    } else {
                        20
                    },
                },
            )
        }
        Kind::Storage => (format!("st{slug}{seq:02}"), ResKind::Storage),
        Kind::Cosmos => (format!("cosmos-{slug}-{seq:02}"), ResKind::Cosmos),
        Kind::Aci => (
            format!("aci-{}-{seq:02}", pick(rng, &["etl", "job", "sync", "api"])),
            ResKind::Aci {
                cpu: between(rng, 1, 4) as u32,
                mem_gb: between(rng, 2, 16) as u32,
                gpu: false,
            },
        ),
        Kind::Logs => (format!("log-{slug}-{seq:02}"), ResKind::Logs),
        Kind::KeyVault => (format!("kv-{slug}-{seq:02}"), ResKind::KeyVault),
        Kind::Batch => (
            format!("pool-{seq:02}"),
            ResKind::BatchPool {
                account: format!("batch{slug}"),
                size: choose(rng, catalog::VM_BATCH),
                nodes: between(rng, 2, 8) as u32,
            },
        ),
    };
    let tags = chance(rng, 0.6).then(|| {
        choose(
            rng,
            &[
                "{\"env\":\"prod\"}",
                "{\"env\":\"dev\",\"owner\":\"it\"}",
                "{\"costcenter\":\"4100\",\"env\":\"prod\"}",
                "{\"app\":\"erp\",\"env\":\"prod\"}",
            ],
        )
    });
    let az = c.subs[sub].id.clone();
    let res = Resource::new(&az, sub, region, rg, name, res_kind, tags, alive_from);
    c.resources.push(res);
    let r = c.resources.len() - 1;
    let from = if alive_from == i64::MIN {
        f64::NEG_INFINITY
    } else {
        win.rel(alive_from)
    };
    ordinary_streams(c, rng, r, from);
    r
}

/// Adds the usage streams an ordinary resource produces, at natural (unscaled) quantities.
fn ordinary_streams(c: &mut Customer, rng: &mut SimRng, r: usize, from: f64) {
    let kind = c.resources[r].kind.clone();
    let to = f64::INFINITY;
    let dev = c.weekend < 0.8 && chance(rng, 0.25);
    match kind {
        ResKind::Vm { size } => {
            let m = vm_meter(&VM_SIZES[size], VmBilling::VirtualMachines);
            add_stream(c, r, m, 24.0, from, to, Pattern::ELASTIC.weekdays_only(dev));
            if chance(rng, 0.4) {
                let gb = uniform(rng, 0.5, 20.0);
                add_stream(c, r, catalog::M_BANDWIDTH, gb, from, to, Pattern::ELASTIC);
            }
        }
        ResKind::Vmss { size, capacity } => {
            let m = vm_meter(&VM_SIZES[size], VmBilling::VirtualMachines);
            add_stream(
                c,
                r,
                m,
                24.0 * f64::from(capacity),
                from,
                to,
                Pattern::ELASTIC,
            );
        }
        ResKind::Disk { sku } => {
            let m = if sku == "Premium_LRS" {
                catalog::M_DISK_P10
            } else {
                catalog::M_DISK_E10
            };
            let n = between(rng, 1, 4) as f64;
            add_stream(c, r, m, n / 30.0, from, to, Pattern::STEADY);
        }
        ResKind::AppPlan { sku, capacity } => {
            let m = match sku {
                "B1" => catalog::M_APP_B1,
                "S1" => catalog::M_APP_S1,
                _ => catalog::M_APP_P1V3,
            };
            add_stream(
                c,
                r,
                m,
                24.0 * f64::from(capacity),
                from,
                to,
                Pattern::STEADY,
            );
        }
        ResKind::SqlDb { sku, capacity, .. } => {
            if sku == "GP_Gen5" {
                let q = 24.0 * f64::from(capacity);
                add_stream(c, r, catalog::M_SQL_VCORE, q, from, to, Pattern::STEADY);
            } else {
                add_stream(c, r, catalog::M_SQL_S1, 1.0, from, to, Pattern::STEADY);
            }
        }
        ResKind::Storage => {
            let gb = log_uniform(rng, 20.0, 5000.0);
            let m = if chance(rng, 0.15) {
                catalog::M_PAGE_BLOB
            } else {
                catalog::M_BLOB_HOT
            };
            add_stream(c, r, m, gb / 30.0, from, to, Pattern::STEADY);
            let ops = uniform(rng, 0.5, 40.0);
            add_stream(c, r, catalog::M_BLOB_WRITE, ops, from, to, Pattern::ELASTIC);
        }
        ResKind::Cosmos => {
            let ru = between(rng, 4, 40) as f64;
            add_stream(
                c,
                r,
                catalog::M_COSMOS,
                ru * 24.0,
                from,
                to,
                Pattern::STEADY,
            );
        }
        ResKind::Aci { cpu, mem_gb, gpu } => {
            let hours = 24.0 * uniform(rng, 0.2, 1.0);
            let cpu_meter = if gpu {
                catalog::M_ACI_GPU
            } else {
                catalog::M_ACI_CPU
            };
            add_stream(
                c,
                r,
                cpu_meter,
                hours * f64::from(cpu),
                from,
                to,
                Pattern::ELASTIC,
            );
            let mem = hours * f64::from(mem_gb);
            add_stream(c, r, catalog::M_ACI_MEM, mem, from, to, Pattern::ELASTIC);
        }
        ResKind::Logs => {
            let gb = uniform(rng, 0.3, 8.0);
            add_stream(c, r, catalog::M_LOGS, gb, from, to, Pattern::ELASTIC);
        }
        ResKind::KeyVault => {
            let ops = uniform(rng, 0.2, 20.0);
            add_stream(c, r, catalog::M_KV, ops, from, to, Pattern::ELASTIC);
        }
        ResKind::AmlCompute { size, nodes, .. } => {
            let m = vm_meter(&VM_SIZES[size], VmBilling::MachineLearning);
            let q = f64::from(nodes) * uniform(rng, 4.0, 16.0);
            add_stream(c, r, m, q, from, to, Pattern::ELASTIC.weekdays_only(dev));
        }
        ResKind::BatchPool { size, nodes, .. } => {
            let m = vm_meter(&VM_SIZES[size], VmBilling::Batch);
            let q = f64::from(nodes) * uniform(rng, 4.0, 20.0);
            add_stream(c, r, m, q, from, to, Pattern::ELASTIC);
        }
    }
}

/// Adds one usage stream on resource `r`, priced in the resource's region.
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_stream(
    c: &mut Customer,
    r: usize,
    meter: Meter,
    base: f64,
    from: f64,
    to: f64,
    pattern: Pattern,
) {
    let Pattern {
        elastic,
        weekdays_only,
        seasonal,
        shape,
    } = pattern;
    let region = &REGIONS[c.resources[r].region];
    let price_micro = ((meter.price_micro * region.price_permille + 500) / 1000).max(1);
    let meter_id = stable_guid(&[meter.category, meter.sub, meter.name, region.loc]);
    c.streams.push(Stream {
        res: r,
        meter,
        price_micro,
        meter_id,
        base,
        from,
        to,
        elastic,
        weekdays_only,
        seasonal,
        shape,
    });
}

/// Someone of the customer acting on the control plane: a user from the office, or the deployment pipeline.
pub(crate) fn customer_actor(c: &Customer, rng: &mut SimRng) -> Actor {
    if chance(rng, 0.2) {
        return Actor {
            caller: c.sp_app_id.clone(),
            ip: format!(
                "20.{}.{}.{}",
                between(rng, 36, 60),
                between(rng, 0, 255),
                between(rng, 1, 254)
            ),
        };
    }
    let u = if c.users.len() > 1 && chance(rng, 0.5) {
        1 + index(rng, c.users.len() - 1)
    } else {
        0
    };
    let ip = if c.office_ips.is_empty() {
        c.users[u].home_ip.clone()
    } else {
        c.office_ips[index(rng, c.office_ips.len())].clone()
    };
    Actor {
        caller: c.users[u].upn.clone(),
        ip,
    }
}

/// Records a create-or-update of resource `r`.
pub(crate) fn push_write(
    c: &mut Customer,
    r: usize,
    ts: i64,
    ms: u32,
    actor: Actor,
    status: OpStatus,
    capacity: Option<u32>,
) {
    let res = &c.resources[r];
    let (operation, resource_id, body) = res.write_op(capacity);
    let op = Op {
        sub: res.sub,
        ts,
        ms,
        operation,
        resource_id,
        rg: res.rg.clone(),
        status,
        actor,
        body: Some(body),
    };
    c.ops.push(op);
}

/// Records the deletion of resource `r` and ends its usage.
pub(crate) fn delete_resource(
    c: &mut Customer,
    win: Window,
    r: usize,
    ts: i64,
    ms: u32,
    actor: Actor,
) {
    let rel = win.rel(ts);
    for s in c.streams.iter_mut().filter(|s| s.res == r) {
        s.to = s.to.min(rel);
    }
    let res = &mut c.resources[r];
    res.alive_to = res.alive_to.min(ts);
    let (operation, resource_id) = res.delete_op();
    let op = Op {
        sub: res.sub,
        ts,
        ms,
        operation,
        resource_id,
        rg: res.rg.clone(),
        status: OpStatus::Accepted,
        actor,
        body: None,
    };
    c.ops.push(op);
}

fn build_resources(c: &mut Customer, rng: &mut SimRng, win: Window, tier: usize) {
    let n = match tier {
        0 => between(rng, 2, 4),
        1 => between(rng, 4, 9),
        _ => between(rng, 9, 20),
    };
    let new_customer = c.role == Role::NewLegit;
    let weights = kind_weights(tier);
    let home_weights: Vec<u32> = (0..c.home_regions.len())
        .map(|i| if i == 0 { 4 } else { 1 })
        .collect();
    for _ in 0..n {
        let kind = KINDS[weighted(rng, &weights)];
        let region = c.home_regions[weighted(rng, &home_weights)];
        let alive_from = if new_customer {
            c.created + between(rng, HOUR, 3 * DAY)
        } else {
            i64::MIN
        };
        let r = ordinary_resource(c, rng, win, kind, tier, region, alive_from);
        if new_customer {
            let actor = customer_actor(c, rng);
            let ms = between(rng, 0, 999) as u32;
            push_write(c, r, alive_from, ms, actor, OpStatus::Succeeded, None);
        }
    }
    // Machine-learning shops run GPUs legitimately, in their home region.
    if chance(rng, 0.06 + 0.1 * tier as f64) {
        let seq = c.next_seq();
        let sub = 0;
        let az = c.subs[sub].id.clone();
        let slug = c.slug();
        let kind = ResKind::AmlCompute {
            workspace: format!("mlw-{slug}"),
            size: choose(rng, VM_ML),
            nodes: between(rng, 1, 4) as u32,
        };
        let alive_from = if new_customer {
            c.created + DAY
        } else {
            i64::MIN
        };
        let res = Resource::new(
            &az,
            sub,
            c.home_regions[0],
            "rg-ml".into(),
            format!("gpu-cluster-{seq:02}"),
            kind,
            Some("{\"team\":\"data-science\"}"),
            alive_from,
        );
        c.resources.push(res);
        let r = c.resources.len() - 1;
        let from = if new_customer {
            win.rel(alive_from)
        } else {
            f64::NEG_INFINITY
        };
        ordinary_streams(c, rng, r, from);
    }

    // Scale the natural quantities to the customer's spend.
    let existing: f64 = c
        .streams
        .iter()
        .filter(|s| c.resources[s.res].alive_from == i64::MIN || new_customer)
        .map(|s| s.daily_cost())
        .sum();
    if existing > 0.0 {
        let scale = c.daily_spend / existing;
        for s in &mut c.streams {
            s.base *= scale;
        }
    }

    // Ordinary change during the window: new resources (rarely in a region not used before) and deletions.
    if win.days >= 3 && !new_customer {
        if chance(rng, 0.2) {
            for _ in 0..between(rng, 1, 2) {
                let day = win.start_day + between(rng, 1, win.days - 2);
                let ts = local_ts(rng, day, c.city.utc_min, 8.5, 18.0);
                let used = c.regions_used();
                let region = if chance(rng, 0.1) {
                    let fresh: Vec<usize> =
                        (0..REGIONS.len()).filter(|r| !used.contains(r)).collect();
                    if fresh.is_empty() {
                        c.home_regions[0]
                    } else {
                        fresh[index(rng, fresh.len())]
                    }
                } else {
                    c.home_regions[weighted(rng, &home_weights)]
                };
                let kind = choose(
                    rng,
                    &[
                        Kind::Vm,
                        Kind::Storage,
                        Kind::AppPlan,
                        Kind::SqlDtu,
                        Kind::Logs,
                    ],
                );
                let first_new = c.streams.len();
                let r = ordinary_resource(c, rng, win, kind, tier.min(1), region, ts);
                let scale = (c.daily_spend * uniform(rng, 0.05, 0.25))
                    / c.streams[first_new..]
                        .iter()
                        .map(Stream::daily_cost)
                        .sum::<f64>()
                        .max(1e-9);
                for s in &mut c.streams[first_new..] {
                    s.base *= scale;
                }
                let actor = customer_actor(c, rng);
                let ms = between(rng, 0, 999) as u32;
                push_write(c, r, ts, ms, actor, OpStatus::Succeeded, None);
            }
        }
        if chance(rng, 0.1) && !c.resources.is_empty() {
            let r = index(rng, c.resources.len());
            if c.resources[r].alive_from == i64::MIN {
                let day = win.start_day + between(rng, 1, win.days - 2);
                let ts = local_ts(rng, day, c.city.utc_min, 8.5, 18.0);
                let actor = customer_actor(c, rng);
                let ms = between(rng, 0, 999) as u32;
                delete_resource(c, win, r, ts, ms, actor);
            }
        }
    }
}
