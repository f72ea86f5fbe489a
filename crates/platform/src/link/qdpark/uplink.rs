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
use onepark_domain::money::yuan;
use onepark_domain::time::format_time;
use onepark_proto::dict::CarStock;
use onepark_proto::dict::{AccountMark, PhotoMark};
use onepark_proto::form::UplinkForm;
use onepark_proto::interface::{AccessId, Uplink};
use onepark_proto::msg::DecodeError;
use onepark_proto::msg::list::ConfirmSpecialCar;
use onepark_proto::msg::payment::{
    AbnormalBill, ApplyPayment, CancelOverDue, ConfirmDeparturePayInfo, ConfirmOverDueResult, ConfirmPayResult,
    DailyBillQuery, DeparturePayQuery, FeeQuery, OverDueQuery, PayResultQuery, UploadFee,
};
use onepark_proto::msg::record::{
    CarIn, CarInModify, CarOut, CheckRecord, DownloadUid, Heartbeat, ParkingInfo, ParkingState, PayRecord, Photo,
    UidEntry, decode_photo_file,
};
use onepark_proto::msg::{Clock, Confirm, Decoded, Message, decode_at};
use onepark_proto::validate::{Problem, ProblemKind};
use onepark_proto::wire::ResultCode;
use onepark_proto::{Keys, OpenError, Opened};
use serde_json::{Map, Value};

