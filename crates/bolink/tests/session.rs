//! The cloud side's session driven as a charging system would drive it, on
//! a virtual clock: login first, tokens and signs, heartbeats, the rate
//! limit, duplicates dropped only once stored, bad lines answered and
//! survived, silence closing the session; and the framer and envelope
//! never panic on arbitrary bytes.

use onepark_bolink::envelope::{Envelope, Reply};
use onepark_bolink::session::{Config, Event, Session};
use proptest::prelude::*;
use serde_json::{Value, json};

const KEY: &str = "TEST-ONLY-BOLINK-KEY";

fn line(service: &str, token: Option<&str>, data: Value, key: &str) -> Vec<u8> {
    let mut l = Envelope::build(service, token, &data, key).into_bytes();
    l.push(b'\n');
    l
}

/// Every reply sent so far, as JSON (heartbeat answers as `"0x12"`).
fn sent(s: &mut Session) -> Vec<Value> {
    let mut out = Vec::new();
    while let Some(bytes) = s.poll_transmit() {
        if bytes == [0x12] {
            out.push(json!("0x12"));
            continue;
        }
        let text = String::from_utf8(bytes).expect("utf-8");
        out.push(serde_json::from_str(text.trim()).expect("a JSON reply"));
    }
    out
}

fn logged_in(now: i64) -> Session {
    let mut s = Session::new(Config::default(), now);
    s.handle_input(now, &line("login", None, json!({ "park_id": "21835", "local_id": "A" }), KEY));
    match s.poll_event() {
        Some(Event::Login(l)) => assert_eq!(l.connection(), "21835_A"),
        other => panic!("expected a login, got {other:?}"),
    }
    s.accept_login(KEY, "tok-1");
    let replies = sent(&mut s);
    assert_eq!((replies[0]["state"].as_i64(), replies[0]["token"].as_str()), (Some(1), Some("tok-1")));
    s
}

fn in_park(order: &str) -> Value {
    json!({ "car_number": "京A12345", "in_time": 1_796_371_200, "order_id": order, "empty_plot": 10 })
}

#[test]
fn login_first_then_tokens_and_signs() {
    let mut s = Session::new(Config::default(), 0);
    s.handle_input(0, &line("in_park", Some("x"), in_park("o1"), KEY));
    assert_eq!(sent(&mut s)[0]["errmsg"], "error:token无效", "nothing before login");
    s.handle_input(0, &line("login", None, json!({ "park_id": "21835" }), "WRONG-KEY"));
    assert!(matches!(s.poll_event(), Some(Event::Login(_))));
    s.accept_login(KEY, "t");
    assert_eq!(sent(&mut s)[0]["errmsg"], "error:签名错误");
    assert!(matches!(s.poll_event(), Some(Event::Close(_))), "a bad login closes");
    assert!(s.is_closed());

    let mut s = logged_in(0);
    s.handle_input(1, &line("in_park", None, in_park("o1"), KEY));
    s.handle_input(2, &line("in_park", Some("other"), in_park("o1"), KEY));
    s.handle_input(3, &line("in_park", Some("tok-1"), in_park("o1"), "WRONG-KEY"));
    let errs: Vec<Value> = sent(&mut s).into_iter().map(|r| r["errmsg"].clone()).collect();
    assert_eq!(errs, [json!("未识别到token标记"), json!("error:token无效"), json!("error:签名错误")]);
    s.handle_input(4, &line("in_park", Some("tok-1"), in_park("o1"), KEY));
    let Some(Event::Message(m)) = s.poll_event() else { panic!("the message") };
    assert_eq!(m.service_name, "in_park");
    s.reply(&m, &Reply::ok("in_park").with("order_id", "o1"));
    assert_eq!(sent(&mut s)[0]["state"], 1);
}

