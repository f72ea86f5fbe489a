//! A Qingdao uplink's form (query and body, split at the first NUL) and the
//! photo in its `file` field: parsed or refused, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (query, body) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    if let Ok(form) = onepark_proto::form::UplinkForm::parse(query, body) {
        if let Some(file) = &form.file {
            let _ = onepark_proto::msg::record::decode_photo_file(file);
        }
        let _ = onepark_proto::interface::AccessId::parse(&form.access_id);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = onepark_proto::form::UplinkForm::parse_loose(text);
        let _ = onepark_proto::msg::record::decode_photo_file(text);
    }
});
