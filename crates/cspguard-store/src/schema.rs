//! Migrations, embedded in the binary: one folder per backend, numbered, never edited once landed.

use crate::{Backend, Result};
use sqlx::AnyPool;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) async fn migrate(pool: &AnyPool, backend: Backend) -> Result<()> {
    match backend {
        Backend::Sqlite => SQLITE.run(pool).await?,
        Backend::Postgres => POSTGRES.run(pool).await?,
    }
    Ok(())
}
