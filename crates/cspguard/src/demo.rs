//! `cspguard demo`: the one-command tour. Simulates a partner book into `<data-dir>/demo-book`, imports it through the
//! real importers into the data folder's store, and summarises what is there. Then, unless `--no-serve`, it creates
//! one login per role (only if the store has no user yet; random passwords printed once) and serves the console.
//!
//! The steps are a list so later stages (detection, cases, the console) add theirs after the import without changing it.
//! Running the demo twice re-simulates the same book (same seed, same bytes) and the import adds nothing the second time.

use crate::cli::{DemoArgs, GlobalArgs};
use crate::import::{self, ImportReport, ImportRequest};
use crate::open_store;
use anyhow::Context;
use cspguard_sim::{SimConfig, SimSummary};
use cspguard_store::{Store, StoreStats};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;

pub async fn run(g: &GlobalArgs, args: &DemoArgs) -> anyhow::Result<i32> {
    let book = g.data_dir.join("demo-book");
    outln!(
        "== cspguard demo: a simulated CSP partner book of {} customers over {} days (seed {})",
        args.customers,
        args.days,
        args.seed
    );
    let cfg = SimConfig {
        customers: args.customers,
        days: args.days,
        seed: args.seed,
        ..SimConfig::default()
    };
    let out = book.clone();
    let summary = tokio::task::spawn_blocking(move || cspguard_sim::simulate(&cfg, &out))
        .await?
        .with_context(|| format!("simulating the demo book into {}", book.display()))?;
    outln!("{}", describe_book(&summary, &book));

    outln!("\n== Importing {} through the importers", book.display());
    let store = open_store(g).await?;
    let req = ImportRequest {
        paths: vec![book.clone()],
        kind: None,
        customer: None,
        progress: std::io::stderr().is_terminal(),
        print_rejects: true,
    };
    let report = import::run(&store, &g.rejects_dir(), &req).await?;
    out!("{}", render_by_kind(&report));

    outln!(
        "\n== What the event store now holds ({})",
        cspguard_store::redact(&g.database_url())
    );
    let stats = store.stats().await?;
    out!("{}", render_stats(&stats));
    out!("{}", top_spenders(&store, &stats).await?);
    out!("{}", incidents(&book.join("labels.json")));

    outln!("\n== Detection: the detectors over every stored event (incremental: a second run scans only what is new)");
    let wrote_settings = write_demo_settings(g)?;
    let settings = crate::settings::load(g)?;
    let scan = crate::detect::scan(&store, &settings, false).await?;
    out!("  {}", scan.render());
    let alerts =
        crate::detect::load_alerts(&store, &cspguard_store::AlertFilter::default()).await?;
    let mut top: Vec<_> = alerts
        .iter()
        .filter(|a| a.origin == cspguard_detect::Origin::Cspguard)
        .cloned()
        .collect();
    top.sort_by_key(|a| std::cmp::Reverse((a.score, a.money_at_risk.amount)));
    outln!("\n== Top alerts, with why they fired ({} alerts in all; `cspguard alerts --explain` lists them)", alerts.len());
    out!(
        "{}",
        crate::detect::render_alerts(&top[..top.len().min(3)], true)
    );
    outln!(
        "\n== Evaluation against the book's labels (`cspguard eval --labels {}`)",
        book.join("labels.json").display()
    );
    let labels = crate::eval::read_labels(&book.join("labels.json"))?;
    let evaluation = crate::eval::evaluate(&store, &labels, &alerts).await?;
    out!("{}", crate::eval::render(&evaluation));

    cases_tour(&store, &settings, wrote_settings.as_deref()).await?;
    credit_tour(g, &store, &settings).await?;
    store.close().await;

    outln!(
        "\nNext: `cspguard --data-dir {0} cases list`, `cspguard --data-dir {0} cases show CASE`, `cspguard --data-dir \
         {0} actions list`, `cspguard --data-dir {0} alerts --explain`, or import your own files with `cspguard import \
         auto PATH... --detect`.",
        g.data_dir.display()
    );
    let code = report.exit_code();
    let store = open_store(g).await?;
    let logins = demo_users(&store, &g.actor()).await?;
    if args.no_serve {
        outln!("\n== The console (`cspguard --data-dir {} serve`, then http://127.0.0.1:8080/console/)", g.data_dir.display());
    } else {
        outln!(
            "\n== The console: http://{}/console/ (Ctrl-C stops it)",
            args.listen
        );
    }
    if logins.is_empty() {
        outln!("  sign in with the users made before (`cspguard users list`)");
    } else {
        for (name, role, password) in &logins {
            outln!("  {name:<9} {role:<22} password {password}");
        }
        outln!("  (the passwords are printed only this once)");
    }
    if args.no_serve {
        store.close().await;
        return Ok(code);
    }
    crate::server::serve(store, settings, &args.listen).await?;
    Ok(code)
}

