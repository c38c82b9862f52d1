//! Diagnostics that explain the decay of the error signal, per layer of one probe batch.
//!
//! Backpropagation through time multiplies the adjoint by one step Jacobian per timestep,
//! `∂ℓ/∂h_{t−1} = J_tᵀ ∂ℓ/∂h_t` with `J_t = ∂h_t/∂h_{t−1}` (H × H), so the signal d steps back is
//! bounded by `Π ‖J_t‖₂`. The columns of `diagnostics.csv` ([`DIAGNOSTICS_CSV_HEADER`]) measure
//! the pieces of that product. Shapes: T steps, B sequences, H hidden units, G gates.
//!
//! # `mean_activation_derivative` and `saturated_fraction`
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
//! unless v₀ is orthogonal to the top right singular vector. The products `J v` (tangent-linear)
//! and `Jᵀ u` (adjoint) are written out per cell in [`StepJacobian`], batched over the sampled
//! sequences as (B', H) matrices whose rows are independent:
//!
//! * RNN, `a = W_hh h + …`, `h' = φ(a)`: `J v = φ' ⊙ (W_hh v)`, `Jᵀ u = W_hhᵀ (φ' ⊙ u)`.
//!   With layer norm, `h' = φ(γ ⊙ x̂ + β)`, `x̂ = (a − mean a) · rstd`, and with `δa = W_hh v`:
//!   `J v = φ' ⊙ γ ⊙ rstd (δa − mean(δa) − x̂ mean(x̂ ⊙ δa))`; the centring-and-projection map is
//!   symmetric, so `Jᵀ u = W_hhᵀ [rstd (d̂ − mean(d̂) − x̂ mean(x̂ ⊙ d̂))]` with `d̂ = γ ⊙ φ' ⊙ u`.
//! * LSTM, with `c_{t−1}` held fixed (J is the h → h path of one step; the cell path
//!   `∂c_t/∂c_{t−1} = f` is summarised by `mean_gate`): `δpre = W_hh v` (4H), `δi = i(1−i) δpre_i`,
//!   `δf = f(1−f) δpre_f`, `δg = (1−g²) δpre_g`, `δo = o(1−o) δpre_o`,
//!   `δc = c_{t−1} δf + g δi + i δg`, `J v = tanh(c_t) δo + o (1 − tanh² c_t) δc`.
//! * GRU, `h' = (1−z) n + z h`, `r = σ(… + W_hr h + b_hr)`, `z = σ(… + W_hz h + b_hz)`,
//!   `n = tanh(… + r ⊙ (W_hn h + b_hn))`: `δz = z(1−z) (W_hz v)`, `δr = r(1−r) (W_hr v)`,
//!   `δn = (1−n²) (δr ⊙ (W_hn h + b_hn) + r ⊙ W_hn v)`, `J v = (1−z) δn + (h − n) δz + z v`.
//!
//! # `mean_gate`
//!
//! LSTM: the mean forget gate f over every (t, b, unit), the factor by which the cell state keeps
//! its past (`∂c_t/∂c_{t−1} = diag f`). GRU: the mean update gate z, the weight of the identity
//! path in `h' = (1−z) n + z h`. Vanilla RNN: none (empty in the CSV).

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayView3, Axis, Zip};
use serde::{Deserialize, Serialize};

use crate::cells::{Activation, CellKind};
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
    let sequences = max_sequences.clamp(1, forward.batch);
    (0..net.spec.layers())
        .map(|l| {
            let cache = &forward.layers[l];
            let hid = net.spec.hidden[l];
            let (deriv, saturated) = activation_statistics(
                net.spec.cell,
                net.spec.activation,
                cache.gates.view(),
                cache.hidden(),
                hid,
            );
            let mean_gate = match net.spec.cell {
                CellKind::Rnn => None,
                // LSTM (i, f, g, o): f; GRU (r, z, n): z. Both are the second block.
                CellKind::Lstm | CellKind::Gru => {
                    Some(mean(cache.gates.slice(s![.., .., hid..2 * hid]).iter()))
                }
            };
            let mut norm_sum = 0.0;
            for t in 0..forward.steps {
                let jac = StepJacobian::new(net, forward, l, t, sequences);
                norm_sum += jac.spectral_norms(power_iterations).sum();
            }
            LayerDiagnostics {
                layer: l,
                mean_activation_derivative: deriv,
                saturated_fraction: saturated,
                mean_jacobian_spectral_norm: norm_sum / (forward.steps * sequences) as f64,
                mean_gate,
            }
        })
        .collect()
}

