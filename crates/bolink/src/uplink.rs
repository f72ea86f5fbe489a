//! The charging system's reports the city keeps as the lot's events (§二):
//! staff, shifts, logs, plans, prices, manual lifts, lanes, car types,
//! fuzzy-match confirmations, handovers, stored-value cards, coupon and
//! charging deductions, invoices, internal cars. One table: each entry's
//! `service_name`, its TOC number, the event kind, the field that names the
//! record (echoed in the answer, as the vendor's replies do), the fields it
//! requires, and where its plate, lane, time and money are. The vendor's
//! field names where its pages give them (2.4, 2.5, 2.6, 2.8, 2.9, 2.11,
//! 2.14, 2.16, 2.17, 2.29); the rest designed in their style (snake_case,
//! yuan, Unix seconds) and marked so in docs/bolink.md.

use crate::envelope::Envelope;
use crate::fields::FieldError;

/// One kind of report.
#[derive(Debug)]
pub struct Spec {
    pub service: &'static str,
    pub toc: &'static str,
    /// The event kind the city files it under.
    pub kind: &'static str,
    /// What it is, for people (Chinese).
    pub title: &'static str,
    /// The field naming the record (echoed in the answer).
    pub id: &'static str,
    pub required: &'static [&'static str],
    pub plate: Option<&'static str>,
    pub channel: Option<&'static str>,
    /// Unix seconds.
    pub time: Option<&'static str>,
    /// Yuan.
    pub money: &'static [&'static str],
    /// Designed by onepark (the pages give the title only).
    pub designed: bool,
}

const fn spec(
    service: &'static str,
    toc: &'static str,
    kind: &'static str,
    title: &'static str,
    id: &'static str,
) -> Spec {
    Spec {
        service,
        toc,
        kind,
        title,
        id,
        required: &[],
        plate: None,
        channel: None,
        time: None,
        money: &[],
        designed: false,
    }
}

pub const UPLINKS: &[Spec] = &[
    Spec {
        required: &["operate_type"],
        time: Some("update_time"),
        ..spec("upload_collector", "2.4", "staff", "收费员信息", "user_id")
    },
    Spec {
        required: &["user_id", "state"],
        time: Some("start_time"),
        ..spec("work_record", "2.5", "shift", "员工上下班", "uuid")
    },
    Spec {
        required: &["operate_time", "content"],
        time: Some("operate_time"),
        ..spec("park_log", "2.6", "log", "车场日志", "log_id")
    },
    Spec {
        required: &["operate_type"],
        time: Some("update_time"),
        money: &["price"],
        ..spec("upload_month_card", "2.8", "plan", "月卡套餐", "package_id")
    },
    Spec {
        required: &["car_type", "operate_type"],
        time: Some("update_time"),
        ..spec("upload_price", "2.9", "price", "价格", "price_id")
    },
    Spec {
        required: &["channel_id", "user_id"],
        plate: Some("car_number"),
        channel: Some("channel_id"),
        time: Some("create_time"),
        ..spec("upload_liftrod", "2.11", "lift", "异常抬杆/落杆", "liftrod_id")
    },
    Spec {
        required: &["card_id", "pay_time", "amount_receivable", "amount_pay", "pay_type"],
        plate: Some("car_number"),
        time: Some("pay_time"),
        money: &["amount_receivable", "amount_pay"],
        ..spec("month_pay_record", "2.13", "renewal", "月卡续费", "trade_no")
    },
    Spec {
        required: &["operate_type"],
        channel: Some("channel_id"),
        ..spec("upload_gate", "2.14", "lane", "通道", "channel_id")
    },
    Spec {
        required: &["operate_type", "car_number"],
        plate: Some("car_number"),
        time: Some("create_time"),
        ..spec("upload_blackuser", "2.15", "black", "黑名单", "black_uuid")
    },
    Spec {
        required: &["name", "operate_type"],
        time: Some("create_time"),
        ..spec("upload_car_type", "2.16", "cartype", "车型", "car_type_id")
    },
    Spec {
        required: &["car_number", "channel_id"],
        plate: Some("car_number"),
        channel: Some("channel_id"),
        time: Some("upload_time"),
        ..spec("upload_confirm_order", "2.17", "confirm", "出场模糊匹配确认", "event_id")
    },
    Spec {
        required: &["user_id"],
        time: Some("end_time"),
        money: &["cash_total", "electronic_total"],
        designed: true,
        ..spec("upload_handover", "2.22", "handover", "岗亭交接班", "handover_id")
    },
    Spec {
        required: &["car_number", "operate_type"],
        plate: Some("car_number"),
        money: &["balance"],
        designed: true,
        ..spec("upload_prepay_card", "2.25", "storedvalue", "储值卡", "card_id")
    },
    Spec {
        required: &["card_id", "amount"],
        time: Some("pay_time"),
        money: &["amount"],
        designed: true,
        ..spec("prepay_card_recharge", "2.26", "storedvalue", "储值卡充值", "trade_no")
    },
    Spec {
        required: &["card_id", "amount"],
        plate: Some("car_number"),
        time: Some("pay_time"),
        money: &["amount"],
        designed: true,
        ..spec("prepay_card_deduct", "2.27", "storedvalue", "储值卡扣费", "trade_no")
    },
    Spec {
        plate: Some("car_number"),
        time: Some("use_time"),
        money: &["deduction_amount"],
        ..spec("upload_ticket_deduction", "2.29", "coupon", "优惠券减免", "ticket_id")
    },
    Spec {
        required: &["order_id", "amount"],
        time: Some("create_time"),
        money: &["amount"],
        designed: true,
        ..spec("upload_invoice", "2.31", "invoice", "电子发票", "invoice_no")
    },
    Spec {
        required: &["content"],
        time: Some("create_time"),
        designed: true,
        ..spec("upload_soft_log", "2.32", "log", "收费系统日志", "log_id")
    },
    Spec {
        required: &["order_id"],
        plate: Some("car_number"),
        time: Some("create_time"),
        money: &["derate_money"],
        designed: true,
        ..spec("upload_charge_derate", "2.34", "coupon", "充电减免", "derate_id")
    },
    Spec {
        required: &["car_number", "operate_type"],
        plate: Some("car_number"),
        designed: true,
        ..spec("upload_inner_car", "2.35", "internal", "内部车", "car_id")
    },
    Spec {
        required: &["target", "content"],
        time: Some("create_time"),
        designed: true,
        ..spec("platform_forward", "2.36", "forward", "平台转发", "msg_id")
    },
    Spec {
        required: &["order_id", "car_number", "pay_money"],
        plate: Some("car_number"),
        time: Some("pay_time"),
        money: &["pay_money"],
        designed: true,
        ..spec("etc_deduction", "2.37", "bill", "ETC扣费", "trade_no")
    },
    Spec {
        required: &["order_id", "content"],
        plate: Some("car_number"),
        time: Some("correct_time"),
        designed: true,
        ..spec("upload_correction", "2.39", "correction", "停车业务纠正", "correction_id")
    },
];

