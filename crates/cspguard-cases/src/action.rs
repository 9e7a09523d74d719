//! Actions on a customer and their lifecycle.
//!
//! ```text
//! awaiting_approval ──(enough different approvers)──► ready ──► in_flight ──► succeeded
//!        │                                             ▲  │            └──► ready (retry later) ──► … ──► failed
//!        └──(cancel)──► cancelled                       └──┘ (dry run: ready ──► dry_run, nothing sent)
//! ```
//!
//! Idempotency: an action is identified by its [`ActionKey`], derived from the case and exactly what it does, so the
//! store holds one row per key however often it is planned. `in_flight` is written *before* the request is sent; an
//! executor that finds an action `in_flight` (a crash between sending and recording) runs it again through the
//! check-then-act path of its client (Partner Center's suspension and budget read the current state first and do
//! nothing if it is already in effect; a status update and a session revocation are idempotent by nature;
//! notifications carry the key as `Idempotency-Key` / `Message-ID` so a receiver can drop the repeat).

use cspguard_domain::Instant;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// 32 hex digits of BLAKE3 over the case ID and the action's canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionKey(pub String);

impl ActionKey {
    pub fn derive(case_id: &str, kind: &ActionKind) -> ActionKey {
        let body = serde_json::to_string(kind).unwrap_or_default();
        let h = blake3::hash(format!("action/v1/{case_id}/{body}").as_bytes());
        ActionKey(h.to_hex()[..32].to_string())
    }
}

impl fmt::Display for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an action does, with its target. Serialised with `type`, the same names as the playbook's `ActionSpec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionKind {
    Notify {
        channel: String,
    },
    SetBudget {
        customer_tenant_id: String,
        amount: Decimal,
    },
    SuspendSubscription {
        customer_tenant_id: String,
        subscription_id: String,
    },
    FraudStatus {
        azure_subscription_id: String,
        event_ids: Vec<String>,
        status: String,
        reason: Option<String>,
    },
    ServiceRequest {
        customer_tenant_id: String,
    },
    RevokeSessions {
        customer_tenant_id: String,
        user: String,
    },
}

