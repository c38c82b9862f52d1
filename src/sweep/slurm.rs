//! Submitting a sweep to Slurm: the grid split into K shards run as one job array (task i runs
//! `rnnlab sweep --config OUT/experiment.ron --shard i/K --out OUT/shards/shard-i-of-K`), and a
//! merge + compare job that waits for the array (`--dependency=afterok`). Slurm does the
//! scheduling; the sweep's shards, locks, atomic `results.csv` and merge do the rest, so a task
//! killed at any moment loses only its runs in flight and the same submission again runs only
//! the shards that are not complete.
//!
//! The sweep directory `OUT` holds, besides the merged sweep:
//!
//! - `slurm/array.sbatch`, `slurm/merge.sbatch`: the scripts of the latest submission;
//! - `slurm/jobs.csv`: one line per submission (time, array job, merge job, shards, runs at a
//!   time per task), read by [`crate::sweep::status`];
//! - `slurm/logs/`: each task's and merge's standard output and error;
//! - `shards/shard-I-of-K/`: each task's own sweep directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::experiment::{Experiment, Shard};
use super::limits::{run_estimates, together};
use super::runner::{claim_dir, lock_dir, read_results, EXPERIMENT_FILE, RESULTS_FILE};
use crate::error::{Error, Result};
use crate::outdir::{self, DirKind};
use crate::resources::gib;

pub const SLURM_DIR: &str = "slurm";
pub const SHARDS_DIR: &str = "shards";
pub const JOBS_FILE: &str = "jobs.csv";
pub const ARRAY_SCRIPT: &str = "array.sbatch";
pub const MERGE_SCRIPT: &str = "merge.sbatch";
pub const LOGS_DIR: &str = "logs";
/// The merge + compare job's memory request.
pub const MERGE_MEM: u64 = 1 << 30;
/// The default task count's ceiling.
pub const MAX_DEFAULT_TASKS: usize = 100;
/// The memory asked for above a task's estimate when `--mem` is not given: the estimate is
/// within a few tens of per cent of the measured peak (`crate::resources`), so a quarter more,
/// and at least [`MIN_DEFAULT_MEM`].
const DEFAULT_MEM_MARGIN: f64 = 1.25;
const MIN_DEFAULT_MEM: u64 = 256 << 20;
const MIB: u64 = 1 << 20;
const JOBS_HEADER: &str = "submitted_unix,array_job,merge_job,tasks,shards,jobs_per_task";

/// What the user asks of the scheduler (the `sweep --slurm` options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmRequest {
    /// CPUs of each array task.
    pub cpus_per_task: usize,
    /// `--jobs` / `--threads` of the sweep command, when given.
    pub jobs: Option<usize>,
    pub threads: Option<usize>,
    /// Memory of each array task in bytes [default: the task's estimate and a margin].
    pub mem: Option<u64>,
    /// Array tasks (shards) [default: see [`plan_tasks`]].
    pub tasks: Option<usize>,
    /// At most this many array tasks at a time (`--array=…%K`).
    pub array_limit: Option<usize>,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub time: Option<String>,
}

/// How the sweep is split and what each task runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskPlan {
    pub tasks: usize,
    pub cpus: usize,
    /// Runs at a time in a task and threads of each.
    pub jobs: usize,
    pub threads: usize,
    /// The memory each task asks for (`--mem`), and its estimate.
    pub mem: u64,
    pub estimate: u128,
}

