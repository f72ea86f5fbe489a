//! The lot's side of the cloud's MQ channel (`[cloudpark] mqtt_url`): logs
//! in with its pid and a password signed with its secret (fresh per
//! connect), listens on its command topic and the broadcast, carries out
//! each command once per uuid (`crate::remote`), answers on its report topic
//! with the same uuid, and publishes its reports (manual lifts, blacklist
//! alarms: `cloud_reports`, durable) until the cloud acknowledges them. The
//! online state (2.1) goes every 30 s.
//!
//! A command past its `expireTime` is refused, never applied: a barrier
//! raise that waited in a broker while the lot was away opens for nobody.

use std::sync::Arc;
use std::time::Duration;

use onepark_cloudpark::channel::login_password;
use onepark_cloudpark::command::{Report, expires};
use onepark_cloudpark::mq::{Direction, Envelope, ServiceId};
use onepark_domain::time::format_time;
use onepark_proto::mqtt::BrokerUrl;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeFilter};

use crate::config::{CloudLink, CloudMq};
use crate::state::LotState;
use crate::store::{QueuedReport, Seen};

/// How often unacknowledged reports go again.
const RESEND: Duration = Duration::from_secs(10);
/// How often the online state goes.
const ONLINE: Duration = Duration::from_secs(30);

/// Runs the channel until the task is dropped; reconnects with backoff.
pub async fn run(state: LotState, link: CloudLink) {
    let Some(mq) = link.mq.clone() else { return };
    let url = match BrokerUrl::parse(&mq.url) {
        Ok(url) => url,
        Err(e) => {
            tracing::error!(error = %e, "cloudpark.mqtt_url");
            return;
        }
    };
    let mut options = MqttOptions::new(&mq.client_id, url.host.clone(), url.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    // Clean: a command is answered now or refused by its deadline; the cloud re-publishes.
    options.set_clean_session(true);
    let (client, mut events) = AsyncClient::new(options, 256);
    let client = Arc::new(client);
    let login = |events: &mut EventLoop| {
        let password = match &url.login {
            Some((user, password)) => (user.clone(), password.clone()),
            None => {
                let now = state.clock().now().timestamp();
                (link.pid.clone(), login_password(&link.pid, &mq.client_id, &link.secret, now))
            }
        };
        events.mqtt_options.set_credentials(password.0, password.1);
    };
    login(&mut events);
    let code = state.config().parking_code.clone();
    let mut backoff = Duration::from_secs(1);
    let mut resend = tokio::time::interval(RESEND);
    let mut online = tokio::time::interval(ONLINE);
    let mut connected = false;
    loop {
        tokio::select! {
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_secs(1);
                    connected = true;
                    tracing::info!(client_id = mq.client_id, "cloud MQ connected");
                    let filters = vec![
                        SubscribeFilter::new(mq.topics.command(&code), QoS::AtLeastOnce),
                        SubscribeFilter::new(mq.topics.broadcast(), QoS::AtLeastOnce),
                    ];
                    if let Err(e) = client.try_subscribe_many(filters) {
                        tracing::error!(error = %e, "cannot queue the cloud MQ subscription");
                    }
                    send_reports(&state, &client, &mq).await;
                    online_state(&state, &client, &mq).await;
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    if ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) {
                        tracing::error!(codes = ?ack.return_codes, "the broker refused the cloud MQ subscription");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let (state, client, mq) = (state.clone(), client.clone(), mq.clone());
                    // A barrier order waits for its controller: never on the event loop.
                    tokio::spawn(async move { receive(&state, &client, &mq, &p.topic, &p.payload).await });
                }
                Ok(_) => {}
                Err(e) => {
                    connected = false;
                    tracing::warn!(error = %e, retry_in = ?backoff, "cloud MQ connection lost");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    login(&mut events);
                }
            },
            _ = resend.tick(), if connected => send_reports(&state, &client, &mq).await,
            _ = state.cloud_reports_woken(), if connected => send_reports(&state, &client, &mq).await,
            _ = online.tick(), if connected => online_state(&state, &client, &mq).await,
        }
    }
}

async fn publish(client: &AsyncClient, topic: String, m: &Envelope) {
    if let Err(e) = client.publish(topic, QoS::AtLeastOnce, false, m.to_json().to_string()).await {
        tracing::warn!(error = %e, "cloud MQ publish failed");
    }
}

/// Publishes the reports the cloud has not acknowledged yet.
async fn send_reports(state: &LotState, client: &AsyncClient, mq: &CloudMq) {
    let pending = match state.store().pending_reports(100).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cloud reports: storage");
            return;
        }
    };
    let topic = mq.topics.report(&state.config().parking_code);
    for QueuedReport { uuid, payload, .. } in pending {
        if client.publish(topic.clone(), QoS::AtLeastOnce, false, payload).await.is_err() {
            return;
        }
        let _ = state.store().report_sent(&uuid).await;
    }
}

