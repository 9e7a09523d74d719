//! The rules behind two things a CSP partner does about fraud, as pure functions (no IO, no clock: callers pass
//! `today`/`now` and the facts they read from the store).
//!
//! - [`claim`]: Microsoft's one-time fraud-credit exception request — the first fraudulent usage date, the 30-day
//!   claim window (day 1 = that date, day 30 included, day 31 excluded), which usage lines are compromise-related and
//!   why, the user's exclusions and inclusions, and the totals by day, resource, meter, region and subscription.
//! - [`eligibility`]: each of Microsoft's eligibility rules as pass/fail with its reason, the 60-day filing deadline.
//! - [`request`]: the request's lifecycle (draft -> submitted -> approved | denied) and the once-per-tenant rule.
//! - [`screening`]: onboarding screening of a new customer — a 0-100 score, reasons with evidence, recommended
//!   controls. It lives here rather than in its own crate because both are "before/after the money is lost" partner
//!   paperwork over the same facts (profile, instruments, payments, usage), and one small crate builds faster.
//!
//! Invariants: no IO and no wall clock; the same inputs give the same outputs (line order, IDs, totals); money is
//! never a float and totals never add two currencies.

pub mod claim;
pub mod eligibility;
pub mod request;
pub mod screening;

pub use claim::{
    claim_last_day, day_number, in_claim_window, select, Bucket, ChargeLine, ClaimError, ClaimLine,
    Incident, Override, SelectConfig, Selection, Totals, CLAIM_DAYS,
};
pub use eligibility::{
    check, classify_plan, deadline, Deadline, Eligibility, EligibilityFacts, OtherRequest,
    PlanKind, RuleResult, FILING_DAYS, PROGRAM_START, WARN_DAYS,
};
pub use request::{ExceptionRequest, FirstUsage, RequestError, RequestStatus};
pub use screening::{
    screen, Applicant, Control, InstrumentFact, Reason, Screening, ScreeningConfig,
};