/// Chooses the shard count, runs at a time and threads so that a task's estimate fits `mem`.
///
/// With `cpus` CPUs per task the task runs `jobs` runs at a time with `threads` threads each
/// (`jobs × threads = cpus` for what is not given). When the `jobs` largest runs together do
/// not fit the memory, fewer run at a time with more threads each, down to one run on all the
/// CPUs; a grid whose largest run does not fit alone is refused (field `mem`). Without `--mem`
/// the task asks for its estimate and a quarter. The task count is `tasks`, else the count the
/// sweep directory was already split into (`existing`), else one task per `jobs` runs, at most
/// [`MAX_DEFAULT_TASKS`].
pub fn plan_tasks(
    exp: &Experiment,
    req: &SlurmRequest,
    existing: Option<usize>,
) -> Result<TaskPlan> {
    if req.cpus_per_task == 0 {
        return Err(Error::invalid("cpus-per-task", "must be at least 1"));
    }
    if req.jobs == Some(0) {
        return Err(Error::invalid("jobs", "must be at least 1"));
    }
    if req.threads == Some(0) {
        return Err(Error::invalid("threads", "must be at least 1"));
    }
    if req.array_limit == Some(0) {
        return Err(Error::invalid("array-limit", "must be at least 1"));
    }
    let runs = exp.runs()?.len();
    if let Some(tasks) = req.tasks {
        if tasks == 0 {
            return Err(Error::invalid("tasks", "must be at least 1"));
        }
        if tasks > runs {
            return Err(Error::invalid(
                "tasks",
                format!("{tasks} tasks for a grid of {runs} runs; give at most {runs}"),
            ));
        }
        if let Some(k) = existing.filter(|&k| k != tasks) {
            return Err(Error::invalid(
                "tasks",
                format!(
                    "this sweep directory is already split into {k} tasks; give --tasks {k} (or leave it out), or another --out"
                ),
            ));
        }
    }
    let cpus = req.cpus_per_task;
    // (jobs, threads) candidates, most runs at a time first
    let candidates: Vec<(usize, usize)> = match (req.jobs, req.threads) {
        (Some(j), Some(t)) => vec![(j, t)],
        (Some(j), None) => vec![(j, (cpus / j).max(1))],
        (None, Some(t)) => {
            let most = (cpus / t).max(1);
            (1..=most).rev().map(|j| (j, t)).collect()
        }
        (None, None) => (1..=cpus).rev().map(|j| (j, (cpus / j).max(1))).collect(),
    };
    let mut smallest: Option<(usize, usize, u128, String)> = None;
    for &(jobs, threads) in &candidates {
        let sizes = crate::parallel::with_threads(threads, || run_estimates(exp))?;
        let bytes: Vec<u128> = sizes.iter().map(|(_, b)| *b).collect();
        let need = together(&bytes, jobs);
        let fits = match req.mem {
            Some(mem) => need <= u128::from(mem),
            None => true,
        };
        if fits {
            let mem = match req.mem {
                Some(mem) => mem,
                None => {
                    let want = (need as f64 * DEFAULT_MEM_MARGIN).ceil() as u128;
                    let want = u64::try_from(want).map_err(|_| {
                        Error::invalid("mem", format!("a task needs an estimated {}", gib(need)))
                    })?;
                    want.max(MIN_DEFAULT_MEM).div_ceil(MIB) * MIB
                }
            };
            let tasks = req
                .tasks
                .or(existing)
                .unwrap_or_else(|| runs.div_ceil(jobs).clamp(1, MAX_DEFAULT_TASKS));
            return Ok(TaskPlan {
                tasks,
                cpus,
                jobs,
                threads,
                mem,
                estimate: need,
            });
        }
        let largest = sizes
            .iter()
            .max_by_key(|(_, b)| *b)
            .map(|(id, _)| id.clone())
            .unwrap_or_default();
        if smallest.as_ref().is_none_or(|s| need < s.2) {
            smallest = Some((jobs, threads, need, largest));
        }
    }
    let (jobs, threads, need, largest) = smallest.expect("at least one candidate");
    Err(Error::invalid(
        "mem",
        format!(
            "{} per task is below the estimate of {} for {jobs} run{} at a time with {threads} thread{} (largest run: {largest}); raise --mem",
            gib(u128::from(req.mem.unwrap_or(0))),
            gib(need),
            if jobs == 1 { "" } else { "s" },
            if threads == 1 { "" } else { "s" },
        ),
    ))
}

