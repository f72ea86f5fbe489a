//! Barrier decisions, without I/O.

use onepark_domain::plate::CONFUSABLE;

/// How an exit read matches an entry read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    Exact,
    /// One position differs by an OCR-confusable pair.
    Fuzzy,
}

pub fn plate_match(entry: &str, exit: &str) -> Option<Match> {
    if entry == exit {
        return Some(Match::Exact);
    }
    let (a, b): (Vec<char>, Vec<char>) = (entry.chars().collect(), exit.chars().collect());
    if a.len() != b.len() {
        return None;
    }
    let mut diffs = a.iter().zip(&b).filter(|(x, y)| x != y);
    let (Some((x, y)), None) = (diffs.next(), diffs.next()) else {
        return None;
    };
    CONFUSABLE.iter().any(|group| group.contains(x) && group.contains(y)).then_some(Match::Fuzzy)
}

/// `plate` and every plate differing from it in one OCR-confusable position:
/// the entry reads an exit read could match (a handful, so lookups stay exact).
pub fn candidates(plate: &str) -> Vec<String> {
    let chars: Vec<char> = plate.chars().collect();
    let mut out = vec![plate.to_owned()];
    for (i, c) in chars.iter().enumerate() {
        for group in CONFUSABLE.iter().filter(|g| g.contains(c)) {
            for alt in group.iter().filter(|a| *a != c) {
                let mut variant = chars.clone();
                variant[i] = *alt;
                out.push(variant.into_iter().collect());
            }
        }
    }
    out
}

/// Why the barrier stays closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deny {
    Blacklisted,
    Full,
    UnknownLane,
    WrongDirection,
    NoSession,
    AlreadyInside {
        uid: String,
    },
    Unpaid {
        due: i64,
    },
    /// Unpaid bills across the city and the platform says hold the car (overDueResult prevent=1).
    Arrears {
        count: Option<i64>,
        amount: i64,
    },
    CardExpired,
    CardNotForLane,
    CardOddEven,
    /// The lane is for month-card holders only.
    MonthlyOnly,
}

impl Deny {
    pub fn code(&self) -> &'static str {
        match self {
            Deny::Blacklisted => "blacklisted",
            Deny::Full => "full",
            Deny::UnknownLane => "unknown_lane",
            Deny::WrongDirection => "wrong_direction",
            Deny::NoSession => "no_session",
            Deny::AlreadyInside { .. } => "already_inside",
            Deny::Unpaid { .. } => "unpaid",
            Deny::Arrears { .. } => "arrears",
            Deny::CardExpired => "card_expired",
            Deny::CardNotForLane => "card_not_for_lane",
            Deny::CardOddEven => "card_odd_even",
            Deny::MonthlyOnly => "monthly_only",
        }
    }

    pub fn zh(&self) -> String {
        match self {
            Deny::Blacklisted => "黑名单车辆，禁止入场".into(),
            Deny::Full => "车位已满".into(),
            Deny::UnknownLane => "未知车道".into(),
            Deny::WrongDirection => "车道方向不符".into(),
            Deny::NoSession => "无入场记录，请人工处理".into(),
            Deny::AlreadyInside { uid } => format!("车辆已在场内（{uid}），请人工处理"),
            Deny::Unpaid { due } => format!("请缴费 {} 元", onepark_domain::money::yuan(*due)),
            Deny::Arrears { count, amount } => format!(
                "该车在全市有欠费{}共 {} 元，请扫码或到岗亭缴清后出场",
                count.map(|n| format!(" {n} 笔")).unwrap_or_default(),
                onepark_domain::money::yuan(*amount)
            ),
            Deny::CardExpired => "月卡不在有效期内".into(),
            Deny::CardNotForLane => "月卡不可使用此车道".into(),
            Deny::CardOddEven => "单双号限行：今日不可入场".into(),
            Deny::MonthlyOnly => "本通道仅限月卡车通行".into(),
        }
    }
}

/// How a month card applies to a car at an entry lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardUse {
    /// Enter as a monthly parker.
    Monthly,
    /// Another plate of the card is inside: this one parks as a temporary car.
    Temporary,
}

