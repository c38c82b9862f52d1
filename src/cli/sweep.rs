//! `rnnlab sweep`, `rnnlab merge` and `rnnlab compare`.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

use rnnlab::outdir::{lock, marker_kind, DirKind, MARKER_FILE};
use rnnlab::sweep::compare::compare_dir_with;
use rnnlab::sweep::cost::{duration_text, estimated_flops, flops_text, measure_flop_rate};
use rnnlab::sweep::experiment::{file_safe, MAX_NAME_BYTES};
use rnnlab::sweep::merge::merge_sweeps;
use rnnlab::sweep::report::write_report;
use rnnlab::sweep::tables::comparison_text;
use rnnlab::sweep::{
    run_sweep, Experiment, GridValue, ResultRow, RunSpec, Shard, SweepObserver, SweepSettings,
};
use rnnlab::train::options::{help_with_default, set_option, TRAIN_OPTIONS};
use rnnlab::train::{Progress, TrainConfig};

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
        for option in TRAIN_OPTIONS {
            if let Some(values) = m.get_many::<String>(option.name) {
                self.axes
                    .push((option.name.to_string(), values.cloned().collect()));
            }
        }
        Ok(())
    }
}

impl Args for GridArgs {
    fn augment_args(cmd: Command) -> Command {
        TRAIN_OPTIONS.iter().fold(cmd, |cmd, option| {
            cmd.arg(
                Arg::new(option.name)
                    .long(option.name)
                    .help(help_with_default(option))
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
  rnnlab sweep                                          # the built-in Tanaka benchmark (rnn, lstm, lstm-chrono, gru × lengths 5–200 × 5 seeds)
  rnnlab sweep --cell rnn,lstm,gru --length 5,10,20,50,100 --seeds 3   # train's defaults, this grid
  rnnlab sweep --benchmark --cell rnn,gru               # the benchmark's recipe, another grid
  rnnlab sweep --cell rnn,lstm --length 10,20 --dry-run # list the runs and their cost, run nothing
  rnnlab sweep --benchmark --tune lr=0.001,0.003,0.01  # the benchmark, each cell at its best learning rate (chosen on validation data)
  rnnlab sweep --config datasets/experiments/activation.ron --jobs 2
  rnnlab sweep --config X.ron --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT --out shared/X
  rnnlab sweep --config X.ron --slurm --partition short --time 4:00:00 --mem 4G --out /shared/X

Running the same command again into the same directory skips the finished runs.")]
pub struct SweepArgs {
    /// A RON experiment file: name, description, base (fixed options), grid (option → values).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    grid: GridArgs,
    /// Tune an option: OPTION=V1,V2,… (any train option but task, length and seed; repeatable).
    /// Every value is run; compare reports each group at the value with the best mean validation
    /// score over all its lengths and seeds.
    #[arg(long, value_name = "OPTION=V1,V2,…", action = ArgAction::Append, allow_hyphen_values = true)]
    tune: Vec<String>,
    /// Shorthand for --seed 0,1,…,N-1.
    #[arg(long, allow_negative_numbers = true)]
    seeds: Option<u64>,
    /// Runs in parallel [default: the cores / --threads, so one per core when --threads is not
    /// given].
    #[arg(long, allow_negative_numbers = true)]
    jobs: Option<usize>,
    /// Threads of each run (results are identical whatever N) [default: the cores / --jobs, at
    /// least 1].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    threads: Option<usize>,
    /// Run only the I-th of N disjoint slices of the grid (0-based), e.g. 0/4.
    #[arg(long, allow_hyphen_values = true)]
    shard: Option<String>,
    /// Sweep directory [default: runs/<experiment name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip runs already in DIR/results.csv (always done; the flag is for scripts that say so).
    #[arg(long)]
    resume: bool,
    /// Use the built-in benchmark's recipe (hidden 32, Adam at each group's tuned learning rate, up
    /// to 10,000 steps) for the options the grid does not set; --cell picks its groups. Without it
    /// a grid from flags uses train's defaults.
    #[arg(long)]
    benchmark: bool,
    /// Find each group's longest solved length instead of running a length grid: MIN..MAX, e.g.
    /// 10..5000. Per group, the seeds run at MIN, the length doubles while the group solves in at
    /// least half its seeds, then bisects in log length until the bracket's ratio is at most
    /// 2^(1/4). Lengths beyond one that failed are not run. Conflicts with a length axis.
    #[arg(long, value_name = "MIN..MAX", allow_hyphen_values = true)]
    search_length: Option<String>,
    /// List the runs and their estimated cost, and run nothing.
    #[arg(long)]
    dry_run: bool,
    /// No progress bars or progress lines.
    #[arg(long)]
    quiet: bool,
    /// Refuse the sweep if any run's estimated memory is above SIZE (e.g. 4G, 512M, 2GiB or
    /// bytes) [default: half the physical memory].
    #[arg(long, value_name = "SIZE", value_parser = rnnlab::resources::parse_size)]
    max_memory: Option<u64>,
    #[command(flatten)]
    slurm: super::slurm::SlurmArgs,
}

/// The experiment the arguments describe: the file, the built-in benchmark (no grid at all, or
/// `--benchmark`), or train's defaults with the flags' grid.
fn experiment(args: &SweepArgs) -> anyhow::Result<Experiment> {
    let mut axes = args.grid.axes.clone();
    if let Some(n) = args.seeds {
        if n == 0 {
            return Err(UsageError("--seeds: must be at least 1".into()).into());
        }
        rnnlab::sweep::limits::check_run_count("seeds", n.into())?;
        if axes.iter().any(|(k, _)| k == "seed") {
            return Err(UsageError("--seeds and --seed: give one or the other".into()).into());
        }
        axes.push(("seed".into(), (0..n).map(|s| s.to_string()).collect()));
    }
    let tune = tune_flags(&args.tune)?;
    for (k, _) in &tune {
        if axes.iter().any(|(a, _)| a == k) {
            return Err(UsageError(format!("--{k} and --tune {k}: give one or the other")).into());
        }
    }
    if args.config.is_some() && args.benchmark {
        return Err(UsageError("--config and --benchmark: give one or the other".into()).into());
    }
    // the built-in benchmark with no lengths given searches them (the main job); sharded or on
    // Slurm it runs its grid, since a search picks each round's lengths from all its rows
    let benchmark_searches = args.config.is_none()
        && (args.benchmark || (axes.is_empty() && tune.is_empty()))
        && !axes.iter().any(|(k, _)| k == "length")
        && args.search_length.is_none()
        && args.shard.is_none()
        && !args.slurm.wanted();
    let mut exp = match &args.config {
        Some(path) => Experiment::load(path)?,
        None => Experiment::tanaka_benchmark(),
    };
    if args.config.is_none() && (!axes.is_empty() || !tune.is_empty()) {
        let parts: Vec<String> = axes
            .iter()
            .map(|(k, v)| format!("{k}-{}", v.join("-")))
            .chain(
                tune.iter()
                    .map(|(k, v)| format!("tune-{k}-{}", v.join("-"))),
            )
            .collect();
        let prefix = if args.benchmark { "benchmark" } else { "sweep" };
        exp.name = format!(
            "{prefix}-{}",
            file_safe(&parts, MAX_NAME_BYTES - prefix.len() - 1)
        );
        exp.description = format!(
            "rnnlab sweep {}{}",
            if args.benchmark { "--benchmark " } else { "" },
            axes.iter()
                .map(|(k, v)| format!("--{k} {}", v.join(",")))
                .chain(
                    tune.iter()
                        .map(|(k, v)| format!("--tune {k}={}", v.join(","))),
                )
                .collect::<Vec<_>>()
                .join(" ")
        );
        if args.benchmark {
            // the benchmark's recipe; the flags replace the axes they name: --cell picks the
            // groups, any other option replaces the per-group value the recipe sets
            exp.grid.retain(|k, _| k == "length" || k == "seed");
            if let Some(i) = axes.iter().position(|(k, _)| k == "cell") {
                let (_, cells) = axes.remove(i);
                exp.select_cells(&cells)?;
            }
            for (k, _) in axes.iter().chain(&tune) {
                exp.unset_in_variants(k);
            }
        } else {
            // train's defaults, the flags' grid
            exp.base = TrainConfig::default();
            exp.grid.clear();
            exp.variants.clear();
        }
    }
    for (k, values) in tune {
        // the file's own tuned values are replaced by the flag's
        exp.tune
            .insert(k, values.into_iter().map(GridValue::Text).collect());
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
    if let Some(text) = &args.search_length {
        let search = rnnlab::sweep::search::LengthSearch::parse(text)?;
        let from_flags = args.grid.axes.iter().any(|(k, _)| k == "length");
        if from_flags || (args.config.is_some() && exp.grid.contains_key("length")) {
            return Err(UsageError(
                "--search-length and a length axis (--length or the file's grid): give one or the other"
                    .into(),
            )
            .into());
        }
        // the built-in benchmark's length grid gives way to the search
        exp.grid.remove("length");
        exp.search = Some(search);
    } else if benchmark_searches {
        exp.grid.remove("length");
        exp.search = Some(rnnlab::sweep::experiment::benchmark_search());
    }
    exp.normalize();
    rnnlab::sweep::limits::check_grid(&exp)?;
    exp.validate()?;
    if !exp.tune.is_empty() {
        exp.check_hold_out().map_err(|e| match e {
            rnnlab::Error::InvalidOption { field, message } if field == "data" => {
                let tune: Vec<&str> = exp.tune.keys().map(String::as_str).collect();
                anyhow::Error::from(UsageError(format!(
                    "--tune {} with --data {message}",
                    tune.join(",")
                )))
            }
            other => other.into(),
        })?;
    }
    Ok(exp)
}

/// `--tune lr=0.001,0.01 --tune clip=1,5` → [(lr, [0.001, 0.01]), (clip, [1, 5])].
fn tune_flags(flags: &[String]) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut tune: Vec<(String, Vec<String>)> = Vec::new();
    for flag in flags {
        let Some((name, values)) = flag.split_once('=') else {
            return Err(UsageError(format!(
                "--tune: '{flag}' is not OPTION=V1,V2,… (e.g. --tune lr=0.001,0.003,0.01)"
            ))
            .into());
        };
        let name = name.trim().trim_start_matches("--").to_string();
        if !TRAIN_OPTIONS.iter().any(|o| o.name == name) {
            return Err(UsageError(format!(
                "--tune: '{name}' is not a training option (options: {})",
                TRAIN_OPTIONS
                    .iter()
                    .map(|o| o.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
        let values: Vec<String> = values.split(',').map(str::to_string).collect();
        if values.iter().any(|v| v.trim().is_empty()) {
            return Err(UsageError(format!("--tune {name}: empty value in the list")).into());
        }
        if tune.iter().any(|(k, _)| *k == name) {
            return Err(UsageError(format!("--tune {name}: given twice")).into());
        }
        tune.push((name, values));
    }
    Ok(tune)
}

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    args.slurm.check_unused()?;
    let exp = experiment(&args)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(rnnlab::outdir::DEFAULT_ROOT).join(&exp.name));
    if args.slurm.wanted() {
        let conflicts = [
            ("shard", args.shard.is_some()),
            ("dry-run", args.dry_run),
            ("max-memory", args.max_memory.is_some()),
            // the search decides its next lengths from finished rows: it runs in one place
            ("search-length", args.search_length.is_some()),
        ];
        return super::slurm::run(&args.slurm, &exp, &out, args.jobs, args.threads, &conflicts);
    }
    let shard = args.shard.as_deref().map(str::parse::<Shard>).transpose()?;
    if shard.is_some() && exp.search.is_some() {
        return Err(UsageError(
            "--search-length and --shard: the search picks its next lengths from all its rows, so it runs in one directory (give the lengths as a grid to shard them)".into(),
        )
        .into());
    }
    let (jobs, threads) = jobs_and_threads(args.jobs, args.threads, rnnlab::parallel::cores())?;
    // each run's estimate at the threads it will get
    rnnlab::parallel::with_threads(threads, || {
        rnnlab::sweep::limits::check_sweep(&exp, jobs, args.max_memory)
    })?;
    let runs: Vec<RunSpec> = exp
        .runs()?
        .into_iter()
        .filter(|r| shard.is_none_or(|s| s.contains(r.index)))
        .collect();
    if args.dry_run {
        if let Some(search) = exp.search {
            // the search's next round (its later rounds depend on the results)
            let current = rnnlab::sweep::search::current_experiment(&exp, &out)?;
            let runs = current.runs()?;
            let rounds = ((search.max as f64 / search.min as f64).ln() / search.growth.ln()).ceil()
                as usize
                + 1
                + (search.growth.ln() / search.ratio.ln()).ceil() as usize;
            eprintln!(
                "length search {}..{}: the runs at the lengths visited so far below; each later round runs every unfinished group's seeds at one new length, at most {rounds} rounds",
                search.min, search.max
            );
            return dry_run(&current, &out, &runs, jobs, threads);
        }
        return dry_run(&exp, &out, &runs, jobs, threads);
    }
    // printed when the sweep has claimed its directory (Bars::planned), so that a usage error
    // found there comes before any other output
    let mut header = String::new();
    {
        let _ = writeln!(
            header,
            "{}: {} into {}",
            exp.name,
            runs_text(runs.len()),
            out.display()
        );
        let _ = writeln!(
            header,
            "base configuration (every run, before its grid values):"
        );
        let mut line = String::from(" ");
        for option in TRAIN_OPTIONS
            .iter()
            .filter(|o| !exp.grid.contains_key(o.name) && !exp.tune.contains_key(o.name))
        {
            let item = format!(" --{} {}", option.name, (option.get)(&exp.base));
            if line.len() + item.len() > 100 {
                let _ = writeln!(header, "{line}");
                line = String::from(" ");
            }
            line.push_str(&item);
        }
        let _ = writeln!(header, "{line}");
        let grid: Vec<String> = exp
            .axes()
            .iter()
            .map(|a| {
                if exp.tune.contains_key(*a) {
                    format!("{a} (tuned on validation data)")
                } else {
                    a.to_string()
                }
            })
            .collect();
        let _ = writeln!(header, "grid: {}", grid.join(" × "));
        let _ = writeln!(
            header,
            "{} at a time × {threads} thread{} each ({} cores)",
            runs_text(jobs),
            if threads == 1 { "" } else { "s" },
            rnnlab::parallel::cores()
        );
    }
    let bars = Bars::new(
        args.quiet,
        !std::io::stderr().is_terminal(),
        runs.len(),
        exp.search.is_some(),
    );
    *bars.header.lock().unwrap_or_else(|e| e.into_inner()) = (!args.quiet).then_some(header);
    let settings = SweepSettings {
        jobs,
        threads,
        shard,
    };
    if let Some(search) = exp.search {
        let found = rnnlab::sweep::search::run_length_search(&exp, &out, &settings, &bars)?;
        bars.clear();
        let mut text = rnnlab::sweep::search::search_text(&search, &found);
        let current = rnnlab::sweep::search::current_experiment(&exp, &out)?;
        let (failed, curves) =
            rnnlab::sweep::search_curves::write_search_curves(&current, &out, &found)?;
        if !failed.is_empty() {
            text.push_str("how the failed runs above the brackets ended:\n");
            for f in &failed {
                text.push_str(&format!("  {}\n", f.text()));
            }
        }
        outln!("{}", text.trim_end());
        if let Some(path) = curves {
            outln!("{}", path.display());
        }
        outln!(
            "{}: {} runs finished now; lengths visited: {} → {}",
            exp.name,
            found.ran,
            found
                .lengths
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            out.join("results.csv").display()
        );
        rnnlab::outdir::write_atomic(&out.join("search.txt"), text.as_bytes())?;
        if shard.is_none() {
            report(&out, false)?;
        }
        return Ok(());
    }
    let outcome = run_sweep(&exp, &out, &settings, &bars)?;
    bars.clear();
    outln!(
        "{}: {} finished now, {} already done → {}",
        exp.name,
        runs_text(outcome.ran),
        outcome.skipped,
        out.join("results.csv").display()
    );
    if shard.is_none() {
        report(&out, false)?;
    } else {
        outln!(
            "shard done; combine the shards with: rnnlab merge OUT {} …",
            out.display()
        );
    }
    Ok(())
}

fn report(dir: &std::path::Path, all_values: bool) -> anyhow::Result<()> {
    if marker_kind(dir) != Some(DirKind::Sweep) {
        return Err(UsageError(format!(
            "{}: not an rnnlab sweep directory (no {MARKER_FILE} marker); compare writes its report only into one",
            dir.display()
        ))
        .into());
    }
    let _lock = lock(dir)?;
    let (exp, comparisons) = compare_dir_with(dir, all_values)?;
    write_report(dir, &exp, &comparisons)?;
    out!("{}", comparison_text(&comparisons));
    outln!("report: {}", dir.join("report.md").display());
    Ok(())
}

/// `--jobs` and `--threads` of a sweep on `cores` cores: what is not given fills the cores (jobs ×
/// threads ≤ cores when either is left to its default); 0 is a usage error.
pub fn jobs_and_threads(
    jobs: Option<usize>,
    threads: Option<usize>,
    cores: usize,
) -> Result<(usize, usize), UsageError> {
    if jobs == Some(0) {
        return Err(UsageError("--jobs: must be at least 1".into()));
    }
    if threads == Some(0) {
        return Err(UsageError("--threads: must be at least 1".into()));
    }
    let cores = cores.max(1);
    Ok(match (jobs, threads) {
        (Some(j), Some(t)) => (j, t),
        (Some(j), None) => (j, (cores / j).max(1)),
        (None, Some(t)) => ((cores / t).max(1), t),
        (None, None) => (cores, 1),
    })
}

/// `1 run`, `4 runs`.
fn runs_text(n: usize) -> String {
    format!("{n} run{}", if n == 1 { "" } else { "s" })
}

/// `--dry-run`: the runs, their directories and estimated cost, on stdout.
fn dry_run(
    exp: &Experiment,
    out: &std::path::Path,
    runs: &[RunSpec],
    jobs: usize,
    threads: usize,
) -> anyhow::Result<()> {
    let costs = runs
        .iter()
        .map(|r| Ok((r.index, estimated_flops(&r.config)?)))
        .collect::<rnnlab::Result<HashMap<usize, f64>>>()?;
    outln!(
        "{}: {} into {}",
        exp.name,
        runs_text(runs.len()),
        out.display()
    );
    outln!("index,run,directory,estimated_flops");
    for run in runs {
        outln!(
            "{},{},{},{:.3e}",
            run.index,
            run.id(),
            out.join("runs").join(run.dir_name()).display(),
            costs[&run.index]
        );
    }
    let total: f64 = costs.values().sum();
    outln!(
        "total: {} (an upper bound: each run counted at all its steps; early stopping ends runs sooner), {} at a time",
        flops_text(total),
        runs_text(jobs)
    );
    // the time: the work at a speed measured now, on the run with the most work per step
    let costliest = runs.iter().max_by(|a, b| {
        let per_step = |r: &RunSpec| costs[&r.index] / r.config.steps.max(1) as f64;
        per_step(a).total_cmp(&per_step(b))
    });
    if let Some(run) = costliest {
        let rate = measure_flop_rate(&run.config, threads)?;
        let seconds = total / (rate * jobs.min(runs.len()).max(1) as f64);
        outln!(
            "estimated time of the training steps: {} at {:.2} GFLOP/s per run (measured now: a few steps of run {} at {} thread{}), {} at a time; evaluations and gradient probes come on top, early stopping ends runs sooner",
            duration_text(seconds),
            rate / 1e9,
            run.index,
            threads,
            if threads == 1 { "" } else { "s" },
            runs_text(jobs.min(runs.len()).max(1))
        );
    }
    Ok(())
}

/// Sweep progress on stderr: on a terminal an overall bar and a line per run in flight; otherwise
/// (Slurm, CI, a file) a plain line at most every [`PLAIN_EVERY`]. The ETA weights every run by
/// its estimated work ([`estimated_flops`]), counting the finished steps of the runs in flight.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    lines: Mutex<HashMap<usize, ProgressBar>>,
    plain: Option<Mutex<PlainProgress>>,
    /// pending run index → estimated work (set when the sweep plans)
    costs: Mutex<HashMap<usize, f64>>,
    /// work of finished runs, and per run in flight its (done fraction)
    work: Mutex<(f64, HashMap<usize, f64>)>,
    total_runs: usize,
    /// A length search plans once per round: the counts and the ETA are the round's.
    search: bool,
    /// Rounds planned so far.
    rounds: Mutex<usize>,
    /// The configuration lines, printed once the sweep has planned (None: --quiet).
    header: Mutex<Option<String>>,
}

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// The overall bar counts work in these units (per mille).
const WORK_UNITS: u64 = 1000;

struct PlainProgress {
    started: std::time::Instant,
    last: Option<std::time::Instant>,
    finished: usize,
    pending: usize,
    /// When the current round (the whole sweep, unless it searches) was planned.
    round_started: std::time::Instant,
}

impl Bars {
    fn new(quiet: bool, plain: bool, total_runs: usize, search: bool) -> Bars {
        let multi = MultiProgress::with_draw_target(if quiet || plain {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let overall = multi.add(ProgressBar::new(WORK_UNITS));
        overall.set_style(
            ProgressStyle::with_template(
                "{bar:30} {percent:>3}% of the work, {msg}  {elapsed} elapsed, ETA {eta}",
            )
            .expect("a fixed template parses"),
        );
        Bars {
            multi,
            overall,
            lines: Mutex::new(HashMap::new()),
            plain: (plain && !quiet).then(|| {
                Mutex::new(PlainProgress {
                    started: std::time::Instant::now(),
                    last: None,
                    finished: 0,
                    pending: 0,
                    round_started: std::time::Instant::now(),
                })
            }),
            costs: Mutex::new(HashMap::new()),
            work: Mutex::new((0.0, HashMap::new())),
            total_runs,
            search,
            rounds: Mutex::new(0),
            header: Mutex::new(None),
        }
    }

    fn clear(&self) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }

    /// The fraction of the pending work done, updating the overall bar and the plain line.
    fn update_work(&self, force_line: bool) {
        let fraction = {
            let costs = self.costs.lock().unwrap_or_else(|e| e.into_inner());
            let work = self.work.lock().unwrap_or_else(|e| e.into_inner());
            let total: f64 = costs.values().sum();
            let in_flight: f64 = work
                .1
                .iter()
                .map(|(i, f)| f * costs.get(i).copied().unwrap_or(0.0))
                .sum();
            if total > 0.0 {
                ((work.0 + in_flight) / total).clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        self.overall
            .set_position((fraction * WORK_UNITS as f64) as u64);
        if let Some(plain) = &self.plain {
            let mut p = plain.lock().unwrap_or_else(|e| e.into_inner());
            let now = std::time::Instant::now();
            if force_line || p.last.is_none_or(|t| now.duration_since(t) >= PLAIN_EVERY) {
                p.last = Some(now);
                let elapsed = now.duration_since(p.started).as_secs_f64();
                let in_round = now.duration_since(p.round_started).as_secs_f64();
                let eta = if fraction > 0.0 {
                    format!("{:.0} s", in_round * (1.0 - fraction) / fraction)
                } else {
                    "unknown".to_string()
                };
                let (round, work, eta_of) = if self.search {
                    let r = *self.rounds.lock().unwrap_or_else(|e| e.into_inner());
                    (format!("round {r}: "), "the round's work", "round ETA")
                } else {
                    (String::new(), "the work", "ETA")
                };
                eprintln!(
                    "sweep: {round}{}/{} runs finished, {:.0}% of {work}, {:.0} s elapsed, {eta_of} {eta} (work-weighted, an upper bound)",
                    p.finished,
                    p.pending,
                    100.0 * fraction,
                    elapsed
                );
            }
        }
    }
}

impl SweepObserver for Bars {
    fn planned(&self, pending: &[&RunSpec], done: usize) {
        if let Some(header) = self.header.lock().unwrap_or_else(|e| e.into_inner()).take() {
            self.multi.suspend(|| eprint!("{header}"));
        }
        *self.costs.lock().unwrap_or_else(|e| e.into_inner()) = pending
            .iter()
            .map(|r| (r.index, estimated_flops(&r.config).unwrap_or(0.0)))
            .collect();
        // each round of a search starts its own count
        *self.work.lock().unwrap_or_else(|e| e.into_inner()) = (0.0, HashMap::new());
        let round = {
            let mut rounds = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
            *rounds += 1;
            *rounds
        };
        self.overall.set_message(if self.search {
            format!(
                "round {round}: {} to go ({done} already done)",
                runs_text(pending.len())
            )
        } else {
            format!(
                "{} to go ({done} of {} done before)",
                runs_text(pending.len()),
                self.total_runs
            )
        });
        if let Some(plain) = &self.plain {
            let mut p = plain.lock().unwrap_or_else(|e| e.into_inner());
            p.pending = pending.len();
            p.finished = 0;
            p.round_started = std::time::Instant::now();
        }
        self.update_work(true);
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
        self.work
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .insert(run.index, p.step as f64 / p.total.max(1) as f64);
        self.update_work(false);
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
        // one lock at a time (update_work takes costs, then work)
        let cost = self
            .costs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&run.index)
            .copied()
            .unwrap_or(0.0);
        {
            let mut work = self.work.lock().unwrap_or_else(|e| e.into_inner());
            work.1.remove(&run.index);
            work.0 += cost;
        }
        if let Some(plain) = &self.plain {
            plain.lock().unwrap_or_else(|e| e.into_inner()).finished += 1;
        }
        self.update_work(false);
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
        "merged {} from {} directories → {}",
        runs_text(table.rows.len()),
        args.dirs.len(),
        args.out.display()
    );
    // the union of the shards' grids
    let exp = Experiment::load(&args.out.join("experiment.ron"))?;
    let axes: Vec<String> = exp
        .axes()
        .iter()
        .map(|a| format!("{a} {}", exp.axis_values(a).join(",")))
        .collect();
    outln!("grid of the merge: {}", axes.join(" × "));
    report(&args.out, false)
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  rnnlab compare runs/tanaka-benchmark\n  rnnlab compare runs/tuned --all-values   # every value of the tuned options, not only the chosen ones"
)]
pub struct CompareArgs {
    /// A sweep directory (with experiment.ron and results.csv).
    dir: PathBuf,
    /// Show every value of the tuned options (as part of the group) instead of each group at its
    /// chosen value; the choice is still reported.
    #[arg(long)]
    all_values: bool,
}

pub fn compare(args: CompareArgs) -> anyhow::Result<()> {
    report(&args.dir, args.all_values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_times_threads_fill_the_cores_by_default() {
        assert_eq!(jobs_and_threads(None, None, 8).unwrap(), (8, 1));
        assert_eq!(jobs_and_threads(Some(2), None, 8).unwrap(), (2, 4));
        assert_eq!(jobs_and_threads(Some(3), None, 8).unwrap(), (3, 2));
        assert_eq!(jobs_and_threads(None, Some(4), 8).unwrap(), (2, 4));
        assert_eq!(jobs_and_threads(None, Some(16), 8).unwrap(), (1, 16));
        assert_eq!(jobs_and_threads(Some(16), None, 8).unwrap(), (16, 1));
        assert_eq!(jobs_and_threads(Some(2), Some(8), 8).unwrap(), (2, 8));
        assert!(jobs_and_threads(Some(0), None, 8).is_err());
        assert!(jobs_and_threads(None, Some(0), 8).is_err());
    }
}
