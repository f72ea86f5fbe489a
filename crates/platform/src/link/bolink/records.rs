//! Bolink's records as the city's: `in_park` → `Entry`, `out_park` and
//! `upload_order` → `Exit` (and a `Bill` when anything was paid), an
//! order's picture (`upload_carpic`) → `Photo`. The stay's id is the
//! `order_id`; the lot's parking code the one it was registered with; times
//! are Unix seconds made local in the platform's zone; money is fen already.
//! A record's `content` (its identity for idempotency) is built from the
//! city's fields, so the same order sent as `out_park` and as `upload_order`
//! with the same money is one exit.

use chrono::NaiveDateTime;
use onepark_bolink::codes::{CarCostType, LicenseColor, PayType};
use onepark_bolink::message::{InPark, OutPark};
use onepark_bolink::picture::Picture;
use onepark_domain::plate::PlateColour;
use onepark_domain::record::{Berths, Bill, Entry, Exit, LotRef, Photo, Protocol, Scene, paid_type};
use onepark_domain::time::{Zone, format_time};
use serde_json::json;

pub fn lot(park_id: &str) -> LotRef {
    LotRef::new(Protocol::Bolink, park_id)
}

/// Unix seconds in the platform's zone.
pub fn local(zone: Zone, unix: i64) -> NaiveDateTime {
    let utc = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
    zone.local(utc)
}

/// The city's plate colour of Bolink's `license_color` (0 blue, 1 yellow,
/// 2 white, 3 black, 4 new-energy, 5 yellow-green, 6 gradient, 7 other);
/// without one, or for "other", what the plate's kind usually has.
pub fn plate_color(license_color: Option<i64>, plate: &str) -> i64 {
    license_color.and_then(|c| LicenseColor::from_code(c).city()).unwrap_or_else(|| PlateColour::usual(plate).code())
}

/// The city's parking type of Bolink's `car_cost_type` (1 temporary,
/// 2 monthly, 3 white list, 4 no plate, 5 guest, 6 VIP, 7 internal,
/// 8 monthly multi-car, 9 stored value): card holders 2, free ones 4 special,
/// the rest temporary 1.
pub fn parking_type(car_cost_type: Option<i64>) -> i64 {
    car_cost_type.map_or(1, |c| CarCostType::from_code(c).parking_type())
}

fn berths(total: i64, free: Option<i64>) -> Berths {
    let free = free.unwrap_or(0).max(0);
    let free = if total > 0 { free.min(total) } else { free };
    Berths { total, open: total, free }
}

pub fn entry(m: &InPark, parking_code: &str, total_berths: i64, zone: Zone, received: NaiveDateTime) -> Entry {
    let content = json!({
        "order_id": m.order_id, "car_number": m.car_number, "in_time": m.in_time,
        "in_channel_id": m.in_channel_id, "car_cost_type": m.car_cost_type, "license_color": m.license_color,
    });
    Entry {
        parking_code: parking_code.to_owned(),
        uid: m.order_id.clone(),
        arrival_id: m.order_id.clone(),
        plate_no: m.car_number.clone(),
        plate_color: plate_color(m.license_color, &m.car_number),
        car_type: 1,
        parking_type: parking_type(m.car_cost_type),
        entry_num: m.in_channel_id.clone().unwrap_or_default(),
        arrive_time: local(zone, m.in_time),
        upload_time: received,
        berths: berths(total_berths, m.empty_plot),
        plate_valid: true,
        content: content.to_string(),
    }
}

