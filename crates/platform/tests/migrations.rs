//! One migration mechanism (sqlx's migrator): databases made by onepark
//! 0.1's own runner (`schema_migrations`) upgrade in place, data intact.

use onepark_platform::store::{RecordQuery, Store, Table};
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::pg::PgSchema;
use sqlx::Row;

mod common;

const MIGRATIONS: [&str; 5] = [
    include_str!("../migrations/0001_records.sql"),
    include_str!("../migrations/0002_photos_bills_checks.sql"),
    include_str!("../migrations/0003_online_slots.sql"),
    include_str!("../migrations/0004_downlinks.sql"),
    include_str!("../migrations/0005_photo_files.sql"),
];

async fn versions(store: &Store) -> Vec<i64> {
    sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await
        .expect("_sqlx_migrations")
        .iter()
        .map(|r| r.try_get::<i64, _>(0).expect("version"))
        .collect()
}

/// A SQLite file written by the 0.1 binary (one lot's entry, delivered by
/// a 0.1 lot gateway; `tests/fixtures/platform-0.1.db`).
#[tokio::test]
async fn a_sqlite_database_of_version_0_1_upgrades_in_place() {
    let dir = fresh_dir("migrate");
    let file = dir.join("platform.db");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/platform-0.1.db"), &file).expect("fixture");
    let url = format!("sqlite://{}", file.display());
    for _ in 0..2 {
        let store = Store::connect(&url).await.expect("upgrade");
        assert_eq!(versions(&store).await, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        let legacy = sqlx::query("SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'")
            .fetch_one(store.pool())
            .await
            .expect("master");
        assert_eq!(legacy.try_get::<i64, _>(0).expect("count"), 0, "one mechanism left");
        assert_eq!(store.count(Table::Entries, "1001").await.expect("count"), 1);
        let query = RecordQuery { limit: 10, to: "9999".into(), ..Default::default() };
        let rows = store.search(&query).await.expect("search");
        assert_eq!(rows.iter().map(|r| r.plate_no.as_str()).collect::<Vec<_>>(), ["鲁B12345"]);
    }
    let fresh = Store::connect(&format!("sqlite://{}", dir.join("fresh.db").display())).await.expect("fresh");
    assert_eq!(versions(&fresh).await, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// PostgreSQL: the schema as 0.1's runner left it (each file split into
/// statements, one transaction per version, its number in
/// `schema_migrations`), with a row in it.
#[tokio::test]
async fn a_postgres_database_of_version_0_1_upgrades_in_place() {
    let Some(schema) = PgSchema::new("a_postgres_database_of_version_0_1_upgrades_in_place").await else {
        return;
    };
    {
        let pool = sqlx::AnyPool::connect(&schema.url).await.expect("postgres");
        sqlx::query("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY)").execute(&pool).await.expect("t");
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let mut tx = pool.begin().await.expect("begin");
            let text: String =
                sql.lines().map(|l| l.split("--").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
            for statement in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement).execute(&mut *tx).await.expect("0.1 statement");
            }
            sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                .bind(i as i64 + 1)
                .execute(&mut *tx)
                .await
                .expect("version");
            tx.commit().await.expect("commit");
        }
        sqlx::query("INSERT INTO online_slots (parking_code, slot) VALUES ('1001', '2026-12-01 08:00')")
            .execute(&pool)
            .await
            .expect("row");
        pool.close().await;
    }
    for _ in 0..2 {
        let store = Store::connect(&schema.url).await.expect("upgrade");
        assert_eq!(versions(&store).await, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("day");
        assert_eq!(store.online_slots("1001", day).await.expect("slots"), 1, "data intact");
    }
    schema.drop().await;
}

/// A lot description a 0.1 platform kept as Qingdao JSON reads back in the
/// city's terms once the Qingdao link has filled in migration 9's columns.
#[tokio::test]
async fn a_version_0_1_lot_description_is_upgraded_by_its_link() {
    let dir = onepark_testkit::dirs::TempDir::new("migrate-info");
    let file = dir.path().join("platform.db");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/platform-0.1.db"), &file).expect("fixture");
    let store = Store::connect(&format!("sqlite://{}", file.display())).await.expect("upgrade");
    assert_eq!(store.lot_name("1001").await.expect("name"), None, "not in the city's columns yet");
    assert_eq!(onepark_platform::link::qdpark::records::upgrade(&store).await.expect("link upgrade"), 1);
    let name = store.lot_name("1001").await.expect("name").expect("a name");
    let places = store.parking_infos().await.expect("places");
    assert_eq!((places.len(), places[0].longitude.as_deref()), (1, Some("120.3761")));
    assert_eq!(name, "示例停车场");
    assert_eq!(onepark_platform::link::qdpark::records::upgrade(&store).await.expect("again"), 0, "once");
}
