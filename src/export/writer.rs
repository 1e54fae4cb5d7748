//! [`RunWriter`]: the report (every format of [`super::write_all`]) rewritten after every
//! variant while `run`, `sweep` and `calibrate` progress, so a crash or a Ctrl-C loses nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::result::RunResult;

/// Writes the report after every variant of a `run` or `sweep`. A failure to write
/// `result.json` stops the run (nothing would be saved); any other failure (a chart, a table) is
/// printed once as a warning and the run goes on.
#[derive(Debug)]
pub struct RunWriter {
    out: PathBuf,
    warned: BTreeSet<String>,
    /// Time spent rendering and writing so far.
    pub spent: Duration,
    /// Time the last write took.
    pub last: Duration,
}

impl RunWriter {
    /// A writer into `out`.
    pub fn new(out: &Path) -> Self {
        RunWriter {
            out: out.to_path_buf(),
            warned: BTreeSet::new(),
            spent: Duration::ZERO,
            last: Duration::ZERO,
        }
    }

    /// Writes every format of `result`.
    pub fn write(&mut self, result: &RunResult) -> Result<()> {
        let started = Instant::now();
        let outcome = super::write_all(&self.out, result);
        self.last = started.elapsed();
        self.spent += self.last;
        match outcome {
            Ok(()) => Ok(()),
            Err(e) if e.json_failed => Err(e.into()),
            Err(e) => {
                for f in e.failures {
                    let line = format!("{}: {}", f.what, f.message);
                    if self.warned.insert(line.clone()) {
                        eprintln!("warning: report: {line}");
                    }
                }
                Ok(())
            }
        }
    }
}