use super::{records, replies};
use crate::city::payments;
use crate::config::{LotAccess, LotLink};
use crate::link::qdpark::admission::{Seen, bounded};
use crate::state::AppState;
use crate::store::{
    Arrear, ArrearPut, Began, Confirmed, Debt, FeeQuote, PayState, Payment, Purpose, Put, Store, StoreError,
};

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
            let page = match records::kind(c.rows.kind) {
                Some(kind) => {
                    c.rows.store.uids_page(&c.rows.parking_code, c.rows.date, kind, c.after.as_ref(), UID_PAGE).await
                }
                None => Ok(Vec::new()),
            };
            match page {
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
    // A record taken is counted in /metrics, not logged: at thousands a
    // second a line each would cost more than the database. What went wrong
    // is logged at info.
    if answer.code == ResultCode::OK {
        tracing::debug!(access_id = %access_id, interface = label, latency_ms = started.elapsed().as_secs_f64() * 1000.0, "uplink");
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
    // Replays are keyed by what was signed and whose key signed it — the base
    // accessID — not by the node suffix, which is outside the signature: the
    // same bytes sent as `234_7` and `234_8` are one request.
    let signer = access.base.as_str();
    match state.replays().seen(signer, &form.sign, now) {
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
        state.replays().remember(signer, &sign, Seen::Done, now);
    } else if answer.hold.is_some_and(|(status, _)| status == StatusCode::SERVICE_UNAVAILABLE) {
        state.replays().remember(signer, &sign, Seen::Stale, now);
    }
    answer
}

/// Decodes, authorizes and stores one opened request; `Err` is an early answer.
async fn dispatch(
    state: &AppState,
    interface: Uplink,
    lot: &Arc<LotAccess>,
    node: &str,
    opened: &Opened,
    file: Option<String>,
) -> Result<Answer, Answer> {
    let clock = state.receiving();
    let now = format_time(clock.now);
    Ok(match interface {
        Uplink::UploadCarInData => {
            let m = accept::<CarIn>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            let valid = plate_ok(&m.warnings);
            let e = &m.message;
            let watch = valid.then(|| plate(&e.plate_no));
            let put = state
                .store()
                .put_entry(&records::lot(&lot.access_id), &records::entry(e, valid), &now, watch.as_deref())
                .await;
            if let (Ok(put), Some(plate_no)) = (&put, watch)
                && put.news
            {
                payments::entered(state, lot.clone(), e.parking_code.clone(), plate_no, e.plate_color.code());
            }
            stored(put.map(|p| p.put), &uid_label(&e.uid))
        }
        Uplink::UploadModifyCarInData => {
            let m = accept::<CarInModify>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            stored(
                state.store().modify_entry(&records::entry_change(&m.message), &now).await,
                &uid_label(&m.message.uid),
            )
        }
        Uplink::UploadCarOutData => {
            let m = accept::<CarOut>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            let valid = plate_ok(&m.warnings);
            let exit = records::exit(&m.message, valid);
            stored(state.store().put_exit(&records::lot(&lot.access_id), &exit, &now).await, &uid_label(&m.message.uid))
        }
        Uplink::UploadParkingState => {
            let m = accept::<ParkingState>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            let berths = records::berth_state(&m.message);
            stored(
                state.store().put_state(&records::lot(&lot.access_id), &berths, &now).await.map(|()| Put::Inserted),
                "",
            )
        }
        Uplink::UploadHeartbeat => {
            let m = accept::<Heartbeat>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            let mut answer = stored(
                state.store().heartbeat(&lot.access_id, &m.message.parking_code, &now).await.map(|()| Put::Inserted),
                "",
            );
            answer.extra.insert("serverTime".into(), Value::String(now));
            answer
        }
        Uplink::UploadPhoto => {
            let m = accept::<Photo>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            photo(state, lot, &m.message, file, &now).await?
        }
        Uplink::UploadPayRecord => {
            let m = accept::<PayRecord>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            let label = format!("账单编号 billID {}", m.message.bill_id);
            let put = state.store().put_bill(&records::lot(&lot.access_id), &records::bill(&m.message), &now).await;
            if matches!(put, Ok(Put::Inserted)) {
                let b = &m.message;
                payments::bill_reported(state, &b.parking_code, &b.bill_id, b.paid_type.code()).await;
            }
            stored(put, &label)
        }
        Uplink::UploadParkingInfo => {
            let m = accept::<ParkingInfo>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            let info = records::lot_info(&m.message);
            stored(
                state
                    .store()
                    .put_parking_info(&records::lot(&lot.access_id), &info, &now)
                    .await
                    .map(|()| Put::Inserted),
                "",
            )
        }
        Uplink::UploadCheckRecord => {
            let m = accept::<CheckRecord>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            check(state, &m.message, &now).await
        }
        Uplink::DownloadUid => {
            let m = accept::<DownloadUid>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            download(state, &m.message).await
        }
        Uplink::ConfirmSpecialCar => {
            let m = accept::<ConfirmSpecialCar>(state, lot, node, opened, &clock, |m| Some(&m.params.parking_code))?;
            confirm(state, lot, "specialCar", &m.message).await
        }
        Uplink::ApplyPayment => {
            let m = accept::<ApplyPayment>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            apply_payment(state, &m.message).await
        }
        Uplink::GetPayResult => {
            let m = accept::<PayResultQuery>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            get_pay_result(state, &m.message).await
        }
        Uplink::UploadFee => {
            // A refusal echoes the query (the car is not there), not a bill: read it loosely first.
            let loose = accept::<Confirm<FeeQuery>>(state, lot, node, opened, &clock, |_| None)?;
            if loose.message.success {
                let m = accept::<UploadFee>(state, lot, node, opened, &clock, |m| Some(&m.params.parking_code))?;
                upload_fee(state, lot, &m.message).await
            } else {
                refused_fee(state, lot, &loose.message).await
            }
        }
        Uplink::ConfirmPayResult => {
            // Its params carry no parkingCode: only the accessID it was sent to may confirm it.
            let m = accept::<ConfirmPayResult>(state, lot, node, opened, &clock, |_| None)?;
            confirm(state, lot, "payResult", &m.message).await
        }
        Uplink::ConfirmDeparturePayInfo => {
            let m =
                accept::<ConfirmDeparturePayInfo>(state, lot, node, opened, &clock, |m| Some(&m.params.parking_code))?;
            confirm(state, lot, "departurePayInfo", &m.message).await
        }
        Uplink::ConfirmOverDueResult => {
            let m = accept::<ConfirmOverDueResult>(state, lot, node, opened, &clock, |_| None)?;
            confirm(state, lot, "overDueResult", &m.message).await
        }
        Uplink::GetDeparturePayInfo => {
            let m = accept::<DeparturePayQuery>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            let q = &m.message;
            match payments::signing(state, &q.parking_code, &plate(&q.plate_no), q.plate_color.code()).await {
                Ok(info) => {
                    let mut answer = Answer::ok("操作成功");
                    answer.extra = replies::signing(&info);
                    answer
                }
                Err(e) => stored(Err(e), ""),
            }
        }
        Uplink::GetOverDueResult => {
            let m = accept::<OverDueQuery>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            match payments::arrears_of(state, &plate(&m.message.plate_no)).await {
                Ok(a) => {
                    let mut answer = Answer::ok("操作成功");
                    answer.extra = replies::arrears(&a);
                    answer
                }
                Err(e) => stored(Err(e), ""),
            }
        }
        Uplink::UploadAbnormalBill => {
            let m = accept::<AbnormalBill>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            abnormal_bill(state, &m.message, &now).await
        }
        Uplink::CheckDailyBill => {
            let m = accept::<DailyBillQuery>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            daily_bill(state, &m.message).await
        }
        Uplink::CancelOverDueBill => {
            let m = accept::<CancelOverDue>(state, lot, node, opened, &clock, |m| Some(&m.parking_code))?;
            let plate_no = plate(&m.message.plate_no);
            saw_car(state, &m.message.parking_code, &plate_no, clock.now).await?;
            match payments::write_off(state, &m.message.parking_code, &plate_no).await {
                Ok((0, _)) => Answer::ok(format!("车辆 {plate_no} 无待核销的欠费账单")),
                Ok((n, fen)) => Answer::ok(format!("已核销车辆 {plate_no} 的 {n} 笔欠费，共 {} 元", yuan(fen))),
                Err(e) => stored(Err(e), ""),
            }
        }
    })
}

/// A plate as the platform stores it (normalised; what lots and drivers type varies).
fn plate(text: &str) -> String {
    onepark_domain::plate::Plate::parse(text).map_or_else(|_| text.trim().to_owned(), |p| p.to_string())
}

/// cancelOverDueBill: a lot writes off only the arrears of a car it has
/// reported — parked there now, or left within the last day — since its
/// booth collected them from that car; never a plate it never saw.
async fn saw_car(
    state: &AppState,
    parking_code: &str,
    plate_no: &str,
    now: chrono::NaiveDateTime,
) -> Result<(), Answer> {
    let since = format_time(now - chrono::Duration::hours(24));
    match state.store().last_stay(parking_code, plate_no).await {
        Ok(Some((_, None))) => Ok(()),
        Ok(Some((_, Some(left)))) if left >= since => Ok(()),
        Ok(_) => Err(Answer::client(format!(
            "车场 {parking_code} 没有车辆 {plate_no} 在场或 24 小时内离场的记录：只能核销本场车辆的欠费"
        ))),
        Err(e) => Err(stored(Err(e), "")),
    }
}

/// A lot's money report about a stay (applyPayment, uploadAbnormalBill) is
/// acted on only when the lot reported that stay (its entry or exit, uid)
/// with that plate: a lot cannot charge or put arrears on a car it never had.
async fn reported_stay(
    state: &AppState,
    parking_code: &str,
    uid: &str,
    plate_no: &str,
    label: &str,
) -> Result<(), Answer> {
    match state.store().stay_plates(parking_code, uid).await.map(|mut plates| {
        plates.dedup();
        plates
    }) {
        Ok(plates) if plates.iter().any(|p| plate(p) == plate_no) => Ok(()),
        Ok(plates) if plates.is_empty() => Err(Answer::client(format!(
            "{label}：车场 {parking_code} 未上传过停车记录 uid {uid}（入场或出场），不能据此扣款或登记欠费"
        ))),
        Ok(plates) => Err(Answer::client(format!(
            "{label}：停车记录 uid {uid} 的车牌为 {}，与账单车牌 {plate_no} 不符",
            plates.join("/")
        ))),
        Err(e) => Err(stored(Err(e), label)),
    }
}

/// A bill applied for again with another plate or amount.
fn mismatch(label: &str, first: &Payment, plate_no: &str, should_pay: i64) -> Answer {
    Answer::client(format!(
        "{label} 已于 {} 为车辆 {} 申请扣款 {} 分，本次（{plate_no}，shouldPay {should_pay}）不符：同一账单不能再次扣款",
        first.created_at, first.plate_no, first.should_pay
    ))
}

/// applyPayment (§5.4.1): charge the plate's account for the lot's bill, at
/// most once per bill; the answer says paid (open the barrier) or not.
async fn apply_payment(state: &AppState, m: &ApplyPayment) -> Answer {
    if m.should_pay == 0 {
        return Answer::client("应收金额 shouldPay 为 0：无需申请扣款");
    }
    let plate_no = plate(&m.plate_no);
    let label = format!("账单 billID {}", m.bill_id);
    if let Err(answer) = reported_stay(state, &m.parking_code, &m.uid, &plate_no, &label).await {
        return answer;
    }
    let existing = match state.store().payment(&m.parking_code, &m.bill_id).await {
        Ok(p) => p,
        Err(e) => return stored(Err(e), &label),
    };
    if let Some(p) = &existing
        && (p.should_pay != m.should_pay || p.plate_no != plate_no)
    {
        return mismatch(&label, p, &plate_no, m.should_pay);
    }
    if let Some(p) = existing.filter(|p| p.state != PayState::Declined) {
        return match payments::resolve(state, &p).await {
            Ok(p) => payment_answer(&p, true),
            Err(e) => stored(Err(e), &label),
        };
    }
    // Settled as arrears meanwhile (the driver page, a booth elsewhere): never charge it again.
    match state.store().settled_arrear(&m.parking_code, &m.bill_id).await {
        Ok(Some(a)) if a.plate_no != plate_no || a.should_pay != m.should_pay => {
            return Answer::client(format!(
                "{label} 已作为车辆 {} 的欠费 {} 分结清，本次（{plate_no}，shouldPay {}）不符",
                a.plate_no, a.should_pay, m.should_pay
            ));
        }
        Ok(Some(a)) => {
            let mut answer = Answer::ok("该账单已作为欠费补缴结清，未再次扣款");
            answer.extra = replies::settled(&a);
            answer.extra.remove("payType");
            return answer;
        }
        Ok(None) => {}
        Err(e) => return stored(Err(e), &label),
    }
    let purpose = if m.car_stock == CarStock::Left { Purpose::AfterLeave } else { Purpose::Exit };
    let signup = match state.store().signup(&plate_no).await {
        Ok(s) => s,
        Err(e) => return stored(Err(e), &label),
    };
    let p = payments::new_payment(
        state,
        purpose,
        &m.parking_code,
        &m.bill_id,
        &m.uid,
        (&plate_no, m.plate_color.code()),
        (&m.arrive_time.to_string(), &m.end_time.to_string(), &m.bill_time.to_string()),
        m.should_pay,
    );
    let chargeable = signup.is_some_and(|s| s.no_stop || (purpose == Purpose::AfterLeave && s.after_leave));
    if !chargeable {
        let declined =
            Payment { state: PayState::Declined, reason: Some("NOT_SIGNED 未开通无感支付".into()), ..p };
        if purpose == Purpose::AfterLeave {
            // The car has left: the bill is kept (getPayResult, checkDailyBill)
            // and owed by its plate, in one commit.
            match state.store().begin_payment(&declined, &[]).await {
                Ok(Began::Mismatch(first)) => return mismatch(&label, &first, &plate_no, m.should_pay),
                Ok(_) => {}
                Err(e) => return stored(Err(e), &label),
            }
        }
        let mut answer = Answer::ok(format!("车辆 {plate_no} 未开通无感支付，请转线下缴费"));
        answer.extra = replies::payment(&declined, false);
        return answer;
    }
    // The bill, and the stay's fee it is for: a prepayment of the stay the lot
    // had not counted when it computed this bill (its payResult confirmed
    // later) holds the stay, and the exit is not charged on top of it.
    let computed = format_time(m.bill_time.0.min(state.now()));
    let stay = Debt::Stay { parking_code: m.parking_code.clone(), uid: m.uid.clone(), asked_at: computed };
    let debts = [(Debt::bill(&m.parking_code, &m.bill_id), m.should_pay), (stay, m.should_pay)];
    match payments::pay(state, p.clone(), &debts, false).await {
        Ok(payments::Paying::Charge(p)) => payment_answer(&p, false),
        Ok(payments::Paying::Mismatch(first)) => mismatch(&label, &first, &plate_no, m.should_pay),
        Ok(payments::Paying::Claimed(holder)) => {
            // The driver is paying it as arrears right now: that charge decides it.
            let mut answer = Answer::ok(format!(
                "{label} 正由另一笔支付（订单 {}，{}）处理，未再次扣款：请稍后用 getPayResult 查询",
                holder.order_id,
                holder.state.as_str()
            ));
            answer.extra = replies::payment(&p, false);
            answer
        }
        Err(e) => stored(Err(e), &label),
    }
}

/// The applyPayment answer of a payment in any state (a repeat is said to be one).
fn payment_answer(p: &Payment, repeat: bool) -> Answer {
    let msg = match p.state {
        PayState::Paid if repeat => "扣款成功（重复申请：按已完成的扣款答复，未再次扣款）".to_owned(),
        PayState::Paid => "扣款成功".to_owned(),
        PayState::Pending => "扣款结果未知：请稍后用 getPayResult 查询，或转线下缴费".to_owned(),
        PayState::Declined => format!("扣款失败（{}），请转线下缴费", p.reason.as_deref().unwrap_or("渠道拒绝")),
        PayState::Refunded => "该账单的线上扣款已退还（车场已线下收费）".to_owned(),
    };
    let mut answer = Answer::ok(msg);
    answer.extra = replies::payment(p, false);
    answer
}

/// getPayResult (§5.5.6): the bill's charge as it stands (a pending one is asked about first).
async fn get_pay_result(state: &AppState, q: &PayResultQuery) -> Answer {
    let label = format!("账单 billID {}", q.bill_id);
    let p = match state.store().payment(&q.parking_code, &q.bill_id).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            // A bill never applied for, but owed and settled as arrears (an abnormal bill paid on the driver page).
            return match state.store().settled_arrear(&q.parking_code, &q.bill_id).await {
                Ok(Some(a)) if a.plate_no == plate(&q.plate_no) => {
                    let mut answer = Answer::ok("操作成功（该账单已作为欠费补缴结清）");
                    answer.extra = replies::settled(&a);
                    answer
                }
                Ok(_) => Answer::new(ResultCode::NO_DATA, format!("{label} 不存在：该账单未申请过扣款")),
                Err(e) => stored(Err(e), &label),
            };
        }
        Err(e) => return stored(Err(e), &label),
    };
    if p.plate_no != plate(&q.plate_no) {
        return Answer::client(format!("{label} 的车牌为 {}，与查询的 {} 不符", p.plate_no, q.plate_no));
    }
    let p = match payments::resolve(state, &p).await {
        Ok(p) => p,
        Err(e) => return stored(Err(e), &label),
    };
    if p.state != PayState::Paid {
        match state.store().settled_arrear(&q.parking_code, &q.bill_id).await {
            Ok(Some(a)) => {
                let mut answer = Answer::ok("操作成功（该账单已作为欠费补缴结清）");
                answer.extra = replies::settled(&a);
                return answer;
            }
            Ok(None) => {}
            Err(e) => return stored(Err(e), &label),
        }
    }
    let mut answer = Answer::ok("操作成功");
    answer.extra = replies::payment(&p, true);
    answer
}

