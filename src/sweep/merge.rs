//! Merging the directories of sweep shards (or of sweeps split by hand) into one results set.

use std::path::{Path, PathBuf};

use super::experiment::Experiment;
use super::results::ResultsTable;
use super::runner::{
    claim_dir, lock_dir, option_columns, read_results, run_dir, EXPERIMENT_FILE, RESULTS_FILE,
    RUNS_DIR,
};
use crate::error::{Error, Result};
use crate::outdir;

/// Merges `dirs` (each a sweep directory of the same experiment) into `out`: the union of their
/// results (a run present twice is taken once) and copies of their run directories.
pub fn merge_sweeps(out: &Path, dirs: &[PathBuf]) -> Result<ResultsTable> {
    let first = dirs
        .first()
        .ok_or_else(|| Error::invalid("merge", "give at least one sweep directory"))?;
    let mut exp = Experiment::load(&first.join(EXPERIMENT_FILE))?;
    for d in &dirs[1..] {
        let other = Experiment::load(&d.join(EXPERIMENT_FILE))?;
        // shards of one experiment, or of grids of it that differ only in their values (an
        // extended sweep): the merge holds the union
        exp = match exp.union(&other) {
            Some(u) => u,
            None => {
                return Err(Error::invalid(
                    "merge",
                    format!(
                        "{} holds experiment '{}' with other options than {} ('{}'); only shards of one experiment (or of grids of it that differ in their values) merge",
                        d.display(),
                        other.name,
                        first.display(),
                        exp.name
                    ),
                ))
            }
        };
    }
    let _lock = lock_dir(out)?;
    claim_dir(&exp, out)?;
    let runs = exp.runs()?;
    let mut merged = read_results(&exp, out)?;
    merged.option_columns = option_columns(&exp);
    for d in dirs {
        let table = read_results(&exp, d)?;
        for (id, (index, row)) in table.rows {
            if merged.rows.contains_key(&id) {
                continue;
            }
            let run = &runs[index];
            let (from, to) = (run_dir(d, run), run_dir(out, run));
            if is_real_dir(&d.join(RUNS_DIR)) && is_real_dir(&from) && from != to {
                copy_dir(&from, &to)?;
            }
            merged.rows.insert(id, (index, row));
        }
    }
    merged.write(&out.join(RESULTS_FILE))?;
    Ok(merged)
}

/// A directory that is not a symbolic link.
fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Copies the regular files of the run directory `from` (and of its `plots/`) into `to`; links
/// and anything else are not followed or copied.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let io = |path: &Path, source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    outdir::remove_stale_run(to)?;
    std::fs::create_dir_all(to).map_err(|e| io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        let entry = entry.map_err(|e| io(from, e))?;
        let target = to.join(entry.file_name());
        let file_type = entry.file_type().map_err(|e| io(&entry.path(), e))?;
        if file_type.is_dir() && entry.file_name() == "plots" {
            copy_dir_files(&entry.path(), &target)?;
        } else if file_type.is_file() {
            std::fs::copy(entry.path(), &target).map_err(|e| io(&target, e))?;
        }
    }
    Ok(())
}

fn copy_dir_files(from: &Path, to: &Path) -> Result<()> {
    let io = |path: &Path, source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(to).map_err(|e| io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        let entry = entry.map_err(|e| io(from, e))?;
        if entry
            .file_type()
            .map_err(|e| io(&entry.path(), e))?
            .is_file()
        {
            let target = to.join(entry.file_name());
            std::fs::copy(entry.path(), &target).map_err(|e| io(&target, e))?;
        }
    }
    Ok(())
}
