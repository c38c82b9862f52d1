//! Every training option, declared once in [`TRAIN_OPTIONS`]: its name (the flag of `rnnlab
//! train`, the key of a sweep grid), its help, how the text of a value sets it in a
//! [`TrainConfig`], and how its current value reads back. The CLI's flags, the sweep grid's
//! flags, the option list in `--help` with its defaults, and `set_option` all come from the table.

use std::str::FromStr;

use super::config::{Precision, TrainConfig};
use crate::cells::{Activation, CellKind};
use crate::error::{Error, Result};
use crate::init::InitScheme;
use crate::optim::{Clip, OptimizerKind};
use crate::tasks::{Lang, TaskKind, TaskSpec, Unit};

/// How an option appears on `rnnlab train`'s command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainFlag {
    /// `--name VALUE`.
    Value(&'static str),
    /// A switch `--flag` that sets the value given here (`--no-early-stop` sets early-stop false).
    Switch {
        flag: &'static str,
        sets: &'static str,
    },
}

/// One training option.
pub struct TrainOption {
    /// Its name: the flag (`--init-scale`), the sweep grid's key and the name in errors.
    pub name: &'static str,
    pub help: &'static str,
    pub flag: TrainFlag,
    /// A task option (these conflict with `--data`, whose file brings the task).
    pub is_task: bool,
    /// Sets the option from the text of a value, as the flag would.
    pub set: fn(&mut TrainConfig, &str) -> Result<()>,
    /// The option's value in a config, as text (what `--help` shows as the default).
    pub get: fn(&TrainConfig) -> String,
    /// A valid value other than the default (for the tests).
    pub example: &'static str,
}

impl std::fmt::Debug for TrainOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrainOption({})", self.name)
    }
}

fn opt_text<T: ToString>(v: &Option<T>, none: &str) -> String {
    v.as_ref().map_or_else(|| none.to_string(), T::to_string)
}

macro_rules! option {
    ($name:literal, $help:expr, $flag:expr, $is_task:expr, $example:literal,
     set: |$c:ident, $v:ident, $n:ident| $set:expr, get: |$g:ident| $get:expr) => {
        TrainOption {
            name: $name,
            help: $help,
            flag: $flag,
            is_task: $is_task,
            set: |$c: &mut TrainConfig, $v: &str| -> Result<()> {
                #[allow(unused_variables)]
                let $n = $name;
                $set;
                Ok(())
            },
            get: |$g: &TrainConfig| -> String { $get },
            example: $example,
        }
    };
}

use TrainFlag::{Switch, Value};

