//! The sandbox channel: accounts bound to plates, charges that succeed or are
//! declined the way a bank's are, and the awkward parts of real channels on
//! demand ([`Behaviour`]): latency, a synchronous answer that hangs after the
//! money was taken, notifications that come late, twice or before the
//! answer, refunds, and a daily statement. It runs in the platform's process
//! (`[payments] channel = "sandbox"`) or as its own service (`onepark
//! pay-sandbox`, [`crate::http`]), so notifications really cross a socket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use onepark_domain::time::{Zone, format_time};
use serde::{Deserialize, Serialize};

use crate::{Channel, ChannelError, Charge, Contract, Notification, NotifyError, Order, Refund, State};

/// The statement's header line.
pub const STATEMENT_HEADER: &str = "time,kind,orderId,txnId,plateNo,amount";

/// Largest single charge the sandbox accepts, fen (10 million yuan).
pub const MAX_AMOUNT: i64 = 1_000_000_000;

/// How notifications of a decided charge (or refund) are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyMode {
    /// Once, right after the decision (in the background).
    #[default]
    Once,
    /// Twice: at once and again `lateMs` later (the most reported payment bug).
    Twice,
    /// Delivered (and acknowledged) before the synchronous answer returns.
    Early,
    /// Once, `lateMs` after the decision.
    Late,
    /// Never: the merchant has to query.
    None,
}

/// What the sandbox does besides deciding charges; changed at run time
/// (`POST /v1/behaviour`) so a test can make it misbehave mid-run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Behaviour {
    /// Before every answer, ms.
    pub latency_ms: u64,
    /// After a charge is decided (the money is taken), the answer waits this
    /// long, ms: callers time out while the notification tells the truth.
    pub hang_ms: u64,
    pub notify: NotifyMode,
    /// The delay of `late` and of `twice`'s second delivery, ms.
    pub late_ms: u64,
    /// Every charge is declined (the bank is refusing), with code DECLINED.
    pub decline: bool,
    /// A charge is answered `pending` and stays so (also to queries) this
    /// long, ms, before it is decided and notified: a bank still processing.
    pub settle_ms: u64,
    /// The balance of an account opened by a sign-up, fen.
    pub opening_balance: i64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            latency_ms: 0,
            hang_ms: 0,
            notify: NotifyMode::Once,
            late_ms: 2000,
            decline: false,
            settle_ms: 0,
            opening_balance: 100_000,
        }
    }
}

/// An account as the sandbox keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub plate_no: String,
    pub contract_id: String,
    /// Signed up for no-stop deduction: without it every charge is declined NOT_SIGNED.
    pub signed: bool,
    /// fen
    pub balance: i64,
    /// Largest single deduction, fen.
    pub per_payment_limit: i64,
}

/// Delivers one notification (body, signature); true when the merchant
/// acknowledged it. Unacknowledged ones are retried with backoff.
pub type Notifier = Arc<dyn Fn(Vec<u8>, String) -> futures::BoxFuture<bool> + Send + Sync>;

/// The minimal future alias the notifier needs (no `futures` crate).
pub mod futures {
    pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
}

/// Attempts per notification: at once, then after 1, 2, 4, 8 s (WeChat Pay
/// keeps trying for hours; enough here to cross a platform restart in tests).
const NOTIFY_ATTEMPTS: u32 = 5;

#[derive(Default)]
struct Book {
    accounts: HashMap<String, Account>,
    orders: HashMap<String, Order>,
    refunds: HashMap<String, (String, i64)>,
    /// (time, kind, orderId, txnId, plate, fen)
    ledger: Vec<(String, &'static str, String, String, String, i64)>,
    /// Charges accepted but not decided yet (`settle_ms`).
    pending: HashMap<String, Order>,
    sequence: u64,
    notifications: u64,
}

/// The sandbox channel. Cheap to clone; clones share the book.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    key: Vec<u8>,
    zone: Zone,
    book: Mutex<Book>,
    behaviour: RwLock<Behaviour>,
    notifier: RwLock<Option<Notifier>>,
}

