//! The lot gateway's configuration (TOML). Errors name the key.

use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use onepark_domain::money::Fen;
use onepark_domain::tariff::{Night, Rule, Tariff};
use onepark_domain::time::Zone;
use onepark_proto::dict::{BuildType, LotType, ParkingLocate, ParkingPattern, PriceType};
use onepark_proto::interface::Uplink;
use onepark_proto::key::redact;
use onepark_proto::msg::record::ParkingInfo;
use onepark_proto::wire::Time;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    parking_code: String,
    name: Option<String>,
    listen: Option<String>,
    hosts: Option<Vec<String>>,
    database: Option<String>,
    timezone: Option<String>,
    berths: Berths,
    lanes: Vec<RawLane>,
    #[serde(default)]
    tariff: RawTariff,
    platform: Option<RawPlatform>,
    cloudpark: Option<RawCloudpark>,
    bolink: Option<RawBolink>,
    info: Option<RawInfo>,
    auth: Option<RawAuth>,
    #[serde(default)]
    payments: RawPayments,
}

/// `[payments]`: how the exit uses the platform's payment interfaces (docs/payments.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayments {
    no_stop: Option<bool>,
    wait_ms: Option<u64>,
    grace_minutes: Option<u64>,
    after_leave: Option<bool>,
    arrears_hold: Option<bool>,
}

/// The exit's use of online payment.
#[derive(Clone, Debug)]
pub struct Payments {
    /// Ask the platform to deduct the fee (applyPayment) before the booth collects.
    pub no_stop: bool,
    /// How long the barrier waits for applyPayment (then getPayResult, then the booth).
    pub wait: std::time::Duration,
    /// After a prepayment the car leaves free for this long; then only the difference is due.
    pub grace: chrono::Duration,
    /// Let signed-up cars leave first and settle afterwards (departurePayInfo, D-32).
    pub after_leave: bool,
    /// Hold a car at the exit when the platform says prevent=1 (overDueResult).
    pub arrears_hold: bool,
}

impl Default for Payments {
    fn default() -> Self {
        Payments {
            no_stop: true,
            wait: std::time::Duration::from_millis(1500),
            grace: chrono::Duration::minutes(15),
            after_leave: true,
            arrears_hold: true,
        }
    }
}

/// `[auth]`: device tokens and staff accounts (see `auth`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(default)]
    devices: Vec<RawDevice>,
    #[serde(default)]
    staff: Vec<RawStaff>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    name: String,
    token: String,
    #[serde(default)]
    lanes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaff {
    user: String,
    password: String,
}

/// The lot's basic information for uploadParkingInfo (§5.3.1); berth
/// counts come from `[berths]`, the name from `name`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInfo {
    address: String,
    region_code: String,
    area_code: String,
    #[serde(default = "one")]
    price_type: i64,
    fee_scale: String,
    #[serde(default = "all_day")]
    open_time: String,
    #[serde(default = "one")]
    parking_locate: i64,
    /// 停车场类型: 1 attached, 2 public, 3 on-road
    #[serde(default = "two")]
    lot_type: i64,
    parking_pattern: Option<i64>,
    build_type: Option<i64>,
    attached_type: Option<String>,
    inroad_fees_type: Option<String>,
    bmap_x: String,
    bmap_y: String,
    gmap_x: String,
    gmap_y: String,
    x: Option<String>,
    y: Option<String>,
}

fn one() -> i64 {
    1
}

fn two() -> i64 {
    2
}

fn all_day() -> String {
    "00:00-23:59".into()
}

