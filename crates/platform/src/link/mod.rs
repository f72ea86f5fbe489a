//! The platform's front doors: one module per protocol lots speak, each
//! mapping its wire messages to the city's records (`onepark_domain::record`)
//! and the city's announcements (`crate::city::announce`) to its wire.
//!
//! Adding a protocol: docs/protocols.md.

pub mod qdpark;
