//! Where a sweep submitted to Slurm ([`crate::sweep::slurm`]) is: rows done of total per shard
//! and overall, what the queue (`squeue`) and, when it answers, the accounting (`sacct`) say of
//! each array task, the last line of the log of a task that stopped short, and an ETA.

use std::path::{Path, PathBuf};

use super::cost::estimated_flops;
use super::experiment::Experiment;
use super::runner::{read_results, EXPERIMENT_FILE};
use super::slurm::{
    accounting, existing_task_count, job_records, merged_rows, queue, shard_dir, shard_progress,
    JobRecord, LOGS_DIR, SLURM_DIR,
};
use crate::error::{Error, Result};

/// One shard's status.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardStatus {
    pub index: usize,
    pub done: usize,
    pub total: usize,
    /// The array job of its latest submission.
    pub job: Option<String>,
    /// The queue's state of its task (PENDING, RUNNING, …), when queued.
    pub queued: Option<String>,
    /// The accounting's state of its latest task (COMPLETED, CANCELLED, TIMEOUT, FAILED, …),
    /// when sacct answers.
    pub accounted: Option<String>,
    /// For an incomplete shard not in the queue: the last line of its latest log.
    pub log_tail: Option<(PathBuf, String)>,
}

impl ShardStatus {
    pub fn complete(&self) -> bool {
        self.done == self.total
    }

    /// `done`, `queued (RUNNING)`, `stopped: CANCELLED` …: what the row of `rnnlab status` says.
    pub fn state(&self) -> String {
        if self.complete() {
            return "complete".into();
        }
        if let Some(q) = &self.queued {
            return q.to_lowercase();
        }
        match (&self.job, &self.accounted) {
            (None, _) => "not submitted".into(),
            (Some(_), Some(a)) => format!("stopped ({})", a.to_lowercase()),
            (Some(_), None) => "stopped (failed, cancelled or timed out)".into(),
        }
    }
}

/// A sweep directory's status.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepStatus {
    pub name: String,
    pub total: usize,
    /// Distinct runs finished in the shards or the merged results.
    pub done: usize,
    /// Rows of the merged `results.csv`.
    pub merged: usize,
    pub shards: Vec<ShardStatus>,
    /// The latest merge job and its queue state (None: not queued).
    pub merge_job: Option<String>,
    pub merge_queued: Option<String>,
    /// Whether squeue answered (None: it is not on PATH or the controller did not answer).
    pub queue_answered: bool,
    pub accounting_answered: bool,
    /// Seconds to go, estimated (None when no run has finished or nothing is running).
    pub eta_seconds: Option<f64>,
    /// Runs in flight at once (running tasks × runs at a time per task).
    pub slots: usize,
}

/// The status of the sweep directory `out`, asking the scheduler from `cwd`.
pub fn sweep_status(out: &Path, cwd: &Path) -> Result<SweepStatus> {
    let file = out.join(EXPERIMENT_FILE);
    if !file.exists() {
        return Err(Error::invalid(
            "dir",
            format!(
                "{}: no {EXPERIMENT_FILE}; not a sweep directory (submit one with rnnlab sweep … --slurm)",
                out.display()
            ),
        ));
    }
    let exp = Experiment::load(&file)?;
    let runs = exp.runs()?;
    let records = job_records(out)?;
    let Some(count) = existing_task_count(out)?.or_else(|| records.last().map(|r| r.tasks)) else {
        return Err(Error::invalid(
            "dir",
            format!(
                "{}: a sweep not submitted with --slurm (no shards/); rnnlab compare reads it",
                out.display()
            ),
        ));
    };
    let progress = shard_progress(&exp, out, count)?;
    let q = queue(cwd);
    let latest = |shard: usize| -> Option<&JobRecord> {
        records
            .iter()
            .rev()
            .find(|r| r.tasks == count && r.shards.contains(&shard))
    };
    let jobs: Vec<String> = records
        .iter()
        .flat_map(|r| r.array_job.iter().chain(r.merge_job.iter()).cloned())
        .collect();
    let acct = accounting(&jobs, cwd);

    // finished runs anywhere: the shards' and the merged rows, by id
    let mut finished: std::collections::BTreeMap<String, (usize, f64)> = Default::default();
    let mut tables = Vec::new();
    for p in &progress {
        let dir = shard_dir(out, p.index, count);
        if dir.join(EXPERIMENT_FILE).exists() {
            tables.push(read_results(&exp, &dir)?);
        }
    }
    if out.join(super::runner::RESULTS_FILE).exists() {
        tables.push(read_results(&exp, out)?);
    }
    for t in &tables {
        for (id, (index, row)) in &t.rows {
            finished
                .entry(id.clone())
                .or_insert((*index, row.metric_f64("wall_seconds").unwrap_or(0.0)));
        }
    }

    let mut shards = Vec::new();
    let mut running_tasks = 0;
    let mut slots_per_task = 1;
    for p in &progress {
        let record = latest(p.index);
        let job = record.and_then(|r| r.array_job.clone());
        let queued = job.as_ref().and_then(|j| {
            q.as_ref()?
                .iter()
                .find(|e| &e.job == j && e.task == Some(p.index))
                .map(|e| e.state.clone())
        });
        if queued.as_deref() == Some("RUNNING") {
            running_tasks += 1;
            slots_per_task = record.map_or(1, |r| r.jobs_per_task.max(1));
        }
        let accounted = job.as_ref().and_then(|j| {
            let key = format!("{j}_{}", p.index);
            acct.as_ref()?
                .iter()
                .find(|(id, _)| *id == key)
                .map(|(_, s)| s.clone())
        });
        let log_tail = match (&job, &queued, p.complete()) {
            (Some(j), None, false) => {
                let log = out
                    .join(SLURM_DIR)
                    .join(LOGS_DIR)
                    .join(format!("shard-{}-of-{count}-job-{j}.out", p.index));
                std::fs::read_to_string(&log).ok().and_then(|text| {
                    text.lines()
                        .rev()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .map(|l| (log.clone(), l.to_string()))
                })
            }
            _ => None,
        };
        shards.push(ShardStatus {
            index: p.index,
            done: p.done,
            total: p.total,
            job,
            queued,
            accounted,
            log_tail,
        });
    }
    let merge_job = records.last().and_then(|r| r.merge_job.clone());
    let merge_queued = merge_job.as_ref().and_then(|m| {
        q.as_ref()?
            .iter()
            .find(|e| &e.job == m)
            .map(|e| format!("{} ({})", e.state, e.reason))
    });

    // ETA: the seconds per estimated operation of the finished runs, times the operations to
    // go, over the runs in flight at once
    let slots = running_tasks * slots_per_task;
    let cost = |i: usize| estimated_flops(&runs[i].config).unwrap_or(0.0);
    let (done_work, done_seconds) = finished
        .values()
        .fold((0.0, 0.0), |(w, s), (i, secs)| (w + cost(*i), s + secs));
    let to_go: f64 = runs
        .iter()
        .filter(|r| !finished.contains_key(&r.id()))
        .map(|r| cost(r.index))
        .sum();
    let eta_seconds =
        (slots > 0 && done_work > 0.0).then(|| to_go * done_seconds / done_work / slots as f64);

    Ok(SweepStatus {
        name: exp.name.clone(),
        total: runs.len(),
        done: finished.len(),
        merged: merged_rows(&exp, out)?,
        shards,
        merge_job,
        merge_queued,
        queue_answered: q.is_some(),
        accounting_answered: acct.is_some(),
        eta_seconds,
        slots,
    })
}
