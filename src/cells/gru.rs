//! GRU with the equations and gate order of `torch.nn.GRU`:
//! `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
//! `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2, NdFloat};

use super::fast_math::{sigmoid_inplace, tanh_inplace};
use super::matmul::matmul_acc;
use super::{row, row_mut};

/// One step forward. `gates`: (B, 3H), holds `x_t W_ih^T + b_ih` on entry and the activated gates
/// (r, z, n) on exit. `hproj`: (B, 3H) scratch for `h_{t−1} W_hh^T + b_hh`; its n block is kept in
/// `hproj_n_out` (B, H) for the backward pass. h_prev, h_out: (B, H); w_hh: (3H, H); b_hh: (3H).
pub fn gru_forward_step<F: NdFloat>(
    h_out: ArrayViewMut2<F>,
    gates: ArrayViewMut2<F>,
    hproj_n_out: ArrayViewMut2<F>,
    hproj: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    w_hh: ArrayView2<F>,
    b_hh: ArrayView1<F>,
) {
    gru_forward_step_transposed(h_out, gates, hproj_n_out, hproj, h_prev, w_hh.t(), b_hh);
}

/// [`gru_forward_step`] given `w_hh_t` = W_hh^T (H, 3H) instead of W_hh. With a standard-layout
/// W_hh^T (made once per sequence) the recurrent product runs without repacking W_hh every step.
pub fn gru_forward_step_transposed<F: NdFloat>(
    mut h_out: ArrayViewMut2<F>,
    mut gates: ArrayViewMut2<F>,
    mut hproj_n_out: ArrayViewMut2<F>,
    mut hproj: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    w_hh_t: ArrayView2<F>,
    b_hh: ArrayView1<F>,
) {
    let h = h_prev.ncols();
    let dim = hproj.raw_dim();
    hproj.assign(&b_hh.broadcast(dim).expect("b_hh has the width of hproj"));
    matmul_acc(&h_prev, &w_hh_t, F::one(), &mut hproj);
    let hproj = hproj.view();
    for b in 0..gates.nrows() {
        let g = &mut row_mut(&mut gates, b)[..3 * h];
        let hp = &row(&hproj, b)[..3 * h];
        // r, z = σ(x part + h part), over the contiguous (r, z) blocks
        for j in 0..2 * h {
            g[j] += hp[j];
        }
        sigmoid_inplace(&mut g[..2 * h]);
        let (rz, gn) = g.split_at_mut(2 * h);
        let (gr, gz) = rz.split_at(h);
        let (gn, hn) = (&mut gn[..h], &hp[2 * h..3 * h]);
        for j in 0..h {
            gn[j] += gr[j] * hn[j];
        }
        tanh_inplace(gn);
        row_mut(&mut hproj_n_out, b)[..h].copy_from_slice(hn);
        let hv = &mut row_mut(&mut h_out, b)[..h];
        let hpr = &row(&h_prev, b)[..h];
        for j in 0..h {
            hv[j] = (F::one() - gz[j]) * gn[j] + gz[j] * hpr[j];
        }
    }
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
    for b in 0..dh.nrows() {
        let g = row(&gates, b);
        let (gr, gz, gn) = (&g[..h], &g[h..2 * h], &g[2 * h..3 * h]);
        let d = &mut row_mut(&mut d_pre, b)[..3 * h];
        let (dr, rest) = d.split_at_mut(h);
        let (dz, dn) = rest.split_at_mut(h);
        let (dr, dz, dn) = (&mut dr[..h], &mut dz[..h], &mut dn[..h]);
        let dhp = &mut row_mut(&mut d_hproj, b)[..3 * h];
        let (dhp_rz, dhp_n) = dhp.split_at_mut(2 * h);
        let (dhp_rz, dhp_n) = (&mut dhp_rz[..2 * h], &mut dhp_n[..h]);
        let dprev = &mut row_mut(&mut dh_prev, b)[..h];
        let (dhv, an, hp) = (
            &row(&dh, b)[..h],
            &row(&hproj_n, b)[..h],
            &row(&h_prev, b)[..h],
        );
        backward_row(dr, dz, dn, dhp_n, dprev, dhv, gr, gz, gn, an, hp);
        // r and z enter additively on both sides
        dhp_rz[..h].copy_from_slice(dr);
        dhp_rz[h..].copy_from_slice(dz);
    }
    matmul_acc(&d_hproj.view(), &w_hh, one, &mut dh_prev);
}

/// The element-wise part of [`gru_backward_step`] for one row. A function of its own so that its
/// slice arguments are known not to alias and the loop vectorises (inline, it stayed scalar).
#[allow(clippy::too_many_arguments)]
#[inline]
fn backward_row<F: NdFloat>(
    dr: &mut [F],
    dz: &mut [F],
    dn: &mut [F],
    dhp_n: &mut [F],
    dprev: &mut [F],
    dhv: &[F],
    gr: &[F],
    gz: &[F],
    gn: &[F],
    an: &[F],
    hp: &[F],
) {
    let one = F::one();
    let h = dhv.len();
    let (dr, dz, dn, dhp_n, dprev) = (
        &mut dr[..h],
        &mut dz[..h],
        &mut dn[..h],
        &mut dhp_n[..h],
        &mut dprev[..h],
    );
    let (gr, gz, gn, an, hp) = (&gr[..h], &gz[..h], &gn[..h], &an[..h], &hp[..h]);
    for j in 0..h {
        let (r, z, n, g) = (gr[j], gz[j], gn[j], dhv[j]);
        // through h' = (1 − z) ⊙ n + z ⊙ h: into z, into n's pre-activation, into h directly
        dz[j] = g * (hp[j] - n) * z * (one - z);
        let dnv = g * (one - z) * (one - n * n);
        dn[j] = dnv;
        dprev[j] = g * z;
        // n = tanh(… + r ⊙ hproj_n): into r, and into hproj_n scaled by r
        dr[j] = dnv * an[j] * r * (one - r);
        dhp_n[j] = dnv * r;
    }
}