/// Whether a fee query (`fee` downlink) went to this lot for this plate:
/// only then may its uploadFee answer it (authorize before storing).
async fn fee_query_of(state: &AppState, lot: &LotAccess, request_id: i64, plate_no: &str) -> Result<FeeQuote, Answer> {
    let q = match state.store().fee_quote(request_id).await {
        Ok(q) => q,
        Err(e) => return Err(stored(Err(e), "")),
    };
    match q {
        Some(q) if lot.parking_codes.contains(&q.parking_code) && q.plate_no == plate_no => Ok(q),
        Some(q) if lot.parking_codes.contains(&q.parking_code) => Err(Answer::client(format!(
            "requestId {request_id} 查询的是车辆 {}，不是 {plate_no}（plateNo 不符）",
            q.plate_no
        ))),
        _ => Err(Answer::client(format!(
            "requestId {request_id} 不是平台发给接入方 {} 的计费查询（fee），不能应答",
            lot.access_id
        ))),
    }
}

/// uploadFee (§5.4.3): the lot's bill for a fee query, stored, then confirmed.
async fn upload_fee(state: &AppState, lot: &LotAccess, m: &UploadFee) -> Answer {
    let b = &m.params;
    let plate_no = plate(&b.plate_no);
    let asked = match fee_query_of(state, lot, m.request_id, &plate_no).await {
        Ok(q) => q,
        Err(answer) => return answer,
    };
    if asked.parking_code != b.parking_code {
        return Answer::client(format!(
            "requestId {} 查询的是车场 {}，应答的 parkingCode {} 不符",
            m.request_id, asked.parking_code, b.parking_code
        ));
    }
    let quote = FeeQuote {
        request_id: m.request_id,
        parking_code: b.parking_code.clone(),
        plate_no,
        asked_at: String::new(),
        answered_at: Some(format_time(state.now())),
        success: Some(true),
        uid: Some(b.uid.clone()),
        bill_id: Some(b.bill_id.clone()),
        plate_color: Some(b.plate_color.code()),
        arrive_time: Some(b.arrive_time.to_string()),
        end_time: Some(b.end_time.to_string()),
        bill_time: Some(b.bill_time.to_string()),
        should_pay: Some(b.should_pay),
        pay_status: Some(b.pay_status.code()),
    };
    if let Err(e) = state.store().answer_fee(&quote).await {
        return stored(Err(e), "");
    }
    let answer = confirm(state, lot, "fee", m).await;
    payments::fee_answered(state, m.request_id);
    answer
}

