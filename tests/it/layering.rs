//! The rule of direction (docs/design.md §2), checked on the sources: nothing below
//! `src/commands/` imports it (the engines take plain values and plans), and the layers that
//! must not reach back up or sideways do not name the module they must not use.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `(file, line number, line)` of the crate's sources under `src/` that is not under one
/// of `allowed` (paths relative to the crate root) and contains one of `needles`.
fn offenders(allowed: &[&str], needles: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(
        files.len() > 50,
        "found the sources ({} files)",
        files.len()
    );
    let mut found = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        if allowed.iter().any(|a| rel.starts_with(a)) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read a source file");
        for (i, line) in text.lines().enumerate() {
            if needles.iter().any(|n| line.contains(n)) {
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn nothing_below_the_commands_imports_them() {
    let found = offenders(
        &["src/commands/", "src/main.rs"],
        &["crate::commands", "ragperf::commands", "super::commands"],
    );
    assert!(
        found.is_empty(),
        "only src/main.rs and src/commands/ may name the commands:\n{}",
        found.join("\n")
    );
}

/// `(layer, what it must not name)`: each pair is a back-edge or a circle the restructure
/// removed (docs/design.md §2).
const FORBIDDEN: &[(&str, &[&str])] = &[
    // plot reads the result, never the exporters (which draw through plot).
    ("src/plot/", &["crate::export"]),
    // the one HTML page builder is a leaf: the report and the tour both build on it.
    (
        "src/html.rs",
        &[
            "crate::export",
            "crate::tour",
            "crate::result",
            "crate::plot",
        ],
    ),
    // result is below everything that renders, compares or runs.
    (
        "src/result/",
        &[
            "crate::export",
            "crate::plot",
            "crate::compare",
            "crate::tour",
            "crate::run",
        ],
    ),
    // the stream decoder and the Bedrock client share GenerateOutcome through a leaf.
    (
        "src/client/eventstream.rs",
        &["super::bedrock", "crate::client::bedrock"],
    ),
    // the request layers never import an engine.
    (
        "src/pipeline/",
        &[
            "crate::run",
            "crate::tour",
            "crate::compare",
            "crate::streams",
        ],
    ),
    (
        "src/client/",
        &[
            "crate::run",
            "crate::tour",
            "crate::compare",
            "crate::pipeline",
        ],
    ),
];

#[test]
fn no_back_edges() {
    let mut found = Vec::new();
    for (layer, needles) in FORBIDDEN {
        for hit in offenders(&[], needles) {
            if hit.starts_with(layer) {
                found.push(hit);
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn mock_handlers_share_the_state_not_the_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mock_services/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let found: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .expect("read a mock source")
                .contains("server::MockState")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_old_cli_module_is_gone() {
    let found = offenders(&[], &["crate::cli::", "ragperf::cli::"]);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_finds_what_it_looks_for() {
    // The commands themselves name their siblings: the scan sees them when they are not allowed.
    assert!(!offenders(&[], &["crate::commands", "super::flags"]).is_empty());
}
