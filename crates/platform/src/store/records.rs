//! Parking records: entries (`entries`), their modifications and deletions
//! (`entry_changes`, kept as history) and exits (`exits`); the record search
//! and the data-quality figures read from them.

use chrono::{NaiveDate, NaiveDateTime};
use onepark_domain::record::{Entry, EntryChange, Exit, LotRef};
use onepark_domain::time::{format_time, parse_time};
use onepark_sql::Flag;
use serde::Serialize;
use sqlx::{AnyConnection, Connection};

use super::{Put, Shared, Store, StoreError, already_stored, day_range, insert_once, multi_row_insert, row_chunks};

/// Counted tables, for reports and tests.
#[derive(Clone, Copy, Debug)]
pub enum Table {
    Entries,
    Exits,
    ExitsWithoutEntry,
    BerthStates,
}

/// Filters of a record search; empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct RecordQuery {
    pub parking_code: String,
    pub plate_no: String,
    pub from: String,
    pub to: String,
    pub limit: i64,
    pub offset: i64,
}

/// A parking record: an entry with its exit, if any.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordRow {
    pub parking_code: String,
    pub uid: String,
    pub plate_no: String,
    pub plate_color: i64,
    pub arrive_time: String,
    pub end_time: Option<String>,
    pub should_pay: Option<i64>,
    #[sqlx(try_from = "Flag")]
    pub deleted: bool,
    #[sqlx(try_from = "Flag")]
    pub plate_valid: bool,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    /// Entries and exits of the day.
    pub records: i64,
    /// Received more than 5 s after the event (spec §三(二)).
    pub late: i64,
    pub invalid_plates: i64,
    pub exits_without_entry: i64,
    /// Entries without exit that arrived before the configured cut-off.
    pub entries_open_too_long: i64,
}

/// What data quality reads of one entry or exit.
#[derive(sqlx::FromRow)]
struct Timeliness {
    /// The arrival (entries) or exit (exits) time.
    event_time: String,
    received_at: String,
    #[sqlx(try_from = "Flag")]
    plate_valid: bool,
    #[sqlx(try_from = "Flag")]
    without_entry: bool,
}

/// The latest change of an entry, for idempotency.
#[derive(sqlx::FromRow)]
struct LastChange {
    content: String,
    change_no: i64,
}

impl Store {
    /// Stores an entry; an identical re-upload is a [`Put::Duplicate`].
    ///
    /// `watch`: the plate (as the city keys it) whose news — a sign-up or
    /// open arrears — the lot should hear of if this entry is new; asked in
    /// the same batch, one statement for all its entries, instead of two
    /// reads per entry after it.
    pub async fn put_entry(
        &self,
        lot: &LotRef,
        m: &Entry,
        now: &str,
        watch: Option<&str>,
    ) -> Result<EntryPut, StoreError> {
        let data = EntryRow {
            entry: m.clone(),
            access_id: lot.access_id.clone(),
            now: now.to_owned(),
            watch: watch.map(str::to_owned),
        };
        self.group
            .write_bulk(&m.parking_code, data, |conn, rows, shared| Box::pin(put_entries(conn, rows, shared)))
            .await
    }

    /// Applies a modification or deletion and keeps it as history.
    pub async fn modify_entry(&self, m: &EntryChange, now: &str) -> Result<Put, StoreError> {
        let data = (m.clone(), now.to_owned());
        self.group
            .write(&m.entry.parking_code, data, |conn, (m, now), shared| Box::pin(modify_entry(conn, m, now, shared)))
            .await
    }

    /// Stores an exit; an exit without a known entry is stored and flagged.
    pub async fn put_exit(&self, lot: &LotRef, m: &Exit, now: &str) -> Result<Put, StoreError> {
        let data = (m.clone(), lot.access_id.clone(), now.to_owned());
        self.group
            .write(&m.parking_code, data, move |conn, (m, access_id, now), shared| {
                Box::pin(put_exit(conn, access_id, m, now, shared))
            })
            .await
    }

