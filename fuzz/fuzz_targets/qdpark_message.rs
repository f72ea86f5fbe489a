//! Every uplink message's decode and validation, with and without the
//! receiver's clock: the first byte picks the message, the rest is its text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onepark_proto::msg::list::ConfirmSpecialCar;
use onepark_proto::msg::payment::{
    AbnormalBill, ApplyPayment, CancelOverDue, ConfirmDeparturePayInfo, ConfirmOverDueResult, ConfirmPayResult,
    DailyBillQuery, DeparturePayQuery, FeeQuery, OverDueQuery, PayResultQuery, UploadFee,
};
use onepark_proto::msg::record::{
    CarIn, CarInModify, CarOut, CheckRecord, DownloadUid, Heartbeat, ParkingInfo, ParkingState, PayRecord, Photo,
};
use onepark_proto::msg::{Clock, Confirm, Message, decode, decode_at};

fn both<T: Message>(text: &str, clock: &Clock) {
    let _ = decode::<T>(text);
    let _ = decode_at::<T>(text, clock);
}

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).and_then(|d| d.and_hms_opt(8, 0, 0)).unwrap_or_default();
    let clock = Clock {
        now,
        future: chrono::Duration::minutes(10),
        past: chrono::Duration::days(30),
        upload_window: Some(chrono::Duration::minutes(10)),
    };
    match which % 22 {
        0 => both::<CarIn>(text, &clock),
        1 => both::<CarInModify>(text, &clock),
        2 => both::<CarOut>(text, &clock),
        3 => both::<ParkingState>(text, &clock),
        4 => both::<Heartbeat>(text, &clock),
        5 => both::<Photo>(text, &clock),
        6 => both::<PayRecord>(text, &clock),
        7 => both::<ParkingInfo>(text, &clock),
        8 => both::<CheckRecord>(text, &clock),
        9 => both::<DownloadUid>(text, &clock),
        10 => both::<ConfirmSpecialCar>(text, &clock),
        11 => both::<ApplyPayment>(text, &clock),
        12 => both::<PayResultQuery>(text, &clock),
        13 => both::<UploadFee>(text, &clock),
        14 => both::<Confirm<FeeQuery>>(text, &clock),
        15 => both::<ConfirmPayResult>(text, &clock),
        16 => both::<ConfirmDeparturePayInfo>(text, &clock),
        17 => both::<ConfirmOverDueResult>(text, &clock),
        18 => both::<DeparturePayQuery>(text, &clock),
        19 => both::<OverDueQuery>(text, &clock),
        20 => both::<AbnormalBill>(text, &clock),
        _ => {
            both::<DailyBillQuery>(text, &clock);
            both::<CancelOverDue>(text, &clock);
        }
    }
});
