//! A case: one customer incident under investigation, from the first alert to a verdict.
//!
//! Lifecycle `open -> investigating -> mitigating -> resolved`, forward only (a step may be skipped; a resolved case
//! stays resolved: new evidence about the customer opens a new case). Resolving needs a verdict, one of Microsoft's
//! own: Legitimate, Fraud or Ignore.
//!
//! SLA clocks follow Microsoft's guidance to partners: respond within 1 hour (the first human touch: assign, note,
//! status change, checklist tick or approval), mitigate within 24 hours (the first mitigating action that succeeded,
//! or the verdict). Both are configurable ([`SlaPolicy`]).

use crate::checklist::{self, ChecklistItem};
use cspguard_detect::{Alert, Origin, Severity};
use cspguard_domain::{Instant, Money};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `CS-` and 10 hex digits derived from the case's first alert, so the same alerts open the same case on any machine.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub String);

impl CaseId {
    /// The ID of the case opened by `alert_id`.
    pub fn for_first_alert(alert_id: &str) -> CaseId {
        let h = blake3::hash(format!("case/v1/{alert_id}").as_bytes());
        CaseId(format!("CS-{}", &h.to_hex()[..10]))
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Investigating,
    Mitigating,
    Resolved,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Investigating => "investigating",
            CaseStatus::Mitigating => "mitigating",
            CaseStatus::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<CaseStatus> {
        match s.to_ascii_lowercase().as_str() {
            "open" => Some(CaseStatus::Open),
            "investigating" => Some(CaseStatus::Investigating),
            "mitigating" => Some(CaseStatus::Mitigating),
            "resolved" => Some(CaseStatus::Resolved),
            _ => None,
        }
    }
}

/// The partner's verdict, in Microsoft's terms (Partner Center's fraud-event status and Graph's `resolvedReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// Expected use, or a false positive.
    Legitimate,
    Fraud,
    Ignore,
}

impl Verdict {
    pub fn parse(s: &str) -> Option<Verdict> {
        match s.to_ascii_lowercase().as_str() {
            "legitimate" => Some(Verdict::Legitimate),
            "fraud" => Some(Verdict::Fraud),
            "ignore" => Some(Verdict::Ignore),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Legitimate => "Legitimate",
            Verdict::Fraud => "Fraud",
            Verdict::Ignore => "Ignore",
        }
    }
    /// Partner Center's older fraud-event API knows only `Fraud` and `Ignore` as a resolved reason: a legitimate
    /// alert is resolved as `Ignore` there (Graph's `legitimate` exists only in the successor API).
    pub fn partner_center_reason(self) -> &'static str {
        match self {
            Verdict::Fraud => "Fraud",
            Verdict::Legitimate | Verdict::Ignore => "Ignore",
        }
    }
}

/// How long a case may wait for a response and for mitigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPolicy {
    pub respond_minutes: i64,
    pub mitigate_minutes: i64,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            respond_minutes: 60,
            mitigate_minutes: 24 * 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub by: String,
    pub at: Instant,
    pub text: String,
}

/// A case. Field names are the JSON contract of `cspguard cases show --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub customer_tenant_id: String,
    pub customer_name: Option<String>,
    pub status: CaseStatus,
    pub verdict: Option<Verdict>,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    /// The kind of the strongest alert (`account_compromise`, `resource_abuse`, `nonpayment`, ...).
    pub kind: String,
    pub severity: Severity,
    pub score: u32,
    /// The largest money at risk among the case's alerts: alerts of one incident describe the same money, so they
    /// are not added up.
    pub money_at_risk: Money,
    pub alert_ids: Vec<String>,
    /// Whether Microsoft raised any of the case's alerts (a fraud event or an enforcement).
    pub microsoft_alerted: bool,
    pub azure_subscription_ids: Vec<String>,
    pub resource_ids: Vec<String>,
    pub first_evidence_at: Instant,
    pub opened_at: Instant,
    pub updated_at: Instant,
    pub respond_due: Instant,
    pub mitigate_due: Instant,
    pub responded_at: Option<Instant>,
    pub mitigated_at: Option<Instant>,
    pub resolved_at: Option<Instant>,
    pub notes: Vec<Note>,
    pub checklist: Vec<ChecklistItem>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CaseError {
    #[error("case {id} is {from} and cannot go back to {to}: cases move forward only (open, investigating, mitigating, resolved)")]
    Backwards {
        id: CaseId,
        from: &'static str,
        to: &'static str,
    },
    #[error("case {0} is resolved already; new evidence about the customer opens a new case")]
    Resolved(CaseId),
    #[error("case {id} has no checklist step {step:?}; steps: {known}")]
    UnknownStep {
        id: CaseId,
        step: String,
        known: String,
    },
    #[error("a resolved case needs a verdict: use `cases resolve` with --verdict legitimate|fraud|ignore")]
    NeedsVerdict,
}

