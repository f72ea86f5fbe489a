//! The city's announcements as Qingdao downlinks (spec §2.2, §5.4–§5.7):
//! `fee`, `payResult`, `departurePayInfo`, `overDueResult`, `specialCar`,
//! each sealed once for its lot (fresh requestId, the lot's key and profile)
//! on `qdpark/v1/{interface}/{accessID}/{parkingCode}`.

use std::sync::Arc;

use chrono::NaiveDateTime;
use onepark_proto::dict::{
    CarType, DeparturePay, ListKind, ListOperation as WireOperation, NoSense, PaidType, PayScene, PayStatus,
    PlateColor, Prevent,
};
use onepark_proto::interface::{AccessId, Downlink as Interface, Topic};
use onepark_proto::msg::encode_flat;
use onepark_proto::msg::list::SpecialCar;
use onepark_proto::msg::payment::{DeparturePayInfo, FeeQuery, OverDueResult, PayResult};
use onepark_proto::wire::Time;
use onepark_proto::{Keys, PrivateKey, downlink};
use onepark_serve::clock::Clock;

use crate::city::announce::{
    AnnounceError, Announcement, Announcer, ArrearsNotice, ListOperation, NoStop, PaidBill, Signing,
};
use crate::config::{LotAccess, LotLink};
use crate::store::{Downlink, NewDownlink};

pub use crate::city::announce::next_request_id;

/// Seals announcements with the platform's private key.
pub struct Qdpark {
    pub key: Option<Arc<PrivateKey>>,
    /// How long an unconfirmed message is retried.
    pub retry: chrono::Duration,
    pub clock: Clock,
}

impl Announcer for Qdpark {
    fn message(
        &self,
        lot: &LotAccess,
        parking_code: &str,
        what: &Announcement,
        now: NaiveDateTime,
    ) -> Result<Downlink, AnnounceError> {
        let (interface, subject, payload) = match what {
            Announcement::FeeRequest { plate_no, .. } => {
                let m = FeeQuery {
                    parking_code: Some(parking_code.to_owned()),
                    plate_no: plate_no.clone(),
                    plate_color: None,
                };
                (Interface::Fee, plate_no.as_str(), encode_flat(&m))
            }
            Announcement::Paid(p) => (Interface::PayResult, p.plate_no.as_str(), encode_flat(&pay_result(p))),
            Announcement::Signing(s) => (Interface::DeparturePayInfo, s.plate_no.as_str(), encode_flat(&signing(s))),
            Announcement::Arrears(a) => (Interface::OverDueResult, a.plate_no.as_str(), encode_flat(&arrears(a))),
            // The spec has no such messages: its lots hear of money only through payResult.
            // applyPayment is answered synchronously: no deduction notice either.
            Announcement::Refunded(_)
            | Announcement::RenewalPrice(_)
            | Announcement::Renewed(_)
            | Announcement::Deducted(_) => {
                return Err(AnnounceError::NotCarried {
                    protocol: onepark_domain::record::Protocol::Qdpark,
                    what: "refunds or month-card renewals",
                });
            }
            Announcement::List { entry, operation } => {
                let m = SpecialCar {
                    parking_code: entry.parking_code.clone(),
                    plate_no: entry.plate_no.clone(),
                    car_type: CarType::from_code(entry.car_type),
                    list_kind: ListKind::from_code(entry.list_kind),
                    operate: match operation {
                        ListOperation::Add => WireOperation::Add,
                        ListOperation::Update => WireOperation::Update,
                        ListOperation::Delete => WireOperation::Delete,
                    },
                    remark: entry.remark.clone(),
                    operate_time: Time(now),
                    start_time: entry.start_time.parse().unwrap_or(Time(now)),
                    end_time: entry.end_time.parse().unwrap_or(Time(now)),
                };
                (Interface::SpecialCar, entry.plate_no.as_str(), encode_flat(&m))
            }
        };
        self.seal(lot, interface, (parking_code, subject), now, &payload)
    }
}

impl Qdpark {
    /// A new message (fresh requestId) for one lot; `subject` is the business
    /// key operators see (a plate).
    fn seal(
        &self,
        lot: &LotAccess,
        interface: Interface,
        (parking_code, subject): (&str, &str),
        now: NaiveDateTime,
        payload: &str,
    ) -> Result<Downlink, AnnounceError> {
        let request_id = next_request_id(self.clock.now().timestamp_micros());
        let key = self.key.as_ref().ok_or(AnnounceError::NoPrivateKey)?;
        let LotLink::Qdpark { public_key, profile } = &lot.link else {
            return Err(AnnounceError::NoLink(lot.protocol()));
        };
        let keys = Keys { own: Some(key), peer: Some(public_key) };
        let envelope = downlink::seal(*profile, keys, request_id, Time(now), payload)
            .map_err(|e| AnnounceError::Seal(e.to_string()))?;
        let topic =
            Topic { interface, access_id: AccessId::parse(&lot.access_id), parking_code: parking_code.to_owned() };
        let deadline = now + chrono::Duration::seconds(interface.confirm_deadline_secs() as i64);
        let m = NewDownlink {
            request_id,
            protocol: onepark_domain::record::Protocol::Qdpark,
            access_id: lot.access_id.clone(),
            parking_code: parking_code.to_owned(),
            interface: interface.to_string(),
            topic: topic.to_string(),
            payload: envelope.to_json(),
            subject: subject.to_owned(),
        };
        Ok(m.queued(now, self.clock.millis(), deadline, now + self.retry))
    }
}

/// payResult: a bill paid through the platform.
pub fn pay_result(p: &PaidBill) -> PayResult {
    PayResult {
        plate_no: p.plate_no.clone(),
        bill_id: p.bill_id.clone(),
        bill_time: Time(p.bill_time),
        should_pay: p.should_pay,
        pay_status: PayStatus::Done,
        actual_pay: Some(p.actual_pay),
        discount_amount: p.discount,
        deal_time: Some(Time(p.deal_time)),
        order_code: Some(p.order_code.clone()),
        paid_type: Some(PaidType::from_code(p.paid_type)),
        pay_type: Some(PayScene::from_code(p.scene)),
    }
}

/// departurePayInfo / getDeparturePayInfo: a plate's signing.
pub fn signing(s: &Signing) -> DeparturePayInfo {
    DeparturePayInfo {
        plate_no: s.plate_no.clone(),
        plate_color: PlateColor::from_code(s.plate_color),
        parking_code: s.parking_code.clone(),
        no_sense: match s.no_stop {
            NoStop::Unsigned => NoSense::Unsigned,
            NoStop::Signed => NoSense::Signed,
            NoStop::SignedInArrears => NoSense::SignedInArrears,
        },
        money_limit: s.money_limit,
        departure_pay: if s.leave_first { DeparturePay::LeaveFirst } else { DeparturePay::PayFirst },
    }
}

/// overDueResult / getOverDueResult: a plate's arrears.
pub fn arrears(a: &ArrearsNotice) -> OverDueResult {
    OverDueResult {
        plate_no: a.plate_no.clone(),
        over_due_count: a.count,
        un_pay: a.un_pay,
        prevent: if a.prevent { Prevent::Block } else { Prevent::Pass },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_increase() {
        let now = 1_790_000_000_000_000;
        let a = next_request_id(now);
        let b = next_request_id(now);
        assert!(b > a && a > 1_700_000_000_000_000);
    }
}
