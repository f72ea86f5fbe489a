//! The city's announcements to a Bolink lot, as the messages its SDK
//! receives: a driver asking the fee → 3.1 `query_price` (`pay_scene` 0 in
//! the lot, 1 at an exit lane, 2 a no-plate car at an exit lane;
//! `query_order_no` the request id, echoed in the answer, which becomes the
//! fee quote the driver pays); a bill paid through the platform → 3.2
//! `prepay_order` (the lot answers `state` 1 only once it booked the money;
//! redelivered until then, as the vendor's 12 times over 30 min; its
//! `request_no`, as 3.33's, is echoed to say which notice). The quote's
//! bill id is `{order_id}B{query_order_no}` on both sides, so the payment
//! names the very quote the lot made. An operator's refund of such a
//! payment → 3.23 `refund_inform` (designed in 3.2's style: `refund_no`
//! applied once by the lot, `refund_money` and `left_money` in yuan), retried
//! as 3.2 is. Lists, signings and arrears have no
//! message in part 1 of this protocol (`AnnounceError::NotCarried`).

use chrono::NaiveDateTime;
use onepark_bolink::{no_stop, renewal};
use onepark_domain::money::yuan;
use onepark_domain::record::Protocol;
use onepark_domain::time::format_time;
use onepark_serve::clock::Clock;
use serde_json::json;

use crate::city::announce::{AnnounceError, Announcement, Announcer, ListOperation, next_request_id};
use crate::config::{LotAccess, LotLink};
use crate::store::{Downlink, NewDownlink};

pub const QUERY_PRICE: &str = "query_price";
pub const PREPAY_ORDER: &str = "prepay_order";
/// 3.23 退款下发通知 (title only; designed in 3.2's style: `onepark_bolink::refund`).
pub const REFUND_INFORM: &str = onepark_bolink::refund::SERVICE;

pub struct Bolink {
    /// How long a payment's notice is retried.
    pub retry: chrono::Duration,
    pub clock: Clock,
    /// The platform's zone (the wire's times are Unix seconds).
    pub zone: onepark_domain::time::Zone,
}

/// The quote's bill id, as the lot and the platform both make it.
pub fn bill_id(order_id: &str, query_order_no: &str) -> String {
    format!("{order_id}B{query_order_no}")
}

/// (order_id, query_order_no) of a quote's bill id.
pub fn split_bill_id(bill_id: &str) -> Option<(&str, &str)> {
    bill_id.rsplit_once('B').filter(|(o, q)| !o.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) && !q.is_empty())
}

/// How often a message is sent again while unanswered.
pub fn interval(interface: &str) -> chrono::Duration {
    match interface {
        // 12 times over 30 min.
        PREPAY_ORDER | REFUND_INFORM => chrono::Duration::seconds(150),
        // 15 times over a day.
        renewal::PAY => chrono::Duration::seconds(5_760),
        // 14 times over 5.4 min.
        no_stop::RESULT | onepark_bolink::offline::REPAIR => chrono::Duration::seconds(23),
        _ => chrono::Duration::seconds(10),
    }
}

