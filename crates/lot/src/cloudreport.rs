//! Reports for the cloud's MQ channel, queued durably (`cloud_reports`) by
//! whoever makes them (the lanes, the booth, remote orders); `crate::cloudmq`
//! publishes them until the cloud acknowledges each uuid.

use onepark_cloudpark::command::{ManualLift, Report};
use onepark_domain::time::format_time;

use crate::state::LotState;
use crate::store::QueuedReport;

/// A fresh message id: 32 hex digits, as the vendor's (random; should the
/// random source fail, the gateway's clock in nanoseconds and a counter).
pub fn new_uuid(state: &LotState) -> String {
    let mut bytes = [0u8; 16];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = state.clock().now().timestamp_nanos_opt().unwrap_or_default();
        return format!("{nanos:016x}{:016x}", COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Queues a report for the cloud (durable; sent until acknowledged).
pub async fn report(state: &LotState, report: Report) {
    let Some(link) = state.config().cloudpark.as_ref() else { return };
    if link.mq.is_none() {
        return;
    }
    let now = state.now();
    let uuid = new_uuid(state);
    let m = report.envelope(&uuid, &state.config().parking_code, now);
    let queued =
        QueuedReport { uuid, service_id: report.service().name().to_owned(), payload: m.to_json().to_string() };
    match state.store().queue_report(&queued, &format_time(now)).await {
        Ok(()) => state.wake_cloud_reports(),
        Err(e) => tracing::error!(error = %e, service = queued.service_id, "cloud report not queued"),
    }
}

/// The 2.11 report of a barrier raised by hand (remote or at the booth),
/// when the lot speaks the cloud's MQ channel.
pub fn manual_lift_report(
    state: &LotState,
    lane: &str,
    operator: &str,
    reason: &str,
    at: chrono::NaiveDateTime,
) -> Option<QueuedReport> {
    let link = state.config().cloudpark.as_ref()?;
    link.mq.as_ref()?;
    let uuid = new_uuid(state);
    let report = Report::ManualLift(ManualLift {
        record_no: uuid.clone(),
        channel_id: lane.to_owned(),
        channel_name: lane.to_owned(),
        pic: None,
        op_name: operator.to_owned(),
        op_time: at,
        op_type: reason.to_owned(),
    });
    let payload = report.envelope(&uuid, &state.config().parking_code, at).to_json().to_string();
    Some(QueuedReport { uuid, service_id: report.service().name().to_owned(), payload })
}
