//! Which files `merge` reads: each PATH is a result.json, a folder holding one, or a parent
//! folder whose child folders each hold one (a shared volume with one folder per shard).

use std::path::{Path, PathBuf};

use super::MergeError;

/// The result files found, and the shard folders that hold none.
#[derive(Debug, Default)]
pub struct Found {
    /// Result files, in the order given (a parent's children sorted by name).
    pub files: Vec<PathBuf>,
    /// Child folders of a parent PATH without a result.json.
    pub skipped: Vec<PathBuf>,
}

fn refuse(path: &Path, message: impl Into<String>) -> anyhow::Error {
    MergeError::new(path, "PATH", message).into()
}

/// Finds the result files of `paths`.
pub fn find(paths: &[PathBuf]) -> anyhow::Result<Found> {
    let mut found = Found::default();
    for path in paths {
        if path.is_file() {
            found.files.push(path.clone());
            continue;
        }
        if !path.is_dir() {
            return Err(refuse(
                path,
                "does not exist: pass a shard's result.json, its folder, or the folder of the \
                 shard folders",
            ));
        }
        let own = path.join("result.json");
        if own.is_file() {
            found.files.push(own);
            continue;
        }
        let mut children: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| refuse(path, format!("cannot be listed: {e}")))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        children.sort();
        let before = found.files.len();
        for child in children {
            let file = child.join("result.json");
            if file.is_file() {
                found.files.push(file);
            } else {
                found.skipped.push(child);
            }
        }
        if found.files.len() == before {
            return Err(refuse(
                path,
                "holds no result.json, nor do its child folders: pass the folder `ragperf run \
                 --shard` wrote (its --out), or the folder holding one such folder per shard",
            ));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_folder_gives_its_childrens_results() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["shard-1", "shard-0", "shard-2"] {
            std::fs::create_dir(dir.path().join(name)).expect("mkdir");
        }
        for name in ["shard-0", "shard-1"] {
            std::fs::write(dir.path().join(name).join("result.json"), "{}").expect("write");
        }
        let found = find(&[dir.path().to_path_buf()]).expect("found");
        let names: Vec<String> = found
            .files
            .iter()
            .map(|f| {
                f.parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            })
            .collect();
        assert!(
            names[0].ends_with("shard-0") && names[1].ends_with("shard-1"),
            "{names:?}"
        );
        assert_eq!(found.skipped, vec![dir.path().join("shard-2")]);
        // A folder with a result.json of its own is that one result.
        let own = find(&[dir.path().join("shard-0")]).expect("found");
        assert_eq!(
            own.files,
            vec![dir.path().join("shard-0").join("result.json")]
        );
    }

    #[test]
    fn nothing_to_read_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = format!(
            "{:#}",
            find(&[dir.path().to_path_buf()]).expect_err("empty")
        );
        assert!(
            e.contains("PATH") && e.contains("holds no result.json"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            find(&[dir.path().join("nope")]).expect_err("absent")
        );
        assert!(e.contains("does not exist"), "{e}");
    }
}
