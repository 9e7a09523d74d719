//! Integration tests of the connectors: real HTTP and SMTP against the stand-ins of `cspguard-standins`.
//! One test binary, one module per theme.

mod common;
mod graph;
mod notify;
mod partner_center;
mod resilience;
mod sync;
mod token;
