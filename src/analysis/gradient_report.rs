//! The gradient-norm-versus-distance report: how much error signal from the loss at the task's
//! probe step reaches each earlier timestep.
//!
//! For a probe batch whose loss is each sequence's own loss ℓ_b at the probe step p (loss weight 1
//! there, 0 elsewhere, so row b of every adjoint is exactly ∂ℓ_b/∂·), per layer and timestep t ≤ p:
//! - `grad_h(t) = mean_b ‖∂ℓ_b/∂h_t‖₂`,
//! - `grad_c(t) = mean_b ‖∂ℓ_b/∂c_t‖₂` (LSTM),
//! - `grad_w(t) = mean_b ‖∂ℓ_b/∂a_t ⊗ h_{t−1}‖_F = mean_b ‖∂ℓ_b/∂a_t‖₂ ‖h_{t−1}‖₂`, the norm of
//!   timestep t's (rank-one) contribution to ∂ℓ_b/∂W_hh, with a_t the recurrent pre-activation,
//!
//! at distance d = p − t. Everything is computed in f64, so values stay exact down to ~1e-300
//! (f64's normal range ends at 2.2e-308; below it precision thins out and 0 is reached at 5e-324).

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use super::diagnostics::{diagnose, LayerDiagnostics};
use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::network::{Bptt, Network};

/// One row of `gradients.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientRow {
    pub step: usize,
    pub layer: usize,
    pub timestep: usize,
    pub distance: usize,
    pub grad_h: f64,
    pub grad_c: Option<f64>,
    pub grad_w: f64,
}

pub const GRADIENTS_CSV_HEADER: &str = "step,layer,timestep,distance,grad_h,grad_c,grad_w";

impl GradientRow {
    /// Floats in Rust's shortest round-trip form (`1.5e-87`), so the file holds the exact values.
    pub fn csv(&self) -> String {
        let c = self.grad_c.map(|v| format!("{v:e}")).unwrap_or_default();
        format!(
            "{},{},{},{},{:e},{},{:e}",
            self.step, self.layer, self.timestep, self.distance, self.grad_h, c, self.grad_w
        )
    }
}

/// How fast the signal decays with distance, for one layer of one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecaySummary {
    pub layer: usize,
    /// ρ = exp(slope) of the least-squares line of ln grad_h against distance, over distances ≥ 1
    /// with finite grad_h > 0. None when fewer than two such points exist.
    pub decay_per_step: Option<f64>,
    /// ln 2 / (−ln ρ) steps; infinite when ρ ≥ 1.
    pub half_life: Option<f64>,
    /// The first distance where grad_h / grad_h(0) < 1e-3; None if the signal never falls that far.
    pub horizon: Option<usize>,
    /// The farthest distance in the report and grad_h there relative to distance 0.
    pub farthest_distance: usize,
    pub ratio_at_farthest: f64,
}

/// The report of one probe: rows for every layer and timestep up to the probe step, the decay
/// summary and the diagnostics of every layer.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientProbe {
    pub step: usize,
    pub rows: Vec<GradientRow>,
    pub summaries: Vec<DecaySummary>,
    pub diagnostics: Vec<LayerDiagnostics>,
}

/// Sequences of the probe batch whose step Jacobians enter the spectral-norm diagnostic, and the
/// power iterations per Jacobian: enough for two or three significant digits at modest cost.
pub const JACOBIAN_SEQUENCES: usize = 4;
pub const JACOBIAN_ITERATIONS: usize = 20;

/// The horizon threshold: grad_h relative to distance 0.
pub const HORIZON_RATIO: f64 = 1e-3;

/// Runs forward and backward on `batch` (whose loss weights must be 1 at `probe_step` and 0
/// elsewhere) and measures every layer's adjoints. `step` labels the rows.
pub fn probe_gradients(
    net: &Network<f64>,
    batch: &Batch<f64>,
    probe_step: usize,
    step: usize,
) -> Result<GradientProbe> {
    let (steps, size) = batch.shape();
    if probe_step >= steps {
        return Err(Error::invalid(
            "probe step",
            format!("{probe_step} is past the sequence's {steps} steps"),
        ));
    }
    let eval = net.evaluate(batch, None, Bptt::Full)?;
    let mut rows = Vec::new();
    let mut summaries = Vec::new();
    for (l, adj) in eval.backward.layers.iter().enumerate() {
        let h_all = &eval.forward.layers[l].h;
        let d_rec = adj.recurrent_pre();
        let mut profile = Vec::with_capacity(probe_step + 1);
        for t in (0..=probe_step).rev() {
            let grad_h = mean_row_norm(&adj.dh.index_axis(Axis(0), t).to_owned());
            let grad_c = adj
                .dc()
                .map(|dc| mean_row_norm(&dc.index_axis(Axis(0), t).to_owned()));
            let d_t = d_rec.index_axis(Axis(0), t);
            let h_prev = h_all.index_axis(Axis(0), t);
            let grad_w = d_t
                .rows()
                .into_iter()
                .zip(h_prev.rows())
                .map(|(d, h)| l2_norm(d.iter().copied()) * l2_norm(h.iter().copied()))
                .sum::<f64>()
                / size as f64;
            let distance = probe_step - t;
            profile.push((distance, grad_h));
            rows.push(GradientRow {
                step,
                layer: l,
                timestep: t,
                distance,
                grad_h,
                grad_c,
                grad_w,
            });
        }
        summaries.push(decay_summary(l, &profile));
    }
    let diagnostics = diagnose(net, &eval.forward, JACOBIAN_SEQUENCES, JACOBIAN_ITERATIONS);
    Ok(GradientProbe {
        step,
        rows,
        summaries,
        diagnostics,
    })
}

