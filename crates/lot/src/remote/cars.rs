//! Vehicles and what hangs on them, as the cloud manages them (seed §3.4,
//! §3.5, §3.6, §3.20, §3.21): a cloud vehicle is a month card (`cloud-{uuid}`)
//! plus the vendor's fields; a frozen one parks as a temporary car. The
//! vendor's PascalCase structures and pages; money in yuan on the wire (as
//! text, exact), fen here.

use chrono::Months;
use onepark_cloudpark::command::Query;
use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::mq::Envelope;
use onepark_domain::money::yuan;
use onepark_domain::time::{format_time, parse_time};
use serde_json::{Map, Value, json};

use super::{Outcome, item_error, object, storage};
use crate::state::LotState;
use crate::store::{CarGroup, ChargePlan, CloudCar, LogLine, MonthCard, StoreError};

fn items(m: &Envelope) -> Vec<(usize, Fields)> {
    m.data_items.iter().cloned().map(Fields::from_map).enumerate().collect()
}

/// The vendor's vehicle-type dictionary (book B's 车辆类型字典).
pub(super) fn type_name(code: i64) -> String {
    let (name, first) = match code {
        91..=95 => ("临时车", 91),
        81..=85 => ("月租车", 81),
        71..=75 => ("储值车", 71),
        16 => return "军警车".into(),
        17 => return "贵宾车".into(),
        _ => ("免费车", 11),
    };
    let letter = char::from(b'A' + u8::try_from(code - first).unwrap_or(0).min(25));
    format!("{name}{letter}")
}

fn valid_type(code: i64) -> bool {
    matches!(code, 11..=17 | 71..=75 | 81..=85 | 91..=95)
}

/// 3.4 `manage.cartypes` `query` (designed): the dictionary the lot knows.
pub(super) fn car_types() -> Outcome {
    let mut items = Vec::new();
    for (parent, range) in [(9, 91..=95), (8, 81..=85), (7, 71..=75), (1, 11..=17)] {
        for code in range {
            items.push(object(json!({ "CarTypeCode": code, "CarTypeName": type_name(code), "ParentCode": parent })));
        }
    }
    Ok(("操作成功".into(), items))
}

/// The vendor's vehicle structure of a stored vehicle.
async fn car_item(state: &LotState, car: &CloudCar) -> Result<Map<String, Value>, StoreError> {
    let card = state.store().card(&car.card_id).await?;
    let group = match &car.group_uuid {
        Some(g) => state.store().group(g, 0).await?,
        None => None,
    };
    let plates = card.as_ref().map(|c| c.plates.join(",")).unwrap_or_default();
    Ok(object(json!({
        "ID": car.id, "UUID": car.uuid, "Region": "", "Code": car.card_id, "CarNum": plates,
        "Owner": card.as_ref().map(|c| c.owner.clone()).unwrap_or_default(),
        "CarTypeName": type_name(car.car_type_code), "CarTypeCode": car.car_type_code,
        "CarGroupID": group.as_ref().map_or(0, |g| g.id), "CarGroupUuid": car.group_uuid.clone().unwrap_or_default(),
        "CarGroup": group.as_ref().map(|g| g.name.clone()).unwrap_or_default(), "GroupNum": group.as_ref().map_or(0, |g| g.num),
        "Balance": yuan(car.balance), "CarMMoney": yuan(car.monthly_fee),
        "TimeStart": card.as_ref().map(|c| c.start_time.clone()).unwrap_or_default(),
        "TimeEnd": card.as_ref().map(|c| c.end_time.clone()).unwrap_or_default(),
        "Tel": car.tel.clone().unwrap_or_default(), "CarSpaceNum": car.space_no.clone().unwrap_or_default(),
        "State": car.state, "Remark": car.remark.clone().unwrap_or_default()
    })))
}

