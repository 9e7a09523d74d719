//! The `cspguard` binary: parses the command line, runs one command, maps the outcome to an exit status
//! (see [`cspguard::exit`]).

use anyhow::Context;
use clap::Parser;
use cspguard::cli::{
    AlertsArgs, Cli, Command, CustomerArgs, DetectCommand, EvalArgs, GlobalArgs, ImportArgs,
    RulesCommand, ScanArgs, SimulateArgs, StatsArgs,
};
use cspguard::{demo, detect, detect_series, eval, exit, import, open_store, rules, settings};
use std::io::IsTerminal;

/// mimalloc instead of the system allocator: events are allocated on the parser's thread and freed on the writer's,
/// and glibc's malloc spent over a third of an import's CPU time on that (measured with perf on the usage importer).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CSPGUARD_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::FAILURE);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::FAILURE
        }
    };
    std::process::exit(code);
}

async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Import(args) => run_import(&cli.global, args).await,
        Command::Simulate(args) => run_simulate(args),
        Command::Demo(args) => demo::run(&cli.global, &args).await,
        Command::Stats(args) => run_stats(&cli.global, args).await,
        Command::Scan(args) => run_scan(&cli.global, args).await,
        Command::Alerts(args) => run_alerts(&cli.global, args).await,
        Command::Customer(args) => run_customer(&cli.global, args).await,
        Command::Eval(args) => run_eval(&cli.global, args).await,
        Command::Rules { command } => run_rules(&cli.global, command).await,
        Command::Detect { command } => match command {
            DetectCommand::Series(args) => detect_series::run(&args),
        },
        Command::Cases { command } => cspguard::cases::run(&cli.global, command).await,
        Command::Actions { command } => cspguard::actions::run(&cli.global, command).await,
        Command::Sync { command } => cspguard::sync::run(&cli.global, command).await,
        Command::Report { command } => cspguard::report::run(&cli.global, command).await,
        Command::Serve { listen } => cspguard::users::serve(&cli.global, &listen).await,
        Command::Users { command } => cspguard::users::users(&cli.global, command).await,
        Command::Audit { command } => cspguard::users::audit(&cli.global, command).await,
        Command::Credit(command) => cspguard::credit::run(&cli.global, command).await,
        Command::Screen(args) => cspguard::screen::run(&cli.global, args).await,
        Command::Exception { command } => cspguard::exception::run(&cli.global, command).await,
    }
}

async fn run_import(g: &GlobalArgs, args: ImportArgs) -> anyhow::Result<i32> {
    let customer = match &args.customer {
        Some(c) => Some(
            cspguard_domain::TenantId::parse(c).map_err(|e| anyhow::anyhow!("--customer: {e}"))?,
        ),
        None => None,
    };
    let store = open_store(g).await?;
    let req = import::ImportRequest {
        paths: args.paths,
        kind: args.kind.source_kind(),
        customer,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        print_rejects: !args.quiet,
    };
    let report = import::run(&store, &g.rejects_dir(), &req).await?;
    let scan = if args.detect {
        let settings = settings::load(g)?;
        let s = detect::scan(&store, &settings, false).await?;
        let i = cspguard::cases::intake(&store, &settings, chrono::Utc::now()).await?;
        Some((s, i))
    } else {
        None
    };
    store.close().await;
    if args.json {
        cspguard::outln!("{}", serde_json::to_string(&report)?);
    } else {
        cspguard::out!("{}", report.render());
    }
    if let Some((s, i)) = scan {
        eprint!("{}{}", s.render(), i.render());
    }
    Ok(report.exit_code())
}

fn run_simulate(args: SimulateArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    if let Some(rows) = args.usage_rows {
        let path = args.out.join("usage_bench.csv");
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        cspguard_sim::write_usage_benchmark(rows, args.seed, &mut w)
            .and_then(|_| std::io::Write::flush(&mut w))
            .with_context(|| format!("writing {}", path.display()))?;
        cspguard::outln!("wrote {} usage rows to {}", rows, path.display());
        return Ok(exit::OK);
    }
    let cfg = cspguard_sim::SimConfig {
        customers: args.customers,
        days: args.days,
        seed: args.seed,
        start: args.start,
    };
    let s = cspguard_sim::simulate(&cfg, &args.out)?;
    cspguard::outln!("{}", demo::describe_book(&s, &args.out));
    Ok(exit::OK)
}

async fn run_stats(g: &GlobalArgs, args: StatsArgs) -> anyhow::Result<i32> {
    let store = open_store(g).await?;
    let stats = store.stats().await?;
    store.close().await;
    if args.json {
        cspguard::outln!(
            "{}",
            serde_json::to_string_pretty(&demo::stats_json(&stats))?
        );
    } else {
        cspguard::out!("{}", demo::render_stats(&stats));
    }
    Ok(exit::OK)
}

async fn run_scan(g: &GlobalArgs, args: ScanArgs) -> anyhow::Result<i32> {
    let settings = settings::load(g)?;
    let store = open_store(g).await?;
    let report = detect::scan(&store, &settings, args.from_start).await?;
    let intake = cspguard::cases::intake(&store, &settings, chrono::Utc::now()).await?;
    let credit = cspguard::credit::check_now(&store, &settings).await?;
    let screening = cspguard::screen::screen_new(&store, &settings, chrono::Utc::now()).await?;
    store.close().await;
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["cases"] = serde_json::to_value(&intake)?;
        v["credit"] = serde_json::to_value(&credit)?;
        v["screening"] = serde_json::to_value(&screening)?;
        cspguard::outln!("{}", serde_json::to_string(&v)?);
    } else {
        cspguard::out!("{}", report.render());
        cspguard::out!("{}", intake.render());
        cspguard::out!("{}", credit.render());
        cspguard::out!("{}", screening.render());
    }
    Ok(exit::OK)
}

