//! Clients for the external services cspguard calls: Entra ID tokens ([`token`]), Partner Center
//! ([`partner_center`]), Microsoft Graph ([`graph`]), notifications ([`notify`]: webhooks, SMTP), and the resumable
//! Partner Center pull ([`sync`]).
//!
//! Invariants: no storage (callers persist cursors and documents); secrets ([`secret::Secret`]) never appear in
//! logs, `Debug` output or errors, and of a webhook URL only scheme and host are shown; every HTTP call goes
//! through [`resilience::RetryPolicy`] and a per-service [`resilience::CircuitBreaker`]. Documents from Microsoft
//! are returned raw (`serde_json::Value`) for the importers in `cspguard-ingest`, which own the wire formats.

pub mod error;
pub mod graph;
mod http;
pub mod notify;
pub mod partner_center;
pub mod resilience;
pub mod secret;
pub mod sync;
pub mod token;

pub use error::{ConnectorError, Result};
pub use graph::{Graph, GraphConfig};
pub use notify::{Message, Smtp, SmtpConfig, SmtpTls, Webhook, WebhookFormat};
pub use partner_center::{
    Applied, FraudEventQuery, FraudEventsPage, Page, PartnerCenter, PartnerCenterConfig,
};
pub use resilience::{BreakerState, CircuitBreaker, RetryPolicy};
pub use secret::Secret;
pub use sync::{PartnerCenterSync, SyncConfig, SyncCursor, SyncPhase, SyncSink, SyncSummary};
pub use token::{TokenConfig, TokenProvider};