fn plates_of(text: &str) -> Result<Vec<String>, String> {
    let mut plates = Vec::new();
    for p in text.split([',', '，']).map(str::trim).filter(|p| !p.is_empty()) {
        let plate = crate::barrier::plate_text("CarNum", p).map_err(|_| format!("车牌 {p} 无效（CarNum）"))?;
        if !plates.contains(&plate) {
            plates.push(plate);
        }
    }
    if plates.is_empty() {
        return Err("缺少 CarNum".into());
    }
    Ok(plates)
}

fn card_time(f: &Fields, names: &[&str], i: usize) -> Result<Option<String>, String> {
    Ok(f.opt_date_or_time(names).map_err(item_error(i))?.map(format_time))
}

/// 3.6 `manage.cars`: query / add / edit / delete / change / charge / freeze / unfreeze / clear / refund.
pub(super) async fn cars(state: &LotState, m: &Envelope) -> Outcome {
    let now = format_time(state.now());
    let operator = m.opt.as_deref();
    let action = m.action.as_deref().unwrap_or_default();
    let line = |detail: String| LogLine { time: &now, action, operator, detail };
    match action {
        "query" => {
            let q = Query::from_envelope(m).map_err(|r| r.detail)?;
            let f = items(m).into_iter().next().map(|(_, f)| f).unwrap_or_default();
            let group = f.opt_text(&["carGroupUuid", "CarGroupUuid"], 64).map_err(item_error(0))?;
            let (total, rows) = state
                .store()
                .cloud_cars_page(q.car_num.as_deref(), group.as_deref(), (q.page - 1) * q.page_size, q.page_size)
                .await
                .map_err(storage)?;
            let mut out = Vec::new();
            for car in &rows {
                out.push(car_item(state, car).await.map_err(storage)?);
            }
            Ok(("操作成功".into(), vec![q.page(total, out, true)]))
        }
        "add" | "edit" => {
            let mut out = Vec::new();
            for (i, f) in items(m) {
                let e = item_error(i);
                let uuid = f.opt_text(&["UUID", "uuid", "Uuid"], 64).map_err(&e)?.unwrap_or_default();
                let id = f.opt_int(&["ID", "id"]).map_err(&e)?.unwrap_or(0);
                let existing = state.store().cloud_car(&uuid, id).await.map_err(storage)?;
                if action == "edit" && existing.is_none() {
                    return Err(format!("dataItems[{i}]：没有 UUID 为 {uuid}（ID {id}）的车辆"));
                }
                if action == "add" && existing.is_some() {
                    return Err(format!("dataItems[{i}]：UUID {uuid} 的车辆已存在，请用 edit"));
                }
                let uuid = existing.as_ref().map(|c| c.uuid.clone()).unwrap_or_else(|| {
                    if uuid.is_empty() { crate::cloudreport::new_uuid(state) } else { uuid.clone() }
                });
                let old_card = match &existing {
                    Some(c) => state.store().card(&c.card_id).await.map_err(storage)?,
                    None => None,
                };
                let plates = match f.opt_text(&["CarNum", "carNum"], 100).map_err(&e)? {
                    Some(text) => plates_of(&text).map_err(|w| format!("dataItems[{i}]：{w}"))?,
                    None => old_card.as_ref().map(|c| c.plates.clone()).ok_or(format!("缺少 dataItems[{i}].CarNum"))?,
                };
                let code = f.opt_int(&["CarTypeCode", "carTypeCode", "cartypeCode"]).map_err(&e)?;
                let code = code.or(existing.as_ref().map(|c| c.car_type_code)).unwrap_or(81);
                if !valid_type(code) || (91..=95).contains(&code) {
                    return Err(format!(
                        "dataItems[{i}].CarTypeCode {code} 不是固定车类型（81-85 月租、71-75 储值、11-17 免费）"
                    ));
                }
                let start = card_time(&f, &["TimeStart", "timeStart"], i)?
                    .or(old_card.as_ref().map(|c| c.start_time.clone()))
                    .unwrap_or_else(|| now.clone());
                let end = card_time(&f, &["TimeEnd", "timeEnd"], i)?
                    .map(|t| if t.ends_with("00:00:00") { format!("{} 23:59:59", &t[..10]) } else { t })
                    .or(old_card.as_ref().map(|c| c.end_time.clone()))
                    .ok_or(format!("缺少 dataItems[{i}].TimeEnd"))?;
                if end < start {
                    return Err(format!("dataItems[{i}].TimeEnd 早于 TimeStart"));
                }
                let group = f.opt_text(&["CarGroupUuid", "carGroupUuid"], 64).map_err(&e)?;
                if let Some(g) = &group
                    && state.store().group(g, 0).await.map_err(storage)?.is_none()
                {
                    return Err(format!("dataItems[{i}].CarGroupUuid {g} 不是本车场的车位组"));
                }
                let card = MonthCard {
                    id: existing.as_ref().map(|c| c.card_id.clone()).unwrap_or_else(|| format!("cloud-{uuid}")),
                    owner: f
                        .opt_text(&["Owner", "owner"], 50)
                        .map_err(&e)?
                        .or(old_card.as_ref().map(|c| c.owner.clone()))
                        .unwrap_or_default(),
                    plates,
                    start_time: start,
                    end_time: end,
                    lanes: old_card.as_ref().map(|c| c.lanes.clone()).unwrap_or_default(),
                    odd_even: old_card.as_ref().is_some_and(|c| c.odd_even),
                };
                let car = CloudCar {
                    id: 0,
                    uuid: uuid.clone(),
                    card_id: card.id.clone(),
                    car_type_code: code,
                    group_uuid: group.or(existing.as_ref().and_then(|c| c.group_uuid.clone())),
                    tel: f.opt_text(&["Tel", "tel"], 30).map_err(&e)?.or(existing.as_ref().and_then(|c| c.tel.clone())),
                    space_no: f
                        .opt_text(&["CarSpaceNum", "carSpaceNum"], 30)
                        .map_err(&e)?
                        .or(existing.as_ref().and_then(|c| c.space_no.clone())),
                    monthly_fee: f
                        .opt_yuan(&["CarMMoney", "carMMoney"])
                        .map_err(&e)?
                        .or(existing.as_ref().map(|c| c.monthly_fee))
                        .unwrap_or(0),
                    balance: f
                        .opt_yuan(&["Balance", "balance"])
                        .map_err(&e)?
                        .or(existing.as_ref().map(|c| c.balance))
                        .unwrap_or(0),
                    state: f
                        .opt_int(&["State", "state"])
                        .map_err(&e)?
                        .or(existing.as_ref().map(|c| c.state))
                        .unwrap_or(0)
                        .clamp(0, 1),
                    remark: f
                        .opt_text(&["Remark", "remark"], 200)
                        .map_err(&e)?
                        .or(existing.as_ref().and_then(|c| c.remark.clone())),
                    created_at: existing.as_ref().map(|c| c.created_at.clone()).unwrap_or_else(|| now.clone()),
                };
                let detail = format!("{} {} 至 {}", card.plates.join(","), card.start_time, card.end_time);
                let stored = match state.store().put_cloud_car(&car, &card, &line(detail)).await {
                    Ok(c) => c,
                    Err(StoreError::PlateOnCard { plate, card }) => {
                        return Err(format!("dataItems[{i}]：车牌 {plate} 已属于另一张月卡 {card}"));
                    }
                    Err(e) => return Err(storage(e)),
                };
                out.push(car_item(state, &stored).await.map_err(storage)?);
            }
            Ok(("操作成功".into(), out))
        }
        "delete" => {
            let mut found = Vec::new();
            for (i, f) in items(m) {
                let e = item_error(i);
                let uuid = f.opt_text(&["UUID", "uuid"], 64).map_err(&e)?.unwrap_or_default();
                let id = f.opt_int(&["ID", "id"]).map_err(&e)?.unwrap_or(0);
                match state.store().cloud_car(&uuid, id).await.map_err(storage)? {
                    Some(car) => found.push(car),
                    None => return Err(format!("dataItems[{i}]：没有 UUID 为 {uuid}（ID {id}）的车辆")),
                }
            }
            let n = state.store().delete_cloud_cars(&found, &line("删除".into())).await.map_err(storage)?;
            Ok((format!("已删除 {n} 辆"), Vec::new()))
        }
        "clear" => {
            let all = state.store().all_cloud_cars().await.map_err(storage)?;
            let n = state.store().delete_cloud_cars(&all, &line("清空所有车辆".into())).await.map_err(storage)?;
            Ok((format!("已清空 {n} 辆"), Vec::new()))
        }
        "change" | "charge" | "freeze" | "unfreeze" | "refund" => {
            let mut out = Vec::new();
            for (i, f) in items(m) {
                let e = item_error(i);
                let uuid = f.opt_text(&["UUID", "uuid"], 64).map_err(&e)?.unwrap_or_default();
                let id = f.opt_int(&["ID", "id"]).map_err(&e)?.unwrap_or(0);
                let Some(mut car) = state.store().cloud_car(&uuid, id).await.map_err(storage)? else {
                    return Err(format!("dataItems[{i}]：没有 UUID 为 {uuid}（ID {id}）的车辆"));
                };
                let Some(mut card) = state.store().card(&car.card_id).await.map_err(storage)? else {
                    return Err(format!("dataItems[{i}]：车辆 {uuid} 的月卡不存在"));
                };
                let detail = match action {
                    "change" => {
                        let text = f.text(&["CarNum", "carNum"], 100).map_err(&e)?;
                        let old = card.plates.join(",");
                        card.plates = plates_of(&text).map_err(|w| format!("dataItems[{i}]：{w}"))?;
                        format!("车牌 {old} → {}", card.plates.join(","))
                    }
                    "freeze" => {
                        car.state = 1;
                        "冻结：按临时车计费".to_owned()
                    }
                    "unfreeze" => {
                        car.state = 0;
                        "解冻".to_owned()
                    }
                    "charge" => charge(state, &f, i, &mut car, &mut card).await?,
                    _ => {
                        let amount = f
                            .opt_yuan(&["refundAmount", "RefundAmount", "Balance"])
                            .map_err(&e)?
                            .unwrap_or(car.balance);
                        if amount > car.balance {
                            return Err(format!(
                                "dataItems[{i}]：退款 {} 元超过余额 {} 元",
                                yuan(amount),
                                yuan(car.balance)
                            ));
                        }
                        car.balance -= amount;
                        format!("退款 {} 元，余额 {} 元", yuan(amount), yuan(car.balance))
                    }
                };
                let stored = match state.store().put_cloud_car(&car, &card, &line(detail)).await {
                    Ok(c) => c,
                    Err(StoreError::PlateOnCard { plate, card }) => {
                        return Err(format!("dataItems[{i}]：车牌 {plate} 已属于另一张月卡 {card}"));
                    }
                    Err(e) => return Err(storage(e)),
                };
                out.push(car_item(state, &stored).await.map_err(storage)?);
            }
            // The vendor answers `change` with [{}].
            if action == "change" {
                return Ok(("操作成功".into(), Vec::new()));
            }
            Ok(("操作成功".into(), out))
        }
        other => Err(format!("manage.cars 不支持 action {other}")),
    }
}

