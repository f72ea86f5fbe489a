//! Platform configuration: a TOML file, overridden by `ONEPARK_*` variables.
//!
//! Errors name the key and the file, so an operator can fix them at once.

use std::path::{Path, PathBuf};

use onepark_domain::time::Zone;
use onepark_proto::{PrivateKey, Profile, PublicKey};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), message: message.into() }
}

/// The file as written; every field has a default so an empty file works.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<String>,
    database: Option<String>,
    timezone: Option<String>,
    path_prefix: Option<String>,
    photo_dir: Option<PathBuf>,
    body_limit_bytes: Option<usize>,
    admin_token: Option<String>,
    mqtt_url: Option<String>,
    mqtt_listen: Option<String>,
    downlink_retry_hours: Option<u64>,
    metrics_listen: Option<String>,
    metrics_token: Option<String>,
    public_url: Option<String>,
    node_name: Option<String>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    keys: RawKeys,
    #[serde(default)]
    lots: Vec<RawLot>,
    #[serde(default)]
    payments: RawPayments,
    #[serde(default)]
    dashboard: RawDashboard,
    #[serde(default)]
    cloudpark: RawCloudpark,
    #[serde(default)]
    bolink: RawBolink,
}

/// `[bolink]`: Bolink charging systems' SDK connections (docs/bolink.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBolink {
    listen: Option<String>,
    max_line_bytes: Option<usize>,
    max_connections: Option<usize>,
    messages_per_10s: Option<usize>,
}

/// Where Bolink SDKs connect, and the bounds of their connections.
#[derive(Clone, Debug)]
pub struct Bolink {
    /// The TCP listener (the vendor's port is 6789); `None`: off (the default).
    pub listen: Option<String>,
    /// The longest line read (the vendor's server: 1 KiB; onepark 1 MiB, for pictures).
    pub max_line: usize,
    /// Open TCP connections at once; more are closed on accept.
    pub max_connections: usize,
    /// Messages a login may send in 10 s before `request_over_times` (the vendor's 100).
    pub messages_per_10s: usize,
}

impl Default for Bolink {
    fn default() -> Bolink {
        Bolink {
            listen: None,
            // Pictures (2.12) travel as Base64 in one line: the vendor keeps
            // 150 KB, onepark 512 KiB; 64 KiB (the wire's default) would refuse them.
            max_line: 1024 * 1024,
            max_connections: 10_000,
            messages_per_10s: 100,
        }
    }
}

impl Bolink {
    /// The bounds of each login's session.
    pub fn session(&self) -> onepark_bolink::session::Config {
        onepark_bolink::session::Config {
            max_line: self.max_line,
            rate_max: self.messages_per_10s,
            ..Default::default()
        }
    }
}

/// `[cloudpark]`: the parking cloud's MQ channel (docs/cloudpark.md, "The MQ channel").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCloudpark {
    command_topic: Option<String>,
    report_topic: Option<String>,
}

/// `[dashboard]`: the operator pages' session cookie.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDashboard {
    secure_cookie: Option<bool>,
}

/// The operator pages (docs/operations.md, "Dashboard").
#[derive(Clone, Debug, Default)]
pub struct Dashboard {
    /// Mark the session cookie `Secure` always (the platform is reached over
    /// HTTPS through a proxy that does not say so); it is also `Secure` on
    /// any request with `X-Forwarded-Proto: https`.
    pub secure_cookie: bool,
}

/// `[payments]`: the payment channel and the money rules (docs/payments.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayments {
    channel: Option<String>,
    name: Option<String>,
    url: Option<String>,
    key: Option<String>,
    timeout_ms: Option<u64>,
    arrears_prevent: Option<bool>,
    money_limit: Option<i64>,
}

/// Which payment channel charges drivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// None configured (the default): online payment is off.
    Off,
    /// The sandbox in this process: play money, for demos and tests only
    /// (announced at start and on every driver page).
    Sandbox,
    /// A channel service over HTTP (`onepark pay-sandbox`, or an adapter of the
    /// same API), its orders stored under `name` (`sandbox`: play money, announced).
    Http { url: String, name: String },
}

