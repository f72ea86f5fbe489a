//! Each service of the cloud API in the city's terms: decode its bizContent
//! (`onepark_cloudpark::service`), validate plates and times, authorise its
//! parkCode against the principal, store, answer.

use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::service::{
    ArrearsAnswer, ArrearsPark, DelFixcar, DelInCar, EnterNotify, FixcarCheck, FixcarItem, FixedCar as WireCar, InCar,
    LeaveNotify, MqStatus, Page, PageQuery, ParkQuery, ParkinItem, PlateQuery, QrCode, SyncReport,
};
use onepark_cloudpark::{Code, Refusal, Service};
use onepark_domain::plate::Plate;
use onepark_domain::time::{format_time, parse_time};
use serde_json::Value;

use super::answer::{Done, unavailable};
use crate::city::lists::Change;
use crate::state::AppState;
use crate::store::{FixedCar, Principal, PrincipalKind, RemoteStay};

pub(super) async fn run(state: &AppState, who: &Principal, service: Service, biz: &str) -> Result<Done, Refusal> {
    let f = Fields::parse(biz)?;
    match service {
        Service::AddFixcar | Service::EditFixcar => put_fixcar(state, who, service, &f).await,
        Service::DelFixcar => del_fixcar(state, who, &f).await,
        Service::ModifyInCar => modify_in_car(state, who, &f).await,
        Service::DelInCar => del_in_car(state, who, &f).await,
        Service::QueryArrears => query_arrears(state, who, &f).await,
        Service::QueryAgentParkin => query_parkin(state, who, &f).await,
        Service::NotifyAgentParkin => notify_parkin(state, who, &f).await,
        Service::CheckFixcar => check_fixcar(state, who, &f).await,
        Service::QueryMqStatus => mq_status(state, who, &f).await,
        Service::GetParkQrCode => qr_code(state, who, &f).await,
        Service::QueryAgentFixcar => query_fixcar(state, who, &f).await,
        Service::NotifyAgentFixcar => notify_fixcar(state, who, &f).await,
        Service::EnterNotify => enter_notify(state, who, &f, biz).await,
        Service::LeaveNotify => leave_notify(state, who, &f, biz).await,
        Service::QueryCommand => super::commands::query(state, who, &f).await,
    }
}

fn done(data: Option<Value>) -> Result<Done, Refusal> {
    Ok(Done { data, note: None, status: None })
}

fn forbidden(who: &Principal, park_code: &str) -> Refusal {
    Refusal::new(Code::Forbidden, format!("pid {} 无权操作车场 {park_code}（bizContent.parkCode）", who.pid))
}

/// The principal may act on this lot.
fn authorize(who: &Principal, park_code: &str) -> Result<(), Refusal> {
    if who.may_act_on(park_code) { Ok(()) } else { Err(forbidden(who, park_code)) }
}

/// The lot a message names, or the principal's only lot when it names none.
fn park_of(who: &Principal, given: Option<String>) -> Result<String, Refusal> {
    match (given, who.park_codes.as_slice()) {
        (Some(code), _) => authorize(who, &code).map(|()| code),
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(Refusal::bad(format!("缺少 bizContent.parkCode（pid {} 可操作多个车场）", who.pid))),
    }
}

/// Pulls and their reports belong to the lot's own pid when the lot speaks
/// this protocol; otherwise to whoever may act on it (the lot's system
/// reaching the cloud through an integrator's pid).
async fn authorize_pull(state: &AppState, who: &Principal, park_code: &str) -> Result<(), Refusal> {
    authorize(who, park_code)?;
    if who.kind == PrincipalKind::Lot {
        return Ok(());
    }
    match state.store().cloud_lot_of(park_code).await.map_err(unavailable)? {
        Some(lot) => Err(Refusal::new(
            Code::Forbidden,
            format!("车场 {park_code} 由其自身的 pid {} 拉取与上报同步，对接方 pid {} 不能代为拉取", lot.pid, who.pid),
        )),
        None => Ok(()),
    }
}

fn plate(text: &str, field: &str) -> Result<String, Refusal> {
    Plate::parse(text)
        .map(|p| p.to_string())
        .map_err(|e| Refusal::bad(format!("bizContent.{field} 不是车牌号：{}", e.zh())))
}

