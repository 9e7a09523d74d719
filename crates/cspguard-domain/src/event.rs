//! The typed events of the event log. Each variant is a fact as a source stated it, normalised: IDs parsed, money as
//! [`Money`], times as UTC instants. Detectors replay these in event-time order.

use crate::{
    AzureSubscriptionId, BillingSubscriptionId, FraudEventId, Instant, InstrumentId, InvoiceId,
    Money, PartnerId, PaymentId, ResellerMpnId, ResourceId, TenantId,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A content-derived key that names one fact. Two deliveries of the same fact (a re-imported file, an overlapping export,
/// a webhook retried) produce the same key, and the event log keeps only the first.
///
/// 128 bits of BLAKE3 over the event kind and the fields that identify the fact ([`IdempotencyKey::derive`]), or for
/// usage lines in stores created since key version 2, of XXH3-128 ([`IdempotencyKey::derive_v2`], see
/// [`UsageKeyVersion`]); collisions are negligible at any volume a partner has (2^64 events before a 50% chance of one).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(pub [u8; 16]);

/// How a store derives the keys of usage lines. A store keeps one version for all its usage lines, for ever: a key is
/// only ever compared with keys of the same store, and keys of two versions never match, so mixing them would store a
/// re-imported line twice. The keys cannot be recomputed from the stored lines (they cover columns cspguard does not
/// keep), so a store that already holds usage keys of version 1 stays on version 1.
///
/// Decision: version 2 hashes with XXH3-128 instead of BLAKE3 (BLAKE3 was a sixth of a usage import's CPU; XXH3 is a
/// twentieth of that). XXH3 is not a cryptographic hash, so someone able to choose two usage rows byte for byte could
/// make them collide and one be dropped as a duplicate; but a usage row's quantity, prices, meter and dates are
/// Microsoft's rating of the day's consumption, which no customer can write in advance, and equal keys also need the
/// same customer and day (`usage_keys` is keyed by both). Every other kind of event keeps BLAKE3: those are few.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UsageKeyVersion {
    /// BLAKE3 ([`IdempotencyKey::derive`]): stores that held usage before version 2.
    V1,
    /// XXH3-128 ([`IdempotencyKey::derive_v2`]): every store created since.
    #[default]
    V2,
}

impl UsageKeyVersion {
    /// The version's number, as stored (`log_head.usage_key_version`).
    pub fn number(self) -> i64 {
        match self {
            UsageKeyVersion::V1 => 1,
            UsageKeyVersion::V2 => 2,
        }
    }
    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            1 => Some(UsageKeyVersion::V1),
            2 => Some(UsageKeyVersion::V2),
            _ => None,
        }
    }
    /// A key of this version.
    pub fn derive(self, kind: EventKind, parts: &[&[u8]]) -> IdempotencyKey {
        match self {
            UsageKeyVersion::V1 => IdempotencyKey::derive(kind, parts),
            UsageKeyVersion::V2 => IdempotencyKey::derive_v2(kind, parts),
        }
    }
}

impl IdempotencyKey {
    /// Derives a key from the event kind and the identifying fields, each length-prefixed so `("ab","c")` and
    /// `("a","bc")` differ.
    pub fn derive(kind: EventKind, parts: &[&[u8]]) -> Self {
        // The parts are framed into one buffer and hashed once: BLAKE3 is several times slower fed a hundred small
        // slices than one (measured on the usage importer, where this is the hottest function).
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|b| {
            let mut buf = b.borrow_mut();
            buf.clear();
            buf.extend_from_slice(kind.as_str().as_bytes());
            for p in parts {
                buf.extend_from_slice(&(p.len() as u64).to_le_bytes());
                buf.extend_from_slice(p);
            }
            let mut out = [0u8; 16];
            out.copy_from_slice(&blake3::hash(&buf).as_bytes()[..16]);
            IdempotencyKey(out)
        })
    }
    /// Version 2 of [`IdempotencyKey::derive`] (see [`UsageKeyVersion`]): XXH3-128 over the kind and the parts, each
    /// framed by its length as 4 bytes (parts are fields of one record, never 4 GiB).
    pub fn derive_v2(kind: EventKind, parts: &[&[u8]]) -> Self {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|b| {
            let mut buf = b.borrow_mut();
            buf.clear();
            buf.extend_from_slice(kind.as_str().as_bytes());
            for p in parts {
                buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
                buf.extend_from_slice(p);
            }
            IdempotencyKey(xxhash_rust::xxh3::xxh3_128(&buf).to_le_bytes())
        })
    }
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}
impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.to_hex())
    }
}

/// Where an event came from: a file and line (and column), or an API and key. Shown in evidence and reject reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// A file path, or `api:<name>` for events that arrived over an API.
    pub origin: String,
    /// 1-based line of the record's first line, where the source has lines.
    pub line: Option<u64>,
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}", self.origin, l),
            None => f.write_str(&self.origin),
        }
    }
}

