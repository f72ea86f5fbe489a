//! The lots of a Qingdao-like city, drawn from realistic ranges.

use chrono::NaiveTime;
use onepark_domain::money::Fen;
use onepark_domain::tariff::{Night, Rule, Tariff};

use crate::draw::{Seeded, between, chance, lognormal, pick, seeded, weighted};
use crate::plates::{CarPlate, PlateMix};

/// A district: its name, 行政区划 code (spec §7), centre (longitude,
/// latitude), how far its lots spread (degrees) and its share of the lots.
pub struct District {
    pub name: &'static str,
    pub region_code: &'static str,
    pub centre: (f64, f64),
    pub spread: f64,
    pub weight: f64,
}

/// Qingdao's districts and county-level cities, with the dictionary's codes.
pub const DISTRICTS: [District; 10] = [
    District { name: "市南区", region_code: "370202", centre: (120.383, 36.067), spread: 0.025, weight: 16.0 },
    District { name: "市北区", region_code: "370203", centre: (120.374, 36.092), spread: 0.025, weight: 15.0 },
    District { name: "黄岛区", region_code: "370211", centre: (120.198, 35.960), spread: 0.060, weight: 14.0 },
    District { name: "崂山区", region_code: "370212", centre: (120.468, 36.107), spread: 0.040, weight: 12.0 },
    District { name: "李沧区", region_code: "370213", centre: (120.433, 36.145), spread: 0.030, weight: 10.0 },
    District { name: "城阳区", region_code: "370214", centre: (120.396, 36.307), spread: 0.045, weight: 10.0 },
    District { name: "即墨区", region_code: "370215", centre: (120.447, 36.390), spread: 0.050, weight: 8.0 },
    District { name: "胶州市", region_code: "370281", centre: (120.033, 36.264), spread: 0.045, weight: 7.0 },
    District { name: "平度市", region_code: "370283", centre: (119.960, 36.787), spread: 0.045, weight: 4.0 },
    District { name: "莱西市", region_code: "370285", centre: (120.518, 36.889), spread: 0.040, weight: 4.0 },
];

/// Roads lots are named after.
const ROADS: &[&str] = &[
    "香港中路",
    "山东路",
    "延安三路",
    "辽阳西路",
    "燕儿岛路",
    "银川西路",
    "福州南路",
    "南京路",
    "宁夏路",
    "东海西路",
    "黑龙江中路",
    "重庆中路",
    "长江中路",
    "株洲路",
    "海尔路",
    "台东一路",
    "威海路",
    "李村路",
    "九水路",
    "正阳路",
    "嘉陵江路",
    "泰山路",
    "深圳路",
    "秦岭路",
    "松岭路",
    "金水路",
    "崂山路",
    "黄河路",
];

/// What a lot serves: it decides when cars come, how long they stay and
/// how many hold a month card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LotKind {
    Mall,
    Office,
    Residential,
    Hospital,
    Scenic,
    Transit,
}

impl LotKind {
    pub const ALL: [LotKind; 6] =
        [LotKind::Mall, LotKind::Office, LotKind::Residential, LotKind::Hospital, LotKind::Scenic, LotKind::Transit];

    /// How often each kind occurs in a city.
    const WEIGHTS: [f64; 6] = [0.22, 0.22, 0.26, 0.10, 0.07, 0.13];

