//! The layering of `core/src` (crate `hub-core`) and `hub/src`, checked on the sources: every `crate::` path a file names must
//! point at its own layer or one below. A failure names the file, the line and the import.
//!
//! app (main, lib, http root, server) > surfaces (admin, scim, console, oidc, login) > edge
//! (http::extract, http::health, http::metrics) > domain (orgs, users, directories, federation,
//! spaces, deprovision, sessions, audit, reauth, jobs) > shared (state, access, error, keys,
//! metrics, signing, throttle, clients, the audit log's append and notices) > storage > leaves (every `model` module, ids, clock, jose,
//! secrets, config, dns, outbound, and the pure helpers named below). The `connectors` crate,
//! below all of it, is checked to name no `hub` item.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Leaf,
    Storage,
    Shared,
    Domain,
    Edge,
    Surface,
    App,
}

/// Modules that sit lower than their parent: pure code with no I/O.
const PURE: &[&str] = &["users::names", "audit::failures", "federation::cache"];
/// Shared infrastructure inside a domain area: appending to the audit log (every change in the
/// same transaction) and signing its checkpoints.
const SHARED: &[&str] = &["audit::log", "audit::notices"];

fn layer(path: &[&str]) -> Layer {
    if path.contains(&"model") {
        return Layer::Leaf;
    }
    let joined = path.join("::");
    if PURE
        .iter()
        .any(|p| joined == *p || joined.starts_with(&format!("{p}::")))
    {
        return Layer::Leaf;
    }
    if SHARED
        .iter()
        .any(|p| joined == *p || joined.starts_with(&format!("{p}::")))
    {
        return Layer::Shared;
    }
    match path {
        [] | ["main" | "lib"] => Layer::App,
        ["http"] | ["http", "server", ..] => Layer::App,
        // `hub witness`: a client of the hub's API, run by an organization (a command, like main).
        ["witness"] => Layer::App,
        ["http", ..] => Layer::Edge,
        ["admin" | "scim" | "console" | "oidc" | "login", ..] => Layer::Surface,
        [
            "orgs" | "users" | "directories" | "federation" | "spaces" | "deprovision" | "sessions"
            | "audit" | "reauth" | "jobs",
            ..,
        ] => Layer::Domain,
        [
            "state" | "access" | "error" | "keys" | "metrics" | "signing" | "throttle" | "clients",
            ..,
        ] => Layer::Shared,
        ["storage", ..] => Layer::Storage,
        [
            "ids" | "clock" | "jose" | "secrets" | "config" | "dns" | "outbound",
            ..,
        ] => Layer::Leaf,
        other => panic!(
            "module crate::{} has no layer: add it to hub/tests/architecture.rs",
            other.join("::")
        ),
    }
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `src/orgs/model.rs` is `orgs::model`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Every `crate::a::b` path in `line`, as its segments (a `{` group ends the path).
fn crate_paths(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let segs: Vec<String> = path
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

/// Every `super::a::b` path in `line` (not `super::super`), as its segments after `super`.
fn super_paths(line: &str) -> Vec<Vec<String>> {
    crate_paths(
        &line
            .replace("super::super::", "")
            .replace("super::", "crate::"),
    )
    .into_iter()
    .filter(|_| line.contains("super::") && !line.contains("super::super"))
    .collect()
}

/// The module a path names: leading lower-case segments (types and functions end it).
fn target_module(segs: &[String]) -> Vec<&str> {
    let mut m: Vec<&str> = Vec::new();
    for s in segs {
        if s.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            m.push(s);
        } else {
            break;
        }
    }
    // A trailing lower-case segment may be a function or a constant's module; keep the
    // module path as long as it is known to have a layer, which its first segments decide.
    m
}

/// The two crates of the hub: `hub-core` (leaves to edge) and `hub` (surfaces and the app),
/// which re-exports the core's modules under the same paths.
fn crate_dirs() -> [PathBuf; 2] {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    [here.join("../core/src"), here.join("src")]
}

#[test]
fn every_import_points_down_the_layers() {
    let mut wrong = Vec::new();
    for src in crate_dirs() {
        check_layers(&src, &mut wrong);
    }
    assert!(
        wrong.is_empty(),
        "imports that point up the layers:\n{}",
        wrong.join("\n")
    );
}

/// The crate boundary is a layer boundary: nothing above the edge lives in `hub-core`, so a
/// change to a surface never recompiles the domain.
#[test]
fn the_core_crate_holds_only_the_layers_below_the_surfaces() {
    let [core, _] = crate_dirs();
    let mut files = Vec::new();
    sources(&core, &mut files);
    let above: Vec<String> = files
        .iter()
        .filter(|f| !only_declares_modules(f))
        .map(|f| module_of(&core, f))
        .filter(|m| layer(&m.iter().map(String::as_str).collect::<Vec<_>>()) > Layer::Edge)
        .map(|m| m.join("::"))
        .collect();
    assert!(
        above.is_empty(),
        "surface or app modules in hub-core: {above:?}"
    );
}

/// A file whose code is only `pub mod` lines (the crate root, or a shell such as `core`'s
/// `http/mod.rs` holding only the extractors) is no module of its own layer.
fn only_declares_modules(file: &Path) -> bool {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default().trim())
        .all(|l| l.is_empty() || (l.starts_with("pub mod ") && l.ends_with(';')))
}

fn check_layers(src: &Path, wrong: &mut Vec<String>) {
    let mut files = Vec::new();
    sources(src, &mut files);
    files.sort();
    for file in &files {
        let module = module_of(src, file);
        let from: Vec<&str> = module.iter().map(String::as_str).collect();
        let from_layer = layer(&from);
        let text = std::fs::read_to_string(file).unwrap();
        let mut in_tests = false;
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            in_tests |= code.contains("#[cfg(test)]");
            let mut paths = crate_paths(code);
            if !in_tests {
                // `super::x` from a file is `x` beside the file's module.
                paths.extend(super_paths(code).into_iter().map(|rel| {
                    let mut p: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
                    p.extend(rel);
                    p
                }));
            }
            for segs in paths {
                let to = target_module(&segs);
                if to.is_empty() {
                    continue; // crate-root items: re-exports of the app
                }
                // Try the longest known module first (so `audit::model` beats `audit`).
                let to_layer = layer(&to);
                if to_layer > from_layer {
                    wrong.push(format!(
                        "{}:{}: crate::{} ({:?}) imports crate::{} ({:?})",
                        file.strip_prefix(src.parent().unwrap().parent().unwrap())
                            .unwrap()
                            .display(),
                        n + 1,
                        from.join("::"),
                        from_layer,
                        segs.join("::"),
                        to_layer
                    ));
                }
            }
        }
    }
}

#[test]
fn the_connectors_crate_knows_nothing_of_the_hub() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for banned in ["hub::", "hub_core::", "axum", "sea_orm"] {
                if code.contains(&format!("use {banned}")) || code.contains(&format!(" {banned}::"))
                {
                    wrong.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_what_it_should() {
    assert_eq!(
        crate_paths("use crate::http::extract::OrgCtx;"),
        vec![vec!["http".to_string(), "extract".into(), "OrgCtx".into()]]
    );
    assert_eq!(crate_paths("x::crate::y"), Vec::<Vec<String>>::new());
    assert_eq!(layer(&["users", "model"]), Layer::Leaf);
    assert_eq!(layer(&["users"]), Layer::Domain);
    assert_eq!(layer(&["http", "extract"]), Layer::Edge);
    assert!(layer(&["oidc", "login"]) > layer(&["deprovision"]));
}
