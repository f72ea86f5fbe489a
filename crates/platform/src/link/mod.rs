//! The platform's front doors: one module per protocol lots speak, each
//! mapping its wire messages to the city's records (`onepark_domain::record`)
//! and the city's announcements (`crate::city::announce`) to its wire.
//!
//! Adding a protocol: docs/protocols.md.

use std::collections::HashMap;
use std::sync::Arc;

use onepark_domain::record::Protocol;
use onepark_serve::clock::Clock;

use crate::city::announce::Announcer;
use crate::config::Config;

pub mod bolink;
pub mod cloudpark;
pub mod qdpark;

/// Every link's side of the announcement seam, by the protocol it speaks.
pub fn announcers(config: &Config, clock: &Clock) -> HashMap<Protocol, Arc<dyn Announcer>> {
    let qdpark = qdpark::announce::Qdpark {
        key: config.private_key.clone().map(Arc::new),
        retry: config.downlink_retry,
        clock: clock.clone(),
    };
    let cloudpark = cloudpark::announce::Cloudpark {
        topics: config.cloud_topics.clone(),
        retry: config.downlink_retry,
        clock: clock.clone(),
    };
    let bolink = bolink::announce::Bolink { retry: config.downlink_retry, clock: clock.clone(), zone: config.zone };
    HashMap::from([
        (Protocol::Qdpark, Arc::new(qdpark) as Arc<dyn Announcer>),
        (Protocol::Cloudpark, Arc::new(cloudpark) as Arc<dyn Announcer>),
        (Protocol::Bolink, Arc::new(bolink) as Arc<dyn Announcer>),
    ])
}