async fn refused_fee(state: &AppState, lot: &LotAccess, m: &Confirm<FeeQuery>) -> Answer {
    let plate_no = plate(&m.params.plate_no);
    let asked = match fee_query_of(state, lot, m.request_id, &plate_no).await {
        Ok(q) => q,
        Err(answer) => return answer,
    };
    let quote = FeeQuote {
        request_id: m.request_id,
        parking_code: asked.parking_code,
        plate_no,
        asked_at: String::new(),
        answered_at: Some(format_time(state.now())),
        success: Some(false),
        uid: None,
        bill_id: None,
        plate_color: None,
        arrive_time: None,
        end_time: None,
        bill_time: None,
        should_pay: None,
        pay_status: None,
    };
    if let Err(e) = state.store().answer_fee(&quote).await {
        return stored(Err(e), "");
    }
    let answer = confirm(state, lot, "fee", m).await;
    payments::fee_answered(state, m.request_id);
    answer
}

/// uploadAbnormalBill (§5.5.4): the bill is owed by its plate across the
/// city — only for a stay this lot reported with that plate (a lot cannot
/// put arrears on a car it never had), and never beyond the spec's money
/// bound for the plate's arrears together (the driver could not pay them).
async fn abnormal_bill(state: &AppState, m: &AbnormalBill, now: &str) -> Answer {
    let label = format!("账单 billID {}", m.bill_id);
    let plate_no = plate(&m.plate_no);
    if m.end_time.0 < m.arrive_time.0 {
        return Answer::client(format!("出场时间 endTime {} 早于入场时间 arriveTime {}", m.end_time, m.arrive_time));
    }
    if let Err(answer) = reported_stay(state, &m.parking_code, &m.uid, &plate_no, &label).await {
        return answer;
    }
    let a = Arrear {
        parking_code: m.parking_code.clone(),
        bill_id: m.bill_id.clone(),
        plate_no,
        plate_color: m.plate_color.code(),
        uid: m.uid.clone(),
        arrive_time: m.arrive_time.to_string(),
        end_time: m.end_time.to_string(),
        bill_time: m.bill_time.to_string(),
        should_pay: m.should_pay,
        source: "abnormal".into(),
        state: "open".into(),
        settled_by: None,
        settled_at: None,
        created_at: now.to_owned(),
        settled_txn: None,
    };
    // The plate's arrears together stay payable (the spec's money bound), checked in the commit.
    match state.store().put_arrear(&a, onepark_domain::money::MAX_FEN).await {
        Ok(ArrearPut::Inserted) => Answer::ok("操作成功：已登记为欠费账单"),
        Ok(ArrearPut::Known) => Answer::ok("操作成功（该账单已登记或已支付，未重复登记）"),
        Ok(ArrearPut::OverBound(owed)) => Answer::client(format!(
            "{label}：车辆 {} 已欠 {} 元，再登记将超过 {} 元的上限（shouldPay）",
            a.plate_no,
            yuan(owed),
            yuan(onepark_domain::money::MAX_FEN)
        )),
        Err(e) => stored(Err(e), &label),
    }
}

