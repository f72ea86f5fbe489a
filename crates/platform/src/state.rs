//! The platform's shared state: what every surface takes its part of (the
//! store, the clock, the lots, the limits, the payment channel, the
//! publisher's wake-up). A leaf: it knows the types it holds, never the
//! modules that use it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDateTime;
use onepark_domain::time::Zone;
use onepark_proto::PrivateKey;
use onepark_serve::clock::Clock;

use crate::city::announce::{AnnounceError, Announcement, Announcer, Wake};
use crate::city::channel::Payments;
use crate::config::{Config, Limits, LotAccess};
use crate::http::proof::Proofs;
use crate::http::session::Guard;
use crate::link::qdpark::admission::{ProbeLimiter, Refusals, Replays};
use crate::link::qdpark::publisher::Internal;
use crate::metrics::Metrics;
use crate::rate::Rate;
use crate::store::{Downlink, Store, StoreError};
use onepark_domain::record::Protocol;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    zone: Zone,
    private_key: Option<Arc<PrivateKey>>,
    lots: HashMap<String, Arc<LotAccess>>,
    photo_dir: PathBuf,
    metrics: Metrics,
    probes: ProbeLimiter,
    replays: Replays,
    photo_rate: Rate,
    refusals: Refusals,
    limits: Limits,
    admin_token: Option<String>,
    metrics_token: Option<String>,
    /// uploadPhoto's files between write and commit, see `uplink::photo`.
    photos_in_flight: crate::photo::InFlight,
    photos_durable: crate::photo::Durability,
    wake: Wake,
    downlink_retry: chrono::Duration,
    /// The platform's own login on an external broker (from `mqtt_url`).
    mqtt_publisher: Option<Internal>,
    payments: Payments,
    /// The driver pages' plate proofs and receipt codes.
    proofs: Proofs,
    /// Fee queries per client: each one costs a downlink, a lot's upload and a row.
    fee_rate: Rate,
    /// Receipt-code guesses per client and per plate.
    verify_rates: (Rate, Rate),
    /// No-plate scans per client and per lane (a lane holds one car at a time).
    scan_rates: (Rate, Rate),
    /// The dashboard's sessions and login throttle.
    dashboard: Guard,
    /// The platform's one clock (a test may move it).
    clock: Clock,
    /// Each link's side of the announcement seam.
    announcers: HashMap<Protocol, Arc<dyn Announcer>>,
    /// The cloud API's (pid, sign) memory.
    cloud_replays: crate::link::cloudpark::replay::Replays,
    /// The cloud API's pids read lately.
    cloud_known: crate::known::Known<crate::store::Principal>,
    /// Qingdao lots registered in the database, read lately.
    lots_known: crate::known::Known<Arc<LotAccess>>,
    /// How drivers reach the platform (QR codes).
    public_url: String,
    /// The cloud's MQ topics.
    cloud_topics: onepark_cloudpark::channel::Topics,
    /// Callers waiting for a lot's answer to a cloud command.
    cloud_answered: crate::link::cloudpark::waiting::Waiting,
    /// Bolink lots' charging systems online now, and what waits for them.
    bolink: crate::link::bolink::mailbox::Mailboxes,
    /// Bolink's HTTP-mode logins.
    bolink_tokens: crate::link::bolink::held::Tokens,
    /// RSA opens and password hashes, on one thread per core.
    cpu: onepark_serve::cpu::Pool,
    /// This node's name among those sharing the database (`crate::node`).
    node: String,
}

/// What the driver pages' proofs are signed with: the platform's private key
/// (the same on every node and after a restart), else a random key (proofs
/// then last until the process stops).
fn proof_secret(config: &Config) -> Vec<u8> {
    match &config.private_key {
        Some(key) => key.to_base64_der().into_bytes(),
        None => {
            let mut bytes = vec![0u8; 32];
            let _ = openssl::rand::rand_bytes(&mut bytes);
            bytes
        }
    }
}

/// Handlers that only read and write records take the store alone.
impl axum::extract::FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.inner.store.clone()
    }
}

impl AppState {
    pub fn new(config: &Config, store: Store) -> AppState {
        AppState::with_clock(config, store, Clock::system())
    }

