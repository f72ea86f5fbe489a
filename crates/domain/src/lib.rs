//! Parking domain for onepark: plates, money and local time as plain Rust.
//!
//! **Architecture invariant:** this crate knows nothing of HTTP, MQTT, SQL or
//! serde wire names. Protocol crates convert their wire twins into these types
//! by hand, so a wire rename never changes the domain and vice versa.

pub mod money;
pub mod plate;
pub mod record;
pub mod tariff;
pub mod time;
