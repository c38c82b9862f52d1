//! The fully resolved configuration of a training run: what `config.ron` holds. Every field has a
//! default, so a file may give only what it changes; unknown fields are errors.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::cells::{Activation, CellKind};
use crate::error::{Error, Result};
use crate::init::InitSpec;
use crate::network::{Bptt, ModelSpec};
use crate::optim::{Clip, OptimizerKind, OptimizerSpec};
use crate::tasks::{Task, TaskKind, TaskSpec};

fn is_auto(m: &BpttMemorySetting) -> bool {
    *m == BpttMemorySetting::Auto
}

/// Float type of the training arithmetic. Gradient reports always run in f64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    F64,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        })
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" => Ok(Precision::F32),
            "f64" => Ok(Precision::F64),
            other => Err(Error::invalid(
                "precision",
                format!("unknown precision '{other}' (expected f32 or f64)"),
            )),
        }
    }
}

/// How much of the forward pass the backward pass keeps (`--bptt-memory`). Every choice gives the
/// same bits (checkpointed BPTT is exact, `crate::network::checkpoint`); they differ in memory
/// and time only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BpttMemorySetting {
    /// Full BPTT while the run's estimate fits the memory limit, else the checkpointed schedule
    /// with the least recomputation that fits.
    #[default]
    Auto,
    /// Every step's caches.
    Full,
    /// Checkpoints every ⌈√T⌉ steps (rounded up to a multiple of 64).
    Sqrt,
    /// The longest segments whose BPTT caches and checkpoints fit this many bytes (the fewest
    /// recomputed steps: `network::checkpoint::segments`).
    Budget(u64),
}

impl std::fmt::Display for BpttMemorySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BpttMemorySetting::Auto => f.write_str("auto"),
            BpttMemorySetting::Full => f.write_str("full"),
            BpttMemorySetting::Sqrt => f.write_str("sqrt"),
            BpttMemorySetting::Budget(b) => write!(f, "{b}"),
        }
    }
}

impl std::str::FromStr for BpttMemorySetting {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(BpttMemorySetting::Auto),
            "full" => Ok(BpttMemorySetting::Full),
            "sqrt" => Ok(BpttMemorySetting::Sqrt),
            other => {
                let bytes = crate::resources::parse_size(other).map_err(|_| {
                    Error::invalid(
                        "bptt-memory",
                        format!("{s:?}: expected full, sqrt, auto or a size such as 512M"),
                    )
                })?;
                if bytes == 0 {
                    return Err(Error::invalid(
                        "bptt-memory",
                        "a budget must be above 0 bytes",
                    ));
                }
                Ok(BpttMemorySetting::Budget(bytes))
            }
        }
    }
}

impl Serialize for BpttMemorySetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for BpttMemorySetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The network options of a run (the input and output widths come from the task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelOptions {
    pub cell: CellKind,
    /// φ of the vanilla RNN.
    pub activation: Activation,
    /// Units per layer.
    pub hidden: usize,
    pub layers: usize,
    /// Residual connections between stacked layers.
    pub residual: bool,
    /// Layer normalisation of the vanilla RNN's pre-activation.
    pub layer_norm: bool,
    /// Width of each layer, bottom first; when given it replaces `hidden` and `layers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub widths: Option<Vec<usize>>,
    /// LSTM only: false is Hochreiter & Schmidhuber's 1997 cell, f ≡ 1 (written only when false).
    #[serde(skip_serializing_if = "crate::network::spec::is_true")]
    pub forget_gate: bool,
}

impl ModelOptions {
    /// The width of every layer, bottom first.
    pub fn layer_widths(&self) -> Vec<usize> {
        self.widths
            .clone()
            .unwrap_or_else(|| vec![self.hidden; self.layers])
    }
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            cell: CellKind::Lstm,
            activation: Activation::Tanh,
            hidden: 64,
            layers: 1,
            residual: false,
            layer_norm: false,
            widths: None,
            forget_gate: true,
        }
    }
}

