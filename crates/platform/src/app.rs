//! The composition root: the only module that knows every other one. It
//! builds the state, the router and the background jobs, and runs the server.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::config::Config;
use crate::link::qdpark::uplink;
pub use crate::state::AppState;
use crate::store::{Store, StoreError};

/// A path nothing answers: the APIs' JSON error, or a page in the site's layout.
async fn not_found(headers: axum::http::HeaderMap, uri: axum::http::Uri) -> axum::response::Response {
    let home = onepark_serve::pages::Home {
        brand: ("onepark 城市停车平台", "onepark city parking"),
        links: &[("全市概览", "The city", "/"), ("车主缴费", "Drivers", "/pay")],
    };
    onepark_serve::pages::not_found(&headers, uri.path(), &home)
}

/// The HTTP API; tests drive it without a socket. `/metrics` is here unless
/// it has an address of its own (`metrics_listen`).
pub fn router(config: &Config, state: AppState) -> Router {
    let mut router = Router::new()
        .route(&format!("{}/{{name}}", config.path_prefix), post(uplink::handle))
        .route(&format!("{}/{{name}}", crate::link::cloudpark::PATH), post(crate::link::cloudpark::door::handle))
        .route(crate::link::bolink::http::UPLOAD, post(crate::link::bolink::http::upload))
        .route(crate::link::bolink::http::DOWNLOAD, post(crate::link::bolink::http::download))
        .merge(crate::http::admin::router(state.clone()))
        .merge(crate::http::dashboard::router(state.clone()))
        .merge(crate::http::driver::router())
        .merge(crate::http::renewal::router())
        .merge(crate::http::noplate::router())
        .route("/api/pay/notify", post(crate::http::notify::notify))
        .route("/healthz", get(crate::http::scrape::health))
        .fallback(not_found);
    if let Some(sandbox) = &state.payments().sandbox {
        // The in-process sandbox's own API (accounts, behaviour, statement), as `onepark pay-sandbox` serves it.
        // Behind the admin token: in process the sandbox's own key is never shown to anyone.
        let api = onepark_pay::http::open_router(sandbox.clone())
            .layer(axum::middleware::from_fn_with_state(state.clone(), crate::http::admin::authorize));
        router = router.nest_service("/sandbox", api);
    }
    if config.metrics_listen.is_none() {
        router = router.route("/metrics", get(crate::http::scrape::metrics));
    }
    router.layer(DefaultBodyLimit::max(config.body_limit_bytes)).with_state(state)
}

/// `/metrics` alone, for `metrics_listen`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(crate::http::scrape::metrics)).with_state(state)
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The database named (its password hidden) so that an operator sees
    /// which file or server could not be opened.
    #[error("cannot open the database {database}: {source}")]
    Open { database: String, source: StoreError },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("mqtt_url: {0}")]
    Mqtt(String),
    #[error("embedded MQTT broker: {0}")]
    Broker(#[from] crate::link::qdpark::broker::BrokerError),
    #[error("{0}")]
    Node(#[from] crate::node::NodeError),
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
    let client = Arc::new(client);
    let shared = embedded.is_none();
    tokio::spawn(crate::link::qdpark::downlink::drive(events, client.clone(), state.clone(), shared));
    tokio::spawn(crate::link::qdpark::downlink::publish_loop(state.clone(), client));
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

/// The store, migrated, with what each link keeps of older versions brought
/// up to date.
async fn open(config: &Config) -> Result<Store, ServeError> {
    let store = Store::connect(&config.database)
        .await
        .map_err(|source| ServeError::Open { database: onepark_proto::mqtt::redact(&config.database), source })?;
    let upgraded = crate::link::qdpark::records::upgrade(&store).await?;
    if upgraded > 0 {
        tracing::info!(upgraded, "lot descriptions of an older version filled in");
    }
    Ok(store)
}

/// Runs the platform until Ctrl-C / SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let state = AppState::new(&config, open(&config).await?);
    crate::node::join(&state, &config.database, crate::node::broker(&config)).await?;
    start_downlink(&config, &state).await?;
    start_payments(&state);
    start_bolink(&config, &state).await?;
    let listener = onepark_serve::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: config.listen.clone(), source })?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = %onepark_proto::mqtt::redact(&config.database),
        lots = config.lots.len(),
        "platform serving"
    );
    spawn_metrics(&config, &state).await?;
    let stats = state.metrics().http.clone();
    onepark_serve::serve(listener, router(&config, state.clone()), config.limits.http.clone(), stats, shutdown()).await;
    crate::node::leave(&state).await;
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
    let listener =
        onepark_serve::bind(addr).await.map_err(|source| ServeError::Listen { addr: addr.clone(), source })?;
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
    /// Bolink's TCP door, when `[bolink] listen` is set.
    pub bolink: Option<SocketAddr>,
}

/// Bolink's TCP door (`[bolink] listen`; off by default): its address.
pub async fn start_bolink(config: &Config, state: &AppState) -> Result<Option<SocketAddr>, ServeError> {
    // The HTTP mode needs no listener of its own: its lots are served whenever the platform is.
    tokio::spawn(crate::link::bolink::publish::run(state.clone()));
    crate::link::bolink::tcp::start(&config.bolink, state.clone())
        .await
        .map_err(|source| ServeError::Listen { addr: config.bolink.listen.clone().unwrap_or_default(), source })
}

/// Starts the platform in the background (tests, load generator).
pub async fn spawn(config: Config) -> Result<Spawned, ServeError> {
    let state = AppState::new(&config, open(&config).await?);
    crate::node::join(&state, &config.database, crate::node::broker(&config)).await?;
    let mqtt = start_downlink(&config, &state).await?;
    start_payments(&state);
    let bolink = start_bolink(&config, &state).await?;
    let listener = onepark_serve::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: config.listen.clone(), source })?;
    let addr = listener.local_addr()?;
    spawn_metrics(&config, &state).await?;
    let stats = state.metrics().http.clone();
    let app = router(&config, state);
    tokio::spawn(onepark_serve::serve(listener, app, config.limits.http.clone(), stats, std::future::pending()));
    Ok(Spawned { http: addr, mqtt, bolink })
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

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_database_that_cannot_be_opened_is_named() {
        // A directory that does not exist: SQLite cannot create the file (nothing is left behind).
        let missing = std::env::temp_dir().join(format!("onepark-missing-{}", std::process::id())).join("onepark.db");
        let url = format!("sqlite://{}", missing.display());
        let config =
            crate::config::Config::load(None, |k| (k == "ONEPARK_DATABASE").then(|| url.clone())).expect("config");
        let Err(e) = super::open(&config).await else { panic!("{url} opened") };
        assert!(e.to_string().starts_with(&format!("cannot open the database {url}: ")), "{e}");
    }
}
