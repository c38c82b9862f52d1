//! expRNN (Lezcano-Casado & Martínez-Rubio 2019): an orthogonal recurrent matrix `W = exp(A)` with
//! `A = S − Sᵀ` skew-symmetric, so `‖W‖₂ = 1` at every step of training:
//! `a_t = W_ih x_t + b_ih + W h_{t−1}`, `h_t = modReLU(a_t) = sign(a_t) ⊙ max(|a_t| + b, 0)` with
//! the learned modReLU bias `b` = `bias_hh` (activation `relu`), or `h_t = φ(a_t + b_hh)` with
//! φ = tanh or sigmoid.
//!
//! The free parameter is S (H, H), stored in `weight_hh` and exported as `skew_hh_l{l}`; any S
//! gives a skew-symmetric A, so plain gradient steps stay on the orthogonal group. The gradient
//! goes through the parameterisation exactly: with G = ∂ℓ/∂W, `∂ℓ/∂A = L_exp(Aᵀ, G)` (the Fréchet
//! derivative of the matrix exponential, read off `exp([[Aᵀ, G], [0, Aᵀ]])`) and
//! `∂ℓ/∂S = ∂ℓ/∂A − (∂ℓ/∂A)ᵀ`. Both exponentials are computed in f64 by scaling and squaring.

use ndarray::{s, Array1, Array2, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, NdFloat};

use super::fast_math::{sigmoid_inplace, tanh_inplace};
use super::matmul::{matmul_acc, Accumulate, PaddedMatrix};
use super::{
    derivative_statistics, draw_gate_blocks, row, row_mut, Activation, Cell, CellConfig,
    GateStatistics, LayerParams, TensorNames,
};
use crate::batch::cast;
use crate::init::{bias, rotation_angles, stacked_blocks, InitSpec};
use rand_chacha::ChaCha8Rng;

/// The expRNN cell with its nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpRnn {
    pub nonlinearity: Nonlinearity,
}

/// expRNN's φ: modReLU (chosen with activation `relu`), tanh or sigmoid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nonlinearity {
    ModRelu,
    Squash(Activation),
}

/// Per sequence: W^T (forward) or W (backward) row-major, and the modReLU bias.
pub struct ExpRnnStep<F> {
    w: PaddedMatrix<F>,
    /// modReLU's b (H); None for tanh and sigmoid.
    bias: Option<Array1<F>>,
}

/// The backward pass's accumulator: ∂ℓ/∂b of modReLU, summed over the steps.
#[derive(Debug, Clone)]
pub struct ExpRnnAdjoint<F> {
    pub d_bias: Option<Array1<F>>,
}

impl<F> Default for ExpRnnAdjoint<F> {
    fn default() -> Self {
        ExpRnnAdjoint { d_bias: None }
    }
}

impl ExpRnn {
    /// The orthogonal recurrent matrix `exp(S − Sᵀ)` of a layer, in f64.
    pub fn recurrent_matrix<F: NdFloat>(p: &LayerParams<F>) -> Array2<f64> {
        expm(&skew(p))
    }
}

/// A = S − Sᵀ in f64.
fn skew<F: NdFloat>(p: &LayerParams<F>) -> Array2<f64> {
    let s = p.weight_hh.mapv(cast::<F, f64>);
    &s - &s.t()
}

impl Cell for ExpRnn {
    type Cache<F: NdFloat> = ();
    type Adjoint<F: NdFloat> = ExpRnnAdjoint<F>;
    type Forward<F: NdFloat> = ExpRnnStep<F>;
    type Backward<F: NdFloat> = ExpRnnStep<F>;

    const TENSOR_NAMES: TensorNames = TensorNames {
        weight_hh: "skew_hh",
        ..TensorNames::PYTORCH
    };
    const REPARAMETERISED: bool = true;

    fn from_config(config: &CellConfig) -> Self {
        let nonlinearity = match config.activation {
            Activation::Relu => Nonlinearity::ModRelu,
            act => Nonlinearity::Squash(act),
        };
        ExpRnn { nonlinearity }
    }

    fn gates(&self) -> usize {
        1
    }

    /// modReLU, as in the expRNN and scoRNN papers.
    const DEFAULT_ACTIVATION: Activation = Activation::Relu;

