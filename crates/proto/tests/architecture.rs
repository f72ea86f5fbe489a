//! Architecture invariants that a test can check (see ARCHITECTURE.md).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Crates that do I/O or run a runtime; `proto`, `domain`, `sim` and `web` must not reach
/// any of them, directly or transitively.
const FORBIDDEN: &[&str] =
    &["tokio", "async-std", "mio", "hyper", "axum", "reqwest", "sqlx", "rusqlite", "postgres", "rumqttc", "rmqtt"];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).expect("workspace root")
}

#[test]
fn proto_domain_sim_and_web_depend_on_no_runtime_database_or_broker() {
    // Only the host's packages: others (Windows-only crates) are not downloaded.
    let rustc = Command::new("rustc").arg("-vV").output().expect("rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("host triple");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes: HashMap<&str, Vec<(&str, bool)>> = meta["resolve"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| {
            let deps = n["deps"]
                .as_array()?
                .iter()
                .filter_map(|d| {
                    let normal = d["dep_kinds"].as_array()?.iter().any(|k| k["kind"].is_null());
                    Some((d["pkg"].as_str()?, normal))
                })
                .collect();
            Some((n["id"].as_str()?, deps))
        })
        .collect();
    for root in ["onepark-proto", "onepark-domain", "onepark-sim", "onepark-web"] {
        let start = names.iter().find(|(_, n)| **n == root).map(|(id, _)| *id).expect("root package");
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            for (dep, normal) in nodes.get(id).into_iter().flatten() {
                if *normal && seen.insert(*dep) {
                    stack.push(dep);
                }
            }
        }
        let bad: Vec<&str> =
            seen.iter().filter_map(|id| names.get(id)).copied().filter(|n| FORBIDDEN.contains(n)).collect();
        assert!(bad.is_empty(), "{root} reaches {bad:?}");
    }
}

#[test]
fn every_module_says_what_it_is_for() {
    let mut missing = Vec::new();
    let mut stack = vec![workspace().join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() && name != "target" {
                stack.push(path);
            } else if name.ends_with(".rs") && path.components().any(|c| c.as_os_str() == "src") {
                let text = std::fs::read_to_string(&path).expect("read");
                if !text.trim_start().starts_with("//!") {
                    missing.push(path.display().to_string());
                }
            }
        }
    }
    assert!(missing.is_empty(), "modules without a `//!` line: {missing:?}");
}
