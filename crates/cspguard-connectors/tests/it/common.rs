//! Shared set-up: an Entra stand-in, a Partner Center stand-in, and a client wired to them.

use std::time::Duration;

use cspguard_connectors::{PartnerCenter, PartnerCenterConfig, RetryPolicy, Secret, TokenConfig};
use cspguard_standins::{EntraStandIn, PartnerCenterStandIn};
use url::Url;

pub const CLIENT_ID: &str = "11111111-2222-4333-8444-555555555555";
pub const CLIENT_SECRET: &str = "Sup3r~S3cret.Value-never-printed";
pub const PARTNER_TENANT: &str = "9b1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f";
pub const PC_SCOPE: &str = "https://api.partnercenter.microsoft.com/.default";

pub struct Env {
    pub entra: EntraStandIn,
    pub pc: PartnerCenterStandIn,
}

pub async fn env() -> Env {
    let entra = EntraStandIn::start(CLIENT_ID, CLIENT_SECRET).await;
    let pc = PartnerCenterStandIn::start(&entra).await;
    Env { entra, pc }
}

pub fn url(s: &str) -> Url {
    Url::parse(s).expect("stand-in URL")
}

pub fn token_config(entra: &EntraStandIn, secret: &str) -> TokenConfig {
    TokenConfig {
        authority: url(&entra.url()),
        tenant: PARTNER_TENANT.into(),
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(secret),
        scope: PC_SCOPE.into(),
    }
}

pub fn pc_config(env: &Env) -> PartnerCenterConfig {
    PartnerCenterConfig {
        base_url: url(&env.pc.url()),
        token: token_config(&env.entra, CLIENT_SECRET),
        retry: RetryPolicy::fast_for_tests(),
        breaker_failures: 3,
        breaker_cooldown: Duration::from_secs(60),
    }
}

pub fn client(env: &Env) -> PartnerCenter {
    PartnerCenter::new(pc_config(env)).expect("client")
}

/// A local port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
