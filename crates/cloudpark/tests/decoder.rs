//! Property tests of the decoder: it never panics, a signed request verifies
//! after any trip through the wire's spellings, any change to a signed value
//! fails the sign, numbers read the same as strings, yuan become fen exactly.

use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::service::{
    DelFixcar, DelInCar, EnterNotify, FixcarItem, FixedCar, InCar, LeaveNotify, PageQuery, ParkQuery, ParkinItem,
    PlateQuery, SyncReport,
};
use onepark_cloudpark::{Code, Request, build_request};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("undefined"),
            Just(""),
            Just("2023-01-06 19:33:34"),
            Just("2023-1-6 9:3:4"),
            Just("150.50"),
            Just("81")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// bizContent objects whose keys are the services' fields, values anything.
fn biz_object() -> impl Strategy<Value = Map<String, Value>> {
    let names = prop::sample::select(vec![
        "uuid",
        "parkCode",
        "carNum",
        "plateNumber",
        "plateNum",
        "cartypeCode",
        "carMMoney",
        "balance",
        "timeStart",
        "timeEnd",
        "state",
        "carType",
        "carSubType",
        "enterTime",
        "entrance",
        "enterOpame",
        "enterOpName",
        "inChannelid",
        "recordNo",
        "page",
        "pageSize",
        "recordNos",
        "syncNos",
        "format",
        "operate",
        "syncNo",
        "remark",
    ]);
    prop::collection::btree_map(names, json_value(), 0..14)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

proptest! {
    #[test]
    fn parsing_arbitrary_bytes_never_panics(body in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Request::parse(&body);
    }

    #[test]
    fn parsing_arbitrary_json_never_panics(value in json_value()) {
        let _ = Request::parse(value.to_string().as_bytes());
        if let Ok(request) = Request::parse(value.to_string().as_bytes()) {
            let _ = request.verify("k");
            let _ = request.check_time(0, 300);
        }
    }

    #[test]
    fn every_typed_decoder_takes_any_object_without_panicking(map in biz_object()) {
        let f = Fields::from_map(map);
        let _ = FixedCar::from_fields(&f);
        let _ = DelFixcar::from_fields(&f);
        let _ = InCar::from_fields(&f);
        let _ = DelInCar::from_fields(&f);
        let _ = PlateQuery::from_fields(&f);
        let _ = ParkQuery::from_fields(&f);
        let _ = PageQuery::from_fields(&f);
        let _ = SyncReport::from_fields(&f, "recordNos");
        let _ = ParkinItem::from_fields(&f);
        let _ = FixcarItem::from_fields(&f);
        let _ = EnterNotify::from_fields(&f);
        let _ = LeaveNotify::from_fields(&f);
    }

    #[test]
    fn a_signed_request_verifies_as_object_or_as_string(
        pid in "[0-9A-Za-z]{1,20}",
        service in "[A-Za-z]{1,20}",
        timestamp in 0i64..4_000_000_000,
        fields in prop::collection::btree_map("[a-zA-Z]{1,8}", ".{0,10}", 0..5),
        key in "[0-9A-F]{32}",
    ) {
        let biz = serde_json::to_string(&fields).expect("serialises");
        let body = build_request(&pid, &service, timestamp, &biz, &key);
        let request = Request::parse(body.as_bytes()).expect("parses");
        prop_assert_eq!(&request.biz_content, &biz);
        prop_assert!(request.verify(&key).is_ok());
        // The same request with bizContent as a JSON string and numbers as strings.
        let value: Value = serde_json::from_str(&body).expect("json");
        let as_strings = json!({
            "pid": pid, "serviceName": service, "timestamp": timestamp.to_string(),
            "bizContent": biz, "sign": value["sign"],
        });
        let request = Request::parse(as_strings.to_string().as_bytes()).expect("parses");
        prop_assert!(request.verify(&key).is_ok());
    }

    #[test]
    fn changing_any_signed_value_fails_the_sign(
        fields in prop::collection::btree_map("[a-z]{1,6}", "[a-z0-9]{1,6}", 1..5),
        which in 0usize..4,
        timestamp in 1i64..4_000_000_000,
    ) {
        let biz = serde_json::to_string(&fields).expect("serialises");
        let body = build_request("123456", "queryAgentParkin", timestamp, &biz, "KEY");
        let mut value: Value = serde_json::from_str(&body).expect("json");
        match which {
            0 => value["pid"] = json!("123457"),
            1 => value["serviceName"] = json!("notifyAgentParkin"),
            2 => value["timestamp"] = json!(timestamp - 1),
            _ => {
                let (k, v) = fields.iter().next().expect("one field");
                let mut changed = fields.clone();
                changed.insert(k.clone(), format!("{v}x"));
                value["bizContent"] = serde_json::to_value(&changed).expect("value");
            }
        }
        let request = Request::parse(value.to_string().as_bytes()).expect("parses");
        prop_assert_eq!(request.verify("KEY").map_err(|r| r.code), Err(Code::BadSign));
    }

    #[test]
    fn mq_messages_never_panic_and_what_parses_round_trips(map in biz_object(), uuid in "[0-9a-f]{1,32}") {
        let mut map = map;
        map.insert("uuid".into(), Value::from(uuid));
        map.insert("serviceId".into(), Value::from("sync.enter.in.record"));
        map.insert("parkCode".into(), Value::from("TDZN/1P1"));
        if let Ok(m) = onepark_cloudpark::mq::Envelope::parse(Value::Object(map).to_string().as_bytes()) {
            let mut again = onepark_cloudpark::mq::Envelope::parse(m.to_json().to_string().as_bytes()).expect("re-read");
            // Extras are kept as serde_json reads them (a float's last digit may move).
            let keys = |e: &onepark_cloudpark::mq::Envelope| e.extras.keys().cloned().collect::<Vec<_>>();
            prop_assert_eq!(keys(&again), keys(&m));
            again.extras = m.extras.clone();
            prop_assert_eq!(again, m);
        }
    }

    #[test]
    fn numbers_read_the_same_as_strings(n in any::<i64>()) {
        let as_number = Fields::from_map(json!({"page": n}).as_object().cloned().expect("o"));
        let as_string = Fields::from_map(json!({"page": n.to_string()}).as_object().cloned().expect("o"));
        prop_assert_eq!(as_number.int(&["page"]), Ok(n));
        prop_assert_eq!(as_string.int(&["page"]), Ok(n));
    }

    #[test]
    fn yuan_become_fen_exactly(fen in 0i64..=1_000_000_000) {
        let text = onepark_domain::money::yuan(fen);
        let as_string = Fields::from_map(json!({"carMMoney": text}).as_object().cloned().expect("o"));
        prop_assert_eq!(as_string.opt_yuan(&["carMMoney"]), Ok(Some(fen)));
        // As a JSON number (the vendor's float), parsed from its text.
        let as_number: Value = serde_json::from_str(&format!("{{\"carMMoney\":{text}}}")).expect("json");
        let as_number = Fields::from_map(as_number.as_object().cloned().expect("o"));
        prop_assert_eq!(as_number.opt_yuan(&["carMMoney"]), Ok(Some(fen)));
    }
}