/// The money of an order: (whole fee, owed at the exit, paid to the lot).
/// What the lot was paid is its own takings: `cash_prepay` and what the exit
/// took (`cash_pay` + `electronic_pay`, or `total` when it itemises nothing;
/// `monthuser` and `free` take nothing). `electronic_prepay` went through the
/// cloud, which is this platform: it is the platform's payment already, and
/// counting it again in the lot's bill would count the money twice.
pub fn money(m: &OutPark) -> (i64, i64, i64) {
    let at_exit = match (m.cash_pay, m.electronic_pay) {
        // Card holders, free passes and cars that left unpaid pay nothing; otherwise `total` is what the exit took.
        (None, None) if m.pay_type.as_deref().is_some_and(|p| PayType::parse(p).takes_nothing()) => 0,
        (None, None) => m.total,
        (cash, electronic) => cash.unwrap_or(0).saturating_add(electronic.unwrap_or(0)),
    };
    (m.charged(), m.total, m.cash_prepay.unwrap_or(0).saturating_add(at_exit))
}

fn exit_content(m: &OutPark) -> String {
    let (charged, owed, paid) = money(m);
    json!({
        "order_id": m.order_id, "car_number": m.car_number, "in_time": m.in_time, "out_time": m.out_time,
        "charged": charged, "owed": owed, "paid": paid, "pay_type": m.pay_type,
    })
    .to_string()
}

pub fn exit(m: &OutPark, parking_code: &str, total_berths: i64, zone: Zone, received: NaiveDateTime) -> Exit {
    let (charged, owed, _) = money(m);
    Exit {
        parking_code: parking_code.to_owned(),
        uid: m.order_id.clone(),
        exit_id: m.order_id.clone(),
        plate_no: m.car_number.clone(),
        arrive_time: local(zone, m.in_time),
        end_time: local(zone, m.out_time),
        charge_fee: charged,
        should_pay: owed,
        upload_time: received,
        berths: berths(total_berths, m.empty_plot),
        plate_valid: true,
        content: exit_content(m),
    }
}

/// The city's payment method of Bolink's `pay_type`: cash 1, ETC 10, the
/// electronic ones (wallet, sweepcode, scancode) the platform account 4 (the
/// wire does not say which app paid).
pub fn paid_type_of(pay_type: Option<&str>) -> i64 {
    pay_type.map_or(paid_type::CASH, |p| PayType::parse(p).city_paid_type())
}

/// What the driver paid for the order, when anything (one bill per order,
/// its id the order's).
pub fn bill(m: &OutPark, parking_code: &str, zone: Zone, received: NaiveDateTime) -> Option<Bill> {
    let (charged, owed, paid) = money(m);
    if paid <= 0 {
        return None;
    }
    let prepaid_only =
        m.cash_pay.unwrap_or(0) + m.electronic_pay.unwrap_or(0) == 0 && m.cash_prepay.unwrap_or(0) == paid;
    let out = local(zone, m.out_time);
    Some(Bill {
        parking_code: parking_code.to_owned(),
        bill_id: m.order_id.clone(),
        uid: m.order_id.clone(),
        plate_no: m.car_number.clone(),
        charge_fee: charged,
        should_pay: owed.max(paid),
        actual_pay: paid,
        bill_time: out,
        deal_time: out,
        paid_type: paid_type_of(m.pay_type.as_deref()),
        pay_type: if prepaid_only { Scene::InLot.code() } else { Scene::AtGate.code() },
        bill_way: 0,
        upload_time: received,
        content: exit_content(m),
    })
}

/// An order's picture (entry photo kind 1, exit 2, as the city's kinds;
/// other sources 3): its id is `{source}-{owner}-{in|out}`.
pub fn photo(p: &Picture, parking_code: &str, zone: Zone, received: NaiveDateTime) -> Photo {
    let direction = p.park_order_type.clone().unwrap_or_default();
    let kind = match (p.source.as_str(), direction.as_str()) {
        ("order", "in") => 1,
        ("order", "out") => 2,
        _ => 3,
    };
    let photo_id = format!("{}-{}-{direction}", p.source, p.owner_id);
    let time = local(zone, p.create_time);
    Photo {
        parking_code: parking_code.to_owned(),
        uid: if p.source == "order" { p.owner_id.clone() } else { String::new() },
        kind,
        time,
        name: format!("{photo_id}.jpg"),
        upload_time: received,
        content: json!({ "photo_id": photo_id, "create_time": format_time(time), "car_number": p.car_number })
            .to_string(),
        photo_id,
    }
}

