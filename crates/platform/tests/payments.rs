//! Payments, pay-after-leave and arrears through the uplink pipeline, with
//! the in-process sandbox channel misbehaving on purpose: on SQLite always
//! and on PostgreSQL when DATABASE_URL is set.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::key;
use onepark_pay::Channel;
use onepark_pay::sandbox::{Behaviour, NotifyMode};
use onepark_platform::app::{AppState, router, start_payments};
use onepark_platform::store::Store;
use onepark_proto::form::UplinkForm;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use serde_json::{Value, json};

struct Harness {
    app: axum::Router,
    state: AppState,
    private: PrivateKey,
    platform_public: PublicKey,
}

impl Harness {
    async fn new(database: String, tag: &str) -> Harness {
        let dir = std::env::temp_dir().join(format!("onepark-payments-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let config = common::config(database, dir, "234");
        let store = Store::connect(&config.database).await.expect("store");
        let state = AppState::new(&config, store);
        start_payments(&state);
        Harness {
            app: router(&config, state.clone()),
            state,
            private: PrivateKey::parse(&key("lot_private.b64")).expect("lot private"),
            platform_public: PublicKey::parse(&key("platform_public.b64")).expect("platform public"),
        }
    }

    async fn send(&self, interface: &str, data: Value) -> Value {
        let text = json!({ "data": data }).to_string();
        let keys = Keys { own: Some(&self.private), peer: Some(&self.platform_public) };
        let sealed = onepark_proto::seal(Profile::Qingdao, text.as_bytes(), keys).expect("seal");
        let body =
            UplinkForm { access_id: "234".into(), cipher: sealed.cipher, sign: sealed.sign, file: None }.encode();
        let request = Request::post(format!("/api/v1/cp/{interface}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        let (status, reply) = common::call(&self.app, request).await;
        assert_eq!(status, 200, "{interface}: {reply}");
        reply
    }

    async fn get(&self, path: &str) -> Value {
        let request = Request::get(path).header("authorization", "Bearer test-token").body(Body::empty()).expect("get");
        common::call(&self.app, request).await.1
    }

    fn sandbox(&self) -> &onepark_pay::sandbox::Sandbox {
        self.state.payments().sandbox.as_ref().expect("in-process sandbox")
    }

    async fn sign_up(&self, plate: &str, no_stop: bool, after_leave: bool) {
        let mut form = format!("plate={}&limit=50", enc(plate));
        if no_stop {
            form.push_str("&no_stop=1");
        }
        if after_leave {
            form.push_str("&after_leave=1");
        }
        let request = Request::post("/pay/signup")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("signup");
        let response = tower::ServiceExt::oneshot(self.app.clone(), request).await.expect("call");
        assert_eq!(response.status(), 303, "sign-up redirects to the plate's page");
    }
}

fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
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
    let unknown = h.send("getPayResult", bill_query("nope", &plate)).await;
    assert!(code(&unknown) == "400" && msg(&unknown).contains("不存在"), "{unknown}");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("onepark-payments-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("platform.db").display());
    scenario(Harness::new(url, "sqlite").await, "5001").await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_on_postgres() {
    let Some(pg) = common::PgSchema::new("payments_on_postgres").await else { return };
    scenario(Harness::new(pg.url.clone(), "pg").await, "6001").await;
    pg.drop().await;
}
