//! The spec's envelope (§2.3): RSA-encrypted `cipher` plus a signature `sign`
//! over it, in both directions, as pure functions.
//!
//! Roles rather than directions: the *sender* holds its own private key and
//! the *peer's* public key; the receiver the mirror image. Uplink: sender =
//! lot, peer = platform. Downlink (D-13): sender = platform, peer = lot.
//!
//! Opening always verifies the signature FIRST and only then decrypts, and
//! never treats a successful decryption as proof of anything: OpenSSL ≥ 3.2
//! answers a corrupted PKCS#1 block with random bytes (implicit rejection)
//! instead of an error.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::{Signer, Verifier};

use crate::key::{PrivateKey, PublicKey};
use onepark_domain::plate::PROVINCES;

/// Which envelope a peer speaks; chosen per accessID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// The Qingdao spec: encrypt with the peer's public key, SHA1withRSA.
    #[default]
    Qingdao,
    /// The Hangzhou variant public clients use: encrypt with the sender's own
    /// private key (PKCS#1 type-1 blocks), MD5withRSA.
    Hangzhou,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Qingdao => "qingdao",
            Profile::Hangzhou => "hangzhou",
        }
    }

    pub fn signature_name(self) -> &'static str {
        match self {
            Profile::Qingdao => "SHA1withRSA",
            Profile::Hangzhou => "MD5withRSA",
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            Profile::Qingdao => MessageDigest::sha1(),
            Profile::Hangzhou => MessageDigest::md5(),
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "qingdao" => Ok(Profile::Qingdao),
            "hangzhou" => Ok(Profile::Hangzhou),
            _ => Err(format!("unknown crypto profile `{s}` (expected qingdao or hangzhou)")),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The keys one side holds for one peer. A profile that does not need a key
/// ignores it, so callers may always pass everything they have.
#[derive(Clone, Copy, Debug, Default)]
pub struct Keys<'a> {
    /// Our own private key.
    pub own: Option<&'a PrivateKey>,
    /// The peer's public key.
    pub peer: Option<&'a PublicKey>,
}

/// The two text fields that travel on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub cipher: String,
    pub sign: String,
}

/// A successfully opened envelope and how tolerant we had to be to open it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub text: String,
    pub charset: Charset,
    pub signed_over: SignedOver,
    pub cipher_encoding: CipherEncoding,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    /// Old Java on Chinese Windows (`getBytes()` with the platform default).
    Gbk,
}

/// Which text the signature turned out to cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedOver {
    /// `cipher` exactly as received (line breaks included): the spec's rule.
    Cipher,
    /// `cipher` with the spaces form decoding made of `+` turned back.
    CipherPlusRestored,
    /// The raw ciphertext bytes rather than their Base64 text (D-14).
    CiphertextBytes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherEncoding {
    Base64,
    /// Each block Base64-encoded on its own and the results concatenated.
    Base64PerBlock,
    Hex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRole {
    OwnPrivate,
    PeerPublic,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("profile {profile} needs the {role:?} key to seal")]
    MissingKey { profile: Profile, role: KeyRole },
    #[error("RSA operation failed: {0}")]
    Rsa(String),
}

/// Why an envelope did not open. Each variant names the step that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error("profile {profile} needs the {role:?} key to open")]
    MissingKey { profile: Profile, role: KeyRole },
    #[error("sign is empty")]
    EmptySign,
    #[error("cipher is empty")]
    EmptyCipher,
    #[error("sign is not valid Base64")]
    SignBase64,
    #[error("signature does not verify ({profile} profile, {algorithm}) over cipher")]
    Signature { profile: Profile, algorithm: &'static str },
    #[error("cipher is not valid Base64")]
    CipherBase64,
    #[error("ciphertext is {len} bytes, not a multiple of the {block}-byte RSA block")]
    BlockLength { len: usize, block: usize },
    #[error("block {index} of {blocks} does not decrypt")]
    Decrypt { index: usize, blocks: usize },
    #[error("decrypted bytes are neither UTF-8 nor GBK text")]
    Charset,
}

