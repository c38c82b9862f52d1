//! Vanilla RNN: `h_t = φ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)`, φ ∈ {tanh, sigmoid, relu},
//! optionally `h_t = φ(LN(a_t))` with `a_t` the pre-activation (the normalisation remedy).

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, NdFloat, Zip};

use super::layer_norm::{layer_norm_backward, layer_norm_forward};
use super::Activation;

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
    mut h_out: ArrayViewMut2<F>,
    mut pre: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    w_hh: ArrayView2<F>,
    activation: Activation,
    layer_norm: Option<RnnLayerNormStep<'_, F>>,
) {
    general_mat_mul(F::one(), &h_prev, &w_hh.t(), F::one(), &mut pre);
    if let Some(ln) = layer_norm {
        layer_norm_forward(pre.view_mut(), ln.xhat, ln.rstd, ln.gamma, ln.beta);
    }
    Zip::from(&mut h_out)
        .and(&pre)
        .for_each(|h, &a| *h = activation.apply(a));
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
    Zip::from(&mut d_pre)
        .and(&dh)
        .and(&h)
        .for_each(|d, &g, &y| *d = g * activation.derivative_from_output(y));
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
    general_mat_mul(F::one(), &d_pre, &w_hh, F::zero(), &mut dh_prev);
}