impl Sandbox {
    /// `key` signs notifications (and, as a service, authenticates requests).
    pub fn new(key: &[u8], zone: Zone) -> Sandbox {
        Sandbox {
            inner: Arc::new(Inner {
                key: key.to_vec(),
                zone,
                book: Mutex::default(),
                behaviour: RwLock::default(),
                notifier: RwLock::default(),
            }),
        }
    }

    pub fn key(&self) -> &[u8] {
        &self.inner.key
    }

    /// Where notifications go (the platform's handler in process, an HTTP POST as a service).
    pub fn set_notifier(&self, notifier: Notifier) {
        *self.inner.notifier.write().unwrap_or_else(|p| p.into_inner()) = Some(notifier);
    }

    pub fn behaviour(&self) -> Behaviour {
        self.inner.behaviour.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.inner.behaviour.write().unwrap_or_else(|p| p.into_inner()) = behaviour;
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.inner.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> String {
        format_time(self.inner.zone.local(chrono::Utc::now()))
    }

    /// Opens or replaces an account (tests and the service's `POST /v1/accounts`).
    pub fn put_account(&self, account: Account) {
        self.book().accounts.insert(account.plate_no.clone(), account);
    }

    pub fn account(&self, plate_no: &str) -> Option<Account> {
        self.book().accounts.get(plate_no).cloned()
    }

    /// Notifications sent so far (every delivery attempt of every event counts once per event).
    pub fn notifications(&self) -> u64 {
        self.book().notifications
    }

    async fn pause(&self) {
        let latency = self.behaviour().latency_ms;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
    }

    /// Accepts a charge as pending and decides it `after` (then notifies).
    fn accept_pending(&self, c: &Charge, after: Duration) -> Result<Order, ChannelError> {
        let order = fresh(c, State::Pending);
        {
            let mut book = self.book();
            if let Some(existing) = book.pending.get(&c.order_id) {
                return same_order(existing, c);
            }
            book.pending.insert(c.order_id.clone(), order.clone());
        }
        let (sandbox, charge) = (self.clone(), c.clone());
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Ok((order, true)) = sandbox.decide(&charge, true) {
                sandbox.notify(&order).await;
            }
        });
        Ok(order)
    }

    /// Decides a new charge against the account, or answers the existing order.
    /// `settling`: a pending charge's time has come (it leaves `pending` in the same step).
    fn decide(&self, c: &Charge, settling: bool) -> Result<(Order, bool), ChannelError> {
        let behaviour = self.behaviour();
        let now = self.now();
        let mut book = self.book();
        if settling {
            book.pending.remove(&c.order_id);
        }
        if let Some(known) = book.pending.get(&c.order_id).or_else(|| book.orders.get(&c.order_id)) {
            return same_order(known, c).map(|o| (o, false));
        }
        book.sequence += 1;
        let sequence = book.sequence;
        let mut order = fresh(c, State::Declined);
        let decline = match book.accounts.get(&c.plate_no) {
            _ if c.interactive && behaviour.decline => Some(("DECLINED", "银行拒绝交易")),
            _ if c.interactive => None,
            None => Some(("NOT_SIGNED", "该车牌未开通无感支付")),
            Some(a) if !a.signed => Some(("NOT_SIGNED", "该车牌已解约无感支付")),
            Some(a) if c.amount > a.per_payment_limit => Some(("LIMIT", "超过单笔免密支付限额")),
            Some(a) if c.amount > a.balance => Some(("BALANCE", "账户余额不足")),
            Some(_) if behaviour.decline => Some(("DECLINED", "银行拒绝交易")),
            Some(_) => None,
        };
        match decline {
            Some((code, reason)) => {
                order.code = Some(code.into());
                order.reason = Some(reason.into());
            }
            None => {
                if let Some(account) = book.accounts.get_mut(&c.plate_no).filter(|_| !c.interactive) {
                    account.balance -= c.amount;
                }
                let txn_id = format!("SBX{}{sequence:08}", now.replace(['-', ' ', ':'], ""));
                order.state = State::Paid;
                order.paid = Some(c.amount);
                order.txn_id = Some(txn_id.clone());
                order.paid_at = Some(now.clone());
                book.ledger.push((now, "charge", c.order_id.clone(), txn_id, c.plate_no.clone(), c.amount));
            }
        }
        book.orders.insert(c.order_id.clone(), order.clone());
        Ok((order, true))
    }

    /// Sends the notifications of a decided order as the behaviour says;
    /// `Early` returns only after the first delivery.
    async fn notify(&self, order: &Order) {
        let behaviour = self.behaviour();
        let event = {
            let mut book = self.book();
            book.notifications += 1;
            format!("N{:010}", book.notifications)
        };
        let note = Notification { notify_id: event, order: order.clone() };
        let body = serde_json::to_vec(&note).unwrap_or_default();
        let late = Duration::from_millis(behaviour.late_ms);
        match behaviour.notify {
            NotifyMode::None => {}
            NotifyMode::Early => self.deliver(body, Duration::ZERO).await,
            NotifyMode::Once => self.spawn_delivery(body, Duration::ZERO),
            NotifyMode::Late => self.spawn_delivery(body, late),
            NotifyMode::Twice => {
                self.spawn_delivery(body.clone(), Duration::ZERO);
                self.spawn_delivery(body, late);
            }
        }
    }

    fn spawn_delivery(&self, body: Vec<u8>, after: Duration) {
        let sandbox = self.clone();
        tokio::spawn(async move { sandbox.deliver(body, after).await });
    }

    async fn deliver(&self, body: Vec<u8>, after: Duration) {
        let Some(notifier) = self.inner.notifier.read().unwrap_or_else(|p| p.into_inner()).clone() else {
            tracing::warn!("sandbox: no notifier set; notification dropped");
            return;
        };
        if !after.is_zero() {
            tokio::time::sleep(after).await;
        }
        let signature = crate::sign::sign(&self.inner.key, &body);
        for attempt in 0..NOTIFY_ATTEMPTS {
            if notifier(body.clone(), signature.clone()).await {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
        }
        tracing::warn!("sandbox: notification not acknowledged after {NOTIFY_ATTEMPTS} attempts");
    }
}

