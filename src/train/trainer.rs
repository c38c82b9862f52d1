//! The training loop. It never prints: it reports metric rows, gradient probes and progress to a
//! [`TrainObserver`] as they happen, so a run directory can write each as soon as it exists.

use ndarray::{Array2, Array3, NdFloat};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::config::{Precision, TrainConfig};
use super::metadata::RunMetadata;
use super::train_loop::TrainLoop;
use crate::analysis::gradient_report::{
    DecaySummary, GradientProbe, SourceSignal, TheoryCheck, UpdateShare,
};
use crate::analysis::history::HistoryPoint;
use crate::analysis::LayerDiagnostics;
use crate::batch::{Batch, Targets};
use crate::error::{Error, Result};
use crate::network::{Network, Params, ReadoutCache};
use crate::tasks::{load_dataset, LossWeighting, Predictions, Sequence, Solved, Task};

/// One row of `metrics.csv`: a training step, with the evaluation when one ran at that step.
/// Step 0 is the evaluation before training (no training loss, norm or clip flag).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub step: usize,
    pub train_loss: Option<f64>,
    pub eval_loss: Option<f64>,
    pub eval_accuracy: Option<f64>,
    /// Global gradient norm before clipping.
    pub grad_norm: Option<f64>,
    pub clipped: Option<bool>,
}

pub const METRICS_CSV_HEADER: &str = "step,train_loss,eval_loss,eval_accuracy,grad_norm,clipped";

impl MetricRow {
    pub fn csv(&self) -> String {
        let f = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
        let clipped = self
            .clipped
            .map(|c| u8::from(c).to_string())
            .unwrap_or_default();
        format!(
            "{},{},{},{},{},{}",
            self.step,
            f(self.train_loss),
            f(self.eval_loss),
            f(self.eval_accuracy),
            f(self.grad_norm),
            clipped
        )
    }
}

/// Where training stands, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub step: usize,
    pub total: usize,
    pub train_loss: f64,
    pub eval_accuracy: Option<f64>,
    /// Fraction of steps so far whose gradient was clipped.
    pub clip_rate: f64,
}

/// Receives what a run produces, as it is produced.
pub trait TrainObserver {
    fn on_metric(&mut self, _row: &MetricRow) -> Result<()> {
        Ok(())
    }
    fn on_probe(&mut self, _probe: &GradientProbe) -> Result<()> {
        Ok(())
    }
    /// A learning-over-time point (every `history_every` steps, at step 0 and at the end).
    fn on_history(&mut self, _point: &HistoryPoint) -> Result<()> {
        Ok(())
    }
    fn on_progress(&mut self, _progress: &Progress) {}
}

/// An observer that keeps nothing.
pub struct NoObserver;
impl TrainObserver for NoObserver {}

/// Accuracy of the sequences whose evidence lies within [low, high] steps of the probe target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistanceBucket {
    pub low: usize,
    pub high: usize,
    pub sequences: usize,
    pub accuracy: f64,
}

