//! Diagnostics that explain the decay of the error signal, per layer of one probe batch.
//!
//! Backpropagation through time multiplies the adjoint by one step Jacobian per timestep,
//! `∂ℓ/∂h_{t−1} = J_tᵀ ∂ℓ/∂h_t` with `J_t = ∂h_t/∂h_{t−1}` (H × H), so the signal d steps back is
//! bounded by `Π ‖J_t‖₂`. The columns of `diagnostics.csv` ([`DIAGNOSTICS_CSV_HEADER`]) measure
//! the pieces of that product. Shapes: T steps, B sequences, H hidden units, G gates.
//!
//! # `mean_activation_derivative` and `saturated_fraction`
//!
//! Each cell reports these and `mean_gate` itself ([`Cell::gate_statistics`]):
//!
//! * Vanilla RNN, `h_t = φ(a_t)` (a_t after layer norm when it is on): the mean of `φ'(a_t)` over
//!   every (t, b, unit), T·B·H values, computed from the cached output with
//!   [`Activation::derivative_from_output`]: tanh `1 − h²`, sigmoid `h(1 − h)`, relu `[h > 0]`.
//!   A unit is *saturated* when `φ' < 0.01 · max φ'`: tanh `φ' < 0.01`, sigmoid `φ' < 0.0025`,
//!   relu `φ' = 0`, i.e. the unit is inactive (`h = 0`). Since `max σ' = 1/4`, a sigmoid RNN
//!   always shows a mean ≤ 0.25: every step multiplies the signal by at most a quarter of ‖W_hh‖.
//! * LSTM and GRU: the same for the candidate tanh (LSTM g gate, GRU n gate): `1 − g²`
//!   (resp. `1 − n²`), saturated when `< 0.01`.
//!
//! # `mean_jacobian_spectral_norm`
//!
//! The mean of `‖J_t‖₂` over every t and each of the first `max_sequences` sequences of the batch.
//! The lower layers' outputs (this layer's inputs) are held fixed: J_t is the layer's own
//! recurrence. Each norm is a power-iteration estimate on `J_tᵀ J_t`: `v₀ = 1/√H` (all ones,
//! normalised; deterministic, no randomness), `v_{k+1} = J_tᵀ J_t v_k / ‖J_tᵀ J_t v_k‖`, and after
//! `power_iterations` iterations `‖J_t‖₂ ≈ ‖J_t v_k‖`, a lower bound that converges to σ_max
//! unless v₀ is orthogonal to the top right singular vector.
//!
//! J_t is not written out per cell here: it comes from the cell's own backward step
//! ([`Cell::backward_step`]), run once on H copies of each sampled sequence's step-t cache with
//! the unit vectors e_1 … e_H as ∂ℓ/∂h_t and every carried adjoint zero (so c_{t−1} of an LSTM is
//! held fixed: J is the h → h path of one step; the cell path `∂c_t/∂c_{t−1} = f` is summarised by
//! `mean_gate`). Row k of the adjoint sent to h_{t−1} is `J_tᵀ e_k`, i.e. row k of J_t. The products
//! `J v` and `Jᵀ u` of [`StepJacobian`] are then products with these (H, H) matrices, batched over
//! the sampled sequences as (B', H) matrices whose rows are independent.
//!
//! # `mean_gate`
//!
//! LSTM: the mean forget gate f over every (t, b, unit), the factor by which the cell state keeps
//! its past (`∂c_t/∂c_{t−1} = diag f`). GRU: the mean update gate z, the weight of the identity
//! path in `h' = (1−z) n + z h`. Vanilla RNN: none (empty in the CSV).

use ndarray::{Array1, Array2, Array3, ArrayView2, Axis, Zip};
use serde::{Deserialize, Serialize};

#[cfg(doc)]
use crate::cells::{Activation, Cell};
use crate::cells::{CellVisitor, GateStatistics, Registered};
use crate::network::{ForwardCache, Network};

/// Per layer of one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerDiagnostics {
    pub layer: usize,
    /// Mean φ' over (t, b, unit) (RNN), or mean `1 − g²` of the candidate tanh (LSTM g, GRU n).
    pub mean_activation_derivative: f64,
    /// Fraction of (t, b, unit) whose derivative is below 1% of the activation's maximum one.
    pub saturated_fraction: f64,
    /// Mean over (t, b ≤ max_sequences) of the power-iteration estimate of `‖∂h_t/∂h_{t−1}‖₂`.
    pub mean_jacobian_spectral_norm: f64,
    /// LSTM: mean forget gate f; GRU: mean update gate z; None for the vanilla RNN.
    pub mean_gate: Option<f64>,
}

/// The columns of `diagnostics.csv`, one row per (probe step, layer); see the module docs.
pub const DIAGNOSTICS_CSV_HEADER: &str =
    "step,layer,mean_activation_derivative,saturated_fraction,mean_jacobian_spectral_norm,mean_gate";

