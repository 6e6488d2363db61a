//! The server's layers, checked from its source: which top-level module (a folder or a file of
//! `server/src`) names which other (`crate::<module>`), so that
//! - no two modules depend on each other, directly or round a longer circle;
//! - the HTTP edge (`http/`) never names `redis::`: what it needs from Redis, the queue's typed
//!   layer or the service layer does;
//! - the queue, the worker and the event hub (`queue/`, `worker/`, `events/`) never name
//!   `axum::`: they know no HTTP;
//! - in `app/src`, the pages (`page.rs`) and the dashboard (`dashboard/`) do not import each
//!   other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its text (comments removed, so a doc comment that names
/// a module is not a dependency).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read a source file");
                let code: String = text
                    .lines()
                    .map(|line| match line.find("//") {
                        Some(at) => &line[..at],
                        None => line,
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                found.push((path, code));
            }
        }
    }
    found.sort();
    found
}

/// The top-level module a file belongs to (`http` for `src/http/sse.rs`, `config` for
/// `src/config.rs`).
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("under the root");
    let first = relative
        .components()
        .next()
        .expect("a first component")
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_string()
}

/// Module → the other top-level modules its files name.
fn dependencies(root: &Path, skip: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let pattern = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, code) in sources(root) {
        let from = module_of(root, &file);
        if skip.contains(&from.as_str()) {
            continue;
        }
        let named = edges.entry(from.clone()).or_default();
        for found in pattern.captures_iter(&code) {
            let to = found[1].to_string();
            if to != from {
                named.insert(to);
            }
        }
    }
    edges
}

/// A circle of modules, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

fn server_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_server_s_modules_depend_on_each_other_in_one_direction() {
    let edges = dependencies(&server_src(), &["lib", "main"]);
    assert!(
        edges.len() >= 10,
        "found {} modules: {edges:?}",
        edges.len()
    );
    if let Some(circle) = cycle(&edges) {
        panic!("an import cycle: {}", circle.join(" → "));
    }
    // The order ARCHITECTURE.md draws, bottom up: nothing names a module above it.
    let layers: [&[&str]; 7] = [
        &["clock", "telemetry", "config", "metrics"],
        &["queue"],
        &["events", "worker"],
        &["error", "auth"],
        &["service"],
        &["http"],
        &["boot"],
    ];
    let level = |module: &str| layers.iter().position(|layer| layer.contains(&module));
    for (from, named) in &edges {
        let from_level = level(from).unwrap_or_else(|| panic!("{from} is in no layer"));
        for to in named {
            let to_level = level(to).unwrap_or_else(|| panic!("{to} is in no layer"));
            assert!(
                to_level <= from_level,
                "{from} (layer {from_level}) names {to} (layer {to_level}), above it"
            );
        }
    }
}

#[test]
fn the_http_edge_never_names_redis_and_the_lower_layers_never_name_axum() {
    let root = server_src();
    for (file, code) in sources(&root) {
        let module = module_of(&root, &file);
        if module == "http" {
            assert!(
                !code.contains("redis::"),
                "{} names redis::",
                file.display()
            );
        }
        if ["queue", "worker", "events"].contains(&module.as_str()) {
            assert!(!code.contains("axum::"), "{} names axum::", file.display());
        }
    }
}

#[test]
fn the_app_s_pages_and_dashboard_do_not_import_each_other_in_a_circle() {
    let app = server_src().join("../../app/src");
    let edges = dependencies(&app, &["lib"]);
    assert!(edges.contains_key("dashboard") && edges.contains_key("page"));
    if let Some(circle) = cycle(&edges) {
        panic!("an import cycle in app/src: {}", circle.join(" → "));
    }
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
    .collect();
    assert_eq!(cycle(&edges).unwrap(), ["a", "b", "c", "a"]);
    let mut acyclic = edges.clone();
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(cycle(&acyclic), None);
}
