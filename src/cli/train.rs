//! `rnnlab train`: one training run into a run directory, with a progress bar and a summary.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

use rnnlab::analysis::gradient_report::GradientProbe;
use rnnlab::train::options::{
    find_option, help_with_default, set_option, TrainFlag, TRAIN_OPTIONS,
};
use rnnlab::train::run_dir::{default_run_dir, RunDir};
use rnnlab::train::trainer::{train, Progress, RunData, TrainObserver};
use rnnlab::train::TrainConfig;

use super::report_text::print_run_summary;
use super::UsageError;

/// Every option of a training run (one flag per entry of
/// [`rnnlab::train::options::TRAIN_OPTIONS`]), plus the dataset files; each overrides the value
/// from `--config` (or the default).
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// (option name, value text) for every option given, in the table's order.
    pub given: Vec<(&'static str, String)>,
    /// Train on the sequences of this dataset file (its task replaces --task).
    pub data: Option<PathBuf>,
    /// Evaluate on this dataset file instead of a generated held-out set.
    pub eval_data: Option<PathBuf>,
}

impl FromArgMatches for TrainOptions {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut o = TrainOptions::default();
        o.update_from_arg_matches(m)?;
        Ok(o)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        for option in TRAIN_OPTIONS {
            let value = match option.flag {
                TrainFlag::Value(_) => m.get_one::<String>(option.name).cloned(),
                TrainFlag::Switch { flag, sets } => m.get_flag(flag).then(|| sets.to_string()),
            };
            if let Some(value) = value {
                self.given.retain(|(k, _)| *k != option.name);
                self.given.push((option.name, value));
            }
        }
        if let Some(p) = m.get_one::<PathBuf>("data") {
            self.data = Some(p.clone());
        }
        if let Some(p) = m.get_one::<PathBuf>("eval-data") {
            self.eval_data = Some(p.clone());
        }
        Ok(())
    }
}

