//! §5.4 online payment, §5.5 pay-after-exit and §5.6 arrears interfaces,
//! uplink requests, their replies and the MQTT downlink payloads.

use super::kinds::*;
use super::{Confirm, message, require_when_paid};
use crate::dict::*;
use crate::validate::{Kind, Problems};
use crate::wire::{Date, ResultCode, Time};

message! {
    /// `applyPayment` 停车场申请支付扣款 (§5.4.1, request reconstructed)
    ApplyPayment {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        uid: String = "uid", Y, UID64;
        plate_no: String = "plateNo", Y, PLATE;
        plate_color: PlateColor = "plateColor", Y, PLATE_COLOR;
        arrive_time: Time = "arriveTime" ["arrivalTime"], Y, Kind::Time;
        end_time: Time = "endTime", Y, Kind::Time;
        out_num: String = "outNum", Y, Kind::Str(50);
        bill_id: String = "billID", Y, ID;
        bill_time: Time = "billTime", Y, Kind::Time;
        should_pay: i64 = "shouldPay", Y, Kind::Money;
        /// 0 when applying (D-22)
        pay_status: PayStatus = "payStatus", Y, Kind::Code(PayStatus::CODES);
        /// 车辆在场状态
        car_stock: CarStock = "carStock", Y, Kind::Code(CarStock::CODES);
    }
}

message! {
    /// Reply to `applyPayment`: paid means open the barrier.
    ApplyPaymentReply rules apply_reply_rules {
        result_code: ResultCode = "resultCode", Y, RESULT;
        #[serde(default)]
        msg: String = "msg", N, MSG;
        plate_no: String = "plateNo", Y, PLATE;
        bill_id: String = "billID", Y, ID;
        should_pay: i64 = "shouldPay", Y, Kind::Money;
        pay_status: PayStatus = "payStatus", Y, Kind::Code(PayStatus::CODES);
        actual_pay: Option<i64> = "actualPay", C, Kind::Money;
        /// 优惠金额
        discount_amount: i64 = "discountAmount", Y, Kind::Money;
        deal_time: Option<Time> = "dealTime", C, Kind::Time;
        /// 第三方支付渠道流水号
        order_code: Option<String> = "orderCode", C, Kind::Str(64);
        paid_type: Option<PaidType> = "paidType", C, Kind::Code(PaidType::CODES);
    }
}

/// `actualPay ≤ shouldPay`: a channel never takes more than the bill (money is exact).
fn at_most_due(actual_pay: Option<i64>, should_pay: i64, problems: &mut Problems) {
    if actual_pay.is_some_and(|a| a > should_pay) {
        problems.push(crate::validate::Problem::rule(
            "actualPay",
            "more than shouldPay",
            "实付 actualPay 大于应收 shouldPay",
        ));
    }
}

fn apply_reply_rules(m: &ApplyPaymentReply, problems: &mut Problems) {
    at_most_due(m.actual_pay, m.should_pay, problems);
    let fields = [
        ("actualPay", m.actual_pay.is_some()),
        ("dealTime", m.deal_time.is_some()),
        ("orderCode", m.order_code.is_some()),
        ("paidType", m.paid_type.is_some()),
    ];
    require_when_paid(m.pay_status == PayStatus::Done, &fields, problems);
}

message! {
    /// MQ `fee` 车辆账单信息查询 (§5.4.2). Its table is lost (D-26): parsed
    /// leniently; `parkingCode` falls back to the topic.
    FeeQuery {
        parking_code: Option<String> = "parkingCode", N, PARKING_CODE;
        plate_no: String = "plateNo", Y, PLATE;
        plate_color: Option<PlateColor> = "plateColor", N, PLATE_COLOR;
    }
}

message! {
    /// `params` of `uploadFee` 车辆账单信息上报 (§5.4.3), the reply to `fee`.
    FeeBill rules fee_bill_rules {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        plate_no: String = "plateNo", Y, PLATE;
        plate_color: PlateColor = "plateColor", Y, PLATE_COLOR;
        arrive_time: Time = "arriveTime" ["arrivalTime"], Y, Kind::Time;
        /// the time the fee was computed up to (D-45)
        end_time: Time = "endTime", Y, Kind::Time;
        bill_id: String = "billID", Y, ID;
        bill_time: Time = "billTime", Y, Kind::Time;
        should_pay: i64 = "shouldPay", Y, Kind::Money;
        uid: String = "uid", Y, UID64;
        pay_status: PayStatus = "payStatus", Y, Kind::Code(PayStatus::CODES);
        paid_type: Option<PaidType> = "paidType", C, Kind::Code(PaidType::CODES);
    }
}