impl OpenError {
    /// The message for the `msg` field: Chinese, naming the step and field.
    pub fn zh(&self) -> String {
        match self {
            OpenError::MissingKey { .. } => "平台未配置该接入方所需的密钥".into(),
            OpenError::EmptySign => "缺少参数 sign".into(),
            OpenError::EmptyCipher => "缺少参数 cipher".into(),
            OpenError::SignBase64 => "sign 不是有效的 Base64 编码".into(),
            OpenError::Signature { algorithm, .. } => {
                format!("签名验证失败：sign 不是用接入方私钥对 cipher 原文所做的 {algorithm} 签名")
            }
            OpenError::CipherBase64 => "cipher 不是有效的 Base64 编码".into(),
            OpenError::BlockLength { len, block } => {
                format!("cipher 解码后为 {len} 字节，不是密钥块长 {block} 字节的整数倍")
            }
            OpenError::Decrypt { index, blocks } => {
                format!("cipher 解密失败（第 {} / {blocks} 块）：请确认使用平台公钥加密", index + 1)
            }
            OpenError::Charset => "cipher 解密结果不是 UTF-8 或 GBK 文本".into(),
        }
    }
}

/// Seals a plaintext (the JSON text) for the peer.
pub fn seal(profile: Profile, plaintext: &[u8], keys: Keys<'_>) -> Result<Sealed, SealError> {
    let missing = |role| SealError::MissingKey { profile, role };
    let own = keys.own.ok_or(missing(KeyRole::OwnPrivate))?;
    let ciphertext = match profile {
        Profile::Qingdao => {
            let peer = keys.peer.ok_or(missing(KeyRole::PeerPublic))?;
            encrypt_blocks(plaintext, peer.size(), |chunk, out| peer.rsa.public_encrypt(chunk, out, Padding::PKCS1))?
        }
        Profile::Hangzhou => {
            encrypt_blocks(plaintext, own.size(), |chunk, out| own.rsa.private_encrypt(chunk, out, Padding::PKCS1))?
        }
    };
    let cipher = STANDARD.encode(&ciphertext);
    let sign = sign_text(profile, own, cipher.as_bytes())?;
    Ok(Sealed { cipher, sign })
}

fn sign_text(profile: Profile, own: &PrivateKey, text: &[u8]) -> Result<String, SealError> {
    let mut signer = Signer::new(profile.digest(), &own.pkey).map_err(|e| SealError::Rsa(e.to_string()))?;
    let signature = signer.sign_oneshot_to_vec(text).map_err(|e| SealError::Rsa(e.to_string()))?;
    Ok(STANDARD.encode(signature))
}

type RsaOp<'a> = dyn Fn(&[u8], &mut [u8]) -> Result<usize, openssl::error::ErrorStack> + 'a;

fn encrypt_blocks(
    plaintext: &[u8],
    k: usize,
    op: impl Fn(&[u8], &mut [u8]) -> Result<usize, openssl::error::ErrorStack>,
) -> Result<Vec<u8>, SealError> {
    let chunk = k - 11;
    // An empty plaintext is still one (empty) block, so the receiver sees a
    // well-formed envelope rather than an empty cipher.
    let chunks: Vec<&[u8]> = if plaintext.is_empty() { vec![&[][..]] } else { plaintext.chunks(chunk).collect() };
    let mut out = vec![0u8; chunks.len() * k];
    for (chunk, block) in chunks.into_iter().zip(out.chunks_mut(k)) {
        op(chunk, block).map_err(|e| SealError::Rsa(e.to_string()))?;
    }
    Ok(out)
}