/// A top-up: a plan's months (`PlanId` / `PlanUuid`), or a new `TimeEnd`, or
/// months (`rechargeNum`); a stored-value car's `rechargeAmount` goes on its balance.
async fn charge(
    state: &LotState,
    f: &Fields,
    i: usize,
    car: &mut CloudCar,
    card: &mut MonthCard,
) -> Result<String, String> {
    let e = item_error(i);
    let plan_uuid = f.opt_text(&["PlanUuid", "planUuid"], 64).map_err(&e)?.unwrap_or_default();
    let plan_id = f.opt_int(&["PlanId", "planId"]).map_err(&e)?.unwrap_or(0);
    let plan = if plan_uuid.is_empty() && plan_id == 0 {
        None
    } else {
        Some(
            state
                .store()
                .plan(&plan_uuid, plan_id)
                .await
                .map_err(storage)?
                .ok_or(format!("dataItems[{i}]：没有这个充值套餐"))?,
        )
    };
    let months = match &plan {
        Some(p) => Some(p.months),
        None => f.opt_int(&["rechargeNum", "RechargeNum"]).map_err(&e)?,
    };
    let amount = match &plan {
        Some(p) => p.amount,
        None => f.opt_yuan(&["rechargeAmount", "RechargeAmount"]).map_err(&e)?.unwrap_or(0),
    };
    let mut said = Vec::new();
    if let Some(end) = card_time(f, &["TimeEnd", "timeEnd"], i)? {
        card.end_time = end;
        said.push(format!("有效期至 {}", card.end_time));
    } else if let Some(months) = months.filter(|n| (1..=120).contains(n)) {
        card.end_time = extend(&card.end_time, months, state.now())?;
        said.push(format!("延期 {months} 个月至 {}", card.end_time));
    }
    if (71..=75).contains(&car.car_type_code) && amount > 0 {
        car.balance = car.balance.saturating_add(amount).min(onepark_domain::money::MAX_FEN);
        said.push(format!("充值 {} 元，余额 {} 元", yuan(amount), yuan(car.balance)));
    }
    if said.is_empty() {
        return Err(format!("dataItems[{i}]：充值须给出 TimeEnd、rechargeNum（月数）、套餐或储值金额"));
    }
    Ok(said.join("，"))
}

