//! The cloud's messages to a charging system (§三) that the city relays for
//! operators and integrators: each entry's `service_name`, its TOC number,
//! whether it travels flat (`operate_liftrod`, `deliver_ticket`, `lock_car`,
//! as the vendor's server sends them) or as `{service_name, data}`, the
//! fields it needs, and how often it is sent again until answered. The
//! platform adds `park_id` and a `request_no` the answer echoes (as 3.33's
//! does), so each answer names its message.

use serde_json::{Map, Value, json};

#[derive(Debug)]
pub struct Command {
    pub service: &'static str,
    pub toc: &'static str,
    pub title: &'static str,
    pub flat: bool,
    pub required: &'static [&'static str],
    /// Seconds between deliveries while unanswered.
    pub retry_secs: i64,
    /// Given up after this many seconds.
    pub expire_secs: i64,
}

const fn command(
    service: &'static str,
    toc: &'static str,
    title: &'static str,
    required: &'static [&'static str],
) -> Command {
    Command { service, toc, title, flat: false, required, retry_secs: 60, expire_secs: 86_400 }
}

pub const COMMANDS: &[Command] = &[
    command("price_sync", "3.5", "价格同步", &["price_id", "operate_type"]),
    command("month_card_sync", "3.6", "月卡套餐同步", &["package_id", "operate_type"]),
    command("month_member_sync", "3.7", "月卡会员同步", &["card_id", "operate_type"]),
    command("collector_sync", "3.8", "收费员同步", &["user_id", "operate_type"]),
    Command { flat: true, ..command("lock_car", "3.9", "锁车/解锁", &["order_id", "is_locked"]) },
    Command {
        flat: true,
        ..command("deliver_ticket", "3.12", "优惠券下发", &["ticket_id", "car_number", "ticket_type"])
    },
    command("gate_sync", "3.13", "通道下发", &["channel_id", "operate_type"]),
    command("blackuser_sync", "3.14", "黑名单下发", &["black_uuid", "operate_type"]),
    command("car_type_sync", "3.15", "车型下发", &["car_type_id", "operate_type"]),
    command("month_pay_sync", "3.16", "月卡续费记录下发", &["trade_no", "card_id", "end_time"]),
    command("confirm_order_inform", "3.17", "手动匹配订单通知", &["event_id", "order_id", "car_number"]),
    // A barrier order is for now: sent every 10 s for five minutes at most.
    Command {
        flat: true,
        retry_secs: 10,
        expire_secs: 300,
        ..command("operate_liftrod", "3.18", "抬杆/落杆", &["channel_id", "operate"])
    },
    command("visitor_sync", "3.19", "访客下发", &["visitor_id"]),
    // 3.20–3.44 have titles only: designed in 3.5–3.19's style (`{service_name, data}`,
    // the vendor's field spellings where a neighbour has them).
    command("prepay_card_sync", "3.20", "储值卡同步", &["card_id", "operate_type"]),
    command("prepay_card_trade_sync", "3.21", "储值卡余额变更记录下发", &["trade_no", "card_id", "balance"]),
    command("pass_through", "3.22", "云平台透传", &["content"]),
    command("change_payout_inform", "3.24", "找零支出下发通知", &["order_id", "money"]),
    command("platform_pay_inform", "3.25", "平台缴费通知", &["order_id", "trade_no", "money"]),
    command("query_empty_plot", "3.26", "查询车场停车位", &[]),
    command("inner_car_sync", "3.27", "内部车同步", &["car_number", "operate_type"]),
    command("manual_settle", "3.28", "手动结算", &["order_id"]),
    command("chase_order_result", "3.29", "追缴订单异步返回结果", &["order_id", "state"]),
    command("e_ticket_sync", "3.30", "积分电子券信息同步", &["ticket_id", "car_number"]),
    command("capture_sync", "3.31", "车道监控抓拍下发", &["channel_id", "uuid"]),
    command("upload_park_log", "3.32", "通知上传收费系统日志", &[]),
    command("update_park_soft", "3.33", "收费系统升级通知", &["update_content"]),
    command("park_validity_sync", "3.35", "车场有效期下发", &["end_time"]),
    command("charge_pile_inform", "3.36", "充电桩充电通知", &["car_number"]),
    command("check_vip", "3.38", "车辆包月账单信息查询", &["car_number", "start_time", "end_time"]),
    command("modify_empty_plot", "3.39", "修改道闸余位", &["empty_plot"]),
    command("query_vip_car", "3.40", "查询月卡车、特殊车", &["car_number"]),
    command("manual_in_park", "3.42", "补录订单手动入场", &["car_number", "channel_id", "in_time"]),
    command("correct_plate", "3.43", "在场订单车牌校正", &["order_id", "car_number"]),
    command("fixed_charge", "3.44", "无在场订单固定收费", &["car_number", "money"]),
];

pub fn find(service: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.service == service)
}

/// Why a command cannot be sent (the field named).
pub fn check(c: &Command, data: &Map<String, Value>) -> Result<(), String> {
    let f = crate::fields::Fields::new(data);
    for name in c.required {
        if f.opt_text(&[name], 100_000).ok().flatten().is_none() {
            return Err(format!("缺少 {name}"));
        }
    }
    Ok(())
}

/// The message as the charging system receives it.
pub fn message(c: &Command, park_id: &str, request_no: &str, data: &Map<String, Value>) -> String {
    let mut body = data.clone();
    body.insert("park_id".into(), Value::from(park_id));
    body.insert("request_no".into(), Value::from(request_no));
    if c.flat {
        body.insert("service_name".into(), Value::from(c.service));
        Value::Object(body).to_string()
    } else {
        json!({ "service_name": c.service, "data": Value::Object(body) }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_wrapped_messages_carry_their_request_no() {
        let lock = find("lock_car").expect("3.9");
        let data: Map<String, Value> =
            serde_json::from_str(r#"{"order_id":"O1","is_locked":1,"lock_key":"1234"}"#).expect("json");
        let m: Value = serde_json::from_str(&message(lock, "P", "42", &data)).expect("json");
        assert_eq!(
            (m["service_name"].as_str(), m["order_id"].as_str(), m["request_no"].as_str()),
            (Some("lock_car"), Some("O1"), Some("42"))
        );
        let sync = find("gate_sync").expect("3.13");
        let m: Value = serde_json::from_str(&message(sync, "P", "43", &data)).expect("json");
        assert_eq!((m["service_name"].as_str(), m["data"]["park_id"].as_str()), (Some("gate_sync"), Some("P")));
        assert_eq!(check(lock, &Map::new()), Err("缺少 order_id".into()));
        assert!(COMMANDS.iter().all(|c| find(c.service).is_some_and(|f| f.toc == c.toc)));
    }
}
