//! The `cspguard` binary: parses the command line, runs one command, maps the outcome to an exit status
//! (see [`cspguard::exit`]).

use anyhow::Context;
use clap::Parser;
use cspguard::cli::{Cli, Command, DetectCommand, GlobalArgs, ImportArgs, SimulateArgs, StatsArgs};
use cspguard::{demo, detect_series, exit, import, open_store};
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
        Command::Detect { command } => match command {
            DetectCommand::Series(args) => detect_series::run(&args),
        },
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
    store.close().await;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.render());
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
        println!("wrote {} usage rows to {}", rows, path.display());
        return Ok(exit::OK);
    }
    let cfg = cspguard_sim::SimConfig {
        customers: args.customers,
        days: args.days,
        seed: args.seed,
        start: args.start,
    };
    let s = cspguard_sim::simulate(&cfg, &args.out)?;
    println!("{}", demo::describe_book(&s, &args.out));
    Ok(exit::OK)
}

async fn run_stats(g: &GlobalArgs, args: StatsArgs) -> anyhow::Result<i32> {
    let store = open_store(g).await?;
    let stats = store.stats().await?;
    store.close().await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&demo::stats_json(&stats))?
        );
    } else {
        print!("{}", demo::render_stats(&stats));
    }
    Ok(exit::OK)
}
