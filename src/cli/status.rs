//! `rnnlab status DIR`: where a sweep submitted with `sweep --slurm` is.

use clap::Args;
use std::path::PathBuf;

use rnnlab::sweep::status::sweep_status;

use super::UsageError;

#[derive(Args)]
#[command(
    after_help = "Example:\n  rnnlab sweep --config datasets/experiments/arjovsky-adding.ron --slurm --out /shared/adding\n  rnnlab status /shared/adding"
)]
pub struct StatusArgs {
    /// A sweep directory submitted with `rnnlab sweep … --slurm` (its --out).
    dir: PathBuf,
}

pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    let cwd = std::env::current_dir()
        .map_err(|e| UsageError(format!("status: the working directory: {e}")))?;
    let s = sweep_status(&args.dir, &cwd)?;
    outln!(
        "{}: {} of {} runs done, {} merged into {}",
        s.name,
        s.done,
        s.total,
        s.merged,
        args.dir.join("results.csv").display()
    );
    outln!("shard,done,total,job,state");
    for sh in &s.shards {
        outln!(
            "{},{},{},{},{}",
            sh.index,
            sh.done,
            sh.total,
            sh.job
                .as_ref()
                .map(|j| format!("{j}_{}", sh.index))
                .unwrap_or_default(),
            sh.state()
        );
    }
    for sh in &s.shards {
        if let Some((log, line)) = &sh.log_tail {
            outln!("shard {} log {}: {line}", sh.index, log.display());
        }
    }
    match (&s.merge_job, &s.merge_queued) {
        (Some(m), Some(q)) => outln!("merge job {m}: {}", q.to_lowercase()),
        (Some(m), None) if s.merged == s.total => outln!("merge job {m}: done"),
        (Some(m), None) => outln!("merge job {m}: not in the queue, and the merge is incomplete"),
        (None, _) => {}
    }
    if !s.queue_answered {
        outln!("(squeue did not answer: queue states unknown)");
    }
    if !s.accounting_answered {
        outln!("(sacct did not answer: no accounting states)");
    }
    let stopped = s
        .shards
        .iter()
        .filter(|sh| !sh.complete() && sh.queued.is_none())
        .count();
    if s.merged == s.total {
        outln!("complete");
    } else if let Some(eta) = s.eta_seconds {
        outln!(
            "ETA: about {} ({} run{} in flight; the finished runs' seconds per estimated operation)",
            duration(eta),
            s.slots,
            if s.slots == 1 { "" } else { "s" }
        );
    } else if s.slots > 0 {
        outln!("ETA: unknown until a run finishes");
    }
    if stopped > 0 {
        outln!(
            "{stopped} shard{} stopped short or not submitted: the same rnnlab sweep … --slurm command submits {}",
            if stopped == 1 { "" } else { "s" },
            if stopped == 1 { "it" } else { "them" }
        );
    }
    Ok(())
}

fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s.div_ceil(60))
    } else {
        format!("{:.1} h", s as f64 / 3600.0)
    }
}