/// Reads an instant (RFC 3339) or a date (midnight UTC).
fn parse_since(s: &str) -> anyhow::Result<cspguard_domain::Instant> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    anyhow::bail!("--since {s:?} is neither an RFC 3339 instant (2026-09-01T00:00:00Z) nor a date (2026-09-01)")
}

async fn run_alerts(g: &GlobalArgs, args: AlertsArgs) -> anyhow::Result<i32> {
    let filter = cspguard_store::AlertFilter {
        since: args.since.as_deref().map(parse_since).transpose()?,
        customer: args.customer.clone(),
    };
    let store = open_store(g).await?;
    let mut alerts = detect::load_alerts(&store, &filter).await?;
    store.close().await;
    if let Some(n) = args.limit {
        alerts.truncate(n);
    }
    if args.json {
        cspguard::outln!("{}", serde_json::to_string_pretty(&alerts)?);
    } else {
        cspguard::out!("{}", detect::render_alerts(&alerts, args.explain));
    }
    Ok(exit::OK)
}

async fn run_customer(g: &GlobalArgs, args: CustomerArgs) -> anyhow::Result<i32> {
    let tenant = cspguard_domain::TenantId::parse(&args.tenant)
        .map_err(|e| anyhow::anyhow!("{e}: give the customer's tenant ID (a GUID)"))?;
    let settings = settings::load(g)?;
    let store = open_store(g).await?;
    let profile = store
        .customers()
        .await?
        .into_iter()
        .find(|c| c.tenant_id == tenant.as_str());
    let (engine, _) = detect::load_engine(&store, &settings).await?;
    let alerts = detect::load_alerts(
        &store,
        &cspguard_store::AlertFilter {
            since: None,
            customer: Some(tenant.as_str().to_string()),
        },
    )
    .await?;
    store.close().await;
    let risk = engine.customer_risk(&tenant);
    if profile.is_none() && risk.is_none() && alerts.is_empty() {
        eprintln!("error: no customer {tenant} in the store: check the tenant ID, or import its data first");
        return Ok(exit::UNUSABLE);
    }
    if args.json {
        cspguard::outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "customer_tenant_id": tenant.as_str(),
                "profile": profile.as_ref().map(|p| serde_json::json!({
                    "name": p.name, "domain": p.domain, "country": p.country, "reseller_mpn_id": p.reseller_mpn_id,
                })),
                "risk": risk,
                "alerts": alerts,
            }))?
        );
        return Ok(exit::OK);
    }
    match &profile {
        Some(p) => cspguard::outln!(
            "{} ({}), {}{}",
            p.name.as_deref().unwrap_or("name unknown"),
            tenant,
            p.country.as_deref().unwrap_or("country unknown"),
            p.reseller_mpn_id
                .as_deref()
                .map(|r| format!(", via reseller {r}"))
                .unwrap_or_default()
        ),
        None => cspguard::outln!("{tenant}"),
    }
    match &risk {
        Some(r) => {
            cspguard::outln!(
                "risk score: {} / 100 (as of {}, decaying with a 7-day half-life)",
                r.score,
                r.as_of
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default()
            );
            let mut drivers: Vec<(&String, &u32)> = r.drivers.iter().collect();
            drivers.sort_by(|a, b| b.1.cmp(a.1));
            for (d, p) in drivers.iter().take(8) {
                cspguard::outln!("  {d}: {p}");
            }
        }
        None => cspguard::outln!("risk score: not scanned yet (run `cspguard scan`)"),
    }
    cspguard::outln!();
    cspguard::out!("{}", detect::render_alerts(&alerts, true));
    Ok(exit::OK)
}

async fn run_eval(g: &GlobalArgs, args: EvalArgs) -> anyhow::Result<i32> {
    let labels = eval::read_labels(&args.labels)?;
    let store = open_store(g).await?;
    let alerts = detect::load_alerts(&store, &cspguard_store::AlertFilter::default()).await?;
    let e = eval::evaluate(&store, &labels, &alerts).await?;
    store.close().await;
    if args.json {
        cspguard::outln!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        cspguard::out!("{}", eval::render(&e));
    }
    Ok(exit::OK)
}

async fn run_rules(g: &GlobalArgs, command: RulesCommand) -> anyhow::Result<i32> {
    let settings = match settings::load(g) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::UNUSABLE);
        }
    };
    match command {
        RulesCommand::Check => {
            let from = settings.path.as_ref().map_or(
                "built-in defaults (no cspguard.toml found)".to_string(),
                |p| p.display().to_string(),
            );
            cspguard::outln!(
                "{from}: valid; {} rule(s){}, {} suppression window(s), {} per-customer override(s)",
                settings.rules.names().len(),
                if settings.rules.names().is_empty() {
                    String::new()
                } else {
                    format!(" ({})", settings.rules.names().join(", "))
                },
                settings.rules.suppressions.len(),
                settings.overrides.len()
            );
            Ok(exit::OK)
        }
        RulesCommand::Backtest(args) => {
            let (from, to) = rules::parse_window(&args.from, &args.to)?;
            let labels = args.labels.as_deref().map(eval::read_labels).transpose()?;
            let store = open_store(g).await?;
            let b = rules::backtest(&store, &settings, from, to, labels.as_ref()).await?;
            store.close().await;
            if args.json {
                cspguard::outln!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                cspguard::out!("{}", rules::render(&b));
            }
            Ok(exit::OK)
        }
    }
}
