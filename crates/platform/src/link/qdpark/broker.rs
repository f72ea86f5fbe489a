//! The embedded MQTT broker (rmqtt, as a task in our runtime): what a fresh
//! machine uses for the downlink when no external broker is configured.
//!
//! Lots log in with the signed-timestamp password of [`onepark_proto::mqtt`]
//! and may subscribe only to their own topics; nobody but the platform's own
//! publisher (a superuser with a per-process random password) may publish.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use onepark_proto::interface::AccessId;
use onepark_proto::mqtt::{AclDenied, may_subscribe, verify_login};
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::net::{Admission, Admitted, Builder};
use rmqtt::server::MqttServer;
use rmqtt::types::{AuthResult, PublishAclResult, SubscribeAclResult};

use crate::config::{Limits, LotLink};
pub use crate::link::qdpark::publisher::Internal;
pub use crate::metrics::DoorStats;
use crate::secret::{random_hex, same_secret};
use crate::state::AppState;

/// The embedded broker's publisher login: only ever compared in-process;
/// unpredictable so a lot cannot guess it.
fn random_login() -> Result<Internal, BrokerError> {
    let password = random_hex(24).map_err(|e| BrokerError::Random(e.to_string()))?;
    Ok(Internal { username: "onepark-platform".into(), password })
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("mqtt_listen `{0}` is not host:port")]
    Address(String),
    #[error("random publisher password: {0}")]
    Random(String),
    #[error("cannot listen for MQTT on {addr}: {message}")]
    Listen { addr: String, message: String },
}

/// A running embedded broker.
#[derive(Clone, Debug)]
pub struct Embedded {
    pub addr: SocketAddr,
    /// The superuser login the platform publishes with (in-process only).
    pub publisher: Internal,
}

/// Starts the broker on `listen` (port 0 picks one).
///
/// Bounds (docs/operations.md): rmqtt 0.24 keeps a disconnected client's
/// socket open until its session expires (docs/mqtt.md, "Known broker
/// limits"), so sessions are what must be bounded: at most
/// `mqtt_max_nodes` per accessID (online or offline: a new node evicts the
/// oldest offline one, and is refused only when all are online), `mqtt_max_sessions`
/// in all, kept `mqtt_session_expiry` after a disconnect (the downlink table
/// re-publishes whatever a lot missed), a bounded queue each, and no
/// "never time out" keep-alive.
pub async fn start(listen: &str, limits: &Limits, state: AppState) -> Result<Embedded, BrokerError> {
    let laddr: SocketAddr = tokio::net::lookup_host(listen)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| BrokerError::Address(listen.to_owned()))?;
    let internal = random_login()?;
    // rmqtt's busy check refuses CONNECTs while the host's load average is
    // high: on a small shared box that locks lots out exactly when they
    // reconnect en masse, so admission is left to max_connections.
    // The limit is the lots': the platform's own publisher session comes on top.
    let max_sessions = isize::try_from(limits.mqtt_max_sessions.saturating_add(1)).unwrap_or(isize::MAX);
    let scx = ServerContext::new().busy_check_enable(false).mqtt_max_sessions(max_sessions).build().await;
    let register = scx.extends.hook_mgr().register();
    let resent = Arc::new(Mutex::new(HashMap::new()));
    let nodes = Arc::new(Nodes::default());
    for typ in
        [Type::ClientAuthenticate, Type::ClientSubscribeCheckAcl, Type::MessagePublishCheckAcl, Type::SessionSubscribed]
    {
        let gate = Gate {
            state: state.clone(),
            nodes: nodes.clone(),
            internal: internal.clone(),
            resent: resent.clone(),
            scx: scx.clone(),
            max_nodes: limits.mqtt_max_nodes,
        };
        register.add(typ, Box::new(gate)).await;
    }
    register.start().await;
    let listen_error = |e: rmqtt::Error| BrokerError::Listen { addr: listen.to_owned(), message: e.to_string() };
    let door = Arc::new(Door::new(limits, descriptor_limit(), state.metrics().mqtt.clone()));
    let listener = Builder::new()
        .name("onepark/tcp")
        .laddr(laddr)
        .allow_anonymous(false)
        .nodelay(true)
        // A restarted platform must get its port back while old lot
        // connections linger in TIME_WAIT.
        .reuseaddr(Some(true))
        // Persistent sessions hold a lot's messages while it is away; the
        // downlink table re-publishes anything older anyway.
        .session_expiry_interval(limits.mqtt_session_expiry)
        .max_session_expiry_interval(limits.mqtt_session_expiry)
        .message_expiry_interval(limits.mqtt_session_expiry)
        .max_mqueue_len(limits.mqtt_max_queue)
        // Bounds silent and unauthenticated peers before anything is read
        // (the accept path is patched for it: vendor/rmqtt-net/PATCHES.md).
        .admission(door.admission())
        // Also the deadline for the first packet (patched), then for the rest of CONNECT.
        .handshake_timeout(limits.mqtt_connect_timeout)
        // keep-alive 0 ("never") would let a vanished lot hold its socket.
        .allow_zero_keepalive(false)
        .max_keepalive(limits.mqtt_max_keepalive_secs)
        .bind()
        .map_err(listen_error)?;
    let addr = listener.local_addr().map_err(listen_error)?;
    let listener = listener.tcp().map_err(listen_error)?;
    let server = MqttServer::new(scx).listener(listener).build();
    tokio::spawn(async move {
        if let Err(e) = server.run().await {
            tracing::error!(error = %e, "embedded MQTT broker stopped");
        }
    });
    tracing::info!(%addr, "embedded MQTT broker listening");
    Ok(Embedded { addr, publisher: internal })
}

