//! Running a grid: one training run per worker thread (one per core by default), each into its
//! own run directory, each finished run's row written to `results.csv` at once. Running the same
//! experiment into the same directory again skips the finished runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::experiment::{canonical_text, Experiment, RunSpec, Shard};
use super::results::{ResultRow, ResultsTable, FIXED_OPTION_COLUMNS};
use crate::analysis::gradient_report::GradientProbe;
use crate::error::{Error, Result};
use crate::outdir::write_atomic;
use crate::outdir::{self, DirKind};
use crate::tasks::Solved;
use crate::train::config::TrainConfig;
use crate::train::run_dir::RunDir;
use crate::train::trainer::{train, MetricRow, Progress, RunData, TrainObserver};

pub const EXPERIMENT_FILE: &str = "experiment.ron";
pub const RESULTS_FILE: &str = "results.csv";
pub const RUNS_DIR: &str = "runs";

/// How to run a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    /// Runs in parallel.
    pub jobs: usize,
    /// Threads of each run's arithmetic (`crate::parallel`; results do not depend on it).
    pub threads: usize,
    pub shard: Option<Shard>,
}

/// What a sweep reports while it runs. Called from worker threads.
pub trait SweepObserver: Sync {
    fn planned(&self, _pending: &[&RunSpec], _finished_before: usize) {}
    fn started(&self, _run: &RunSpec) {}
    fn progress(&self, _run: &RunSpec, _progress: &Progress) {}
    fn finished(&self, _run: &RunSpec, _row: &ResultRow) {}
}

pub struct QuietSweep;
impl SweepObserver for QuietSweep {}

/// What a sweep did.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    pub table: ResultsTable,
    pub ran: usize,
    pub skipped: usize,
}

/// The option columns of an experiment's results: task, cell, length, hidden, seed, then every
/// other varied option.
pub fn option_columns(exp: &Experiment) -> Vec<String> {
    let mut cols: Vec<String> = FIXED_OPTION_COLUMNS.iter().map(|s| s.to_string()).collect();
    for axis in exp.axes() {
        if !cols.iter().any(|c| c == axis) {
            cols.push(axis.to_string());
        }
    }
    cols
}

/// The option values of a run, by column. `trained` is the run's config as trained: a run with
/// a `data` file trains the file's task, so the fixed `task` and `length` columns come from it
/// (an axis keeps the grid's value, which names the run).
fn option_values(exp: &Experiment, run: &RunSpec, trained: &TrainConfig) -> Vec<(String, String)> {
    let c = &run.config;
    let axes = exp.axes();
    let fixed = |col: &str| !axes.contains(&col);
    option_columns(exp)
        .into_iter()
        .map(|col| {
            let v = match col.as_str() {
                "task" if fixed("task") => trained.task.task.to_string(),
                "task" => c.task.task.to_string(),
                "cell" => c.model.cell.to_string(),
                "length" if fixed("length") => trained.task.length.to_string(),
                "length" => c.task.length.to_string(),
                "hidden" => c.model.hidden.to_string(),
                "seed" => c.seed.to_string(),
                other => run
                    .values
                    .iter()
                    .find(|(k, _)| k == other)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            };
            (col, v)
        })
        .collect()
}

/// Reads `dir/results.csv` of `exp` (empty table if absent), keeping only rows of its grid.
pub fn read_results(exp: &Experiment, dir: &Path) -> Result<ResultsTable> {
    let runs = exp.runs()?;
    let path = dir.join(RESULTS_FILE);
    if !path.exists() {
        return Ok(ResultsTable::new(option_columns(exp)));
    }
    let axes: Vec<String> = exp.axes().iter().map(|s| s.to_string()).collect();
    let id_of = |row: &ResultRow| -> Option<(String, usize)> {
        let id = axes
            .iter()
            .map(|a| format!("{a}={}", canonical_text(row.option(a).unwrap_or(""))))
            .collect::<Vec<_>>()
            .join(",");
        runs.iter().find(|r| r.id() == id).map(|r| (id, r.index))
    };
    ResultsTable::read(&path, &id_of)
}

/// Makes `dir` the home of `exp`: an rnnlab sweep directory ([`outdir::claim`]) with a real
/// `runs/` directory in it, holding `experiment.ron` (written, or checked to be the same
/// experiment). The caller holds the directory's lock ([`outdir::lock`]).
pub fn claim_dir(exp: &Experiment, dir: &Path) -> Result<()> {
    outdir::claim(dir, DirKind::Sweep)?;
    let runs = dir.join(RUNS_DIR);
    match std::fs::symlink_metadata(&runs) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(Error::invalid(
                "out",
                format!(
                    "{} is not a directory (a link?); a sweep writes only inside its own directory",
                    runs.display()
                ),
            ))
        }
        Err(_) => std::fs::create_dir(&runs).map_err(|source| Error::Io {
            path: runs.clone(),
            source,
        })?,
    }
    let path = dir.join(EXPERIMENT_FILE);
    if path.exists() {
        let there = Experiment::load(&path)?;
        if there.same_runs_as(exp) {
            return Ok(());
        }
        if exp.extends(&there) {
            // an extended sweep: the old rows stay, the new runs are added, and the file records
            // the union (which `exp` is)
            return write_atomic(&path, exp.to_ron().as_bytes());
        }
        return Err(Error::invalid(
            "out",
            format!(
                "{} holds another experiment ('{}'); give another --out, the same options, or a grid that contains its grid",
                dir.display(),
                there.name
            ),
        ));
    }
    write_atomic(&path, exp.to_ron().as_bytes())
}

