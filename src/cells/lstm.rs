//! LSTM with the equations and gate order of `torch.nn.LSTM`:
//! `i = σ(·), f = σ(·), g = tanh(·), o = σ(·)` of `W_i* x_t + b_i* + W_h* h_{t−1} + b_h*`,
//! `c_t = f ⊙ c_{t−1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.

use ndarray::{ArrayView2, ArrayViewMut2, NdFloat};

use super::fast_math::{sigmoid_inplace, tanh_inplace, tanh_into};
use super::matmul::matmul_acc;
use super::{row, row_mut};

/// One step forward. `gates`: (B, 4H), holds `x_t W_ih^T + b_ih + b_hh` on entry and the activated
/// gates (i, f, g, o) on exit; h_prev, c_prev, h_out, c_out, tanh_c_out: (B, H); w_hh: (4H, H).
pub fn lstm_forward_step<F: NdFloat>(
    h_out: ArrayViewMut2<F>,
    c_out: ArrayViewMut2<F>,
    tanh_c_out: ArrayViewMut2<F>,
    gates: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    c_prev: ArrayView2<F>,
    w_hh: ArrayView2<F>,
) {
    lstm_forward_step_transposed(h_out, c_out, tanh_c_out, gates, h_prev, c_prev, w_hh.t());
}

/// [`lstm_forward_step`] given `w_hh_t` = W_hh^T (H, 4H) instead of W_hh. With a standard-layout
/// W_hh^T (made once per sequence) the recurrent product runs without repacking W_hh every step.
pub fn lstm_forward_step_transposed<F: NdFloat>(
    mut h_out: ArrayViewMut2<F>,
    mut c_out: ArrayViewMut2<F>,
    mut tanh_c_out: ArrayViewMut2<F>,
    mut gates: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    c_prev: ArrayView2<F>,
    w_hh_t: ArrayView2<F>,
) {
    let h = h_prev.ncols();
    matmul_acc(&h_prev, &w_hh_t, F::one(), &mut gates);
    for b in 0..gates.nrows() {
        let g = row_mut(&mut gates, b);
        // σ over the contiguous (i, f) blocks, tanh over g, σ over o
        sigmoid_inplace(&mut g[..2 * h]);
        tanh_inplace(&mut g[2 * h..3 * h]);
        sigmoid_inplace(&mut g[3 * h..4 * h]);
        let (gi, rest) = g.split_at(h);
        let (gf, rest) = rest.split_at(h);
        let (gg, go) = rest.split_at(h);
        let cp = &row(&c_prev, b)[..h];
        let c = &mut row_mut(&mut c_out, b)[..h];
        for j in 0..h {
            c[j] = gf[j] * cp[j] + gi[j] * gg[j];
        }
        let tc = &mut row_mut(&mut tanh_c_out, b)[..h];
        tanh_into(tc, c);
        let hv = &mut row_mut(&mut h_out, b)[..h];
        for j in 0..h {
            hv[j] = go[j] * tc[j];
        }
    }
}

/// One step backward. dh: (B, H) = ∂ℓ/∂h_t (all paths). `dc_carry` (B, H) holds on entry the
/// adjoint reaching c_t from step t+1 (`∂ℓ/∂c_{t+1} ⊙ f_{t+1}`) and on exit the one sent to c_{t−1}
/// (`∂ℓ/∂c_t ⊙ f_t`). Writes dc = ∂ℓ/∂c_t (B, H), d_pre = ∂ℓ/∂(gate pre-activations) (B, 4H) and
/// dh_prev = d_pre W_hh (B, H).
#[allow(clippy::too_many_arguments)]
pub fn lstm_backward_step<F: NdFloat>(
    mut d_pre: ArrayViewMut2<F>,
    mut dc: ArrayViewMut2<F>,
    mut dh_prev: ArrayViewMut2<F>,
    mut dc_carry: ArrayViewMut2<F>,
    dh: ArrayView2<F>,
    gates: ArrayView2<F>,
    c_prev: ArrayView2<F>,
    tanh_c: ArrayView2<F>,
    w_hh: ArrayView2<F>,
) {
    let h = dh.ncols();
    for b in 0..dh.nrows() {
        let g = row(&gates, b);
        let (gi, gf, gg, go) = (&g[..h], &g[h..2 * h], &g[2 * h..3 * h], &g[3 * h..4 * h]);
        let d = row_mut(&mut d_pre, b);
        let (di, rest) = d.split_at_mut(h);
        let (df, rest) = rest.split_at_mut(h);
        let (dg, d_o) = rest.split_at_mut(h);
        let (di, df, dg, d_o) = (&mut di[..h], &mut df[..h], &mut dg[..h], &mut d_o[..h]);
        let dcv = &mut row_mut(&mut dc, b)[..h];
        let carry = &mut row_mut(&mut dc_carry, b)[..h];
        let (dhv, cp, tc) = (row(&dh, b), row(&c_prev, b), row(&tanh_c, b));
        backward_row(di, df, dg, d_o, dcv, carry, dhv, gi, gf, gg, go, cp, tc);
    }
    matmul_acc(&d_pre.view(), &w_hh, F::zero(), &mut dh_prev);
}

/// The element-wise part of [`lstm_backward_step`] for one row. A function of its own so that its
/// slice arguments are known not to alias and the loop vectorises (inline, it stayed scalar).
#[allow(clippy::too_many_arguments)]
#[inline]
fn backward_row<F: NdFloat>(
    di: &mut [F],
    df: &mut [F],
    dg: &mut [F],
    d_o: &mut [F],
    dcv: &mut [F],
    carry: &mut [F],
    dhv: &[F],
    gi: &[F],
    gf: &[F],
    gg: &[F],
    go: &[F],
    cp: &[F],
    tc: &[F],
) {
    let one = F::one();
    let h = dhv.len();
    let (di, df, dg, d_o, dcv, carry) = (
        &mut di[..h],
        &mut df[..h],
        &mut dg[..h],
        &mut d_o[..h],
        &mut dcv[..h],
        &mut carry[..h],
    );
    let (gi, gf, gg, go, cp, tc) = (&gi[..h], &gf[..h], &gg[..h], &go[..h], &cp[..h], &tc[..h]);
    for j in 0..h {
        // through h_t = o ⊙ tanh(c_t): into o, and into c_t on top of what arrives from t+1
        let (o, t) = (go[j], tc[j]);
        d_o[j] = dhv[j] * t * o * (one - o);
        let dct = carry[j] + dhv[j] * o * (one - t * t);
        dcv[j] = dct;
        // through c_t = f ⊙ c_{t−1} + i ⊙ g
        let (i, f, gv) = (gi[j], gf[j], gg[j]);
        di[j] = dct * i * (one - i) * gv;
        df[j] = dct * f * (one - f) * cp[j];
        dg[j] = dct * i * (one - gv * gv);
        carry[j] = dct * f;
    }
}
