//! Credit control: what customers owe and how late, how close each is to its credit limit, what dunning step is due,
//! and the partner's own standing with Microsoft.
//!
//! - [`calendar`]: business days (weekends, holidays per country) and Microsoft's 5-business-day posting window;
//! - [`ledger`]: the receivables ledger per invoice (partial payments, refunds, disputes reopening), aging buckets and
//!   days sales outstanding;
//! - [`exposure`]: exposure (open invoices + unbilled usage + projected burn) against the credit limit, thresholds;
//! - [`dunning`]: the dunning policy and the step due for an overdue invoice;
//! - [`partner`]: the partner's Microsoft invoices, the 60-day suspension rule and its credit-limit notices.
//!
//! Invariants: no IO and no clock (callers pass `as_of`); money is [`cspguard_domain::Money`] and amounts in
//! different currencies are never added; the same inputs give the same output.

pub mod calendar;
pub mod dunning;
pub mod exposure;
pub mod ledger;
pub mod partner;

pub use calendar::{BusinessCalendar, Timeliness, POSTING_WINDOW_BUSINESS_DAYS};
pub use dunning::{DunningPolicy, DunningStep};
pub use exposure::{exposure, Exposure, ExposureInput, LimitSource, Threshold};
pub use ledger::{
    aging, AgingRow, Bill, Bucket, InvoiceLine, InvoiceStatus, Ledger, PartyInfo, PaymentRecord,
    PARTNER,
};
pub use partner::{standing, PartnerStanding};