/// 2.1: the lot is online (not kept: the next one is 30 s away).
async fn online_state(state: &LotState, client: &AsyncClient, mq: &CloudMq) {
    let code = &state.config().parking_code;
    let m =
        Report::Online { mac: mq.client_id.clone() }.envelope(&crate::cloudreport::new_uuid(state), code, state.now());
    publish(client, mq.topics.report(code), &m).await;
}

/// A message on the command topic or the broadcast.
async fn receive(state: &LotState, client: &AsyncClient, mq: &CloudMq, topic: &str, payload: &[u8]) {
    let code = state.config().parking_code.clone();
    let back = mq.topics.report(&code);
    let now = state.now();
    // A failure answer is never answered (a refusal of a refusal would loop).
    let silent = onepark_cloudpark::mq::is_failure(payload);
    let m = match Envelope::parse(payload) {
        Ok(m) => m,
        Err(r) => {
            tracing::warn!(topic, reason = %r.detail, "cloud MQ message refused");
            if silent {
                return;
            }
            let refusal = Envelope::failure(&code, &r.detail, now);
            publish(client, back, &refusal).await;
            return;
        }
    };
    let broadcast = topic == mq.topics.broadcast();
    let service = ServiceId::parse(&m.service_id);
    if silent && service.is_none_or(|s| s.direction() == Direction::Command) {
        tracing::warn!(uuid = m.uuid, msg = ?m.msg, "the cloud refused a message of the lot");
        return;
    }
    let Some(service) = service else {
        let mut a = m.answer(false, &format!("未知的 serviceId：{}", m.service_id), Vec::new(), now);
        a.park_code = code.clone();
        publish(client, back, &a).await;
        return;
    };
    if service.direction() == Direction::Report {
        // The cloud acknowledging one of our reports.
        if m.code == 1 {
            match state.store().ack_report(&m.uuid, &format_time(now)).await {
                Ok(true) => tracing::debug!(uuid = m.uuid, "cloud acknowledged a report"),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "cloud report ack: storage"),
            }
        } else {
            tracing::warn!(uuid = m.uuid, service = m.service_id, msg = ?m.msg, "the cloud refused a report");
        }
        return;
    }
    let answer = |ok: bool, msg: &str, items| {
        let mut a = m.answer(ok, msg, items, now);
        // Answered on this lot's report topic, in this lot's name (the broadcast's too).
        a.park_code = code.clone();
        a
    };
    if !broadcast && m.park_code != code {
        let msg = format!("parkCode {} 不是本车场 {code}", m.park_code);
        publish(client, back, &answer(false, &msg, Vec::new())).await;
        return;
    }
    if let Some(deadline) = expires(&m)
        && now > deadline
    {
        let msg = format!("指令已过期（截止 {}），未执行", format_time(deadline));
        tracing::warn!(uuid = m.uuid, service = m.service_id, "stale cloud command refused");
        publish(client, back, &answer(false, &msg, Vec::new())).await;
        return;
    }
    if broadcast {
        // Read-only, answered only by a lot that knows the plate: nothing to remember.
        if let Some(outcome) = crate::remote::apply(state, &m, service).await {
            let a = match outcome {
                Ok((msg, items)) => answer(true, &msg, items),
                Err(msg) => answer(false, &msg, Vec::new()),
            };
            publish(client, back, &a).await;
        }
        return;
    }
    let seen = state.store().claim_command(&m.uuid, &m.service_id, m.action.as_deref(), &format_time(now)).await;
    let a = match seen {
        Ok(Seen::Answered(text)) => match Envelope::parse(text.as_bytes()) {
            Ok(a) => a,
            Err(_) => answer(false, "应答记录损坏", Vec::new()),
        },
        Ok(Seen::Interrupted) => {
            answer(false, "该指令执行中网关重启，结果未知：请查询状态后用新的 uuid 重发", Vec::new())
        }
        Err(e) => {
            // Not claimed: the cloud re-publishes and it is tried again.
            tracing::error!(error = %e, "cloud command: storage");
            return;
        }
        Ok(Seen::New) => {
            let outcome = crate::remote::apply(state, &m, service).await.unwrap_or_else(|| Err("未处理".into()));
            let a = match outcome {
                Ok((msg, items)) => answer(true, &msg, items),
                Err(msg) => answer(false, &msg, Vec::new()),
            };
            tracing::info!(uuid = m.uuid, service = m.service_id, action = ?m.action, ok = a.code == 1, msg = ?a.msg, "cloud command");
            if let Err(e) = state.store().answer_command(&m.uuid, &a.to_json().to_string()).await {
                tracing::error!(error = %e, "cloud command answer not stored");
            }
            a
        }
    };
    publish(client, back, &a).await;
}
