//! Files -> importers -> event store.
//!
//! Each file is parsed on a blocking thread (the importers are synchronous and CPU-bound) that hands batches of encoded
//! events ([`PreparedBatch`]) over a bounded channel to the async writer, so parsing and writing overlap and memory stays
//! bounded by the channel (at most `CHANNEL_BATCHES` batches in flight), whatever the file's size. Usage CSVs are cut
//! into chunks parsed and encoded on every core (`cspguard_ingest::parse_usage_parallel`, results in file order); the
//! writer is a [`cspguard_store::BulkWriter`], one transaction per 262,144 events. Usage lines' keys are derived with
//! the store's usage key version ([`Store::usage_key_version`]): keys of another version would never match the stored
//! ones, and a re-import would store its lines twice.

use crate::exit;
use crate::rejects::RejectWriter;
use cspguard_domain::{Envelope, Instant, TenantId};
use cspguard_ingest::{
    ChunkBuilder, ChunkSink, ImportOptions, ParseError, Reject, Sink, SourceKind, Stopped,
};
use cspguard_store::{ImportCounts, PreparedBatch, PreparedBatchBuilder, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant as WallClock;
use tokio::sync::mpsc;

/// Events per batch handed to the store by the one-thread importers (the writer groups batches into transactions).
const BATCH: usize = 16384;
/// Batches queued between the parser and the writer, beside the one being parsed and the one being written.
const CHANNEL_BATCHES: usize = 1;
/// Bytes of usage CSV per chunk parsed on one core (about 10,000 lines, one store batch). In flight at once: a few
/// chunks per core as bytes, each encoded batch a quarter of its chunk (measured: 8 MiB chunks, ~215 MiB peak RSS for
/// the whole import; 2 MiB chunks ~170 MiB but more, smaller statements).
const USAGE_CHUNK_BYTES: usize = 8 << 20;
/// How much of a file `auto` reads to recognise its kind.
const SNIFF_BYTES: u64 = 1 << 20;

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub paths: Vec<PathBuf>,
    /// `None`: recognise each file's kind from its content (`import auto`).
    pub kind: Option<SourceKind>,
    /// The customer for shapes whose records do not name one.
    pub customer: Option<TenantId>,
    /// Draw a progress bar (only ever drawn on a terminal).
    pub progress: bool,
    /// Print each rejected record on standard error.
    pub print_rejects: bool,
}

/// The outcome of one file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub kind: Option<String>,
    pub read: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_file: Option<PathBuf>,
    /// Why the file could not be imported at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Found in a folder but of no known kind: left alone, not an error.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    pub seconds: f64,
}

/// The outcome of an import: totals and one entry per file. Serialised as the `--json` summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub read: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub files: Vec<FileReport>,
}

impl ImportReport {
    /// 0 all imported, 3 some records rejected, 2 some file unusable.
    pub fn exit_code(&self) -> i32 {
        if self.files.iter().any(|f| f.error.is_some()) {
            exit::UNUSABLE
        } else if self.rejected > 0 {
            exit::REJECTS
        } else {
            exit::OK
        }
    }

    fn add(&mut self, f: FileReport) {
        self.read += f.read;
        self.imported += f.imported;
        self.duplicates += f.duplicates;
        self.rejected += f.rejected;
        self.files.push(f);
    }

    /// The human summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for f in &self.files {
            let kind = f.kind.as_deref().unwrap_or("?");
            if let Some(e) = &f.error {
                s.push_str(&format!(
                    "  {:<13} {}: NOT IMPORTED: {}\n",
                    kind,
                    f.path.display(),
                    e
                ));
            } else if f.skipped {
                s.push_str(&format!(
                    "  {:<13} {}: skipped (not a known source shape)\n",
                    "-",
                    f.path.display()
                ));
            } else {
                s.push_str(&format!(
                    "  {:<13} {}: {} read, {} imported, {} duplicates, {} rejected ({:.1}s)\n",
                    kind,
                    f.path.display(),
                    f.read,
                    f.imported,
                    f.duplicates,
                    f.rejected,
                    f.seconds
                ));
                if let Some(r) = &f.rejects_file {
                    s.push_str(&format!(
                        "                rejected records: {}\n",
                        r.display()
                    ));
                }
            }
        }
        s.push_str(&format!(
            "total: {} read, {} imported, {} duplicates skipped, {} rejected\n",
            self.read, self.imported, self.duplicates, self.rejected
        ));
        s
    }
}

