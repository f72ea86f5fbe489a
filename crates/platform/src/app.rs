//! The platform's shared state, its router and the server loop.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use chrono::NaiveDateTime;
use onepark_domain::time::Zone;
use onepark_proto::PrivateKey;
use onepark_serve::clock::Clock;

use crate::config::{Config, Limits, LotAccess};
use crate::link::qdpark::admission::{ProbeLimiter, Refusals, Replays};
use crate::link::qdpark::uplink;
use crate::metrics::Metrics;
use crate::rate::Rate;
use crate::store::{Store, StoreError};

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
    wake: crate::link::qdpark::downlink::Wake,
    downlink_retry: chrono::Duration,
    /// The platform's own login on an external broker (from `mqtt_url`).
    mqtt_publisher: Option<crate::link::qdpark::broker::Internal>,
    payments: crate::city::payments::Payments,
    /// The driver pages' plate proofs and receipt codes.
    proofs: crate::http::proof::Proofs,
    /// Fee queries per client: each one costs a downlink, a lot's upload and a row.
    fee_rate: Rate,
    /// Receipt-code guesses per client and per plate.
    verify_rates: (Rate, Rate),
    /// The dashboard's sessions and login throttle.
    dashboard: crate::http::dashboard::Guard,
    /// The platform's one clock (a test may move it).
    clock: Clock,
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
                wake: Default::default(),
                downlink_retry: config.downlink_retry,
                mqtt_publisher: config.mqtt_url.as_deref().and_then(crate::link::qdpark::downlink::url_login),
                payments: crate::city::payments::Payments::new(&config.payments, config.zone),
                proofs: crate::http::proof::Proofs::new(&proof_secret(config)),
                // Keyed by client addresses and plates anyone can make up: bounded.
                fee_rate: Rate::bounded(config.limits.fee_queries_per_minute, 100_000),
                verify_rates: (Rate::bounded(10, 100_000), Rate::bounded(30, 100_000)),
                dashboard: crate::http::dashboard::Guard::new(&config.dashboard),
                clock,
            }),
        }
    }

    pub fn dashboard(&self) -> &crate::http::dashboard::Guard {
        &self.inner.dashboard
    }

    pub fn payments(&self) -> &crate::city::payments::Payments {
        &self.inner.payments
    }

    pub fn proofs(&self) -> &crate::http::proof::Proofs {
        &self.inner.proofs
    }

    pub fn fee_rate(&self) -> &Rate {
        &self.inner.fee_rate
    }

    /// Receipt-code guesses: (per client, per plate).
    pub fn verify_rates(&self) -> &(Rate, Rate) {
        &self.inner.verify_rates
    }

    /// The configured lot holding `parking_code` (registered lots: `payments::lot_of`).
    pub fn lot_of_code(&self, parking_code: &str) -> Option<Arc<LotAccess>> {
        self.inner.lots.values().find(|l| l.parking_codes.iter().any(|c| c == parking_code)).cloned()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn private_key(&self) -> Option<Arc<PrivateKey>> {
        self.inner.private_key.clone()
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

    pub fn wake(&self) -> &crate::link::qdpark::downlink::Wake {
        &self.inner.wake
    }

    pub fn downlink_retry(&self) -> chrono::Duration {
        self.inner.downlink_retry
    }

    pub fn mqtt_publisher(&self) -> Option<&crate::link::qdpark::broker::Internal> {
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
        let Some(stored) = self.inner.store.lot(access_id).await.inspect_err(|e| {
            tracing::error!(error = %e, access_id, "lot lookup failed");
        })?
        else {
            return Ok(None);
        };
        match LotAccess::try_from(stored) {
            Ok(lot) => Ok(Some(Arc::new(lot))),
            Err(e) => {
                tracing::error!(access_id, error = %e, "registered lot has an unusable key or profile");
                Ok(None)
            }
        }
    }

    /// Wall-clock time in the configured zone.
    pub fn now(&self) -> NaiveDateTime {
        self.inner.zone.local(self.inner.clock.now())
    }

    /// The platform's clock (instants: Unix times, request ids).
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }
}

/// The HTTP API; tests drive it without a socket. `/metrics` is here unless
/// it has an address of its own (`metrics_listen`).
pub fn router(config: &Config, state: AppState) -> Router {
    let mut router = Router::new()
        .route(&format!("{}/{{name}}", config.path_prefix), post(uplink::handle))
        .merge(crate::http::admin::router(state.clone()))
        .merge(crate::http::dashboard::router())
        .merge(crate::http::driver::router())
        .route("/api/pay/notify", post(notify));
    if let Some(sandbox) = &state.payments().sandbox {
        // The in-process sandbox's own API (accounts, behaviour, statement), as `onepark pay-sandbox` serves it.
        // Behind the admin token: in process the sandbox's own key is never shown to anyone.
        let api = onepark_pay::http::open_router(sandbox.clone())
            .layer(axum::middleware::from_fn_with_state(state.clone(), crate::http::admin::authorize));
        router = router.nest_service("/sandbox", api);
    }
    if config.metrics_listen.is_none() {
        router = router.route("/metrics", get(metrics));
    }
    router.layer(DefaultBodyLimit::max(config.body_limit_bytes)).with_state(state)
}

/// The payment channel's notifications: 200 once recorded (the channel stops
/// delivering), 401 for a bad signature, 500 to have it delivered again.
async fn notify(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let signature = headers.get(onepark_pay::sign::HEADER).and_then(|v| v.to_str().ok());
    match crate::city::payments::notified(&state, &body, signature).await {
        Ok(()) => axum::Json(serde_json::json!({ "code": "SUCCESS" })).into_response(),
        Err(e) if e.contains("signature") || e.contains("notification body") => {
            (axum::http::StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({ "error": e }))).into_response()
        }
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({ "error": e })))
            .into_response(),
    }
}

