//! The adoption of databases made by onepark 0.1's own migration runner by
//! sqlx's migrator (which runs the embedded files, `onepark_sql::Embedded`).

use sqlx::AnyConnection;
use sqlx::Connection;
use sqlx::migrate::{Migrate, MigrateError, Migrator};

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
    let legacy: i64 = sqlx::query_scalar(&exists("schema_migrations")).fetch_one(&mut *conn).await?;
    let adopted: i64 = sqlx::query_scalar(&exists("_sqlx_migrations")).fetch_one(&mut *conn).await?;
    if legacy == 0 || adopted > 0 {
        return Ok(());
    }
    conn.ensure_migrations_table().await?;
    let mut tx = conn.begin().await?;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(&mut *tx).await?;
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