/// A card's end moved by `months`: from its end, or from now when it has lapsed.
pub(super) fn extend(end: &str, months: i64, now: chrono::NaiveDateTime) -> Result<String, String> {
    let from = parse_time(end).unwrap_or(now).max(now);
    let to = from.checked_add_months(Months::new(u32::try_from(months).unwrap_or(0))).ok_or("有效期超出范围")?;
    Ok(format_time(to))
}

fn group_item(g: &CarGroup, inside: i64) -> Map<String, Value> {
    object(json!({ "ID": g.id, "UUID": g.uuid, "Region": g.region.clone().unwrap_or_default(), "GroupName": g.name,
        "GroupTel": g.tel.clone().unwrap_or_default(), "GroupNum": g.num, "CreateTime": g.created_at,
        "Remark": g.remark.clone().unwrap_or_default(), "BeginTime": g.begin_time.clone().unwrap_or_default(),
        "EndTime": g.end_time.clone().unwrap_or_default(), "IsFree": g.is_free, "LeftNum": (g.num - inside).max(0),
        "UnitFee": yuan(g.unit_fee), "Balance": yuan(g.balance) }))
}

/// 3.5 `manage.cargroups`: all / query / add / edit / delete; `LeftNum` is
/// the group's berths less its cars in the lot now.
pub(super) async fn groups(state: &LotState, m: &Envelope) -> Outcome {
    let now = format_time(state.now());
    match m.action.as_deref().unwrap_or_default() {
        action @ ("all" | "query") => {
            let q = Query::from_envelope(m).map_err(|r| r.detail)?;
            let f = items(m).into_iter().next().map(|(_, f)| f).unwrap_or_default();
            let name = f.opt_text(&["name", "GroupName"], 50).map_err(item_error(0))?;
            let (offset, limit) = if action == "all" { (0, 10_000) } else { ((q.page - 1) * q.page_size, q.page_size) };
            let (total, rows) = state.store().groups(name.as_deref(), offset, limit).await.map_err(storage)?;
            let mut out = Vec::new();
            for g in &rows {
                out.push(group_item(g, state.store().group_inside(&g.uuid).await.map_err(storage)?));
            }
            if action == "all" {
                return Ok(("操作成功".into(), out));
            }
            Ok(("操作成功".into(), vec![q.page(total, out, true)]))
        }
        action @ ("add" | "edit") => {
            let mut out = Vec::new();
            for (i, f) in items(m) {
                let e = item_error(i);
                let uuid = f.opt_text(&["UUID", "uuid"], 64).map_err(&e)?.unwrap_or_default();
                let id = f.opt_int(&["ID", "id"]).map_err(&e)?.unwrap_or(0);
                let existing = state.store().group(&uuid, id).await.map_err(storage)?;
                if action == "edit" && existing.is_none() {
                    return Err(format!("dataItems[{i}]：没有 UUID 为 {uuid}（ID {id}）的车位组"));
                }
                let num =
                    f.opt_int(&["GroupNum", "groupNum"]).map_err(&e)?.or(existing.as_ref().map(|g| g.num)).unwrap_or(0);
                if !(0..=100_000).contains(&num) {
                    return Err(format!("dataItems[{i}].GroupNum 须在 0 至 100000 之间"));
                }
                let g = CarGroup {
                    id: 0,
                    uuid: existing.as_ref().map(|g| g.uuid.clone()).unwrap_or_else(|| {
                        if uuid.is_empty() { crate::cloudreport::new_uuid(state) } else { uuid.clone() }
                    }),
                    name: f
                        .opt_text(&["GroupName", "groupName", "name"], 50)
                        .map_err(&e)?
                        .or(existing.as_ref().map(|g| g.name.clone()))
                        .ok_or(format!("缺少 dataItems[{i}].GroupName"))?,
                    num,
                    region: f
                        .opt_text(&["Region"], 50)
                        .map_err(&e)?
                        .or(existing.as_ref().and_then(|g| g.region.clone())),
                    tel: f.opt_text(&["GroupTel"], 30).map_err(&e)?.or(existing.as_ref().and_then(|g| g.tel.clone())),
                    remark: f
                        .opt_text(&["Remark"], 200)
                        .map_err(&e)?
                        .or(existing.as_ref().and_then(|g| g.remark.clone())),
                    begin_time: card_time(&f, &["BeginTime"], i)?
                        .or(existing.as_ref().and_then(|g| g.begin_time.clone())),
                    end_time: card_time(&f, &["EndTime"], i)?.or(existing.as_ref().and_then(|g| g.end_time.clone())),
                    is_free: f
                        .opt_int(&["IsFree"])
                        .map_err(&e)?
                        .or(existing.as_ref().map(|g| g.is_free))
                        .unwrap_or(0)
                        .clamp(0, 2),
                    unit_fee: f
                        .opt_yuan(&["UnitFee"])
                        .map_err(&e)?
                        .or(existing.as_ref().map(|g| g.unit_fee))
                        .unwrap_or(0),
                    balance: f
                        .opt_yuan(&["Balance"])
                        .map_err(&e)?
                        .or(existing.as_ref().map(|g| g.balance))
                        .unwrap_or(0),
                    created_at: existing.as_ref().map(|g| g.created_at.clone()).unwrap_or_else(|| now.clone()),
                };
                let stored = state.store().put_group(&g).await.map_err(storage)?;
                out.push(group_item(&stored, state.store().group_inside(&stored.uuid).await.map_err(storage)?));
            }
            Ok(("操作成功".into(), out))
        }
        "delete" => {
            let mut removed = 0;
            for (i, f) in items(m) {
                let e = item_error(i);
                let uuid = f.opt_text(&["UUID", "uuid"], 64).map_err(&e)?.unwrap_or_default();
                let id = f.opt_int(&["ID", "id"]).map_err(&e)?.unwrap_or(0);
                let Some(g) = state.store().group(&uuid, id).await.map_err(storage)? else {
                    return Err(format!("dataItems[{i}]：没有这个车位组"));
                };
                if !state.store().delete_group(&g.uuid).await.map_err(storage)? {
                    return Err(format!("dataItems[{i}]：车位组 {} 仍有车辆，先移出车辆", g.name));
                }
                removed += 1;
            }
            Ok((format!("已删除 {removed} 个车位组"), Vec::new()))
        }
        other => Err(format!("manage.cargroups 不支持 action {other}")),
    }
}

