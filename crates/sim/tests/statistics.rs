//! The generated city and traffic follow their parameters (fixed seeds, so
//! these are exact reruns, with tolerances of several standard deviations).

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use onepark_domain::plate::{CONFUSABLE, Plate};
use onepark_sim::plates::{self, PlateMix};
use onepark_sim::{City, CityParams, Event, EventKind, LotKind, Sim, TrafficParams};
use proptest::prelude::*;

fn monday() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 30).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("date")
}

fn week(lots: usize, seed: u64) -> (Sim, Vec<Event>) {
    let city = City::generate(&CityParams { lots, seed, ..CityParams::default() });
    let mut sim = Sim::new(city, TrafficParams::starting(monday()));
    let events = sim.advance(monday() + Duration::days(7));
    (sim, events)
}

fn share(hits: usize, total: usize) -> f64 {
    hits as f64 / total.max(1) as f64
}

#[test]
fn a_seed_names_one_city_and_one_stream_of_events() {
    let (a, ea) = week(5, 42);
    let (b, eb) = week(5, 42);
    assert_eq!(a.city(), b.city());
    assert_eq!(ea, eb);
    let (c, _) = week(5, 43);
    assert_ne!(a.city(), c.city());
    // A lot's traffic is its own: a city with more lots keeps the first lots' events.
    let (_, more) = week(6, 42);
    let first = |events: &[Event]| events.iter().filter(|e| e.lot == 0).cloned().collect::<Vec<_>>();
    assert_eq!(first(&ea), first(&more));
}

#[test]
fn lots_are_drawn_from_realistic_ranges() {
    let city = City::generate(&CityParams { lots: 300, seed: 7, ..CityParams::default() });
    let codes: HashSet<&str> = city.lots.iter().map(|l| l.parking_code.as_str()).collect();
    assert_eq!(codes.len(), 300, "parking codes are unique");
    let names: HashSet<&str> = city.lots.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names.len(), 300, "names are unique");
    for lot in &city.lots {
        assert!((40..=2500).contains(&lot.berths), "{}: {} berths", lot.name, lot.berths);
        assert!(lot.monthly_berths < lot.berths && lot.monthly_berths >= 0);
        assert!((119.7..=120.8).contains(&lot.position.0) && (35.8..=37.0).contains(&lot.position.1), "{lot:?}");
        assert!(!lot.entry_lanes.is_empty() && lot.entry_lanes.len() == lot.exit_lanes.len());
        assert!(lot.tariff.default.validate().is_ok());
        assert_eq!(lot.cards.len() as i64, lot.monthly_berths);
        assert!(lot.name.contains("停车场") && lot.address.starts_with("青岛市"), "{}", lot.name);
    }
    let central = city.lots.iter().filter(|l| ["市南区", "市北区"].contains(&l.district)).count();
    assert!(share(central, 300) > 0.2, "the old city centre has the most lots");
    let kinds: HashSet<LotKind> = city.lots.iter().map(|l| l.kind).collect();
    assert_eq!(kinds.len(), LotKind::ALL.len());
    let residential: Vec<_> = city.lots.iter().filter(|l| l.kind == LotKind::Residential).collect();
    let card_share = residential.iter().map(|l| l.monthly_berths).sum::<i64>() as f64
        / residential.iter().map(|l| l.berths).sum::<i64>() as f64;
    assert!((0.35..=0.65).contains(&card_share), "residential lots are mostly month cards: {card_share}");
}

#[test]
fn plates_follow_the_default_mix_and_all_parse() {
    let city = City::generate(&CityParams { lots: 1, seed: 1, ..CityParams::default() });
    let mix = &city.params.plates;
    let mut rng = rand_seed(11);
    let drawn: Vec<_> = (0..20_000).map(|_| mix.draw(&mut rng)).collect();
    for p in &drawn {
        let parsed = Plate::parse(&p.text).expect("parses");
        assert_eq!(parsed.as_str(), p.text, "canonical as drawn");
        assert!(parsed.colour_consistent(colour(p.color)), "{} colour {}", p.text, p.color);
    }
    let qingdao = share(drawn.iter().filter(|p| plates::is_qingdao(&p.text)).count(), drawn.len());
    let green = share(drawn.iter().filter(|p| new_energy(&p.text)).count(), drawn.len());
    let bu = share(drawn.iter().filter(|p| p.text.starts_with("鲁B")).count(), drawn.len());
    assert!((qingdao - 0.78).abs() < 0.015, "{qingdao}");
    assert!((green - 0.28).abs() < 0.015, "{green}");
    assert!(bu > 0.65, "鲁B dominates: {bu}");
}

