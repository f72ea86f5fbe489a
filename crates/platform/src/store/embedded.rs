//! Migrations compiled into the binary, run by sqlx's migrator (the
//! `migrate!` macro would do the same but needs sqlx's proc-macro crates;
//! `MigrationSource` is the migrator's public way to be given them), and
//! the adoption of databases made by onepark 0.1's own runner.

use sqlx::AnyConnection;
use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{Connection, Row};
use std::borrow::Cow;

/// What `MigrationSource::resolve` returns (sqlx's `BoxFuture`).
type Resolved =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send>>;

/// (version, description, SQL), in order.
#[derive(Debug)]
pub(super) struct Embedded(pub &'static [(i64, &'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Resolved {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false)
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// onepark 0.1 recorded applied versions in `schema_migrations (version)`.
/// Such a database gets `_sqlx_migrations` rows for those versions (with
/// the checksums of the very files it ran, which are never edited) and
/// loses the old table, in one transaction; the migrator then applies only
/// what is new. Nothing happens on a new or an already adopted database.
pub(super) async fn adopt_schema_migrations(
    conn: &mut AnyConnection,
    migrator: &Migrator,
    sqlite: bool,
) -> Result<(), MigrateError> {
    let exists = |table: &str| {
        if sqlite {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        } else {
            format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '{table}' \
                 AND table_schema = current_schema()"
            )
        }
    };
    let count = |row: sqlx::any::AnyRow| row.try_get::<i64, _>(0);
    let legacy = count(sqlx::query(&exists("schema_migrations")).fetch_one(&mut *conn).await?)? > 0;
    let adopted = count(sqlx::query(&exists("_sqlx_migrations")).fetch_one(&mut *conn).await?)? > 0;
    if !legacy || adopted {
        return Ok(());
    }
    conn.ensure_migrations_table().await?;
    let mut tx = conn.begin().await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for version in applied {
        let migration = migrator.iter().find(|m| m.version == version).ok_or(MigrateError::VersionMissing(version))?;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, TRUE, $3, -1)",
        )
        .bind(version)
        .bind(migration.description.to_string())
        .bind(migration.checksum.to_vec())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DROP TABLE schema_migrations").execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::info!("database of onepark 0.1 adopted by sqlx's migrator (schema_migrations → _sqlx_migrations)");
    Ok(())
}
