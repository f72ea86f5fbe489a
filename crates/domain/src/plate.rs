//! Chinese licence plates (GA 36): normalisation, parsing and classification.
//!
//! The city spec wants plates "in a correct format, with no spaces and no
//! special characters such as `-`", and the two literals `无车牌` (no plate) and
//! `未识别` (not recognised). Cameras and staff produce everything else:
//! `鲁B·12345`, full-width letters, lowercase, `O` for `0`. [`Plate::parse`]
//! turns all of that into the canonical text and says what kind of plate it is.

use std::fmt;

/// The 31 province-level abbreviations used as the first plate character.
pub const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/// The grammar of real plates (no placeholders), for [`PATTERN`] and [`REAL_PATTERN`].
macro_rules! real_plates {
    () => {
        concat!(
            "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z]",
            "([A-Z0-9]{5}|[DABCEFGHJK][A-Z0-9][0-9]{4}|[0-9]{5}[DABCEFGHJK]|[A-Z0-9]{4}[学警挂港澳领试超]|[A-Z0-9]{4,5}应急)",
            "|WJ[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]?[0-9]{4}[0-9消边通森金警电]",
            "|使[0-9]{6}|[0-9]{6}使",
            "|[VKHBSLJNGCEZQ][A-Z][0-9]{5}",
        )
    };
}

/// Canonical plates as a regular expression (JSON Schema dialect), for API
/// documents: every string it matches is accepted by [`Plate::parse`] as is
/// (a test generates from it). `parse` accepts more — lowercase, separators,
/// full-width characters — and turns them into one of these.
pub const PATTERN: &str = concat!("^(", real_plates!(), "|无车牌|未识别)$");

/// [`PATTERN`] without the two placeholders: a plate staff type by hand.
pub const REAL_PATTERN: &str = concat!("^(", real_plates!(), ")$");

/// Characters plate readers confuse: an exit read may differ from the entry
/// read in one of these positions and still be the same car (the lot's lane
/// matches such reads; the simulator makes them).
pub const CONFUSABLE: [&[char]; 7] =
    [&['0', 'D', 'Q', 'O'], &['8', 'B'], &['2', 'Z'], &['5', 'S'], &['1', 'I'], &['6', 'G'], &['7', 'T']];

/// The literal the spec requires for a vehicle without a plate.
pub const NO_PLATE: &str = "无车牌";
/// The literal the spec requires for a plate the camera could not read.
pub const UNRECOGNISED: &str = "未识别";

/// Plate colours of the spec's data dictionary (codes 1–6, from GA 36).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlateColour {
    Blue,
    Yellow,
    White,
    Black,
    Green,
    YellowGreen,
}

/// What a plate is, which decides its length, shape and expected colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlateKind {
    /// Province + letter + 5 characters (blue small cars, yellow large ones).
    Ordinary,
    /// 8 characters, serial starting with D/F (or the extended A–K letters).
    NewEnergySmall,
    /// 8 characters, serial ending with D/F (or the extended A–K letters).
    NewEnergyLarge,
    /// 学: driving-school car.
    Coach,
    /// 警: police.
    Police,
    /// 挂: trailer.
    Trailer,
    /// 港: Hong Kong vehicle entering the mainland.
    HongKong,
    /// 澳: Macau vehicle entering the mainland.
    Macau,
    /// 使: embassy.
    Embassy,
    /// 领: consulate.
    Consulate,
    /// 试: test vehicle.
    Trial,
    /// 超: oversize vehicle.
    Oversize,
    /// 应急: emergency rescue.
    Emergency,
    /// PLA plates: two letters + five digits.
    Military,
    /// WJ (武警) plates.
    ArmedPolice,
    /// The literal `无车牌`.
    NoPlate,
    /// The literal `未识别`.
    Unrecognised,
}

impl PlateKind {
    pub fn is_new_energy(self) -> bool {
        matches!(self, PlateKind::NewEnergySmall | PlateKind::NewEnergyLarge)
    }

    /// True for the two literals that stand for "no readable plate".
    pub fn is_placeholder(self) -> bool {
        matches!(self, PlateKind::NoPlate | PlateKind::Unrecognised)
    }

