//! LRU, the linear recurrent unit (Orvieto et al. 2023, "Resurrecting Recurrent Neural Networks
//! for Long Sequences"): a diagonal complex linear recurrence read out through a real output map.
//!
//! With N = ⌊H/2⌋ complex state units, input u_t (I) and H outputs:
//!
//! ```text
//! λ_j = exp(−exp(ν_j) + i·exp(θ_j))              ν = nu_log, θ = theta_log (the paper's exp-exp form)
//! γ_j = sqrt(1 − |λ_j|²)                          computed from ν (not a separate parameter)
//! x_t = λ ⊙ x_{t−1} + γ ⊙ (B u_t + b_B)           B = B_re + i B_im (N, I), b_B complex (N)
//! h_t = φ(Re(C x_t) + D u_t + b_D)                C = C_re + i C_im (H, N), D (H, I), φ the activation
//! ```
//!
//! φ is the model's `activation` (tanh by default; relu stands in for the paper's GELU/GLU block
//! between LRU layers). The paper has no input biases; b_B and b_D are rnnlab's `bias_ih`, drawn
//! as zeros.
//!
//! # State and tensor layout
//! h_t (what the layer passes on, the readout reads and `grad_h` measures) is the output; the
//! complex state x_t travels as the cell's second state (`State::c`, like LSTM's c), packed as
//! `[Re x (N); Im x (N)]` (plus one unused zero entry when H is odd), so `grad_c` in
//! `gradients.csv` is ‖∂ℓ/∂x_t‖ over its 2N real numbers: the signal that crosses time. Since h_t
//! depends on h_{t−1} only through x, the step Jacobian ∂h_t/∂h_{t−1} is zero, and the report's
//! `grad_h` profile (and the ρ / half-life summary fitted to it) sees only the direct term at
//! distance 0; the signal across time is the `grad_c` column. `grad_w` is 0 (no W_hh product).
//!
//! The tensors live in rnnlab's four fields (rows/columns named so a PyTorch port can slice them):
//! - `weight_ih` (2H, I), exported `B_re_B_im_D`: rows [B_re (0..N); B_im (N..2N); D (H..2H)]
//!   (row 2N unused when H is odd),
//! - `weight_hh` (H, H), exported `C_re_C_im`: columns [C_re (0..N) | C_im (N..2N)],
//! - `bias_ih` (2H), exported `bias_B_re_B_im_D`: b_B real, imaginary, then b_D, as `weight_ih`'s rows,
//! - `bias_hh` (H), exported `nu_log_theta_log`: [ν (0..N); θ (N..2N)].
//!
//! Initialisation as in the paper: |λ| uniform on the ring [`R_MIN`, `R_MAX`] (r² uniform),
//! phase uniform on (0, [`THETA_MAX`]], B_re, B_im ~ N(0, 1/(2I)), C_re, C_im ~ N(0, 1/N), and
//! D ~ N(0, 1/I) (the paper's D is a diagonal N(0, 1) skip; rnnlab's layers may change width).
//! The `InitSpec` schemes of the other cells do not apply.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, NdFloat};
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::matmul::{matmul_acc, Accumulate, PaddedMatrix};
use super::{
    derivative_statistics, fit, row, row_mut, Activation, Cell, CellConfig, GateStatistics,
    LayerParams, TensorNames,
};
use crate::batch::cast;
use crate::init::InitSpec;

/// Smallest eigenvalue radius at initialisation.
pub const R_MIN: f64 = 0.9;
/// Largest eigenvalue radius at initialisation.
pub const R_MAX: f64 = 0.999;
/// Largest eigenvalue phase at initialisation (the paper's default 2π; π/10 for its long tasks).
pub const THETA_MAX: f64 = std::f64::consts::TAU;

/// The LRU cell with its output nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lru {
    pub activation: Activation,
}

/// Per layer over all steps: the complex state x_t packed as `[Re x; Im x]`, (T+1, B, H).
#[derive(Debug, Clone)]
pub struct LruCache<F> {
    pub x: Array3<F>,
}

impl<F> Default for LruCache<F> {
    fn default() -> Self {
        LruCache {
            x: Array3::from_shape_vec((0, 0, 0), Vec::new()).expect("empty"),
        }
    }
}