/// A new order for a charge, undecided.
fn fresh(c: &Charge, state: State) -> Order {
    Order {
        order_id: c.order_id.clone(),
        plate_no: c.plate_no.clone(),
        state,
        amount: c.amount,
        paid: None,
        discount: 0,
        txn_id: None,
        paid_at: None,
        code: None,
        reason: None,
        refunded: 0,
    }
}

/// The order a repeated charge names: the same, unless its plate or amount differ.
fn same_order(known: &Order, c: &Charge) -> Result<Order, ChannelError> {
    if known.plate_no != c.plate_no || known.amount != c.amount {
        return Err(ChannelError::Conflict(c.order_id.clone()));
    }
    Ok(known.clone())
}

fn check_charge(c: &Charge) -> Result<(), ChannelError> {
    if c.order_id.is_empty() || c.order_id.len() > 32 || !c.order_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ChannelError::Invalid("orderId: 1 to 32 visible ASCII characters".into()));
    }
    if c.plate_no.trim().is_empty() {
        return Err(ChannelError::Invalid("plateNo: required".into()));
    }
    if !(1..=MAX_AMOUNT).contains(&c.amount) {
        return Err(ChannelError::Invalid(format!("amount: {} is not between 1 and {MAX_AMOUNT} fen", c.amount)));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Channel for Sandbox {
    fn name(&self) -> &str {
        "sandbox"
    }

    fn paid_type(&self) -> i64 {
        // 平台账户: the city platform's own account (spec §7).
        4
    }

    async fn charge(&self, charge: &Charge) -> Result<Order, ChannelError> {
        check_charge(charge)?;
        self.pause().await;
        let settle = self.behaviour().settle_ms;
        if settle > 0 && !self.book().orders.contains_key(&charge.order_id) {
            return self.accept_pending(charge, Duration::from_millis(settle));
        }
        let (order, fresh) = self.decide(charge, false)?;
        if fresh {
            self.notify(&order).await;
            let hang = self.behaviour().hang_ms;
            if hang > 0 {
                tokio::time::sleep(Duration::from_millis(hang)).await;
            }
        }
        Ok(order)
    }

    async fn query(&self, order_id: &str) -> Result<Order, ChannelError> {
        if let Some(pending) = self.book().pending.get(order_id) {
            return Ok(pending.clone());
        }
        self.pause().await;
        self.book().orders.get(order_id).cloned().ok_or_else(|| ChannelError::NoOrder(order_id.to_owned()))
    }

    async fn refund(&self, r: &Refund) -> Result<Order, ChannelError> {
        self.pause().await;
        let now = self.now();
        let order = {
            let mut book = self.book();
            if let Some((order_id, amount)) = book.refunds.get(&r.refund_id) {
                if *order_id != r.order_id || *amount != r.amount {
                    return Err(ChannelError::Conflict(r.refund_id.clone()));
                }
                return book.orders.get(&r.order_id).cloned().ok_or_else(|| ChannelError::NoOrder(r.order_id.clone()));
            }
            let Some(order) = book.orders.get_mut(&r.order_id) else {
                return Err(ChannelError::NoOrder(r.order_id.clone()));
            };
            let left = order.paid.unwrap_or(0) - order.refunded;
            if !matches!(order.state, State::Paid | State::Refunded) || r.amount <= 0 || r.amount > left {
                return Err(ChannelError::Invalid(format!("amount: {} fen, refundable {left} fen", r.amount)));
            }
            order.refunded += r.amount;
            order.state = State::Refunded;
            let (order, plate, txn) = (order.clone(), order.plate_no.clone(), order.txn_id.clone().unwrap_or_default());
            if let Some(account) = book.accounts.get_mut(&plate) {
                account.balance += r.amount;
            }
            book.refunds.insert(r.refund_id.clone(), (r.order_id.clone(), r.amount));
            book.ledger.push((now, "refund", r.order_id.clone(), txn, plate, -r.amount));
            order
        };
        self.notify(&order).await;
        Ok(order)
    }

    async fn sign_up(&self, plate_no: &str, per_payment_limit: i64) -> Result<Contract, ChannelError> {
        if plate_no.trim().is_empty() {
            return Err(ChannelError::Invalid("plateNo: required".into()));
        }
        if !(1..=MAX_AMOUNT).contains(&per_payment_limit) {
            return Err(ChannelError::Invalid("perPaymentLimit: between 1 and 1000000000 fen".into()));
        }
        let opening = self.behaviour().opening_balance;
        let mut book = self.book();
        book.sequence += 1;
        let contract_id = format!("SBXC{:010}", book.sequence);
        let account = book.accounts.entry(plate_no.to_owned()).or_insert_with(|| Account {
            plate_no: plate_no.to_owned(),
            contract_id: contract_id.clone(),
            signed: true,
            balance: opening,
            per_payment_limit,
        });
        account.signed = true;
        account.per_payment_limit = per_payment_limit;
        Ok(Contract { plate_no: plate_no.to_owned(), contract_id: account.contract_id.clone(), per_payment_limit })
    }

    async fn statement(&self, date: chrono::NaiveDate) -> Result<String, ChannelError> {
        let day = date.format("%Y-%m-%d").to_string();
        let book = self.book();
        let mut csv = format!("{STATEMENT_HEADER}\n");
        for (time, kind, order_id, txn_id, plate, amount) in book.ledger.iter().filter(|l| l.0.starts_with(&day)) {
            csv.push_str(&format!("{time},{kind},{order_id},{txn_id},{plate},{amount}\n"));
        }
        Ok(csv)
    }

    fn verify(&self, body: &[u8], signature: Option<&str>) -> Result<Notification, NotifyError> {
        let signature = signature.ok_or(NotifyError::Unsigned)?;
        if !crate::sign::verify(&self.inner.key, body, signature) {
            return Err(NotifyError::BadSignature);
        }
        serde_json::from_slice(body).map_err(|e| NotifyError::Body(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn charge(id: &str, plate: &str, amount: i64) -> Charge {
        Charge {
            order_id: id.into(), plate_no: plate.into(), amount, description: "停车费".into(), interactive: false
        }
    }

    fn counting(sandbox: &Sandbox) -> Arc<AtomicUsize> {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        sandbox.set_notifier(Arc::new(move |_, _| {
            let seen = seen.clone();
            Box::pin(async move {
                seen.fetch_add(1, Ordering::SeqCst);
                true
            })
        }));
        count
    }

    #[tokio::test]
    async fn charges_are_decided_by_the_account_and_idempotent() {
        let sandbox = Sandbox::new(b"k", Zone::default());
        sandbox.set_behaviour(Behaviour { notify: NotifyMode::Early, ..Behaviour::default() });
        let notes = counting(&sandbox);
        let declined = sandbox.charge(&charge("o1", "鲁B12345", 500)).await.expect("answer");
        assert_eq!((declined.state, declined.code.as_deref()), (State::Declined, Some("NOT_SIGNED")));
        sandbox.sign_up("鲁B12345", 2000).await.expect("signed");
        let over = sandbox.charge(&charge("o2", "鲁B12345", 2001)).await.expect("answer");
        assert_eq!(over.code.as_deref(), Some("LIMIT"));
        let paid = sandbox.charge(&charge("o3", "鲁B12345", 500)).await.expect("answer");
        assert_eq!((paid.state, paid.paid), (State::Paid, Some(500)));
        let again = sandbox.charge(&charge("o3", "鲁B12345", 500)).await.expect("answer");
        assert_eq!(again, paid, "the same order, not a second charge");
        assert_eq!(sandbox.account("鲁B12345").map(|a| a.balance), Some(100_000 - 500));
        assert!(matches!(sandbox.charge(&charge("o3", "鲁B12345", 600)).await, Err(ChannelError::Conflict(_))));
        assert_eq!(notes.load(Ordering::SeqCst), 3, "one notification per decided order");
        let refunded = sandbox
            .refund(&Refund {
                order_id: "o3".into(), refund_id: "r1".into(), amount: 500, reason: "线下已缴".into()
            })
            .await
            .expect("refund");
        assert_eq!((refunded.state, refunded.refunded), (State::Refunded, 500));
        assert!(sandbox.refund(&Refund { refund_id: "r2".into(), amount: 1, ..refund("o3") }).await.is_err());
        let day = chrono::Utc::now().with_timezone(&chrono_tz()).date_naive();
        let lines = crate::parse_statement(&sandbox.statement(day).await.expect("csv")).expect("parse");
        assert_eq!(lines.iter().map(|l| l.amount).collect::<Vec<_>>(), [500, -500]);
    }

    fn refund(order: &str) -> Refund {
        Refund { order_id: order.into(), refund_id: "r".into(), amount: 1, reason: String::new() }
    }

    fn chrono_tz() -> chrono::FixedOffset {
        chrono::FixedOffset::east_opt(8 * 3600).expect("offset")
    }

    #[tokio::test]
    async fn notifications_can_come_twice_and_bad_signatures_are_refused() {
        let sandbox = Sandbox::new(b"key", Zone::default());
        sandbox.set_behaviour(Behaviour { notify: NotifyMode::Twice, late_ms: 10, ..Behaviour::default() });
        let notes = counting(&sandbox);
        sandbox.sign_up("鲁B1", 100).await.expect("signed");
        sandbox.charge(&charge("x", "鲁B1", 100)).await.expect("paid");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(notes.load(Ordering::SeqCst), 2);
        let body = br#"{"notifyId":"N1","order":{"orderId":"x","plateNo":"p","state":"paid","amount":1}}"#;
        let good = crate::sign::sign(b"key", body);
        assert!(sandbox.verify(body, Some(&good)).is_ok());
        assert_eq!(sandbox.verify(body, Some(&crate::sign::sign(b"other", body))), Err(NotifyError::BadSignature));
        assert_eq!(sandbox.verify(body, None), Err(NotifyError::Unsigned));
    }
}
