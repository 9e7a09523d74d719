//! `cspguard cases …`: the case stage over the store. Alerts open or join cases ([`intake`]), playbooks plan actions
//! for them, and people work them: assign, note, move forward, tick the checklist, resolve with a verdict. Every
//! change is committed with its audit entry in one transaction.
//!
//! Intake re-reads the stored alerts each time (an alert already in a case only updates it), so it is idempotent and
//! needs no cursor of its own; at tens of thousands of alerts a cursor on the alerts' update time is the next step.

use crate::cli::{CaseShowArgs, CasesCommand, CasesListArgs, GlobalArgs};
use crate::settings;
use crate::settings::Settings;
use anyhow::Context;
use chrono::{Duration, Utc};
use cspguard_cases::{
    route, ActionRecord, ActionState, Case, CaseFacts, CaseStatus, PlannedAction, Route, Verdict,
};
use cspguard_detect::{Alert, Origin};
use cspguard_domain::{Event, Instant};
use cspguard_store::{ActionRow, AuditEntry, AuditFilter, CaseChanges, CaseFilter, CaseRow, Store};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The audit log's actor for what cspguard does by itself.
pub const SYSTEM: &str = "cspguard";

pub fn parse_case(row: &CaseRow) -> anyhow::Result<Case> {
    serde_json::from_str(&row.body).with_context(|| format!("case {} is stored unreadable", row.id))
}

pub fn case_row(c: &Case) -> anyhow::Result<CaseRow> {
    Ok(CaseRow {
        id: c.id.0.clone(),
        customer_tenant_id: c.customer_tenant_id.clone(),
        status: c.status.as_str().to_string(),
        severity: c.severity.as_str().to_string(),
        score: i64::from(c.score),
        opened_at: c.opened_at,
        updated_at: c.updated_at,
        body: serde_json::to_string(c)?,
    })
}

pub fn parse_action(row: &ActionRow) -> anyhow::Result<ActionRecord> {
    serde_json::from_str(&row.body)
        .with_context(|| format!("action {} is stored unreadable", row.key))
}

pub fn action_row(a: &ActionRecord) -> anyhow::Result<ActionRow> {
    Ok(ActionRow {
        key: a.key.0.clone(),
        case_id: a.case_id.clone(),
        state: a.state.as_str().to_string(),
        next_attempt_at: a.next_attempt_at,
        created_at: a.created_at,
        updated_at: a.updated_at,
        body: serde_json::to_string(a)?,
    })
}

pub async fn find_case(store: &Store, id: &str) -> anyhow::Result<Case> {
    let row = store.case(id).await?.with_context(|| {
        format!("there is no case {id:?}: `cspguard cases list` shows the case IDs")
    })?;
    parse_case(&row)
}

/// What an intake did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IntakeReport {
    pub cases_opened: u64,
    pub cases_updated: u64,
    pub alerts_without_case: u64,
    pub actions_planned: u64,
    /// Playbook conditions that could not be evaluated (they counted as not holding).
    pub playbook_errors: Vec<String>,
}

impl IntakeReport {
    pub fn render(&self) -> String {
        format!(
            "cases: {} opened, {} updated; {} actions planned{}\n",
            self.cases_opened,
            self.cases_updated,
            self.actions_planned,
            if self.playbook_errors.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} playbook conditions failed to evaluate",
                    self.playbook_errors.len()
                )
            }
        )
    }
}

/// The facts playbooks need about a case's customer: its Azure plan subscriptions, Microsoft's open fraud events,
/// and the users named in the evidence.
pub async fn facts(store: &Store, case: &Case, alerts: &[&Alert]) -> anyhow::Result<CaseFacts> {
    let mut f = CaseFacts::from_alerts(alerts.iter().copied());
    f.billing_subscription_ids = store
        .billing_subscription_owners()
        .await?
        .into_iter()
        .filter(|(_, c)| *c == case.customer_tenant_id)
        .map(|(s, _)| s)
        .collect();
    f.billing_subscription_ids.sort();
    let from = case.first_evidence_at - Duration::days(30);
    let to = case.first_evidence_at + Duration::days(60);
    let mut status: BTreeMap<(String, String), String> = BTreeMap::new();
    for e in store
        .customer_events(&case.customer_tenant_id, from, to, 10_000)
        .await?
    {
        if let Event::FraudAlert(a) = &e.envelope.event {
            status.insert(
                (a.azure_subscription.to_string(), a.id.to_string()),
                a.status.clone(),
            );
        }
    }
    for (pair, st) in status {
        if !st.eq_ignore_ascii_case("resolved") && !f.fraud_events.contains(&pair) {
            f.fraud_events.push(pair);
        }
    }
    f.fraud_events.sort();
    Ok(f)
}

