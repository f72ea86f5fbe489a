//! What the gateway's handlers and jobs share: the config, the store, the
//! platform client, the clock and the in-memory counters and feeds.
//!
//! It knows no handler: a handler takes [`LotState`], or only the part it
//! needs (`State<Store>`, `State<auth::Access>`, through axum's `FromRef`),
//! and the composition root (`app`) builds it.

use std::sync::Arc;

use axum::extract::FromRef;
use chrono::NaiveDateTime;
use onepark_serve::clock::Clock;
use tokio::sync::Notify;

use crate::auth::{Access, Sessions};
use crate::config::{Config, Direction, Lane};
use crate::feed::Feed;
use crate::lane::Deny;
use crate::outbox::OutboxStats;
use crate::store::{Store, StoreError};
use crate::subscriber::Stats;
use crate::uplink::Client;

#[derive(Clone)]
pub struct LotState {
    inner: Arc<Inner>,
}

/// Everything [`LotState`] holds, as start-up assembles it.
pub(crate) struct Inner {
    pub config: Arc<Config>,
    pub store: Store,
    /// The Qingdao platform's client, when `[platform]` is configured.
    pub uplink: Option<Client>,
    pub clock: Clock,
    /// Notified whenever a record is queued: the outbox sender looks.
    pub wake: Arc<Notify>,
    pub outbox: Arc<OutboxStats>,
    /// The parking cloud's sender, when `[cloudpark]` is configured: its wake-up and counters.
    pub cloud_outbox: Option<(Arc<Notify>, Arc<OutboxStats>)>,
    /// The Bolink link's sender (its wake-up and counters), when configured.
    pub bolink_outbox: Option<(Arc<Notify>, Arc<OutboxStats>)>,
    /// The Bolink link's connection, when configured.
    pub bolink: Option<crate::bolinklink::Handle>,
    pub downlink: Option<Arc<Stats>>,
    pub sessions: Arc<Sessions>,
    pub http: Arc<onepark_serve::Stats>,
    pub feed: Arc<Feed>,
    /// The barrier controllers listening on each lane.
    pub controllers: Arc<crate::orders::Controllers>,
    /// Notified when a report for the cloud's MQ channel is queued.
    pub cloud_reports: Arc<Notify>,
    /// A cloud's correction of the free berths (its `freeOffset` setting), held here: it is
    /// read on every entry's path.
    pub free_offset: std::sync::atomic::AtomicI64,
}

impl LotState {
    pub(crate) fn new(inner: Inner) -> LotState {
        LotState { inner: Arc::new(inner) }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// The latest lane events, for the booth page.
    pub fn feed(&self) -> &Feed {
        &self.inner.feed
    }

    pub fn controllers(&self) -> &crate::orders::Controllers {
        &self.inner.controllers
    }

    /// A report for the cloud's MQ channel was queued: let its sender look.
    pub(crate) fn wake_cloud_reports(&self) {
        self.inner.cloud_reports.notify_one();
    }

    pub(crate) async fn cloud_reports_woken(&self) {
        self.inner.cloud_reports.notified().await;
    }

    pub fn outbox_stats(&self) -> &OutboxStats {
        &self.inner.outbox
    }

    pub fn downlink_stats(&self) -> Option<&Stats> {
        self.inner.downlink.as_deref()
    }

    pub(crate) fn http_stats(&self) -> &Arc<onepark_serve::Stats> {
        &self.inner.http
    }

    pub(crate) fn uplink(&self) -> Option<&Client> {
        self.inner.uplink.as_ref()
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The gateway's one clock (a test's manual one, else the system's).
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The lot's wall-clock time now, in its zone.
    pub(crate) fn now(&self) -> NaiveDateTime {
        self.inner.config.zone.local(self.inner.clock.now())
    }

    /// Milliseconds since the Unix epoch now (the outbox's timestamps).
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.millis()
    }

    /// A record was queued: let the sender look.
    pub(crate) fn wake_outbox(&self) {
        self.inner.wake.notify_one();
        if let Some((wake, _)) = &self.inner.cloud_outbox {
            wake.notify_one();
        }
        if let Some((wake, _)) = &self.inner.bolink_outbox {
            wake.notify_one();
        }
    }

    /// The Bolink link's connection, when the lot speaks Bolink.
    pub fn bolink(&self) -> Option<&crate::bolinklink::Handle> {
        self.inner.bolink.as_ref()
    }

    /// The Bolink sender's counters, when the lot speaks Bolink.
    pub fn bolink_outbox_stats(&self) -> Option<&OutboxStats> {
        self.inner.bolink_outbox.as_ref().map(|(_, stats)| &**stats)
    }

    /// The parking cloud sender's counters, when the lot speaks to one.
    pub fn cloud_outbox_stats(&self) -> Option<&OutboxStats> {
        self.inner.cloud_outbox.as_ref().map(|(_, stats)| &**stats)
    }

    pub(crate) fn lane(&self, id: &str, direction: Direction) -> Result<&Lane, Deny> {
        let lane = self.inner.config.lanes.iter().find(|l| l.id == id).ok_or(Deny::UnknownLane)?;
        if lane.direction == direction { Ok(lane) } else { Err(Deny::WrongDirection) }
    }

    /// Sets a cloud's correction of the free berths: stored, then held for every entry to read.
    pub(crate) async fn set_free_offset(&self, offset: i64) -> Result<(), StoreError> {
        self.inner.store.set_cloud_setting("freeOffset", &offset.to_string()).await?;
        self.inner.free_offset.store(offset, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn free_offset(&self) -> i64 {
        self.inner.free_offset.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// (total, open, free open) berths now.
    pub(crate) async fn berths(&self) -> Result<(i64, i64, i64), StoreError> {
        let b = &self.inner.config.berths;
        let temporary = self.inner.store.temporary_inside().await?;
        // A cloud's correction of the count (the cloud MQ's 3.22, Bolink's 3.39), an offset
        // cars keep moving (`set_free_offset`).
        let offset = self.free_offset();
        Ok((b.total, b.open, (b.open - temporary + offset).clamp(0, b.open.max(0))))
    }
}

impl FromRef<LotState> for Store {
    fn from_ref(state: &LotState) -> Store {
        state.inner.store.clone()
    }
}

impl FromRef<LotState> for Access {
    fn from_ref(state: &LotState) -> Access {
        Access { config: state.inner.config.clone(), sessions: state.inner.sessions.clone() }
    }
}
