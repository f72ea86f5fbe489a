//! What a service or command of the cloud API comes to ([`Done`]), and the
//! refusal storage trouble becomes: shared by the door and what it calls.

use onepark_cloudpark::{Code, Refusal};

/// A service's result: its `data`, and a remark for `msg`.
pub(super) struct Done {
    pub data: Option<serde_json::Value>,
    pub note: Option<String>,
    /// An answer other than 成功 that still carries `data` (a command's
    /// pending or refused state): its code and msg.
    pub status: Option<(Code, String)>,
}

/// What storage failing means to a caller: retry later, unchanged.
pub(super) fn unavailable(e: crate::store::StoreError) -> Refusal {
    tracing::error!(error = %e, "cloud API storage");
    Refusal::new(Code::Unavailable, "存储暂不可用，请稍后用新的 timestamp 和 sign 重试")
}
