//! Cases and playbooks: what happens after an alert.
//!
//! - [`case`]: one case per customer incident — lifecycle, verdict, assignee, notes, tags, SLA clocks, checklist;
//!   [`case::route`] decides whether an alert joins a case or opens one.
//! - [`checklist`]: the response steps a case carries.
//! - [`playbook`]: the partner's CEL conditions and the actions they plan, each with an idempotency key.
//! - [`action`]: an action's lifecycle (approvals by different people, ready, in flight, outcome).
//!
//! Invariants: no IO and no clock (callers pass `now`); the same alerts give the same case IDs and the same
//! action keys, so replanning never doubles an action.

pub mod action;
pub mod case;
pub mod checklist;
pub mod playbook;

pub use action::{ActionError, ActionKey, ActionKind, ActionRecord, ActionState};
pub use case::{route, Case, CaseError, CaseId, CaseStatus, Route, SlaPolicy, Verdict};
pub use playbook::{
    ActionSpec, ApprovalPolicy, CaseFacts, PlannedAction, PlaybookError, PlaybookSpec, Playbooks,
};
