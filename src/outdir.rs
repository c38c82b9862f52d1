//! Output directories rnnlab owns: how they are claimed, replaced and locked, so that no command
//! deletes or overwrites a file rnnlab did not write.
//!
//! Every directory rnnlab writes a result into (a training run, a gradient report, a sweep) holds
//! [`MARKER_FILE`], whose content names rnnlab and the directory's kind. The rules:
//!
//! - A command writes only into a directory that does not exist, is empty, or carries its kind's
//!   marker (a sweep resumes in its own directory; a run or gradient report needs `--force`).
//! - `--force` ([`prepare_fresh`] with `force`) replaces a directory only when it carries the
//!   marker of the same kind (so `gradients --force` never deletes a training run), every entry
//!   in it is a file name rnnlab writes there ([`DirKind::owns`]), and the path is not `/`, the
//!   home directory, the working directory or one of its ancestors, and passes through no
//!   symbolic link. It removes those entries one by one; nothing else is ever deleted.
//! - A sweep directory is locked ([`DirLock`]) while a sweep, merge or compare writes it: an OS
//!   advisory lock on [`LOCK_FILE`], released by the kernel when the process ends, however it
//!   ends. A second writer fails at once (exit 2) naming the directory and the holder's pid.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The ownership marker's file name.
pub const MARKER_FILE: &str = ".rnnlab-output";
/// The lock file of a sweep directory.
pub const LOCK_FILE: &str = ".rnnlab-lock";
/// Where output directories go when no `--out` is given: `runs/<name>`.
pub const DEFAULT_ROOT: &str = "runs";

/// What an owned directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirKind {
    /// A training run (`rnnlab train`, or one run of a sweep).
    Run,
    /// A gradient report (`rnnlab gradients`).
    Gradients,
    /// A sweep (`rnnlab sweep`, `merge`).
    Sweep,
    /// An evaluation of a saved model (`rnnlab eval`).
    Eval,
}

/// Files every kind may hold besides its own.
const COMMON_FILES: &[&str] = &[MARKER_FILE, LOCK_FILE, "report.html", "report.md"];

impl DirKind {
    pub fn name(self) -> &'static str {
        match self {
            DirKind::Run => "run",
            DirKind::Gradients => "gradients",
            DirKind::Sweep => "sweep",
            DirKind::Eval => "eval",
        }
    }

    /// The marker's exact content.
    fn marker_text(self) -> String {
        format!(
            "This directory was written by rnnlab (a {} directory). rnnlab --force may replace it.\n",
            self.name()
        )
    }

    /// The top-level file names rnnlab writes in a directory of this kind (besides `plots/`,
    /// whose entries are checked by [`plot_file`], and temporary `*.tmp` files of these names).
    fn files(self) -> &'static [&'static str] {
        match self {
            DirKind::Run => &[
                "config.ron",
                "config.json",
                "metrics.csv",
                "gradients.csv",
                "diagnostics.csv",
                "update_share.csv",
                "theory.csv",
                "source_signal.csv",
                "gradient_history.csv",
                "signal_history.csv",
                "summary.ron",
                "summary.json",
                "model.safetensors",
                "model.ron",
                "eval.csv",
                "predictions.csv",
                "lit_sentence.csv",
            ],
            DirKind::Gradients => &[
                "config.ron",
                "gradients.csv",
                "diagnostics.csv",
                "theory.csv",
                "source_signal.csv",
                "summary.ron",
                "summary.json",
                "model.safetensors",
                "model.ron",
                "probe.ron",
                "lit_sentence.csv",
            ],
            DirKind::Sweep => &["experiment.ron", "results.csv", "results.json"],
            DirKind::Eval => &["eval.csv", "eval.json", "predictions.csv"],
        }
    }

    /// Whether `name`, an entry of a directory of this kind, is one rnnlab writes there.
    fn owns(self, name: &str) -> bool {
        let owned = || self.files().iter().chain(COMMON_FILES);
        owned().any(|f| *f == name)
            || (name.ends_with(".tmp")
                && owned().any(|f| Path::new(f).with_extension("tmp") == Path::new(name)))
    }
}

