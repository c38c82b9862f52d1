//! Optimisers (SGD with optional momentum, RMSprop, Adam, with PyTorch's update rules and
//! defaults) and gradient clipping. A step refuses non-finite gradients: divergence is reported,
//! never written into the weights.

pub mod adam;
pub mod clip;
pub mod rmsprop;
pub mod sgd;

pub use clip::{clip_gradients, global_norm, Clip};

use ndarray::NdFloat;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::batch::cast;
use crate::error::{Error, Result};
use crate::network::Params;

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Rmsprop,
    Adam,
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Rmsprop => "rmsprop",
            OptimizerKind::Adam => "adam",
        })
    }
}

impl FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "rmsprop" => Ok(OptimizerKind::Rmsprop),
            "adam" => Ok(OptimizerKind::Adam),
            other => Err(Error::invalid(
                "optimizer",
                format!("unknown optimizer '{other}' (expected sgd, rmsprop or adam)"),
            )),
        }
    }
}

/// An optimiser and its hyper-parameters. Defaults follow `torch.optim`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    pub kind: OptimizerKind,
    pub lr: f64,
    /// The learning rate of a parameterised recurrent matrix's parameter (expRNN's skew S), when
    /// it differs from `lr`. expRNN's authors train it with its own RMSprop at lr/10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_orth: Option<f64>,
    /// SGD momentum μ (0 = plain SGD).
    #[serde(default)]
    pub momentum: f64,
    /// RMSprop smoothing α (default 0.99).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Adam β₁, β₂ (defaults 0.9, 0.999).
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// ε of RMSprop and Adam (default 1e-8).
    #[serde(default = "default_eps")]
    pub eps: f64,
}

fn default_alpha() -> f64 {
    0.99
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}

impl OptimizerSpec {
    /// `kind` at learning rate `lr` with PyTorch's other defaults.
    pub fn new(kind: OptimizerKind, lr: f64) -> Self {
        OptimizerSpec {
            kind,
            lr,
            lr_orth: None,
            momentum: 0.0,
            alpha: default_alpha(),
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::invalid(
                "lr",
                format!("must be a positive number, got {}", self.lr),
            ));
        }
        if let Some(lr) = self.lr_orth {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(Error::invalid(
                    "lr-orth",
                    format!("must be a positive number, got {lr}"),
                ));
            }
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::invalid(
                "momentum",
                format!("must be in [0, 1), got {}", self.momentum),
            ));
        }
        for (field, v) in [
            ("alpha", self.alpha),
            ("beta1", self.beta1),
            ("beta2", self.beta2),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(Error::invalid(field, format!("must be in [0, 1), got {v}")));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::invalid(
                "eps",
                format!("must be a positive number, got {}", self.eps),
            ));
        }
        Ok(())
    }
}

/// What one optimiser step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// ‖g‖₂ over all parameters before clipping.
    pub grad_norm: f64,
    /// Whether clipping changed the gradient.
    pub clipped: bool,
}

/// An optimiser with its per-parameter state, typed like the parameters: every moment is a
/// [`Params`] of the same shapes (and names) as the weights it belongs to.
#[derive(Debug, Clone)]
pub struct Optimizer<F> {
    pub spec: OptimizerSpec,
    /// SGD velocity, Adam's first moment m.
    first: Params<F>,
    /// RMSprop's square average, Adam's second moment v.
    second: Params<F>,
    steps: u64,
}

impl<F: NdFloat> Optimizer<F> {
    pub fn new(spec: OptimizerSpec, params: &Params<F>) -> Result<Self> {
        spec.validate()?;
        let zeros = params.zeros_like();
        Ok(Optimizer {
            spec,
            first: zeros.clone(),
            second: zeros,
            steps: 0,
        })
    }

    /// The state: (SGD velocity or Adam's m, RMSprop's square average or Adam's v), each shaped
    /// like the parameters.
    pub fn state(&self) -> (&Params<F>, &Params<F>) {
        (&self.first, &self.second)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Clips `grads` as asked, then updates `params`: every tensor at `lr`, `weight_hh` at
    /// `lr_orth` when it is set (the trainer allows that only for a cell whose `weight_hh`
    /// parameterises its recurrent matrix). A non-finite gradient is an error
    /// ([`Error::Diverged`]) and leaves `params` and the optimiser state untouched.
    pub fn step(
        &mut self,
        params: &mut Params<F>,
        grads: &mut Params<F>,
        clip: Clip,
    ) -> Result<StepReport> {
        let report = clip_gradients(grads, clip)?;
        self.steps += 1;
        let s = self.spec;
        let t = self.steps;
        let grads = grads.slices_mut();
        for ((((recurrent, p), g), first), second) in params
            .tagged_slices_mut()
            .into_iter()
            .zip(grads)
            .zip(self.first.slices_mut())
            .zip(self.second.slices_mut())
        {
            let lr_f64 = match s.lr_orth {
                Some(lr_orth) if recurrent => lr_orth,
                _ => s.lr,
            };
            let lr: F = cast(lr_f64);
            match s.kind {
                OptimizerKind::Sgd => sgd::sgd_update(p, g, first, lr, cast(s.momentum), t == 1),
                OptimizerKind::Rmsprop => {
                    rmsprop::rmsprop_update(p, g, second, lr, cast(s.alpha), cast(s.eps))
                }
                OptimizerKind::Adam => adam::adam_update(
                    p,
                    g,
                    first,
                    second,
                    lr_f64,
                    s.beta1,
                    s.beta2,
                    cast(s.eps),
                    t,
                ),
            }
        }
        Ok(report)
    }
}