/// What `summary.ron` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub rnnlab_version: String,
    pub final_eval_loss: f64,
    pub final_eval_accuracy: f64,
    /// The final network's loss and accuracy on the validation set: held-out sequences from their
    /// own seed stream, never the evaluation set's. Sweeps choose tuned options by these, so the
    /// reported evaluation numbers play no part in the choice. `None` in summaries written before
    /// validation existed.
    #[serde(default)]
    pub final_val_loss: Option<f64>,
    #[serde(default)]
    pub final_val_accuracy: Option<f64>,
    /// When validation was held out of the data file (`hold_out_seed`): the file, its size, the
    /// part held out and the seed of the split. Absent for generated validation sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_hold_out: Option<HoldOut>,
    /// The memoryless predictor's loss and accuracy on this task.
    pub baseline_loss: f64,
    pub baseline_accuracy: f64,
    pub solved: bool,
    /// The step of the evaluation from which the run counted as solved: where early stopping
    /// stopped it, or without early stopping the first of the unbroken run of solved evaluations
    /// that reaches the end (not the last step trained).
    pub solved_at_step: Option<usize>,
    pub diverged: bool,
    /// Optimiser steps taken.
    pub steps: usize,
    pub wall_seconds: f64,
    /// Fraction of steps whose gradient was clipped.
    pub clip_rate: f64,
    /// Gradient decay per layer at initialisation and at the end.
    pub gradients_init: Vec<DecaySummary>,
    pub gradients_final: Vec<DecaySummary>,
    /// The diagnostics per layer at initialisation and at the end.
    pub diagnostics_init: Vec<LayerDiagnostics>,
    pub diagnostics_final: Vec<LayerDiagnostics>,
    /// Per layer: ‖∂ℓ/∂h_src‖ / ‖∂ℓ/∂h_p‖ at the task's dependency sources, averaged over the
    /// probe sequences, at initialisation and at the end. Empty in summaries written before it.
    #[serde(default)]
    pub source_signal_init: Vec<SourceSignal>,
    #[serde(default)]
    pub source_signal_final: Vec<SourceSignal>,
    /// Per layer: where the W_hh update comes from (the effective learning horizon), at
    /// initialisation and at the end. Empty in summaries written before it.
    #[serde(default)]
    pub update_share_init: Vec<UpdateShare>,
    #[serde(default)]
    pub update_share_final: Vec<UpdateShare>,
    /// Per layer: the product of step-Jacobian norms along the path and, for vanilla RNNs,
    /// γ·σ_max(W_hh), at initialisation and at the end. Empty in summaries written before it.
    #[serde(default)]
    pub theory_init: Vec<TheoryCheck>,
    #[serde(default)]
    pub theory_final: Vec<TheoryCheck>,
    /// For tasks whose dependency distance varies per sequence (adding): eval accuracy by distance.
    pub accuracy_by_distance: Vec<DistanceBucket>,
    /// The trained network at the `eval_lengths` of the config (length generalisation).
    #[serde(default)]
    pub length_generalisation: Vec<LengthEval>,
    /// The command, time, host, build and threads that made the run.
    #[serde(default)]
    pub metadata: RunMetadata,
}

/// The trained network evaluated at another length (in f64).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthEval {
    pub length: usize,
    pub loss: f64,
    pub accuracy: f64,
    /// The task's solved metric: accuracy, or the mean squared error for adding.
    pub metric: f64,
    pub solved: bool,
}

/// A trained network in the precision it was trained in.
#[derive(Debug, Clone)]
pub enum TrainedNetwork {
    F32(Network<f32>),
    F64(Network<f64>),
}

impl TrainedNetwork {
    pub fn to_f64(&self) -> Network<f64> {
        match self {
            TrainedNetwork::F32(n) => n.cast(),
            TrainedNetwork::F64(n) => n.clone(),
        }
    }
}

/// Everything a run returns.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub summary: RunSummary,
    pub network: TrainedNetwork,
    pub probes: Vec<GradientProbe>,
    /// The learning-over-time points, in step order (empty when `history_every` is 0).
    pub history: Vec<HistoryPoint>,
    /// The interval they were taken at (the config's, or the auto one; 0: none).
    pub history_every: usize,
    pub metrics: Vec<MetricRow>,
    /// The resolved task (from the config, or from the training data file).
    pub task: Task,
    /// The fixed probe batch the gradient reports were measured on.
    pub probe_sequences: Vec<Sequence>,
    /// A run on a data file: its training sequences' count and shortest and longest lengths in
    /// steps (the task's `length` is the file's declared dependency length, not these).
    pub train_file_lengths: Option<FileLengths>,
    /// Sequences in the evaluation set (each eval accuracy is over these).
    pub eval_sequences: usize,
}

/// How many sequences a data file holds and their shortest and longest lengths in steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLengths {
    pub sequences: usize,
    pub min_steps: usize,
    pub max_steps: usize,
}

impl FileLengths {
    pub fn of(sequences: &[Sequence]) -> Option<FileLengths> {
        Some(FileLengths {
            sequences: sequences.len(),
            min_steps: sequences.iter().map(Sequence::len).min()?,
            max_steps: sequences.iter().map(Sequence::len).max()?,
        })
    }

    /// `12 sequences of 7–9 steps` (`of 7 steps` when all are equally long).
    pub fn text(&self) -> String {
        let steps = if self.min_steps == self.max_steps {
            format!("{}", self.min_steps)
        } else {
            format!("{}–{}", self.min_steps, self.max_steps)
        };
        format!(
            "{} sequence{} of {steps} steps",
            self.sequences,
            if self.sequences == 1 { "" } else { "s" }
        )
    }
}

