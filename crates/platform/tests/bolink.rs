//! Bolink's SDK wire against the platform, over a real TCP socket and the
//! HTTP mode, on both stores (SQLite, and PostgreSQL when DATABASE_URL is
//! set). The client here is independent of `onepark_bolink`: it frames
//! lines and computes the MD5 sign itself (OpenSSL), as a charging system
//! written from the vendor's pages would.

use std::time::Duration;

use onepark_platform::config::LotAccess;
use onepark_platform::store::{FixedCar, Store};
use onepark_testkit::dirs::TempDir;
use onepark_testkit::pg::PgSchema;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

mod common;

const KEY: &str = "TEST-ONLY-bolink-key";
const PARK: &str = "21835";
const CODE: &str = "BL001";

fn sign(data: &str, key: &str) -> String {
    let digest =
        openssl::hash::hash(openssl::hash::MessageDigest::md5(), format!("{data}key={key}").as_bytes()).expect("md5");
    digest.iter().map(|b| format!("{b:02X}")).collect()
}

fn envelope(service: &str, token: Option<&str>, data: &Value) -> String {
    let text = data.to_string();
    let mut e = json!({ "service_name": service, "sign": sign(&text, KEY), "data": "DATA" });
    if let Some(t) = token {
        e["token"] = Value::from(t);
    }
    // The data exactly as signed (not re-serialised).
    e.to_string().replace("\"DATA\"", &text)
}

