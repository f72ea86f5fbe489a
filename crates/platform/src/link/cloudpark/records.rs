//! The cloud API's lot reports as the city's records: enterNotify → `Entry`,
//! leaveNotify → `Exit` (the stay's id is its `recordNo`, the lot its pid).

use onepark_cloudpark::service::{EnterNotify, LeaveNotify};
use onepark_domain::plate::PlateColour;
use onepark_domain::record::{Berths, Entry, Exit, LotRef, Protocol};

pub fn lot(pid: &str) -> LotRef {
    LotRef::new(Protocol::Cloudpark, pid)
}

/// The city's parking type of a cloud car type: 9 temporary → 1, 8 monthly
/// and 7 stored value → 2 (a card holder), 1 free → 4 special.
pub fn parking_type(car_type: i64) -> i64 {
    match car_type {
        8 | 7 => 2,
        1 => 4,
        _ => 1,
    }
}

/// The city's plate colour: as given, else what the plate's kind is usually
/// (green for new-energy plates, blue otherwise).
fn plate_color(given: Option<i64>, plate: &str) -> i64 {
    given.unwrap_or_else(|| PlateColour::usual(plate).code())
}

/// Berths the lot reported: total and free (open ones are not in this API).
fn berths(total: Option<i64>, free: Option<i64>) -> Berths {
    let total = total.unwrap_or(0).max(0);
    Berths { total, open: total, free: free.unwrap_or(0).max(0) }
}

pub fn entry(m: &EnterNotify, plate_valid: bool, received: chrono::NaiveDateTime, content: &str) -> Entry {
    Entry {
        parking_code: m.park_code.clone(),
        uid: m.record_no.clone(),
        arrival_id: m.record_no.clone(),
        plate_no: m.plate_num.clone(),
        plate_color: plate_color(m.plate_color, &m.plate_num),
        car_type: 1,
        parking_type: parking_type(m.car_type),
        entry_num: m.in_channel_id.clone().or_else(|| m.entrance.clone()).unwrap_or_default(),
        arrive_time: m.enter_time,
        upload_time: received,
        berths: berths(m.total_park_num, m.remain_park_num),
        plate_valid,
        content: content.to_owned(),
    }
}

pub fn exit(m: &LeaveNotify, plate_valid: bool, received: chrono::NaiveDateTime, content: &str) -> Exit {
    Exit {
        parking_code: m.park_code.clone(),
        uid: m.record_no.clone(),
        exit_id: m.record_no.clone(),
        plate_no: m.plate_num.clone(),
        arrive_time: m.enter_time,
        end_time: m.leave_time,
        charge_fee: m.payable_fee,
        should_pay: m.payable_fee - m.discount_fee,
        upload_time: received,
        berths: berths(m.total_park_num, m.remain_park_num),
        plate_valid,
        content: content.to_owned(),
    }
}