/// The client ids each accessID has been admitted with: a login looks at
/// its own accessID's nodes only. Entries whose session is gone are dropped
/// at that accessID's next login, so each list stays within about
/// `mqtt_max_nodes`; the map holds only accessIDs that logged in.
#[derive(Default)]
struct Nodes(Mutex<HashMap<String, Arc<tokio::sync::Mutex<Vec<Node>>>>>);

struct Node {
    client_id: String,
    admitted: Instant,
}

/// How long an admitted login may take to become a session (its CONNACK is
/// sent right after the authentication hook).
const PENDING_LOGIN: Duration = Duration::from_secs(10);

impl Nodes {
    fn of(&self, base: &str) -> Arc<tokio::sync::Mutex<Vec<Node>>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(base.to_owned()).or_default().clone()
    }
}

struct Gate {
    state: AppState,
    nodes: Arc<Nodes>,
    internal: Internal,
    /// When each accessID's downlinks were last rescheduled: a lot subscribes
    /// to several topics per connect, one reschedule covers them all.
    resent: Arc<Mutex<HashMap<String, Instant>>>,
    scx: ServerContext,
    max_nodes: usize,
}

/// Subscriptions of one lot closer together than this share one resend.
const RESEND_DEBOUNCE: Duration = Duration::from_secs(2);

#[async_trait]
impl Handler for Gate {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(info) => {
                let username = info.username().map(|u| u.to_string()).unwrap_or_default();
                let password = info.password().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
                let from = info.id().remote_addr;
                let mut result = self.authenticate(&username, &password, info.client_id(), from).await;
                // A will is a publish the ACL hook never sees: lots may not set one.
                if matches!(result, AuthResult::Allow(false, _)) && info.last_will().is_some() {
                    tracing::warn!(username, ?from, "MQTT login refused: lots may not set a will message");
                    result = AuthResult::NotAuthorized;
                }
                if matches!(result, AuthResult::Allow(false, _)) && !self.admit_node(&username, from).await {
                    result = AuthResult::NotAuthorized;
                }
                (false, Some(HookResult::AuthResult(result)))
            }
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                let filter = subscribe.topic_filter.to_string();
                let result = match subscribe_allowed(&self.state, session.id.username_ref(), &filter).await {
                    Ok(()) => SubscribeAclResult::new_success(subscribe.opts.qos(), None),
                    Err(_) => SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized),
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            // Superusers never reach this hook. Qingdao lots never publish;
            // a cloud lot only on its own report topic.
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let user = session.id.username_ref();
                if publish_allowed(&self.state, user, &publish.topic).await {
                    (false, Some(HookResult::PublishAclResult(PublishAclResult::allow())))
                } else {
                    tracing::warn!(user, topic = %publish.topic, "MQTT publish refused");
                    let reason = AclDenied::Publish.to_string();
                    (false, Some(HookResult::PublishAclResult(PublishAclResult::rejected(true, Some(reason.into())))))
                }
            }
            Parameter::SessionSubscribed(session, _) if session.id.username_ref() != self.internal.username => {
                self.resend(AccessId::parse(session.id.username_ref())).await;
                (true, acc)
            }
            _ => (true, acc),
        }
    }
}

