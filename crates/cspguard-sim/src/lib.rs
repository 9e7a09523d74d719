//! `cspguard-sim`: a deterministic simulator of a Microsoft CSP distributor's book, writing every input shape
//! cspguard ingests (see `shared/domain/formats.md`) plus the ground truth of what was injected.
//!
//! # What [`simulate`] writes under the output folder
//! | file | shape |
//! | --- | --- |
//! | `usage/usage_YYYY-MM.csv` | daily rated usage reconciliation, all 55 columns, one file per calendar month the window touches |
//! | `customers.json` | Partner Center customers page |
//! | `subscriptions/<tenant>.json` | Partner Center subscriptions page of each customer (Azure plans) |
//! | `signins/<tenant>.json` | Graph `auditLogs/signIns` page of each customer tenant, newest first |
//! | `activity_log/<azure-subscription>.json` | activity log of each Azure subscription, REST (`value`) or streamed (`records`) shape |
//! | `fraud_events.json` | Partner Center fraud events, older and new events model mixed |
//! | `billing.jsonl` | the partner's billing records: customers, instruments, invoices, payments |
//! | `labels.json` | the window, the injected incidents and the benign look-alikes |
//!
//! # The book
//! The partner ("Fabrikam Cloud") is a distributor: about 60% of customers are direct, the rest belong to 4-6
//! indirect resellers (`associatedPartnerId` = reseller tenant; the reseller's 7-digit MPN ID is `ResellerMPNID` in
//! billed usage, `partnerId` on subscriptions and `reseller_mpn_id` in billing). Customers come from 19 countries
//! with cities, ISP address ranges and preferred Azure regions; a few European ones are billed in EUR. Daily spend
//! is heavy-tailed: most customers spend $1-50 a day, about 6% $500-5,000. Each has 1-5 users (the first is the
//! admin), 1-2 Azure plans with 1-2 Azure subscriptions each, and resources in 1-3 home regions (VMs, scale sets,
//! disks, App Service plans, SQL, storage, Cosmos DB, container instances, Log Analytics, Key Vault, and for a few
//! legitimate GPU machine learning). Each resource emits one or more meter streams; a day's quantity follows the
//! customer's weekday pattern (weekends lower for business customers, an optional weekly peak day), slow drift,
//! log-normal noise, and sometimes splits into 2-3 rows. Ordinary customers also create the odd resource (rarely in
//! a new region), delete some, travel, get password-sprayed, pay late or replace cards, and ~2% sign up during the
//! window legitimately, so the injected cases are not trivially separable.
//!
//! # Injected cases (labels.json)
//! With at least 20 customers and 7 days, each kind below is injected on its own customers (counts per 300
//! customers in brackets, scaled, at least one each), starting after a baseline of min(30, days/3) days:
//! - `cryptojacking` (5): failed sign-ins (sometimes over IMAP4 / Authenticated SMTP) then a risky success of the
//!   admin from a new country or anonymising network; 5-60 min later role assignments and quota requests, then a
//!   burst of GPU / high-core scale sets, VMs, Batch pools, container groups or ML computes in 3-6 regions the
//!   customer never used; usage 20-200x the normal daily spend from then on; a Microsoft alert 24-60 h after the
//!   first deployment; the partner deletes the resources 2-7 days later (the label's end) unless the window ends.
//! - `stolen_card_signup` (4): a customer created during the window from a foreign address, a card or prepaid card
//!   of a third country, GPU / high-core consumption from day 1-3; its first invoice's payment fails or is disputed.
//! - `nonpayment` (5): payments drift later and partial over the prior months, cards churn, then the invoice due at
//!   the label's start is never paid (failed attempts only) and receivables age to the window end.
//! - `card_testing` (3): 8-30 cards added within minutes, each tried with a small charge that mostly fails.
//! - `aup_enforcement` (3): the customer itself mines on GPU / high-core VMs in its home regions; Microsoft alerts
//!   (most times) and suspends the Azure plan (`suspensionReasons: ["AcceptableUsePolicy"]`), which stops usage.
//! - benign: `steady_growth` (2-4%/day for 3-6 weeks), `month_end_batch` (a Batch pool on the last 3 days of every
//!   month), `region_move` (new region ramps up over 7-14 days with ordinary sizes while the old one fades),
//!   `traveller` (a user signs in from abroad with MFA for 3-10 days), `payment_in_posting_window` (a bank payment
//!   submitted 1-4 business days before the due date and posted after it, within 5 business days).
//!   A few false-positive Microsoft alerts on such customers are resolved `Legitimate`.
//!
//! Kinds that need the calendar are skipped when the window does not offer it: `month_end_batch` needs a month
//! end inside the window, `payment_in_posting_window` a due date between 5 and 8 days from the window's edges,
//! `nonpayment` a due date at least 5 days before the end. `stolen_card_signup` prefers a sign-up whose first
//! invoice is issued inside the window (otherwise it runs to the window end with no invoice yet).
//!
//! # Decisions
//! - Determinism: every part draws from its own ChaCha8 stream keyed by (seed, purpose, index), only `Vec` and
//!   `BTreeMap` are iterated, no clock or threads are used: the same config gives byte-identical files.
//! - Money is exact: `BillingPreTaxTotal = floor(EffectiveUnitPrice x Quantity x PCToBCExchangeRate, 2)` with
//!   `rust_decimal`; quantities are drawn as floats and rounded to 6 decimals first. Decimals are printed
//!   normalised ("0.4", "24") as in the sample; billing amounts always with 2 decimals ("1843.20").
//! - Months that ended before the last simulated day are billed (an `InvoiceNumber`); the current month is unbilled
//!   and, as formats.md says of unbilled files, leaves `InvoiceNumber` and `ResellerMPNID` empty.
//! - `SubscriptionId` in usage is the Azure plan's GUID, the same as the subscription item `id` (the sample CSV's
//!   16-hex value would not join).
//! - Activity logs write one event per operation (status Succeeded, Accepted for deletes, Failed for quota-limited
//!   attempts) rather than the Started/Succeeded pairs Azure emits; the REST shape is newest first, the streamed
//!   shape oldest first. Quota and pool writes also carry `location` in their `requestbody`.
//! - Small files are pretty-printed with a one-space indent like Microsoft's samples; sign-ins and activity logs
//!   put one compact array element per line to stay small and greppable.
//! - Files of a previous run that this run does not rewrite (other months, other tenants) are removed from the
//!   four sub-folders, only when their names match ours, so a folder always holds exactly one run.
//! - labels.json `start`/`end` of the window are instants; `end` is exclusive (start + days).
//! - [`write_usage_benchmark`] renders 512 pre-built row templates with integer fixed-point money (equal to the
//!   Decimal formula, checked by tests): about 750 bytes and well over a million rows a second.

