//! The command line. Every subcommand has `--help`; global options come before or after the subcommand.

use clap::{Args, Parser, Subcommand, ValueEnum};
use cspguard_ingest::SourceKind;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "cspguard",
    version,
    about = "Protects Microsoft CSP partners from the money they lose to customer fraud, misuse and nonpayment.",
    long_about = "cspguard ingests a CSP partner's Partner Center usage, Azure fraud alerts, Entra sign-ins, Azure activity \
                  logs, billing records, customers and subscriptions into a durable event store.\n\n\
                  Start with `cspguard demo`: it simulates a partner book and imports it."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Folder for cspguard's data: the embedded database, rejected records, the demo book.
    #[arg(
        long,
        global = true,
        env = "CSPGUARD_DATA_DIR",
        default_value = "./cspguard-data"
    )]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://<data-dir>/cspguard.db]
    #[arg(
        long,
        global = true,
        env = "CSPGUARD_DATABASE_URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Settings file (detector thresholds, rules) [default: ./cspguard.toml, else <data-dir>/cspguard.toml, else
    /// built-in defaults]
    #[arg(long, global = true, env = "CSPGUARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Who is acting, for the audit log (cases, approvals) [default: the login name]
    #[arg(long = "as", global = true, env = "CSPGUARD_USER", value_name = "USER")]
    pub actor: Option<String>,
}