/// Whether `name` is a file rnnlab writes under `plots/`.
fn plot_file(name: &str) -> bool {
    let ext = Path::new(name).extension().and_then(|e| e.to_str());
    matches!(ext, Some("svg" | "png" | "html" | "tmp" | "csv"))
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn out_error(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::invalid("out", format!("{}: {message}", path.display()))
}

/// The kind whose marker `dir` carries, if any.
pub fn marker_kind(dir: &Path) -> Option<DirKind> {
    let marker = dir.join(MARKER_FILE);
    let meta = std::fs::symlink_metadata(&marker).ok()?;
    if !meta.is_file() || meta.len() > 4096 {
        return None;
    }
    let text = std::fs::read_to_string(&marker).ok()?;
    [
        DirKind::Run,
        DirKind::Gradients,
        DirKind::Sweep,
        DirKind::Eval,
    ]
    .into_iter()
    .find(|k| text == k.marker_text())
}

/// Writes the marker of `kind` into the existing directory `dir`.
pub fn write_marker(dir: &Path, kind: DirKind) -> Result<()> {
    let path = dir.join(MARKER_FILE);
    std::fs::write(&path, kind.marker_text()).map_err(|e| io(&path, e))
}

/// Whether `dir` exists and has no entries.
fn is_empty_dir(dir: &Path) -> Result<bool> {
    let mut entries = std::fs::read_dir(dir).map_err(|e| io(dir, e))?;
    Ok(entries.next().is_none())
}

/// Refuses paths that `--force` must never replace: `/`, the home directory, the working
/// directory or an ancestor of it, and any path that passes through a symbolic link.
fn check_replaceable(path: &Path) -> Result<()> {
    let mut prefix = PathBuf::new();
    for component in path.components() {
        prefix.push(component);
        if matches!(component, Component::Normal(_)) {
            let meta = std::fs::symlink_metadata(&prefix).map_err(|e| io(&prefix, e))?;
            if meta.file_type().is_symlink() {
                return Err(out_error(
                    path,
                    format!(
                        "passes through the symbolic link {}; --force never replaces a directory reached through a link",
                        prefix.display()
                    ),
                ));
            }
        }
    }
    let canonical = path.canonicalize().map_err(|e| io(path, e))?;
    if canonical.parent().is_none() {
        return Err(out_error(
            path,
            "is the root directory; refusing to replace it",
        ));
    }
    if let Some(home) = std::env::var_os("HOME").and_then(|h| PathBuf::from(h).canonicalize().ok())
    {
        if canonical == home {
            return Err(out_error(
                path,
                "is the home directory; refusing to replace it",
            ));
        }
    }
    if let Ok(cwd) = std::env::current_dir().and_then(|d| d.canonicalize()) {
        if cwd.starts_with(&canonical) {
            return Err(out_error(
                path,
                "is the working directory or one of its parents; refusing to replace it",
            ));
        }
    }
    Ok(())
}

/// The first entry of `dir` (recursing into `plots/`) that rnnlab does not write in a directory
/// of `kind`, if any.
fn foreign_entry(dir: &Path, kind: DirKind) -> Result<Option<PathBuf>> {
    let mut names: Vec<(String, std::fs::FileType)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let file_type = entry.file_type().map_err(|e| io(&entry.path(), e))?;
        names.push((entry.file_name().to_string_lossy().into_owned(), file_type));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, file_type) in names {
        let path = dir.join(&name);
        if name == "plots" && file_type.is_dir() {
            let mut plots: Vec<(String, std::fs::FileType)> = Vec::new();
            for entry in std::fs::read_dir(&path).map_err(|e| io(&path, e))? {
                let entry = entry.map_err(|e| io(&path, e))?;
                let t = entry.file_type().map_err(|e| io(&entry.path(), e))?;
                plots.push((entry.file_name().to_string_lossy().into_owned(), t));
            }
            plots.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some((p, _)) = plots.iter().find(|(p, t)| !t.is_file() || !plot_file(p)) {
                return Ok(Some(path.join(p)));
            }
        } else if !file_type.is_file() || !kind.owns(&name) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Removes the entries of `dir` that [`foreign_entry`] accepted, one by one; `dir` stays.
fn remove_owned_entries(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| io(&path, e))?;
        if file_type.is_dir() {
            for plot in std::fs::read_dir(&path).map_err(|e| io(&path, e))? {
                let plot = plot.map_err(|e| io(&path, e))?.path();
                std::fs::remove_file(&plot).map_err(|e| io(&plot, e))?;
            }
            std::fs::remove_dir(&path).map_err(|e| io(&path, e))?;
        } else if entry.file_name() != LOCK_FILE {
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
        }
    }
    Ok(())
}

