//! Local stand-ins for the services cspguard calls but tests cannot reach: Entra ID's token endpoint, Partner
//! Center, Microsoft Graph, a webhook receiver and an SMTP relay. Built from the documented shapes
//! (`formats.md` sections 2 and 6), they serve real HTTP (axum) or SMTP on `127.0.0.1:0`, keep real state,
//! record every request, and let a test script faults per route.
//!
//! Start them inside a tokio runtime; each stops when dropped.

pub mod entra;
pub mod fixtures;
pub mod graph;
pub mod harness;
pub mod partner_center;
pub mod signing;
pub mod smtp;
pub mod webhook;

pub use entra::{EntraStandIn, TokenInfo};
pub use graph::GraphStandIn;
pub use harness::{Body, Fault, Harness, Recorded};
pub use partner_center::PartnerCenterStandIn;
pub use smtp::{ReceivedMail, SmtpStandIn};
pub use webhook::WebhookStandIn;
