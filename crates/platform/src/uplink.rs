//! `POST {prefix}/{interface}`: every lot → platform request goes through one
//! pipeline: form → lot → verify+decrypt → decode+validate → authorize →
//! store → reply. Each step's failure is answered with the spec's resultCode
//! and a Chinese `msg` naming the step and the field.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onepark_domain::time::format_time;
use onepark_proto::dict::{AccountMark, PhotoMark};
use onepark_proto::form::UplinkForm;
use onepark_proto::interface::{AccessId, Uplink};
use onepark_proto::msg::DecodeError;
use onepark_proto::msg::list::ConfirmSpecialCar;
use onepark_proto::msg::record::{
    CarIn, CarInModify, CarOut, CheckRecord, DownloadUid, Heartbeat, ParkingInfo, ParkingState, PayRecord, Photo,
    UidEntry, decode_photo_file,
};
use onepark_proto::msg::{Clock, Confirm, Decoded, Message, decode_at};
use onepark_proto::validate::{Problem, ProblemKind};
use onepark_proto::wire::ResultCode;
use onepark_proto::{Keys, OpenError, Opened};
use serde_json::{Map, Value};

use crate::admission::{Seen, bounded};
use crate::app::AppState;
use crate::config::LotAccess;
use crate::store::{Confirmed, DayCounts, Put, Store, StoreError};

/// The reply: `{resultCode, msg, …}` at the top level, as the spec shows.
pub struct Answer {
    pub code: ResultCode,
    pub msg: String,
    pub extra: Map<String, Value>,
    /// downloadUID's `data.result`, streamed from the database after the head.
    stream: Option<Box<UidStream>>,
    /// "Retry later": the HTTP status (429 held off, 503 clock) and Retry-After seconds.
    hold: Option<(StatusCode, u64)>,
    /// Refused before the sender was authenticated, at this step.
    unauthenticated: Option<&'static str>,
}

impl Answer {
    fn new(code: ResultCode, msg: impl Into<String>) -> Answer {
        Answer { code, msg: msg.into(), extra: Map::new(), stream: None, hold: None, unauthenticated: None }
    }

    fn ok(msg: impl Into<String>) -> Answer {
        Answer::new(ResultCode::OK, msg)
    }

    fn client(msg: impl Into<String>) -> Answer {
        Answer::new(ResultCode::BAD_REQUEST, msg)
    }

    fn server(msg: impl Into<String>) -> Answer {
        Answer::new(ResultCode::SERVER_ERROR, msg)
    }

    /// Not now, but nothing is wrong with the record: resultCode 500 with an
    /// HTTP status and `Retry-After` every HTTP client understands, so a lot
    /// keeps the record and sends it again (never a 400, which lots set aside).
    fn hold(status: StatusCode, retry_after: u64, msg: impl Into<String>) -> Answer {
        Answer { hold: Some((status, retry_after)), ..Answer::server(msg) }
    }

    /// A refusal before authentication (logged as a summary, not per request).
    fn before_auth(mut self, step: &'static str) -> Answer {
        self.unauthenticated = Some(step);
        self
    }