/// The sequences a run uses, fixed by the config's seed (or read from its files).
pub struct RunData {
    pub task: Task,
    /// Training sequences from a file; None: fresh batches generated every step.
    pub train: Option<Vec<Sequence>>,
    pub eval: Vec<Sequence>,
    /// The validation set: `eval_size` sequences generated from the seed's own stream
    /// ([`STREAM_VAL`]), so they are not the evaluation sequences; with `hold_out_seed`, the
    /// data file's held-out part ([`hold_out_split`]).
    pub val: Vec<Sequence>,
    /// Where `val` comes from, when it is held out of the data file.
    pub hold_out: Option<HoldOut>,
    pub probe: Vec<Sequence>,
}

/// Independent seeds for the separate random streams of a run.
pub fn derived_seed(seed: u64, stream: u64) -> u64 {
    // splitmix64 of the pair, so neighbouring seeds give unrelated streams
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub const STREAM_BATCHES: u64 = 1;
/// The stream of a run's evaluation set (`rnnlab eval` draws from it too, so evaluating a
/// model at its training length and seed measures the run's own evaluation set).
pub const STREAM_EVAL: u64 = 2;
pub const STREAM_PROBE: u64 = 3;
/// The validation set's stream: a seed of its own, so validation and evaluation never share it.
pub const STREAM_VAL: u64 = 4;
/// The stream of the shuffle that picks a data file's held-out sequences.
pub const STREAM_HOLD_OUT: u64 = 5;

/// The seed a sweep that tunes on a data file gives every run's `hold_out_seed`: one split for
/// the whole experiment, so every candidate value is validated on the same sequences.
pub const HOLD_OUT_SEED: u64 = 0;
/// The held-out part of a data file: `sequences / HOLD_OUT_DIVISOR` (20%, rounded down).
pub const HOLD_OUT_DIVISOR: usize = 5;
/// The fewest sequences a held-out part may have, so a file needs
/// `MIN_HOLD_OUT · HOLD_OUT_DIVISOR` = 50 sequences to be split.
pub const MIN_HOLD_OUT: usize = 10;

/// How a data file was split for validation (see [`hold_out_split`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldOut {
    pub file: PathBuf,
    /// Sequences in the file, and held out of it for validation (the rest train).
    pub sequences: usize,
    pub held_out: usize,
    pub seed: u64,
}

impl HoldOut {
    /// `20 of the 100 sequences of data.ron, held out (the last 20% after a shuffle with seed 0;
    /// training uses the other 80)`.
    pub fn text(&self) -> String {
        format!(
            "{} of the {} sequences of {}, held out (the last 20% after a shuffle with seed {}; training uses the other {})",
            self.held_out,
            self.sequences,
            self.file.display(),
            self.seed,
            self.sequences - self.held_out
        )
    }
}

/// Whether the data file at `path` is large enough for [`hold_out_split`]: the same error,
/// naming the file, without training.
pub fn check_hold_out(path: &std::path::Path) -> Result<()> {
    let n = load_dataset(path)?.sequences.len();
    if n / HOLD_OUT_DIVISOR < MIN_HOLD_OUT {
        return Err(Error::invalid("data", hold_out_too_small(path, n)));
    }
    Ok(())
}

/// `data.ron: 30 sequences; validating on a held-out 20% needs at least 50 (10 held out)`.
fn hold_out_too_small(path: &std::path::Path, n: usize) -> String {
    format!(
        "{}: {n} sequence{}; validating on a held-out 20% needs at least {} ({MIN_HOLD_OUT} held out)",
        path.display(),
        if n == 1 { "" } else { "s" },
        MIN_HOLD_OUT * HOLD_OUT_DIVISOR
    )
}

/// Splits a data file's `sequences` into (train, held out): a Fisher–Yates shuffle of the indices
/// from `derived_seed(seed, STREAM_HOLD_OUT)`, whose last `n / 5` positions are held out; both
/// parts keep the file's order. The same seed and file give the same split.
///
/// Errors: [`Error::InvalidOption`] (field `data`) when the held-out part would have fewer than
/// [`MIN_HOLD_OUT`] sequences (a file of fewer than 50).
pub fn hold_out_split(
    sequences: Vec<Sequence>,
    seed: u64,
) -> Result<(Vec<Sequence>, Vec<Sequence>)> {
    use ndarray_rand::rand::{Rng, SeedableRng};
    let n = sequences.len();
    let held = n / HOLD_OUT_DIVISOR;
    if held < MIN_HOLD_OUT {
        return Err(Error::invalid(
            "data",
            hold_out_too_small(std::path::Path::new("the file"), n),
        ));
    }
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(derived_seed(seed, STREAM_HOLD_OUT));
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let mut is_held = vec![false; n];
    for &i in &order[n - held..] {
        is_held[i] = true;
    }
    let (held_out, train): (Vec<_>, Vec<_>) =
        sequences.into_iter().zip(is_held).partition(|(_, h)| *h);
    Ok((
        train.into_iter().map(|(s, _)| s).collect(),
        held_out.into_iter().map(|(s, _)| s).collect(),
    ))
}