/// An event as stored: the fact plus the bookkeeping every stage relies on.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub key: IdempotencyKey,
    /// When the fact became knowable (for a usage day: the end of that UTC day).
    pub event_time: Instant,
    pub source: SourceRef,
    pub event: Event,
}

/// The kinds of event, as stored in the log's `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Usage,
    SignIn,
    ControlPlane,
    FraudAlert,
    FraudAlertStatus,
    SubscriptionState,
    CustomerProfile,
    Invoice,
    Payment,
    InstrumentChange,
    PartnerInvoice,
    PartnerPayment,
    PartnerCreditLimit,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::Usage,
        EventKind::SignIn,
        EventKind::ControlPlane,
        EventKind::FraudAlert,
        EventKind::FraudAlertStatus,
        EventKind::SubscriptionState,
        EventKind::CustomerProfile,
        EventKind::Invoice,
        EventKind::Payment,
        EventKind::InstrumentChange,
        EventKind::PartnerInvoice,
        EventKind::PartnerPayment,
        EventKind::PartnerCreditLimit,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Usage => "usage",
            EventKind::SignIn => "sign_in",
            EventKind::ControlPlane => "control_plane",
            EventKind::FraudAlert => "fraud_alert",
            EventKind::FraudAlertStatus => "fraud_alert_status",
            EventKind::SubscriptionState => "subscription_state",
            EventKind::CustomerProfile => "customer_profile",
            EventKind::Invoice => "invoice",
            EventKind::Payment => "payment",
            EventKind::InstrumentChange => "instrument_change",
            EventKind::PartnerInvoice => "partner_invoice",
            EventKind::PartnerPayment => "partner_payment",
            EventKind::PartnerCreditLimit => "partner_credit_limit",
        }
    }
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One fact from any source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Usage(UsageLine),
    SignIn(SignIn),
    ControlPlane(ControlPlaneOp),
    FraudAlert(FraudAlert),
    FraudAlertStatus(FraudAlertStatusChange),
    SubscriptionState(SubscriptionState),
    CustomerProfile(CustomerProfile),
    Invoice(Invoice),
    Payment(Payment),
    InstrumentChange(InstrumentChange),
    /// Microsoft's invoice to the partner (the partner's own standing, not a customer's).
    PartnerInvoice(PartnerInvoice),
    /// The partner's payment of a Microsoft invoice.
    PartnerPayment(PartnerPayment),
    /// The partner's credit limit with Microsoft, as observed.
    PartnerCreditLimit(PartnerCreditLimit),
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Usage(_) => EventKind::Usage,
            Event::SignIn(_) => EventKind::SignIn,
            Event::ControlPlane(_) => EventKind::ControlPlane,
            Event::FraudAlert(_) => EventKind::FraudAlert,
            Event::FraudAlertStatus(_) => EventKind::FraudAlertStatus,
            Event::SubscriptionState(_) => EventKind::SubscriptionState,
            Event::CustomerProfile(_) => EventKind::CustomerProfile,
            Event::Invoice(_) => EventKind::Invoice,
            Event::Payment(_) => EventKind::Payment,
            Event::InstrumentChange(_) => EventKind::InstrumentChange,
            Event::PartnerInvoice(_) => EventKind::PartnerInvoice,
            Event::PartnerPayment(_) => EventKind::PartnerPayment,
            Event::PartnerCreditLimit(_) => EventKind::PartnerCreditLimit,
        }
    }

    /// The customer tenant the fact is about, where the source says.
    pub fn customer(&self) -> Option<&TenantId> {
        match self {
            Event::Usage(e) => Some(&e.customer),
            Event::SignIn(e) => Some(&e.customer),
            Event::ControlPlane(e) => e.customer.as_ref(),
            Event::FraudAlert(e) => Some(&e.customer),
            Event::FraudAlertStatus(e) => e.customer.as_ref(),
            Event::SubscriptionState(e) => e.customer.as_ref(),
            Event::CustomerProfile(e) => Some(&e.customer),
            Event::Invoice(e) => Some(&e.customer),
            Event::Payment(e) => Some(&e.customer),
            Event::InstrumentChange(e) => Some(&e.customer),
            // The partner's own standing with Microsoft: about no customer.
            Event::PartnerInvoice(_) | Event::PartnerPayment(_) | Event::PartnerCreditLimit(_) => {
                None
            }
        }
    }
}