/// Makes `path` an empty directory of `kind`, carrying its marker, for a fresh result.
///
/// An absent or empty directory is created or taken. A non-empty one is an error unless `force`
/// is given and the directory is rnnlab's output of the same kind with nothing else in it (see
/// the module's rules); then its files are removed.
pub fn prepare_fresh(path: &Path, kind: DirKind, force: bool) -> Result<()> {
    if path.as_os_str().is_empty() {
        return Err(Error::invalid("out", "is empty"));
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path, e)),
        Ok(meta) if !meta.is_dir() && !meta.file_type().is_symlink() => {
            return Err(out_error(path, "exists and is not a directory"));
        }
        Ok(_) if !path.is_dir() => {
            return Err(out_error(path, "exists and is not a directory"));
        }
        Ok(_) => {
            if !is_empty_dir(path)? {
                replace_owned(path, kind, force)?;
            }
        }
    }
    std::fs::create_dir_all(path).map_err(|e| io(path, e))?;
    write_marker(path, kind)
}

/// Empties the non-empty directory `path`, if `force` and every rule allows it.
fn replace_owned(path: &Path, kind: DirKind, force: bool) -> Result<()> {
    if !force {
        return Err(out_error(
            path,
            "already exists and is not empty; give another --out, or --force to replace an rnnlab output directory",
        ));
    }
    match marker_kind(path) {
        Some(k) if k == kind => {}
        Some(k) => {
            return Err(out_error(
                path,
                format!(
                "is an rnnlab {} directory, not a {} directory; --force replaces only its own kind",
                k.name(),
                kind.name()
            ),
            ))
        }
        None => {
            return Err(out_error(
                path,
                format!(
                "has no {MARKER_FILE} marker, so rnnlab did not make it; refusing to replace it"
            ),
            ))
        }
    }
    check_replaceable(path)?;
    if let Some(entry) = foreign_entry(path, kind)? {
        return Err(out_error(
            path,
            format!(
                "holds {}, which rnnlab did not write; move it away first, nothing was deleted",
                entry.display()
            ),
        ));
    }
    remove_owned_entries(path)
}

/// Makes `path` a directory of `kind` to write into without removing anything: creates it, takes
/// an empty one, or accepts one that carries the same kind's marker (a sweep resuming).
pub fn claim(path: &Path, kind: DirKind) -> Result<()> {
    if path.as_os_str().is_empty() {
        return Err(Error::invalid("out", "is empty"));
    }
    if path.exists() {
        if !path.is_dir() {
            return Err(out_error(path, "exists and is not a directory"));
        }
        if !is_empty_dir(path)? {
            return match marker_kind(path) {
                Some(k) if k == kind => Ok(()),
                Some(k) => Err(out_error(
                    path,
                    format!("is an rnnlab {} directory, not a {} directory", k.name(), kind.name()),
                )),
                None => Err(out_error(
                    path,
                    format!(
                        "already exists, is not empty and has no {MARKER_FILE} marker, so rnnlab did not make it; give another --out"
                    ),
                )),
            };
        }
    }
    std::fs::create_dir_all(path).map_err(|e| io(path, e))?;
    write_marker(path, kind)
}

