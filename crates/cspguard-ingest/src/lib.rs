//! cspguard's importers: each source shape in `docs/formats.md` parsed, validated and normalised into typed
//! [`Envelope`]s with idempotency keys.
//!
//! API boundary: [`parse`] reads one source from any `BufRead` and hands every event and every rejected record to a
//! caller's [`Sink`]; it never decides where events go or how rejects are presented (ripgrep's searcher/sink split).
//! This crate knows nothing of storage, HTTP or the terminal.
//!
//! Invariants:
//! - one bad record never stops the source: it becomes a [`Reject`] with its line, column (where the shape has columns),
//!   reason and raw bytes, and the records around it are still parsed;
//! - a source that cannot be of the requested kind at all (wrong shape, missing required columns, empty) is a
//!   [`ParseError`] before any event is emitted;
//! - memory is bounded by one record (CSV row or JSON element), never by the file;
//! - the same fact always yields the same [`IdempotencyKey`](cspguard_domain::IdempotencyKey), whatever the column or
//!   key order, line endings or BOM of the file that carried it.

mod activity_log;
mod billing;
mod fields;
mod fraud_events;
mod json_records;
mod json_source;
mod partner_center;
mod signins;
mod sniff;
mod usage_csv;

pub use fields::{parse_date, parse_instant};
pub use json_records::{JsonRecords, RawRecord};
pub use sniff::sniff;
pub use usage_csv::{parse_usage_parallel, ChunkBuilder, ChunkSink, USAGE_COLUMNS};

use cspguard_domain::{Envelope, Instant, TenantId, UsageKeyVersion};
use std::fmt;
use std::io::BufRead;

/// The source shapes cspguard imports (see `docs/formats.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    Usage,
    FraudEvents,
    SignIns,
    ActivityLog,
    Billing,
    Customers,
    Subscriptions,
}

impl SourceKind {
    pub const ALL: [SourceKind; 7] = [
        SourceKind::Usage,
        SourceKind::FraudEvents,
        SourceKind::SignIns,
        SourceKind::ActivityLog,
        SourceKind::Billing,
        SourceKind::Customers,
        SourceKind::Subscriptions,
    ];

    /// The name used on the command line and in summaries.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Usage => "usage",
            SourceKind::FraudEvents => "fraud-events",
            SourceKind::SignIns => "signins",
            SourceKind::ActivityLog => "activity-log",
            SourceKind::Billing => "billing",
            SourceKind::Customers => "customers",
            SourceKind::Subscriptions => "subscriptions",
        }
    }

    /// What a person calls such a file, for messages.
    pub fn description(self) -> &'static str {
        match self {
            SourceKind::Usage => "daily rated usage reconciliation CSV",
            SourceKind::FraudEvents => "Partner Center fraud events JSON",
            SourceKind::SignIns => "Entra sign-in log JSON",
            SourceKind::ActivityLog => "Azure activity log JSON",
            SourceKind::Billing => "partner billing JSON Lines",
            SourceKind::Customers => "Partner Center customers JSON",
            SourceKind::Subscriptions => "Partner Center subscriptions JSON",
        }
    }

    pub fn from_name(s: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an import knows besides the bytes.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The file path (or `api:<name>`) recorded as each event's source.
    pub origin: String,
    /// The customer tenant for shapes whose records do not name one (sign-ins without `resourceTenantId`, a customer's
    /// subscriptions page, activity logs without `tenantId`).
    pub customer: Option<TenantId>,
    /// When the source was observed; the event time of snapshots that carry no time of their own (a customer profile,
    /// a subscription's current status).
    pub observed_at: Instant,
    /// How usage lines' keys are derived: the version of the store they go to (`Store::usage_key_version`), since keys
    /// of two versions never match.
    pub usage_keys: UsageKeyVersion,
}

