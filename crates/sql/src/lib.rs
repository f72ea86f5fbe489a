//! What the platform's and the lot's stores share about SQL, so that neither
//! writes it by hand again:
//!
//! - [`Embedded`]: migrations compiled into the binary, as sqlx's migrator
//!   takes them (the `migrate!` macro does the same from a directory, at the
//!   price of reading files at compile time through its own macro crate);
//! - [`Flag`]: a 0/1 integer column read as `bool` on every driver. SQLite
//!   has no boolean type and sqlx's `Any` driver decodes no integer as
//!   `bool`, so the platform's portable schema keeps flags as `BIGINT`;
//! - [`column_enum!`]: a state kept in one column, as text or as an integer,
//!   with its one conversion each way. A value the enum does not know is a
//!   decode error that names the column, never a silent default;
//! - [`released_clean`]: both pools' check that no connection goes back
//!   into use still counted inside a transaction.
//!
//! Row types derive sqlx's `FromRow` (columns by name); a flag field reads
//! `#[sqlx(try_from = "Flag")] deleted: bool`, a state field is just the enum.

use std::borrow::Cow;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType};
use sqlx::{Database, Decode, Encode, Type};

pub use sqlx;

/// Migrations as (version, description, SQL), in order; applied ones are
/// never edited (the migrator refuses a changed checksum).
pub type Migrations = &'static [(i64, &'static str, &'static str)];

/// The embedded migrations of one schema, for `sqlx::migrate::Migrator::new`.
#[derive(Clone, Copy, Debug)]
pub struct Embedded(pub Migrations);

/// What `MigrationSource::resolve` returns (sqlx's `BoxFuture`).
type Resolved = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Migration>, BoxDynError>> + Send>>;

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

/// What a pool's `after_release` check returns (sqlx's `BoxFuture`).
type Released<'c> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, sqlx::Error>> + Send + 'c>>;

/// A pool's `after_release` check (`PoolOptions::after_release(released_clean)`):
/// a connection that comes back still counted inside a transaction is closed,
/// not handed to the next user.
///
/// sqlx counts a connection's transaction depth itself and lowers it only
/// when a COMMIT or ROLLBACK succeeds. SQLite may end a transaction on its
/// own (a full disk, an I/O error): the rollback that follows then fails,
/// the count stays at 1, and the next `begin` on that connection issues a
/// SAVEPOINT. Its rollback (`ROLLBACK TO`) leaves a transaction open that
/// nothing will commit: later reads there see a frozen snapshot and later
/// writes are never durable. Found with a full disk under the platform
/// (crates/cli/tests/faults.rs).
pub fn released_clean<C: sqlx::Connection>(conn: &mut C, _: sqlx::pool::PoolConnectionMetadata) -> Released<'_> {
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        // A dropped transaction's rollback may still be queued (SQLite's
        // worker thread): a round trip runs it first.
        conn.ping().await?;
        Ok(!conn.is_in_transaction())
    })
}

/// A flag column (0 or 1; `Flag<Option<bool>>` for a nullable one). Any
/// other stored value is a decode error: it is not ours to guess.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag<T = bool>(pub T);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl From<Flag<Option<bool>>> for Option<bool> {
    fn from(flag: Flag<Option<bool>>) -> Option<bool> {
        flag.0
    }
}

fn flag(value: i64) -> Result<bool, BoxDynError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(format!("a flag column holds {other}, expected 0 or 1").into()),
    }
}

impl<T, DB: Database> Type<DB> for Flag<T>
where
    i64: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Flag
where
    i64: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Flag(flag(<i64 as Decode<DB>>::decode(value)?)?))
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Flag<Option<bool>>
where
    Option<i64>: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Flag(<Option<i64> as Decode<DB>>::decode(value)?.map(flag).transpose()?))
    }
}

impl<'q, DB: Database> Encode<'q, DB> for Flag
where
    i64: Encode<'q, DB>,
{
    fn encode_by_ref(&self, buf: &mut <DB as Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<DB>>::encode(i64::from(self.0), buf)
    }
}

