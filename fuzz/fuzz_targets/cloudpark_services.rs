//! The parking cloud's typed messages: a bizContent read as every service's
//! and every MQ command's typed message (each refuses what is not its shape,
//! naming the field, never panics), and an MQ envelope read as every command
//! a lot acts on.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onepark_cloudpark::command::{self, BlackEntry, Gate, GateOrder, ManualLift, PlateLock, Query, Reservation};
use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::mq::{Envelope, ServiceId};
use onepark_cloudpark::service::{
    DelFixcar, DelInCar, EnterNotify, FixcarItem, FixedCar, InCar, LeaveNotify, PageQuery, ParkQuery, ParkinItem,
    PlateQuery, Service, SyncReport,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(f) = Fields::parse(text) {
            let _ = FixedCar::from_fields(&f);
            let _ = DelFixcar::from_fields(&f);
            let _ = InCar::from_fields(&f);
            let _ = DelInCar::from_fields(&f);
            let _ = PlateQuery::from_fields(&f);
            let _ = ParkQuery::from_fields(&f);
            let _ = PageQuery::from_fields(&f);
            let _ = SyncReport::from_fields(&f, "recordNos");
            let _ = SyncReport::from_fields(&f, "syncNos");
            let _ = ParkinItem::from_fields(&f);
            let _ = FixcarItem::from_fields(&f);
            let _ = EnterNotify::from_fields(&f);
            let _ = LeaveNotify::from_fields(&f);
            let _ = PlateLock::from_fields(&f);
            let _ = Reservation::from_fields(&f);
            let _ = BlackEntry::from_fields(&f);
            let _ = ManualLift::from_fields(&f);
        }
        let _ = Service::parse(text);
        let _ = ServiceId::parse(text);
        let _ = command::request_id_of(text);
    }
    if let Ok(m) = Envelope::parse(data) {
        let _ = command::first(&m);
        let _ = command::expires(&m);
        let _ = GateOrder::from_channels(&m, Gate::Raise);
        let _ = GateOrder::from_remote(&m);
        let _ = PlateLock::all(&m);
        let _ = Reservation::all(&m);
        let _ = BlackEntry::all(&m);
        let _ = Query::from_envelope(&m);
        let _ = command::car_status_query(&m);
        let _ = command::park_left(&m);
        for item in &m.data_items {
            let _ = command::entry_record("P1", item);
            let _ = command::exit_record("P1", item);
        }
    }
});
