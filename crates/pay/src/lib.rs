//! The payment-channel seam: what the platform asks of a channel (WeChat Pay,
//! Alipay, UnionPay, ETC, … ; docs/payments.md) and the one channel built in,
//! [`sandbox`], which behaves like a real one — latency, declines, timeouts,
//! notifications that come late, twice or before the synchronous answer,
//! refunds, idempotency by the merchant's order id and a daily statement — so
//! the platform is built against real-world behaviour, not a happy path.
//!
//! Money is integer fen; times are `yyyy-MM-dd HH:mm:ss` in the channel's zone.

use serde::{Deserialize, Serialize};

pub mod http;
pub mod sandbox;
pub mod sign;

/// One charge: the merchant's order id makes it idempotent — asking again
/// with the same id answers the same order, never charges twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// The merchant's order id (≤ 32 visible ASCII characters, as WeChat Pay's `out_trade_no`).
    pub order_id: String,
    /// The account is bound to the plate (no-stop deduction contracts are per plate).
    pub plate_no: String,
    /// fen, > 0
    pub amount: i64,
    /// What the driver sees on the statement.
    pub description: String,
    /// The driver approves this payment himself (a scan or in-app payment on
    /// the driver page): no contract needed. Otherwise it is a deduction
    /// (免密代扣) from the plate's signed-up account.
    #[serde(default)]
    pub interactive: bool,
}

/// A charge's state at the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Accepted, result to follow (notification or query).
    Pending,
    Paid,
    Declined,
    /// Paid, then (partly or wholly) refunded.
    Refunded,
}

/// The channel's view of one order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: String,
    pub plate_no: String,
    pub state: State,
    /// Asked for, fen.
    pub amount: i64,
    /// Taken from the account, fen (amount − discount) once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid: Option<i64>,
    /// The channel's own discount, fen (a coupon).
    #[serde(default)]
    pub discount: i64,
    /// The channel's transaction number (`orderCode` on the Qingdao wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn_id: Option<String>,
    /// When the channel took the money, yyyy-MM-dd HH:mm:ss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<String>,
    /// Declined: the channel's code (NOT_SIGNED, BALANCE, LIMIT, DECLINED) and text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Refunded so far, fen.
    #[serde(default)]
    pub refunded: i64,
}

/// A refund of (part of) a paid order; `refund_id` makes it idempotent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub order_id: String,
    pub refund_id: String,
    /// fen, > 0, at most what is left of the payment.
    pub amount: i64,
    pub reason: String,
}

/// A driver's no-stop deduction contract (签约): the account paying for a plate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    pub plate_no: String,
    /// The channel's contract id.
    pub contract_id: String,
    /// Largest single deduction the driver allowed, fen.
    pub per_payment_limit: i64,
}

/// What a channel tells the merchant asynchronously, signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Unique per notification event; repeated deliveries of one event repeat it.
    pub notify_id: String,
    pub order: Order,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// No answer in time: the order's state is unknown (query it; never charge a new one).
    #[error("payment channel timed out")]
    Timeout,
    /// The channel could not be reached or answered garbage.
    #[error("payment channel unavailable: {0}")]
    Unavailable(String),
    /// The request is wrong (the field named): retrying cannot help.
    #[error("payment channel refused the request: {0}")]
    Invalid(String),
    /// The order id was used before with other content.
    #[error("order {0} exists with a different plate or amount")]
    Conflict(String),
    #[error("no order {0} at the channel")]
    NoOrder(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    #[error("notification signature missing")]
    Unsigned,
    #[error("notification signature does not match")]
    BadSignature,
    #[error("notification body is not a notification: {0}")]
    Body(String),
}