/// 3.20 `manage.cars.logs` `query`: the vehicle log, newest first.
pub(super) async fn logs(state: &LotState, m: &Envelope) -> Outcome {
    let q = Query::from_envelope(m).map_err(|r| r.detail)?;
    let (total, rows) =
        state.store().car_logs(q.car_num.as_deref(), (q.page - 1) * q.page_size, q.page_size).await.map_err(storage)?;
    let items = rows
        .iter()
        .map(|l| {
            object(json!({ "ID": l.id, "OpTime": l.time, "OpType": l.action, "UUID": l.uuid, "CarNum": l.plate_no,
                "Operator": l.operator.clone().unwrap_or_default(), "Content": l.detail }))
        })
        .collect();
    Ok(("操作成功".into(), vec![q.page(total, items, true)]))
}

fn plan_item(p: &ChargePlan) -> Map<String, Value> {
    object(json!({ "ID": p.id, "UUID": p.uuid, "PlanName": p.name, "CarTypeCode": p.car_type_code,
        "CarTypeName": type_name(p.car_type_code), "Months": p.months, "Amount": yuan(p.amount),
        "Remark": p.remark.clone().unwrap_or_default() }))
}

/// 3.21 `manage.cars.chargeplan` (designed): query / add / delete packages
/// that a vehicle's `charge` may name.
pub(super) async fn plans(state: &LotState, m: &Envelope) -> Outcome {
    match m.action.as_deref().unwrap_or_default() {
        "query" => {
            let q = Query::from_envelope(m).map_err(|r| r.detail)?;
            let (total, rows) = state.store().plans((q.page - 1) * q.page_size, q.page_size).await.map_err(storage)?;
            Ok(("操作成功".into(), vec![q.page(total, rows.iter().map(plan_item).collect(), true)]))
        }
        "add" => {
            let mut out = Vec::new();
            for (i, f) in items(m) {
                let e = item_error(i);
                let code = f.opt_int(&["CarTypeCode"]).map_err(&e)?.unwrap_or(81);
                let months = f.int(&["Months", "months"]).map_err(&e)?;
                if !(1..=120).contains(&months) || !valid_type(code) {
                    return Err(format!("dataItems[{i}]：Months 须为 1 至 120，CarTypeCode 须为固定车类型"));
                }
                let p = ChargePlan {
                    id: 0,
                    uuid: f
                        .opt_text(&["UUID", "uuid"], 64)
                        .map_err(&e)?
                        .unwrap_or_else(|| crate::cloudreport::new_uuid(state)),
                    name: f.text(&["PlanName", "planName", "name"], 50).map_err(&e)?,
                    car_type_code: code,
                    months,
                    amount: f.opt_yuan(&["Amount", "amount"]).map_err(&e)?.unwrap_or(0),
                    remark: f.opt_text(&["Remark"], 200).map_err(&e)?,
                };
                out.push(plan_item(&state.store().put_plan(&p).await.map_err(storage)?));
            }
            Ok(("操作成功".into(), out))
        }
        "delete" => {
            let mut removed = 0;
            for (i, f) in items(m) {
                let e = item_error(i);
                let uuid = f.opt_text(&["UUID", "uuid"], 64).map_err(&e)?.unwrap_or_default();
                let id = f.opt_int(&["ID", "id"]).map_err(&e)?.unwrap_or(0);
                if state.store().delete_plan(&uuid, id).await.map_err(storage)? {
                    removed += 1;
                }
            }
            Ok((format!("已删除 {removed} 个套餐"), Vec::new()))
        }
        other => Err(format!("manage.cars.chargeplan 不支持 action {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_extend_from_the_end_or_from_now() {
        let now = parse_time("2026-12-04 10:00:00").expect("time");
        assert_eq!(extend("2026-12-31 23:59:59", 1, now).as_deref(), Ok("2027-01-31 23:59:59"));
        assert_eq!(
            extend("2026-01-31 23:59:59", 1, now).as_deref(),
            Ok("2027-01-04 10:00:00"),
            "a lapsed card starts now"
        );
        assert_eq!(type_name(82), "月租车B");
        assert_eq!(type_name(16), "军警车");
    }
}
