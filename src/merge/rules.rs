//! What `merge` refuses, before it adds anything up: results that are not shards, shards of
//! different scenarios, variants, plans or builds, two results for one shard index, windows
//! that do not overlap, and (unless `--allow-missing`) a missing shard. Every refusal names the
//! file and the field, and says what to do; the process exits 2.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::result::RunResult;
use crate::shard::ShardInfo;

/// Why shard results cannot be merged.
#[derive(Debug, thiserror::Error)]
#[error("{file}: field `{field}`: {message}")]
pub struct MergeError {
    /// The file at fault (or the PATH given).
    pub file: String,
    /// The field at fault, e.g. `shard.index` or `scenario.bedrock.ttft_ms`.
    pub field: String,
    /// What is wrong and the fix.
    pub message: String,
}

impl MergeError {
    /// An error about `field` of `file`.
    pub fn new(file: &Path, field: impl Into<String>, message: impl Into<String>) -> MergeError {
        MergeError {
            file: file.display().to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `0, 2, 5`.
pub fn list(indices: &[u32]) -> String {
    indices
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The load fields a shard splits: they differ between shards by design.
const SPLIT_FIELDS: [&str; 4] = ["concurrency", "rate", "requests", "max_in_flight"];

/// The scenario as JSON, without the fields the split changes.
fn comparable_scenario(r: &RunResult) -> Value {
    let mut v = serde_json::to_value(&r.scenario).unwrap_or(Value::Null);
    if let Some(load) = v.get_mut("load").and_then(Value::as_object_mut) {
        for f in SPLIT_FIELDS {
            load.remove(f);
        }
    }
    v
}

/// The first path (`a.b[2].c`) at which two JSON values differ.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &format!("{path}.{k}")),
                _ => Some(format!("{path}.{k}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]"))),
        _ => (a != b).then(|| path.to_string()),
    }
}

fn differs(field: &str, file: &Path, first: &Path, what: &str, fix: &str) -> anyhow::Error {
    MergeError::new(
        file,
        field,
        format!(
            "differs from {} ({what}): shards of one load share it; {fix}",
            first.display()
        ),
    )
    .into()
}

/// The result's shard section, or why a result without one cannot be merged.
fn shard_of<'a>(file: &Path, r: &'a RunResult) -> anyhow::Result<&'a ShardInfo> {
    let Some(shard) = &r.shard else {
        if r.merged.is_some() {
            return Err(MergeError::new(
                file,
                "shard",
                "is absent: this is the output of an earlier `ragperf merge`, not a shard; \
                 write --out outside the folder of the shard folders",
            )
            .into());
        }
        return Err(MergeError::new(
            file,
            "shard",
            "is absent: this is not a shard's result; merge the results of `ragperf run \
             --shard I/N` (or --shards N)",
        )
        .into());
    };
    Ok(shard)
}

/// Checks that shard `r` ran the same build, scenario, plan and runs as the first shard.
fn check_same_run(
    file: &Path,
    r: &RunResult,
    shard: &ShardInfo,
    first_file: &Path,
    first: &RunResult,
) -> anyhow::Result<()> {
    let (Some(build), Some(first_build)) = (&r.origin, &first.origin) else {
        return Err(MergeError::new(
            file,
            "origin.build",
            "is absent: re-run the shard with this version of ragperf",
        )
        .into());
    };
    if build.build != first_build.build {
        return Err(differs(
            "origin.build",
            file,
            first_file,
            &format!("`{}` vs `{}`", build.build, first_build.build),
            "run every shard with the same ragperf build (one image)",
        ));
    }
    if let Some(path) = first_difference(
        &comparable_scenario(first),
        &comparable_scenario(r),
        "scenario",
    ) {
        return Err(differs(
            &path,
            file,
            first_file,
            "another scenario",
            "run every shard with the same --scenario and flags",
        ));
    }
    let same = [
        ("plan.command", r.plan.command == first.plan.command),
        ("plan.variants", r.plan.variants == first.plan.variants),
        ("plan.repeat", r.plan.repeat == first.plan.repeat),
        ("plan.slo", r.plan.slo == first.plan.slo),
        (
            "shard.whole",
            first.shard.as_ref().map(|s| &s.whole) == Some(&shard.whole),
        ),
    ];
    if let Some((field, _)) = same.iter().find(|(_, same)| !same) {
        return Err(differs(
            field,
            file,
            first_file,
            "another plan",
            "run every shard with the same variants, load and flags",
        ));
    }
    let keys = |r: &RunResult| -> Vec<(String, u32, String)> {
        r.runs
            .iter()
            .map(|v| (v.variant.clone(), v.repetition, v.point.mode.clone()))
            .collect()
    };
    if keys(r) != keys(first) {
        return Err(differs(
            "runs",
            file,
            first_file,
            &format!("{} runs here, {} there", r.runs.len(), first.runs.len()),
            "an interrupted shard measured fewer: re-run it",
        ));
    }
    Ok(())
}

