//! The audit trail: every change a person or an integration makes is
//! written before it is made (outcome `attempted`) and completed after
//! (`done` or `failed`, with the answer), so a change a crash cut short is
//! still there to be found. A change that cannot be written to the trail is
//! not made.

use std::fmt::Display;

use serde_json::Value;

use crate::access::Who;
use crate::store::{AuditEntry, Store, StoreError};

/// What is about to change.
#[derive(Clone, Debug, Default)]
pub struct Change {
    /// list, refund, write_off, barrier, command, account, token, lot, integrator, signup, …
    pub kind: &'static str,
    pub parking_code: String,
    pub subject: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
    pub reason: String,
}

impl Change {
    pub fn new(kind: &'static str, parking_code: &str, subject: &str) -> Change {
        Change { kind, parking_code: parking_code.to_owned(), subject: subject.to_owned(), ..Change::default() }
    }

    pub fn old(mut self, value: impl serde::Serialize) -> Change {
        self.old_value = serde_json::to_value(value).ok();
        self
    }

    pub fn new_value(mut self, value: impl serde::Serialize) -> Change {
        self.new_value = serde_json::to_value(value).ok();
        self
    }

    pub fn reason(mut self, reason: &str) -> Change {
        reason.clone_into(&mut self.reason);
        self
    }
}

/// A change written as attempted; [`Pending::finish`] records its outcome.
#[must_use = "a change's outcome is recorded by finish"]
pub struct Pending {
    id: String,
}

/// Writes `change` by `who` at `at` (the platform's time) as attempted.
pub async fn begin(store: &Store, who: &Who, at: &str, change: Change) -> Result<Pending, StoreError> {
    begin_as(store, (&who.actor, who.role.as_str(), &who.client), at, change).await
}

/// A change by someone with no account: a driver on the driver pages
/// (`("driver", "driver", address)`).
pub async fn begin_as(
    store: &Store,
    (actor, role, client): (&str, &str, &str),
    at: &str,
    change: Change,
) -> Result<Pending, StoreError> {
    let id = format!("{}{}", at.replace(['-', ' ', ':'], ""), crate::secret::random_hex(6).unwrap_or_default());
    let entry = AuditEntry {
        id: id.clone(),
        at: at.to_owned(),
        actor: actor.to_owned(),
        role: role.to_owned(),
        client: client.to_owned(),
        kind: change.kind.to_owned(),
        parking_code: change.parking_code,
        subject: change.subject,
        old_value: change.old_value.map(|v| v.to_string()),
        new_value: change.new_value.map(|v| v.to_string()),
        reason: change.reason,
        outcome: "attempted".into(),
        detail: String::new(),
    };
    store.put_audit(&entry).await?;
    Ok(Pending { id })
}

impl Pending {
    /// Records the outcome of the change; a failure to record it is logged
    /// (the entry stays `attempted`, which is what happened as far as the
    /// trail can tell).
    pub async fn finish<T, E: Display>(self, store: &Store, result: &Result<T, E>) {
        let (outcome, detail) = match result {
            Ok(_) => ("done", String::new()),
            Err(e) => ("failed", e.to_string()),
        };
        self.finish_with(store, outcome, &detail, None).await;
    }

    /// Records the outcome with what the thing was before, learned while changing it.
    pub async fn finish_with(self, store: &Store, outcome: &str, detail: &str, old_value: Option<&Value>) {
        let old = old_value.map(Value::to_string);
        if let Err(e) = store.finish_audit(&self.id, outcome, detail, old.as_deref()).await {
            tracing::error!(error = %e, id = %self.id, "audit outcome not recorded");
        }
    }
}
