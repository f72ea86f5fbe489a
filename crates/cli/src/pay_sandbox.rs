//! `onepark pay-sandbox`: the sandbox payment channel as its own HTTP
//! service, so the platform's charges and the channel's notifications really
//! cross a socket (`[payments] channel = "http"` on the platform). Play
//! money, for tests and demos: it says so, and it listens on this machine
//! only unless told otherwise.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use onepark_pay::sandbox::{Behaviour, NotifyMode, Sandbox};

#[derive(clap::Args)]
pub struct Options {
    /// Where the channel's API listens (loopback only, unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8095")]
    listen: String,
    /// Listen on an address other machines can reach. The sandbox approves
    /// payments with play money: a platform that can reach it lets cars out unpaid.
    #[arg(long)]
    allow_remote: bool,
    /// The platform's notification endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8080/api/pay/notify")]
    notify_url: String,
    /// Shared key (the platform's `[payments] key`): signs notifications, authenticates calls.
    #[arg(long, env = "ONEPARK_PAY_KEY")]
    key: String,
    /// Latency of every answer, ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// How notifications come: once, twice, early (before the answer), late, none.
    #[arg(long, default_value = "once")]
    notify: String,
    /// Balance of accounts opened by a sign-up, fen.
    #[arg(long, default_value_t = 100_000)]
    opening_balance: i64,
}

pub fn run(o: Options) -> Result<ExitCode> {
    if o.key.len() < 16 {
        bail!("--key: at least 16 characters (the platform's [payments] key)");
    }
    let notify = match o.notify.as_str() {
        "once" => NotifyMode::Once,
        "twice" => NotifyMode::Twice,
        "early" => NotifyMode::Early,
        "late" => NotifyMode::Late,
        "none" => NotifyMode::None,
        other => bail!("--notify: `{other}` is not once, twice, early, late or none"),
    };
    let address: std::net::SocketAddr =
        o.listen.parse().with_context(|| format!("--listen: `{}` is not an IP address and port", o.listen))?;
    if !address.ip().is_loopback() && !o.allow_remote {
        bail!(
            "--listen {}: the sandbox pays with play money and listens on this machine only (127.0.0.1 or [::1]); \
             add --allow-remote to listen where other machines can reach it",
            o.listen
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async {
        let sandbox = Sandbox::new(o.key.as_bytes(), onepark_domain::time::Zone::default());
        sandbox.set_behaviour(Behaviour {
            latency_ms: o.latency_ms,
            notify,
            opening_balance: o.opening_balance,
            ..Behaviour::default()
        });
        sandbox.set_notifier(onepark_pay::http::post_notifier(o.notify_url.clone()));
        let listener =
            tokio::net::TcpListener::bind(&o.listen).await.with_context(|| format!("cannot listen on {}", o.listen))?;
        eprintln!("pay-sandbox: A TEST PAYMENT CHANNEL. It approves payments with play money; never point a");
        eprintln!("            production platform at it. 测试用支付渠道：虚拟资金，切勿用于生产环境。");
        eprintln!("            Name it on the platform: [payments] channel = \"http\", name = \"sandbox\".");
        eprintln!("pay-sandbox listening on http://{} (notifications to {})", listener.local_addr()?, o.notify_url);
        let app = onepark_pay::http::router(sandbox);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let limits = onepark_serve::Limits::default();
        onepark_serve::serve(listener, app, limits, Default::default(), shutdown).await;
        Ok(ExitCode::SUCCESS)
    })
}
