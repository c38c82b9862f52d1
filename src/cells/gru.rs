//! GRU with the equations and gate order of `torch.nn.GRU`:
//! `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
//! `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.

use ndarray::{
    s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Axis, Dim,
    NdFloat,
};

use super::fast_math::{sigmoid_inplace, tanh_inplace};
use super::matmul::{matmul_acc, Accumulate, PaddedMatrix};
use super::{
    draw_gate_blocks, fit, gated_statistics, row, row_mut, Cell, CellConfig, GateStatistics,
    LayerParams,
};
use crate::batch::cast;
use crate::init::{chrono_biases, Chrono, InitSpec};
use rand_chacha::ChaCha8Rng;

/// The GRU cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gru;

/// What the forward pass keeps beyond the activated gates (r, z, n) in `gates`.
#[derive(Debug, Clone)]
pub struct GruCache<F> {
    /// (T, B, H) `W_hn h_{t−1} + b_hn`.
    pub hproj_n: Array3<F>,
}

impl<F: NdFloat> Default for GruCache<F> {
    fn default() -> Self {
        GruCache {
            hproj_n: Array3::zeros((0, 0, 0)),
        }
    }
}

/// The backward pass's recurrent-side adjoints.
#[derive(Debug, Clone)]
pub struct GruAdjoint<F> {
    /// (T, B, 3H) ∂ℓ/∂(h_{t−1} W_hh^T + b_hh); differs from `d_pre` in the n block by the factor r.
    pub d_hproj: Array3<F>,
}

impl<F: NdFloat> Default for GruAdjoint<F> {
    fn default() -> Self {
        GruAdjoint {
            d_hproj: Array3::zeros((0, 0, 0)),
        }
    }
}

/// Per sequence, forward: W_hh^T (H, 3H) row-major, b_hh and a (B, 3H) scratch for
/// `h_{t−1} W_hh^T + b_hh`.
pub struct GruForward<F> {
    w_hh_t: PaddedMatrix<F>,
    b_hh: Array1<F>,
    hproj: Array2<F>,
}

impl Cell for Gru {
    type Cache<F: NdFloat> = GruCache<F>;
    type Adjoint<F: NdFloat> = GruAdjoint<F>;
    type Forward<F: NdFloat> = GruForward<F>;
    /// W_hh (3H, H) row-major with a padded stride.
    type Backward<F: NdFloat> = PaddedMatrix<F>;

    const SUPPORTS_CHRONO: bool = true;

    fn from_config(_config: &CellConfig) -> Self {
        Gru
    }

    /// The gate blocks as usual. With chrono initialisation (drawn after the blocks): the update
    /// gate z, which keeps h (`h' = (1 − z) ⊙ n + z ⊙ h`), gets `b_z = ln u`, `u ~ U[1, T_max − 1]`
    /// in `bias_ih`; every other bias is 0.
    fn init_layer<F: NdFloat>(
        &self,
        layer: &mut LayerParams<F>,
        init: &InitSpec,
        rng: &mut ChaCha8Rng,
    ) {
        draw_gate_blocks(self.gates(), layer, init, rng);
        if let Chrono::TMax(t_max) = init.chrono {
            let h = layer.weight_hh.ncols();
            let b_z = chrono_biases(h, t_max, rng);
            layer.bias_ih.fill(F::zero());
            layer.bias_hh.fill(F::zero());
            layer.bias_ih.slice_mut(s![h..2 * h]).assign(&b_z.mapv(cast));
        }
    }

    fn gates(&self) -> usize {
        3
    }

    /// the recurrent candidate projection; its adjoints.
    fn extra_floats_per_unit(&self) -> (usize, usize) {
        (1, 3)
    }

    /// b_hh stays inside the recurrent term (r multiplies `W_hn h + b_hn`).
    fn input_bias<F: NdFloat>(&self, p: &LayerParams<F>) -> Array1<F> {
        p.bias_ih.clone()
    }

    fn prepare_forward<F: NdFloat>(&self, p: &LayerParams<F>, batch: usize) -> GruForward<F> {
        GruForward {
            w_hh_t: PaddedMatrix::new(p.weight_hh.t()),
            b_hh: p.bias_hh.clone(),
            hproj: Array2::zeros((batch, p.bias_hh.len())),
        }
    }