/// Opens an envelope received from the peer: verify, decode, decrypt, decode text.
pub fn open(profile: Profile, cipher: &str, sign: &str, keys: Keys<'_>) -> Result<Opened, OpenError> {
    let missing = |role| OpenError::MissingKey { profile, role };
    let peer = keys.peer.ok_or(missing(KeyRole::PeerPublic))?;
    let block = match profile {
        Profile::Qingdao => keys.own.ok_or(missing(KeyRole::OwnPrivate))?.size(),
        Profile::Hangzhou => peer.size(),
    };
    if cipher.trim().is_empty() {
        return Err(OpenError::EmptyCipher);
    }
    if sign.trim().is_empty() {
        return Err(OpenError::EmptySign);
    }
    let signature = decode_base64(sign).ok_or(OpenError::SignBase64)?;
    let decoded = decode_cipher(cipher, block);
    let signed_over = verify(profile, peer, cipher, &signature, decoded.as_ref().map(|d| d.0.as_slice()))
        .ok_or(OpenError::Signature { profile, algorithm: profile.signature_name() })?;
    let (ciphertext, cipher_encoding) = decoded.ok_or(OpenError::CipherBase64)?;
    if ciphertext.is_empty() || ciphertext.len() % block != 0 {
        return Err(OpenError::BlockLength { len: ciphertext.len(), block });
    }
    let plaintext = match profile {
        Profile::Qingdao => {
            let own = keys.own.ok_or(missing(KeyRole::OwnPrivate))?;
            decrypt_blocks(&ciphertext, block, &|b, out| own.rsa.private_decrypt(b, out, Padding::PKCS1))?
        }
        Profile::Hangzhou => {
            decrypt_blocks(&ciphertext, block, &|b, out| peer.rsa.public_decrypt(b, out, Padding::PKCS1))?
        }
    };
    let (text, charset) = decode_text(plaintext)?;
    Ok(Opened { text, charset, signed_over, cipher_encoding })
}

/// Tries the texts a well-meaning client may have signed, the spec's first.
fn verify(
    profile: Profile,
    peer: &PublicKey,
    cipher: &str,
    signature: &[u8],
    ciphertext: Option<&[u8]>,
) -> Option<SignedOver> {
    let ok = |data: &[u8]| {
        Verifier::new(profile.digest(), &peer.pkey).and_then(|mut v| v.verify_oneshot(signature, data)).unwrap_or(false)
    };
    if ok(cipher.as_bytes()) {
        return Some(SignedOver::Cipher);
    }
    if cipher.contains(' ') && ok(cipher.replace(' ', "+").as_bytes()) {
        return Some(SignedOver::CipherPlusRestored);
    }
    ciphertext.filter(|c| ok(c)).map(|_| SignedOver::CiphertextBytes)
}

pub(crate) fn decrypt_blocks(ciphertext: &[u8], k: usize, op: &RsaOp<'_>) -> Result<Vec<u8>, OpenError> {
    let blocks = ciphertext.len() / k;
    let mut out = Vec::with_capacity(blocks * (k - 11) + k);
    for (index, block) in ciphertext.chunks(k).enumerate() {
        let start = out.len();
        out.resize(start + k, 0);
        // Blocks are joined before any text decoding: a multi-byte character
        // may straddle two blocks.
        let n = op(block, &mut out[start..]).map_err(|_| OpenError::Decrypt { index, blocks })?;
        out.truncate(start + n);
    }
    Ok(out)
}

fn decode_text(bytes: Vec<u8>) -> Result<(String, Charset), OpenError> {
    match String::from_utf8(bytes) {
        Ok(text) => match gbk_plate_reading(&text) {
            Some(gbk) => Ok((gbk, Charset::Gbk)),
            None => Ok((text, Charset::Utf8)),
        },
        Err(e) => {
            let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(e.as_bytes());
            if had_errors || text.contains('\0') {
                Err(OpenError::Charset)
            } else {
                Ok((text.into_owned(), Charset::Gbk))
            }
        }
    }
}

/// Valid UTF-8 is UTF-8, with one exception. Some GBK byte pairs are also
/// valid UTF-8: 鲁 (C2 B3) reads as `³`, so a GBK message whose only Chinese
/// is such a plate arrives as valid UTF-8. Such a text has no character
/// ≥ U+0800 as UTF-8, and read as GBK it holds a plate (province + letter);
/// only then is it GBK. Arbitrary UTF-8 practically never matches both.
fn gbk_plate_reading(utf8: &str) -> Option<String> {
    if utf8.is_ascii() || utf8.chars().any(|c| c as u32 >= 0x800) {
        return None;
    }
    let (gbk, had_errors) = encoding_rs::GBK.decode_without_bom_handling(utf8.as_bytes());
    let chars: Vec<char> = gbk.chars().collect();
    let plate = chars.windows(2).any(|w| PROVINCES.contains(w[0]) && w[1].is_ascii_uppercase());
    (!had_errors && plate).then(|| gbk.into_owned())
}

