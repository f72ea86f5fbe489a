//! Interop with independent implementations: fixtures made by Java 17
//! javax.crypto and the openssl CLI (`interop/regen.sh`) must open here, and
//! what we seal must open there (when `java` / `openssl` are installed).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use onepark_proto::form::UplinkForm;
use onepark_proto::msg::{decode, record::CarIn};
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn key(name: &str) -> String {
    std::fs::read_to_string(dir().join("keys").join(name)).expect("test key")
}

struct Pairs {
    lot: PrivateKey,
    lot_pub: PublicKey,
    platform: PrivateKey,
    platform_pub: PublicKey,
}

fn pairs(bits: u32) -> Pairs {
    let suffix = if bits == 2048 { "2048" } else { "" };
    Pairs {
        lot: PrivateKey::parse(&key(&format!("lot{suffix}_private.b64"))).expect("lot private"),
        lot_pub: PublicKey::parse(&key(&format!("lot{suffix}_public.b64"))).expect("lot public"),
        platform: PrivateKey::parse(&key(&format!("platform{suffix}_private.b64"))).expect("platform private"),
        platform_pub: PublicKey::parse(&key(&format!("platform{suffix}_public.b64"))).expect("platform public"),
    }
}

#[test]
fn fixtures_from_java_and_openssl_open() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir().join("fixtures")).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let Some(stem) = name.strip_suffix(".form") else { continue };
        let (case, profile) = stem.rsplit_once('.').expect("case.profile.form");
        let profile: Profile = profile.parse().expect("profile");
        let keys = pairs(if case.ends_with("2048") { 2048 } else { 1024 });
        let body = std::fs::read_to_string(&path).expect("form");
        let form = UplinkForm::parse(b"", body.trim().as_bytes()).expect("form fields");
        let opened = onepark_proto::open(
            profile,
            &form.cipher,
            &form.sign,
            Keys { own: Some(&keys.platform), peer: Some(&keys.lot_pub) },
        )
        .unwrap_or_else(|e| panic!("{case}: {e}"));
        let expected = std::fs::read_to_string(dir().join("fixtures").join(format!("{case}.json"))).expect("json");
        assert_eq!(opened.text, expected, "{case}");
        if case != "java-straddle" {
            let entry = decode::<CarIn>(&opened.text).unwrap_or_else(|e| panic!("{case}: {e}")).message;
            assert_eq!(entry.parking_code, "1001", "{case}");
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} fixtures found");
}

const PLAINTEXT: &str = r#"{"data":{"uid":"100112021070108000012","arrivalID":"1","plateNo":"鲁B01C01","carType":1,"parkingCode":"1001","entryNum":"1","totalBerthNum":150,"openBerthNum":130,"freeBerthNum":70,"arriveTime":"2021-07-01 08:00:00","parkingType":1,"plateColor":1,"uploadTime":"2021-07-01 08:00:01","note":"吴山广场停车场 multi-byte text long enough to need several blocks"}}"#;

fn sealed_body(profile: Profile, keys: &Pairs) -> String {
    let sealed = onepark_proto::seal(
        profile,
        PLAINTEXT.as_bytes(),
        Keys { own: Some(&keys.lot), peer: Some(&keys.platform_pub) },
    )
    .expect("seal");
    UplinkForm { access_id: "234".into(), cipher: sealed.cipher, sign: sealed.sign, file: None }.encode()
}

fn available(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn run_with_stdin(mut command: Command, stdin: &str) -> String {
    let mut child = command
        .current_dir(dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8")
}

#[test]
fn java_opens_what_we_seal() {
    if !available("java", "-version") {
        eprintln!("SKIPPED java_opens_what_we_seal: `java` is not installed");
        return;
    }
    for (profile, bits) in [(Profile::Qingdao, 1024), (Profile::Qingdao, 2048), (Profile::Hangzhou, 1024)] {
        let keys = pairs(bits);
        let suffix = if bits == 2048 { "2048" } else { "" };
        let mut java = Command::new("java");
        java.args([
            "Interop.java",
            "open",
            profile.name(),
            &format!("keys/platform{suffix}_private.b64"),
            &format!("keys/lot{suffix}_public.b64"),
        ]);
        assert_eq!(run_with_stdin(java, &sealed_body(profile, &keys)), PLAINTEXT, "{profile} {bits}");
    }
}

#[test]
fn openssl_opens_what_we_seal() {
    if !available("openssl", "version") || !available("python3", "--version") {
        eprintln!("SKIPPED openssl_opens_what_we_seal: `openssl` or `python3` is not installed");
        return;
    }
    for bits in [1024, 2048] {
        let keys = pairs(bits);
        let suffix = if bits == 2048 { "2048" } else { "" };
        let mut sh = Command::new("bash");
        sh.args([
            "openssl.sh",
            "open",
            &format!("keys/platform{suffix}_private.b64"),
            &format!("keys/lot{suffix}_public.b64"),
        ]);
        assert_eq!(run_with_stdin(sh, &sealed_body(Profile::Qingdao, &keys)), PLAINTEXT, "{bits}");
    }
}

/// The MQTT login password (docs/mqtt.md) made by the openssl CLI, as a lot
/// in another language would, is accepted.
#[test]
fn openssl_made_mqtt_login_is_accepted() {
    if !available("openssl", "version") {
        eprintln!("SKIPPED openssl_made_mqtt_login_is_accepted: `openssl` is not installed");
        return;
    }
    let der = key("lot_private.b64");
    let der: String = der.split_whitespace().collect();
    let lines: Vec<String> = der.as_bytes().chunks(64).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
    let file = std::env::temp_dir().join(format!("onepark-mqtt-login-{}.pem", std::process::id()));
    std::fs::write(&file, pem).expect("pem");
    let unix = 1_800_000_000i64;
    let text = format!("onepark-mqtt-login\n234_1\n{unix}");
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!("openssl dgst -sha256 -sign '{}' | openssl base64 -A", file.display()));
    let signature = run_with_stdin(command, &text);
    let _ = std::fs::remove_file(&file);
    let password = format!("v1:{unix}:{}", signature.trim());
    let public = PublicKey::parse(&key("lot_public.b64")).expect("lot public");
    assert_eq!(onepark_proto::mqtt::verify_login(&public, "234_1", &password, unix + 10), Ok(()));
    assert!(onepark_proto::mqtt::verify_login(&public, "234_2", &password, unix).is_err());
}