/// Berth counts (spec: total, open to the public, monthly, …).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Berths {
    pub total: i64,
    /// Open to temporary parkers (total minus monthly and reserved).
    pub open: i64,
    #[serde(default)]
    pub monthly: i64,
    #[serde(default)]
    pub visitor: i64,
    #[serde(default)]
    pub charging: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLane {
    id: String,
    direction: String,
    /// Who may use the lane: "temporary", "monthly" (default both).
    allow: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTariff {
    #[serde(flatten)]
    default: RawRule,
    #[serde(default)]
    car_types: Vec<RawCarType>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCarType {
    car_type: i64,
    #[serde(flatten)]
    rule: RawRule,
}

#[derive(Debug, Default, Deserialize)]
struct RawRule {
    free_minutes: Option<u32>,
    free_deducted: Option<bool>,
    first_period_minutes: Option<u32>,
    first_period_price: Option<i64>,
    period_minutes: Option<u32>,
    /// fen per period
    price: Option<i64>,
    night_start: Option<String>,
    night_end: Option<String>,
    night_price: Option<i64>,
    /// fen per 24-hour cycle
    cycle_cap: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    url: String,
    access_id: String,
    node: Option<u32>,
    private_key: PathBuf,
    platform_public_key: PathBuf,
    profile: Option<String>,
    mqtt_url: Option<String>,
    mqtt_password: Option<String>,
    /// Uploads in flight at once (different sessions; one session's records stay in order).
    concurrency: Option<usize>,
}

/// `[bolink]`: a cloud speaking Bolink's SDK wire, beside the others (docs/bolink.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBolink {
    /// `host:port` of the cloud's TCP door; or
    address: Option<String>,
    /// the base URL of its HTTP mode (`/bpd/upload.do`, `/bpd/download.do`).
    url: Option<String>,
    park_id: String,
    local_id: Option<String>,
    key: String,
    marker: Option<String>,
    heartbeat_seconds: Option<u64>,
    card_sync_seconds: Option<u64>,
}

/// How the lot reaches its Bolink cloud.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BolinkTransport {
    /// One TCP connection, newline-framed JSON, heartbeats.
    Tcp(String),
    /// The HTTP mode: an upload per message, a long poll for the cloud's.
    Http(String),
}

/// The lot's link to a cloud speaking Bolink's SDK wire: it reports its
/// entries and exits there, pages the cloud's month cards into its own,
/// and lets in the no-plate cars the cloud sends (`nolicence_in_park`).
#[derive(Clone, Debug)]
pub struct BolinkLink {
    pub transport: BolinkTransport,
    pub park_id: String,
    pub local_id: Option<String>,
    pub key: String,
    /// Put before a no-plate car's `car_number` (the seed: `无` or `临`); never truncated.
    pub marker: String,
    pub heartbeat: std::time::Duration,
    /// How often the month cards are paged (also at every login).
    pub card_sync: std::time::Duration,
}

fn bolink_link(b: RawBolink) -> Result<BolinkLink, ConfigError> {
    let transport = match (b.address, b.url) {
        (Some(a), None)
            if a.parse::<std::net::SocketAddr>().is_ok()
                || a.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) =>
        {
            BolinkTransport::Tcp(a)
        }
        (Some(_), None) => return Err(invalid("bolink.address", "host:port of the cloud's TCP door")),
        (None, Some(u)) if u.starts_with("http://") || u.starts_with("https://") => {
            BolinkTransport::Http(u.trim_end_matches('/').to_owned())
        }
        (None, Some(_)) => return Err(invalid("bolink.url", "must be an http:// or https:// address")),
        _ => return Err(invalid("bolink", "set address (TCP) or url (HTTP mode), one of them")),
    };
    if b.park_id.is_empty() || b.park_id.chars().count() > 24 {
        return Err(invalid("bolink.park_id", "1 to 24 characters"));
    }
    if b.key.len() < 6 {
        return Err(invalid("bolink.key", "at least 6 characters"));
    }
    let marker = b.marker.unwrap_or_else(|| "无".into());
    if marker.chars().count() > 2 || marker.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("bolink.marker", "at most 2 characters, e.g. 无 or 临 (empty: none)"));
    }
    let heartbeat = b.heartbeat_seconds.unwrap_or(20);
    if !(5..=60).contains(&heartbeat) {
        return Err(invalid("bolink.heartbeat_seconds", "between 5 and 60 (the cloud closes a line silent for 120 s)"));
    }
    let card_sync = b.card_sync_seconds.unwrap_or(300);
    if !(10..=86_400).contains(&card_sync) {
        return Err(invalid("bolink.card_sync_seconds", "between 10 and 86400"));
    }
    Ok(BolinkLink {
        transport,
        park_id: b.park_id,
        local_id: b.local_id.filter(|l| !l.is_empty()),
        key: b.key,
        marker,
        heartbeat: std::time::Duration::from_secs(heartbeat),
        card_sync: std::time::Duration::from_secs(card_sync),
    })
}

