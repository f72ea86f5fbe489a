//! PostgreSQL for the tests that run on it when `DATABASE_URL` is set: a
//! schema of the test's own, so runs never see each other's rows.

/// A schema of the test's own on `DATABASE_URL`; `url` selects it
/// (`search_path`). [`PgSchema::drop`] removes it with its tables.
pub struct PgSchema {
    pub url: String,
    name: String,
    admin: sqlx::AnyPool,
}

impl PgSchema {
    /// The schema, or `None` after the skip notice when `DATABASE_URL` is not set.
    pub async fn new(test: &str) -> Option<PgSchema> {
        let base = crate::env_or_skip("DATABASE_URL", test)?;
        let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_micros();
        let name = format!("onepark_test_{}_{micros}", std::process::id());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base).await.expect("postgres");
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&admin).await.expect("schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        Some(PgSchema { url, name, admin })
    }

    pub async fn drop(self) {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name)).execute(&self.admin).await.expect("drop");
    }
}