#[test]
fn a_duplicate_is_dropped_only_once_stored() {
    let mut s = logged_in(0);
    let msg = line("in_park", Some("tok-1"), in_park("o2"), KEY);
    s.handle_input(1, &msg);
    let Some(Event::Message(m)) = s.poll_event() else { panic!("first") };
    // Storing failed: the lot sends it again and it is taken again.
    s.reply(&m, &Reply::refused("in_park", "存储暂不可用，请重发"));
    s.handle_input(2, &msg);
    let Some(Event::Message(m)) = s.poll_event() else { panic!("taken again after a failure") };
    s.reply(&m, &Reply::ok("in_park").with("order_id", "o2"));
    s.handle_input(3, &msg);
    assert!(s.poll_event().is_none(), "stored: the exact resend is not handed on");
    let replies = sent(&mut s);
    let last = replies.last().expect("a reply");
    assert_eq!((last["state"].as_i64(), last["order_id"].as_str()), (Some(0), Some("o2")));
    assert!(last["errmsg"].as_str().unwrap_or_default().contains("已处理过"));
}

#[test]
fn more_than_100_messages_in_10_s_are_refused_then_allowed_again() {
    let mut s = logged_in(0);
    for i in 0..101 {
        s.handle_input(1_000 + i, &line("heartbeat_info", Some("tok-1"), json!({ "n": i }), KEY));
    }
    let handed = std::iter::from_fn(|| s.poll_event()).count();
    assert_eq!(handed, 100);
    assert_eq!(sent(&mut s).last().expect("reply")["errmsg"], "request_over_times");
    s.handle_input(11_200, &line("heartbeat_info", Some("tok-1"), json!({ "n": "late" }), KEY));
    assert!(matches!(s.poll_event(), Some(Event::Message(_))), "the window moved on");
}

#[test]
fn heartbeats_bad_lines_and_silence() {
    let mut s = logged_in(0);
    s.handle_input(5, b"\x11");
    s.handle_input(6, b"not json\n");
    s.handle_input(7, b"{\"sign\":\"x\",\"data\":{}}\n");
    let mut long = vec![b'a'; 70 * 1024];
    long.push(b'\n');
    s.handle_input(8, &long);
    s.handle_input(9, &line("in_park", Some("tok-1"), in_park("o3"), KEY));
    let replies = sent(&mut s);
    assert_eq!(replies[0], json!("0x12"));
    assert!(replies[1]["errmsg"].as_str().unwrap_or_default().contains("JSON"));
    assert_eq!(replies[2]["errmsg"], "未识别到service_name标记");
    assert!(replies[3]["errmsg"].as_str().unwrap_or_default().contains("65536"));
    assert!(matches!(s.poll_event(), Some(Event::Message(_))), "the session goes on after bad lines");
    assert_eq!(s.poll_timeout(), Some(9 + Config::default().idle_ms));
    s.handle_timeout(9 + Config::default().idle_ms);
    assert!(matches!(s.poll_event(), Some(Event::Close(_))));
}

#[test]
fn a_connection_that_never_logs_in_is_closed_whatever_it_sends() {
    let mut s = Session::new(Config::default(), 0);
    // Heartbeats and refused lines keep the line busy, not the connection open.
    for t in (0..30_000).step_by(5_000) {
        s.handle_input(t, b"\x11");
        s.handle_input(t, b"not json\n");
    }
    assert_eq!(s.poll_timeout(), Some(Config::default().login_ms));
    s.handle_timeout(Config::default().login_ms);
    assert!(s.is_closed());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..20)) {
        let mut s = Session::new(Config { max_line: 128, ..Config::default() }, 0);
        for (i, c) in chunks.iter().enumerate() {
            s.handle_input(i as i64, c);
            while s.poll_event().is_some() {}
            while s.poll_transmit().is_some() {}
        }
    }

    #[test]
    fn signed_data_verifies_whatever_its_text(car in "[\\p{Han}A-Z0-9]{1,8}", spaces in " {0,3}") {
        let data = format!("{{\"car_number\":{spaces}\"{car}\",\"in_time\":1796371200}}");
        let sign = onepark_bolink::sign::sign(&data, KEY);
        let text = format!("{{\"service_name\":\"in_park\",\"sign\":\"{sign}\",\"token\":\"t\",\"data\":{data}}}");
        let e = Envelope::parse(text.as_bytes()).expect("parses");
        prop_assert!(onepark_bolink::sign::verify(&e.data_text, KEY, &e.sign));
    }
}
