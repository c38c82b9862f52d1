//! LSTM with the equations and gate order of `torch.nn.LSTM`:
//! `i = σ(·), f = σ(·), g = tanh(·), o = σ(·)` of `W_i* x_t + b_i* + W_h* h_{t−1} + b_h*`,
//! `c_t = f ⊙ c_{t−1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.
//!
//! With `forget_gate: false` it is Hochreiter & Schmidhuber's 1997 cell: f ≡ 1, so
//! `c_t = c_{t−1} + i ⊙ g` (the constant error carousel, ∂c_t/∂c_{t−1} = I). The forget block's
//! weights stay in the layout (so the file keeps PyTorch's shapes), are initialised to 0 and get a
//! zero gradient: the forward step writes f = 1 into the gates, and the backward step's
//! `df = dc ⊙ f(1 − f) ⊙ c_{t−1}` is then 0.

use ndarray::{
    s, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Axis, Dim, NdFloat,
};

use super::fast_math::{sigmoid_inplace, tanh_inplace, tanh_into};
use super::matmul::{matmul_acc, Accumulate, PaddedMatrix};
use super::{
    draw_gate_blocks, fit, gated_statistics, row, row_mut, Cell,
    CellConfig, GateStatistics, LayerParams,
};
use crate::batch::cast;
use crate::init::{chrono_biases, Chrono, InitSpec};
use rand_chacha::ChaCha8Rng;

/// The LSTM cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lstm {
    /// False: f ≡ 1 (the 1997 cell).
    forget_gate: bool,
}

/// What the forward pass keeps beyond the activated gates (i, f, g, o) in `gates`.
#[derive(Debug, Clone)]
pub struct LstmCache<F> {
    /// (T+1, B, H) cell states laid out like `h`: `c[0]` is the initial state.
    pub c: Array3<F>,
    /// (T, B, H) tanh(c_t).
    pub tanh_c: Array3<F>,
}

impl<F: NdFloat> Default for LstmCache<F> {
    fn default() -> Self {
        LstmCache {
            c: Array3::zeros((0, 0, 0)),
            tanh_c: Array3::zeros((0, 0, 0)),
        }
    }
}

/// The backward pass's cell-state adjoints.
#[derive(Debug, Clone)]
pub struct LstmAdjoint<F> {
    /// (T, B, H) ∂ℓ/∂c_t.
    pub dc: Array3<F>,
    /// (B, H) the adjoint carried from c_t to c_{t−1} (`∂ℓ/∂c_t ⊙ f_t`); after the last step,
    /// ∂ℓ/∂c_0.
    pub carry: Array2<F>,
}

impl<F: NdFloat> Default for LstmAdjoint<F> {
    fn default() -> Self {
        LstmAdjoint {
            dc: Array3::zeros((0, 0, 0)),
            carry: Array2::zeros((0, 0)),
        }
    }
}

impl Cell for Lstm {
    type Cache<F: NdFloat> = LstmCache<F>;
    type Adjoint<F: NdFloat> = LstmAdjoint<F>;
    /// W_hh^T (H, 4H) row-major, made once per sequence.
    type Forward<F: NdFloat> = PaddedMatrix<F>;
    /// W_hh (4H, H) row-major with a padded stride.
    type Backward<F: NdFloat> = PaddedMatrix<F>;

    const FORGET_GATE_OPTIONAL: bool = true;
    const SUPPORTS_CHRONO: bool = true;

    fn from_config(config: &CellConfig) -> Self {
        Lstm {
            forget_gate: config.forget_gate,
        }
    }

    fn gates(&self) -> usize {
        4
    }

    /// c and tanh c in the cache; dc in the adjoint.
    fn extra_floats_per_unit(&self) -> (usize, usize) {
        (2, 1)
    }

    fn has_memory(&self) -> bool {
        true
    }

