//! Barrier decisions, without I/O and without a clock: the lane API gathers
//! what a decision needs (`now` included) and applies what it returns.

use chrono::NaiveDateTime;
use onepark_domain::plate::CONFUSABLE;

use crate::store::{BillState, Settlement};

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
    /// The owner locked the plate (the cloud's 3.11, anti-theft): it may not leave until unlocked.
    Locked,
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
            Deny::Locked => "locked",
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
            Deny::Locked => "该车已被车主锁定（防盗），请联系车主解锁后出场".into(),
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

/// What an exit is decided on, gathered by the lane API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitFacts {
    /// When the car is at the exit.
    pub at: NaiveDateTime,
    /// The tariff's fee for the stay, fen.
    pub fee: i64,
    pub whitelisted: bool,
    /// The platform holds the car for unpaid bills across the city.
    pub arrears: Option<Arrears>,
    /// An earlier attempt at this exit asked the platform for this many fen,
    /// and that bill is still open: the exit stands at that amount.
    pub asked_before: Option<i64>,
    pub prepaid: Prepaid,
    /// Paid at the lane (booth, kiosk), fen.
    pub paid: i64,
}

/// City-wide arrears the platform holds a car for (overDueResult prevent=1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrears {
    pub count: Option<i64>,
    pub amount: i64,
}

/// What the session's paid prepayments (fee quotes paid online) cover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prepaid {
    /// Fen they paid.
    pub covered: i64,
    /// The newest one's end plus the grace period: until then the car leaves free.
    pub grace_until: Option<NaiveDateTime>,
}

/// What is still due at `at` for a stay of `fee`: prepayments taken off,
/// nothing within their grace period.
pub fn due(fee: i64, prepaid: &Prepaid, at: NaiveDateTime) -> i64 {
    if prepaid.grace_until.is_some_and(|until| at <= until) { 0 } else { (fee - prepaid.covered).max(0) }
}

/// What the platform answered when the exit asked it for what is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnlinePay {
    /// Deducted without stopping (applyPayment, or found by getPayResult).
    Paid(Settlement),
    /// The car's signing allows it to leave first and settle afterwards (D-32).
    AfterLeave,
    /// Not paid: to the booth, and why (declined, unknown).
    Booth(String),
    /// Online payment is not used for this car.
    NotUsed,
}

/// How an exit was paid when not (only) at the lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayPath {
    /// Deducted by the platform at the exit.
    NoStop(Settlement),
    /// The car leaves first; an after-leave bill is opened and charged afterwards.
    AfterLeave,
    /// Collected at the booth after an earlier attempt asked the platform for it.
    Booth,
}

impl PayPath {
    /// The lane reply's `paidBy`, and the path an online bill records.
    pub fn code(&self) -> &'static str {
        match self {
            PayPath::NoStop(_) => "no_stop",
            PayPath::AfterLeave => "after_leave",
            PayPath::Booth => "booth",
        }
    }
}

/// An exit's first decision: decided, or the platform must be asked first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStep {
    Decided(ExitPlan),
    /// Ask the platform to take `due` online, then [`exit_answered`].
    AskPlatform {
        due: i64,
    },
}

/// What an exit does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitPlan {
    /// The barrier stays closed.
    Hold {
        deny: Deny,
        /// Why the platform did not take it, shown before the lane's message.
        why: Option<String>,
        /// Remember the exit's bill at this amount: the platform was asked for
        /// it, and a late deduction of it must be found.
        remember_bill: Option<i64>,
    },
    /// The barrier opens.
    Open(Leave),
}

/// An exit that opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leave {
    /// What was due, fen.
    pub due: i64,
    /// None: paid at the lane, or nothing due.
    pub path: Option<PayPath>,
    /// What the bill an earlier attempt left open becomes (never left open:
    /// an open one would be reported unpaid). A no-stop deduction writes the
    /// bill as paid instead.
    pub earlier_bill: Option<BillState>,
}

/// Exit: a city-wide arrears hold first (a paid or free stay does not lift
/// it); then what is due, which the platform is asked to take when the lane
/// did not collect it.
pub fn exit_plan(f: &ExitFacts) -> ExitStep {
    if let Some(Arrears { count, amount }) = f.arrears {
        return ExitStep::Decided(ExitPlan::Hold {
            deny: Deny::Arrears { count, amount },
            why: None,
            remember_bill: None,
        });
    }
    let due = match f.asked_before {
        Some(asked) => asked,
        None if f.whitelisted => 0,
        None => due(f.fee, &f.prepaid, f.at),
    };
    if exit(due, f.paid, false).is_err() {
        return ExitStep::AskPlatform { due };
    }
    // Paid at the lane. A bill the platform was asked for at an earlier attempt was collected at the booth.
    let path = f.asked_before.map(|_| PayPath::Booth);
    ExitStep::Decided(ExitPlan::Open(Leave { due, path, earlier_bill: f.asked_before.map(|_| BillState::Offline) }))
}