/// The backward pass's adjoints and accumulators.
#[derive(Debug, Clone)]
pub struct LruAdjoint<F> {
    /// ∂ℓ/∂x_t (T, B, H) packed like x.
    pub dx: Array3<F>,
    /// ∂ℓ/∂x_t from the later steps, carried to step t (B, H).
    pub carry: Array2<F>,
    /// Zeros (T, B, H): the generic recurrent product h_{t−1} ⊗ · has no part in the LRU.
    pub zero_rec: Array3<F>,
    /// Σ ∂ℓ/∂z ⊗ x (H, H) with z = C̃ x, C̃ = [C_re | −C_im].
    pub d_c: Array2<F>,
    /// ∂ℓ/∂ν, ∂ℓ/∂θ (N each), through λ and γ.
    pub d_nu: Array1<F>,
    pub d_theta: Array1<F>,
}

impl<F> Default for LruAdjoint<F> {
    fn default() -> Self {
        let e1 = || Array1::from_vec(Vec::new());
        LruAdjoint {
            dx: Array3::from_shape_vec((0, 0, 0), Vec::new()).expect("empty"),
            carry: Array2::from_shape_vec((0, 0), Vec::new()).expect("empty"),
            zero_rec: Array3::from_shape_vec((0, 0, 0), Vec::new()).expect("empty"),
            d_c: Array2::from_shape_vec((0, 0), Vec::new()).expect("empty"),
            d_nu: e1(),
            d_theta: e1(),
        }
    }
}

/// Per sequence: λ, γ, e^ν, e^θ and C̃ = [C_re | −C_im] (H, H) (transposed for the forward
/// product).
pub struct LruStep<F> {
    lre: Vec<F>,
    lim: Vec<F>,
    gamma: Vec<F>,
    exp_nu: Vec<F>,
    exp_theta: Vec<F>,
    c: PaddedMatrix<F>,
}

/// λ's real and imaginary parts and γ of a layer, in f64: (Re λ, Im λ, γ), N each.
pub fn eigenvalues<F: NdFloat>(p: &LayerParams<F>) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = units(p.weight_hh.nrows());
    let (mut lre, mut lim, mut gamma) = (Vec::new(), Vec::new(), Vec::new());
    for j in 0..n {
        let nu: f64 = cast(p.bias_hh[j]);
        let theta: f64 = cast(p.bias_hh[n + j]);
        let m = (-nu.exp()).exp();
        let phase = theta.exp();
        lre.push(m * phase.cos());
        lim.push(m * phase.sin());
        gamma.push((1.0 - m * m).sqrt());
    }
    (lre, lim, gamma)
}

/// Complex state units N of a layer with H outputs.
pub fn units(hidden: usize) -> usize {
    hidden / 2
}

/// C̃ = [C_re | −C_im] (H, H) from `weight_hh` = [C_re | C_im].
fn c_tilde<F: NdFloat>(p: &LayerParams<F>) -> Array2<F> {
    let n = units(p.weight_hh.nrows());
    let mut c = p.weight_hh.clone();
    c.slice_mut(s![.., n..2 * n]).mapv_inplace(|v| -v);
    c
}

impl Lru {
    fn prepare<F: NdFloat>(p: &LayerParams<F>, c: ArrayView2<'_, F>) -> LruStep<F> {
        let (lre, lim, gamma) = eigenvalues(p);
        let n = lre.len();
        let to = |v: Vec<f64>| v.into_iter().map(cast::<f64, F>).collect();
        let exp_of = |v: &[F]| v.iter().map(|&v| v.exp()).collect();
        let b_hh = p.bias_hh.as_slice().expect("parameters are contiguous");
        LruStep {
            lre: to(lre),
            lim: to(lim),
            gamma: to(gamma),
            exp_nu: exp_of(&b_hh[..n]),
            exp_theta: exp_of(&b_hh[n..2 * n]),
            c: PaddedMatrix::new(c),
        }
    }
}

impl Cell for Lru {
    type Cache<F: NdFloat> = LruCache<F>;
    // boxed: its arrays would make every `CellAdjoint` as large as the LRU's
    type Adjoint<F: NdFloat> = Box<LruAdjoint<F>>;
    type Forward<F: NdFloat> = LruStep<F>;
    type Backward<F: NdFloat> = LruStep<F>;

