//! The Bolink/停车云 charging-system SDK wire (seeds 002, 003 and the
//! vendor's public pages), sans I/O: a line [`frame`]r (newline-framed JSON,
//! the heartbeat byte 0x11 answered 0x12), the [`sign`] (upper-case hex MD5
//! of the `data` text as received followed by `key=` and the key), the
//! [`envelope`] `{service_name, sign, token, data}` read keeping `data`'s
//! text, tolerant [`fields`] (numbers as strings, yuan to fen exactly, the
//! vendor's spellings), typed [`message`]s, and the cloud side's
//! [`session`] state machine (`handle_input` / `poll_transmit` /
//! `poll_event` / `poll_timeout`, `now` passed in) and its mirror, the
//! charging system's [`client`].
//!
//! **Architecture invariant:** no sockets, no runtime, no clock, no files.

pub mod client;
pub mod codes;
pub mod day_check;
pub mod downlink;
pub mod envelope;
pub mod epay_check;
pub mod fields;
pub mod frame;
pub mod lookup;
pub mod message;
pub mod month_card;
pub mod no_plate;
pub mod no_stop;
pub mod offline;
pub mod picture;
pub mod query;
pub mod refund;
pub mod renewal;
pub mod session;
pub mod sign;
pub mod uplink;

pub use envelope::{Envelope, Reply};

/// The HTTP mode's paths (the vendor's KC/596745): one envelope per upload,
/// the long poll for the cloud's messages; a poll with nothing answers [`NOTHING`].
pub mod http_mode {
    pub const UPLOAD: &str = "/bpd/upload.do";
    pub const DOWNLOAD: &str = "/bpd/download.do";
    /// The body of a poll that found nothing (as the vendor's SDK reads it).
    pub const NOTHING: &str = "500";
}
pub use frame::{Frame, Framer};
pub use session::{Event, Session};