/// `[cloudpark]`: a parking cloud's open API, spoken beside the platform (docs/cloudpark.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCloudpark {
    url: String,
    pid: String,
    secret: String,
    pull_seconds: Option<u64>,
    lane: Option<String>,
    /// The cloud's MQ broker (commands in, reports out); absent: HTTP only.
    mqtt_url: Option<String>,
    /// The MQTT client id: a park code, alone or followed by `_…` (default `{parkCode}_onepark`).
    client_id: Option<String>,
    command_topic: Option<String>,
    report_topic: Option<String>,
}

/// The lot's link to a parking cloud: it reports its entries and exits
/// there, pulls the cars and fixed cars the cloud put into it, and reports
/// them applied.
#[derive(Clone, Debug)]
pub struct CloudLink {
    /// The cloud's address; `/cloudparkapi/api/{serviceName}` is appended.
    pub url: String,
    pub pid: String,
    pub secret: String,
    /// How often it pulls (also on start and after an outage).
    pub pull: std::time::Duration,
    /// The entry lane a pulled car is recorded at.
    pub lane: String,
    /// The MQ channel, when `mqtt_url` is set.
    pub mq: Option<CloudMq>,
}

/// The cloud's MQ channel as the lot speaks it (docs/cloudpark.md, "The MQ channel").
#[derive(Clone, Debug)]
pub struct CloudMq {
    /// `mqtt://host:port`; a login in the URL is used as given (a broker
    /// with a password file), else a fresh signed one per connect.
    pub url: String,
    pub client_id: String,
    pub topics: onepark_cloudpark::channel::Topics,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Entry,
    Exit,
}

#[derive(Clone, Debug)]
pub struct Lane {
    pub id: String,
    pub direction: Direction,
    pub temporary: bool,
    pub monthly: bool,
}

#[derive(Clone, Debug)]
pub struct PlatformLink {
    /// e.g. `http://platform:8080/api/v1/cp`
    pub url: String,
    pub access_id: String,
    pub node: Option<u32>,
    pub private_key: PrivateKey,
    pub platform_public_key: PublicKey,
    pub profile: Profile,
    pub mqtt_url: Option<String>,
    pub mqtt_password: Option<String>,
    pub concurrency: usize,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub parking_code: String,
    pub name: String,
    pub listen: String,
    /// Host names a request may name besides IP literals and `localhost`
    /// (`hosts`, plus `listen`'s when it is a name): lower case, no trailing dot.
    pub hosts: Vec<String>,
    pub database: String,
    pub zone: Zone,
    pub berths: Berths,
    pub lanes: Vec<Lane>,
    pub tariff: Tariff,
    /// `[platform]`: the Qingdao city platform, when the lot speaks to one.
    pub platform: Option<PlatformLink>,
    /// `[cloudpark]`, when the lot speaks a parking cloud's API (beside or
    /// instead of `[platform]`).
    pub cloudpark: Option<CloudLink>,
    /// `[bolink]`, when the lot speaks Bolink's SDK wire to a cloud.
    pub bolink: Option<BolinkLink>,
    /// uploadParkingInfo as configured (its uploadTime is set when sent).
    pub info: Option<ParkingInfo>,
    /// Who may use the API; `None`: this machine only.
    pub auth: Option<AuthConfig>,
    pub payments: Payments,
}