    /// A lot's entry of `plate` at `at` ends the plate's older open stays
    /// there, free (as Bolink's cloud does: a car cannot be inside twice).
    /// Each gets an exit whose content is `settled:{by_uid}`, which the lot's
    /// own exit of that stay later replaces. The number settled.
    pub async fn settle_open_stays(
        &self,
        lot: &LotRef,
        parking_code: &str,
        plate: &str,
        at: NaiveDateTime,
        by_uid: &str,
        now: &str,
    ) -> Result<u64, StoreError> {
        let open: Vec<(String, String)> = sqlx::query_as(
            "SELECT e.uid, e.arrive_time FROM entries e WHERE e.parking_code = $1 AND e.plate_no = $2 \
             AND e.deleted = 0 AND e.uid <> $3 AND e.arrive_time < $4 \
             AND NOT EXISTS (SELECT 1 FROM exits x WHERE x.parking_code = e.parking_code AND x.uid = e.uid)",
        )
        .bind(parking_code)
        .bind(plate)
        .bind(by_uid)
        .bind(format_time(at))
        .fetch_all(&self.pool)
        .await?;
        let mut settled = 0;
        for (uid, arrive) in open {
            let Ok(arrive_time) = parse_time(&arrive) else { continue };
            let exit = Exit {
                parking_code: parking_code.to_owned(),
                uid: uid.clone(),
                exit_id: format!("settled-{by_uid}"),
                plate_no: plate.to_owned(),
                arrive_time,
                end_time: at,
                charge_fee: 0,
                should_pay: 0,
                upload_time: at,
                berths: Default::default(),
                plate_valid: true,
                content: format!("settled:{by_uid}"),
            };
            let data = (exit, lot.access_id.clone(), now.to_owned());
            let put = self
                .group
                .write(parking_code, data, move |conn, (m, access_id, now), shared| {
                    Box::pin(async move { put_exit(conn, access_id, m, now, shared).await })
                })
                .await;
            match put {
                Ok(Put::Inserted) => settled += 1,
                // The lot's exit came meanwhile: it stands.
                Ok(Put::Duplicate) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(settled)
    }

    /// The plates a lot reported for one stay (its entry, unless deleted, and
    /// its exit): a lot's money reports about a stay must name one of them.
    pub async fn stay_plates(&self, parking_code: &str, uid: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT plate_no FROM entries WHERE parking_code = $1 AND uid = $2 AND deleted = 0 \
             UNION ALL SELECT plate_no FROM exits WHERE parking_code = $1 AND uid = $2",
        )
        .bind(parking_code)
        .bind(uid)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A stay the lot reported an entry of and no exit yet: (plate, arriveTime).
    pub async fn open_stay(&self, parking_code: &str, uid: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT e.plate_no, e.arrive_time FROM entries e WHERE e.parking_code = $1 AND e.uid = $2 AND e.deleted = 0 \
             AND NOT EXISTS (SELECT 1 FROM exits x WHERE x.parking_code = e.parking_code AND x.uid = e.uid)",
        )
        .bind(parking_code)
        .bind(uid)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A lot's stays the city holds open (an entry, no exit): how many, and
    /// a page of them oldest first: (uid, plate, arriveTime, entry lane).
    pub async fn open_stays(
        &self,
        parking_code: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<(String, String, String, String)>), StoreError> {
        let open = "FROM entries e WHERE e.parking_code = $1 AND e.deleted = 0 AND NOT EXISTS \
             (SELECT 1 FROM exits x WHERE x.parking_code = e.parking_code AND x.uid = e.uid)";
        let count: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) {open}")).bind(parking_code).fetch_one(&self.pool).await?;
        if limit == 0 {
            return Ok((count, Vec::new()));
        }
        let page = sqlx::query_as(&format!(
            "SELECT e.uid, e.plate_no, e.arrive_time, e.entry_num {open} ORDER BY e.arrive_time, e.uid LIMIT $2 OFFSET $3"
        ))
        .bind(parking_code)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((count, page))
    }

    /// A plate's latest stay at a lot: (arriveTime, endTime once it left).
    pub async fn last_stay(
        &self,
        parking_code: &str,
        plate_no: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT e.arrive_time, x.end_time FROM entries e LEFT JOIN exits x ON x.parking_code = e.parking_code \
             AND x.uid = e.uid WHERE e.plate_no = $2 AND e.parking_code = $1 AND e.deleted = 0 \
             ORDER BY e.arrive_time DESC LIMIT 1",
        )
        .bind(parking_code)
        .bind(plate_no)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Parking records (entries with their exit, if any), newest first.
    pub async fn search(&self, q: &RecordQuery) -> Result<Vec<RecordRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT e.parking_code, e.uid, e.plate_no, e.plate_color, e.arrive_time, x.end_time, x.should_pay, \
             e.deleted, e.plate_valid FROM entries e LEFT JOIN exits x ON x.parking_code = e.parking_code AND x.uid = e.uid \
             WHERE ($1 = '' OR e.parking_code = $1) AND ($2 = '' OR e.plate_no = $2) \
             AND e.arrive_time >= $3 AND e.arrive_time < $4 \
             ORDER BY e.arrive_time DESC, e.uid LIMIT $5 OFFSET $6",
        )
        .bind(&q.parking_code)
        .bind(&q.plate_no)
        .bind(&q.from)
        .bind(&q.to)
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Data quality of one lot and day. Late = received more than 5 s after
    /// the event it reports (entry time, exit time).
    pub async fn quality(&self, parking_code: &str, date: NaiveDate, open_before: &str) -> Result<Quality, StoreError> {
        let (from, to) = day_range(date);
        let mut q = Quality::default();
        for sql in [
            "SELECT arrive_time AS event_time, received_at, plate_valid, 0 AS without_entry FROM entries \
             WHERE parking_code = $1 AND arrive_time >= $2 AND arrive_time < $3",
            "SELECT end_time AS event_time, received_at, plate_valid, without_entry FROM exits \
             WHERE parking_code = $1 AND end_time >= $2 AND end_time < $3",
        ] {
            let rows: Vec<Timeliness> =
                sqlx::query_as(sql).bind(parking_code).bind(&from).bind(&to).fetch_all(&self.pool).await?;
            for r in &rows {
                let late = match (parse_time(&r.event_time), parse_time(&r.received_at)) {
                    (Ok(e), Ok(rcv)) => (rcv - e).num_seconds() > 5,
                    _ => false,
                };
                q.records += 1;
                q.late += i64::from(late);
                q.invalid_plates += i64::from(!r.plate_valid);
                q.exits_without_entry += i64::from(r.without_entry);
            }
        }
        q.entries_open_too_long = sqlx::query_scalar(
            "SELECT COUNT(*) FROM entries e WHERE e.parking_code = $1 AND e.deleted = 0 AND e.arrive_time < $2 \
             AND NOT EXISTS (SELECT 1 FROM exits x WHERE x.parking_code = e.parking_code AND x.uid = e.uid)",
        )
        .bind(parking_code)
        .bind(open_before)
        .fetch_one(&self.pool)
        .await?;
        Ok(q)
    }

