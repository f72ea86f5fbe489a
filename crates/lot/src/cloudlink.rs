//! The lot's link to a parking cloud's open API (`[cloudpark]`), the part
//! the outbox's sender needs: the client (each request signed with the
//! lot's pid and secret) and the lot's records as that API's reports
//! (entries → enterNotify, exits → leaveNotify; the outbox keeps each link's
//! rows and converts when sending). The pulls are `crate::cloud`'s.

use std::time::Duration;

use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::service::{EnterNotify, LeaveNotify};
use onepark_cloudpark::{Answer, Service, build_request};
use serde_json::Value;

use crate::config::CloudLink;
use crate::store::{Link, StoreError};

/// The lot's records this link carries (the rest are Qingdao's alone).
pub const LINK: Link = Link { name: "cloudpark", carries: Some(&["uploadCarInData", "uploadCarOutData"]) };

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("{service}: cloud unreachable: {source}")]
    Unreachable { service: &'static str, source: reqwest::Error },
    #[error("{service}: HTTP {status}: {body}")]
    Status { service: &'static str, status: u16, body: String },
    #[error("{service}: the answer is not the API's: {detail}")]
    Reply { service: &'static str, detail: String },
    #[error("{service}: refused ({code}): {msg}")]
    Refused { service: &'static str, code: i64, msg: String },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    link: CloudLink,
}

impl Client {
    pub fn new(link: &CloudLink) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Client { http, link: link.clone() })
    }

    pub fn link(&self) -> &CloudLink {
        &self.link
    }

    /// Sends one request signed at `now` (Unix seconds); the answer, whatever its code.
    pub async fn call(&self, service: Service, biz: &str, now: i64) -> Result<Answer, CloudError> {
        let name = service.name();
        let body = build_request(&self.link.pid, name, now, biz, &self.link.secret);
        let response = self
            .http
            .post(format!("{}/cloudparkapi/api/{name}", self.link.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|source| CloudError::Unreachable { service: name, source })?;
        let status = response.status().as_u16();
        let text = response.bytes().await.map_err(|source| CloudError::Unreachable { service: name, source })?;
        match Answer::parse(&text) {
            Ok(answer) => Ok(answer),
            Err(_) if status != 200 => {
                Err(CloudError::Status { service: name, status, body: String::from_utf8_lossy(&text).into_owned() })
            }
            Err(r) => Err(CloudError::Reply { service: name, detail: r.detail }),
        }
    }

    /// A call that must succeed: its `data`.
    pub(crate) async fn ok(&self, service: Service, biz: &Value, now: i64) -> Result<Value, CloudError> {
        let answer = self.call(service, &biz.to_string(), now).await?;
        if answer.is_ok() {
            Ok(answer.data.unwrap_or(Value::Null))
        } else {
            Err(CloudError::Refused { service: service.name(), code: answer.code, msg: answer.msg })
        }
    }
}

/// A lot record (its interface and `data`, as the outbox keeps it) as this
/// API's report, `record_no` naming the stay: (service, bizContent text).
/// Deterministic, so a record sent again is byte-identical (a duplicate).
pub fn report(interface: &str, body: &Value, record_no: &str) -> Result<(Service, String), String> {
    let map = body.as_object().cloned().ok_or("the stored record is not an object")?;
    let f = Fields::from_map(map);
    let e = |r: onepark_cloudpark::Refusal| r.detail;
    let parking_type = f.opt_int(&["parkingType"]).map_err(e)?.unwrap_or(1);
    // The city's parking types back to the cloud's car types: 2 monthly → 8, else temporary.
    let car_type = if parking_type == 2 { 8 } else { 9 };
    match interface {
        "uploadCarInData" => {
            let m = EnterNotify {
                park_code: f.text(&["parkingCode"], 50).map_err(e)?,
                record_no: record_no.to_owned(),
                plate_num: f.text(&["plateNo"], 20).map_err(e)?,
                plate_color: f.opt_int(&["plateColor"]).map_err(e)?,
                car_type,
                car_sub_type: car_type * 10 + 1,
                enter_time: f.time(&["arriveTime"]).map_err(e)?,
                entrance: None,
                in_channel_id: f.opt_text(&["entryNum"], 30).map_err(e)?,
                enter_op_name: f.opt_text(&["operatorCode"], 50).map_err(e)?,
                total_park_num: f.opt_int(&["totalBerthNum"]).map_err(e)?,
                remain_park_num: f.opt_int(&["freeBerthNum"]).map_err(e)?,
            };
            Ok((Service::EnterNotify, m.to_biz().to_string()))
        }
        "uploadCarOutData" => {
            let charge = f.opt_int(&["chargeFee"]).map_err(e)?.unwrap_or(0);
            let should = f.opt_int(&["shouldPay"]).map_err(e)?.unwrap_or(charge);
            let m = LeaveNotify {
                park_code: f.text(&["parkingCode"], 50).map_err(e)?,
                record_no: record_no.to_owned(),
                plate_num: f.text(&["plateNo"], 20).map_err(e)?,
                enter_time: f.time(&["arriveTime"]).map_err(e)?,
                leave_time: f.time(&["endTime"]).map_err(e)?,
                exit: None,
                out_channel_id: f.opt_text(&["outNum"], 30).map_err(e)?,
                payable_fee: charge,
                discount_fee: (charge - should).max(0),
                cash_fee: 0,
                mobile_fee: 0,
                total_park_num: f.opt_int(&["totalBerthNum"]).map_err(e)?,
                remain_park_num: f.opt_int(&["freeBerthNum"]).map_err(e)?,
            };
            Ok((Service::LeaveNotify, m.to_biz().to_string()))
        }
        other => Err(format!("{other} is not carried by the cloud link")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_become_the_apis_reports_identically_every_time() {
        let entry = json!({ "uid": "u1", "plateNo": "鲁B12345", "parkingCode": "1001", "arriveTime": "2026-12-04 08:00:00",
            "entryNum": "1", "parkingType": 1, "plateColor": 1, "totalBerthNum": 100, "freeBerthNum": 40 });
        let (service, biz) = report("uploadCarInData", &entry, "rec1").expect("entry");
        assert_eq!(service, Service::EnterNotify);
        assert_eq!(report("uploadCarInData", &entry, "rec1").expect("again").1, biz, "byte-identical");
        let v: Value = serde_json::from_str(&biz).expect("json");
        assert_eq!(
            (v["recordNo"].as_str(), v["plateNum"].as_str(), v["carType"].as_i64()),
            (Some("rec1"), Some("鲁B12345"), Some(9))
        );
        let exit = json!({ "uid": "u1", "plateNo": "鲁B12345", "parkingCode": "1001", "arriveTime": "2026-12-04 08:00:00",
            "endTime": "2026-12-04 09:00:00", "outNum": "2", "chargeFee": 500, "shouldPay": 300, "parkingType": 2 });
        let (service, biz) = report("uploadCarOutData", &exit, "u1").expect("exit");
        assert_eq!(service, Service::LeaveNotify);
        let v: Value = serde_json::from_str(&biz).expect("json");
        assert_eq!((v["payableFee"].as_i64(), v["discountFee"].as_i64()), (Some(500), Some(200)));
        assert!(report("uploadPhoto", &json!({}), "u1").is_err());
    }
}
