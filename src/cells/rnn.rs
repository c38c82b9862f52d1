//! Vanilla RNN: `h_t = φ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)`, φ ∈ {tanh, sigmoid, relu},
//! optionally `h_t = φ(LN(a_t))` with `a_t` the pre-activation (the normalisation remedy).

use ndarray::{
    s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3, ArrayViewMut1, ArrayViewMut2, ArrayViewMut3,
    Axis, Dim, NdFloat,
};

use super::fast_math::{sigmoid_inplace, tanh_inplace};
use super::layer_norm::{layer_norm_backward, layer_norm_forward};
use super::matmul::{matmul_acc, Accumulate, PaddedMatrix};
use super::{
    derivative_statistics, reuse, row, row_mut, Activation, Cell, CellConfig, GateStatistics,
    LayerParams,
};

/// The vanilla RNN cell, with its nonlinearity and optional layer norm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rnn {
    pub activation: Activation,
    pub layer_norm: bool,
}

/// What the forward pass keeps beyond the (normalised) pre-activation in `gates`.
#[derive(Debug, Clone)]
pub struct RnnCache<F> {
    /// Layer norm: (T, B, H) x̂ and (T, B) rstd.
    pub layer_norm: Option<(Array3<F>, Array2<F>)>,
}

impl<F> Default for RnnCache<F> {
    fn default() -> Self {
        RnnCache { layer_norm: None }
    }
}

/// The backward pass's accumulators.
#[derive(Debug, Clone)]
pub struct RnnAdjoint<F> {
    /// Layer norm: ∂ℓ/∂γ, ∂ℓ/∂β (H), summed over the steps.
    pub layer_norm: Option<(Array1<F>, Array1<F>)>,
}

impl<F> Default for RnnAdjoint<F> {
    fn default() -> Self {
        RnnAdjoint { layer_norm: None }
    }
}

/// Per sequence, forward: W_hh^T row-major (the step products stream it row by row), γ and β.
pub struct RnnForward<F> {
    w_hh_t: PaddedMatrix<F>,
    layer_norm: Option<(Array1<F>, Array1<F>)>,
}

/// Per sequence, backward: W_hh row-major with a padded stride, γ.
pub struct RnnBackward<F> {
    w_hh: PaddedMatrix<F>,
    gamma: Option<Array1<F>>,
}

impl Cell for Rnn {
    type Cache<F: NdFloat> = RnnCache<F>;
    type Adjoint<F: NdFloat> = RnnAdjoint<F>;
    type Forward<F: NdFloat> = RnnForward<F>;
    type Backward<F: NdFloat> = RnnBackward<F>;

    const SUPPORTS_LAYER_NORM: bool = true;

    fn from_config(config: &CellConfig) -> Self {
        Rnn {
            activation: config.activation,
            layer_norm: config.layer_norm,
        }
    }

    fn gates(&self) -> usize {
        1
    }

    fn uses_activation(&self) -> bool {
        true
    }

    fn prepare_forward<F: NdFloat>(&self, p: &LayerParams<F>, _batch: usize) -> RnnForward<F> {
        RnnForward {
            w_hh_t: PaddedMatrix::new(p.weight_hh.t()),
            layer_norm: p.layer_norm.clone(),
        }
    }

    fn begin_forward<F: NdFloat>(
        &self,
        cache: &mut RnnCache<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
        _memory0: Option<ArrayView2<'_, F>>,
    ) {
        cache.layer_norm = match (self.layer_norm, cache.layer_norm.take()) {
            (true, slot) => {
                let (xhat, rstd) = slot.unzip();
                Some((
                    reuse(xhat, Dim((steps, batch, hidden))),
                    reuse(rstd, Dim((steps, batch))),
                ))
            }
            (false, _) => None,
        };
    }

    fn forward_step<F: NdFloat>(
        &self,
        prep: &mut RnnForward<F>,
        cache: &mut RnnCache<F>,
        t: usize,
        gates: ArrayViewMut2<'_, F>,
        h_prev: ArrayView2<'_, F>,
        h_out: ArrayViewMut2<'_, F>,
    ) {
        let ln = match (&prep.layer_norm, &mut cache.layer_norm) {
            (Some((gamma, beta)), Some((xhat, rstd))) => Some(LayerNormStep {
                gamma: gamma.view(),
                beta: beta.view(),
                xhat: xhat.index_axis_mut(Axis(0), t),
                rstd: rstd.index_axis_mut(Axis(0), t),
            }),
            _ => None,
        };
        forward_step(
            h_out,
            gates,
            h_prev,
            prep.w_hh_t.view(),
            self.activation,
            ln,
        );
    }