/// A payment channel, as the platform uses it. Implementations: [`sandbox::Sandbox`]
/// in process, [`http::HttpChannel`] over HTTP (the sandbox as its own service,
/// and the shape of a WeChat Pay / Alipay / UnionPay / ETC adapter).
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// The name stored with every order (`sandbox`, `wechat`, …).
    fn name(&self) -> &str;

    /// The 付费方式 (`paidType`, spec §7) the Qingdao wire reports for this channel.
    fn paid_type(&self) -> i64;

    /// Charges the plate's account. `Ok` with [`State::Pending`] when the channel
    /// accepted it but has not decided; `Err(Timeout)` when it did not answer.
    async fn charge(&self, charge: &Charge) -> Result<Order, ChannelError>;

    /// The order as the channel knows it.
    async fn query(&self, order_id: &str) -> Result<Order, ChannelError>;

    async fn refund(&self, refund: &Refund) -> Result<Order, ChannelError>;

    /// Signs a driver up for no-stop deduction (a real channel does this on its
    /// own pages and reports the contract; the sandbox opens an account).
    async fn sign_up(&self, plate_no: &str, per_payment_limit: i64) -> Result<Contract, ChannelError>;

    /// The day's statement: CSV, one line per charge or refund (see [`sandbox::STATEMENT_HEADER`]).
    async fn statement(&self, date: chrono::NaiveDate) -> Result<String, ChannelError>;

    /// Verifies and reads a notification as it arrived (body, signature header).
    fn verify(&self, body: &[u8], signature: Option<&str>) -> Result<Notification, NotifyError>;
}

/// No channel configured: online payment is off. A production platform
/// without a real channel must never take play money, so every charge and
/// sign-up is refused (the lot collects at the booth), the statement is empty
/// and no notification is believed.
pub struct Disabled;

/// Why [`Disabled`] refuses.
pub const DISABLED: &str = "online payment is off: no payment channel is configured ([payments] channel)";

#[async_trait::async_trait]
impl Channel for Disabled {
    fn name(&self) -> &str {
        "off"
    }

    fn paid_type(&self) -> i64 {
        4
    }

    async fn charge(&self, _: &Charge) -> Result<Order, ChannelError> {
        Err(ChannelError::Invalid(DISABLED.into()))
    }

    async fn query(&self, order_id: &str) -> Result<Order, ChannelError> {
        Err(ChannelError::NoOrder(order_id.into()))
    }

    async fn refund(&self, _: &Refund) -> Result<Order, ChannelError> {
        Err(ChannelError::Invalid(DISABLED.into()))
    }

    async fn sign_up(&self, _: &str, _: i64) -> Result<Contract, ChannelError> {
        Err(ChannelError::Invalid(DISABLED.into()))
    }

    async fn statement(&self, _: chrono::NaiveDate) -> Result<String, ChannelError> {
        Ok(format!("{}\n", sandbox::STATEMENT_HEADER))
    }

    fn verify(&self, _: &[u8], _: Option<&str>) -> Result<Notification, NotifyError> {
        Err(NotifyError::BadSignature)
    }
}

/// One line of a statement, parsed (for reconciliation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementLine {
    pub time: String,
    pub kind: String,
    pub order_id: String,
    pub txn_id: String,
    pub plate_no: String,
    /// fen: positive for a charge, negative for a refund
    pub amount: i64,
}

/// Parses a statement made by [`Channel::statement`]; a bad line names its number.
pub fn parse_statement(csv: &str) -> Result<Vec<StatementLine>, String> {
    let mut lines = csv.lines();
    match lines.next() {
        Some(header) if header.trim() == sandbox::STATEMENT_HEADER => {}
        other => return Err(format!("line 1: expected the header `{}`, got {other:?}", sandbox::STATEMENT_HEADER)),
    }
    let mut out = Vec::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let [time, kind, order_id, txn_id, plate_no, amount] = f.as_slice() else {
            return Err(format!("line {}: expected 6 fields, got {}", n + 2, f.len()));
        };
        let amount = amount.parse().map_err(|_| format!("line {}: amount `{amount}` is not fen", n + 2))?;
        out.push(StatementLine {
            time: time.to_string(),
            kind: kind.to_string(),
            order_id: order_id.to_string(),
            txn_id: txn_id.to_string(),
            plate_no: plate_no.to_string(),
            amount,
        });
    }
    Ok(out)
}