/// The city's fixed car as a Bolink month card: stored-value cars (71–75)
/// are not month cards; the rest (monthly 81–85, free 11–17) are, priced at
/// their monthly fee.
pub fn card(
    car: &crate::store::FixedCar,
    zone: onepark_domain::time::Zone,
) -> Option<onepark_bolink::month_card::Card> {
    if (71..=75).contains(&car.car_type) {
        return None;
    }
    let unix =
        |t: &str| onepark_domain::time::parse_time(t).ok().and_then(|t| zone.instant(t).ok()).map(|t| t.timestamp());
    Some(onepark_bolink::month_card::Card {
        card_id: car.uuid.clone(),
        car_number: car.plate_no.clone(),
        name: car.owner.clone().unwrap_or_default(),
        create_time: None,
        begin_time: unix(&car.start_time),
        end_time: unix(&car.end_time).unwrap_or(0),
        p_lot: car.space_no.clone(),
        remark: car.remark.clone(),
        price: car.monthly_fee.unwrap_or(0),
        tel: car.tel.clone(),
        limit_day_type: 0,
        channel_id: String::new(),
        address: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(pay_type: &str, total: i64, cash: Option<i64>, prepay: Option<i64>) -> OutPark {
        OutPark {
            car_number: "鲁B12345".into(),
            in_time: 1_796_371_200,
            out_time: 1_796_378_400,
            order_id: "O1".into(),
            uid: None,
            out_uid: None,
            duration: None,
            pay_type: Some(pay_type.into()),
            empty_plot: Some(10),
            total,
            amount_receivable: None,
            reduce_amount: None,
            electronic_prepay: prepay,
            electronic_pay: None,
            cash_prepay: None,
            cash_pay: cash,
            in_channel_id: None,
            out_channel_id: None,
            car_type: None,
            out_type: None,
        }
    }

    #[test]
    fn money_of_an_order() {
        let zone = Zone::default();
        let at = local(zone, 1_796_378_400);
        // Cash at the exit, nothing itemised: `total` is what was taken.
        let b = bill(&out("cash", 800, None, None), "P", zone, at).expect("paid");
        assert_eq!((b.actual_pay, b.paid_type, b.pay_type), (800, 1, 103));
        // Prepaid 5 yuan through the cloud (the platform's own payment), 3 at the exit in cash:
        // the lot's takings are the 3.
        let m = out("cash", 300, Some(300), Some(500));
        assert_eq!(money(&m), (800, 300, 300));
        // A month card pays nothing: no bill.
        assert_eq!(bill(&out("monthuser", 0, None, None), "P", zone, at), None);
        // Prepaid in full through the cloud: the platform has that payment, the lot took nothing.
        assert_eq!(bill(&out("scancode", 0, Some(0), Some(500)), "P", zone, at), None);
        // Prepaid in cash at a pay station: an in-lot payment of the lot's.
        let mut station = out("cash", 0, Some(0), None);
        station.cash_prepay = Some(500);
        let b = bill(&station, "P", zone, at).expect("paid");
        assert_eq!((b.actual_pay, b.paid_type, b.pay_type), (500, 1, 102));
        // Same money, same exit: out_park then upload_order is one record.
        assert_eq!(
            exit(&m, "P", 100, zone, at).content,
            exit(&m, "P", 100, zone, at + chrono::Duration::hours(1)).content
        );
    }

    #[test]
    fn codes_map_to_the_citys() {
        assert_eq!(plate_color(Some(4), "鲁B12345"), 5);
        assert_eq!(plate_color(None, "鲁BD12345"), 5, "a new-energy plate is usually green");
        assert_eq!(plate_color(Some(7), "鲁B12345"), 1);
        assert_eq!((parking_type(Some(2)), parking_type(Some(7)), parking_type(None)), (2, 4, 1));
        assert_eq!(berths(100, Some(120)).free, 100, "never more free than there are");
    }
}
