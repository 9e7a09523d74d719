//! `cspguard actions …`: approvals and the executor.
//!
//! The executor takes every action that is ready (or that a crash left in flight), claims it (`in_flight`, attempt
//! counted, written with an audit entry *before* anything is sent), sends it through [`Effects`], and records the
//! outcome with its audit entry. A claim names the version it read, so two executors never run one action. What makes
//! a crash between sending and recording harmless is in `cspguard_cases::action`: the retry goes through the clients'
//! check-then-act paths (a suspension already in effect is not sent again).
//!
//! Failures: a retryable one (throttling, 5xx, a timeout, an open circuit) puts the action back to `ready` with
//! `next_attempt_at` = now + `retry_base_seconds` × 2^(attempts−1) (at most `retry_max_seconds`, at least what the
//! service's Retry-After asked); after `max_attempts`, or on a failure that retrying cannot fix (a 4xx, missing
//! settings), it is `failed`. One action's failure never blocks the others or the case.

use crate::cases::{action_row, find_case, parse_action, SYSTEM};
use crate::cli::{ActionsCommand, GlobalArgs};
use crate::settings;
use crate::settings::Settings;
use anyhow::Context;
use chrono::Utc;
use cspguard_cases::{ActionKind, ActionRecord, ActionState, Case};
use cspguard_domain::Instant;
use cspguard_store::{ActionUpdate, AuditEntry, CaseChanges, Store, StoreError};
use serde::Serialize;
use std::future::Future;

/// A successful send.
#[derive(Debug, Clone)]
pub enum Sent {
    /// The service did it; what it answered.
    Done(serde_json::Value),
    /// It was in effect already (found by reading first): nothing was changed.
    AlreadyInEffect(serde_json::Value),
}

/// A failed send.
#[derive(Debug, Clone)]
pub struct SendError {
    pub retryable: bool,
    /// The earliest retry the service asked for (Retry-After) or an open circuit allows.
    pub retry_after: Option<std::time::Duration>,
    pub message: String,
    /// Nothing was attempted: a setting is missing. The action stays ready, the attempt is not counted.
    pub blocked: bool,
}

impl SendError {
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            retryable: false,
            retry_after: None,
            message: message.into(),
            blocked: false,
        }
    }
    pub fn blocked(mut self) -> SendError {
        self.blocked = true;
        self
    }
}

/// The outside world as the executor sees it: one call per action. The real one is
/// [`crate::effects::Connected`] (Partner Center, Graph, webhooks, SMTP).
pub trait Effects {
    fn send(
        &self,
        action: &ActionRecord,
        case: &Case,
    ) -> impl Future<Output = Result<Sent, SendError>> + Send;
}

/// What one executor pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RunReport {
    pub succeeded: u64,
    pub already_in_effect: u64,
    pub dry_run: u64,
    pub retry_scheduled: u64,
    pub failed: u64,
    /// Claimed by someone else between our read and our claim.
    pub skipped: u64,
    pub not_due: u64,
    /// Kept ready: a setting they need is missing (see `last_error`).
    pub blocked: u64,
}

impl RunReport {
    pub fn render(&self) -> String {
        format!(
            "actions: {} succeeded ({} already in effect), {} dry run, {} to retry later, {} failed, {} waiting for \
             their retry time, {} blocked by missing settings\n",
            self.succeeded + self.already_in_effect,
            self.already_in_effect,
            self.dry_run,
            self.retry_scheduled,
            self.failed,
            self.not_due,
            self.blocked
        )
    }
}