impl RunData {
    /// The task and data of `config`: files when it names them, otherwise generated from its seed.
    /// When training data comes from a file, its task replaces `config.task`.
    pub fn prepare(config: &mut TrainConfig) -> Result<RunData> {
        let mut held_out = None;
        let (task, train) = match &config.data {
            Some(path) => {
                let ds = load_dataset(path)?;
                config.task = ds.task.spec().clone();
                let train = match config.hold_out_seed {
                    Some(seed) => {
                        let sequences = ds.sequences.len();
                        if sequences / HOLD_OUT_DIVISOR < MIN_HOLD_OUT {
                            return Err(Error::invalid(
                                "data",
                                hold_out_too_small(path, sequences),
                            ));
                        }
                        let (train, val) = hold_out_split(ds.sequences, seed)?;
                        held_out = Some((
                            HoldOut {
                                file: path.clone(),
                                sequences,
                                held_out: val.len(),
                                seed,
                            },
                            val,
                        ));
                        train
                    }
                    None => ds.sequences,
                };
                (ds.task, Some(train))
            }
            None => (Task::new(config.task.clone())?, None),
        };
        config.task = task.spec().clone();
        let eval = match &config.eval_data {
            Some(path) => {
                let ds = load_dataset(path)?;
                if ds.task.spec() != task.spec() {
                    return Err(Error::bad_file(
                        path,
                        format!(
                            "holds task {:?}, but the run trains {:?}",
                            ds.task.spec(),
                            task.spec()
                        ),
                    ));
                }
                ds.sequences
            }
            None => task.generate(config.eval_size, derived_seed(config.seed, STREAM_EVAL)),
        };
        let (hold_out, val) = match held_out {
            Some((h, val)) => (Some(h), val),
            None => (
                None,
                task.generate(config.eval_size, derived_seed(config.seed, STREAM_VAL)),
            ),
        };
        let probe = probe_sequences(&task, config);
        Ok(RunData {
            task,
            train,
            eval,
            val,
            hold_out,
            probe,
        })
    }
}

/// The fixed probe batch's sequences of a run: `probe_size` sequences of `task` from the probe
/// stream of `config.seed` (`rnnlab gradients` measures the same ones).
pub fn probe_sequences(task: &Task, config: &TrainConfig) -> Vec<Sequence> {
    task.generate(config.probe_size, derived_seed(config.seed, STREAM_PROBE))
}