/// The CSV rows (without header or newline) of one probe at training step `step`: floats in
/// Rust's shortest round-trip scientific form (`{:e}`), `mean_gate` empty when None.
pub fn diagnostics_csv_rows(step: usize, d: &[LayerDiagnostics]) -> Vec<String> {
    d.iter()
        .map(|l| {
            let gate = l.mean_gate.map(|g| format!("{g:e}")).unwrap_or_default();
            format!(
                "{step},{},{:e},{:e},{:e},{gate}",
                l.layer,
                l.mean_activation_derivative,
                l.saturated_fraction,
                l.mean_jacobian_spectral_norm
            )
        })
        .collect()
}

/// Diagnostics of every layer of `net` on the forward pass `forward` (which `net` produced).
/// Jacobian norms use the first `max_sequences` sequences of the batch (at least one, at most B)
/// and `power_iterations` iterations each; the other columns use the whole batch.
///
/// # Panics
/// If `forward` does not fit `net` (layer count, widths or cell kind differ).
pub fn diagnose(
    net: &Network<f64>,
    forward: &ForwardCache<f64>,
    max_sequences: usize,
    power_iterations: usize,
) -> Vec<LayerDiagnostics> {
    assert_eq!(
        forward.layers.len(),
        net.spec.layers(),
        "the forward cache has one layer cache per layer of the network"
    );
    (0..net.spec.layers())
        .map(|l| {
            let mut stats = GateStatistics::default();
            add_gate_statistics(net, forward, l, &mut stats);
            let norms = jacobian_norms(net, forward, l, max_sequences, power_iterations);
            layer_diagnostics(l, &stats, &norms)
        })
        .collect()
}

/// Adds layer `layer`'s [`crate::cells::Cell::gate_statistics`] over the steps of `forward` to
/// `stats` (steps in order, so that consecutive segments of one pass add up as the whole pass).
pub fn add_gate_statistics(
    net: &Network<f64>,
    forward: &ForwardCache<f64>,
    layer: usize,
    stats: &mut GateStatistics,
) {
    let cache = &forward.layers[layer];
    net.spec.cell.visit(
        &net.spec.cell_config(),
        GateStats {
            gates: cache.gates.view(),
            hidden: cache.hidden(),
            hid: net.spec.hidden[layer],
            sums: stats,
        },
    );
}

/// Per step t of `forward` (in order): the power-iteration estimates of `‖J_t‖₂` of layer `layer`
/// for the first `max_sequences` sequences (clamped to 1..=B), `power_iterations` iterations each.
pub fn jacobian_norms(
    net: &Network<f64>,
    forward: &ForwardCache<f64>,
    layer: usize,
    max_sequences: usize,
    power_iterations: usize,
) -> Vec<Array1<f64>> {
    let sequences = max_sequences.clamp(1, forward.batch);
    (0..forward.steps)
        .map(|t| {
            StepJacobian::new(net, forward, layer, t, sequences).spectral_norms(power_iterations)
        })
        .collect()
}

/// The diagnostics of layer `layer` from its gate statistics and the Jacobian norms of every
/// step of the pass ([`jacobian_norms`], steps in order).
pub fn layer_diagnostics(
    layer: usize,
    stats: &GateStatistics,
    norms: &[Array1<f64>],
) -> LayerDiagnostics {
    let mut norm_sum = 0.0;
    let mut count = 0;
    for n in norms {
        norm_sum += n.sum();
        count += n.len();
    }
    LayerDiagnostics {
        layer,
        mean_activation_derivative: stats.mean_derivative(),
        saturated_fraction: stats.saturated_fraction(),
        mean_jacobian_spectral_norm: norm_sum / count as f64,
        mean_gate: stats.mean_gate(),
    }
}

/// The cell's [`crate::cells::Cell::gate_statistics`] of one layer, added to `sums`.
struct GateStats<'a> {
    gates: ndarray::ArrayView3<'a, f64>,
    hidden: ndarray::ArrayView3<'a, f64>,
    hid: usize,
    sums: &'a mut GateStatistics,
}

impl CellVisitor for GateStats<'_> {
    type Output = ();
    fn visit<C: Registered>(self, cell: C) {
        cell.gate_statistics(self.gates, self.hidden, self.hid, self.sums)
    }
}

/// The step Jacobian `J_t = ∂h_t/∂h_{t−1}` of one layer at one timestep, for the first B'
/// sequences of a batch, as a linear map on (B', H) matrices whose row b is the vector of
/// sequence b (each row has its own Jacobian). The layer's input x_t (and, for LSTM, c_{t−1}) is
/// held fixed. Built from the cell's backward step (see the module docs).
#[derive(Debug, Clone)]
pub struct StepJacobian {
    /// (B', H, H): `jacobians[b]` is J_t of sequence b.
    jacobians: Array3<f64>,
}

impl StepJacobian {
    /// The Jacobian of layer `layer` at step `t` (0-based: J_t maps h_{t−1} = `h[t]` of the cache
    /// to h_t = `h[t+1]`) for the first `sequences` sequences (clamped to 1..=B).
    ///
    /// # Panics
    /// If `layer ≥ L`, `t ≥ T`, or `forward` does not fit `net`.
    pub fn new(
        net: &Network<f64>,
        forward: &ForwardCache<f64>,
        layer: usize,
        t: usize,
        sequences: usize,
    ) -> Self {
        let jacobians = net.spec.cell.visit(
            &net.spec.cell_config(),
            JacobianRows {
                net,
                forward,
                layer,
                t,
                sequences: sequences.clamp(1, forward.batch),
            },
        );
        StepJacobian { jacobians }
    }