    fn begin_forward<F: NdFloat>(
        &self,
        cache: &mut GruCache<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
        _memory0: Option<ArrayView2<'_, F>>,
    ) {
        fit(&mut cache.hproj_n, Dim((steps, batch, hidden)));
    }

    fn forward_step<F: NdFloat>(
        &self,
        prep: &mut GruForward<F>,
        cache: &mut GruCache<F>,
        t: usize,
        gates: ArrayViewMut2<'_, F>,
        h_prev: ArrayView2<'_, F>,
        h_out: ArrayViewMut2<'_, F>,
    ) {
        forward_step(
            h_out,
            gates,
            cache.hproj_n.index_axis_mut(Axis(0), t),
            prep.hproj.view_mut(),
            h_prev,
            prep.w_hh_t.view(),
            prep.b_hh.view(),
        );
    }

    fn cache_rows<F: NdFloat>(cache: &GruCache<F>) -> Option<Vec<ArrayView3<'_, F>>> {
        Some(vec![cache.hproj_n.view()])
    }

    fn cache_rows_mut<F: NdFloat>(cache: &mut GruCache<F>) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        Some(vec![cache.hproj_n.view_mut()])
    }

    fn adjoint_rows<F: NdFloat>(adj: &mut GruAdjoint<F>) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        Some(vec![adj.d_hproj.view_mut()])
    }

    fn select_step<F: NdFloat>(cache: &GruCache<F>, t: usize, rows: &[usize]) -> GruCache<F> {
        GruCache {
            hproj_n: cache
                .hproj_n
                .slice(s![t..t + 1, .., ..])
                .select(Axis(1), rows),
        }
    }

    fn prepare_backward<F: NdFloat>(&self, p: &LayerParams<F>) -> PaddedMatrix<F> {
        PaddedMatrix::new(p.weight_hh.view())
    }

    fn begin_segment<F: NdFloat>(
        &self,
        adj: &mut GruAdjoint<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
    ) {
        fit(&mut adj.d_hproj, Dim((steps, batch, 3 * hidden)));
    }

    fn begin_backward<F: NdFloat>(
        &self,
        adj: &mut GruAdjoint<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
    ) {
        fit(&mut adj.d_hproj, Dim((steps, batch, 3 * hidden)));
    }

    fn backward_step<F: NdFloat>(
        &self,
        prep: &PaddedMatrix<F>,
        cache: &GruCache<F>,
        adj: &mut GruAdjoint<F>,
        t: usize,
        gates: ArrayView2<'_, F>,
        h_prev: ArrayView2<'_, F>,
        _h: ArrayView2<'_, F>,
        dh: ArrayView2<'_, F>,
        d_pre: ArrayViewMut2<'_, F>,
        dh_prev: ArrayViewMut2<'_, F>,
    ) {
        backward_step(
            d_pre,
            adj.d_hproj.index_axis_mut(Axis(0), t),
            dh_prev,
            dh,
            gates,
            cache.hproj_n.index_axis(Axis(0), t),
            h_prev,
            prep.view(),
        );
    }

    fn recurrent_adjoint<F: NdFloat>(adj: &GruAdjoint<F>) -> Option<&Array3<F>> {
        Some(&adj.d_hproj)
    }

    /// The candidate tanh n (third block) and the update gate z (second block).
    fn gate_statistics(
        &self,
        gates: ArrayView3<'_, f64>,
        _hidden: ArrayView3<'_, f64>,
        hid: usize,
        sums: &mut GateStatistics,
    ) {
        gated_statistics(gates, hid, 1, 2, sums)
    }
}

/// One step forward. `gates`: (B, 3H), holds `x_t W_ih^T + b_ih` on entry and the activated gates
/// (r, z, n) on exit. `hproj`: (B, 3H) scratch for `h_{t−1} W_hh^T + b_hh`; its n block is kept in
/// `hproj_n_out` (B, H) for the backward pass. h_prev, h_out: (B, H); `w_hh_t` = W_hh^T (H, 3H),
/// standard layout (made once per sequence); b_hh: (3H).
fn forward_step<F: NdFloat>(
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
    matmul_acc(&h_prev, &w_hh_t, Accumulate::Add, &mut hproj);
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
fn backward_step<F: NdFloat>(
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
    matmul_acc(&d_hproj.view(), &w_hh, Accumulate::Add, &mut dh_prev);
}

/// The element-wise part of [`backward_step`] for one row. A function of its own so that its
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