/// Everything that decides a training run. Same config, same build, same machine: bit-identical run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub task: TaskSpec,
    /// Train on the sequences of this dataset file instead of fresh generated batches.
    pub data: Option<PathBuf>,
    /// Evaluate on this dataset file instead of the generated held-out set.
    pub eval_data: Option<PathBuf>,
    pub model: ModelOptions,
    pub init: InitSpec,
    pub optimizer: OptimizerSpec,
    pub clip: Clip,
    /// Sequences per training batch.
    pub batch: usize,
    /// Maximum optimiser steps (training stops earlier when the task counts as solved).
    pub steps: usize,
    /// Truncated BPTT window in steps; None = full BPTT.
    pub bptt: Option<usize>,
    /// How the backward pass holds the forward caches; results do not depend on it.
    #[serde(skip_serializing_if = "is_auto")]
    pub bptt_memory: BpttMemorySetting,
    /// The memory limit the run must fit (`--max-memory`; None: half the machine's). Not part of
    /// the result, so not written to `config.ron`.
    #[serde(skip)]
    pub max_memory: Option<u64>,
    pub seed: u64,
    /// Evaluate every this many steps (and at the end).
    pub eval_every: usize,
    /// Sequences in the fixed held-out evaluation set.
    pub eval_size: usize,
    /// Gradient report every this many steps (0: only at step 0 and at the end).
    pub probe_every: usize,
    /// Sequences in the fixed probe batch of the gradient report.
    pub probe_size: usize,
    /// Learning-over-time probe (gradient profile, signal at the source) every
    /// this many steps, besides step 0 and the end; None: auto
    /// ([`crate::analysis::history::auto_history_every`]: every max(steps/200, 10·passes) steps);
    /// 0: none.
    pub history_every: Option<usize>,
    /// Stop as soon as an evaluation counts as solved.
    pub stop_when_solved: bool,
    pub precision: Precision,
    /// After training, also evaluate at these lengths (length generalisation), on `eval_size`
    /// sequences each from the evaluation stream.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub eval_lengths: Vec<usize>,
    /// With `data`: validate on a held-out part of the file instead of generated sequences, the
    /// last 20% after a shuffle seeded by this value, and train on the rest
    /// ([`super::trainer::hold_out_split`]). A sweep that tunes options on a data file sets it
    /// ([`super::trainer::HOLD_OUT_SEED`]), so the tuned values are chosen on the user's data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_out_seed: Option<u64>,
}

impl Default for TrainConfig {
    /// The default run: the Tanaka task at length 20 with a 64-unit LSTM and Adam; it solves in
    /// a few hundred steps.
    fn default() -> Self {
        TrainConfig {
            task: TaskSpec::new(TaskKind::Tanaka, 20),
            data: None,
            eval_data: None,
            model: ModelOptions::default(),
            init: InitSpec::default(),
            optimizer: OptimizerSpec::new(OptimizerKind::Adam, 1e-3),
            clip: Clip::Norm(1.0),
            batch: 32,
            steps: 2000,
            bptt: None,
            bptt_memory: BpttMemorySetting::Auto,
            max_memory: None,
            seed: 0,
            eval_every: 50,
            eval_size: 256,
            probe_every: 500,
            probe_size: 32,
            history_every: None,
            stop_when_solved: true,
            precision: Precision::F32,
            eval_lengths: Vec::new(),
            hold_out_seed: None,
        }
    }
}

