//! `rnnlab sweep`, `rnnlab merge` and `rnnlab compare`.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

use rnnlab::outdir::{lock, marker_kind, DirKind, MARKER_FILE};
use rnnlab::sweep::compare::{compare_dir, comparison_text, write_report};
use rnnlab::sweep::experiment::{file_safe, MAX_NAME_BYTES};
use rnnlab::sweep::merge::merge_sweeps;
use rnnlab::sweep::{
    run_sweep, Experiment, GridValue, ResultRow, RunSpec, Shard, SweepObserver, SweepSettings,
};
use rnnlab::train::options::{set_option, OPTION_NAMES};
use rnnlab::train::Progress;

use super::UsageError;

/// Every training option as a comma list: the grid.
#[derive(Debug, Clone, Default)]
pub struct GridArgs {
    pub axes: Vec<(String, Vec<String>)>,
}

impl FromArgMatches for GridArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut g = GridArgs::default();
        g.update_from_arg_matches(m)?;
        Ok(g)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        for name in OPTION_NAMES {
            if let Some(values) = m.get_many::<String>(name) {
                self.axes
                    .push((name.to_string(), values.cloned().collect()));
            }
        }
        Ok(())
    }
}

impl Args for GridArgs {
    fn augment_args(cmd: Command) -> Command {
        OPTION_NAMES.iter().fold(cmd, |cmd, name| {
            cmd.arg(
                Arg::new(*name)
                    .long(*name)
                    .value_delimiter(',')
                    .action(ArgAction::Append)
                    .allow_hyphen_values(true)
                    .value_name("V1,V2,…")
                    .help_heading("Grid (any train option, as a comma list)"),
            )
        })
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

#[derive(Args)]
#[command(after_help = "Examples:
  rnnlab sweep                                          # the built-in Tanaka benchmark (rnn, lstm, gru × lengths 5–100 × 3 seeds)
  rnnlab sweep --cell rnn,lstm,gru --length 5,10,20,50,100 --seeds 3
  rnnlab sweep --config datasets/experiments/activation.ron --jobs 2
  rnnlab sweep --config X.ron --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT --out shared/X

Running the same command again into the same directory skips the finished runs.")]
pub struct SweepArgs {
    /// A RON experiment file: name, description, base (fixed options), grid (option → values).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    grid: GridArgs,
    /// Shorthand for --seed 0,1,…,N-1.
    #[arg(long, allow_negative_numbers = true)]
    seeds: Option<u64>,
    /// Runs in parallel [default: one per core].
    #[arg(long, allow_negative_numbers = true)]
    jobs: Option<usize>,
    /// Run only the I-th of N disjoint slices of the grid (0-based), e.g. 0/4.
    #[arg(long)]
    shard: Option<String>,
    /// Sweep directory [default: runs/<experiment name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip runs already in DIR/results.csv (always done; the flag is for scripts that say so).
    #[arg(long)]
    resume: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Refuse the sweep if any run's estimated memory is above SIZE (e.g. 4G, 512M, 2GiB or
    /// bytes) [default: half the physical memory].
    #[arg(long, value_name = "SIZE", value_parser = rnnlab::resources::parse_size)]
    max_memory: Option<u64>,
}

/// The experiment the arguments describe: the file or the built-in benchmark, with the grid flags
/// replacing those axes.
fn experiment(args: &SweepArgs) -> anyhow::Result<Experiment> {
    let mut axes = args.grid.axes.clone();
    if let Some(n) = args.seeds {
        if n == 0 {
            return Err(UsageError("--seeds: must be at least 1".into()).into());
        }
        rnnlab::resources::check_run_count("seeds", n.into())?;
        if axes.iter().any(|(k, _)| k == "seed") {
            return Err(UsageError("--seeds and --seed: give one or the other".into()).into());
        }
        axes.push(("seed".into(), (0..n).map(|s| s.to_string()).collect()));
    }
    let mut exp = match &args.config {
        Some(path) => Experiment::load(path)?,
        None => Experiment::tanaka_benchmark(),
    };
    if args.config.is_none() && !axes.is_empty() {
        // a grid from flags alone: the benchmark's fixed options, the flags' grid
        exp.grid
            .retain(|k, _| k == "cell" || k == "length" || k == "seed");
        let parts: Vec<String> = axes
            .iter()
            .map(|(k, v)| format!("{k}-{}", v.join("-")))
            .collect();
        exp.name = format!("sweep-{}", file_safe(&parts, MAX_NAME_BYTES - 6));
        exp.description = format!(
            "rnnlab sweep {}",
            axes.iter()
                .map(|(k, v)| format!("--{k} {}", v.join(",")))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    for (k, values) in axes {
        if values.iter().any(|v| v.trim().is_empty()) {
            return Err(UsageError(format!("--{k}: empty value in the list")).into());
        }
        if values.len() == 1 && k != "seed" && !exp.grid.contains_key(&k) {
            // one value is a fixed option, not an axis of the grid
            set_option(&mut exp.base, &k, &values[0])?;
        } else {
            exp.grid
                .insert(k, values.into_iter().map(GridValue::Text).collect());
        }
    }
    exp.normalize();
    rnnlab::resources::check_grid(&exp)?;
    exp.validate()?;
    Ok(exp)
}

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    let exp = experiment(&args)?;
    let shard = args.shard.as_deref().map(str::parse::<Shard>).transpose()?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err(UsageError("--jobs: must be at least 1".into()).into());
    }
    rnnlab::resources::check_sweep(&exp, jobs, args.max_memory)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&exp.name));
    let bars = Bars::new(args.quiet || !std::io::stderr().is_terminal());
    let outcome = run_sweep(&exp, &out, &SweepSettings { jobs, shard }, &bars)?;
    bars.clear();
    outln!(
        "{}: {} runs finished now, {} already done → {}",
        exp.name,
        outcome.ran,
        outcome.skipped,
        out.join("results.csv").display()
    );
    if shard.is_none() {
        report(&out)?;
    } else {
        outln!(
            "shard done; combine the shards with: rnnlab merge OUT {} …",
            out.display()
        );
    }
    Ok(())
}

