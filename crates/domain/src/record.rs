//! The city's own record model: what a lot reports (entries, their changes,
//! exits, bills, photos, berth counts, its description, its daily check),
//! whatever protocol carried it.
//!
//! Each protocol's link converts its typed messages into these records by
//! hand at its edge; the store takes and returns only these. Codes (plate
//! colour, car type, parking type, bill kinds, photo kind) are the city's
//! dictionary, which is the Qingdao city platform's (`qdpark-city-platform.md`,
//! the dictionaries of §四): a link for another protocol maps its own codes to
//! them.
//!
//! `content` is a record's identity for idempotency: the link's canonical form
//! of what the lot sent (without the fields a retry may refresh). An identical
//! re-upload is a duplicate; the same key with other content is a conflict.

use chrono::{NaiveDate, NaiveDateTime};

/// The protocols lots speak to the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// The Qingdao city platform's interface (sealed HTTP uplinks, MQTT downlinks).
    Qdpark,
    /// A parking cloud's open API (`cloudparkapi`: pid, MD5 sign, bizContent).
    Cloudpark,
    /// Bolink's charging-system SDK wire (停车云: MD5-signed JSON lines over
    /// TCP, or its HTTP mode with a long poll).
    Bolink,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Qdpark, Protocol::Cloudpark, Protocol::Bolink];

    /// The protocol's name in storage, configuration and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Qdpark => "qdpark",
            Protocol::Cloudpark => "cloudpark",
            Protocol::Bolink => "bolink",
        }
    }

    pub fn parse(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lot's registration as a record names it: its protocol and its login
/// there (Qingdao's accessID).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LotRef {
    pub protocol: Protocol,
    pub access_id: String,
}

impl LotRef {
    pub fn new(protocol: Protocol, access_id: impl Into<String>) -> LotRef {
        LotRef { protocol, access_id: access_id.into() }
    }
}

/// A lot's berth counts as a record reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Berths {
    pub total: i64,
    pub open: i64,
    pub free: i64,
}

impl Berths {
    pub fn counts(self) -> [i64; 3] {
        [self.total, self.open, self.free]
    }
}

/// A car entered: one stay of a lot, keyed by (parking code, uid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub parking_code: String,
    pub uid: String,
    /// The lot's id of this entry record.
    pub arrival_id: String,
    pub plate_no: String,
    pub plate_color: i64,
    pub car_type: i64,
    pub parking_type: i64,
    pub entry_num: String,
    pub arrive_time: NaiveDateTime,
    /// When the lot sent it.
    pub upload_time: NaiveDateTime,
    pub berths: Berths,
    /// Whether the plate reads as a plate (an unreadable one is stored, flagged).
    pub plate_valid: bool,
    pub content: String,
}

/// A lot corrected (or deleted) an entry it had reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryChange {
    /// The entry as it is now (its `plate_valid` is not re-judged).
    pub entry: Entry,
    pub deleted: bool,
}

/// A car left: the end of a stay, with what the stay cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    pub parking_code: String,
    pub uid: String,
    pub exit_id: String,
    pub plate_no: String,
    pub arrive_time: NaiveDateTime,
    pub end_time: NaiveDateTime,
    /// Fen: the stay's whole fee and what was still owed at the exit.
    pub charge_fee: i64,
    pub should_pay: i64,
    pub upload_time: NaiveDateTime,
    pub berths: Berths,
    pub plate_valid: bool,
    pub content: String,
}

/// What a driver paid for a stay, keyed by (parking code, bill id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bill {
    pub parking_code: String,
    pub bill_id: String,
    pub uid: String,
    pub plate_no: String,
    /// Fen.
    pub charge_fee: i64,
    pub should_pay: i64,
    pub actual_pay: i64,
    pub bill_time: NaiveDateTime,
    pub deal_time: NaiveDateTime,
    /// How it was paid (the city's code: 1 cash, 2 Alipay, 3 WeChat, 4 the
    /// platform's account, …).
    pub paid_type: i64,
    /// Where it was paid (the city's payment scene code).
    pub pay_type: i64,
    pub bill_way: i64,
    pub upload_time: NaiveDateTime,
    pub content: String,
}

/// A photo's metadata; the JPEG is stored beside it, content-addressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Photo {
    pub parking_code: String,
    pub photo_id: String,
    pub uid: String,
    pub kind: i64,
    pub time: NaiveDateTime,
    /// The lot's file name.
    pub name: String,
    pub upload_time: NaiveDateTime,
    pub content: String,
}

/// A lot's berth counts at a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BerthState {
    pub parking_code: String,
    pub berths: Berths,
    pub at: NaiveDateTime,
}

/// A lot's description: what the city's pages show of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotInfo {
    pub parking_code: String,
    pub name: String,
    pub address: String,
    /// Map position (longitude, latitude) as the lot wrote it.
    pub position: Option<(String, String)>,
    /// The lot's tariff as it describes it to drivers (Qingdao's feeScale), if it says.
    pub tariff: Option<String>,
    /// Everything the lot said, kept as received (canonical, for its operators).
    pub content: String,
}

/// Where a bill was paid: the city's payment scenes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scene {
    /// After the car left (pay-after-leave, arrears of it).
    AfterExit,
    /// In the lot, before going to the exit.
    InLot,
    /// At the exit lane.
    AtGate,
    /// Arrears paid later.
    Arrears,
}

impl Scene {
    pub fn code(self) -> i64 {
        match self {
            Scene::AfterExit => 101,
            Scene::InLot => 102,
            Scene::AtGate => 103,
            Scene::Arrears => 104,
        }
    }
}

/// How a bill was paid: the city's codes the platform writes itself.
pub mod paid_type {
    /// Cash at a booth (also: arrears a lot collected offline).
    pub const CASH: i64 = 1;
    /// The driver's platform account (every charge through the platform).
    pub const PLATFORM_ACCOUNT: i64 = 4;
}

/// The kinds of records a day's check counts and lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Entry,
    Exit,
    Bill,
    Photo,
}

/// One day's record counts, on either side of a daily check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub arrive: i64,
    pub leave: i64,
    pub photo: i64,
    pub pay_num: i64,
    /// Fen.
    pub pay_total: i64,
}

impl std::fmt::Display for DayCounts {
    /// `arrive,leave,photo,payNum,payTotal`, as a day's check is kept.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{},{},{}", self.arrive, self.leave, self.photo, self.pay_num, self.pay_total)
    }
}

/// A lot's count of one of its days, to reconcile with the platform's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayCheck {
    pub parking_code: String,
    pub date: NaiveDate,
    pub counts: DayCounts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_round_trip_by_name() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::parse(p.as_str()), Some(p));
        }
        assert_eq!(Protocol::parse("Bolink"), None, "names are exact");
    }
}