impl ActionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Notify { .. } => "notify",
            ActionKind::SetBudget { .. } => "set_budget",
            ActionKind::SuspendSubscription { .. } => "suspend_subscription",
            ActionKind::FraudStatus { .. } => "fraud_status",
            ActionKind::ServiceRequest { .. } => "service_request",
            ActionKind::RevokeSessions { .. } => "revoke_sessions",
        }
    }

    /// Approvers needed when the playbook does not say: none to tell people or to mark Microsoft's alert as being
    /// investigated, or to draft a service request; one to change a customer's service (budget, suspension, session
    /// revocation) or to resolve Microsoft's alert.
    pub fn default_approvals(&self) -> u8 {
        match self {
            ActionKind::Notify { .. } | ActionKind::ServiceRequest { .. } => 0,
            ActionKind::FraudStatus { status, .. } if status == "Investigating" => 0,
            _ => 1,
        }
    }

    /// Whether its success mitigates the incident (stops the case's mitigation clock).
    pub fn mitigates(&self) -> bool {
        matches!(
            self,
            ActionKind::SetBudget { .. }
                | ActionKind::SuspendSubscription { .. }
                | ActionKind::RevokeSessions { .. }
        )
    }

    /// One line for people: what and to whom.
    pub fn describe(&self) -> String {
        match self {
            ActionKind::Notify { channel } => format!("notify channel {channel}"),
            ActionKind::SetBudget {
                customer_tenant_id,
                amount,
            } => format!("set the spending budget of {customer_tenant_id} to {amount}"),
            ActionKind::SuspendSubscription {
                customer_tenant_id,
                subscription_id,
            } => format!("suspend subscription {subscription_id} of {customer_tenant_id}"),
            ActionKind::FraudStatus {
                azure_subscription_id,
                event_ids,
                status,
                reason,
            } => format!(
                "set {} Microsoft fraud event(s) of {azure_subscription_id} to {status}{}",
                event_ids.len(),
                reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            ActionKind::ServiceRequest { customer_tenant_id } => {
                format!("draft a Microsoft service request for {customer_tenant_id}")
            }
            ActionKind::RevokeSessions {
                customer_tenant_id,
                user,
            } => format!("revoke the sign-in sessions of {user} in {customer_tenant_id}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    AwaitingApproval,
    Ready,
    InFlight,
    Succeeded,
    Failed,
    DryRun,
    Cancelled,
}

impl ActionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionState::AwaitingApproval => "awaiting_approval",
            ActionState::Ready => "ready",
            ActionState::InFlight => "in_flight",
            ActionState::Succeeded => "succeeded",
            ActionState::Failed => "failed",
            ActionState::DryRun => "dry_run",
            ActionState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<ActionState> {
        Some(match s {
            "awaiting_approval" => ActionState::AwaitingApproval,
            "ready" => ActionState::Ready,
            "in_flight" => ActionState::InFlight,
            "succeeded" => ActionState::Succeeded,
            "failed" => ActionState::Failed,
            "dry_run" => ActionState::DryRun,
            "cancelled" => ActionState::Cancelled,
            _ => return None,
        })
    }
    /// No further change will happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ActionState::Succeeded
                | ActionState::Failed
                | ActionState::DryRun
                | ActionState::Cancelled
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub at: Instant,
}

/// An action as the store keeps it. Field names are the JSON contract of `cspguard actions list --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub key: ActionKey,
    pub case_id: String,
    pub playbook: String,
    pub kind: ActionKind,
    pub state: ActionState,
    pub approvals_required: u8,
    pub approvals: Vec<Approval>,
    pub dry_run: bool,
    pub reason: String,
    pub attempts: u32,
    pub next_attempt_at: Option<Instant>,
    pub last_error: Option<String>,
    /// What the service answered, or in dry run the request that would have been sent.
    pub result: Option<serde_json::Value>,
    pub created_at: Instant,
    pub updated_at: Instant,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ActionError {
    #[error("action {key} is {state}, not awaiting approval")]
    NotAwaiting { key: ActionKey, state: &'static str },
    #[error("{by} has approved action {key} already: a second approval must come from a different person")]
    SameApprover { key: ActionKey, by: String },
}

impl ActionRecord {
    pub fn new(p: crate::playbook::PlannedAction, now: Instant) -> ActionRecord {
        ActionRecord {
            state: if p.approvals_required == 0 {
                ActionState::Ready
            } else {
                ActionState::AwaitingApproval
            },
            key: p.key,
            case_id: p.case_id,
            playbook: p.playbook,
            kind: p.kind,
            approvals_required: p.approvals_required,
            approvals: Vec::new(),
            dry_run: p.dry_run,
            reason: p.reason,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            result: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Records `by`'s approval; the action becomes ready once enough *different* people approved.
    pub fn approve(&mut self, by: &str, now: Instant) -> Result<(), ActionError> {
        if self.state != ActionState::AwaitingApproval {
            return Err(ActionError::NotAwaiting {
                key: self.key.clone(),
                state: self.state.as_str(),
            });
        }
        if self.approvals.iter().any(|a| a.by == by) {
            return Err(ActionError::SameApprover {
                key: self.key.clone(),
                by: by.to_string(),
            });
        }
        self.approvals.push(Approval {
            by: by.to_string(),
            at: now,
        });
        if self.approvals.len() >= usize::from(self.approvals_required) {
            self.state = ActionState::Ready;
        }
        self.updated_at = now;
        Ok(())
    }

    /// Whether the executor should try it at `now`.
    pub fn due(&self, now: Instant) -> bool {
        match self.state {
            ActionState::InFlight => true,
            ActionState::Ready => self.next_attempt_at.is_none_or(|t| t <= now),
            _ => false,
        }
    }
}
