//! Gradient clipping: by global norm (Pascanu et al. 2013: if ‖g‖ > c then g ← c·g/‖g‖) or by value
//! (every entry clamped to [−c, c]). The pre-clip norm is always measured and reported.

use ndarray::NdFloat;
use serde::{Deserialize, Serialize};

use crate::batch::cast;
use crate::error::{Error, Result};
use crate::network::Params;

/// How gradients are clipped before the update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Clip {
    #[default]
    None,
    /// Rescale when the global L2 norm exceeds the threshold.
    Norm(f64),
    /// Clamp every entry to [−c, c].
    Value(f64),
}

impl Clip {
    pub fn validate(self) -> Result<()> {
        match self {
            Clip::Norm(c) | Clip::Value(c) if !(c.is_finite() && c > 0.0) => Err(Error::invalid(
                "clip",
                format!("the threshold must be a positive number, got {c}"),
            )),
            _ => Ok(()),
        }
    }
}

/// ‖g‖₂ over every tensor, accumulated in f64.
pub fn global_norm<F: NdFloat>(grads: &Params<F>) -> f64 {
    grads.global_norm()
}

/// Measures the global norm, fails on a non-finite gradient, and clips in place.
pub fn clip_gradients<F: NdFloat>(grads: &mut Params<F>, clip: Clip) -> Result<super::StepReport> {
    clip.validate()?;
    let norm = grads.global_norm();
    if !norm.is_finite() {
        return Err(Error::Diverged {
            what: format!("the gradient (global norm {norm})"),
        });
    }
    let clipped = match clip {
        Clip::None => false,
        Clip::Norm(c) => {
            if norm > c {
                let scale: F = cast(c / norm);
                for s in grads.slices_mut() {
                    s.iter_mut().for_each(|g| *g *= scale);
                }
                true
            } else {
                false
            }
        }
        Clip::Value(c) => {
            let (lo, hi): (F, F) = (cast(-c), cast(c));
            let mut any = false;
            for s in grads.slices_mut() {
                for g in s.iter_mut() {
                    if *g > hi || *g < lo {
                        *g = g.max(lo).min(hi);
                        any = true;
                    }
                }
            }
            any
        }
    };
    Ok(super::StepReport {
        grad_norm: norm,
        clipped,
    })
}