/// Base64 as it arrives in practice: MIME line breaks, `+` turned into a
/// space by form decoding, or the URL-safe alphabet. Base64 has no spaces, so
/// a space can only be a damaged `+`.
pub(crate) fn normalise_base64(text: &str) -> Cow<'_, str> {
    let clean = |c: char| !matches!(c, '\r' | '\n' | '\t' | ' ' | '-' | '_');
    if text.chars().all(clean) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
            .map(|c| match c {
                ' ' | '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect(),
    )
}

pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(normalise_base64(text).as_bytes()).ok()
}

/// Decodes `cipher` into ciphertext bytes, trying whole Base64 first, then
/// per-block Base64, then hex (D-14); prefers a decoding whose length is a
/// whole number of blocks.
pub(crate) fn decode_cipher(cipher: &str, block: usize) -> Option<(Vec<u8>, CipherEncoding)> {
    let text = normalise_base64(cipher);
    // All-hex text is valid Base64 too, and for an even number of blocks even
    // decodes to a whole number of blocks; real Base64 of a block is never
    // all hex digits, so hex wins when the length fits.
    if text.len().is_multiple_of(2 * block)
        && let Some(bytes) = decode_hex(&text).filter(|b| !b.is_empty())
    {
        return Some((bytes, CipherEncoding::Hex));
    }
    let whole = STANDARD.decode(text.as_bytes()).ok();
    if whole.as_ref().is_some_and(|b| b.len() % block == 0) {
        return whole.map(|b| (b, CipherEncoding::Base64));
    }
    if let Some(bytes) = decode_per_block(&text).filter(|b| b.len() % block == 0) {
        return Some((bytes, CipherEncoding::Base64PerBlock));
    }
    whole.map(|b| (b, CipherEncoding::Base64))
}

