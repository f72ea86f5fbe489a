//! `onepark pay-sandbox`: the sandbox payment channel as its own HTTP
//! service, so the platform's charges and the channel's notifications really
//! cross a socket (`[payments] channel = "http"` on the platform).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use onepark_pay::sandbox::{Behaviour, NotifyMode, Sandbox};

#[derive(clap::Args)]
pub struct Options {
    /// Where the channel's API listens.
    #[arg(long, default_value = "127.0.0.1:8095")]
    listen: String,
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
