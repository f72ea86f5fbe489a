//! Plates as a Qingdao car park sees them, and the misreads of its cameras.

use onepark_domain::plate::{CONFUSABLE, PROVINCES, Plate};

use crate::draw::{Seeded, chance, pick, weighted};

/// Serial letters of civil plates (I and O are never issued).
const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
/// New-energy serial letters: D pure electric, F other drives (the common two).
const NEW_ENERGY: &[u8] = b"DF";
/// Other Shandong cities (鲁B and 鲁U are Qingdao's own).
const SHANDONG: &[u8] = b"ACDEFGHJKLMNPQRSV";

/// Where the plates come from and what they are.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateMix {
    /// Share of Qingdao plates (鲁B, and 鲁U for a tenth of them).
    pub qingdao: f64,
    /// Share of other Shandong cities (鲁A, 鲁F, …); the rest are other provinces.
    pub shandong: f64,
    /// Share of new-energy plates (green, eight characters).
    pub new_energy: f64,
    /// Share of large vehicles (yellow plates, car type 3) among the others.
    pub large: f64,
}

impl Default for PlateMix {
    fn default() -> Self {
        PlateMix { qingdao: 0.78, shandong: 0.10, new_energy: 0.28, large: 0.03 }
    }
}

/// A car's plate with what a camera reports beside it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CarPlate {
    pub text: String,
    /// 车牌颜色 (spec §7): 1 blue, 2 yellow, 5 green.
    pub color: i64,
    /// 车辆类型 (spec §7): 1 small, 3 large.
    pub car_type: i64,
}

impl PlateMix {
    /// A plate drawn from the mix; always one [`Plate::parse`] accepts as is.
    pub fn draw(&self, rng: &mut Seeded) -> CarPlate {
        let region = weighted(rng, &[self.qingdao, self.shandong, (1.0 - self.qingdao - self.shandong).max(0.0)]);
        let (province, city) = match region {
            0 => ('鲁', if chance(rng, 0.1) { 'U' } else { 'B' }),
            1 => ('鲁', char::from(*pick(rng, SHANDONG))),
            _ => {
                let others: Vec<char> = PROVINCES.chars().filter(|c| *c != '鲁').collect();
                (*pick(rng, &others), char::from(*pick(rng, LETTERS)))
            }
        };
        let mut text = String::with_capacity(12);
        text.push(province);
        text.push(city);
        let plate = if chance(rng, self.new_energy) {
            text.push(char::from(*pick(rng, NEW_ENERGY)));
            if chance(rng, 0.3) {
                text.push(char::from(*pick(rng, LETTERS)));
            } else {
                text.push(char::from(*pick(rng, DIGITS)));
            }
            (0..4).for_each(|_| text.push(char::from(*pick(rng, DIGITS))));
            CarPlate { text, color: 5, car_type: 1 }
        } else {
            // Ordinary serials: mostly digits, up to two letters anywhere.
            let letters = weighted(rng, &[0.55, 0.35, 0.10]);
            let mut serial: Vec<char> = (0..5).map(|_| char::from(*pick(rng, DIGITS))).collect();
            for _ in 0..letters {
                let at = crate::draw::between(rng, 0, 4) as usize;
                serial[at] = char::from(*pick(rng, LETTERS));
            }
            text.extend(serial);
            let large = chance(rng, self.large);
            CarPlate { text, color: if large { 2 } else { 1 }, car_type: if large { 3 } else { 1 } }
        };
        debug_assert!(Plate::parse(&plate.text).is_ok_and(|p| p.as_str() == plate.text), "{}", plate.text);
        plate
    }
}

/// True for a plate of Qingdao (鲁B, 鲁U).
pub fn is_qingdao(plate: &str) -> bool {
    plate.starts_with("鲁B") || plate.starts_with("鲁U")
}

/// What a camera that confuses one character reads: one serial character
/// replaced by one it is confused with, when the result is still a plate of
/// the same kind (a camera does not invent shapes). `None` when the plate
/// has no such character.
pub fn misread(rng: &mut Seeded, plate: &str) -> Option<String> {
    let kind = Plate::parse(plate).ok()?.kind();
    let chars: Vec<char> = plate.chars().collect();
    let mut options = Vec::new();
    // Province and issuing letter are read from the plate's large characters; cameras misread the serial.
    for (i, c) in chars.iter().enumerate().skip(2) {
        for group in CONFUSABLE.iter().filter(|g| g.contains(c)) {
            for alt in group.iter().filter(|a| *a != c) {
                let mut variant = chars.clone();
                variant[i] = *alt;
                let text: String = variant.into_iter().collect();
                if Plate::parse(&text).is_ok_and(|p| p.as_str() == text && p.kind() == kind) {
                    options.push(text);
                }
            }
        }
    }
    (!options.is_empty()).then(|| pick(rng, &options).clone())
}
