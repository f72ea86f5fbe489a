//! Cars coming and going: arrivals by time of day and weekday, stays from
//! minutes to overnight, month-card holders' routines, cars without plates,
//! unread and misread plates, payments. Pure: the driver says how far
//! virtual time has moved ([`Sim::advance`]) and gets the events up to then.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::{Datelike, Duration, NaiveDateTime, Timelike, Weekday};
use onepark_domain::plate::NO_PLATE;

use crate::city::{City, LotKind, LotSpec};
use crate::draw::{Seeded, chance, exponential, lognormal, normal, pick, seeded, weighted};
use crate::plates::{self, CarPlate};

/// How the city's drivers and cameras behave.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficParams {
    /// Virtual time the simulation starts at (local wall-clock time).
    pub start: NaiveDateTime,
    /// Demand as a multiple of each lot's `cars_per_day` (1.0 = as drawn).
    pub demand: f64,
    /// Share of temporary cars without a plate (`无车牌`; they take a ticket).
    pub no_plate: f64,
    /// Share of reads a camera fails to read at all (`未识别`).
    pub unread: f64,
    /// Share of exit reads with one character confused (`8` for `B`, …).
    pub misread: f64,
    /// Share of payers who pay inside the lot before driving to the exit.
    pub prepaid: f64,
    /// 付费方式 (spec §7) with their weights.
    pub paid_types: Vec<(i64, f64)>,
    /// Varies the draws of a run over the same city (0: the city's own
    /// stream). A resumed run takes another, so it does not replay the same
    /// plates at the same minutes.
    pub seed: u64,
}

impl TrafficParams {
    pub fn starting(start: NaiveDateTime) -> TrafficParams {
        TrafficParams {
            start,
            demand: 1.0,
            no_plate: 0.004,
            unread: 0.01,
            misread: 0.02,
            prepaid: 0.3,
            // WeChat, Alipay, cash, UnionPay, ETC, citizen card.
            paid_types: vec![(3, 0.48), (2, 0.33), (1, 0.06), (6, 0.04), (10, 0.06), (5, 0.03)],
            seed: 0,
        }
    }
}

/// What a camera reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The plate as read; `无车牌` for a car without one; empty when the
    /// camera could not read it (the lot records `未识别`).
    pub plate_no: String,
    /// 车牌颜色 (spec §7).
    pub plate_color: i64,
    /// 车辆类型 (spec §7).
    pub car_type: i64,
}

/// A payment made for a stay (temporary parkers whose fee is not zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    /// Fen: the fee the lot's tariff asks at the exit time.
    pub amount: i64,
    /// 付费方式 (spec §7).
    pub paid_type: i64,
    /// 付费场景 (spec §7): 102 paid inside the lot, 103 at the exit.
    pub pay_scene: i64,
    pub deal_time: NaiveDateTime,
}

/// One thing that happened at a lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: NaiveDateTime,
    /// Index into [`City::lots`].
    pub lot: usize,
    /// The car (unique in the simulation): the driver keeps what the lot
    /// answered at the entry (its uid) by this to find the stay at the exit.
    pub car: u64,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Entry {
        lane: String,
        read: Read,
        /// The month card it holds, if any (the lot decides by the plate).
        card: Option<String>,
    },
    Exit {
        lane: String,
        read: Read,
        /// The true plate (what staff would type for an unread one); `None` without a plate.
        plate: Option<String>,
        entered: NaiveDateTime,
        payment: Option<Payment>,
    },
}

/// A car inside a lot, as the model knows it.
#[derive(Clone, Debug)]
struct Car {
    lot: usize,
    plate: Option<CarPlate>,
    card: Option<usize>,
    entered: NaiveDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    /// A candidate arrival of a temporary parker (thinned by the hour's rate).
    Arrival {
        lot: usize,
    },
    /// Midnight: the day's month-card routines are planned.
    Day {
        lot: usize,
    },
    CardArrival {
        lot: usize,
        card: usize,
    },
    Departure {
        car: u64,
    },
}