    /// A platform whose time is `clock`'s: tests start it at a chosen
    /// instant and move time to see retries, expiries and recoveries.
    pub fn with_clock(config: &Config, store: Store, clock: Clock) -> AppState {
        let lots = config.lots.iter().map(|l| (l.access_id.clone(), Arc::new(l.clone()))).collect();
        AppState {
            inner: Arc::new(Inner {
                store,
                zone: config.zone,
                private_key: config.private_key.clone().map(Arc::new),
                lots,
                photo_dir: config.photo_dir.clone(),
                metrics: Metrics::default(),
                // Honest lots almost never send a signed request that does not
                // decrypt; ten a minute is a probe or a broken key.
                probes: ProbeLimiter::new(10, std::time::Duration::from_secs(60)),
                // A replay older than the window is refused by its uploadTime;
                // without a window, remember signatures for ten minutes.
                replays: Replays::new(
                    config
                        .limits
                        .upload_time_window
                        .and_then(|w| w.to_std().ok())
                        .unwrap_or(std::time::Duration::from_secs(600)),
                    config.limits.replay_cache,
                ),
                photo_rate: Rate::new(config.limits.photos_per_minute),
                refusals: Refusals::default(),
                limits: config.limits.clone(),
                admin_token: config.admin_token.clone(),
                metrics_token: config.metrics_token.clone(),
                photos_in_flight: Default::default(),
                photos_durable: crate::photo::Durability::new(config.photo_dir.clone()),
                cpu: onepark_serve::cpu::Pool::new("onepark-cpu", 0),
                wake: Default::default(),
                downlink_retry: config.downlink_retry,
                mqtt_publisher: config.mqtt_url.as_deref().and_then(crate::link::qdpark::publisher::url_login),
                payments: Payments::new(&config.payments, config.zone),
                proofs: Proofs::new(&proof_secret(config)),
                // Keyed by client addresses and plates anyone can make up: bounded.
                fee_rate: Rate::bounded(config.limits.fee_queries_per_minute, 100_000),
                verify_rates: (Rate::bounded(10, 100_000), Rate::bounded(30, 100_000)),
                scan_rates: (Rate::bounded(10, 100_000), Rate::bounded(20, 100_000)),
                dashboard: Guard::new(&config.dashboard),
                announcers: crate::link::announcers(config, &clock),
                // A timestamp is good for ±window: remember a sign for twice that.
                cloud_replays: crate::link::cloudpark::replay::Replays::new(
                    std::time::Duration::from_secs(2 * crate::link::cloudpark::WINDOW_SECONDS.unsigned_abs()),
                    config.limits.replay_cache,
                ),
                cloud_known: Default::default(),
                lots_known: Default::default(),
                public_url: config.public_url.clone(),
                cloud_topics: config.cloud_topics.clone(),
                cloud_answered: Default::default(),
                bolink: Default::default(),
                bolink_tokens: crate::link::bolink::held::Tokens::new(config.bolink.session()),
                clock,
                node: config.node_name.clone(),
            }),
        }
    }

    pub fn cloud_replays(&self) -> &crate::link::cloudpark::replay::Replays {
        &self.inner.cloud_replays
    }