/// `OUT/shards/shard-I-of-K`.
pub fn shard_dir(out: &Path, index: usize, count: usize) -> PathBuf {
    out.join(SHARDS_DIR)
        .join(format!("shard-{index}-of-{count}"))
}

/// The task count the sweep directory's shards were made with (None: no shards yet). Shard
/// directories of two different counts are an error.
pub fn existing_task_count(out: &Path) -> Result<Option<usize>> {
    let dir = out.join(SHARDS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut found: Option<usize> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(count) = name
            .strip_prefix("shard-")
            .and_then(|r| r.split_once("-of-"))
            .and_then(|(_, k)| k.parse::<usize>().ok())
        else {
            continue;
        };
        match found {
            Some(k) if k != count => {
                return Err(Error::invalid(
                    "out",
                    format!(
                        "{} holds shards of {k} and of {count} tasks; rnnlab did not make it so",
                        dir.display()
                    ),
                ))
            }
            _ => found = Some(count),
        }
    }
    Ok(found)
}

/// One shard's progress: rows done of the runs it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardProgress {
    pub index: usize,
    pub done: usize,
    pub total: usize,
}

impl ShardProgress {
    pub fn complete(&self) -> bool {
        self.done == self.total
    }
}

/// The progress of each of the `count` shards of `exp` in `out` (a shard not started has 0).
pub fn shard_progress(exp: &Experiment, out: &Path, count: usize) -> Result<Vec<ShardProgress>> {
    let runs = exp.runs()?;
    (0..count)
        .map(|index| {
            let shard = Shard { index, count };
            let total = runs.iter().filter(|r| shard.contains(r.index)).count();
            let dir = shard_dir(out, index, count);
            let done = if dir.join(EXPERIMENT_FILE).exists() {
                let there = Experiment::load(&dir.join(EXPERIMENT_FILE))?;
                if !there.same_runs_as(exp) {
                    return Err(Error::invalid(
                        "out",
                        format!(
                            "{} holds another experiment ('{}')",
                            dir.display(),
                            there.name
                        ),
                    ));
                }
                read_results(exp, &dir)?
                    .rows
                    .values()
                    .filter(|(i, _)| shard.contains(*i))
                    .count()
            } else {
                0
            };
            Ok(ShardProgress { index, done, total })
        })
        .collect()
}

/// The rows of the merged `OUT/results.csv` (0 when absent).
pub fn merged_rows(exp: &Experiment, out: &Path) -> Result<usize> {
    if !out.join(RESULTS_FILE).exists() {
        return Ok(0);
    }
    Ok(read_results(exp, out)?.rows.len())
}

/// Where to submit from: the binary every task runs, the working directory the tasks start in.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub workdir: PathBuf,
}

/// What a submission did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub plan: TaskPlan,
    /// The shards submitted (empty when all were complete).
    pub shards: Vec<usize>,
    /// The shards already complete before this submission.
    pub complete: Vec<usize>,
    pub array_job: Option<String>,
    pub merge_job: Option<String>,
    pub array_script: PathBuf,
    pub merge_script: PathBuf,
    /// The sbatch command lines (as a shell would run them).
    pub commands: Vec<String>,
    /// The sweep was merged and complete: nothing submitted.
    pub already_done: bool,
}

