//! The HTTP login/ACL endpoints an external broker (EMQX, mosquitto-go-auth)
//! calls: the same decisions as the embedded broker.

mod common;

use onepark_platform::app::{AppState, router};
use onepark_platform::store::Store;
use onepark_proto::mqtt::login_password;
use onepark_testkit::dirs::TempDir;
use onepark_testkit::keys::lot_private;
use serde_json::json;

/// The router and the directory it keeps its files in (removed when dropped).
async fn app() -> (axum::Router, TempDir) {
    let dir = TempDir::new("mqtt-auth");
    let file = dir.join("auth.db");
    let mut config = common::config(format!("sqlite://{}", file.display()), dir.to_path_buf(), "234");
    config.mqtt_url = Some("mqtt://onepark:s3cret@127.0.0.1:1883".into());
    let store = Store::connect(&config.database).await.expect("store");
    (router(&config, AppState::new(&config, store)), dir)
}

#[tokio::test]
async fn external_broker_logins_and_topics() {
    let (app, _dir) = app().await;
    let key = lot_private();
    let now = chrono::Utc::now().timestamp();
    let auth =
        |username: &str, password: String| json!({ "username": username, "password": password, "clientid": username });
    let cases = [
        (auth("234", login_password(&key, "234", now).expect("pw")), "allow", Some(false)),
        (auth("234_2", login_password(&key, "234_2", now).expect("pw")), "allow", Some(false)),
        (auth("234", login_password(&key, "234", now - 3600).expect("pw")), "deny", None),
        (auth("234", "secret".into()), "deny", None),
        (auth("999", login_password(&key, "999", now).expect("pw")), "deny", None),
        (
            json!({ "username": "234", "password": login_password(&key, "234", now).expect("pw"), "clientid": "235" }),
            "deny",
            None,
        ),
        (auth("onepark", "s3cret".into()), "allow", Some(true)),
        (auth("onepark", "guess".into()), "deny", None),
    ];
    for (body, result, superuser) in cases {
        let (status, reply) = common::admin_post(&app, "/api/admin/mqtt/auth", body.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(reply["result"], result, "{body} → {reply}");
        if let Some(superuser) = superuser {
            assert_eq!(reply["is_superuser"], superuser, "{body} → {reply}");
        }
    }

    let acl =
        |username: &str, topic: &str, action: &str| json!({ "username": username, "topic": topic, "action": action });
    let cases = [
        (acl("234", "qdpark/v1/+/234/1001", "subscribe"), "allow"),
        (acl("234", "/qdpark/v1/specialCar/234/#", "subscribe"), "allow"),
        (acl("234", "qdpark/v1/+/235/1001", "subscribe"), "deny"),
        (acl("234", "qdpark/v1/+/234/7777", "subscribe"), "deny"),
        (acl("234", "qdpark/v1/specialCar/234/1001", "publish"), "deny"),
        (acl("onepark", "qdpark/v1/specialCar/234/1001", "publish"), "allow"),
        (json!({ "username": "234", "topic": "qdpark/v1/specialCar/234/1001", "acc": 1 }), "allow"),
        (json!({ "username": "234", "topic": "qdpark/v1/specialCar/234/1001", "acc": 2 }), "deny"),
    ];
    for (body, result) in cases {
        let (status, reply) = common::admin_post(&app, "/api/admin/mqtt/acl", body.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(reply["result"], result, "{body} → {reply}");
    }

    // Without the admin token the endpoints say nothing.
    let request = axum::http::Request::post("/api/admin/mqtt/auth")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(auth("234", "x".into()).to_string()))
        .expect("request");
    let (status, _) = common::call(&app, request).await;
    assert_eq!(status, 401);
}

/// A lot of the parking cloud's MQ channel through the same endpoints: a
/// `cp1:` login signed with its secret, its own command topics to read and
/// report topics to write, nothing else.
#[tokio::test]
async fn external_broker_cloud_lot_logins_and_topics() {
    let (app, _dir) = app().await;
    let secret = "TEST-ONLY-CLOUD-LOT-SECRET-01";
    for (pid, code) in [("lot77", "TEST/77P1"), ("lot78", "TEST/78P1")] {
        let body = json!({ "pid": pid, "secret": secret, "kind": "lot", "parkCodes": [code] });
        let (status, reply) = common::admin_post(&app, "/api/admin/integrators", body).await;
        assert_eq!(status, 200, "{reply}");
    }
    let now = chrono::Utc::now().timestamp();
    let password = |client: &str, at: i64| onepark_cloudpark::channel::login_password("lot77", client, secret, at);
    let cases = [
        (json!({ "username": "lot77", "password": password("TEST/77P1_a", now), "clientid": "TEST/77P1_a" }), "allow"),
        (
            json!({ "username": "lot77", "password": password("TEST/77P1_a", now - 3600), "clientid": "TEST/77P1_a" }),
            "deny",
        ),
        (json!({ "username": "lot77", "password": password("TEST/78P1_a", now), "clientid": "TEST/78P1_a" }), "deny"),
        (json!({ "username": "lot77", "password": password("TEST/77P1_a", now), "clientid": "TEST/77P1_b" }), "deny"),
        // A Qingdao accessID's client id would take over that lot's session.
        (json!({ "username": "lot77", "password": password("234", now), "clientid": "234" }), "deny"),
    ];
    for (body, result) in cases {
        let (_, reply) = common::admin_post(&app, "/api/admin/mqtt/auth", body.clone()).await;
        assert_eq!(reply["result"], result, "{body} → {reply}");
    }
    let acl = |user: &str, topic: &str, action: &str| json!({ "username": user, "topic": topic, "action": action });
    let cases = [
        (acl("lot77", "tcp/TEST/77P1", "subscribe"), "allow"),
        (acl("lot77", "tcp/querymonthcard", "subscribe"), "allow"),
        (acl("lot77", "tcp/TEST/78P1", "subscribe"), "deny"),
        (acl("lot77", "tcp/#", "subscribe"), "deny"),
        (acl("lot77", "qdpark/v1/+/lot77/#", "subscribe"), "deny"),
        (acl("lot77", "pts/TEST/77P1", "publish"), "allow"),
        (acl("lot77", "pts/TEST/78P1", "publish"), "deny"),
        (acl("lot77", "tcp/TEST/77P1", "publish"), "deny"),
        (acl("234", "pts/TEST/77P1", "publish"), "deny"),
        (acl("onepark", "tcp/TEST/77P1", "publish"), "allow"),
    ];
    for (body, result) in cases {
        let (_, reply) = common::admin_post(&app, "/api/admin/mqtt/acl", body.clone()).await;
        assert_eq!(reply["result"], result, "{body} → {reply}");
    }
}
