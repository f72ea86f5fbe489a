//! Bolink's charging-system SDK wire (停车云, `onepark_bolink`): the platform
//! plays the vendor's cloud. Charging systems connect over TCP (`tcp`,
//! `[bolink] listen`, off by default) or the HTTP mode (`http`:
//! `POST /bpd/upload.do` and the long poll `POST /bpd/download.do`); either
//! way a `onepark_bolink::Session` per login checks the token, the sign,
//! the rate and exact resends, and `connection::drive` runs its events:
//! logins against the lots registered with protocol `bolink` (`park_id`,
//! key), messages through `services` into the city's records (`records`
//! maps them). What the platform sends a lot (a no-plate scan, `scan`) goes
//! through its `mailbox`. docs/bolink.md is the reference.

pub mod announce;
pub mod answers;
pub mod commands;
pub mod connection;
pub mod held;
pub mod http;
pub mod lookup;
pub mod mailbox;
pub mod money;
pub mod publish;
pub mod records;
pub mod scan;
pub mod services;
pub mod tcp;

/// The vendor's rule for a scan's duplicate (seed 3.3 R2): a second scan
/// of one user at one lot within this is not sent.
pub const RESCAN_QUIET_MS: i64 = 10_000;
/// Within this of an entry by scan, another scan shows that entry (R3).
pub const RESCAN_SUCCESS_MS: i64 = 30_000;
/// How long a scan waits for the lot's answer before telling the driver to wait.
pub const SCAN_WAIT: std::time::Duration = std::time::Duration::from_secs(8);
/// How long the HTTP mode's download holds a poll (the vendor: 30 s).
pub const POLL_HOLD: std::time::Duration = std::time::Duration::from_secs(30);

#[cfg(test)]
mod tests {
    #[test]
    fn every_reported_kind_is_an_event_kind_the_city_lists() {
        for spec in onepark_bolink::uplink::UPLINKS {
            assert!(crate::store::EVENT_KINDS.contains(&spec.kind), "{} ({})", spec.kind, spec.service);
        }
    }
}