    /// Number of sequences B' (rows of the matrices `apply` takes).
    pub fn sequences(&self) -> usize {
        self.jacobians.dim().0
    }

    /// Tangent-linear map: row b of the result is `J_t^{(b)} v_b`. v: (B', H) → (B', H).
    pub fn apply(&self, v: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros(v.raw_dim());
        for ((mut o, j), v) in out
            .axis_iter_mut(Axis(0))
            .zip(self.jacobians.axis_iter(Axis(0)))
            .zip(v.axis_iter(Axis(0)))
        {
            o.assign(&j.dot(&v));
        }
        out
    }

    /// Adjoint map: row b of the result is `J_t^{(b)ᵀ} u_b`. u: (B', H) → (B', H).
    pub fn apply_transpose(&self, u: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros(u.raw_dim());
        for ((mut o, j), u) in out
            .axis_iter_mut(Axis(0))
            .zip(self.jacobians.axis_iter(Axis(0)))
            .zip(u.axis_iter(Axis(0)))
        {
            o.assign(&j.t().dot(&u));
        }
        out
    }

    /// Power-iteration estimates of `‖J_t^{(b)}‖₂`, one per sequence b (B'), after `iterations`
    /// iterations on `JᵀJ` from the normalised all-ones vector. A row whose iterate becomes 0
    /// (J v = 0 or JᵀJ v = 0) keeps that iterate and reports ‖J v‖ = 0 for it.
    pub fn spectral_norms(&self, iterations: usize) -> Array1<f64> {
        let hid = self.jacobians.dim().1;
        let start = 1.0 / (hid as f64).sqrt();
        let mut v = Array2::from_elem((self.sequences(), hid), start);
        for _ in 0..iterations {
            let w = self.apply_transpose(self.apply(v.view()).view());
            for (mut row, w_row) in v.axis_iter_mut(Axis(0)).zip(w.axis_iter(Axis(0))) {
                let norm = w_row.dot(&w_row).sqrt();
                if norm > 0.0 && norm.is_finite() {
                    Zip::from(&mut row)
                        .and(&w_row)
                        .for_each(|x, &y| *x = y / norm);
                } else if norm == 0.0 {
                    row.fill(0.0);
                } else {
                    row.fill(f64::NAN);
                }
            }
        }
        let jv = self.apply(v.view());
        jv.map_axis(Axis(1), |row| row.dot(&row).sqrt())
    }
}

/// The rows of J_t for the first `sequences` sequences of one layer: the cell's backward step on
/// H copies of each sequence's step-t cache, with ∂ℓ/∂h_t = e_k on copy k and no carried adjoint.
struct JacobianRows<'a> {
    net: &'a Network<f64>,
    forward: &'a ForwardCache<f64>,
    layer: usize,
    t: usize,
    sequences: usize,
}

impl CellVisitor for JacobianRows<'_> {
    /// (B', H, H)
    type Output = Array3<f64>;
    fn visit<C: Registered>(self, cell: C) -> Array3<f64> {
        let JacobianRows {
            net,
            forward,
            layer,
            t,
            sequences,
        } = self;
        let cache = &forward.layers[layer];
        let hid = net.spec.hidden[layer];
        let gh = cache.gates.dim().2;
        // row b·H + k is sequence b with ∂ℓ/∂h_t = e_k
        let rows: Vec<usize> = (0..sequences)
            .flat_map(|b| std::iter::repeat_n(b, hid))
            .collect();
        let n = rows.len();
        let own = C::cache_ref(&cache.cell).expect("the forward cache was made by this cell");
        let step_cache = C::select_step(own, t, &rows);
        let step = |a: &Array3<f64>, k: usize| a.index_axis(Axis(0), k).select(Axis(0), &rows);
        let (gates, h_prev, h) = (
            step(&cache.gates, t),
            step(&cache.h, t),
            step(&cache.h, t + 1),
        );
        let mut dh = Array2::<f64>::zeros((n, hid));
        for (i, mut row) in dh.axis_iter_mut(Axis(0)).enumerate() {
            row[i % hid] = 1.0;
        }
        let mut adj = C::Adjoint::<f64>::default();
        cell.begin_backward(&mut adj, 1, n, hid);
        let prep = cell.prepare_backward(&net.params.layers[layer]);
        let mut d_pre = Array2::<f64>::zeros((n, gh));
        let mut dh_prev = Array2::<f64>::zeros((n, hid));
        cell.backward_step(
            &prep,
            &step_cache,
            &mut adj,
            0,
            gates.view(),
            h_prev.view(),
            h.view(),
            dh.view(),
            d_pre.view_mut(),
            dh_prev.view_mut(),
        );
        dh_prev
            .into_shape_with_order((sequences, hid, hid))
            .expect("a fresh array is contiguous")
    }
}