/// Per lot: its own generator (a lot's traffic does not depend on the
/// others'), occupancy and who is inside.
struct LotState {
    rng: Seeded,
    /// The hourly arrival rate is `scale × profile[hour]` cars per hour.
    scale: f64,
    /// The largest rate of any hour, for thinning.
    peak: f64,
    temporary_inside: i64,
    /// Cards with a car inside.
    cards_inside: Vec<bool>,
    next_car: u64,
}

impl LotState {
    /// A car comes in (on `card`, or as a temporary parker): its id.
    fn admit(&mut self, lot: usize, card: Option<usize>) -> u64 {
        let id = ((lot as u64) << 40) | self.next_car;
        self.next_car += 1;
        match card {
            Some(c) => self.cards_inside[c] = true,
            None => self.temporary_inside += 1,
        }
        id
    }
}

/// The running simulation.
pub struct Sim {
    city: City,
    params: TrafficParams,
    now: NaiveDateTime,
    queue: BinaryHeap<Reverse<(NaiveDateTime, u64, Due)>>,
    seq: u64,
    lots: Vec<LotState>,
    cars: HashMap<u64, Car>,
    turned_away: u64,
}

impl Sim {
    pub fn new(city: City, params: TrafficParams) -> Sim {
        let start = params.start;
        let lots = city
            .lots
            .iter()
            .map(|lot| {
                let weekly = (5.0 * lot.kind.profile(false).iter().sum::<f64>()
                    + 2.0 * lot.kind.profile(true).iter().sum::<f64>())
                    / 7.0;
                let scale = params.demand * lot.cars_per_day / weekly;
                let peak = [false, true].iter().flat_map(|w| lot.kind.profile(*w)).fold(0.0_f64, f64::max) * scale;
                LotState {
                    rng: seeded(
                        city.params.seed
                            ^ params.seed.wrapping_mul(0xD1B5_4A32_D192_ED03)
                            ^ (lot.index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    ),
                    scale,
                    peak,
                    temporary_inside: 0,
                    cards_inside: vec![false; lot.cards.len()],
                    next_car: 0,
                }
            })
            .collect();
        let mut sim = Sim {
            city,
            params,
            now: start,
            queue: BinaryHeap::new(),
            seq: 0,
            lots,
            cars: HashMap::new(),
            turned_away: 0,
        };
        for lot in 0..sim.lots.len() {
            sim.next_arrival(lot, start);
            sim.plan_cards(lot, start);
            sim.push(start.date().and_hms_opt(0, 0, 0).unwrap_or(start) + Duration::days(1), Due::Day { lot });
        }
        sim
    }

    pub fn city(&self) -> &City {
        &self.city
    }

    /// The virtual time the simulation has reached.
    pub fn now(&self) -> NaiveDateTime {
        self.now
    }

    /// Temporary parkers and month-card cars inside a lot, as the model counts them.
    pub fn inside(&self, lot: usize) -> (i64, i64) {
        let state = &self.lots[lot];
        (state.temporary_inside, state.cards_inside.iter().filter(|i| **i).count() as i64)
    }

    /// Cars that found their lot full and drove on.
    pub fn turned_away(&self) -> u64 {
        self.turned_away
    }

    /// Every event after the last call up to `until` (inclusive), in time order.
    pub fn advance(&mut self, until: NaiveDateTime) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > until {
                break;
            }
            let Some(Reverse((at, _, due))) = self.queue.pop() else { break };
            self.now = at;
            if let Some(event) = self.handle(at, due) {
                events.push(event);
            }
        }
        self.now = self.now.max(until);
        events
    }

    /// The lot kept the barrier closed at a car's entry: it drives away and
    /// its exit never comes.
    pub fn refused(&mut self, car: u64) {
        if let Some(c) = self.cars.remove(&car) {
            let state = &mut self.lots[c.lot];
            match c.card {
                Some(card) => state.cards_inside[card] = false,
                None => state.temporary_inside -= 1,
            }
        }
    }

    /// A car the model did not see enter: a gateway's open session when a
    /// run resumes. It stays as long as the lot's cars do (a month card's
    /// holder by the card's routine) and leaves no earlier than a minute
    /// from now; its exit reads `plate` (`None`: it left no readable plate,
    /// so the driver must find it by its ticket). Returns its car id.
    pub fn adopt(&mut self, lot: usize, plate: Option<CarPlate>, card: Option<&str>, entered: NaiveDateTime) -> u64 {
        let spec = &self.city.lots[lot];
        let card = card.and_then(|id| spec.cards.iter().position(|c| c.id == id));
        let (median, sigma) = if card.is_some() { spec.kind.card_stay() } else { spec.kind.stay() };
        let state = &mut self.lots[lot];
        let id = state.admit(lot, card);
        let minutes = lognormal(&mut state.rng, median, sigma).clamp(3.0, 3.0 * 24.0 * 60.0);
        let mut leaves = entered + Duration::seconds((minutes * 60.0) as i64);
        if leaves <= self.now {
            // Overdue already: spread them over the next hour and a half.
            leaves = self.now + Duration::seconds(crate::draw::between(&mut state.rng, 60, 90 * 60));
        }
        self.cars.insert(id, Car { lot, plate, card, entered });
        self.push(leaves, Due::Departure { car: id });
        id
    }

    fn push(&mut self, at: NaiveDateTime, due: Due) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, due)));
    }

    fn handle(&mut self, at: NaiveDateTime, due: Due) -> Option<Event> {
        match due {
            Due::Arrival { lot } => {
                self.next_arrival(lot, at);
                let state = &mut self.lots[lot];
                let rate = state.scale * self.city.lots[lot].kind.profile(weekend(at))[at.hour() as usize];
                if !chance(&mut state.rng, rate / state.peak.max(f64::MIN_POSITIVE)) {
                    return None;
                }
                if state.temporary_inside >= self.city.lots[lot].open_berths() {
                    self.turned_away += 1;
                    return None;
                }
                let plate = (!chance(&mut state.rng, self.params.no_plate))
                    .then(|| self.city.params.plates.draw(&mut state.rng));
                Some(self.enter(lot, at, plate, None))
            }
            Due::Day { lot } => {
                self.plan_cards(lot, at);
                self.push(at + Duration::days(1), Due::Day { lot });
                None
            }
            Due::CardArrival { lot, card } => {
                if self.lots[lot].cards_inside[card] {
                    return None;
                }
                let state = &mut self.lots[lot];
                let plate = pick(&mut state.rng, &self.city.lots[lot].cards[card].plates).clone();
                Some(self.enter(lot, at, Some(plate), Some(card)))
            }
            Due::Departure { car } => {
                let c = self.cars.remove(&car)?;
                Some(self.leave(car, c, at))
            }
        }
    }

    /// Schedules the next candidate arrival (thinning: candidates come at the
    /// peak rate, each kept with the probability of the hour's rate).
    fn next_arrival(&mut self, lot: usize, after: NaiveDateTime) {
        let state = &mut self.lots[lot];
        if state.peak <= 0.0 {
            return;
        }
        let minutes = exponential(&mut state.rng, 60.0 / state.peak);
        let at = after + Duration::seconds((minutes * 60.0).round().max(1.0) as i64);
        self.push(at, Due::Arrival { lot });
    }

    /// Plans the month-card holders' arrivals of the day that `at` begins
    /// (only those still ahead of `at`).
    fn plan_cards(&mut self, lot: usize, at: NaiveDateTime) {
        let spec = &self.city.lots[lot];
        let (p, hour, spread) = card_routine(spec.kind, weekend(at));
        let midnight = at.date().and_hms_opt(0, 0, 0).unwrap_or(at);
        let mut arrivals = Vec::new();
        let state = &mut self.lots[lot];
        for card in 0..spec.cards.len() {
            if !chance(&mut state.rng, p) {
                continue;
            }
            let minutes = (hour * 60.0 + spread * normal(&mut state.rng)).clamp(0.0, 24.0 * 60.0 - 1.0);
            let when = midnight + Duration::seconds((minutes * 60.0) as i64);
            if when > at {
                arrivals.push((when, card));
            }
        }
        for (when, card) in arrivals {
            self.push(when, Due::CardArrival { lot, card });
        }
    }

    fn enter(&mut self, lot: usize, at: NaiveDateTime, plate: Option<CarPlate>, card: Option<usize>) -> Event {
        let spec = &self.city.lots[lot];
        let state = &mut self.lots[lot];
        let id = state.admit(lot, card);
        let (median, sigma) = if card.is_some() { spec.kind.card_stay() } else { spec.kind.stay() };
        let minutes = lognormal(&mut state.rng, median, sigma).clamp(3.0, 3.0 * 24.0 * 60.0);
        let leaves = at + Duration::seconds((minutes * 60.0) as i64);
        let read = read(&mut state.rng, plate.as_ref(), self.params.unread, None);
        let lane = pick(&mut state.rng, &spec.entry_lanes).clone();
        let card_id = card.map(|c| spec.cards[c].id.clone());
        self.cars.insert(id, Car { lot, plate, card, entered: at });
        self.push(leaves, Due::Departure { car: id });
        Event { at, lot, car: id, kind: EventKind::Entry { lane, read, card: card_id } }
    }

    fn leave(&mut self, id: u64, car: Car, at: NaiveDateTime) -> Event {
        let spec: &LotSpec = &self.city.lots[car.lot];
        let state = &mut self.lots[car.lot];
        match car.card {
            Some(c) => state.cards_inside[c] = false,
            None => state.temporary_inside -= 1,
        }
        let misread = chance(&mut state.rng, self.params.misread);
        let read = read(&mut state.rng, car.plate.as_ref(), self.params.unread, Some(misread));
        let lane = pick(&mut state.rng, &spec.exit_lanes).clone();
        let car_type = car.plate.as_ref().map_or(1, |p| p.car_type);
        let due = if car.card.is_some() { 0 } else { spec.tariff.fee(car_type, car.entered, at).get() };
        let payment = (due > 0).then(|| {
            let prepaid = chance(&mut state.rng, self.params.prepaid);
            let weights: Vec<f64> = self.params.paid_types.iter().map(|(_, w)| *w).collect();
            let paid_type = self.params.paid_types.get(weighted(&mut state.rng, &weights)).map_or(1, |(c, _)| *c);
            let before = if prepaid {
                Duration::seconds(crate::draw::between(&mut state.rng, 60, 600))
            } else {
                Duration::zero()
            };
            Payment {
                amount: due,
                paid_type,
                pay_scene: if prepaid { 102 } else { 103 },
                deal_time: (at - before).max(car.entered),
            }
        });
        Event {
            at,
            lot: car.lot,
            car: id,
            kind: EventKind::Exit { lane, read, plate: car.plate.map(|p| p.text), entered: car.entered, payment },
        }
    }
}

