//! The payment channel and the money rules of the configuration
//! (`[payments]`): which channel charges (off, the sandbox, a real one over
//! HTTP), how long to wait for it, arrears prevention and the no-stop limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onepark_pay::Channel;
use tokio::sync::oneshot;

/// The name of the sandbox channel's orders (in process, or `[payments] name` of `onepark pay-sandbox`).
pub(crate) const SANDBOX: &str = "sandbox";

/// The channel and the money rules, shared by the uplink, the notify
/// endpoint, the driver pages and the recovery job.
pub struct Payments {
    pub(crate) channel: Arc<dyn Channel>,
    /// The in-process sandbox (when it is the channel): its test API is mounted at `/sandbox`.
    pub sandbox: Option<onepark_pay::sandbox::Sandbox>,
    pub(crate) timeout: Duration,
    pub(crate) prevent: bool,
    pub(crate) money_limit: i64,
    /// Fee queries waiting for their uploadFee, by requestId.
    pub(crate) waiters: Mutex<HashMap<i64, oneshot::Sender<()>>>,
}

impl Payments {
    pub fn new(config: &crate::config::Payments, zone: onepark_domain::time::Zone) -> Payments {
        let (channel, sandbox): (Arc<dyn Channel>, _) = match &config.channel {
            crate::config::ChannelKind::Off => {
                tracing::info!("online payment is off: no [payments] channel is configured");
                (Arc::new(onepark_pay::Disabled), None)
            }
            crate::config::ChannelKind::Sandbox => {
                tracing::warn!(
                    "PAYMENT SANDBOX: drivers pay with play money and every lot is told they paid; \
                     for demos and tests only, never in production ([payments] channel = \"sandbox\")"
                );
                let key = config.key.clone().unwrap_or_else(|| {
                    let mut bytes = [0u8; 16];
                    let _ = openssl::rand::rand_bytes(&mut bytes);
                    bytes.iter().map(|b| format!("{b:02x}")).collect()
                });
                let sandbox = onepark_pay::sandbox::Sandbox::new(key.as_bytes(), zone);
                (Arc::new(sandbox.clone()), Some(sandbox))
            }
            crate::config::ChannelKind::Http { url, name } => {
                let key = config.key.clone().unwrap_or_default();
                let channel = onepark_pay::http::HttpChannel::new(url, key.as_bytes(), config.timeout).named(name);
                if name == SANDBOX {
                    tracing::warn!(
                        url,
                        "PAYMENT SANDBOX over HTTP (onepark pay-sandbox): play money; never in production"
                    );
                } else {
                    tracing::info!(url, name, "payment channel");
                }
                (Arc::new(channel), None)
            }
        };
        Payments {
            channel,
            sandbox,
            timeout: config.timeout,
            prevent: config.arrears_prevent,
            money_limit: config.money_limit,
            waiters: Mutex::default(),
        }
    }

    pub fn channel(&self) -> &dyn Channel {
        self.channel.as_ref()
    }

    /// Whether drivers can pay online at all (a channel is configured).
    pub fn enabled(&self) -> bool {
        self.channel.name() != onepark_pay::Disabled.name()
    }

    /// Whether the channel is the sandbox (play money) — in this process or
    /// `onepark pay-sandbox` named so — : every page it touches says so.
    pub fn play_money(&self) -> bool {
        self.channel.name() == SANDBOX
    }

    pub fn money_limit(&self) -> i64 {
        self.money_limit
    }

    pub(crate) fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<i64, oneshot::Sender<()>>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }
}