/// `now` and the card's window are `yyyy-MM-dd HH:mm:ss` texts (they sort).
pub fn month_card(
    card: &crate::store::MonthCard,
    plate: &str,
    lane: &str,
    now: &str,
    other_plate_inside: bool,
) -> Result<CardUse, Deny> {
    if now < card.start_time.as_str() || now > card.end_time.as_str() {
        return Err(Deny::CardExpired);
    }
    if !card.lanes.is_empty() && !card.lanes.iter().any(|l| l == lane) {
        return Err(Deny::CardNotForLane);
    }
    if card.odd_even {
        let digit = plate.chars().rev().find_map(|c| c.to_digit(10));
        let day = now.get(8..10).and_then(|d| d.parse::<u32>().ok());
        if let (Some(digit), Some(day)) = (digit, day)
            && digit % 2 != day % 2
        {
            return Err(Deny::CardOddEven);
        }
    }
    Ok(if other_plate_inside { CardUse::Temporary } else { CardUse::Monthly })
}

/// Entry: black list first, then (for temporary cars) free open berths.
pub fn entry(blacklisted: bool, whitelisted: bool, temporary: bool, free_berths: i64) -> Result<(), Deny> {
    if blacklisted {
        return Err(Deny::Blacklisted);
    }
    if temporary && !whitelisted && free_berths <= 0 {
        return Err(Deny::Full);
    }
    Ok(())
}

/// Exit: open when what is due has been paid (white-listed cars pay nothing).
pub fn exit(fee: i64, paid: i64, whitelisted: bool) -> Result<(), Deny> {
    if whitelisted || paid >= fee { Ok(()) } else { Err(Deny::Unpaid { due: fee - paid }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_every_fuzzy_match() {
        let all = candidates("鲁B12345");
        assert!(all.contains(&"鲁812345".to_owned()) && all.contains(&"鲁B1234S".to_owned()));
        assert!(all.iter().all(|c| plate_match("鲁B12345", c).is_some()));
    }

    #[test]
    fn fuzzy_plates() {
        assert_eq!(plate_match("鲁B12345", "鲁B12345"), Some(Match::Exact));
        assert_eq!(plate_match("鲁B12345", "鲁812345"), Some(Match::Fuzzy));
        assert_eq!(plate_match("鲁B1234S", "鲁B12345"), Some(Match::Fuzzy));
        assert_eq!(plate_match("鲁B12345", "鲁B12346"), None, "not confusable");
        assert_eq!(plate_match("鲁B12345", "鲁812S45"), None, "two differences");
        assert_eq!(plate_match("鲁B12345", "鲁B123456"), None);
    }

    #[test]
    fn month_cards() {
        let card = crate::store::MonthCard {
            id: "c1".into(),
            owner: "张三".into(),
            plates: vec!["鲁B12345".into(), "鲁B12346".into()],
            start_time: "2026-11-01 00:00:00".into(),
            end_time: "2026-11-30 23:59:59".into(),
            lanes: vec!["1".into()],
            odd_even: true,
        };
        let on = |plate: &str, lane: &str, now: &str, inside: bool| month_card(&card, plate, lane, now, inside);
        assert_eq!(on("鲁B12345", "1", "2026-11-23 08:00:00", false), Ok(CardUse::Monthly));
        assert_eq!(on("鲁B12345", "1", "2026-11-23 08:00:00", true), Ok(CardUse::Temporary));
        assert_eq!(on("鲁B12345", "1", "2026-12-01 08:00:00", false), Err(Deny::CardExpired));
        assert_eq!(on("鲁B12345", "3", "2026-11-23 08:00:00", false), Err(Deny::CardNotForLane));
        assert_eq!(on("鲁B12346", "1", "2026-11-23 08:00:00", false), Err(Deny::CardOddEven), "even plate, odd day");
        assert_eq!(on("鲁B12346", "1", "2026-11-24 08:00:00", false), Ok(CardUse::Monthly));
    }

    #[test]
    fn decisions() {
        assert_eq!(entry(true, true, false, 10), Err(Deny::Blacklisted));
        assert_eq!(entry(false, false, true, 0), Err(Deny::Full));
        assert_eq!(entry(false, false, false, 0), Ok(()), "month cards have their own spaces");
        assert_eq!(entry(false, true, true, 0), Ok(()));
        assert_eq!(exit(500, 0, false), Err(Deny::Unpaid { due: 500 }));
        assert_eq!(exit(500, 500, false), Ok(()));
        assert_eq!(exit(500, 0, true), Ok(()));
        assert_eq!(Deny::Unpaid { due: 1205 }.zh(), "请缴费 12.05 元");
    }
}