    /// Henaff's rotations, as expRNN's code starts the copy task: with the PyTorch default
    /// (S ~ U(±1/√H)) the 80-unit cell stays near the baseline of copy T = 100 in 100k examples;
    /// with Henaff it solves it (docs/reproductions.md).
    const DEFAULT_RECURRENT_INIT: crate::init::InitScheme = crate::init::InitScheme::Henaff;

    fn uses_activation(&self) -> bool {
        true
    }

    /// As every cell (input weights, recurrent, biases, in that order), except that a rotation
    /// scheme ([`crate::init::InitScheme::Henaff`], `cayley`) sets the skew parameter to its
    /// angles (times the recurrent scale): `S[2k, 2k+1] = θ_k`, so `exp(S − Sᵀ)` is the rotation
    /// the scheme gives a plain recurrent matrix.
    fn init_layer<F: NdFloat>(
        &self,
        layer: &mut LayerParams<F>,
        init: &InitSpec,
        rng: &mut ChaCha8Rng,
    ) {
        if !init.recurrent.scheme.is_rotation() {
            draw_gate_blocks(1, layer, init, rng);
            return;
        }
        let h = layer.weight_hh.ncols();
        let fan_in = layer.weight_ih.ncols();
        layer.weight_ih = stacked_blocks(1, h, fan_in, init.input, rng).mapv(cast);
        let mut skew = Array2::<f64>::zeros((h, h));
        for (k, theta) in rotation_angles(h, init.recurrent.scheme, rng)
            .into_iter()
            .enumerate()
        {
            skew[[2 * k, 2 * k + 1]] = theta * init.recurrent.scale;
        }
        layer.weight_hh = skew.mapv(cast);
        layer.bias_ih = bias(h, h, init.bias, rng).mapv(cast);
        layer.bias_hh = bias(h, h, init.bias, rng).mapv(cast);
    }

    /// modReLU keeps b_hh for itself; tanh and sigmoid add it to the pre-activation.
    fn input_bias<F: NdFloat>(&self, p: &LayerParams<F>) -> Array1<F> {
        match self.nonlinearity {
            Nonlinearity::ModRelu => p.bias_ih.clone(),
            Nonlinearity::Squash(_) => &p.bias_ih + &p.bias_hh,
        }
    }

    fn bias_hh_in_pre(&self) -> bool {
        matches!(self.nonlinearity, Nonlinearity::Squash(_))
    }

    fn prepare_forward<F: NdFloat>(&self, p: &LayerParams<F>, _batch: usize) -> ExpRnnStep<F> {
        let w = ExpRnn::recurrent_matrix(p).mapv(cast::<f64, F>);
        ExpRnnStep {
            w: PaddedMatrix::new(w.t()),
            bias: self.modrelu_bias(p),
        }
    }

    fn begin_forward<F: NdFloat>(
        &self,
        _cache: &mut (),
        _steps: usize,
        _batch: usize,
        _hidden: usize,
        _memory0: Option<ArrayView2<'_, F>>,
    ) {
    }

    fn forward_step<F: NdFloat>(
        &self,
        prep: &mut ExpRnnStep<F>,
        _cache: &mut (),
        _t: usize,
        mut gates: ArrayViewMut2<'_, F>,
        h_prev: ArrayView2<'_, F>,
        mut h_out: ArrayViewMut2<'_, F>,
    ) {
        matmul_acc(&h_prev, &prep.w.view(), Accumulate::Add, &mut gates);
        let pre = gates.view();
        for b in 0..h_out.nrows() {
            let (out, a) = (row_mut(&mut h_out, b), row(&pre, b));
            match (self.nonlinearity, &prep.bias) {
                (Nonlinearity::ModRelu, Some(bias)) => {
                    for ((o, &a), &c) in out.iter_mut().zip(a).zip(bias) {
                        let m = a.abs() + c;
                        *o = if m > F::zero() {
                            a.signum() * m
                        } else {
                            F::zero()
                        };
                    }
                }
                (Nonlinearity::Squash(act), _) => {
                    out.copy_from_slice(a);
                    match act {
                        Activation::Sigmoid => sigmoid_inplace(out),
                        _ => tanh_inplace(out),
                    }
                }
                (Nonlinearity::ModRelu, None) => unreachable!("modReLU has its bias"),
            }
        }
    }

