//! Month cards (`month_cards`, and `month_card_plates`: several plates per
//! card, each on one card only).

use super::{Store, StoreError};

fn card_plates() -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(crate::schema::real_plate())
        .min_items(Some(1))
        .description(Some("at least one real plate (normalised), none on another card (409)"))
}

fn card_time() -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(onepark_domain::time::TIME_PATTERN))
        .description(Some("yyyy-MM-dd HH:mm:ss"))
}

/// A month card with its plates.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthCard {
    /// 1–64 visible ASCII characters; a card with this id is replaced.
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub id: String,
    /// At most 50 characters, no control characters.
    #[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", max_length = 50)]
    pub owner: String,
    /// At least one, none blank.
    #[schema(schema_with = card_plates)]
    pub plates: Vec<String>,
    /// yyyy-MM-dd HH:mm:ss
    #[schema(schema_with = card_time)]
    pub start_time: String,
    /// yyyy-MM-dd HH:mm:ss, not before startTime.
    #[schema(schema_with = card_time)]
    pub end_time: String,
    /// Lanes the card opens; empty = every lane.
    #[serde(default)]
    pub lanes: Vec<String>,
    #[serde(default)]
    pub odd_even: bool,
}

/// A `month_cards` row; its plates are rows of `month_card_plates`.
#[derive(sqlx::FromRow)]
struct CardRow {
    id: String,
    owner: String,
    start_time: String,
    end_time: String,
    /// Comma-separated lane ids; empty = every lane.
    lanes: String,
    odd_even: bool,
}

impl Store {
    /// Creates or replaces a card; a plate on another card is refused (a
    /// plate moving silently would leave that card without it).
    pub async fn put_card(&self, card: &MonthCard) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        write_card(&mut tx, card).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_card(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM month_card_plates WHERE card_id = ?").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM month_cards WHERE id = ?").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn cards(&self) -> Result<Vec<MonthCard>, StoreError> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM month_cards ORDER BY id").fetch_all(&self.pool).await?;
        let mut cards = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(card) = self.card(&id).await? {
                cards.push(card);
            }
        }
        Ok(cards)
    }

    /// Keeps the monthly price a cloud lists for one of its cards (fen).
    pub async fn put_card_price(&self, card_id: &str, monthly_fen: i64) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO cloud_card_prices (card_id, monthly_fen) VALUES (?, ?) \
             ON CONFLICT (card_id) DO UPDATE SET monthly_fen = excluded.monthly_fen",
        )
        .bind(card_id)
        .bind(monthly_fen)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The monthly price a cloud listed for a card, if any.
    pub async fn card_price(&self, card_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT monthly_fen FROM cloud_card_prices WHERE card_id = ?")
            .bind(card_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn card(&self, id: &str) -> Result<Option<MonthCard>, StoreError> {
        let Some(row): Option<CardRow> =
            sqlx::query_as("SELECT id, owner, start_time, end_time, lanes, odd_even FROM month_cards WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let plates = sqlx::query_scalar("SELECT plate_no FROM month_card_plates WHERE card_id = ? ORDER BY plate_no")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(Some(MonthCard {
            id: row.id,
            owner: row.owner,
            plates,
            start_time: row.start_time,
            end_time: row.end_time,
            lanes: row.lanes.split(',').filter(|l| !l.is_empty()).map(str::to_owned).collect(),
            odd_even: row.odd_even,
        }))
    }

    /// The card `plate` belongs to, and whether another of its plates is inside.
    pub async fn card_of(&self, plate: &str) -> Result<Option<(MonthCard, bool)>, StoreError> {
        // A frozen cloud vehicle (3.6 `freeze`) parks as a temporary car.
        let Some(id): Option<String> = sqlx::query_scalar(
            "SELECT card_id FROM month_card_plates p WHERE plate_no = ? \
             AND NOT EXISTS (SELECT 1 FROM cloud_cars c WHERE c.card_id = p.card_id AND c.state = 1)",
        )
        .bind(plate)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let Some(card) = self.card(&id).await? else {
            return Ok(None);
        };
        let inside: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sessions WHERE state = 'open' AND card_id = ? AND plate_no <> ? LIMIT 1")
                .bind(&id)
                .bind(plate)
                .fetch_optional(&self.pool)
                .await?;
        Ok(Some((card, inside.is_some())))
    }
}

/// Writes a card and its plates inside the caller's transaction; a plate on
/// another card is refused.
pub(super) async fn write_card(conn: &mut sqlx::SqliteConnection, card: &MonthCard) -> Result<(), StoreError> {
    for plate in &card.plates {
        let holder: Option<String> =
            sqlx::query_scalar("SELECT card_id FROM month_card_plates WHERE plate_no = ? AND card_id <> ?")
                .bind(plate)
                .bind(&card.id)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(card) = holder {
            return Err(StoreError::PlateOnCard { plate: plate.clone(), card });
        }
    }
    sqlx::query(
        "INSERT INTO month_cards (id, owner, start_time, end_time, lanes, odd_even) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, start_time = excluded.start_time, \
             end_time = excluded.end_time, lanes = excluded.lanes, odd_even = excluded.odd_even",
    )
    .bind(&card.id)
    .bind(&card.owner)
    .bind(&card.start_time)
    .bind(&card.end_time)
    .bind(card.lanes.join(","))
    .bind(card.odd_even)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM month_card_plates WHERE card_id = ?").bind(&card.id).execute(&mut *conn).await?;
    for plate in &card.plates {
        sqlx::query(
            "INSERT INTO month_card_plates (plate_no, card_id) VALUES (?, ?) \
                 ON CONFLICT (plate_no) DO UPDATE SET card_id = excluded.card_id",
        )
        .bind(plate)
        .bind(&card.id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
