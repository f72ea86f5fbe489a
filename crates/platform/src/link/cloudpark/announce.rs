//! The city's announcements to a lot of the parking cloud's protocol, as its
//! MQ commands (the seam's other side of `link::qdpark::announce`): a driver
//! asking the fee → 3.1 `pay.queryfeebyplate` (the lot's answer becomes the
//! fee quote the driver pays), a bill paid through the platform → 3.2
//! `pay.payparkingfeeorder`, a black-list change → 3.15 `manage.blacklist`.
//! Pay-after-leave signings and city-wide arrears have no message in this
//! protocol: the city is told so (`AnnounceError::NotCarried`).

use chrono::NaiveDateTime;
use onepark_cloudpark::command::{command, uuid_of};
use onepark_cloudpark::mq::ServiceId;
use onepark_domain::money::yuan;
use onepark_domain::record::Protocol;
use onepark_domain::time::format_time;
use onepark_serve::clock::Clock;
use serde_json::{Map, Value, json};

use crate::city::announce::{AnnounceError, Announcement, Announcer, ListOperation, next_request_id};
use crate::city::lists::BLACK;
use crate::config::{LotAccess, LotLink};
use crate::store::{Downlink, NewDownlink};

pub struct Cloudpark {
    pub topics: onepark_cloudpark::channel::Topics,
    /// How long a payment's notice is retried (as Qingdao's payResult).
    pub retry: chrono::Duration,
    pub clock: Clock,
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// The vendor's `payType` of the city's paid type (§6: 1 WeChat, 2 Alipay, 3 platform balance, 4 cash, 5 UnionPay).
fn pay_type(paid_type: i64) -> i64 {
    match paid_type {
        3 => 1,
        2 => 2,
        1 => 4,
        6 => 5,
        _ => 3,
    }
}

/// A command to a lot (`pid`), as this protocol's downlink: `m` published on
/// `topic` until the lot answers or its `expireTime` passes (the integrators'
/// commands and the city's announcements alike).
pub(super) fn downlink(
    request_id: i64,
    pid: &str,
    topic: String,
    m: &onepark_cloudpark::mq::Envelope,
    subject: String,
    now: NaiveDateTime,
    created_ms: i64,
) -> Downlink {
    let expires = onepark_cloudpark::command::expires(m).unwrap_or(now);
    let new = NewDownlink {
        request_id,
        protocol: Protocol::Cloudpark,
        access_id: pid.to_owned(),
        parking_code: m.park_code.clone(),
        interface: m.service_id.clone(),
        topic,
        payload: m.to_json().to_string(),
        subject,
    };
    new.queued(now, created_ms, now + chrono::Duration::seconds(10), expires)
}

impl Announcer for Cloudpark {
    fn message(
        &self,
        lot: &LotAccess,
        parking_code: &str,
        what: &Announcement,
        now: NaiveDateTime,
    ) -> Result<Downlink, AnnounceError> {
        let LotLink::Cloudpark { pid } = &lot.link else { return Err(AnnounceError::NoLink(lot.protocol())) };
        let not_carried = |what| Err(AnnounceError::NotCarried { protocol: Protocol::Cloudpark, what });
        let (service, action, item, subject, expires) = match what {
            Announcement::FeeRequest { plate_no, .. } => (
                ServiceId::QueryFee,
                None,
                json!({ "payScene": 0, "plateNumber": plate_no, "recordNo": "" }),
                plate_no.clone(),
                now + chrono::Duration::seconds(60),
            ),
            Announcement::Paid(p) => (
                ServiceId::PayParkingFee,
                None,
                json!({ "plateNumber": p.plate_no, "orderNo": p.order_code, "billId": p.bill_id,
                    "paidFee": yuan(p.actual_pay), "discountFee": yuan(p.discount), "payTime": format_time(p.deal_time),
                    "payType": pay_type(p.paid_type), "payAuth": p.order_code, "payAuthName": "onepark",
                    "payChannel": 2, "orderType": 1 }),
                p.plate_no.clone(),
                now + self.retry,
            ),
            Announcement::List { entry, operation } if entry.list_kind == BLACK => {
                let action = if *operation == ListOperation::Delete { "delete" } else { "add" };
                (
                    ServiceId::Blacklist,
                    Some(action),
                    json!({ "uuid": "", "carNum": entry.plate_no, "remark": entry.remark, "denyIn": 1 }),
                    entry.plate_no.clone(),
                    now + self.retry,
                )
            }
            Announcement::List { .. } => return not_carried("white-list entries (fixed cars go as addfixcar)"),
            Announcement::Signing(_) => return not_carried("pay-after-leave signings"),
            Announcement::Arrears(_) => return not_carried("city-wide arrears notices"),
            Announcement::Refunded(_) => return not_carried("refunds"),
            // The cloud's lots renew through 3.8 from their own cloud, not from the city.
            Announcement::RenewalPrice(_) | Announcement::Renewed(_) => return not_carried("month-card renewals"),
            Announcement::Deducted(_) => return not_carried("no-stop deductions"),
        };
        let request_id = next_request_id(self.clock.now().timestamp_micros());
        let m = command(
            &uuid_of(request_id),
            service,
            parking_code,
            action,
            vec![object(item)],
            Some("onepark"),
            now,
            expires,
        );
        let created_ms = self.clock.now().timestamp_millis();
        Ok(downlink(request_id, pid, self.topics.command(parking_code), &m, subject, now, created_ms))
    }
}
