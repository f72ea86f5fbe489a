//! A Bolink lot's exit paid password-free through the cloud (§四, 3.4):
//! for a plate the cloud said pays password-free (4.2, kept as its
//! signing), 2.2 with `pay_type` `wallet` asks the cloud to charge, and the
//! exit waits for 3.4. A leaf the exit's payment logic calls into.

use onepark_bolink::no_stop::{self, Deducted};
use onepark_domain::money::yuan;
use onepark_domain::time::format_time;
use serde_json::{Map, Value, json};

use crate::bolinklink::{Answer, Handle, fields_of};
use crate::state::LotState;

/// The path of an exit paid password-free through the Bolink cloud.
pub const BOLINK_NO_STOP: &str = "bolink_no_stop";

/// Exits waiting for the cloud's 3.4, by order id (one Bolink link per gateway).
static WAITING: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, tokio::sync::oneshot::Sender<Deducted>>>,
> = std::sync::LazyLock::new(Default::default);

/// Whether the exit of stay `uid` is waiting for a deduction's result now.
pub fn pending(uid: &str) -> bool {
    WAITING.lock().is_ok_and(|w| w.contains_key(uid))
}

/// 3.4 `outpark`: what came of an exit's deduction, to the exit waiting for
/// it. One nobody waits for any more (the car went to the booth) is
/// answered all the same: the cloud gives the money back when the lot
/// reports the exit paid otherwise.
pub async fn deducted(map: &Map<String, Value>) -> Value {
    let f = fields_of(map);
    let request_no = f.opt_text(&["request_no"], 32).ok().flatten().unwrap_or_default();
    match Deducted::read(&f) {
        Ok(d) => {
            let waiter = WAITING.lock().ok().and_then(|mut w| w.remove(&d.order_id));
            if let Some(waiter) = waiter {
                let _ = waiter.send(d.clone());
            } else if d.state == 1 {
                tracing::warn!(
                    order_id = d.order_id,
                    trade_no = d.trade_no,
                    "a deduction's result came after its exit"
                );
            }
            d.answer(&request_no, Ok(()))
        }
        Err(e) => json!({ "service_name": no_stop::RESULT, "data_target": "bolink", "state": 0, "errmsg": e.0,
            "request_no": request_no }),
    }
}

/// The exit's password-free payment through the Bolink cloud: for a plate
/// the cloud said pays password-free (4.2) up to at least `due`, 2.2 with
/// `pay_type` `wallet` asks it to charge, and the exit waits (within the
/// payments' `wait`) for 3.4; paid, the barrier opens.
pub(crate) async fn at_exit(
    state: &LotState,
    handle: &Handle,
    session: &crate::store::Session,
    due: i64,
    lane: &str,
    at: chrono::NaiveDateTime,
) -> Result<crate::lane::OnlinePay, crate::store::StoreError> {
    use crate::lane::OnlinePay;
    let Some(s) = state.store().signing(&session.plate_no).await? else { return Ok(OnlinePay::NotUsed) };
    if s.no_sense != 1 || s.money_limit < due {
        return Ok(OnlinePay::NotUsed);
    }
    let zone = state.config().zone;
    let unix = |t: chrono::NaiveDateTime| zone.instant(t).map_or(0, |t| t.timestamp());
    let entered = onepark_domain::time::parse_time(&session.entry_time).unwrap_or(at);
    let request = json!({ "data_target": "cloud", "car_number": session.plate_no, "in_time": unix(entered),
        "out_time": unix(at), "order_id": session.uid, "pay_type": no_stop::WALLET,
        "total": yuan(due), "amount_receivable": yuan(due), "out_channel_id": lane,
        "car_type": "临时车", "c_type": "自动识别", "out_type": "自动识别" });
    let (tx, rx) = tokio::sync::oneshot::channel();
    if let Ok(mut w) = WAITING.lock() {
        w.insert(session.uid.clone(), tx);
    }
    let forget = || {
        if let Ok(mut w) = WAITING.lock() {
            w.remove(&session.uid);
        }
    };
    let wait = state.config().payments.wait;
    let started = std::time::Instant::now();
    match tokio::time::timeout(wait, handle.call("out_park", request)).await {
        Ok(Ok(Answer::Stored)) => {}
        Ok(Ok(Answer::Refused(why))) => {
            forget();
            return Ok(OnlinePay::Booth(format!("免密支付未受理：{why}")));
        }
        Ok(Ok(other)) => {
            forget();
            return Ok(OnlinePay::Booth(format!("免密支付未受理（{other:?}）")));
        }
        Ok(Err(e)) => {
            forget();
            tracing::warn!(uid = session.uid, error = %e, "password-free payment not asked");
            return Ok(OnlinePay::Booth("无法连接停车云，请到岗亭缴费".into()));
        }
        Err(_) => {
            forget();
            return Ok(OnlinePay::Booth("停车云未应答，请到岗亭缴费".into()));
        }
    }
    let left = wait.saturating_sub(started.elapsed()).max(std::time::Duration::from_millis(300));
    let result = tokio::time::timeout(left, rx).await;
    forget();
    Ok(match result {
        Ok(Ok(d)) if d.state == 1 && d.total == due => OnlinePay::Paid(crate::store::Settlement {
            actual_pay: d.total,
            discount: 0,
            // The exit's own time: the exit report counts payments up to it (the cloud's clock may run ahead).
            deal_time: format_time(at),
            order_code: d.trade_no,
            paid_type: onepark_domain::record::paid_type::PLATFORM_ACCOUNT,
            pay_type: onepark_domain::record::Scene::AtGate.code(),
            path: Some(BOLINK_NO_STOP.into()),
            request_id: None,
        }),
        Ok(Ok(d)) if d.state == 1 => {
            OnlinePay::Booth(format!("免密支付金额 {} 元与应缴 {} 元不符", yuan(d.total), yuan(due)))
        }
        Ok(Ok(d)) => OnlinePay::Booth(if d.errmsg.is_empty() { "免密支付未成功".into() } else { d.errmsg }),
        _ => OnlinePay::Booth("免密支付结果未知，请到岗亭缴费".into()),
    })
}
