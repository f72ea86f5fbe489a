//! The lane and staff API were open to anyone on the network: 118 posts of
//! `{}` filled a lot with 未识别 sessions until a real car was refused as
//! "full". Device tokens, staff login, this-machine-only without `[auth]`,
//! and bounded inputs.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use onepark_lot::app::{LotState, router, start};
use onepark_lot::config::Config;
use onepark_testkit::config::lot_toml;
use onepark_testkit::dirs::TempDir;
use onepark_testkit::router::{Reply, send};
use serde_json::{Value, json};
use tower::ServiceExt;

const CAMERA: &str = "cam-1-token-0123456789";

struct Lot {
    state: LotState,
    _dir: TempDir,
}

async fn lot(tag: &str, auth: &str) -> Lot {
    lot_with(tag, "", auth).await
}

/// `top`: top-level keys (before the tables); `auth`: tables at the end.
async fn lot_with(tag: &str, top: &str, auth: &str) -> Lot {
    let dir = TempDir::new(&format!("lot-auth-{tag}"));
    // No platform listens there: records wait in the outbox.
    let toml = lot_toml("1001", &format!("{top}\n"), &dir.join("lot.db"), (100, 100), "http://127.0.0.1:9/api/v1/cp");
    std::fs::write(dir.join("lot.toml"), toml + auth).expect("config");
    let state = start(Config::load(&dir.join("lot.toml")).expect("config")).await.expect("start");
    Lot { state, _dir: dir }
}

impl Lot {
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Value, from: [u8; 4]) -> (u16, Value) {
        let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut request = request.body(Body::from(body.to_string())).expect("request");
        request.extensions_mut().insert(ConnectInfo(std::net::SocketAddr::from((from, 40000))));
        let Reply { status, body, .. } = send(&router(self.state.clone()), request).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// From this machine, with a browser's headers; the body as text (a page or JSON).
    async fn browser(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = if method == "POST" { json!({ "reason": "救护车" }).to_string() } else { String::new() };
        let mut request = request.body(Body::from(body)).expect("request");
        request.extensions_mut().insert(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40000))));
        let reply = send(&router(self.state.clone()), request).await;
        (reply.status, reply.text())
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call("POST", path, token, body, [192, 168, 1, 20]).await
    }
}

#[tokio::test]
async fn devices_post_lane_events_for_their_lanes_and_staff_log_in() {
    let hash = onepark_lot::auth::hash_password("booth-pass").expect("hash");
    let auth = format!(
        "[[auth.devices]]\nname = \"east camera\"\ntoken = \"{CAMERA}\"\nlanes = [\"1\"]\n\
         [[auth.staff]]\nuser = \"zhang\"\npassword = \"{hash}\"\n"
    );
    let lot = lot("tokens", &auth).await;

    // The gateway's own address opens the booth (its login, since nobody is logged in).
    let (status, _) = lot.browser("GET", "/", &[("host", "127.0.0.1:8090")]).await;
    assert_eq!(status, 303, "the root leads to the booth");

    // The probe's flood: `{}` without a token creates nothing.
    for _ in 0..5 {
        let (status, reply) = lot.post("/api/lanes/1/entry", None, json!({})).await;
        assert_eq!(status, 401, "{reply}");
    }
    let (status, _) = lot.post("/api/lanes/1/entry", Some("guessed-token-000000"), json!({})).await;
    assert_eq!(status, 401);
    // The camera: its own lane only, lane events only.
    let (status, reply) = lot.post("/api/lanes/2/exit", Some(CAMERA), json!({ "plateNo": "鲁B12345" })).await;
    assert_eq!(status, 403, "{reply}");
    let (status, reply) = lot.post("/api/lanes/1/open", Some(CAMERA), json!({ "reason": "x" })).await;
    assert_eq!(status, 403, "a camera cannot open the barrier: {reply}");
    let (status, reply) = lot.post("/api/lanes/1/entry", Some(CAMERA), json!({ "plateNo": "鲁B12345" })).await;
    assert_eq!((status, reply["open"].as_bool()), (200, Some(true)), "{reply}");
    let (status, _) = lot.call("GET", "/api/sessions", Some(CAMERA), json!({}), [192, 168, 1, 20]).await;
    assert_eq!(status, 403, "a camera cannot read sessions");

    // Staff: wrong password, then the right one.
    let (status, _) = lot.post("/api/login", None, json!({ "user": "zhang", "password": "nope" })).await;
    assert_eq!(status, 401);
    let (status, login) = lot.post("/api/login", None, json!({ "user": "zhang", "password": "booth-pass" })).await;
    assert_eq!(status, 200, "{login}");
    let token = login["token"].as_str().expect("token").to_owned();
    let (status, sessions) = lot.call("GET", "/api/sessions", Some(&token), json!({}), [192, 168, 1, 20]).await;
    assert_eq!(status, 200, "{sessions}");
    let items = sessions["items"].as_array().expect("sessions").len();
    assert_eq!(items, 1, "only the camera's car is inside: {sessions}");
    let (status, reply) =
        lot.post("/api/lanes/1/open", Some(&token), json!({ "reason": "救护车", "operator": "zhang" })).await;
    assert_eq!((status, reply["open"].as_bool()), (200, Some(true)), "{reply}");
}