impl TrainConfig {
    /// Reads a RON config file; errors name the file, the line and (where it can be found) the
    /// field.
    pub fn load(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::bad_file(path, format!("cannot read: {e}")))?;
        Self::parse(&text, path)
    }

    /// Parses the text of a config file (`path` is used in errors only).
    pub fn parse(text: &str, path: &Path) -> Result<TrainConfig> {
        ron::from_str(text).map_err(|e| ron_error(path, text, &e))
    }

    /// The config as RON text, every field written out.
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .expect("a config always serialises")
    }

    /// The learning-over-time interval in steps (0: no history), given the passes one point
    /// takes on the run's probe batch ([`crate::analysis::history::history_passes`]; 1 gives the
    /// smallest auto interval, so the most points, an upper bound for memory estimates).
    pub fn history_interval(&self, passes: usize) -> usize {
        self.history_every
            .unwrap_or_else(|| crate::analysis::history::auto_history_every(self.steps, passes))
    }

    pub fn bptt_mode(&self) -> Bptt {
        self.bptt.map_or(Bptt::Full, Bptt::Truncated)
    }

    /// Checks every field once; errors name the field.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("batch", self.batch),
            ("steps", self.steps),
            ("eval_every", self.eval_every),
            ("eval_size", self.eval_size),
            ("probe_size", self.probe_size),
            ("hidden", self.model.hidden),
            ("layers", self.model.layers),
        ] {
            if v == 0 {
                return Err(Error::invalid(field, "must be at least 1"));
            }
        }
        // the task decides which lengths it takes (recall reads length 0, tanaka and copy need
        // 1, adding 2; none more than `tasks::MAX_LENGTH`), so `data check` and `train --data`
        // accept the same files
        Task::new(self.task.clone())?;
        for &length in &self.eval_lengths {
            let mut spec = self.task.clone();
            spec.length = length;
            Task::new(spec).map_err(|e| Error::invalid("eval-lengths", e.to_string()))?;
        }
        if self.hold_out_seed.is_some() && self.data.is_none() {
            return Err(Error::invalid(
                "hold_out_seed",
                "holds out part of a data file for validation: needs data",
            ));
        }
        self.optimizer.validate()?;
        self.clip.validate()?;
        self.init.validate()?;
        crate::network::params::check_chrono(&self.init, self.model.cell)?;
        if self.optimizer.lr_orth.is_some() && !self.model.cell.reparameterised() {
            return Err(Error::invalid(
                "lr-orth",
                format!(
                    "is the learning rate of a parameterised recurrent matrix (exprnn); {} trains its recurrent weights at --lr",
                    self.model.cell
                ),
            ));
        }
        self.bptt_mode().validate()?;
        // the 1997 LSTM has no forget gate, so no forget-gate bias to set (it was accepted and
        // recorded, and did nothing)
        if self.model.cell == CellKind::Lstm && !self.model.forget_gate {
            let set = if self.init.chrono != crate::init::Chrono::Off {
                Some("chrono")
            } else if self.init.forget_bias != crate::init::InitSpec::default().forget_bias {
                Some("forget-bias")
            } else {
                None
            };
            if let Some(option) = set {
                return Err(Error::invalid(
                    option,
                    "sets the forget gate's bias, and --no-forget-gate (forget-gate: false, the 1997 LSTM, f ≡ 1) has no forget gate: drop one of them",
                ));
            }
        }
        Ok(())
    }

    /// The initialisation with `chrono: auto` resolved to T_max = `task`'s longest dependency
    /// ([`Task::longest_dependency`]).
    pub fn resolved_init(&self, task: &Task) -> InitSpec {
        self.init.resolve_chrono(task.longest_dependency())
    }

    /// The network architecture this config trains on `task`.
    pub fn model_spec(&self, task: &Task) -> Result<ModelSpec> {
        let (input, output) = (task.input_kind(), task.output_kind());
        let m = &self.model;
        let spec = ModelSpec {
            cell: m.cell,
            activation: m.activation,
            input,
            hidden: m.layer_widths(),
            output,
            residual: m.residual,
            layer_norm: m.layer_norm,
            forget_gate: m.forget_gate,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// A RON error as one line: file, line, column, the field it is in, and what is wrong.
pub fn ron_error(path: &Path, text: &str, e: &ron::error::SpannedError) -> Error {
    let (line, col) = (e.position.line, e.position.col);
    let field = field_at(text, line, col)
        .map(|f| format!(" (field `{f}`)"))
        .unwrap_or_default();
    Error::bad_file(
        path,
        format!("line {line}, column {col}{field}: {}", e.code),
    )
}

/// The name of the `name:` that the position at (line, col) (1-based) belongs to: the last one
/// before it on the same line, or on the nearest line above.
fn field_at(text: &str, line: usize, col: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut l = line.min(lines.len());
    let mut limit = col;
    while l >= 1 {
        let upto: String = lines[l - 1]
            .chars()
            .take(limit.saturating_sub(1).max(1))
            .collect();
        let mut found = None;
        let bytes: Vec<char> = upto.chars().collect();
        for (i, ch) in bytes.iter().enumerate() {
            if *ch == ':' {
                let name: String = bytes[..i]
                    .iter()
                    .rev()
                    .take_while(|c| c.is_alphanumeric() || **c == '_')
                    .collect();
                if !name.is_empty() {
                    found = Some(name.chars().rev().collect::<String>());
                }
            }
        }
        if found.is_some() {
            return found;
        }
        l -= 1;
        limit = usize::MAX;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_round_trips_through_ron() {
        let c = TrainConfig::default();
        assert_eq!(
            TrainConfig::parse(&c.to_ron(), Path::new("c.ron")).unwrap(),
            c
        );
        c.validate().unwrap();
    }

    #[test]
    fn partial_files_take_defaults_and_errors_name_the_field() {
        let c = TrainConfig::parse("(steps: 7, model: (cell: gru))", Path::new("c.ron")).unwrap();
        assert_eq!((c.steps, c.model.cell, c.batch), (7, CellKind::Gru, 32));
        let err = TrainConfig::parse("(stepz: 7)", Path::new("c.ron"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.ron") && err.contains("stepz"), "{err}");
        let err = TrainConfig::parse("(\n  batch: 4,\n  steps: \"many\",\n)", Path::new("c.ron"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("`steps`"), "{err}");
        let mut c = TrainConfig::default();
        c.optimizer.lr = -1.0;
        assert!(c.validate().unwrap_err().to_string().contains("lr"));
        c = TrainConfig {
            steps: 0,
            ..TrainConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("steps"));
    }
}