#[derive(Clone, Debug)]
pub struct Payments {
    pub channel: ChannelKind,
    /// Signs notifications and authenticates calls; random per start for the in-process sandbox.
    pub key: Option<String>,
    /// A charge's synchronous wait before the platform answers "unknown" (below the lot's 1.5 s).
    pub timeout: std::time::Duration,
    /// overDueResult says prevent=1 (hold the car until paid).
    pub arrears_prevent: bool,
    /// moneyLimit of a new pay-after-leave sign-up, fen.
    pub money_limit: i64,
}

impl Default for Payments {
    fn default() -> Self {
        Payments {
            channel: ChannelKind::Off,
            key: None,
            timeout: std::time::Duration::from_millis(1000),
            arrears_prevent: true,
            money_limit: 20_000,
        }
    }
}

impl RawPayments {
    fn build(self) -> Result<Payments, ConfigError> {
        let d = Payments::default();
        let channel = match (self.channel.as_deref().unwrap_or("off"), self.url) {
            ("off", None) => ChannelKind::Off,
            ("sandbox", None) => ChannelKind::Sandbox,
            ("off", Some(_)) => return Err(invalid("payments.url", "only with channel = \"http\"")),
            ("sandbox", Some(_)) => return Err(invalid("payments.url", "only with channel = \"http\"")),
            ("http", Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
                let name = self.name.unwrap_or_else(|| "http".into());
                if name.is_empty() || name.len() > 32 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(invalid("payments.name", "1 to 32 letters, digits or _ (e.g. wechat, sandbox)"));
                }
                ChannelKind::Http { url, name }
            }
            ("http", _) => return Err(invalid("payments.url", "channel = \"http\" needs url = \"http://host:port\"")),
            (other, _) => return Err(invalid("payments.channel", format!("`{other}` is not off, sandbox or http"))),
        };
        if matches!(channel, ChannelKind::Http { .. }) && self.key.as_deref().is_none_or(|k| k.len() < 16) {
            return Err(invalid("payments.key", "an HTTP channel needs a shared key of at least 16 characters"));
        }
        let timeout_ms = self.timeout_ms.unwrap_or(1000);
        if !(50..=30_000).contains(&timeout_ms) {
            return Err(invalid("payments.timeout_ms", "must be between 50 and 30000"));
        }
        let money_limit = self.money_limit.unwrap_or(d.money_limit);
        if !(0..=onepark_domain::money::MAX_FEN).contains(&money_limit) {
            return Err(invalid("payments.money_limit", "fen, between 0 and 1000000000"));
        }
        Ok(Payments {
            channel,
            key: self.key,
            timeout: std::time::Duration::from_millis(timeout_ms),
            arrears_prevent: self.arrears_prevent.unwrap_or(d.arrears_prevent),
            money_limit,
        })
    }
}

/// `[limits]`: every bound an operator may tune (docs/operations.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    trusted_proxies: Vec<String>,
    future_skew_secs: Option<u64>,
    past_days: Option<u64>,
    upload_time_window_secs: Option<u64>,
    replay_cache: Option<usize>,
    photos_per_minute: Option<u32>,
    fee_queries_per_minute: Option<u32>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    mqtt_max_nodes: Option<usize>,
    mqtt_max_sessions: Option<usize>,
    mqtt_session_expiry_secs: Option<u64>,
    mqtt_max_queue: Option<usize>,
    mqtt_max_keepalive_secs: Option<u16>,
    mqtt_connect_timeout_secs: Option<u64>,
    mqtt_max_pending: Option<usize>,
    mqtt_max_pending_per_ip: Option<usize>,
    mqtt_max_connections: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    private_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLot {
    access_id: String,
    public_key: String,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    parking_codes: Vec<String>,
}

/// A lot (access system) allowed to report: its login, the parking codes it
/// may report for, and what its protocol needs to know it by.
#[derive(Clone, Debug)]
pub struct LotAccess {
    pub access_id: String,
    pub parking_codes: Vec<String>,
    pub link: LotLink,
}

