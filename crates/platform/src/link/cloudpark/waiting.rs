//! Callers of the cloud API waiting for a lot's answer to their command
//! (`commands`), woken by the channel when it arrives (`channel`).

/// Callers waiting for a lot's answer, by requestId: an answer wakes its
/// own caller only. (An answer stored by another node is seen by polling.)
#[derive(Default)]
pub struct Waiting(std::sync::Mutex<std::collections::HashMap<i64, std::sync::Arc<tokio::sync::Notify>>>);

impl Waiting {
    pub(super) fn register(&self, request_id: i64) -> std::sync::Arc<tokio::sync::Notify> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(request_id).or_default().clone()
    }

    pub(super) fn forget(&self, request_id: i64) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&request_id);
    }

    /// A lot answered command `request_id`.
    pub fn answered(&self, request_id: i64) {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get(&request_id) {
            n.notify_one();
        }
    }
}