/// A TOML error without the quoted line toml adds (it may hold key text or
/// a token): its message and line, key-like text hidden.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let line = e.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    match line {
        Some(line) => format!("line {line}: {}", redact(e.message())),
        None => redact(e.message()),
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let raw: Raw = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: toml_error(&text, &e) })?;
        Self::build(raw, path.parent().unwrap_or(Path::new(".")))
    }

    fn build(raw: Raw, base: &Path) -> Result<Config, ConfigError> {
        if raw.parking_code.trim().is_empty() {
            return Err(invalid("parking_code", "must not be empty"));
        }
        if raw.berths.open > raw.berths.total || raw.berths.open < 0 {
            return Err(invalid("berths.open", "must be between 0 and berths.total"));
        }
        let mut lanes = Vec::new();
        for (i, lane) in raw.lanes.into_iter().enumerate() {
            let direction = match lane.direction.as_str() {
                "entry" => Direction::Entry,
                "exit" => Direction::Exit,
                other => {
                    return Err(invalid(format!("lanes[{i}].direction"), format!("`{other}` is not entry or exit")));
                }
            };
            let allow = lane.allow.unwrap_or_else(|| vec!["temporary".into(), "monthly".into()]);
            if let Some(other) = allow.iter().find(|a| !matches!(a.as_str(), "temporary" | "monthly")) {
                return Err(invalid(format!("lanes[{i}].allow"), format!("`{other}` is not temporary or monthly")));
            }
            let has = |class: &str| allow.iter().any(|a| a == class);
            lanes.push(Lane { id: lane.id, direction, temporary: has("temporary"), monthly: has("monthly") });
        }
        let b = &raw.berths;
        if b.monthly < 0 || b.visitor < 0 || b.charging < 0 || b.open + b.monthly + b.visitor > b.total {
            return Err(invalid("berths", "open + monthly + visitor must not exceed total, none negative"));
        }
        let default = rule(raw.tariff.default, "tariff")?;
        let mut by_car_type = Vec::new();
        for (i, c) in raw.tariff.car_types.into_iter().enumerate() {
            by_car_type.push((c.car_type, rule(c.rule, &format!("tariff.car_types[{i}]"))?));
        }
        let platform = raw.platform.map(|p| platform_link(p, base)).transpose()?;
        if platform.is_none() && raw.cloudpark.is_none() && raw.bolink.is_none() {
            return Err(invalid("platform", "configure [platform] (Qingdao), [cloudpark], [bolink], or several"));
        }
        let zone = raw
            .timezone
            .as_deref()
            .unwrap_or("Asia/Shanghai")
            .parse()
            .map_err(|e: onepark_domain::time::TimeError| invalid("timezone", e.to_string()))?;
        let database = raw.database.unwrap_or_else(|| "sqlite://lot.db".into());
        let database = match database.strip_prefix("sqlite://") {
            Some(file) if !Path::new(file).is_absolute() => format!("sqlite://{}", base.join(file).display()),
            _ => database,
        };
        let name = raw.name.unwrap_or_else(|| raw.parking_code.clone());
        let info = match raw.info {
            Some(i) => Some(parking_info(i, &raw.parking_code, &name, &raw.berths)?),
            None => None,
        };
        let auth = raw.auth.map(|a| auth(a, &lanes)).transpose()?;
        let listen = raw.listen.unwrap_or_else(|| "127.0.0.1:8090".into());
        let hosts = hosts(raw.hosts.unwrap_or_default(), &listen)?;
        let defaults = Payments::default();
        let q = raw.payments;
        let wait_ms = q.wait_ms.unwrap_or(1500);
        if !(100..=10_000).contains(&wait_ms) {
            return Err(invalid("payments.wait_ms", "must be between 100 and 10000"));
        }
        let grace = q.grace_minutes.unwrap_or(15);
        if grace > 24 * 60 {
            return Err(invalid("payments.grace_minutes", "must be at most 1440"));
        }
        let payments = Payments {
            no_stop: q.no_stop.unwrap_or(defaults.no_stop),
            wait: std::time::Duration::from_millis(wait_ms),
            grace: chrono::Duration::minutes(grace as i64),
            after_leave: q.after_leave.unwrap_or(defaults.after_leave),
            arrears_hold: q.arrears_hold.unwrap_or(defaults.arrears_hold),
        };
        let cloudpark = raw.cloudpark.map(|c| cloud_link(c, &lanes, raw.parking_code.trim())).transpose()?;
        let bolink = raw.bolink.map(bolink_link).transpose()?;
        Ok(Config {
            cloudpark,
            bolink,
            payments,
            auth,
            info,
            name,
            parking_code: raw.parking_code,
            listen,
            hosts,
            database,
            zone,
            berths: raw.berths,
            lanes,
            tariff: Tariff { default, by_car_type },
            platform,
        })
    }
}

