//! From sequences to the engine's [`Batch`] layout, and scoring predictions against a batch.

use super::{MemorylessOutput, Sequence, SequenceInputs, SequenceTargets, Task};
use crate::batch::{cast, Batch, Inputs, Targets};
use crate::error::{Error, Result};
use ndarray::{Array2, Array3, NdFloat};

/// How the loss weights of a batch are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LossWeighting {
    /// Weight 1/N at each of the N (step, sequence) positions with a target: the loss is the mean
    /// over the masked steps of the batch.
    #[default]
    MeanOverSteps,
    /// Weight 1 at each position with a target: the loss is the sum over steps and sequences.
    SumPerSequence,
}

/// What a network predicted for a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions<F> {
    /// (T, B) predicted class ids (the argmax of the readout).
    Classes(Array2<usize>),
    /// (T, B, O) predicted values.
    Values(Array3<F>),
}

impl Task {
    /// Lays `sequences` out as one time-major batch: inputs (T, B) token ids or (T, B, I) values,
    /// targets (T, B) class ids or (T, B, O) values (0 where there is no target), and loss weights
    /// (T, B) that are 0 where there is no target and otherwise set by `weighting`.
    ///
    /// Errors if the batch is empty or a sequence does not belong to this task.
    pub fn collate<F: NdFloat>(
        &self,
        sequences: &[Sequence],
        weighting: LossWeighting,
    ) -> Result<Batch<F>> {
        if sequences.is_empty() {
            return Err(Error::invalid("batch", "cannot collate an empty batch"));
        }
        for (b, seq) in sequences.iter().enumerate() {
            self.check_sequence(seq)
                .map_err(|m| Error::invalid("batch", format!("sequence {b}: {m}")))?;
        }
        let (steps, batch) = (self.steps(), sequences.len());
        let inputs = match &sequences[0].inputs {
            SequenceInputs::Tokens(_) => {
                let mut ids = Array2::zeros((steps, batch));
                for (b, seq) in sequences.iter().enumerate() {
                    if let SequenceInputs::Tokens(tokens) = &seq.inputs {
                        ids.column_mut(b)
                            .iter_mut()
                            .zip(tokens)
                            .for_each(|(dst, &id)| *dst = id);
                    }
                }
                Inputs::Tokens {
                    ids,
                    vocab: self.input_width(),
                }
            }
            SequenceInputs::Dense(_) => {
                let mut x = Array3::zeros((steps, batch, self.input_width()));
                for (b, seq) in sequences.iter().enumerate() {
                    if let SequenceInputs::Dense(rows) = &seq.inputs {
                        for (t, row) in rows.iter().enumerate() {
                            for (i, &v) in row.iter().enumerate() {
                                x[[t, b, i]] = cast(v);
                            }
                        }
                    }
                }
                Inputs::Dense(x)
            }
        };
        let mut loss_weight = Array2::<F>::zeros((steps, batch));
        let targets = match &sequences[0].targets {
            SequenceTargets::Classes(_) => {
                let mut ids = Array2::zeros((steps, batch));
                for (b, seq) in sequences.iter().enumerate() {
                    if let SequenceTargets::Classes(classes) = &seq.targets {
                        for (t, class) in classes.iter().enumerate() {
                            if let Some(class) = class {
                                ids[[t, b]] = *class;
                                loss_weight[[t, b]] = F::one();
                            }
                        }
                    }
                }
                Targets::Classes {
                    ids,
                    classes: self.output_width(),
                }
            }
            SequenceTargets::Values(_) => {
                let mut y = Array3::zeros((steps, batch, self.output_width()));
                for (b, seq) in sequences.iter().enumerate() {
                    if let SequenceTargets::Values(rows) = &seq.targets {
                        for (t, row) in rows.iter().enumerate() {
                            if let Some(row) = row {
                                for (o, &v) in row.iter().enumerate() {
                                    y[[t, b, o]] = cast(v);
                                }
                                loss_weight[[t, b]] = F::one();
                            }
                        }
                    }
                }
                Targets::Values(y)
            }
        };
        if weighting == LossWeighting::MeanOverSteps {
            let count: F = loss_weight.sum();
            loss_weight.mapv_inplace(|w| w / count);
        }
        Ok(Batch {
            inputs,
            targets,
            loss_weight,
        })
    }

