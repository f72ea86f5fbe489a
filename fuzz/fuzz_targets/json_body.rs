//! Bodies read "as their OpenAPI documents say" (`onepark_serve::json`),
//! the decoder every JSON API of both sides (lanes, staff, admin) uses.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct LaneRead {
    plate_no: Option<String>,
    plate_color: Option<i64>,
    time: Option<String>,
    paid: Option<i64>,
    photo: Option<String>,
    uid: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    let _ = onepark_serve::json::decode::<LaneRead>(data);
    let _ = onepark_serve::json::decode::<serde_json::Value>(data);
});