/// `[platform]`: the keys read from their files, named by key when they fail.
fn platform_link(p: RawPlatform, base: &Path) -> Result<PlatformLink, ConfigError> {
    let read = |key: &str, path: &Path| {
        std::fs::read_to_string(base.join(path)).map_err(|e| {
            // Shown redacted: key text pasted where its path belongs is not a path to print.
            invalid(format!("platform.{key}"), format!("{}: {e}", redact(&path.display().to_string())))
        })
    };
    let private_key = PrivateKey::parse(&read("private_key", &p.private_key)?)
        .map_err(|e| invalid("platform.private_key", e.to_string()))?;
    let platform_public_key = PublicKey::parse(&read("platform_public_key", &p.platform_public_key)?)
        .map_err(|e| invalid("platform.platform_public_key", e.to_string()))?;
    let profile =
        p.profile.as_deref().unwrap_or("qingdao").parse().map_err(|e: String| invalid("platform.profile", e))?;
    let concurrency = p.concurrency.unwrap_or(16);
    if !(1..=64).contains(&concurrency) {
        return Err(invalid("platform.concurrency", "must be between 1 and 64"));
    }
    Ok(PlatformLink {
        url: p.url,
        access_id: p.access_id,
        node: p.node,
        private_key,
        platform_public_key,
        profile,
        mqtt_url: p.mqtt_url,
        mqtt_password: p.mqtt_password,
        concurrency,
    })
}

fn cloud_link(c: RawCloudpark, lanes: &[Lane], parking_code: &str) -> Result<CloudLink, ConfigError> {
    let url = c.url.trim_end_matches('/').to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid("cloudpark.url", "must be an http:// or https:// address"));
    }
    if c.pid.trim().is_empty() || c.pid.len() > 20 {
        return Err(invalid("cloudpark.pid", "1 to 20 characters"));
    }
    if c.secret.trim().len() < 16 {
        return Err(invalid("cloudpark.secret", "at least 16 characters"));
    }
    let pull = c.pull_seconds.unwrap_or(60);
    if !(5..=3600).contains(&pull) {
        return Err(invalid("cloudpark.pull_seconds", "must be between 5 and 3600"));
    }
    let entries: Vec<&Lane> = lanes.iter().filter(|l| l.direction == Direction::Entry).collect();
    let lane = match c.lane {
        Some(id) if entries.iter().any(|l| l.id == id) => id,
        Some(id) => return Err(invalid("cloudpark.lane", format!("`{id}` is not an entry lane of this lot"))),
        None => entries
            .first()
            .map(|l| l.id.clone())
            .ok_or_else(|| invalid("cloudpark.lane", "the lot has no entry lane"))?,
    };
    let mq = match c.mqtt_url.filter(|u| !u.trim().is_empty()) {
        None => None,
        Some(url) => {
            onepark_proto::mqtt::BrokerUrl::parse(&url).map_err(|e| invalid("cloudpark.mqtt_url", e))?;
            let client_id = c.client_id.unwrap_or_else(|| format!("{parking_code}_onepark"));
            let codes = [parking_code.to_owned()];
            if onepark_cloudpark::channel::client_park_code(&client_id, &codes).is_none() {
                return Err(invalid(
                    "cloudpark.client_id",
                    format!("must be `{parking_code}` or start with `{parking_code}_`"),
                ));
            }
            let d = onepark_cloudpark::channel::Topics::default();
            let topics = onepark_cloudpark::channel::Topics::new(
                &c.command_topic.unwrap_or_else(|| d.command("{parkCode}")),
                &c.report_topic.unwrap_or_else(|| d.report("{parkCode}")),
            )
            .map_err(|e| invalid("cloudpark", e))?;
            Some(CloudMq { url, client_id, topics })
        }
    };
    Ok(CloudLink {
        url,
        pid: c.pid.trim().to_owned(),
        secret: c.secret.trim().to_owned(),
        pull: std::time::Duration::from_secs(pull),
        lane,
        mq,
    })
}

/// `hosts`: the names the gateway answers to (DNS-rebinding guard, see
/// `auth::foreign_host`), each a bare host name; `listen`'s host joins them
/// when it is a name.
fn hosts(raw: Vec<String>, listen: &str) -> Result<Vec<String>, ConfigError> {
    let mut hosts = Vec::new();
    for (i, name) in raw.iter().enumerate() {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(invalid(
                format!("hosts[{i}]"),
                format!("`{}` is not a host name (letters, digits, - and dots; no port, no scheme)", raw[i]),
            ));
        }
        hosts.push(name);
    }
    let host = host_part(listen).trim_end_matches('.').to_ascii_lowercase();
    if !host.is_empty() && ip_literal(&host).is_none() {
        hosts.push(host);
    }
    Ok(hosts)
}

