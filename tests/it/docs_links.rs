//! The docs stand alone: no reference to a file a clone does not have.
//!
//! Scans the sources, tests, benches, scripts, examples and every Markdown file of the repository
//! for references to the project's old, out-of-repository notes (the `shared` folder beside the
//! checkout, its design file by section, the wire-protocol notes by bare section) and checks that
//! every relative Markdown link `](path)` or `](path#anchor)` points at a file that exists and, for
//! a Markdown target, at a heading it has. Each failure names file:line.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Folders scanned, relative to the workspace root.
const ROOTS: [&str; 9] = [
    "src",
    "mock_services",
    "tests",
    "benches",
    "scripts",
    "examples",
    "docs",
    "scenarios",
    "reports",
];
/// Files scanned at the root.
const ROOT_FILES: [&str; 1] = ["README.md"];
/// Folders never scanned: build output, and the report folders `.gitignore` keeps out of a clone
/// (a local run's output is not documentation).
const SKIPPED_DIRS: [&str; 8] = [
    "target",
    ".git",
    "node_modules",
    ".venv",
    "__pycache__",
    "latest",
    "tour-latest",
    "tmp",
];
/// Extensions whose text is scanned.
const EXTENSIONS: [&str; 6] = ["rs", "md", "sh", "py", "toml", "txt"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !SKIPPED_DIRS.iter().any(|d| name == *d) {
                collect(&path, out);
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
}

fn files() -> Vec<PathBuf> {
    let root = root();
    let mut out = Vec::new();
    for dir in ROOTS {
        collect(&root.join(dir), &mut out);
    }
    for file in ROOT_FILES {
        out.push(root.join(file));
    }
    out.sort();
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The forbidden references, built from pieces so this file does not match itself.
fn forbidden() -> Vec<(String, &'static str)> {
    vec![
        (
            ["..", "/shared"].concat(),
            "a folder a clone does not have: link a file under docs/ instead",
        ),
        (
            ["DESIGN", ".md §"].concat(),
            "write docs/design.md §N (the same section numbers)",
        ),
        (
            ["wire-facts", " §"].concat(),
            "write docs/wire-facts.md §X (the same section numbers)",
        ),
    ]
}

/// Problems with out-of-repository references in one file's text.
fn reference_problems(name: &str, text: &str) -> Vec<String> {
    let patterns = forbidden();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for (pattern, fix) in &patterns {
            if line.contains(pattern.as_str()) {
                out.push(format!("{name}:{}: `{pattern}`: {fix}", i + 1));
            }
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_lowercase().collect::<String>())
            } else if c == ' ' {
                Some("-".into())
            } else {
                None
            }
        })
        .collect()
}

/// Every anchor a Markdown text has: its headings' (repeats get `-1`, `-2`, … as on GitHub) and
/// explicit `id="…"` ones.
fn anchors(text: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Explicit anchors: `<a id="x"></a>`.
        for part in line.split("id=\"").skip(1) {
            if let Some(end) = part.find('"') {
                out.insert(part[..end].to_string());
            }
        }
        if !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let base = slug(heading);
        let mut anchor = base.clone();
        let mut n = 0;
        while out.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        out.insert(anchor);
    }
    out
}

/// The targets of the inline links `[text](target)` on one line, outside inline code.
fn link_targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'`' => in_code = !in_code,
            b']' if !in_code && bytes.get(i + 1) == Some(&b'(') => {
                let start = i + 2;
                if let Some(len) = line[start..].find(')') {
                    let inner = &line[start..start + len];
                    // `[x](path "title")`: the path is the first word.
                    let target = inner.split_whitespace().next().unwrap_or("");
                    out.push(target.trim_matches(|c| c == '<' || c == '>').to_string());
                    i = start + len;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Problems with one Markdown file's relative links.
fn link_problems(path: &Path, text: &str) -> Vec<String> {
    let name = rel(path);
    let dir = path.parent().unwrap_or(Path::new("."));
    let own = anchors(text);
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for target in link_targets(line) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let at = format!("{name}:{}", i + 1);
            let anchors_there = if file.is_empty() {
                Some(own.clone())
            } else {
                let resolved = dir.join(file);
                if !resolved.exists() {
                    out.push(format!("{at}: link to `{target}`: no such file"));
                    continue;
                }
                if resolved.extension().is_some_and(|e| e == "md") {
                    fs::read_to_string(&resolved).ok().map(|t| anchors(&t))
                } else {
                    None
                }
            };
            if let (Some(anchor), Some(known)) = (anchor, anchors_there)
                && !known.contains(anchor)
            {
                out.push(format!(
                    "{at}: link to `{target}`: no heading with that anchor"
                ));
            }
        }
    }
    out
}

#[test]
fn no_reference_to_files_outside_the_repository() {
    let files = files();
    assert!(
        files.iter().any(|f| f.ends_with("src/lib.rs")) && files.len() > 50,
        "the scan found too few files ({}): wrong root?",
        files.len()
    );
    let mut problems = Vec::new();
    for path in &files {
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        problems.extend(reference_problems(&rel(path), &text));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn relative_markdown_links_resolve() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for path in files() {
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        checked += 1;
        problems.extend(link_problems(&path, &text));
    }
    assert!(checked >= 4, "only {checked} Markdown files found");
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_docs_the_code_cites_exist_with_their_sections() {
    let docs = root().join("docs");
    let design = fs::read_to_string(docs.join("design.md")).expect("docs/design.md");
    for n in 1..=11 {
        assert!(
            design.lines().any(|l| l.starts_with(&format!("## {n}. "))),
            "docs/design.md has no section §{n}"
        );
    }
    let wire = fs::read_to_string(docs.join("wire-facts.md")).expect("docs/wire-facts.md");
    for s in [
        "A1", "A2", "A3", "A4", "A5", "A6", "A7", "B1", "B2", "B3", "B4", "B5",
    ] {
        assert!(
            wire.lines().any(|l| l.starts_with(&format!("### {s}. "))),
            "docs/wire-facts.md has no section §{s}"
        );
    }
    let seed = fs::read_to_string(docs.join("seed-questions.md")).expect("docs/seed-questions.md");
    for q in 1..=30 {
        assert!(
            seed.contains(&format!("**Q{q}: ")),
            "docs/seed-questions.md has no question Q{q}"
        );
    }
}

#[test]
fn the_checks_catch_what_they_look_for() {
    let bad = format!(
        "//! see {} and {}",
        ["DESIGN", ".md §3"].concat(),
        [".", "./shared/x"].concat()
    );
    assert_eq!(reference_problems("f.rs", &bad).len(), 2);
    assert!(reference_problems("f.rs", "//! docs/design.md §3, docs/wire-facts.md §A3").is_empty());
    assert_eq!(
        link_targets("a [x](y.md#z) `[no](code)` [t](p \"title\") [u](https://e.org)"),
        ["y.md#z", "p", "https://e.org"]
    );
    assert_eq!(
        slug(" 8. Mixing sync and async: `to_thread` (Q16)"),
        "8-mixing-sync-and-async-to_thread-q16"
    );
    let dir = root().join("docs");
    let problems = link_problems(
        &dir.join("x.md"),
        "# Top\n<a id=\"here\"></a>\n[a](missing.md) [b](#top) [c](#nope) [d](#here)\n",
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
}