    /// Counts a lot's rows in one table (reports and tests).
    pub async fn count(&self, table: Table, parking_code: &str) -> Result<i64, StoreError> {
        let sql = match table {
            Table::Entries => "SELECT COUNT(*) FROM entries WHERE parking_code = $1 AND deleted = 0",
            Table::Exits => "SELECT COUNT(*) FROM exits WHERE parking_code = $1",
            Table::ExitsWithoutEntry => "SELECT COUNT(*) FROM exits WHERE parking_code = $1 AND without_entry = 1",
            Table::BerthStates => "SELECT COUNT(*) FROM berth_states WHERE parking_code = $1",
        };
        Ok(sqlx::query_scalar(sql).bind(parking_code).fetch_one(&self.pool).await?)
    }
}

// The writes behind the `Store` methods of the same names. Each runs inside a
// group-commit batch, where its `conn.begin()` is a savepoint.

/// An entry waiting in a batch.
struct EntryRow {
    entry: Entry,
    access_id: String,
    /// Received at.
    now: String,
    watch: Option<String>,
}

/// What storing an entry did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPut {
    pub put: Put,
    /// The entry is new and its watched plate has a sign-up or open arrears.
    pub news: bool,
}

/// Entries in multi-row inserts of at most [`ROWS`] rows (a few distinct
/// statement texts, so each stays prepared); an entry whose key exists is
/// a duplicate when its content is the same, else a conflict. The first of
/// two entries with one key in a batch is the one inserted.
async fn put_entries(
    conn: &mut AnyConnection,
    rows: &[&EntryRow],
    shared: &mut Shared,
) -> Result<Vec<Result<EntryPut, StoreError>>, StoreError> {
    const COLUMNS: usize = 14;
    // Inserted (parkingCode, uid) → (stored plate, whether that plate has news).
    let mut inserted = std::collections::HashMap::new();
    for chunk in row_chunks(rows.len()) {
        let n = chunk.len();
        let chunk = &rows[chunk];
        // The plate's news comes back with the row: no statement of its own.
        let sql = multi_row_insert(
            conn,
            "INSERT INTO entries (parking_code, uid, access_id, arrival_id, plate_no, plate_color, car_type, \
             parking_type, entry_num, arrive_time, upload_time, received_at, plate_valid, content) VALUES ",
            COLUMNS,
            n,
            " ON CONFLICT DO NOTHING RETURNING parking_code, uid, plate_no, CAST(CASE WHEN \
             EXISTS (SELECT 1 FROM signups s WHERE s.plate_no = entries.plate_no) OR \
             EXISTS (SELECT 1 FROM arrears a WHERE a.plate_no = entries.plate_no AND a.state = 'open') \
             THEN 1 ELSE 0 END AS BIGINT)",
        );
        let mut insert = sqlx::query_as::<_, (String, String, String, i64)>(&sql);
        for EntryRow { entry: m, access_id, now, .. } in chunk {
            insert = insert
                .bind(&m.parking_code)
                .bind(&m.uid)
                .bind(access_id)
                .bind(&m.arrival_id)
                .bind(&m.plate_no)
                .bind(m.plate_color)
                .bind(m.car_type)
                .bind(m.parking_type)
                .bind(&m.entry_num)
                .bind(format_time(m.arrive_time))
                .bind(format_time(m.upload_time))
                .bind(now)
                .bind(Flag(m.plate_valid))
                .bind(&m.content);
        }
        for (code, uid, plate, news) in insert.fetch_all(&mut *conn).await? {
            inserted.insert((code, uid), (plate, news != 0));
        }
    }
    // A watched plate written differently from the stored one (`鲁b…` sent,
    // `鲁B…` watched) is asked about on its own.
    let respelled = rows.iter().filter_map(|r| {
        let (stored, _) = inserted.get(&(r.entry.parking_code.clone(), r.entry.uid.clone()))?;
        r.watch.as_deref().filter(|w| w != stored)
    });
    let respelled_news = plates_with_news(conn, respelled).await?;
    let mut results = Vec::with_capacity(rows.len());
    for EntryRow { entry: m, access_id, now, watch } in rows {
        // Taken out once answered: a second entry of the same key in this batch is not "inserted".
        if let Some((stored, news)) = inserted.remove(&(m.parking_code.clone(), m.uid.clone())) {
            let arrive_time = format_time(m.arrive_time);
            shared.berths(&m.parking_code, access_id, &arrive_time, now, m.berths.counts());
            shared.count(&m.parking_code, &arrive_time, now, [1, 0, 0]);
            let news = match watch {
                None => false,
                Some(w) if *w == stored => news,
                Some(w) => respelled_news.contains(w),
            };
            results.push(Ok(EntryPut { put: Put::Inserted, news }));
            continue;
        }
        let put = already_stored(conn, ("entries", "uid"), &m.parking_code, &m.uid, &m.content).await;
        results.push(put.map(|put| EntryPut { put, news: false }));
    }
    Ok(results)
}

