//! Payments, pay-after-leave and arrears through the uplink pipeline, with
//! the in-process sandbox channel misbehaving on purpose: on SQLite always
//! and on PostgreSQL when DATABASE_URL is set.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use onepark_pay::Channel;
use onepark_pay::sandbox::{Behaviour, NotifyMode};
use onepark_platform::app::{AppState, router, start_payments};
use onepark_platform::store::Store;
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::pg::PgSchema;
use onepark_testkit::router::send;
use onepark_testkit::uplink::{self, Lot};
use serde_json::{Value, json};

struct Harness {
    dir: std::path::PathBuf,
    app: axum::Router,
    state: AppState,
    lot: Lot,
}

impl Harness {
    async fn new(database: String, tag: &str) -> Harness {
        let dir = std::env::temp_dir().join(format!("onepark-payments-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut config = common::config(database, dir.clone(), "234");
        // Another car park's operator (accessID 235, lot 2001), with its own rights only.
        let mut other = config.lots[0].clone();
        other.access_id = "235".into();
        other.parking_codes = vec!["2001".into()];
        config.lots.push(other);
        let store = Store::connect(&config.database).await.expect("store");
        let state = AppState::new(&config, store);
        start_payments(&state);
        Harness { dir, app: router(&config, state.clone()), state, lot: Lot::new() }
    }

    async fn send(&self, interface: &str, data: Value) -> Value {
        self.send_as("234", interface, data).await
    }

    /// The form of a sealed request, as a lot would post it.
    fn seal(&self, access_id: &str, data: &Value) -> String {
        self.lot.seal(access_id, data, None)
    }

    async fn send_as(&self, access_id: &str, interface: &str, data: Value) -> Value {
        self.post_form(interface, self.seal(access_id, &data)).await
    }

    async fn post_form(&self, interface: &str, body: String) -> Value {
        let reply = uplink::post(&self.app, interface, body).await;
        let (status, reply) = (reply.status, reply.json());
        assert_eq!(status, 200, "{interface}: {reply}");
        reply
    }

    /// A driver page's form post, with its CSRF token: (status, Location or body).
    async fn driver_post(&self, path: &str, form: String) -> (u16, String) {
        self.driver_post_with(path, form, "").await
    }

    /// … with more cookies (a plate's proof).
    async fn driver_post_with(&self, path: &str, form: String, cookies: &str) -> (u16, String) {
        let request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("op_csrf={CSRF}; {cookies}"))
            .body(Body::from(format!("{form}&csrf={CSRF}")))
            .expect("post");
        let reply = send(&self.app, request).await;
        (reply.status, reply.header("location").unwrap_or_else(|| reply.text()))
    }

    /// The sandbox's charges of a plate today (its statement).
    async fn charges(&self, plate: &str) -> usize {
        let csv = self.sandbox().statement(now().date()).await.expect("statement");
        csv.lines().filter(|l| l.contains(",charge,") && l.contains(plate)).count()
    }

    /// A car `plate` entered lot `code` (uid `uid`) 90 minutes ago and, with `left`, left a minute ago.
    async fn stay(&self, access_id: &str, code: &str, uid: &str, plate: &str, left: bool) {
        let entry = json!({ "uid": uid, "arrivalID": "1", "plateNo": plate, "carType": 1, "parkingCode": code,
            "entryNum": "1", "totalBerthNum": 150, "openBerthNum": 130, "freeBerthNum": 70, "arriveTime": at(90),
            "parkingType": 1, "plateColor": 1, "uploadTime": at(0) });
        assert_eq!(code_of(&self.send_as(access_id, "uploadCarInData", entry).await), "200");
        if left {
            let exit = json!({ "uid": uid, "exitID": "2", "plateNo": plate, "parkingCode": code, "arriveTime": at(90),
                "endTime": at(1), "totalBerthNum": 150, "openBerthNum": 130, "freeBerthNum": 71, "chargeFee": 1000,
                "shouldPay": 1000, "carType": 1, "plateColor": 1, "parkingType": 1, "entryNum": "1", "outNum": "2",
                "uploadTime": at(0) });
            let reply = self.send_as(access_id, "uploadCarOutData", exit).await;
            assert_eq!(code_of(&reply), "200", "{reply}");
        }
    }

    async fn get(&self, path: &str) -> Value {
        let request = Request::get(path).header("authorization", "Bearer test-token").body(Body::empty()).expect("get");
        common::call(&self.app, request).await.1
    }

    fn sandbox(&self) -> &onepark_pay::sandbox::Sandbox {
        self.state.payments().sandbox.as_ref().expect("in-process sandbox")
    }

    /// Proves the plate (the sandbox's "prove at once") and signs it up.
    async fn sign_up(&self, plate: &str, no_stop: bool, after_leave: bool) {
        let proof = self.prove(plate).await;
        let mut form = format!("plate={}&limit=50", enc(plate));
        if no_stop {
            form.push_str("&no_stop=1");
        }
        if after_leave {
            form.push_str("&after_leave=1");
        }
        let (status, to) = self.driver_post_with("/pay/signup", form, &proof).await;
        assert_eq!(status, 303, "sign-up redirects to the plate's page: {to}");
    }

    /// The proof cookie of a plate, from the sandbox's "prove at once".
    async fn prove(&self, plate: &str) -> String {
        let request = Request::post("/pay/verify")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("op_csrf={CSRF}"))
            .body(Body::from(format!("plate={}&sandbox=1&csrf={CSRF}", enc(plate))))
            .expect("verify");
        let response = tower::ServiceExt::oneshot(self.app.clone(), request).await.expect("call");
        assert_eq!(response.status(), 303, "proven");
        let set = response.headers().get("set-cookie").and_then(|c| c.to_str().ok()).expect("a proof cookie");
        set.split(';').next().expect("pair").to_owned()
    }
}

/// The driver forms' token a browser would have from its page (double submit).
const CSRF: &str = "0123456789abcdef0123456789abcdef";

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn code_of(reply: &Value) -> &str {
    code(reply)
}

fn code(reply: &Value) -> &str {
    reply["resultCode"].as_str().unwrap_or_default()
}

fn msg(reply: &Value) -> &str {
    reply["msg"].as_str().unwrap_or_default()
}