/// Who is connecting, decided the same way for the embedded broker and
/// for an external one asking over HTTP ([`crate::link::qdpark::mqtt_auth`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Login {
    Publisher,
    Lot,
    /// Unknown accessID (no key to check against).
    Unknown,
    Refused(String),
}

/// `client_id`: a lot must use its username, so that no login can take over
/// (or kick) another lot's or the publisher's session, which brokers key by
/// client id.
pub(crate) async fn login(
    state: &AppState,
    publisher: Option<&Internal>,
    username: &str,
    password: &str,
    client_id: &str,
    from: Option<SocketAddr>,
) -> Login {
    if let Some(publisher) = publisher.filter(|p| p.username == username) {
        return if same_secret(password, &publisher.password) {
            Login::Publisher
        } else {
            Login::Refused("wrong password".into())
        };
    }
    if onepark_cloudpark::channel::is_login_password(password) {
        return cloud_login(state, username, password, client_id, from).await;
    }
    if client_id != username {
        tracing::warn!(username, client_id, ?from, "MQTT login refused: a lot's client id must be its username");
        return Login::Refused(format!("client id `{client_id}` is not the username `{username}`"));
    }
    let user = AccessId::parse(username);
    let lot = match state.lot(&user.base).await {
        Ok(Some(lot)) => lot,
        Ok(None) => {
            tracing::warn!(username, ?from, "MQTT login refused: unknown accessID");
            return Login::Unknown;
        }
        // Logged by the lookup; the lot's client reconnects with backoff.
        Err(_) => return Login::Refused("lot lookup failed, try again".into()),
    };
    let LotLink::Qdpark { public_key, .. } = &lot.link else {
        return Login::Refused("not a Qingdao lot".into());
    };
    match verify_login(public_key, username, password, state.clock().now().timestamp()) {
        Ok(()) => Login::Lot,
        Err(e) => {
            tracing::warn!(username, ?from, reason = %e, "MQTT login refused");
            Login::Refused(e.to_string())
        }
    }
}

/// The cloud lot logged in as `pid`: a lot principal whose name no Qingdao
/// lot also has (a login is of one protocol, and the topics it reaches must
/// not depend on which table is read first). Read through the door's cache.
async fn cloud_lot(state: &AppState, pid: &str) -> Option<crate::store::Principal> {
    let now = Instant::now();
    let principal = match state.cloud_known().get(pid, now) {
        Some(p) => p,
        None => {
            let p = state.store().principal(pid).await.ok()??;
            state.cloud_known().put(&p.pid, &p, now);
            p
        }
    };
    if principal.kind != crate::store::PrincipalKind::Lot {
        return None;
    }
    match state.lot(&AccessId::parse(pid).base).await {
        Ok(None) => Some(principal),
        Ok(Some(_)) => {
            tracing::error!(pid, "a cloud lot pid is also a Qingdao accessID: its MQ login is refused");
            None
        }
        Err(_) => None,
    }
}

/// A cloud lot's login (`onepark_cloudpark::channel`): pid, a client id
/// naming one of its park codes, a signed timestamp.
async fn cloud_login(state: &AppState, pid: &str, password: &str, client_id: &str, from: Option<SocketAddr>) -> Login {
    let Some(lot) = cloud_lot(state, pid).await else {
        tracing::warn!(pid, ?from, "MQTT login refused: not a lot pid of the cloud API");
        return Login::Unknown;
    };
    // Sessions are keyed by client id: a cloud client id must not be a Qingdao lot's.
    if matches!(state.lot(&AccessId::parse(client_id).base).await, Ok(Some(_)) | Err(_)) {
        tracing::warn!(pid, client_id, ?from, "MQTT login refused: the client id is a Qingdao accessID");
        return Login::Refused(format!("client id `{client_id}` is taken"));
    }
    let now = state.clock().now().timestamp();
    match onepark_cloudpark::channel::verify_login(pid, client_id, password, &lot.secret, &lot.park_codes, now) {
        Ok(()) => Login::Lot,
        Err(e) => {
            tracing::warn!(pid, client_id, ?from, reason = %e, "MQTT login refused");
            Login::Refused(e.to_string())
        }
    }
}

/// Whether `username` may publish on `topic`: only a cloud lot, only on its own report topic.
pub(crate) async fn publish_allowed(state: &AppState, username: &str, topic: &str) -> bool {
    if state.cloud_topics().report_code(topic).is_none() {
        return false;
    }
    let Some(lot) = cloud_lot(state, username).await else { return false };
    onepark_cloudpark::channel::may_publish(state.cloud_topics(), topic, &lot.park_codes)
}

