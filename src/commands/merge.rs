//! `ragperf merge`: the results of `run --shard I/N` (files or folders) into one result and its
//! report; exit 2 when the shards do not belong together.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::merge::MergeError;

/// `ragperf merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard results: a result.json, a folder holding one, or a parent folder whose child
    /// folders each hold one shard's result.json (children without one are named and skipped;
    /// their shard then counts as missing).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output directory: the merged result.json and its report.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Merge even when shards are missing; the result and the summary name them, and the
    /// figures cover only the shards present.
    #[arg(long)]
    pub allow_missing: bool,
}

/// `ragperf merge`.
pub fn merge(args: &MergeArgs) -> Result<ExitCode> {
    let found = crate::merge::inputs::find(&args.paths)?;
    for skipped in &found.skipped {
        eprintln!(
            "skipping {}: no result.json (a shard that never wrote one counts as missing)",
            skipped.display()
        );
    }
    let mut shards = Vec::new();
    for file in &found.files {
        shards.push((file.clone(), crate::result::RunResult::read(file)?));
    }
    let missing = crate::merge::rules::check(&shards, args.allow_missing)?;
    let merged = crate::merge::combine::merge(&shards, &missing)?;
    std::fs::create_dir_all(&args.out).map_err(|e| {
        MergeError::new(
            &args.out,
            "--out",
            format!("cannot be created ({e}): choose a directory you can write to"),
        )
    })?;
    let mut writer = crate::export::RunWriter::new(&args.out);
    writer
        .write(&merged)
        .with_context(|| format!("writing the merged result to {}", args.out.display()))?;
    print!("{}", crate::export::table::render(&merged));
    let info = merged.merged.clone().unwrap_or_default();
    eprintln!(
        "merged {} of {} shard(s) from {} host(s){}",
        info.shards.len(),
        info.count,
        info.shards
            .iter()
            .map(|s| s.host.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        if info.missing.is_empty() {
            String::new()
        } else {
            format!(
                "; MISSING shard(s) {}",
                crate::merge::rules::list(&info.missing)
            )
        }
    );
    eprintln!("wrote {}", args.out.join("result.json").display());
    Ok(ExitCode::SUCCESS)
}