    fn outcome(&self) -> &'static str {
        match self.code.0 {
            200 => "ok",
            _ if self.hold.is_some() => "held",
            500 => "server_error",
            _ => "rejected",
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("resultCode".into(), Value::String(self.code.0.to_string()));
        body.insert("msg".into(), Value::String(self.msg));
        body.extend(self.extra);
        if let Some(stream) = self.stream {
            // `{"msg":…,"resultCode":"200","data":{"result":[` … `]}}`
            let mut head = Value::Object(body).to_string();
            head.pop();
            head.push_str(",\"data\":{\"result\":[");
            return ([("content-type", "application/json")], (*stream).body(head)).into_response();
        }
        if let Some((status, retry_after)) = self.hold {
            return (status, [("retry-after", retry_after.to_string())], axum::Json(Value::Object(body)))
                .into_response();
        }
        // Client faults are answers (HTTP 200, resultCode 400): retrying them
        // cannot help. Our own faults are HTTP 500 so lots retry (D-17).
        let status =
            if self.code == ResultCode::SERVER_ERROR { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
        (status, axum::Json(Value::Object(body))).into_response()
    }
}

/// The rows of one downloadUID answer, read page by page while the body is
/// written, so tens of thousands of records never sit in memory at once.
struct UidStream {
    store: Store,
    parking_code: String,
    date: chrono::NaiveDate,
    kind: onepark_proto::dict::RecordKind,
}

const UID_PAGE: i64 = 1000;

impl UidStream {
    fn body(self, head: String) -> axum::body::Body {
        struct Cursor {
            rows: UidStream,
            head: Option<String>,
            after: Option<(String, String)>,
            done: bool,
        }
        let start = Cursor { rows: self, head: Some(head), after: None, done: false };
        let stream = futures_util::stream::unfold(start, |mut c| async move {
            if let Some(head) = c.head.take() {
                return Some((Ok::<_, std::io::Error>(head), c));
            }
            if c.done {
                return None;
            }
            let page =
                c.rows.store.uids_page(&c.rows.parking_code, c.rows.date, c.rows.kind, c.after.as_ref(), UID_PAGE);
            match page.await {
                Err(e) => {
                    // The status line is gone; cutting the body short makes
                    // the reply invalid JSON, so the lot retries.
                    tracing::error!(error = %e, "downloadUID stream failed");
                    c.done = true;
                    Some((Err(std::io::Error::other(e.to_string())), c))
                }
                Ok(rows) if rows.is_empty() => {
                    c.done = true;
                    Some((Ok("]}}".to_owned()), c))
                }
                Ok(rows) => {
                    let mut chunk = String::new();
                    for (uid, id) in &rows {
                        if c.after.is_some() || !chunk.is_empty() {
                            chunk.push(',');
                        }
                        let entry = UidEntry::new(c.rows.kind, uid.clone(), id.clone());
                        chunk.push_str(&serde_json::to_string(&entry).unwrap_or_default());
                    }
                    c.after = rows.into_iter().last();
                    Some((Ok(chunk), c))
                }
            }
        });
        axum::body::Body::from_stream(stream)
    }
}

pub async fn handle(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Answer {
    let started = Instant::now();
    let mut access_id = String::new();
    let answer = pipeline(&state, &name, query.as_deref().unwrap_or_default(), &body, &mut access_id).await;
    let label = Uplink::from_name(&name).map_or("unknown", Uplink::name);
    state.metrics().observe(label, answer.outcome(), started.elapsed());
    if let Some(step) = answer.unauthenticated {
        // Anyone can send these, with any text: count them, log a summary a
        // minute, and each one at debug level only.
        state.metrics().unauthenticated(step);
        if let Some(summary) = state.refusals().record(step, &access_id, started) {
            tracing::warn!(%summary, "unauthenticated uplink requests refused in the last minute");
        }
        tracing::debug!(access_id = %access_id, step, interface = %bounded(&name, 40), msg = %answer.msg, "uplink refused");
        return answer;
    }
    tracing::info!(
        access_id = %access_id,
        interface = label,
        outcome = answer.outcome(),
        result_code = answer.code.0,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        msg = %answer.msg,
        "uplink"
    );
    answer
}

/// Echoed and logged accessIDs are cut to this many characters.
const ECHO: usize = 64;

async fn pipeline(state: &AppState, name: &str, query: &str, body: &[u8], access_id: &mut String) -> Answer {
    let Some(interface) = Uplink::from_name(name) else {
        return Answer::client(format!("未知接口 {}", bounded(name, 40))).before_auth("interface");
    };
    let form = match UplinkForm::parse(query.as_bytes(), body) {
        Ok(form) => form,
        Err(e) => return Answer::client(e.zh()).before_auth("form"),
    };
    *access_id = bounded(&form.access_id, ECHO);
    let access = AccessId::parse(&form.access_id);
    let lot = match state.lot(&access.base).await {
        Ok(Some(lot)) => lot,
        Ok(None) => return Answer::client(format!("未知的接入方 accessID {access_id}")).before_auth("access_id"),
        Err(_) => return Answer::server("服务器错误：接入方信息读取失败，请稍后重传"),
    };
    // The node as sent (`234_2`): one broken node must not hold back the others.
    let node = form.access_id.as_str();
    let now = Instant::now();
    if let Some(wait) = state.probes().blocked(node, now) {
        state.metrics().held("probe");
        return Answer::hold(
            StatusCode::TOO_MANY_REQUESTS,
            wait,
            format!(
                "接入方 {access_id} 近期多次提交签名正确但无法解密的数据，已暂停受理 {wait} 秒后可重试：请检查加密所用的平台公钥"
            ),
        );
    }
    match state.replays().seen(node, &form.sign, now) {
        Some(Seen::Done) => {
            state.metrics().replay();
            return Answer::client(
                "重复提交的请求：与已成功处理的请求完全相同（数据已保存），未再次处理；重传请重新加密签名",
            );
        }
        Some(Seen::Stale) => {
            state.metrics().replay();
            return Answer::hold(
                StatusCode::SERVICE_UNAVAILABLE,
                60,
                "上传时间 uploadTime 超出允许范围：请校准时钟后重新加密上传",
            );
        }
        None => {}
    }
    let (file, sign) = (form.file, form.sign);
    let opened = match open(state, &lot, node, form.cipher, sign.clone()).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let answer = dispatch(state, interface, &lot, node, &opened, file).await.unwrap_or_else(|rejected| rejected);
    // Bytes answered for good are answered again without decrypting them.
    if answer.code == ResultCode::OK {
        state.replays().remember(node, &sign, Seen::Done, now);
    } else if answer.hold.is_some_and(|(status, _)| status == StatusCode::SERVICE_UNAVAILABLE) {
        state.replays().remember(node, &sign, Seen::Stale, now);
    }
    answer
}

/// Decodes, authorizes and stores one opened request; `Err` is an early answer.
async fn dispatch(
    state: &AppState,
    interface: Uplink,
    lot: &LotAccess,
    node: &str,
    opened: &Opened,
    file: Option<String>,
) -> Result<Answer, Answer> {
    let clock = state.clock();
    let now = format_time(clock.now);
    Ok(match interface {
        Uplink::UploadCarInData => {
            let m = accept::<CarIn>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            let valid = plate_ok(&m.warnings);
            stored(state.store().put_entry(&lot.access_id, &m.message, valid, &now).await, &uid_label(&m.message.uid))
        }
        Uplink::UploadModifyCarInData => {
            let m = accept::<CarInModify>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            stored(state.store().modify_entry(&m.message, &now).await, &uid_label(&m.message.uid))
        }
        Uplink::UploadCarOutData => {
            let m = accept::<CarOut>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            let valid = plate_ok(&m.warnings);
            stored(state.store().put_exit(&lot.access_id, &m.message, valid, &now).await, &uid_label(&m.message.uid))
        }
        Uplink::UploadParkingState => {
            let m = accept::<ParkingState>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            stored(state.store().put_state(&lot.access_id, &m.message, &now).await.map(|()| Put::Inserted), "")
        }
        Uplink::UploadHeartbeat => {
            let m = accept::<Heartbeat>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            let mut answer = stored(
                state.store().heartbeat(&lot.access_id, &m.message.parking_code, &now).await.map(|()| Put::Inserted),
                "",
            );
            answer.extra.insert("serverTime".into(), Value::String(now));
            answer
        }
        Uplink::UploadPhoto => {
            let m = accept::<Photo>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            photo(state, lot, &m.message, file, &now).await?
        }
        Uplink::UploadPayRecord => {
            let m = accept::<PayRecord>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            let label = format!("账单编号 billID {}", m.message.bill_id);
            stored(state.store().put_bill(&lot.access_id, &m.message, &now).await, &label)
        }
        Uplink::UploadParkingInfo => {
            let m = accept::<ParkingInfo>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            stored(state.store().put_parking_info(&lot.access_id, &m.message, &now).await.map(|()| Put::Inserted), "")
        }
        Uplink::UploadCheckRecord => {
            let m = accept::<CheckRecord>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            check(state, &m.message, &now).await
        }
        Uplink::DownloadUid => {
            let m = accept::<DownloadUid>(state, lot, node, opened, &clock, |m| &m.parking_code)?;
            download(state, &m.message).await
        }
        Uplink::ConfirmSpecialCar => {
            let m = accept::<ConfirmSpecialCar>(state, lot, node, opened, &clock, |m| &m.params.parking_code)?;
            confirm(state, lot, "specialCar", &m.message).await
        }
        other => Answer::client(format!("接口 {other}（{}）暂未开通", other.zh())),
    })
}

/// Verify and decrypt off the reactor: RSA private-key operations are the
/// whole cost of a request and would otherwise stall other connections.
async fn open(
    state: &AppState,
    lot: &Arc<LotAccess>,
    node: &str,
    cipher: String,
    sign: String,
) -> Result<Opened, Answer> {
    let own = state.private_key();
    if own.is_none() && lot.profile == onepark_proto::Profile::Qingdao {
        return Err(Answer::server("平台未配置私钥（keys.private_key），无法解密"));
    }
    match open_with(lot.clone(), own, cipher, sign).await {
        Err((answer, true)) => {
            probe(state, &lot.access_id, node);
            Err(answer)
        }
        // Not signed by the lot's key: nobody is authenticated.
        Err((answer, false)) if answer.code == ResultCode::BAD_REQUEST => Err(answer.before_auth("signature")),
        other => other.map_err(|(answer, _)| answer),
    }
}

/// Counts and alarms on a signed request that did not decrypt to JSON.
fn probe(state: &AppState, access_id: &str, node: &str) {
    state.metrics().undecryptable(access_id);
    if state.probes().record(node, Instant::now()) {
        tracing::error!(
            access_id,
            node = %bounded(node, ECHO),
            "signed requests that do not decrypt: holding this node off (key probe or broken key)"
        );
    } else {
        tracing::warn!(access_id, "signature verified but the cipher did not decrypt to JSON");
    }
}

/// `Err((answer, verified))`: `verified` when the signature was good but
/// the cipher was not.
async fn open_with(
    lot: Arc<LotAccess>,
    own: Option<Arc<onepark_proto::PrivateKey>>,
    cipher: String,
    sign: String,
) -> Result<Opened, (Answer, bool)> {
    tokio::task::spawn_blocking(move || {
        let keys = Keys { own: own.as_deref(), peer: Some(&lot.public_key) };
        onepark_proto::open(lot.profile, &cipher, &sign, keys).map_err(|e| {
            let verified = matches!(e, OpenError::BlockLength { .. } | OpenError::Decrypt { .. } | OpenError::Charset);
            (Answer::client(e.zh()), verified)
        })
    })
    .await
    .unwrap_or_else(|e| Err((Answer::server(format!("服务器错误：解密任务失败（{e}）")), false)))
}

/// Decode, validate (times against the platform's clock), and authorize
/// the parkingCode for this accessID.
fn accept<T: Message>(
    state: &AppState,
    lot: &LotAccess,
    node: &str,
    opened: &Opened,
    clock: &Clock,
    parking_code: impl Fn(&T) -> &String,
) -> Result<Decoded<T>, Answer> {
    let decoded = decode_at::<T>(&opened.text, clock).map_err(|e| match e {
        DecodeError::UploadTime { .. } => {
            state.metrics().held("upload_time");
            let mut answer = Answer::hold(StatusCode::SERVICE_UNAVAILABLE, 60, e.zh());
            answer.extra.insert("serverTime".into(), Value::String(format_time(clock.now)));
            answer
        }
        DecodeError::Invalid(_) => Answer::client(e.zh()),
        _ => {
            probe(state, &lot.access_id, node);
            Answer::client(e.zh())
        }
    })?;
    if decoded.warnings.iter().any(|w| matches!(w.kind, ProblemKind::FarPast { .. })) {
        state.metrics().finding("far_past");
    }
    let code = parking_code(&decoded.message);
    if !lot.parking_codes.iter().any(|c| c == code) {
        return Err(Answer::client(format!(
            "接入方 {} 无权上传停车场 {code} 的数据（parkingCode 未授权）",
            lot.access_id
        )));
    }
    Ok(decoded)
}

fn plate_ok(warnings: &[Problem]) -> bool {
    !warnings.iter().any(|w| w.field == "plateNo" && matches!(w.kind, ProblemKind::BadPlate { .. }))
}

fn uid_label(uid: &str) -> String {
    format!("流水号 uid {uid}")
}

fn stored(result: Result<Put, StoreError>, what: &str) -> Answer {
    match result {
        Ok(Put::Inserted) => Answer::ok("操作成功"),
        Ok(Put::Duplicate) => Answer::ok("操作成功（重复上传，数据未变更）"),
        Err(StoreError::Conflict { .. }) => Answer::client(format!(
            "{what} 已存在且内容不同：同一记录不能重复上传，入场记录的修改请使用 uploadModifyCarInData"
        )),
        Err(StoreError::NoEntry { .. }) => Answer::client(format!("{what} 的入场记录不存在，无法修改")),
        Err(e @ (StoreError::Db(_) | StoreError::Commit(_) | StoreError::NotWritten | StoreError::Migrate(_))) => {
            tracing::error!(error = %e, "store failed");
            Answer::server("服务器错误：数据写入失败，请稍后重传")
        }
    }
}

/// A confirm call: marks the downlink confirmed, or refused with the lot's
/// reason (`success: false`; not counted as delivered). A repeat, or a
/// requestId this accessID was never sent, is answered 200 and changes nothing.
async fn confirm<P>(state: &AppState, lot: &LotAccess, interface: &str, c: &Confirm<P>) -> Answer {
    let (request_id, success) = (c.request_id, c.success);
    let now = format_time(state.now());
    let now_ms = chrono::Utc::now().timestamp_millis();
    let result =
        state.store().confirm_downlink(request_id, &lot.access_id, success, c.msg.as_deref(), &now, now_ms).await;
    match result {
        Ok(Confirmed::Now { latency_ms }) if success => {
            state.metrics().confirmed(interface, latency_ms);
            Answer::ok("确认成功")
        }
        Ok(Confirmed::Now { .. }) => {
            state.metrics().refused(interface);
            let reason = c.msg.as_deref().unwrap_or("（未说明原因）");
            tracing::warn!(request_id, access_id = %lot.access_id, interface, reason, "lot refused the downlink");
            Answer::ok("已记录：车场未能处理该消息")
        }
        Ok(Confirmed::Already) => Answer::ok("确认成功（重复确认，未变更）"),
        Ok(Confirmed::Unknown) => {
            tracing::warn!(request_id, access_id = %lot.access_id, interface, "confirm for an unknown requestId");
            Answer::ok(format!("requestId {request_id} 不是平台发给接入方 {} 的消息，已忽略", lot.access_id))
        }
        Err(e) => stored(Err(e), ""),
    }
}

/// uploadPhoto: the JPEG travels outside the cipher and the signature (the
/// spec's design), so anyone who captured a request can resend it with
/// another file. Hence: a budget per accessID before any work, the existing
/// row checked before anything touches the disk (a replay with another file
/// is refused without writing), and a file written for a row that then did
/// not commit is removed again (unless another upload of the same file is
/// under way), so no replay can leave an orphan behind.
async fn photo(
    state: &AppState,
    lot: &LotAccess,
    m: &Photo,
    file: Option<String>,
    now: &str,
) -> Result<Answer, Answer> {
    if let Err(wait) = state.photo_rate().take(&lot.access_id, Instant::now()) {
        state.metrics().held("photo_rate");
        let per_minute = state.limits().photos_per_minute;
        return Err(Answer::hold(
            StatusCode::TOO_MANY_REQUESTS,
            wait,
            format!("接入方 {} 上传照片超过每分钟 {per_minute} 张的上限，请 {wait} 秒后重传", lot.access_id),
        ));
    }
    let jpeg = decode_photo_file(file.as_deref().unwrap_or_default()).map_err(|e| Answer::client(e.zh()))?;
    let size = jpeg.len() as i64;
    let sha256 = crate::photo::digest(&jpeg);
    let label = format!("照片编号 photoID {}", m.photo_id);
    let content = crate::store::photo_content(m, &sha256);
    match state.store().photo_stored(&m.parking_code, &m.photo_id).await {
        // The same answers the row's own insert gives, without writing the file first.
        Ok(Some(existing)) if existing == content => return Ok(stored(Ok(Put::Duplicate), &label)),
        Ok(Some(_)) => {
            let conflict = StoreError::Conflict { parking_code: m.parking_code.clone(), key: m.photo_id.clone() };
            return Ok(stored(Err(conflict), &label));
        }
        Ok(None) => {}
        Err(e) => return Ok(stored(Err(e), &label)),
    }
    // From here to the commit this upload may need the file; a failed
    // upload's clean-up must not remove it from under another one.
    let in_flight = state.photos_in_flight();
    in_flight.start(&sha256);
    let dir = state.photo_dir().to_owned();
    let (write_dir, write_sha) = (dir.clone(), sha256.clone());
    let created = match tokio::task::spawn_blocking(move || crate::photo::save(&write_dir, &write_sha, &jpeg)).await {
        Ok(Ok(created)) => created,
        Ok(Err(e)) => {
            in_flight.end(&sha256);
            tracing::error!(error = %e, "photo write failed");
            return Ok(Answer::server("服务器错误：照片保存失败，请稍后重传"));
        }
        Err(e) => {
            in_flight.end(&sha256);
            return Ok(Answer::server(format!("服务器错误：照片保存任务失败（{e}）")));
        }
    };
    let put = state.store().put_photo(&lot.access_id, m, &sha256, size, now).await;
    if put.is_err() && created {
        // Nothing may refer to the file this request created: take it back.
        let ticket = in_flight.ticket(&sha256);
        match state.store().photo_file_used(&sha256).await {
            Ok(false) => in_flight.finish(ticket, || {
                if let Err(e) = crate::photo::remove(&dir, &sha256) {
                    tracing::error!(error = %e, sha256, "cannot remove an unreferenced photo file");
                }
            }),
            Ok(true) => in_flight.finish(ticket, || {}),
            Err(e) => {
                in_flight.finish(ticket, || {});
                tracing::error!(error = %e, sha256, "cannot check an unreferenced photo file");
            }
        }
    } else {
        in_flight.end(&sha256);
    }
    Ok(stored(put, &label))
}

/// uploadCheckRecord: compare the lot's counts with ours and answer the
/// marks exactly per the data dictionary (bit 1 entries, 2 exits, 4 bills).
async fn check(state: &AppState, m: &CheckRecord, now: &str) -> Answer {
    let ours = match state.store().day_counts(&m.parking_code, m.check_date.0).await {
        Ok(counts) => counts,
        Err(e) => return stored(Err(e), ""),
    };
    let theirs = DayCounts::from(m);
    let mark = AccountMark::from_mismatches(
        ours.arrive != theirs.arrive,
        ours.leave != theirs.leave,
        ours.pay_num != theirs.pay_num || ours.pay_total != theirs.pay_total,
    );
    let photo_mark = if ours.photo == theirs.photo { PhotoMark::Consistent } else { PhotoMark::Inconsistent };
    if let Err(e) = state.store().record_check(m, &ours, (mark.0, photo_mark.code()), now).await {
        return stored(Err(e), "");
    }
    let mut answer = Answer::ok("操作成功");
    answer.extra.insert("accountMark".into(), Value::from(mark.0));
    answer.extra.insert("photoMark".into(), Value::from(photo_mark.code()));
    answer
}

/// downloadUID: what the platform holds for that day and kind, with the
/// lot's record ids under the key matching the kind; streamed.
async fn download(state: &AppState, m: &DownloadUid) -> Answer {
    let mut answer = Answer::ok("操作成功");
    answer.stream = Some(Box::new(UidStream {
        store: state.store().clone(),
        parking_code: m.parking_code.clone(),
        date: m.account_date.0,
        kind: m.kind,
    }));
    answer
}