/// Trains as `config` says, reporting to `observer`. A run that diverges stops and is reported in
/// the summary (`diverged: true`); it is not an error.
pub fn train(
    config: &TrainConfig,
    data: &RunData,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome> {
    config.validate()?;
    let _flush = crate::float_env::flush_subnormals();
    match config.precision {
        Precision::F32 => train_in::<f32>(config, data, observer),
        Precision::F64 => train_in::<f64>(config, data, observer),
    }
}

/// The training loop of one precision: start, step until stopped, finish (see [`TrainLoop`]).
fn train_in<F: NdFloat>(
    config: &TrainConfig,
    data: &RunData,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome>
where
    Network<F>: IntoTrained,
{
    let mut run = TrainLoop::<F>::new(config, data)?;
    run.start(observer)?;
    while run.running() {
        run.step(observer)?;
    }
    run.finish(observer)
}

/// Wraps a network of either precision.
pub trait IntoTrained {
    fn into_trained(self) -> TrainedNetwork;
}
impl IntoTrained for Network<f32> {
    fn into_trained(self) -> TrainedNetwork {
        TrainedNetwork::F32(self)
    }
}
impl IntoTrained for Network<f64> {
    fn into_trained(self) -> TrainedNetwork {
        TrainedNetwork::F64(self)
    }
}

/// The probe batch: each sequence's own loss at the task's probe step only (weight 1 there).
pub fn probe_batch(task: &Task, sequences: &[Sequence]) -> Result<Batch<f64>> {
    let mut batch: Batch<f64> = task.collate(sequences, LossWeighting::SumPerSequence)?;
    let p = task.probe_step();
    batch
        .loss_weight
        .indexed_iter_mut()
        .for_each(|((t, _), w)| *w = if t == p { 1.0 } else { 0.0 });
    Ok(batch)
}

/// Mean loss over the masked steps and the task's accuracy on `batch`.
pub fn evaluate<F: NdFloat>(net: &Network<F>, task: &Task, batch: &Batch<F>) -> Result<(f64, f64)> {
    // a segment at a time: the same values as one whole forward pass, in bounded memory
    let readout = net.readout_segmented(batch, None, crate::resources::EVAL_SEGMENT)?;
    let predictions = predictions(&readout, batch);
    Ok((readout.loss(), task.accuracy(batch, &predictions)?))
}

/// The readout's predictions laid out as (T, B) classes or (T, B, O) values (zero where no loss).
pub fn predictions<F: NdFloat>(readout: &ReadoutCache<F>, batch: &Batch<F>) -> Predictions<F> {
    let (steps, size) = batch.shape();
    match &batch.targets {
        Targets::Classes { .. } => {
            let mut p = Array2::<usize>::zeros((steps, size));
            for (&(t, b), c) in readout.positions.iter().zip(readout.predicted_classes()) {
                p[[t, b]] = c;
            }
            Predictions::Classes(p)
        }
        Targets::Values(y) => {
            let mut p = Array3::<F>::zeros(y.raw_dim());
            for (&(t, b), row) in readout.positions.iter().zip(readout.outputs.rows()) {
                p.slice_mut(ndarray::s![t, b, ..]).assign(&row);
            }
            Predictions::Values(p)
        }
    }
}

/// Eval accuracy in four distance buckets, for tasks whose probe distance varies per sequence.
pub fn accuracy_by_distance<F: NdFloat>(
    net: &Network<F>,
    task: &Task,
    eval: &[Sequence],
) -> Result<Vec<DistanceBucket>> {
    let distances: Vec<usize> = eval.iter().map(|s| task.probe_distance(s)).collect();
    let (Some(&lo), Some(&hi)) = (distances.iter().min(), distances.iter().max()) else {
        return Ok(Vec::new());
    };
    if lo == hi {
        return Ok(Vec::new());
    }
    let width = (hi - lo + 1).div_ceil(4);
    let mut buckets: Vec<DistanceBucket> = (0..4)
        .map(|i| DistanceBucket {
            low: lo + i * width,
            high: (lo + (i + 1) * width - 1).min(hi),
            sequences: 0,
            accuracy: 0.0,
        })
        .filter(|b| b.low <= hi)
        .collect();
    for (seq, &d) in eval.iter().zip(&distances) {
        let one: Batch<F> =
            task.collate(std::slice::from_ref(seq), LossWeighting::MeanOverSteps)?;
        let (_, acc) = evaluate(net, task, &one)?;
        let bucket = &mut buckets[(d - lo) / width];
        bucket.sequences += 1;
        bucket.accuracy += acc;
    }
    for b in buckets.iter_mut() {
        if b.sequences > 0 {
            b.accuracy /= b.sequences as f64;
        }
    }
    Ok(buckets)
}

/// Whether every weight is finite.
pub(super) fn all_finite<F: NdFloat>(params: &Params<F>) -> bool {
    params
        .named()
        .iter()
        .all(|t| t.data.iter().all(|x| x.is_finite()))
}

/// `net` evaluated at each of `config.eval_lengths` on `eval_size` sequences of the task at that
/// length, drawn from the evaluation stream (as `rnnlab eval` does).
pub(super) fn length_generalisation(
    net: &Network<f64>,
    task: &Task,
    config: &TrainConfig,
) -> Result<Vec<LengthEval>> {
    config
        .eval_lengths
        .iter()
        .map(|&length| {
            let mut spec = task.spec().clone();
            spec.length = length;
            let at = Task::new(spec).map_err(|e| Error::invalid("eval-lengths", e.to_string()))?;
            let sequences = at.generate(config.eval_size, derived_seed(config.seed, STREAM_EVAL));
            let batch: Batch<f64> = at.collate(&sequences, LossWeighting::MeanOverSteps)?;
            let (loss, accuracy) = evaluate(net, &at, &batch)?;
            let metric = match at.solved() {
                Solved::MseAtMost(_) => loss,
                Solved::AccuracyAtLeast(_) => accuracy,
            };
            Ok(LengthEval {
                length,
                loss,
                accuracy,
                metric,
                solved: at.solved().is_met(loss, accuracy),
            })
        })
        .collect()
}