fn report(dir: &std::path::Path) -> anyhow::Result<()> {
    if marker_kind(dir) != Some(DirKind::Sweep) {
        return Err(UsageError(format!(
            "{}: not an rnnlab sweep directory (no {MARKER_FILE} marker); compare writes its report only into one",
            dir.display()
        ))
        .into());
    }
    let _lock = lock(dir)?;
    let (exp, comparisons) = compare_dir(dir)?;
    write_report(dir, &exp, &comparisons)?;
    out!("{}", comparison_text(&comparisons));
    outln!("report: {}", dir.join("report.md").display());
    Ok(())
}

/// An overall bar and a line for each run in flight, on stderr.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    lines: Mutex<HashMap<usize, ProgressBar>>,
}

impl Bars {
    fn new(hidden: bool) -> Bars {
        let multi = MultiProgress::with_draw_target(if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {elapsed} elapsed, ETA {eta}")
                .expect("a fixed template parses"),
        );
        Bars {
            multi,
            overall,
            lines: Mutex::new(HashMap::new()),
        }
    }
    fn clear(&self) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl SweepObserver for Bars {
    fn planned(&self, pending: usize, _done: usize) {
        self.overall.set_length(pending as u64);
    }
    fn started(&self, run: &RunSpec) {
        let bar = self.multi.add(ProgressBar::new(run.config.steps as u64));
        bar.set_style(
            ProgressStyle::with_template("  {prefix:40} {bar:20} {pos}/{len} {msg}")
                .expect("a fixed template parses"),
        );
        bar.set_prefix(run.id());
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run.index, bar);
    }
    fn progress(&self, run: &RunSpec, p: &Progress) {
        if let Some(bar) = self
            .lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&run.index)
        {
            bar.set_position(p.step as u64);
            let acc = p
                .eval_accuracy
                .map(|a| format!("{a:.2}"))
                .unwrap_or_default();
            bar.set_message(format!("loss {:.3} acc {acc}", p.train_loss));
        }
    }
    fn finished(&self, run: &RunSpec, _row: &ResultRow) {
        if let Some(bar) = self
            .lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&run.index)
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        self.overall.inc(1);
    }
}

#[derive(Args)]
#[command(after_help = "Example:\n  rnnlab merge runs/all shard0 shard1 shard2 shard3")]
pub struct MergeArgs {
    /// The merged sweep directory (created if needed).
    out: PathBuf,
    /// Sweep directories of the same experiment (e.g. the shards of a job array).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
}

pub fn merge(args: MergeArgs) -> anyhow::Result<()> {
    let table = merge_sweeps(&args.out, &args.dirs)?;
    outln!(
        "merged {} runs from {} directories → {}",
        table.rows.len(),
        args.dirs.len(),
        args.out.display()
    );
    report(&args.out)
}

#[derive(Args)]
#[command(after_help = "Example:\n  rnnlab compare runs/tanaka-benchmark")]
pub struct CompareArgs {
    /// A sweep directory (with experiment.ron and results.csv).
    dir: PathBuf,
}

pub fn compare(args: CompareArgs) -> anyhow::Result<()> {
    report(&args.dir)
}