fn fee_bill_rules(m: &FeeBill, problems: &mut Problems) {
    require_when_paid(m.pay_status == PayStatus::Done, &[("paidType", m.paid_type.is_some())], problems);
}

/// `uploadFee` body.
pub type UploadFee = Confirm<FeeBill>;

message! {
    /// MQ `payResult` 账单支付扣费结果通知 (§5.4.4); also the `params` of
    /// `confirmPayResult` (§5.4.5).
    PayResult rules pay_result_rules {
        plate_no: String = "plateNo", Y, PLATE;
        bill_id: String = "billID", Y, ID;
        bill_time: Time = "billTime", Y, Kind::Time;
        should_pay: i64 = "shouldPay", Y, Kind::Money;
        pay_status: PayStatus = "payStatus", Y, Kind::Code(PayStatus::CODES);
        actual_pay: Option<i64> = "actualPay", C, Kind::Money;
        discount_amount: i64 = "discountAmount", Y, Kind::Money;
        deal_time: Option<Time> = "dealTime", C, Kind::Time;
        order_code: Option<String> = "orderCode", C, Kind::Str(64);
        paid_type: Option<PaidType> = "paidType", C, Kind::Code(PaidType::CODES);
        pay_type: Option<PayScene> = "payType", C, Kind::Code(PayScene::CODES);
    }
}

fn pay_result_rules(m: &PayResult, problems: &mut Problems) {
    at_most_due(m.actual_pay, m.should_pay, problems);
    let fields = [
        ("actualPay", m.actual_pay.is_some()),
        ("dealTime", m.deal_time.is_some()),
        ("orderCode", m.order_code.is_some()),
        ("paidType", m.paid_type.is_some()),
        ("payType", m.pay_type.is_some()),
    ];
    require_when_paid(m.pay_status == PayStatus::Done, &fields, problems);
}

/// `confirmPayResult` body.
pub type ConfirmPayResult = Confirm<PayResult>;

message! {
    /// MQ `departurePayInfo` 车辆签约信息下发 (§5.5.1); also the `params` of
    /// `confirmDeparturePayInfo` (§5.5.2), `moneyLimit` returned unchanged.
    DeparturePayInfo {
        plate_no: String = "plateNo", Y, PLATE;
        plate_color: PlateColor = "plateColor", Y, PLATE_COLOR;
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        /// 签约信息
        no_sense: NoSense = "noSense", Y, Kind::Code(NoSense::CODES);
        /// 签约额度 (fen)
        money_limit: i64 = "moneyLimit", Y, Kind::Money;
        /// 是否支持先离场后付费
        departure_pay: DeparturePay = "departurePay", Y, Kind::Code(DeparturePay::CODES);
    }
}

impl DeparturePayInfo {
    /// Pay-after-exit is allowed only when signed without arrears, supported,
    /// and within the limit (D-32).
    pub fn allows_pay_after_exit(&self, should_pay: i64) -> bool {
        self.no_sense == NoSense::Signed
            && matches!(
                self.departure_pay,
                DeparturePay::LeaveFirst | DeparturePay::PrPhysicalCard | DeparturePay::PrVirtualCard
            )
            && should_pay <= self.money_limit
    }
}

/// `confirmDeparturePayInfo` body.
pub type ConfirmDeparturePayInfo = Confirm<DeparturePayInfo>;

message! {
    /// `getDeparturePayInfo` 车辆签约信息查询 (§5.5.3)
    DeparturePayQuery {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        plate_no: String = "plateNo", Y, PLATE;
        plate_color: PlateColor = "plateColor", Y, PLATE_COLOR;
    }
}

message! {
    /// Reply to `getDeparturePayInfo`.
    DeparturePayReply {
        result_code: ResultCode = "resultCode", Y, RESULT;
        #[serde(default)]
        msg: String = "msg", N, MSG;
        no_sense: NoSense = "noSense", Y, Kind::Code(NoSense::CODES);
        money_limit: i64 = "moneyLimit", Y, Kind::Money;
        departure_pay: DeparturePay = "departurePay", Y, Kind::Code(DeparturePay::CODES);
    }
}

message! {
    /// `uploadAbnormalBill` 异常账单上报 (§5.5.4), hourly
    AbnormalBill {
        bill_id: String = "billID", Y, ID;
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        uid: String = "uid", Y, UID64;
        plate_no: String = "plateNo", Y, PLATE;
        plate_color: PlateColor = "plateColor", Y, PLATE_COLOR;
        arrive_time: Time = "arriveTime" ["arrivalTime"], Y, Kind::Time;
        end_time: Time = "endTime", Y, Kind::Time;
        bill_time: Time = "billTime", Y, Kind::Time;
        should_pay: i64 = "shouldPay", Y, Kind::Money;
        pay_status: PayStatus = "payStatus", Y, Kind::Code(PayStatus::CODES);
    }
}