/// The checks before anything is written: `out` can hold `exp` (absent, empty, or this
/// experiment's sweep directory) and the scripts can name it.
fn check_out(exp: &Experiment, out: &Path) -> Result<()> {
    let text = out.to_string_lossy();
    if text.contains(['"', '%', '\n', '\r']) || !out.is_absolute() {
        return Err(Error::invalid(
            "out",
            format!(
                "{}: a Slurm sweep directory must be an absolute path without double quotes, % or line breaks (it goes into #SBATCH lines)",
                out.display()
            ),
        ));
    }
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::invalid(
                "out",
                format!("{}: exists and is not a directory", out.display()),
            ));
        }
        let empty = std::fs::read_dir(out)
            .map_err(|e| not_writable(out, &e))?
            .next()
            .is_none();
        if !empty && outdir::marker_kind(out) != Some(DirKind::Sweep) {
            return Err(Error::invalid(
                "out",
                format!(
                    "{}: already exists, is not empty and is not an rnnlab sweep directory; give another --out",
                    out.display()
                ),
            ));
        }
        let file = out.join(EXPERIMENT_FILE);
        if file.exists() {
            let there = Experiment::load(&file)?;
            if !there.same_runs_as(exp) {
                return Err(Error::invalid(
                    "out",
                    format!(
                        "{} holds another experiment ('{}'); resubmit the same command, or give another --out",
                        out.display(),
                        there.name
                    ),
                ));
            }
        }
        check_writable(out)?;
    } else {
        // the nearest existing ancestor must be a directory this process can write
        let mut ancestor = out.parent();
        while let Some(a) = ancestor {
            if a.exists() {
                if !a.is_dir() {
                    return Err(Error::invalid(
                        "out",
                        format!("{}: {} is not a directory", out.display(), a.display()),
                    ));
                }
                check_writable(a).map_err(|_| {
                    Error::invalid(
                        "out",
                        format!(
                            "{}: cannot be created ({} is not writable); the tasks write there",
                            out.display(),
                            a.display()
                        ),
                    )
                })?;
                break;
            }
            ancestor = a.parent();
        }
    }
    Ok(())
}

fn not_writable(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::invalid(
        "out",
        format!(
            "{}: cannot be written ({e}); the tasks write there",
            path.display()
        ),
    )
}

/// Whether this process may create files in the directory `dir` (access(2) with W_OK, which
/// also sees a read-only file system).
fn check_writable(dir: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| Error::invalid("out", format!("{}: holds a NUL byte", dir.display())))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let ok = unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
    if ok {
        Ok(())
    } else {
        Err(not_writable(dir, &std::io::Error::last_os_error()))
    }
}

/// The executable `name` in a directory of `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Runs a Slurm client command; its standard output, or an error holding its first error line.
fn slurm_command(
    program: &str,
    args: &[String],
    cwd: &Path,
) -> std::result::Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .map_err(|e| format!("{program} could not be run: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).to_string())
    } else {
        let err = String::from_utf8_lossy(&output.stderr);
        let line = err
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message")
            .to_string();
        Err(format!("{program} failed ({}): {line}", output.status))
    }
}

/// `sbatch` on PATH and a controller that answers (`sinfo`), or an input error (field `slurm`).
pub fn check_scheduler(cwd: &Path) -> Result<()> {
    for tool in ["sbatch", "squeue", "sinfo"] {
        if find_on_path(tool).is_none() {
            return Err(Error::invalid(
                "slurm",
                format!(
                    "{tool} is not on PATH (is this a Slurm login node?); --slurm-dry-run writes the scripts without submitting"
                ),
            ));
        }
    }
    slurm_command("sinfo", &["--noheader".into(), "--format=%P".into()], cwd).map_err(|e| {
        Error::invalid(
            "slurm",
            format!("the Slurm controller does not answer: {e}; nothing was submitted"),
        )
    })?;
    Ok(())
}

/// One line of `slurm/jobs.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub submitted_unix: u64,
    pub array_job: Option<String>,
    pub merge_job: Option<String>,
    pub tasks: usize,
    pub shards: Vec<usize>,
    pub jobs_per_task: usize,
}

/// The submissions recorded in `OUT/slurm/jobs.csv`, oldest first (none when absent).
pub fn job_records(out: &Path) -> Result<Vec<JobRecord>> {
    let path = out.join(SLURM_DIR).join(JOBS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path, source }),
    };
    let bad = |line: usize, why: &str| Error::bad_file(&path, format!("line {line}: {why}"));
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 6 {
            return Err(bad(n + 1, "expected 6 fields"));
        }
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let num = |s: &str| s.parse::<usize>().map_err(|_| bad(n + 1, "not a number"));
        records.push(JobRecord {
            submitted_unix: f[0].parse().map_err(|_| bad(n + 1, "not a time"))?,
            array_job: opt(f[1]),
            merge_job: opt(f[2]),
            tasks: num(f[3])?,
            shards: f[4]
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(num)
                .collect::<Result<_>>()?,
            jobs_per_task: num(f[5])?,
        });
    }
    Ok(records)
}