/// The request an action would send, for dry runs and for people reading a plan: method, path and body in the
/// documented shapes (`shared/domain/formats.md`).
pub fn request_shape(kind: &ActionKind, case: &Case) -> serde_json::Value {
    use serde_json::json;
    match kind {
        ActionKind::Notify { channel } => json!({
            "channel": channel, "title": title(case), "text": text(case)
        }),
        ActionKind::SetBudget {
            customer_tenant_id,
            amount,
        } => json!({
            "method": "PATCH", "path": format!("/v1/customers/{customer_tenant_id}/usagebudget"),
            "body": {"amount": amount}
        }),
        ActionKind::SuspendSubscription {
            customer_tenant_id,
            subscription_id,
        } => json!({
            "method": "PATCH", "path": format!("/v1/customers/{customer_tenant_id}/subscriptions/{subscription_id}"),
            "body": "the subscription as read, with \"status\": \"suspended\""
        }),
        ActionKind::FraudStatus {
            azure_subscription_id,
            event_ids,
            status,
            reason,
        } => {
            let mut body = json!({"EventIds": event_ids, "EventStatus": status});
            if let Some(r) = reason {
                body["ResolvedReason"] = json!(r);
            }
            json!({"method": "POST", "path": format!("/v1/fraudEvents/subscription/{azure_subscription_id}/status"),
                   "body": body})
        }
        ActionKind::ServiceRequest { .. } => service_request(case),
        ActionKind::RevokeSessions {
            customer_tenant_id,
            user,
        } => json!({
            "method": "POST", "path": format!("/users/{user}/revokeSignInSessions"), "tenant": customer_tenant_id
        }),
    }
}

/// A notification's title.
pub fn title(case: &Case) -> String {
    format!(
        "cspguard {} case {}: {} {}",
        case.severity.as_str(),
        case.id,
        case.kind,
        case.customer_name
            .as_deref()
            .unwrap_or(&case.customer_tenant_id)
    )
}

/// A notification's text.
pub fn text(case: &Case) -> String {
    format!(
        "Customer {} ({}): {} with score {}; money at risk {}. First evidence {}; respond by {}, mitigate by {}. \
         Alerts: {}.",
        case.customer_name.as_deref().unwrap_or("-"),
        case.customer_tenant_id,
        case.kind,
        case.score,
        case.money_at_risk,
        case.first_evidence_at.format("%Y-%m-%d %H:%M UTC"),
        case.respond_due.format("%Y-%m-%d %H:%M UTC"),
        case.mitigate_due.format("%Y-%m-%d %H:%M UTC"),
        case.alert_ids.join(", ")
    )
}

/// The draft of a Microsoft service request for the case: what a person pastes into Partner Center's support form.
pub fn service_request(case: &Case) -> serde_json::Value {
    serde_json::json!({
        "title": format!("Suspected compromise of customer tenant {}", case.customer_tenant_id),
        "customer_tenant_id": case.customer_tenant_id,
        "azure_subscription_ids": case.azure_subscription_ids,
        "resource_ids": case.resource_ids,
        "impact_start": case.first_evidence_at,
        "description": format!(
            "cspguard case {}: {} (score {}), money at risk {}. First evidence at {}. Alerts: {}. Please investigate \
             and advise on mitigation.",
            case.id, case.kind, case.score, case.money_at_risk, case.first_evidence_at, case.alert_ids.join(", ")
        ),
    })
}

fn bump(now: Instant, previous: Instant) -> Instant {
    // The version token is the update time: make sure each write moves it.
    if now > previous {
        now
    } else {
        previous + chrono::Duration::microseconds(1)
    }
}