/// Whether a lot logged in as `username` may subscribe to `filter` (logged when not).
pub(crate) async fn subscribe_allowed(state: &AppState, username: &str, filter: &str) -> Result<(), AclDenied> {
    let topics = state.cloud_topics();
    if !filter.contains("qdpark/") {
        let allowed = match cloud_lot(state, username).await {
            Some(lot) => onepark_cloudpark::channel::may_subscribe(topics, filter, &lot.park_codes),
            None => false,
        };
        if !allowed {
            tracing::warn!(user = username, filter, "MQTT subscribe refused");
            return Err(AclDenied::NotDownlink(filter.to_owned()));
        }
        return Ok(());
    }
    let user = AccessId::parse(username);
    let codes = match state.lot(&user.base).await {
        Ok(Some(lot)) => lot.parking_codes.clone(),
        // Not a Qingdao lot (a cloud pid, a lot removed): no Qingdao topic.
        Ok(None) | Err(_) => {
            tracing::warn!(user = %user, filter, "MQTT subscribe refused: not a Qingdao lot");
            return Err(AclDenied::NotDownlink(filter.to_owned()));
        }
    };
    may_subscribe(&user, filter, &codes).inspect_err(|denied| {
        tracing::warn!(user = %user, filter, reason = %denied, "MQTT subscribe refused");
    })
}

impl Gate {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
        client_id: &str,
        from: Option<SocketAddr>,
    ) -> AuthResult {
        match login(&self.state, Some(&self.internal), username, password, client_id, from).await {
            Login::Publisher => AuthResult::Allow(true, None),
            Login::Lot => AuthResult::Allow(false, None),
            Login::Unknown => AuthResult::NotAuthorized,
            Login::Refused(_) => AuthResult::BadUsernameOrPassword,
        }
    }

    /// Whether node `username` may hold a session beside its accessID's
    /// others: fewer than `max_nodes` others are held (online or offline), or
    /// the oldest offline ones are evicted to make room; refused only when
    /// `max_nodes` others are online. A node logging in again replaces its
    /// own session, so it never counts against itself. Costs the nodes of
    /// this one accessID, never a walk over every session in the broker.
    async fn admit_node(&self, username: &str, from: Option<SocketAddr>) -> bool {
        let base = AccessId::parse(username).base;
        let slot = self.nodes.of(&base);
        // Held across the checks, so that concurrent logins of one accessID
        // see each other's admission (no overshoot of the bound).
        let mut nodes = slot.lock().await;
        let shared = self.scx.extends.shared().await;
        let mut online = 0;
        let mut offline = Vec::new();
        let mut kept = Vec::with_capacity(nodes.len() + 1);
        for node in nodes.drain(..) {
            if node.client_id == username {
                kept.push(node);
                continue;
            }
            match shared.session_status(&node.client_id).await {
                Some(status) if status.online => online += 1,
                Some(status) => {
                    let session = shared.entry(status.id.clone()).session();
                    let since = match session {
                        Some(s) => s.disconnected_at().await.unwrap_or_default(),
                        None => 0,
                    };
                    offline.push((since, status.id));
                }
                // Admitted but not yet registered by the broker (its CONNACK
                // is on the way): counts as online for a handshake's time.
                None if node.admitted.elapsed() < PENDING_LOGIN => online += 1,
                // Gone (expired, kicked, or a login that never completed).
                None => continue,
            }
            kept.push(node);
        }
        *nodes = kept;
        if online >= self.max_nodes {
            tracing::warn!(
                username,
                ?from,
                online,
                max = self.max_nodes,
                "MQTT login refused: this accessID holds its maximum of online sessions (limits.mqtt_max_nodes)"
            );
            return false;
        }
        // Oldest disconnect first.
        offline.sort_by_key(|(since, _)| *since);
        let excess = (online + offline.len() + 1).saturating_sub(self.max_nodes);
        for (_, id) in offline.into_iter().take(excess) {
            let evicted = match shared.entry(id.clone()).try_lock().await {
                Ok(mut entry) => entry.kick(true, true, true).await.is_ok(),
                Err(_) => false,
            };
            if !evicted {
                // Its own node is logging in again at this moment.
                tracing::warn!(username, ?from, node = %id.client_id, "MQTT login refused: cannot evict an offline session");
                return false;
            }
            tracing::info!(username, evicted = %id.client_id, "offline MQTT session evicted for a new node (limits.mqtt_max_nodes)");
            nodes.retain(|n| n.client_id != *id.client_id);
        }
        match nodes.iter_mut().find(|n| n.client_id == username) {
            Some(node) => node.admitted = Instant::now(),
            None => nodes.push(Node { client_id: username.to_owned(), admitted: Instant::now() }),
        }
        true
    }

    /// A lot that (re)subscribes gets its unconfirmed messages now rather
    /// than at the next backoff step.
    async fn resend(&self, user: AccessId) {
        if let Ok(mut resent) = self.resent.lock() {
            let fresh = resent.get(&user.base).is_some_and(|at| at.elapsed() < RESEND_DEBOUNCE);
            if fresh {
                return;
            }
            resent.insert(user.base.clone(), Instant::now());
        }
        let now = onepark_domain::time::format_time(self.state.now());
        match self.state.store().resend_now(&user.base, &now).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(user = %user, messages = n, "lot subscribed: re-publishing its unconfirmed downlinks");
                self.state.wake().now();
            }
            Err(e) => tracing::error!(error = %e, "cannot reschedule downlinks"),
        }
    }
}

