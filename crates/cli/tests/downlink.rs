//! Black/white lists through the real `onepark platform serve` binary: an
//! admin adds an entry for all lots of an accessID; the lot (the lot crate's
//! subscriber) receives, verifies, applies and confirms it; a lot that was
//! away gets it on return; delivery survives a broker restart. Once with the
//! embedded broker, once with a private Mosquitto wired by `platform mqtt-acl`
//! and a password file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onepark_lot::downlink::Received;
use onepark_lot::subscriber::{Applied, Apply, Settings, Stats, Subscriber};
use onepark_lot::uplink::{Client, Identity};
use onepark_proto::Profile;
use onepark_testkit::keys::{lot_private, platform_public};
use serde_json::{Value, json};

mod common;
use common::{Process, client};
use onepark_testkit::config::{lot_access, platform_toml};
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::net::{free_port, wait_port};

struct Setup {
    dir: PathBuf,
    http: u16,
    /// The broker the lot connects to.
    mqtt: u16,
    config: PathBuf,
}

impl Setup {
    fn new(name: &str, broker: &str, mqtt: u16) -> Setup {
        let dir = fresh_dir(&format!("e2e-{name}"));
        let http = free_port();
        let config = dir.join("platform.toml");
        let top = format!("listen = \"127.0.0.1:{http}\"\n{broker}\nadmin_token = \"t\"\n");
        let lots = lot_access("234", &["1001", "1002"]);
        std::fs::write(&config, platform_toml(&top, &dir.join("onepark.db"), &lots)).expect("config");
        Setup { dir, http, mqtt, config }
    }

