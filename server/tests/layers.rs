//! The server's layers, checked from its source: which top-level module (a folder or a file of
//! `server/src`) names which other (`crate::<module>`), so that
//! - no two modules depend on each other, directly or round a longer circle;
//! - the HTTP edge (`http/`) never names `redis::`: what it needs from Redis, the queue's typed
//!   layer or the service layer does;
//! - the queue, the worker and the event hub (`queue/`, `worker/`, `events/`) never name
//!   `axum::`: they know no HTTP;
//! - in `app/src`, the shared model (`model/`) names no other part, and the home page
//!   (`home/`), the dashboard (`dashboard/`) and the shell (`shell.rs`) import each other in
//!   no circle;
//! - no two files of either crate import each other in a circle.

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

/// `app/src` by audience: the shared model names no other part (it is what they all speak),
/// and the home page, the dashboard and the shell import each other in no circle.
#[test]
fn the_app_s_parts_by_audience_do_not_import_each_other_in_a_circle() {
    let app = server_src().join("../../app/src");
    let edges = dependencies(&app, &["lib"]);
    for part in ["model", "home", "dashboard", "shell"] {
        assert!(edges.contains_key(part), "app/src has no {part}: {edges:?}");
    }
    let model = &edges["model"];
    assert!(model.is_empty(), "the model names {model:?}");
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

/// The file a module path names, as a list of segments from the crate root (`["service",
/// "jobs"]` for `src/service/jobs.rs`; `[]` for `lib.rs`).
fn file_module(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).expect("under the root");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs").to_string();
        if !matches!(stem.as_str(), "mod" | "lib" | "main") {
            parts.push(stem);
        }
    }
    parts
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    fn walk(prefix: &str, text: &str, out: &mut Vec<String>) {
        let Some(open) = text.find('{') else {
            for part in text.split(',').filter(|p| !p.is_empty()) {
                out.push(format!("{prefix}{part}"));
            }
            return;
        };
        let head = &text[..open];
        let mut depth = 0;
        let mut close = open;
        for (i, c) in text[open..].char_indices() {
            depth += i32::from(c == '{') - i32::from(c == '}');
            if depth == 0 {
                close = open + i;
                break;
            }
        }
        let inner = &text[open + 1..close];
        let mut parts = Vec::new();
        let (mut depth, mut current) = (0, String::new());
        for c in inner.chars() {
            if c == ',' && depth == 0 {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            depth += i32::from(c == '{') - i32::from(c == '}');
            current.push(c);
        }
        parts.push(current);
        for part in parts {
            walk(&format!("{prefix}{head}"), &part, out);
        }
        if let Some(rest) = text[close + 1..].strip_prefix(',') {
            walk(prefix, rest, out);
        }
    }
    walk("", &tree, &mut out);
    out
}

/// File → the other files of the crate it imports (`crate::`, `super::`, `self::` paths and
/// grouped `use` trees; a file declaring or re-exporting its own child is not importing it;
/// test modules are left out).
fn file_edges(root: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files: Vec<(PathBuf, String)> = sources(root);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(f, _)| file_module(root, f)).collect();
    let use_tree = regex::Regex::new(r"(?s)\buse\s+(crate|super|self)::([^;]+);").unwrap();
    let path = regex::Regex::new(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)").unwrap();
    let declared = regex::Regex::new(r"\bmod\s+([a-z_][a-z0-9_]*)\s*;").unwrap();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (file, code) in &files {
        let here = file_module(root, file);
        let code = match code.find("#[cfg(test)]") {
            Some(at) => &code[..at],
            None => code.as_str(),
        };
        let children: BTreeSet<String> = declared
            .captures_iter(code)
            .map(|c| c[1].to_string())
            .collect();
        let mut paths: Vec<(String, String)> = Vec::new();
        for found in use_tree.captures_iter(code) {
            for p in expand(&found[2]) {
                paths.push((found[1].to_string(), p));
            }
        }
        let rest = use_tree.replace_all(code, "");
        for found in path.captures_iter(&rest) {
            paths.push((
                found[1].to_string(),
                found[2].trim_start_matches("::").to_string(),
            ));
        }
        for (kind, p) in paths {
            let mut segments: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Vec<String> = match kind.as_str() {
                "crate" => Vec::new(),
                "self" => here.clone(),
                _ => here[..here.len().saturating_sub(1)].to_vec(),
            };
            while segments.first() == Some(&"super") {
                base.pop();
                segments.remove(0);
            }
            let mut full = base;
            full.extend(
                segments
                    .iter()
                    .filter(|s| !matches!(**s, "self" | "*"))
                    .map(|s| s.to_string()),
            );
            let target = (1..=full.len())
                .rev()
                .map(|k| full[..k].to_vec())
                .find(|candidate| modules.contains(candidate));
            let Some(target) = target else { continue };
            if target == here {
                continue;
            }
            let own_child = target.len() == here.len() + 1
                && target.starts_with(&here)
                && children.contains(target.last().unwrap());
            if own_child {
                continue;
            }
            edges.entry(here.clone()).or_default().insert(target);
        }
    }
    edges
}

#[test]
fn no_two_files_import_each_other_in_a_circle() {
    for root in [server_src(), server_src().join("../../app/src")] {
        let edges = file_edges(&root);
        let named: BTreeMap<String, BTreeSet<String>> = edges
            .iter()
            .map(|(from, to)| (from.join("::"), to.iter().map(|t| t.join("::")).collect()))
            .collect();
        assert!(named.len() > 20, "{} files with imports", named.len());
        if let Some(circle) = cycle(&named) {
            panic!(
                "files importing each other in {}: {}",
                root.display(),
                circle.join(" → ")
            );
        }
    }
}

#[test]
fn grouped_imports_and_super_paths_are_seen() {
    assert_eq!(
        expand("a::{b, c::{d, e}}, f"),
        ["a::b", "a::c::d", "a::c::e", "f"]
    );
    // This very check would miss a circle through `use crate::{a, b}` without them: the
    // service's files are found importing its root, and not the other way round.
    let edges = file_edges(&server_src());
    let service = vec!["service".to_string()];
    let jobs = vec!["service".to_string(), "jobs".to_string()];
    assert!(edges[&jobs].contains(&service), "{:?}", edges[&jobs]);
    assert!(!edges.get(&service).is_some_and(|to| to.contains(&jobs)));
}

#[test]
fn the_service_names_no_redis_and_the_app_depends_on_no_tokio_redis_or_queue_engine() {
    let root = server_src();
    for (file, code) in sources(&root) {
        if module_of(&root, &file) == "service" {
            assert!(
                !code.contains("redis::"),
                "{} names redis::",
                file.display()
            );
        }
    }
    let manifest = std::fs::read_to_string(server_src().join("../../app/Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap();
    for forbidden in ["tokio", "redis", "bullmq", "axum"] {
        assert!(
            !dependencies
                .lines()
                .any(|l| l.trim_start().starts_with(forbidden)),
            "app depends on {forbidden}"
        );
    }
}
