//! The `cspguard` binary's library half: command-line wiring of the stages, kept thin (ripgrep's shape). The binary
//! parses flags, opens the store, runs one command and maps the outcome to an exit status.
//!
//! - [`cli`]: the command-line interface (clap);
//! - [`import`]: files -> importers -> event store, with progress, rejects files and the import summary;
//! - [`rejects`]: where rejected records go;
//! - [`detect`]: `scan`, `alerts`, `customer`: the detection stage over the store;
//! - [`cases`]: `cases …`: alerts open or join cases, playbooks plan actions, people work the cases; timelines;
//! - [`actions`]: `actions …`: approvals and the executor (idempotent, retried, circuit-broken, audited);
//! - [`credit`]: `receivables`, `credit …`: aging, exposure against limits, dunning into cases and actions, the
//!   partner's standing with Microsoft;
//! - [`sync`]: `sync partner-center`: resumable pulls from Partner Center into the event store;
//! - [`report`]: `report liability`: exposure, money at risk, money saved by early action, credits;
//! - [`server`]: `serve`: the REST API, its authentication, roles and reseller scope;
//! - [`users`]: `users …`, `audit verify`, and starting the server;
//! - [`screen`]: `screen TENANT` and the screening of new customers that `scan` runs;
//! - [`exception`]: `exception …`: Microsoft's one-time fraud-credit exception request (check, claim, package);
//! - [`eval`]: alerts scored against a simulated book's labels;
//! - [`settings`]: the settings file, `cspguard.toml`;
//! - [`rules`]: `rules check` and `rules backtest`;
//! - [`time_order`]: stored events in event-time order with bounded memory (external merge sort);
//! - [`demo`]: the one-command tour on a simulated partner book;
//! - [`detect_series`]: `detect series`, the streaming anomaly scorer over one CSV series.

/// Writes to standard output; when the reader has gone away (`cspguard alerts | head`), exits quietly instead of
/// panicking as `print!` does.
pub fn write_stdout(text: std::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(exit::OK);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(exit::FAILURE);
    }
}

/// `print!` that survives a closed pipe (see [`write_stdout`]).
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::write_stdout(format_args!($($t)*)) };
}

/// `println!` that survives a closed pipe (see [`write_stdout`]).
#[macro_export]
macro_rules! outln {
    () => { $crate::write_stdout(format_args!("\n")) };
    ($($t:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($t)*))) };
}

pub mod actions;
pub mod cases;
pub mod cli;
pub mod credit;
pub mod demo;
pub mod detect;
pub mod detect_series;
pub mod effects;
pub mod eval;
pub mod exception;
pub mod import;
pub mod rejects;
pub mod report;
pub mod rules;
pub mod screen;
pub mod server;
pub mod settings;
pub mod sync;
pub mod time_order;
pub mod users;

/// Exit statuses of every command.
pub mod exit {
    /// Everything worked.
    pub const OK: i32 = 0;
    /// An unexpected failure (database, IO): the message says what and what to do.
    pub const FAILURE: i32 = 1;
    /// Unusable input: wrong kind, missing required column, unreadable or empty file.
    pub const UNUSABLE: i32 = 2;
    /// Some records were rejected (the rest were imported).
    pub const REJECTS: i32 = 3;
}

/// Opens the store named by the global options, creating the data folder first.
pub async fn open_store(g: &cli::GlobalArgs) -> anyhow::Result<cspguard_store::Store> {
    use anyhow::Context;
    std::fs::create_dir_all(&g.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}: choose another with --data-dir",
            g.data_dir.display()
        )
    })?;
    let url = g.database_url();
    cspguard_store::Store::open(&url)
        .await
        .context("opening the event store (is --database right?)")
}
