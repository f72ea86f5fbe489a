//! HTTP/1.1 serving for a port that faces lots, cameras and the internet.
//!
//! `axum::serve` has no header, idle or body deadline and no connection cap,
//! so a few hundred idle or slowly-dripping connections hold descriptors for
//! ever (a slowloris). This loop adds them:
//!
//! - **connection cap**: at most `max_connections` at once (the rest wait in
//!   the kernel's backlog), at most `max_per_ip` from one address (refused);
//! - **header deadline**: a request's head must arrive within
//!   `header_timeout`, and an idle keep-alive connection is closed after the
//!   same time (hyper's header-read timer restarts after every response);
//! - **body deadline**: the whole body must arrive within `body_timeout`
//!   (a per-read timeout would let a client drip one byte at a time);
//! - descriptor exhaustion (`EMFILE`) pauses accepting instead of spinning.
//!
//! Graceful shutdown: on `shutdown`, stop accepting and let in-flight
//! requests finish (up to 10 s).

pub mod clock;
pub mod cpu;
pub mod json;
pub mod metrics;
pub mod pages;
pub mod password;
pub mod proxy;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Pending connections the kernel may hold for a listener before it drops
/// SYNs (capped by `net.core.somaxconn`, 4096 on current kernels).
const BACKLOG: u32 = 4096;

/// Binds a listening socket with a backlog for a city's worth of
/// reconnecting clients. `TcpListener::bind` listens with 128: when a few
/// hundred lots connect at once (a platform restart, a bench opening 256
/// connections) the rest of their SYNs are dropped and each such client
/// waits out a 1 s retransmission (then 3 s, 7 s) before it is even
/// accepted (BENCHMARKS.md, "Ingest at the RSA limit").
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        // A restarted process binds again at once (its old connections linger in TIME_WAIT).
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("no address for {addr}"))))
}

/// What a public port allows. Defaults suit a city platform on one host.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_ip: usize,
    /// Time for a request's head to arrive, and for an idle keep-alive
    /// connection to send its next request.
    pub header_timeout: Duration,
    /// Time for a whole request body to arrive (a 500 KB photo over 4G).
    pub body_timeout: Duration,
    /// Load balancers whose connections start with a PROXY protocol v1 line
    /// (HAProxy `send-proxy`) naming the client: that client is the one the
    /// per-address cap and the pages' throttles count, not the balancer.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_per_ip: 512,
            header_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(60),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    /// Refused because one address had `max_per_ip` open.
    pub refused_per_ip: AtomicU64,
    /// `accept` failed (usually: out of descriptors).
    pub accept_errors: AtomicU64,
}