    /// The gate blocks as usual, then the forget gate's total bias: `bias_ih` forget block =
    /// `init.forget_bias`, `bias_hh` forget block = 0. With chrono initialisation (drawn after the
    /// blocks, so the other weights are those of the same seed without it): `b_f = ln u`,
    /// `u ~ U[1, T_max − 1]`, `b_i = −b_f`, every other bias 0 (each total bias sits in `bias_ih`).
    /// Without a forget gate, its block (weights and biases) is 0.
    fn init_layer<F: NdFloat>(
        &self,
        layer: &mut LayerParams<F>,
        init: &InitSpec,
        rng: &mut ChaCha8Rng,
    ) {
        draw_gate_blocks(self.gates(), layer, init, rng);
        let h = layer.weight_hh.ncols();
        let forget = s![h..2 * h];
        layer.bias_ih.slice_mut(forget).fill(cast(init.forget_bias));
        layer.bias_hh.slice_mut(forget).fill(F::zero());
        if let Chrono::TMax(t_max) = init.chrono {
            let b_f = chrono_biases(h, t_max, rng);
            layer.bias_ih.fill(F::zero());
            layer.bias_hh.fill(F::zero());
            layer.bias_ih.slice_mut(forget).assign(&b_f.mapv(cast));
            layer.bias_ih.slice_mut(s![..h]).assign(&b_f.mapv(|b| cast(-b)));
        }
        if !self.forget_gate {
            layer.weight_ih.slice_mut(s![h..2 * h, ..]).fill(F::zero());
            layer.weight_hh.slice_mut(s![h..2 * h, ..]).fill(F::zero());
            layer.bias_ih.slice_mut(forget).fill(F::zero());
            layer.bias_hh.slice_mut(forget).fill(F::zero());
        }
    }

    fn prepare_forward<F: NdFloat>(&self, p: &LayerParams<F>, _batch: usize) -> PaddedMatrix<F> {
        PaddedMatrix::new(p.weight_hh.t())
    }

    fn begin_forward<F: NdFloat>(
        &self,
        cache: &mut LstmCache<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
        memory0: Option<ArrayView2<'_, F>>,
    ) {
        fit(&mut cache.c, Dim((steps + 1, batch, hidden)));
        fit(&mut cache.tanh_c, Dim((steps, batch, hidden)));
        match memory0 {
            Some(c0) => cache.c.index_axis_mut(Axis(0), 0).assign(&c0),
            None => cache.c.index_axis_mut(Axis(0), 0).fill(F::zero()),
        }
    }

    fn forward_step<F: NdFloat>(
        &self,
        prep: &mut PaddedMatrix<F>,
        cache: &mut LstmCache<F>,
        t: usize,
        gates: ArrayViewMut2<'_, F>,
        h_prev: ArrayView2<'_, F>,
        h_out: ArrayViewMut2<'_, F>,
    ) {
        let (c_before, mut c_after) = cache.c.view_mut().split_at(Axis(0), t + 1);
        forward_step(
            h_out,
            c_after.index_axis_mut(Axis(0), 0),
            cache.tanh_c.index_axis_mut(Axis(0), t),
            gates,
            h_prev,
            c_before.index_axis(Axis(0), t),
            prep.view(),
            self.forget_gate,
        );
    }

    fn memory<F: NdFloat>(cache: &LstmCache<F>) -> Option<&Array3<F>> {
        Some(&cache.c)
    }