/// Creates `dir` if needed and locks it for this process ([`outdir::lock`]).
pub fn lock_dir(dir: &Path) -> Result<outdir::DirLock> {
    outdir::claim(dir, DirKind::Sweep)?;
    outdir::lock(dir)
}

/// Runs every pending run of `exp` (this shard's, not yet in `dir/results.csv`).
pub fn run_sweep(
    exp: &Experiment,
    dir: &Path,
    settings: &SweepSettings,
    observer: &dyn SweepObserver,
) -> Result<SweepOutcome> {
    run_selected(exp, dir, settings, observer, &|_| true)
}

/// [`run_sweep`] limited to the runs `select` takes (the length search's next round).
pub fn run_selected(
    exp: &Experiment,
    dir: &Path,
    settings: &SweepSettings,
    observer: &dyn SweepObserver,
    select: &(dyn Fn(&RunSpec) -> bool + Sync),
) -> Result<SweepOutcome> {
    if settings.jobs == 0 {
        return Err(Error::invalid("jobs", "must be at least 1"));
    }
    exp.validate()?;
    let _lock = lock_dir(dir)?;
    claim_dir(exp, dir)?;
    let runs = exp.runs()?;
    let table = read_results(exp, dir)?;
    let pending: Vec<&RunSpec> = runs
        .iter()
        .filter(|r| settings.shard.is_none_or(|s| s.contains(r.index)))
        .filter(|r| select(r))
        .filter(|r| !table.rows.contains_key(&r.id()))
        .collect();
    let skipped = runs
        .iter()
        .filter(|r| settings.shard.is_none_or(|s| s.contains(r.index)))
        .filter(|r| select(r))
        .count()
        - pending.len();
    observer.planned(&pending, skipped);

    let table = Mutex::new(table);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let results_path = dir.join(RESULTS_FILE);
    std::thread::scope(|scope| {
        for _ in 0..settings.jobs.min(pending.len().max(1)) {
            scope.spawn(|| loop {
                crate::parallel::set_threads(settings.threads);
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(run) = pending.get(i) else { break };
                observer.started(run);
                let result = run_one(exp, dir, run, observer).and_then(|row| {
                    let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
                    t.rows.insert(run.id(), (run.index, row.clone()));
                    t.write(&results_path)?;
                    Ok(row)
                });
                match result {
                    Ok(row) => observer.finished(run, &row),
                    Err(e) => {
                        stop.store(true, Ordering::SeqCst);
                        first_error
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let table = table.into_inner().unwrap_or_else(|e| e.into_inner());
    if !results_path.exists() {
        table.write(&results_path)?;
    }
    Ok(SweepOutcome {
        table,
        ran: pending.len(),
        skipped,
    })
}

/// The directory of a run inside a sweep directory.
pub fn run_dir(dir: &Path, run: &RunSpec) -> PathBuf {
    dir.join(RUNS_DIR).join(run.dir_name())
}

fn run_one(
    exp: &Experiment,
    dir: &Path,
    run: &RunSpec,
    observer: &dyn SweepObserver,
) -> Result<ResultRow> {
    let mut config = run.config.clone();
    let data = RunData::prepare(&mut config)?;
    // a run directory left by an interrupted sweep is replaced, whatever state the kill left it
    // in (even a config.tmp without config.ron), as long as it holds only a run's files
    let path = run_dir(dir, run);
    outdir::remove_stale_run(&path)?;
    let mut run_dir = RunDir::create(&path, &config, false)?;
    let outcome = {
        let mut forward = Forward {
            dir: &mut run_dir,
            run,
            observer,
        };
        train(&config, &data, &mut forward)?
    };
    run_dir.finish(&outcome)?;
    let baseline = match outcome.task.solved() {
        Solved::MseAtMost(_) => outcome.summary.baseline_loss,
        Solved::AccuracyAtLeast(_) => outcome.summary.baseline_accuracy,
    };
    Ok(ResultRow::from_summary(
        option_values(exp, run, &config),
        &outcome.summary,
        baseline,
    ))
}

/// Writes the run's files and forwards its progress to the sweep's observer.
struct Forward<'a> {
    dir: &'a mut RunDir,
    run: &'a RunSpec,
    observer: &'a dyn SweepObserver,
}

impl TrainObserver for Forward<'_> {
    fn on_metric(&mut self, row: &MetricRow) -> Result<()> {
        self.dir.on_metric(row)
    }
    fn on_probe(&mut self, probe: &GradientProbe) -> Result<()> {
        self.dir.on_probe(probe)
    }
    fn on_history(&mut self, point: &crate::analysis::history::HistoryPoint) -> Result<()> {
        self.dir.on_history(point)
    }
    fn on_progress(&mut self, p: &Progress) {
        self.observer.progress(self.run, p);
    }
}