#[tokio::test]
async fn without_auth_only_this_machine_is_answered() {
    let lot = lot("local", "").await;
    let (status, reply) = lot.post("/api/lanes/1/entry", None, json!({ "plateNo": "鲁B12345" })).await;
    assert_eq!(status, 401, "{reply}");
    assert!(reply["msg"].as_str().is_some_and(|m| m.contains("[auth]")), "{reply}");
    let (status, reply) =
        lot.call("POST", "/api/lanes/1/entry", None, json!({ "plateNo": "鲁B12345" }), [127, 0, 0, 1]).await;
    assert_eq!((status, reply["open"].as_bool()), (200, Some(true)), "{reply}");
}

#[tokio::test]
async fn lane_and_staff_inputs_are_bounded_with_the_field_named() {
    let lot = lot("bounds", "").await;
    let local = |path: &'static str, body: Value| {
        let lot = &lot;
        async move { lot.call("POST", path, None, body, [127, 0, 0, 1]).await.1 }
    };
    let far = onepark_domain::time::format_time(
        onepark_domain::time::Zone::default().local(chrono::Utc::now()) + chrono::Duration::hours(3),
    );
    for (body, field) in [
        (json!({ "plateNo": "鲁B12345", "carType": 99 }), "carType"),
        (json!({ "plateNo": "鲁B12345", "plateColor": -1 }), "plateColor"),
        (json!({ "plateNo": "鲁B12345", "time": far }), "time"),
        (json!({ "plateNo": "鲁B12345", "time": "1970-01-01 00:00:00" }), "time"),
    ] {
        let reply = local("/api/lanes/1/entry", body.clone()).await;
        assert_eq!(reply["reason"], "bad_request", "{body}: {reply}");
        assert!(reply["error"].as_str().is_some_and(|e| e.starts_with(field)), "{body}: {reply}");
    }
    let reply = local("/api/lanes/1/open", json!({ "reason": "x".repeat(201) })).await;
    assert!(reply["error"].as_str().is_some_and(|e| e.starts_with("reason")), "{reply}");
    let reply = local("/api/lanes/1/open", json!({ "reason": "ok", "operator": "a\u{0}b" })).await;
    assert!(reply["error"].as_str().is_some_and(|e| e.starts_with("operator")), "{reply}");
    let (_, sessions) = lot.call("GET", "/api/sessions", None, json!({}), [127, 0, 0, 1]).await;
    assert_eq!(sessions["items"].as_array().map(Vec::len), Some(0), "nothing refused was recorded: {sessions}");
}