/// (mean derivative, saturated fraction) over (T, B, H); see the module docs.
fn activation_statistics(
    cell: CellKind,
    activation: Activation,
    gates: ArrayView3<f64>,
    hidden: ArrayView3<f64>,
    hid: usize,
) -> (f64, f64) {
    // (the values φ is read from, φ, max φ')
    let (values, act, max_derivative) = match cell {
        CellKind::Rnn => {
            let max = match activation {
                Activation::Sigmoid => 0.25,
                Activation::Tanh | Activation::Relu => 1.0,
            };
            (hidden, activation, max)
        }
        // the candidate tanh: LSTM g, GRU n, both the third block
        CellKind::Lstm | CellKind::Gru => (
            gates.slice_move(s![.., .., 2 * hid..3 * hid]),
            Activation::Tanh,
            1.0,
        ),
    };
    let threshold = 0.01 * max_derivative;
    let count = values.len() as f64;
    let (sum, saturated) = values.iter().fold((0.0, 0usize), |(sum, sat), &y| {
        let d = act.derivative_from_output(y);
        (sum + d, sat + usize::from(d < threshold))
    });
    (sum / count, saturated as f64 / count)
}

fn mean<'a>(values: impl ExactSizeIterator<Item = &'a f64>) -> f64 {
    let n = values.len() as f64;
    values.sum::<f64>() / n
}

/// What one cell's step linearisation needs, for B' sequences: every array is (B', H).
#[derive(Debug, Clone)]
enum Linearisation {
    Rnn {
        /// φ'(a_t)
        dphi: Array2<f64>,
        /// γ (H), x̂ (B', H), rstd (B') when layer norm is on.
        layer_norm: Option<(Array1<f64>, Array2<f64>, Array1<f64>)>,
    },
    Lstm {
        i: Array2<f64>,
        f: Array2<f64>,
        g: Array2<f64>,
        o: Array2<f64>,
        c_prev: Array2<f64>,
        tanh_c: Array2<f64>,
    },
    Gru {
        r: Array2<f64>,
        z: Array2<f64>,
        n: Array2<f64>,
        /// `W_hn h_{t−1} + b_hn`
        hproj_n: Array2<f64>,
        h_prev: Array2<f64>,
    },
}

/// The step Jacobian `J_t = ∂h_t/∂h_{t−1}` of one layer at one timestep, for the first B'
/// sequences of a batch, as a linear map on (B', H) matrices whose row b is the vector of
/// sequence b (each row has its own Jacobian). The layer's input x_t (and, for LSTM, c_{t−1}) is
/// held fixed. Equations in the module docs.
#[derive(Debug, Clone)]
pub struct StepJacobian<'a> {
    /// W_hh: (G·H, H)
    w_hh: ArrayView2<'a, f64>,
    hid: usize,
    lin: Linearisation,
}

impl<'a> StepJacobian<'a> {
    /// The Jacobian of layer `layer` at step `t` (0-based: J_t maps h_{t−1} = `h[t]` of the cache
    /// to h_t = `h[t+1]`) for the first `sequences` sequences (clamped to 1..=B).
    ///
    /// # Panics
    /// If `layer ≥ L`, `t ≥ T`, or `forward` does not fit `net`.
    pub fn new(
        net: &'a Network<f64>,
        forward: &ForwardCache<f64>,
        layer: usize,
        t: usize,
        sequences: usize,
    ) -> Self {
        let bsz = sequences.clamp(1, forward.batch);
        let cache = &forward.layers[layer];
        let params = &net.params.layers[layer];
        let hid = net.spec.hidden[layer];
        let rows = |a: &ndarray::Array3<f64>, k: usize| -> Array2<f64> {
            a.slice(s![k, 0..bsz, ..]).to_owned()
        };
        let block = |k: usize| -> Array2<f64> {
            cache
                .gates
                .slice(s![t, 0..bsz, k * hid..(k + 1) * hid])
                .to_owned()
        };
        let lin = match net.spec.cell {
            CellKind::Rnn => {
                let act = net.spec.activation;
                let dphi = rows(&cache.h, t + 1).mapv(|y| act.derivative_from_output(y));
                let layer_norm = match (&params.layer_norm, &cache.ln_xhat, &cache.ln_rstd) {
                    (Some((gamma, _)), Some(xhat), Some(rstd)) => Some((
                        gamma.clone(),
                        rows(xhat, t),
                        rstd.slice(s![t, 0..bsz]).to_owned(),
                    )),
                    _ => None,
                };
                Linearisation::Rnn { dphi, layer_norm }
            }
            CellKind::Lstm => {
                let c = cache.c.as_ref().expect("an LSTM cache holds c");
                let tanh_c = cache.tanh_c.as_ref().expect("an LSTM cache holds tanh(c)");
                Linearisation::Lstm {
                    i: block(0),
                    f: block(1),
                    g: block(2),
                    o: block(3),
                    c_prev: rows(c, t),
                    tanh_c: rows(tanh_c, t),
                }
            }
            CellKind::Gru => {
                let hproj_n = cache.hproj_n.as_ref().expect("a GRU cache holds hproj_n");
                Linearisation::Gru {
                    r: block(0),
                    z: block(1),
                    n: block(2),
                    hproj_n: rows(hproj_n, t),
                    h_prev: rows(&cache.h, t),
                }
            }
        };
        StepJacobian {
            w_hh: params.weight_hh.view(),
            hid,
            lin,
        }
    }