/// One row of a daily rated usage reconciliation file (billed or unbilled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageLine {
    pub partner: Option<PartnerId>,
    pub customer: TenantId,
    pub customer_name: String,
    pub customer_country: Option<String>,
    pub reseller: Option<ResellerMpnId>,
    /// Empty in unbilled files.
    pub invoice_number: Option<String>,
    pub billing_subscription: BillingSubscriptionId,
    pub azure_subscription: AzureSubscriptionId,
    pub usage_date: NaiveDate,
    pub product_id: String,
    pub sku_name: String,
    pub meter_id: String,
    pub meter_category: String,
    pub meter_subcategory: String,
    pub meter_name: String,
    pub meter_region: String,
    pub resource_location: String,
    pub consumed_service: String,
    pub resource_group: String,
    pub resource: Option<ResourceId>,
    pub charge_type: String,
    pub unit: String,
    pub quantity: Decimal,
    pub effective_unit_price: Decimal,
    /// `BillingPreTaxTotal` in `BillingCurrency`: what the partner is billed.
    pub cost: Money,
}

/// An Entra sign-in (Graph `auditLogs/signIns`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub id: String,
    pub customer: TenantId,
    pub at: Instant,
    pub user_principal_name: String,
    pub user_id: Option<String>,
    pub app_display_name: Option<String>,
    pub ip_address: Option<String>,
    /// `Browser`, `IMAP4`, `Exchange ActiveSync`, ...
    pub client_app_used: Option<String>,
    pub is_interactive: Option<bool>,
    /// 0 is success.
    pub error_code: i64,
    pub failure_reason: Option<String>,
    pub conditional_access_status: Option<String>,
    pub risk_level_aggregated: Option<String>,
    pub risk_level_during_sign_in: Option<String>,
    pub risk_state: Option<String>,
    pub risk_event_types: Vec<String>,
    pub location: Option<GeoLocation>,
    pub device_os: Option<String>,
    pub device_browser: Option<String>,
}

impl SignIn {
    pub fn succeeded(&self) -> bool {
        self.error_code == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoLocation {
    pub city: Option<String>,
    pub state: Option<String>,
    /// ISO 3166 alpha-2 as Entra reports it.
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// A control-plane operation from an Azure activity log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlPlaneOp {
    /// `eventDataId`, or for streamed records a key built from the correlation ID, operation, resource and time.
    pub id: String,
    /// The customer tenant, when the record names it (`tenantId`) or the import was told (`--customer`).
    pub customer: Option<TenantId>,
    pub azure_subscription: Option<AzureSubscriptionId>,
    pub at: Instant,
    /// Lower-cased, e.g. `microsoft.compute/virtualmachinescalesets/write`.
    pub operation: String,
    pub resource: Option<ResourceId>,
    /// Normalised to `started`, `accepted`, `succeeded`, `failed` or the source's own word, lower-cased.
    pub status: String,
    pub category: Option<String>,
    pub caller: Option<String>,
    pub caller_ip: Option<String>,
    /// The deployment's region from the request body (`location`), lower-cased.
    pub region: Option<String>,
    /// The VM size or scale-set SKU from the request body.
    pub sku: Option<String>,
    /// Instance count from the request body (`sku.capacity`), where given.
    pub capacity: Option<i64>,
}

/// A Microsoft Azure fraud event (Partner Center `fraudEvents`, either events model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FraudAlert {
    pub id: FraudEventId,
    pub customer: TenantId,
    pub azure_subscription: AzureSubscriptionId,
    pub event_time: Instant,
    /// `CryptoMining`, `VM_AnomalousDeployment`, ... kept verbatim so new types are never lost; `None` in the older model.
    pub event_type: Option<String>,
    pub severity: Option<String>,
    pub confidence: Option<String>,
    /// `Active`, `Investigating`, `Resolved` (verbatim).
    pub status: String,
    /// `Legitimate`, `Fraud`, `Ignore`; `None` while open.
    pub resolved_reason: Option<String>,
    /// `None` while open (Microsoft writes a 9999-12-31 sentinel).
    pub resolved_on: Option<Instant>,
    pub resolved_by: Option<String>,
    pub first_occurrence: Option<Instant>,
    pub last_occurrence: Option<Instant>,
    pub first_observed: Option<Instant>,
    pub last_observed: Option<Instant>,
    pub hit_count: Option<i64>,
    pub service_name: Option<String>,
    pub resource_name: Option<String>,
    pub resource_group: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub country: Option<String>,
    pub reseller_tenant: Option<String>,
    pub affected_resources: Vec<ResourceId>,
    pub details: BTreeMap<String, String>,
    pub is_test: bool,
}

/// A status change of a fraud event (from its `activityLogs`, or from cspguard's own updates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FraudAlertStatusChange {
    pub alert: FraudEventId,
    pub customer: Option<TenantId>,
    pub at: Instant,
    pub from: String,
    pub to: String,
    pub by: Option<String>,
}

