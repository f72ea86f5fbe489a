//! Loopback ports: a free one to configure, and waiting until a started
//! process listens on one.

use std::time::{Duration, Instant};

/// A port nothing listens on now, below the kernel's ephemeral range.
///
/// Why not the OS's pick (`bind(0)`): that port is in the range the kernel
/// also hands out as the source port of outgoing connections. A test that
/// configures a lot for a platform not yet started has the lot connect to
/// that port over and over, and one attempt can get it as its own source
/// port and connect to itself (TCP simultaneous open); the platform then
/// cannot bind it (seen once in CI as `AddrInUse`). Below the range no
/// connection takes a port unasked.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const HIGH: u32 = 32_000; // Linux's range starts at 32768 unless configured lower.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // A random start per process (tests run as several processes at once),
    // then a stride, so the calls of one process never repeat a port.
    static START: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        (h.finish() % u64::from(HIGH - LOW)) as u32
    });
    for _ in 0..1_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + (start + n.wrapping_mul(7_919)) % (HIGH - LOW)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// Waits until something listens on `port` (a child process started), at most 20 s.
pub async fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`wait_port`] for tests without a runtime.
pub fn wait_port_blocking(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