/// checkDailyBill (§5.5.5): the lot's pay-after-leave bills of the day as the platform has them.
async fn daily_bill(state: &AppState, q: &DailyBillQuery) -> Answer {
    let plate_no = q.plate_no.as_deref().map(plate);
    let rows = match state.store().after_leave_payments(&q.parking_code, q.check_bill_time.0, plate_no.as_deref()).await
    {
        Ok(rows) => rows,
        Err(e) => return stored(Err(e), ""),
    };
    let mut detail = Vec::new();
    let (mut should, mut actual) = (0i64, 0i64);
    for p in &rows {
        should += p.should_pay;
        // A declined bill settled later as arrears is paid, as its lot was told (payResult).
        if !matches!(p.state, PayState::Paid | PayState::Refunded) {
            match state.store().settled_arrear(&p.parking_code, &p.bill_id).await {
                Ok(Some(a)) => {
                    actual += a.should_pay;
                    detail.push(Value::Object(replies::settled(&a)));
                    continue;
                }
                Ok(None) => {}
                Err(e) => return stored(Err(e), ""),
            }
        }
        let paid = p.state == PayState::Paid || p.state == PayState::Refunded;
        let received = if paid { p.actual_pay.unwrap_or(0) - p.refunded } else { 0 };
        actual += received;
        let mut d = Map::new();
        d.insert("plateNo".into(), Value::from(p.plate_no.clone()));
        d.insert("billID".into(), Value::from(p.bill_id.clone()));
        d.insert("billTime".into(), Value::from(p.bill_time.clone()));
        d.insert("shouldPay".into(), Value::from(p.should_pay));
        d.insert("payStatus".into(), Value::from(i64::from(paid)));
        d.insert("actualPay".into(), Value::from(received));
        d.insert("dealTime".into(), Value::from(p.deal_time.clone().unwrap_or_default()));
        d.insert("orderCode".into(), Value::from(p.txn_id.clone().unwrap_or_default()));
        if let Some(paid_type) = p.paid_type {
            d.insert("paidType".into(), Value::from(paid_type));
        }
        d.insert("payType".into(), Value::from(p.pay_type));
        detail.push(Value::Object(d));
    }
    let mut answer = Answer::ok("业务成功");
    answer.extra.insert("parkingCode".into(), Value::from(q.parking_code.clone()));
    answer.extra.insert("dailyCount".into(), Value::from(rows.len() as i64));
    answer.extra.insert("dailyShouldPay".into(), Value::from(should));
    answer.extra.insert("dailyActualPay".into(), Value::from(actual));
    answer.extra.insert("detail".into(), Value::Array(detail));
    answer
}