/// Removes a run directory that an interrupted sweep left inside `runs/` of its own sweep
/// directory, when it is empty or holds only a run's files; a symbolic link or foreign file is an
/// error and nothing is removed.
pub fn remove_stale_run(path: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path, e)),
        Ok(meta) => meta,
    };
    if !meta.is_dir() {
        return Err(out_error(
            path,
            "is in the place of a run directory but is not a directory; refusing to remove it",
        ));
    }
    if let Some(entry) = foreign_entry(path, DirKind::Run)? {
        return Err(out_error(
            path,
            format!(
                "holds {}, which rnnlab did not write; nothing was deleted",
                entry.display()
            ),
        ));
    }
    remove_owned_entries(path)?;
    std::fs::remove_dir(path).map_err(|e| io(path, e))
}

/// An exclusive OS lock on a directory, held until dropped or the process ends.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Locks the existing directory `dir` for writing. If another process holds the lock, fails at
/// once (an input error, exit 2) naming the directory and that process's id.
pub fn lock(dir: &Path) -> Result<DirLock> {
    let path = dir.join(LOCK_FILE);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
        return Err(out_error(dir, format!("{LOCK_FILE} is not a regular file")));
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another rnnlab process".to_string()
            } else {
                format!("rnnlab process {holder}")
            };
            return Err(out_error(
                dir,
                format!("is being written by {who}; wait for it to finish or give another --out"),
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(&path, e)),
    }
    file.set_len(0).map_err(|e| io(&path, e))?;
    file.seek(SeekFrom::Start(0)).map_err(|e| io(&path, e))?;
    writeln!(file, "{}", std::process::id()).map_err(|e| io(&path, e))?;
    Ok(DirLock { _file: file })
}

/// Writes `value` as pretty JSON through [`write_atomic`].
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Error::bad_file(path, e.to_string()))?;
    write_atomic(path, format!("{text}\n").as_bytes())
}

/// Writes through a temporary file, flushed to disk (fsync), and a rename, so a reader (or a
/// machine that lost power) never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| io(&tmp, e))?;
    file.sync_all().map_err(|e| io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_rnnlab_writes_are_owned() {
        assert!(DirKind::Run.owns("metrics.csv"));
        assert!(DirKind::Run.owns("config.tmp"));
        assert!(DirKind::Run.owns(MARKER_FILE));
        assert!(!DirKind::Run.owns("notes.txt"));
        assert!(!DirKind::Gradients.owns("metrics.csv"));
        assert!(DirKind::Sweep.owns("results.tmp"));
        assert!(!DirKind::Sweep.owns("config.ron"));
    }

    #[test]
    fn force_replaces_only_marked_directories_of_its_kind() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        prepare_fresh(&run, DirKind::Run, false).unwrap();
        std::fs::write(run.join("metrics.csv"), "x").unwrap();
        assert!(prepare_fresh(&run, DirKind::Run, false).is_err());
        assert!(prepare_fresh(&run, DirKind::Gradients, true).is_err());
        assert!(run.join("metrics.csv").exists());
        prepare_fresh(&run, DirKind::Run, true).unwrap();
        assert!(!run.join("metrics.csv").exists());
        assert_eq!(marker_kind(&run), Some(DirKind::Run));

        std::fs::write(run.join("notes.txt"), "mine").unwrap();
        let err = prepare_fresh(&run, DirKind::Run, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("notes.txt"), "{err}");
        assert!(run.join("notes.txt").exists());

        let plain = tmp.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        std::fs::write(plain.join("config.ron"), "()").unwrap();
        let err = prepare_fresh(&plain, DirKind::Run, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("marker"), "{err}");
        assert!(plain.join("config.ron").exists());
    }

    #[test]
    fn a_second_lock_fails_naming_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let first = lock(tmp.path()).unwrap();
        let err = lock(tmp.path()).unwrap_err().to_string();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        lock(tmp.path()).unwrap();
    }
}
