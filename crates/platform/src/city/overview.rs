//! The city at a glance: every lot's state now and its day so far, the
//! city's occupancy through the day, and what needs an operator's eye.
//! `/api/admin/overview` serves it to integrators; the dashboard renders
//! the same value, so the two cannot disagree.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use chrono::{Duration, Timelike};
use onepark_domain::time::format_time;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{LotPlace, PerLot, StoreError};

/// A lot counts as online when it was heard from within this many minutes
/// (heartbeats come every 10 min, berth states every minute).
pub const ONLINE_MINUTES: i64 = 15;

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// The platform's clock.
    pub now: String,
    /// Today (yyyy-MM-dd): the day the counts are of.
    pub date: String,
    pub city: CityFigures,
    /// Every lot that has reported, by parkingCode.
    pub lots: Vec<LotOverview>,
    /// The city's occupied and open berths through today, per 10 minutes.
    pub occupancy: Vec<OccupancySlot>,
}

#[derive(Clone, Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CityFigures {
    pub lots: i64,
    pub online: i64,
    pub total_berths: i64,
    pub open_berths: i64,
    pub free_berths: i64,
    pub entries_today: i64,
    pub exits_today: i64,
    pub downlinks_overdue: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LotOverview {
    pub parking_code: String,
    pub access_id: String,
    /// From its uploadParkingInfo (absent until it sent one).
    pub name: Option<String>,
    pub address: Option<String>,
    /// AMap (GCJ-02) longitude and latitude from its uploadParkingInfo.
    pub position: Option<[f64; 2]>,
    pub online: bool,
    pub last_seen: String,
    pub total_berths: Option<i64>,
    pub open_berths: Option<i64>,
    pub free_berths: Option<i64>,
    pub entries_today: i64,
    pub exits_today: i64,
    /// 10-minute slots heard today ÷ slots so far (the spec demands ≥ 0.99).
    pub online_rate_today: f64,
    /// Exits today whose entry the platform never had.
    pub exits_without_entry_today: i64,
    /// Downlinks past their confirm deadline, still retried.
    pub downlinks_overdue: i64,
    /// What needs attention: `offline`, `onlineRate`, `exitsWithoutEntry`, `downlinksOverdue`.
    pub warnings: Vec<Warning>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Warning {
    Offline,
    OnlineRate,
    ExitsWithoutEntry,
    DownlinksOverdue,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OccupancySlot {
    /// HH:mm, the slot's start.
    pub at: String,
    /// Each reporting lot's first state in the slot, summed.
    pub occupied: i64,
    pub open_berths: i64,
    pub lots: i64,
    /// Lots heard in the slot (those among them that reported berths are `lots`).
    pub heard: i64,
}

impl Overview {
    /// The overview of these lots only: their rows, the figures summed over
    /// them; the city's occupancy curve goes (it is every lot's).
    pub fn only(mut self, lots: &std::collections::BTreeSet<String>) -> Overview {
        self.lots.retain(|l| lots.contains(&l.parking_code));
        let sum = |f: fn(&LotOverview) -> i64| self.lots.iter().map(f).sum::<i64>();
        self.city = CityFigures {
            lots: self.lots.len() as i64,
            online: self.lots.iter().filter(|l| l.online).count() as i64,
            total_berths: sum(|l| l.total_berths.unwrap_or(0)),
            open_berths: sum(|l| l.open_berths.unwrap_or(0)),
            free_berths: sum(|l| l.free_berths.unwrap_or(0)),
            entries_today: sum(|l| l.entries_today),
            exits_today: sum(|l| l.exits_today),
            downlinks_overdue: sum(|l| l.downlinks_overdue),
        };
        self.occupancy.clear();
        self
    }
}

/// The overview as of `state.now()`.
pub async fn overview(state: &AppState) -> Result<Overview, StoreError> {
    let now = state.now();
    let today = now.date();
    let store = state.store();
    let cutoff = format_time(now - Duration::minutes(ONLINE_MINUTES));
    let statuses = store.lot_statuses().await?;
    let index = |rows: Vec<PerLot>| rows.into_iter().map(|r| (r.parking_code, r.n)).collect::<HashMap<_, _>>();
    let mut entries = HashMap::new();
    let mut exits = HashMap::new();
    let mut orphans = HashMap::new();
    for d in store.day_by_lot(today).await? {
        entries.insert(d.parking_code.clone(), d.entries);
        exits.insert(d.parking_code.clone(), d.exits);
        orphans.insert(d.parking_code, d.orphan_exits);
    }
    let slots = index(store.online_slots_by_lot(today).await?);
    let overdue = index(store.overdue_by_lot(&format_time(now)).await?);
    let infos: HashMap<String, LotPlace> =
        store.parking_infos().await?.into_iter().map(|p| (p.parking_code.clone(), p)).collect();
    let slots_so_far = i64::from(now.hour()) * 6 + i64::from(now.minute()) / 10 + 1;
    let today_text = today.to_string();
    let mut city = CityFigures::default();
    let lots = statuses
        .into_iter()
        .map(|s| {
            let code = s.parking_code.clone();
            let get = |m: &HashMap<String, i64>| m.get(&code).copied().unwrap_or(0);
            let info = infos.get(&code);
            let coordinate = |c: Option<&String>| c.and_then(|t| t.parse::<f64>().ok());
            let position = info
                .and_then(|i| coordinate(i.longitude.as_ref()).zip(coordinate(i.latitude.as_ref())))
                .map(|(x, y)| [x, y]);
            let online = s.last_seen >= cutoff;
            // Over the time since the lot was first heard from, when that was today (a lot added
            // at noon is not "2 % online" at 13:00).
            let first = s.first_seen.as_deref().filter(|f| f.get(..10) == Some(today_text.as_str()));
            let since = first.map_or(0, |f| {
                let n = |r: std::ops::Range<usize>| f.get(r).and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
                n(11..13) * 6 + n(14..16) / 10
            });
            let rate = get(&slots) as f64 / (slots_so_far - since).max(1) as f64;
            let mut warnings = Vec::new();
            if !online {
                warnings.push(Warning::Offline);
            }
            if rate < 0.99 {
                warnings.push(Warning::OnlineRate);
            }
            if get(&orphans) > 0 {
                warnings.push(Warning::ExitsWithoutEntry);
            }
            if get(&overdue) > 0 {
                warnings.push(Warning::DownlinksOverdue);
            }
            city.lots += 1;
            city.online += i64::from(online);
            city.total_berths += s.total_berths.unwrap_or(0);
            city.open_berths += s.open_berths.unwrap_or(0);
            city.free_berths += s.free_berths.unwrap_or(0);
            city.entries_today += get(&entries);
            city.exits_today += get(&exits);
            city.downlinks_overdue += get(&overdue);
            LotOverview {
                name: info.and_then(|i| i.name.clone()),
                address: info.and_then(|i| i.address.clone()),
                position,
                online,
                entries_today: get(&entries),
                exits_today: get(&exits),
                online_rate_today: rate.min(1.0),
                exits_without_entry_today: get(&orphans),
                downlinks_overdue: get(&overdue),
                warnings,
                parking_code: s.parking_code,
                access_id: s.access_id,
                last_seen: s.last_seen,
                total_berths: s.total_berths,
                open_berths: s.open_berths,
                free_berths: s.free_berths,
            }
        })
        .collect();
    let occupancy = store
        .occupancy(today)
        .await?
        .into_iter()
        .map(|s| OccupancySlot {
            at: format!("{}0", s.slot),
            occupied: s.occupied,
            open_berths: s.capacity,
            heard: s.heard,
            lots: s.lots,
        })
        .collect();
    Ok(Overview { now: format_time(now), date: today.to_string(), city, lots, occupancy })
}

/// The city now: every lot's state and day so far, the day's occupancy, warnings.
#[utoipa::path(get, path = "/api/admin/overview", tag = "read", responses((status = 200, body = Overview)))]
pub(crate) async fn handle(
    State(state): State<AppState>,
    axum::extract::Extension(who): axum::extract::Extension<crate::access::Who>,
) -> Result<Json<Overview>, ApiError> {
    let o = overview(&state).await?;
    Ok(Json(match &who.lots {
        Some(lots) => o.only(lots),
        None => o,
    }))
}
