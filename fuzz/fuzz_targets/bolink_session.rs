//! Bolink's TCP wire into the cloud's session state machine: any bytes, in
//! any chunks (a NUL cuts the input into reads), before and after a login
//! the application accepts; every event and transmit drained.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onepark_bolink::session::{Config, Event, Session};

fuzz_target!(|data: &[u8]| {
    let mut session = Session::new(Config::default(), 0);
    let mut now = 0;
    for read in data.split(|b| *b == 0) {
        now += 10;
        session.handle_input(now, read);
        while let Some(event) = session.poll_event() {
            match event {
                Event::Login(_) => session.accept_login("TEST-ONLY-KEY", "token"),
                Event::Message(envelope) => {
                    let _ = envelope.fields();
                }
                Event::Close(_) => {}
            }
        }
        while session.poll_transmit().is_some() {}
        if let Some(at) = session.poll_timeout() {
            session.handle_timeout(at);
        }
    }
    for line in data.split(|b| *b == b'\n') {
        let _ = onepark_bolink::envelope::Envelope::parse(line);
    }
});
