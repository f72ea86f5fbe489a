//! The parking cloud's open API (`POST /cloudparkapi/api/{serviceName}`):
//! integrators and lots of this protocol, each a pid with a secret
//! (`store::Principal`), manage fixed cars and in-park cars, ask about
//! arrears, fixed cars, lots' status and QR codes, and lots pull what the
//! cloud put into them. `door` reads, verifies and authorises; `services`
//! turns each message into the city's records (`records` maps the lot
//! reports); `replay` remembers signs, `known` the pids read lately.
//! The wire is `onepark_cloudpark`; docs/cloudpark.md is the reference.

pub mod announce;
mod answer;
pub mod channel;
mod commands;
pub mod door;
pub mod records;
pub mod replay;
mod services;
pub mod waiting;

/// The vendor's path; the service's name follows it.
pub const PATH: &str = "/cloudparkapi/api";
/// Timestamps further than this from the platform's clock are refused.
pub const WINDOW_SECONDS: i64 = 300;
/// The largest body read; the biggest message (a 100-recordNo report) is ~6 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;