fn now_text(state: &AppState) -> String {
    format_time(state.now())
}

async fn put_fixcar(state: &AppState, who: &Principal, service: Service, f: &Fields) -> Result<Done, Refusal> {
    let car = WireCar::from_fields(f)?;
    let park_code = park_of(who, car.park_code.clone())?;
    let plate_no = plate(&car.car_num, "carNum")?;
    let previous = state.store().fixed_car(&park_code, &car.uuid).await.map_err(unavailable)?;
    let live = previous.as_ref().filter(|p| p.deleted == 0);
    if service == Service::EditFixcar && live.is_none() {
        return Err(Refusal::new(
            Code::Rejected,
            format!("车场 {park_code} 没有 uuid 为 {} 的固定车（bizContent.uuid）", car.uuid),
        ));
    }
    let row = FixedCar {
        park_code: park_code.clone(),
        uuid: car.uuid.clone(),
        plate_no,
        owner: car.owner,
        car_type: car.cartype_code,
        space_no: car.carspace_num,
        tel: car.tel,
        monthly_fee: car.car_m_money,
        balance: car.balance,
        start_time: format_time(car.time_start),
        end_time: format_time(car.time_end),
        group_uuid: car.cargroup_uuid,
        remark: car.remark,
        remark1: car.remark1,
        remark2: car.remark2,
        state: car.state,
        deleted: 0,
        by_pid: who.pid.clone(),
        version: 0,
        synced_version: 0,
        changed_at: now_text(state),
    };
    let stored = state.store().put_fixed_car(&row).await.map_err(unavailable)?;
    let note = deliver(state, who, &stored).await?;
    Ok(Done { data: None, note, status: None })
}

async fn del_fixcar(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let del = DelFixcar::from_fields(f)?;
    let park_code = park_of(who, del.park_code)?;
    let previous = state.store().fixed_car(&park_code, &del.uuid).await.map_err(unavailable)?;
    let Some(previous) = previous else {
        return Err(Refusal::new(
            Code::Rejected,
            format!("车场 {park_code} 没有 uuid 为 {} 的固定车（bizContent.uuid）", del.uuid),
        ));
    };
    if previous.deleted == 1 {
        // Deleted before: make sure its lot was told (a first call may have failed half-way).
        deliver(state, who, &previous).await?;
        return Ok(Done { data: None, note: Some("该固定车已删除".into()), status: None });
    }
    let row = FixedCar { deleted: 1, by_pid: who.pid.clone(), changed_at: now_text(state), ..previous };
    let stored = state.store().put_fixed_car(&row).await.map_err(unavailable)?;
    let note = deliver(state, who, &stored).await?;
    Ok(Done { data: None, note, status: None })
}

/// Whether a fixed car passes free: monthly (81–85) and free (11–17) cars.
/// A stored-value car (71–75) pays from its balance, which no lot charges
/// yet, so it is kept but never made free.
pub(super) fn passes_free(car_type: i64) -> bool {
    matches!(car_type, 81..=85 | 11..=17)
}

