//! Time moved by the test, not waited for: the platform runs on a manual
//! clock (`onepark_serve::clock::Clock`), and each background job's single
//! pass is driven by hand. Downlink retry and expiry; the payment recovery job.

mod common;

use chrono::{DateTime, Duration, Utc};
use onepark_platform::app::{AppState, router};
use onepark_platform::link::qdpark::downlink::publish_due;
use onepark_platform::payments::{new_payment, recover_once};
use onepark_platform::store::{Debt, DownlinkState, PayState, Purpose, Store};
use onepark_serve::clock::Clock;
use serde_json::json;

/// 2026-12-04 10:00:00 in Qingdao.
fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T10:00:00+08:00").expect("time").with_timezone(&Utc)
}

struct Platform {
    state: AppState,
    app: axum::Router,
    clock: Clock,
    _dir: onepark_testkit::dirs::TempDir,
}

async fn platform(tag: &str, retry: Duration) -> Platform {
    let temp = onepark_testkit::dirs::TempDir::new(&format!("clock-{tag}"));
    let dir = temp.path().to_path_buf();
    let mut config = common::config(format!("sqlite://{}", dir.join("p.db").display()), dir, "234");
    config.downlink_retry = retry;
    let store = Store::connect(&config.database).await.expect("store");
    let clock = Clock::manual(start());
    let state = AppState::with_clock(&config, store, clock.clone());
    Platform { app: router(&config, state.clone()), state, clock, _dir: temp }
}

#[tokio::test]
async fn a_downlink_is_retried_after_its_backoff_and_expires_after_the_retry_period() {
    let p = platform("downlink", Duration::minutes(10)).await;
    // A client whose event loop never runs: publishing only queues the packet.
    let (client, _events) =
        onepark_platform::link::qdpark::downlink::client("mqtt://127.0.0.1:9", "clock-test").expect("client");
    let change = json!({ "accessId": "234", "plateNo": "鲁B12345", "list": "black", "operate": "add",
        "carType": 1, "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00", "remark": "测试" });
    let (status, sent) = common::admin_post(&p.app, "/api/admin/lists", change).await;
    assert_eq!(status, 200, "{sent}");
    let request_id = sent["sent"][0]["requestId"].as_i64().expect("requestId");
    let row = || async { p.state.store().downlink(request_id).await.expect("read").expect("stored") };
    assert_eq!(row().await.created_at, "2026-12-04 10:00:00", "stamped by the platform's clock");

    publish_due(&p.state, &client).await.expect("pass");
    assert_eq!((row().await.state, row().await.attempts), (DownlinkState::Published, 1));

    // specialCar's confirm deadline is 20 s: not retried before it.
    p.clock.advance(Duration::seconds(19));
    publish_due(&p.state, &client).await.expect("pass");
    assert_eq!(row().await.attempts, 1, "not due yet");
    p.clock.advance(Duration::seconds(1));
    publish_due(&p.state, &client).await.expect("pass");
    assert_eq!(row().await.attempts, 2, "retried at the deadline");
    // Then the wait doubles: 40 s.
    p.clock.advance(Duration::seconds(39));
    publish_due(&p.state, &client).await.expect("pass");
    assert_eq!(row().await.attempts, 2);
    p.clock.advance(Duration::seconds(1));
    publish_due(&p.state, &client).await.expect("pass");
    assert_eq!(row().await.attempts, 3);

    // Unconfirmed for the whole retry period (10 min): expired, never sent again.
    p.clock.set(start() + Duration::minutes(10) + Duration::seconds(1));
    publish_due(&p.state, &client).await.expect("pass");
    let expired = row().await;
    assert_eq!((expired.state, expired.attempts), (DownlinkState::Expired, 3));
}

#[tokio::test]
async fn the_recovery_job_asks_about_a_charge_only_once_it_is_five_seconds_old() {
    let p = platform("recovery", Duration::hours(24)).await;
    let store = p.state.store();
    // A charge stored when the platform stopped before asking the channel.
    let pending = new_payment(
        &p.state,
        Purpose::AfterLeave,
        "1001",
        "B-clock",
        "U-clock",
        ("鲁B54321", 1),
        ("2026-12-04 08:00:00", "2026-12-04 09:59:00", "2026-12-04 09:59:00"),
        300,
    );
    store.begin_payment(&pending, &[(Debt::bill("1001", "B-clock"), 300)]).await.expect("stored");
    let state = || async { store.payment("1001", "B-clock").await.expect("read").expect("stored").state };

    recover_once(&p.state).await;
    p.clock.advance(Duration::seconds(4));
    recover_once(&p.state).await;
    assert_eq!(state().await, PayState::Pending, "younger than 5 s: left to the answer under way");

    p.clock.advance(Duration::seconds(2));
    recover_once(&p.state).await;
    // The channel never had it, so the job asks now; the sandbox knows no
    // such driver and declines it.
    assert_eq!(state().await, PayState::Declined);
}

