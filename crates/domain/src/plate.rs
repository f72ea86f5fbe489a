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

/// `text` with each [`CONFUSABLE`] character replaced by the first of its
/// group (`B` → `8`, `S` → `5`, `O` → `0`), upper-cased: two readings of one
/// plate fold to the same text, so a search by a part finds a misread too.
pub fn fold_confusable(text: &str) -> String {
    text.chars()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            CONFUSABLE.iter().find(|group| group.contains(&c)).map_or(c, |group| group[0])
        })
        .collect()
}

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

impl PlateColour {
    /// The dictionary's code (1 blue … 6 yellow-green).
    pub fn code(self) -> i64 {
        match self {
            PlateColour::Blue => 1,
            PlateColour::Yellow => 2,
            PlateColour::White => 3,
            PlateColour::Black => 4,
            PlateColour::Green => 5,
            PlateColour::YellowGreen => 6,
        }
    }

    /// The colour a plate of this text usually has (its kind's first), for a
    /// message that names no colour; blue when the text is no plate.
    pub fn usual(plate: &str) -> PlateColour {
        Plate::parse(plate)
            .ok()
            .and_then(|p| p.kind().colours())
            .and_then(|c| c.first().copied())
            .unwrap_or(PlateColour::Blue)
    }
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
    /// Refused whatever the rest looks like: a plate shows every character it
    /// holds, so one that prints nothing (NUL, BEL, ESC, DEL, zero-width space,
    /// soft hyphen …) or reorders what follows (U+202E and the other bidi
    /// controls) makes two plates that look the same but never match — and the
    /// platform refuses the record, so the stay would never reach the city.
    /// `at` counts characters from 1, in the text as received.
    #[error("plate: character {at} (U+{code:04X}) is a control or invisible character")]
    Invisible { at: usize, code: u32 },
}

impl PlateError {
    /// Chinese text for a lane's display, a `msg` or a page.
    pub fn zh(&self) -> String {
        match self {
            PlateError::Empty => "车牌为空（无牌车请填 无车牌，无法识别请填 未识别）".into(),
            PlateError::UnknownPrefix(plate) => format!("车牌 {plate} 不是以省份简称、使、WJ 或军牌字母开头"),
            PlateError::BadShape { plate, reason } => format!("车牌 {plate} 格式不正确（{reason}）"),
            PlateError::Invisible { at, code } => {
                format!("车牌第 {at} 个字符（U+{code:04X}）是控制字符或不可见字符，不允许")
            }
        }
    }
}

/// The longest text a read may be kept as ([`reading`]): plateNo's bound in the spec.
pub const MAX_READ_CHARS: usize = 50;

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
        visible(input)?;
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

/// The plate text to record for what a camera read or a person typed, when
/// the lane must decide whatever the shape: canonical when [`Plate::parse`]
/// knows it; a shape it does not know is kept as read (normalised) — a
/// foreign plate, a misread — unless longer than [`MAX_READ_CHARS`]; empty
/// or too long is [`UNRECOGNISED`]. Refused only for what no plate can hold:
/// a control or invisible character ([`PlateError::Invisible`]).
pub fn reading(input: &str) -> Result<String, PlateError> {
    match Plate::parse(input) {
        Ok(p) => Ok(p.text),
        Err(e @ PlateError::Invisible { .. }) => Err(e),
        Err(PlateError::Empty) => Ok(UNRECOGNISED.to_owned()),
        Err(_) => Ok(Some(normalise(input))
            .filter(|p| p.chars().count() <= MAX_READ_CHARS)
            .unwrap_or_else(|| UNRECOGNISED.to_owned())),
    }
}