impl Args for TrainOptions {
    fn augment_args(cmd: Command) -> Command {
        let cmd = cmd
            .arg(
                Arg::new("data")
                    .long("data")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help(
                        "Train on the sequences of this dataset file (its task replaces --task).",
                    ),
            )
            .arg(
                Arg::new("eval-data")
                    .long("eval-data")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("Evaluate on this dataset file instead of a generated held-out set."),
            );
        TRAIN_OPTIONS.iter().fold(cmd, |cmd, option| {
            let arg = match option.flag {
                TrainFlag::Value(value_name) => Arg::new(option.name)
                    .long(option.name)
                    .value_name(value_name)
                    .allow_hyphen_values(true),
                TrainFlag::Switch { flag, .. } => {
                    Arg::new(flag).long(flag).action(ArgAction::SetTrue)
                }
            };
            cmd.arg(arg.help(help_with_default(option)))
        })
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl TrainOptions {
    /// Applies every given option onto `config`, in the table's order, with the meaning a sweep
    /// gives the same names.
    pub fn apply(&self, config: &mut TrainConfig) -> anyhow::Result<()> {
        let given = |name: &str| self.given.iter().any(|(k, _)| *k == name);
        if self.data.is_some() && self.given.iter().any(|(k, _)| is_task_option(k)) {
            return Err(UsageError(
                "--data takes its task from the file; leave out --task and its options".into(),
            )
            .into());
        }
        if given("clip") && given("clip-value") {
            return Err(UsageError("--clip and --clip-value: give one or the other".into()).into());
        }
        for (name, value) in &self.given {
            set_option(config, name, value).map_err(|e| match e {
                // a flag's error names the flag
                rnnlab::Error::InvalidOption { field, message } if field == *name => {
                    rnnlab::Error::invalid(format!("--{name}"), message)
                }
                other => other,
            })?;
        }
        if let Some(path) = &self.data {
            config.data = Some(path.clone());
        }
        if let Some(path) = &self.eval_data {
            config.eval_data = Some(path.clone());
        }
        Ok(())
    }
}

fn is_task_option(name: &str) -> bool {
    find_option(name).is_some_and(|o| o.is_task)
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  rnnlab train                                        # tanaka, lstm, length 20\n  rnnlab train --cell rnn --activation sigmoid --length 30 --out runs/sigmoid30\n  rnnlab train --task adding --length 100 --cell gru --steps 3000\n  rnnlab train --task tanaka --unit char --length 60 --watch   # characters, live view\n  rnnlab train --config runs/sigmoid30/config.ron --out runs/again   # repeat a run bit for bit"
)]
pub struct TrainArgs {
    /// A RON config file (a run's config.ron, or any subset of its fields); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    options: TrainOptions,
    /// Run directory [default: runs/<task>-<cell>-L<length>-s<seed>; with --unit char the task is tanaka-char, or tanaka-char-en with --lang en, and --vocab-file adds -vocab and a hash of its characters].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing run directory.
    #[arg(long)]
    force: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// A live view while training (loss and accuracy, the gradient profile, the signal at the
    /// source, the lit sentence); q or Ctrl-C stops after the step in progress, leaving the run
    /// directory as an interrupted run's. Plain progress lines when stdout is not a terminal.
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    threads: super::ThreadsArg,
    /// Refuse a run whose estimated memory is above SIZE (e.g. 4G, 512M, 2GiB or bytes)
    /// [default: half the physical memory].
    #[arg(long, value_name = "SIZE", value_parser = rnnlab::resources::parse_size)]
    max_memory: Option<u64>,
}

/// Builds the resolved config: defaults, then the file, then the flags; checks it once.
pub fn resolve_config(
    config_file: Option<&PathBuf>,
    options: &TrainOptions,
) -> anyhow::Result<TrainConfig> {
    let mut config = match config_file {
        Some(path) => TrainConfig::load(path)?,
        None => TrainConfig::default(),
    };
    options.apply(&mut config)?;
    config.validate()?;
    Ok(config)
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    if args.watch && args.quiet {
        return Err(UsageError(
            "--watch and --quiet: the live view is progress; give one or the other".into(),
        )
        .into());
    }
    args.threads.apply()?;
    let mut config = resolve_config(args.config.as_ref(), &args.options)?;
    config.max_memory = args.max_memory;
    rnnlab::resources::check_config(&config, args.max_memory)?;
    let data = RunData::prepare(&mut config)?;
    config.model_spec(&data.task)?;
    let out = args.out.clone().unwrap_or_else(|| default_run_dir(&config));
    let mut dir = RunDir::create(&out, &config, args.force)?;
    if args.watch && std::io::stdout().is_terminal() {
        return watch(dir, &out, &config, &data);
    }
    let terminal = std::io::stderr().is_terminal();
    let bar = if args.quiet || !terminal {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(config.steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  ETA {eta}")
                .expect("a fixed template parses"),
        );
        bar
    };
    let plain = (!args.quiet && !terminal).then(|| PlainLines::new(&out));
    let outcome = {
        let mut observer = BarObserver {
            dir: &mut dir,
            bar: &bar,
            plain,
        };
        train(&config, &data, &mut observer)?
    };
    bar.finish_and_clear();
    dir.finish(&outcome)?;
    print_run_summary(&out, &config, &outcome)?;
    print_memory(&config, &data)
}

/// The run's memory estimate (what `--max-memory` is checked against) beside the process's
/// measured peak resident memory, so the estimate can be held to what the run took.
fn print_memory(config: &TrainConfig, data: &RunData) -> anyhow::Result<()> {
    use rnnlab::resources::{estimate_run, memory_limit, resolve_bptt_memory};
    let limit = memory_limit(config.max_memory);
    let schedule = match resolve_bptt_memory(config, &data.task, limit)
        .ok()
        .and_then(|m| m.segment(data.task.steps()))
    {
        Some(s) => format!("BPTT in segments of {s} steps"),
        None => "full BPTT".to_string(),
    };
    let mib = |bytes: u128| bytes as f64 / f64::from(1u32 << 20);
    outln!(
        "memory: estimated {:.1} MiB ({schedule}), peak resident {:.1} MiB (getrusage, this process)",
        mib(estimate_run(config, &data.task).bytes),
        mib(u128::from(rnnlab::bench::peak_rss_bytes()))
    );
    Ok(())
}

/// `--watch` on a terminal: the live view, then the summary as without it; stopped by a key, the
/// run directory keeps what was finished and the command says so (exit 0).
fn watch(
    mut dir: RunDir,
    out: &std::path::Path,
    config: &TrainConfig,
    data: &RunData,
) -> anyhow::Result<()> {
    use rnnlab::train::watch::WatchState;
    let texts = data
        .probe
        .first()
        .and_then(|s| data.task.step_texts(s, data.task.lang()));
    let title = format!(
        "{} {} L{} s{}",
        data.task.label(),
        config.model.cell,
        config.task.length,
        config.seed
    );
    let state = WatchState::new(title, config.steps, texts);
    let screen = super::watch::Screen::open()?;
    let mut observer = super::watch::WatchObserver::new(&mut dir, state, screen);
    let result = train(config, data, &mut observer);
    let stopped = observer.stopped;
    let step = observer.state.step;
    drop(observer);
    match (result, stopped) {
        (Ok(outcome), _) => {
            dir.finish(&outcome)?;
            print_run_summary(out, config, &outcome)
        }
        (Err(_), Some(super::watch::Stop::Key(key))) => {
            drop(dir);
            eprintln!(
                "train {}: stopped by {key} at step {step}; metrics.csv and the gradient files hold every finished step (no summary or model: the run did not end)",
                out.display()
            );
            Ok(())
        }
        (Err(e), None) => Err(e.into()),
    }
}

/// Forwards to the run directory and draws progress: a bar on a terminal, else plain lines.
struct BarObserver<'a> {
    dir: &'a mut RunDir,
    bar: &'a ProgressBar,
    plain: Option<PlainLines>,
}