    pub fn zh(self) -> &'static str {
        match self {
            LotKind::Mall => "购物中心",
            LotKind::Office => "写字楼",
            LotKind::Residential => "小区",
            LotKind::Hospital => "医院",
            LotKind::Scenic => "景区",
            LotKind::Transit => "交通枢纽",
        }
    }

    /// Relative arrivals per hour of day (0–23), weekday and weekend.
    pub fn profile(self, weekend: bool) -> [f64; 24] {
        use LotKind::*;
        match (self, weekend) {
            (Mall, false) => [
                0.1, 0.05, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 0.6, 1.0, 1.6, 2.0, 2.2, 1.8, 1.6, 1.6, 1.8, 2.2, 2.8, 3.0,
                2.4, 1.4, 0.6, 0.3,
            ],
            (Mall, true) => [
                0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 0.8, 1.6, 2.8, 3.2, 3.2, 3.0, 3.0, 3.0, 3.0, 3.2, 3.4, 3.2,
                2.4, 1.4, 0.7, 0.3,
            ],
            (Office, false) => [
                0.05, 0.0, 0.0, 0.0, 0.0, 0.1, 0.4, 2.5, 5.0, 3.5, 1.2, 0.8, 0.8, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2,
                0.2, 0.1, 0.1, 0.05,
            ],
            (Office, true) => [
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 0.5, 0.6, 0.6, 0.5, 0.4, 0.5, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1,
                0.1, 0.0, 0.0, 0.0,
            ],
            (Residential, false) => [
                0.3, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.5, 0.6, 0.6, 0.6, 0.7, 0.9, 0.8, 0.7, 0.8, 1.2, 2.2, 3.2, 3.0,
                2.2, 1.5, 0.9, 0.5,
            ],
            (Residential, true) => [
                0.4, 0.2, 0.1, 0.05, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.2, 1.3, 1.3, 1.1, 1.1, 1.2, 1.5, 2.0, 2.4, 2.2,
                1.8, 1.3, 0.9, 0.6,
            ],
            (Hospital, false) => [
                0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.6, 2.5, 4.0, 3.8, 3.0, 2.0, 1.0, 1.8, 2.5, 2.0, 1.2, 0.6, 0.4, 0.3,
                0.3, 0.2, 0.1, 0.1,
            ],
            (Hospital, true) => [
                0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 1.2, 2.0, 2.0, 1.6, 1.0, 0.6, 0.8, 1.0, 0.8, 0.6, 0.4, 0.3, 0.2,
                0.2, 0.1, 0.1, 0.1,
            ],
            (Scenic, false) => [
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.4, 1.0, 1.8, 2.0, 1.8, 1.4, 1.4, 1.2, 0.8, 0.5, 0.3, 0.2, 0.1,
                0.1, 0.0, 0.0, 0.0,
            ],
            (Scenic, true) => [
                0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 1.2, 3.0, 4.5, 4.8, 4.0, 3.0, 2.8, 2.2, 1.4, 0.8, 0.5, 0.3, 0.2,
                0.1, 0.0, 0.0, 0.0,
            ],
            (Transit, _) => [
                0.3, 0.2, 0.1, 0.1, 0.2, 0.6, 1.5, 2.2, 2.0, 1.6, 1.4, 1.4, 1.4, 1.4, 1.4, 1.5, 1.7, 2.0, 2.0, 1.7,
                1.4, 1.2, 0.9, 0.5,
            ],
        }
    }

    /// Temporary parkers' stays: median minutes and spread (log-normal σ).
    pub fn stay(self) -> (f64, f64) {
        match self {
            LotKind::Mall => (110.0, 0.6),
            LotKind::Office => (240.0, 0.9),
            LotKind::Residential => (150.0, 1.1),
            LotKind::Hospital => (130.0, 0.7),
            LotKind::Scenic => (170.0, 0.5),
            LotKind::Transit => (45.0, 1.2),
        }
    }

    /// Month-card holders' stays: a working day at an office, a night at home.
    pub fn card_stay(self) -> (f64, f64) {
        match self {
            LotKind::Office | LotKind::Hospital => (540.0, 0.2),
            LotKind::Residential => (780.0, 0.35),
            _ => (300.0, 0.6),
        }
    }

    /// Cars a day per berth (temporary parkers), the lot's turnover.
    fn turnover(self) -> (f64, f64) {
        match self {
            LotKind::Mall => (2.0, 4.0),
            LotKind::Office => (0.8, 1.6),
            LotKind::Residential => (0.4, 1.0),
            LotKind::Hospital => (2.5, 5.0),
            LotKind::Scenic => (1.2, 2.5),
            LotKind::Transit => (3.0, 6.0),
        }
    }

    /// Share of the berths held by month cards.
    fn card_share(self) -> (f64, f64) {
        match self {
            LotKind::Residential => (0.35, 0.65),
            LotKind::Office => (0.25, 0.5),
            LotKind::Hospital => (0.05, 0.15),
            _ => (0.02, 0.1),
        }
    }
}