fn new_energy(plate: &str) -> bool {
    Plate::parse(plate).is_ok_and(|p| p.kind().is_new_energy())
}

fn rand_seed(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand::SeedableRng::seed_from_u64(seed)
}

fn colour(code: i64) -> onepark_domain::plate::PlateColour {
    use onepark_domain::plate::PlateColour::*;
    [Blue, Yellow, White, Black, Green, YellowGreen][(code - 1) as usize]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_mix_is_followed(qingdao in 0.0..0.9_f64, rest in 0.0..1.0_f64, green in 0.0..1.0_f64, seed in any::<u64>()) {
        let mix = PlateMix { qingdao, shandong: (1.0 - qingdao) * rest, new_energy: green, large: 0.03 };
        let mut rng = rand_seed(seed);
        let drawn: Vec<_> = (0..4000).map(|_| mix.draw(&mut rng)).collect();
        let q = share(drawn.iter().filter(|p| plates::is_qingdao(&p.text)).count(), drawn.len());
        let g = share(drawn.iter().filter(|p| new_energy(&p.text)).count(), drawn.len());
        // 4,000 draws: a standard deviation is at most 0.8 %.
        prop_assert!((q - qingdao).abs() < 0.05, "qingdao {q} vs {qingdao}");
        prop_assert!((g - green).abs() < 0.05, "new energy {g} vs {green}");
        for p in &drawn {
            prop_assert!(Plate::parse(&p.text).is_ok_and(|x| x.as_str() == p.text), "{}", p.text);
        }
    }
}

#[test]
fn misreads_confuse_one_serial_character() {
    let mut rng = rand_seed(5);
    let mix = PlateMix::default();
    let mut made = 0;
    for _ in 0..5000 {
        let plate = mix.draw(&mut rng).text;
        let Some(wrong) = plates::misread(&mut rng, &plate) else { continue };
        made += 1;
        let (a, b): (Vec<char>, Vec<char>) = (plate.chars().collect(), wrong.chars().collect());
        let diffs: Vec<usize> = (0..a.len()).filter(|i| a[*i] != b[*i]).collect();
        assert_eq!(diffs.len(), 1, "{plate} → {wrong}");
        let i = diffs[0];
        assert!(i >= 2, "the serial, not the province or issuing letter: {plate} → {wrong}");
        assert!(CONFUSABLE.iter().any(|g| g.contains(&a[i]) && g.contains(&b[i])), "{plate} → {wrong}");
        assert_eq!(Plate::parse(&wrong).map(|p| p.kind()).ok(), Plate::parse(&plate).map(|p| p.kind()).ok());
    }
    assert!(made > 2500, "most plates have a confusable character: {made}");
}