/// Every training option, in the order they are applied (so `init` comes before
/// `recurrent-init`) and in which sweep axes vary (task first, seed last).
pub static TRAIN_OPTIONS: &[TrainOption] = &[
    option!("task", "The task: tanaka, copy, adding or recall.", Value("NAME"), true, "copy",
        set: |c, v, name| {
            let task: TaskKind = parse(name, v)?;
            if task != c.task.task {
                c.task = TaskSpec::new(task, c.task.length);
            }
        },
        get: |c| c.task.task.to_string()),
    option!("length", "Dependency length: tanaka filler phrases (with --unit char: characters between the name and the query), copy T, adding sequence length, recall fillers.", Value("N"), true, "7",
        set: |c, v, name| c.task.length = parse(name, v)?,
        get: |c| c.task.length.to_string()),
    option!("names", "tanaka: how many names are in play.", Value("N"), true, "4",
        set: |c, v, name| c.task.names = Some(parse(name, v)?),
        get: |c| opt_text(&c.task.names, "8")),
    option!("distractor-names", "tanaka: probability that a filler slot holds another name.", Value("P"), true, "0.1",
        set: |c, v, name| c.task.distractor_names = Some(parse(name, v)?),
        get: |c| opt_text(&c.task.distractor_names, "0")),
    option!("unit", "tanaka: one step per phrase (token) or per character of the sentence (char; then --length counts the characters between the end of the name and the query).", Value("UNIT"), true, "char",
        set: |c, v, name| c.task.unit = Some(parse::<Unit>(name, v)?),
        get: |c| opt_text(&c.task.unit, "token")),
    option!("lang", "tanaka: the sentence's language, ja or en (with --unit char the text the network reads; with tokens the language sentences are printed in).", Value("LANG"), true, "en",
        set: |c, v, name| c.task.lang = Some(parse::<Lang>(name, v)?),
        get: |c| opt_text(&c.task.lang, "ja")),
    option!("vocab-file", "tanaka char: add the characters of this UTF-8 text file to the vocabulary (none: only datasets/tanaka.ron's).", Value("FILE"), true, "datasets/tanaka.ron",
        set: |c, v, _name| c.task.characters = match v.trim() {
            "none" => None,
            path => Some(crate::tasks::read_vocabulary_file(std::path::Path::new(path))?),
        },
        get: |c| c.task.characters.as_ref().map_or_else(|| "none".to_string(), |s| format!("({} characters)", s.chars().count()))),
    option!("pairs", "recall: how many key–value pairs.", Value("N"), true, "3",
        set: |c, v, name| c.task.pairs = Some(parse(name, v)?),
        get: |c| opt_text(&c.task.pairs, "4")),
    option!("solved", "The solved threshold: eval accuracy (eval MSE for adding).", Value("X"), true, "0.9",
        set: |c, v, name| c.task.solved = Some(parse(name, v)?),
        get: |c| opt_text(&c.task.solved, "the task's")),
    option!("cell", crate::cells::CELL_HELP, Value("CELL"), false, "gru",
        set: |c, v, name| {
            let cell = parse::<CellKind>(name, v)?;
            // the new cell's own default activation and recurrent initialisation, unless others
            // were asked for (options are applied in this table's order, so --activation and
            // --init come after and win)
            if c.model.activation == c.model.cell.default_activation() {
                c.model.activation = cell.default_activation();
            }
            if c.init.recurrent.scheme == c.model.cell.default_recurrent_init() {
                c.init.recurrent.scheme = cell.default_recurrent_init();
            }
            c.model.cell = cell;
        },
        get: |c| c.model.cell.to_string()),
    option!("activation", "The nonlinearity of rnn, exprnn and lru: tanh, sigmoid or relu (for exprnn relu is modReLU, its default; every other cell's default is tanh).", Value("NAME"), false, "relu",
        set: |c, v, name| c.model.activation = parse::<Activation>(name, v)?,
        get: |c| c.model.activation.to_string()),
    option!("hidden", "Units per layer.", Value("N"), false, "5",
        set: |c, v, name| c.model.hidden = parse(name, v)?,
        get: |c| c.model.hidden.to_string()),
    option!("layers", "Stacked layers.", Value("N"), false, "2",
        set: |c, v, name| c.model.layers = parse(name, v)?,
        get: |c| c.model.layers.to_string()),
    option!("widths", "Width of each layer, bottom first, e.g. 64:32 (replaces --hidden and --layers).", Value("W1:W2:…"), false, "8:4",
    set: |c, v, name| {
        let widths = v
            .split(':')
            .map(|w| parse::<usize>(name, w))
            .collect::<Result<Vec<usize>>>()?;
        c.model.widths = Some(widths);
    },
    get: |c| c.model.widths.as_ref().map_or_else(
        || "--hidden × --layers".to_string(),
        |w| w.iter().map(usize::to_string).collect::<Vec<_>>().join(":"),
    )),
    option!("residual", "Residual connections between stacked layers.", Switch { flag: "residual", sets: "true" }, false, "true",
        set: |c, v, name| c.model.residual = flag(name, v)?,
        get: |c| c.model.residual.to_string()),
    option!("layer-norm", "Layer normalisation of the vanilla RNN's pre-activation.", Switch { flag: "layer-norm", sets: "true" }, false, "true",
        set: |c, v, name| c.model.layer_norm = flag(name, v)?,
        get: |c| c.model.layer_norm.to_string()),
    option!("init", "Scheme of the input and recurrent weights: default, xavier, he, orthogonal, identity, zeros.", Value("SCHEME"), false, "orthogonal",
        set: |c, v, name| {
            let scheme: InitScheme = parse(name, v)?;
            c.init.input.scheme = scheme;
            c.init.recurrent.scheme = scheme;
            if scheme != InitScheme::Default {
                c.init.bias.scheme = InitScheme::Zeros;
            }
        },
        get: |c| c.init.input.scheme.to_string()),
    option!("init-scale", "Scale factor of the input and recurrent weights.", Value("X"), false, "0.5",
        set: |c, v, name| {
            let x = parse(name, v)?;
            c.init.input.scale = x;
            c.init.recurrent.scale = x;
        },
        get: |c| c.init.input.scale.to_string()),
    option!("recurrent-init", "Scheme of the recurrent weights alone (after --init); also henaff or cayley, block-diagonal rotations (expRNN: its skew matrix's angles; henaff is its default).", Value("SCHEME"), false, "identity",
        set: |c, v, name| c.init.recurrent.scheme = parse(name, v)?,
        get: |c| c.init.recurrent.scheme.to_string()),
    option!("recurrent-scale", "Scale of the recurrent weights alone (after --init-scale).", Value("X"), false, "1.2",
        set: |c, v, name| c.init.recurrent.scale = parse(name, v)?,
        get: |c| c.init.recurrent.scale.to_string()),
    option!("input-init", "Scheme of the input weights alone (after --init).", Value("SCHEME"), false, "xavier",
        set: |c, v, name| c.init.input.scheme = parse(name, v)?,
        get: |c| c.init.input.scheme.to_string()),
    option!("input-scale", "Scale of the input weights alone (after --init-scale).", Value("X"), false, "2",
        set: |c, v, name| c.init.input.scale = parse(name, v)?,
        get: |c| c.init.input.scale.to_string()),
    option!("bias-init", "Biases: default or zeros.", Value("SCHEME"), false, "zeros",
        set: |c, v, name| c.init.bias.scheme = parse(name, v)?,
        get: |c| c.init.bias.scheme.to_string()),
    option!("forget-bias", "LSTM forget-gate bias.", Value("X"), false, "0",
        set: |c, v, name| c.init.forget_bias = parse(name, v)?,
        get: |c| c.init.forget_bias.to_string()),
    option!("forget-gate", "LSTM: --no-forget-gate is Hochreiter & Schmidhuber's 1997 cell, f ≡ 1 (the constant error carousel).", Switch { flag: "no-forget-gate", sets: "false" }, false, "false",
        set: |c, v, name| c.model.forget_gate = flag(name, v)?,
        get: |c| c.model.forget_gate.to_string()),
    option!("chrono", "LSTM/GRU chrono initialisation (Tallec & Ollivier 2018): the gate that keeps the state gets bias ln U[1, T_max − 1] (LSTM: b_i = −b_f; other biases 0; replaces --forget-bias). off, auto (T_max = the task's longest dependency) or T_max.", Value("off|auto|T_MAX"), false, "auto",
        set: |c, v, name| c.init.chrono = parse(name, v)?,
        get: |c| c.init.chrono.to_string()),
    option!("optimizer", "sgd, rmsprop or adam.", Value("NAME"), false, "sgd",
        set: |c, v, name| c.optimizer.kind = parse::<OptimizerKind>(name, v)?,
        get: |c| c.optimizer.kind.to_string()),
    option!("lr", "Learning rate.", Value("X"), false, "0.1",
        set: |c, v, name| c.optimizer.lr = parse(name, v)?,
        get: |c| c.optimizer.lr.to_string()),
    option!("lr-orth", "Learning rate of the orthogonal parameterisation (expRNN's skew matrix); the rest trains at --lr. `lr` (the default): --lr. expRNN's authors use --lr / 10.", Value("X"), false, "0.0001",
        set: |c, v, name| c.optimizer.lr_orth = match v.trim() {
            "lr" => None,
            _ => Some(parse(name, v)?),
        },
        get: |c| opt_text(&c.optimizer.lr_orth, "lr")),
    option!("momentum", "SGD momentum.", Value("X"), false, "0.9",
        set: |c, v, name| c.optimizer.momentum = parse(name, v)?,
        get: |c| c.optimizer.momentum.to_string()),
    option!("clip", "Clip the gradient's global norm at this value; 0 turns clipping off.", Value("X"), false, "0",
    set: |c, v, name| {
        let x: f64 = parse(name, v)?;
        c.clip = if x == 0.0 { Clip::None } else { Clip::Norm(x) };
    },
    get: |c| match c.clip {
        Clip::Norm(x) => x.to_string(),
        _ => "0".to_string(),
    }),
    option!("clip-value", "Clip every gradient entry to [-v, v] instead of clipping the norm.", Value("X"), false, "1",
    set: |c, v, name| c.clip = Clip::Value(parse(name, v)?),
    get: |c| match c.clip {
        Clip::Value(x) => x.to_string(),
        _ => "off".to_string(),
    }),
    option!("batch", "Sequences per batch.", Value("N"), false, "3",
        set: |c, v, name| c.batch = parse(name, v)?,
        get: |c| c.batch.to_string()),
    option!("steps", "Maximum training steps.", Value("N"), false, "9",
        set: |c, v, name| c.steps = parse(name, v)?,
        get: |c| c.steps.to_string()),
    option!("bptt", "Truncated BPTT window in steps; 0 is full BPTT.", Value("K"), false, "4",
        set: |c, v, name| {
            let k: usize = parse(name, v)?;
            c.bptt = (k > 0).then_some(k);
        },
        get: |c| c.bptt.map_or_else(|| "0 (full)".to_string(), |k| k.to_string())),
    option!("bptt-memory", "What the backward pass keeps of the forward pass: full (every step), sqrt (the state every ~sqrt(T) steps; each segment is recomputed), a byte budget for the BPTT caches (e.g. 256M: the longest segments that fit), or auto (full while the run fits the memory limit). Exact: every choice gives the same bits.", Value("MODE"), false, "sqrt",
        set: |c, v, _name| c.bptt_memory = v.parse()?,
        get: |c| c.bptt_memory.to_string()),
    option!("seed", "Seed of the weights, the training batches, the evaluation set and the probe batch.", Value("N"), false, "5",
        set: |c, v, name| c.seed = parse(name, v)?,
        get: |c| c.seed.to_string()),
    option!("eval-every", "Evaluate every N steps (and at the end).", Value("N"), false, "2",
        set: |c, v, name| c.eval_every = parse(name, v)?,
        get: |c| c.eval_every.to_string()),
    option!("eval-size", "Held-out evaluation sequences.", Value("N"), false, "8",
        set: |c, v, name| c.eval_size = parse(name, v)?,
        get: |c| c.eval_size.to_string()),
    option!("probe-every", "Gradient report every N steps, besides step 0 and the end (0: only those).", Value("N"), false, "0",
        set: |c, v, name| c.probe_every = parse(name, v)?,
        get: |c| c.probe_every.to_string()),
    option!("probe-size", "Sequences in the gradient report's probe batch.", Value("N"), false, "2",
        set: |c, v, name| c.probe_size = parse(name, v)?,
        get: |c| c.probe_size.to_string()),
    option!("history-every", "Learning over time: gradient profile and signal at the source every N steps, besides step 0 and the end, beside the eval accuracy of every --eval-every (plots/gradient_history.svg, plots/learning_over_time.svg); auto: every max(steps/200, 10·p) steps, p the backward passes a probe takes (1 for tanaka, recall and adding; the recall steps for copy), so the default run (solved at step 300) gets 31 probes; 0: none.", Value("N|auto"), false, "25",
        set: |c, v, name| {
            c.history_every = match v.trim() {
                "auto" => None,
                n => Some(n.parse().map_err(|_| {
                    Error::invalid(name, format!("'{v}' is neither a step count (0, 1, 2, …) nor auto"))
                })?),
            };
        },
        get: |c| opt_text(&c.history_every, "auto")),
    option!("early-stop", "Stop when the task counts as solved (train: --no-early-stop keeps training).", Switch { flag: "no-early-stop", sets: "false" }, false, "false",
        set: |c, v, name| c.stop_when_solved = flag(name, v)?,
        get: |c| c.stop_when_solved.to_string()),
    option!("eval-lengths", "After training, also evaluate at these lengths, e.g. 40:80 (length generalisation).", Value("L1:L2:…"), false, "40:80",
    set: |c, v, name| {
        c.eval_lengths = if v.trim().is_empty() || v.trim() == "none" {
            Vec::new()
        } else {
            v.split(':')
                .map(|l| parse::<usize>(name, l))
                .collect::<Result<Vec<usize>>>()?
        };
    },
    get: |c| if c.eval_lengths.is_empty() {
        "none".to_string()
    } else {
        c.eval_lengths.iter().map(usize::to_string).collect::<Vec<_>>().join(":")
    }),
    option!("precision", "f32 or f64 training arithmetic (gradient reports are always f64).", Value("P"), false, "f64",
        set: |c, v, name| c.precision = parse::<Precision>(name, v)?,
        get: |c| c.precision.to_string()),
];