/// How many lots, and the seed that names the city.
#[derive(Clone, Debug, PartialEq)]
pub struct CityParams {
    pub lots: usize,
    pub seed: u64,
    pub plates: PlateMix,
}

impl Default for CityParams {
    fn default() -> Self {
        CityParams { lots: 8, seed: 2026, plates: PlateMix::default() }
    }
}

/// A month card: its id and the plates it opens for (one inside at a time).
#[derive(Clone, Debug, PartialEq)]
pub struct Card {
    pub id: String,
    pub owner: String,
    pub plates: Vec<CarPlate>,
}

/// One lot of the city, as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct LotSpec {
    pub index: usize,
    /// The region code and a number: unique in the city.
    pub parking_code: String,
    pub name: String,
    pub address: String,
    pub district: &'static str,
    pub region_code: &'static str,
    pub kind: LotKind,
    /// Longitude, latitude (WGS-84-like degrees; a schematic map's coordinates).
    pub position: (f64, f64),
    pub berths: i64,
    /// Berths for month-card holders (the rest are open to temporary parkers).
    pub monthly_berths: i64,
    pub entry_lanes: Vec<String>,
    pub exit_lanes: Vec<String>,
    pub tariff: Tariff,
    /// What the tariff says at the gate (uploadParkingInfo's feeScale).
    pub fee_scale: String,
    /// Temporary parkers a day, on average over a week.
    pub cars_per_day: f64,
    pub cards: Vec<Card>,
}

impl LotSpec {
    /// Berths open to temporary parkers.
    pub fn open_berths(&self) -> i64 {
        self.berths - self.monthly_berths
    }
}

/// The city: its lots in index order.
#[derive(Clone, Debug, PartialEq)]
pub struct City {
    pub params: CityParams,
    pub lots: Vec<LotSpec>,
}

impl City {
    /// Draws the city named by `params` (the same parameters give the same city).
    pub fn generate(params: &CityParams) -> City {
        let mut rng = seeded(params.seed);
        let mut names = std::collections::HashSet::new();
        let lots = (0..params.lots)
            .map(|index| {
                let mut lot = lot(&mut rng, index, &params.plates);
                // Operators tell lots apart by name: a second 正阳路写字楼停车场 carries its district, a third a number.
                if !names.insert(lot.name.clone()) {
                    lot.name = format!("{}{}", lot.district, lot.name);
                    let base = lot.name.clone();
                    let mut n = 2;
                    while !names.insert(lot.name.clone()) {
                        lot.name = format!("{base}{n}号");
                        n += 1;
                    }
                }
                lot
            })
            .collect();
        City { params: params.clone(), lots }
    }
}