    fn cache_rows<F: NdFloat>(_cache: &()) -> Option<Vec<ArrayView3<'_, F>>> {
        Some(Vec::new())
    }

    fn cache_rows_mut<F: NdFloat>(_cache: &mut ()) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        Some(Vec::new())
    }

    /// modReLU's ∂ℓ/∂b is a sum over the sequences: one thread then.
    fn adjoint_rows<F: NdFloat>(adj: &mut ExpRnnAdjoint<F>) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        adj.d_bias.is_none().then(Vec::new)
    }

    fn select_step<F: NdFloat>(_cache: &(), _t: usize, _rows: &[usize]) {}

    fn prepare_backward<F: NdFloat>(&self, p: &LayerParams<F>) -> ExpRnnStep<F> {
        let w = ExpRnn::recurrent_matrix(p).mapv(cast::<f64, F>);
        ExpRnnStep {
            w: PaddedMatrix::new(w.view()),
            bias: self.modrelu_bias(p),
        }
    }

    fn begin_segment<F: NdFloat>(
        &self,
        _adj: &mut ExpRnnAdjoint<F>,
        _steps: usize,
        _batch: usize,
        _hidden: usize,
    ) {
        // only an accumulator (modReLU's ∂b): nothing is per step
    }

    fn begin_backward<F: NdFloat>(
        &self,
        adj: &mut ExpRnnAdjoint<F>,
        _steps: usize,
        _batch: usize,
        hidden: usize,
    ) {
        adj.d_bias = (self.nonlinearity == Nonlinearity::ModRelu).then(|| Array1::zeros(hidden));
    }

    fn backward_step<F: NdFloat>(
        &self,
        prep: &ExpRnnStep<F>,
        _cache: &(),
        adj: &mut ExpRnnAdjoint<F>,
        _t: usize,
        gates: ArrayView2<'_, F>,
        _h_prev: ArrayView2<'_, F>,
        h: ArrayView2<'_, F>,
        dh: ArrayView2<'_, F>,
        mut d_pre: ArrayViewMut2<'_, F>,
        mut dh_prev: ArrayViewMut2<'_, F>,
    ) {
        let one = F::one();
        for b in 0..dh.nrows() {
            let (d, g) = (row_mut(&mut d_pre, b), row(&dh, b));
            match (self.nonlinearity, &prep.bias, &mut adj.d_bias) {
                (Nonlinearity::ModRelu, Some(bias), Some(d_bias)) => {
                    let a = row(&gates, b);
                    for j in 0..d.len() {
                        // h = sign(a)(|a| + b) where |a| + b > 0: ∂h/∂a = 1, ∂h/∂b = sign(a)
                        if a[j].abs() + bias[j] > F::zero() {
                            d[j] = g[j];
                            d_bias[j] += g[j] * a[j].signum();
                        } else {
                            d[j] = F::zero();
                        }
                    }
                }
                (Nonlinearity::Squash(act), _, _) => {
                    let y = row(&h, b);
                    for ((d, &g), &y) in d.iter_mut().zip(g).zip(y) {
                        *d = match act {
                            Activation::Sigmoid => g * (y * (one - y)),
                            _ => g * (one - y * y),
                        };
                    }
                }
                _ => unreachable!("modReLU has its bias and its accumulator"),
            }
        }
        matmul_acc(
            &d_pre.view(),
            &prep.w.view(),
            Accumulate::Overwrite,
            &mut dh_prev,
        );
    }

    fn end_backward<F: NdFloat>(&self, adj: &ExpRnnAdjoint<F>, grads: &mut LayerParams<F>) {
        if let Some(d_bias) = &adj.d_bias {
            grads.bias_hh += d_bias;
        }
    }

    /// ∂ℓ/∂S from ∂ℓ/∂W through W = exp(S − Sᵀ) (module docs).
    fn recurrent_weight_grad<F: NdFloat>(&self, p: &LayerParams<F>, d_w: Array2<F>) -> Array2<F> {
        let a_t = skew(p).reversed_axes();
        let g = d_w.mapv(cast::<F, f64>);
        let d_a = exp_frechet(&a_t, &g);
        (&d_a - &d_a.t()).mapv(cast::<f64, F>)
    }

    fn gate_statistics(
        &self,
        _gates: ArrayView3<'_, f64>,
        hidden: ArrayView3<'_, f64>,
        _hid: usize,
        sums: &mut GateStatistics,
    ) {
        match self.nonlinearity {
            // ∂h/∂a is 1 where the unit is active (h ≠ 0) and 0 where modReLU cuts it
            Nonlinearity::ModRelu => {
                let active = hidden.iter().filter(|&&h| h != 0.0).count();
                sums.derivative_sum += active as f64;
                sums.saturated += hidden.len() - active;
                sums.count += hidden.len();
            }
            Nonlinearity::Squash(act) => {
                let max = if act == Activation::Sigmoid {
                    0.25
                } else {
                    1.0
                };
                derivative_statistics(hidden, act, max, sums)
            }
        }
    }
}

