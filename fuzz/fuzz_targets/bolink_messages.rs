//! Bolink's typed messages: a line parsed as an envelope, then read as every
//! message and answer either side reads, whatever its `service_name` says (a
//! reader refuses what is not its shape, naming the field; it never panics),
//! money included (yuan read from the digits as sent); and the charging
//! system's side of the wire (`client::Client`) fed the same bytes as the
//! cloud's replies and commands.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onepark_bolink::{
    client, day_check, downlink, envelope::Envelope, epay_check, lookup, message, month_card, no_plate, no_stop,
    offline, picture, query, refund, renewal, uplink,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Envelope::parse(data) {
        let f = e.fields();
        let _ = message::Login::read(&e);
        let _ = message::InPark::read(&e);
        let _ = message::OutPark::read(&e);
        let _ = day_check::Request::read(&e);
        let _ = lookup::Lookup::read(&e);
        let _ = month_card::Query::read(&e);
        let _ = month_card::read_member(&e);
        let _ = no_plate::Answer::read(&e);
        let _ = picture::Picture::read(&e);
        let _ = query::OrderQuery::read(&e);
        for spec in uplink::UPLINKS {
            let _ = uplink::read(spec, &e);
        }
        let _ = no_stop::Balance::read(&f);
        let _ = no_stop::Deducted::read(&f);
        let _ = no_stop::is_result_answer(&f);
        let _ = offline::Offline::read(&f);
        let _ = refund::Refund::read(&f);
        let _ = renewal::PriceQuery::read(&f);
        let _ = renewal::PriceAnswer::read(&f);
        let _ = renewal::Paid::read(&f);
        let _ = renewal::Record::read(&f);
        let _ = epay_check::Request::read(&e.data, &f);
        // What the cloud reads from the charging system's replies.
        let _ = day_check::Answer::read(&e.data);
        let _ = epay_check::Answer::read(&e.data);
        let _ = month_card::Card::read(&e.data);
        let _ = month_card::Page::read(&e.data);
        let _ = no_plate::Request::read(&e.data);
        let _ = downlink::find(&e.service_name);
    }
    let identity = client::Identity { park_id: "P1".into(), local_id: None, key: "TEST-ONLY-KEY".into() };
    let mut client = client::Client::new(identity, 0, 30_000);
    for read in data.split(|b| *b == 0) {
        client.handle_input(read);
        while client.poll_outcome().is_some() {}
        while client.poll_transmit().is_some() {}
    }
});
