//! Qingdao's record messages as the city's records (`onepark_domain::record`),
//! by hand: the wire's names and codes stop here.

use onepark_domain::record::{
    BerthState, Berths, Bill, DayCheck, DayCounts, Entry, EntryChange, Exit, Kind, LotInfo, LotRef, Photo, Protocol,
};
use onepark_proto::dict::{ModifyOperation, RecordKind};
use onepark_proto::msg::record as wire;
use serde::Serialize;

/// The record of a lot logged in with `access_id`.
pub fn lot(access_id: &str) -> LotRef {
    LotRef::new(Protocol::Qdpark, access_id)
}

/// A message's identity for idempotency: its JSON without `uploadTime`,
/// which a retrying lot may refresh. (Stored since 0.1: a re-upload of a
/// record kept by an older version is still a duplicate.)
pub fn content<T: Serialize>(message: &T) -> String {
    let mut value = serde_json::to_value(message).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("uploadTime");
    }
    value.to_string()
}

/// The entry an entry message (`CarIn`, `CarInModify`: the same fields) reports.
macro_rules! entry_of {
    ($m:expr, $plate_valid:expr) => {
        Entry {
            parking_code: $m.parking_code.clone(),
            uid: $m.uid.clone(),
            arrival_id: $m.arrival_id.clone(),
            plate_no: $m.plate_no.clone(),
            plate_color: $m.plate_color.code(),
            car_type: $m.car_type.code(),
            parking_type: $m.parking_type.code(),
            entry_num: $m.entry_num.clone(),
            arrive_time: $m.arrive_time.0,
            upload_time: $m.upload_time.0,
            berths: Berths { total: $m.total_berth_num, open: $m.open_berth_num, free: $m.free_berth_num },
            plate_valid: $plate_valid,
            content: content($m),
        }
    };
}

pub fn entry(m: &wire::CarIn, plate_valid: bool) -> Entry {
    entry_of!(m, plate_valid)
}

pub fn entry_change(m: &wire::CarInModify) -> EntryChange {
    EntryChange { entry: entry_of!(m, true), deleted: m.operate_type == ModifyOperation::Delete }
}

pub fn exit(m: &wire::CarOut, plate_valid: bool) -> Exit {
    Exit {
        parking_code: m.parking_code.clone(),
        uid: m.uid.clone(),
        exit_id: m.exit_id.clone(),
        plate_no: m.plate_no.clone(),
        arrive_time: m.arrive_time.0,
        end_time: m.end_time.0,
        charge_fee: m.charge_fee,
        should_pay: m.should_pay,
        upload_time: m.upload_time.0,
        berths: Berths { total: m.total_berth_num, open: m.open_berth_num, free: m.free_berth_num },
        plate_valid,
        content: content(m),
    }
}

pub fn berth_state(m: &wire::ParkingState) -> BerthState {
    BerthState {
        parking_code: m.parking_code.clone(),
        berths: Berths { total: m.total_berth_num, open: m.open_berth_num, free: m.free_berth_num },
        at: m.upload_time.0,
    }
}

pub fn photo(m: &wire::Photo) -> Photo {
    Photo {
        parking_code: m.parking_code.clone(),
        photo_id: m.photo_id.clone(),
        uid: m.uid.clone(),
        kind: m.photo_type.code(),
        time: m.time.0,
        name: m.name.clone(),
        upload_time: m.upload_time.0,
        content: content(m),
    }
}

pub fn bill(m: &wire::PayRecord) -> Bill {
    Bill {
        parking_code: m.parking_code.clone(),
        bill_id: m.bill_id.clone(),
        uid: m.uid.clone(),
        plate_no: m.plate_no.clone(),
        charge_fee: m.charge_fee,
        should_pay: m.should_pay,
        actual_pay: m.actual_pay,
        bill_time: m.bill_time.0,
        deal_time: m.deal_time.0,
        paid_type: m.paid_type.code(),
        pay_type: m.pay_type.code(),
        bill_way: m.bill_way.code(),
        upload_time: m.upload_time.0,
        content: content(m),
    }
}

pub fn lot_info(m: &wire::ParkingInfo) -> LotInfo {
    LotInfo {
        parking_code: m.parking_code.clone(),
        name: m.parking_name.clone(),
        address: m.address.clone(),
        // AMap coordinates: what the city's map draws.
        position: Some((m.gmap_x.clone(), m.gmap_y.clone())),
        tariff: Some(m.fee_scale.clone()).filter(|t| !t.trim().is_empty()),
        content: content(m),
    }
}

/// A description stored as its JSON before the city's columns existed.
fn stored_lot_info(parking_code: &str, content: &str) -> Option<LotInfo> {
    let v: serde_json::Value = serde_json::from_str(content).ok()?;
    let text = |key: &str| v.get(key).and_then(|t| t.as_str()).map(str::to_owned);
    Some(LotInfo {
        parking_code: parking_code.to_owned(),
        name: text("parkingName")?,
        address: text("address").unwrap_or_default(),
        position: text("gmapX").zip(text("gmapY")),
        tariff: text("feeScale"),
        content: content.to_owned(),
    })
}

/// Fills in the city's columns of the descriptions a 0.1/0.2 platform kept
/// as Qingdao JSON only (the only protocol it spoke).
pub async fn upgrade(store: &crate::store::Store) -> Result<usize, crate::store::StoreError> {
    let mut n = 0;
    for (code, content) in store.lot_infos_to_upgrade().await? {
        if let Some(info) = stored_lot_info(&code, &content) {
            store.upgrade_lot_info(&info).await?;
            n += 1;
        }
    }
    Ok(n)
}

pub fn day_check(m: &wire::CheckRecord) -> DayCheck {
    DayCheck {
        parking_code: m.parking_code.clone(),
        date: m.check_date.0,
        counts: DayCounts {
            arrive: m.arrive_num,
            leave: m.leave_num,
            photo: m.photo_num,
            pay_num: m.pay_num,
            pay_total: m.pay_total,
        },
    }
}

/// downloadUID's record kinds; an unknown code lists nothing.
pub fn kind(k: RecordKind) -> Option<Kind> {
    match k {
        RecordKind::Entry => Some(Kind::Entry),
        RecordKind::Exit => Some(Kind::Exit),
        RecordKind::Bill => Some(Kind::Bill),
        RecordKind::Photo => Some(Kind::Photo),
        RecordKind::Other(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_kept_as_json_reads_back_in_the_citys_terms() {
        let info =
            stored_lot_info("P1", r#"{"parkingName":"中山路","address":"市南区","gmapX":"120.3","gmapY":"36.0"}"#)
                .expect("info");
        assert_eq!(info.name, "中山路");
        assert_eq!(info.position, Some(("120.3".to_owned(), "36.0".to_owned())));
        assert!(stored_lot_info("P1", "not json").is_none());
    }
}