/// The MQTT port's admission (rmqtt-net's accept path, patched: see
/// vendor/rmqtt-net/PATCHES.md). An unauthenticated peer must never take
/// the descriptors the uplink needs: a connection that has not sent its
/// CONNECT is "pending" and bounded in all and per address, and every MQTT
/// socket counts against the MQTT share of the descriptor limit. Over a
/// bound the connection is closed at once (a lot reconnects with backoff);
/// a pending one is closed after `mqtt_connect_timeout`.
#[derive(Debug)]
pub(crate) struct Door {
    max_connections: usize,
    max_pending: usize,
    max_pending_per_ip: usize,
    counts: Mutex<DoorCounts>,
    stats: Arc<DoorStats>,
}

#[derive(Debug, Default)]
struct DoorCounts {
    open: usize,
    pending: usize,
    pending_per_ip: HashMap<IpAddr, usize>,
}

/// Descriptors kept for everything but MQTT when the limit is tight: the
/// database, photo files, logs, the runtime.
const DESCRIPTOR_RESERVE: usize = 64;

impl Door {
    /// The bounds of `limits`, with the MQTT total capped by the MQTT share
    /// of `descriptors` (the soft `RLIMIT_NOFILE`, when known): what is left
    /// after HTTP's `max_connections` and a reserve, but never less than half
    /// (then HTTP, which pauses at `EMFILE`, has the other half).
    pub(crate) fn new(limits: &Limits, descriptors: Option<usize>, stats: Arc<DoorStats>) -> Door {
        let wanted = limits.mqtt_max_connections.unwrap_or(limits.mqtt_max_sessions + limits.mqtt_max_pending);
        let mut max_connections = wanted;
        let mut max_pending = limits.mqtt_max_pending;
        let mut max_pending_per_ip = limits.mqtt_max_pending_per_ip;
        if let Some(fds) = descriptors {
            let share = fds.saturating_sub(limits.http.max_connections + DESCRIPTOR_RESERVE).max(fds / 2);
            if share < wanted {
                // Pending peers may take half at most: lots keep room to log in.
                max_connections = share.max(1);
                max_pending = max_pending.min(max_connections.div_ceil(2));
                // One address never fills the pending places of all.
                max_pending_per_ip = max_pending_per_ip.min(max_pending.div_ceil(4));
                tracing::warn!(
                    descriptors = fds,
                    mqtt_max_connections = max_connections,
                    mqtt_max_pending = max_pending,
                    mqtt_max_pending_per_ip = max_pending_per_ip,
                    wanted,
                    "the descriptor limit (ulimit -n, LimitNOFILE=) leaves MQTT fewer connections than \
                     limits.mqtt_max_sessions + mqtt_max_pending: raise it (docs/operations.md)"
                );
            }
        }
        Door { max_connections, max_pending, max_pending_per_ip, counts: Mutex::default(), stats }
    }