/// Sends a fixed car's change to its lot. A lot of this protocol pulls it
/// (queryAgentFixcar); a Qingdao lot is sent a white-list entry (spec §5.7)
/// for the plate while the car is valid, and its removal otherwise. What the
/// list holds is kept (`listed_plate`) and updated only after the change is
/// stored, so a call that failed half-way is completed by the next one.
async fn deliver(state: &AppState, who: &Principal, car: &FixedCar) -> Result<Option<String>, Refusal> {
    let store = state.store();
    if store.cloud_lot_of(&car.park_code).await.map_err(unavailable)?.is_some() {
        return Ok(None);
    }
    let Some(lot) = crate::city::payments::lot_of(state, &car.park_code).await.map_err(unavailable)? else {
        return Ok(Some(format!("车场 {} 尚未接入，固定车已保存，待车场拉取", car.park_code)));
    };
    let codes = vec![car.park_code.clone()];
    let listed = store.listed_plate(&car.park_code, &car.uuid).await.map_err(unavailable)?;
    let wanted = (car.deleted == 0 && car.state == 0 && passes_free(car.car_type)).then_some(car.plate_no.as_str());
    if let Some(old) = listed.as_deref().filter(|old| Some(*old) != wanted) {
        // The list is by plate: it stays while another valid fixed car of the lot holds it.
        let others = store.fixed_cars_of_plate(&car.park_code, old).await.map_err(unavailable)?;
        let held = others.iter().any(|o| o.uuid != car.uuid && o.state == 0 && passes_free(o.car_type));
        if !held {
            send(state, who, Change::new(&lot.access_id, codes.clone(), old, false, false), true).await?;
        }
        store.set_listed_plate(&car.park_code, &car.uuid, None).await.map_err(unavailable)?;
    }
    if let Some(plate) = wanted {
        let add = Change::new(&lot.access_id, codes, plate, false, true).during(
            car.start_time.clone(),
            car.end_time.clone(),
            Some(format!("固定车 {}", car.uuid)),
        );
        send(state, who, add, false).await?;
        store.set_listed_plate(&car.park_code, &car.uuid, Some(plate)).await.map_err(unavailable)?;
    }
    Ok((!passes_free(car.car_type)).then(|| "储值车已保存，车场暂不按余额扣费，不下发白名单".to_owned()))
}

/// A fixed car's whitelist entry, changed in the name of the pid that
/// changed the car (the audit trail's `pid:…`).
async fn send(state: &AppState, who: &Principal, change: Change, removal: bool) -> Result<(), Refusal> {
    let actor = crate::access::Who::new(
        format!("pid:{}", who.pid),
        crate::access::Role::Operator,
        &who.park_codes,
        "-".into(),
        String::new(),
    );
    match crate::city::lists::apply(state, &actor, change).await {
        Ok(_) => Ok(()),
        // Nothing on the list to remove: nothing to tell the lot.
        Err(e) if removal && e.0 == axum::http::StatusCode::NOT_FOUND => Ok(()),
        Err(e) if e.0.is_server_error() => {
            Err(Refusal::new(Code::Unavailable, format!("下发白名单失败，请重试：{}", e.message())))
        }
        Err(e) => Err(Refusal::new(Code::Rejected, format!("下发白名单被拒绝：{}", e.message()))),
    }
}

async fn modify_in_car(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let car = InCar::from_fields(f)?;
    authorize(who, &car.park_code)?;
    let plate_no = plate(&car.plate_number, "plateNumber")?;
    not_ahead(state, car.enter_time, "enterTime")?;
    not_stale(state, car.enter_time, "enterTime")?;
    let stay = RemoteStay {
        park_code: car.park_code,
        record_no: car.record_no,
        plate_no,
        car_type: car.car_type,
        car_sub_type: car.car_sub_type,
        entrance: car.entrance,
        enter_time: format_time(car.enter_time),
        in_channel: car.in_channel_id,
        op_id: car.enter_op_id,
        op_name: car.enter_op_name,
        enter_pic: None,
        in_park: 1,
        remark: None,
        by_pid: who.pid.clone(),
        version: 0,
        changed_at: now_text(state),
    };
    state.store().put_remote_stay(&stay).await.map_err(unavailable)?;
    done(None)
}

async fn del_in_car(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let del = DelInCar::from_fields(f)?;
    authorize(who, &del.park_code)?;
    let store = state.store();
    let known = store.remote_stay(&del.park_code, &del.record_no).await.map_err(unavailable)?;
    let base = match known {
        Some(stay) => stay,
        None => {
            // A stay the lot reported itself: its uid is the recordNo.
            let Some((plate_no, arrive_time)) =
                store.open_stay(&del.park_code, &del.record_no).await.map_err(unavailable)?
            else {
                return Err(Refusal::new(
                    Code::Rejected,
                    format!("车场 {} 没有场内记录 {}（bizContent.recordNo）", del.park_code, del.record_no),
                ));
            };
            RemoteStay {
                park_code: del.park_code.clone(),
                record_no: del.record_no.clone(),
                plate_no,
                car_type: 9,
                car_sub_type: 91,
                entrance: None,
                enter_time: arrive_time,
                in_channel: None,
                op_id: None,
                op_name: None,
                enter_pic: None,
                in_park: 1,
                remark: None,
                by_pid: who.pid.clone(),
                version: 0,
                changed_at: String::new(),
            }
        }
    };
    let closed = RemoteStay {
        in_park: 0,
        remark: del.remark,
        op_name: del.op_name.or(base.op_name.clone()),
        by_pid: who.pid.clone(),
        changed_at: now_text(state),
        ..base
    };
    store.put_remote_stay(&closed).await.map_err(unavailable)?;
    done(None)
}