/// A camera's read of `plate` (`None`: a car without one). At an exit,
/// `misread` asks for one confused character where the plate has one.
fn read(rng: &mut Seeded, plate: Option<&CarPlate>, unread: f64, misread: Option<bool>) -> Read {
    let Some(plate) = plate else {
        return Read { plate_no: NO_PLATE.to_owned(), plate_color: 1, car_type: 1 };
    };
    let plate_no = if chance(rng, unread) {
        String::new()
    } else if misread == Some(true) {
        plates::misread(rng, &plate.text).unwrap_or_else(|| plate.text.clone())
    } else {
        plate.text.clone()
    };
    Read { plate_no, plate_color: plate.color, car_type: plate.car_type }
}

fn weekend(at: NaiveDateTime) -> bool {
    matches!(at.weekday(), Weekday::Sat | Weekday::Sun)
}

/// A month-card holder's day: the chance of coming, and when (hour, spread in minutes).
fn card_routine(kind: LotKind, weekend: bool) -> (f64, f64, f64) {
    match (kind, weekend) {
        (LotKind::Office, false) => (0.88, 8.4, 35.0),
        (LotKind::Office, true) => (0.12, 10.0, 90.0),
        (LotKind::Hospital, false) => (0.85, 7.8, 30.0),
        (LotKind::Hospital, true) => (0.5, 7.8, 30.0),
        (LotKind::Residential, _) => (0.9, 18.6, 80.0),
        (_, _) => (0.5, 12.0, 180.0),
    }
}
