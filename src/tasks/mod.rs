//! Synthetic long-dependency tasks (issue 3): `tanaka`, `copy`, `adding` and `recall`.
//!
//! A [`TaskSpec`] names a task, its dependency length and its options; it is plain serde data so a
//! training configuration can embed it. [`Task::new`] checks it once and gives a [`Task`], which
//! generates [`Sequence`]s from a seed, knows its loss mask, probe step, distances, memoryless
//! baseline and solved criterion, and collates sequences into the engine's [`Batch`] layout.
//!
//! Dimension letters: T time (steps of one sequence), B batch, I input width, O output width.

mod adding;
mod collate;
mod copy;
pub mod dataset_file;
mod recall;
mod sequence;
mod spec;
mod tanaka;
mod tanaka_chars;
mod vocabulary;

pub use collate::{LossWeighting, Predictions};
pub use dataset_file::{
    dataset_task, load_dataset, parse_dataset, save_dataset, write_dataset, write_dataset_json,
    Dataset,
};
pub use sequence::{Sequence, SequenceInputs, SequenceTargets};
pub use spec::{normalised_characters, read_vocabulary_file, TaskKind, TaskSpec, Unit};
pub use tanaka::TanakaVocabulary;
pub use vocabulary::Vocabulary;

use crate::error::{Error, Result};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// The longest dependency `length` a task takes: a million steps. Every step count and position a
/// task computes stays far below `usize::MAX`, and a length above this is refused with one line
/// naming `length` (the memory estimate of `crate::resources` then bounds the rest).
pub const MAX_LENGTH: usize = 1_000_000;

pub use crate::batch::{InputKind, OutputKind};

/// A target and the input step its evidence comes from; `distance = target_step - evidence_step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependency {
    pub target_step: usize,
    pub evidence_step: usize,
}

impl Dependency {
    /// How many steps back the evidence lies.
    pub fn distance(&self) -> usize {
        self.target_step - self.evidence_step
    }
}

/// What a memoryless predictor scores: one that sees the step index but nothing it has read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Its mean loss over the loss steps (cross-entropy in nats, or mean squared error).
    pub loss: f64,
    /// Its accuracy by the task's accuracy definition (chance level for classification tasks).
    pub accuracy: f64,
}

impl Baseline {
    /// A uniform guess over `classes` classes: cross-entropy ln(classes), accuracy 1/classes.
    pub fn uniform_guess(classes: usize) -> Baseline {
        Baseline {
            loss: (classes as f64).ln(),
            accuracy: 1.0 / classes as f64,
        }
    }
}

/// Which evaluation number decides "solved", and the threshold it must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Solved {
    /// Solved when eval accuracy ≥ the threshold.
    AccuracyAtLeast(f64),
    /// Solved when eval mean squared error ≤ the threshold.
    MseAtMost(f64),
}

impl Solved {
    /// The classification tasks' default: eval accuracy at least 0.99.
    pub const NEAR_PERFECT_ACCURACY: Solved = Solved::AccuracyAtLeast(0.99);

    /// Whether an evaluation with this mean loss and accuracy counts as solved.
    pub fn is_met(&self, mean_loss: f64, accuracy: f64) -> bool {
        match *self {
            Solved::AccuracyAtLeast(threshold) => accuracy >= threshold,
            Solved::MseAtMost(threshold) => mean_loss <= threshold,
        }
    }
}

/// Output language for [`Task::render`]; only `tanaka` has words to translate (and, with
/// `unit: char`, reads them). Written `ja` / `en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn name(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Lang {
    type Err = Error;

    fn from_str(s: &str) -> Result<Lang> {
        [Lang::Ja, Lang::En]
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                invalid(
                    "lang",
                    format!("unknown language {s:?}; the languages are ja, en"),
                )
            })
    }
}

/// The memoryless predictor's output at one step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MemorylessOutput {
    /// A probability for each class.
    Probabilities(Vec<f64>),
    /// A predicted value vector.
    Values(Vec<f64>),
}

impl MemorylessOutput {
    /// The same probability, 1/classes, for each of `classes` classes.
    pub(crate) fn uniform(classes: usize) -> MemorylessOutput {
        MemorylessOutput::Probabilities(vec![1.0 / classes as f64; classes])
    }
}

