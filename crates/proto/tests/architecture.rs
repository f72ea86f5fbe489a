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
    for root in ["onepark-proto", "onepark-cloudpark", "onepark-bolink", "onepark-domain", "onepark-sim", "onepark-web"]
    {
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

/// Every `.rs` file under `dir`, with its module path (`store/records.rs` →
/// `["store", "records"]`, `city/mod.rs` → `["city"]`, `lib.rs` → `[]`).
fn modules(dir: &Path) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Some(rel) = path.strip_prefix(dir).ok().and_then(|r| r.to_str()) else { continue };
            let Some(rel) = rel.strip_suffix(".rs") else { continue };
            let mut segments: Vec<String> = rel.split('/').map(str::to_owned).collect();
            if matches!(segments.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                segments.pop();
            }
            out.push((segments, std::fs::read_to_string(&path).expect("read")));
        }
    }
    out
}

/// The code of a file without its comments (`//` to the end of a line).
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The module paths a file names: `crate::a::b`, `super::c`, `crate::{a, b}`.
fn named_paths(own: &[String], text: &str) -> Vec<Vec<String>> {
    let code = code(text);
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| p.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>())
            .take_while(|p| !p.is_empty())
            .collect()
    };
    let mut paths = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `onepark_crate::`, not ours
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            for item in group.split('}').next().unwrap_or_default().split(',') {
                paths.push(ident(item.trim()));
            }
        } else {
            paths.push(ident(rest));
        }
    }
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with("super::") || code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let mut base = own.to_vec();
        let mut rest = &code[i..];
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        base.extend(ident(rest));
        paths.push(base);
    }
    paths
}

/// A crate's import graph between its units (a top-level module, or a
/// module inside a grouping folder such as the platform's `link/qdpark/`),
/// leaving out the composition root: a cycle, if any.
fn import_cycle(krate: &str, depth: &[(&str, usize)], root: &str) -> Option<Vec<String>> {
    let src = workspace().join("crates").join(krate).join("src");
    let unit = |path: &[String]| -> Option<String> {
        let first = path.first()?;
        let d = depth.iter().find(|(g, _)| g == first).map_or(1, |(_, d)| *d);
        // A grouping folder's own `mod.rs` is a unit too (`link`, `link::qdpark`).
        Some(path[..d.min(path.len())].join("::"))
    };
    let files = modules(&src);
    let units: BTreeSet<String> = files.iter().filter_map(|(p, _)| unit(p)).collect();
    let mut edges: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (path, text) in &files {
        let Some(from) = unit(path) else { continue };
        for named in named_paths(path, text) {
            // The longest unit the path names (`crate::link::qdpark::records::entry`).
            let to = (1..=named.len()).rev().filter_map(|n| unit(&named[..n])).find(|u| units.contains(u));
            if let Some(to) = to.filter(|to| *to != from && from != root && *to != root) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        edges: &HashMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_owned());
            return Some(cycle);
        }
        if !done.insert(n.to_owned()) {
            return None;
        }
        path.push(n.to_owned());
        for next in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, edges, done, path) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    units.iter().find_map(|u| visit(u, &edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_module_of_the_platform_or_the_lot_imports_a_module_that_imports_it() {
    let platform = import_cycle("platform", &[("link", 3), ("city", 2), ("http", 2)], "app");
    assert_eq!(platform, None, "an import circle in crates/platform/src (outside the composition root `app`)");
    let lot = import_cycle("lot", &[], "app");
    assert_eq!(lot, None, "an import circle in crates/lot/src (outside the composition root `app`)");
}

/// The protocol crates: only a link (and the lot gateway, which speaks one) may name them.
const WIRES: &[&str] = &["onepark_proto", "onepark_cloudpark", "onepark_bolink"];

#[test]
fn the_store_the_city_and_the_http_surfaces_know_no_wire_type() {
    let src = workspace().join("crates/platform/src");
    let bad: Vec<String> = modules(&src)
        .into_iter()
        .filter(|(path, text)| {
            path.first().is_some_and(|m| ["store", "city", "http"].contains(&m.as_str()))
                && WIRES.iter().any(|wire| code(text).contains(wire))
        })
        .map(|(path, _)| path.join("::"))
        .collect();
    assert!(bad.is_empty(), "a protocol crate named outside a link: {bad:?} (convert at the link: domain::record)");
}

#[test]
fn pure_crates_read_no_clock_file_or_socket_and_the_sides_read_one_clock() {
    let mut bad = Vec::new();
    for krate in ["proto", "cloudpark", "bolink", "domain", "sim", "web"] {
        for (path, text) in modules(&workspace().join("crates").join(krate).join("src")) {
            for needle in ["::now(", "std::fs", "std::net"] {
                if code(&text).contains(needle) {
                    bad.push(format!("{krate}::{}: {needle}", path.join("::")));
                }
            }
        }
    }
    for krate in ["platform", "lot"] {
        for (path, text) in modules(&workspace().join("crates").join(krate).join("src")) {
            for needle in ["Utc::now(", "Local::now(", "SystemTime::now("] {
                if code(&text).contains(needle) {
                    bad.push(format!("{krate}::{}: {needle} (ask the side's clock)", path.join("::")));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}