/// A Bolink lot away for ten minutes hears every message queued for it in
/// the order they were made once it logs in again — not in the phases of
/// each message's offline retry (every 5 s from its own creation).
#[tokio::test]
async fn a_bolink_lot_back_after_ten_minutes_hears_its_messages_in_order() {
    let temp = onepark_testkit::dirs::TempDir::new("clock-bolink-order");
    let dir = temp.path().to_path_buf();
    let mut config = common::config(format!("sqlite://{}", dir.join("p.db").display()), dir, "234");
    config.lots.push(onepark_platform::config::LotAccess::bolink("21835", "TEST-ONLY-bolink-key", "BL001", 50));
    let store = Store::connect(&config.database).await.expect("store");
    let clock = Clock::manual(start());
    let state = AppState::with_clock(&config, store, clock.clone());
    let app = router(&config, state.clone());
    use onepark_platform::link::bolink::publish::publish_due as publish_bolink;

    // Offline from the start: each message is tried every 5 s from when it was made.
    let mut made = Vec::new();
    for (i, step) in [0, 3, 1, 4, 2].into_iter().enumerate() {
        clock.advance(Duration::seconds(step));
        let body = json!({ "channel_id": format!("C{i}"), "operate_type": 1, "passname": format!("通道{i}") });
        let (status, issued) = common::admin_post(&app, "/api/admin/bolink/BL001/sync/gate_sync", body).await;
        assert_eq!(status, 202, "{issued}");
        made.push(issued["requestId"].as_i64().expect("requestId"));
        publish_bolink(&state).await.expect("pass");
    }
    // Ten minutes go by in uneven steps, the publisher finding the lot away each time.
    let until = clock.now() + Duration::minutes(10);
    let mut step = 1;
    while clock.now() < until {
        clock.advance(Duration::seconds(step));
        step = step % 7 + 2;
        assert_eq!(publish_bolink(&state).await.expect("pass"), 0, "nobody to send to");
    }

    // The lot logs in: everything pending is due at once, sent oldest first.
    let (_, mailbox) = state.bolink().attach("21835", None, false);
    onepark_platform::link::bolink::connection::due_again(&state, "21835").await;
    assert_eq!(publish_bolink(&state).await.expect("pass"), made.len());
    let heard: Vec<i64> = mailbox
        .drain()
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(m).expect("JSON");
            v["data"]["request_no"].as_str().expect("request_no").parse().expect("number")
        })
        .collect();
    assert_eq!(heard, made, "in the order they were made");
}

/// A lot first heard from at noon and every ten minutes since is online
/// ~100 % at 13:00, not "a twelfth of the day"; an older lot heard the
/// same hour only is counted over the whole day.
#[tokio::test]
async fn a_lot_added_at_noon_is_fully_online_an_hour_later() {
    let p = platform("online-rate", Duration::hours(24)).await;
    let noon = DateTime::parse_from_rfc3339("2026-12-04T12:00:00+08:00").expect("time").with_timezone(&Utc);
    p.clock.set(noon);
    for _ in 0..=6 {
        let now = onepark_domain::time::format_time(p.state.now());
        p.state.store().heartbeat("234", "1001", &now).await.expect("heartbeat");
        p.clock.advance(Duration::minutes(10));
    }
    p.clock.set(noon + Duration::minutes(65));
    let o = onepark_platform::city::overview::overview(&p.state).await.expect("overview");
    let lot = o.lots.iter().find(|l| l.parking_code == "1001").expect("the lot");
    assert!(lot.online_rate_today > 0.99, "online since it was first heard: {}", lot.online_rate_today);
    // The same hour for a lot whose first report predates today: counted over the day so far.
    sqlx::query("UPDATE lot_status SET first_seen = '2026-12-01 08:00:00' WHERE parking_code = '1001'")
        .execute(p.state.store().pool())
        .await
        .expect("older lot");
    let o = onepark_platform::city::overview::overview(&p.state).await.expect("overview");
    let lot = o.lots.iter().find(|l| l.parking_code == "1001").expect("the lot");
    assert!(lot.online_rate_today < 0.1, "an hour of a day: {}", lot.online_rate_today);
}