/// Found by the contract run (.ci/contract): a plate correction took any
/// carType/plateColor and control characters in `operator` (the platform
/// then refused the uploadModifyCarInData and the record was set aside); a
/// month card took any text as a plate and silently moved a plate off
/// another card; lane refusals were HTTP 200.
#[tokio::test]
async fn staff_inputs_the_platform_would_refuse_are_refused_at_the_lot() {
    let lot = lot("contract", "").await;
    let local = |method: &'static str, path: String, body: Value| {
        let lot = &lot;
        async move { lot.call(method, &path, None, body, [127, 0, 0, 1]).await }
    };
    let (status, entry) = local("POST", "/api/lanes/1/entry".into(), json!({ "plateNo": "" })).await;
    assert_eq!((status, entry["open"].as_bool()), (200, Some(true)), "{entry}");
    let uid = entry["uid"].as_str().expect("uid").to_owned();
    let plate = format!("/api/sessions/{uid}/plate");
    for (body, field) in [
        (json!({ "plateNo": "鲁B12345", "carType": 91 }), "carType"),
        (json!({ "plateNo": "鲁B12345", "plateColor": 0 }), "plateColor"),
        (json!({ "plateNo": "鲁B12345", "operator": "\u{84}" }), "operator"),
    ] {
        let (status, reply) = local("POST", plate.clone(), body.clone()).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(reply["error"].as_str().is_some_and(|e| e.starts_with(field)), "{body}: {reply}");
    }
    let (status, reply) = local("POST", plate, json!({ "plateNo": "鲁b-12345", "carType": 1.0 })).await;
    assert_eq!((status, reply["plateNo"].as_str()), (200, Some("鲁B12345")), "{reply}");

    let card = |id: &str, plates: Value| {
        json!({ "id": id, "owner": "张三", "plates": plates, "startTime": "2026-01-01 00:00:00",
            "endTime": "2026-12-28 00:00:00" })
    };
    let (status, reply) = local("POST", "/api/month-cards".into(), card("c1", json!(["鲁b 55555"]))).await;
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = local("POST", "/api/month-cards".into(), card("c2", json!(["鲁B55555"]))).await;
    assert_eq!(status, 409, "a plate stays on its card: {reply}");
    let (status, reply) = local("POST", "/api/month-cards".into(), card("c3", json!(["\u{7}x"]))).await;
    assert_eq!(status, 400, "{reply}");
    assert!(reply["error"].as_str().is_some_and(|e| e.starts_with("plates[0]")), "{reply}");
    let (_, cards) = local("GET", "/api/month-cards".into(), json!({})).await;
    assert_eq!(cards["items"][0]["plates"], json!(["鲁B55555"]), "canonical plates: {cards}");

    let (status, reply) = local("POST", "/api/lanes/9/entry".into(), json!({ "plateNo": "鲁B1" })).await;
    assert_eq!((status, reply["reason"].as_str()), (404, Some("unknown_lane")), "{reply}");
    let (status, reply) = local("POST", "/api/lanes/1/entry".into(), json!([])).await;
    assert_eq!((status, reply["reason"].as_str()), (400, Some("bad_request")), "{reply}");
    let (status, doc) = local("GET", "/api/openapi.json".into(), json!({})).await;
    assert_eq!((status, doc["openapi"].as_str()), (200, Some("3.1.0")));
}