/// When stderr is not a terminal (Slurm, CI, a log file): one progress line at most every
/// [`PlainLines::EVERY`].
struct PlainLines {
    name: String,
    started: std::time::Instant,
    last: std::time::Instant,
}

impl PlainLines {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    fn new(out: &std::path::Path) -> PlainLines {
        let now = std::time::Instant::now();
        PlainLines {
            name: out.display().to_string(),
            started: now,
            last: now,
        }
    }

    fn progress(&mut self, p: &Progress) {
        let now = std::time::Instant::now();
        if now.duration_since(self.last) < Self::EVERY {
            return;
        }
        self.last = now;
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let acc = p
            .eval_accuracy
            .map(|a| format!("{a:.3}"))
            .unwrap_or_else(|| "-".into());
        eprintln!(
            "train {}: step {}/{} ({:.0}%), loss {:.4}, eval acc {acc}, {:.0} s elapsed, at most {:.0} s to go",
            self.name,
            p.step,
            p.total,
            100.0 * p.step as f64 / p.total.max(1) as f64,
            p.train_loss,
            elapsed,
            elapsed * (p.total.saturating_sub(p.step)) as f64 / p.step.max(1) as f64
        );
    }
}

impl TrainObserver for BarObserver<'_> {
    fn on_metric(&mut self, row: &rnnlab::train::MetricRow) -> rnnlab::Result<()> {
        self.dir.on_metric(row)
    }
    fn on_probe(&mut self, probe: &GradientProbe) -> rnnlab::Result<()> {
        self.dir.on_probe(probe)
    }
    fn on_history(
        &mut self,
        point: &rnnlab::analysis::history::HistoryPoint,
    ) -> rnnlab::Result<()> {
        self.dir.on_history(point)
    }
    fn on_progress(&mut self, p: &Progress) {
        if let Some(plain) = &mut self.plain {
            plain.progress(p);
        }
        self.bar.set_position(p.step as u64);
        let acc = p
            .eval_accuracy
            .map(|a| format!("{a:.3}"))
            .unwrap_or_else(|| "-".into());
        self.bar.set_message(format!(
            "loss {:.4}  eval acc {acc}  clipped {:.0}%",
            p.train_loss,
            100.0 * p.clip_rate
        ));
    }
}