impl Stats {
    /// Prometheus text for these counters, with `prefix` (e.g. `onepark_http`).
    /// The counts for `/metrics` (names under the caller's prefix).
    pub fn snapshot(&self) -> metrics::Snapshot {
        use metrics::Sample::{Counter, Gauge};
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        metrics::Snapshot(vec![
            ("open_connections", "Open HTTP connections.", Gauge(i64::try_from(get(&self.open)).unwrap_or(i64::MAX))),
            ("accepted", "Accepted HTTP connections.", Counter(get(&self.accepted))),
            (
                "refused_per_ip",
                "Connections refused: too many open from one address.",
                Counter(get(&self.refused_per_ip)),
            ),
            ("accept_errors", "Failed accepts (e.g. out of file descriptors).", Counter(get(&self.accept_errors))),
        ])
    }
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let (closing, closed) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_error_log: Option<tokio::time::Instant> = None;
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    if last_error_log.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                        tracing::error!(error = %e, "accept failed (out of file descriptors?); pausing");
                        last_error_log = Some(tokio::time::Instant::now());
                    }
                    // EMFILE leaves the connection in the backlog: retrying at
                    // once would spin. A closing connection frees a descriptor.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let (app, limits, stats, mut closed, per_ip) =
            (app.clone(), limits.clone(), stats.clone(), closed.clone(), per_ip.clone());
        tokio::spawn(async move {
            if limits.trusted_proxies.contains(&peer.ip()) {
                // The balancer's first line names the client; read before anything else, within the header deadline.
                let mut stream = tokio::io::BufReader::new(stream);
                let client = match tokio::time::timeout(limits.header_timeout, proxy::read_v1(&mut stream)).await {
                    Ok(Ok(client)) => client.unwrap_or(peer),
                    Ok(Err(e)) => {
                        tracing::warn!(%peer, error = %e, "connection from a trusted proxy without a valid PROXY line");
                        return;
                    }
                    Err(_) => return,
                };
                serve_one(stream, client, app, &limits, &stats, &mut closed, &per_ip).await;
            } else {
                serve_one(stream, peer, app, &limits, &stats, &mut closed, &per_ip).await;
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // In-flight requests finish; each connection returns its permit.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(10), slots.acquire_many(all)).await;
}

/// One connection, counted against its client's address (refused over `max_per_ip`).
async fn serve_one<IO>(
    io: IO,
    peer: SocketAddr,
    app: Router,
    limits: &Limits,
    stats: &Stats,
    closed: &mut watch::Receiver<bool>,
    per_ip: &Arc<Mutex<HashMap<IpAddr, usize>>>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Some(guard) = IpGuard::take(per_ip, peer.ip(), limits.max_per_ip) else {
        stats.refused_per_ip.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%peer, "connection refused: too many from this address");
        return;
    };
    stats.open.fetch_add(1, Ordering::Relaxed);
    connection(io, peer, app, limits, closed).await;
    stats.open.fetch_sub(1, Ordering::Relaxed);
    drop(guard);
}

async fn connection<IO>(stream: IO, peer: SocketAddr, app: Router, limits: &Limits, closed: &mut watch::Receiver<bool>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut app = app.clone();
        let mut request = request.map(|body| Body::new(Deadline::new(body, body_timeout)));
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        async move { tower_service::Service::call(&mut app, request).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        }
        _ = closed.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// One open connection counted against its address.
struct IpGuard {
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl IpGuard {
    fn take(map: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<IpGuard> {
        let mut open = map.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= max.max(1) {
            return None;
        }
        *n += 1;
        Some(IpGuard { map: map.clone(), ip })
    }
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        let mut open = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A request body that must be complete by a deadline.
struct Deadline {
    inner: Incoming,
    timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Deadline {
    fn new(inner: Incoming, timeout: Duration) -> Deadline {
        Deadline { inner, timeout, sleep: Box::pin(tokio::time::sleep(timeout)) }
    }
}

#[derive(Debug)]
struct BodyTimeout(Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request body not complete within {} s", self.0.as_secs())
    }
}

impl std::error::Error for BodyTimeout {}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.inner.is_end_stream() {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(self.timeout)))));
        }
        Pin::new(&mut self.inner).poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(limits: Limits) -> (SocketAddr, Arc<Stats>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .route("/", axum::routing::post(|body: Bytes| async move { format!("{}", body.len()) }))
            .route("/", axum::routing::get(|| async { "ok" }));
        let stats = Arc::new(Stats::default());
        tokio::spawn(serve(listener, app, limits, stats.clone(), std::future::pending()));
        (addr, stats)
    }

    /// Reads until the server closes; true when it did within `within`.
    async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let read = async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(within, read).await.is_ok()
    }

    fn short() -> Limits {
        Limits {
            header_timeout: Duration::from_millis(300),
            body_timeout: Duration::from_millis(300),
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed() {
        let (addr, _) = start(short()).await;
        let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
        assert!(closed_within(&mut silent, Duration::from_secs(5)).await, "never closed");
    }

    #[tokio::test]
    async fn a_dripped_head_and_an_idle_keep_alive_are_closed() {
        let (addr, _) = start(short()).await;
        let mut drip = tokio::net::TcpStream::connect(addr).await.expect("connect");
        drip.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("write");
        let dripping = async {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if drip.write_all(b"X-A: b\r\n").await.is_err() {
                    return;
                }
            }
        };
        dripping.await;
        assert!(closed_within(&mut drip, Duration::from_secs(5)).await, "slowloris head kept open");

        let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let mut buf = [0u8; 256];
        let n = idle.read(&mut buf).await.expect("response");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        assert!(closed_within(&mut idle, Duration::from_secs(5)).await, "idle keep-alive kept open");
    }

    #[tokio::test]
    async fn a_dripped_body_fails_at_its_deadline() {
        let (addr, _) = start(short()).await;
        let mut drip = tokio::net::TcpStream::connect(addr).await.expect("connect");
        drip.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n").await.expect("write");
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if drip.write_all(b"x").await.is_err() {
                break;
            }
        }
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), drip.read_to_end(&mut reply)).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 4"), "a dripped body must be refused: {reply:?}");
    }

    #[tokio::test]
    async fn connections_from_one_address_are_capped() {
        let (addr, stats) = start(Limits { max_per_ip: 2, ..Limits::default() }).await;
        let _a = tokio::net::TcpStream::connect(addr).await.expect("a");
        let _b = tokio::net::TcpStream::connect(addr).await.expect("b");
        let mut c = tokio::net::TcpStream::connect(addr).await.expect("c");
        assert!(closed_within(&mut c, Duration::from_secs(5)).await, "third connection kept");
        assert_eq!(stats.refused_per_ip.load(Ordering::Relaxed), 1);
    }
}