/// Opens or updates cases from every stored alert, and plans the playbooks' actions for the cases that changed.
pub async fn intake(
    store: &Store,
    settings: &Settings,
    now: Instant,
) -> anyhow::Result<IntakeReport> {
    intake_for(store, settings, now, None).await
}

/// [`intake`] limited to the alerts and cases of `only` (customer tenant IDs): what a streaming detector calls with the
/// customers whose alerts just changed, instead of re-reading every alert and case.
pub async fn intake_for(
    store: &Store,
    settings: &Settings,
    now: Instant,
    only: Option<&[String]>,
) -> anyhow::Result<IntakeReport> {
    let playbooks = settings.playbooks()?;
    let mut alerts = match only {
        None => crate::detect::load_alerts(store, &Default::default()).await?,
        Some(list) => {
            let mut v = Vec::new();
            for c in list {
                v.extend(
                    crate::detect::load_alerts(
                        store,
                        &cspguard_store::AlertFilter {
                            customer: Some(c.clone()),
                            ..Default::default()
                        },
                    )
                    .await?,
                );
            }
            v
        }
    };
    // Oldest first: the first alert of an incident opens its case, so case IDs do not depend on the order of rows.
    alerts.sort_by(|a, b| (a.fired_at, &a.id).cmp(&(b.fired_at, &b.id)));
    let by_id: HashMap<&str, &Alert> = alerts.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut by_customer: HashMap<String, Vec<Case>> = HashMap::new();
    let case_rows = match only {
        None => store.cases(&CaseFilter::default()).await?,
        Some(list) => {
            let mut v = Vec::new();
            for c in list {
                v.extend(
                    store
                        .cases(&CaseFilter {
                            customer: Some(c.clone()),
                            ..Default::default()
                        })
                        .await?,
                );
            }
            v
        }
    };
    for row in case_rows {
        let c = parse_case(&row)?;
        by_customer
            .entry(c.customer_tenant_id.clone())
            .or_default()
            .push(c);
    }
    let mut report = IntakeReport::default();
    let mut changed: BTreeMap<String, (Case, &Alert, bool)> = BTreeMap::new();
    for alert in &alerts {
        let cases = by_customer
            .entry(alert.customer_tenant_id.clone())
            .or_default();
        match route(alert, cases, settings.cases.open_min_severity) {
            Route::AlertOnly => report.alerts_without_case += 1,
            Route::Open => {
                let c = Case::open(alert, now, settings.cases.sla());
                changed.insert(c.id.0.clone(), (c.clone(), alert, true));
                cases.push(c);
            }
            Route::Existing(id) => {
                let Some(c) = cases.iter_mut().find(|c| c.id == id) else {
                    continue;
                };
                if c.join(alert, now) {
                    let opened = changed.get(&id.0).is_some_and(|x| x.2);
                    changed.insert(id.0.clone(), (c.clone(), alert, opened));
                }
            }
        }
    }
    let existing_actions: std::collections::HashSet<String> = match only {
        None => store
            .actions(None, None)
            .await?
            .into_iter()
            .map(|a| a.key)
            .collect(),
        Some(_) => {
            let mut keys = std::collections::HashSet::new();
            for id in changed.keys() {
                keys.extend(
                    store
                        .actions(Some(id), None)
                        .await?
                        .into_iter()
                        .map(|a| a.key),
                );
            }
            keys
        }
    };
    let mut ch = CaseChanges::default();
    for (id, (case, alert, opened)) in &changed {
        if *opened {
            report.cases_opened += 1;
        } else {
            report.cases_updated += 1;
        }
        let case_alerts: Vec<&Alert> = case
            .alert_ids
            .iter()
            .filter_map(|a| by_id.get(a.as_str()).copied())
            .collect();
        ch.cases.push(case_row(case)?);
        ch.audit.push(
            AuditEntry::new(
                now,
                SYSTEM,
                if *opened {
                    "case.opened"
                } else {
                    "case.updated"
                },
                serde_json::json!({"alert": alert.id, "kind": case.kind, "score": case.score,
                    "money_at_risk": case.money_at_risk.to_string()}),
            )
            .case(id),
        );
        if playbooks.is_empty() {
            continue;
        }
        let f = facts(store, case, &case_alerts).await?;
        let (plan, errors) = playbooks.plan(case, alert, &f);
        report.playbook_errors.extend(errors);
        for p in plan {
            push_planned(
                &mut ch,
                p,
                settings.actions.dry_run,
                now,
                &existing_actions,
                &mut report,
            );
        }
    }
    store.commit_case_changes(&ch).await?;
    Ok(report)
}