fn append_record(out: &Path, r: &JobRecord) -> Result<()> {
    let path = out.join(SLURM_DIR).join(JOBS_FILE);
    let new = !path.exists();
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)?;
    let mut text = String::new();
    if new {
        text.push_str(JOBS_HEADER);
        text.push('\n');
    }
    text.push_str(&format!(
        "{},{},{},{},{},{}\n",
        r.submitted_unix,
        r.array_job.as_deref().unwrap_or(""),
        r.merge_job.as_deref().unwrap_or(""),
        r.tasks,
        r.shards
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        r.jobs_per_task
    ));
    f.write_all(text.as_bytes()).map_err(io)
}

/// One job or array task in the queue (`squeue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The job id (an array's job id for its tasks).
    pub job: String,
    /// The array task, for a task.
    pub task: Option<usize>,
    pub state: String,
    pub reason: String,
}

/// This user's queued and running jobs (`squeue --array`), or None when squeue does not answer.
pub fn queue(cwd: &Path) -> Option<Vec<Queued>> {
    let text = slurm_command(
        "squeue",
        &[
            "--noheader".into(),
            "--array".into(),
            "--me".into(),
            "--format=%F|%K|%T|%r".into(),
        ],
        cwd,
    )
    .ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.trim().split('|').collect();
                (f.len() == 4).then(|| Queued {
                    job: f[0].to_string(),
                    task: f[1].parse().ok(),
                    state: f[2].to_string(),
                    reason: f[3].to_string(),
                })
            })
            .collect(),
    )
}

/// The states `sacct` holds for `jobs` (job or `job_task` → state), or None when it does not
/// answer (no accounting storage).
pub fn accounting(jobs: &[String], cwd: &Path) -> Option<Vec<(String, String)>> {
    if jobs.is_empty() {
        return Some(Vec::new());
    }
    let text = slurm_command(
        "sacct",
        &[
            "--noheader".into(),
            "--parsable2".into(),
            "--allocations".into(),
            format!("--jobs={}", jobs.join(",")),
            "--format=JobID,State".into(),
        ],
        cwd,
    )
    .ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                l.split_once('|')
                    .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
            })
            .collect(),
    )
}

/// `'text'` for a POSIX shell.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `0-3`, `1,3` or `0-2,5`, with `%limit`: Slurm's `--array` list, and how shards are named.
pub fn array_spec(shards: &[usize], limit: Option<usize>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < shards.len() {
        let mut j = i;
        while j + 1 < shards.len() && shards[j + 1] == shards[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", shards[i], shards[j])
        } else {
            shards[i].to_string()
        });
        i = j + 1;
    }
    let mut spec = parts.join(",");
    if let Some(l) = limit {
        spec.push_str(&format!("%{l}"));
    }
    spec
}

fn job_name(exp: &Experiment, prefix: &str) -> String {
    let name: String = exp
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(48)
        .collect();
    format!("{prefix}{name}")
}

fn common_lines(req: &SlurmRequest, launch: &Launch) -> String {
    let mut s = String::new();
    if let Some(p) = &req.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(a) = &req.account {
        s.push_str(&format!("#SBATCH --account={a}\n"));
    }
    if let Some(t) = &req.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    s.push_str(&format!(
        "#SBATCH --chdir=\"{}\"\n",
        launch.workdir.display()
    ));
    s
}

