//! `rnnlab train`: one training run into a run directory, with a progress bar and a summary.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

use rnnlab::analysis::gradient_report::GradientProbe;
use rnnlab::optim::OptimizerKind;
use rnnlab::train::options::set_option;
use rnnlab::train::run_dir::{default_run_dir, RunDir};
use rnnlab::train::trainer::{train, Progress, RunData, TrainObserver};
use rnnlab::train::{Precision, TrainConfig};
use rnnlab::{Activation, CellKind, InitScheme};

use super::data::TaskArgs;
use super::report_text::print_run_summary;
use super::UsageError;

/// Every option of a training run; each overrides the value from `--config` (or the default).
#[derive(Args, Debug, Clone, Default)]
pub struct TrainOptions {
    #[command(flatten)]
    pub task: TaskArgs,
    /// Train on the sequences of this dataset file (its task replaces --task).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Evaluate on this dataset file instead of a generated held-out set.
    #[arg(long)]
    pub eval_data: Option<PathBuf>,
    /// rnn, lstm or gru [default: lstm].
    #[arg(long)]
    pub cell: Option<CellKind>,
    /// The vanilla RNN's nonlinearity: tanh, sigmoid or relu [default: tanh].
    #[arg(long)]
    pub activation: Option<Activation>,
    /// Units per layer [default: 64].
    #[arg(long, allow_negative_numbers = true)]
    pub hidden: Option<usize>,
    /// Stacked layers [default: 1].
    #[arg(long, allow_negative_numbers = true)]
    pub layers: Option<usize>,
    /// Width of each layer, bottom first, e.g. 64:32 (replaces --hidden and --layers).
    #[arg(long)]
    pub widths: Option<String>,
    /// Residual connections between stacked layers.
    #[arg(long)]
    pub residual: bool,
    /// Layer normalisation of the vanilla RNN's pre-activation.
    #[arg(long)]
    pub layer_norm: bool,
    /// Scheme of the input and recurrent weights: default, xavier, he, orthogonal, identity, zeros.
    #[arg(long)]
    pub init: Option<InitScheme>,
    /// Scale factor of the input and recurrent weights [default: 1].
    #[arg(long, allow_negative_numbers = true)]
    pub init_scale: Option<f64>,
    /// Scheme of the recurrent weights alone (after --init).
    #[arg(long)]
    pub recurrent_init: Option<InitScheme>,
    /// Scale of the recurrent weights alone (after --init-scale).
    #[arg(long, allow_negative_numbers = true)]
    pub recurrent_scale: Option<f64>,
    /// Scheme of the input weights alone (after --init).
    #[arg(long)]
    pub input_init: Option<InitScheme>,
    /// Scale of the input weights alone (after --init-scale).
    #[arg(long, allow_negative_numbers = true)]
    pub input_scale: Option<f64>,
    /// Biases: default or zeros.
    #[arg(long)]
    pub bias_init: Option<InitScheme>,
    /// LSTM forget-gate bias [default: 1].
    #[arg(long, allow_hyphen_values = true)]
    pub forget_bias: Option<f64>,
    /// sgd, rmsprop or adam [default: adam].
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate [default: 0.001].
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// SGD momentum [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// Clip the gradient's global norm at this value [default: 1]; 0 turns clipping off.
    #[arg(long, allow_hyphen_values = true)]
    pub clip: Option<f64>,
    /// Clip every gradient entry to [-v, v] instead of clipping the norm.
    #[arg(long, allow_negative_numbers = true)]
    pub clip_value: Option<f64>,
    /// Sequences per batch [default: 32].
    #[arg(long, allow_negative_numbers = true)]
    pub batch: Option<usize>,
    /// Maximum training steps [default: 2000].
    #[arg(long, allow_negative_numbers = true)]
    pub steps: Option<usize>,
    /// Truncated BPTT window in steps [default: full BPTT].
    #[arg(long, allow_negative_numbers = true)]
    pub bptt: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Evaluate every N steps [default: 50].
    #[arg(long, allow_negative_numbers = true)]
    pub eval_every: Option<usize>,
    /// Held-out evaluation sequences [default: 256].
    #[arg(long, allow_negative_numbers = true)]
    pub eval_size: Option<usize>,
    /// Gradient report every N steps, besides step 0 and the end (0: only those) [default: 500].
    #[arg(long, allow_negative_numbers = true)]
    pub probe_every: Option<usize>,
    /// Sequences in the gradient report's probe batch [default: 32].
    #[arg(long, allow_negative_numbers = true)]
    pub probe_size: Option<usize>,
    /// Keep training after the task counts as solved.
    #[arg(long)]
    pub no_early_stop: bool,
    /// f32 (default) or f64 training arithmetic (gradient reports are always f64).
    #[arg(long)]
    pub precision: Option<Precision>,
}

