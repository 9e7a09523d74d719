//! Playbooks: the partner's "when this, do that", written in `cspguard.toml`.
//!
//! A playbook has a CEL condition over the `case` (after an alert opened or joined it) and the `alert` that changed it,
//! and a list of actions. Planning is pure: [`Playbooks::plan`] turns a case, the alert and the facts the caller knows
//! about the customer (its billing subscriptions, Microsoft's fraud events, the users in the evidence) into
//! [`PlannedAction`]s, each with an [`ActionKey`] derived from what it does and to whom — so planning twice (a re-scan,
//! a crash and a retry) yields the same keys, and the action store keeps one of each.
//!
//! Variables a condition sees:
//! - `case`: `id`, `kind`, `severity` (`"low"`..`"critical"`), `score` (int), `money_at_risk` (double), `currency`,
//!   `customer`, `status`, `alert_count` (int), `microsoft_alerted` (bool), `azure_subscription_ids`, `tags`;
//! - `alert`: `id`, `kind`, `severity`, `score`, `money_at_risk`, `origin` (`"cspguard"` | `"microsoft"`),
//!   `detectors` (the evidence's detector names).
//!
//! ```toml
//! [[playbooks]]
//! name = "compromise"
//! when = 'case.kind in ["account_compromise", "resource_abuse"] && case.score >= 70'
//! actions = [
//!   { type = "notify", channel = "soc" },
//!   { type = "set_budget", amount = "0" },
//!   { type = "fraud_status", status = "Investigating", approval = "auto" },
//!   { type = "suspend_subscription" },
//!   { type = "revoke_sessions" },
//! ]
//! ```

use crate::action::{ActionKey, ActionKind};
use crate::case::{Case, Verdict};
use cspguard_detect::rules::json_to_cel;
use cspguard_detect::{Alert, Origin};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Whether an action runs as soon as it is planned or waits for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// The kind's default: notifications and Microsoft status `Investigating` run at once; everything that changes a
    /// customer's service waits for one approver.
    #[default]
    Default,
    Auto,
    Required,
}

/// One action of a playbook, as written in `cspguard.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// A message to a channel defined under `[notify.<name>]`.
    Notify {
        channel: String,
        #[serde(default)]
        approval: Approval,
    },
    /// Set the customer's monthly spending budget to `amount` (in the partner's billing currency).
    SetBudget {
        amount: Decimal,
        #[serde(default)]
        approval: Approval,
    },
    /// Suspend every Azure plan subscription of the customer.
    SuspendSubscription {
        #[serde(default)]
        approval: Approval,
    },
    /// Set Microsoft's fraud events of the case's subscriptions to `status` (`Investigating`, or `Resolved` with
    /// `reason` `Fraud` | `Ignore`).
    FraudStatus {
        status: String,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        approval: Approval,
    },
    /// Draft a Microsoft service request (written to the action's result for a person to file).
    ServiceRequest {
        #[serde(default)]
        approval: Approval,
    },
    /// Revoke the sign-in sessions of every user named in the case's identity evidence (Graph).
    RevokeSessions {
        #[serde(default)]
        approval: Approval,
    },
}

/// A playbook as written in `cspguard.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookSpec {
    pub name: String,
    /// CEL; `true` runs the actions.
    pub when: String,
    pub actions: Vec<ActionSpec>,
    /// Plan the actions in dry-run: the executor records what it would send and sends nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Approval thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ApprovalPolicy {
    /// A suspension of a case whose money at risk is above this needs two different approvers.
    pub two_approvers_above: Decimal,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            two_approvers_above: Decimal::from(5_000),
        }
    }
}

/// What the caller knows about the case's customer beyond the case itself.
#[derive(Debug, Clone, Default)]
pub struct CaseFacts {
    /// The customer's Azure plan (billing) subscriptions: what Partner Center suspends.
    pub billing_subscription_ids: Vec<String>,
    /// Microsoft's fraud events of the case: (Azure subscription, event ID).
    pub fraud_events: Vec<(String, String)>,
    /// Users named in the identity evidence (user principal names).
    pub users: Vec<String>,
}

impl CaseFacts {
    /// Users and Microsoft fraud events named in the alerts' evidence.
    pub fn from_alerts<'a>(alerts: impl IntoIterator<Item = &'a Alert>) -> CaseFacts {
        let mut f = CaseFacts::default();
        for a in alerts {
            for s in &a.explanation.signals {
                if let Some(u) = s.features.get("user").and_then(|v| v.as_str()) {
                    if !f.users.iter().any(|x| x == u) {
                        f.users.push(u.to_string());
                    }
                }
                if let Some(id) = s.features.get("fraud_event_id").and_then(|v| v.as_str()) {
                    // `{subscriptionId}_{entityId}`: the Azure subscription is the part before the first `_`.
                    let sub = id.split('_').next().unwrap_or_default().to_string();
                    let pair = (sub, id.to_string());
                    if !f.fraud_events.contains(&pair) {
                        f.fraud_events.push(pair);
                    }
                }
            }
        }
        f.users.sort();
        f.fraud_events.sort();
        f
    }
}