/// `/metrics` alone, for `metrics_listen`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(token) = &state.inner.metrics_token {
        let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !crate::secret::same_secret(given, &format!("Bearer {token}")) {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Bearer")],
                "metrics_token required\n",
            )
                .into_response();
        }
    }
    ([("content-type", onepark_serve::metrics::CONTENT_TYPE)], state.metrics().render(state.store().commit_stats()))
        .into_response()
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("mqtt_url: {0}")]
    Mqtt(String),
    #[error("embedded MQTT broker: {0}")]
    Broker(#[from] crate::link::qdpark::broker::BrokerError),
}

/// Starts the downlink: the embedded broker (unless an external one is
/// configured) and the publisher. Returns the embedded broker's address.
/// With neither, downlinks are stored and wait until a broker is configured.
pub async fn start_downlink(
    config: &Config,
    state: &AppState,
) -> Result<Option<crate::link::qdpark::broker::Embedded>, ServeError> {
    // Unique per process: replicas (or containers that are all pid 1) must not
    // share a client id, or the broker would keep kicking one for the other.
    let nonce = crate::secret::random_hex(6).map_err(|e| ServeError::Mqtt(e.to_string()))?;
    let client_id = format!("onepark-platform-{nonce}");
    let (client, events, embedded) = match (&config.mqtt_url, &config.mqtt_listen) {
        (Some(url), _) => {
            let (client, events) = crate::link::qdpark::downlink::client(url, &client_id).map_err(ServeError::Mqtt)?;
            tracing::info!(broker = %onepark_proto::mqtt::redact(url), "downlink publisher uses an external broker");
            (client, events, None)
        }
        (None, Some(listen)) => {
            let embedded = crate::link::qdpark::broker::start(listen, &config.limits, state.clone()).await?;
            let local = SocketAddr::new(loopback(embedded.addr.ip()), embedded.addr.port());
            let login = &embedded.publisher;
            let url = format!("mqtt://{}:{}@{local}", login.username, login.password);
            let (client, events) = crate::link::qdpark::downlink::client(&url, &client_id).map_err(ServeError::Mqtt)?;
            (client, events, Some(embedded))
        }
        (None, None) => {
            tracing::warn!("no MQTT broker (mqtt_listen = \"off\", no mqtt_url): downlinks are queued, not published");
            return Ok(None);
        }
    };
    tokio::spawn(crate::link::qdpark::downlink::drive(events));
    tokio::spawn(crate::link::qdpark::downlink::publish_loop(state.clone(), Arc::new(client)));
    Ok(embedded)
}

/// The payment side's background work: the in-process sandbox's
/// notifications, and the recovery of pending charges.
pub fn start_payments(state: &AppState) {
    crate::city::payments::connect_sandbox(state);
    tokio::spawn(crate::city::payments::recover(state.clone()));
}

/// The publisher reaches a wildcard-bound embedded broker over loopback.
fn loopback(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    }
}

/// Runs the platform until Ctrl-C / SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let store = Store::connect(&config.database).await?;
    let state = AppState::new(&config, store);
    start_downlink(&config, &state).await?;
    start_payments(&state);
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: config.listen.clone(), source })?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = %config.database,
        lots = config.lots.len(),
        "platform serving"
    );
    spawn_metrics(&config, &state).await?;
    let stats = state.metrics().http.clone();
    onepark_serve::serve(listener, router(&config, state), config.limits.http.clone(), stats, shutdown()).await;
    Ok(())
}

/// `/metrics` on its own address, when configured.
async fn spawn_metrics(config: &Config, state: &AppState) -> Result<(), ServeError> {
    let Some(addr) = &config.metrics_listen else {
        if config.metrics_token.is_none() && !is_loopback(&config.listen) {
            tracing::warn!(
                "/metrics is public on {} (accessIDs, counts): set metrics_listen or metrics_token",
                config.listen
            );
        }
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr: addr.clone(), source })?;
    tracing::info!(listen = %listener.local_addr()?, "metrics serving");
    let (app, limits, stats) = (metrics_router(state.clone()), config.limits.http.clone(), Default::default());
    tokio::spawn(onepark_serve::serve(listener, app, limits, stats, std::future::pending()));
    Ok(())
}

fn is_loopback(listen: &str) -> bool {
    listen.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback()) || listen.starts_with("localhost:")
}

/// Where a platform started with [`spawn`] listens.
#[derive(Clone, Debug)]
pub struct Spawned {
    pub http: SocketAddr,
    /// The embedded broker, when it runs.
    pub mqtt: Option<crate::link::qdpark::broker::Embedded>,
}

/// Starts the platform in the background (tests, load generator).
pub async fn spawn(config: Config) -> Result<Spawned, ServeError> {
    let store = Store::connect(&config.database).await?;
    let state = AppState::new(&config, store);
    let mqtt = start_downlink(&config, &state).await?;
    start_payments(&state);
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: config.listen.clone(), source })?;
    let addr = listener.local_addr()?;
    spawn_metrics(&config, &state).await?;
    let stats = state.metrics().http.clone();
    let app = router(&config, state);
    tokio::spawn(onepark_serve::serve(listener, app, config.limits.http.clone(), stats, std::future::pending()));
    Ok(Spawned { http: addr, mqtt })
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
