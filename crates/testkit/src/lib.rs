//! Test support shared by the platform's, the lot's and the binary's tests:
//! the published test keys, free ports, fresh temp directories, config
//! files, sealed uplink requests posted to a router, PostgreSQL schemas of a
//! test's own, and the "skipped" notice. Not published; depends on neither
//! the platform nor the lot crate (they dev-depend on it).

pub mod config;
pub mod dirs;
pub mod keys;
pub mod net;
pub mod pg;
pub mod router;
pub mod uplink;

/// Prints the notice of a test (or one of its legs) that cannot run on this
/// machine: `SKIPPED {test}: {why}`.
pub fn skip(test: &str, why: &str) {
    eprintln!("SKIPPED {test}: {why}");
}

/// The environment variable `var`, or `None` after the skip notice
/// (`SKIPPED {test}: {var} is not set`).
pub fn env_or_skip(var: &str, test: &str) -> Option<String> {
    let value = std::env::var(var).ok();
    if value.is_none() {
        skip(test, &format!("{var} is not set"));
    }
    value
}