struct Line {
    read: BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Line {
    async fn connect(addr: std::net::SocketAddr) -> Line {
        let (r, w) = TcpStream::connect(addr).await.expect("connect").into_split();
        Line { read: BufReader::new(r), write: w }
    }

    async fn send(&mut self, line: &str) {
        self.write.write_all(format!("{line}\n").as_bytes()).await.expect("write");
    }

    /// The next JSON the platform wrote (its lines end in `\r`, start with `\n`).
    async fn recv(&mut self) -> Value {
        loop {
            let mut buf = Vec::new();
            let n = tokio::time::timeout(Duration::from_secs(10), self.read.read_until(b'\r', &mut buf))
                .await
                .expect("an answer in time")
                .expect("read");
            assert!(n > 0, "closed");
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{12}');
            if !text.is_empty() {
                return serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            }
        }
    }

    /// Whatever comes next, heartbeats included.
    async fn recv_raw(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        let _ = self.read.read_until(b'\r', &mut buf).await;
        buf
    }

    async fn call(&mut self, line: &str) -> Value {
        self.send(line).await;
        self.recv().await
    }
}

async fn fixed_car(store: &Store, uuid: &str, plate: &str, car_type: i64) {
    let car = FixedCar {
        park_code: CODE.into(),
        uuid: uuid.into(),
        plate_no: plate.into(),
        owner: Some("车主".into()),
        car_type,
        space_no: None,
        tel: None,
        monthly_fee: Some(15050),
        balance: None,
        start_time: "2026-12-01 00:00:00".into(),
        end_time: "2027-01-01 00:00:00".into(),
        group_uuid: None,
        remark: None,
        remark1: None,
        remark2: None,
        state: 0,
        deleted: 0,
        by_pid: "test".into(),
        version: 0,
        synced_version: 0,
        changed_at: "2026-12-04 00:00:00".into(),
    };
    store.put_fixed_car(&car).await.expect("card");
}

async fn run(url: String, dir: &TempDir) {
    let mut config = common::config(url.clone(), dir.path().to_owned(), "234");
    config.lots.push(LotAccess::bolink(PARK, KEY, CODE, 120));
    config.lots.push(LotAccess::bolink("other", KEY, "BL-OTHER", 10));
    config.bolink.listen = Some("127.0.0.1:0".into());
    config.bolink.max_line = 4096;
    let store = Store::connect(&url).await.expect("store");
    for i in 0..250 {
        fixed_car(&store, &format!("card-{i:03}"), &format!("鲁B{i:05}"), 81).await;
    }
    fixed_car(&store, "stored-value", "鲁B99999", 71).await;
    let spawned = onepark_platform::app::spawn(config).await.expect("spawn");
    let addr = spawned.bolink.expect("the Bolink door");

    // Before login: refused, the connection stays.
    let mut line = Line::connect(addr).await;
    let early = line.call(&envelope("in_park", Some("x"), &json!({"order_id": "a"}))).await;
    assert_eq!((early["state"].as_i64(), early["errmsg"].as_str()), (Some(0), Some("error:token无效")));
    // A bad sign at login: refused and closed.
    let bad = json!({ "service_name": "login", "sign": "00", "data": { "park_id": PARK } }).to_string();
    let refused = line.call(&bad).await;
    assert_eq!((refused["state"].as_i64(), refused["errmsg"].as_str()), (Some(0), Some("error:签名错误")));

    let mut line = Line::connect(addr).await;
    let login = line.call(&envelope("login", None, &json!({ "park_id": PARK, "local_id": "pc1" }))).await;
    assert_eq!(login["state"], 1, "{login}");
    let token = login["token"].as_str().expect("token").to_owned();

    // An entry, a resend of it (dropped by its sign), an exit paid in cash with a prepayment.
    let now = chrono::Utc::now().timestamp();
    let entry = json!({ "car_number": "鲁B12345", "in_time": now - 3600, "car_type": "小车", "c_type": "通道扫牌",
        "uid": "u1", "order_id": "O_1", "empty_plot": "99", "in_channel_id": "A1", "license_color": 0 });
    let first = line.call(&envelope("in_park", Some(&token), &entry)).await;
    assert_eq!((first["state"].as_i64(), first["order_id"].as_str()), (Some(1), Some("O_1")), "{first}");
    let again = line.call(&envelope("in_park", Some(&token), &entry)).await;
    assert!(again["errmsg"].as_str().is_some_and(|e| e.contains("已处理过")), "{again}");
    let exit = json!({ "car_number": "鲁B12345", "in_time": now - 3600, "out_time": now - 60, "order_id": "O_1",
        "pay_type": "cash", "total": "3.50", "cash_pay": "3.50", "electronic_prepay": 5, "empty_plot": 100 });
    let out = line.call(&envelope("out_park", Some(&token), &exit)).await;
    assert_eq!(out["state"], 1, "{out}");
    // The same order as upload_order with the same money (its data names its target,
    // as real frames do, so its sign differs): the same exit.
    let mut as_order = exit.clone();
    as_order["data_target"] = json!("cloud");
    let order = line.call(&envelope("upload_order", Some(&token), &as_order)).await;
    assert_eq!(order["state"], 1, "{order}");
    // Other money under the same order: refused, naming the order.
    let mut other = as_order.clone();
    other["total"] = json!("9.00");
    other["cash_pay"] = json!("9.00");
    let conflict = line.call(&envelope("upload_order", Some(&token), &other)).await;
    assert!(conflict["errmsg"].as_str().is_some_and(|e| e.contains("O_1")), "{conflict}");
    // Bad money and unknown services say which field or service.
    let mut bad = exit.clone();
    bad["order_id"] = json!("O_2");
    bad["total"] = json!("1.005");
    let bad = line.call(&envelope("out_park", Some(&token), &bad)).await;
    assert!(bad["errmsg"].as_str().is_some_and(|e| e.contains("data.total")), "{bad}");
    let unknown = line.call(&envelope("nope", Some(&token), &json!({}))).await;
    assert!(unknown["errmsg"].as_str().is_some_and(|e| e.contains("nope")), "{unknown}");
    let mut negative = exit.clone();
    negative["order_id"] = json!("O_3");
    negative["cash_pay"] = json!("-1.00");
    let negative = line.call(&envelope("out_park", Some(&token), &negative)).await;
    assert!(negative["errmsg"].as_str().is_some_and(|e| e.contains("data.cash_pay")), "{negative}");
    // A line over the limit, a line that is not JSON: answered, and the connection goes on.
    let long = line.call(&format!("{{\"pad\":\"{}\"}}", "x".repeat(5000))).await;
    assert!(long["errmsg"].as_str().is_some_and(|e| e.contains("4096")), "{long}");
    let garbage = line.call("not json at all").await;
    assert!(garbage["errmsg"].as_str().is_some_and(|e| e.contains("JSON")), "{garbage}");
    // Another lot's token on this connection is not this connection's login.
    let mut other = Line::connect(addr).await;
    let other_login = other.call(&envelope("login", None, &json!({ "park_id": "other" }))).await;
    let other_token = other_login["token"].as_str().expect("token").to_owned();
    let foreign = line.call(&envelope("in_park", Some(&other_token), &entry)).await;
    assert_eq!(foreign["errmsg"], "error:token无效", "{foreign}");
    let still = line.call(&envelope("nope", Some(&token), &json!({}))).await;
    assert_eq!(still["state"], 0, "the connection still answers: {still}");

    // An entry of the same plate settles its older open stay.
    let older = json!({ "car_number": "鲁B77777", "in_time": now - 7200, "order_id": "O_old", "empty_plot": 98 });
    assert_eq!(line.call(&envelope("in_park", Some(&token), &older)).await["state"], 1);
    let newer = json!({ "car_number": "鲁B77777", "in_time": now - 600, "order_id": "O_new", "empty_plot": 97 });
    assert_eq!(line.call(&envelope("in_park", Some(&token), &newer)).await["state"], 1);
    let store = Store::connect(&url).await.expect("store");
    assert_eq!(store.open_stay(CODE, "O_old").await.expect("read"), None, "settled");
    assert!(store.open_stay(CODE, "O_new").await.expect("read").is_some());
    // The lot's own exit of the settled stay replaces the settlement.
    let late = json!({ "car_number": "鲁B77777", "in_time": now - 7200, "out_time": now - 3000, "order_id": "O_old",
        "pay_type": "cash", "total": "10", "empty_plot": 98 });
    assert_eq!(line.call(&envelope("out_park", Some(&token), &late)).await["state"], 1);

    // Month cards, 100 a page, `count` the total; stored-value cars are not month cards.
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let q = json!({ "service_name": "query_month_card_page", "data_target": "cloud", "car_number": "", "card_id": "",
            "random_str": format!("r{page}"), "page": page, "rp": 100 });
        let reply = line.call(&envelope("query_month_card_page", Some(&token), &q)).await;
        assert_eq!((reply["state"].as_i64(), reply["count"].as_i64()), (Some(1), Some(250)), "{reply}");
        assert_eq!(reply["random_str"], format!("r{page}"));
        let items = reply["vip_list"].as_array().expect("list").clone();
        seen.extend(items.iter().map(|c| c["card_id"].as_str().unwrap_or_default().to_owned()));
        if page * 100 >= 250 {
            break;
        }
        page += 1;
    }
    assert_eq!(seen.len(), 250);
    seen.dedup();
    assert_eq!(seen.len(), 250);
    let one = json!({ "car_number": "鲁B00007", "card_id": "", "random_str": "x", "page": 1, "rp": 10 });
    let reply = line.call(&envelope("query_month_card_page", Some(&token), &one)).await;
    assert_eq!(reply["count"], 1);
    assert_eq!(
        (reply["vip_list"][0]["car_number"].as_str(), reply["vip_list"][0]["price"].as_f64()),
        (Some("鲁B00007"), Some(150.5))
    );