/// The shard indices below `n` not in `seen`; an error unless `allow_missing`.
fn missing_shards(
    first_file: &Path,
    n: u32,
    seen: &std::collections::BTreeMap<u32, &Path>,
    allow_missing: bool,
) -> anyhow::Result<Vec<u32>> {
    let missing: Vec<u32> = (0..n).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() && !allow_missing {
        let have: Vec<u32> = seen.keys().copied().collect();
        return Err(MergeError::new(
            first_file,
            "shard.index",
            format!(
                "shard(s) {} of {n} missing (have {}): pass every shard's result, or \
                 --allow-missing to merge the others (the result then names the missing ones)",
                list(&missing),
                list(&have)
            ),
        )
        .into());
    }
    Ok(missing)
}

/// Checks that the results are shards of one load; returns the missing shard indices (an
/// error unless `allow_missing`).
pub fn check(shards: &[(PathBuf, RunResult)], allow_missing: bool) -> anyhow::Result<Vec<u32>> {
    let Some((first_file, first)) = shards.first() else {
        return Err(MergeError::new(Path::new("PATH"), "PATH", "no shard results given").into());
    };
    let mut seen: std::collections::BTreeMap<u32, &Path> = Default::default();
    let mut count = None;
    for (file, r) in shards {
        let shard = shard_of(file, r)?;
        let n = *count.get_or_insert(shard.count);
        if shard.count != n {
            return Err(differs(
                "shard.count",
                file,
                first_file,
                &format!("{} shards here, {n} there", shard.count),
                "merge the shards of one run",
            ));
        }
        if shard.index >= shard.count {
            return Err(MergeError::new(
                file,
                "shard.index",
                format!("{} is not below shard.count {}", shard.index, shard.count),
            )
            .into());
        }
        if let Some(other) = seen.insert(shard.index, file) {
            return Err(MergeError::new(
                file,
                "shard.index",
                format!(
                    "shard {} of {n} is also in {}: each shard is merged once; pass one result \
                     per shard index",
                    shard.index,
                    other.display()
                ),
            )
            .into());
        }
        check_same_run(file, r, shard, first_file, first)?;
    }
    check_windows(shards)?;
    let n = count.unwrap_or(0);
    missing_shards(first_file, n, &seen, allow_missing)
}

/// Every run's window must overlap the same run's window on every other shard.
fn check_windows(shards: &[(PathBuf, RunResult)]) -> anyhow::Result<()> {
    let Some((_, first)) = shards.first() else {
        return Ok(());
    };
    for k in 0..first.runs.len() {
        let mut latest_start: Option<(u64, &Path)> = None;
        let mut earliest_end: Option<(u64, &Path)> = None;
        for (file, r) in shards {
            let Some(clock) = &r.runs[k].clock else {
                return Err(MergeError::new(
                    file,
                    format!("runs[{k}].clock"),
                    "is absent: the window's wall-clock position is unknown; re-run the shard \
                     with this version of ragperf",
                )
                .into());
            };
            if latest_start.is_none_or(|(s, _)| clock.window_start_unix_us > s) {
                latest_start = Some((clock.window_start_unix_us, file));
            }
            if earliest_end.is_none_or(|(e, _)| clock.window_end_unix_us < e) {
                earliest_end = Some((clock.window_end_unix_us, file));
            }
        }
        if let (Some((start, late)), Some((end, early))) = (latest_start, earliest_end)
            && start >= end
        {
            return Err(MergeError::new(
                late,
                format!("runs[{k}].clock"),
                format!(
                    "its window opens {:.3} s after the window of {} closed: the shards did \
                     not measure at the same time; start them with one --start-at",
                    (start - end) as f64 / 1e6,
                    early.display()
                ),
            )
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let a = json!({"bedrock": {"ttft_ms": 1, "x": [1, 2]}, "seed": 1});
        let b = json!({"bedrock": {"ttft_ms": 2, "x": [1, 2]}, "seed": 1});
        assert_eq!(
            first_difference(&a, &b, "scenario").as_deref(),
            Some("scenario.bedrock.ttft_ms")
        );
        let c = json!({"bedrock": {"ttft_ms": 1, "x": [1, 3]}, "seed": 1});
        assert_eq!(
            first_difference(&a, &c, "scenario").as_deref(),
            Some("scenario.bedrock.x[1]")
        );
        assert_eq!(first_difference(&a, &a, "scenario"), None);
    }
}
