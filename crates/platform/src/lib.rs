//! The city platform: the service every lot reports to.
//!
//! `link` holds each protocol's front door, `city` the logic every protocol
//! shares, `http` the admin API, dashboard and driver pages, `store` all SQL;
//! `state` is the shared state they take parts of, and `app` (the
//! composition root) wires them into a router and a server loop.

pub mod access;
pub mod app;
pub mod city;
pub mod config;
pub mod error;
pub mod http;
pub mod known;
pub mod link;
pub mod metrics;
pub mod node;
pub mod photo;
pub mod rate;
pub mod secret;
pub mod state;
pub mod store;

// Paths integrators' tests and the binary use.
pub use city::{lists, overview, payments};