    fn cache_rows<F: NdFloat>(cache: &LstmCache<F>) -> Option<Vec<ArrayView3<'_, F>>> {
        Some(vec![cache.c.view(), cache.tanh_c.view()])
    }

    fn cache_rows_mut<F: NdFloat>(cache: &mut LstmCache<F>) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        Some(vec![cache.c.view_mut(), cache.tanh_c.view_mut()])
    }

    fn adjoint_rows<F: NdFloat>(adj: &mut LstmAdjoint<F>) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        Some(vec![
            adj.dc.view_mut(),
            adj.carry.view_mut().insert_axis(Axis(0)),
        ])
    }

    fn select_step<F: NdFloat>(cache: &LstmCache<F>, t: usize, rows: &[usize]) -> LstmCache<F> {
        LstmCache {
            c: cache.c.slice(s![t..t + 2, .., ..]).select(Axis(1), rows),
            tanh_c: cache
                .tanh_c
                .slice(s![t..t + 1, .., ..])
                .select(Axis(1), rows),
        }
    }

    fn prepare_backward<F: NdFloat>(&self, p: &LayerParams<F>) -> PaddedMatrix<F> {
        PaddedMatrix::new(p.weight_hh.view())
    }

    fn begin_segment<F: NdFloat>(
        &self,
        adj: &mut LstmAdjoint<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
    ) {
        fit(&mut adj.dc, Dim((steps, batch, hidden)));
    }

    fn begin_backward<F: NdFloat>(
        &self,
        adj: &mut LstmAdjoint<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
    ) {
        fit(&mut adj.dc, Dim((steps, batch, hidden)));
        fit(&mut adj.carry, Dim((batch, hidden)));
        adj.carry.fill(F::zero());
    }

    fn backward_step<F: NdFloat>(
        &self,
        prep: &PaddedMatrix<F>,
        cache: &LstmCache<F>,
        adj: &mut LstmAdjoint<F>,
        t: usize,
        gates: ArrayView2<'_, F>,
        _h_prev: ArrayView2<'_, F>,
        _h: ArrayView2<'_, F>,
        dh: ArrayView2<'_, F>,
        d_pre: ArrayViewMut2<'_, F>,
        dh_prev: ArrayViewMut2<'_, F>,
    ) {
        backward_step(
            d_pre,
            adj.dc.index_axis_mut(Axis(0), t),
            dh_prev,
            adj.carry.view_mut(),
            dh,
            gates,
            cache.c.index_axis(Axis(0), t),
            cache.tanh_c.index_axis(Axis(0), t),
            prep.view(),
        );
    }

    fn cut<F: NdFloat>(adj: &mut LstmAdjoint<F>) {
        adj.carry.fill(F::zero());
    }

    fn memory_adjoint<F: NdFloat>(adj: &LstmAdjoint<F>) -> Option<&Array3<F>> {
        Some(&adj.dc)
    }

    fn initial_memory_adjoint<F: NdFloat>(adj: &LstmAdjoint<F>) -> Option<Array2<F>> {
        Some(adj.carry.clone())
    }

    /// The candidate tanh g (third block) and the forget gate f (second block).
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

/// One step forward. `gates`: (B, 4H), holds `x_t W_ih^T + b_ih + b_hh` on entry and the activated
/// gates (i, f, g, o) on exit (f = 1 without a forget gate); h_prev, c_prev, h_out, c_out,
/// tanh_c_out: (B, H); `w_hh_t` = W_hh^T (H, 4H), standard layout (made once per sequence).
#[allow(clippy::too_many_arguments)]
fn forward_step<F: NdFloat>(
    mut h_out: ArrayViewMut2<F>,
    mut c_out: ArrayViewMut2<F>,
    mut tanh_c_out: ArrayViewMut2<F>,
    mut gates: ArrayViewMut2<F>,
    h_prev: ArrayView2<F>,
    c_prev: ArrayView2<F>,
    w_hh_t: ArrayView2<F>,
    forget_gate: bool,
) {
    let h = h_prev.ncols();
    matmul_acc(&h_prev, &w_hh_t, Accumulate::Add, &mut gates);
    for b in 0..gates.nrows() {
        let g = row_mut(&mut gates, b);
        // σ over the contiguous (i, f) blocks, tanh over g, σ over o
        if forget_gate {
            sigmoid_inplace(&mut g[..2 * h]);
        } else {
            sigmoid_inplace(&mut g[..h]);
            g[h..2 * h].fill(F::one());
        }
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
fn backward_step<F: NdFloat>(
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
    matmul_acc(&d_pre.view(), &w_hh, Accumulate::Overwrite, &mut dh_prev);
}

/// The element-wise part of [`backward_step`] for one row. A function of its own so that its
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
