//! The server's ingest stage: documents posted to the API (and fetched by webhooks) become committed events and,
//! before the request is answered, alerts.
//!
//! Request handlers parse on blocking threads (both cores), encode the events for the log, and hand them to one
//! writer task over a bounded channel. The writer group-commits: it takes every document waiting (up to
//! [`GROUP_EVENTS`] events) and appends them in one transaction, then evaluates the new events in the in-memory
//! detection engine ([`crate::detect::Live`]) without reading them back, saves the alerts that changed, and only then
//! answers each request. So an accepted event is durable, and an alert it raises is readable, by the time the client
//! has its 202. Documents of a few events (a fraud alert, a webhook's resource) are committed ahead of the big batches
//! waiting with them, in their own short transaction, so an urgent signal waits for at most the transaction in
//! progress. Case intake (slower: it reads and writes cases) runs after, on its own task, for the customers whose
//! alerts changed.
//!
//! Bounded everywhere: at most [`super::INGEST_SLOTS`] requests hold a slot (others get 503 with Retry-After), and the
//! channel holds at most that many documents. The writer owns the only write transaction, so SQLite's single writer
//! is never contended by ingest itself.
//!
//! If detection fails (a bug, a database error while saving alerts), the events stay committed and the request is
//! still answered 202; the engine is reloaded from its checkpoint and catches up by reading the log.

use super::AppState;
use crate::detect::Live;
use cspguard_domain::Envelope;
use cspguard_ingest::SourceKind;
use cspguard_store::{AppendOutcome, ImportCounts, PreparedBatch, Store};
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Events committed in one transaction at most, unless one document alone is larger (it is never split). Bigger
/// commits spread the index pages each one rewrites over more events; an urgent small document waits for at most the
/// one in progress. Measured with `bench/serve.sh`, caps of 1,000, 5,000 and 20,000 gave the same figures within the
/// run-to-run spread on this machine (19–23 k events/s, p99 POST→alert 95–190 ms).
pub const GROUP_EVENTS: usize = 5_000;

/// Documents of at most this many events are committed ahead of the larger ones waiting with them.
pub const SMALL_DOCUMENT: usize = 64;

/// One parsed document on its way to the log.
pub struct Document {
    pub kind: SourceKind,
    pub origin: String,
    /// Its events in document order (kept for detection: the log's encoding is not read back).
    pub events: Vec<Envelope>,
    /// Rows rejected while parsing (recorded in `sources`).
    pub rejected: u64,
    pub prepared: PreparedBatch,
}

impl Document {
    /// Encodes parsed events for the log (CPU-bound: call on a blocking thread).
    pub fn prepare(
        kind: SourceKind,
        origin: String,
        events: Vec<Envelope>,
        rejected: u64,
    ) -> anyhow::Result<Document> {
        let prepared = PreparedBatch::new(events.clone())?;
        Ok(Document {
            kind,
            origin,
            events,
            rejected,
            prepared,
        })
    }
}

struct Job {
    doc: Document,
    reply: oneshot::Sender<Result<AppendOutcome, String>>,
}

/// The handle request handlers submit documents through.
pub struct Ingest {
    jobs: mpsc::Sender<Job>,
}

impl Ingest {
    /// Starts the writer and the case-intake tasks; they end when the last handle is dropped.
    pub fn start(state: std::sync::Weak<AppState>, capacity: usize) -> Ingest {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let intake = Arc::new(Intake::default());
        tokio::spawn(writer(state.clone(), rx, intake.clone()));
        tokio::spawn(intake_worker(state, intake));
        Ingest { jobs: tx }
    }

    /// Commits `doc` (with the documents waiting beside it) and evaluates its events; returns what was stored once
    /// it is durable and its alerts are saved.
    pub async fn submit(&self, doc: Document) -> anyhow::Result<AppendOutcome> {
        let (reply, answer) = oneshot::channel();
        // The caller holds an ingest slot and the channel has room for every slot, so this does not wait long.
        self.jobs
            .send(Job { doc, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the server is shutting down; retry"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the ingest writer stopped; retry"))?
            .map_err(|e| anyhow::anyhow!("storing the events failed: {e}"))
    }
}

/// Customers whose alerts changed, waiting for case intake (a set: bounded by the number of customers).
#[derive(Default)]
struct Intake {
    customers: Mutex<BTreeSet<String>>,
    wake: tokio::sync::Notify,
}

async fn writer(
    state: std::sync::Weak<AppState>,
    mut rx: mpsc::Receiver<Job>,
    intake: Arc<Intake>,
) {
    let mut live: Option<Live> = None;
    // Documents received and not yet committed: at most one per ingest slot, since each holds one.
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match rx.recv().await {
                Some(j) => waiting.push_back(j),
                None => break,
            }
        }
        while let Ok(j) = rx.try_recv() {
            waiting.push_back(j);
        }
        let Some(state) = state.upgrade() else {
            break;
        };
        // Small documents (a fraud alert, a webhook's resource) go first, in their own short transaction: they wait
        // for at most the transaction in progress, never for the big batches queued before them.
        let small: Vec<Job> = {
            let (small, big): (VecDeque<Job>, VecDeque<Job>) = std::mem::take(&mut waiting)
                .into_iter()
                .partition(|j| j.doc.events.len() <= SMALL_DOCUMENT);
            waiting = big;
            small.into()
        };
        if !small.is_empty() {
            commit_and_answer(&state, &mut live, small, &intake).await;
            continue;
        }
        // Then the big ones, oldest first, up to GROUP_EVENTS a transaction (at least one document).
        let mut group = Vec::new();
        let mut events = 0;
        while let Some(j) = waiting.front() {
            if !group.is_empty() && events + j.doc.events.len() > GROUP_EVENTS {
                break;
            }
            events += j.doc.events.len();
            group.extend(waiting.pop_front());
        }
        commit_and_answer(&state, &mut live, group, &intake).await;
    }
}

