//! Several platform nodes on one database: who may join, the jobs one node
//! at a time runs (leases), each downlink attempt published by one node, and
//! a cloud API request served once whichever node hears its copies.

mod common;

use chrono::{DateTime, Duration, Utc};
use onepark_platform::app::{AppState, router};
use onepark_platform::store::Store;
use onepark_serve::clock::Clock;
use serde_json::json;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-05T10:00:00+08:00").expect("time").with_timezone(&Utc)
}

fn named(database: &str, dir: &std::path::Path, name: &str) -> onepark_platform::config::Config {
    let mut config = common::config(database.to_owned(), dir.to_path_buf(), "234");
    config.node_name = name.into();
    config
}

#[tokio::test]
async fn a_second_process_on_one_sqlite_file_is_refused() {
    let temp = onepark_testkit::dirs::TempDir::new("nodes-sqlite");
    let database = format!("sqlite://{}", temp.path().join("p.db").display());
    let first = onepark_platform::app::spawn(named(&database, temp.path(), "a")).await.expect("first node");
    for name in ["b", "a"] {
        let second = onepark_platform::app::spawn(named(&database, temp.path(), name)).await;
        let refusal = second.expect_err("a second platform on one SQLite file").to_string();
        assert!(refusal.contains("p.db.lock") && refusal.contains("PostgreSQL"), "{refusal}");
    }
    // (A process that died, kill -9 included, leaves no lock: the cli tests restart platforms on their files.)
    // The health check a balancer reads.
    let health = raw_get(first.http, "/healthz").await;
    assert_eq!(health, (200, "ok a\n".to_owned()));
}

/// A GET over a plain socket: its status and body.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).await.expect("read");
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn nodes_on_postgres_share_the_work_and_do_it_once() {
    let Some(pg) = onepark_testkit::pg::PgSchema::new("nodes_on_postgres_share_the_work_and_do_it_once").await else {
        return;
    };
    let temp = onepark_testkit::dirs::TempDir::new("nodes-pg");
    let clock = Clock::manual(start());
    let node = |name: &str| {
        let config = named(&pg.url, temp.path(), name);
        let clock = clock.clone();
        async move {
            let store = Store::connect(&config.database).await.expect("store");
            let state = AppState::with_clock(&config, store, clock);
            (router(&config, state.clone()), state)
        }
    };
    let (app_a, a) = node("a").await;
    let (_, b) = node("b").await;
    let (_, c) = node("c").await;
    onepark_platform::node::join(&a, &pg.url, "external").await.expect("a joins");
    onepark_platform::node::join(&b, &pg.url, "external").await.expect("b joins beside a");
    // A node with the embedded broker would leave the others' lots deaf.
    let refusal =
        onepark_platform::node::join(&c, &pg.url, "embedded").await.expect_err("embedded beside others").to_string();
    assert!(refusal.contains("embedded MQTT broker"), "{refusal}");
    let alive = a.store().nodes_alive(clock.millis() - onepark_platform::node::ALIVE_MS).await.expect("nodes");
    assert_eq!(alive.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["a", "b"], "the refused node is not listed");

    // One node at a time runs a job; the other takes over once the lease runs out.
    assert!(onepark_platform::node::leased(&a, "payments").await);
    assert!(!onepark_platform::node::leased(&b, "payments").await, "held by a");
    assert!(onepark_platform::node::leased(&a, "payments").await, "renewed by its holder");
    clock.advance(Duration::milliseconds(onepark_platform::node::LEASE_MS + 1));
    assert!(onepark_platform::node::leased(&b, "payments").await, "a stopped renewing: b takes over");
    assert!(!onepark_platform::node::leased(&a, "payments").await, "and a stands by");
    // A node that stops cleanly frees its leases at once.
    onepark_platform::node::leave(&b).await;
    assert!(onepark_platform::node::leased(&a, "payments").await);

    // A downlink queued through a; both nodes' publishers look at once: one attempt, one publish.
    let change = json!({ "accessId": "234", "plateNo": "鲁B12345", "list": "black", "operate": "add",
        "carType": 1, "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00", "remark": "测试" });
    let (status, sent) = common::admin_post(&app_a, "/api/admin/lists", change).await;
    assert_eq!(status, 200, "{sent}");
    let request_id = sent["sent"][0]["requestId"].as_i64().expect("requestId");
    use onepark_platform::link::qdpark::downlink::{client, publish_due};
    let (client_a, _events_a) = client("mqtt://127.0.0.1:9", "nodes-a").expect("client");
    let (client_b, _events_b) = client("mqtt://127.0.0.1:9", "nodes-b").expect("client");
    for round in 1..=3 {
        let (ra, rb) = tokio::join!(publish_due(&a, &client_a), publish_due(&b, &client_b));
        ra.expect("a's pass");
        rb.expect("b's pass");
        let row = a.store().downlink(request_id).await.expect("read").expect("stored");
        assert_eq!(row.attempts, round, "each attempt claimed by one node");
        clock.advance(Duration::minutes(15));
    }
    let published = |s: &AppState| {
        let text = s.metrics().render(s.store().commit_stats(), 0);
        text.lines()
            .filter(|l| l.starts_with("onepark_downlink_published_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    let messages = sent["sent"].as_array().expect("sent").len() as u64;
    assert_eq!(published(&a) + published(&b), 3 * messages, "three attempts of each message, each published once");

    // A cloud API request's (pid, sign) is served once, whichever node hears it first.
    let now = clock.millis();
    let (first, copy) = tokio::join!(
        a.store().claim_request("cloudpark", "PID\nSIGN", now),
        b.store().claim_request("cloudpark", "PID\nSIGN", now)
    );
    assert_eq!([first.expect("a"), copy.expect("b")].iter().filter(|f| **f).count(), 1);
    assert!(!a.store().claim_request("cloudpark", "PID\nSIGN", now).await.expect("again"));
    assert_eq!(a.store().forget_claims(now + 1).await.expect("forget"), 1);
    pg.drop().await;
}