/// The behaviour each task supplies; [`Task`] adds the shared checks and the batch layout.
pub(crate) trait TaskDef: std::fmt::Debug + Send + Sync {
    /// T: steps of every sequence.
    fn steps(&self) -> usize;
    fn input_kind(&self) -> InputKind;
    fn output_kind(&self) -> OutputKind;
    /// The steps that carry a loss, ascending.
    fn loss_steps(&self) -> Vec<usize>;
    /// The steps the accuracy is taken over, ascending; a subset of the loss steps.
    fn scored_steps(&self) -> Vec<usize> {
        self.loss_steps()
    }
    fn probe_step(&self) -> usize;
    /// Draws one sequence.
    fn generate(&self, rng: &mut ChaCha8Rng) -> Sequence;
    /// For each target that recalls something, the step its evidence lies at.
    fn dependencies(&self, seq: &Sequence) -> Vec<Dependency>;
    /// Checks a sequence's content (shapes, vocabulary and mask are already checked).
    fn check_content(&self, seq: &Sequence) -> std::result::Result<(), String>;
    fn memoryless(&self, step: usize) -> MemorylessOutput;
    fn baseline(&self) -> Baseline;
    fn default_solved(&self) -> Solved;
    /// Largest absolute error at which a real-valued target counts as correct.
    fn value_tolerance(&self) -> f64 {
        0.0
    }
    /// Input tokens as written in dataset files (token tasks only).
    fn input_vocabulary(&self) -> Option<&Vocabulary>;
    /// Class names as written in dataset files (classification tasks only).
    fn class_vocabulary(&self) -> Option<&Vocabulary>;
    /// One line a person can read, ending in `→ answer`.
    fn render(&self, seq: &Sequence, lang: Lang) -> String;
    /// The text each step reads, for tasks that are sentences (tanaka): None for the others.
    fn step_texts(&self, _seq: &Sequence, _lang: Lang) -> Option<Vec<String>> {
        None
    }
    /// Why a dataset file's input token `name` is not in the vocabulary (the step is added by
    /// the caller).
    fn unknown_token(&self, name: &str, kind: TaskKind) -> String {
        let summary = self.input_vocabulary().map(Vocabulary::summary);
        format!(
            "token {name:?} is not in the {kind} vocabulary ({})",
            summary.unwrap_or_default()
        )
    }
}

/// A checked task: a [`TaskSpec`] with its defaults filled in, and the behaviour that goes with it.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Task {
    spec: TaskSpec,
    def: Arc<dyn TaskDef>,
}

impl Task {
    /// Checks the spec (options that apply to this task, values in range) and fills in defaults:
    /// tanaka `names: 8`, `distractor_names: 0.0`; recall `pairs: 4`.
    pub fn new(spec: TaskSpec) -> Result<Task> {
        if spec.length > MAX_LENGTH {
            return Err(invalid(
                "length",
                format!("{} is above the maximum of {MAX_LENGTH} steps", spec.length),
            ));
        }
        let spec = spec.resolved()?;
        let def: Arc<dyn TaskDef> = match spec.task {
            TaskKind::Tanaka if spec.unit == Some(Unit::Char) => {
                Arc::new(tanaka_chars::TanakaChars::new(&spec)?)
            }
            TaskKind::Tanaka => Arc::new(tanaka::Tanaka::new(&spec)?),
            TaskKind::Copy => Arc::new(copy::Copy::new(&spec)?),
            TaskKind::Adding => Arc::new(adding::Adding::new(&spec)?),
            TaskKind::Recall => Arc::new(recall::Recall::new(&spec)?),
        };
        Ok(Task { spec, def })
    }

    /// The spec with every option that applies to this task filled in.
    pub fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    pub fn kind(&self) -> TaskKind {
        self.spec.task
    }

    /// T: the number of steps of every sequence of this task.
    pub fn steps(&self) -> usize {
        self.def.steps()
    }

    pub fn input_kind(&self) -> InputKind {
        self.def.input_kind()
    }

    pub fn output_kind(&self) -> OutputKind {
        self.def.output_kind()
    }

    /// I: the vocabulary size for token inputs, the vector width for dense inputs.
    pub fn input_width(&self) -> usize {
        self.input_kind().width()
    }

    /// O: the number of classes, or the width of a real-valued target.
    pub fn output_width(&self) -> usize {
        self.output_kind().width()
    }

    /// The steps that carry a loss, ascending (the same for every sequence of the task).
    pub fn loss_steps(&self) -> Vec<usize> {
        self.def.loss_steps()
    }