fn push_planned(
    ch: &mut CaseChanges,
    mut p: PlannedAction,
    dry_run: bool,
    now: Instant,
    existing: &std::collections::HashSet<String>,
    report: &mut IntakeReport,
) {
    if existing.contains(&p.key.0) || ch.new_actions.iter().any(|a| a.key == p.key.0) {
        return;
    }
    p.dry_run |= dry_run;
    if plan_action(ch, &ActionRecord::new(p, now), now).is_ok() {
        report.actions_planned += 1;
    }
}

/// Adds a newly planned action to `ch` with its `action.planned` audit entry (intake and dunning plan the same way).
pub(crate) fn plan_action(
    ch: &mut CaseChanges,
    rec: &ActionRecord,
    now: Instant,
) -> anyhow::Result<()> {
    let row = action_row(rec)?;
    ch.audit.push(
        AuditEntry::new(
            now,
            SYSTEM,
            "action.planned",
            serde_json::json!({"what": rec.kind.describe(), "reason": rec.reason,
                "approvals_required": rec.approvals_required, "dry_run": rec.dry_run}),
        )
        .case(&rec.case_id)
        .action(&rec.key.0),
    );
    ch.new_actions.push(row);
    Ok(())
}

/// `cspguard cases …`.
pub async fn run(g: &GlobalArgs, command: CasesCommand) -> anyhow::Result<i32> {
    let store = crate::open_store(g).await?;
    let settings = settings::load(g)?;
    let now = Utc::now();
    let actor = g.actor();
    let code = match command {
        CasesCommand::List(a) => list(&store, a, now).await?,
        CasesCommand::Show(a) => show(&store, a, now).await?,
        CasesCommand::Intake { json } => {
            let r = intake(&store, &settings, now).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                crate::out!("{}", r.render());
            }
            crate::exit::OK
        }
        CasesCommand::Assign { id, assignee } => {
            let case = assign(&store, &id, &assignee, &actor, now).await?;
            edited(&case, "case.assigned")
        }
        CasesCommand::Note { id, text } => {
            edit(
                &store,
                &id,
                &actor,
                now,
                "case.noted",
                serde_json::json!({"text": text}),
                |c| {
                    c.note(&actor, &text, now);
                    Ok(())
                },
            )
            .await?
        }
        CasesCommand::Tag { id, tag } => {
            edit(
                &store,
                &id,
                &actor,
                now,
                "case.tagged",
                serde_json::json!({"tag": tag}),
                |c| {
                    c.tag(&tag, now);
                    Ok(())
                },
            )
            .await?
        }
        CasesCommand::Check { id, step } => {
            let case = tick(&store, &id, &step, &actor, now).await?;
            edited(&case, "case.checked")
        }
        CasesCommand::Status { id, status } => {
            let to = CaseStatus::parse(&status).with_context(|| {
                format!("{status:?} is not a case status: use investigating or mitigating (resolve with `cases resolve`)")
            })?;
            edit(
                &store,
                &id,
                &actor,
                now,
                "case.status",
                serde_json::json!({"status": to.as_str()}),
                |c| Ok(c.advance(to, now)?),
            )
            .await?
        }
        CasesCommand::Resolve { id, verdict, note } => {
            resolve(
                &store,
                &settings,
                &id,
                &verdict,
                note.as_deref(),
                &actor,
                now,
            )
            .await?
        }
    };
    store.close().await;
    Ok(code)
}