/// Found by the adversarial probe: plates with BEL, ESC, NUL, DEL, a
/// zero-width space or U+202E were accepted at the lane and the barrier
/// opened; the platform then refused the records, so the city never heard of
/// those stays. Every door that takes a plate refuses them, naming the field.
#[tokio::test]
async fn plates_with_control_or_invisible_characters_are_refused_at_every_door() {
    let lot = lot("invisible", "").await;
    let local = |method: &'static str, path: String, body: Value| {
        let lot = &lot;
        async move { lot.call(method, &path, None, body, [127, 0, 0, 1]).await }
    };
    let bad = [
        "鲁B1234\u{7}",
        "\u{1b}[2J鲁B12345",
        "鲁B\u{0}12345",
        "鲁B12345\u{7f}",
        "鲁B123\u{200b}45",
        "\u{202e}鲁B12345",
    ];
    for plate in bad {
        for path in ["/api/lanes/1/entry", "/api/lanes/2/exit"] {
            let (status, reply) = local("POST", path.into(), json!({ "plateNo": plate })).await;
            assert_eq!((status, reply["open"].as_bool()), (400, Some(false)), "{plate:?} at {path}: {reply}");
            assert_eq!(reply["reason"], "bad_request", "{plate:?}: {reply}");
            assert!(reply["error"].as_str().is_some_and(|e| e.starts_with("plateNo")), "{plate:?}: {reply}");
            assert!(reply["msg"].as_str().is_some_and(|m| m.starts_with("plateNo：车牌第")), "{plate:?}: {reply}");
        }
        let (status, reply) =
            local("POST", "/api/lanes/2/open".into(), json!({ "reason": "救护车", "plateNo": plate })).await;
        assert_eq!((status, reply["open"].as_bool()), (400, Some(false)), "{plate:?} opened by hand: {reply}");
        let search = format!("/api/sessions?plateNo={}", urlencoding(plate));
        let (status, reply) = local("GET", search, json!({})).await;
        assert_eq!(status, 400, "{plate:?} as a search: {reply}");
    }
    let (_, sessions) = local("GET", "/api/sessions".into(), json!({})).await;
    assert_eq!(sessions["items"].as_array().map(Vec::len), Some(0), "no session was opened: {sessions}");

    let (_, entry) = local("POST", "/api/lanes/1/entry".into(), json!({ "plateNo": "" })).await;
    let uid = entry["uid"].as_str().expect("uid").to_owned();
    for plate in bad {
        let (status, reply) = local("POST", format!("/api/sessions/{uid}/plate"), json!({ "plateNo": plate })).await;
        assert_eq!(status, 400, "{plate:?}: {reply}");
        assert!(reply["error"].as_str().is_some_and(|e| e.starts_with("plateNo: 车牌第")), "{plate:?}: {reply}");
        let card = json!({ "id": "c1", "owner": "张三", "plates": ["鲁B55555", plate],
            "startTime": "2026-01-01 00:00:00", "endTime": "2026-12-28 00:00:00" });
        let (status, reply) = local("POST", "/api/month-cards".into(), card).await;
        assert_eq!(status, 400, "{plate:?}: {reply}");
        assert!(reply["error"].as_str().is_some_and(|e| e.starts_with("plates[1]")), "{plate:?}: {reply}");
        let path = format!("/api/arrears/{}/collected", urlencoding(plate));
        let (status, reply) = local("POST", path, json!({ "amount": 100 })).await;
        assert_eq!(status, 400, "{plate:?}: {reply}");
    }
    let (_, cards) = local("GET", "/api/month-cards".into(), json!({})).await;
    assert_eq!(cards["items"].as_array().map(Vec::len), Some(0), "{cards}");
}