/// One executor pass over the due actions.
pub async fn run_due(
    store: &Store,
    effects: &impl Effects,
    settings: &Settings,
    force_dry_run: bool,
) -> anyhow::Result<RunReport> {
    let mut report = RunReport::default();
    for row in store.pending_actions().await? {
        let mut rec = parse_action(&row)?;
        let now = Utc::now();
        if !rec.due(now) {
            report.not_due += 1;
            continue;
        }
        let recovering = rec.state == ActionState::InFlight;
        let read = row.updated_at;
        rec.state = ActionState::InFlight;
        rec.attempts += 1;
        rec.updated_at = bump(now, read);
        let claim = CaseChanges {
            action_updates: vec![ActionUpdate {
                row: action_row(&rec)?,
                read_version: read,
            }],
            audit: vec![AuditEntry::new(
                now,
                SYSTEM,
                "action.started",
                serde_json::json!({"attempt": rec.attempts, "what": rec.kind.describe(),
                    "recovering_after_interruption": recovering}),
            )
            .case(&rec.case_id)
            .action(&rec.key.0)],
            ..Default::default()
        };
        match store.commit_case_changes(&claim).await {
            Ok(_) => {}
            Err(StoreError::Stale(_)) => {
                report.skipped += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let mut case = find_case(store, &rec.case_id).await?;
        let claimed_version = rec.updated_at;
        let mut audit = Vec::new();
        let mut case_changed = false;
        if rec.dry_run || force_dry_run {
            rec.state = ActionState::DryRun;
            rec.result = Some(request_shape(&rec.kind, &case));
            report.dry_run += 1;
            audit.push((
                "action.dry_run",
                serde_json::json!({"would_send": rec.result}),
            ));
        } else {
            let outcome = effects.send(&rec, &case).await;
            if outcome.is_ok()
                && std::env::var("CSPGUARD_FAULT").as_deref() == Ok("crash-after-send")
            {
                // Fault injection for the crash-recovery test: the request went out, nothing is recorded.
                std::process::abort();
            }
            let now = Utc::now();
            match outcome {
                Ok(sent) => {
                    let (value, already) = match sent {
                        Sent::Done(v) => (v, false),
                        Sent::AlreadyInEffect(v) => (v, true),
                    };
                    rec.state = ActionState::Succeeded;
                    rec.last_error = None;
                    rec.next_attempt_at = None;
                    rec.result = Some(value);
                    if already {
                        report.already_in_effect += 1;
                    } else {
                        report.succeeded += 1;
                    }
                    audit.push((
                        "action.succeeded",
                        serde_json::json!({"already_in_effect": already, "attempt": rec.attempts}),
                    ));
                    if rec.kind.mitigates() && case.mitigated_at.is_none() {
                        case.mitigated(now);
                        case_changed = true;
                        audit.push((
                            "case.mitigated",
                            serde_json::json!({"by_action": rec.kind.describe()}),
                        ));
                    }
                }
                Err(e) if e.blocked => {
                    rec.last_error = Some(e.message.clone());
                    rec.state = ActionState::Ready;
                    rec.attempts -= 1;
                    report.blocked += 1;
                    audit.push(("action.blocked", serde_json::json!({"reason": e.message})));
                }
                Err(e) => {
                    rec.last_error = Some(e.message.clone());
                    if e.retryable && rec.attempts < settings.actions.max_attempts {
                        let exp = settings
                            .actions
                            .retry_base_seconds
                            .saturating_mul(1u64 << (rec.attempts - 1).min(20))
                            .min(settings.actions.retry_max_seconds);
                        let wait = std::time::Duration::from_secs(exp)
                            .max(e.retry_after.unwrap_or_default());
                        rec.state = ActionState::Ready;
                        rec.next_attempt_at = Some(
                            now + chrono::Duration::from_std(wait)
                                .unwrap_or(chrono::Duration::hours(1)),
                        );
                        report.retry_scheduled += 1;
                        audit.push((
                            "action.retry_scheduled",
                            serde_json::json!({"error": e.message, "attempt": rec.attempts,
                                "next_attempt_at": rec.next_attempt_at}),
                        ));
                    } else {
                        rec.state = ActionState::Failed;
                        report.failed += 1;
                        audit.push((
                            "action.failed",
                            serde_json::json!({"error": e.message, "attempt": rec.attempts}),
                        ));
                    }
                }
            }
        }
        let now = Utc::now();
        rec.updated_at = bump(now, claimed_version);
        let mut ch = CaseChanges {
            action_updates: vec![ActionUpdate {
                row: action_row(&rec)?,
                read_version: claimed_version,
            }],
            audit: audit
                .into_iter()
                .map(|(verb, d)| {
                    AuditEntry::new(now, SYSTEM, verb, d)
                        .case(&rec.case_id)
                        .action(&rec.key.0)
                })
                .collect(),
            ..Default::default()
        };
        if case_changed {
            ch.cases.push(crate::cases::case_row(&case)?);
        }
        store.commit_case_changes(&ch).await?;
    }
    Ok(report)
}

/// `actor` approves action `key` (a key or a unique prefix of 6+ characters); the approval also meets the case's
/// response clock. Committed with its audit entry.
pub async fn approve(store: &Store, key: &str, actor: &str) -> anyhow::Result<ActionRecord> {
    let row = store.action(key).await?.with_context(|| {
        format!("there is no action {key:?}: `cspguard actions list` shows the keys")
    })?;
    let mut rec = parse_action(&row)?;
    let now = bump(Utc::now(), row.updated_at);
    rec.approve(actor, now)?;
    let mut case = find_case(store, &rec.case_id).await?;
    case.responded(now);
    store
        .commit_case_changes(&CaseChanges {
            cases: vec![crate::cases::case_row(&case)?],
            action_updates: vec![ActionUpdate {
                row: action_row(&rec)?,
                read_version: row.updated_at,
            }],
            audit: vec![AuditEntry::new(
                now,
                actor,
                "action.approved",
                serde_json::json!({"what": rec.kind.describe(),
                    "approvals": rec.approvals.len(), "required": rec.approvals_required}),
            )
            .case(&rec.case_id)
            .action(&rec.key.0)],
            ..Default::default()
        })
        .await?;
    Ok(rec)
}

/// `cspguard actions …`.
pub async fn run(g: &GlobalArgs, command: ActionsCommand) -> anyhow::Result<i32> {
    let store = crate::open_store(g).await?;
    let settings = settings::load(g)?;
    let actor = g.actor();
    let code = match command {
        ActionsCommand::List {
            json,
            case_id,
            state,
        } => {
            let rows = store.actions(case_id.as_deref(), state.as_deref()).await?;
            let actions: Vec<ActionRecord> = rows
                .iter()
                .map(parse_action)
                .collect::<anyhow::Result<_>>()?;
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "actions": actions }))?
                );
            } else if actions.is_empty() {
                outln!("no actions (playbooks in cspguard.toml plan them when cases open)");
            } else {
                outln!(
                    "{:<12} {:<13} {:<17} {:>9}  WHAT",
                    "KEY",
                    "CASE",
                    "STATE",
                    "APPROVALS"
                );
                for a in &actions {
                    outln!(
                        "{:<12} {:<13} {:<17} {:>9}  {}{}{}",
                        &a.key.0[..12],
                        a.case_id,
                        a.state.as_str(),
                        format!("{}/{}", a.approvals.len(), a.approvals_required),
                        a.kind.describe(),
                        if a.dry_run { " [dry run]" } else { "" },
                        a.last_error
                            .as_ref()
                            .map(|e| format!(" — last error: {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            crate::exit::OK
        }
        ActionsCommand::Approve { key } => {
            let rec = approve(&store, &key, &actor).await?;
            outln!(
                "{} approved by {} ({}/{}): {}",
                rec.key,
                actor,
                rec.approvals.len(),
                rec.approvals_required,
                if rec.state == ActionState::Ready {
                    "ready; `cspguard actions run` sends it"
                } else {
                    "waiting for another approver"
                }
            );
            crate::exit::OK
        }
        ActionsCommand::Cancel { key, reason } => {
            let row = store.action(&key).await?.with_context(|| {
                format!("there is no action {key:?}: `cspguard actions list` shows the keys")
            })?;
            let mut rec = parse_action(&row)?;
            if rec.state.is_final() || rec.state == ActionState::InFlight {
                anyhow::bail!(
                    "action {} is {}: it can no longer be cancelled",
                    rec.key,
                    rec.state.as_str()
                );
            }
            let now = bump(Utc::now(), row.updated_at);
            rec.state = ActionState::Cancelled;
            rec.updated_at = now;
            store
                .commit_case_changes(&CaseChanges {
                    action_updates: vec![ActionUpdate {
                        row: action_row(&rec)?,
                        read_version: row.updated_at,
                    }],
                    audit: vec![AuditEntry::new(
                        now,
                        &actor,
                        "action.cancelled",
                        serde_json::json!({"what": rec.kind.describe(), "reason": reason}),
                    )
                    .case(&rec.case_id)
                    .action(&rec.key.0)],
                    ..Default::default()
                })
                .await?;
            outln!("{} cancelled", rec.key);
            crate::exit::OK
        }
        ActionsCommand::Run {
            dry_run,
            json,
            every,
        } => {
            let effects = crate::effects::Connected::from_settings(&settings)?;
            let mut failed = 0;
            loop {
                let r = run_due(&store, &effects, &settings, dry_run).await?;
                failed += r.failed;
                if json {
                    crate::outln!("{}", serde_json::to_string(&r)?);
                } else {
                    crate::out!("{}", r.render());
                }
                let Some(secs) = every else { break };
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(secs.max(1))) => {}
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            if failed > 0 {
                crate::exit::FAILURE
            } else {
                crate::exit::OK
            }
        }
    };
    store.close().await;
    Ok(code)
}
