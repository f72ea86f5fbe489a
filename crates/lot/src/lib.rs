//! The parking-lot side of the protocol: the platform client and the lot
//! gateway.
//!
//! [`uplink`] sends sealed records over HTTP; [`subscriber`] receives the
//! platform's MQTT downlink and confirms it; [`downlink`] holds the I/O-free
//! part of that (opening, ordering, deduplication). [`app`] is the gateway's
//! composition root; the gateway's parts share [`state`].

pub mod app;
pub mod auth;
mod barrier;
pub mod bolink;
pub mod bolinkexit;
pub mod bolinklink;
pub mod bolinkpay;
pub mod booth;
pub mod cloud;
pub mod cloudlink;
pub mod cloudmq;
pub mod cloudreport;
pub mod config;
pub mod controller;
pub mod downlink;
mod fee;
pub mod feed;
mod gateway;
mod http_error;
mod jobs;
pub mod lane;
pub mod leave;
pub mod orders;
pub mod outbox;
mod payments;
pub mod reconcile;
mod remote;
mod router;
mod schema;
mod shift;
mod staff;
mod start;
pub mod state;
pub mod store;
pub mod subscriber;
pub mod uplink;