    /// Number of sequences B' (rows of the matrices `apply` takes).
    pub fn sequences(&self) -> usize {
        match &self.lin {
            Linearisation::Rnn { dphi, .. } => dphi.nrows(),
            Linearisation::Lstm { i, .. } => i.nrows(),
            Linearisation::Gru { r, .. } => r.nrows(),
        }
    }

    /// `δpre = v W_hhᵀ`: (B', G·H), the change of the recurrent pre-activations.
    fn recurrent(&self, v: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((v.nrows(), self.w_hh.nrows()));
        general_mat_mul(1.0, &v, &self.w_hh.t(), 0.0, &mut out);
        out
    }

    /// `d_pre W_hh`: (B', H), the adjoint of [`Self::recurrent`].
    fn recurrent_adjoint(&self, d_pre: &Array2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((d_pre.nrows(), self.hid));
        general_mat_mul(1.0, d_pre, &self.w_hh, 0.0, &mut out);
        out
    }

    /// Tangent-linear map: row b of the result is `J_t^{(b)} v_b`. v: (B', H) → (B', H).
    pub fn apply(&self, v: ArrayView2<f64>) -> Array2<f64> {
        let h = self.hid;
        let pre = self.recurrent(v);
        match &self.lin {
            Linearisation::Rnn { dphi, layer_norm } => {
                let mut out = pre;
                if let Some((gamma, xhat, rstd)) = layer_norm {
                    layer_norm_jacobian(&mut out, gamma, xhat, rstd, false);
                }
                out *= dphi;
                out
            }
            Linearisation::Lstm {
                i,
                f,
                g,
                o,
                c_prev,
                tanh_c,
            } => {
                let mut out = Array2::zeros((v.nrows(), h));
                for ((b, k), jv) in out.indexed_iter_mut() {
                    let (i, f, g, o) = (i[[b, k]], f[[b, k]], g[[b, k]], o[[b, k]]);
                    let tc = tanh_c[[b, k]];
                    let di = i * (1.0 - i) * pre[[b, k]];
                    let df = f * (1.0 - f) * pre[[b, h + k]];
                    let dg = (1.0 - g * g) * pre[[b, 2 * h + k]];
                    let d_o = o * (1.0 - o) * pre[[b, 3 * h + k]];
                    let dc = c_prev[[b, k]] * df + g * di + i * dg;
                    *jv = tc * d_o + o * (1.0 - tc * tc) * dc;
                }
                out
            }
            Linearisation::Gru {
                r,
                z,
                n,
                hproj_n,
                h_prev,
            } => {
                let mut out = Array2::zeros((v.nrows(), h));
                for ((b, k), jv) in out.indexed_iter_mut() {
                    let (r, z, n) = (r[[b, k]], z[[b, k]], n[[b, k]]);
                    let dr = r * (1.0 - r) * pre[[b, k]];
                    let dz = z * (1.0 - z) * pre[[b, h + k]];
                    let dn = (1.0 - n * n) * (dr * hproj_n[[b, k]] + r * pre[[b, 2 * h + k]]);
                    *jv = (1.0 - z) * dn + (h_prev[[b, k]] - n) * dz + z * v[[b, k]];
                }
                out
            }
        }
    }