    async fn platform(&self) -> Process {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("platform.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_onepark"))
            .args(["platform", "serve", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start platform");
        wait_port(self.http, "the platform").await;
        Process(child)
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = client().request(method, format!("http://127.0.0.1:{}{path}", self.http));
        request = request.bearer_auth("t");
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("admin call");
        assert_eq!(response.status(), 200, "{path}");
        serde_json::from_str(&response.text().await.expect("body")).expect("JSON")
    }

    async fn list(&self, plate: &str, operate: &str) {
        let change = json!({ "accessId": "234", "plateNo": plate, "list": "black", "operate": operate,
            "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00", "remark": "e2e" });
        let sent = self.admin(reqwest::Method::POST, "/api/admin/lists", Some(change)).await;
        assert_eq!(sent["sent"].as_array().map(Vec::len), Some(2), "{sent}");
    }

    /// Waits (up to `limit`) until both lots' entry for `plate` is `confirmed`.
    async fn confirmed(&self, plate: &str, limit: Duration) {
        let path = format!("/api/admin/lists?plateNo={}", encode(plate));
        let deadline = Instant::now() + limit;
        loop {
            let body = self.admin(reqwest::Method::GET, &path, None).await;
            let items = body["items"].as_array().cloned().unwrap_or_default();
            if items.len() == 2 && items.iter().all(|i| i["delivery"] == "confirmed") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{plate} not confirmed on both lots: {body}; see {}",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn lot(&self, password: Option<&str>, recorder: &Recorder) -> (tokio::task::JoinHandle<()>, Arc<Stats>) {
        let identity = Identity {
            access_id: "234".into(),
            key: lot_private(),
            platform_public: platform_public(),
            profile: Profile::Qingdao,
        };
        let uplink = format!("http://127.0.0.1:{}/api/v1/cp", self.http);
        let client = Client::new(&uplink, identity, Duration::from_secs(5)).expect("client");
        let settings = Settings {
            broker_url: format!("mqtt://127.0.0.1:{}", self.mqtt),
            username: "234".into(),
            parking_codes: vec!["1001".into(), "1002".into()],
            password: password.map(str::to_owned),
        };
        let subscriber = Subscriber::new(settings, client);
        let stats = subscriber.stats();
        let recorder = recorder.clone();
        (tokio::spawn(async move { subscriber.run(recorder).await.expect("subscriber") }), stats)
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

async fn subscribed(stats: &Stats, more_than: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Stats::get(&stats.subscribed) <= more_than {
        assert!(Instant::now() < deadline, "the lot did not (re)subscribe");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The lot's black list, as the lot gateway would keep it.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(String, String, i64)>>>);

impl Apply for Recorder {
    async fn apply(&mut self, m: &Received) -> Applied {
        let plate = m.params.get("plateNo").and_then(Value::as_str).unwrap_or_default().to_owned();
        let operate = m.params.get("operate").and_then(Value::as_i64).unwrap_or(-1);
        self.0.lock().expect("lock").push((m.topic.parking_code.clone(), plate, operate));
        Ok(None)
    }
}

impl Recorder {
    fn count(&self, plate: &str, operate: i64) -> usize {
        self.0.lock().expect("lock").iter().filter(|(_, p, o)| p == plate && *o == operate).count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_reach_lots_through_the_binary_with_the_embedded_broker() {
    let mqtt = free_port();
    let setup = Setup::new("embedded", &format!("mqtt_listen = \"127.0.0.1:{mqtt}\""), mqtt);
    let platform = setup.platform().await;
    wait_port(mqtt, "the embedded broker").await;
    let recorder = Recorder::default();
    let (lot, stats) = setup.lot(None, &recorder);
    subscribed(&stats, 0).await;

    setup.list("鲁B10001", "add").await;
    setup.confirmed("鲁B10001", Duration::from_secs(30)).await;
    assert_eq!(recorder.count("鲁B10001", 0), 2, "applied once per parking code");

    // Away (no DISCONNECT) while the entry is deleted; back again: delivered.
    lot.abort();
    let _ = lot.await;
    setup.list("鲁B10001", "delete").await;
    let (lot, stats) = setup.lot(None, &recorder);
    subscribed(&stats, 0).await;
    setup.confirmed("鲁B10001", Duration::from_secs(30)).await;
    assert_eq!(recorder.count("鲁B10001", 1), 2);

    // The broker restarts with the platform: the lot reconnects, re-subscribes
    // and the next change reaches it.
    drop(platform);
    let _platform = setup.platform().await;
    subscribed(&stats, 1).await;
    setup.list("鲁B10002", "add").await;
    setup.confirmed("鲁B10002", Duration::from_secs(30)).await;
    assert_eq!(recorder.count("鲁B10002", 0), 2);
    assert_eq!(Stats::get(&stats.rejected), 0);
    lot.abort();
    let _ = std::fs::remove_dir_all(&setup.dir);
}

/// A private Mosquitto (persistence off) with a password file and the ACL
/// `onepark platform mqtt-acl` generates.
struct Mosquitto {
    conf: PathBuf,
}

impl Mosquitto {
    fn configure(dir: &Path, port: u16, platform_config: &Path) -> Mosquitto {
        let passwords = dir.join("passwd");
        for (i, (user, password)) in [("onepark", "pub-secret"), ("234", "lot-secret")].into_iter().enumerate() {
            let mut args = vec!["-b"];
            if i == 0 {
                args.insert(0, "-c");
            }
            let status = Command::new("mosquitto_passwd")
                .args(&args)
                .arg(&passwords)
                .args([user, password])
                .status()
                .expect("mosquitto_passwd");
            assert!(status.success());
        }
        let acl = Command::new(env!("CARGO_BIN_EXE_onepark"))
            .args(["platform", "mqtt-acl", "--publisher", "onepark", "--config"])
            .arg(platform_config)
            .output()
            .expect("mqtt-acl");
        assert!(acl.status.success(), "{}", String::from_utf8_lossy(&acl.stderr));
        std::fs::write(dir.join("acl"), acl.stdout).expect("acl");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npersistence false\npassword_file {}\nacl_file {}\n",
                passwords.display(),
                dir.join("acl").display()
            ),
        )
        .expect("conf");
        Mosquitto { conf }
    }

    async fn start(&self, port: u16) -> Process {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        wait_port(port, "mosquitto").await;
        Process(child)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_reach_lots_through_mosquitto_with_generated_acl_and_survive_its_restart() {
    const TEST: &str = "the Mosquitto leg";
    if onepark_testkit::env_or_skip("MQTT_URL", TEST).is_none() {
        return;
    }
    if Command::new("mosquitto").arg("-h").output().is_err() || Command::new("mosquitto_passwd").output().is_err() {
        onepark_testkit::skip(TEST, "no mosquitto / mosquitto_passwd binary on PATH");
        return;
    }
    let port = free_port();
    let setup = Setup::new("mosquitto", &format!("mqtt_url = \"mqtt://onepark:pub-secret@127.0.0.1:{port}\""), port);
    let mosquitto = Mosquitto::configure(&setup.dir, port, &setup.config);
    let broker = mosquitto.start(port).await;
    let _platform = setup.platform().await;
    let recorder = Recorder::default();
    let (_lot, stats) = setup.lot(Some("lot-secret"), &recorder);
    subscribed(&stats, 0).await;

    setup.list("鲁B20001", "add").await;
    setup.confirmed("鲁B20001", Duration::from_secs(30)).await;

    // The broker goes down (and forgets every session); a change is made
    // meanwhile; once it is back the lot re-subscribes and the platform's
    // retry (20 s confirm deadline for specialCar) delivers it.
    drop(broker);
    setup.list("鲁B20002", "add").await;
    let _broker = mosquitto.start(port).await;
    subscribed(&stats, 1).await;
    setup.confirmed("鲁B20002", Duration::from_secs(60)).await;
    assert_eq!(recorder.count("鲁B20002", 0), 2);

    // The ACL keeps a lot to its own topics: Mosquitto grants an MQTT 3.1.1
    // subscription it denies but delivers nothing on it.
    let connect = |id: &str, user: &str, password: &str| {
        let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
        options.set_credentials(user, password);
        rumqttc::AsyncClient::new(options, 8)
    };
    let (snoop, mut snooped) = connect("234-snoop", "234", "lot-secret");
    snoop.subscribe("qdpark/v1/+/999/1001", rumqttc::QoS::AtLeastOnce).await.expect("subscribe");
    let subscribed = async {
        loop {
            match snooped.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => break,
                Ok(_) => {}
                Err(e) => panic!("snoop connection failed: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), subscribed).await.expect("SUBACK in 10 s");
    let (publisher, mut publishing) = connect("pub", "onepark", "pub-secret");
    publisher.publish("qdpark/v1/specialCar/999/1001", rumqttc::QoS::AtLeastOnce, false, "x").await.expect("publish");
    tokio::spawn(async move { while publishing.poll().await.is_ok() {} });
    let leaked = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = snooped.poll().await {
                return p;
            }
        }
    })
    .await;
    assert!(leaked.is_err(), "another lot's message was delivered: {leaked:?}");
    let _ = std::fs::remove_dir_all(&setup.dir);
}