/// Expands folders (recursively, sorted, hidden entries and the rejects folder left out) into files. Files named
/// explicitly are always kept; `explicit` tells which.
fn expand(paths: &[PathBuf], rejects_dir: &Path) -> Vec<(PathBuf, bool)> {
    fn walk(dir: &Path, rejects_dir: &Path, out: &mut Vec<(PathBuf, bool)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            out.push((dir.to_path_buf(), true));
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden || p == rejects_dir {
                continue;
            }
            if p.is_dir() {
                walk(&p, rejects_dir, out);
            } else {
                out.push((p, false));
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, rejects_dir, &mut out);
        } else {
            out.push((p.clone(), true));
        }
    }
    out
}

/// A tenant GUID in a file's name (`subscriptions/<tenant>.json`, `signins/<tenant>.json`), for shapes whose records
/// do not name their customer.
pub fn tenant_from_file_name(path: &Path) -> Option<TenantId> {
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    (0..stem.len().saturating_sub(35))
        .filter(|&i| stem.is_char_boundary(i) && stem.is_char_boundary(i + 36))
        .find_map(|i| TenantId::parse(&stem[i..i + 36]).ok())
}

fn sniff_file(path: &Path) -> std::io::Result<Option<SourceKind>> {
    let mut head = Vec::new();
    File::open(path)?.take(SNIFF_BYTES).read_to_end(&mut head)?;
    Ok(cspguard_ingest::sniff(&head))
}

/// Imports the request's files into the store; rejects go under `rejects_dir`.
pub async fn run(
    store: &Store,
    rejects_dir: &Path,
    req: &ImportRequest,
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    for (path, explicit) in expand(&req.paths, rejects_dir) {
        let started = WallClock::now();
        let mut file_report = FileReport {
            path: path.clone(),
            ..Default::default()
        };
        let kind = match req.kind {
            Some(k) => Some(k),
            None => match sniff_file(&path) {
                Ok(k) => k,
                Err(e) => {
                    file_report.error = Some(format!("cannot read it: {e}"));
                    report.add(file_report);
                    continue;
                }
            },
        };
        let Some(kind) = kind else {
            if explicit {
                file_report.error = Some(
                    "not a known source shape (usage CSV, fraud events, sign-ins, activity log, billing JSON Lines, \
                     customers, subscriptions): name the kind, e.g. `cspguard import usage FILE`"
                        .into(),
                );
            } else {
                file_report.skipped = true;
            }
            report.add(file_report);
            continue;
        };
        file_report.kind = Some(kind.name().to_string());
        // Activity-log exports are per Azure subscription: a GUID in their name is the subscription's, not the
        // customer's (the store's subscription -> customer table attributes them instead).
        let customer = req.customer.clone().or_else(|| {
            (kind != SourceKind::ActivityLog)
                .then(|| tenant_from_file_name(&path))
                .flatten()
        });
        import_file(
            store,
            rejects_dir,
            &path,
            kind,
            customer,
            req,
            &mut file_report,
        )
        .await?;
        file_report.seconds = started.elapsed().as_secs_f64();
        report.add(file_report);
    }
    Ok(report)
}

struct ChannelSink {
    batch: Vec<Envelope>,
    tx: mpsc::Sender<PreparedBatch>,
    rejects: RejectWriter,
    reject_error: Option<std::io::Error>,
}

impl ChannelSink {
    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let b = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        // Encoding here keeps that work on the parser's thread, beside the store writing the previous batch.
        let prepared = PreparedBatch::new(b).map_err(|e| {
            tracing::error!("cannot encode events: {e}");
            Stopped
        })?;
        self.tx.blocking_send(prepared).map_err(|_| Stopped)
    }
}

/// Encodes a chunk's events for the store as the parser produces them.
struct Encode(PreparedBatchBuilder);

impl ChunkBuilder for Encode {
    type Output = PreparedBatch;
    fn push(&mut self, event: Envelope) -> Result<(), Stopped> {
        self.0.push(event).map_err(|e| {
            tracing::error!("cannot encode an event: {e}");
            Stopped
        })
    }
    fn finish(self) -> Result<PreparedBatch, Stopped> {
        Ok(self.0.finish())
    }
}

impl ChunkSink<PreparedBatch> for ChannelSink {
    fn chunk(&mut self, events: PreparedBatch) -> Result<(), Stopped> {
        self.tx.blocking_send(events).map_err(|_| Stopped)
    }
    fn reject(&mut self, r: Reject) -> Result<(), Stopped> {
        Sink::reject(self, r)
    }
    fn preamble(&mut self, raw: &[u8]) {
        self.rejects.preamble(raw);
    }
}