/// Applies `f` to case `id` and commits it with its audit entry (`verb`, `detail`, by `actor`).
pub async fn apply_edit(
    store: &Store,
    id: &str,
    actor: &str,
    now: Instant,
    verb: &str,
    detail: serde_json::Value,
    f: impl FnOnce(&mut Case) -> anyhow::Result<()>,
) -> anyhow::Result<Case> {
    let mut case = find_case(store, id).await?;
    f(&mut case)?;
    store
        .commit_case_changes(&CaseChanges {
            cases: vec![case_row(&case)?],
            audit: vec![AuditEntry::new(now, actor, verb, detail).case(id)],
            ..Default::default()
        })
        .await?;
    Ok(case)
}

/// Assigns case `id` to `assignee` (`cases assign`, `POST /api/v1/cases/{id}/assign`), audited as `case.assigned`
/// by `actor`. A resolved case is not assigned.
pub async fn assign(
    store: &Store,
    id: &str,
    assignee: &str,
    actor: &str,
    now: Instant,
) -> anyhow::Result<Case> {
    apply_edit(
        store,
        id,
        actor,
        now,
        "case.assigned",
        serde_json::json!({"assignee": assignee}),
        |c| Ok(c.assign(assignee, now)?),
    )
    .await
}

/// Ticks checklist step `step` of case `id` (`cases check`, `POST /api/v1/cases/{id}/checklist/{step}`), audited as
/// `case.checked` by `actor`, who is recorded as having done it (a step ticked already keeps its first ticker).
pub async fn tick(
    store: &Store,
    id: &str,
    step: &str,
    actor: &str,
    now: Instant,
) -> anyhow::Result<Case> {
    apply_edit(
        store,
        id,
        actor,
        now,
        "case.checked",
        serde_json::json!({"step": step}),
        |c| Ok(c.tick(step, actor, now)?),
    )
    .await
}

async fn edit(
    store: &Store,
    id: &str,
    actor: &str,
    now: Instant,
    verb: &str,
    detail: serde_json::Value,
    f: impl FnOnce(&mut Case) -> anyhow::Result<()>,
) -> anyhow::Result<i32> {
    let case = apply_edit(store, id, actor, now, verb, detail, f).await?;
    Ok(edited(&case, verb))
}

/// The CLI's line after an edit.
fn edited(case: &Case, verb: &str) -> i32 {
    outln!(
        "{} {}: {}",
        case.id,
        case.status.as_str(),
        verb.trim_start_matches("case.")
    );
    crate::exit::OK
}

async fn resolve(
    store: &Store,
    settings: &Settings,
    id: &str,
    verdict: &str,
    note: Option<&str>,
    actor: &str,
    now: Instant,
) -> anyhow::Result<i32> {
    let (case, planned) = resolve_case(store, settings, id, verdict, note, actor, now).await?;
    outln!(
        "{} resolved: {}{}",
        case.id,
        case.verdict.map(|v| v.as_str()).unwrap_or("-"),
        if planned > 0 {
            format!("; {planned} action(s) will tell Microsoft (run `cspguard actions run`)")
        } else {
            String::new()
        }
    );
    Ok(crate::exit::OK)
}

