//! The real `onepark` binary, end to end, in temp directories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::keys::key_path;

fn onepark(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onepark"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn onepark");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn interop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop")
}

fn test_key(name: &str) -> String {
    key_path(name).to_string_lossy().into_owned()
}

const ENTRY: &str = r#"{"uid":"u1","arrivalID":"1","plateNo":"鲁B01C01","carType":1,"parkingCode":"1001","entryNum":"1","totalBerthNum":150,"openBerthNum":130,"freeBerthNum":70,"arriveTime":"2021-07-01 08:00:00","parkingType":1,"plateColor":1,"uploadTime":"2021-07-01 08:00:01"}"#;

#[test]
fn keys_new_prints_two_lines_of_base64_der() {
    let out = onepark(&["keys", "new"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("private_key=MII"), "{text}");
    assert!(lines[1].starts_with("public_key=MIGf"), "RSA-1024 SPKI: {text}");
}

#[test]
fn seal_then_open_with_inline_keys_and_files() {
    let dir = fresh_dir("cli-roundtrip");
    let (lot, platform) = (dir.join("lot"), dir.join("platform"));
    for d in [&lot, &platform] {
        let out = onepark(&["keys", "new", "--out", d.to_str().expect("path")], "");
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let platform_public = std::fs::read_to_string(platform.join("public_key.b64")).expect("key");
    let lot_private = lot.join("private_key.b64");
    let sealed = onepark(
        &[
            "qdpark",
            "seal",
            "--platform-public-key",
            platform_public.trim(),
            "--lot-private-key",
            lot_private.to_str().expect("path"),
            "--access-id",
            "234",
            "--interface",
            "uploadCarInData",
            // Keys the profile does not need are accepted and ignored.
            "--lot-public-key",
            "ignored",
            "--platform-private-key",
            "ignored",
        ],
        ENTRY,
    );
    assert!(sealed.status.success(), "{}", stderr(&sealed));
    let body = stdout(&sealed);
    assert!(body.starts_with("accessID=234&cipher="), "{body}");

    let opened = onepark(
        &[
            "qdpark",
            "open",
            "--platform-private-key",
            platform.join("private_key.b64").to_str().expect("path"),
            "--lot-public-key",
            lot.join("public_key.b64").to_str().expect("path"),
            "--interface",
            "uploadCarInData",
        ],
        &body,
    );
    assert!(opened.status.success(), "{}", stderr(&opened));
    assert_eq!(stdout(&opened).trim(), format!("{{\"data\":{ENTRY}}}"));

    // Swapped keys: refused, with the step and the likely cause.
    let swapped = onepark(
        &[
            "qdpark",
            "open",
            "--platform-private-key",
            lot.join("private_key.b64").to_str().expect("path"),
            "--lot-public-key",
            platform.join("public_key.b64").to_str().expect("path"),
        ],
        &body,
    );
    assert_eq!(swapped.status.code(), Some(1));
    let err = stderr(&swapped);
    assert!(err.contains("step: signature") && err.contains("swapped"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn seal_refuses_invalid_json_for_the_interface() {
    let out = onepark(
        &[
            "qdpark",
            "seal",
            "--platform-public-key",
            &test_key("platform_public.b64"),
            "--lot-private-key",
            &test_key("lot_private.b64"),
            "--access-id",
            "234",
            "--interface",
            "uploadCarInData",
        ],
        r#"{"uid":"u1"}"#,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("plateNo: required field is missing"), "{}", stderr(&out));
}

#[test]
fn opens_what_java_sealed_from_a_request_line() {
    let body = std::fs::read_to_string(interop().join("fixtures/java-mime.qingdao.form")).expect("fixture");
    let request_line = format!("POST /api/v1/cp/uploadCarInData?{} HTTP/1.1", body.trim());
    let out = onepark(
        &[
            "qdpark",
            "open",
            "--platform-private-key",
            &test_key("platform_private.b64"),
            "--lot-public-key",
            &test_key("lot_public.b64"),
        ],
        &request_line,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"plateNo\":\"鲁B01C01\""), "{}", stdout(&out));
}

#[test]
fn open_names_the_wrong_profile() {
    let body = std::fs::read_to_string(interop().join("fixtures/java-hangzhou.hangzhou.form")).expect("fixture");
    let out = onepark(
        &[
            "qdpark",
            "open",
            "--platform-private-key",
            &test_key("platform_private.b64"),
            "--lot-public-key",
            &test_key("lot_public.b64"),
        ],
        &body,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("hangzhou"), "{}", stderr(&out));
}

#[test]
fn java_opens_what_the_binary_sealed() {
    if Command::new("java").arg("-version").stderr(Stdio::null()).status().is_err() {
        eprintln!("SKIPPED java_opens_what_the_binary_sealed: `java` is not installed");
        return;
    }
    let sealed = onepark(
        &[
            "qdpark",
            "seal",
            "--platform-public-key",
            &test_key("platform_public.b64"),
            "--lot-private-key",
            &test_key("lot_private.b64"),
            "--access-id",
            "234",
        ],
        ENTRY,
    );
    assert!(sealed.status.success(), "{}", stderr(&sealed));
    let mut java = Command::new("java")
        .current_dir(interop())
        .args(["Interop.java", "open", "qingdao", "keys/platform_private.b64", "keys/lot_public.b64"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java");
    java.stdin.take().expect("stdin").write_all(&sealed.stdout).expect("write");
    let out = java.wait_with_output().expect("java");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{{\"data\":{ENTRY}}}"));
}

#[test]
fn a_mistyped_key_path_is_reported_as_such() {
    let out = onepark(
        &["qdpark", "open", "--platform-private-key", "keys/platfrom_private.b64", "--lot-public-key", "x.b64"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

#[test]
fn demo_runs() {
    let out = onepark(&["qdpark", "demo"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("platform opened and validated it"), "{}", stdout(&out));
}