    const TENSOR_NAMES: TensorNames = TensorNames {
        weight_ih: "B_re_B_im_D",
        weight_hh: "C_re_C_im",
        bias_ih: "bias_B_re_B_im_D",
        bias_hh: "nu_log_theta_log",
        ..TensorNames::PYTORCH
    };

    fn from_config(config: &CellConfig) -> Self {
        Lru {
            activation: config.activation,
        }
    }

    /// Two blocks of H in the input projection: [B_re u; B_im u] and D u.
    fn gates(&self) -> usize {
        2
    }

    fn extra_floats_per_unit(&self) -> (usize, usize) {
        // x (T+1 steps); dx and the zero recurrent adjoint
        (1, 2)
    }

    fn uses_activation(&self) -> bool {
        true
    }

    fn bias_hh_in_pre(&self) -> bool {
        false
    }

    fn has_memory(&self) -> bool {
        true
    }

    fn zero_layer<F: NdFloat>(&self, input: usize, hidden: usize) -> LayerParams<F> {
        LayerParams {
            weight_ih: Array2::zeros((2 * hidden, input)),
            weight_hh: Array2::zeros((hidden, hidden)),
            bias_ih: Array1::zeros(2 * hidden),
            bias_hh: Array1::zeros(hidden),
            layer_norm: None,
        }
    }

    fn init_layer<F: NdFloat>(
        &self,
        layer: &mut LayerParams<F>,
        _init: &InitSpec,
        rng: &mut ChaCha8Rng,
    ) {
        let h = layer.weight_hh.nrows();
        let i = layer.weight_ih.ncols();
        let n = units(h);
        let mut normal = |std: f64| cast::<f64, F>(std * rng.sample::<f64, _>(StandardNormal));
        let mut w_ih = Array2::<F>::zeros((2 * h, i));
        let b_std = (1.0 / (2.0 * i as f64)).sqrt();
        for r in 0..2 * n {
            for c in 0..i {
                w_ih[[r, c]] = normal(b_std);
            }
        }
        let d_std = (1.0 / i as f64).sqrt();
        for r in h..2 * h {
            for c in 0..i {
                w_ih[[r, c]] = normal(d_std);
            }
        }
        let mut w_hh = Array2::<F>::zeros((h, h));
        let c_std = (1.0 / n.max(1) as f64).sqrt();
        for r in 0..h {
            for c in 0..2 * n {
                w_hh[[r, c]] = normal(c_std);
            }
        }
        let mut b_hh = Array1::<F>::zeros(h);
        for j in 0..n {
            // r² uniform on [r_min², r_max²]; 1 − U[0, 1) keeps both draws in (0, 1]
            let u1 = 1.0 - rng.random::<f64>();
            let u2 = 1.0 - rng.random::<f64>();
            let r2 = u1 * (R_MAX * R_MAX - R_MIN * R_MIN) + R_MIN * R_MIN;
            b_hh[j] = cast((-0.5 * r2.ln()).ln());
            b_hh[n + j] = cast((THETA_MAX * u2).ln());
        }
        layer.weight_ih = w_ih;
        layer.weight_hh = w_hh;
        layer.bias_ih = Array1::zeros(2 * h);
        layer.bias_hh = b_hh;
    }

    fn input_bias<F: NdFloat>(&self, p: &LayerParams<F>) -> Array1<F> {
        p.bias_ih.clone()
    }

    fn prepare_forward<F: NdFloat>(&self, p: &LayerParams<F>, _batch: usize) -> LruStep<F> {
        let c = c_tilde(p);
        Lru::prepare(p, c.t())
    }

    fn begin_forward<F: NdFloat>(
        &self,
        cache: &mut LruCache<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
        memory0: Option<ArrayView2<'_, F>>,
    ) {
        fit(&mut cache.x, ndarray::Dim((steps + 1, batch, hidden)));
        let mut x0 = cache.x.index_axis_mut(Axis(0), 0);
        match memory0 {
            Some(m) => x0.assign(&m),
            None => x0.fill(F::zero()),
        }
        // the unused entry of an odd H stays zero
        if hidden % 2 == 1 {
            x0.column_mut(hidden - 1).fill(F::zero());
        }
    }