/// mean over rows of the row's Euclidean norm.
fn mean_row_norm(a: &Array2<f64>) -> f64 {
    a.rows()
        .into_iter()
        .map(|r| l2_norm(r.iter().copied()))
        .sum::<f64>()
        / a.nrows().max(1) as f64
}

pub use crate::network::l2_norm;

/// The decay summary of `(distance, grad_h)` points (any order).
pub fn decay_summary(layer: usize, profile: &[(usize, f64)]) -> DecaySummary {
    let mut points: Vec<(usize, f64)> = profile.to_vec();
    points.sort_by_key(|p| p.0);
    let at_zero = points
        .iter()
        .find(|p| p.0 == 0)
        .map(|p| p.1)
        .unwrap_or(f64::NAN);
    let fit: Vec<(f64, f64)> = points
        .iter()
        .filter(|(d, g)| *d >= 1 && g.is_finite() && *g > 0.0)
        .map(|&(d, g)| (d as f64, g.ln()))
        .collect();
    let decay_per_step = least_squares_slope(&fit).map(f64::exp);
    let half_life = decay_per_step.map(|rho| {
        if rho >= 1.0 {
            f64::INFINITY
        } else {
            std::f64::consts::LN_2 / -rho.ln()
        }
    });
    let horizon = points
        .iter()
        .find(|(_, g)| *g / at_zero < HORIZON_RATIO)
        .map(|p| p.0);
    let (farthest_distance, far) = points.last().copied().unwrap_or((0, f64::NAN));
    DecaySummary {
        layer,
        decay_per_step,
        half_life,
        horizon,
        farthest_distance,
        ratio_at_farthest: far / at_zero,
    }
}

/// Slope of the least-squares line through `points`; None for fewer than two distinct x.
fn least_squares_slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l2_norm_survives_values_whose_squares_underflow_or_overflow() {
        let v = [3e-200, 4e-200];
        assert!((l2_norm(v.iter().copied()) / 5e-200 - 1.0).abs() < 1e-15);
        let v = [3e200, 4e200];
        assert!((l2_norm(v.iter().copied()) / 5e200 - 1.0).abs() < 1e-15);
        assert_eq!(l2_norm([0.0, 0.0].iter().copied()), 0.0);
        assert!(l2_norm([1.0, f64::NAN].iter().copied()).is_nan());
    }

    #[test]
    fn geometric_decay_gives_its_ratio_half_life_and_horizon() {
        let profile: Vec<(usize, f64)> =
            (0..40).map(|d| (d, 2.0 * 0.5f64.powi(d as i32))).collect();
        let s = decay_summary(0, &profile);
        assert!((s.decay_per_step.unwrap() - 0.5).abs() < 1e-12);
        assert!((s.half_life.unwrap() - 1.0).abs() < 1e-9);
        // 0.5^10 = 9.8e-4 is the first ratio below 1e-3
        assert_eq!(s.horizon, Some(10));
        assert_eq!(s.farthest_distance, 39);
        assert!((s.ratio_at_farthest - 0.5f64.powi(39)).abs() < 1e-25);
    }

    #[test]
    fn growth_has_infinite_half_life_and_no_horizon() {
        let profile: Vec<(usize, f64)> = (0..10).map(|d| (d, 1.1f64.powi(d as i32))).collect();
        let s = decay_summary(0, &profile);
        assert!(s.decay_per_step.unwrap() > 1.0);
        assert_eq!(s.half_life, Some(f64::INFINITY));
        assert_eq!(s.horizon, None);
    }

    #[test]
    fn zeros_and_non_finite_values_are_left_out_of_the_fit() {
        let profile = vec![(0, 1.0), (1, 0.1), (2, 0.0), (3, f64::NAN), (4, 1e-4)];
        let s = decay_summary(0, &profile);
        assert!((s.decay_per_step.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(decay_summary(0, &[(0, 1.0)]).decay_per_step, None);
    }
}