/// A subscription's state as Partner Center reported it (active, suspended, ...), observed at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionState {
    /// `None` when the page did not say whose it is (Partner Center's subscription items do not name their customer);
    /// the store's `billing_subscriptions` table maps the subscription to its customer from usage lines.
    pub customer: Option<TenantId>,
    pub subscription: BillingSubscriptionId,
    pub offer_id: Option<String>,
    pub offer_name: Option<String>,
    pub friendly_name: Option<String>,
    /// Lower-cased: active | suspended | deleted | expired | pending | disabled, or the source's own word.
    pub status: String,
    pub suspension_reasons: Vec<String>,
    pub created_at: Option<Instant>,
    pub billing_type: Option<String>,
}

/// A customer as the partner knows it (Partner Center profile or the partner's billing system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub customer: TenantId,
    pub name: Option<String>,
    pub domain: Option<String>,
    pub country: Option<String>,
    pub reseller: Option<ResellerMpnId>,
    /// Partner Center's `associatedPartnerId`: the indirect reseller's partner (tenant) ID.
    pub associated_partner: Option<String>,
    /// Partner Center's `relationshipToPartner`.
    pub relationship: Option<String>,
    pub created_at: Option<Instant>,
    pub signup_ip: Option<String>,
    pub mfa_enforced: Option<bool>,
    pub credit_limit: Option<Money>,
    pub payment_terms_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: InvoiceId,
    pub customer: TenantId,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub amount: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Succeeded,
    Failed,
    Refunded,
    Disputed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub customer: TenantId,
    pub invoice: Option<InvoiceId>,
    pub amount: Money,
    pub submitted_on: NaiveDate,
    pub posted_on: Option<NaiveDate>,
    pub status: PaymentStatus,
    pub instrument: Option<InstrumentId>,
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentKind {
    Card,
    PrepaidCard,
    BankAccount,
    Wire,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentAction {
    Added,
    Removed,
    SetDefault,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentChange {
    pub customer: TenantId,
    pub instrument: InstrumentId,
    pub kind: InstrumentKind,
    pub action: InstrumentAction,
    pub at: Instant,
    pub country: Option<String>,
    pub fingerprint: Option<String>,
}

/// An invoice Microsoft issued to the partner (billing JSONL `partner_invoice`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerInvoice {
    pub id: InvoiceId,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub amount: Money,
}

/// The partner's payment to Microsoft (billing JSONL `partner_payment`). `posted_on` is when it showed in Partner
/// Center's Billing workspace (up to 5 business days after it was made); `None` while it has not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerPayment {
    pub id: PaymentId,
    pub invoice: Option<InvoiceId>,
    pub amount: Money,
    pub submitted_on: NaiveDate,
    pub posted_on: Option<NaiveDate>,
    pub status: PaymentStatus,
}

/// The partner's credit limit with Microsoft on a day (billing JSONL `partner_credit_limit`), and what Partner Center
/// said was used of it, where known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerCreditLimit {
    pub observed_on: NaiveDate,
    pub limit: Money,
    pub used: Option<Money>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_fields_and_kinds() {
        let a = IdempotencyKey::derive(EventKind::Usage, &[b"ab", b"c"]);
        let b = IdempotencyKey::derive(EventKind::Usage, &[b"a", b"bc"]);
        let c = IdempotencyKey::derive(EventKind::SignIn, &[b"ab", b"c"]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, IdempotencyKey::derive(EventKind::Usage, &[b"ab", b"c"]));
    }

    #[test]
    fn key_versions_are_fixed_and_distinct() {
        // Stored keys must never change: these are the keys of both versions for one input, as first released.
        let parts: [&[u8]; 3] = [b"2eefae5a-c81d-408e-aff9-27ec662fa247", b"", b"7.56"];
        let v1 = UsageKeyVersion::V1.derive(EventKind::Usage, &parts);
        let v2 = UsageKeyVersion::V2.derive(EventKind::Usage, &parts);
        assert_eq!(v1, IdempotencyKey::derive(EventKind::Usage, &parts));
        assert_eq!(v1.to_hex(), "fbc670c3579078b96bf5a32c9eefb585");
        assert_eq!(v2.to_hex(), "ca1ee4da3cf9f189216f3466f1e2a164");
        let a = IdempotencyKey::derive_v2(EventKind::Usage, &[b"ab", b"c"]);
        let b = IdempotencyKey::derive_v2(EventKind::Usage, &[b"a", b"bc"]);
        let c = IdempotencyKey::derive_v2(EventKind::SignIn, &[b"ab", b"c"]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        for v in [UsageKeyVersion::V1, UsageKeyVersion::V2] {
            assert_eq!(UsageKeyVersion::from_number(v.number()), Some(v));
        }
        assert_eq!(UsageKeyVersion::from_number(3), None);
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
    }
}