    fn forward_step<F: NdFloat>(
        &self,
        prep: &mut LruStep<F>,
        cache: &mut LruCache<F>,
        t: usize,
        gates: ArrayViewMut2<'_, F>,
        _h_prev: ArrayView2<'_, F>,
        mut h_out: ArrayViewMut2<'_, F>,
    ) {
        let hid = h_out.ncols();
        let n = units(hid);
        let (before, mut after) = cache.x.view_mut().split_at(Axis(0), t + 1);
        let x_prev = before.index_axis(Axis(0), t);
        let mut x = after.index_axis_mut(Axis(0), 0);
        let g = gates.view();
        for b in 0..x.nrows() {
            let (xp, p) = (row(&x_prev, b), row(&g, b));
            let xo = row_mut(&mut x, b);
            for j in 0..n {
                let (xr, xi) = (xp[j], xp[n + j]);
                let (lr, li, gm) = (prep.lre[j], prep.lim[j], prep.gamma[j]);
                xo[j] = lr * xr - li * xi + gm * p[j];
                xo[n + j] = li * xr + lr * xi + gm * p[n + j];
            }
            if hid % 2 == 1 {
                xo[hid - 1] = F::zero();
            }
            row_mut(&mut h_out, b).copy_from_slice(&p[hid..2 * hid]);
        }
        matmul_acc(&x.view(), &prep.c.view(), Accumulate::Add, &mut h_out);
        for b in 0..h_out.nrows() {
            for v in row_mut(&mut h_out, b) {
                *v = self.activation.apply(*v);
            }
        }
    }

    fn memory<F: NdFloat>(cache: &LruCache<F>) -> Option<&Array3<F>> {
        Some(&cache.x)
    }

    fn select_step<F: NdFloat>(cache: &LruCache<F>, t: usize, rows: &[usize]) -> LruCache<F> {
        LruCache {
            x: cache.x.slice(s![t..t + 2, .., ..]).select(Axis(1), rows),
        }
    }

    fn prepare_backward<F: NdFloat>(&self, p: &LayerParams<F>) -> LruStep<F> {
        let c = c_tilde(p);
        Lru::prepare(p, c.view())
    }

    fn begin_segment<F: NdFloat>(
        &self,
        adj: &mut Box<LruAdjoint<F>>,
        steps: usize,
        batch: usize,
        hidden: usize,
    ) {
        fit(&mut adj.dx, ndarray::Dim((steps, batch, hidden)));
        if adj.zero_rec.dim() != (steps, batch, hidden) {
            adj.zero_rec = Array3::zeros((steps, batch, hidden));
        }
    }

    fn begin_backward<F: NdFloat>(
        &self,
        adj: &mut Box<LruAdjoint<F>>,
        steps: usize,
        batch: usize,
        hidden: usize,
    ) {
        let n = units(hidden);
        fit(&mut adj.dx, ndarray::Dim((steps, batch, hidden)));
        adj.carry = Array2::zeros((batch, hidden));
        if adj.zero_rec.dim() != (steps, batch, hidden) {
            adj.zero_rec = Array3::zeros((steps, batch, hidden));
        }
        adj.d_c = Array2::zeros((hidden, hidden));
        adj.d_nu = Array1::zeros(n);
        adj.d_theta = Array1::zeros(n);
    }