message! {
    /// `checkDailyBill` 车场先离后缴账单按天对账 (§5.5.5)
    DailyBillQuery {
        /// optional filter for one plate (D-9)
        plate_no: Option<String> = "plateNo", N, PLATE;
        /// sent as a string; a number is accepted (D-9)
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        /// 对账时间 (date)
        check_bill_time: Date = "checkBillTime", Y, Kind::Date;
    }
}

message! {
    /// One bill in the `checkDailyBill` reply.
    DailyBillDetail {
        plate_no: String = "plateNo", Y, PLATE;
        bill_id: String = "billID", Y, ID;
        bill_time: Time = "billTime", Y, Kind::Time;
        should_pay: i64 = "shouldPay", Y, Kind::Money;
        pay_status: PayStatus = "payStatus", Y, Kind::Code(PayStatus::CODES);
        actual_pay: Option<i64> = "actualPay", N, Kind::Money;
        deal_time: Option<Time> = "dealTime", N, Kind::Time;
        order_code: Option<String> = "orderCode", N, Kind::Str(64);
        paid_type: Option<PaidType> = "paidType", N, Kind::Code(PaidType::CODES);
        pay_type: Option<PayScene> = "payType", N, Kind::Code(PayScene::CODES);
    }
}

message! {
    /// Reply to `checkDailyBill`; `detail` may be an array or a JSON string.
    DailyBillReply {
        result_code: ResultCode = "resultCode", Y, RESULT;
        #[serde(default)]
        msg: String = "msg", N, MSG;
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        /// 对账日账单数 (a count, D-9)
        daily_count: i64 = "dailyCount", Y, Kind::Int(10);
        daily_should_pay: i64 = "dailyShouldPay", Y, Kind::Int(15);
        daily_actual_pay: i64 = "dailyActualPay", Y, Kind::Int(15);
        #[serde(default)]
        detail: Vec<DailyBillDetail> = "detail", N, Kind::List(<DailyBillDetail as super::Message>::FIELDS);
    }
}

message! {
    /// `getPayResult` 账单支付扣费结果查询 (§5.5.6)
    PayResultQuery {
        bill_id: String = "billID", Y, ID;
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        plate_no: String = "plateNo", Y, PLATE;
    }
}

message! {
    /// Reply to `getPayResult`: the doc shows no resultCode/msg (D-24).
    PayResultReply rules pay_result_reply_rules {
        result_code: Option<ResultCode> = "resultCode", N, RESULT;
        msg: Option<String> = "msg", N, MSG;
        plate_no: String = "plateNo", Y, PLATE;
        bill_id: String = "billID", Y, ID;
        bill_time: Time = "billTime", Y, Kind::Time;
        should_pay: i64 = "shouldPay", Y, Kind::Money;
        pay_status: PayStatus = "payStatus", Y, Kind::Code(PayStatus::CODES);
        actual_pay: Option<i64> = "actualPay", C, Kind::Money;
        discount_amount: i64 = "discountAmount", Y, Kind::Money;
        deal_time: Option<Time> = "dealTime", C, Kind::Time;
        order_code: Option<String> = "orderCode", C, Kind::Str(64);
        paid_type: Option<PaidType> = "paidType", C, Kind::Code(PaidType::CODES);
        pay_type: Option<PayScene> = "payType", C, Kind::Code(PayScene::CODES);
    }
}

fn pay_result_reply_rules(m: &PayResultReply, problems: &mut Problems) {
    at_most_due(m.actual_pay, m.should_pay, problems);
    let fields = [
        ("actualPay", m.actual_pay.is_some()),
        ("dealTime", m.deal_time.is_some()),
        ("orderCode", m.order_code.is_some()),
        ("paidType", m.paid_type.is_some()),
        ("payType", m.pay_type.is_some()),
    ];
    require_when_paid(m.pay_status == PayStatus::Done, &fields, problems);
}

message! {
    /// `cancelOverDueBill` 核销欠费账单 (§5.6.1): only these fields survive (D-29).
    CancelOverDue {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        plate_no: String = "plateNo", Y, PLATE;
        plate_color: Option<PlateColor> = "plateColor", N, PLATE_COLOR;
    }
}

