//! `onepark qdpark`: seal and open Qingdao envelopes by hand, and explain
//! why one does not open. Integrators debug rejected signatures with this.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::Subcommand;
use onepark_proto::envelope::{self, Charset, CipherEncoding, OpenError, SignedOver};
use onepark_proto::form::UplinkForm;
use onepark_proto::interface::Uplink;
use onepark_proto::msg::{DecodeError, check_uplink};
use onepark_proto::validate::Severity;
use onepark_proto::{Keys, Profile};

use crate::keyarg;

#[derive(Subcommand)]
pub enum Command {
    /// Seal business JSON from stdin into a form body (accessID=…&cipher=…&sign=…).
    Seal {
        /// The platform's public key (encrypts; not needed by the hangzhou profile).
        #[arg(long)]
        platform_public_key: Option<String>,
        /// The lot's private key (signs).
        #[arg(long)]
        lot_private_key: String,
        #[arg(long)]
        access_id: String,
        #[arg(long, default_value = "qingdao")]
        profile: Profile,
        /// Validate the JSON as this interface's request before sealing.
        #[arg(long)]
        interface: Option<String>,
        /// JPEG to send as the `file` field (uploadPhoto).
        #[arg(long)]
        photo: Option<PathBuf>,
        /// Encrypt stdin exactly as given, without the {"data": …} wrapper.
        #[arg(long)]
        raw: bool,
        /// Accepted and ignored, so scripts can pass all four keys.
        #[arg(long, hide = true)]
        platform_private_key: Option<String>,
        /// Accepted and ignored, so scripts can pass all four keys.
        #[arg(long, hide = true)]
        lot_public_key: Option<String>,
    },
    /// Open a sealed request from stdin (form body, request line/URL, or JSON)
    /// and print the decrypted JSON; on failure, explain the likely cause.
    Open {
        /// The platform's private key (decrypts; not needed by the hangzhou profile).
        #[arg(long)]
        platform_private_key: Option<String>,
        /// The lot's public key (verifies).
        #[arg(long)]
        lot_public_key: String,
        #[arg(long, default_value = "qingdao")]
        profile: Profile,
        /// Validate the result as this interface's request (inferred from a
        /// request line or URL when omitted).
        #[arg(long)]
        interface: Option<String>,
        /// Accepted and ignored, so scripts can pass all four keys.
        #[arg(long, hide = true)]
        platform_public_key: Option<String>,
        /// Accepted and ignored, so scripts can pass all four keys.
        #[arg(long, hide = true)]
        lot_private_key: Option<String>,
    },
    /// Walk through one request end to end with fresh keys: build, seal,
    /// open, validate, then show what a tampered request gets as diagnosis.
    Demo,
}

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Seal { platform_public_key, lot_private_key, access_id, profile, interface, photo, raw, .. } => {
            let lot = keyarg::private(&lot_private_key, "--lot-private-key")?;
            let platform = match profile {
                Profile::Qingdao => Some(keyarg::public(
                    platform_public_key
                        .as_deref()
                        .context("--platform-public-key is required by the qingdao profile")?,
                    "--platform-public-key",
                )?),
                Profile::Hangzhou => None,
            };
            let input = read_stdin()?;
            let plaintext = if raw { input.trim().to_owned() } else { wrap(&input)? };
            if let Some(name) = interface {
                let interface = parse_interface(&name)?;
                if !report_validation(interface, &plaintext) {
                    bail!("not sealed: the JSON does not validate as {interface}");
                }
            }
            let sealed =
                onepark_proto::seal(profile, plaintext.as_bytes(), Keys { own: Some(&lot), peer: platform.as_ref() })?;
            let file = photo.map(|p| photo_field(&p)).transpose()?;
            println!("{}", UplinkForm { access_id, cipher: sealed.cipher, sign: sealed.sign, file }.encode());
            Ok(ExitCode::SUCCESS)
        }
        Command::Open { platform_private_key, lot_public_key, profile, interface, .. } => {
            let lot = keyarg::public(&lot_public_key, "--lot-public-key")?;
            let platform = match profile {
                Profile::Qingdao => Some(keyarg::private(
                    platform_private_key
                        .as_deref()
                        .context("--platform-private-key is required by the qingdao profile")?,
                    "--platform-private-key",
                )?),
                Profile::Hangzhou => None,
            };
            let input = read_stdin()?;
            let interface = match interface {
                Some(name) => Some(parse_interface(&name)?),
                None => interface_from_request(&input),
            };
            let keys = Keys { own: platform.as_ref(), peer: Some(&lot) };
            Ok(open(profile, keys, &input, interface))
        }
        Command::Demo => demo(),
    }
}

