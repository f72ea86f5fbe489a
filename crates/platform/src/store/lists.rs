//! Black/white list entries of each lot (`list_entries`, spec §5.7): the
//! latest version of each, written in one commit with the downlink that
//! carries it to the lot.

use onepark_sql::Flag;
use serde::Serialize;
use sqlx::{AnyConnection, Connection};

use super::downlinks::{DOWNLINKS, insert_downlink, insert_downlinks};
use super::{Downlink, DownlinkState, Store, StoreError};

/// A black/white list entry of one lot (the latest version).
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListEntry {
    pub parking_code: String,
    pub plate_no: String,
    /// 0 black, 1 white
    pub list_kind: i64,
    pub access_id: String,
    pub car_type: i64,
    pub start_time: String,
    pub end_time: String,
    pub remark: Option<String>,
    pub operate_time: String,
    #[sqlx(try_from = "Flag")]
    pub deleted: bool,
    pub request_id: i64,
}

/// An entry with the delivery state of the message carrying it.
#[derive(sqlx::FromRow)]
struct Listed {
    #[sqlx(flatten)]
    entry: ListEntry,
    delivery: Option<DownlinkState>,
}

impl Store {
    /// Stores a list entry's new version and the downlink that carries it,
    /// in one commit: an entry is never changed without its message.
    pub async fn put_list_change(&self, entry: &ListEntry, downlink: &Downlink) -> Result<(), StoreError> {
        let data = (entry.clone(), downlink.clone());
        self.group
            .write(DOWNLINKS, data, |conn, (entry, downlink), _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    upsert_entry(&mut tx, entry).await?;
                    insert_downlink(&mut tx, downlink).await?;
                    tx.commit().await?;
                    Ok(())
                })
            })
            .await
    }

    /// Many lots' list changes with their messages, in one transaction (a
    /// city-wide change: all of it stored, or none), a few multi-row
    /// statements per thousand lots.
    pub async fn put_list_changes(&self, changes: Vec<(ListEntry, Downlink)>) -> Result<(), StoreError> {
        self.group
            .write(DOWNLINKS, changes, |conn, changes, _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    let downlinks: Vec<&Downlink> = changes.iter().map(|(_, d)| d).collect();
                    insert_downlinks(&mut tx, &downlinks).await?;
                    let entries: Vec<&ListEntry> = changes.iter().map(|(e, _)| e).collect();
                    upsert_entries(&mut tx, &entries).await?;
                    tx.commit().await?;
                    Ok(())
                })
            })
            .await
    }

    /// The current version of `plate_no`'s `list_kind` entry at every lot that has one.
    pub async fn list_entries_of(&self, plate_no: &str, list_kind: i64) -> Result<Vec<ListEntry>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT parking_code, plate_no, list_kind, access_id, car_type, start_time, end_time, remark, operate_time, \
             deleted, request_id FROM list_entries WHERE plate_no = $1 AND list_kind = $2",
        )
        .bind(plate_no)
        .bind(list_kind)
        .fetch_all(&self.pool)
        .await?)
    }

    /// List entries (deleted ones included: their deletion is delivered too)
    /// with the delivery state of the message carrying each.
    pub async fn list_entries(
        &self,
        parking_code: Option<&str>,
        plate_no: Option<&str>,
    ) -> Result<Vec<(ListEntry, Option<DownlinkState>)>, StoreError> {
        let rows: Vec<Listed> = sqlx::query_as(
            "SELECT e.parking_code, e.plate_no, e.list_kind, e.access_id, e.car_type, e.start_time, e.end_time, \
             e.remark, e.operate_time, e.deleted, e.request_id, d.state AS delivery FROM list_entries e \
             LEFT JOIN downlinks d ON d.request_id = e.request_id \
             WHERE ($1 = '' OR e.parking_code = $1) AND ($2 = '' OR e.plate_no = $2) \
             ORDER BY e.parking_code, e.plate_no, e.list_kind LIMIT 10000",
        )
        .bind(parking_code.unwrap_or_default())
        .bind(plate_no.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.entry, r.delivery)).collect())
    }

    /// The current version of one list entry.
    pub async fn list_entry(
        &self,
        parking_code: &str,
        plate_no: &str,
        list_kind: i64,
    ) -> Result<Option<ListEntry>, StoreError> {
        let all = self.list_entries(Some(parking_code), Some(plate_no)).await?;
        Ok(all.into_iter().map(|(e, _)| e).find(|e| e.list_kind == list_kind))
    }
}

async fn upsert_entries(conn: &mut AnyConnection, all: &[&ListEntry]) -> Result<(), StoreError> {
    const HEAD: &str = "INSERT INTO list_entries (parking_code, plate_no, list_kind, access_id, car_type, start_time, \
         end_time, remark, operate_time, deleted, request_id) VALUES ";
    const TAIL: &str = " ON CONFLICT (parking_code, plate_no, list_kind) DO UPDATE SET access_id = excluded.access_id, \
         car_type = excluded.car_type, start_time = excluded.start_time, end_time = excluded.end_time, \
         remark = excluded.remark, operate_time = excluded.operate_time, deleted = excluded.deleted, \
         request_id = excluded.request_id";
    super::execute_rows(conn, HEAD, 11, TAIL, all, |query, e| {
        query
            .bind(&e.parking_code)
            .bind(&e.plate_no)
            .bind(e.list_kind)
            .bind(&e.access_id)
            .bind(e.car_type)
            .bind(&e.start_time)
            .bind(&e.end_time)
            .bind(e.remark.clone())
            .bind(&e.operate_time)
            .bind(Flag(e.deleted))
            .bind(e.request_id)
    })
    .await?;
    Ok(())
}

async fn upsert_entry(conn: &mut AnyConnection, e: &ListEntry) -> Result<(), StoreError> {
    upsert_entries(conn, &[e]).await
}
