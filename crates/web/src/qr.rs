//! QR codes drawn by onepark (no external service): SVG for pages and
//! print, PNG for systems that want an image. The PNG writer is the least
//! the format allows: 8-bit greyscale, stored (uncompressed) deflate blocks,
//! CRC-32 and Adler-32 computed here; a QR code of a URL is a few KiB.

use qrcodegen::{QrCode, QrCodeEcc};

/// Modules of quiet zone around the code, as the standard asks.
const QUIET: i32 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrError(pub String);

impl std::fmt::Display for QrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QR code: {}", self.0)
    }
}

impl std::error::Error for QrError {}

fn encode(text: &str) -> Result<QrCode, QrError> {
    // Medium error correction: survives a scuffed print on a lot's sign.
    QrCode::encode_text(text, QrCodeEcc::Medium).map_err(|e| QrError(format!("{e:?}")))
}

/// An SVG of `text`'s QR code, one unit per module, scalable.
pub fn svg(text: &str) -> Result<String, QrError> {
    let code = encode(text)?;
    let size = code.size() + 2 * QUIET;
    let mut path = String::new();
    for y in 0..code.size() {
        for x in 0..code.size() {
            if code.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + QUIET, y + QUIET));
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// A PNG of `text`'s QR code, `scale` pixels per module.
pub fn png(text: &str, scale: u32) -> Result<Vec<u8>, QrError> {
    let code = encode(text)?;
    let scale = scale.clamp(1, 32);
    let modules = u32::try_from(code.size() + 2 * QUIET).map_err(|_| QrError("size".into()))?;
    let side = modules * scale;
    // Each row: filter byte 0, then one grey byte per pixel.
    let mut raw = Vec::with_capacity(((side + 1) * side) as usize);
    for py in 0..side {
        raw.push(0);
        for px in 0..side {
            let (x, y) = ((px / scale) as i32 - QUIET, (py / scale) as i32 - QUIET);
            raw.push(if code.get_module(x, y) { 0 } else { 255 });
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit, greyscale, deflate, no filter, no interlace
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// zlib around stored deflate blocks (at most 65,535 bytes each).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65_535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_their_reference_values() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn svg_and_png_of_a_url() {
        let url = "https://park.example/pay?lot=TEST%2F1P1";
        let svg = svg(url).expect("svg");
        assert!(svg.starts_with("<svg") && svg.contains("h1v1h-1z"));
        let png = png(url, 4).expect("png");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0xae, 0x42, 0x60, 0x82]), "IEND's CRC");
    }
}