    fn cache_rows<F: NdFloat>(cache: &RnnCache<F>) -> Option<Vec<ArrayView3<'_, F>>> {
        Some(match &cache.layer_norm {
            Some((xhat, rstd)) => vec![xhat.view(), rstd.view().insert_axis(Axis(2))],
            None => Vec::new(),
        })
    }

    fn cache_rows_mut<F: NdFloat>(cache: &mut RnnCache<F>) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        Some(match &mut cache.layer_norm {
            Some((xhat, rstd)) => vec![xhat.view_mut(), rstd.view_mut().insert_axis(Axis(2))],
            None => Vec::new(),
        })
    }

    /// Layer norm's ∂ℓ/∂γ, ∂ℓ/∂β are sums over the sequences: one thread then.
    fn adjoint_rows<F: NdFloat>(adj: &mut RnnAdjoint<F>) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        adj.layer_norm.is_none().then(Vec::new)
    }

    fn select_step<F: NdFloat>(cache: &RnnCache<F>, t: usize, rows: &[usize]) -> RnnCache<F> {
        RnnCache {
            layer_norm: cache.layer_norm.as_ref().map(|(xhat, rstd)| {
                (
                    xhat.slice(s![t..t + 1, .., ..]).select(Axis(1), rows),
                    rstd.slice(s![t..t + 1, ..]).select(Axis(1), rows),
                )
            }),
        }
    }

    fn prepare_backward<F: NdFloat>(&self, p: &LayerParams<F>) -> RnnBackward<F> {
        RnnBackward {
            w_hh: PaddedMatrix::new(p.weight_hh.view()),
            gamma: p.layer_norm.as_ref().map(|(gamma, _)| gamma.clone()),
        }
    }

    fn begin_segment<F: NdFloat>(
        &self,
        _adj: &mut RnnAdjoint<F>,
        _steps: usize,
        _batch: usize,
        _hidden: usize,
    ) {
        // only accumulators (layer norm's ∂γ, ∂β): nothing is per step
    }

    fn begin_backward<F: NdFloat>(
        &self,
        adj: &mut RnnAdjoint<F>,
        _steps: usize,
        _batch: usize,
        hidden: usize,
    ) {
        adj.layer_norm = self
            .layer_norm
            .then(|| (Array1::zeros(hidden), Array1::zeros(hidden)));
    }

    fn backward_step<F: NdFloat>(
        &self,
        prep: &RnnBackward<F>,
        cache: &RnnCache<F>,
        adj: &mut RnnAdjoint<F>,
        t: usize,
        _gates: ArrayView2<'_, F>,
        _h_prev: ArrayView2<'_, F>,
        h: ArrayView2<'_, F>,
        dh: ArrayView2<'_, F>,
        d_pre: ArrayViewMut2<'_, F>,
        dh_prev: ArrayViewMut2<'_, F>,
    ) {
        let ln = match (&prep.gamma, &cache.layer_norm, &mut adj.layer_norm) {
            (Some(gamma), Some((xhat, rstd)), Some((dgamma, dbeta))) => Some(LayerNormGrad {
                gamma: gamma.view(),
                xhat: xhat.index_axis(Axis(0), t),
                rstd: rstd.index_axis(Axis(0), t),
                dgamma: dgamma.view_mut(),
                dbeta: dbeta.view_mut(),
            }),
            _ => None,
        };
        backward_step(d_pre, dh_prev, dh, h, prep.w_hh.view(), self.activation, ln);
    }

    fn end_backward<F: NdFloat>(&self, adj: &RnnAdjoint<F>, grads: &mut LayerParams<F>) {
        if let (Some((dgamma, dbeta)), Some((g, b))) = (&adj.layer_norm, &mut grads.layer_norm) {
            *g += dgamma;
            *b += dbeta;
        }
    }

    fn gate_statistics(
        &self,
        _gates: ArrayView3<'_, f64>,
        hidden: ArrayView3<'_, f64>,
        _hid: usize,
        sums: &mut GateStatistics,
    ) {
        let max = match self.activation {
            Activation::Sigmoid => 0.25,
            Activation::Tanh | Activation::Relu => 1.0,
        };
        derivative_statistics(hidden, self.activation, max, sums);
    }
}

