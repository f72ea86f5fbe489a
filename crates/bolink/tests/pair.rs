//! A charging system (`client::Client`) and the cloud (`session::Session`)
//! wired to each other in memory, on a virtual clock: the login, records
//! stored and answered, a resend after a lost answer dropped as stored,
//! heartbeats in a quiet line, a flood throttled, a wrong key refused.

use onepark_bolink::client::{Client, Identity, Outcome};
use onepark_bolink::envelope::Reply;
use onepark_bolink::message::{InPark, OutPark, stay_reply};
use onepark_bolink::session::{Config, Event, Session};
use serde_json::json;

const KEY: &str = "TEST-ONLY-BOLINK-PAIR-KEY";

/// The cloud's application: knows one lot's key, stores what it is handed.
struct Cloud {
    session: Session,
    stored: Vec<String>,
    /// Answers it "loses" (the connection drops before they arrive).
    lose_next_answer: bool,
}

impl Cloud {
    fn run(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Login(l) if l.park_id == "21835" => self.session.accept_login(KEY, "tok-9"),
                Event::Login(_) => self.session.refuse_login("车场不存在"),
                Event::Message(m) => {
                    let reply = match m.service_name.as_str() {
                        "in_park" => match InPark::read(&m) {
                            Ok(i) => {
                                self.stored.push(format!("in {} {}", i.order_id, i.car_number));
                                stay_reply("in_park", &i.order_id, None)
                            }
                            Err(e) => stay_reply("in_park", "", Some(&e.0)),
                        },
                        "out_park" => match OutPark::read(&m) {
                            Ok(o) => {
                                self.stored.push(format!("out {} {}", o.order_id, o.total));
                                stay_reply("out_park", &o.order_id, None)
                            }
                            Err(e) => stay_reply("out_park", "", Some(&e.0)),
                        },
                        other => Reply::refused(other, "未知的 service_name"),
                    };
                    self.session.reply(&m, &reply);
                }
                Event::Close(_) => {}
            }
        }
    }
}

/// Moves every byte both ways until nothing moves.
fn pump(client: &mut Client, cloud: &mut Cloud, now: i64) -> Vec<Outcome> {
    loop {
        let mut moved = false;
        while let Some(bytes) = client.poll_transmit() {
            cloud.session.handle_input(now, &bytes);
            moved = true;
        }
        cloud.run();
        while let Some(bytes) = cloud.session.poll_transmit() {
            moved = true;
            if std::mem::take(&mut cloud.lose_next_answer) && bytes != [0x12] {
                continue;
            }
            client.handle_input(&bytes);
        }
        if !moved {
            break;
        }
    }
    std::iter::from_fn(|| client.poll_outcome()).collect()
}

fn identity(key: &str) -> Identity {
    Identity { park_id: "21835".into(), local_id: Some("gate_channels_A1".into()), key: key.into() }
}

#[test]
fn a_lot_and_the_cloud_talk() {
    let mut cloud = Cloud { session: Session::new(Config::default(), 0), stored: Vec::new(), lose_next_answer: false };
    let mut client = Client::new(identity(KEY), 0, 20_000);
    assert!(!client.send("in_park", &json!({}), 0), "nothing before the login is answered");
    assert_eq!(pump(&mut client, &mut cloud, 0), [Outcome::LoggedIn]);
    assert_eq!(cloud.session.login().map(|l| l.connection()), Some("21835_gate_channels_A1".to_owned()));

    let entry = json!({ "car_number": "鲁B12345", "in_time": 1_796_371_200, "order_id": "o1", "empty_plot": 9 });
    assert!(client.send("in_park", &entry, 1_000));
    assert_eq!(
        pump(&mut client, &mut cloud, 1_000),
        [Outcome::Stored { service_name: "in_park".into(), order_id: "o1".into() }]
    );
    // The answer is lost on the way: the lot sends the same record again, the cloud does not store it twice.
    let exit = json!({ "car_number": "鲁B12345", "in_time": 1_796_371_200, "out_time": 1_796_378_400, "order_id": "o1",
        "pay_type": "cash", "total": "6.00", "cash_pay": "6.00" });
    cloud.lose_next_answer = true;
    client.send("out_park", &exit, 2_000);
    assert_eq!(pump(&mut client, &mut cloud, 2_000), []);
    client.send("out_park", &exit, 3_000);
    let again = pump(&mut client, &mut cloud, 3_000);
    assert!(matches!(&again[..], [Outcome::Refused { errmsg, .. }] if errmsg.contains("已处理过")), "{again:?}");
    assert_eq!(cloud.stored, ["in o1 鲁B12345", "out o1 600"]);

    // A quiet line: the heartbeat goes, the cloud answers it, and the session stays up.
    assert_eq!(client.poll_timeout(), 3_000 + 20_000);
    client.handle_timeout(23_000);
    assert_eq!(pump(&mut client, &mut cloud, 23_000), []);
    // Two minutes after the last record, but not after the heartbeat.
    cloud.session.handle_timeout(3_000 + Config::default().idle_ms + 1);
    assert!(!cloud.session.is_closed(), "the heartbeat kept it alive");

    // A flood: past 100 messages in 10 s, throttled.
    for i in 0..105 {
        client.send("heartbeat_info", &json!({ "n": i }), 30_000 + i);
    }
    let outcomes = pump(&mut client, &mut cloud, 30_100);
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Outcome::Throttled { .. })).count(), 5);
}

#[test]
fn a_wrong_key_or_an_unknown_lot_is_refused() {
    let mut cloud = Cloud { session: Session::new(Config::default(), 0), stored: Vec::new(), lose_next_answer: false };
    let mut client = Client::new(identity("NOT-THE-KEY"), 0, 20_000);
    assert_eq!(pump(&mut client, &mut cloud, 0), [Outcome::LoginRefused("error:签名错误".into())]);
    assert!(cloud.session.is_closed());
    let mut cloud = Cloud { session: Session::new(Config::default(), 0), stored: Vec::new(), lose_next_answer: false };
    let mut client = Client::new(Identity { park_id: "99999".into(), local_id: None, key: KEY.into() }, 0, 20_000);
    assert_eq!(pump(&mut client, &mut cloud, 0), [Outcome::LoginRefused("车场不存在".into())]);
}
