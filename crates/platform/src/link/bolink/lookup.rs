//! The lookups a Bolink lot makes (`onepark_bolink::lookup`), answered from
//! the city: a lane's driver code (2.18) and what its screen shows (2.43),
//! a plate's open stay here (2.20), the lot's transactions page (2.21), a
//! plate's month cards here (2.24), a stored-value card's balance (2.28),
//! and whether the city lets a plate in (2.42: its lists and its arrears).

use onepark_bolink::lookup::{self, Lookup};
use onepark_bolink::{Envelope, Reply, query};
use onepark_domain::money::yuan;
use serde_json::Value;

use super::answers::unavailable;
use crate::config::LotAccess;
use crate::state::AppState;
use crate::store::StoreError;

pub async fn answer(state: &AppState, lot: &LotAccess, code: &str, e: &Envelope) -> Reply {
    let service = e.service_name.as_str();
    let q = match Lookup::read(e) {
        Ok(q) => q,
        Err(why) => return Reply::refused(service, &why.0),
    };
    match answered(state, lot, code, &q).await {
        Ok(reply) => reply,
        Err(err) => unavailable(service, err),
    }
}

async fn answered(state: &AppState, lot: &LotAccess, code: &str, q: &Lookup) -> Result<Reply, StoreError> {
    let zone = state.zone();
    let unix = |t: &str| {
        onepark_domain::time::parse_time(t).ok().and_then(|t| zone.instant(t).ok()).map_or(0, |t| t.timestamp())
    };
    let plate = q.car_number.clone().unwrap_or_default();
    let lane = q.channel_id.clone().unwrap_or_default();
    let lane_url = |exit: bool| crate::http::dashboard::qr::lane_url(state.public_url(), &lot.access_id, &lane, exit);
    Ok(match q.service.as_str() {
        lookup::QR_URL => q.reply().with("qr_url", lane_url(!q.entrance)),
        lookup::SCREEN => {
            let mut lines = vec!["请扫码缴费".to_owned()];
            if !plate.is_empty() {
                let owed = state.store().open_arrears(&plate).await?;
                if !owed.is_empty() {
                    lines.push(format!("{plate} 欠费 {} 元", yuan(owed.iter().map(|a| a.should_pay).sum())));
                }
            }
            q.reply().with("lines", lines).with("qr_url", lane_url(true))
        }
        lookup::IN_PARK_ORDER => {
            let stay = state.store().parked(&plate).await?.filter(|(c, ..)| c == code);
            let list: Vec<query::InPark> = stay
                .into_iter()
                .map(|(_, _, uid, arrived)| query::InPark {
                    order_id: uid,
                    car_number: plate.clone(),
                    in_time: unix(&arrived),
                    in_channel_id: String::new(),
                })
                .collect();
            query::in_park_reply(&q.service, &q.random_str, list.len() as i64, 1, Some(&list))
                .with("car_number", plate.as_str())
        }
        lookup::BOOTH_ORDERS => q.reply().with("url", format!("{}/lots/{code}", state.public_url())),
        lookup::MONTH_CARD => {
            let cars = state.store().fixed_cars_of_plate(code, &plate).await?;
            let cards: Vec<Value> =
                cars.iter().filter_map(|c| super::records::card(c, zone)).map(|c| c.to_value()).collect();
            q.reply().with("count", cards.len() as i64).with("vip_list", cards)
        }
        lookup::CARD_BALANCE => {
            let card_id = q.card_id.clone().unwrap_or_default();
            match state.store().fixed_car(code, &card_id).await? {
                Some(c) if (71..=75).contains(&c.car_type) && c.deleted == 0 => q
                    .reply()
                    .with("card_id", card_id.as_str())
                    .with("park_id", lot.access_id.as_str())
                    .with("balance", yuan(c.balance.unwrap_or(0))),
                Some(_) => Reply::refused(&q.service, &format!("卡 {card_id} 不是储值卡")).with("card_id", card_id),
                None => Reply::refused(&q.service, &format!("没有储值卡 {card_id}")).with("card_id", card_id),
            }
        }
        _ => {
            // 2.42: the city's black list refuses; its arrears hold the car when the city says so.
            let now = onepark_domain::time::format_time(state.now());
            let live = |e: &crate::store::ListEntry| !e.deleted && e.start_time <= now && now <= e.end_time;
            let black = state.store().list_entry(code, &plate, crate::city::lists::BLACK).await?.filter(live);
            let white = state.store().list_entry(code, &plate, crate::city::lists::WHITE).await?.filter(live);
            let owed = state.store().open_arrears(&plate).await?;
            let owe_money: i64 = owed.iter().map(|a| a.should_pay).sum();
            let hold = state.payments().prevent && owe_money > 0;
            let reason = match (&black, hold) {
                (Some(_), _) => format!("{plate} 在城市黑名单中"),
                (None, true) => format!("{plate} 在城市欠费 {} 元，请先补缴", yuan(owe_money)),
                (None, false) => String::new(),
            };
            q.reply()
                .with("allow", i64::from(black.is_none() && !hold))
                .with("black", i64::from(black.is_some()))
                .with("white", i64::from(white.is_some()))
                .with("owe_count", owed.len() as i64)
                .with("owe_money", yuan(owe_money))
                .with("reason", reason)
        }
    })
}