/// Commits one group, evaluates it, and answers its requests.
async fn commit_and_answer(
    state: &AppState,
    live: &mut Option<Live>,
    jobs: Vec<Job>,
    intake: &Intake,
) {
    let started = std::time::Instant::now();
    match commit(&state.store, &jobs).await {
        Err(e) => {
            tracing::error!("ingest: committing {} documents failed: {e:#}", jobs.len());
            let msg = format!("{e:#}");
            for j in jobs {
                let _ = j.reply.send(Err(msg.clone()));
            }
        }
        Ok((outcomes, first_seq)) => {
            let committed = started.elapsed();
            if let Err(e) = detect(state, live, &jobs, &outcomes, first_seq, intake).await {
                tracing::error!(
                    "ingest: detection after the commit failed (it catches up from the log): {e:#}"
                );
                *live = None;
            }
            tracing::debug!(
                "ingest: {} documents, {} new events: committed in {committed:?}, evaluated by {:?}",
                jobs.len(),
                outcomes.iter().map(|o| o.inserted).sum::<u64>(),
                started.elapsed()
            );
            for (j, o) in jobs.into_iter().zip(outcomes) {
                let _ = j.reply.send(Ok(o));
            }
        }
    }
}

/// Appends every job's events in one transaction, each document recorded as its own import in `sources`. Returns
/// each job's outcome and the log position of the first new event.
async fn commit(store: &Store, jobs: &[Job]) -> anyhow::Result<(Vec<AppendOutcome>, i64)> {
    let now = chrono::Utc::now();
    // `sources` rows first: the write transaction below holds SQLite's one writing connection until it commits.
    let mut sources = Vec::with_capacity(jobs.len());
    for j in jobs {
        sources.push(
            store
                .begin_import(&j.doc.origin, j.doc.kind.name(), now)
                .await?,
        );
    }
    let mut w = store.bulk_writer(sources[0]);
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut inserted = 0;
    for (j, &source) in jobs.iter().zip(&sources) {
        w.set_source(source);
        let o = w.append(&j.doc.prepared, now).await?;
        inserted += o.inserted as i64;
        outcomes.push(o);
    }
    let first_seq = w.next_seq() - inserted;
    w.finish().await?;
    let finished = chrono::Utc::now();
    for ((j, &source), o) in jobs.iter().zip(&sources).zip(&outcomes) {
        let rejected = j.doc.rejected;
        store
            .finish_import(
                source,
                &ImportCounts {
                    read: j.doc.events.len() as u64 + rejected,
                    imported: o.inserted,
                    duplicates: o.duplicates,
                    rejected,
                    outcome: if rejected == 0 { "ok" } else { "rejects" }.to_string(),
                },
                finished,
            )
            .await?;
    }
    Ok((outcomes, first_seq))
}

/// Evaluates the events just committed: straight from memory when they are exactly the log's next positions (no
/// duplicates, no other writer in between), else by reading the log from the engine's last position.
async fn detect(
    state: &AppState,
    live: &mut Option<Live>,
    jobs: &[Job],
    outcomes: &[AppendOutcome],
    first_seq: i64,
    intake: &Intake,
) -> anyhow::Result<()> {
    let inserted: u64 = outcomes.iter().map(|o| o.inserted).sum();
    if inserted == 0 {
        return Ok(());
    }
    if live.is_none() {
        *live = Some(Live::load(&state.store, &state.settings).await?);
    }
    let Some(l) = live.as_mut() else {
        return Ok(());
    };
    let all_new = outcomes.iter().all(|o| o.duplicates == 0);
    let changed = if all_new {
        let events: Vec<&Envelope> = jobs.iter().flat_map(|j| &j.doc.events).collect();
        l.step_committed(&state.store, first_seq, &events).await?
    } else {
        None
    };
    let changed = match changed {
        Some(c) => c,
        None => l.step(&state.store).await?,
    };
    if !changed.is_empty() {
        if let Ok(mut set) = intake.customers.lock() {
            set.extend(changed.into_iter().map(|a| a.customer_tenant_id));
        }
        intake.wake.notify_one();
    }
    Ok(())
}

/// Opens and updates cases for the customers whose alerts changed, in the background of ingest.
async fn intake_worker(state: std::sync::Weak<AppState>, intake: Arc<Intake>) {
    loop {
        intake.wake.notified().await;
        let customers: Vec<String> = match intake.customers.lock() {
            Ok(mut set) => std::mem::take(&mut *set).into_iter().collect(),
            Err(_) => return,
        };
        if customers.is_empty() {
            continue;
        }
        let Some(state) = state.upgrade() else {
            return;
        };
        if let Err(e) = crate::cases::intake_for(
            &state.store,
            &state.settings,
            chrono::Utc::now(),
            Some(&customers),
        )
        .await
        {
            tracing::error!("case intake after ingest failed: {e:#}");
        }
    }
}