/// A lot's registration with its protocol's link.
#[derive(Clone, Debug)]
pub enum LotLink {
    /// The Qingdao interface: the lot's RSA public key and envelope profile.
    Qdpark { public_key: PublicKey, profile: Profile },
    /// The parking cloud's API and MQ channel: the lot's pid (its secret is
    /// the principal's, read where a request is verified).
    Cloudpark { pid: String },
    /// Bolink's SDK wire: the key the lot's SDK signs with (its `park_id`
    /// is the access id, its one parking code the city's code for it).
    Bolink { key: String, berths: i64 },
}

impl LotAccess {
    /// A lot speaking the Qingdao interface.
    pub fn qdpark(access_id: &str, public_key: PublicKey, profile: Profile, parking_codes: Vec<String>) -> LotAccess {
        LotAccess { access_id: access_id.to_owned(), parking_codes, link: LotLink::Qdpark { public_key, profile } }
    }

    /// A lot speaking the parking cloud's protocol (a `lot` principal).
    pub fn cloudpark(pid: &str, parking_codes: Vec<String>) -> LotAccess {
        LotAccess { access_id: pid.to_owned(), parking_codes, link: LotLink::Cloudpark { pid: pid.to_owned() } }
    }

    /// A lot speaking Bolink's SDK wire: `park_id`, its key and the city's code for it.
    pub fn bolink(park_id: &str, key: &str, parking_code: &str, berths: i64) -> LotAccess {
        LotAccess {
            access_id: park_id.to_owned(),
            parking_codes: vec![parking_code.to_owned()],
            link: LotLink::Bolink { key: key.to_owned(), berths },
        }
    }