mod activity;
mod billing;
mod catalog;
mod fraud;
mod labels;
mod model;
mod out;
mod partner_center;
mod plan;
mod rng;
mod signins;
mod time;
mod usage;
mod world;

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

pub use usage::{write_usage_benchmark, USAGE_COLUMNS};

/// Longest window accepted, in days (ten years).
pub const MAX_DAYS: u32 = 3_660;

/// What to simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// Number of customers in the partner's book.
    pub customers: usize,
    /// Length of the simulated window in whole UTC days.
    pub days: u32,
    /// Seed of all randomness: the same config gives byte-identical output.
    pub seed: u64,
    /// First day of the window.
    pub start: NaiveDate,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            customers: 300,
            days: 90,
            seed: 1,
            start: NaiveDate::from_ymd_opt(2026, 8, 1).unwrap_or_default(),
        }
    }
}

/// What [`simulate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimSummary {
    pub customers: usize,
    pub usage_rows: u64,
    pub signins: u64,
    pub activity_ops: u64,
    pub fraud_events: u64,
    pub billing_records: u64,
    pub incidents: usize,
    pub benign: usize,
    /// Every file written, sorted.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid simulation config: {0}")]
    Config(String),
}

/// Simulates the book described by `cfg` and writes it under `out` (created if needed; files overwritten).
pub fn simulate(cfg: &SimConfig, out: &Path) -> Result<SimSummary, SimError> {
    if cfg.days > MAX_DAYS {
        return Err(SimError::Config(format!(
            "days must be at most {MAX_DAYS}, got {}",
            cfg.days
        )));
    }
    let start_day = i64::from(cfg.start.num_days_from_ce()) - 719_163;
    let win = model::Window {
        start_day,
        days: i64::from(cfg.days),
    };
    let mut world = world::build(cfg.seed, cfg.customers, win);
    plan::inject(&mut world);

    let mut output = out::Output::new(out)?;
    let usage = usage::write(&world, &mut output)?;
    partner_center::write(&world, &mut output)?;
    let signins = signins::write(&world, &mut output)?;
    let activity_ops = activity::write(&world, &mut output)?;
    let fraud_events = fraud::write(&world, &mut output)?;
    let billing_records = billing::write(&world, &usage.totals, &mut output)?;
    labels::write(&world, &mut output)?;

    let mut files = output.files;
    files.sort();
    Ok(SimSummary {
        customers: world.customers.len(),
        usage_rows: usage.rows,
        signins,
        activity_ops,
        fraud_events,
        billing_records,
        incidents: world.incidents.len(),
        benign: world.benign.len(),
        files,
    })
}