/// Percent-encodes every byte but ASCII letters and digits (a query or path segment).
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Found by the adversarial probe (DNS rebinding): a page on a name the
/// attacker re-points at 127.0.0.1 is same-origin with the gateway to the
/// browser, so it read `/booth` and opened a barrier with
/// `Sec-Fetch-Site: same-origin` and a foreign Host; `Origin: null` without
/// Sec-Fetch-Site opened it too.
#[tokio::test]
async fn a_rebound_name_or_an_opaque_origin_is_refused() {
    let lot = lot_with("rebinding", "hosts = [\"Booth.Lot1.internal.\"]", "").await;
    let rebound = "rebound.example:8090";
    let (status, page) = lot.browser("GET", "/booth", &[("host", rebound), ("sec-fetch-site", "none")]).await;
    assert_eq!(status, 403, "the booth page read through a rebound name: {page}");
    assert!(page.contains("foreign_host") && page.contains("拒绝访问：主机名 rebound.example:8090"), "{page}");
    let same_origin = [("host", rebound), ("sec-fetch-site", "same-origin"), ("origin", "http://rebound.example:8090")];
    let (status, reply) = lot.browser("POST", "/api/lanes/2/open", &same_origin).await;
    assert_eq!(status, 403, "a barrier opened through a rebound name: {reply}");
    for path in ["/metrics", "/api/status", "/api/login", "/booth/login", "/assets/app.css"] {
        let (status, reply) = lot.browser("GET", path, &[("host", "rebound.example")]).await;
        assert_eq!(status, 403, "{path}: {reply}");
    }
    let (status, reply) =
        lot.browser("POST", "/api/lanes/2/open", &[("host", "127.0.0.1:8090"), ("origin", "null")]).await;
    assert_eq!(status, 403, "Origin: null opened a barrier: {reply}");
    assert!(reply.contains("拒绝其他网站页面发起的请求"), "{reply}");

    // The gateway's own names: addresses, localhost, `hosts` (any case, a trailing dot, any port).
    for host in [
        "127.0.0.1:8090",
        "localhost:8090",
        "LOCALHOST",
        "[::1]:8090",
        "192.168.1.5:8090",
        "booth.lot1.internal:80",
        "booth.LOT1.internal.",
    ] {
        let (status, page) = lot.browser("GET", "/booth", &[("host", host), ("sec-fetch-site", "none")]).await;
        assert_eq!(status, 200, "{host}: {page}");
        let headers = [("host", host), ("sec-fetch-site", "same-origin"), ("origin", &format!("http://{host}"))];
        let (status, reply) = lot.browser("POST", "/api/lanes/2/open", &headers).await;
        assert_eq!(status, 200, "{host}: {reply}");
    }
    // Cameras and scripts send no Origin; in-process callers no Host.
    let (status, reply) = lot.browser("POST", "/api/lanes/2/open", &[("host", "127.0.0.1:8090")]).await;
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = lot.browser("POST", "/api/lanes/2/open", &[]).await;
    assert_eq!(status, 200, "{reply}");
}

/// Found by the adversarial probe: the five-a-minute throttle was checked
/// before the slow password hash and counted after it, so 60 concurrent tries
/// checked 38 passwords; the failure memory was keyed by the name as sent and
/// never pruned (300 tries with 400 KB names: RSS 26 → 149 MiB).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logins_check_at_most_five_passwords_and_names_are_bounded() {
    let hash = onepark_lot::auth::hash_password("booth-pass").expect("hash");
    let lot = lot("throttle", &format!("[[auth.staff]]\nuser = \"zhang\"\npassword = \"{hash}\"\n")).await;
    let app = router(lot.state.clone());
    let mut tries = tokio::task::JoinSet::new();
    for i in 0..60 {
        let app = app.clone();
        tries.spawn(async move {
            let body = json!({ "user": "zhang", "password": format!("guess-{i}") }).to_string();
            let request = Request::post("/api/login").header("content-type", "application/json").body(Body::from(body));
            app.oneshot(request.expect("request")).await.expect("response").status().as_u16()
        });
    }
    let answers = tries.join_all().await;
    let checked = answers.iter().filter(|status| **status == 401).count();
    let held = answers.iter().filter(|status| **status == 429).count();
    assert_eq!((checked, held), (5, 55), "passwords checked, tries held off: {answers:?}");
    let (status, _) = lot.post("/api/login", None, json!({ "user": "zhang", "password": "booth-pass" })).await;
    assert_eq!(status, 429, "held off for the rest of the minute, whatever the password");

    let long = json!({ "user": "x".repeat(400 * 1024), "password": "p" }).to_string();
    for _ in 0..300 {
        let request =
            Request::post("/api/login").header("content-type", "application/json").body(Body::from(long.clone()));
        let status = app.clone().oneshot(request.expect("request")).await.expect("response").status().as_u16();
        assert_eq!(status, 400);
    }
    let at_bound = "y".repeat(onepark_lot::auth::MAX_USER_BYTES);
    let (status, _) = lot.post("/api/login", None, json!({ "user": at_bound, "password": "p" })).await;
    assert_eq!(status, 401);
    assert_eq!(lot.state.sessions().tracked_logins(), 2, "zhang and the 64-byte name; long names never kept");
}