    pub fn protocol(&self) -> onepark_domain::record::Protocol {
        match self.link {
            LotLink::Qdpark { .. } => onepark_domain::record::Protocol::Qdpark,
            LotLink::Cloudpark { .. } => onepark_domain::record::Protocol::Cloudpark,
            LotLink::Bolink { .. } => onepark_domain::record::Protocol::Bolink,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    pub database: String,
    pub zone: Zone,
    pub path_prefix: String,
    pub photo_dir: PathBuf,
    pub body_limit_bytes: usize,
    pub private_key: Option<PrivateKey>,
    pub lots: Vec<LotAccess>,
    /// Bearer token of the admin API; the API is closed without one.
    pub admin_token: Option<String>,
    /// An external MQTT broker for downlinks (`mqtt://[user:password@]host:port`);
    /// without one the embedded broker serves on `mqtt_listen`.
    pub mqtt_url: Option<String>,
    /// Where the embedded broker listens (not 1883, which an external broker
    /// may hold); `None` when switched off with `mqtt_listen = "off"`.
    pub mqtt_listen: Option<String>,
    /// How long an unconfirmed downlink is retried before it expires.
    pub downlink_retry: chrono::Duration,
    /// Serve `/metrics` on this address instead of `listen`.
    pub metrics_listen: Option<String>,
    /// Bearer token `/metrics` requires, when set.
    pub metrics_token: Option<String>,
    /// How drivers reach the platform (`https://park.example.com`): the lot
    /// QR codes (cloud API 7.1) encode pages under it. Default: `http://{listen}`.
    pub public_url: String,
    pub limits: Limits,
    pub payments: Payments,
    pub dashboard: Dashboard,
    /// The cloud's MQ topics (`tcp/{parkCode}` and `pts/{parkCode}` by default).
    pub cloud_topics: onepark_cloudpark::channel::Topics,
    pub bolink: Bolink,
    /// This node's name among those sharing the database (default: host:port).
    pub node_name: String,
}

/// The bounds of the platform's front doors; see docs/operations.md.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Event times ahead of the platform's clock by more than this are refused.
    pub future_skew: chrono::Duration,
    /// Event times older than this are stored as a data-quality finding.
    pub past: chrono::Duration,
    /// `uploadTime` must lie within now ± this (replays, wrong clocks); `None`: off.
    pub upload_time_window: Option<chrono::Duration>,
    /// Signatures of answered requests remembered per window (exact replays).
    pub replay_cache: usize,
    /// uploadPhoto per accessID per minute (0: unlimited).
    pub photos_per_minute: u32,
    /// The driver page's fee queries per client address (each is a downlink, a lot's upload and a row); 0: off.
    pub fee_queries_per_minute: u32,
    pub http: onepark_serve::Limits,
    /// MQTT sessions (nodes `accessID_N`, online or offline) one accessID may hold.
    pub mqtt_max_nodes: usize,
    /// MQTT sessions in all.
    pub mqtt_max_sessions: usize,
    /// How long the embedded broker keeps a disconnected lot's session.
    pub mqtt_session_expiry: std::time::Duration,
    /// Messages queued per MQTT session.
    pub mqtt_max_queue: usize,
    /// The longest keep-alive a lot may ask for (0 = "never" is refused).
    pub mqtt_max_keepalive_secs: u16,
    /// Time for a new MQTT connection's CONNECT packet to arrive.
    pub mqtt_connect_timeout: std::time::Duration,
    /// MQTT connections that have not yet sent their CONNECT, in all.
    pub mqtt_max_pending: usize,
    /// MQTT connections that have not yet sent their CONNECT, from one address.
    pub mqtt_max_pending_per_ip: usize,
    /// MQTT sockets in all (lots online, sessions kept, handshakes); `None`:
    /// `mqtt_max_sessions + mqtt_max_pending`. Either way at most the MQTT
    /// share of the descriptor limit (docs/operations.md).
    pub mqtt_max_connections: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            future_skew: chrono::Duration::minutes(10),
            past: chrono::Duration::days(30),
            upload_time_window: Some(chrono::Duration::minutes(10)),
            replay_cache: 1_000_000,
            photos_per_minute: 6000,
            fee_queries_per_minute: 10,
            http: onepark_serve::Limits::default(),
            mqtt_max_nodes: 4,
            mqtt_max_sessions: 10_000,
            mqtt_session_expiry: std::time::Duration::from_secs(600),
            mqtt_max_queue: 1000,
            mqtt_max_keepalive_secs: 300,
            mqtt_connect_timeout: std::time::Duration::from_secs(10),
            mqtt_max_pending: 1024,
            mqtt_max_pending_per_ip: 64,
            mqtt_max_connections: None,
        }
    }
}

