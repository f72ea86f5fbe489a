//! How the city's logic tells lots something (a payment's result, an
//! arrears notice, a list change): the messages are stored durably with what
//! they announce, then the link's publisher is woken to deliver them.

use tokio::sync::Notify;

/// Wakes the publisher when a message is queued.
#[derive(Default)]
pub struct Wake(Notify);

impl Wake {
    pub fn now(&self) {
        self.0.notify_one();
    }

    /// Resolves at the next `now` (or at once if one came since the last wait).
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}
