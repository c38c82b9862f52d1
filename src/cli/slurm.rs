//! `rnnlab sweep … --slurm`: the sweep as a Slurm job array and a merge job
//! ([`rnnlab::sweep::slurm`]); the options live here, flattened into `sweep`'s.

use clap::Args;
use std::path::{Path, PathBuf};

use rnnlab::resources::gib;
use rnnlab::sweep::slurm::{submit, Launch, SlurmRequest, Submission, LOGS_DIR, SLURM_DIR};
use rnnlab::sweep::Experiment;

use super::UsageError;

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Slurm (submit the sweep as a job array and a merge job)")]
pub struct SlurmArgs {
    /// Submit the sweep to Slurm: an array whose task I runs shard I/K into OUT/shards/, and a
    /// merge + compare job after it (afterok). The same command again submits only the shards
    /// that are not complete. Follow it with `rnnlab status OUT`.
    #[arg(long)]
    slurm: bool,
    /// Write and print the sbatch scripts into OUT/slurm/ and submit nothing (needs no Slurm).
    #[arg(long)]
    slurm_dry_run: bool,
    /// Array tasks (shards) [default: the count OUT already has, else one per --jobs runs, at most
    /// 100].
    #[arg(long, value_name = "K", allow_negative_numbers = true)]
    tasks: Option<usize>,
    /// CPUs of each task; it runs --jobs runs at a time × --threads each on them.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    cpus_per_task: usize,
    /// Memory of each task (e.g. 4G, 512M); fewer runs at a time with more threads each when the
    /// runs' estimates do not fit, refused when one run does not [default: the task's estimate
    /// and a quarter, at least 256M].
    #[arg(long, value_name = "SIZE", value_parser = parse_mem)]
    mem: Option<u64>,
    /// At most K array tasks at a time (sbatch --array=…%K).
    #[arg(long, value_name = "K", allow_negative_numbers = true)]
    array_limit: Option<usize>,
    /// The partition (sbatch --partition) [default: the cluster's].
    #[arg(long, value_name = "P")]
    partition: Option<String>,
    /// The account (sbatch --account) [default: yours].
    #[arg(long, value_name = "A")]
    account: Option<String>,
    /// Time limit of each task, in Slurm's format (MM, HH:MM:SS, D-HH:MM) [default: the
    /// partition's].
    #[arg(long, value_name = "T")]
    time: Option<String>,
}

fn parse_mem(text: &str) -> Result<u64, String> {
    rnnlab::resources::parse_size(text)
        .map_err(|_| format!("{text:?} is not a size (e.g. 4G, 512M, 2GiB or bytes)"))
}

impl SlurmArgs {
    /// Whether the sweep goes to Slurm.
    pub fn wanted(&self) -> bool {
        self.slurm || self.slurm_dry_run
    }

    /// The Slurm options given without --slurm are a usage error.
    pub fn check_unused(&self) -> Result<(), UsageError> {
        let given = [
            ("tasks", self.tasks.is_some()),
            ("cpus-per-task", self.cpus_per_task != 1),
            ("mem", self.mem.is_some()),
            ("array-limit", self.array_limit.is_some()),
            ("partition", self.partition.is_some()),
            ("account", self.account.is_some()),
            ("time", self.time.is_some()),
        ];
        match given.iter().find(|(_, g)| *g) {
            Some((name, _)) if !self.wanted() => Err(UsageError(format!(
                "--{name}: a Slurm option; give --slurm (or --slurm-dry-run) with it"
            ))),
            _ => Ok(()),
        }
    }
}

/// A partition or account name: no space, quote or control character (it goes into a script).
fn check_word(option: &str, value: &Option<String>) -> Result<(), UsageError> {
    match value {
        Some(v)
            if v.is_empty()
                || v.chars().any(|c| {
                    c.is_whitespace()
                        || c.is_control()
                        || matches!(c, '"' | '\'' | '\\' | '$' | '`')
                }) =>
        {
            Err(UsageError(format!(
                "--{option}: {v:?} is not a Slurm name (no spaces, quotes or shell characters)"
            )))
        }
        _ => Ok(()),
    }
}

/// `--time`: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.
fn check_time(value: &Option<String>) -> Result<(), UsageError> {
    let Some(t) = value else { return Ok(()) };
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, t.as_str()),
    };
    let number = |s: &str| !s.is_empty() && s.len() <= 6 && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = rest.split(':').collect();
    let ok = days.is_none_or(number)
        && parts.iter().all(|p| number(p))
        && parts.len() <= 3
        && !(days.is_none() && parts.len() > 3);
    if ok {
        Ok(())
    } else {
        Err(UsageError(format!(
            "--time: {t:?} is not a Slurm time (e.g. 90, 1:30:00, 2-00:00:00)"
        )))
    }
}