fn now() -> chrono::NaiveDateTime {
    onepark_domain::time::Zone::default().local(chrono::Utc::now())
}

fn at(minutes_ago: i64) -> String {
    onepark_domain::time::format_time(now() - chrono::Duration::minutes(minutes_ago))
}

fn apply(bill: &str, plate: &str, fen: i64, left: bool) -> Value {
    json!({ "parkingCode": "1001", "uid": format!("U{bill}"), "plateNo": plate, "plateColor": 1,
        "arriveTime": at(90), "endTime": at(1), "outNum": "2", "billID": bill, "billTime": at(1),
        "shouldPay": fen, "payStatus": 0, "carStock": i64::from(left) })
}

fn bill_query(bill: &str, plate: &str) -> Value {
    json!({ "billID": bill, "parkingCode": "1001", "plateNo": plate })
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn scenario(h: Harness, tag: &str) {
    let plate = format!("鲁B{}1", &tag[..4]);
    for bill in 0..3 {
        h.stay("234", "1001", &format!("U{tag}-{bill}"), &plate, false).await;
    }
    // Not signed up: the lot is told to collect at the booth.
    let reply = h.send("applyPayment", apply(&format!("{tag}-0"), &plate, 1000, false)).await;
    assert_eq!((code(&reply), reply["payStatus"].as_i64()), ("200", Some(0)), "{reply}");
    assert!(msg(&reply).contains("未开通无感支付"), "{reply}");

    h.sign_up(&plate, true, false).await;
    let opening = h.sandbox().account(&plate).expect("account").balance;
    let b1 = format!("{tag}-1");
    let paid = h.send("applyPayment", apply(&b1, &plate, 1000, false)).await;
    assert_eq!((paid["payStatus"].as_i64(), paid["actualPay"].as_i64()), (Some(1), Some(1000)), "{paid}");
    assert_eq!(paid["paidType"], 4, "{paid}");
    assert!(paid["orderCode"].as_str().is_some_and(|c| c.starts_with("SBX")), "{paid}");
    // Asked again (the lane timed out on its side): the same answer, not a second charge.
    let again = h.send("applyPayment", apply(&b1, &plate, 1000, false)).await;
    assert_eq!((again["payStatus"].as_i64(), again["orderCode"].clone()), (Some(1), paid["orderCode"].clone()));
    assert!(msg(&again).contains("未再次扣款"), "{again}");
    assert_eq!(h.sandbox().account(&plate).expect("account").balance, opening - 1000, "charged once");
    let other = h.send("applyPayment", apply(&b1, &plate, 1200, false)).await;
    assert_eq!(code(&other), "400", "{other}");
    assert!(msg(&other).contains("不能再次扣款"), "{other}");
    let result = h.send("getPayResult", bill_query(&b1, &plate)).await;
    assert_eq!((result["payStatus"].as_i64(), result["payType"].as_i64()), (Some(1), Some(103)), "{result}");
    // The spec's code for "no data found" (item 7).
    let unknown = h.send("getPayResult", bill_query("nope", &plate)).await;
    assert!(code(&unknown) == "204" && msg(&unknown).contains("不存在"), "{unknown}");

    // The channel hangs after taking the money: the answer is "unknown" in
    // time, the notification then says paid; the lot meanwhile collected
    // it in cash, so the charge is refunded.
    h.sandbox().set_behaviour(Behaviour { hang_ms: 3000, notify: NotifyMode::Once, ..Behaviour::default() });
    let b2 = format!("{tag}-2");
    let started = std::time::Instant::now();
    let unknown = h.send("applyPayment", apply(&b2, &plate, 700, false)).await;
    assert!(started.elapsed() < Duration::from_millis(2500), "answered within the platform's bound");
    assert_eq!(unknown["payStatus"].as_i64(), Some(0), "{unknown}");
    assert!(msg(&unknown).contains("结果未知"), "{unknown}");
    eventually("the notification to settle the charge", async || {
        h.send("getPayResult", bill_query(&b2, &plate)).await["payStatus"].as_i64() == Some(1)
    })
    .await;
    h.sandbox().set_behaviour(Behaviour::default());
    let cash = json!({ "billID": b2, "uid": format!("U{b2}"), "plateNo": plate, "parkingCode": "1001",
        "chargeFee": 700, "shouldPay": 700, "actualPay": 700, "billTime": at(1), "dealTime": at(1), "paidType": 1,
        "payType": 103, "uploadTime": at(0), "billWay": 0 });
    assert_eq!(code(&h.send("uploadPayRecord", cash).await), "200");
    eventually("the refund", async || {
        let payments = h.get(&format!("/api/admin/payments?plateNo={}", enc(&plate))).await;
        payments["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|p| p["billId"] == b2 && p["state"] == "refunded"))
    })
    .await;
    assert_eq!(h.sandbox().account(&plate).expect("account").balance, opening - 1000, "the cash bill was refunded");

    // A forged notification is refused; a repeated one changes nothing.
    let order = h.state.store().payment("1001", &b1).await.expect("read").expect("payment");
    let forged = br#"{"notifyId":"N9","order":{"orderId":"x","plateNo":"p","state":"paid","amount":1}}"#;
    let request = Request::post("/api/pay/notify").header("x-onepark-signature", "00").body(Body::from(&forged[..]));
    assert_eq!(common::call(&h.app, request.expect("notify")).await.0, 401);
    let channel_order = h.sandbox().query(&order.order_id).await.expect("order");
    let body = serde_json::to_vec(&json!({ "notifyId": "N-dup", "order": channel_order })).expect("body");
    let signature = onepark_pay::sign::sign(h.sandbox().key(), &body);
    for _ in 0..2 {
        let request = Request::post("/api/pay/notify").header("x-onepark-signature", signature.clone());
        assert_eq!(common::call(&h.app, request.body(Body::from(body.clone())).expect("notify")).await.0, 200);
    }
    let after = h.state.store().payment("1001", &b1).await.expect("read").expect("payment");
    assert_eq!((after.state, after.actual_pay), (order.state, order.actual_pay), "duplicates change nothing");

    // Pay after leave, not signed up: the bill is owed across the city.
    let debtor = format!("鲁B{}2", &tag[..4]);
    h.stay("234", "1001", &format!("U{tag}-3"), &debtor, true).await;
    h.stay("234", "1002", &format!("U{tag}-4"), &debtor, true).await;
    let owed = h.send("applyPayment", apply(&format!("{tag}-3"), &debtor, 1500, true)).await;
    assert_eq!(owed["payStatus"].as_i64(), Some(0), "{owed}");
    let abnormal = json!({ "billID": format!("{tag}-4"), "parkingCode": "1002", "uid": format!("U{tag}-4"),
        "plateNo": debtor, "plateColor": 1, "arriveTime": at(400), "endTime": at(300), "billTime": at(300),
        "shouldPay": 500, "payStatus": 0 });
    assert_eq!(code(&h.send("uploadAbnormalBill", abnormal.clone()).await), "200");
    assert!(msg(&h.send("uploadAbnormalBill", abnormal).await).contains("未重复登记"));
    let arrears = h.send("getOverDueResult", json!({ "parkingCode": "1001", "plateNo": debtor })).await;
    assert_eq!(
        (arrears["overDueCount"].as_i64(), arrears["unPay"].as_i64(), arrears["prevent"].as_i64()),
        (Some(2), Some(2000), Some(1)),
        "{arrears}"
    );
    let info =
        h.send("getDeparturePayInfo", json!({ "parkingCode": "1001", "plateNo": debtor, "plateColor": 1 })).await;
    assert_eq!(info["noSense"], 0, "{info}");
    let written =
        h.send("cancelOverDueBill", json!({ "parkingCode": "1001", "plateNo": debtor, "plateColor": 1 })).await;
    assert!(msg(&written).contains("2 笔"), "{written}");
    let arrears = h.send("getOverDueResult", json!({ "parkingCode": "1001", "plateNo": debtor })).await;
    assert_eq!((arrears["unPay"].as_i64(), arrears["prevent"].as_i64()), (Some(0), Some(0)), "{arrears}");
    // The written-off bill is settled for the lot too, and never charged again.
    let settled = h.send("getPayResult", bill_query(&format!("{tag}-3"), &debtor)).await;
    assert_eq!((settled["payStatus"].as_i64(), settled["payType"].as_i64()), (Some(1), Some(104)), "{settled}");
    let again = h.send("applyPayment", apply(&format!("{tag}-3"), &debtor, 1500, true)).await;
    assert!(again["payStatus"] == 1 && msg(&again).contains("结清"), "{again}");
    let today = now().date().to_string();
    let daily =
        h.send("checkDailyBill", json!({ "parkingCode": "1001", "checkBillTime": today, "plateNo": debtor })).await;
    let row = &daily["detail"][0];
    assert_eq!(
        (daily["dailyCount"].as_i64(), row["payStatus"].as_i64(), row["payType"].as_i64()),
        (Some(1), Some(1), Some(104)),
        "{daily}"
    );

    // Signed up for pay-after-leave: the day's bill reconciles with checkDailyBill.
    let leaver = format!("鲁B{}3", &tag[..4]);
    h.stay("234", "1001", &format!("U{tag}-5"), &leaver, true).await;
    h.sign_up(&leaver, false, true).await;
    let info =
        h.send("getDeparturePayInfo", json!({ "parkingCode": "1001", "plateNo": leaver, "plateColor": 1 })).await;
    assert_eq!(
        (info["noSense"].as_i64(), info["moneyLimit"].as_i64(), info["departurePay"].as_i64()),
        (Some(1), Some(5000), Some(1))
    );
    let settled = h.send("applyPayment", apply(&format!("{tag}-5"), &leaver, 800, true)).await;
    assert_eq!(settled["payStatus"].as_i64(), Some(1), "{settled}");
    let daily =
        h.send("checkDailyBill", json!({ "parkingCode": "1001", "checkBillTime": today, "plateNo": leaver })).await;
    assert_eq!(
        (daily["dailyCount"].as_i64(), daily["dailyShouldPay"].as_i64(), daily["dailyActualPay"].as_i64()),
        (Some(1), Some(800), Some(800)),
        "{daily}"
    );
    assert_eq!(daily["detail"][0]["payType"], 101, "{daily}");

    // A signed-up car enters: departurePayInfo goes to the lot; refused, it is recorded with the reason.
    let entry = json!({ "uid": format!("{tag}-in"), "arrivalID": "1", "plateNo": leaver, "carType": 1,
        "parkingCode": "1001", "entryNum": "1", "totalBerthNum": 150, "openBerthNum": 130, "freeBerthNum": 70,
        "arriveTime": at(0), "parkingType": 1, "plateColor": 1, "uploadTime": at(0) });
    assert_eq!(code(&h.send("uploadCarInData", entry).await), "200");
    let mut request_id = 0;
    eventually("departurePayInfo queued", async || {
        let downlinks = h.get("/api/admin/downlinks?parkingCode=1001").await;
        let found = downlinks["items"].as_array().and_then(|items| {
            items.iter().find(|d| d["interface"] == "departurePayInfo" && d["subject"] == leaver.as_str()).cloned()
        });
        request_id = found.and_then(|d| d["requestId"].as_i64()).unwrap_or(0);
        request_id != 0
    })
    .await;
    let params = json!({ "plateNo": leaver, "plateColor": 1, "parkingCode": "1001", "noSense": 1, "moneyLimit": 5000, "departurePay": 1 });
    let refusal = json!({ "success": false, "requestId": request_id, "params": params, "msg": "测试：闸机离线" });
    assert_eq!(code(&h.send("confirmDeparturePayInfo", refusal).await), "200");
    let downlinks = h.get("/api/admin/downlinks?state=refused").await;
    let refused = downlinks["items"].as_array().and_then(|i| i.iter().find(|d| d["requestId"] == request_id).cloned());
    let refused = refused.expect("the refusal is listed");
    assert_eq!(refused["confirmReason"], "测试：闸机离线", "{refused}");
}

/// Issue 21: what a double-tapping driver, a retrying lot or another car park
/// tried against the money paths. Each check failed before the fix.
async fn attacks(h: Harness, tag: &str) {
    let p = |n: u32| format!("鲁C{}{n}", &tag[..4]);
    h.sandbox().set_behaviour(Behaviour::default());

    // 1. "Pay all arrears" tapped four times at once while the bank is still
    //    processing: one charge, every tap shows its receipt.
    let debtor = p(1);
    for i in 0..2 {
        let bill = format!("{tag}-A{i}");
        h.stay("234", "1001", &format!("U{bill}"), &debtor, true).await;
        let owed = h.send("applyPayment", apply(&bill, &debtor, 500 + i, true)).await;
        assert_eq!(owed["payStatus"].as_i64(), Some(0), "{owed}");
    }
    h.sandbox().set_behaviour(Behaviour { settle_ms: 1500, ..Behaviour::default() });
    let form = format!("plate={}", enc(&debtor));
    let tap = || h.driver_post("/pay/arrears", form.clone());
    let (a, b, c, d) = tokio::join!(tap(), tap(), tap(), tap());
    let taps = [a, b, c, d];
    let receipts: std::collections::BTreeSet<String> = taps.iter().map(|(_, to)| to.clone()).collect();
    assert!(taps.iter().all(|(status, _)| *status == 303), "{taps:?}");
    assert_eq!(receipts.len(), 1, "every tap shows the one charge: {taps:?}");
    // A second tap after the bank answered: still that charge.
    eventually("the arrears paid", async || {
        h.send("getOverDueResult", json!({ "parkingCode": "1001", "plateNo": debtor })).await["unPay"] == 0
    })
    .await;
    assert_eq!(h.charges(&debtor).await, 1, "charged once for the arrears");
    h.sandbox().set_behaviour(Behaviour::default());

    // 6. One transaction number per payment: the channel's, everywhere.
    let txn = h.get(&format!("/api/admin/payments?plateNo={}", enc(&debtor))).await["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["purpose"] == "arrears").map(|p| p["txnId"].clone()))
        .expect("the arrears charge");
    assert!(txn.as_str().is_some_and(|t| t.starts_with("SBX")), "{txn}");
    let result = h.send("getPayResult", bill_query(&format!("{tag}-A0"), &debtor)).await;
    assert_eq!((result["payStatus"].as_i64(), &result["orderCode"]), (Some(1), &txn), "{result}");
    let again = h.send("applyPayment", apply(&format!("{tag}-A0"), &debtor, 500, true)).await;
    assert_eq!(&again["orderCode"], &txn, "{again}");
    let daily = h
        .send(
            "checkDailyBill",
            json!({ "parkingCode": "1001", "checkBillTime": now().date().to_string(), "plateNo": debtor }),
        )
        .await;
    let codes: Vec<&Value> = daily["detail"].as_array().expect("detail").iter().map(|d| &d["orderCode"]).collect();
    assert!(codes.len() == 2 && codes.iter().all(|c| **c == txn), "{daily}");

    // 2. The lot retries a declined after-leave bill (pending at the bank)
    //    while the driver pays the same debt as arrears: paid once.
    let leaver = p(2);
    let bill = format!("{tag}-B");
    h.stay("234", "1001", &format!("U{bill}"), &leaver, true).await;
    assert_eq!(h.send("applyPayment", apply(&bill, &leaver, 900, true)).await["payStatus"], 0);
    h.sign_up(&leaver, false, true).await;
    let balance = h.sandbox().account(&leaver).expect("account").balance;
    h.sandbox().set_behaviour(Behaviour { settle_ms: 1500, ..Behaviour::default() });
    let retry = h.send("applyPayment", apply(&bill, &leaver, 900, true)).await;
    assert_eq!(retry["payStatus"].as_i64(), Some(0), "still processing: {retry}");
    let (status, _) = h.driver_post("/pay/arrears", format!("plate={}", enc(&leaver))).await;
    assert_eq!(status, 409, "the bill is being paid by the lot's retry");
    eventually("the retry settled", async || {
        h.send("getPayResult", bill_query(&bill, &leaver)).await["payStatus"] == 1
    })
    .await;
    // The arrears row was settled in the same commit as the payment.
    h.sandbox().set_behaviour(Behaviour::default());
    assert_eq!(h.charges(&leaver).await, 1, "paid once");
    assert_eq!(h.sandbox().account(&leaver).expect("account").balance, balance - 900);
    let left = h.send("getOverDueResult", json!({ "parkingCode": "1001", "plateNo": leaver })).await;
    assert_eq!(left["unPay"], 0, "{left}");

    // 4. A declined bill re-applied with another plate and amount is refused.
    let other = p(3);
    h.stay("234", "1001", &format!("U{tag}-C"), &other, true).await;
    let first = h.send("applyPayment", apply(&format!("{tag}-C"), &other, 400, true)).await;
    assert_eq!(first["payStatus"], 0);
    h.sign_up(&other, true, true).await;
    let cheaper = h.send("applyPayment", apply(&format!("{tag}-C"), &other, 100, true)).await;
    assert_eq!(code(&cheaper), "400", "{cheaper}");
    assert!(msg(&cheaper).contains("不能再次扣款"), "{cheaper}");
    h.sign_up(&leaver, true, true).await;
    let swapped = h.send("applyPayment", apply(&format!("{tag}-C"), &leaver, 100, true)).await;
    assert_eq!(code(&swapped), "400", "{swapped}");
    assert_eq!((h.charges(&other).await, h.charges(&leaver).await), (0, 1), "nobody charged for it");

    // 5. A declined after-leave charge and the arrears it makes are one commit.
    let store = h.state.store();
    let bill = format!("{tag}-D");
    let pending = onepark_platform::payments::new_payment(
        &h.state,
        onepark_platform::store::Purpose::AfterLeave,
        "1001",
        &bill,
        "UD",
        (&p(4), 1),
        (&at(90), &at(1), &at(1)),
        300,
    );
    let debt = [(onepark_platform::store::Debt::bill("1001", &bill), 300)];
    store.begin_payment(&pending, &debt).await.expect("stored");
    let declined = onepark_platform::store::Outcome {
        state: onepark_platform::store::PayState::Declined,
        actual_pay: None,
        discount: 0,
        txn_id: None,
        deal_time: None,
        paid_type: None,
        reason: Some("BALANCE".into()),
        refunded: 0,
    };
    store.record_outcome(&pending.order_id, &declined, false, &at(0), Vec::new()).await.expect("recorded");
    assert_eq!(store.open_arrears(&p(4)).await.expect("arrears").len(), 1, "owed from the same commit");

    // 8. Lot 2001 never saw the car: it cannot write off lot 1001's arrears.
    let owed = h.send("getOverDueResult", json!({ "parkingCode": "1001", "plateNo": other })).await;
    assert_eq!(owed["unPay"], 400, "{owed}");
    let cancel = json!({ "parkingCode": "2001", "plateNo": other, "plateColor": 1 });
    let refused = h.send_as("235", "cancelOverDueBill", cancel).await;
    assert_eq!(code(&refused), "400", "{refused}");
    let owed = h.send("getOverDueResult", json!({ "parkingCode": "1001", "plateNo": other })).await;
    assert_eq!(owed["unPay"], 400, "still owed: {owed}");

    // 9. Nor put arrears on a car it never had, nor beyond the money bound.
    let victim = p(5);
    let fake = json!({ "billID": format!("{tag}-E"), "parkingCode": "2001", "uid": "UE", "plateNo": victim,
        "plateColor": 1, "arriveTime": at(400), "endTime": at(300), "billTime": at(300), "shouldPay": 1_000_000_000,
        "payStatus": 0 });
    let refused = h.send_as("235", "uploadAbnormalBill", fake).await;
    assert_eq!(code(&refused), "400", "{refused}");
    h.stay("235", "2001", "UE1", &victim, true).await;
    h.stay("235", "2001", "UE2", &victim, true).await;
    let big = |uid: &str, bill: &str| {
        json!({ "billID": bill, "parkingCode": "2001", "uid": uid, "plateNo": victim,
        "plateColor": 1, "arriveTime": at(90), "endTime": at(1), "billTime": at(1), "shouldPay": 600_000_000,
        "payStatus": 0 })
    };
    assert_eq!(code(&h.send_as("235", "uploadAbnormalBill", big("UE1", "E1")).await), "200");
    let over = h.send_as("235", "uploadAbnormalBill", big("UE2", "E2")).await;
    assert_eq!(code(&over), "400", "{over}");
    let backwards = json!({ "billID": "E3", "parkingCode": "2001", "uid": "UE2", "plateNo": victim, "plateColor": 1,
        "arriveTime": at(1), "endTime": at(90), "billTime": at(1), "shouldPay": 100, "payStatus": 0 });
    let refused = h.send_as("235", "uploadAbnormalBill", backwards).await;
    assert!(code(&refused) == "400" && msg(&refused).contains("endTime"), "{refused}");

    // 10. Lot 2001 cannot answer a fee query sent to lot 1001.
    let parked = p(6);
    h.stay("234", "1001", &format!("U{tag}-F"), &parked, false).await;
    let ask = || onepark_platform::payments::ask_fee(&h.state, &parked, Duration::from_millis(1));
    let (q1, _) = ask().await.expect("asked").expect("parked");
    let quote = |request_id: i64, code: &str, fen: i64| {
        json!({ "success": true, "requestId": request_id,
        "params": { "parkingCode": code, "uid": format!("U{tag}-F"), "plateNo": parked, "plateColor": 1,
        "arriveTime": at(90), "endTime": at(0), "billID": format!("{tag}-F{request_id}"), "billTime": at(0),
        "shouldPay": fen, "payStatus": 0 } })
    };
    let stolen = h.send_as("235", "uploadFee", quote(q1, "2001", 1)).await;
    assert_eq!(code(&stolen), "400", "{stolen}");
    let q = h.state.store().fee_quote(q1).await.expect("read").expect("quote");
    assert_eq!(q.should_pay, None, "nothing stored from another lot's answer");

    // 3. Two quotes of one stay: only one is payable; a quote asked after
    //    the lot confirmed the payment is.
    let (q2, _) = ask().await.expect("asked").expect("parked");
    assert_eq!(code(&h.send("uploadFee", quote(q1, "1001", 800)).await), "200");
    assert_eq!(code(&h.send("uploadFee", quote(q2, "1001", 800)).await), "200");
    let pay = |q: i64| format!("/pay/quote/{q}/pay?k={}", h.state.proofs().link(&format!("quote\n{q}")));
    let (status, receipt) = h.driver_post(&pay(q1), String::new()).await;
    assert_eq!(status, 303, "{receipt}");
    let (status, page) = h.driver_post(&pay(q2), String::new()).await;
    assert_eq!(status, 409, "the second quote of the stay is not payable: {page}");
    assert_eq!(h.charges(&parked).await, 1);
    // The lot confirms the payResult; a fee asked after that counts it.
    let mut notice = 0;
    eventually("payResult queued", async || {
        let downlinks = h.get("/api/admin/downlinks?parkingCode=1001").await;
        notice = downlinks["items"]
            .as_array()
            .and_then(|i| i.iter().find(|d| d["interface"] == "payResult" && d["subject"] == parked.as_str()).cloned())
            .and_then(|d| d["requestId"].as_i64())
            .unwrap_or(0);
        notice != 0
    })
    .await;
    let paid = json!({ "plateNo": parked, "billID": format!("{tag}-F{q1}"), "billTime": at(0), "shouldPay": 800,
        "payStatus": 1, "actualPay": 800, "discountAmount": 0, "dealTime": at(0), "orderCode": "x", "paidType": 4,
        "payType": 102 });
    let confirm = json!({ "success": true, "requestId": notice, "params": paid });
    assert_eq!(code(&h.send("confirmPayResult", confirm).await), "200");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (q3, _) = ask().await.expect("asked").expect("parked");
    assert_eq!(code(&h.send("uploadFee", quote(q3, "1001", 200)).await), "200");
    let (status, receipt) = h.driver_post(&pay(q3), String::new()).await;
    assert_eq!(status, 303, "{receipt}");
    assert_eq!(h.charges(&parked).await, 2);

    // Review: an exit's no-stop deduction while a prepayment of the stay is
    // paid but not yet confirmed by the lot is not charged on top of it.
    // (The lot confirms q3's payResult first.)
    let downlinks = h.get("/api/admin/downlinks?parkingCode=1001&limit=1000").await;
    let q3_notice = downlinks["items"]
        .as_array()
        .and_then(|i| {
            i.iter()
                .find(|d| d["interface"] == "payResult" && d["subject"] == parked.as_str() && d["state"] == "queued")
        })
        .and_then(|d| d["requestId"].as_i64())
        .expect("q3's payResult");
    let mut paid3 = paid.clone();
    paid3["billID"] = json!(format!("{tag}-F{q3}"));
    paid3["shouldPay"] = json!(200);
    paid3["actualPay"] = json!(200);
    let confirm = json!({ "success": true, "requestId": q3_notice, "params": paid3 });
    assert_eq!(code(&h.send("confirmPayResult", confirm).await), "200");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (q4, _) = ask().await.expect("asked").expect("parked");
    assert_eq!(code(&h.send("uploadFee", quote(q4, "1001", 300)).await), "200");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = h.driver_post(&pay(q4), String::new()).await;
    assert_eq!(status, 303);
    h.sign_up(&parked, true, false).await;
    let mut exit = apply(&format!("{tag}-FX"), &parked, 300, false);
    exit["uid"] = json!(format!("U{tag}-F"));
    let held = h.send("applyPayment", exit).await;
    assert!(held["payStatus"] == 0 && msg(&held).contains("另一笔支付"), "{held}");
    assert_eq!(h.charges(&parked).await, 3, "the exit was not charged on top of the prepayment");
    // The lot refuses that payResult (the car is gone): the prepayment goes back.
    let mut refused = 0;
    eventually("the prepayment's payResult", async || {
        let downlinks = h.get("/api/admin/downlinks?parkingCode=1001&limit=1000").await;
        refused = downlinks["items"]
            .as_array()
            .and_then(|i| {
                i.iter().find(|d| {
                    d["interface"] == "payResult" && d["subject"] == parked.as_str() && d["state"] == "queued"
                })
            })
            .and_then(|d| d["requestId"].as_i64())
            .unwrap_or(0);
        refused != 0
    })
    .await;
    let refusal = json!({ "success": false, "requestId": refused, "msg": "车辆已离场", "params": { "plateNo": parked,
        "billID": format!("{tag}-F{q4}"), "billTime": at(0), "shouldPay": 300, "payStatus": 1, "actualPay": 300,
        "discountAmount": 0, "dealTime": at(0), "orderCode": "x", "paidType": 4, "payType": 102 } });
    assert_eq!(code(&h.send("confirmPayResult", refusal).await), "200");
    eventually("the refused prepayment refunded", async || {
        let payments = h.get(&format!("/api/admin/payments?plateNo={}", enc(&parked))).await;
        payments["items"].as_array().is_some_and(|items| {
            items.iter().any(|p| p["billId"] == format!("{tag}-F{q4}").as_str() && p["state"] == "refunded")
        })
    })
    .await;

    // Review: a bill id holding the arrears list's separators settles nothing of another plate.
    let (a, b) = (p(7), p(8));
    h.stay("234", "1001", "UG1", &a, true).await;
    h.stay("234", "1001", "UG2", &b, true).await;
    let abnormal = |uid: &str, plate: &str, bill: &str| {
        json!({ "billID": bill, "parkingCode": "1001", "uid": uid,
        "plateNo": plate, "plateColor": 1, "arriveTime": at(90), "endTime": at(1), "billTime": at(1),
        "shouldPay": 100, "payStatus": 0 })
    };
    assert_eq!(code(&h.send("uploadAbnormalBill", abnormal("UG2", &b, "GY")).await), "200");
    assert_eq!(code(&h.send("uploadAbnormalBill", abnormal("UG1", &a, "GX,1001:GY")).await), "200");
    let (status, _) = h.driver_post("/pay/arrears", format!("plate={}", enc(&a))).await;
    assert_eq!(status, 303);
    eventually("a's arrears paid", async || {
        h.send("getOverDueResult", json!({ "parkingCode": "1001", "plateNo": a })).await["unPay"] == 0
    })
    .await;
    let other = h.send("getOverDueResult", json!({ "parkingCode": "1001", "plateNo": b })).await;
    assert_eq!(other["unPay"], 100, "b still owes its bill: {other}");
    // An abnormal bill paid as arrears is answered paid by getPayResult, not 204.
    let settled = h.send("getPayResult", json!({ "billID": "GX,1001:GY", "parkingCode": "1001", "plateNo": a })).await;
    assert_eq!((code(&settled), settled["payStatus"].as_i64()), ("200", Some(1)), "{settled}");

    // 11. Captured bytes replayed under another node suffix are one request.
    let query = json!({ "parkingCode": "1001", "plateNo": parked });
    let form = h.seal("234_7", &query);
    assert_eq!(code(&h.post_form("getOverDueResult", form.clone()).await), "200");
    let replayed = h.post_form("getOverDueResult", form.replacen("234_7", "234_8", 1)).await;
    assert!(code(&replayed) == "400" && msg(&replayed).contains("重复"), "{replayed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_on_sqlite() {
    let dir = fresh_dir("payments-db");
    let url = format!("sqlite://{}", dir.join("platform.db").display());
    scenario(Harness::new(url, "sqlite").await, "5001").await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_on_postgres() {
    let Some(pg) = PgSchema::new("payments_on_postgres").await else { return };
    scenario(Harness::new(pg.url.clone(), "pg").await, "6001").await;
    pg.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_attacks_on_sqlite() {
    let dir = fresh_dir("payments-attacks");
    let url = format!("sqlite://{}", dir.join("platform.db").display());
    attacks(Harness::new(url, "attacks-sqlite").await, "5002").await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_attacks_on_postgres() {
    let Some(pg) = PgSchema::new("money_attacks_on_postgres").await else { return };
    attacks(Harness::new(pg.url.clone(), "attacks-pg").await, "6002").await;
    pg.drop().await;
}

/// Issue 21 item 13: the driver pages show a plate's whereabouts only to a
/// browser that proved it; forms need their token and this site; fee queries
/// are throttled per client.
async fn driver_pages(h: Harness, tag: &str) {
    let plate = format!("鲁D{}1", &tag[..4]);
    h.stay("234", "1001", &format!("U{tag}-P"), &plate, false).await;
    let owed = format!("{tag}-Q");
    h.stay("234", "1002", &format!("U{owed}"), &plate, true).await;
    let mut bill = apply(&owed, &plate, 700, true);
    bill["parkingCode"] = json!("1002");
    assert_eq!(h.send("applyPayment", bill).await["payStatus"], 0);
    let page = |cookie: String| {
        let request = Request::get(format!("/pay?plate={}", enc(&plate))).header("cookie", cookie);
        let app = h.app.clone();
        async move {
            let response =
                tower::ServiceExt::oneshot(app, request.body(Body::empty()).expect("get")).await.expect("call");
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    // Anyone: the lot and what is owed, nothing of when or where from.
    let anyone = page(String::new()).await;
    assert!(anyone.contains("ask-fee") && anyone.contains("pay-arrears"), "{anyone}");
    assert!(!anyone.contains("入场时间") && !anyone.contains(&at(90)[..13]), "no entry time: {anyone}");
    assert!(!anyone.contains("1002") && !anyone.contains("id=\"signup\""), "no arrears' lots, no sign-up: {anyone}");
    assert!(anyone.contains("id=\"sandbox\""), "the sandbox says so");
    // Signing up needs proof, the token, and this site.
    let (status, _) = h.driver_post("/pay/signup", format!("plate={}&limit=50&no_stop=1", enc(&plate))).await;
    assert_eq!(status, 403, "no proof of the plate");
    let proof = h.prove(&plate).await;
    let cross = Request::post("/pay/signup")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .header("host", "pay.example")
        .header("cookie", format!("op_csrf={CSRF}; {proof}"))
        .body(Body::from(format!("plate={}&limit=50&no_stop=1&csrf={CSRF}", enc(&plate))))
        .expect("post");
    let response = tower::ServiceExt::oneshot(h.app.clone(), cross).await.expect("call");
    assert_eq!(response.status(), 403, "another site's form");
    let tokenless = Request::post("/pay/signup")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", proof.clone())
        .body(Body::from(format!("plate={}&limit=50&no_stop=1", enc(&plate))))
        .expect("post");
    assert_eq!(tower::ServiceExt::oneshot(h.app.clone(), tokenless).await.expect("call").status(), 403);
    // With proof: the entry time, the arrears' lots, the sign-up form.
    let proven = page(proof.clone()).await;
    assert!(proven.contains("入场时间") && proven.contains("1002") && proven.contains("id=\"signup\""), "{proven}");
    // A sign-up needs a choice; it can be cancelled; both are in the audit trail as the driver's.
    let form = format!("plate={}&limit=50", enc(&plate));
    let (status, said) = h.driver_post_with("/pay/signup", form.clone(), &proof).await;
    assert_eq!(status, 400, "no way chosen: {said}");
    assert!(said.contains("请至少选择一种"), "{said}");
    assert_eq!(h.driver_post_with("/pay/signup", format!("{form}&no_stop=1"), &proof).await.0, 303);
    assert!(h.state.store().signup(&plate).await.expect("read").is_some_and(|s| s.no_stop));
    assert!(page(proof.clone()).await.contains("id=\"cancel-signup\""), "a way to cancel");
    assert_eq!(h.driver_post_with("/pay/signup", format!("{form}&cancel=1"), &proof).await.0, 303);
    let cancelled = h.state.store().signup(&plate).await.expect("read").expect("kept");
    assert!(!cancelled.no_stop && !cancelled.after_leave, "cancelled");
    let trail = h
        .state
        .store()
        .audit(&onepark_platform::store::AuditQuery { kind: "signup".into(), limit: 10, ..Default::default() })
        .await
        .expect("audit");
    assert!(trail.len() >= 2 && trail.iter().all(|e| e.actor == "driver" && e.subject == plate), "{trail:?}");
    // A receipt opens with its link's key or the plate's proof, not by its order id alone.
    let (status, receipt) = h.driver_post("/pay/arrears", format!("plate={}", enc(&plate))).await;
    assert_eq!(status, 303, "{receipt}");
    let order = receipt.trim_start_matches("/pay/receipt/").split('?').next().expect("order").to_owned();
    let bare = Request::get(format!("/pay/receipt/{order}")).body(Body::empty()).expect("get");
    assert_eq!(tower::ServiceExt::oneshot(h.app.clone(), bare).await.expect("call").status(), 404);
    let keyed = Request::get(&receipt).body(Body::empty()).expect("get");
    assert_eq!(tower::ServiceExt::oneshot(h.app.clone(), keyed).await.expect("call").status(), 200);
    // Its 查询码 proves the plate in another browser.
    let code = h.state.proofs().receipt_code(&order);
    let (status, _) = h.driver_post("/pay/verify", format!("plate={}&code=00000000", enc(&plate))).await;
    assert_eq!(status, 403, "a wrong code");
    let (status, _) = h.driver_post("/pay/verify", format!("plate={}&code={code}", enc(&plate))).await;
    assert_eq!(status, 303, "the receipt's code");
    // A prepayment whose payResult expires unconfirmed is never counted by
    // its lot: the recovery job refunds it.
    let (q, _) = onepark_platform::payments::ask_fee(&h.state, &plate, Duration::from_millis(1))
        .await
        .expect("asked")
        .expect("parked");
    let bill = json!({ "success": true, "requestId": q, "params": { "parkingCode": "1001", "uid": format!("U{tag}-P"),
        "plateNo": plate, "plateColor": 1, "arriveTime": at(90), "endTime": at(0), "billID": format!("{tag}-PQ"),
        "billTime": at(0), "shouldPay": 400, "payStatus": 0 } });
    assert_eq!(code_of(&h.send("uploadFee", bill).await), "200");
    let pay = format!("/pay/quote/{q}/pay?k={}", h.state.proofs().link(&format!("quote\n{q}")));
    assert_eq!(h.driver_post(&pay, String::new()).await.0, 303);
    sqlx::query("UPDATE downlinks SET state = 'expired' WHERE interface = 'payResult' AND subject = $1")
        .bind(&plate)
        .execute(h.state.store().pool())
        .await
        .expect("expire");
    eventually("the uncounted prepayment refunded", async || {
        let p = h.state.store().payment("1001", &format!("{tag}-PQ")).await.expect("read").expect("payment");
        p.state == onepark_platform::store::PayState::Refunded
    })
    .await;

    // Receipt codes: ten wrong guesses a minute from a client, then 429.
    let mut guesses = Vec::new();
    for _ in 0..11 {
        guesses.push(h.driver_post("/pay/verify", format!("plate={}&code=11111111", enc(&plate))).await.0);
    }
    assert!(guesses.contains(&429) && !guesses.contains(&303), "{guesses:?}");
    // A charge that did not go through proves nothing.
    let stranger = format!("鲁D{}2", &tag[..4]);
    let owed = format!("{tag}-R");
    h.stay("234", "1002", &format!("U{owed}"), &stranger, true).await;
    let mut bill = apply(&owed, &stranger, 500, true);
    bill["parkingCode"] = json!("1002");
    assert_eq!(h.send("applyPayment", bill).await["payStatus"], 0);
    h.sandbox().set_behaviour(Behaviour { decline: true, ..Behaviour::default() });
    let request = Request::post("/pay/arrears")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("op_csrf={CSRF}"))
        .body(Body::from(format!("plate={}&csrf={CSRF}", enc(&stranger))))
        .expect("post");
    let response = tower::ServiceExt::oneshot(h.app.clone(), request).await.expect("call");
    h.sandbox().set_behaviour(Behaviour::default());
    assert_eq!(response.status(), 303);
    assert!(response.headers().get("set-cookie").is_none(), "no proof from a declined charge");
    // Fee queries: ten a minute from one client, then 429 (a plate not
    // parked anywhere, so no query waits for a lot).
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(h.driver_post("/pay/fee", format!("plate={}", enc("鲁D99999"))).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_pages_on_sqlite() {
    let dir = fresh_dir("payments-driver");
    let url = format!("sqlite://{}", dir.join("platform.db").display());
    driver_pages(Harness::new(url, "driver-sqlite").await, "5003").await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 27 item 4: an operator writes an arrear off with a reason: only at
/// a lot of theirs, once however often asked, audited; the plate then owes
/// nothing there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrear_is_written_off_once_by_whoever_may() {
    use onepark_platform::access::{Role, Who};
    let dir = fresh_dir("payments-waive");
    let url = format!("sqlite://{}", dir.join("platform.db").display());
    let h = Harness::new(url, "waive").await;
    let plate = "鲁D77771".to_owned();
    h.stay("234", "1002", "UW-Q", &plate, true).await;
    let mut bill = apply("W-Q", &plate, 700, true);
    bill["parkingCode"] = json!("1002");
    assert_eq!(h.send("applyPayment", bill).await["payStatus"], 0);
    let open = h.state.store().open_arrears(&plate).await.expect("read");
    assert_eq!(open.len(), 1, "{open:?}");
    let bill_id = open[0].bill_id.clone();
    // The arrears list finds the plate by a part and by its bill's date.
    let owing = |from: &'static str, to: &'static str| {
        let store = h.state.store().clone();
        async move {
            let q =
                onepark_platform::store::OwingQuery { plate_part: "77771", from, to, limit: 10, ..Default::default() };
            store.owing(&q).await.expect("owing").len()
        }
    };
    assert_eq!(owing("2000-01-01 00:00:00", "").await, 1);
    assert_eq!(owing("", "2000-01-01 00:00:00").await, 0, "billed after 2000");
    let who = |role, lots: &[&str]| {
        let lots: Vec<String> = lots.iter().map(|l| (*l).to_owned()).collect();
        Who::new("wang".into(), role, &lots, "10.0.0.9".into(), String::new())
    };
    let waive = onepark_platform::city::payments::waive;
    assert!(waive(&h.state, &who(Role::Operator, &["1001"]), "1002", &bill_id, "投诉").await.is_err(), "another lot's");
    assert!(waive(&h.state, &who(Role::Auditor, &[]), "1002", &bill_id, "投诉").await.is_err(), "an auditor");
    // Two clicks at once: one write-off.
    let operator = who(Role::Operator, &["1002"]);
    let (a, b) = tokio::join!(
        waive(&h.state, &operator, "1002", &bill_id, "道闸故障多计费"),
        waive(&h.state, &operator, "1002", &bill_id, "道闸故障多计费")
    );
    assert_eq!([a.expect("first"), b.expect("second")].iter().filter(|w| **w).count(), 1, "written off once");
    assert!(h.state.store().open_arrears(&plate).await.expect("read").is_empty(), "nothing owed");
    let trail = h
        .state
        .store()
        .audit(&onepark_platform::store::AuditQuery { kind: "write_off".into(), limit: 10, ..Default::default() })
        .await
        .expect("audit");
    let done: Vec<_> = trail.iter().filter(|e| e.outcome == "done").collect();
    assert!(
        !done.is_empty() && done.iter().all(|e| e.reason == "道闸故障多计费" && e.parking_code == "1002"),
        "{trail:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 21 item 12: without a configured channel, online payment is off —
/// never the sandbox's play money.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_channel_online_payment_is_off() {
    let dir = fresh_dir("payments-off");
    let url = format!("sqlite://{}", dir.join("platform.db").display());
    let toml = "[payments]\ntimeout_ms = 1000\n";
    std::fs::write(dir.join("p.toml"), toml).expect("toml");
    let parsed = onepark_platform::config::Config::load(Some(&dir.join("p.toml")), |_| None).expect("config");
    assert_eq!(parsed.payments.channel, onepark_platform::config::ChannelKind::Off, "absent channel: off");
    let mut config = common::config(url, dir.clone(), "234");
    config.payments = parsed.payments;
    let store = Store::connect(&config.database).await.expect("store");
    let state = AppState::new(&config, store);
    let app = router(&config, state.clone());
    assert!(state.payments().sandbox.is_none() && !state.payments().enabled());
    let form = format!("plate={}&csrf={CSRF}", enc("鲁B12345"));
    let request = Request::post("/pay/arrears")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("op_csrf={CSRF}"))
        .body(Body::from(form))
        .expect("post");
    let response = tower::ServiceExt::oneshot(app.clone(), request).await.expect("call");
    assert_eq!(response.status(), 503, "no channel, no online payment");
    let page =
        tower::ServiceExt::oneshot(app, Request::get("/pay?plate=%E9%B2%81B12345").body(Body::empty()).expect("get"))
            .await
            .expect("call");
    let bytes = axum::body::to_bytes(page.into_body(), 1 << 20).await.expect("body");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("sandbox") && !text.contains("sign-up"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