/// The names of every option, in [`TRAIN_OPTIONS`] order.
pub fn option_names() -> impl Iterator<Item = &'static str> {
    TRAIN_OPTIONS.iter().map(|o| o.name)
}

/// The option called `name`.
pub fn find_option(name: &str) -> Option<&'static TrainOption> {
    TRAIN_OPTIONS.iter().find(|o| o.name == name)
}

/// The option's help line with its default: `Units per layer. [default: 64]`.
pub fn help_with_default(option: &TrainOption) -> String {
    format!(
        "{} [default: {}]",
        option.help,
        (option.get)(&TrainConfig::default())
    )
}

fn parse<T: FromStr>(name: &str, value: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    value.trim().parse::<T>().map_err(|e| {
        let text = e.to_string();
        let text = text
            .strip_prefix(&format!("invalid {name}: "))
            .unwrap_or(&text);
        Error::invalid(name, format!("'{value}': {text}"))
    })
}

fn flag(name: &str, value: &str) -> Result<bool> {
    match value.trim() {
        "true" | "on" | "yes" => Ok(true),
        "false" | "off" | "no" => Ok(false),
        other => Err(Error::invalid(
            name,
            format!("'{other}' is not true or false"),
        )),
    }
}

/// Sets option `name` of `config` to `value`, as the flag `--name value` would.
pub fn set_option(config: &mut TrainConfig, name: &str, value: &str) -> Result<()> {
    match find_option(name) {
        Some(option) => (option.set)(config, value),
        None => Err(Error::invalid(
            name,
            format!(
                "is not an option a sweep can vary (options: {})",
                option_names().collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_option_can_be_set_and_unknown_ones_are_named() {
        for option in TRAIN_OPTIONS {
            let mut c = TrainConfig::default();
            set_option(&mut c, option.name, option.example).unwrap();
            assert_ne!(c, TrainConfig::default(), "{} changed nothing", option.name);
            assert_ne!(
                (option.get)(&c),
                (option.get)(&TrainConfig::default()),
                "{} reads back its default",
                option.name
            );
        }
        let mut c = TrainConfig::default();
        let err = set_option(&mut c, "colour", "red").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        let err = set_option(&mut c, "cell", "cnn").unwrap_err().to_string();
        assert!(err.contains("cell") && err.contains("cnn"), "{err}");
        assert_eq!(
            help_with_default(find_option("hidden").unwrap()),
            "Units per layer. [default: 64]"
        );
    }
}