impl ExpRnn {
    fn modrelu_bias<F: NdFloat>(&self, p: &LayerParams<F>) -> Option<Array1<F>> {
        (self.nonlinearity == Nonlinearity::ModRelu).then(|| p.bias_hh.clone())
    }
}

/// exp(M) by scaling and squaring: M / 2^s with ‖M / 2^s‖_∞ ≤ 1/2, a degree-18 Taylor polynomial
/// (remainder below 1e-20 there), then s squarings.
pub fn expm(m: &Array2<f64>) -> Array2<f64> {
    let n = m.nrows();
    let norm = m
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|v| v.abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let squarings = if norm > 0.5 {
        (norm / 0.5).log2().ceil() as i32
    } else {
        0
    };
    let x = m / 2f64.powi(squarings);
    let mut term = Array2::<f64>::eye(n);
    let mut sum = Array2::<f64>::eye(n);
    for k in 1..=18 {
        term = term.dot(&x) / k as f64;
        sum += &term;
    }
    for _ in 0..squarings {
        sum = sum.dot(&sum);
    }
    sum
}

/// The Fréchet derivative of exp at M in direction G: the upper-right block of
/// `exp([[M, G], [0, M]])` (G scaled to unit norm first, so it does not set the scaling).
pub fn exp_frechet(m: &Array2<f64>, g: &Array2<f64>) -> Array2<f64> {
    let n = m.nrows();
    let scale = g.iter().map(|v| v.abs()).fold(0.0, f64::max);
    if scale == 0.0 {
        return Array2::zeros((n, n));
    }
    let mut block = Array2::<f64>::zeros((2 * n, 2 * n));
    block.slice_mut(s![..n, ..n]).assign(m);
    block.slice_mut(s![n.., n..]).assign(m);
    block.slice_mut(s![..n, n..]).assign(&(g / scale));
    expm(&block).slice(s![..n, n..]).to_owned() * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skew_matrix(n: usize, seed: u64) -> Array2<f64> {
        let mut x = seed;
        let s = Array2::from_shape_fn((n, n), |_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 3.0
        });
        &s - &s.t()
    }

    #[test]
    fn the_exponential_of_a_skew_symmetric_matrix_is_orthogonal() {
        for seed in 0..3 {
            let w = expm(&skew_matrix(6, seed));
            let gram = w.t().dot(&w);
            let eye = Array2::<f64>::eye(6);
            assert!((&gram - &eye).iter().all(|v| v.abs() < 1e-13), "{gram}");
        }
        // exp of a rotation generator is the rotation
        let a = ndarray::arr2(&[[0.0, -0.7], [0.7, 0.0]]);
        let w = expm(&a);
        let want = ndarray::arr2(&[[0.7f64.cos(), -0.7f64.sin()], [0.7f64.sin(), 0.7f64.cos()]]);
        assert!((&w - &want).iter().all(|v| v.abs() < 1e-15));
    }

    #[test]
    fn the_frechet_derivative_matches_central_differences() {
        let m = skew_matrix(5, 7);
        let g = skew_matrix(5, 8) + Array2::<f64>::eye(5);
        let eps = 1e-6;
        let fd = (expm(&(&m + &(&g * eps))) - expm(&(&m - &(&g * eps)))) / (2.0 * eps);
        let l = exp_frechet(&m, &g);
        let err = (&fd - &l).iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(err < 1e-8, "{err}");
    }
}