/// An action ready for the action store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAction {
    pub key: ActionKey,
    pub case_id: String,
    /// The playbook that asked for it (or `case` when a person's decision did).
    pub playbook: String,
    pub kind: ActionKind,
    pub approvals_required: u8,
    pub dry_run: bool,
    /// Why: the playbook and its condition, or the verdict.
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("playbook {name:?}: its condition does not parse as CEL: {reason}")]
    Parse { name: String, reason: String },
    #[error("playbook {name:?}: notify channel {channel:?} is not defined; add a [notify.{channel}] table")]
    UnknownChannel { name: String, channel: String },
    #[error("playbook {name:?}: fraud_status must be Investigating, or Resolved with reason Fraud or Ignore (got {status:?}/{reason:?})")]
    BadStatus {
        name: String,
        status: String,
        reason: Option<String>,
    },
}

struct Compiled {
    spec: PlaybookSpec,
    program: cel::Program,
}

/// The compiled playbooks.
pub struct Playbooks {
    compiled: Vec<Compiled>,
    policy: ApprovalPolicy,
}

impl Playbooks {
    /// Compiles `specs`; `channels` are the notification channels the configuration defines.
    pub fn compile(
        specs: &[PlaybookSpec],
        channels: &[String],
        policy: ApprovalPolicy,
    ) -> Result<Playbooks, PlaybookError> {
        let mut compiled = Vec::new();
        for s in specs {
            let program = cel::Program::compile(&s.when).map_err(|e| PlaybookError::Parse {
                name: s.name.clone(),
                reason: e.to_string(),
            })?;
            for a in &s.actions {
                match a {
                    ActionSpec::Notify { channel, .. } if !channels.contains(channel) => {
                        return Err(PlaybookError::UnknownChannel {
                            name: s.name.clone(),
                            channel: channel.clone(),
                        })
                    }
                    ActionSpec::FraudStatus { status, reason, .. } => {
                        let ok = matches!(
                            (status.as_str(), reason.as_deref()),
                            ("Investigating", None) | ("Resolved", Some("Fraud" | "Ignore"))
                        );
                        if !ok {
                            return Err(PlaybookError::BadStatus {
                                name: s.name.clone(),
                                status: status.clone(),
                                reason: reason.clone(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            compiled.push(Compiled {
                spec: s.clone(),
                program,
            });
        }
        Ok(Playbooks { compiled, policy })
    }

    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }

    /// The actions every matching playbook asks for, after `alert` opened or joined `case`. A condition that fails
    /// to evaluate (a missing field) counts as not holding; the error is returned beside the plan for the log.
    pub fn plan(
        &self,
        case: &Case,
        alert: &Alert,
        facts: &CaseFacts,
    ) -> (Vec<PlannedAction>, Vec<String>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let mut ctx = cel::Context::default();
        ctx.add_variable_from_value("case", case_value(case));
        ctx.add_variable_from_value("alert", alert_value(alert));
        for c in &self.compiled {
            match c.program.execute(&ctx) {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => continue,
                Ok(other) => {
                    errors.push(format!(
                        "playbook {:?}: condition gave {other:?}, not a bool",
                        c.spec.name
                    ));
                    continue;
                }
                Err(e) => {
                    errors.push(format!("playbook {:?}: {e}", c.spec.name));
                    continue;
                }
            }
            let reason = format!("playbook {:?}: {}", c.spec.name, c.spec.when);
            for a in &c.spec.actions {
                for (kind, approval) in expand(a, case, facts) {
                    out.push(self.planned(
                        case,
                        &c.spec.name,
                        kind,
                        approval,
                        c.spec.dry_run,
                        &reason,
                    ));
                }
            }
        }
        (out, errors)
    }

    /// What a verdict asks of Microsoft: resolve the case's fraud events with the verdict. A person decided, so it
    /// runs without a further approval.
    pub fn on_verdict(
        &self,
        case: &Case,
        verdict: Verdict,
        facts: &CaseFacts,
    ) -> Vec<PlannedAction> {
        let mut by_sub: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (sub, id) in &facts.fraud_events {
            by_sub.entry(sub).or_default().push(id.clone());
        }
        by_sub
            .into_iter()
            .map(|(sub, ids)| {
                self.planned(
                    case,
                    "case",
                    ActionKind::FraudStatus {
                        azure_subscription_id: sub.to_string(),
                        event_ids: ids,
                        status: "Resolved".to_string(),
                        reason: Some(verdict.partner_center_reason().to_string()),
                    },
                    Approval::Auto,
                    false,
                    &format!(
                        "case {} resolved with verdict {}",
                        case.id,
                        verdict.as_str()
                    ),
                )
            })
            .collect()
    }

    fn planned(
        &self,
        case: &Case,
        playbook: &str,
        kind: ActionKind,
        approval: Approval,
        dry_run: bool,
        reason: &str,
    ) -> PlannedAction {
        let mut approvals_required = match approval {
            Approval::Auto => 0,
            Approval::Required => 1,
            Approval::Default => kind.default_approvals(),
        };
        if matches!(kind, ActionKind::SuspendSubscription { .. })
            && case.money_at_risk.amount > self.policy.two_approvers_above
        {
            approvals_required = 2;
        }
        PlannedAction {
            key: ActionKey::derive(&case.id.0, &kind),
            case_id: case.id.0.clone(),
            playbook: playbook.to_string(),
            kind,
            approvals_required,
            dry_run,
            reason: reason.to_string(),
        }
    }
}

/// One spec may mean several actions: one suspension per subscription, one revocation per user, one status update
/// per Azure subscription.
fn expand(a: &ActionSpec, case: &Case, facts: &CaseFacts) -> Vec<(ActionKind, Approval)> {
    let tenant = case.customer_tenant_id.clone();
    match a {
        ActionSpec::Notify { channel, approval } => vec![(
            ActionKind::Notify {
                channel: channel.clone(),
            },
            *approval,
        )],
        ActionSpec::SetBudget { amount, approval } => vec![(
            ActionKind::SetBudget {
                customer_tenant_id: tenant,
                amount: *amount,
            },
            *approval,
        )],
        ActionSpec::SuspendSubscription { approval } => facts
            .billing_subscription_ids
            .iter()
            .map(|s| {
                (
                    ActionKind::SuspendSubscription {
                        customer_tenant_id: tenant.clone(),
                        subscription_id: s.clone(),
                    },
                    *approval,
                )
            })
            .collect(),
        ActionSpec::FraudStatus {
            status,
            reason,
            approval,
        } => {
            let mut by_sub: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
            for (sub, id) in &facts.fraud_events {
                by_sub.entry(sub).or_default().push(id.clone());
            }
            by_sub
                .into_iter()
                .map(|(sub, ids)| {
                    (
                        ActionKind::FraudStatus {
                            azure_subscription_id: sub.to_string(),
                            event_ids: ids,
                            status: status.clone(),
                            reason: reason.clone(),
                        },
                        *approval,
                    )
                })
                .collect()
        }
        ActionSpec::ServiceRequest { approval } => vec![(
            ActionKind::ServiceRequest {
                customer_tenant_id: tenant,
            },
            *approval,
        )],
        ActionSpec::RevokeSessions { approval } => facts
            .users
            .iter()
            .map(|u| {
                (
                    ActionKind::RevokeSessions {
                        customer_tenant_id: tenant.clone(),
                        user: u.clone(),
                    },
                    *approval,
                )
            })
            .collect(),
    }
}

fn s(x: &str) -> cel::Value {
    cel::Value::String(Arc::new(x.to_string()))
}

fn money(m: &cspguard_domain::Money) -> cel::Value {
    use rust_decimal::prelude::ToPrimitive;
    cel::Value::Float(m.amount.to_f64().unwrap_or(0.0))
}

fn case_value(c: &Case) -> HashMap<String, cel::Value> {
    let mut m = HashMap::new();
    m.insert("id".into(), s(&c.id.0));
    m.insert("kind".into(), s(&c.kind));
    m.insert("severity".into(), s(c.severity.as_str()));
    m.insert("score".into(), cel::Value::Int(i64::from(c.score)));
    m.insert("money_at_risk".into(), money(&c.money_at_risk));
    m.insert("currency".into(), s(c.money_at_risk.currency.as_str()));
    m.insert("customer".into(), s(&c.customer_tenant_id));
    m.insert("status".into(), s(c.status.as_str()));
    m.insert(
        "alert_count".into(),
        cel::Value::Int(c.alert_ids.len() as i64),
    );
    m.insert(
        "microsoft_alerted".into(),
        cel::Value::Bool(c.microsoft_alerted),
    );
    m.insert(
        "azure_subscription_ids".into(),
        json_to_cel(&serde_json::json!(c.azure_subscription_ids)),
    );
    m.insert("tags".into(), json_to_cel(&serde_json::json!(c.tags)));
    m
}

fn alert_value(a: &Alert) -> HashMap<String, cel::Value> {
    let mut m = HashMap::new();
    m.insert("id".into(), s(&a.id));
    m.insert("kind".into(), s(&a.kind));
    m.insert("severity".into(), s(a.severity.as_str()));
    m.insert("score".into(), cel::Value::Int(i64::from(a.score)));
    m.insert("money_at_risk".into(), money(&a.money_at_risk));
    m.insert(
        "origin".into(),
        s(match a.origin {
            Origin::Cspguard => "cspguard",
            Origin::Microsoft => "microsoft",
        }),
    );
    let detectors: Vec<&str> = a
        .explanation
        .signals
        .iter()
        .map(|e| e.detector.as_str())
        .collect();
    m.insert(
        "detectors".into(),
        json_to_cel(&serde_json::json!(detectors)),
    );
    m
}