/// Of `plates`, those with a sign-up or open arrears.
async fn plates_with_news<'p>(
    conn: &mut AnyConnection,
    plates: impl Iterator<Item = &'p str>,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut plates: Vec<&str> = plates.collect();
    plates.sort_unstable();
    plates.dedup();
    let mut news = std::collections::HashSet::new();
    for chunk in row_chunks(plates.len()) {
        let list = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT plate_no FROM signups WHERE plate_no IN ({list}) \
             UNION SELECT plate_no FROM arrears WHERE plate_no IN ({list}) AND state = 'open'"
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for plate in &plates[chunk] {
            query = query.bind(*plate);
        }
        news.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(news)
}

async fn modify_entry(
    conn: &mut AnyConnection,
    change: &EntryChange,
    now: &str,
    shared: &mut Shared,
) -> Result<Put, StoreError> {
    let m = &change.entry;
    let content = &m.content;
    let mut tx = conn.begin().await?;
    let last: Option<LastChange> = sqlx::query_as(
        "SELECT content, change_no FROM entry_changes WHERE parking_code = $1 AND uid = $2 \
         ORDER BY change_no DESC LIMIT 1",
    )
    .bind(&m.parking_code)
    .bind(&m.uid)
    .fetch_optional(&mut *tx)
    .await?;
    let change_no = match last {
        Some(last) if &last.content == content => return Ok(Put::Duplicate),
        Some(last) => last.change_no + 1,
        None => 1,
    };
    let deleted = change.deleted;
    let arrive_time = format_time(m.arrive_time);
    // The day counts follow the entry: out of its old day, into its new one.
    let before: Option<(String, i64)> =
        sqlx::query_as("SELECT arrive_time, deleted FROM entries WHERE parking_code = $1 AND uid = $2")
            .bind(&m.parking_code)
            .bind(&m.uid)
            .fetch_optional(&mut *tx)
            .await?;
    let updated = sqlx::query(
        "UPDATE entries SET arrival_id = $3, plate_no = $4, plate_color = $5, car_type = $6, parking_type = $7, \
         entry_num = $8, arrive_time = $9, upload_time = $10, deleted = $11 WHERE parking_code = $1 AND uid = $2",
    )
    .bind(&m.parking_code)
    .bind(&m.uid)
    .bind(&m.arrival_id)
    .bind(&m.plate_no)
    .bind(m.plate_color)
    .bind(m.car_type)
    .bind(m.parking_type)
    .bind(&m.entry_num)
    .bind(&arrive_time)
    .bind(format_time(m.upload_time))
    .bind(Flag(deleted))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(StoreError::NoEntry { parking_code: m.parking_code.clone(), uid: m.uid.clone() });
    }
    sqlx::query(
        "INSERT INTO entry_changes (parking_code, uid, change_no, operate_type, received_at, content) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&m.parking_code)
    .bind(&m.uid)
    .bind(change_no)
    // The city's operation codes: 0 modified, 1 deleted.
    .bind(i64::from(deleted))
    .bind(now)
    .bind(content)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if let Some((arrived, was_deleted)) = before {
        if was_deleted == 0 {
            shared.count(&m.parking_code, &arrived, now, [-1, 0, 0]);
        }
        if !deleted {
            shared.count(&m.parking_code, &arrive_time, now, [1, 0, 0]);
        }
    }
    Ok(Put::Inserted)
}