    fn backward_step<F: NdFloat>(
        &self,
        prep: &LruStep<F>,
        cache: &LruCache<F>,
        adj: &mut Box<LruAdjoint<F>>,
        t: usize,
        gates: ArrayView2<'_, F>,
        _h_prev: ArrayView2<'_, F>,
        h: ArrayView2<'_, F>,
        dh: ArrayView2<'_, F>,
        mut d_pre: ArrayViewMut2<'_, F>,
        mut dh_prev: ArrayViewMut2<'_, F>,
    ) {
        let hid = h.ncols();
        let n = units(hid);
        let x_prev = cache.x.index_axis(Axis(0), t);
        let x = cache.x.index_axis(Axis(0), t + 1);
        // ∂ℓ/∂z through φ, z = C̃ x + D u + b_D: the D block of d_pre
        for b in 0..dh.nrows() {
            let (g, y) = (row(&dh, b), row(&h, b));
            let d = &mut row_mut(&mut d_pre, b)[hid..2 * hid];
            for ((d, &g), &y) in d.iter_mut().zip(g).zip(y) {
                *d = g * self.activation.derivative_from_output(y);
            }
        }
        let dz = d_pre.slice(s![.., hid..2 * hid]);
        general_mat_mul(F::one(), &dz.t(), &x, F::one(), &mut adj.d_c);
        // ∂ℓ/∂x_t = C̃ᵀ dz + what later steps sent
        let mut dx = adj.dx.index_axis_mut(Axis(0), t);
        dx.assign(&adj.carry);
        matmul_acc(&dz, &prep.c.view(), Accumulate::Add, &mut dx);
        let dx = dx.view();
        for b in 0..dx.nrows() {
            let (dxr, xp, p) = (row(&dx, b), row(&x_prev, b), row(&gates, b));
            let mut carry_row = adj.carry.row_mut(b);
            let carry = carry_row
                .as_slice_mut()
                .expect("the carry is standard layout");
            let dp = row_mut(&mut d_pre, b);
            for j in 0..n {
                let (gr, gi) = (dxr[j], dxr[n + j]);
                let (lr, li, gm) = (prep.lre[j], prep.lim[j], prep.gamma[j]);
                let (xr, xi) = (xp[j], xp[n + j]);
                dp[j] = gm * gr;
                dp[n + j] = gm * gi;
                // x = λ x' + γ p: ∂ℓ/∂γ, ∂ℓ/∂Re λ, ∂ℓ/∂Im λ of this step, then through
                // Re λ = m cos φ, Im λ = m sin φ, m = exp(−e^ν), φ = e^θ, γ = sqrt(1 − m²)
                let d_gamma = gr * p[j] + gi * p[n + j];
                let d_lre = gr * xr + gi * xi;
                let d_lim = gi * xr - gr * xi;
                let (en, et) = (prep.exp_nu[j], prep.exp_theta[j]);
                let m2 = lr * lr + li * li;
                adj.d_nu[j] += en * (d_gamma * m2 / gm - d_lre * lr - d_lim * li);
                adj.d_theta[j] += et * (d_lim * lr - d_lre * li);
                carry[j] = lr * gr + li * gi;
                carry[n + j] = lr * gi - li * gr;
            }
            if hid % 2 == 1 {
                dp[2 * n] = F::zero();
                carry[hid - 1] = F::zero();
            }
        }
        // h_t depends on h_{t−1} only through x_{t−1}
        dh_prev.fill(F::zero());
    }

    fn cut<F: NdFloat>(adj: &mut Box<LruAdjoint<F>>) {
        adj.carry.fill(F::zero());
    }

    fn recurrent_adjoint<F: NdFloat>(adj: &Box<LruAdjoint<F>>) -> Option<&Array3<F>> {
        Some(&adj.zero_rec)
    }

    fn memory_adjoint<F: NdFloat>(adj: &Box<LruAdjoint<F>>) -> Option<&Array3<F>> {
        Some(&adj.dx)
    }

    fn initial_memory_adjoint<F: NdFloat>(adj: &Box<LruAdjoint<F>>) -> Option<Array2<F>> {
        Some(adj.carry.clone())
    }

    /// ∂ℓ/∂C from ∂ℓ/∂C̃ (C_im's sign flipped); ∂ℓ/∂ν, ∂ℓ/∂θ were chained through λ and γ step by
    /// step in `backward_step`.
    fn end_backward<F: NdFloat>(&self, adj: &Box<LruAdjoint<F>>, grads: &mut LayerParams<F>) {
        let hid = grads.weight_hh.nrows();
        let n = units(hid);
        grads
            .weight_hh
            .slice_mut(s![.., ..n])
            .zip_mut_with(&adj.d_c.slice(s![.., ..n]), |g, &d| *g += d);
        grads
            .weight_hh
            .slice_mut(s![.., n..2 * n])
            .zip_mut_with(&adj.d_c.slice(s![.., n..2 * n]), |g, &d| *g -= d);
        grads
            .bias_hh
            .slice_mut(s![..n])
            .zip_mut_with(&adj.d_nu, |g, &d| *g += d);
        grads
            .bias_hh
            .slice_mut(s![n..2 * n])
            .zip_mut_with(&adj.d_theta, |g, &d| *g += d);
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