/// Splits concatenated Base64 strings after each run of `=` padding.
fn decode_per_block(text: &str) -> Option<Vec<u8>> {
    if !text.trim_end_matches('=').contains('=') {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let pad = rest.find('=').unwrap_or(rest.len());
        let end = rest[pad..].find(|c| c != '=').map_or(rest.len(), |i| pad + i);
        out.extend(STANDARD.decode(&rest[..end]).ok()?);
        rest = &rest[end..];
    }
    Some(out)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

/// Explains a failure in terms of its likely cause, for integrators. Slow
/// (tries alternative keys, digests and texts); call it only after a failure.
pub fn diagnose(profile: Profile, cipher: &str, sign: &str, keys: Keys<'_>, error: &OpenError) -> Vec<String> {
    crate::diagnose::explain(profile, cipher, sign, keys, error)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn pair(bits: u32) -> (PrivateKey, PublicKey) {
        let private = PrivateKey::generate(bits).expect("generate");
        let public = private.public_key();
        (private, public)
    }

    #[test]
    fn round_trip_both_profiles() {
        let (lot, lot_pub) = pair(1024);
        let (platform, platform_pub) = pair(1024);
        let text = "{\"data\":{\"plateNo\":\"鲁B01C01\"}}".repeat(9);
        for profile in [Profile::Qingdao, Profile::Hangzhou] {
            let sealed =
                seal(profile, text.as_bytes(), Keys { own: Some(&lot), peer: Some(&platform_pub) }).expect("seal");
            let opened =
                open(profile, &sealed.cipher, &sealed.sign, Keys { own: Some(&platform), peer: Some(&lot_pub) })
                    .expect("open");
            assert_eq!(opened.text, text);
            assert_eq!(opened.signed_over, SignedOver::Cipher);
        }
    }

    #[test]
    fn hangzhou_needs_no_platform_key() {
        let (lot, lot_pub) = pair(1024);
        let sealed = seal(Profile::Hangzhou, b"{}", Keys { own: Some(&lot), peer: None }).expect("seal");
        let opened = open(Profile::Hangzhou, &sealed.cipher, &sealed.sign, Keys { own: None, peer: Some(&lot_pub) });
        assert_eq!(opened.map(|o| o.text), Ok("{}".to_owned()));
    }

    #[test]
    fn per_block_base64_and_hex_open() {
        let (lot, lot_pub) = pair(1024);
        let (platform, platform_pub) = pair(1024);
        let text = "x".repeat(200);
        let keys_out = Keys { own: Some(&lot), peer: Some(&platform_pub) };
        let keys_in = Keys { own: Some(&platform), peer: Some(&lot_pub) };
        let sealed = seal(Profile::Qingdao, text.as_bytes(), keys_out).expect("seal");
        let raw = STANDARD.decode(&sealed.cipher).expect("b64");
        let per_block: String = raw.chunks(128).map(|b| STANDARD.encode(b)).collect();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        for (cipher, encoding) in [(per_block, CipherEncoding::Base64PerBlock), (hex, CipherEncoding::Hex)] {
            let sign = sign_text(Profile::Qingdao, &lot, cipher.as_bytes()).expect("sign");
            let opened = open(Profile::Qingdao, &cipher, &sign, keys_in).expect("open");
            assert_eq!((opened.text.as_str(), opened.cipher_encoding), (text.as_str(), encoding));
        }
    }

    #[test]
    fn form_damage_and_raw_byte_signatures_open() {
        let (lot, lot_pub) = pair(1024);
        let (platform, platform_pub) = pair(1024);
        let keys_in = Keys { own: Some(&platform), peer: Some(&lot_pub) };
        let mut sealed;
        loop {
            sealed = seal(Profile::Qingdao, b"{\"a\":1}", Keys { own: Some(&lot), peer: Some(&platform_pub) })
                .expect("seal");
            if sealed.cipher.contains('+') && sealed.sign.contains('+') {
                break;
            }
        }
        let damaged = open(Profile::Qingdao, &sealed.cipher.replace('+', " "), &sealed.sign.replace('+', " "), keys_in)
            .expect("open despite + → space");
        assert_eq!(damaged.signed_over, SignedOver::CipherPlusRestored);

        let raw = STANDARD.decode(&sealed.cipher).expect("b64");
        let over_bytes = sign_text(Profile::Qingdao, &lot, &raw).expect("sign");
        let opened = open(Profile::Qingdao, &sealed.cipher, &over_bytes, keys_in).expect("open");
        assert_eq!(opened.signed_over, SignedOver::CiphertextBytes);
    }

    #[test]
    fn gbk_plaintext_is_detected() {
        let (lot, lot_pub) = pair(1024);
        let (platform, platform_pub) = pair(1024);
        let (gbk, _, _) = encoding_rs::GBK.encode("{\"plateNo\":\"鲁B01C01\"}");
        let sealed = seal(Profile::Qingdao, &gbk, Keys { own: Some(&lot), peer: Some(&platform_pub) }).expect("seal");
        let opened =
            open(Profile::Qingdao, &sealed.cipher, &sealed.sign, Keys { own: Some(&platform), peer: Some(&lot_pub) })
                .expect("open");
        assert_eq!((opened.text.as_str(), opened.charset), ("{\"plateNo\":\"鲁B01C01\"}", Charset::Gbk));
    }

    #[test]
    fn utf8_with_latin1_symbols_stays_utf8() {
        for text in ["{\"plateNo\":\"鲁B·01C01\"}", "{\"remark\":\"¥8·00 停车\"}", "Café ³ ¥", "Ѩ°é"] {
            assert_eq!(decode_text(text.as_bytes().to_vec()), Ok((text.to_owned(), Charset::Utf8)), "{text}");
        }
        let (gbk, _, _) = encoding_rs::GBK.encode("吴山广场");
        assert_eq!(decode_text(gbk.into_owned()), Ok(("吴山广场".to_owned(), Charset::Gbk)));
        let (gbk, _, _) = encoding_rs::GBK.encode("{\"plateNo\":\"鲁B01C01\"}");
        assert_eq!(String::from_utf8(gbk.to_vec()).map(|t| t.contains('³')), Ok(true), "GBK 鲁 is valid UTF-8");
    }
}