/// Resolves case `id` with `verdict` and plans the Microsoft status update it implies. Returns the case and how many
/// actions were planned.
pub async fn resolve_case(
    store: &Store,
    settings: &Settings,
    id: &str,
    verdict: &str,
    note: Option<&str>,
    actor: &str,
    now: Instant,
) -> anyhow::Result<(Case, u64)> {
    let v = Verdict::parse(verdict).with_context(|| {
        format!("{verdict:?} is not a verdict: use legitimate, fraud or ignore")
    })?;
    let mut case = find_case(store, id).await?;
    case.resolve(v, now)?;
    if let Some(n) = note {
        case.note(actor, n, now);
    }
    let alerts = crate::detect::load_alerts(store, &Default::default()).await?;
    let case_alerts: Vec<&Alert> = alerts
        .iter()
        .filter(|a| case.alert_ids.contains(&a.id))
        .collect();
    let f = facts(store, &case, &case_alerts).await?;
    let plan = settings.playbooks()?.on_verdict(&case, v, &f);
    let mut ch = CaseChanges {
        cases: vec![case_row(&case)?],
        audit: vec![AuditEntry::new(
            now,
            actor,
            "case.resolved",
            serde_json::json!({"verdict": v.as_str(), "note": note}),
        )
        .case(id)],
        ..Default::default()
    };
    let existing: std::collections::HashSet<String> = store
        .actions(Some(id), None)
        .await?
        .into_iter()
        .map(|a| a.key)
        .collect();
    let mut r = IntakeReport::default();
    for p in plan {
        push_planned(&mut ch, p, settings.actions.dry_run, now, &existing, &mut r);
    }
    store.commit_case_changes(&ch).await?;
    Ok((case, r.actions_planned))
}

/// A case in `cases list --json`: the case plus its SLA clocks now.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    case: &'a Case,
    sla: cspguard_cases::case::SlaView,
}

async fn list(store: &Store, a: CasesListArgs, now: Instant) -> anyhow::Result<i32> {
    let rows = store
        .cases(&CaseFilter {
            status: a.status.clone(),
            customer: a.customer.clone(),
        })
        .await?;
    let cases: Vec<Case> = rows
        .iter()
        .take(a.limit)
        .map(parse_case)
        .collect::<anyhow::Result<_>>()?;
    if a.json {
        let listed: Vec<Listed> = cases
            .iter()
            .map(|c| Listed {
                case: c,
                sla: c.sla(now),
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "cases": listed }))?
        );
        return Ok(crate::exit::OK);
    }
    if cases.is_empty() {
        outln!("no cases (cases open from alerts: `cspguard scan`, then `cspguard cases intake`)");
        return Ok(crate::exit::OK);
    }
    outln!(
        "{:<13} {:<13} {:<8} {:>5} {:>12}  {:<22} {:<12} {:<14} CUSTOMER",
        "CASE",
        "STATUS",
        "SEVERITY",
        "SCORE",
        "AT RISK",
        "KIND",
        "ASSIGNEE",
        "SLA"
    );
    for c in &cases {
        let sla = c.sla(now);
        let clock = if c.status == CaseStatus::Resolved {
            c.verdict.map(|v| v.as_str()).unwrap_or("-").to_string()
        } else if sla.respond.breached && sla.respond.met_at.is_none() {
            "RESPOND LATE".to_string()
        } else if sla.mitigate.breached && sla.mitigate.met_at.is_none() {
            "MITIGATE LATE".to_string()
        } else if sla.respond.met_at.is_none() {
            format!("respond {}m", sla.respond.minutes_left.unwrap_or(0))
        } else if sla.mitigate.met_at.is_none() {
            format!("mitigate {}h", sla.mitigate.minutes_left.unwrap_or(0) / 60)
        } else {
            "met".to_string()
        };
        outln!(
            "{:<13} {:<13} {:<8} {:>5} {:>12}  {:<22} {:<12} {:<14} {}",
            c.id.0,
            c.status.as_str(),
            c.severity.as_str(),
            c.score,
            c.money_at_risk.to_string(),
            c.kind,
            c.assignee.as_deref().unwrap_or("-"),
            clock,
            c.customer_name.as_deref().unwrap_or(&c.customer_tenant_id)
        );
    }
    Ok(crate::exit::OK)
}

/// One entry of a case's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub at: Instant,
    /// sign_in, control_plane, usage, fraud_alert, fraud_alert_status, subscription, invoice, payment, instrument,
    /// customer, alert, action, audit.
    pub kind: String,
    pub summary: String,
}