#[test]
fn a_week_of_traffic_follows_the_parameters() {
    let (sim, events) = week(24, 7);
    let city = sim.city();
    let params = TrafficParams::starting(monday());
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at), "in time order");

    let mut entered: HashMap<u64, &Event> = HashMap::new();
    let mut inside_cards: HashSet<(usize, String)> = HashSet::new();
    let (mut temporary, mut no_plate, mut unread_in) = (0_usize, 0_usize, 0_usize);
    let (mut exits, mut misread, mut unread_out, mut paid, mut prepaid) = (0_usize, 0, 0, 0, 0);
    let mut by_hour = [0_usize; 24];
    let (mut weekday_scenic, mut weekend_scenic) = (0_usize, 0_usize);
    let mut mall_stays = Vec::new();
    for e in &events {
        match &e.kind {
            EventKind::Entry { read, card, lane } => {
                assert!(city.lots[e.lot].entry_lanes.contains(lane));
                entered.insert(e.car, e);
                if let Some(card) = card {
                    assert!(inside_cards.insert((e.lot, card.clone())), "one car of a card inside at a time");
                    let on_card = &city.lots[e.lot].cards.iter().find(|c| &c.id == card).expect("card").plates;
                    assert!(read.plate_no.is_empty() || on_card.iter().any(|p| p.text == read.plate_no));
                    continue;
                }
                temporary += 1;
                no_plate += usize::from(read.plate_no == "无车牌");
                unread_in += usize::from(read.plate_no.is_empty());
                by_hour[e.at.hour() as usize] += 1;
                if city.lots[e.lot].kind == LotKind::Scenic {
                    if e.at.weekday().number_from_monday() >= 6 {
                        weekend_scenic += 1;
                    } else {
                        weekday_scenic += 1;
                    }
                }
            }
            EventKind::Exit { read, plate, entered: at_entry, payment, lane } => {
                assert!(city.lots[e.lot].exit_lanes.contains(lane));
                let entry = entered.remove(&e.car).expect("every exit follows its entry");
                assert_eq!(entry.at, *at_entry);
                assert!(e.at > entry.at);
                if let EventKind::Entry { card: Some(card), .. } = &entry.kind {
                    inside_cards.remove(&(e.lot, card.clone()));
                    assert!(payment.is_none(), "month cards do not pay");
                    continue;
                }
                exits += 1;
                if let Some(plate) = plate {
                    misread += usize::from(!read.plate_no.is_empty() && &read.plate_no != plate);
                    unread_out += usize::from(read.plate_no.is_empty());
                }
                let lot = &city.lots[e.lot];
                let car_type = read.car_type;
                let due = lot.tariff.fee(car_type, entry.at, e.at).get();
                match payment {
                    Some(p) => {
                        paid += 1;
                        prepaid += usize::from(p.pay_scene == 102);
                        assert_eq!(p.amount, due, "the fee the lot will ask");
                        assert!(p.deal_time <= e.at && p.deal_time >= entry.at);
                    }
                    None => assert_eq!(due, 0),
                }
                if lot.kind == LotKind::Mall {
                    mall_stays.push((e.at - entry.at).num_minutes());
                }
            }
        }
    }
    // Demand: what arrived (entered or turned away) is the lots' cars per day, a week long.
    let expected: f64 = city.lots.iter().map(|l| l.cars_per_day).sum::<f64>() * 7.0;
    let arrived = temporary as f64 + sim.turned_away() as f64;
    assert!((arrived / expected - 1.0).abs() < 0.05, "arrived {arrived}, expected {expected}");
    // Shares of the camera's troubles and of payments.
    let tolerance = |p: f64, n: usize| 5.0 * (p * (1.0 - p) / n as f64).sqrt();
    let s = share(no_plate, temporary);
    assert!((s - params.no_plate).abs() < tolerance(params.no_plate, temporary), "no plate {s}");
    let s = share(unread_in, temporary - no_plate);
    assert!((s - params.unread).abs() < tolerance(params.unread, temporary), "unread at entry {s}");
    let s = share(unread_out, exits);
    assert!((s - params.unread).abs() < tolerance(params.unread, exits), "unread at exit {s}");
    let s = share(misread, exits);
    assert!(s > params.misread * 0.5 && s < params.misread * 1.1, "misread {s}");
    let s = share(prepaid, paid);
    assert!((s - params.prepaid).abs() < tolerance(params.prepaid, paid), "prepaid {s}");
    assert!(share(paid, exits) > 0.5, "most stays cost something");
    // Time of day: nights are quiet, the evening peak is busy.
    let night: usize = by_hour[2..5].iter().sum();
    let evening: usize = by_hour[17..20].iter().sum();
    assert!(share(night, temporary) < 0.02 && evening > 5 * night.max(1), "{by_hour:?}");
    // Weekends fill scenic spots (per day: two weekend days against five weekdays).
    if weekday_scenic + weekend_scenic > 100 {
        assert!(weekend_scenic as f64 / 2.0 > weekday_scenic as f64 / 5.0 * 1.5, "{weekday_scenic} {weekend_scenic}");
    }
    // Stays: a mall's median stay is its parameter (log-normal, 110 min).
    if mall_stays.len() > 200 {
        mall_stays.sort_unstable();
        let median = mall_stays[mall_stays.len() / 2] as f64;
        assert!((median / 110.0 - 1.0).abs() < 0.12, "mall median stay {median} min");
    }
    // What is inside at the end is what entered and did not leave.
    let (t, c) = (0..city.lots.len()).map(|l| sim.inside(l)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!((t + c) as usize, entered.len());
    for (l, lot) in city.lots.iter().enumerate() {
        assert!(sim.inside(l).0 <= lot.open_berths(), "never more temporary cars than open berths");
    }
}

