//! Helpers shared by the lot crate's integration tests.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use onepark_platform::app::{Spawned, spawn};
use onepark_platform::config::Config;

pub fn key_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop/keys").join(name)
}

pub fn key(name: &str) -> String {
    std::fs::read_to_string(key_path(name)).expect("test key")
}

/// Starts a platform (SQLite in `dir`, admin token `t`) for `access_id` with
/// parking codes 1001 and 1002; `extra` adds config lines (listen, broker).
pub async fn platform(dir: &Path, access_id: &str, extra: &str) -> Spawned {
    std::fs::create_dir_all(dir).expect("dir");
    let toml = format!(
        "database = \"sqlite://{db}\"\nadmin_token = \"t\"\ndownlink_retry_hours = 1\n{extra}\n\
         [keys]\nprivate_key = \"{private}\"\n[[lots]]\naccess_id = \"{access_id}\"\npublic_key = \"{public}\"\n\
         parking_codes = [\"1001\", \"1002\"]\n",
        db = dir.join("p.db").display(),
        private = key_path("platform_private.b64").display(),
        public = key_path("lot_public.b64").display(),
    );
    let file = dir.join("platform.toml");
    std::fs::write(&file, toml).expect("config");
    let config = Config::load(Some(&file), |_| None).expect("config loads");
    spawn(config).await.expect("platform starts")
}
