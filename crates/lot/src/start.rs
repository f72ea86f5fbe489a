//! Start-up: opens the store, assembles the gateway's state and starts its
//! tasks (the outbox sender, the downlink subscriber, the payment follow-up
//! and the periodic jobs).

use std::sync::Arc;
use std::time::Duration;

use onepark_proto::interface::Downlink;
use onepark_serve::clock::Clock;
use tokio::sync::Notify;

use crate::config::Config;
use crate::downlink::Order;
use crate::outbox::{self, OutboxStats, Transport};
use crate::state::{Inner, LotState};
use crate::store::{Store, StoreError};
use crate::subscriber::{Settings, Subscriber};
use crate::uplink::{Client, Identity};

#[derive(Debug, thiserror::Error)]
pub enum LotError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("platform client: {0}")]
    Uplink(#[from] crate::uplink::UplinkError),
    #[error("cloudpark client: {0}")]
    Cloud(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

/// Opens the store and starts the outbox sender and (with `mqtt_url`) the
/// downlink subscriber, on the system clock.
pub async fn start(config: Config) -> Result<LotState, LotError> {
    start_with_clock(config, Clock::system()).await
}

/// [`start`] on `clock`: a test's manual clock moves the gateway's time.
pub async fn start_with_clock(config: Config, clock: Clock) -> Result<LotState, LotError> {
    let mut links = Vec::new();
    if config.platform.is_some() {
        links.push(crate::store::Link::QDPARK);
    }
    if config.cloudpark.is_some() {
        links.push(crate::cloudlink::LINK);
    }
    if config.bolink.is_some() {
        links.push(crate::bolinklink::LINK);
    }
    let store = Store::open(&config.database).await?.speaking(links);
    let wake = Arc::new(Notify::new());
    let outbox = Arc::new(OutboxStats::default());
    crate::jobs::report_parking_info(&store, &config, &clock).await?;
    let concurrency = config.platform.as_ref().map_or(16, |p| p.concurrency);
    // The Qingdao platform: its client, its sender, its downlink subscriber.
    let (uplink, subscriber) = match &config.platform {
        Some(p) => {
            let identity = Identity {
                access_id: p.access_id.clone(),
                key: p.private_key.clone(),
                platform_public: p.platform_public_key.clone(),
                profile: p.profile,
            };
            let uplink = Client::new(&p.url, identity, Duration::from_secs(10))?;
            let sender = outbox::run(
                store.clone(),
                Transport::Qdpark(uplink.clone()),
                config.zone,
                clock.clone(),
                wake.clone(),
                outbox.clone(),
                concurrency,
            );
            tokio::spawn(sender);
            let subscriber = match &p.mqtt_url {
                Some(url) => {
                    let username = match p.node {
                        Some(n) => format!("{}_{n}", p.access_id),
                        None => p.access_id.clone(),
                    };
                    let settings = Settings {
                        broker_url: url.clone(),
                        username,
                        parking_codes: vec![config.parking_code.clone()],
                        password: p.mqtt_password.clone(),
                    };
                    let order = remembered_order(&store).await?;
                    Some(Subscriber::new(settings, uplink.clone()).with_clock(clock.clone()).with_order(order))
                }
                None => {
                    tracing::warn!(
                        "no platform.mqtt_url: lists, fee queries and payment results from the platform are not received"
                    );
                    None
                }
            };
            (Some(uplink), subscriber)
        }
        None => {
            tracing::info!("no [platform]: the lot speaks only its clouds ([cloudpark], [bolink])");
            (None, None)
        }
    };
    // The parking cloud: its own sender over its own rows, and its pull.
    let cloud = match &config.cloudpark {
        Some(link) => {
            let client = crate::cloudlink::Client::new(link).map_err(|e| LotError::Cloud(e.to_string()))?;
            let local =
                ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|l| link.url.starts_with(l));
            if link.url.starts_with("http://") && !local {
                // The cloud's answers are not signed: over plain HTTP anyone on the way could
                // forge a fixed car or a delivery.
                tracing::warn!(url = %link.url, "cloudpark.url is plain http: use https beyond this machine");
            }
            let (cloud_wake, stats) = (Arc::new(Notify::new()), Arc::new(OutboxStats::default()));
            let sender = outbox::run(
                store.clone(),
                Transport::Cloudpark(client.clone()),
                config.zone,
                clock.clone(),
                cloud_wake.clone(),
                stats.clone(),
                concurrency,
            );
            tokio::spawn(sender);
            Some((client, cloud_wake, stats))
        }
        None => None,
    };
    // A Bolink cloud: its connection, its own sender over its own rows.
    let bolink = match &config.bolink {
        Some(link) => {
            let (handle, downlinks) = crate::bolinklink::Handle::start(link);
            let (wake, stats) = (Arc::new(Notify::new()), Arc::new(OutboxStats::default()));
            let sender = outbox::run(
                store.clone(),
                Transport::Bolink(handle.clone(), link.marker.clone()),
                config.zone,
                clock.clone(),
                wake.clone(),
                stats.clone(),
                concurrency,
            );
            tokio::spawn(sender);
            Some((link.clone(), handle, downlinks, wake, stats))
        }
        None => None,
    };
    let downlink = subscriber.as_ref().map(Subscriber::stats);
    let (sessions, http, feed) = (Default::default(), Default::default(), Default::default());
    // A cloud's correction of the free berths only counts on a link that can make one.
    let corrected = config.cloudpark.as_ref().is_some_and(|c| c.mq.is_some()) || config.bolink.is_some();
    let free_offset = match corrected {
        true => store.cloud_setting("freeOffset").await?.and_then(|v| v.parse().ok()).unwrap_or(0),
        false => 0,
    };
    let config = Arc::new(config);
    let state = LotState::new(Inner {
        config,
        store,
        uplink,
        clock,
        wake,
        outbox,
        cloud_outbox: cloud.as_ref().map(|(_, wake, stats)| (wake.clone(), stats.clone())),
        bolink_outbox: bolink.as_ref().map(|(_, _, _, wake, stats)| (wake.clone(), stats.clone())),
        bolink: bolink.as_ref().map(|(_, handle, _, _, _)| handle.clone()),
        downlink,
        sessions,
        http,
        feed,
        controllers: Default::default(),
        cloud_reports: Default::default(),
        free_offset: free_offset.into(),
    });
    if let Some(subscriber) = subscriber {
        let apply = crate::payments::Downlinks { state: state.clone() };
        tokio::spawn(async move {
            if let Err(e) = subscriber.run(apply).await {
                tracing::error!(error = %e, "downlink subscriber stopped");
            }
        });
    }
    if let Some((client, _, _)) = cloud {
        tokio::spawn(crate::cloud::run(state.clone(), client));
    }
    if let Some(link) = state.config().cloudpark.clone().filter(|l| l.mq.is_some()) {
        tokio::spawn(crate::cloudmq::run(state.clone(), link));
    }
    if let Some((link, handle, downlinks, _, _)) = bolink {
        tokio::spawn(crate::bolink::run(state.clone(), link, handle, downlinks));
    }
    tokio::spawn(crate::payments::run(state.clone()));
    tokio::spawn(crate::jobs::periodic(state.clone()));
    tokio::spawn(crate::jobs::nightly(state.clone()));
    Ok(state)
}

/// The downlink ordering state the store remembers (lists applied before a restart).
async fn remembered_order(store: &Store) -> Result<Order, StoreError> {
    let mut order = Order::default();
    for mark in store.order_marks().await? {
        let (Some(interface), Ok(at)) =
            (Downlink::from_name(&mark.interface), onepark_domain::time::parse_time(&mark.at))
        else {
            continue;
        };
        order.restore((interface, mark.parking_code, mark.subject), at, mark.request_id);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::downlink::{Received, Verdict};
    use onepark_proto::interface::Topic;
    use serde_json::Value;

    fn special_car(request_id: i64, at: &str) -> Received {
        let Value::Object(params) = serde_json::json!({ "parkingCode": "1001", "plateNo": "鲁B12345", "plateColor": 1, "carType": 1,
                "operateType": 0, "operate": 0, "operateTime": at, "startTime": "2026-01-01 00:00:00",
                "endTime": "2026-12-31 23:59:59" })
        else {
            unreachable!()
        };
        Received {
            topic: Topic::parse("qdpark/v1/specialCar/234/1001").expect("topic"),
            request_id,
            timestamp: onepark_domain::time::parse_time(at).expect("time"),
            params,
        }
    }

    #[tokio::test]
    async fn the_ordering_rule_survives_a_restart() {
        let dir = onepark_testkit::dirs::TempDir::new("order");
        let file = dir.join("lot.db");
        let store = Store::open(&format!("sqlite://{}", file.display())).await.expect("store");
        crate::payments::apply_list(&store, &special_car(7, "2026-11-23 10:00:00")).await.expect("newer applied");
        // An older message applied out of order (the subscriber would call it stale) must not move the mark back.
        crate::payments::apply_list(&store, &special_car(9, "2026-11-23 09:00:00")).await.expect("stored");
        // "Restart": a fresh subscriber state from the store.
        let order = remembered_order(&store).await.expect("order");
        assert_eq!(order.check(&special_car(8, "2026-11-23 09:30:00")), Verdict::Stale);
        assert_eq!(order.check(&special_car(7, "2026-11-23 10:00:00")), Verdict::Apply, "the same message again");
        assert_eq!(order.check(&special_car(10, "2026-11-23 10:00:01")), Verdict::Apply);
    }
}