/// Layer-norm state of one step: parameters and the cache rows written by the forward pass.
struct LayerNormStep<'a, F> {
    /// γ, β: (H)
    pub gamma: ArrayView1<'a, F>,
    pub beta: ArrayView1<'a, F>,
    /// x̂: (B, H), rstd: (B)
    pub xhat: ArrayViewMut2<'a, F>,
    pub rstd: ArrayViewMut1<'a, F>,
}

/// One step forward. `pre`: (B, H), holds `x_t W_ih^T + b_ih + b_hh` on entry and the
/// (normalised) pre-activation on exit; h_prev, h_out: (B, H); `w_hh_t` = W_hh^T (H, H), standard
/// layout (made once per sequence, so the recurrent product runs without repacking W_hh).
fn forward_step<F: NdFloat>(
    mut h_out: ArrayViewMut2<F>,
    mut pre: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    w_hh_t: ArrayView2<F>,
    activation: Activation,
    layer_norm: Option<LayerNormStep<'_, F>>,
) {
    matmul_acc(&h_prev, &w_hh_t, Accumulate::Add, &mut pre);
    if let Some(ln) = layer_norm {
        layer_norm_forward(pre.view_mut(), ln.xhat, ln.rstd, ln.gamma, ln.beta);
    }
    let pre = pre.view();
    for b in 0..h_out.nrows() {
        let out = row_mut(&mut h_out, b);
        out.copy_from_slice(row(&pre, b));
        match activation {
            Activation::Tanh => tanh_inplace(out),
            Activation::Sigmoid => sigmoid_inplace(out),
            Activation::Relu => out.iter_mut().for_each(|v| *v = v.max(F::zero())),
        }
    }
}

/// Layer-norm state of one step in the backward pass.
struct LayerNormGrad<'a, F> {
    pub gamma: ArrayView1<'a, F>,
    pub xhat: ArrayView2<'a, F>,
    pub rstd: ArrayView1<'a, F>,
    /// ∂ℓ/∂γ, ∂ℓ/∂β: (H), added to.
    pub dgamma: ArrayViewMut1<'a, F>,
    pub dbeta: ArrayViewMut1<'a, F>,
}

/// One step backward. dh: (B, H) = ∂ℓ/∂h_t (all paths); h: (B, H) = h_t.
/// Writes d_pre = ∂ℓ/∂a_t (B, H) and dh_prev = d_pre W_hh (B, H), the adjoint sent to h_{t−1}.
fn backward_step<F: NdFloat>(
    mut d_pre: ArrayViewMut2<F>,
    mut dh_prev: ArrayViewMut2<F>,
    dh: ArrayView2<F>,
    h: ArrayView2<F>,
    w_hh: ArrayView2<F>,
    activation: Activation,
    layer_norm: Option<LayerNormGrad<'_, F>>,
) {
    // backprop through the nonlinearity, using the cached output
    for b in 0..dh.nrows() {
        let (d, g, y) = (row_mut(&mut d_pre, b), row(&dh, b), row(&h, b));
        let dy = d.iter_mut().zip(g).zip(y);
        match activation {
            Activation::Tanh => dy.for_each(|((d, &g), &y)| *d = g * (F::one() - y * y)),
            Activation::Sigmoid => dy.for_each(|((d, &g), &y)| *d = g * (y * (F::one() - y))),
            Activation::Relu => {
                dy.for_each(|((d, &g), &y)| *d = g * Activation::Relu.derivative_from_output(y))
            }
        }
    }
    if let Some(ln) = layer_norm {
        layer_norm_backward(
            d_pre.view_mut(),
            ln.dgamma,
            ln.dbeta,
            ln.xhat,
            ln.rstd,
            ln.gamma,
        );
    }
    matmul_acc(&d_pre.view(), &w_hh, Accumulate::Overwrite, &mut dh_prev);
}
