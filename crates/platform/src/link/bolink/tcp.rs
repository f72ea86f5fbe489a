//! The TCP front door (`[bolink] listen`, the vendor's port 6789): one
//! task per connection feeding its bytes to a `Session` and writing what
//! it transmits, messages from the lot's mailbox pushed in between. At most
//! `max_connections` at once (more are closed on accept); a connection
//! silent for two minutes (no heartbeat) is closed by its session.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use onepark_bolink::Session;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::connection::{drive, heard, release};
use super::held::Held;
use crate::config::Bolink;
use crate::state::AppState;

/// Binds the listener and serves it in the background; its address.
pub async fn start(config: &Bolink, state: AppState) -> std::io::Result<Option<std::net::SocketAddr>> {
    let Some(listen) = &config.listen else { return Ok(None) };
    let listener = onepark_serve::bind(listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(listen = %addr, "Bolink SDK connections served");
    let session_config = config.session();
    let open = Arc::new(AtomicUsize::new(0));
    let max = config.max_connections;
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "Bolink accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            if open.load(Ordering::Relaxed) >= max {
                state.metrics().bolink("connection_refused", false);
                drop(stream);
                continue;
            }
            open.fetch_add(1, Ordering::Relaxed);
            let (state, open, session_config) = (state.clone(), open.clone(), session_config.clone());
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                if let Err(e) = serve(&state, stream, session_config).await {
                    tracing::debug!(error = %e, %peer, "Bolink connection ended");
                }
                open.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    Ok(Some(addr))
}

async fn serve(state: &AppState, stream: TcpStream, config: onepark_bolink::session::Config) -> std::io::Result<()> {
    let (mut read, mut write) = stream.into_split();
    let started = tokio::time::Instant::now();
    let millis = |at: tokio::time::Instant| at.duration_since(started).as_millis() as i64;
    let mut session = Session::new(config, 0);
    let mut held = Held::default();
    let mut buf = vec![0u8; 16 * 1024];
    let result = loop {
        while let Some(bytes) = session.poll_transmit() {
            if let Err(e) = write.write_all(&bytes).await {
                release(state, &mut held);
                return Err(e);
            }
        }
        if session.is_closed() {
            break Ok(());
        }
        let deadline = session.poll_timeout().map(|t| started + std::time::Duration::from_millis(t.max(0) as u64));
        let mailbox = held.attached.as_ref().map(|(_, m)| m.clone());
        tokio::select! {
            n = read.read(&mut buf) => match n {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    session.handle_input(millis(tokio::time::Instant::now()), &buf[..n]);
                    if let Some(why) = drive(state, &mut session, &mut held, false).await {
                        tracing::info!(reason = why, "Bolink session closed");
                    }
                    heard(state, &mut held).await;
                }
                Err(e) => break Err(e),
            },
            () = async { match &mailbox { Some(m) => m.notify.notified().await, None => std::future::pending().await } } => {
                if let Some(m) = &mailbox {
                    for json in m.drain() {
                        session.push(&json);
                    }
                }
            }
            () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                session.handle_timeout(millis(tokio::time::Instant::now()));
                let _ = drive(state, &mut session, &mut held, false).await;
            }
        }
    };
    // What the session still has to say (a refusal before closing).
    while let Some(bytes) = session.poll_transmit() {
        let _ = write.write_all(&bytes).await;
    }
    release(state, &mut held);
    result
}