/// Everything around the incident, in time order: the customer's events from three days before the first evidence to
/// thirty days after (or to the resolution), usage per day x meter category x region and the costliest resources per
/// day of the case's subscriptions, the alerts, and what people and cspguard did (the audit log).
pub async fn timeline(
    store: &Store,
    case: &Case,
    limit: usize,
) -> anyhow::Result<Vec<TimelineEntry>> {
    let from = case.first_evidence_at - Duration::days(3);
    let to = case
        .resolved_at
        .unwrap_or(case.first_evidence_at + Duration::days(30))
        .max(case.first_evidence_at + Duration::days(1));
    let mut out = Vec::new();
    let subs: std::collections::HashSet<&str> = case
        .azure_subscription_ids
        .iter()
        .map(String::as_str)
        .collect();
    for e in store
        .customer_events(&case.customer_tenant_id, from, to, 20_000)
        .await?
    {
        let at = e.envelope.event_time;
        let (kind, summary) = match &e.envelope.event {
            Event::SignIn(s) => (
                "sign_in",
                format!(
                    "{} {} from {} ({}){}{}",
                    s.user_principal_name,
                    if s.succeeded() {
                        "signed in"
                    } else {
                        "failed to sign in"
                    },
                    s.ip_address.as_deref().unwrap_or("?"),
                    s.location
                        .as_ref()
                        .and_then(|l| l.country.as_deref())
                        .unwrap_or("?"),
                    affix(&s.client_app_used, " via ", ""),
                    s.risk_level_during_sign_in
                        .as_ref()
                        .filter(|r| r.as_str() != "none")
                        .map(|r| format!(", risk {r}"))
                        .unwrap_or_default()
                ),
            ),
            Event::ControlPlane(o) => {
                let sub = o
                    .azure_subscription
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                if o.customer.is_none() && !subs.contains(sub.as_str()) {
                    continue;
                }
                (
                    "control_plane",
                    format!(
                        "{} {} by {}{}{}",
                        o.operation,
                        o.status,
                        o.caller.as_deref().unwrap_or("?"),
                        affix(&o.region, " in ", ""),
                        affix(&o.sku, " size ", "")
                    ),
                )
            }
            Event::FraudAlert(a) => (
                "fraud_alert",
                format!(
                    "Microsoft {} on {} ({}, {})",
                    a.event_type
                        .as_deref()
                        .or(a.display_name.as_deref())
                        .unwrap_or("fraud alert"),
                    a.azure_subscription,
                    a.status,
                    a.severity.as_deref().unwrap_or("no severity")
                ),
            ),
            Event::FraudAlertStatus(s) => (
                "fraud_alert_status",
                format!("Microsoft alert {} {} -> {}", s.alert, s.from, s.to),
            ),
            Event::SubscriptionState(s) => (
                "subscription",
                format!(
                    "subscription {} is {}{}",
                    s.subscription,
                    s.status,
                    if s.suspension_reasons.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", s.suspension_reasons.join(", "))
                    }
                ),
            ),
            Event::Invoice(i) => (
                "invoice",
                format!("invoice {} of {} due {}", i.id, i.amount, i.due_on),
            ),
            Event::Payment(p) => (
                "payment",
                format!(
                    "payment {} of {} {:?}{}",
                    p.id,
                    p.amount,
                    p.status,
                    affix(&p.failure_reason, ": ", "")
                ),
            ),
            Event::InstrumentChange(i) => (
                "instrument",
                format!(
                    "{:?} {:?} {}{}",
                    i.kind,
                    i.action,
                    i.instrument,
                    affix(&i.country, " (", ")")
                ),
            ),
            Event::CustomerProfile(_)
            | Event::Usage(_)
            | Event::PartnerInvoice(_)
            | Event::PartnerPayment(_)
            | Event::PartnerCreditLimit(_) => continue,
        };
        out.push(TimelineEntry {
            at,
            kind: kind.to_string(),
            summary,
        });
    }
    for sub in &case.azure_subscription_ids {
        let days = store
            .daily_meter_cost(Some(sub), from.date_naive(), to.date_naive())
            .await?;
        for d in days {
            out.push(TimelineEntry {
                // A usage day is known once it ends.
                at: (d.usage_date + Duration::days(1))
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc(),
                kind: "usage".into(),
                summary: format!(
                    "{} {} in {} on {}: {}",
                    sub, d.meter_category, d.region, d.usage_date, d.cost
                ),
            });
        }
        let mut res = store
            .daily_resource_cost(Some(sub), from.date_naive(), to.date_naive())
            .await?;
        // The three costliest resources per day.
        res.sort_by(|a, b| (a.usage_date, b.cost.amount).cmp(&(b.usage_date, a.cost.amount)));
        let mut per_day: HashMap<chrono::NaiveDate, u32> = HashMap::new();
        for r in res {
            let n = per_day.entry(r.usage_date).or_default();
            *n += 1;
            if *n > 3 {
                continue;
            }
            out.push(TimelineEntry {
                at: (r.usage_date + Duration::days(1))
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc(),
                kind: "usage".into(),
                summary: format!("resource {} on {}: {}", r.resource_id, r.usage_date, r.cost),
            });
        }
    }
    for a in crate::detect::load_alerts(store, &Default::default()).await? {
        if case.alert_ids.contains(&a.id) {
            out.push(TimelineEntry {
                at: a.fired_at,
                kind: "alert".into(),
                summary: format!(
                    "{} alert {} ({} {}): {}",
                    if a.origin == Origin::Microsoft {
                        "Microsoft"
                    } else {
                        "cspguard"
                    },
                    a.id,
                    a.kind,
                    a.score,
                    a.explanation.summary
                ),
            });
        }
    }
    for e in store
        .audit(&AuditFilter {
            case_id: Some(case.id.0.clone()),
            ..Default::default()
        })
        .await?
    {
        out.push(TimelineEntry {
            at: e.at,
            kind: if e.verb.starts_with("action.") {
                "action"
            } else {
                "audit"
            }
            .into(),
            summary: format!("{} {} {}", e.actor, e.verb, e.detail),
        });
    }
    out.sort_by_key(|e| e.at);
    if out.len() > limit {
        // Keep the entries nearest the first evidence.
        let centre = out.partition_point(|e| e.at < case.first_evidence_at);
        let start = centre.saturating_sub(limit / 3).min(out.len() - limit);
        out = out[start..start + limit].to_vec();
    }
    Ok(out)
}