/// The booth says what went wrong in its page's language, never the API's
/// English (a mistyped plate, a plate already inside).
#[tokio::test]
async fn the_booth_says_what_went_wrong_in_the_pages_language() {
    let lot = lot("booth-language", "").await;
    let local = [127, 0, 0, 1];
    let (status, entered) = lot.call("POST", "/api/lanes/1/entry", None, json!({ "plateNo": "鲁B12345" }), local).await;
    assert_eq!(status, 200, "{entered}");
    let uid = entered["uid"].as_str().expect("uid").to_owned();
    lot.call("POST", "/api/lanes/1/entry", None, json!({ "plateNo": "鲁B54321" }), local).await;
    let correct = |plate: &'static str, lang: &'static str| {
        let mut request = Request::builder()
            .method("POST")
            .uri("/booth/plate")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "127.0.0.1:8090")
            .header("cookie", format!("lang={lang}"))
            .body(Body::from(format!("uid={uid}&plate={}", urlencode(plate))))
            .expect("request");
        request.extensions_mut().insert(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40000))));
        let app = router(lot.state.clone());
        async move {
            let reply = app.oneshot(request).await.expect("reply");
            let to = reply.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            form_urlencoded::parse(to.split_once('?').map_or("", |(_, q)| q).as_bytes())
                .map(|(_, v)| v.into_owned())
                .collect::<String>()
        }
    };
    let zh = correct("ASDF", "zh").await;
    assert!(zh.contains("不是以省份简称") && !zh.contains("does not"), "{zh}");
    let en = correct("ASDF", "en").await;
    assert!(en.contains("does not start") && !en.contains("省份"), "{en}");
    let taken = correct("鲁B54321", "zh").await;
    assert!(taken.contains("已有在场记录"), "{taken}");
    let done = correct("鲁B12346", "zh").await;
    assert!(done.contains("鲁B12346"), "corrected: {done}");
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The booth's cars inside are searched by a part of the plate and paged
/// (50 a page), not listed 240 rows at once.
#[tokio::test]
async fn the_booths_cars_inside_are_searched_and_paged() {
    let lot = lot("booth-paging", "").await;
    for i in 0..60 {
        let plate = format!("鲁B{:05}", 10_000 + i);
        let (status, _) =
            lot.call("POST", "/api/lanes/1/entry", None, json!({ "plateNo": plate }), [127, 0, 0, 1]).await;
        assert_eq!(status, 200);
    }
    let host = [("host", "127.0.0.1:8090")];
    let (status, first) = lot.browser("GET", "/booth", &host).await;
    assert_eq!(status, 200);
    let inside = |page: &str| {
        page.split("id=\"inside\"")
            .nth(1)
            .and_then(|t| t.split("</table>").next())
            .unwrap_or("")
            .matches("<tr>")
            .count()
    };
    assert_eq!(inside(&first), 50, "a page of 50");
    assert!(first.contains("下一页") && !first.contains("上一页"), "{first}");
    let (_, second) = lot.browser("GET", "/booth?page=2", &host).await;
    assert_eq!(inside(&second), 10, "the rest");
    assert!(second.contains("上一页"), "{second}");
    let (_, found) = lot.browser("GET", "/booth?q=10042", &host).await;
    assert_eq!(inside(&found), 1, "a part of the plate: {found}");
    assert!(found.contains("鲁B10042"));
    let (_, odd) = lot.browser("GET", "/booth?q=%25_%27", &host).await;
    assert_eq!(inside(&odd), 50, "wildcards and quotes are no search: the first page of all");
}