    /// The fraction of scored predictions that are correct: at the [`Task::scored_steps`] of each
    /// sequence (copy: the 10 recalled symbols; otherwise the loss steps), a class is correct when it
    /// equals the target, a value vector when every component is within
    /// [`Task::value_tolerance`] of it (adding: |error| < 0.04).
    ///
    /// `batch` is one this task collated; `predictions` must have its (T, B) shape.
    pub fn accuracy<F: NdFloat>(
        &self,
        batch: &Batch<F>,
        predictions: &Predictions<F>,
    ) -> Result<f64> {
        let (steps, size) = batch.shape();
        let scored = self.scored_steps();
        if steps != self.steps() {
            return Err(Error::shape("batch steps", self.steps(), steps));
        }
        let mut correct = 0usize;
        match (&batch.targets, predictions) {
            (Targets::Classes { ids, .. }, Predictions::Classes(predicted)) => {
                if predicted.dim() != (steps, size) {
                    return Err(Error::shape(
                        "predicted classes (T, B)",
                        (steps, size),
                        predicted.dim(),
                    ));
                }
                for &t in &scored {
                    correct += (0..size)
                        .filter(|&b| predicted[[t, b]] == ids[[t, b]])
                        .count();
                }
            }
            (Targets::Values(y), Predictions::Values(predicted)) => {
                if predicted.dim() != y.dim() {
                    return Err(Error::shape(
                        "predicted values (T, B, O)",
                        y.dim(),
                        predicted.dim(),
                    ));
                }
                let tolerance: F = cast(self.value_tolerance());
                for &t in &scored {
                    for b in 0..size {
                        let ok = (0..y.dim().2)
                            .all(|o| (predicted[[t, b, o]] - y[[t, b, o]]).abs() < tolerance);
                        correct += usize::from(ok);
                    }
                }
            }
            _ => {
                return Err(Error::shape(
                    "predictions",
                    "the batch's target kind",
                    "the other kind",
                ))
            }
        }
        Ok(correct as f64 / (scored.len() * size) as f64)
    }

    /// The loss `Σ_{t,b} loss_weight[t,b] · ℓ(t,b)` of the memoryless predictor, the one that sees the
    /// step index but nothing it has read: cross-entropy `−ln p(target)` of its class probabilities,
    /// or the squared error of its value, averaged over the output width.
    /// With mean weighting this estimates [`Task::baseline`]`().loss`.
    pub fn memoryless_loss<F: NdFloat>(&self, batch: &Batch<F>) -> Result<f64> {
        let (steps, size) = batch.shape();
        if steps != self.steps() {
            return Err(Error::shape("batch steps", self.steps(), steps));
        }
        let mut total = 0.0;
        for t in 0..steps {
            let output = self.def().memoryless(t);
            for b in 0..size {
                let weight: f64 = cast(batch.loss_weight[[t, b]]);
                if weight == 0.0 {
                    continue;
                }
                let loss = match (&output, &batch.targets) {
                    (MemorylessOutput::Probabilities(p), Targets::Classes { ids, .. }) => {
                        -p[ids[[t, b]]].ln()
                    }
                    (MemorylessOutput::Values(v), Targets::Values(y)) => {
                        let sq: f64 = v
                            .iter()
                            .enumerate()
                            .map(|(o, &p)| (p - cast::<F, f64>(y[[t, b, o]])).powi(2))
                            .sum();
                        sq / v.len() as f64
                    }
                    _ => {
                        return Err(Error::shape(
                            "batch targets",
                            "this task's target kind",
                            "the other kind",
                        ))
                    }
                };
                total += weight * loss;
            }
        }
        Ok(total)
    }

    /// The memoryless predictor's predictions for a batch of this task (its argmax class, ties to the
    /// lowest id, or its value), e.g. to score its accuracy with [`Task::accuracy`].
    pub fn memoryless_predictions<F: NdFloat>(&self, batch: &Batch<F>) -> Predictions<F> {
        let (steps, size) = batch.shape();
        // The predictor depends on the step only: one output per step, repeated across the batch.
        let per_step: Vec<MemorylessOutput> =
            (0..steps).map(|t| self.def().memoryless(t)).collect();
        match per_step.first() {
            Some(MemorylessOutput::Values(_)) => Predictions::Values(Array3::from_shape_fn(
                (steps, size, self.output_width()),
                |(t, _, o)| match &per_step[t] {
                    MemorylessOutput::Values(v) => cast(v[o]),
                    MemorylessOutput::Probabilities(_) => F::zero(),
                },
            )),
            _ => {
                let classes: Vec<usize> = per_step
                    .iter()
                    .map(|output| match output {
                        MemorylessOutput::Probabilities(p) => argmax(p),
                        MemorylessOutput::Values(_) => 0,
                    })
                    .collect();
                Predictions::Classes(Array2::from_shape_fn((steps, size), |(t, _)| classes[t]))
            }
        }
    }
}

fn argmax(p: &[f64]) -> usize {
    p.iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > p[best] { i } else { best })
}