impl TrainOptions {
    /// The given options as (option name, value) pairs in the order `set_option` applies them
    /// (the order of `OPTION_NAMES`, so `--init` comes before `--recurrent-init`).
    fn given(&self) -> Vec<(&'static str, String)> {
        fn s<T: ToString>(v: &Option<T>) -> Option<String> {
            v.as_ref().map(T::to_string)
        }
        let t = &self.task;
        let pairs: [(&'static str, Option<String>); 36] = [
            ("task", s(&t.task)),
            ("length", s(&t.length)),
            ("names", s(&t.names)),
            ("distractor-names", s(&t.distractor_names)),
            ("pairs", s(&t.pairs)),
            ("solved", s(&t.solved)),
            ("cell", s(&self.cell)),
            ("activation", s(&self.activation)),
            ("hidden", s(&self.hidden)),
            ("layers", s(&self.layers)),
            ("widths", self.widths.clone()),
            ("residual", self.residual.then(|| "true".to_string())),
            ("layer-norm", self.layer_norm.then(|| "true".to_string())),
            ("init", s(&self.init)),
            ("init-scale", s(&self.init_scale)),
            ("recurrent-init", s(&self.recurrent_init)),
            ("recurrent-scale", s(&self.recurrent_scale)),
            ("input-init", s(&self.input_init)),
            ("input-scale", s(&self.input_scale)),
            ("bias-init", s(&self.bias_init)),
            ("forget-bias", s(&self.forget_bias)),
            ("optimizer", s(&self.optimizer)),
            ("lr", s(&self.lr)),
            ("momentum", s(&self.momentum)),
            ("clip", s(&self.clip)),
            ("clip-value", s(&self.clip_value)),
            ("batch", s(&self.batch)),
            ("steps", s(&self.steps)),
            ("bptt", s(&self.bptt)),
            ("seed", s(&self.seed)),
            ("eval-every", s(&self.eval_every)),
            ("eval-size", s(&self.eval_size)),
            ("probe-every", s(&self.probe_every)),
            ("probe-size", s(&self.probe_size)),
            (
                "early-stop",
                self.no_early_stop.then(|| "false".to_string()),
            ),
            ("precision", s(&self.precision)),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }

    /// Applies every given option onto `config`, with the meaning `rnnlab sweep` gives the same
    /// names (`rnnlab::train::options::set_option`).
    pub fn apply(&self, config: &mut TrainConfig) -> anyhow::Result<()> {
        let t = &self.task;
        let task_given = t.task.is_some()
            || t.length.is_some()
            || t.names.is_some()
            || t.distractor_names.is_some()
            || t.pairs.is_some()
            || t.solved.is_some();
        if self.data.is_some() && task_given {
            return Err(UsageError(
                "--data takes its task from the file; leave out --task and its options".into(),
            )
            .into());
        }
        if self.clip.is_some() && self.clip_value.is_some() {
            return Err(UsageError("--clip and --clip-value: give one or the other".into()).into());
        }
        for (name, value) in self.given() {
            set_option(config, name, &value)?;
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

#[derive(Args)]
#[command(
    after_help = "Examples:\n  rnnlab train                                        # tanaka, lstm, length 20\n  rnnlab train --cell rnn --activation sigmoid --length 30 --out runs/sigmoid30\n  rnnlab train --task adding --length 100 --cell gru --steps 3000\n  rnnlab train --config runs/sigmoid30/config.ron --out runs/again   # repeat a run bit for bit"
)]
pub struct TrainArgs {
    /// A RON config file (a run's config.ron, or any subset of its fields); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    options: TrainOptions,
    /// Run directory [default: runs/<task>-<cell>-L<length>-s<seed>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing run directory.
    #[arg(long)]
    force: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
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
    let mut config = resolve_config(args.config.as_ref(), &args.options)?;
    rnnlab::resources::check_config(&config, args.max_memory)?;
    let data = RunData::prepare(&mut config)?;
    config.model_spec(&data.task)?;
    let out = args.out.clone().unwrap_or_else(|| default_run_dir(&config));
    let mut dir = RunDir::create(&out, &config, args.force)?;
    let bar = if args.quiet || !std::io::stdout().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(config.steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  ETA {eta}")
                .expect("a fixed template parses"),
        );
        bar
    };
    let outcome = {
        let mut observer = BarObserver {
            dir: &mut dir,
            bar: &bar,
        };
        train(&config, &data, &mut observer)?
    };
    bar.finish_and_clear();
    dir.finish(&outcome)?;
    print_run_summary(&out, &config, &outcome)
}

/// Forwards to the run directory and draws progress.
struct BarObserver<'a> {
    dir: &'a mut RunDir,
    bar: &'a ProgressBar,
}

impl TrainObserver for BarObserver<'_> {
    fn on_metric(&mut self, row: &rnnlab::train::MetricRow) -> rnnlab::Result<()> {
        self.dir.on_metric(row)
    }
    fn on_probe(&mut self, probe: &GradientProbe) -> rnnlab::Result<()> {
        self.dir.on_probe(probe)
    }
    fn on_progress(&mut self, p: &Progress) {
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