async fn put_exit(
    conn: &mut AnyConnection,
    access_id: &str,
    m: &Exit,
    now: &str,
    shared: &mut Shared,
) -> Result<Put, StoreError> {
    let content = &m.content;
    let end_time = format_time(m.end_time);
    // The lookup too runs in the write's savepoint: on PostgreSQL a failing statement outside one would
    // abort the whole group-commit batch.
    let mut tx = conn.begin().await?;
    let entry: Option<String> =
        sqlx::query_scalar("SELECT uid FROM entries WHERE parking_code = $1 AND uid = $2 AND deleted = 0")
            .bind(&m.parking_code)
            .bind(&m.uid)
            .fetch_optional(&mut *tx)
            .await?;
    let sql = "INSERT INTO exits (parking_code, uid, access_id, exit_id, plate_no, arrive_time, end_time, \
         charge_fee, should_pay, upload_time, received_at, plate_valid, without_entry, content) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    let insert = |sql| {
        sqlx::query(sql)
            .bind(&m.parking_code)
            .bind(&m.uid)
            .bind(access_id)
            .bind(&m.exit_id)
            .bind(&m.plate_no)
            .bind(format_time(m.arrive_time))
            .bind(end_time.clone())
            .bind(m.charge_fee)
            .bind(m.should_pay)
            .bind(format_time(m.upload_time))
            .bind(now)
            .bind(Flag(m.plate_valid))
            .bind(Flag(entry.is_none()))
            .bind(content)
    };
    let once = format!("{sql} ON CONFLICT DO NOTHING");
    let put = match insert_once(&mut tx, insert(&once), ("exits", "uid"), &m.parking_code, &m.uid, content).await {
        // An exit the city inferred (a later entry of the plate settled the
        // stay) gives way to the lot's own: it is replaced, counted once.
        Err(StoreError::Conflict { .. }) => {
            let gone =
                sqlx::query("DELETE FROM exits WHERE parking_code = $1 AND uid = $2 AND content LIKE 'settled:%'")
                    .bind(&m.parking_code)
                    .bind(&m.uid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if gone == 0 {
                return Err(StoreError::Conflict { parking_code: m.parking_code.clone(), key: m.uid.clone() });
            }
            insert(sql).execute(&mut *tx).await?;
            tx.commit().await?;
            shared.berths(&m.parking_code, access_id, &end_time, now, m.berths.counts());
            return Ok(Put::Inserted);
        }
        other => other?,
    };
    tx.commit().await?;
    if put == Put::Inserted {
        // A settlement (`settle_open_stays`) says nothing of the lot's berths.
        if !m.content.starts_with("settled:") {
            shared.berths(&m.parking_code, access_id, &end_time, now, m.berths.counts());
        }
        shared.count(&m.parking_code, &end_time, now, [0, 1, i64::from(entry.is_none())]);
    }
    Ok(put)
}

/// Where a stay is, for the history's filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StayState {
    #[default]
    All,
    Inside,
    Left,
}