    /// Adjoint map: row b of the result is `J_t^{(b)ᵀ} u_b`. u: (B', H) → (B', H).
    pub fn apply_transpose(&self, u: ArrayView2<f64>) -> Array2<f64> {
        let h = self.hid;
        match &self.lin {
            Linearisation::Rnn { dphi, layer_norm } => {
                let mut d = &u * dphi;
                if let Some((gamma, xhat, rstd)) = layer_norm {
                    layer_norm_jacobian(&mut d, gamma, xhat, rstd, true);
                }
                self.recurrent_adjoint(&d)
            }
            Linearisation::Lstm {
                i,
                f,
                g,
                o,
                c_prev,
                tanh_c,
            } => {
                let mut d_pre = Array2::zeros((u.nrows(), 4 * h));
                for ((b, k), &uv) in u.indexed_iter() {
                    let (i, f, g, o) = (i[[b, k]], f[[b, k]], g[[b, k]], o[[b, k]]);
                    let tc = tanh_c[[b, k]];
                    let dc = uv * o * (1.0 - tc * tc);
                    d_pre[[b, k]] = dc * g * i * (1.0 - i);
                    d_pre[[b, h + k]] = dc * c_prev[[b, k]] * f * (1.0 - f);
                    d_pre[[b, 2 * h + k]] = dc * i * (1.0 - g * g);
                    d_pre[[b, 3 * h + k]] = uv * tc * o * (1.0 - o);
                }
                self.recurrent_adjoint(&d_pre)
            }
            Linearisation::Gru {
                r,
                z,
                n,
                hproj_n,
                h_prev,
            } => {
                let mut d_pre = Array2::zeros((u.nrows(), 3 * h));
                for ((b, k), &uv) in u.indexed_iter() {
                    let (r, z, n) = (r[[b, k]], z[[b, k]], n[[b, k]]);
                    // adjoint of n's pre-activation, then of W_hr h, W_hz h and W_hn h + b_hn
                    let dn_pre = uv * (1.0 - z) * (1.0 - n * n);
                    d_pre[[b, k]] = dn_pre * hproj_n[[b, k]] * r * (1.0 - r);
                    d_pre[[b, h + k]] = uv * (h_prev[[b, k]] - n) * z * (1.0 - z);
                    d_pre[[b, 2 * h + k]] = dn_pre * r;
                }
                let mut out = self.recurrent_adjoint(&d_pre);
                Zip::from(&mut out)
                    .and(&u)
                    .and(z)
                    .for_each(|o, &uv, &z| *o += z * uv);
                out
            }
        }
    }

    /// Power-iteration estimates of `‖J_t^{(b)}‖₂`, one per sequence b (B'), after `iterations`
    /// iterations on `JᵀJ` from the normalised all-ones vector. A row whose iterate becomes 0
    /// (J v = 0 or JᵀJ v = 0) keeps that iterate and reports ‖J v‖ = 0 for it.
    pub fn spectral_norms(&self, iterations: usize) -> Array1<f64> {
        let start = 1.0 / (self.hid as f64).sqrt();
        let mut v = Array2::from_elem((self.sequences(), self.hid), start);
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

/// In place on each row of `d` (B', H): the layer-norm Jacobian `diag(γ) · M` (forward,
/// `transpose = false`) or its transpose `M · diag(γ)`, with the symmetric
/// `M δ = rstd (δ − mean(δ) − x̂ mean(x̂ ⊙ δ))`. gamma: (H); xhat: (B', H); rstd: (B').
fn layer_norm_jacobian(
    d: &mut Array2<f64>,
    gamma: &Array1<f64>,
    xhat: &Array2<f64>,
    rstd: &Array1<f64>,
    transpose: bool,
) {
    let width = d.ncols() as f64;
    for ((mut row, xh), &rs) in d
        .axis_iter_mut(Axis(0))
        .zip(xhat.axis_iter(Axis(0)))
        .zip(rstd.iter())
    {
        if transpose {
            row *= gamma;
        }
        let mean_d = row.sum() / width;
        let mean_dx = row.dot(&xh) / width;
        Zip::from(&mut row)
            .and(&xh)
            .for_each(|v, &x| *v = rs * (*v - mean_d - x * mean_dx));
        if !transpose {
            row *= gamma;
        }
    }
}