/// A case as `cases show --json` prints it.
#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    case: &'a Case,
    sla: cspguard_cases::case::SlaView,
    actions: Vec<ActionRecord>,
    timeline: Vec<TimelineEntry>,
    /// The case's audit entries, oldest first.
    audit: Vec<AuditJson>,
    /// The fraud-credit exception request's filing deadline (compromise-like cases with linked usage).
    exception_deadline: Option<cspguard_exception::Deadline>,
}

/// An audit entry in JSON output.
#[derive(Serialize)]
pub struct AuditJson {
    pub seq: i64,
    pub at: Instant,
    pub actor: String,
    pub verb: String,
    pub case_id: Option<String>,
    pub action_key: Option<String>,
    pub detail: serde_json::Value,
}

impl From<AuditEntry> for AuditJson {
    fn from(e: AuditEntry) -> AuditJson {
        AuditJson {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            verb: e.verb,
            case_id: e.case_id,
            action_key: e.action_key,
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::String(e.detail)),
        }
    }
}

async fn show(store: &Store, a: CaseShowArgs, now: Instant) -> anyhow::Result<i32> {
    let case = find_case(store, &a.id).await?;
    let actions: Vec<ActionRecord> = store
        .actions(Some(&case.id.0), None)
        .await?
        .iter()
        .map(parse_action)
        .collect::<anyhow::Result<_>>()?;
    let tl = timeline(store, &case, a.timeline_limit).await?;
    let deadline = if crate::exception::may_claim(&case) {
        crate::exception::case_deadline(store, &case, now.date_naive()).await?
    } else {
        None
    };
    if a.json {
        let audit = store
            .audit(&AuditFilter {
                case_id: Some(case.id.0.clone()),
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(AuditJson::from)
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&Shown {
                case: &case,
                sla: case.sla(now),
                actions,
                timeline: tl,
                audit,
                exception_deadline: deadline,
            })?
        );
        return Ok(crate::exit::OK);
    }
    let mut text = render_case(&case, &actions, &tl, now);
    if let Some(d) = &deadline {
        // After the SLA line.
        let at = text.find("\nalerts: ").map_or(0, |i| i + 1);
        text.insert_str(at, &format!("{}\n", crate::exception::render_deadline(d)));
    }
    crate::out!("{}", text);
    Ok(crate::exit::OK)
}