/// `[[auth.devices]]`
#[derive(Clone, Debug)]
pub struct Device {
    pub name: String,
    pub token: String,
    /// Lane ids this device may post for; empty = every lane.
    pub lanes: Vec<String>,
}

/// `[[auth.staff]]`
#[derive(Clone, Debug)]
pub struct Staff {
    pub user: String,
    /// `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`
    pub password: String,
}

#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    pub devices: Vec<Device>,
    pub staff: Vec<Staff>,
}

fn auth(raw: RawAuth, lanes: &[Lane]) -> Result<AuthConfig, ConfigError> {
    let mut devices = Vec::new();
    for (i, d) in raw.devices.into_iter().enumerate() {
        if d.token.trim().chars().count() < 16 {
            return Err(invalid(format!("auth.devices[{i}].token"), "use at least 16 random characters"));
        }
        if let Some(lane) = d.lanes.iter().find(|l| !lanes.iter().any(|known| &known.id == *l)) {
            return Err(invalid(format!("auth.devices[{i}].lanes"), format!("`{lane}` is not a lane of this lot")));
        }
        devices.push(Device { name: d.name, token: d.token.trim().to_owned(), lanes: d.lanes });
    }
    let mut staff = Vec::new();
    for (i, s) in raw.staff.into_iter().enumerate() {
        if !onepark_serve::password::valid_hash(&s.password) {
            return Err(invalid(
                format!("auth.staff[{i}].password"),
                "not a password hash: make one with `onepark lot hash-password`",
            ));
        }
        staff.push(Staff { user: s.user, password: s.password });
    }
    if devices.is_empty() && staff.is_empty() {
        return Err(invalid("auth", "configure at least one device or staff account (or leave [auth] out)"));
    }
    Ok(AuthConfig { devices, staff })
}