/// The demo's logins, one per role, each with a random password: made only when the store has no user yet, and
/// returned (name, role, password) so the demo prints them once.
async fn demo_users(store: &Store, actor: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    use crate::server::auth::{hash_password, new_secret, Role};
    if store.user_count().await? > 0 {
        return Ok(Vec::new());
    }
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for (name, role) in [
        ("admin", Role::GlobalAdmin),
        ("agent", Role::AdminAgent),
        ("billing", Role::BillingAdmin),
        ("usermgmt", Role::UserManagementAdmin),
    ] {
        let password = new_secret("p")[2..22].to_string();
        store
            .add_user(&cspguard_store::UserRow {
                username: name.to_string(),
                password_hash: hash_password(&password)?,
                role: role.as_str().to_string(),
                reseller_mpn_id: None,
                created_at: now,
                disabled: false,
            })
            .await?;
        store
            .append_audit(&[cspguard_store::AuditEntry::new(
                now,
                actor,
                "user.added",
                serde_json::json!({"username": name, "role": role.as_str(), "by": "cspguard demo"}),
            )])
            .await?;
        out.push((name.to_string(), role.as_str().to_string(), password));
    }
    Ok(out)
}

/// One line per file kind rather than per file: a book has hundreds of files.
fn render_by_kind(r: &ImportReport) -> String {
    let mut by: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    let mut problems = String::new();
    for f in &r.files {
        if f.skipped {
            continue;
        }
        let e = by
            .entry(f.kind.clone().unwrap_or_else(|| "?".into()))
            .or_default();
        e[0] += 1;
        e[1] += f.read;
        e[2] += f.imported;
        e[3] += f.duplicates;
        e[4] += f.rejected;
        if let Some(err) = &f.error {
            problems.push_str(&format!("  NOT IMPORTED {}: {}\n", f.path.display(), err));
        }
    }
    let mut s = format!(
        "  {:<14} {:>6} {:>10} {:>10} {:>11} {:>9}\n",
        "kind", "files", "read", "imported", "duplicates", "rejected"
    );
    for (k, v) in by {
        s.push_str(&format!(
            "  {:<14} {:>6} {:>10} {:>10} {:>11} {:>9}\n",
            k, v[0], v[1], v[2], v[3], v[4]
        ));
    }
    s.push_str(&format!(
        "  {:<14} {:>6} {:>10} {:>10} {:>11} {:>9}\n",
        "total",
        r.files.iter().filter(|f| !f.skipped).count(),
        r.read,
        r.imported,
        r.duplicates,
        r.rejected
    ));
    if r.duplicates > 0 && r.imported == 0 {
        s.push_str(
            "  (everything was already imported: importing the same files again adds nothing)\n",
        );
    }
    s.push_str(&problems);
    s
}

pub fn describe_book(s: &SimSummary, out: &Path) -> String {
    format!(
        "  wrote {} files to {}: {} customers, {} usage rows, {} sign-ins, {} control-plane operations, {} Microsoft \
         fraud alerts, {} billing records; {} injected incidents and {} benign look-alikes in labels.json",
        s.files.len(),
        out.display(),
        s.customers,
        s.usage_rows,
        s.signins,
        s.activity_ops,
        s.fraud_events,
        s.billing_records,
        s.incidents,
        s.benign
    )
}

pub fn render_stats(s: &StoreStats) -> String {
    let mut out = String::new();
    let total: u64 = s.events_by_kind.iter().map(|(_, n)| n).sum();
    out.push_str(&format!("  events: {total}\n"));
    for (k, n) in &s.events_by_kind {
        out.push_str(&format!("    {:<20} {:>10}\n", k.as_str(), n));
    }
    out.push_str(&format!(
        "  customers: {}, Azure subscriptions: {}\n",
        s.customers, s.azure_subscriptions
    ));
    if let (Some(a), Some(b)) = (s.first_usage_date, s.last_usage_date) {
        let costs: Vec<String> = s
            .usage_cost_by_currency
            .iter()
            .map(|m| m.to_string())
            .collect();
        out.push_str(&format!("  usage {a} .. {b}: {}\n", costs.join(", ")));
    }
    out
}

