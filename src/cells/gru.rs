//! GRU with the equations and gate order of `torch.nn.GRU`:
//! `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
//! `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView1, ArrayView2, ArrayViewMut2, NdFloat, Zip};

use super::sigmoid;

/// One step forward. `gates`: (B, 3H), holds `x_t W_ih^T + b_ih` on entry and the activated gates
/// (r, z, n) on exit. `hproj`: (B, 3H) scratch for `h_{t−1} W_hh^T + b_hh`; its n block is kept in
/// `hproj_n_out` (B, H) for the backward pass. h_prev, h_out: (B, H); w_hh: (3H, H); b_hh: (3H).
pub fn gru_forward_step<F: NdFloat>(
    mut h_out: ArrayViewMut2<F>,
    mut gates: ArrayViewMut2<F>,
    mut hproj_n_out: ArrayViewMut2<F>,
    mut hproj: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    w_hh: ArrayView2<F>,
    b_hh: ArrayView1<F>,
) {
    let h = h_prev.ncols();
    let dim = hproj.raw_dim();
    hproj.assign(&b_hh.broadcast(dim).expect("b_hh has the width of hproj"));
    general_mat_mul(F::one(), &h_prev, &w_hh.t(), F::one(), &mut hproj);
    let (mut gr, mut gz, mut gn) =
        gates.multi_slice_mut((s![.., 0..h], s![.., h..2 * h], s![.., 2 * h..]));
    let (hr, hz, hn) = (
        hproj.slice(s![.., 0..h]),
        hproj.slice(s![.., h..2 * h]),
        hproj.slice(s![.., 2 * h..]),
    );
    Zip::from(&mut gr)
        .and(&mut gz)
        .and(&hr)
        .and(&hz)
        .for_each(|r, z, &ar, &az| {
            *r = sigmoid(*r + ar);
            *z = sigmoid(*z + az);
        });
    hproj_n_out.assign(&hn);
    Zip::from(&mut gn)
        .and(&gr)
        .and(&gz)
        .and(&hn)
        .and(&h_prev)
        .and(&mut h_out)
        .for_each(|n, &r, &z, &an, &hp, hv| {
            *n = (*n + r * an).tanh();
            *hv = (F::one() - z) * *n + z * hp;
        });
}

/// One step backward. dh: (B, H) = ∂ℓ/∂h_t (all paths). Writes d_pre = ∂ℓ/∂(x_t W_ih^T + b_ih)
/// (B, 3H), d_hproj = ∂ℓ/∂(h_{t−1} W_hh^T + b_hh) (B, 3H), which differ in the n block by the
/// factor r, and dh_prev = dh ⊙ z + d_hproj W_hh (B, H).
#[allow(clippy::too_many_arguments)]
pub fn gru_backward_step<F: NdFloat>(
    mut d_pre: ArrayViewMut2<F>,
    mut d_hproj: ArrayViewMut2<F>,
    mut dh_prev: ArrayViewMut2<F>,
    dh: ArrayView2<F>,
    gates: ArrayView2<F>,
    hproj_n: ArrayView2<F>,
    h_prev: ArrayView2<F>,
    w_hh: ArrayView2<F>,
) {
    let h = dh.ncols();
    let one = F::one();
    let (gr, gz, gn) = (
        gates.slice(s![.., 0..h]),
        gates.slice(s![.., h..2 * h]),
        gates.slice(s![.., 2 * h..]),
    );
    {
        let (mut dr, mut dz, mut dn) =
            d_pre.multi_slice_mut((s![.., 0..h], s![.., h..2 * h], s![.., 2 * h..]));
        // through h' = (1 − z) ⊙ n + z ⊙ h: into z and into n's pre-activation
        Zip::from(&mut dz)
            .and(&mut dn)
            .and(&dh)
            .and(&gz)
            .and(&gn)
            .and(&h_prev)
            .for_each(|dzv, dnv, &dhv, &z, &n, &hp| {
                *dzv = dhv * (hp - n) * z * (one - z);
                *dnv = dhv * (one - z) * (one - n * n);
            });
        // n = tanh(… + r ⊙ hproj_n): into r
        Zip::from(&mut dr)
            .and(&dn)
            .and(&hproj_n)
            .and(&gr)
            .for_each(|drv, &dnv, &an, &r| {
                *drv = dnv * an * r * (one - r);
            });
    }
    d_hproj
        .slice_mut(s![.., 0..2 * h])
        .assign(&d_pre.slice(s![.., 0..2 * h]));
    Zip::from(d_hproj.slice_mut(s![.., 2 * h..]))
        .and(d_pre.slice(s![.., 2 * h..]))
        .and(&gr)
        .for_each(|dhn, &dnv, &r| *dhn = dnv * r);
    Zip::from(&mut dh_prev)
        .and(&dh)
        .and(&gz)
        .for_each(|d, &dhv, &z| *d = dhv * z);
    general_mat_mul(one, &d_hproj, &w_hh, one, &mut dh_prev);
}
