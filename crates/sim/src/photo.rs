//! Lane camera photos: small JPEGs drawn from what the camera saw — the
//! car's body, its plate in the plate's colour (glyphs from the plate's
//! characters, no font needed), daylight or night by the hour — so the
//! pages show something plausible and every photo of a car differs.

use chrono::{NaiveDateTime, Timelike};

/// Width and height of a generated photo (a lane camera's thumbnail).
pub const WIDTH: u16 = 320;
pub const HEIGHT: u16 = 240;

/// A photo of a car at a lane; `plate` is the text and 车牌颜色 code, `None`
/// for a car without a plate. Deterministic in its inputs.
pub fn lane_photo(plate: Option<(&str, i64)>, at: NaiveDateTime, car: u64) -> Vec<u8> {
    let (w, h) = (usize::from(WIDTH), usize::from(HEIGHT));
    let mut px = vec![0_u8; w * h * 3];
    let hour = at.hour();
    // Daylight from 7 to 18; the camera's flash keeps the car visible at night.
    let light = if (7..18).contains(&hour) {
        1.0
    } else if (5..7).contains(&hour) || (18..20).contains(&hour) {
        0.7
    } else {
        0.45
    };
    let shade = |c: u8| (f64::from(c) * light) as u8;
    let mut set = |x: usize, y: usize, rgb: [u8; 3]| {
        if x < w && y < h {
            let i = (y * w + x) * 3;
            px[i..i + 3].copy_from_slice(&rgb);
        }
    };
    // Asphalt, lighter towards the camera, with a dashed lane line.
    for y in 0..h {
        let g = shade(70 + (y * 50 / h) as u8);
        for x in 0..w {
            let line = (148..172).contains(&x) && (y / 20) % 2 == 0 && y > 20;
            set(x, y, if line { [shade(220), shade(220), shade(200)] } else { [g, g, g.saturating_add(4)] });
        }
    }
    // The car: body colour from its id, a darker windscreen, two lamps.
    const BODIES: [[u8; 3]; 6] =
        [[235, 235, 232], [30, 30, 34], [170, 172, 176], [160, 30, 36], [40, 70, 140], [90, 90, 96]];
    let body = BODIES[(car % BODIES.len() as u64) as usize].map(shade);
    for y in 40..215 {
        let inset = if y < 110 { (110 - y) / 3 } else { 0 };
        for x in 50 + inset..270 - inset {
            let glass = (55..105).contains(&y) && x > 70 + inset && x < 250 - inset;
            set(x, y, if glass { [shade(40), shade(55), shade(70)] } else { body });
        }
    }
    for (x0, x1) in [(58, 98), (222, 262)] {
        for y in 200..228 {
            for x in x0..x1 {
                set(x, y, [18, 18, 20]);
            }
        }
    }
    for (x0, x1) in [(62, 100), (220, 258)] {
        for y in 130..146 {
            for x in x0..x1 {
                set(x, y, [255, 244, 200]);
            }
        }
    }
    // The plate: its colour, and a 5×7 glyph per character drawn from the character's bits.
    let Some((text, color)) = plate else {
        return encode(&px);
    };
    let (bg, fg) = match color {
        2 => ([232, 182, 0], [20, 20, 20]),
        5 | 6 => ([120, 200, 120], [10, 10, 10]),
        3 => ([240, 240, 240], [10, 10, 10]),
        4 => ([20, 20, 20], [240, 240, 240]),
        _ => ([0, 70, 170], [245, 245, 245]),
    };
    let chars: Vec<char> = text.chars().collect();
    let glyph_w = 10;
    let plate_w = chars.len() * (glyph_w + 2) + 10;
    let (px0, py0) = (160 - plate_w / 2, 160);
    for y in py0..py0 + 26 {
        for x in px0..px0 + plate_w {
            set(x, y, bg);
        }
    }
    for (i, c) in chars.iter().enumerate() {
        let bits = glyph(*c);
        let gx = px0 + 5 + i * (glyph_w + 2);
        for row in 0..7 {
            for col in 0..5 {
                if bits >> (row * 5 + col) & 1 == 1 {
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)] {
                        set(gx + col * 2 + dx, py0 + 3 + row * 3 + dy, fg);
                    }
                }
            }
        }
    }
    encode(&px)
}

/// A 5×7 bitmap for a character: digits and letters get a fixed dot
/// pattern derived from their code (legible as "plate-like", not as text).
fn glyph(c: char) -> u64 {
    let mut x = u64::from(u32::from(c)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    // Keep a frame so glyphs look like strokes rather than noise.
    (x & 0x7_FFFF_FFFF) | 0b11111 | (0b11111 << 30)
}

fn encode(rgb: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 * 1024);
    let encoder = jpeg_encoder::Encoder::new(&mut out, 70);
    // Encoding an RGB buffer of the declared size into memory cannot fail.
    let _ = encoder.encode(rgb, WIDTH, HEIGHT, jpeg_encoder::ColorType::Rgb);
    out
}