pub fn stats_json(s: &StoreStats) -> serde_json::Value {
    serde_json::json!({
        "events": s.events_by_kind.iter().map(|(k, n)| (k.as_str().to_string(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
        "customers": s.customers,
        "azure_subscriptions": s.azure_subscriptions,
        "usage_cost": s.usage_cost_by_currency,
        "first_usage_date": s.first_usage_date,
        "last_usage_date": s.last_usage_date,
    })
}

/// The customers with the most spend in the book's last seven days, from the derived daily cost table.
async fn top_spenders(store: &Store, stats: &StoreStats) -> anyhow::Result<String> {
    let Some(last) = stats.last_usage_date else {
        return Ok(String::new());
    };
    let from = last - chrono::Duration::days(6);
    let rows = store.daily_meter_cost(None, from, last).await?;
    let mut by: BTreeMap<(String, String), rust_decimal::Decimal> = BTreeMap::new();
    for r in rows {
        *by.entry((r.customer_tenant_id, r.cost.currency.to_string()))
            .or_default() += r.cost.amount;
    }
    let names: BTreeMap<String, String> = store
        .customers()
        .await?
        .into_iter()
        .filter_map(|c| Some((c.tenant_id, c.name?)))
        .collect();
    let mut v: Vec<_> = by.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    let mut s = format!("  top spenders {from} .. {last}:\n");
    for ((t, cur), amount) in v.into_iter().take(5) {
        let name = names.get(&t).map(String::as_str).unwrap_or("?");
        s.push_str(&format!(
            "    {:<28} {}  {:>12} {}\n",
            name,
            t,
            amount.round_dp(2),
            cur
        ));
    }
    Ok(s)
}

fn incidents(labels: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(labels) else {
        return String::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return String::new();
    };
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for i in v
        .get("incidents")
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
    {
        *by.entry(
            i.get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("?")
                .to_string(),
        )
        .or_default() += 1;
    }
    if by.is_empty() {
        return String::new();
    }
    let list: Vec<String> = by.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!(
        "  injected incidents in the book (labels.json): {}\n",
        list.join(", ")
    )
}

/// The demo's settings: playbooks in dry run, written to `<data-dir>/cspguard.toml` when no settings file is in force
/// (an existing file is never overwritten). Returns the path written.
fn write_demo_settings(g: &GlobalArgs) -> anyhow::Result<Option<std::path::PathBuf>> {
    if g.config_path().is_some() {
        return Ok(None);
    }
    let path = g.data_dir.join("cspguard.toml");
    std::fs::write(&path, DEMO_SETTINGS)
        .with_context(|| format!("writing the demo settings to {}", path.display()))?;
    Ok(Some(path))
}

/// Settings the demo writes: every action kind, in dry run.
pub const DEMO_SETTINGS: &str = r#"# Written by `cspguard demo` (it never overwrites this file): playbooks in dry run. Every key is described in the
# settings documentation (`cspguard_cases::playbook`, `crates/cspguard/src/settings.rs`).

[actions]
dry_run = true                # actions record the request they would send and send nothing
two_approvers_above = "5000"  # suspensions with more money at risk need two different approvers

[notify.soc]
type = "webhook"
format = "teams"
url_env = "CSPGUARD_SOC_WEBHOOK"

[[playbooks]]
name = "compromise-response"
when = 'case.kind in ["account_compromise", "resource_abuse", "microsoft_fraud_alert"] && case.score >= 70'
actions = [
  { type = "notify", channel = "soc" },
  { type = "fraud_status", status = "Investigating" },
  { type = "set_budget", amount = "1000" },
  { type = "revoke_sessions" },
  { type = "suspend_subscription" },
  { type = "service_request" },
]

[[playbooks]]
name = "payment-risk"
when = 'case.kind in ["nonpayment", "card_testing", "new_customer_fraud"]'
actions = [
  { type = "notify", channel = "soc" },
  { type = "set_budget", amount = "500" },
]
"#;

/// Cases from the alerts, the playbooks' actions in dry run, and the timeline of the weightiest case.
async fn cases_tour(
    store: &Store,
    settings: &crate::settings::Settings,
    wrote: Option<&Path>,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    outln!(
        "\n== Cases: alerts open or join one case per customer incident; playbooks plan actions"
    );
    if let Some(p) = wrote {
        outln!(
            "  (playbooks from {}, written by the demo: every action in dry run)",
            p.display()
        );
    }
    let intake = crate::cases::intake(store, settings, now).await?;
    out!("  {}", intake.render());
    let effects = crate::effects::Connected::from_settings(settings)?;
    let run = crate::actions::run_due(store, &effects, settings, false).await?;
    out!("  {}", run.render());
    let mut cases: Vec<cspguard_cases::Case> = store
        .cases(&Default::default())
        .await?
        .iter()
        .map(crate::cases::parse_case)
        .collect::<anyhow::Result<_>>()?;
    cases.sort_by_key(|c| std::cmp::Reverse((c.score, c.money_at_risk.amount)));
    outln!(
        "  {:<13} {:<9} {:>5} {:>13}  {:<22} CUSTOMER",
        "CASE",
        "SEVERITY",
        "SCORE",
        "AT RISK",
        "KIND"
    );
    for c in cases.iter().take(8) {
        outln!(
            "  {:<13} {:<9} {:>5} {:>13}  {:<22} {}",
            c.id.0,
            c.severity.as_str(),
            c.score,
            c.money_at_risk.to_string(),
            c.kind,
            c.customer_name.as_deref().unwrap_or(&c.customer_tenant_id)
        );
    }
    if cases.len() > 8 {
        outln!("  … and {} more (`cspguard cases list`)", cases.len() - 8);
    }
    let Some(top) = cases.first() else {
        return Ok(());
    };
    let actions: Vec<cspguard_cases::ActionRecord> = store
        .actions(Some(&top.id.0), None)
        .await?
        .iter()
        .map(crate::cases::parse_action)
        .collect::<anyhow::Result<_>>()?;
    let tl = crate::cases::timeline(store, top, 40).await?;
    outln!("\n== Case {} (`cspguard cases show {}`)", top.id, top.id);
    out!("{}", crate::cases::render_case(top, &actions, &tl, now));
    Ok(())
}

/// Credit control, onboarding screening and the fraud-credit exception request on the demo book.
async fn credit_tour(
    g: &GlobalArgs,
    store: &Store,
    settings: &crate::settings::Settings,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    outln!("\n== Receivables: what customers owe, by age (`cspguard receivables`)");
    crate::credit::run(
        g,
        crate::credit::CreditCommands::Receivables(crate::credit::ReceivablesArgs {
            customer: None,
            reseller: None,
            as_of: None,
            json: false,
        }),
    )
    .await?;
    outln!("\n== Credit control: limits and dunning (`cspguard credit`, `cspguard credit check`)");
    let check = crate::credit::check_now(store, settings).await?;
    out!("  {}", check.render());
    outln!("\n== Onboarding screening of every new customer (`cspguard screen TENANT`)");
    let screening = crate::screen::screen_new(store, settings, now).await?;
    out!("  {}", screening.render());
    if let Some((tenant, _)) = screening.high.iter().max_by_key(|(_, s)| *s) {
        crate::screen::run(
            g,
            crate::screen::ScreenArgs {
                tenant: tenant.clone(),
                json: false,
            },
        )
        .await?;
    }
    // The weightiest compromise, confirmed as fraud by a person, is what Microsoft's one-time credit is for.
    let mut cases: Vec<cspguard_cases::Case> = store
        .cases(&Default::default())
        .await?
        .iter()
        .map(crate::cases::parse_case)
        .collect::<anyhow::Result<_>>()?;
    cases.retain(|c| c.kind == "account_compromise" || c.kind == "resource_abuse");
    cases.sort_by_key(|c| std::cmp::Reverse((c.money_at_risk.amount, c.score)));
    let Some(top) = cases.first() else {
        return Ok(());
    };
    outln!(
        "\n== Microsoft's fraud-credit exception request for case {} (`cspguard exception check|package`)",
        top.id
    );
    if top.verdict.is_none() {
        crate::cases::resolve_case(
            store,
            settings,
            &top.id.0,
            "fraud",
            Some("demo: compromise confirmed with the customer"),
            "demo",
            now,
        )
        .await?;
        outln!(
            "  (the demo resolves it as Fraud, as a person would after confirming the compromise)"
        );
    }
    let out_dir = g.data_dir.join("exception-request");
    crate::exception::run(
        g,
        crate::exception::ExceptionCommand::Package(crate::exception::PackageArgs {
            case: top.id.0.clone(),
            out: out_dir,
            as_of: None,
        }),
    )
    .await?;
    Ok(())
}
