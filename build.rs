//! Records the git commit ragperf is built from (`RAGPERF_GIT_COMMIT`), so every result names
//! its build and `ragperf merge` can refuse shards of different builds. A `RAGPERF_GIT_COMMIT`
//! in the build's environment wins (a container build without `.git` can pass it); outside a
//! git checkout and without it, the variable is empty and the build id is the version alone.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=RAGPERF_GIT_COMMIT");
    let commit = std::env::var("RAGPERF_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_default();
    println!("cargo:rustc-env=RAGPERF_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves (a commit, a checkout), not on every source change.
    // (A path that does not exist would rerun this script on every build: only existing ones.)
    let watch = |path: String| {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    };
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        watch(format!("{dir}/HEAD"));
    }
    if let Some(reference) = git(&["rev-parse", "--symbolic-full-name", "HEAD"])
        .filter(|r| r.starts_with("refs/"))
        .and_then(|r| git(&["rev-parse", "--git-path", &r]))
    {
        watch(reference);
    }
    println!("cargo:rerun-if-changed=build.rs");
}