/// Submits (or, dry, writes) the sweep `exp` into `out`. `conflicts` are the sweep options that
/// make no sense with --slurm, with whether each was given.
pub fn run(
    args: &SlurmArgs,
    exp: &Experiment,
    out: &Path,
    jobs: Option<usize>,
    threads: Option<usize>,
    conflicts: &[(&str, bool)],
) -> anyhow::Result<()> {
    if let Some((name, _)) = conflicts.iter().find(|(_, given)| *given) {
        return Err(UsageError(format!(
            "--{name} and --slurm: give one or the other (each task runs its own shard)"
        ))
        .into());
    }
    check_word("partition", &args.partition)?;
    check_word("account", &args.account)?;
    check_time(&args.time)?;
    let workdir = std::env::current_dir()
        .map_err(|e| UsageError(format!("--slurm: the working directory: {e}")))?;
    let out: PathBuf = if out.is_absolute() {
        out.to_path_buf()
    } else {
        workdir.join(out)
    };
    let binary = std::env::current_exe()
        .map_err(|e| UsageError(format!("--slurm: the rnnlab binary's path: {e}")))?;
    let req = SlurmRequest {
        cpus_per_task: args.cpus_per_task,
        jobs,
        threads,
        mem: args.mem,
        tasks: args.tasks,
        array_limit: args.array_limit,
        partition: args.partition.clone(),
        account: args.account.clone(),
        time: args.time.clone(),
    };
    let launch = Launch { binary, workdir };
    let dry = args.slurm_dry_run;
    let s = submit(exp, &out, &req, &launch, dry)?;
    if ["/tmp/", "/dev/shm/", "/var/tmp/"]
        .iter()
        .any(|p| out.starts_with(p))
    {
        eprintln!(
            "note: {} is on a node-local file system on most clusters; there, give --out on a file system every node shares",
            out.display()
        );
    }
    print_submission(exp, &out, &s, dry)
}

fn print_submission(exp: &Experiment, out: &Path, s: &Submission, dry: bool) -> anyhow::Result<()> {
    let p = &s.plan;
    let total = exp.runs()?.len();
    if s.already_done {
        outln!(
            "{}: all {total} runs are done and merged in {}; nothing submitted",
            exp.name,
            out.display()
        );
        return Ok(());
    }
    outln!(
        "{}: {total} runs in {} tasks; {} to run{}; each task {} CPU{}, {} run{} at a time × {} thread{}, --mem {} (estimate {})",
        exp.name,
        p.tasks,
        if s.shards.is_empty() {
            "no shard".to_string()
        } else {
            format!("shard{} {}", if s.shards.len() == 1 { "" } else { "s" }, list(&s.shards))
        },
        if s.complete.is_empty() {
            String::new()
        } else {
            format!(" ({} already complete)", list(&s.complete))
        },
        p.cpus,
        if p.cpus == 1 { "" } else { "s" },
        p.jobs,
        if p.jobs == 1 { "" } else { "s" },
        p.threads,
        if p.threads == 1 { "" } else { "s" },
        mib(p.mem),
        gib(p.estimate)
    );
    if dry {
        for path in [&s.array_script, &s.merge_script] {
            if path.exists() && (path == &s.merge_script || !s.shards.is_empty()) {
                outln!("--- {}", path.display());
                out!("{}", std::fs::read_to_string(path)?);
            }
        }
        outln!("--- not submitted (--slurm-dry-run); to submit:");
        for c in &s.commands {
            outln!("  {c}");
        }
        return Ok(());
    }
    if let Some(a) = &s.array_job {
        outln!("array job {a}: {}", s.array_script.display());
    }
    if let Some(m) = &s.merge_job {
        outln!(
            "merge job {m}{}: {}",
            if s.array_job.is_some() {
                " (after the array)"
            } else {
                ""
            },
            s.merge_script.display()
        );
    }
    outln!("follow: rnnlab status {}", out.display());
    outln!(
        "        squeue --me; logs in {}",
        out.join(SLURM_DIR).join(LOGS_DIR).display()
    );
    outln!("if a task stops short: the same command again submits only the incomplete shards");
    Ok(())
}

fn mib(bytes: u64) -> String {
    format!("{}M", bytes.div_ceil(1 << 20))
}

fn list(v: &[usize]) -> String {
    rnnlab::sweep::slurm::array_spec(v, None)
}