impl RawLimits {
    fn build(self) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        let secs = |v: Option<u64>, key: &str, default: std::time::Duration| match v {
            Some(0) => Err(invalid(format!("limits.{key}"), "must be at least 1")),
            Some(n) => Ok(std::time::Duration::from_secs(n)),
            None => Ok(default),
        };
        let at_least_one = |v: Option<usize>, key: &str, default: usize| match v {
            Some(0) => Err(invalid(format!("limits.{key}"), "must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let http = onepark_serve::Limits {
            max_connections: at_least_one(self.max_connections, "max_connections", d.http.max_connections)?,
            max_per_ip: at_least_one(self.max_connections_per_ip, "max_connections_per_ip", d.http.max_per_ip)?,
            header_timeout: secs(self.header_timeout_secs, "header_timeout_secs", d.http.header_timeout)?,
            body_timeout: secs(self.body_timeout_secs, "body_timeout_secs", d.http.body_timeout)?,
            trusted_proxies: self
                .trusted_proxies
                .iter()
                .enumerate()
                .map(|(i, ip)| {
                    ip.parse().map_err(|_| {
                        invalid(format!("limits.trusted_proxies[{i}]"), format!("`{ip}` is not an IP address"))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let seconds = |s: u64| chrono::Duration::seconds(s.min(i64::MAX as u64 / 1000) as i64);
        Ok(Limits {
            future_skew: self.future_skew_secs.map_or(d.future_skew, seconds),
            past: self.past_days.map_or(d.past, |days| chrono::Duration::days(days.clamp(1, 36_500) as i64)),
            upload_time_window: match self.upload_time_window_secs {
                Some(0) => None,
                Some(s) => Some(seconds(s)),
                None => d.upload_time_window,
            },
            replay_cache: self.replay_cache.unwrap_or(d.replay_cache),
            photos_per_minute: self.photos_per_minute.unwrap_or(d.photos_per_minute),
            fee_queries_per_minute: self.fee_queries_per_minute.unwrap_or(d.fee_queries_per_minute),
            http,
            mqtt_max_nodes: at_least_one(self.mqtt_max_nodes, "mqtt_max_nodes", d.mqtt_max_nodes)?,
            mqtt_max_sessions: at_least_one(self.mqtt_max_sessions, "mqtt_max_sessions", d.mqtt_max_sessions)?,
            mqtt_session_expiry: secs(
                self.mqtt_session_expiry_secs,
                "mqtt_session_expiry_secs",
                d.mqtt_session_expiry,
            )?,
            mqtt_max_queue: at_least_one(self.mqtt_max_queue, "mqtt_max_queue", d.mqtt_max_queue)?,
            mqtt_max_keepalive_secs: match self.mqtt_max_keepalive_secs {
                Some(0) => return Err(invalid("limits.mqtt_max_keepalive_secs", "must be at least 1")),
                Some(n) => n,
                None => d.mqtt_max_keepalive_secs,
            },
            mqtt_connect_timeout: secs(
                self.mqtt_connect_timeout_secs,
                "mqtt_connect_timeout_secs",
                d.mqtt_connect_timeout,
            )?,
            mqtt_max_pending: at_least_one(self.mqtt_max_pending, "mqtt_max_pending", d.mqtt_max_pending)?,
            mqtt_max_pending_per_ip: at_least_one(
                self.mqtt_max_pending_per_ip,
                "mqtt_max_pending_per_ip",
                d.mqtt_max_pending_per_ip,
            )?,
            mqtt_max_connections: match self.mqtt_max_connections {
                Some(0) => return Err(invalid("limits.mqtt_max_connections", "must be at least 1")),
                n => n,
            },
        })
    }
}

pub const DEFAULT_MQTT_LISTEN: &str = "127.0.0.1:1884";

/// Default request body limit: a 512 KiB photo as Base64 (~700 KB) plus the envelope.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

impl Config {
    /// Reads `path` (when given) and applies `ONEPARK_LISTEN`, `ONEPARK_DATABASE`,
    /// `ONEPARK_TIMEZONE`, `ONEPARK_PRIVATE_KEY` from `env`.
    pub fn load(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let raw = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                toml::from_str::<Raw>(&text)
                    .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: toml_error(&text, &e) })?
            }
            None => Raw::default(),
        };
        let base = path.and_then(Path::parent).unwrap_or(Path::new("."));
        Self::build(raw, base, env)
    }

    fn build(raw: Raw, base: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let listen = env("ONEPARK_LISTEN").or(raw.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
        let database = env("ONEPARK_DATABASE").or(raw.database).unwrap_or_else(|| "sqlite://onepark.db".into());
        if !(database.starts_with("sqlite:")
            || database.starts_with("postgres://")
            || database.starts_with("postgresql://"))
        {
            return Err(invalid("database", format!("`{database}` is neither sqlite://FILE nor postgres://…")));
        }
        let database = relative_sqlite(&database, base);
        let zone_name = env("ONEPARK_TIMEZONE").or(raw.timezone).unwrap_or_else(|| "Asia/Shanghai".into());
        let zone =
            zone_name.parse().map_err(|e: onepark_domain::time::TimeError| invalid("timezone", e.to_string()))?;
        let path_prefix = raw.path_prefix.unwrap_or_else(|| "/api/v1/cp".into()).trim_end_matches('/').to_owned();
        if !path_prefix.starts_with('/') {
            return Err(invalid("path_prefix", "must start with `/`"));
        }
        let private_key = env("ONEPARK_PRIVATE_KEY")
            .or(raw.keys.private_key)
            .map(|text| read_key_text(&text, base).and_then(|t| PrivateKey::parse(&t).map_err(|e| e.to_string())))
            .transpose()
            .map_err(|e| invalid("keys.private_key", e))?;
        let mut lots = Vec::new();
        for (i, lot) in raw.lots.into_iter().enumerate() {
            lots.push(lot_access(lot, base).map_err(|(key, message)| invalid(format!("lots[{i}].{key}"), message))?);
        }
        let public_url = env("ONEPARK_PUBLIC_URL")
            .or(raw.public_url)
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| format!("http://{listen}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(invalid("public_url", format!("`{public_url}` is not an http:// or https:// address")));
        }
        let public_url = public_url.trim_end_matches('/').to_owned();
        let node_name = env("ONEPARK_NODE_NAME")
            .or(raw.node_name)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| default_node_name(&listen));
        Ok(Config {
            node_name,
            public_url,
            listen,
            database,
            zone,
            path_prefix,
            photo_dir: base.join(raw.photo_dir.unwrap_or_else(|| "photos".into())),
            body_limit_bytes: raw.body_limit_bytes.unwrap_or(DEFAULT_BODY_LIMIT),
            private_key,
            lots,
            admin_token: env("ONEPARK_ADMIN_TOKEN").or(raw.admin_token).filter(|t| !t.trim().is_empty()),
            mqtt_url: env("ONEPARK_MQTT_URL").or(raw.mqtt_url).filter(|u| !u.trim().is_empty()),
            mqtt_listen: Some(
                env("ONEPARK_MQTT_LISTEN").or(raw.mqtt_listen).unwrap_or_else(|| DEFAULT_MQTT_LISTEN.into()),
            )
            .filter(|l| !l.trim().is_empty() && l.trim() != "off"),
            downlink_retry: chrono::Duration::hours(raw.downlink_retry_hours.unwrap_or(24).clamp(1, 24 * 30) as i64),
            metrics_listen: env("ONEPARK_METRICS_LISTEN").or(raw.metrics_listen).filter(|l| !l.trim().is_empty()),
            metrics_token: env("ONEPARK_METRICS_TOKEN").or(raw.metrics_token).filter(|t| !t.trim().is_empty()),
            limits: raw.limits.build()?,
            payments: raw.payments.build()?,
            cloud_topics: {
                let d = onepark_cloudpark::channel::Topics::default();
                let command = raw.cloudpark.command_topic.unwrap_or_else(|| d.command("{parkCode}"));
                let report = raw.cloudpark.report_topic.unwrap_or_else(|| d.report("{parkCode}"));
                onepark_cloudpark::channel::Topics::new(&command, &report).map_err(|e| invalid("cloudpark", e))?
            },
            dashboard: Dashboard { secure_cookie: raw.dashboard.secure_cookie.unwrap_or(false) },
            bolink: {
                let d = Bolink::default();
                let max_line = raw.bolink.max_line_bytes.unwrap_or(d.max_line);
                if !(1024..=16 * 1024 * 1024).contains(&max_line) {
                    return Err(invalid("bolink.max_line_bytes", "between 1024 and 16777216"));
                }
                Bolink {
                    listen: raw.bolink.listen.filter(|l| l != "off"),
                    max_line,
                    max_connections: raw.bolink.max_connections.unwrap_or(d.max_connections).max(1),
                    messages_per_10s: raw.bolink.messages_per_10s.unwrap_or(d.messages_per_10s).max(1),
                }
            },
        })
    }
}

/// The name a node goes by unless `node_name` says: this host and the port
/// it listens on, so a restarted node takes its own place back.
fn default_node_name(listen: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    let port = listen.rsplit_once(':').map_or(listen, |(_, p)| p);
    format!("{host}:{port}")
}

/// A relative SQLite path is relative to the config file, like `photo_dir`.
fn relative_sqlite(url: &str, base: &Path) -> String {
    let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        return url.to_owned();
    };
    let (path, query) = rest.split_once('?').map_or((rest, None), |(p, q)| (p, Some(q)));
    if path.is_empty() || path == ":memory:" || Path::new(path).is_absolute() {
        return url.to_owned();
    }
    let joined = base.join(path);
    match query {
        Some(q) => format!("sqlite://{}?{q}", joined.display()),
        None => format!("sqlite://{}", joined.display()),
    }
}

fn lot_access(raw: RawLot, base: &Path) -> Result<LotAccess, (&'static str, String)> {
    if raw.access_id.trim().is_empty() || raw.access_id.contains('_') {
        return Err(("access_id", "must be non-empty and without `_` (node suffixes are added by lots)".into()));
    }
    let text = read_key_text(&raw.public_key, base).map_err(|e| ("public_key", e))?;
    let public_key = PublicKey::parse(&text).map_err(|e| ("public_key", e.to_string()))?;
    let profile = raw.profile.as_deref().unwrap_or("qingdao").parse().map_err(|e| ("profile", e))?;
    if raw.parking_codes.is_empty() {
        return Err(("parking_codes", "list at least one parkingCode this accessID may report".into()));
    }
    Ok(LotAccess::qdpark(&raw.access_id, public_key, profile, raw.parking_codes))
}

impl TryFrom<crate::store::StoredLot> for LotAccess {
    type Error = String;
    fn try_from(stored: crate::store::StoredLot) -> Result<Self, Self::Error> {
        match stored.protocol {
            onepark_domain::record::Protocol::Qdpark => {
                let public_key = PublicKey::parse(&stored.public_key).map_err(|e| e.to_string())?;
                Ok(LotAccess::qdpark(&stored.access_id, public_key, stored.profile.parse()?, stored.parking_codes))
            }
            // Lots of the cloud API are pids (`cloud_principals`), never `lot_access` rows.
            onepark_domain::record::Protocol::Cloudpark => {
                Err(format!("lot {} names protocol cloudpark: register it as a pid", stored.access_id))
            }
            onepark_domain::record::Protocol::Bolink => {
                let key = stored.secret.filter(|k| !k.is_empty()).ok_or("a Bolink lot needs its key")?;
                match stored.parking_codes.as_slice() {
                    [code] => Ok(LotAccess::bolink(&stored.access_id, &key, code, stored.berths.unwrap_or(0))),
                    _ => Err(format!("Bolink lot {} needs exactly one parking code", stored.access_id)),
                }
            }
        }
    }
}

/// A TOML error without the quoted line toml adds (it may hold an inline
/// key or a token): its message and line, key-like text hidden.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let line = e.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    let message = onepark_proto::key::redact(e.message());
    match line {
        Some(line) => format!("line {line}: {message}"),
        None => message,
    }
}