/// The `file` field of uploadPhoto: a JPEG whose Base64 stays within the
/// spec's 500,000 characters (D-33).
fn photo_field(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        bail!("{} is not a JPEG (the platform accepts JPG only)", path.display());
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    if b64.len() > 500_000 {
        bail!(
            "{} is {} Base64 characters; the spec allows 500,000 (a JPEG of ~366 KiB): recompress it",
            path.display(),
            b64.len()
        );
    }
    Ok(b64)
}

fn read_stdin() -> Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).context("reading stdin")?;
    Ok(input)
}

/// Wraps business fields as `{"data": …}` unless they already are.
fn wrap(input: &str) -> Result<String> {
    let input = input.trim();
    let value: serde_json::Value = serde_json::from_str(input).context("stdin is not JSON")?;
    if value.get("data").is_some() { Ok(input.to_owned()) } else { Ok(format!("{{\"data\":{input}}}")) }
}

fn parse_interface(name: &str) -> Result<Uplink> {
    Uplink::from_name(name).with_context(|| format!("unknown interface `{name}`"))
}

/// `POST /api/v1/cp/uploadCarInData?… HTTP/1.1` or a URL names its interface.
fn interface_from_request(input: &str) -> Option<Uplink> {
    let first = input.trim().lines().next()?;
    let path = first.split_whitespace().find(|w| w.contains('/'))?;
    let path = path.split('?').next()?;
    Uplink::from_name(path.rsplit('/').next()?)
}

/// Prints validation problems; true when the message is acceptable.
fn report_validation(interface: Uplink, plaintext: &str) -> bool {
    match check_uplink(interface, plaintext) {
        Ok(warnings) => {
            for w in warnings {
                eprintln!("warning ({interface}): {w}");
            }
            true
        }
        Err(DecodeError::Invalid(problems)) => {
            for p in &problems.0 {
                eprintln!("{} ({interface}): {p}", if p.severity == Severity::Error { "error" } else { "warning" });
            }
            false
        }
        Err(e) => {
            eprintln!("error ({interface}): {e}");
            false
        }
    }
}