/// Declares an enum kept in one column, with its one conversion each way.
///
/// ```
/// onepark_sql::column_enum! {
///     /// Where a message is.
///     #[derive(Clone, Copy, Debug, PartialEq, Eq)]
///     pub enum State in "messages.state" as text {
///         Queued = "queued",
///         Sent = "sent",
///     }
/// }
/// assert_eq!(State::parse("sent"), Some(State::Sent));
/// assert_eq!(State::Queued.as_str(), "queued");
///
/// onepark_sql::column_enum! {
///     #[derive(Clone, Copy, Debug, PartialEq, Eq)]
///     pub enum Standing in "outbox.dead" as integer {
///         InLine = 0,
///         SetAside = 1,
///     }
/// }
/// assert_eq!(Standing::from_code(1), Some(Standing::SetAside));
/// assert_eq!(Standing::InLine.code(), 0);
/// ```
///
/// The enum (which must be `Copy`) implements sqlx's `Type`, `Encode` and
/// `Decode` for every database that stores `String` (or `i64`), so it binds
/// and reads as itself; decoding a value it does not list fails with the
/// column's name.
#[macro_export]
macro_rules! column_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident in $column:literal as $stored:ident {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }
        $crate::column_enum!(@$stored $name, $column, $($variant = $value),+);
    };
    (@text $name:ident, $column:literal, $($variant:ident = $value:literal),+) => {
        impl $name {
            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($value => Some($name::$variant),)+ _ => None }
            }
        }
        $crate::column_enum!(@column $name, $column, String, |v: $name| v.as_str().to_owned(), |raw: &String| $name::parse(raw));
    };
    (@integer $name:ident, $column:literal, $($variant:ident = $value:literal),+) => {
        impl $name {
            /// The stored integer.
            pub fn code(self) -> i64 {
                match self { $($name::$variant => $value),+ }
            }

            pub fn from_code(code: i64) -> Option<$name> {
                match code { $($value => Some($name::$variant),)+ _ => None }
            }
        }
        $crate::column_enum!(@column $name, $column, i64, |v: $name| v.code(), |raw: &i64| $name::from_code(*raw));
    };
    // sqlx's traits through the stored type, for every database that has it.
    (@column $name:ident, $column:literal, $stored:ty, $to:expr, $from:expr) => {
        impl<DB: $crate::sqlx::Database> $crate::sqlx::Type<DB> for $name
        where
            $stored: $crate::sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <$stored as $crate::sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <$stored as $crate::sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: $crate::sqlx::Database> $crate::sqlx::Encode<'q, DB> for $name
        where
            $stored: $crate::sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as $crate::sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<$crate::sqlx::encode::IsNull, $crate::sqlx::error::BoxDynError> {
                <$stored as $crate::sqlx::Encode<'q, DB>>::encode(($to)(*self), buf)
            }
        }

        impl<'r, DB: $crate::sqlx::Database> $crate::sqlx::Decode<'r, DB> for $name
        where
            $stored: $crate::sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as $crate::sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, $crate::sqlx::error::BoxDynError> {
                let raw = <$stored as $crate::sqlx::Decode<'r, DB>>::decode(value)?;
                ($from)(&raw).ok_or_else(|| format!("{} holds {raw:?}, which is no known value", $column).into())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    /// SQLite ends a transaction itself (here a trigger's `RAISE(ROLLBACK)`,
    /// in production a full disk): the pool must not hand that connection
    /// on with sqlx still counting a transaction, or a later write through
    /// it is never committed.
    #[tokio::test]
    async fn a_connection_whose_transaction_sqlite_ended_is_not_reused() {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        use sqlx::{ConnectOptions, Connection};
        let path = std::env::temp_dir().join(format!("onepark-sql-release-{}.db", std::process::id()));
        let options = SqliteConnectOptions::new().filename(&path).create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .after_release(released_clean)
            .connect_with(options.clone())
            .await
            .expect("pool");
        sqlx::raw_sql(
            "CREATE TABLE doomed (x INTEGER); CREATE TABLE kept (x INTEGER); \
             CREATE TRIGGER no BEFORE INSERT ON doomed BEGIN SELECT RAISE(ROLLBACK, 'no'); END;",
        )
        .execute(&pool)
        .await
        .expect("schema");
        {
            let mut tx = pool.begin().await.expect("begin");
            let ended = sqlx::query("INSERT INTO doomed VALUES (1)").execute(&mut *tx).await;
            assert!(ended.is_err(), "the trigger ends the transaction");
        }
        {
            // A transaction that rolls back (an error on its way).
            let mut tx = pool.begin().await.expect("begin again");
            sqlx::query("INSERT INTO kept VALUES (1)").execute(&mut *tx).await.expect("insert");
        }
        sqlx::query("INSERT INTO kept VALUES (2)").execute(&pool).await.expect("a plain write");
        let mut other = options.connect().await.expect("another connection");
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kept").fetch_one(&mut other).await.expect("count");
        other.close().await.expect("close");
        pool.close().await;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        assert_eq!(seen, 1, "the plain write is committed and only it");
    }

    column_enum! {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Light in "lights.colour" as text { Red = "red", Green = "green" }
    }

    column_enum! {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Level in "lights.level" as integer { Low = 0, High = 2 }
    }

    #[derive(sqlx::FromRow, Debug, PartialEq)]
    struct Lamp {
        colour: Light,
        level: Level,
        #[sqlx(try_from = "Flag")]
        lit: bool,
        #[sqlx(try_from = "Flag<Option<bool>>")]
        tested: Option<bool>,
    }

    #[tokio::test]
    async fn columns_round_trip_and_unknown_values_name_their_column() {
        // Through `Any` (the platform), where integers never decode as `bool`, then SQLite (the lot).
        sqlx::any::install_default_drivers();
        let mut any = <sqlx::AnyConnection as sqlx::Connection>::connect("sqlite::memory:").await.expect("any");
        sqlx::query(
            "CREATE TABLE lights (colour TEXT NOT NULL, level BIGINT NOT NULL, lit BIGINT NOT NULL, tested BIGINT)",
        )
        .execute(&mut any)
        .await
        .expect("table");
        sqlx::query("INSERT INTO lights VALUES ($1, $2, $3, $4), ($5, $6, $7, NULL)")
            .bind(Light::Green)
            .bind(Level::High)
            .bind(Flag(true))
            .bind(1_i64)
            .bind(Light::Red)
            .bind(Level::Low)
            .bind(Flag(false))
            .execute(&mut any)
            .await
            .expect("insert");
        let lamps: Vec<Lamp> = sqlx::query_as("SELECT colour, level, lit, tested FROM lights ORDER BY colour")
            .fetch_all(&mut any)
            .await
            .expect("read");
        assert_eq!(
            lamps,
            [
                Lamp { colour: Light::Green, level: Level::High, lit: true, tested: Some(true) },
                Lamp { colour: Light::Red, level: Level::Low, lit: false, tested: None },
            ]
        );
        let filtered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM lights WHERE colour = $1 AND level = $2")
            .bind(Light::Red)
            .bind(Level::Low)
            .fetch_one(&mut any)
            .await
            .expect("count");
        assert_eq!(filtered, 1);

        for (sql, column) in [
            ("UPDATE lights SET colour = 'blue'", "lights.colour"),
            ("UPDATE lights SET colour = 'red', level = 1", "lights.level"),
            ("UPDATE lights SET level = 0, lit = 7", "a flag column holds 7"),
        ] {
            sqlx::query(sql).execute(&mut any).await.expect("update");
            let err = sqlx::query_as::<_, Lamp>("SELECT colour, level, lit, tested FROM lights")
                .fetch_one(&mut any)
                .await
                .expect_err("unknown value");
            assert!(err.to_string().contains(column), "{err}");
        }

        let mut sqlite =
            <sqlx::SqliteConnection as sqlx::Connection>::connect("sqlite::memory:").await.expect("sqlite");
        let row = sqlx::query("SELECT ? AS colour, ? AS level")
            .bind(Light::Red)
            .bind(Level::High)
            .fetch_one(&mut sqlite)
            .await
            .expect("sqlite");
        assert_eq!(row.try_get::<Light, _>("colour").expect("colour"), Light::Red);
        assert_eq!(row.try_get::<Level, _>("level").expect("level"), Level::High);
    }
}