    /// (T) `true` where a step carries a loss.
    pub fn loss_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.steps()];
        for t in self.loss_steps() {
            mask[t] = true;
        }
        mask
    }

    /// The steps accuracy is measured over: copy's 10 recalled symbols, every other task's loss steps.
    pub fn scored_steps(&self) -> Vec<usize> {
        self.def.scored_steps()
    }

    /// The target whose evidence lies farthest back; gradient reports measure distance from it.
    pub fn probe_step(&self) -> usize {
        self.def.probe_step()
    }

    /// The longest dependency a sequence of this task can hold, in steps: the probe step, whose
    /// target's evidence can lie as far back as step 0 (tanaka length + 1, copy T + 10, adding
    /// T − 1, recall the query step). Chrono initialisation's default T_max.
    pub fn longest_dependency(&self) -> usize {
        self.probe_step()
    }

    /// For each target that recalls something, where its evidence lies. Adding's distance varies
    /// per sequence (last step − first marker); the others are fixed by the spec.
    pub fn dependencies(&self, seq: &Sequence) -> Vec<Dependency> {
        self.def.dependencies(seq)
    }

    /// The distance from the probe step's target back to its evidence in this sequence.
    pub fn probe_distance(&self, seq: &Sequence) -> usize {
        let probe = self.probe_step();
        self.dependencies(seq)
            .iter()
            .filter(|d| d.target_step == probe)
            .map(Dependency::distance)
            .max()
            .unwrap_or(0)
    }

    /// What a predictor that remembers nothing scores (analytic values; see `datasets/README.md`).
    pub fn baseline(&self) -> Baseline {
        self.def.baseline()
    }

    /// The solved criterion: the spec's `solved` threshold if given, else accuracy ≥ 0.99 for
    /// classification tasks and MSE ≤ 0.01 for adding.
    pub fn solved(&self) -> Solved {
        match (self.def.default_solved(), self.spec.solved) {
            (Solved::AccuracyAtLeast(_), Some(t)) => Solved::AccuracyAtLeast(t),
            (Solved::MseAtMost(_), Some(t)) => Solved::MseAtMost(t),
            (default, None) => default,
        }
    }

    /// Largest absolute error at which a real-valued prediction counts as correct (adding: 0.04).
    pub fn value_tolerance(&self) -> f64 {
        self.def.value_tolerance()
    }

    /// `count` sequences drawn from `ChaCha8Rng::seed_from_u64(seed)`: the same seed gives the
    /// same sequences, bit for bit.
    pub fn generate(&self, count: usize, seed: u64) -> Vec<Sequence> {
        use ndarray_rand::rand::SeedableRng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.generate_with(&mut rng, count)
    }

    /// `count` sequences drawn from a caller's generator (for a stream of fresh training batches).
    pub fn generate_with(&self, rng: &mut ChaCha8Rng, count: usize) -> Vec<Sequence> {
        (0..count).map(|_| self.def.generate(rng)).collect()
    }

    /// Checks that a sequence belongs to this task: step count, token and class ranges, input and
    /// target widths, targets exactly at the loss steps, and the task's own structure.
    /// The message names the step where it can.
    pub fn check_sequence(&self, seq: &Sequence) -> std::result::Result<(), String> {
        sequence::check_shape(self, seq)?;
        self.def.check_content(seq)
    }

    /// The vocabulary dataset files use for input tokens (None for dense inputs).
    pub fn input_vocabulary(&self) -> Option<&Vocabulary> {
        self.def.input_vocabulary()
    }

    /// The names dataset files use for classes (None for real-valued targets).
    pub fn class_vocabulary(&self) -> Option<&Vocabulary> {
        self.def.class_vocabulary()
    }

    /// One line a person can read, e.g. `c9k8j3f1??c → 9`.
    pub fn render(&self, seq: &Sequence, lang: Lang) -> String {
        self.def.render(seq, lang)
    }

    /// The text of each step of `seq` (tanaka: a phrase, or one character with `unit: char`),
    /// so that joined they read as the sentence; None for tasks that are not text.
    pub fn step_texts(&self, seq: &Sequence, lang: Lang) -> Option<Vec<String>> {
        self.def.step_texts(seq, lang)
    }

    /// The task as printed: `tanaka`, or `tanaka char (ja)` for the character task.
    pub fn label(&self) -> String {
        match (self.spec.unit, self.spec.lang) {
            (Some(Unit::Char), Some(lang)) => format!("{} char ({lang})", self.kind()),
            _ => self.kind().to_string(),
        }
    }

    /// The language sentences of this task are printed in (the spec's, else Japanese).
    pub fn lang(&self) -> Lang {
        self.spec.lang.unwrap_or_default()
    }

    /// Why a dataset file's input token `name` is not in this task's vocabulary.
    pub(crate) fn unknown_token(&self, name: &str) -> String {
        self.def.unknown_token(name, self.kind())
    }

    pub(crate) fn def(&self) -> &dyn TaskDef {
        self.def.as_ref()
    }
}

/// `length + extra` steps, checked: an error naming `length` instead of an overflow.
pub(crate) fn steps_after(length: usize, extra: usize) -> Result<usize> {
    length.checked_add(extra).ok_or_else(|| {
        invalid(
            "length",
            format!("{length} is above the maximum of {MAX_LENGTH} steps"),
        )
    })
}

/// Builds an option error for a task: `invalid <field>: <message>`.
pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::invalid(field, message)
}