pub fn find(service: &str) -> Option<&'static Spec> {
    UPLINKS.iter().find(|s| s.service == service)
}

/// A report read: what the city files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub plate: Option<String>,
    pub channel: Option<String>,
    /// Unix seconds, when the report says.
    pub time: Option<i64>,
    /// One line for operators.
    pub summary: String,
}

/// Reads a report of `spec`: its id and required fields present, its money
/// yuan (exact, two decimals), its time Unix seconds.
pub fn read(spec: &Spec, e: &Envelope) -> Result<Event, FieldError> {
    let f = e.fields();
    let id = f.text(&[spec.id], 64)?;
    for name in spec.required {
        if f.opt_text(&[name], 100_000).ok().flatten().is_none() {
            return Err(FieldError(format!("缺少 data.{name}")));
        }
    }
    let mut money = Vec::new();
    for name in spec.money {
        if let Some(fen) = f.opt_yuan(&[name])? {
            money.push(format!("{name} {}", onepark_domain::money::yuan(fen)));
        }
    }
    let time = match spec.time {
        Some(name) => match f.opt_int(&[name])? {
            Some(t) => Some(f.unix(&[name]).map(|_| t)?),
            None => None,
        },
        None => None,
    };
    let plate = match spec.plate {
        Some(name) => f.opt_text(&[name], 64)?,
        None => None,
    };
    let channel = match spec.channel {
        Some(name) => f.opt_text(&[name], 24)?,
        None => None,
    };
    let operate = f.opt_int(&["operate_type"])?.and_then(crate::codes::OperateType::from_code);
    let mut summary = format!("{} {}", spec.title, id);
    if let Some(op) = operate {
        summary = format!("{summary}（{}）", op.zh());
    }
    for part in [plate.as_deref(), channel.as_deref()].into_iter().flatten() {
        summary = format!("{summary} {part}");
    }
    if !money.is_empty() {
        summary = format!("{summary} {}", money.join(" "));
    }
    Ok(Event { id, plate, channel, time, summary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(service: &str, data: serde_json::Value) -> Envelope {
        Envelope::parse(Envelope::build(service, Some("t"), &data, "k").as_bytes()).expect("parses")
    }

    #[test]
    fn the_vendors_examples_and_what_is_refused() {
        let lift = find("upload_liftrod").expect("2.11");
        let e = read(
            lift,
            &envelope(
                "upload_liftrod",
                json!({ "liftrod_id": "L1", "operate": 0, "reason": 1,
            "channel_id": "A1", "user_id": "u1", "car_number": "鲁B12345", "create_time": 1_796_371_200 }),
            ),
        )
        .expect("reads");
        assert_eq!((e.id.as_str(), e.channel.as_deref(), e.time), ("L1", Some("A1"), Some(1_796_371_200)));
        assert!(e.summary.contains("异常抬杆") && e.summary.contains("鲁B12345"), "{}", e.summary);
        let missing = read(lift, &envelope("upload_liftrod", json!({ "liftrod_id": "L1", "channel_id": "A1" })));
        assert!(missing.expect_err("user_id").0.contains("data.user_id"));
        let plan = find("upload_month_card").expect("2.8");
        let bad = read(
            plan,
            &envelope("upload_month_card", json!({ "package_id": "P1", "operate_type": 1, "price": "1.005" })),
        );
        assert!(bad.expect_err("money").0.contains("data.price"));
        let ok = read(
            plan,
            &envelope("upload_month_card", json!({ "package_id": "P1", "operate_type": 2, "price": "150.5" })),
        )
        .expect("reads");
        assert!(ok.summary.contains("修改") && ok.summary.contains("150.50"), "{}", ok.summary);
        assert!(UPLINKS.iter().all(|s| find(s.service).is_some_and(|f| f.toc == s.toc)), "one entry per service");
    }
}