async fn query_arrears(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let q = PlateQuery::from_fields(f)?;
    if let Some(code) = &q.park_code {
        authorize(who, code)?;
    }
    let plate_no = plate(&q.plate_number, "plateNumber")?;
    let store = state.store();
    let open = store.open_arrears(&plate_no).await.map_err(unavailable)?;
    let notice = crate::city::payments::arrears_of(state, &plate_no).await.map_err(unavailable)?;
    let mut parks: Vec<ArrearsPark> = Vec::new();
    for a in &open {
        match parks.iter_mut().find(|p| p.park_code == a.parking_code) {
            Some(p) => {
                p.count += 1;
                p.arrears_fee += a.should_pay;
            }
            None => parks.push(ArrearsPark {
                park_code: a.parking_code.clone(),
                park_name: store.lot_name(&a.parking_code).await.map_err(unavailable)?.unwrap_or_default(),
                count: 1,
                arrears_fee: a.should_pay,
            }),
        }
    }
    let answer = ArrearsAnswer {
        plate_number: plate_no,
        has_arrears: i64::from(notice.count > 0),
        count: notice.count,
        arrears_fee: notice.un_pay,
        parks,
    };
    done(Some(to_value(&answer)))
}

fn to_value(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

async fn query_parkin(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let q = PageQuery::from_fields(f)?;
    authorize_pull(state, who, &q.park_code).await?;
    let size = q.served_size();
    let offset = (q.page - 1).saturating_mul(size);
    let (total, rows) = state.store().pull_remote_stays(&q.park_code, offset, size).await.map_err(unavailable)?;
    let items: Vec<ParkinItem> = rows
        .into_iter()
        .map(|s| ParkinItem {
            park_code: s.park_code,
            record_no: s.record_no,
            plate_num: s.plate_no,
            car_type: s.car_type,
            car_sub_type: s.car_sub_type,
            entrance: s.entrance.unwrap_or_default(),
            enter_time: s.enter_time,
            in_channel_id: s.in_channel.unwrap_or_default(),
            enter_op_name: s.op_name.unwrap_or_default(),
            enter_pic: s.enter_pic.unwrap_or_default(),
            car_status: if s.in_park == 1 { 1 } else { 2 },
        })
        .collect();
    Ok(Done { data: Some(to_value(&Page::new(q.page, size, total, items))), note: q.cap_note(), status: None })
}

async fn notify_parkin(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let report = SyncReport::from_fields(f, "recordNos")?;
    authorize_pull(state, who, &report.park_code).await?;
    let n = state.store().sync_remote_stays(&report.park_code, &report.numbers).await.map_err(unavailable)?;
    let skipped = report.numbers.len() as u64 - n;
    let note = (skipped > 0).then(|| format!("{skipped} 个 recordNo 未被拉取过或已同步，已忽略"));
    Ok(Done { data: Some(Value::from(1)), note, status: None })
}

async fn query_fixcar(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let q = PageQuery::from_fields(f)?;
    authorize_pull(state, who, &q.park_code).await?;
    let size = q.served_size();
    let offset = (q.page - 1).saturating_mul(size);
    let (total, rows) = state.store().pull_fixed_cars(&q.park_code, offset, size).await.map_err(unavailable)?;
    let mut items = Vec::with_capacity(rows.len());
    for car in rows {
        let operate = if car.deleted == 1 {
            "delete"
        } else if car.version == 1 {
            "add"
        } else {
            "edit"
        };
        items.push(
            FixcarItem {
                sync_no: format!("{}.{}", car.uuid, car.version),
                operate: operate.into(),
                car: wire_car(&car)?,
            }
            .to_value(),
        );
    }
    Ok(Done { data: Some(to_value(&Page::new(q.page, size, total, items))), note: q.cap_note(), status: None })
}

fn wire_car(car: &FixedCar) -> Result<WireCar, Refusal> {
    let time = |t: &str| {
        parse_time(t).map_err(|e| Refusal::new(Code::Internal, format!("固定车 {} 的时间无法读取：{e}", car.uuid)))
    };
    Ok(WireCar {
        uuid: car.uuid.clone(),
        park_code: Some(car.park_code.clone()),
        car_num: car.plate_no.clone(),
        owner: car.owner.clone(),
        cartype_code: car.car_type,
        carspace_num: car.space_no.clone(),
        tel: car.tel.clone(),
        car_m_money: car.monthly_fee,
        balance: car.balance,
        time_start: time(&car.start_time)?,
        time_end: time(&car.end_time)?,
        cargroup_uuid: car.group_uuid.clone(),
        remark: car.remark.clone(),
        remark1: car.remark1.clone(),
        remark2: car.remark2.clone(),
        state: car.state,
    })
}

async fn notify_fixcar(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let report = SyncReport::from_fields(f, "syncNos")?;
    authorize_pull(state, who, &report.park_code).await?;
    let mut versions = Vec::with_capacity(report.numbers.len());
    for n in &report.numbers {
        let parsed = n.rsplit_once('.').and_then(|(uuid, v)| Some((uuid.to_owned(), v.parse::<i64>().ok()?)));
        versions.push(parsed.ok_or_else(|| Refusal::bad(format!("bizContent.syncNos 中的 {n} 不是 uuid.版本号")))?);
    }
    let n = state.store().sync_fixed_cars(&report.park_code, &versions).await.map_err(unavailable)?;
    let skipped = versions.len() as u64 - n;
    let note = (skipped > 0).then(|| format!("{skipped} 个 syncNo 不是最新版本或已同步，已忽略"));
    Ok(Done { data: Some(Value::from(1)), note, status: None })
}

async fn check_fixcar(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let q = PlateQuery::from_fields(f)?;
    let park_code = park_of(who, q.park_code)?;
    let plate_no = plate(&q.plate_number, "plateNumber")?;
    let cars = state.store().fixed_cars_of_plate(&park_code, &plate_no).await.map_err(unavailable)?;
    let now = now_text(state);
    let valid = cars.iter().find(|c| c.state == 0 && c.start_time <= now && now <= c.end_time);
    let shown = valid.or(cars.first());
    let answer = FixcarCheck {
        park_code,
        plate_number: plate_no,
        is_fixcar: i64::from(valid.is_some()),
        uuid: shown.map(|c| c.uuid.clone()).unwrap_or_default(),
        cartype_code: shown.map_or(0, |c| c.car_type),
        time_start: shown.map(|c| c.start_time.clone()).unwrap_or_default(),
        time_end: shown.map(|c| c.end_time.clone()).unwrap_or_default(),
        state: shown.map_or(0, |c| c.state),
    };
    done(Some(to_value(&answer)))
}

async fn mq_status(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let q = ParkQuery::from_fields(f)?;
    authorize(who, &q.park_code)?;
    let store = state.store();
    let mut links = Vec::new();
    if crate::city::payments::lot_of(state, &q.park_code).await.map_err(unavailable)?.is_some() {
        links.push("qdpark".to_owned());
    }
    if store.cloud_lot_of(&q.park_code).await.map_err(unavailable)?.is_some() {
        links.push("cloudpark".to_owned());
    }
    let statuses = store.lot_statuses().await.map_err(unavailable)?;
    let last_seen =
        statuses.into_iter().find(|s| s.parking_code == q.park_code).map(|s| s.last_seen).unwrap_or_default();
    // Online as the admin API's lots are: heard within 15 minutes.
    let recent = format_time(state.now() - chrono::Duration::minutes(15));
    let answer = MqStatus {
        online: i64::from(!last_seen.is_empty() && last_seen >= recent),
        park_code: q.park_code,
        last_seen_time: last_seen,
        links,
    };
    done(Some(to_value(&answer)))
}

async fn qr_code(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let q = ParkQuery::from_fields(f)?;
    authorize(who, &q.park_code)?;
    let code: String = form_urlencoded::byte_serialize(q.park_code.as_bytes()).collect();
    let url = format!("{}/pay?lot={code}", state.public_url());
    let format = q.format.unwrap_or_else(|| "svg".into());
    let failed = |e: onepark_web::qr::QrError| Refusal::new(Code::Internal, e.to_string());
    let content = if format == "png" {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(onepark_web::qr::png(&url, 8).map_err(failed)?)
    } else {
        onepark_web::qr::svg(&url).map_err(failed)?
    };
    done(Some(to_value(&QrCode { park_code: q.park_code, url, format, content })))
}

/// What a stored record means to the lot that reported it.
fn stored(put: Result<crate::store::Put, crate::store::StoreError>, record_no: &str) -> Result<Done, Refusal> {
    match put {
        Ok(crate::store::Put::Inserted) => done(None),
        Ok(crate::store::Put::Duplicate) => {
            Ok(Done { data: None, note: Some("重复上传，数据未变更".into()), status: None })
        }
        Err(crate::store::StoreError::Conflict { .. }) => Err(Refusal::new(
            Code::Rejected,
            format!("recordNo {record_no} 已存在且内容不同：同一记录不能以不同内容重复上传"),
        )),
        Err(e) => Err(unavailable(e)),
    }
}

/// An event time may be ahead of the platform's clock by `limits.future_skew`
/// at most (as on the Qingdao door).
fn not_ahead(state: &AppState, at: chrono::NaiveDateTime, field: &str) -> Result<(), Refusal> {
    if at > state.now() + state.limits().future_skew {
        return Err(Refusal::bad(format!("bizContent.{field} {} 晚于当前时间", format_time(at))));
    }
    Ok(())
}

/// A car the cloud puts into a lot starts a stay the lot will charge for:
/// its entry may not be older than `limits.past` (30 days), so no one
/// inflates a fee by back-dating it.
fn not_stale(state: &AppState, at: chrono::NaiveDateTime, field: &str) -> Result<(), Refusal> {
    if at < state.now() - state.limits().past {
        let days = state.limits().past.num_days();
        return Err(Refusal::bad(format!("bizContent.{field} {} 早于 {days} 天前", format_time(at))));
    }
    Ok(())
}

/// A lot's own reports come from the lot's own pid only: an integrator may
/// not invent a lot's entries and exits.
fn lot_only(who: &Principal, service: Service) -> Result<(), Refusal> {
    if who.kind == PrincipalKind::Lot {
        Ok(())
    } else {
        Err(Refusal::new(
            Code::Forbidden,
            format!("{} 只能由车场自身的 pid 上报，对接方 pid {} 不能调用", service.name(), who.pid),
        ))
    }
}

async fn enter_notify(state: &AppState, who: &Principal, f: &Fields, biz: &str) -> Result<Done, Refusal> {
    lot_only(who, Service::EnterNotify)?;
    let m = EnterNotify::from_fields(f)?;
    authorize(who, &m.park_code)?;
    not_ahead(state, m.enter_time, "enterTime")?;
    let valid = Plate::parse(&m.plate_num).is_ok();
    let entry = super::records::entry(&m, valid, state.now(), biz);
    let put =
        state.store().put_entry(&super::records::lot(&who.pid), &entry, &now_text(state), None).await.map(|p| p.put);
    stored(put, &m.record_no)
}

async fn leave_notify(state: &AppState, who: &Principal, f: &Fields, biz: &str) -> Result<Done, Refusal> {
    lot_only(who, Service::LeaveNotify)?;
    let m = LeaveNotify::from_fields(f)?;
    authorize(who, &m.park_code)?;
    not_ahead(state, m.leave_time, "leaveTime")?;
    let valid = Plate::parse(&m.plate_num).is_ok();
    let exit = super::records::exit(&m, valid, state.now(), biz);
    let put = state.store().put_exit(&super::records::lot(&who.pid), &exit, &now_text(state)).await;
    stored(put, &m.record_no)
}