/// One SLA clock as views show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaClock {
    pub due: Instant,
    pub met_at: Option<Instant>,
    pub breached: bool,
    /// Minutes left (negative once overdue); `None` once met.
    pub minutes_left: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaView {
    pub respond: SlaClock,
    pub mitigate: SlaClock,
}

fn clock(due: Instant, met: Option<Instant>, now: Instant) -> SlaClock {
    match met {
        Some(m) => SlaClock {
            due,
            met_at: Some(m),
            breached: m > due,
            minutes_left: None,
        },
        None => SlaClock {
            due,
            met_at: None,
            breached: now > due,
            minutes_left: Some((due - now).num_minutes()),
        },
    }
}

fn merge_sorted(into: &mut Vec<String>, from: &[String]) -> bool {
    let mut changed = false;
    for x in from {
        if !into.contains(x) {
            into.push(x.clone());
            changed = true;
        }
    }
    if changed {
        into.sort();
    }
    changed
}

impl Case {
    /// A new case for `alert`, opened at `now`; the SLA clocks start at `now` (the partner cannot respond before
    /// cspguard tells it).
    pub fn open(alert: &Alert, now: Instant, sla: SlaPolicy) -> Case {
        let mut azure = alert.azure_subscription_ids.clone();
        azure.sort();
        azure.dedup();
        let mut res = alert.resource_ids.clone();
        res.sort();
        res.dedup();
        Case {
            id: CaseId::for_first_alert(&alert.id),
            customer_tenant_id: alert.customer_tenant_id.clone(),
            customer_name: alert.customer_name.clone(),
            status: CaseStatus::Open,
            verdict: None,
            assignee: None,
            tags: Vec::new(),
            kind: alert.kind.clone(),
            severity: alert.severity,
            score: alert.score,
            money_at_risk: alert.money_at_risk,
            alert_ids: vec![alert.id.clone()],
            microsoft_alerted: alert.origin == Origin::Microsoft,
            azure_subscription_ids: azure,
            resource_ids: res,
            first_evidence_at: alert.first_evidence_at,
            opened_at: now,
            updated_at: now,
            respond_due: now + chrono::Duration::minutes(sla.respond_minutes),
            mitigate_due: now + chrono::Duration::minutes(sla.mitigate_minutes),
            responded_at: None,
            mitigated_at: None,
            resolved_at: None,
            notes: Vec::new(),
            checklist: checklist::for_kind(&alert.kind),
        }
    }

    /// Adds `alert` (new, or a newer version of one already in the case). Returns whether the case changed.
    pub fn join(&mut self, alert: &Alert, now: Instant) -> bool {
        let mut changed = false;
        if !self.alert_ids.contains(&alert.id) {
            self.alert_ids.push(alert.id.clone());
            changed = true;
        }
        changed |= merge_sorted(
            &mut self.azure_subscription_ids,
            &alert.azure_subscription_ids,
        );
        changed |= merge_sorted(&mut self.resource_ids, &alert.resource_ids);
        if alert.origin == Origin::Microsoft && !self.microsoft_alerted {
            self.microsoft_alerted = true;
            changed = true;
        }
        // The strongest alert names the case; Microsoft's alert kinds name it only when nothing of ours is stronger.
        if alert.score > self.score {
            self.score = alert.score;
            self.severity = alert.severity;
            self.kind = alert.kind.clone();
            changed = true;
        }
        if alert.money_at_risk.currency == self.money_at_risk.currency
            && alert.money_at_risk.amount > self.money_at_risk.amount
        {
            self.money_at_risk = alert.money_at_risk;
            changed = true;
        }
        if alert.first_evidence_at < self.first_evidence_at {
            self.first_evidence_at = alert.first_evidence_at;
            changed = true;
        }
        if self.customer_name.is_none() && alert.customer_name.is_some() {
            self.customer_name = alert.customer_name.clone();
            changed = true;
        }
        if changed {
            self.updated_at = now;
        }
        changed
    }

    fn touch(&mut self, now: Instant) {
        self.updated_at = now;
        if self.responded_at.is_none() {
            self.responded_at = Some(now);
        }
    }

