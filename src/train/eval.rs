//! Evaluating a trained model on sequences it was not trained on: other data, or the same task at
//! other lengths (length generalisation: train at L, test at 2L and 4L). What `rnnlab eval`
//! computes and writes.

use serde::{Deserialize, Serialize};

use super::trainer::{accuracy_by_distance, evaluate, predictions, DistanceBucket};
use crate::batch::{Batch, Targets};
use crate::error::{Error, Result};
use crate::network::Network;
use crate::tasks::{LossWeighting, Predictions, Sequence, Task, TaskSpec};

/// `eval.csv`'s header: one row per evaluated set (a length or a dataset file).
pub const EVAL_CSV_HEADER: &str =
    "source,task,length,sequences,loss,accuracy,baseline_loss,baseline_accuracy,solved";
/// `predictions.csv`'s header: one row per scored step of every sequence.
pub const PREDICTIONS_CSV_HEADER: &str =
    "source,length,sequence,distance,step,target,prediction,correct";

/// The evaluation of a model on one set of sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Where the sequences came from: `generated` or the dataset file.
    pub source: String,
    pub task: TaskSpec,
    pub sequences: usize,
    /// Mean loss over the scored steps (cross-entropy, or the squared error for adding).
    pub loss: f64,
    /// The task's accuracy (see `Task::accuracy`).
    pub accuracy: f64,
    /// The memoryless predictor's loss and accuracy.
    pub baseline_loss: f64,
    pub baseline_accuracy: f64,
    /// Whether the task's own solved rule holds (accuracy, or MSE for adding).
    pub solved: bool,
    /// Accuracy by distance (for tasks whose distance varies per sequence).
    pub by_distance: Vec<DistanceBucket>,
    /// Every scored step of every sequence.
    #[serde(skip)]
    pub predictions: Vec<PredictionRow>,
}

/// One scored step of one sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    pub sequence: usize,
    /// The distance from the step to the evidence it needs (the task's probe distance).
    pub distance: usize,
    pub step: usize,
    /// Class names (or values, space-separated for vector targets).
    pub target: String,
    pub prediction: String,
    pub correct: bool,
}

impl EvalReport {
    /// The report's `eval.csv` cells, in [`EVAL_CSV_HEADER`] order.
    pub fn csv_record(&self) -> Vec<String> {
        vec![
            self.source.clone(),
            self.task.task.to_string(),
            self.task.length.to_string(),
            self.sequences.to_string(),
            self.loss.to_string(),
            self.accuracy.to_string(),
            self.baseline_loss.to_string(),
            self.baseline_accuracy.to_string(),
            self.solved.to_string(),
        ]
    }

    /// The `predictions.csv` cells of every scored step, in [`PREDICTIONS_CSV_HEADER`] order.
    pub fn prediction_records(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.predictions.iter().map(|p| {
            vec![
                self.source.clone(),
                self.task.length.to_string(),
                p.sequence.to_string(),
                p.distance.to_string(),
                p.step.to_string(),
                p.target.clone(),
                p.prediction.clone(),
                p.correct.to_string(),
            ]
        })
    }
}

/// `header` and `records` as RFC 4180 CSV text (values quoted where they need it).
pub fn csv_text(header: &str, records: impl IntoIterator<Item = Vec<String>>) -> Result<String> {
    let fail = |e: csv::Error| Error::invalid("csv", e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header.split(',')).map_err(fail)?;
    for r in records {
        w.write_record(&r).map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::invalid("csv", e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Error::invalid("csv", e.to_string()))
}

/// Evaluates `net` on `sequences` of `task` in f64.
pub fn evaluate_model(
    net: &Network<f64>,
    task: &Task,
    sequences: &[Sequence],
    source: &str,
) -> Result<EvalReport> {
    let _flush = crate::float_env::flush_subnormals();
    if sequences.is_empty() {
        return Err(Error::invalid(
            "count",
            "there are no sequences to evaluate",
        ));
    }
    let batch: Batch<f64> = task.collate(sequences, LossWeighting::MeanOverSteps)?;
    let (loss, accuracy) = evaluate(net, task, &batch)?;
    let forward = net.forward(&batch.inputs, None)?;
    let readout = net.readout(&forward, &batch.targets, &batch.loss_weight)?;
    let predicted = predictions(&readout, &batch);
    let baseline = task.baseline();
    let classes = task.class_vocabulary();
    let tolerance = task.value_tolerance();
    let mut rows = Vec::new();
    for (b, seq) in sequences.iter().enumerate() {
        let distance = task.probe_distance(seq);
        for t in task.scored_steps() {
            let (target, prediction, correct) = match (&batch.targets, &predicted) {
                (Targets::Classes { ids, .. }, Predictions::Classes(p)) => {
                    let name = |id: usize| match classes {
                        Some(v) if id < v.len() => v.name(id).to_string(),
                        _ => id.to_string(),
                    };
                    (name(ids[[t, b]]), name(p[[t, b]]), ids[[t, b]] == p[[t, b]])
                }
                (Targets::Values(y), Predictions::Values(p)) => {
                    let width = y.dim().2;
                    let text = |a: &ndarray::Array3<f64>| {
                        (0..width)
                            .map(|o| a[[t, b, o]].to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    };
                    let ok = (0..width).all(|o| (p[[t, b, o]] - y[[t, b, o]]).abs() < tolerance);
                    (text(y), text(p), ok)
                }
                _ => return Err(Error::shape("predictions", "the targets' kind", "another")),
            };
            rows.push(PredictionRow {
                sequence: b,
                distance,
                step: t,
                target,
                prediction,
                correct,
            });
        }
    }
    Ok(EvalReport {
        source: source.to_string(),
        task: task.spec().clone(),
        sequences: sequences.len(),
        loss,
        accuracy,
        baseline_loss: baseline.loss,
        baseline_accuracy: baseline.accuracy,
        solved: task.solved().is_met(loss, accuracy),
        by_distance: accuracy_by_distance(net, task, sequences)?,
        predictions: rows,
    })
}
