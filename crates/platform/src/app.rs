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

use crate::config::{Config, LotAccess};
use crate::metrics::{Metrics, ProbeLimiter};
use crate::store::{Store, StoreError};
use crate::uplink;

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
    admin_token: Option<String>,
    wake: crate::downlink::Wake,
    downlink_retry: chrono::Duration,
    /// The platform's own login on an external broker (from `mqtt_url`).
    mqtt_publisher: Option<crate::broker::Internal>,
}

impl AppState {
    pub fn new(config: &Config, store: Store) -> AppState {
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
                admin_token: config.admin_token.clone(),
                wake: Default::default(),
                downlink_retry: config.downlink_retry,
                mqtt_publisher: config.mqtt_url.as_deref().and_then(crate::downlink::url_login),
            }),
        }
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

    pub fn wake(&self) -> &crate::downlink::Wake {
        &self.inner.wake
    }

    pub fn downlink_retry(&self) -> chrono::Duration {
        self.inner.downlink_retry
    }

    pub fn mqtt_publisher(&self) -> Option<&crate::broker::Internal> {
        self.inner.mqtt_publisher.as_ref()
    }

    pub fn photo_dir(&self) -> &Path {
        &self.inner.photo_dir
    }

    /// A lot from the config file, else one registered at run time
    /// (`onepark platform lots add`), so additions need no restart.
    pub async fn lot(&self, access_id: &str) -> Option<Arc<LotAccess>> {
        if let Some(lot) = self.inner.lots.get(access_id) {
            return Some(lot.clone());
        }
        let stored = match self.inner.store.lot(access_id).await {
            Ok(stored) => stored?,
            Err(e) => {
                tracing::error!(error = %e, access_id, "lot lookup failed");
                return None;
            }
        };
        match LotAccess::try_from(stored) {
            Ok(lot) => Some(Arc::new(lot)),
            Err(e) => {
                tracing::error!(access_id, error = %e, "registered lot has an unusable key or profile");
                None
            }
        }
    }

    /// Wall-clock time in the configured zone.
    pub fn now(&self) -> NaiveDateTime {
        self.inner.zone.local(chrono::Utc::now())
    }
}

/// The HTTP API; tests drive it without a socket.
pub fn router(config: &Config, state: AppState) -> Router {
    Router::new()
        .route(&format!("{}/{{name}}", config.path_prefix), post(uplink::handle))
        .route("/metrics", get(metrics))
        .merge(crate::admin::router(state.clone()))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .with_state(state)
}

async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> impl axum::response::IntoResponse {
    ([("content-type", "text/plain; version=0.0.4")], state.metrics().render(state.store().commit_stats()))
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
    Broker(#[from] crate::broker::BrokerError),
}

/// Starts the downlink: the embedded broker (unless an external one is
/// configured) and the publisher. Returns the embedded broker's address.
/// With neither, downlinks are stored and wait until a broker is configured.
pub async fn start_downlink(config: &Config, state: &AppState) -> Result<Option<crate::broker::Embedded>, ServeError> {
    // Unique per process: replicas (or containers that are all pid 1) must not
    // share a client id, or the broker would keep kicking one for the other.
    let nonce = crate::broker::random_hex(6).map_err(|e| ServeError::Mqtt(e.to_string()))?;
    let client_id = format!("onepark-platform-{nonce}");
    let (client, events, embedded) = match (&config.mqtt_url, &config.mqtt_listen) {
        (Some(url), _) => {
            let (client, events) = crate::downlink::client(url, &client_id).map_err(ServeError::Mqtt)?;
            tracing::info!(broker = %onepark_proto::mqtt::redact(url), "downlink publisher uses an external broker");
            (client, events, None)
        }
        (None, Some(listen)) => {
            let expiry = config.downlink_retry.to_std().unwrap_or(std::time::Duration::from_secs(86_400));
            let embedded = crate::broker::start(listen, expiry, state.clone()).await?;
            let local = SocketAddr::new(loopback(embedded.addr.ip()), embedded.addr.port());
            let login = &embedded.publisher;
            let url = format!("mqtt://{}:{}@{local}", login.username, login.password);
            let (client, events) = crate::downlink::client(&url, &client_id).map_err(ServeError::Mqtt)?;
            (client, events, Some(embedded))
        }
        (None, None) => {
            tracing::warn!("no MQTT broker (mqtt_listen = \"off\", no mqtt_url): downlinks are queued, not published");
            return Ok(None);
        }
    };
    tokio::spawn(crate::downlink::drive(events));
    tokio::spawn(crate::downlink::publish_loop(state.clone(), Arc::new(client)));
    Ok(embedded)
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
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: config.listen.clone(), source })?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = %config.database,
        lots = config.lots.len(),
        "platform serving"
    );
    axum::serve(listener, router(&config, state)).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

/// Where a platform started with [`spawn`] listens.
#[derive(Clone, Debug)]
pub struct Spawned {
    pub http: SocketAddr,
    /// The embedded broker, when it runs.
    pub mqtt: Option<crate::broker::Embedded>,
}

/// Starts the platform in the background (tests, load generator).
pub async fn spawn(config: Config) -> Result<Spawned, ServeError> {
    let store = Store::connect(&config.database).await?;
    let state = AppState::new(&config, store);
    let mqtt = start_downlink(&config, &state).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: config.listen.clone(), source })?;
    let addr = listener.local_addr()?;
    let app = router(&config, state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
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
