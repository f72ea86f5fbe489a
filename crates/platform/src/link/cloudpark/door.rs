//! The front door: body (bounded) → envelope → principal → timestamp →
//! sign → replay → service → answer. Every refusal is an answer with its
//! code and a Chinese msg naming the field or step; a retryable one (storage,
//! throttle) also carries HTTP 503/429 so proxies and clients see it.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use onepark_cloudpark::mq::ServiceId;
use onepark_cloudpark::{Answer, Code, Refusal, Request, Service};

use super::answer::{Done, unavailable};
use super::replay::Claim;
use super::{BODY_LIMIT, WINDOW_SECONDS, services};
use crate::state::AppState;

/// `POST /cloudparkapi/api/{serviceName}`.
pub async fn handle(State(state): State<AppState>, Path(name): Path<String>, body: Body) -> Response {
    let started = std::time::Instant::now();
    let req_id = crate::secret::random_hex(16).unwrap_or_default();
    let service = match Service::parse(&name) {
        Ok(s) => Ok(Target::Api(s)),
        Err(refusal) => ServiceId::parse(&name).map(Target::Command).ok_or(refusal),
    };
    let answer = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => match serve(&state, &name, service.clone(), &bytes).await {
            Ok(done) => match (done.status, done.note) {
                (Some((code, msg)), _) => Answer {
                    req_id: req_id.clone(),
                    code: code.number(),
                    msg: format!("{}：{msg}", code.zh()),
                    data: done.data,
                },
                (None, Some(note)) => Answer::ok_noting(&req_id, done.data, &note),
                (None, None) => Answer::ok(&req_id, done.data),
            },
            Err(refusal) => {
                tracing::warn!(service = %name, code = refusal.code.number(), reason = %refusal.detail, "cloud API request refused");
                Answer::refused(&req_id, &refusal)
            }
        },
        Err(_) => {
            Answer::refused(&req_id, &Refusal::new(Code::TooLarge, format!("请求体超过 {} KiB", BODY_LIMIT / 1024)))
        }
    };
    let label = match service {
        Ok(Target::Api(s)) => s.name(),
        Ok(Target::Command(s)) => s.name(),
        Err(_) => "unknown",
    };
    state.metrics().cloud(label, answer.code, started.elapsed());
    let status = match Code::from_number(answer.code) {
        Some(Code::Throttled) => StatusCode::TOO_MANY_REQUESTS,
        Some(Code::Unavailable | Code::Internal) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], answer.to_json()).into_response()
}

/// What a URL names: a service of the API, or a command to lots (an stp serviceId).
#[derive(Clone, Copy)]
enum Target {
    Api(Service),
    Command(ServiceId),
}

/// The `request_claims` door of the cloud API's (pid, sign) pairs.
pub const REPLAY_DOOR: &str = "cloudpark";

fn replayed() -> Refusal {
    Refusal::new(
        Code::Replay,
        format!("相同的 pid 与 sign 在 {} 秒内已收到；重发请用新的 timestamp 重新签名", 2 * WINDOW_SECONDS),
    )
}

async fn serve(
    state: &AppState,
    url_name: &str,
    service: Result<Target, Refusal>,
    body: &[u8],
) -> Result<Done, Refusal> {
    let request = Request::parse(body)?;
    let service = service?;
    if request.service_name != url_name {
        return Err(Refusal::bad(format!(
            "URL 中的接口 {url_name} 与参数 serviceName {} 不一致",
            request.service_name
        )));
    }
    let principal = match state.cloud_known().get(&request.pid, std::time::Instant::now()) {
        Some(known) => known,
        None => {
            let read = state.store().principal(&request.pid).await.map_err(unavailable)?;
            let read = read.ok_or_else(|| Refusal::new(Code::UnknownPid, format!("pid {} 未注册", request.pid)))?;
            state.cloud_known().put(&read.pid, &read, std::time::Instant::now());
            read
        }
    };
    let now = state.clock().now();
    request.check_time(now.timestamp(), WINDOW_SECONDS)?;
    request.verify(&principal.secret)?;
    match state.cloud_replays().claim(&request.pid, &request.sign, std::time::Instant::now()) {
        // This node has not seen it; the database says whether any node has.
        Claim::Fresh => {
            let key = format!("{}\n{}", request.pid, request.sign.to_ascii_uppercase());
            if !state.store().claim_request(REPLAY_DOOR, &key, state.clock().millis()).await.map_err(unavailable)? {
                return Err(replayed());
            }
        }
        Claim::Replay => return Err(replayed()),
        Claim::Full => return Err(Refusal::new(Code::Throttled, "请求过多，请稍后重试")),
    }
    // The claim stands even when the service fails: the caller re-signs to
    // retry (the answer says so), and a captured copy never gets a second go.
    match service {
        Target::Api(service) => services::run(state, &principal, service, &request.biz_content).await,
        Target::Command(service) => super::commands::issue(state, &principal, service, &request.biz_content).await,
    }
}
