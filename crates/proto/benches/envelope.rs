//! Seal and open of a typical uploadCarOutData (~500 bytes, 5 RSA-1024
//! blocks) next to the raw RSA operations they are made of, measured in the
//! same run so the ratio holds on any machine. See BENCHMARKS.md.
//!
//!     cargo bench -p onepark-proto --bench envelope

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use onepark_proto::msg::{decode, record::CarOut};
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{Signer, Verifier};

fn key(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/keys").join(name);
    std::fs::read_to_string(path).expect("test key")
}

/// A realistic exit record, padded with an ignored `remark` to ~500 bytes.
fn plaintext() -> String {
    let base = r##"{"data":{"uid":"370202100120210701080000123","exitID":"E20210701120000001","plateNo":"鲁B01C01","carType":1,"parkingCode":"3702021001","gateNo":"G2","operatorCode":"01C001","totalBerthNum":1500,"openBerthNum":1300,"freeBerthNum":700,"arriveTime":"2021-07-01 08:00:00","parkingType":1,"endTime":"2021-07-01 12:00:00","entryNum":"1","outNum":"2","plateColor":1,"uploadTime":"2021-07-01 12:00:01","chargeFee":1200,"shouldPay":1000,"remark":"#"}}"##;
    let pad = 500usize.saturating_sub(base.len());
    base.replace('#', &"x".repeat(pad))
}

fn bench(c: &mut Criterion) {
    let lot = PrivateKey::parse(&key("lot_private.b64")).expect("lot");
    let lot_pub = PublicKey::parse(&key("lot_public.b64")).expect("lot pub");
    let platform = PrivateKey::parse(&key("platform_private.b64")).expect("platform");
    let platform_pub = PublicKey::parse(&key("platform_public.b64")).expect("platform pub");
    let text = plaintext();
    let blocks = text.len().div_ceil(117);
    assert_eq!(blocks, 5, "the typical request is 5 blocks ({} bytes)", text.len());
    decode::<CarOut>(&text).expect("the plaintext is a valid uploadCarOutData");

    let sealed =
        onepark_proto::seal(Profile::Qingdao, text.as_bytes(), Keys { own: Some(&lot), peer: Some(&platform_pub) })
            .expect("seal");
    let open_keys = Keys { own: Some(&platform), peer: Some(&lot_pub) };

    // The same keys, driven through openssl directly: the cost floor.
    let raw_platform = PKey::private_key_from_der(&STANDARD.decode(platform.to_base64_der()).expect("der"))
        .and_then(|k| k.rsa())
        .expect("raw platform key");
    let raw_lot_pub = PKey::public_key_from_der(&STANDARD.decode(lot_pub.to_base64_der()).expect("der")).expect("raw");
    let raw_lot = PKey::private_key_from_der(&STANDARD.decode(lot.to_base64_der()).expect("der")).expect("raw lot");
    let raw_platform_pub =
        Rsa::public_key_from_der(&STANDARD.decode(platform_pub.to_base64_der()).expect("der")).expect("raw pub");
    let ciphertext = STANDARD.decode(&sealed.cipher).expect("b64");
    let signature = STANDARD.decode(&sealed.sign).expect("b64");

    let mut group = c.benchmark_group("envelope_rsa1024_5_blocks");
    group.bench_function("raw: 5 private-key block decryptions", |b| {
        let mut out = vec![0u8; 128];
        b.iter(|| {
            for block in ciphertext.chunks(128) {
                black_box(raw_platform.private_decrypt(block, &mut out, Padding::PKCS1).expect("decrypt"));
            }
        })
    });
    group.bench_function("raw: 1 signature verification", |b| {
        b.iter(|| {
            let mut v = Verifier::new(MessageDigest::sha1(), &raw_lot_pub).expect("verifier");
            black_box(v.verify_oneshot(&signature, sealed.cipher.as_bytes()).expect("verify"))
        })
    });
    group.bench_function("open (verify + Base64 + decrypt + text)", |b| {
        b.iter(|| {
            black_box(onepark_proto::open(Profile::Qingdao, &sealed.cipher, &sealed.sign, open_keys).expect("open"))
        })
    });
    group.bench_function("open + decode + validate uploadCarOutData", |b| {
        b.iter(|| {
            let opened = onepark_proto::open(Profile::Qingdao, &sealed.cipher, &sealed.sign, open_keys).expect("open");
            black_box(decode::<CarOut>(&opened.text).expect("decode"))
        })
    });
    group.bench_function("raw: 5 public-key block encryptions + 1 signature", |b| {
        let mut out = vec![0u8; 128];
        b.iter(|| {
            for chunk in text.as_bytes().chunks(117) {
                black_box(raw_platform_pub.public_encrypt(chunk, &mut out, Padding::PKCS1).expect("encrypt"));
            }
            let mut s = Signer::new(MessageDigest::sha1(), &raw_lot).expect("signer");
            black_box(s.sign_oneshot_to_vec(sealed.cipher.as_bytes()).expect("sign"))
        })
    });
    group.bench_function("seal (encrypt + Base64 + sign)", |b| {
        b.iter(|| {
            black_box(
                onepark_proto::seal(
                    Profile::Qingdao,
                    text.as_bytes(),
                    Keys { own: Some(&lot), peer: Some(&platform_pub) },
                )
                .expect("seal"),
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
