//! The composition root: the one module that knows every other. It starts
//! the gateway (`start`: store, state, tasks), builds its HTTP API
//! (`router`) and serves it; the parts themselves know only the shared
//! state (`state`) and what they use.

pub use crate::router::router;
pub use crate::start::{LotError, start, start_with_clock};
pub use crate::state::LotState;

use crate::config::Config;

/// Runs the gateway until Ctrl-C.
pub async fn serve(config: Config) -> Result<(), LotError> {
    let listen = config.listen.clone();
    let state = start(config).await?;
    let listener =
        onepark_serve::bind(&listen).await.map_err(|source| LotError::Listen { addr: listen.clone(), source })?;
    tracing::info!(%listen, "lot gateway serving");
    if state.config().auth.is_none() {
        tracing::warn!("no [auth] configured: the lane and staff API answer this machine only");
    }
    let stats = state.http_stats().clone();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    onepark_serve::serve(listener, router(state), onepark_serve::Limits::default(), stats, shutdown).await;
    Ok(())
}

/// Starts the gateway in the background (the demo's lots, load
/// generators): its tasks, and its HTTP API on `config.listen`, which may
/// be port 0. Returns the address it listens on.
pub async fn spawn(config: Config) -> Result<(LotState, std::net::SocketAddr), LotError> {
    let listen = config.listen.clone();
    let state = start(config).await?;
    let listener =
        onepark_serve::bind(&listen).await.map_err(|source| LotError::Listen { addr: listen.clone(), source })?;
    let addr = listener.local_addr().map_err(|source| LotError::Listen { addr: listen, source })?;
    let (app, stats) = (router(state.clone()), state.http_stats().clone());
    tokio::spawn(onepark_serve::serve(listener, app, onepark_serve::Limits::default(), stats, std::future::pending()));
    Ok((state, addr))
}