/// The host of `host[:port]`, `[v6][:port]` or a bare name/address.
pub(crate) fn host_part(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split_once(']').map_or(authority, |(v6, _)| v6);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// `host` as an IP address (IPv4 dotted, or IPv6 without brackets).
pub(crate) fn ip_literal(host: &str) -> Option<std::net::IpAddr> {
    host.parse().ok()
}

/// Builds the uploadParkingInfo record and checks it with the protocol's own
/// rules, so a bad code fails at start-up, not at the platform.
fn parking_info(i: RawInfo, code: &str, name: &str, b: &Berths) -> Result<ParkingInfo, ConfigError> {
    let info = ParkingInfo {
        parking_code: code.to_owned(),
        parking_name: name.to_owned(),
        address: i.address,
        region_code: i.region_code,
        area_code: i.area_code,
        price_type: PriceType::from_code(i.price_type),
        inroad_fees_type: i.inroad_fees_type,
        fee_scale: i.fee_scale,
        open_time: i.open_time,
        parking_pattern: i.parking_pattern.map(ParkingPattern::from_code),
        parking_locate: ParkingLocate::from_code(i.parking_locate),
        lot_type: LotType::from_code(i.lot_type),
        attached_type: i.attached_type,
        build_type: i.build_type.map(BuildType::from_code),
        total_berth_num: b.total,
        open_berth_num: b.open,
        x: i.x,
        y: i.y,
        bmap_x: i.bmap_x,
        bmap_y: i.bmap_y,
        gmap_x: i.gmap_x,
        gmap_y: i.gmap_y,
        temp_total_num: b.open,
        intrinsic_total_num: b.monthly,
        visitor_total_num: b.visitor,
        charge_total_num: b.charging,
        upload_time: Time(chrono::NaiveDateTime::default()),
    };
    let text = onepark_proto::msg::encode_flat(&info);
    match onepark_proto::msg::check_uplink(Uplink::UploadParkingInfo, &text) {
        Ok(_) => Ok(info),
        Err(e) => Err(invalid("info", e.to_string())),
    }
}

fn rule(raw: RawRule, key: &str) -> Result<Rule, ConfigError> {
    let money = |field: &str, value: Option<i64>| -> Result<Fen, ConfigError> {
        Fen::new(value.unwrap_or(0)).map_err(|e| invalid(format!("{key}.{field}"), e.to_string()))
    };
    let time = |field: &str, value: &str| {
        NaiveTime::parse_from_str(value, "%H:%M").map_err(|_| invalid(format!("{key}.{field}"), "expected HH:MM"))
    };
    let night = match (&raw.night_start, &raw.night_end) {
        (Some(start), Some(end)) => Some(Night {
            start: time("night_start", start)?,
            end: time("night_end", end)?,
            price: money("night_price", raw.night_price)?,
        }),
        (None, None) => None,
        _ => return Err(invalid(key, "night_start and night_end go together")),
    };
    let first_period = match raw.first_period_minutes {
        Some(minutes) => Some((minutes, money("first_period_price", raw.first_period_price)?)),
        None => None,
    };
    let rule = Rule {
        free_minutes: raw.free_minutes.unwrap_or(15),
        free_deducted: raw.free_deducted.unwrap_or(false),
        first_period,
        period_minutes: raw.period_minutes.unwrap_or(60),
        day_price: money("price", raw.price)?,
        night,
        cycle_cap: raw.cycle_cap.map(|c| money("cycle_cap", Some(c))).transpose()?,
    };
    rule.validate().map_err(|e| invalid(key, e.to_string()))?;
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key text where a path belongs, or a TOML mistake on a line holding
    /// it, never comes back in the error.
    #[test]
    fn errors_never_echo_key_text() {
        let dir = std::env::temp_dir().join(format!("onepark-lot-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/lot.toml"))
            .expect("example");
        let key_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop/keys/lot_private.b64");
        let key = std::fs::read_to_string(key_path).expect("test key");
        let key = key.trim();
        let inline = example
            .lines()
            .map(|l| if l.starts_with("private_key") { format!("private_key = \"{key}\"") } else { l.to_owned() })
            .collect::<Vec<_>>()
            .join("\n");
        assert_ne!(inline, example, "the example has a private_key line");
        let typo = inline.replace("private_key = ", "privat_key = ");
        for (name, text) in [("inline.toml", inline), ("typo.toml", typo)] {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write");
            let e = Config::load(&path).expect_err("refused").to_string();
            assert!(!e.contains(&key[..40]) && !e.contains(&key[300..340]), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/lot.toml");
        let config = Config::load(&path).expect("examples/lot.toml loads");
        let info = config.info.expect("the example reports its parking info");
        assert_eq!((info.temp_total_num, info.intrinsic_total_num, info.charge_total_num), (130, 20, 10));
        assert!(config.lanes.iter().any(|l| l.monthly && !l.temporary), "the monthly-only lane");
    }

    #[test]
    fn a_bad_region_code_fails_at_start_up() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/lot.toml");
        let text = std::fs::read_to_string(&path).expect("example").replace("\"370202\"", "\"330102\"");
        let raw: Raw = toml::from_str(&text).expect("toml");
        let err = Config::build(raw, path.parent().expect("dir")).expect_err("Hangzhou's code is not Qingdao's");
        assert!(err.to_string().starts_with("info: ") && err.to_string().contains("regionCode"), "{err}");
    }

    #[test]
    fn hosts_are_bare_names_and_a_named_listen_joins_them() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/lot.toml");
        let example = std::fs::read_to_string(&path).expect("example");
        let with = |top: &str| {
            let raw: Raw = toml::from_str(&example.replace("listen = ", &format!("{top}\nlisten = "))).expect("toml");
            Config::build(raw, path.parent().expect("dir"))
        };
        let config = with("hosts = [\"Booth.Lot1.internal.\"]").expect("a name");
        assert_eq!(config.hosts, ["booth.lot1.internal"]);
        for bad in ["http://booth", "booth:8090", "", "a b"] {
            let err = with(&format!("hosts = [\"ok\", \"{bad}\"]")).expect_err(bad);
            assert!(err.to_string().starts_with("hosts[1]: "), "{err}");
        }
        assert_eq!(hosts(vec![], "gate.local:8090").expect("listen"), ["gate.local"]);
        assert!(hosts(vec![], "0.0.0.0:8090").expect("listen").is_empty());
        assert!(hosts(vec![], "[::1]:8090").expect("listen").is_empty());
    }
}