    /// The colours a plate of this kind can legitimately have, or `None` when
    /// any colour is plausible.
    pub fn colours(self) -> Option<&'static [PlateColour]> {
        use PlateColour::*;
        Some(match self {
            PlateKind::NewEnergySmall | PlateKind::NewEnergyLarge => &[Green, YellowGreen],
            PlateKind::Ordinary => &[Blue, Yellow, Black, White],
            PlateKind::Coach | PlateKind::Trailer => &[Yellow],
            PlateKind::Police | PlateKind::Military | PlateKind::ArmedPolice => &[White],
            PlateKind::HongKong | PlateKind::Macau | PlateKind::Embassy | PlateKind::Consulate => &[Black],
            _ => return None,
        })
    }
}

/// A plate in canonical text with its kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Plate {
    text: String,
    kind: PlateKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    #[error("plate is empty (send `无车牌` or `未识别` instead)")]
    Empty,
    #[error("plate `{0}` does not start with a province abbreviation, 使, WJ or a military code")]
    UnknownPrefix(String),
    #[error("plate `{plate}`: {reason}")]
    BadShape { plate: String, reason: &'static str },
}

const SUFFIXES: [(char, PlateKind); 8] = [
    ('学', PlateKind::Coach),
    ('警', PlateKind::Police),
    ('挂', PlateKind::Trailer),
    ('港', PlateKind::HongKong),
    ('澳', PlateKind::Macau),
    ('领', PlateKind::Consulate),
    ('试', PlateKind::Trial),
    ('超', PlateKind::Oversize),
];

/// Letters that mark a new-energy serial: D A B C E are battery-electric,
/// F G H J K are other new-energy drives.
const NEW_ENERGY_LETTERS: &str = "DABCEFGHJK";
/// First letters of PLA plates (军委 V, 空军 K, 海军 H and the theatre codes).
const MILITARY_LETTERS: &str = "VKHBSLJNGCEZQ";
/// Last characters allowed on WJ plates besides a digit.
const ARMED_POLICE_SUFFIXES: &str = "消边通森金警电";

