//! What the store's integration tests share: example events parsed from `testdata/examples`, fresh SQLite and
//! PostgreSQL stores (PostgreSQL when `CSPGUARD_TEST_POSTGRES_URL` names a server; under CI its absence is a failure,
//! not a skip), and a fixed instant.
#![allow(dead_code)]

use cspguard_domain::Envelope;
use cspguard_ingest::{ImportOptions, Reject, Sink, SourceKind, Stopped};
use cspguard_store::Store;

pub struct Collect(pub Vec<Envelope>);
impl Sink for Collect {
    fn accept(&mut self, e: Envelope) -> Result<(), Stopped> {
        self.0.push(e);
        Ok(())
    }
    fn reject(&mut self, r: Reject) -> Result<(), Stopped> {
        panic!("example rejected: {r}")
    }
}

/// The package folder at run time (`cargo test` sets it for the test process). `env!` would bake in the folder the
/// test binary was first compiled in, and a target folder shared between checkouts reuses binaries across them.
pub fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}

pub fn example_events(kind: SourceKind, file: &str, customer: Option<&str>) -> Vec<Envelope> {
    let path = std::path::Path::new(&manifest_dir())
        .join("../../testdata/examples")
        .join(file);
    let text = std::fs::read(&path).unwrap();
    let opts = ImportOptions {
        origin: file.to_string(),
        customer: customer.map(|c| cspguard_domain::TenantId::parse(c).unwrap()),
        observed_at: cspguard_ingest::parse_instant("2026-11-01T00:00:00Z").unwrap(),
        usage_keys: Default::default(),
    };
    let mut c = Collect(Vec::new());
    cspguard_ingest::parse(kind, text.as_slice(), &opts, &mut c).unwrap();
    c.0
}

pub async fn sqlite() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    (dir, store)
}

/// A fresh database on the test PostgreSQL server, or `None` outside CI when no server was started.
pub async fn postgres() -> Option<Store> {
    let url = postgres_url().await?;
    Some(Store::open(&url).await.unwrap())
}

/// The URL of a fresh database on the test PostgreSQL server.
pub async fn postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("CSPGUARD_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL tests: start one with .ci/postgres.sh"
        );
        eprintln!(
            "CSPGUARD_TEST_POSTGRES_URL not set: PostgreSQL half skipped (bash .ci/run runs it)"
        );
        return None;
    };
    sqlx::any::install_default_drivers();
    let name = format!("t_{}_{}", std::process::id(), rand_suffix());
    let admin = sqlx::AnyPool::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    Some(format!("{}/{}", base.rsplit_once('/').unwrap().0, name))
}

pub fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

pub fn now() -> cspguard_domain::Instant {
    cspguard_ingest::parse_instant("2026-11-02T00:00:00Z").unwrap()
}