fn lot(rng: &mut Seeded, index: usize, plates: &PlateMix) -> LotSpec {
    let district = &DISTRICTS[weighted(rng, &DISTRICTS.map(|d| d.weight))];
    let kind = LotKind::ALL[weighted(rng, &LotKind::WEIGHTS)];
    let road = *pick(rng, ROADS);
    let number = between(rng, 1, 399);
    let name = match kind {
        LotKind::Residential => format!("{road}{}号院小区停车场", number % 60 + 1),
        LotKind::Scenic => format!("{}{road}景区停车场", district.name.trim_end_matches(['区', '市'])),
        _ => format!("{road}{}停车场", kind.zh()),
    };
    let position = (
        district.centre.0 + district.spread * crate::draw::normal(rng).clamp(-2.5, 2.5),
        district.centre.1 + district.spread * 0.8 * crate::draw::normal(rng).clamp(-2.5, 2.5),
    );
    let berths = lognormal(rng, 260.0, 0.7).clamp(40.0, 2500.0).round() as i64;
    let (lo, hi) = kind.card_share();
    let share = lo + (hi - lo) * rand::Rng::random::<f64>(rng);
    let monthly_berths = ((berths as f64) * share).round() as i64;
    let lanes = match berths {
        0..=150 => 1,
        151..=600 => 2,
        601..=1500 => 3,
        _ => 4,
    };
    let entry_lanes = (1..=lanes).map(|i| format!("E{i}")).collect();
    let exit_lanes = (1..=lanes).map(|i| format!("X{i}")).collect();
    let (tariff, fee_scale) = tariff(rng, kind, district.region_code);
    let (lo, hi) = kind.turnover();
    let turnover = lo + (hi - lo) * rand::Rng::random::<f64>(rng);
    let cars_per_day = turnover * (berths - monthly_berths).max(1) as f64;
    let parking_code = format!("{}{:04}", district.region_code, index + 1);
    // About one card per month berth; a few hold two plates (a family's two cars).
    let cards = (0..monthly_berths)
        .map(|i| {
            let n = if chance(rng, 0.15) { 2 } else { 1 };
            Card {
                id: format!("MC{:04}", i + 1),
                owner: format!("{}{}", pick(rng, SURNAMES), pick(rng, &["先生", "女士"])),
                plates: (0..n).map(|_| plates.draw(rng)).collect(),
            }
        })
        .collect();
    LotSpec {
        index,
        address: format!("青岛市{}{road}{number}号", district.name),
        parking_code,
        name,
        district: district.name,
        region_code: district.region_code,
        kind,
        position,
        berths,
        monthly_berths,
        entry_lanes,
        exit_lanes,
        tariff,
        fee_scale,
        cars_per_day,
        cards,
    }
}

const SURNAMES: &[&str] =
    &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "于", "高", "林", "郭"];

/// A posted tariff: the city centre costs more, hospitals and residential
/// lots less; some lots have a cheaper night.
fn tariff(rng: &mut Seeded, kind: LotKind, region: &str) -> (Tariff, String) {
    let central = matches!(region, "370202" | "370203" | "370212");
    let hour: i64 = if central { between(rng, 5, 10) } else { between(rng, 2, 6) } * 100;
    let hour = if matches!(kind, LotKind::Hospital | LotKind::Residential) { (hour / 2).max(100) } else { hour };
    let free = *pick(rng, &[15_u32, 15, 30, 30, 60]);
    let first = chance(rng, 0.4).then(|| (60_u32, hour + 100 * between(rng, 0, 2)));
    let cap = hour * between(rng, 4, 8);
    let night = chance(rng, 0.5).then(|| Night {
        start: NaiveTime::from_hms_opt(20, 0, 0).unwrap_or_default(),
        end: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
        price: fen(100),
    });
    let yuan = |f: i64| if f % 100 == 0 { format!("{}", f / 100) } else { format!("{:.1}", f as f64 / 100.0) };
    let mut scale = format!("{free}分钟内免费。");
    if let Some((_, price)) = first {
        scale.push_str(&format!("首小时{}元，", yuan(price)));
    }
    scale.push_str(&format!("每小时{}元", yuan(hour)));
    if night.is_some() {
        scale.push_str("，20:00—8:00每小时1元");
    }
    scale.push_str(&format!("，24小时内最高{}元。", yuan(cap)));
    let rule = Rule {
        free_minutes: free,
        free_deducted: false,
        first_period: first.map(|(m, p)| (m, fen(p))),
        period_minutes: 60,
        day_price: fen(hour),
        night,
        cycle_cap: Some(fen(cap)),
    };
    (Tariff { default: rule, by_car_type: Vec::new() }, scale)
}

fn fen(amount: i64) -> Fen {
    Fen::new(amount).unwrap_or(Fen::ZERO)
}