fn open(profile: Profile, keys: Keys<'_>, input: &str, interface: Option<Uplink>) -> ExitCode {
    let form = match UplinkForm::parse_loose(input) {
        Ok(form) => form,
        Err(e) => {
            eprintln!(
                "error: {e}\nstep: form\nexpected accessID=…&cipher=…&sign=…, a request line/URL with them, or a JSON object with them"
            );
            return ExitCode::FAILURE;
        }
    };
    match envelope::open(profile, &form.cipher, &form.sign, keys) {
        Ok(opened) => {
            println!("{}", opened.text);
            for note in notes(&opened) {
                eprintln!("note: {note}");
            }
            let valid = interface.is_none_or(|i| report_validation(i, &opened.text));
            if valid { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("step: {}", step(&e));
            eprintln!("accessID: {}, profile: {profile}", form.access_id);
            let hints = envelope::diagnose(profile, &form.cipher, &form.sign, keys, &e);
            if !hints.is_empty() {
                eprintln!("likely cause:");
                for h in hints {
                    eprintln!("  - {h}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

fn notes(opened: &envelope::Opened) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if opened.charset == Charset::Gbk {
        notes.push("plaintext was GBK, not UTF-8 (old Java getBytes() on Chinese Windows); send UTF-8");
    }
    match opened.signed_over {
        SignedOver::Cipher => {}
        SignedOver::CipherPlusRestored => {
            notes.push("`+` arrived as spaces (form body not URL-encoded); repaired, but URL-encode cipher and sign")
        }
        SignedOver::CiphertextBytes => {
            notes.push("sign covers the raw ciphertext bytes, not the cipher text; the spec signs the Base64 text")
        }
    }
    match opened.cipher_encoding {
        CipherEncoding::Base64 => {}
        CipherEncoding::Base64PerBlock => {
            notes.push("each block was Base64-encoded separately; encode the concatenated blocks once")
        }
        CipherEncoding::Hex => notes.push("cipher was hex, not Base64"),
    }
    notes
}

fn step(e: &OpenError) -> &'static str {
    match e {
        OpenError::MissingKey { .. } => "keys",
        OpenError::EmptySign | OpenError::EmptyCipher => "form",
        OpenError::SignBase64 => "Base64 (sign)",
        OpenError::Signature { .. } => "signature",
        OpenError::CipherBase64 => "Base64 (cipher)",
        OpenError::BlockLength { .. } => "block length",
        OpenError::Decrypt { .. } => "decryption",
        OpenError::Charset => "charset",
        _ => "open",
    }
}

fn demo() -> Result<ExitCode> {
    use onepark_domain::time::Zone;
    use onepark_proto::msg::record::CarIn;
    use onepark_proto::{PrivateKey, dict::*, msg, uid, wire::Time};

    let zone = Zone::default();
    let now = zone.local(chrono::Utc::now());
    println!("1. keys: RSA-1024 pairs for lot 234 and the platform");
    let lot = PrivateKey::generate(1024)?;
    let platform = PrivateKey::generate(1024)?;
    let (lot_pub, platform_pub) = (lot.public_key(), platform.public_key());

    let entry = CarIn {
        uid: uid::build("1001", "1", now)?,
        arrival_id: "1".into(),
        plate_no: "鲁B01C01".into(),
        car_type: CarType::Small,
        parking_code: "1001".into(),
        gate_no: None,
        entry_num: "1".into(),
        operator_code: None,
        total_berth_num: 150,
        open_berth_num: 130,
        free_berth_num: 70,
        arrive_time: Time(now),
        parking_type: ParkingType::Temporary,
        plate_color: PlateColor::Blue,
        upload_time: Time(now),
    };
    let plaintext = msg::encode(&entry);
    println!("2. uploadCarInData plaintext ({} bytes, {zone}):\n   {plaintext}", plaintext.len(), zone = zone.name());

    let sealed = onepark_proto::seal(
        Profile::Qingdao,
        plaintext.as_bytes(),
        Keys { own: Some(&lot), peer: Some(&platform_pub) },
    )?;
    let body = UplinkForm { access_id: "234".into(), cipher: sealed.cipher, sign: sealed.sign, file: None }.encode();
    println!("3. sealed form body ({} bytes): {}…", body.len(), &body[..body.len().min(96)]);

    let form = UplinkForm::parse(b"", body.as_bytes())?;
    let keys = Keys { own: Some(&platform), peer: Some(&lot_pub) };
    let opened = onepark_proto::open(Profile::Qingdao, &form.cipher, &form.sign, keys)?;
    let decoded = msg::decode::<CarIn>(&opened.text)?;
    println!(
        "4. platform opened and validated it: uid {} plate {} ({} warnings)",
        decoded.message.uid,
        decoded.message.plate_no,
        decoded.warnings.len()
    );

    let swap = if form.cipher.as_bytes()[10] == b'A' { 'B' } else { 'A' };
    let tampered = format!("{}{swap}{}", &form.cipher[..10], &form.cipher[11..]);
    let err = onepark_proto::open(Profile::Qingdao, &tampered, &form.sign, keys)
        .err()
        .context("a tampered cipher must not open")?;
    println!("5. one character of cipher changed → {err}\n   msg: {}", err.zh());
    for hint in envelope::diagnose(Profile::Qingdao, &tampered, &form.sign, keys, &err) {
        println!("   likely cause: {hint}");
    }
    Ok(ExitCode::SUCCESS)
}