#[test]
fn a_refused_car_never_leaves() {
    let city = City::generate(&CityParams { lots: 2, seed: 3, ..CityParams::default() });
    let mut sim = Sim::new(city, TrafficParams::starting(monday() + Duration::hours(9)));
    let first = sim.advance(monday() + Duration::hours(12));
    let refused = first.iter().find(|e| matches!(e.kind, EventKind::Entry { .. })).expect("an entry").car;
    sim.refused(refused);
    let later = sim.advance(monday() + Duration::days(4));
    assert!(later.iter().all(|e| e.car != refused));
}

#[test]
fn lane_photos_are_small_jpegs_that_differ_by_car() {
    use onepark_sim::photo::lane_photo;
    let noon = monday() + Duration::hours(12);
    let a = lane_photo(Some(("鲁B12345", 1)), noon, 1);
    let b = lane_photo(Some(("鲁BD12345", 5)), noon, 2);
    let night = lane_photo(Some(("鲁B12345", 1)), monday() + Duration::hours(2), 1);
    let none = lane_photo(None, noon, 3);
    for jpeg in [&a, &b, &night, &none] {
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) && jpeg.ends_with(&[0xFF, 0xD9]), "a JPEG");
        assert!((2_000..60_000).contains(&jpeg.len()), "small: {} bytes", jpeg.len());
    }
    assert_ne!(a, b);
    assert_ne!(a, night, "night is darker");
    assert_eq!(a, lane_photo(Some(("鲁B12345", 1)), noon, 1), "deterministic");
}

#[test]
fn a_resumed_run_draws_anew_and_lets_adopted_cars_leave_once() {
    let city = City::generate(&CityParams { lots: 2, seed: 7, ..CityParams::default() });
    let start = monday() + Duration::hours(9);
    let first = Sim::new(city.clone(), TrafficParams::starting(start)).advance(start + Duration::hours(3));
    let mut params = TrafficParams::starting(start);
    params.seed = 1;
    let other = Sim::new(city.clone(), params.clone()).advance(start + Duration::hours(3));
    assert_ne!(other, first, "another run seed, other draws");
    let mut resumed = Sim::new(city.clone(), params);
    let card = &city.lots[1].cards[0];
    let plate = card.plates[0].clone();
    let parked = resumed.adopt(0, Some(plate.clone()), None, start - Duration::days(2));
    let holder = resumed.adopt(1, Some(plate.clone()), Some(&card.id), start - Duration::hours(1));
    let unread = resumed.adopt(0, None, None, start - Duration::minutes(5));
    assert_eq!(resumed.inside(0).0, 2);
    assert_eq!(resumed.inside(1).1, 1);
    let events = resumed.advance(start + Duration::days(4));
    let exits = |car: u64| {
        events.iter().filter(|e| e.car == car && matches!(e.kind, EventKind::Exit { .. })).collect::<Vec<_>>()
    };
    let overdue = exits(parked);
    assert_eq!(overdue.len(), 1);
    assert!(overdue[0].at > start && overdue[0].at <= start + Duration::minutes(90), "an overdue car leaves soon");
    let EventKind::Exit { plate: left, entered, payment, .. } = &overdue[0].kind else { unreachable!() };
    assert_eq!((left.as_deref(), *entered), (Some(plate.text.as_str()), start - Duration::days(2)));
    assert!(payment.as_ref().is_some_and(|p| p.amount > 0), "two days are paid for");
    let EventKind::Exit { payment, .. } = &exits(holder)[0].kind else { unreachable!() };
    assert!(payment.is_none(), "a card holder pays nothing");
    let EventKind::Exit { read, .. } = &exits(unread)[0].kind else { unreachable!() };
    assert_eq!(read.plate_no, onepark_domain::plate::NO_PLATE);
}
