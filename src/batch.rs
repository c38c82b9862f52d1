//! A batch of sequences in the layout the network consumes: time-major arrays of batch-major rows.
//!
//! Dimension letters: T time, B batch (one row per sequence), I input width, O output width.

use ndarray::{Array2, Array3, NdFloat};
use serde::{Deserialize, Serialize};

/// What a model reads at each step, and what a task's sequences hold (the same type in `tasks`
/// and in `network::ModelSpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// One token id per step, each `< vocab`, fed as one-hot rows over `vocab` symbols
    /// (implemented as a column gather), so the input width is `vocab`.
    Tokens { vocab: usize },
    /// A real vector of `width` values per step.
    Dense { width: usize },
}

impl InputKind {
    /// I: the vocabulary size for tokens, the vector width for dense inputs.
    pub fn width(self) -> usize {
        match self {
            InputKind::Tokens { vocab } => vocab,
            InputKind::Dense { width } => width,
        }
    }
}

/// What the linear readout produces at the steps that carry a loss, and which loss it is trained
/// with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// A class id `< count`, trained with softmax cross-entropy.
    Classes { count: usize },
    /// A real vector of `width` values, trained with squared error averaged over the width.
    Values { width: usize },
}

impl OutputKind {
    /// O: the number of classes, or the width of a real-valued target.
    pub fn width(self) -> usize {
        match self {
            OutputKind::Classes { count } => count,
            OutputKind::Values { width } => width,
        }
    }
}

/// What the network reads at each timestep.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs<F> {
    /// Token ids, (T, B); each id < `vocab`. Fed as one-hot rows (implemented as a row gather).
    Tokens { ids: Array2<usize>, vocab: usize },
    /// Real-valued input vectors, (T, B, I).
    Dense(Array3<F>),
}

/// What the readout is trained to produce at each timestep that carries a loss.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets<F> {
    /// Class ids, (T, B); each id < `classes`. Ignored where the loss weight is 0.
    Classes { ids: Array2<usize>, classes: usize },
    /// Regression targets, (T, B, O); squared error averaged over O.
    Values(Array3<F>),
}

/// Inputs, targets and the loss mask of one batch.
///
/// The loss is `Σ_{t,b} loss_weight[t,b] · ℓ(t,b)`: a weight of 0 means "no loss at this step".
/// A mean over the masked steps is weights `1/count`; a per-sequence sum is weights 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<F> {
    pub inputs: Inputs<F>,
    pub targets: Targets<F>,
    /// (T, B)
    pub loss_weight: Array2<F>,
}

impl<F: NdFloat> Inputs<F> {
    /// (T, B)
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Inputs::Tokens { ids, .. } => ids.dim(),
            Inputs::Dense(x) => {
                let (t, b, _) = x.dim();
                (t, b)
            }
        }
    }

    /// Width of one input row: the vocabulary size for tokens.
    pub fn width(&self) -> usize {
        match self {
            Inputs::Tokens { vocab, .. } => *vocab,
            Inputs::Dense(x) => x.dim().2,
        }
    }

    /// The same inputs in another float type.
    pub fn cast<G: NdFloat>(&self) -> Inputs<G> {
        match self {
            Inputs::Tokens { ids, vocab } => Inputs::Tokens {
                ids: ids.clone(),
                vocab: *vocab,
            },
            Inputs::Dense(x) => Inputs::Dense(x.mapv(cast)),
        }
    }
}

impl<F: NdFloat> Targets<F> {
    /// The same targets in another float type.
    pub fn cast<G: NdFloat>(&self) -> Targets<G> {
        match self {
            Targets::Classes { ids, classes } => Targets::Classes {
                ids: ids.clone(),
                classes: *classes,
            },
            Targets::Values(y) => Targets::Values(y.mapv(cast)),
        }
    }
}

impl<F: NdFloat> Batch<F> {
    /// (T, B)
    pub fn shape(&self) -> (usize, usize) {
        self.inputs.shape()
    }

    /// Timesteps `range` of every sequence (inputs, targets and loss weights alike).
    pub fn slice_steps(&self, range: std::ops::Range<usize>) -> Batch<F> {
        let r = ndarray::s![range.clone(), ..];
        Batch {
            inputs: match &self.inputs {
                Inputs::Tokens { ids, vocab } => Inputs::Tokens {
                    ids: ids.slice(r).to_owned(),
                    vocab: *vocab,
                },
                Inputs::Dense(x) => {
                    Inputs::Dense(x.slice(ndarray::s![range.clone(), .., ..]).to_owned())
                }
            },
            targets: match &self.targets {
                Targets::Classes { ids, classes } => Targets::Classes {
                    ids: ids.slice(r).to_owned(),
                    classes: *classes,
                },
                Targets::Values(y) => {
                    Targets::Values(y.slice(ndarray::s![range.clone(), .., ..]).to_owned())
                }
            },
            loss_weight: self.loss_weight.slice(r).to_owned(),
        }
    }

    /// The same batch in another float type (weights and values are converted with `as`-like casts).
    pub fn cast<G: NdFloat>(&self) -> Batch<G> {
        Batch {
            inputs: self.inputs.cast(),
            targets: self.targets.cast(),
            loss_weight: self.loss_weight.mapv(cast),
        }
    }
}

/// Converts between float types; both sides are IEEE floats, so the conversion cannot fail.
pub fn cast<A: NdFloat, G: NdFloat>(x: A) -> G {
    G::from(x).unwrap_or_else(G::nan)
}