pub fn render_case(
    case: &Case,
    actions: &[ActionRecord],
    tl: &[TimelineEntry],
    now: Instant,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let sla = case.sla(now);
    let clock = |c: &cspguard_cases::case::SlaClock| match (c.met_at, c.breached) {
        (Some(m), false) => format!("met at {}", m.format("%Y-%m-%d %H:%M")),
        (Some(m), true) => format!("met LATE at {}", m.format("%Y-%m-%d %H:%M")),
        (None, true) => format!("BREACHED (due {})", c.due.format("%Y-%m-%d %H:%M")),
        (None, false) => format!(
            "due {} ({} min left)",
            c.due.format("%Y-%m-%d %H:%M"),
            c.minutes_left.unwrap_or(0)
        ),
    };
    let _ = writeln!(
        s,
        "case {}  {}{}  {} {} score {}  money at risk {}",
        case.id,
        case.status.as_str(),
        case.verdict
            .map(|v| format!(" ({})", v.as_str()))
            .unwrap_or_default(),
        case.kind,
        case.severity.as_str(),
        case.score,
        case.money_at_risk
    );
    let _ = writeln!(
        s,
        "customer {} {}; assignee {}; tags {}",
        case.customer_tenant_id,
        case.customer_name.as_deref().unwrap_or(""),
        case.assignee.as_deref().unwrap_or("-"),
        if case.tags.is_empty() {
            "-".to_string()
        } else {
            case.tags.join(", ")
        }
    );
    let _ = writeln!(
        s,
        "first evidence {}; opened {}",
        case.first_evidence_at, case.opened_at
    );
    let _ = writeln!(
        s,
        "SLA respond: {}; mitigate: {}",
        clock(&sla.respond),
        clock(&sla.mitigate)
    );
    let _ = writeln!(s, "alerts: {}", case.alert_ids.join(", "));
    let _ = writeln!(s, "\nchecklist:");
    for i in &case.checklist {
        let _ = writeln!(
            s,
            "  [{}] {:<22} {}{}",
            if i.done_by.is_some() { "x" } else { " " },
            i.id,
            i.text,
            affix(&i.done_by, " — ", "")
        );
    }
    if !case.notes.is_empty() {
        let _ = writeln!(s, "\nnotes:");
        for n in &case.notes {
            let _ = writeln!(
                s,
                "  {} {}: {}",
                n.at.format("%Y-%m-%d %H:%M"),
                n.by,
                n.text
            );
        }
    }
    let _ = writeln!(s, "\nactions:");
    if actions.is_empty() {
        let _ = writeln!(s, "  none (no playbook matched)");
    }
    for a in actions {
        let _ = writeln!(
            s,
            "  {} {:<17} {}{}{}",
            &a.key.0[..10],
            a.state.as_str(),
            a.kind.describe(),
            if a.state == ActionState::AwaitingApproval {
                format!(
                    " — approvals {}/{}",
                    a.approvals.len(),
                    a.approvals_required
                )
            } else {
                String::new()
            },
            if a.dry_run { " [dry run]" } else { "" }
        );
    }
    let _ = writeln!(s, "\ntimeline ({} entries):", tl.len());
    for e in tl {
        let _ = writeln!(
            s,
            "  {} {:<18} {}",
            e.at.format("%Y-%m-%d %H:%M"),
            e.kind,
            e.summary
        );
    }
    s
}

/// `before` + `v` + `after` when there is a value, else nothing: the optional parts of a timeline line.
fn affix<T: std::fmt::Display>(v: &Option<T>, before: &str, after: &str) -> String {
    v.as_ref()
        .map(|v| format!("{before}{v}{after}"))
        .unwrap_or_default()
}
