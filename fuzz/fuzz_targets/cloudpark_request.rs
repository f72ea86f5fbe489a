//! The parking cloud's wire: an open-API request body, its bizContent, an
//! MQ envelope and an answer; parsed or refused with a reason, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = onepark_cloudpark::envelope::Request::parse(data) {
        let _ = request.verify("TEST-ONLY-SECRET");
        let _ = request.check_time(1_764_547_200, 300);
        let _ = onepark_cloudpark::fields::Fields::parse(&request.biz_content);
    }
    let _ = onepark_cloudpark::mq::Envelope::parse(data);
    let _ = onepark_cloudpark::code::Answer::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = onepark_cloudpark::fields::Fields::parse(text);
    }
});