    /// A new connection from `peer`: its guards, or `None` (closed at once).
    pub(crate) fn admit(self: &Arc<Door>, peer: IpAddr) -> Option<(Connection, Pending)> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let refused = if counts.open >= self.max_connections {
            Some(&self.stats.refused_connections)
        } else if counts.pending >= self.max_pending {
            Some(&self.stats.refused_pending)
        } else if counts.pending_per_ip.get(&peer).is_some_and(|n| *n >= self.max_pending_per_ip) {
            Some(&self.stats.refused_pending_per_ip)
        } else {
            None
        };
        if let Some(counter) = refused {
            counter.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "MQTT connection refused at the door");
            return None;
        }
        counts.open += 1;
        counts.pending += 1;
        *counts.pending_per_ip.entry(peer).or_default() += 1;
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
        Some((Connection(self.clone()), Pending { door: self.clone(), peer }))
    }

    /// The rmqtt-net hook.
    fn admission(self: Arc<Door>) -> Admission {
        Admission(Arc::new(move |peer: SocketAddr| {
            self.admit(peer.ip()).map(|(connection, pending)| Admitted {
                connection: Box::new(connection),
                handshake: Some(Box::new(pending)),
            })
        }))
    }
}

/// One open MQTT socket.
pub(crate) struct Connection(Arc<Door>);

impl Drop for Connection {
    fn drop(&mut self) {
        let mut counts = self.0.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.open -= 1;
        self.0.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One MQTT connection that has not sent its CONNECT yet.
pub(crate) struct Pending {
    door: Arc<Door>,
    peer: IpAddr,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut counts = self.door.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.pending -= 1;
        if let std::collections::hash_map::Entry::Occupied(mut n) = counts.pending_per_ip.entry(self.peer) {
            *n.get_mut() -= 1;
            if *n.get() == 0 {
                // Bounded memory: only addresses with a pending connection are kept.
                n.remove();
            }
        }
        self.door.stats.pending.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The soft descriptor limit of this process (Linux: /proc/self/limits;
/// read rather than asked of libc, the workspace forbids `unsafe`).
pub(crate) fn descriptor_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod door_tests {
    use super::*;

    fn door(pending: usize, per_ip: usize, total: usize) -> Arc<Door> {
        let limits = Limits {
            mqtt_max_pending: pending,
            mqtt_max_pending_per_ip: per_ip,
            mqtt_max_connections: Some(total),
            ..Limits::default()
        };
        Arc::new(Door::new(&limits, None, Arc::default()))
    }

    #[test]
    fn pending_connections_are_bounded_per_address_and_in_all() {
        let door = door(5, 2, 100);
        let (a, b) = ("10.0.0.1".parse().expect("address"), "10.0.0.2".parse().expect("address"));
        let a1 = door.admit(a).expect("admitted");
        let _a2 = door.admit(a).expect("admitted");
        assert!(door.admit(a).is_none(), "a third pending from one address");
        // Past CONNECT, a connection no longer counts as pending for its address.
        let (connection, pending) = a1;
        drop(pending);
        let _a3 = door.admit(a).expect("admitted");
        let _b = [door.admit(b).expect("admitted"), door.admit(b).expect("admitted")];
        let _c = door.admit("10.0.0.3".parse().expect("address")).expect("admitted");
        assert!(door.admit("10.0.0.4".parse().expect("address")).is_none(), "five pending in all");
        assert_eq!(door.stats.refused_pending.load(Ordering::Relaxed), 1);
        assert_eq!(door.stats.refused_pending_per_ip.load(Ordering::Relaxed), 1);
        drop(connection);
        assert_eq!(door.counts.lock().expect("lock").open, 5);
    }

    #[test]
    fn every_socket_counts_against_the_total() {
        let door = door(40, 10, 3);
        let ip = "10.0.0.1".parse().expect("address");
        let held: Vec<_> = (0..3).map(|_| door.admit(ip).expect("admitted").0).collect();
        assert!(door.admit(ip).is_none(), "the total holds connections past CONNECT too");
        drop(held);
        assert!(door.admit(ip).is_some());
        assert!(door.counts.lock().expect("lock").pending_per_ip.len() <= 1);
    }

    #[test]
    fn a_tight_descriptor_limit_keeps_half_for_the_rest() {
        let limits = Limits::default();
        let door = Door::new(&limits, Some(256), Arc::default());
        assert_eq!((door.max_connections, door.max_pending, door.max_pending_per_ip), (128, 64, 16));
        let roomy = Door::new(&limits, Some(65_536), Arc::default());
        assert_eq!(roomy.max_connections, limits.mqtt_max_sessions + limits.mqtt_max_pending);
    }
}