/// A key value is inline text (Base64 or PEM) or a path, relative to the config file.
pub fn read_key_text(value: &str, base: &Path) -> Result<String, String> {
    let value = value.trim();
    if value.starts_with("-----BEGIN") || value.len() > 200 {
        return Ok(value.to_owned());
    }
    let path = base.join(value);
    if path.is_file() {
        return std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()));
    }
    // Base64 and PEM have no `.`; a path to a key file usually does.
    if value.contains('.') {
        // Shown redacted: a mistyped inline key is not a path to print.
        return Err(format!("key file {} not found", onepark_proto::key::redact(&path.display().to_string())));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let raw: Raw =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: "t".into(), message: toml_error(text, &e) })?;
        Config::build(raw, Path::new("."), |k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn empty_file_gives_embedded_defaults() {
        let c = parse("", &[]).expect("defaults");
        assert_eq!((c.listen.as_str(), c.database.as_str()), ("127.0.0.1:8080", "sqlite://./onepark.db"));
        assert_eq!(
            relative_sqlite("sqlite://x.db?mode=rwc", Path::new("/etc/onepark")),
            "sqlite:///etc/onepark/x.db?mode=rwc"
        );
        assert_eq!(relative_sqlite("sqlite:///var/x.db", Path::new("/etc")), "sqlite:///var/x.db");
        assert_eq!(c.zone.name(), "Asia/Shanghai");
        assert_eq!(c.path_prefix, "/api/v1/cp");
        // A node's name: this host and its port, unless `node_name` says.
        assert!(c.node_name.ends_with(":8080"), "{}", c.node_name);
        assert!(default_node_name("[::1]:9000").ends_with(":9000"));
        assert_eq!(parse("node_name = \"a\"", &[]).expect("named").node_name, "a");
    }

    #[test]
    fn env_overrides_file() {
        let c = parse("listen = \"0.0.0.0:1\"", &[("ONEPARK_LISTEN", "127.0.0.1:9")]).expect("env");
        assert_eq!(c.listen, "127.0.0.1:9");
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("timezone = \"Mars/Base\"", &[]).expect_err("bad zone").to_string();
        assert!(e.starts_with("timezone:"), "{e}");
        let e = parse("[[lots]]\naccess_id = \"234\"\npublic_key = \"nope\"\nparking_codes = [\"1\"]", &[])
            .expect_err("bad key")
            .to_string();
        assert!(e.starts_with("lots[0].public_key:"), "{e}");
        let e = parse("listn = \"x\"", &[]).expect_err("typo").to_string();
        assert!(e.contains("unknown field `listn`"), "{e}");
        let e = parse("database = \"mysql://x\"", &[]).expect_err("db").to_string();
        assert!(e.starts_with("database:"), "{e}");
        let e = parse("[limits]\nheader_timeout_secs = 0", &[]).expect_err("zero").to_string();
        assert!(e.starts_with("limits.header_timeout_secs:"), "{e}");
    }

    /// A config error never prints an inline private key (it used to print
    /// the whole TOML line, or the key as a "file not found" path).
    #[test]
    fn errors_never_echo_an_inline_key() {
        let key = std::fs::read_to_string("../proto/tests/interop/keys/platform_private.b64").expect("test key");
        let key = key.trim();
        let secret = &key[200..260];
        let cases = [
            // A typo in the key's name: toml quotes the line.
            format!("[keys]\nprivat_key = \"{key}\"\n"),
            // A value toml cannot read (a line break inside a basic string).
            format!("[keys]\nprivate_key = \"{}\n{}\"\n", &key[..300], &key[300..]),
            // Inline text with a `.` taken for a file name.
            format!("[keys]\nprivate_key = \"{}.{}\"\n", &key[..150], &key[150..190]),
            // A key where a number belongs.
            format!("[limits]\nmqtt_max_nodes = \"{key}\"\n"),
        ];
        for text in cases {
            let e = parse(&text, &[]).expect_err("refused").to_string();
            assert!(!e.contains(secret) && !e.contains(&key[..40]), "{e}");
            assert!(e.contains("line 2") || e.contains("keys.private_key"), "the error still says where: {e}");
        }
    }

    #[test]
    fn limits_default_and_override() {
        let c = parse("", &[]).expect("defaults");
        assert_eq!(c.limits.upload_time_window, Some(chrono::Duration::minutes(10)));
        assert_eq!(c.limits.mqtt_max_nodes, 4);
        let c = parse("[limits]\nupload_time_window_secs = 0\nmqtt_max_nodes = 2\nmax_connections = 7", &[])
            .expect("limits");
        assert_eq!((c.limits.upload_time_window, c.limits.mqtt_max_nodes), (None, 2));
        assert_eq!(c.limits.http.max_connections, 7);
        let c = parse("[limits]\nmqtt_connect_timeout_secs = 3\nmqtt_max_pending_per_ip = 8", &[]).expect("mqtt");
        assert_eq!(c.limits.mqtt_connect_timeout, std::time::Duration::from_secs(3));
        assert_eq!((c.limits.mqtt_max_pending_per_ip, c.limits.mqtt_max_connections), (8, None));
        let e = parse("[limits]\nmqtt_max_connections = 0", &[]).expect_err("zero");
        assert!(e.to_string().contains("limits.mqtt_max_connections"), "{e}");
    }
}