impl GlobalArgs {
    pub fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/cspguard.db", self.data_dir.display()))
    }
    /// The person acting: `--as`, else `CSPGUARD_USER`, else the login name.
    pub fn actor(&self) -> String {
        self.actor
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("USERNAME").ok())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    }
    pub fn rejects_dir(&self) -> PathBuf {
        self.data_dir.join("rejects")
    }
    /// The settings file in force, if any: `--config`, else `./cspguard.toml`, else `<data-dir>/cspguard.toml`.
    pub fn config_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.config {
            return Some(p.clone());
        }
        [
            PathBuf::from("cspguard.toml"),
            self.data_dir.join("cspguard.toml"),
        ]
        .into_iter()
        .find(|p| p.is_file())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import source files into the event store (idempotent: importing a file again adds nothing).
    ///
    /// Exit status: 0 everything imported, 3 some records rejected (the others imported; rejected records are copied to
    /// <data-dir>/rejects/), 2 a file is unusable (wrong kind, missing required column, unreadable), 1 other failures.
    Import(ImportArgs),
    /// Write a simulated partner book (every source format, plus labels.json of the injected incidents).
    Simulate(SimulateArgs),
    /// Simulate a partner book into the data folder, import it through the real importers, and summarise it.
    Demo(DemoArgs),
    /// What the event store holds.
    Stats(StatsArgs),
    /// Run the detectors over the events stored since the last scan (incremental; resumes from its checkpoint).
    Scan(ScanArgs),
    /// List alerts, most recent first.
    Alerts(AlertsArgs),
    /// One customer: profile, risk score (0-100, decaying) and alerts.
    Customer(CustomerArgs),
    /// Score the stored alerts against a simulated book's labels.json: recall, precision, false alerts, delays.
    Eval(EvalArgs),
    /// Check the rules in cspguard.toml, or backtest them on the stored events.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Anomaly detection.
    Detect {
        #[command(subcommand)]
        command: DetectCommand,
    },
    /// Cases: one per customer incident, with its timeline, SLA clocks, checklist and actions.
    Cases {
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// Actions the playbooks planned: list, approve, cancel, run.
    Actions {
        #[command(subcommand)]
        command: ActionsCommand,
    },
    /// Receivables and credit control (`receivables`, `credit`, `credit check`, `credit partner`).
    #[command(flatten)]
    Credit(crate::credit::CreditCommands),
    /// Pull from external services into the event store.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// Onboarding screening of a customer: a 0-100 score, the reasons with their evidence, recommended controls.
    Screen(crate::screen::ScreenArgs),
    /// Microsoft's one-time fraud-credit exception request: eligibility, the claim, the package, the status.
    Exception {
        #[command(subcommand)]
        command: crate::exception::ExceptionCommand,
    },
    /// Reports: `report liability` (exposure, money at risk, money saved by early action, credits).
    Report {
        #[command(subcommand)]
        command: crate::report::ReportCommand,
    },
    /// Serve the REST API (authenticated; OpenAPI at /openapi.json, metrics at /metrics).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Users of the server: add, list, API tokens.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user (password from CSPGUARD_PASSWORD, else a line of standard input). The first one should be a
    /// global admin.
    Add {
        username: String,
        /// global-admin, user-management-admin, admin-agent or billing-admin
        #[arg(long)]
        role: String,
        /// Scope the user to one indirect reseller's customers (its MPN ID).
        #[arg(long)]
        reseller: Option<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create an API token for a user (printed once; stored hashed): `users token NAME`; `users token list` and
    /// `users token revoke NAME ID` list and revoke them.
    Token(TokenArgs),
    /// Disable a user: it can no longer sign in, its console sessions end and its API tokens are refused.
    Disable { username: String },
    /// Enable a disabled user again (its API tokens work again; it signs in anew).
    Enable { username: String },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: Option<TokenCommand>,
    /// The user the new token acts as.
    #[arg(required = true)]
    pub username: Option<String>,
    /// A name for the token (which machine or job uses it).
    #[arg(long, default_value = "api")]
    pub name: String,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// API tokens (their public IDs and names, never the tokens), of one user or of every user.
    List {
        username: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a user's API token by its ID (`users token list` shows them).
    Revoke { username: String, id: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit log's hash chain; exit 1 if an entry was edited, inserted or removed.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// Cases, newest first, with their SLA clocks.
    List(CasesListArgs),
    /// One case: alerts, SLA, checklist, notes, actions and the timeline around the incident.
    Show(CaseShowArgs),
    /// Assign a case to a person.
    Assign { id: String, assignee: String },
    /// Add a note to a case.
    Note { id: String, text: String },
    /// Move a case forward: investigating or mitigating.
    Status { id: String, status: String },
    /// Tick a checklist step (its id, as `cases show` lists them).
    Check { id: String, step: String },
    /// Tag a case.
    Tag { id: String, tag: String },
    /// Resolve a case with a verdict (Microsoft's: legitimate, fraud, ignore). Microsoft's alerts of the case are
    /// then resolved with the same verdict (an action, run by `actions run`).
    Resolve {
        id: String,
        #[arg(long)]
        verdict: String,
        /// Why (kept as a note).
        #[arg(long)]
        note: Option<String>,
    },
    /// Open or update cases from the stored alerts and plan the playbooks' actions (`scan` does this itself).
    Intake {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CasesListArgs {
    #[arg(long)]
    pub json: bool,
    /// open, investigating, mitigating, resolved
    #[arg(long)]
    pub status: Option<String>,
    /// Customer tenant ID.
    #[arg(long)]
    pub customer: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct CaseShowArgs {
    pub id: String,
    #[arg(long)]
    pub json: bool,
    /// Most timeline entries to show.
    #[arg(long, default_value_t = 200)]
    pub timeline_limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum ActionsCommand {
    /// Actions, oldest first.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long = "case")]
        case_id: Option<String>,
        /// awaiting_approval, ready, in_flight, succeeded, failed, dry_run, cancelled
        #[arg(long)]
        state: Option<String>,
    },
    /// Approve an action (its key, or the first 6+ characters of it). Some need two different approvers.
    Approve { key: String },
    /// Cancel an action that has not run.
    Cancel {
        key: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Run every action that is ready (and resume any a crash left in flight). Failures are retried later with
    /// backoff; run it again (or from a timer) to continue.
    Run {
        /// Record what would be sent, send nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
        /// Keep running: a pass every SECONDS until interrupted (Ctrl-C ends after the pass in progress).
        #[arg(long, value_name = "SECONDS")]
        every: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Pull fraud alerts, customers and subscriptions from Partner Center ([partner_center] in cspguard.toml);
    /// incremental, and resumes where a failed run stopped.
    PartnerCenter {
        /// Start over instead of resuming.
        #[arg(long)]
        restart: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate cspguard.toml: thresholds, allow-lists, suppressions, and every rule's CEL condition.
    Check,
    /// Replay the stored events with the current settings and report what each detector and rule would have fired.
    Backtest(BacktestArgs),
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Start of the window (RFC 3339 instant or date).
    #[arg(long)]
    pub from: String,
    /// End of the window (RFC 3339 instant or date; a date means its end).
    #[arg(long)]
    pub to: String,
    /// A simulator labels.json, for precision and recall.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Forget the checkpoint and every alert, and evaluate the whole log again.
    #[arg(long)]
    pub from_start: bool,
    /// Print the scan report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Print the alerts as a JSON array (the documented alert fields).
    #[arg(long)]
    pub json: bool,
    /// Only alerts fired at or after this instant (RFC 3339, e.g. 2026-09-01T00:00:00Z) or date (2026-09-01).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only this customer's alerts.
    #[arg(long, value_name = "TENANT")]
    pub customer: Option<String>,
    /// Show each alert's evidence and reasoning.
    #[arg(long)]
    pub explain: bool,
    /// At most this many alerts.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct CustomerArgs {
    /// The customer's tenant ID.
    pub tenant: String,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The labels.json that `cspguard simulate` (or the demo, in <data-dir>/demo-book) wrote.
    #[arg(long)]
    pub labels: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DetectCommand {
    /// Score one numeric series (CSV `timestamp,value`, e.g. a Numenta Anomaly Benchmark file) with the streaming
    /// anomaly scorer: writes `timestamp,value,anomaly_score`, one row per input row, each score from that row and the
    /// rows before it.
    ///
    /// A malformed row (bad timestamp or value, missing field) is kept with a score of 0, is not learnt from, and is
    /// reported with its line. Exit status: 0 every row scored, 3 some rows malformed (the output is complete), 2 the
    /// input is unusable (unreadable, empty, no `timestamp` and `value` columns), 1 other failures.
    Series(DetectSeriesArgs),
}

#[derive(Debug, Args)]
pub struct DetectSeriesArgs {
    /// CSV with a header naming `timestamp` and `value` columns (others are ignored). Timestamps: `2014-04-01 00:00:00`,
    /// ISO 8601 / RFC 3339, a date, or unix seconds.
    #[arg(long, short)]
    pub input: PathBuf,
    /// Where to write `timestamp,value,anomaly_score` (timestamps and values copied verbatim).
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Which importer to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Recognise each file's kind from its content; folders are walked.
    Auto,
    /// Partner Center daily rated usage reconciliation CSV (billed or unbilled).
    Usage,
    /// Partner Center Azure fraud events JSON (either events model).
    FraudEvents,
    /// Entra sign-in logs: Graph pages or JSON Lines.
    Signins,
    /// Azure activity log: REST export or streamed records.
    ActivityLog,
    /// The partner's billing records, JSON Lines (customer, invoice, payment, instrument).
    Billing,
    /// Partner Center customers JSON.
    Customers,
    /// Partner Center subscriptions JSON of one customer (name it with --customer or in the file name).
    Subscriptions,
}

impl KindArg {
    pub fn source_kind(self) -> Option<SourceKind> {
        match self {
            KindArg::Auto => None,
            KindArg::Usage => Some(SourceKind::Usage),
            KindArg::FraudEvents => Some(SourceKind::FraudEvents),
            KindArg::Signins => Some(SourceKind::SignIns),
            KindArg::ActivityLog => Some(SourceKind::ActivityLog),
            KindArg::Billing => Some(SourceKind::Billing),
            KindArg::Customers => Some(SourceKind::Customers),
            KindArg::Subscriptions => Some(SourceKind::Subscriptions),
        }
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The source kind, or `auto`.
    #[arg(value_enum)]
    pub kind: KindArg,
    /// Files (and, with `auto`, folders) to import.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Customer tenant ID for records that do not name one (sign-ins without resourceTenantId, subscriptions pages,
    /// activity logs without tenantId). Without it, a tenant ID in the file name is used.
    #[arg(long, value_name = "TENANT")]
    pub customer: Option<String>,
    /// Print the summary as one JSON object on standard output: {"read","imported","duplicates","rejected","files"}.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no per-record reject lines (the rejects files are still written).
    #[arg(long, short)]
    pub quiet: bool,
    /// After storing, run the detectors on what was stored (the same incremental scan as `cspguard scan`).
    #[arg(long)]
    pub detect: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Number of customers.
    #[arg(long, default_value_t = 300)]
    pub customers: usize,
    /// Number of days.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Random seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First simulated day.
    #[arg(long, default_value = "2026-08-01")]
    pub start: chrono::NaiveDate,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Instead of a book, write only OUT/usage_bench.csv with this many usage rows (for benchmarks).
    #[arg(long, value_name = "ROWS")]
    pub usage_rows: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of simulated customers.
    #[arg(long, default_value_t = 300)]
    pub customers: usize,
    /// Number of simulated days.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Random seed of the simulated book.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after the summary instead of serving the console (for scripts).
    #[arg(long)]
    pub no_serve: bool,
    /// Where the demo serves the console.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}
