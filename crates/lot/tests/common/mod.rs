//! Helpers shared by the lot crate's integration tests (the rest is in
//! onepark-testkit).

#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;

use onepark_platform::app::{Spawned, spawn};
use onepark_platform::config::Config;
use onepark_testkit::config::{lot_access, platform_toml};

/// Starts a platform (SQLite in `dir`, admin token `t`) for `access_id` with
/// parking codes 1001 and 1002; `extra` adds config lines (listen, broker).
pub async fn platform(dir: &Path, access_id: &str, extra: &str) -> Spawned {
    std::fs::create_dir_all(dir).expect("dir");
    let top = format!("admin_token = \"t\"\ndownlink_retry_hours = 1\n{extra}\n");
    let toml = platform_toml(&top, &dir.join("p.db"), &lot_access(access_id, &["1001", "1002"]));
    let file = dir.join("platform.toml");
    std::fs::write(&file, toml).expect("config");
    let config = Config::load(Some(&file), |_| None).expect("config loads");
    spawn(config).await.expect("platform starts")
}