message! {
    /// MQ `overDueResult` 车辆欠费情况通知 (§5.6.2); also the `params` of
    /// `confirmOverDueResult` (§5.6.3).
    OverDueResult {
        plate_no: String = "plateNo", Y, PLATE;
        /// 欠费笔数
        over_due_count: i64 = "overDueCount", Y, Kind::Int(5);
        /// 欠费金额 (fen)
        un_pay: i64 = "unPay", Y, Kind::Money;
        /// 是否拦截
        prevent: Prevent = "prevent", Y, Kind::Code(Prevent::CODES);
    }
}

/// `confirmOverDueResult` body.
pub type ConfirmOverDueResult = Confirm<OverDueResult>;

message! {
    /// `getOverDueResult` 车辆欠费情况查询 (§5.6.4)
    OverDueQuery {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        plate_no: String = "plateNo", Y, PLATE;
        plate_color: Option<PlateColor> = "plateColor", N, PLATE_COLOR;
    }
}

message! {
    /// Reply to `getOverDueResult`: no resultCode/msg and no overDueCount in
    /// the doc's example (D-24).
    OverDueReply {
        result_code: Option<ResultCode> = "resultCode", N, RESULT;
        msg: Option<String> = "msg", N, MSG;
        plate_no: String = "plateNo", Y, PLATE;
        over_due_count: Option<i64> = "overDueCount", N, Kind::Int(5);
        un_pay: i64 = "unPay", Y, Kind::Money;
        prevent: Prevent = "prevent", Y, Kind::Code(Prevent::CODES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{DecodeError, decode, decode_object};

    #[test]
    fn spec_examples_decode() {
        let confirm = r#"{"data":{"success":true,"requestId":1,"params":{"plateNo":"鲁B01001","billID":"001",
            "billTime":"2008-08-08 08:08:08","shouldPay":1000,"payStatus":1,"actualPay":500,"discountAmount":500,
            "dealTime":"2008-08-08 08:08:08","orderCode":"20080808080808","paidType":1,"payType":101}}}"#;
        let c = decode::<ConfirmPayResult>(confirm).expect("confirmPayResult").message;
        assert_eq!((c.request_id, c.params.actual_pay), (1, Some(500)));

        let daily = r#"{"resultCode":"200","msg":"业务成功","parkingCode":9000001,"dailyCount":1,"dailyShouldPay":1000,
            "dailyActualPay":1000,"detail":[{"plateNo":"鲁B01001","billID":"001","billTime":"2008-08-08 08:08:08",
            "shouldPay":1000,"payStatus":1,"actualPay":1000,"dealTime":"2008-08-08 08:08:08",
            "orderCode":"20080808080808","paidType":1,"payType":101}]}"#;
        let d = decode::<DailyBillReply>(daily).expect("checkDailyBill reply").message;
        assert_eq!((d.parking_code.as_str(), d.detail.len()), ("9000001", 1));

        let overdue = r#"{ "plateNo": "鲁B01001", "unPay": 1000, "prevent": 1 }"#;
        let o = decode::<OverDueReply>(overdue).expect("getOverDueResult reply").message;
        assert_eq!((o.over_due_count, o.prevent), (None, Prevent::Block));

        let query = r#"{ "data": { "plateNo": "鲁B01001", "parkingCode": 9000001, "checkBillTime": "2008-08-08" } }"#;
        assert_eq!(decode::<DailyBillQuery>(query).expect("query").message.parking_code, "9000001");
    }

    #[test]
    fn paid_results_need_their_conditional_fields() {
        let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(
            r#"{"plateNo":"鲁B01001","billID":"001","billTime":"2008-08-08 08:08:08","shouldPay":1000,
               "payStatus":1,"discountAmount":0,"actualPay":"","dealTime":null}"#,
        ) else {
            panic!("object")
        };
        let Err(DecodeError::Invalid(p)) = decode_object::<PayResult>(obj) else { panic!("must fail") };
        let fields: Vec<&str> = p.errors().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["actualPay", "dealTime", "orderCode", "paidType", "payType"]);
        assert!(p.zh().contains("payStatus 为 1"), "{}", p.zh());
    }

    #[test]
    fn pay_after_exit_rule() {
        let info = DeparturePayInfo {
            plate_no: "鲁B01001".into(),
            plate_color: PlateColor::Blue,
            parking_code: "1001".into(),
            no_sense: NoSense::Signed,
            money_limit: 1000,
            departure_pay: DeparturePay::LeaveFirst,
        };
        assert!(info.allows_pay_after_exit(1000));
        assert!(!info.allows_pay_after_exit(1001));
        assert!(!DeparturePayInfo { no_sense: NoSense::SignedInArrears, ..info.clone() }.allows_pay_after_exit(1));
        assert!(!DeparturePayInfo { departure_pay: DeparturePay::PayFirst, ..info }.allows_pay_after_exit(1));
    }
}