/// A record that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line where the record starts.
    pub line: u64,
    /// 1-based column (CSV field number, or character in a JSON line) where there is one.
    pub column: Option<u64>,
    /// The column or key at fault, where known.
    pub field: Option<String>,
    pub reason: String,
    /// The record as it stood in the source (CSV rows re-encoded field by field).
    pub raw: Vec<u8>,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(c) = self.column {
            write!(f, ", column {c}")?;
        }
        if let Some(n) = &self.field {
            write!(f, " ({n})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The consumer asked the parser to stop (for example, its store failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// Where a parser puts what it read.
pub trait Sink {
    fn accept(&mut self, event: Envelope) -> Result<(), Stopped>;
    fn reject(&mut self, reject: Reject) -> Result<(), Stopped>;
    /// Lines a rejects file should begin with so it can be corrected and re-imported (a CSV header).
    fn preamble(&mut self, _raw: &[u8]) {}
}

/// A source that cannot be imported as the kind asked for. Nothing was emitted.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{origin} is empty: expected a {}", kind.description())]
    Empty { origin: String, kind: SourceKind },
    #[error("{origin} is not a {}: {reason}", kind.description())]
    WrongKind {
        origin: String,
        kind: SourceKind,
        reason: String,
    },
    #[error(
        "{origin} is not a {}: missing required column(s) {}; the header has {} column(s){}",
        kind.description(),
        missing.join(", "),
        found,
        if *found <= 3 { " (is the first line the header?)" } else { "" }
    )]
    MissingColumns {
        origin: String,
        kind: SourceKind,
        missing: Vec<String>,
        found: usize,
    },
    #[error("cannot read {origin}: {source}")]
    Io {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the import of {origin} was stopped before its end")]
    Stopped { origin: String },
}

/// Parses one source of `kind` from `reader`, sending events and rejects to `sink`.
pub fn parse(
    kind: SourceKind,
    reader: impl BufRead,
    opts: &ImportOptions,
    sink: &mut dyn Sink,
) -> Result<(), ParseError> {
    match kind {
        SourceKind::Usage => usage_csv::parse(reader, opts, sink),
        SourceKind::FraudEvents => {
            json_source::parse(reader, opts, sink, &fraud_events::FraudEvents)
        }
        SourceKind::SignIns => json_source::parse(reader, opts, sink, &signins::SignIns),
        SourceKind::ActivityLog => {
            json_source::parse(reader, opts, sink, &activity_log::ActivityLog)
        }
        SourceKind::Billing => json_source::parse(reader, opts, sink, &billing::Billing),
        SourceKind::Customers => json_source::parse(reader, opts, sink, &partner_center::Customers),
        SourceKind::Subscriptions => {
            json_source::parse(reader, opts, sink, &partner_center::Subscriptions)
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A sink that collects, for the parsers' tests.
    use super::*;

    #[derive(Default)]
    pub struct Collect {
        pub events: Vec<Envelope>,
        pub rejects: Vec<Reject>,
    }

    impl Sink for Collect {
        fn accept(&mut self, event: Envelope) -> Result<(), Stopped> {
            self.events.push(event);
            Ok(())
        }
        fn reject(&mut self, reject: Reject) -> Result<(), Stopped> {
            self.rejects.push(reject);
            Ok(())
        }
    }

    pub fn opts(customer: Option<&str>) -> ImportOptions {
        ImportOptions {
            origin: "test".into(),
            customer: customer.map(|c| TenantId::parse(c).unwrap()),
            observed_at: parse_instant("2026-11-01T00:00:00Z").unwrap(),
            usage_keys: UsageKeyVersion::default(),
        }
    }

    pub fn run(
        kind: SourceKind,
        input: &str,
        customer: Option<&str>,
    ) -> Result<Collect, ParseError> {
        let mut c = Collect::default();
        parse(kind, input.as_bytes(), &opts(customer), &mut c)?;
        Ok(c)
    }

    /// The package folder at run time (`cargo test` sets it for the test process). `env!` would bake in the folder the
    /// test binary was first compiled in, and a target folder shared between checkouts reuses binaries across them.
    fn manifest_dir() -> String {
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
    }

    pub fn example(name: &str) -> String {
        let p = std::path::Path::new(&manifest_dir())
            .join("../../testdata/examples")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }
}