/// The documented pattern of a plate as read ([`reading`] accepts every text
/// it matches): characters of the Basic Multilingual Plane that are neither
/// control nor invisible ([`is_invisible`]), spelled `\uXXXX` so that ECMA
/// and Python regexes read it alike. Built from [`is_invisible`] itself, so
/// the two cannot disagree.
pub fn reading_pattern() -> String {
    let allowed = |c: u32| !(0xD800..=0xDFFF).contains(&c) && char::from_u32(c).is_some_and(|c| !is_invisible(c));
    let mut class = String::new();
    let mut c = 0x20;
    while c <= 0xFFFF {
        if !allowed(c) {
            c += 1;
            continue;
        }
        let start = c;
        while c < 0xFFFF && allowed(c + 1) {
            c += 1;
        }
        class.push_str(&format!("\\u{start:04x}"));
        if c > start {
            class.push_str(&format!("-\\u{c:04x}"));
        }
        c += 1;
    }
    format!("^[{class}]*$")
}

/// The first control or invisible character of `text` ([`is_invisible`]), as
/// [`PlateError::Invisible`].
pub fn visible(text: &str) -> Result<(), PlateError> {
    match text.chars().position(is_invisible) {
        Some(i) => {
            let c = text.chars().nth(i).unwrap_or_default();
            Err(PlateError::Invisible { at: i + 1, code: c as u32 })
        }
        None => Ok(()),
    }
}

/// Control characters (Cc: NUL, BEL, tab, ESC, DEL, C1 …), format characters
/// (Cf: zero-width space and joiners, soft hyphen, BOM, the bidi embeddings,
/// overrides, isolates and marks, tags), the rest of Unicode's
/// Default_Ignorable_Code_Point (variation selectors, Hangul fillers, the
/// combining grapheme joiner) and the line/paragraph separators. Ordinary
/// spaces are not here: they are separators that [`normalise`] drops.
/// Written out rather than taken from a Unicode crate: the set is small and
/// stable, and the domain crate stays dependency-free.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0x00AD | 0x034F | 0x061C | 0x0600..=0x0605 | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
            | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F
            | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB
            | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF)
}