    // A driver without a readable plate scans lane A1's code: the lot is asked, lets the car in, answers.
    let http = format!("http://{}", spawned.http);
    let client = reqwest::Client::new();
    let page = client.get(format!("{http}/pay/in/{PARK}/A1")).send().await.expect("page");
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let csrf = cookies.iter().find_map(|c| c.strip_prefix("op_csrf=")).expect("csrf cookie").to_owned();
    // An id the browser made up (one whose pseudo-plate would match another car's) is not taken: a new one is given.
    let forged = client
        .get(format!("{http}/pay/in/{PARK}/A1"))
        .header("cookie", format!("op_driver={}", "a".repeat(32)))
        .send()
        .await
        .expect("page");
    let given = forged
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with("op_driver="));
    assert!(given, "a forged id is replaced");
    assert!(page.text().await.expect("body").contains("确认入场"));
    let scan = |client: reqwest::Client| {
        let (url, cookie, form) = (format!("{http}/pay/in/{PARK}/A1"), cookies.join("; "), format!("csrf={csrf}"));
        async move {
            let r = client
                .post(url)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .expect("scan");
            r.text().await.expect("body")
        }
    };
    let (first, second) = (tokio::spawn(scan(client.clone())), tokio::spawn(scan(client.clone())));
    let asked = line.recv().await;
    assert_eq!(
        (asked["service_name"].as_str(), asked["channel_id"].as_str()),
        (Some("nolicence_in_park"), Some("A1")),
        "{asked}"
    );
    let car_number = asked["car_number"].as_str().expect("car_number").to_owned();
    assert_eq!(car_number.chars().count(), 7);
    let plate = format!("无{car_number}");
    let answer = json!({ "service_name": "nolicence_in_park", "data_target": "bolink", "state": 1, "car_number": plate, "timetemp": now });
    let ack = line.call(&envelope("nolicence_in_park", Some(&token), &answer)).await;
    assert_eq!(ack["state"], 1, "{ack}");
    let entry = json!({ "car_number": plate, "in_time": now, "order_id": "NP_1", "empty_plot": 96, "in_channel_id": "A1", "car_cost_type": 4 });
    assert_eq!(line.call(&envelope("in_park", Some(&token), &entry)).await["state"], 1);
    for page in [first.await.expect("first"), second.await.expect("second")] {
        assert!(page.contains("入场成功") && page.contains(&plate), "{page}");
    }
    // A rescan within 30 s shows the entry at once; nothing more is sent to the lot.
    let again = scan(client.clone()).await;
    assert!(again.contains("入场成功"), "{again}");
    let quiet = tokio::time::timeout(Duration::from_millis(300), line.recv_raw()).await;
    assert!(quiet.is_err(), "no second request: {quiet:?}");

    // Reports the city keeps as the lot's events (§二): a manual lift, a collector; the id is echoed,
    // the same report again is one event, a missing field is named.
    let lift = json!({ "liftrod_id": "L1", "operate": 0, "reason": 1, "channel_id": "A1", "user_id": "u1",
        "create_time": now - 30, "car_number": "鲁B12345" });
    for _ in 0..2 {
        let r = line.call(&envelope("upload_liftrod", Some(&token), &lift)).await;
        assert_eq!((r["state"].as_i64(), r["liftrod_id"].as_str()), (Some(1), Some("L1")), "{r}");
    }
    let staff = json!({ "user_id": "u1", "name": "张三", "operate_type": 1, "update_time": now - 60 });
    assert_eq!(line.call(&envelope("upload_collector", Some(&token), &staff)).await["user_id"], "u1");
    let bad =
        line.call(&envelope("upload_liftrod", Some(&token), &json!({ "liftrod_id": "L2", "channel_id": "A1" }))).await;
    assert!(bad["errmsg"].as_str().is_some_and(|e| e.contains("data.user_id")), "{bad}");
    let lifts = store.lot_events(Some(CODE), Some("lift"), 10).await.expect("events");
    assert_eq!(lifts.len(), 1, "{lifts:?}");
    assert!(lifts[0].summary.contains("异常抬杆") && lifts[0].channel.as_deref() == Some("A1"));
    assert_eq!(store.lot_events(Some(CODE), Some("staff"), 10).await.expect("events").len(), 1);

    // 2.10: a member card the lot made is the city's fixed car of the lot; 2.33 sees it; deleted, it goes.
    let member = json!({ "card_id": "M-1", "operate_type": 1, "car_number": "鲁B88888,鲁B88889", "name": "李四",
        "begin_time": now - 86_400, "end_time": now + 30 * 86_400, "price": "200.00", "p_lot": "B-12" });
    let r = line.call(&envelope("upload_month_member", Some(&token), &member)).await;
    assert_eq!((r["state"].as_i64(), r["card_id"].as_str()), (Some(1), Some("M-1")), "{r}");
    let page = line
        .call(&envelope(
            "query_month_card_page",
            Some(&token),
            &json!({ "card_id": "M-1", "car_number": "", "random_str": "m", "page": 1, "rp": 10 }),
        ))
        .await;
    assert_eq!(
        (page["count"].as_i64(), page["vip_list"][0]["car_number"].as_str()),
        (Some(1), Some("鲁B88888,鲁B88889")),
        "{page}"
    );
    let mut gone = member.clone();
    gone["operate_type"] = json!(3);
    assert_eq!(line.call(&envelope("upload_month_member", Some(&token), &gone)).await["state"], 1);
    let page = line
        .call(&envelope(
            "query_month_card_page",
            Some(&token),
            &json!({ "card_id": "M-1", "car_number": "", "random_str": "n", "page": 1, "rp": 10 }),
        ))
        .await;
    assert_eq!(page["count"], 0, "{page}");
    let bad = line
        .call(&envelope(
            "upload_month_member",
            Some(&token),
            &json!({ "card_id": "M-2", "operate_type": 9, "end_time": now }),
        ))
        .await;
    assert!(bad["errmsg"].as_str().is_some_and(|e| e.contains("operate_type")), "{bad}");

    // What the lot asks the city: its open stays (2.40, 2.41), a plate's arrears (2.38), an order's payments (2.19).
    let count = line.call(&envelope("query_in_park_count", Some(&token), &json!({ "random_str": "c" }))).await;
    let open = count["count"].as_i64().expect("count");
    assert!(open >= 2, "{count}");
    let list = line
        .call(&envelope("query_in_park_list", Some(&token), &json!({ "page": 1, "rp": 100, "random_str": "l" })))
        .await;
    assert_eq!(list["order_list"].as_array().map(Vec::len), Some(open as usize), "{list}");
    assert!(list["order_list"].as_array().into_iter().flatten().any(|o| o["order_id"] == "O_new"), "{list}");
    let escape = line
        .call(&envelope("query_escape", Some(&token), &json!({ "car_number": "鲁B12345", "random_str": "e" })))
        .await;
    assert_eq!((escape["state"].as_i64(), escape["count"].as_i64()), (Some(1), Some(0)), "{escape}");
    let order = line
        .call(&envelope("query_order", Some(&token), &json!({ "order_id": "O_1", "time_temp": 1_796_371_200_123i64 })))
        .await;
    assert_eq!(
        (order["time_temp"].as_i64(), order["data"].as_array().map(Vec::len)),
        (Some(1_796_371_200_123), Some(0)),
        "{order}"
    );

    // More of what the lot asks (2.18, 2.20, 2.24, 2.28, 2.42, 2.43, 4.1), an unpaid exit (2.44),
    // a renewal collected at the lot (2.13) and a blacklist entry (2.15).
    let ask = |service: &'static str, data: Value| envelope(service, Some(&token), &data);
    let qr = line.call(&ask("query_qr_url", json!({ "channel_id": "A1", "type": "in", "random_str": "q" }))).await;
    assert!(qr["qr_url"].as_str().is_some_and(|u| u.ends_with("/pay/in/21835/A1")), "{qr}");
    let booth = line.call(&ask("query_booth_orders", json!({ "user_id": "U1", "random_str": "o" }))).await;
    assert!(booth["url"].as_str().is_some_and(|u| u.ends_with("/lots/BL001")), "{booth}");
    let cards = line.call(&ask("query_month_card", json!({ "car_number": "鲁B00007", "random_str": "m" }))).await;
    assert_eq!(
        (cards["count"].as_i64(), cards["vip_list"][0]["card_id"].as_str()),
        (Some(1), Some("card-007")),
        "{cards}"
    );
    let balance = line
        .call(&ask(
            "query_prepay_card_balance",
            json!({ "card_id": "stored-value", "car_number": "鲁B99999", "random_str": "b" }),
        ))
        .await;
    assert_eq!((balance["state"].as_i64(), balance["balance"].as_str()), (Some(1), Some("0.00")), "{balance}");
    let monthly = line
        .call(&ask(
            "query_prepay_card_balance",
            json!({ "card_id": "card-001", "car_number": "鲁B00001", "random_str": "b" }),
        ))
        .await;
    assert_eq!(monthly["state"], 0, "a month card has no balance: {monthly}");
    let stay = line.call(&ask("query_in_park_order", json!({ "car_number": "鲁B77777", "random_str": "s" }))).await;
    assert_eq!(
        (stay["count"].as_i64(), stay["order_list"][0]["order_id"].as_str()),
        (Some(1), Some("O_new")),
        "{stay}"
    );
    let city = line.call(&ask("query_city_car", json!({ "car_number": "鲁B77777", "channel_id": "B1" }))).await;
    assert_eq!((city["allow"].as_i64(), city["owe_count"].as_i64()), (Some(1), Some(0)), "{city}");
    let stranger = json!({ "order_id": "O_1", "car_number": "鲁B77777", "in_time": now - 3600, "out_time": now - 60,
        "total": "6.00" });
    let refused = line.call(&ask("upload_offline_order", stranger)).await;
    assert!(refused["errmsg"].as_str().is_some_and(|e| e.contains("不符")), "another car's stay: {refused}");
    let unknown = json!({ "order_id": "NEVER", "car_number": "鲁B77777", "in_time": now - 3600, "out_time": now - 60,
        "total": "6.00" });
    let refused = line.call(&ask("upload_offline_order", unknown)).await;
    assert!(refused["errmsg"].as_str().is_some_and(|e| e.contains("未上传过")), "a stay never reported: {refused}");
    let offline = json!({ "order_id": "O_new", "car_number": "鲁B77777", "in_time": now - 600, "out_time": now - 60,
        "total": "6.00", "out_channel_id": "B1" });
    assert_eq!(line.call(&ask("upload_offline_order", offline.clone())).await["state"], 1);
    let again = line.call(&ask("upload_offline_order", offline)).await;
    assert_eq!((again["state"].as_i64(), again["order_id"].as_str()), (Some(1), Some("O_new")), "{again}");
    let escape = line.call(&ask("query_escape", json!({ "car_number": "鲁B77777", "random_str": "e" }))).await;
    assert_eq!(escape["count"], 1, "the unpaid exit is the plate's debt: {escape}");
    let city = line.call(&ask("query_city_car", json!({ "car_number": "鲁B77777", "channel_id": "B1" }))).await;
    assert_eq!((city["owe_count"].as_i64(), city["owe_money"].as_str()), (Some(1), Some("6.00")), "{city}");
    let screen = line.call(&ask("query_screen_text", json!({ "channel_id": "B1", "car_number": "鲁B77777" }))).await;
    assert!(screen["lines"].to_string().contains("欠费 6.00"), "{screen}");
    let status = line.call(&ask("pay_status", json!({ "order_id": "O_new", "car_number": "鲁B77777" }))).await;
    assert_eq!((status["state"].as_i64(), status["is_exist"].as_i64()), (Some(1), Some(0)), "not signed up: {status}");
    let limit = chrono::DateTime::parse_from_rfc3339("2027-06-01T00:00:00+08:00").expect("time").timestamp();
    let renewed = line
        .call(&ask(
            "month_pay_record",
            json!({ "trade_no": "MP1", "card_id": "card-007", "pay_time": now, "amount_receivable": "150.50",
                "amount_pay": "150.50", "pay_type": "现金", "car_number": "鲁B00007", "limit_time": limit }),
        ))
        .await;
    assert_eq!((renewed["state"].as_i64(), renewed["trade_no"].as_str()), (Some(1), Some("MP1")), "{renewed}");
    let card = store.fixed_car(CODE, "card-007").await.expect("read").expect("card");
    assert_eq!(card.end_time, "2027-06-01 00:00:00", "the city's card runs until the lot's renewal");
    let black = line
        .call(&ask("upload_blackuser", json!({ "black_uuid": "BU1", "operate_type": 1, "car_number": "鲁B66666" })))
        .await;
    assert_eq!((black["state"].as_i64(), black["black_uuid"].as_str()), (Some(1), Some("BU1")), "{black}");
    let bad = line.call(&ask("upload_offline_order", json!({ "order_id": "OFF_2", "car_number": "鲁B1" }))).await;
    assert!(bad["errmsg"].as_str().is_some_and(|e| e.contains("in_time")), "named: {bad}");

    // The day's e-payments (2.30): the lot's list is kept as its side of the three-way check.
    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("zone")).date_naive();
    let epay = json!({ "date": today.to_string(), "count": 1, "total": "6.00", "random_str": "p",
        "trades": [{ "trade_no": "T9", "order_id": "O_new", "query_order_no": "42", "money": "6.00", "refund": "0" }] });
    let checked = line.call(&ask("epay_reconciliation", epay)).await;
    assert_eq!((checked["state"].as_i64(), checked["lot_only"][0].as_str()), (Some(1), Some("T9")), "{checked}");
    let bills = store.day_online_bills(today, 4).await.expect("bills");
    assert!(bills.contains(&(CODE.to_owned(), "O_newB42".to_owned(), 600, 4)), "{bills:?}");

    // The money statements run on this store (the recovery job reads them every few seconds).
    assert!(store.renewals_to_settle().await.expect("renewals to settle").is_empty());
    assert_eq!(store.prune_scans(0).await.expect("prune"), 0, "nothing that old");
    assert_eq!(store.notice_answered(CODE, "none").await.expect("notice"), None);
    assert!(!store.told_about_any(PARK, "R-none-").await.expect("told"));
    assert!(
        store
            .move_fixed_car_end(CODE, "card-007", None, "2027-07-01 00:00:00", "2026-12-04 10:00:00")
            .await
            .expect("move")
    );
    assert!(
        !store
            .move_fixed_car_end(CODE, "card-007", None, "2027-06-15 00:00:00", "2026-12-04 10:00:00")
            .await
            .expect("move"),
        "never shortened"
    );
    assert!(
        store
            .move_fixed_car_end(
                CODE,
                "card-007",
                Some("2027-07-01 00:00:00"),
                "2027-06-01 00:00:00",
                "2026-12-04 10:00:00"
            )
            .await
            .expect("move"),
        "undone from exactly its end"
    );
    let payments = store
        .lot_day_payments(
            CODE,
            today,
            [onepark_platform::store::Purpose::Prepay, onepark_platform::store::Purpose::Exit],
        )
        .await;
    assert!(payments.expect("payments").is_empty());

    // A flood: past 100 messages in 10 s on the token.
    let mut throttled = 0;
    for i in 0..110 {
        let r = line
            .call(&envelope(
                "query_month_card_page",
                Some(&token),
                &json!({ "rp": 1, "page": 1, "random_str": i.to_string() }),
            ))
            .await;
        throttled += i64::from(r["errmsg"] == "request_over_times");
    }
    assert!(throttled >= 10, "{throttled}");

    // The HTTP mode: login, an entry, a poll that finds nothing, a scan's request through the poll.
    let post = |path: &'static str, body: String| {
        let client = client.clone();
        let http = http.clone();
        async move {
            client.post(format!("{http}{path}")).body(body).send().await.expect("post").text().await.expect("body")
        }
    };
    let login: Value = serde_json::from_str(
        &post("/bpd/upload.do", envelope("login", None, &json!({ "park_id": PARK, "union_id": "200208" }))).await,
    )
    .expect("json");
    let token = login["token"].as_str().expect("token").to_owned();
    let entry = json!({ "car_number": "鲁B54321", "in_time": now - 100, "order_id": "H_1", "empty_plot": 90 });
    let reply: Value =
        serde_json::from_str(&post("/bpd/upload.do", envelope("inpark", Some(&token), &entry)).await).expect("json");
    assert_eq!(reply["state"], 1, "{reply}");
    assert!(store.open_stay(CODE, "H_1").await.expect("read").is_some());
    let wrong: Value =
        serde_json::from_str(&post("/bpd/upload.do", envelope("inpark", Some("nope"), &entry)).await).expect("json");
    assert_eq!(wrong["errmsg"], "error:token无效");
}

#[tokio::test]
async fn a_bolink_lot_over_tcp_and_http_on_sqlite() {
    let dir = TempDir::new("platform-bolink");
    run(format!("sqlite://{}", dir.path().join("p.db").display()), &dir).await;
}

#[tokio::test]
async fn a_bolink_lot_over_tcp_and_http_on_postgres() {
    let Some(pg) = PgSchema::new("a_bolink_lot_over_tcp_and_http_on_postgres").await else { return };
    let dir = TempDir::new("platform-bolink-pg");
    run(pg.url.clone(), &dir).await;
    pg.drop().await;
}