/// The history's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StaySort {
    #[default]
    Newest,
    Oldest,
    /// The highest fee first.
    Fee,
}

/// A search of the records' history; empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct StayQuery {
    /// The lots a scoped reader may see (`None`: all).
    pub lots: Option<Vec<String>>,
    pub parking_code: String,
    /// A part of the plate as typed: matched with confusable characters
    /// folded (`B55298` finds `鲁855298` too).
    pub plate_part: String,
    /// Entered at or after / before (yyyy-MM-dd HH:mm:ss).
    pub from: String,
    pub to: String,
    pub state: StayState,
    pub sort: StaySort,
    /// Newest order only: the rows after this (arrive_time, parking_code, uid), for exports.
    pub after: Option<(String, String, String)>,
    pub limit: i64,
    pub offset: i64,
}

/// A stay of the history, with its lot's name.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Stay {
    pub parking_code: String,
    pub lot_name: Option<String>,
    pub uid: String,
    pub plate_no: String,
    pub plate_color: i64,
    pub arrive_time: String,
    pub end_time: Option<String>,
    pub should_pay: Option<i64>,
    #[sqlx(try_from = "Flag")]
    pub deleted: bool,
}

/// `column` with the confusable characters folded as
/// [`onepark_domain::plate::fold_confusable`] folds them, in SQL both
/// backends run (nested `REPLACE`).
fn folded(column: &str) -> String {
    let mut sql = format!("UPPER({column})");
    for group in onepark_domain::plate::CONFUSABLE {
        for c in &group[1..] {
            sql = format!("REPLACE({sql}, '{c}', '{}')", group[0]);
        }
    }
    sql
}

impl Store {
    /// The records' history: stays (entries with their exit, if any) by the
    /// filters, in the order asked.
    pub async fn stays(&self, q: &StayQuery) -> Result<Vec<Stay>, StoreError> {
        let mut sql = String::from(
            "SELECT e.parking_code, p.name AS lot_name, e.uid, e.plate_no, e.plate_color, e.arrive_time, x.end_time, \
             x.should_pay, e.deleted FROM entries e \
             LEFT JOIN exits x ON x.parking_code = e.parking_code AND x.uid = e.uid \
             LEFT JOIN parking_info p ON p.parking_code = e.parking_code \
             WHERE ($1 = '' OR e.parking_code = $1) AND ($2 = '' OR e.arrive_time >= $2) AND ($3 = '' OR e.arrive_time < $3)",
        );
        if !q.plate_part.is_empty() {
            sql.push_str(&format!(" AND {} LIKE $4", folded("e.plate_no")));
        } else {
            sql.push_str(" AND $4 = '%'");
        }
        match q.state {
            StayState::All => {}
            StayState::Inside => sql.push_str(" AND x.uid IS NULL AND e.deleted = 0"),
            StayState::Left => sql.push_str(" AND x.uid IS NOT NULL"),
        }
        let mut n = 6;
        if let Some(lots) = &q.lots {
            sql.push_str(&format!(" AND e.parking_code IN ({})", super::accounts::placeholders(n, lots.len())));
            n += lots.len();
        }
        if q.after.is_some() {
            sql.push_str(&format!(" AND (e.arrive_time, e.parking_code, e.uid) < (${n}, ${}, ${})", n + 1, n + 2));
        }
        sql.push_str(match q.sort {
            StaySort::Newest => " ORDER BY e.arrive_time DESC, e.parking_code DESC, e.uid DESC",
            StaySort::Oldest => " ORDER BY e.arrive_time, e.parking_code, e.uid",
            StaySort::Fee => " ORDER BY COALESCE(x.should_pay, -1) DESC, e.arrive_time DESC, e.uid",
        });
        sql.push_str(&format!(" LIMIT $5 OFFSET {}", q.offset.max(0)));
        let pattern = format!(
            "%{}%",
            onepark_domain::plate::fold_confusable(&q.plate_part).replace('\\', "").replace(['%', '_'], "")
        );
        let mut query = sqlx::query_as(&sql)
            .bind(&q.parking_code)
            .bind(&q.from)
            .bind(&q.to)
            .bind(if q.plate_part.is_empty() { "%".to_owned() } else { pattern })
            .bind(q.limit);
        for lot in q.lots.iter().flatten() {
            query = query.bind(lot);
        }
        if let Some((at, code, uid)) = &q.after {
            query = query.bind(at).bind(code).bind(uid);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}