    pub fn assign(&mut self, assignee: &str, now: Instant) -> Result<(), CaseError> {
        self.not_resolved()?;
        self.assignee = Some(assignee.to_string());
        self.touch(now);
        Ok(())
    }

    pub fn note(&mut self, by: &str, text: &str, now: Instant) {
        self.notes.push(Note {
            by: by.to_string(),
            at: now,
            text: text.to_string(),
        });
        self.touch(now);
    }

    pub fn tag(&mut self, tag: &str, now: Instant) {
        if !self.tags.iter().any(|t| t == tag) {
            self.tags.push(tag.to_string());
            self.tags.sort();
            self.updated_at = now;
        }
    }

    /// Moves the case forward to `to` (`investigating` or `mitigating`; resolving goes through [`Case::resolve`]).
    pub fn advance(&mut self, to: CaseStatus, now: Instant) -> Result<(), CaseError> {
        self.not_resolved()?;
        if to == CaseStatus::Resolved {
            return Err(CaseError::NeedsVerdict);
        }
        if to < self.status {
            return Err(CaseError::Backwards {
                id: self.id.clone(),
                from: self.status.as_str(),
                to: to.as_str(),
            });
        }
        self.status = to;
        self.touch(now);
        Ok(())
    }

    pub fn resolve(&mut self, verdict: Verdict, now: Instant) -> Result<(), CaseError> {
        self.not_resolved()?;
        self.status = CaseStatus::Resolved;
        self.verdict = Some(verdict);
        self.resolved_at = Some(now);
        if self.mitigated_at.is_none() {
            self.mitigated_at = Some(now);
        }
        self.touch(now);
        Ok(())
    }

    /// A mitigating action succeeded: the mitigation clock stops, and an open or investigating case is now
    /// mitigating.
    pub fn mitigated(&mut self, now: Instant) {
        if self.mitigated_at.is_none() {
            self.mitigated_at = Some(now);
        }
        if self.status < CaseStatus::Mitigating {
            self.status = CaseStatus::Mitigating;
        }
        self.updated_at = now;
    }

    /// Ticks checklist step `step` (its id) as done by `by`.
    pub fn tick(&mut self, step: &str, by: &str, now: Instant) -> Result<(), CaseError> {
        let known = self
            .checklist
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let Some(item) = self.checklist.iter_mut().find(|s| s.id == step) else {
            return Err(CaseError::UnknownStep {
                id: self.id.clone(),
                step: step.to_string(),
                known,
            });
        };
        if item.done_by.is_none() {
            item.done_by = Some(by.to_string());
            item.done_at = Some(now);
        }
        self.touch(now);
        Ok(())
    }

    /// Records a human touch that is not a case edit (an approval): it meets the response clock.
    pub fn responded(&mut self, now: Instant) {
        self.touch(now);
    }

    pub fn sla(&self, now: Instant) -> SlaView {
        SlaView {
            respond: clock(self.respond_due, self.responded_at, now),
            mitigate: clock(self.mitigate_due, self.mitigated_at, now),
        }
    }

    fn not_resolved(&self) -> Result<(), CaseError> {
        if self.status == CaseStatus::Resolved {
            Err(CaseError::Resolved(self.id.clone()))
        } else {
            Ok(())
        }
    }
}

/// Which case an alert belongs to, given the customer's cases (any status).
///
/// An alert already in a case stays there (a re-scan updates it). Otherwise it joins the customer's unresolved case,
/// if any: one customer incident, one case. Otherwise it opens a new case — unless its severity is below
/// `min_severity` and Microsoft did not raise it, in which case it is kept as an alert only.
pub enum Route {
    Existing(CaseId),
    Open,
    AlertOnly,
}

pub fn route(alert: &Alert, customer_cases: &[Case], min_severity: Severity) -> Route {
    if let Some(c) = customer_cases
        .iter()
        .find(|c| c.alert_ids.contains(&alert.id))
    {
        return Route::Existing(c.id.clone());
    }
    if let Some(c) = customer_cases
        .iter()
        .filter(|c| {
            c.status != CaseStatus::Resolved && c.customer_tenant_id == alert.customer_tenant_id
        })
        .max_by_key(|c| c.opened_at)
    {
        return Route::Existing(c.id.clone());
    }
    if alert.severity >= min_severity || alert.origin == Origin::Microsoft {
        Route::Open
    } else {
        Route::AlertOnly
    }
}
