//! How the city's logic tells a lot something (a fee request, a payment's
//! result, a plate's signing or arrears, a list change) without knowing the
//! protocol the lot speaks: it names an [`Announcement`], the lot's link
//! turns it into a message ([`Announcer`]), and the city stores that message
//! durably together with what it announces; the link's publisher, woken by
//! [`Wake`], delivers it until the lot confirms it or it expires.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::NaiveDateTime;
use tokio::sync::Notify;

use crate::config::LotAccess;
use crate::store::{Downlink, ListEntry, StoreError};

/// What the city tells a lot, in the city's terms (money in fen, codes of
/// the city's dictionary).
#[derive(Clone, Debug)]
pub enum Announcement {
    /// Compute this car's fee now and report it (a driver is paying ahead;
    /// `exit_lane`: paying at that exit lane, which opens once paid).
    FeeRequest { plate_no: String, exit_lane: Option<String> },
    /// A bill was paid through the platform.
    Paid(PaidBill),
    /// A plate's no-stop signing, as the car enters.
    Signing(Signing),
    /// A plate's unpaid bills across the city.
    Arrears(ArrearsNotice),
    /// A black/white list entry changed.
    List { entry: ListEntry, operation: ListOperation },
    /// An operator gave (part of) a prepayment back to the driver.
    Refunded(RefundNotice),
    /// What renewing a month card costs (the lot prices it; the request id is the renewal's trade number).
    RenewalPrice(RenewalAsk),
    /// A month card's renewal was paid through the platform.
    Renewed(RenewalPaid),
    /// What came of a no-stop deduction a lot asked for at its exit (told
    /// to a protocol whose lots wait for it: Bolink's 3.4).
    Deducted(Deduction),
}

/// A no-stop deduction's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deduction {
    pub plate_no: String,
    /// The lot's bill (its stay's order id).
    pub bill_id: String,
    pub paid: bool,
    pub trade_no: String,
    /// Fen.
    pub amount: i64,
    pub at: NaiveDateTime,
    /// Why not, when not paid.
    pub reason: String,
}

/// A driver asking what renewing a card costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewalAsk {
    /// The lot's card id (the city's fixed car's uuid).
    pub card_id: String,
    pub plate_no: String,
    pub months: i64,
    /// The renewal runs from (the card's end, or now when it lapsed).
    pub start_time: NaiveDateTime,
}

/// A renewal paid: the card runs until `end_time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewalPaid {
    pub card_id: String,
    pub plate_no: String,
    pub trade_no: String,
    pub months: i64,
    pub start_time: NaiveDateTime,
    pub end_time: NaiveDateTime,
    /// Fen.
    pub amount: i64,
    pub paid_at: NaiveDateTime,
}

/// A refund of a prepayment the lot booked: the lot books it back (a whole
/// refund leaves the stay owing again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundNotice {
    pub plate_no: String,
    /// The bill the prepayment paid (the lot's quote).
    pub bill_id: String,
    /// The transaction number the lot was told when it booked the payment.
    pub trade_no: String,
    /// The refund's own id: the lot applies each once.
    pub refund_no: String,
    /// Fen given back now, and what is left of the payment after it.
    pub amount: i64,
    pub left: i64,
    pub reason: String,
    pub at: NaiveDateTime,
}

/// A bill the platform collected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidBill {
    pub plate_no: String,
    pub bill_id: String,
    pub bill_time: NaiveDateTime,
    /// Fen.
    pub should_pay: i64,
    pub actual_pay: i64,
    pub discount: i64,
    pub deal_time: NaiveDateTime,
    /// The channel's transaction number.
    pub order_code: String,
    /// How it was paid (the city's code).
    pub paid_type: i64,
    /// Where it was paid (the city's payment scene code).
    pub scene: i64,
}

/// Whether a plate may leave without stopping, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoStop {
    Unsigned,
    Signed,
    /// Signed, but the plate owes money: no deduction until it is paid.
    SignedInArrears,
}

/// A plate's signing as a lot needs it at the exit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signing {
    pub parking_code: String,
    pub plate_no: String,
    pub plate_color: i64,
    pub no_stop: NoStop,
    /// The most a no-stop deduction may take, fen.
    pub money_limit: i64,
    /// The driver signed up to pay after leaving (else: pay before).
    pub leave_first: bool,
    /// The plate's fee may be deducted at the exit now (signed up for it, owing nothing).
    pub deducted_at_exit: bool,
}

/// A plate's open arrears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrearsNotice {
    pub plate_no: String,
    pub count: i64,
    /// Fen.
    pub un_pay: i64,
    /// Whether the lot should hold the car until they are paid.
    pub prevent: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOperation {
    Add,
    Update,
    Delete,
}

#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    #[error("platform private key is not configured (keys.private_key)")]
    NoPrivateKey,
    #[error("sealing: {0}")]
    Seal(String),
    #[error("no link speaks {0} in this platform")]
    NoLink(onepark_domain::record::Protocol),
    /// The lot's protocol has no message for this (a cloud lot has no pay-after-leave signing).
    #[error("{protocol} carries no {what}")]
    NotCarried { protocol: onepark_domain::record::Protocol, what: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A link's side of the seam: an announcement for one lot (about a car at
/// `parking_code`) as the message its protocol carries, ready to store
/// (fresh id, deadline, expiry).
pub trait Announcer: Send + Sync {
    fn message(
        &self,
        lot: &LotAccess,
        parking_code: &str,
        what: &Announcement,
        now: NaiveDateTime,
    ) -> Result<Downlink, AnnounceError>;
}

/// A unique, increasing requestId: Unix microseconds (`now`), bumped on
/// collision. Fits a JSON number exactly (< 2^53) for the next two centuries.
pub fn next_request_id(now: i64) -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let id = now.max(last + 1);
        match LAST.compare_exchange_weak(last, id, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return id,
            Err(seen) => last = seen,
        }
    }
}

/// Wakes the publisher when a message is queued.
#[derive(Default)]
pub struct Wake(Notify);

impl Wake {
    pub fn now(&self) {
        self.0.notify_one();
    }

    /// Resolves at the next `now` (or at once if one came since the last wait).
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}
