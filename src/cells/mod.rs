//! Recurrent cells. Each file holds one cell's `*_forward_step` and `*_backward_step` side by side.
//!
//! Dimension letters: B batch (rows), H hidden width, G gates (rnn 1, lstm 4, gru 3).
//! Gate blocks are stacked as in PyTorch: LSTM (i, f, g, o), GRU (r, z, n).
//! The input projection `x W_ih^T + b` of every timestep is computed before the time loop; the
//! step functions receive it as `pre` and add the recurrent part themselves.
//!
//! The step functions work row by row on contiguous slices (one row per sequence), so every
//! (B, ·) view they take must have unit column stride, as every standard-layout array and every
//! column block `s![.., a..b]` of one has. The f32 gate nonlinearities are vectorised polynomials
//! ([`fast_math`]); f64 uses std's exact functions.

pub mod fast_math;
pub mod gru;
pub mod layer_norm;
pub mod lstm;
pub mod matmul;
pub mod rnn;

use ndarray::{ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Which recurrent cell a layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    Rnn,
    Lstm,
    Gru,
}

impl CellKind {
    /// Number of gate blocks stacked in `weight_ih` / `weight_hh`.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    pub const ALL: [CellKind; 3] = [CellKind::Rnn, CellKind::Lstm, CellKind::Gru];
}

impl fmt::Display for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CellKind::Rnn => "rnn",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        })
    }
}

impl FromStr for CellKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rnn" => Ok(CellKind::Rnn),
            "lstm" => Ok(CellKind::Lstm),
            "gru" => Ok(CellKind::Gru),
            other => Err(Error::invalid(
                "cell",
                format!("unknown cell '{other}' (expected rnn, lstm or gru)"),
            )),
        }
    }
}

/// The vanilla RNN's nonlinearity φ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Tanh,
    Sigmoid,
    Relu,
}

impl Activation {
    pub const ALL: [Activation; 3] = [Activation::Tanh, Activation::Sigmoid, Activation::Relu];

    /// φ(x)
    #[inline]
    pub fn apply<F: ndarray::NdFloat>(self, x: F) -> F {
        match self {
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => sigmoid(x),
            Activation::Relu => x.max(F::zero()),
        }
    }

    /// φ'(x) written in terms of the output y = φ(x): tanh 1 − y², sigmoid y(1 − y), relu `[y > 0]`.
    #[inline]
    pub fn derivative_from_output<F: ndarray::NdFloat>(self, y: F) -> F {
        match self {
            Activation::Tanh => F::one() - y * y,
            Activation::Sigmoid => y * (F::one() - y),
            Activation::Relu => {
                if y > F::zero() {
                    F::one()
                } else {
                    F::zero()
                }
            }
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
        })
    }
}

impl FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tanh" => Ok(Activation::Tanh),
            "sigmoid" => Ok(Activation::Sigmoid),
            "relu" => Ok(Activation::Relu),
            other => Err(Error::invalid(
                "activation",
                format!("unknown activation '{other}' (expected tanh, sigmoid or relu)"),
            )),
        }
    }
}

/// σ(x) = 1 / (1 + e^{−x}); saturates to exactly 0 or 1 at large |x| without producing NaN.
#[inline]
pub fn sigmoid<F: ndarray::NdFloat>(x: F) -> F {
    F::one() / (F::one() + (-x).exp())
}

/// Row `b` of a (B, K) view as a slice of length K.
///
/// Panics when the view's rows are not contiguous (see the module contract).
#[inline]
pub(crate) fn row<'a, F>(a: &'a ArrayView2<'_, F>, b: usize) -> &'a [F] {
    a.row(b)
        .to_slice()
        .expect("cell step views need contiguous rows (unit column stride)")
}

/// Row `b` of a mutable (B, K) view as a slice of length K (same contract as [`row`]).
#[inline]
pub(crate) fn row_mut<'a, F>(a: &'a mut ArrayViewMut2<'_, F>, b: usize) -> &'a mut [F] {
    a.row_mut(b)
        .into_slice()
        .expect("cell step views need contiguous rows (unit column stride)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_and_tanh_saturate_without_nan() {
        for x in [-100.0f32, 100.0, -1e30, 1e30] {
            assert!(sigmoid(x).is_finite() && Activation::Tanh.apply(x).is_finite());
        }
        assert_eq!(sigmoid(-100.0f32), 0.0);
        assert_eq!(sigmoid(100.0f64), 1.0);
    }

    #[test]
    fn derivative_from_output_matches_finite_difference() {
        for act in Activation::ALL {
            for x in [-1.3f64, -0.2, 0.4, 2.0] {
                let h = 1e-6;
                let fd = (act.apply(x + h) - act.apply(x - h)) / (2.0 * h);
                let d = act.derivative_from_output(act.apply(x));
                assert!((fd - d).abs() < 1e-8, "{act} at {x}: {fd} vs {d}");
            }
        }
    }

    #[test]
    fn names_parse_and_unknown_names_are_errors() {
        assert_eq!("LSTM".parse::<CellKind>().unwrap(), CellKind::Lstm);
        assert_eq!("relu".parse::<Activation>().unwrap(), Activation::Relu);
        let err = "transformer".parse::<CellKind>().unwrap_err().to_string();
        assert!(err.contains("cell") && err.contains("transformer"), "{err}");
        assert!("softplus".parse::<Activation>().is_err());
    }
}