/// Exit, once the platform answered for `due` ([`ExitStep::AskPlatform`]).
pub fn exit_answered(f: &ExitFacts, due: i64, answer: OnlinePay) -> ExitPlan {
    let unpaid = Deny::Unpaid { due: due - f.paid };
    match answer {
        OnlinePay::Paid(s) => ExitPlan::Open(Leave { due, path: Some(PayPath::NoStop(s)), earlier_bill: None }),
        // Settled under the after-leave bill: the earlier one is void.
        OnlinePay::AfterLeave => ExitPlan::Open(Leave {
            due,
            path: Some(PayPath::AfterLeave),
            earlier_bill: f.asked_before.map(|_| BillState::Void),
        }),
        OnlinePay::Booth(why) => {
            let remember_bill = f.asked_before.is_none().then_some(due);
            ExitPlan::Hold { deny: unpaid, why: Some(why), remember_bill }
        }
        OnlinePay::NotUsed => ExitPlan::Hold { deny: unpaid, why: None, remember_bill: None },
    }
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

    fn facts(fee: i64, paid: i64) -> ExitFacts {
        ExitFacts {
            at: onepark_domain::time::parse_time("2026-11-23 12:00:00").expect("time"),
            fee,
            whitelisted: false,
            arrears: None,
            asked_before: None,
            prepaid: Prepaid::default(),
            paid,
        }
    }

    fn open(due: i64, path: Option<PayPath>, earlier_bill: Option<BillState>) -> ExitStep {
        ExitStep::Decided(ExitPlan::Open(Leave { due, path, earlier_bill }))
    }

    fn settlement() -> Settlement {
        Settlement {
            actual_pay: 500,
            discount: 0,
            deal_time: "2026-11-23 12:00:01".into(),
            order_code: "SBX1".into(),
            paid_type: 4,
            pay_type: 103,
            path: Some("no_stop".into()),
            request_id: None,
        }
    }

    #[test]
    fn an_exit_paid_at_the_lane_or_owing_nothing_opens() {
        assert_eq!(exit_plan(&facts(500, 500)), open(500, None, None), "paid at the booth");
        assert_eq!(exit_plan(&facts(0, 0)), open(0, None, None), "free minutes");
        let white = ExitFacts { whitelisted: true, ..facts(500, 0) };
        assert_eq!(exit_plan(&white), open(0, None, None), "white-listed cars pay nothing");
    }

    #[test]
    fn city_arrears_hold_a_car_whatever_it_paid() {
        let arrears = Some(Arrears { count: Some(2), amount: 1800 });
        let held = ExitFacts { arrears, whitelisted: true, ..facts(500, 500) };
        let deny = Deny::Arrears { count: Some(2), amount: 1800 };
        assert_eq!(exit_plan(&held), ExitStep::Decided(ExitPlan::Hold { deny, why: None, remember_bill: None }));
    }

    #[test]
    fn prepayments_are_taken_off_and_their_grace_lets_the_car_out() {
        let f = facts(900, 0);
        let until = |minutes: i64| Some(f.at + chrono::Duration::minutes(minutes));
        let covered = ExitFacts { prepaid: Prepaid { covered: 600, grace_until: until(-1) }, ..f.clone() };
        assert_eq!(exit_plan(&covered), ExitStep::AskPlatform { due: 300 }, "only the difference");
        let in_grace = ExitFacts { prepaid: Prepaid { covered: 600, grace_until: until(0) }, ..f.clone() };
        assert_eq!(exit_plan(&in_grace), open(0, None, None));
        assert_eq!(due(900, &Prepaid { covered: 1200, grace_until: None }, f.at), 0, "never below nothing");
    }

    #[test]
    fn an_unpaid_exit_asks_the_platform() {
        assert_eq!(exit_plan(&facts(500, 200)), ExitStep::AskPlatform { due: 500 });
    }

    #[test]
    fn a_bill_asked_for_before_stands_and_is_collected_at_the_booth() {
        // The fee grew since (a new period began); the bill the platform was asked for stands.
        let asked = ExitFacts { asked_before: Some(500), ..facts(800, 500) };
        assert_eq!(exit_plan(&asked), open(500, Some(PayPath::Booth), Some(BillState::Offline)));
        let white = ExitFacts { whitelisted: true, ..asked.clone() };
        assert_eq!(exit_plan(&white), open(500, Some(PayPath::Booth), Some(BillState::Offline)), "it stands");
        let unpaid = ExitFacts { paid: 0, ..asked };
        assert_eq!(exit_plan(&unpaid), ExitStep::AskPlatform { due: 500 });
    }

    #[test]
    fn the_platforms_answer_decides_an_unpaid_exit() {
        let f = facts(500, 200);
        let paid = exit_answered(&f, 500, OnlinePay::Paid(settlement()));
        assert_eq!(
            paid,
            ExitPlan::Open(Leave { due: 500, path: Some(PayPath::NoStop(settlement())), earlier_bill: None })
        );
        let later = exit_answered(&f, 500, OnlinePay::AfterLeave);
        assert_eq!(later, ExitPlan::Open(Leave { due: 500, path: Some(PayPath::AfterLeave), earlier_bill: None }));
        let declined = exit_answered(&f, 500, OnlinePay::Booth("余额不足".into()));
        let unpaid = Deny::Unpaid { due: 300 };
        assert_eq!(
            declined,
            ExitPlan::Hold { deny: unpaid.clone(), why: Some("余额不足".into()), remember_bill: Some(500) },
            "the bill the platform was asked for is remembered"
        );
        let unused = exit_answered(&f, 500, OnlinePay::NotUsed);
        assert_eq!(unused, ExitPlan::Hold { deny: unpaid, why: None, remember_bill: None });
    }

    #[test]
    fn an_earlier_bill_is_void_after_leave_and_remembered_once() {
        let f = ExitFacts { asked_before: Some(500), ..facts(500, 0) };
        let later = exit_answered(&f, 500, OnlinePay::AfterLeave);
        let leave = Leave { due: 500, path: Some(PayPath::AfterLeave), earlier_bill: Some(BillState::Void) };
        assert_eq!(later, ExitPlan::Open(leave));
        let declined = exit_answered(&f, 500, OnlinePay::Booth("余额不足".into()));
        assert!(matches!(declined, ExitPlan::Hold { remember_bill: None, .. }), "already stored: {declined:?}");
        assert_eq!(PayPath::NoStop(settlement()).code(), "no_stop");
        assert_eq!((PayPath::AfterLeave.code(), PayPath::Booth.code()), ("after_leave", "booth"));
    }
}