impl Plate {
    /// Normalises and parses a plate as a camera, a lane controller or a
    /// person may have written it.
    pub fn parse(input: &str) -> Result<Plate, PlateError> {
        let text = normalise(input);
        if let Some(kind) = placeholder(&text) {
            let text = if kind == PlateKind::NoPlate { NO_PLATE } else { UNRECOGNISED };
            return Ok(Plate { text: text.to_owned(), kind });
        }
        if text.is_empty() {
            return Err(PlateError::Empty);
        }
        let chars: Vec<char> = text.chars().collect();
        let bad = |reason| PlateError::BadShape { plate: text.clone(), reason };
        if let Some(rest) = text.strip_prefix("WJ") {
            return armed_police(rest).map(|kind| Plate { kind, text: text.clone() }).ok_or_else(|| {
                bad("WJ plates are WJ, an optional province, four digits and a digit or 消边通森金警电")
            });
        }
        if chars[0] == '使' || chars.last() == Some(&'使') {
            let digits = chars.iter().filter(|c| c.is_ascii_digit()).count();
            if digits == 6 && chars.len() == 7 {
                return Ok(Plate { text, kind: PlateKind::Embassy });
            }
            return Err(bad("embassy plates are 使 and six digits"));
        }
        if PROVINCES.contains(chars[0]) {
            let (serial, kind) = civil(&chars[1..]).map_err(bad)?;
            let text = std::iter::once(chars[0]).chain(serial).collect();
            return Ok(Plate { text, kind });
        }
        if chars.len() == 7
            && MILITARY_LETTERS.contains(chars[0])
            && chars[1].is_ascii_uppercase()
            && chars[2..].iter().all(char::is_ascii_digit)
        {
            return Ok(Plate { text, kind: PlateKind::Military });
        }
        Err(PlateError::UnknownPrefix(text))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> PlateKind {
        self.kind
    }

    /// The province abbreviation, if the plate carries one.
    pub fn province(&self) -> Option<char> {
        let mut chars = self.text.chars();
        let first = chars.next()?;
        if PROVINCES.contains(first) {
            Some(first)
        } else if self.kind == PlateKind::ArmedPolice {
            chars.nth(1).filter(|c| PROVINCES.contains(*c))
        } else {
            None
        }
    }

    /// False when the reported colour contradicts the plate (a new-energy
    /// plate reported blue, a 学 plate reported white, …).
    pub fn colour_consistent(&self, colour: PlateColour) -> bool {
        self.kind.colours().is_none_or(|allowed| allowed.contains(&colour))
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Strips separators, folds full-width forms to ASCII and uppercases.
/// I and O are left alone here; [`civil`] maps them where plates use digits.
pub fn normalise(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .filter(|c| !c.is_whitespace() && !is_separator(*c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn is_separator(c: char) -> bool {
    matches!(c, '·' | '•' | '・' | '‧' | '∙' | '.' | '-' | '_' | '—' | '–' | '－' | '。')
}

fn placeholder(text: &str) -> Option<PlateKind> {
    match text {
        NO_PLATE | "无牌" | "无牌车" | "无" => Some(PlateKind::NoPlate),
        UNRECOGNISED | "未知" | "未知车牌" | "识别失败" => Some(PlateKind::Unrecognised),
        _ => None,
    }
}

/// Classifies what follows the province: the issuing letter and the serial.
/// Returns the canonical characters (I/O in the serial read as 1/0).
fn civil(rest: &[char]) -> Result<(Vec<char>, PlateKind), &'static str> {
    let Some((&city, serial)) = rest.split_first() else {
        return Err("a province must be followed by the issuing-authority letter");
    };
    if !city.is_ascii_uppercase() {
        return Err("the second character must be the issuing-authority letter A–Z");
    }
    let mut serial: Vec<char> = serial
        .iter()
        .map(|&c| match c {
            'O' => '0',
            'I' => '1',
            c => c,
        })
        .collect();
    let alnum = |s: &[char]| s.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    let digits = |s: &[char]| s.iter().all(char::is_ascii_digit);

    let kind = if serial.ends_with(&['应', '急']) {
        let body = &serial[..serial.len() - 2];
        if !(4..=5).contains(&body.len()) || !alnum(body) {
            return Err("应急 plates carry four or five letters or digits before 应急");
        }
        PlateKind::Emergency
    } else if let Some(&(_, kind)) = SUFFIXES.iter().find(|(s, _)| serial.last() == Some(s)) {
        if serial.len() != 5 || !alnum(&serial[..4]) {
            return Err("plates with a 学警挂港澳领试超 suffix carry four letters or digits before it");
        }
        kind
    } else {
        match serial.len() {
            5 if alnum(&serial) => PlateKind::Ordinary,
            6 if NEW_ENERGY_LETTERS.contains(serial[0])
                && (serial[1].is_ascii_digit() || serial[1].is_ascii_uppercase())
                && digits(&serial[2..]) =>
            {
                PlateKind::NewEnergySmall
            }
            6 if digits(&serial[..5]) && NEW_ENERGY_LETTERS.contains(serial[5]) => PlateKind::NewEnergyLarge,
            5 => return Err("the serial may contain only letters and digits"),
            6 => return Err("an 8-character plate must be new-energy: D/F… first or last"),
            0..=4 => return Err("the plate is too short"),
            _ => return Err("the plate is too long"),
        }
    };
    serial.insert(0, city);
    Ok((serial, kind))
}

fn armed_police(rest: &str) -> Option<PlateKind> {
    let chars: Vec<char> = rest.chars().collect();
    let body = match chars.first() {
        Some(c) if PROVINCES.contains(*c) => &chars[1..],
        _ => &chars[..],
    };
    let ok = body.len() == 5
        && body[..4].iter().all(char::is_ascii_digit)
        && (body[4].is_ascii_digit() || ARMED_POLICE_SUFFIXES.contains(body[4]));
    ok.then_some(PlateKind::ArmedPolice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> PlateKind {
        Plate::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).kind()
    }

    fn canon(s: &str) -> String {
        Plate::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).to_string()
    }

    #[test]
    fn every_province_parses() {
        assert_eq!(PROVINCES.chars().count(), 31);
        for p in PROVINCES.chars() {
            let plate = Plate::parse(&format!("{p}A12345")).expect("ordinary");
            assert_eq!(plate.kind(), PlateKind::Ordinary);
            assert_eq!(plate.province(), Some(p));
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("鲁B01C01"), PlateKind::Ordinary);
        assert_eq!(kind("鲁BD12345"), PlateKind::NewEnergySmall);
        assert_eq!(kind("鲁BFA1234"), PlateKind::NewEnergySmall);
        assert_eq!(kind("鲁B12345D"), PlateKind::NewEnergyLarge);
        assert_eq!(kind("鲁B1234学"), PlateKind::Coach);
        assert_eq!(kind("鲁B0123警"), PlateKind::Police);
        assert_eq!(kind("鲁B1234挂"), PlateKind::Trailer);
        assert_eq!(kind("粤Z1234港"), PlateKind::HongKong);
        assert_eq!(kind("粤Z1234澳"), PlateKind::Macau);
        assert_eq!(kind("沪A1234领"), PlateKind::Consulate);
        assert_eq!(kind("鲁B1234试"), PlateKind::Trial);
        assert_eq!(kind("鲁B1234超"), PlateKind::Oversize);
        assert_eq!(kind("鲁B1234应急"), PlateKind::Emergency);
        assert_eq!(kind("使014001"), PlateKind::Embassy);
        assert_eq!(kind("VA12345"), PlateKind::Military);
        assert_eq!(kind("KA·12345"), PlateKind::Military);
        assert_eq!(kind("WJ鲁12345"), PlateKind::ArmedPolice);
        assert_eq!(kind("WJ鲁1234消"), PlateKind::ArmedPolice);
        assert_eq!(kind("无车牌"), PlateKind::NoPlate);
        assert_eq!(kind("未识别"), PlateKind::Unrecognised);
        assert_eq!(Plate::parse("WJ鲁12345").expect("wj").province(), Some('鲁'));
    }

    #[test]
    fn normalisation() {
        assert_eq!(canon("鲁B·01C01"), "鲁B01C01");
        assert_eq!(canon(" 鲁 b-01c01 "), "鲁B01C01");
        assert_eq!(canon("鲁Ｂ０１Ｃ０１"), "鲁B01C01");
        assert_eq!(canon("鲁B0IC0O"), "鲁B01C00");
        assert_eq!(canon("鲁B.D12345"), "鲁BD12345");
        assert_eq!(canon("无牌"), NO_PLATE);
        assert_eq!(canon("未知"), UNRECOGNISED);
    }

    #[test]
    fn rejects() {
        assert_eq!(Plate::parse("  "), Err(PlateError::Empty));
        for bad in ["鲁B0101", "鲁B0101234", "鲁B01C0!", "鲁1012345", "AB12345X", "鲁", "鲁BX12345", "使12"] {
            assert!(Plate::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(matches!(Plate::parse("XX12345"), Err(PlateError::UnknownPrefix(_))));
    }

    #[test]
    fn colours() {
        use PlateColour::*;
        let nev = Plate::parse("鲁BD12345").expect("nev");
        assert!(nev.colour_consistent(Green));
        assert!(nev.colour_consistent(YellowGreen));
        assert!(!nev.colour_consistent(Blue));
        assert!(!Plate::parse("鲁B01C01").expect("ord").colour_consistent(Green));
        assert!(Plate::parse("鲁B01C01").expect("ord").colour_consistent(Blue));
        assert!(!Plate::parse("鲁B1234学").expect("coach").colour_consistent(Blue));
        assert!(Plate::parse("未识别").expect("lit").colour_consistent(Green));
    }

    proptest::proptest! {
        #[test]
        fn every_plate_of_the_documented_pattern_parses(text in PATTERN.trim_start_matches('^').trim_end_matches('$')) {
            let plate = Plate::parse(&text);
            proptest::prop_assert!(plate.is_ok(), "{text}: {plate:?}");
        }

        #[test]
        fn every_plate_of_the_real_pattern_is_real(text in REAL_PATTERN.trim_start_matches('^').trim_end_matches('$')) {
            let plate = Plate::parse(&text);
            proptest::prop_assert!(plate.as_ref().is_ok_and(|p| !p.kind().is_placeholder()), "{text}: {plate:?}");
        }

        #[test]
        fn parse_never_panics_and_is_idempotent(s in "\\PC{0,12}") {
            if let Ok(p) = Plate::parse(&s) {
                let again = Plate::parse(p.as_str()).expect("canonical text parses");
                proptest::prop_assert_eq!(again, p);
            }
        }
    }
}