    /// This node's name among those sharing the database.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    pub fn cloud_topics(&self) -> &onepark_cloudpark::channel::Topics {
        &self.inner.cloud_topics
    }

    pub fn cloud_answered(&self) -> &crate::link::cloudpark::waiting::Waiting {
        &self.inner.cloud_answered
    }

    pub fn bolink(&self) -> &crate::link::bolink::mailbox::Mailboxes {
        &self.inner.bolink
    }

    pub fn bolink_tokens(&self) -> &crate::link::bolink::held::Tokens {
        &self.inner.bolink_tokens
    }

    /// The configured zone (wire times in Unix seconds are read in it).
    pub fn zone(&self) -> Zone {
        self.inner.zone
    }

    pub fn cloud_known(&self) -> &crate::known::Known<crate::store::Principal> {
        &self.inner.cloud_known
    }

    /// How drivers reach the platform, without a trailing `/`.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    pub fn dashboard(&self) -> &Guard {
        &self.inner.dashboard
    }

    pub fn payments(&self) -> &Payments {
        &self.inner.payments
    }

    pub fn proofs(&self) -> &Proofs {
        &self.inner.proofs
    }

    pub fn fee_rate(&self) -> &Rate {
        &self.inner.fee_rate
    }

    /// No-plate scans: (per client, per lane).
    pub fn scan_rates(&self) -> &(Rate, Rate) {
        &self.inner.scan_rates
    }

    /// Receipt-code guesses: (per client, per plate).
    pub fn verify_rates(&self) -> &(Rate, Rate) {
        &self.inner.verify_rates
    }

    /// The lots of the config file.
    pub fn configured_lots(&self) -> Vec<Arc<LotAccess>> {
        self.inner.lots.values().cloned().collect()
    }

    /// The configured lot holding `parking_code` (registered lots: `payments::lot_of`).
    pub fn lot_of_code(&self, parking_code: &str) -> Option<Arc<LotAccess>> {
        self.inner.lots.values().find(|l| l.parking_codes.iter().any(|c| c == parking_code)).cloned()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The threads CPU-bound work runs on (`onepark_serve::cpu`).
    pub fn cpu(&self) -> &onepark_serve::cpu::Pool {
        &self.inner.cpu
    }

    pub fn private_key(&self) -> Option<Arc<PrivateKey>> {
        self.inner.private_key.clone()
    }

    pub fn metrics_token(&self) -> Option<&str> {
        self.inner.metrics_token.as_deref()
    }

    pub fn admin_token(&self) -> Option<&str> {
        self.inner.admin_token.as_deref()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn probes(&self) -> &ProbeLimiter {
        &self.inner.probes
    }

    pub fn replays(&self) -> &Replays {
        &self.inner.replays
    }

    pub fn photo_rate(&self) -> &Rate {
        &self.inner.photo_rate
    }

    pub fn refusals(&self) -> &Refusals {
        &self.inner.refusals
    }

    pub fn photos_in_flight(&self) -> &crate::photo::InFlight {
        &self.inner.photos_in_flight
    }

    pub fn photos_durable(&self) -> &crate::photo::Durability {
        &self.inner.photos_durable
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The receiver's clock for a message's times.
    pub fn receiving(&self) -> onepark_proto::msg::Clock {
        let l = &self.inner.limits;
        onepark_proto::msg::Clock {
            now: self.now(),
            future: l.future_skew,
            past: l.past,
            upload_window: l.upload_time_window,
        }
    }

    pub fn wake(&self) -> &Wake {
        &self.inner.wake
    }

    pub fn downlink_retry(&self) -> chrono::Duration {
        self.inner.downlink_retry
    }

    pub fn mqtt_publisher(&self) -> Option<&Internal> {
        self.inner.mqtt_publisher.as_ref()
    }

    pub fn photo_dir(&self) -> &Path {
        &self.inner.photo_dir
    }

    /// A lot from the config file, else one registered at run time
    /// (`onepark platform lots add`), so additions need no restart.
    /// The lot of an accessID: from the config, else registered at run
    /// time. `Err` when the store could not be read — not "unknown": a lot
    /// told it is unknown sets its record aside, a storage hiccup must not.
    pub async fn lot(&self, access_id: &str) -> Result<Option<Arc<LotAccess>>, StoreError> {
        if let Some(lot) = self.inner.lots.get(access_id) {
            return Ok(Some(lot.clone()));
        }
        let now = std::time::Instant::now();
        if let Some(lot) = self.inner.lots_known.get(access_id, now) {
            return Ok(Some(lot));
        }
        let Some(stored) = self.inner.store.lot(access_id).await.inspect_err(|e| {
            tracing::error!(error = %e, access_id, "lot lookup failed");
        })?
        else {
            return Ok(None);
        };
        match LotAccess::try_from(stored) {
            Ok(lot) => {
                let lot = Arc::new(lot);
                self.inner.lots_known.put(access_id, &lot, now);
                Ok(Some(lot))
            }
            Err(e) => {
                tracing::error!(access_id, error = %e, "registered lot has an unusable key or profile");
                Ok(None)
            }
        }
    }

    /// A lot of any protocol by its login: a Qingdao accessID, else a cloud
    /// lot's pid. For the city's logic (payments, lists), never for a door:
    /// each door authenticates its own protocol's lots ([`AppState::lot`]).
    pub async fn any_lot(&self, access_id: &str) -> Result<Option<Arc<LotAccess>>, StoreError> {
        if let Some(lot) = self.lot(access_id).await? {
            return Ok(Some(lot));
        }
        let principal = self.inner.store.principal(access_id).await?;
        Ok(principal
            .filter(|p| p.kind == crate::store::PrincipalKind::Lot)
            .map(|p| Arc::new(LotAccess::cloudpark(&p.pid, p.park_codes))))
    }

    /// Wall-clock time in the configured zone.
    pub fn now(&self) -> NaiveDateTime {
        self.inner.zone.local(self.inner.clock.now())
    }

    /// What the city tells a lot, as the message of the lot's protocol
    /// (not yet stored: the caller stores it with what it announces).
    pub fn announce(
        &self,
        lot: &LotAccess,
        parking_code: &str,
        what: &Announcement,
    ) -> Result<Downlink, AnnounceError> {
        let announcer = self.inner.announcers.get(&lot.protocol()).ok_or(AnnounceError::NoLink(lot.protocol()))?;
        announcer.message(lot, parking_code, what, self.now())
    }

    /// The platform's clock (instants: Unix times, request ids).
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }
}
