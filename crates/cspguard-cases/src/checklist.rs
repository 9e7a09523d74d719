//! The response checklist a case carries, with who ticked each step and when.
//!
//! Compromise-like cases get Microsoft's compromise-mitigation steps (the partner guidance summarised in
//! `shared/domain/README.md`); payment cases get the collections steps of the same guidance.

use cspguard_domain::Instant;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// Stable step ID, what `cspguard cases check` takes.
    pub id: String,
    pub text: String,
    pub done_by: Option<String>,
    pub done_at: Option<Instant>,
}

/// Microsoft's steps for mitigating a compromised customer tenant, in the order they are usually done.
pub const COMPROMISE: &[(&str, &str)] = &[
    (
        "review_signins",
        "Review risky users and sign-ins around the alert time",
    ),
    (
        "review_activity",
        "Check the activity log and the unbilled usage",
    ),
    (
        "reset_credentials",
        "Change the credentials of tenant admins and subscription owners; enforce MFA",
    ),
    (
        "recovery_contacts",
        "Check the admins' recovery e-mails and phones",
    ),
    (
        "evict_attacker",
        "Evict the attacker: deallocate and delete the resources it created (and unattached disks)",
    ),
    (
        "suspend_subscription",
        "Suspend or cancel the affected subscription if the abuse goes on",
    ),
    ("reduce_quota", "Reduce unused quota"),
    ("enable_defender", "Turn on Defender for Cloud"),
    (
        "microsoft_verdict",
        "Tell Microsoft the verdict on its alerts (Fraud, Ignore)",
    ),
    (
        "credit_request",
        "Consider the one-time fraud credit request (within 60 days of the first fraudulent usage)",
    ),
];

/// Steps for payment cases (nonpayment, card testing, new-customer fraud).
pub const PAYMENT: &[(&str, &str)] = &[
    (
        "review_payments",
        "Review the invoice payment history and payment-instrument changes",
    ),
    (
        "contact_customer",
        "Contact the customer (personal contact, not only e-mail)",
    ),
    (
        "verify_identity",
        "Verify the customer's identity and business (credit-bureau or business report)",
    ),
    ("dunning", "Run the written dunning and collections policy"),
    (
        "spending_budget",
        "Set or lower the customer's monthly spending budget",
    ),
    (
        "suspend_subscription",
        "Suspend the subscription if the collections policy says access is cut",
    ),
];

fn is_payment_kind(kind: &str) -> bool {
    matches!(
        kind,
        "nonpayment" | "card_testing" | "new_customer_fraud" | "payment_risk"
    )
}

/// The checklist for a case whose strongest alert is of `kind`.
pub fn for_kind(kind: &str) -> Vec<ChecklistItem> {
    let steps = if is_payment_kind(kind) {
        PAYMENT
    } else {
        COMPROMISE
    };
    steps
        .iter()
        .map(|(id, text)| ChecklistItem {
            id: (*id).to_string(),
            text: (*text).to_string(),
            done_by: None,
            done_at: None,
        })
        .collect()
}