/// The array script: task i runs shard i of `plan.tasks`.
pub fn array_script(
    exp: &Experiment,
    out: &Path,
    req: &SlurmRequest,
    plan: &TaskPlan,
    shards: &[usize],
    launch: &Launch,
) -> String {
    let k = plan.tasks;
    let logs = out.join(SLURM_DIR).join(LOGS_DIR);
    let shards_dir = out.join(SHARDS_DIR);
    format!(
        "#!/bin/bash\n\
# Written by rnnlab sweep --slurm. Array task I runs shard I/{k} of the sweep '{name}' into\n\
# {shards}/shard-I-of-{k}. Submitting the same rnnlab command again submits only the shards that\n\
# are not complete; `rnnlab status {out}` shows where they are.\n\
#SBATCH --job-name={job}\n\
#SBATCH --array={array}\n\
#SBATCH --cpus-per-task={cpus}\n\
#SBATCH --mem={mem}M\n\
{common}#SBATCH --output=\"{logs}/shard-%a-of-{k}-job-%A.out\"\n\
# {jobs} run{s} at a time × {threads} thread{ts}: an estimated {estimate} (rnnlab's memory estimate)\n\
exec {bin} sweep --config {exp_file} --shard \"$SLURM_ARRAY_TASK_ID/{k}\" \\\n  \
--out {shards_q}/shard-\"$SLURM_ARRAY_TASK_ID\"-of-{k} \\\n  \
--jobs {jobs} --threads {threads} --max-memory {mem}M\n",
        name = exp.name,
        shards = shards_dir.display(),
        out = out.display(),
        job = job_name(exp, "rnnlab-"),
        array = array_spec(shards, req.array_limit),
        cpus = plan.cpus,
        mem = plan.mem / MIB,
        common = common_lines(req, launch),
        logs = logs.display(),
        jobs = plan.jobs,
        s = if plan.jobs == 1 { "" } else { "s" },
        threads = plan.threads,
        ts = if plan.threads == 1 { "" } else { "s" },
        estimate = gib(plan.estimate),
        bin = sh_quote(&launch.binary.to_string_lossy()),
        exp_file = sh_quote(&out.join(EXPERIMENT_FILE).to_string_lossy()),
        shards_q = sh_quote(&shards_dir.to_string_lossy()),
    )
}

/// The merge + compare script: every shard into `out`, then the report.
pub fn merge_script(
    exp: &Experiment,
    out: &Path,
    req: &SlurmRequest,
    plan: &TaskPlan,
    launch: &Launch,
) -> String {
    let dirs: Vec<String> = (0..plan.tasks)
        .map(|i| sh_quote(&shard_dir(out, i, plan.tasks).to_string_lossy()))
        .collect();
    format!(
        "#!/bin/bash\n\
# Written by rnnlab sweep --slurm: merges the {k} shards of '{name}' into {out} and writes its\n\
# report (submitted with --dependency=afterok on the array; cancelled if a task fails).\n\
#SBATCH --job-name={job}\n\
#SBATCH --cpus-per-task=1\n\
#SBATCH --mem={mem}M\n\
#SBATCH --kill-on-invalid-dep=yes\n\
{common}#SBATCH --output=\"{logs}/merge-job-%j.out\"\n\
exec {bin} merge {out_q} \\\n  {dirs}\n",
        k = plan.tasks,
        name = exp.name,
        out = out.display(),
        job = job_name(exp, "rnnlab-merge-"),
        mem = MERGE_MEM / MIB,
        common = common_lines(req, launch),
        logs = out.join(SLURM_DIR).join(LOGS_DIR).display(),
        bin = sh_quote(&launch.binary.to_string_lossy()),
        out_q = sh_quote(&out.to_string_lossy()),
        dirs = dirs.join(" \\\n  "),
    )
}

