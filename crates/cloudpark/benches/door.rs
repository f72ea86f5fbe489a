//! What a signed cloud-API request costs the platform's front door (parse
//! the envelope, verify the MD5 sign, read and type bizContent) next to what
//! a sealed Qingdao entry of the same content costs (open: verify the RSA
//! signature, decrypt three blocks, decode), measured in the same run so
//! the ratio holds on any machine. See BENCHMARKS.md.
//!
//!     cargo bench -p onepark-cloudpark --bench door

use std::path::Path;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::service::EnterNotify;
use onepark_cloudpark::{Request, build_request};
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};

fn key(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop/keys").join(name);
    std::fs::read_to_string(path).expect("test key")
}

fn bench(c: &mut Criterion) {
    let secret = "TEST-ONLY-BENCH-SECRET-0001";
    let biz = r#"{"carSubType":91,"carType":9,"enterTime":"2026-12-04 08:00:00","inChannelid":"1","parkCode":"C1","plateNum":"鲁B12345","recordNo":"K1C0N1","remainParkNum":200,"totalParkNum":500}"#;
    let signed = build_request("bench", "enterNotify", 1_796_371_200, biz, secret);
    let entry = r#"{"data":{"uid":"K1L0N1","arrivalID":"1","plateNo":"鲁B12345","carType":1,"parkingCode":"C1","entryNum":"1","totalBerthNum":500,"openBerthNum":450,"freeBerthNum":200,"arriveTime":"2026-12-04 08:00:00","parkingType":1,"plateColor":1,"uploadTime":"2026-12-04 08:00:05"}}"#;
    let lot = PrivateKey::parse(&key("lot_private.b64")).expect("lot");
    let lot_pub = PublicKey::parse(&key("lot_public.b64")).expect("lot pub");
    let platform = PrivateKey::parse(&key("platform_private.b64")).expect("platform");
    let platform_pub = PublicKey::parse(&key("platform_public.b64")).expect("platform pub");
    let sealed =
        onepark_proto::seal(Profile::Qingdao, entry.as_bytes(), Keys { own: Some(&lot), peer: Some(&platform_pub) })
            .expect("seal");
    let open_keys = Keys { own: Some(&platform), peer: Some(&lot_pub) };

    let mut group = c.benchmark_group("front_door_entry");
    group.bench_function("cloud API: parse, verify MD5 sign, type enterNotify", |b| {
        b.iter(|| {
            let request = Request::parse(black_box(signed.as_bytes())).expect("parse");
            request.verify(secret).expect("sign");
            let fields = Fields::parse(&request.biz_content).expect("biz");
            black_box(EnterNotify::from_fields(&fields).expect("typed"))
        })
    });
    group.bench_function("Qingdao: open (RSA verify + 3-block decrypt)", |b| {
        b.iter(|| {
            black_box(
                onepark_proto::open(Profile::Qingdao, black_box(&sealed.cipher), &sealed.sign, open_keys)
                    .expect("open"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