impl Sink for ChannelSink {
    fn accept(&mut self, event: Envelope) -> Result<(), Stopped> {
        self.batch.push(event);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }
    fn reject(&mut self, r: Reject) -> Result<(), Stopped> {
        if let Err(e) = self.rejects.write(&r) {
            // Losing the record of a reject would lose data: stop the import.
            self.reject_error = Some(e);
            return Err(Stopped);
        }
        Ok(())
    }
    fn preamble(&mut self, raw: &[u8]) {
        self.rejects.preamble(raw);
    }
}

/// Counts bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn progress_bar(path: &Path, total: u64, enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} ({eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_prefix(
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    pb
}

async fn import_file(
    store: &Store,
    rejects_dir: &Path,
    path: &Path,
    kind: SourceKind,
    customer: Option<TenantId>,
    req: &ImportRequest,
    report: &mut FileReport,
) -> anyhow::Result<()> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            report.error = Some(format!("cannot open it: {e}"));
            return Ok(());
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let origin = path.display().to_string();
    let now = chrono::Utc::now();
    let usage_keys = store.usage_key_version().await?;
    let source = store.begin_import(&origin, kind.name(), now).await?;
    let opts = ImportOptions {
        origin: origin.clone(),
        customer,
        observed_at: now,
        usage_keys,
    };
    let bytes = Arc::new(AtomicU64::new(0));
    let reader = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            bytes: bytes.clone(),
        },
    );
    let (tx, mut rx) = mpsc::channel::<PreparedBatch>(CHANNEL_BATCHES);
    let rejects = RejectWriter::new(rejects_dir, path, !req.print_rejects);
    let parser = tokio::task::spawn_blocking(move || {
        let mut sink = ChannelSink {
            batch: Vec::with_capacity(BATCH),
            tx,
            rejects,
            reject_error: None,
        };
        let mut result = if kind == SourceKind::Usage {
            // The bulk of any partner's data: parsed and encoded on every core, in file order.
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            cspguard_ingest::parse_usage_parallel(
                reader,
                &opts,
                threads,
                USAGE_CHUNK_BYTES,
                // A usage line is ~750 bytes of CSV and ~200 of record.
                &|| {
                    Encode(PreparedBatch::builder_with_capacity(
                        USAGE_CHUNK_BYTES / 512,
                        USAGE_CHUNK_BYTES / 3,
                    ))
                },
                &mut sink,
            )
        } else {
            cspguard_ingest::parse(kind, reader, &opts, &mut sink)
        };
        if result.is_ok() {
            if let Err(Stopped) = sink.flush() {
                result = Err(ParseError::Stopped {
                    origin: opts.origin.clone(),
                });
            }
        }
        let finish = sink.rejects.finish();
        (result, sink.rejects, sink.reject_error.or(finish.err()))
    });

    let pb = progress_bar(path, size, req.progress);
    let started = WallClock::now();
    let mut store_error = None;
    let mut writer = store.bulk_writer(source);
    let mut records = 0u64;
    while let Some(batch) = rx.recv().await {
        let appended = writer.append(&batch, chrono::Utc::now()).await;
        // Freeing a batch's tens of thousands of allocations is left to a blocking-pool thread: the writer is the
        // import's critical path.
        tokio::task::spawn_blocking(move || drop(batch));
        match appended {
            Ok(o) => records += o.inserted + o.duplicates,
            Err(e) => {
                store_error = Some(e);
                break; // dropping the receiver stops the parser
            }
        }
        pb.set_position(bytes.load(Ordering::Relaxed));
        pb.set_message(format!(
            "{} records, {:.0}/s",
            records,
            records as f64 / started.elapsed().as_secs_f64().max(1e-3)
        ));
    }
    // Only what committed counts: a failed import reports what it stored.
    let mut committed = writer.committed();
    if store_error.is_none() {
        match writer.finish().await {
            Ok(o) => committed = o,
            Err(e) => store_error = Some(e),
        }
    } else {
        drop(writer); // rolls the open transaction back
    }
    report.imported = committed.inserted;
    report.duplicates = committed.duplicates;
    drop(rx);
    let (result, rejects, reject_error) = parser.await?;
    pb.finish_and_clear();
    report.rejected = rejects.count();
    report.rejects_file = rejects.path().map(Path::to_path_buf);
    report.read = report.imported + report.duplicates + report.rejected;
    let outcome = match (&store_error, &reject_error, &result) {
        (Some(e), _, _) => format!("failed: {e}"),
        (_, Some(e), _) => format!("failed: cannot write the rejects file: {e}"),
        (_, _, Err(e)) => format!("unusable: {e}"),
        _ if report.rejected > 0 => "rejects".to_string(),
        _ => "ok".to_string(),
    };
    let counts = ImportCounts {
        read: report.read,
        imported: report.imported,
        duplicates: report.duplicates,
        rejected: report.rejected,
        outcome,
    };
    store
        .finish_import(source, &counts, chrono::Utc::now())
        .await?;
    if let Some(e) = store_error {
        return Err(anyhow::Error::new(e).context(format!("importing {}", path.display())));
    }
    if let Some(e) = reject_error {
        return Err(anyhow::anyhow!(
            "cannot write rejected records of {} under {}: {e}; fix the folder's permissions or free space and import again",
            path.display(),
            rejects_dir.display()
        ));
    }
    match result {
        Ok(()) => {}
        Err(ParseError::Io { source, .. }) => {
            report.error = Some(format!("cannot read it: {source}"))
        }
        Err(e) => report.error = Some(e.to_string()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_found_in_file_names() {
        let p = Path::new("/x/subscriptions/3F2A9C1E-7B4D-4E8A-9F10-2C6B8D4E1A01.json");
        assert_eq!(
            tenant_from_file_name(p).unwrap().as_str(),
            "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01"
        );
        let p = Path::new("signins-3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01-oct.json");
        assert!(tenant_from_file_name(p).is_some());
        assert!(tenant_from_file_name(Path::new("signins.json")).is_none());
    }
}

/// What [`store_document`] stored.
#[derive(Debug)]
pub struct StoredDocument {
    pub read: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub rejects: Vec<cspguard_ingest::Reject>,
}

/// A document parsed in memory: its events (in document order) and its rejects.
#[derive(Debug, Default)]
pub struct ParsedDocument {
    pub events: Vec<cspguard_domain::Envelope>,
    pub rejects: Vec<cspguard_ingest::Reject>,
}

impl cspguard_ingest::Sink for ParsedDocument {
    fn accept(&mut self, e: cspguard_domain::Envelope) -> Result<(), cspguard_ingest::Stopped> {
        self.events.push(e);
        Ok(())
    }
    fn reject(&mut self, r: cspguard_ingest::Reject) -> Result<(), cspguard_ingest::Stopped> {
        self.rejects.push(r);
        Ok(())
    }
}

/// Parses one document in memory (an API page, an HTTP request body) with the importer of `kind`. CPU-bound: call it
/// on a blocking thread. `usage_keys` is the store's ([`Store::usage_key_version`]). A document that cannot be read
/// at all is a [`cspguard_ingest::ParseError`].
pub fn parse_document(
    kind: SourceKind,
    origin: &str,
    customer: Option<TenantId>,
    observed_at: Instant,
    usage_keys: cspguard_domain::UsageKeyVersion,
    body: &[u8],
) -> anyhow::Result<ParsedDocument> {
    let opts = ImportOptions {
        origin: origin.to_string(),
        customer,
        observed_at,
        usage_keys,
    };
    let mut doc = ParsedDocument::default();
    cspguard_ingest::parse(kind, body, &opts, &mut doc)?;
    Ok(doc)
}

/// One document in memory through the importer of `kind` into the store, recorded in `sources` like a file: parsed on
/// a blocking thread, its events appended in one transaction (committed when this returns), rejects returned rather
/// than written to the rejects folder (the caller answers with them).
pub async fn store_document(
    store: &Store,
    kind: SourceKind,
    origin: &str,
    customer: Option<TenantId>,
    body: impl AsRef<[u8]> + Send + 'static,
) -> anyhow::Result<StoredDocument> {
    let now = chrono::Utc::now();
    let o = origin.to_string();
    let keys = store.usage_key_version().await?;
    let c = tokio::task::spawn_blocking(move || {
        parse_document(kind, &o, customer, now, keys, body.as_ref())
    })
    .await??;
    let source = store.begin_import(origin, kind.name(), now).await?;
    let o = store.append(source, &c.events, now).await?;
    let read = (c.events.len() + c.rejects.len()) as u64;
    store
        .finish_import(
            source,
            &cspguard_store::ImportCounts {
                read,
                imported: o.inserted,
                duplicates: o.duplicates,
                rejected: c.rejects.len() as u64,
                outcome: if c.rejects.is_empty() {
                    "ok"
                } else {
                    "rejects"
                }
                .to_string(),
            },
            chrono::Utc::now(),
        )
        .await?;
    Ok(StoredDocument {
        read,
        imported: o.inserted,
        duplicates: o.duplicates,
        rejects: c.rejects,
    })
}