/// Plans, writes the scripts into `out/slurm/` and (unless `dry`) submits them: the array of
/// the shards that are not complete, then the merge job after it. `out` must be absolute.
///
/// Everything that can be refused is checked before anything is written: the plan (`--tasks`,
/// `--mem`), the sweep directory (another experiment, not writable), and, when submitting,
/// sbatch and the controller, and jobs of this sweep still in the queue.
pub fn submit(
    exp: &Experiment,
    out: &Path,
    req: &SlurmRequest,
    launch: &Launch,
    dry: bool,
) -> Result<Submission> {
    exp.validate()?;
    check_out(exp, out)?;
    if launch
        .workdir
        .to_string_lossy()
        .contains(['"', '%', '\n', '\r'])
    {
        return Err(Error::invalid(
            "slurm",
            format!(
                "the working directory {} holds a double quote, % or line break, which #SBATCH --chdir cannot carry; submit from another directory",
                launch.workdir.display()
            ),
        ));
    }
    let existing = existing_task_count(out)?;
    let plan = plan_tasks(exp, req, existing)?;
    if let Some(limit) = req.array_limit {
        if limit > plan.tasks {
            return Err(Error::invalid(
                "array-limit",
                format!("{limit} is above the {} tasks", plan.tasks),
            ));
        }
    }
    let progress = shard_progress(exp, out, plan.tasks)?;
    let total_runs = exp.runs()?.len();
    if !dry {
        check_scheduler(&launch.workdir)?;
        let records = job_records(out)?;
        let ours: Vec<&String> = records
            .iter()
            .flat_map(|r| r.array_job.iter().chain(r.merge_job.iter()))
            .collect();
        if let Some(q) = queue(&launch.workdir) {
            let waiting: Vec<String> = q
                .iter()
                .filter(|j| ours.contains(&&j.job))
                .map(|j| match j.task {
                    Some(t) => format!("{}_{t} ({})", j.job, j.state),
                    None => format!("{} ({})", j.job, j.state),
                })
                .collect();
            if !waiting.is_empty() {
                return Err(Error::invalid(
                    "slurm",
                    format!(
                        "jobs of this sweep are still queued or running: {}; wait for them (rnnlab status {}) or scancel them, then submit again",
                        waiting.join(", "),
                        out.display()
                    ),
                ));
            }
        }
    }
    let shards: Vec<usize> = progress
        .iter()
        .filter(|p| !p.complete())
        .map(|p| p.index)
        .collect();
    let complete: Vec<usize> = progress
        .iter()
        .filter(|p| p.complete())
        .map(|p| p.index)
        .collect();
    let slurm = out.join(SLURM_DIR);
    let (array_path, merge_path) = (slurm.join(ARRAY_SCRIPT), slurm.join(MERGE_SCRIPT));
    let mut submission = Submission {
        plan,
        shards: shards.clone(),
        complete,
        array_job: None,
        merge_job: None,
        array_script: array_path.clone(),
        merge_script: merge_path.clone(),
        commands: Vec::new(),
        already_done: false,
    };
    if shards.is_empty() && merged_rows(exp, out)? == total_runs {
        submission.already_done = true;
        return Ok(submission);
    }

    // from here on the sweep directory is written
    let _lock = lock_dir(out).map_err(|e| match e {
        Error::Io { path, source } => not_writable(&path, &source),
        other => other,
    })?;
    claim_dir(exp, out)?;
    let logs = slurm.join(LOGS_DIR);
    std::fs::create_dir_all(&logs).map_err(|e| not_writable(&logs, &e))?;
    // the shard directories, empty until their task starts, record the split
    for i in 0..plan.tasks {
        let dir = shard_dir(out, i, plan.tasks);
        std::fs::create_dir_all(&dir).map_err(|e| not_writable(&dir, &e))?;
    }
    let write = |path: &Path, text: String| crate::outdir::write_atomic(path, text.as_bytes());
    write(&merge_path, merge_script(exp, out, req, &plan, launch))?;
    if !shards.is_empty() {
        write(
            &array_path,
            array_script(exp, out, req, &plan, &shards, launch),
        )?;
        submission.commands.push(format!(
            "sbatch --parsable {}",
            sh_quote(&array_path.to_string_lossy())
        ));
    }
    let dependency = |id: &str| format!("--dependency=afterok:{id}");
    let merge_command = |id: Option<&str>| {
        let mut c = String::from("sbatch --parsable ");
        if let Some(id) = id {
            c.push_str(&dependency(id));
            c.push(' ');
        }
        c.push_str(&sh_quote(&merge_path.to_string_lossy()));
        c
    };
    if dry {
        submission.commands.push(merge_command(
            (!shards.is_empty()).then_some("<array job id>"),
        ));
        return Ok(submission);
    }
    let sbatch = |args: Vec<String>| -> Result<String> {
        let text = slurm_command("sbatch", &args, &launch.workdir)
            .map_err(|e| Error::invalid("slurm", e))?;
        let id = text.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::invalid(
                "slurm",
                format!("sbatch --parsable printed {:?}, not a job id", text.trim()),
            ));
        }
        Ok(id)
    };
    let array_job = if shards.is_empty() {
        None
    } else {
        Some(sbatch(vec![
            "--parsable".into(),
            array_path.to_string_lossy().to_string(),
        ])?)
    };
    let mut merge_args = vec!["--parsable".to_string()];
    if let Some(id) = &array_job {
        merge_args.push(dependency(id));
    }
    merge_args.push(merge_path.to_string_lossy().to_string());
    let merge_job = match sbatch(merge_args) {
        Ok(id) => id,
        Err(e) => {
            // no array without its merge: cancel what was just submitted
            if let Some(id) = &array_job {
                let _ = slurm_command("scancel", std::slice::from_ref(id), &launch.workdir);
            }
            return Err(e);
        }
    };
    submission
        .commands
        .push(merge_command(array_job.as_deref()));
    let record = JobRecord {
        submitted_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        array_job: array_job.clone(),
        merge_job: Some(merge_job.clone()),
        tasks: plan.tasks,
        shards,
        jobs_per_task: plan.jobs,
    };
    append_record(out, &record)?;
    submission.array_job = array_job;
    submission.merge_job = Some(merge_job);
    Ok(submission)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_join_consecutive_shards() {
        assert_eq!(array_spec(&[0, 1, 2, 3], None), "0-3");
        assert_eq!(array_spec(&[1, 3], Some(2)), "1,3%2");
        assert_eq!(array_spec(&[0, 1, 2, 5, 7, 8], None), "0-2,5,7-8");
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    fn small() -> Experiment {
        let mut exp = Experiment::tanaka_benchmark();
        exp.grid.retain(|k, _| k == "seed");
        exp.normalize();
        exp
    }

    #[test]
    fn the_plan_fits_the_memory_or_refuses() {
        let exp = small();
        let runs = exp.runs().unwrap().len();
        let req = SlurmRequest {
            cpus_per_task: 2,
            ..SlurmRequest::default()
        };
        let free = plan_tasks(&exp, &req, None).unwrap();
        assert_eq!((free.jobs, free.threads), (2, 1));
        assert!(u128::from(free.mem) >= free.estimate);
        assert_eq!(free.tasks, runs.div_ceil(2).min(MAX_DEFAULT_TASKS));
        // room for one run, not two: one at a time on both CPUs
        let one = crate::parallel::with_threads(2, || run_estimates(&exp)).unwrap();
        let one = together(&one.iter().map(|x| x.1).collect::<Vec<_>>(), 1);
        let tight = SlurmRequest {
            mem: Some(u64::try_from(one).unwrap()),
            ..req.clone()
        };
        let p = plan_tasks(&exp, &tight, None).unwrap();
        assert_eq!((p.jobs, p.threads), (1, 2));
        let too_small = SlurmRequest {
            mem: Some(1 << 20),
            ..req.clone()
        };
        let err = plan_tasks(&exp, &too_small, None).unwrap_err().to_string();
        assert!(err.starts_with("mem:") || err.contains("mem"), "{err}");
        let zero = SlurmRequest {
            tasks: Some(0),
            ..req.clone()
        };
        assert!(plan_tasks(&exp, &zero, None).is_err());
        let other = SlurmRequest {
            tasks: Some(1),
            ..req
        };
        assert!(plan_tasks(&exp, &other, Some(2)).is_err());
    }
}