/// Strips separators, folds full-width forms to ASCII and uppercases.
/// I and O are left alone here; [`civil`] maps them where plates use digits.
/// Private: every text that becomes a plate goes through [`Plate::parse`] or
/// [`reading`], which refuse invisible characters first.
fn normalise(input: &str) -> String {
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
    #[test]
    fn confusable_readings_fold_alike() {
        use super::fold_confusable;
        assert_eq!(fold_confusable("鲁B55298"), "鲁855298");
        assert_eq!(fold_confusable("b5S2g8"), fold_confusable("8SS268"));
        assert_eq!(fold_confusable("鲁AD0Q1I"), "鲁A00011");
    }

    #[test]
    fn the_reading_pattern_admits_exactly_the_visible_characters_of_the_bmp() {
        let pattern = reading_pattern();
        let class = pattern.strip_prefix("^[").and_then(|p| p.strip_suffix("]*$")).expect("a class");
        let code = |s: &str| u32::from_str_radix(s.trim_start_matches("\\u"), 16).expect("hex");
        let mut allowed = std::collections::BTreeSet::new();
        // Parse `\uXXXX` and `\uXXXX-\uXXXX` items.
        let mut rest = class;
        while let Some(item) = rest.strip_prefix("\\u") {
            let (start, after) = item.split_at(4);
            let start = code(start);
            if let Some(range) = after.strip_prefix("-\\u") {
                let (end, after) = range.split_at(4);
                allowed.extend(start..=code(end));
                rest = after;
            } else {
                allowed.insert(start);
                rest = after;
            }
        }
        assert!(rest.is_empty(), "unparsed: {rest}");
        for c in 0x20..=0xFFFFu32 {
            let visible = char::from_u32(c).is_some_and(|c| !is_invisible(c));
            assert_eq!(allowed.contains(&c), visible, "U+{c:04X}");
        }
        assert!(
            !allowed.contains(&0x200B) && !allowed.contains(&0x202E) && allowed.contains(&0x9C81),
            "鲁 in, ZWSP and RLO out"
        );
    }

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
    fn usual_colours_and_their_codes() {
        assert_eq!(PlateColour::usual("鲁BD12345").code(), 5);
        assert_eq!(PlateColour::usual("鲁B12345").code(), 1);
        assert_eq!(PlateColour::usual("鲁B1234学").code(), 2);
        assert_eq!(PlateColour::usual("not a plate"), PlateColour::Blue);
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

    /// The characters the issue found accepted at a lane, and their kin.
    const INVISIBLE: [char; 16] = [
        '\0',
        '\u{7}',
        '\t',
        '\n',
        '\u{1b}',
        '\u{7f}',
        '\u{85}',
        '\u{ad}',
        '\u{200b}',
        '\u{200d}',
        '\u{202e}',
        '\u{2066}',
        '\u{2028}',
        '\u{feff}',
        '\u{fe0f}',
        '\u{e0041}',
    ];

    #[test]
    fn control_and_invisible_characters_are_refused_wherever_they_are() {
        for c in INVISIBLE {
            assert!(is_invisible(c), "{:04X}", c as u32);
            for (at, text) in [(1, format!("{c}鲁B12345")), (3, format!("鲁B{c}12345")), (8, format!("鲁B12345{c}"))]
            {
                let want = PlateError::Invisible { at, code: c as u32 };
                assert_eq!(Plate::parse(&text), Err(want.clone()), "{text:?}");
                assert_eq!(reading(&text), Err(want), "{text:?}");
            }
        }
        let e = Plate::parse("鲁B1\u{200b}2345").expect_err("zero-width space");
        assert_eq!(e.to_string(), "plate: character 4 (U+200B) is a control or invisible character");
        assert_eq!(e.zh(), "车牌第 4 个字符（U+200B）是控制字符或不可见字符，不允许");
        // Spacing is still a separator, not refused.
        for c in [' ', '\u{a0}', '\u{3000}', '\u{2009}', '\u{202f}'] {
            assert!(!is_invisible(c));
            assert_eq!(canon(&format!("鲁B{c}12345")), "鲁B12345");
        }
    }

    #[test]
    fn a_reading_is_canonical_or_kept_as_read() {
        assert_eq!(reading(" 鲁b-12345 ").as_deref(), Ok("鲁B12345"));
        assert_eq!(reading("").as_deref(), Ok(UNRECOGNISED));
        assert_eq!(reading("无牌").as_deref(), Ok(NO_PLATE));
        assert_eq!(reading("abc123").as_deref(), Ok("ABC123"), "unknown shapes are kept as read");
        assert_eq!(reading(&"X".repeat(51)).as_deref(), Ok(UNRECOGNISED), "longer than plateNo may be");
    }

    proptest::proptest! {
        #[test]
        fn no_plate_or_reading_holds_an_invisible_character(
            chars in proptest::collection::vec(proptest::prelude::any::<char>(), 0..12),
        ) {
            let text: String = chars.into_iter().collect();
            let first = text.chars().position(is_invisible);
            match (Plate::parse(&text), first) {
                (Ok(p), _) => proptest::prop_assert!(!p.as_str().chars().any(is_invisible) && first.is_none()),
                (Err(PlateError::Invisible { at, .. }), Some(i)) => proptest::prop_assert_eq!(at, i + 1),
                (Err(e), first) => proptest::prop_assert!(first.is_none(), "{text:?}: {e}"),
            }
            match reading(&text) {
                Ok(r) => proptest::prop_assert!(!r.chars().any(is_invisible) && first.is_none(), "{text:?} → {r:?}"),
                Err(e) => {
                    let invisible = matches!(e, PlateError::Invisible { .. });
                    proptest::prop_assert!(invisible && first.is_some(), "{text:?}: {e}");
                }
            }
        }

        #[test]
        fn an_invisible_character_anywhere_in_a_plate_is_refused(
            text in REAL_PATTERN.trim_start_matches('^').trim_end_matches('$'),
            at in 0usize..10,
            pick in 0usize..INVISIBLE.len(),
        ) {
            let mut chars: Vec<char> = text.chars().collect();
            let at = at.min(chars.len());
            chars.insert(at, INVISIBLE[pick]);
            let text: String = chars.into_iter().collect();
            let want = PlateError::Invisible { at: at + 1, code: INVISIBLE[pick] as u32 };
            proptest::prop_assert_eq!(Plate::parse(&text), Err(want.clone()));
            proptest::prop_assert_eq!(reading(&text), Err(want));
        }

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
