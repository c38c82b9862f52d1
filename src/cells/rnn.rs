//! Vanilla RNN: `h_t = φ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)`, φ ∈ {tanh, sigmoid, relu},
//! optionally `h_t = φ(LN(a_t))` with `a_t` the pre-activation (the normalisation remedy).

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, NdFloat};

use super::fast_math::{sigmoid_inplace, tanh_inplace};
use super::layer_norm::{layer_norm_backward, layer_norm_forward};
use super::matmul::matmul_acc;
use super::{row, row_mut, Activation};

/// Layer-norm state of one step: parameters and the cache rows written by the forward pass.
pub struct RnnLayerNormStep<'a, F> {
    /// γ, β: (H)
    pub gamma: ArrayView1<'a, F>,
    pub beta: ArrayView1<'a, F>,
    /// x̂: (B, H), rstd: (B)
    pub xhat: ArrayViewMut2<'a, F>,
    pub rstd: ArrayViewMut1<'a, F>,
}

/// One step forward. `pre`: (B, H), holds `x_t W_ih^T + b_ih + b_hh` on entry and the
/// (normalised) pre-activation on exit; h_prev, h_out: (B, H); w_hh: (H, H).
pub fn rnn_forward_step<F: NdFloat>(
    h_out: ArrayViewMut2<F>,
    pre: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    w_hh: ArrayView2<F>,
    activation: Activation,
    layer_norm: Option<RnnLayerNormStep<'_, F>>,
) {
    rnn_forward_step_transposed(h_out, pre, h_prev, w_hh.t(), activation, layer_norm);
}

/// [`rnn_forward_step`] given `w_hh_t` = W_hh^T (H, H) instead of W_hh. With a standard-layout
/// W_hh^T (made once per sequence) the recurrent product runs without repacking W_hh every step.
pub fn rnn_forward_step_transposed<F: NdFloat>(
    mut h_out: ArrayViewMut2<F>,
    mut pre: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    w_hh_t: ArrayView2<F>,
    activation: Activation,
    layer_norm: Option<RnnLayerNormStep<'_, F>>,
) {
    matmul_acc(&h_prev, &w_hh_t, F::one(), &mut pre);
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
pub struct RnnLayerNormGrad<'a, F> {
    pub gamma: ArrayView1<'a, F>,
    pub xhat: ArrayView2<'a, F>,
    pub rstd: ArrayView1<'a, F>,
    /// ∂ℓ/∂γ, ∂ℓ/∂β: (H), added to.
    pub dgamma: ArrayViewMut1<'a, F>,
    pub dbeta: ArrayViewMut1<'a, F>,
}

/// One step backward. dh: (B, H) = ∂ℓ/∂h_t (all paths); h: (B, H) = h_t.
/// Writes d_pre = ∂ℓ/∂a_t (B, H) and dh_prev = d_pre W_hh (B, H), the adjoint sent to h_{t−1}.
pub fn rnn_backward_step<F: NdFloat>(
    mut d_pre: ArrayViewMut2<F>,
    mut dh_prev: ArrayViewMut2<F>,
    dh: ArrayView2<F>,
    h: ArrayView2<F>,
    w_hh: ArrayView2<F>,
    activation: Activation,
    layer_norm: Option<RnnLayerNormGrad<'_, F>>,
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
    matmul_acc(&d_pre.view(), &w_hh, F::zero(), &mut dh_prev);
}