/// The longest cipher opened on a runtime thread instead of the CPU pool:
/// 8 RSA-1024 blocks (~171 Base64 characters each), ~0.7 ms of work here.
const INLINE_CIPHER_CHARS: usize = 8 * 171;

/// Verify and decrypt: RSA private-key operations are the whole cost of a
/// request. A short cipher is opened where it was read (a hand-off to the
/// pool and back costs more than it saves); a long one on the CPU pool, so
/// it cannot stall the other connections of the thread that read it.
async fn open(
    state: &AppState,
    lot: &Arc<LotAccess>,
    node: &str,
    cipher: String,
    sign: String,
) -> Result<Opened, Answer> {
    let own = state.private_key();
    let LotLink::Qdpark { profile, .. } = &lot.link else {
        return Err(Answer::client(format!("接入方 {} 不是青岛协议的车场", lot.access_id)));
    };
    if own.is_none() && *profile == onepark_proto::Profile::Qingdao {
        return Err(Answer::server("平台未配置私钥（keys.private_key），无法解密"));
    }
    match open_with(state, lot.clone(), own, cipher, sign).await {
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
    state: &AppState,
    lot: Arc<LotAccess>,
    own: Option<Arc<onepark_proto::PrivateKey>>,
    cipher: String,
    sign: String,
) -> Result<Opened, (Answer, bool)> {
    // A cipher of a few blocks (every record but a long bill) is opened on
    // the thread that read it; a long one on the pool.
    let short = cipher.len() <= INLINE_CIPHER_CHARS;
    state
        .cpu()
        .run_sized(short, move || {
            let LotLink::Qdpark { public_key, profile } = &lot.link else {
                return Err((Answer::client(format!("接入方 {} 不是青岛协议的车场", lot.access_id)), false));
            };
            let keys = Keys { own: own.as_deref(), peer: Some(public_key) };
            onepark_proto::open(*profile, &cipher, &sign, keys).map_err(|e| {
                let verified =
                    matches!(e, OpenError::BlockLength { .. } | OpenError::Decrypt { .. } | OpenError::Charset);
                (Answer::client(e.zh()), verified)
            })
        })
        .await
        .unwrap_or_else(|_| Err((Answer::server("服务器错误：解密任务失败，请稍后重传"), false)))
}

/// Decode, validate (times against the platform's clock), and authorize
/// the parkingCode for this accessID.
fn accept<T: Message>(
    state: &AppState,
    lot: &LotAccess,
    node: &str,
    opened: &Opened,
    clock: &Clock,
    parking_code: impl Fn(&T) -> Option<&String>,
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
    if let Some(code) = parking_code(&decoded.message)
        && !lot.parking_codes.iter().any(|c| c == code)
    {
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
    let now_ms = state.clock().millis();
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
            if interface == "payResult" {
                // The lot will not count the prepayment (the car left, the bill is unknown): it goes back.
                payments::pay_result_refused(state, request_id, reason).await;
            }
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
/// another file. Hence a budget per accessID before any work; the rest
/// (an identical file written once, a replay's other file removed before
/// the answer: none left behind) is `city::photos`'.
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
    let label = format!("照片编号 photoID {}", m.photo_id);
    let record = records::photo(m);
    match crate::city::photos::put(state, &records::lot(&lot.access_id), &record, jpeg, now).await {
        Ok(put) => Ok(stored(Ok(put), &label)),
        Err(crate::city::photos::PhotoError::Store(e)) => Ok(stored(Err(e), &label)),
        Err(crate::city::photos::PhotoError::Disk(_)) => Ok(Answer::server("服务器错误：照片保存失败，请稍后重传")),
    }
}

/// uploadCheckRecord: compare the lot's counts with ours and answer the
/// marks exactly per the data dictionary (bit 1 entries, 2 exits, 4 bills).
async fn check(state: &AppState, m: &CheckRecord, now: &str) -> Answer {
    let ours = match state.store().day_counts(&m.parking_code, m.check_date.0).await {
        Ok(counts) => counts,
        Err(e) => return stored(Err(e), ""),
    };
    let check = records::day_check(m);
    let theirs = check.counts;
    let mark = AccountMark::from_mismatches(
        ours.arrive != theirs.arrive,
        ours.leave != theirs.leave,
        ours.pay_num != theirs.pay_num || ours.pay_total != theirs.pay_total,
    );
    let photo_mark = if ours.photo == theirs.photo { PhotoMark::Consistent } else { PhotoMark::Inconsistent };
    if let Err(e) = state.store().record_check(&check, &ours, (mark.0, photo_mark.code()), now).await {
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
