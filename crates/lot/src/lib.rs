//! The parking-lot side of the protocol: the platform client.
//!
//! [`uplink`] sends sealed records over HTTP; [`subscriber`] receives the
//! platform's MQTT downlink and confirms it; [`downlink`] holds the I/O-free
//! part of that (opening, ordering, deduplication).

pub mod app;
pub mod auth;
mod barrier;
pub mod booth;
pub mod config;
pub mod downlink;
pub mod lane;
pub mod outbox;
mod payments;
pub mod reconcile;
mod staff;
pub mod store;
pub mod subscriber;
pub mod uplink;
