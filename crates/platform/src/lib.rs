//! The city platform: the service every lot reports to.
//!
//! `uplink` is the HTTP pipeline, `store` owns all SQL, `config` reads the
//! TOML file, `app` wires them into a router and a server loop.

pub mod admin;
pub mod admission;
pub mod app;
pub mod broker;
pub mod config;
mod dashboard;
pub mod downlink;
mod driver;
pub mod lists;
pub mod metrics;
mod money;
mod mqtt_auth;
pub mod overview;
pub mod payments;
pub mod photo;
pub mod proof;
pub mod store;
pub mod uplink;