impl Announcer for Bolink {
    fn message(
        &self,
        lot: &LotAccess,
        parking_code: &str,
        what: &Announcement,
        now: NaiveDateTime,
    ) -> Result<Downlink, AnnounceError> {
        let LotLink::Bolink { .. } = &lot.link else { return Err(AnnounceError::NoLink(lot.protocol())) };
        let not_carried = |what| Err(AnnounceError::NotCarried { protocol: Protocol::Bolink, what });
        let request_id = next_request_id(self.clock.now().timestamp_micros());
        let query_time = self.clock.now().timestamp();
        let unix = |t: NaiveDateTime| self.zone.instant(t).map_or(0, |t| t.timestamp());
        let (interface, lane, payload, subject, expires) = match what {
            Announcement::FeeRequest { plate_no, exit_lane } => {
                let scene = match exit_lane {
                    None => 0,
                    Some(_) if onepark_domain::plate::Plate::parse(plate_no).is_err() => 2,
                    Some(_) => 1,
                };
                let m = json!({ "service_name": QUERY_PRICE, "park_id": lot.access_id, "pay_scene": scene,
                    "car_number": plate_no, "order_id": "", "out_channel_id": exit_lane.clone().unwrap_or_default(),
                    "query_order_no": request_id.to_string(), "query_time": query_time });
                (
                    QUERY_PRICE,
                    exit_lane.clone().unwrap_or_default(),
                    m,
                    plate_no.clone(),
                    now + chrono::Duration::seconds(60),
                )
            }
            // An unpaid exit (2.44) paid since: 3.37 `repair`, 3.4's shape.
            Announcement::Paid(p) if p.scene == onepark_domain::record::Scene::Arrears.code() => {
                let d = no_stop::Deducted {
                    order_id: p.bill_id.clone(),
                    car_number: p.plate_no.clone(),
                    state: 1,
                    trade_no: p.order_code.clone(),
                    total: p.actual_pay,
                    pay_time: unix(p.deal_time),
                    errmsg: String::new(),
                };
                let m = onepark_bolink::offline::repair_message(&d, &lot.access_id, &request_id.to_string());
                (onepark_bolink::offline::REPAIR, String::new(), m, p.plate_no.clone(), now + self.retry)
            }
            Announcement::Paid(p) => {
                let Some((order_id, query_order_no)) = split_bill_id(&p.bill_id) else {
                    return not_carried("a payment of a bill this lot did not quote");
                };
                let m = json!({ "service_name": PREPAY_ORDER, "park_id": lot.access_id, "car_number": p.plate_no,
                    "order_id": order_id, "query_order_no": query_order_no, "prepay": yuan(p.actual_pay),
                    "trade_no": p.order_code, "prepay_type": 1, "pay_time": format_time(p.deal_time),
                    "query_time": query_time, "request_no": request_id.to_string() });
                (PREPAY_ORDER, String::new(), m, p.plate_no.clone(), now + self.retry)
            }
            Announcement::Refunded(r) => {
                // A quote's prepayment names its quote; an exit's deduction (3.4) its stay alone.
                let (order_id, query_order_no) = split_bill_id(&r.bill_id).unwrap_or((r.bill_id.as_str(), ""));
                let m = onepark_bolink::refund::Refund {
                    order_id: order_id.to_owned(),
                    query_order_no: query_order_no.to_owned(),
                    trade_no: r.trade_no.clone(),
                    refund_no: r.refund_no.clone(),
                    car_number: r.plate_no.clone(),
                    refund_money: r.amount,
                    left_money: r.left,
                    reason: r.reason.clone(),
                    refund_time: format_time(r.at),
                }
                .to_message(&lot.access_id, &request_id.to_string(), query_time);
                (REFUND_INFORM, String::new(), m, r.refund_no.clone(), now + self.retry)
            }
            Announcement::RenewalPrice(a) => {
                let q = renewal::PriceQuery {
                    card_id: a.card_id.clone(),
                    months: a.months,
                    start_time: unix(a.start_time),
                    trade_no: request_id.to_string(),
                    car_number: a.plate_no.clone(),
                };
                (
                    renewal::PRICE,
                    String::new(),
                    q.to_message(&lot.access_id),
                    a.plate_no.clone(),
                    now + chrono::Duration::seconds(60),
                )
            }
            Announcement::Renewed(r) => {
                let p = renewal::Paid {
                    trade_no: r.trade_no.clone(),
                    card_id: r.card_id.clone(),
                    car_number: r.plate_no.clone(),
                    months: r.months,
                    start_time: unix(r.start_time),
                    end_time: unix(r.end_time),
                    pay_money: r.amount,
                    pay_time: unix(r.paid_at),
                };
                let m = p.to_message(&lot.access_id, &request_id.to_string());
                (renewal::PAY, String::new(), m, r.trade_no.clone(), now + chrono::Duration::days(1))
            }
            // 3.14 `blackuser_sync`: the city's black list at this lot (`black_uuid` the plate's
            // entry, so a change or removal names the same one); white entries have no message.
            Announcement::List { entry, operation } if entry.list_kind == crate::city::lists::BLACK => {
                let operate = match operation {
                    ListOperation::Add => 1,
                    ListOperation::Update => 2,
                    ListOperation::Delete => 3,
                };
                let mut data = serde_json::Map::new();
                for (k, v) in [
                    ("black_uuid", json!(format!("city-{}", entry.plate_no))),
                    ("car_number", json!(entry.plate_no)),
                    ("operate_type", json!(operate)),
                    ("create_time", json!(unix(onepark_domain::time::parse_time(&entry.start_time).unwrap_or(now)))),
                    ("end_time", json!(entry.end_time)),
                    ("resume", json!(entry.remark.clone().unwrap_or_default())),
                    ("operator", json!("城市平台")),
                ] {
                    data.insert(k.into(), v);
                }
                let Some(command) = onepark_bolink::downlink::find("blackuser_sync") else {
                    return not_carried("black-list entries");
                };
                let m = onepark_bolink::downlink::message(command, &lot.access_id, &request_id.to_string(), &data);
                let m: serde_json::Value = serde_json::from_str(&m).unwrap_or_default();
                ("blackuser_sync", String::new(), m, entry.plate_no.clone(), now + self.retry)
            }
            Announcement::List { .. } => return not_carried("white-list entries (the SDK has no message for them)"),
            // 4.2: whether the plate pays password-free, and up to what.
            Announcement::Signing(s) => {
                let b = no_stop::Balance {
                    car_number: s.plate_no.clone(),
                    balance: s.money_limit,
                    autopay: s.deducted_at_exit,
                };
                let m = b.to_message(&lot.access_id, &request_id.to_string());
                (no_stop::UPDATE_BALANCE, String::new(), m, s.plate_no.clone(), now + chrono::Duration::seconds(60))
            }
            Announcement::Deducted(d) => {
                let m = no_stop::Deducted {
                    order_id: d.bill_id.clone(),
                    car_number: d.plate_no.clone(),
                    state: i64::from(d.paid),
                    trade_no: d.trade_no.clone(),
                    total: d.amount,
                    pay_time: unix(d.at),
                    errmsg: d.reason.clone(),
                }
                .to_message(&lot.access_id, &request_id.to_string());
                (no_stop::RESULT, String::new(), m, d.plate_no.clone(), now + chrono::Duration::seconds(324))
            }
            Announcement::Arrears(_) => return not_carried("city-wide arrears notices (part 2: 2.38)"),
        };
        let m = NewDownlink {
            request_id,
            protocol: Protocol::Bolink,
            access_id: lot.access_id.clone(),
            parking_code: parking_code.to_owned(),
            interface: interface.to_owned(),
            // The lane whose charging system takes it (empty: any of the lot's).
            topic: lane,
            payload: payload.to_string(),
            subject,
        };
        Ok(m.queued(now, self.clock.now().timestamp_millis(), now + interval(interface), expires))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bill_ids_round_trip() {
        assert_eq!(split_bill_id(&bill_id("O_1B2", "1796371200000001")), Some(("O_1B2", "1796371200000001")));
        assert_eq!(split_bill_id("noquote"), None);
        assert_eq!(split_bill_id("B123"), None);
    }
}
