//! LSTM with the equations and gate order of `torch.nn.LSTM`:
//! `i = σ(·), f = σ(·), g = tanh(·), o = σ(·)` of `W_i* x_t + b_i* + W_h* h_{t−1} + b_h*`,
//! `c_t = f ⊙ c_{t−1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, ArrayViewMut2, NdFloat, Zip};

use super::sigmoid;

/// One step forward. `gates`: (B, 4H), holds `x_t W_ih^T + b_ih + b_hh` on entry and the activated
/// gates (i, f, g, o) on exit; h_prev, c_prev, h_out, c_out, tanh_c_out: (B, H); w_hh: (4H, H).
pub fn lstm_forward_step<F: NdFloat>(
    mut h_out: ArrayViewMut2<F>,
    mut c_out: ArrayViewMut2<F>,
    mut tanh_c_out: ArrayViewMut2<F>,
    mut gates: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    c_prev: ArrayView2<F>,
    w_hh: ArrayView2<F>,
) {
    let h = h_prev.ncols();
    general_mat_mul(F::one(), &h_prev, &w_hh.t(), F::one(), &mut gates);
    let (mut gi, mut gf, mut gg, mut go) = gates.multi_slice_mut((
        s![.., 0..h],
        s![.., h..2 * h],
        s![.., 2 * h..3 * h],
        s![.., 3 * h..],
    ));
    Zip::from(&mut gi)
        .and(&mut gf)
        .and(&mut gg)
        .and(&c_prev)
        .and(&mut c_out)
        .for_each(|i, f, g, &cp, c| {
            *i = sigmoid(*i);
            *f = sigmoid(*f);
            *g = g.tanh();
            *c = *f * cp + *i * *g;
        });
    Zip::from(&mut go)
        .and(&c_out)
        .and(&mut tanh_c_out)
        .and(&mut h_out)
        .for_each(|o, &c, tc, hv| {
            *o = sigmoid(*o);
            *tc = c.tanh();
            *hv = *o * *tc;
        });
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
    let one = F::one();
    let (gi, gf, gg, go) = (
        gates.slice(s![.., 0..h]),
        gates.slice(s![.., h..2 * h]),
        gates.slice(s![.., 2 * h..3 * h]),
        gates.slice(s![.., 3 * h..]),
    );
    let (mut di, mut df, mut dg, mut d_o) = d_pre.multi_slice_mut((
        s![.., 0..h],
        s![.., h..2 * h],
        s![.., 2 * h..3 * h],
        s![.., 3 * h..],
    ));
    // through h_t = o ⊙ tanh(c_t): into o, and into c_t on top of what arrives from t+1
    Zip::from(&mut d_o)
        .and(&mut dc)
        .and(&dh)
        .and(&go)
        .and(&tanh_c)
        .and(&dc_carry)
        .for_each(|dov, dcv, &dhv, &o, &tc, &carry| {
            *dov = dhv * tc * o * (one - o);
            *dcv = carry + dhv * o * (one - tc * tc);
        });
    // through c_t = f ⊙ c_{t−1} + i ⊙ g
    Zip::from(&mut di)
        .and(&mut df)
        .and(&mut dg)
        .and(&dc)
        .and(&gi)
        .and(&gf)
        .for_each(|div, dfv, dgv, &dcv, &i, &f| {
            *div = dcv * i * (one - i);
            *dfv = dcv * f * (one - f);
            *dgv = dcv * i;
        });
    Zip::from(&mut di)
        .and(&mut df)
        .and(&mut dg)
        .and(&c_prev)
        .and(&gg)
        .for_each(|div, dfv, dgv, &cp, &g| {
            *div = *div * g;
            *dfv = *dfv * cp;
            *dgv = *dgv * (one - g * g);
        });
    Zip::from(&mut dc_carry)
        .and(&dc)
        .and(&gf)
        .for_each(|carry, &dcv, &f| *carry = dcv * f);
    general_mat_mul(one, &d_pre, &w_hh, F::zero(), &mut dh_prev);
}
