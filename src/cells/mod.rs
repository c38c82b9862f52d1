//! Recurrent cells. Each cell is one file holding its whole calculus behind the [`Cell`] trait:
//! its parameter layout, initialisation, forward step with its own cache type, backward step with
//! its own adjoint type, the step Jacobian (derived from the backward step) and the gate
//! statistics the diagnostics report. The network's time loops (`network::forward`,
//! `network::backward`) know no cell; [`registry`] maps names to cells.
//!
//! Dimension letters: B batch (rows), H hidden width, G gates (rnn 1, lstm 4, gru 3).
//! Gate blocks are stacked as in PyTorch: LSTM (i, f, g, o), GRU (r, z, n).
//! The input projection `x W_ih^T + b` of every timestep is computed before the time loop; the
//! step functions receive it as `gates` and add the recurrent part themselves.
//!
//! The step functions work row by row on contiguous slices (one row per sequence), so every
//! (B, ·) view they take must have unit column stride, as every standard-layout array and every
//! column block `s![.., a..b]` of one has. The f32 gate nonlinearities are vectorised polynomials
//! ([`fast_math`]); f64 uses std's exact functions.
//!
//! # Adding a cell
//! One new file implementing [`Cell`], one line in the `registry!` invocation below (which also
//! declares the file's module),
//! and its tests: `gradcheck::standard_cases(&[CellKind::New], &Activation::ALL)` gives it the
//! whole gradient-check grid (see `tests/exprnn.rs`).

pub mod fast_math;
pub mod layer_norm;
pub(crate) mod matmul;
pub mod registry;

pub use registry::{CellVisitor, Registered};

// One line per cell: `Variant = "name" => module::Type`; the line also declares the module (the
// cell's file). Standard cells are in `CellKind::ALL` (the peers of PyTorch's, whose grids the
// tests pin); extra cells only in `CellKind::REGISTERED`.
registry::registry! {
    standard {
        Rnn = "rnn" => rnn::Rnn,
        Lstm = "lstm" => lstm::Lstm,
        Gru = "gru" => gru::Gru,
    }
    extra {
        ExpRnn = "exprnn" => exprnn::ExpRnn,
        Lru = "lru" => lru::Lru,
    }
}

use ndarray::{
    Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, NdFloat,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::batch::cast;
use crate::error::Error;
use crate::init::{bias, stacked_blocks, InitSpec};
use rand_chacha::ChaCha8Rng;

/// One recurrent layer's parameters, named and shaped as in PyTorch. G gates, H hidden, I input
/// width of this layer; the cell declares G ([`Cell::gates`]) and whether it has a layer norm.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerParams<F> {
    /// (G·H, I), gate blocks stacked in PyTorch order
    pub weight_ih: Array2<F>,
    /// (G·H, H)
    pub weight_hh: Array2<F>,
    /// (G·H)
    pub bias_ih: Array1<F>,
    /// (G·H)
    pub bias_hh: Array1<F>,
    /// Layer-norm gain γ and bias β, (H); vanilla RNN with layer norm only.
    pub layer_norm: Option<(Array1<F>, Array1<F>)>,
}

/// The names under which a layer's tensors are exported, as `{name}_l{layer}`. The standard cells
/// use PyTorch's ([`TensorNames::PYTORCH`]), so weights move to `torch.nn.RNN/LSTM/GRU` unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorNames {
    pub weight_ih: &'static str,
    pub weight_hh: &'static str,
    pub bias_ih: &'static str,
    pub bias_hh: &'static str,
    pub layer_norm_weight: &'static str,
    pub layer_norm_bias: &'static str,
}

impl TensorNames {
    /// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` (and `layer_norm_weight`, `layer_norm_bias`).
    pub const PYTORCH: TensorNames = TensorNames {
        weight_ih: "weight_ih",
        weight_hh: "weight_hh",
        bias_ih: "bias_ih",
        bias_hh: "bias_hh",
        layer_norm_weight: "layer_norm_weight",
        layer_norm_bias: "layer_norm_bias",
    };
}

/// What a cell is built from: the per-model options some cells read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellConfig {
    /// φ of the vanilla RNN.
    pub activation: Activation,
    /// Layer norm on the pre-activation (cells with [`Cell::SUPPORTS_LAYER_NORM`] only).
    pub layer_norm: bool,
    /// False removes the forget gate (cells with [`Cell::FORGET_GATE_OPTIONAL`] only).
    pub forget_gate: bool,
}

impl Default for CellConfig {
    /// tanh, no layer norm, with a forget gate.
    fn default() -> Self {
        CellConfig {
            activation: Activation::Tanh,
            layer_norm: false,
            forget_gate: true,
        }
    }
}

/// The derivative statistics and mean gate a cell reports to the diagnostics (see
/// `analysis::diagnostics`), as sums over (t, b, unit) so that a forward pass run segment by
/// segment (checkpointed BPTT) adds them up in the same order, t ascending, as a whole pass does.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GateStatistics {
    /// Σ φ' over (t, b, unit) of the cell's reported nonlinearity.
    pub derivative_sum: f64,
    /// How many (t, b, unit) have a derivative below 1% of the nonlinearity's maximum one.
    pub saturated: usize,
    /// Σ of the gate that keeps the past (LSTM f, GRU z); None for ungated cells.
    pub gate_sum: Option<f64>,
    /// How many (t, b, unit) the sums are over.
    pub count: usize,
}

impl GateStatistics {
    /// Mean φ' over (t, b, unit).
    pub fn mean_derivative(&self) -> f64 {
        self.derivative_sum / self.count as f64
    }

    /// Fraction of (t, b, unit) whose derivative is below 1% of the maximum one.
    pub fn saturated_fraction(&self) -> f64 {
        self.saturated as f64 / self.count as f64
    }

    /// Mean of the gate that keeps the past; None for ungated cells.
    pub fn mean_gate(&self) -> Option<f64> {
        self.gate_sum.map(|g| g / self.count as f64)
    }
}

/// The whole calculus of one recurrent cell.
///
/// The time loops own the arrays every cell has: `gates` (T, B, G·H), which holds the input
/// projection on entry to a forward step and whatever the cell leaves there (activated gates, or
/// the pre-activation), `h` (T+1, B, H) with `h[0]` the initial state, `dh` (T, B, H) and
/// `d_pre` (T, B, G·H) = ∂ℓ/∂(input projection). Everything else a cell needs lives in its own
/// [`Cell::Cache`] (forward) and [`Cell::Adjoint`] (backward) types.
pub trait Cell: Copy + fmt::Debug + Send + Sync {
    /// Per layer, over all steps: what the forward pass keeps beyond `gates` and `h`.
    type Cache<F: NdFloat>: fmt::Debug + Clone + Default;
    /// Per layer: what the backward pass keeps beyond `dh` and `d_pre` (and any carry).
    type Adjoint<F: NdFloat>: fmt::Debug + Clone + Default;
    /// Per sequence: what the forward steps precompute from the parameters (W_hh^T, scratch).
    type Forward<F: NdFloat>;
    /// Per sequence: what the backward steps precompute from the parameters (read-only, shared by
    /// the threads of a split batch, hence `Sync`).
    type Backward<F: NdFloat>: Sync;

    /// Whether `layer_norm` may be set for this cell.
    const SUPPORTS_LAYER_NORM: bool = false;

    /// The activation a model of this cell gets unless one is asked for (expRNN: modReLU, which
    /// is `relu`; every other cell tanh).
    const DEFAULT_ACTIVATION: Activation = Activation::Tanh;

    /// The recurrent initialisation a model of this cell gets unless one is asked for (expRNN:
    /// Henaff's rotations, its authors' default; every other cell PyTorch's default).
    const DEFAULT_RECURRENT_INIT: crate::init::InitScheme = crate::init::InitScheme::Default;

    /// Whether `forget_gate: false` may be set for this cell (LSTM).
    const FORGET_GATE_OPTIONAL: bool = false;

    /// Whether [`Cell::init_layer`] applies chrono initialisation ([`crate::init::Chrono`]).
    const SUPPORTS_CHRONO: bool = false;

    /// The export names of the layer's tensors.
    const TENSOR_NAMES: TensorNames = TensorNames::PYTORCH;

    /// Whether `weight_hh` parameterises the recurrent matrix instead of being it: then the time
    /// loop hands ∂ℓ/∂W to [`Cell::recurrent_weight_grad`].
    const REPARAMETERISED: bool = false;

    fn from_config(config: &CellConfig) -> Self;

    /// Number of gate blocks stacked in `weight_ih` / `weight_hh` / the biases.
    fn gates(&self) -> usize;

    /// Floats per unit and step that the cell's own cache and adjoint hold beyond the gates'
    /// pre-activations and h (LSTM: c and tanh c; dc). For memory estimates
    /// (`crate::resources`), which must never be below what the cell allocates.
    fn extra_floats_per_unit(&self) -> (usize, usize) {
        (0, 0)
    }

    /// Whether the cell reads `activation` (the vanilla RNN's φ).
    fn uses_activation(&self) -> bool {
        false
    }

    /// Whether `bias_hh` is part of the recurrent pre-activation (its gradient is then summed from
    /// the recurrent adjoint by the time loop); a cell that uses it otherwise accumulates its
    /// gradient itself ([`Cell::end_backward`]).
    fn bias_hh_in_pre(&self) -> bool {
        true
    }

    /// ∂ℓ/∂`weight_hh` from `d_w` = ∂ℓ/∂W, W the recurrent matrix the steps used; only called when
    /// [`Cell::REPARAMETERISED`]. The default is the identity.
    fn recurrent_weight_grad<F: NdFloat>(&self, _p: &LayerParams<F>, d_w: Array2<F>) -> Array2<F> {
        d_w
    }

    /// Whether the cell carries a second state besides h (LSTM's c), in `State::c`.
    fn has_memory(&self) -> bool {
        false
    }

    /// All-zero parameters of one layer with input width `input` and `hidden` units: the shapes
    /// of every tensor. The default is PyTorch's layout, G gate blocks stacked: `weight_ih`
    /// (G·H, I), `weight_hh` (G·H, H), biases (G·H), layer norm γ, β (H).
    fn zero_layer<F: NdFloat>(&self, input: usize, hidden: usize) -> LayerParams<F> {
        let gh = self.gates() * hidden;
        LayerParams {
            weight_ih: Array2::zeros((gh, input)),
            weight_hh: Array2::zeros((gh, hidden)),
            bias_ih: Array1::zeros(gh),
            bias_hh: Array1::zeros(gh),
            layer_norm: None,
        }
    }

    /// Draws the layer's weights and biases (γ, β of a layer norm are set by the caller) from
    /// `rng`. The default draws every gate block on its own ([`draw_gate_blocks`]); LSTM then sets
    /// its forget bias.
    fn init_layer<F: NdFloat>(
        &self,
        layer: &mut LayerParams<F>,
        init: &InitSpec,
        rng: &mut ChaCha8Rng,
    ) {
        draw_gate_blocks(self.gates(), layer, init, rng);
    }

    /// The bias added to the input projection of every step (the part of the biases that does not
    /// multiply anything inside the cell).
    fn input_bias<F: NdFloat>(&self, p: &LayerParams<F>) -> Array1<F> {
        &p.bias_ih + &p.bias_hh
    }

    fn prepare_forward<F: NdFloat>(&self, p: &LayerParams<F>, batch: usize) -> Self::Forward<F>;

    /// Sizes `cache` for `steps` × `batch` × `hidden` (reusing its arrays when they fit) and sets
    /// the initial second state (zeros when None).
    fn begin_forward<F: NdFloat>(
        &self,
        cache: &mut Self::Cache<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
        memory0: Option<ArrayView2<'_, F>>,
    );

    /// Step t forward: `gates` (B, G·H) holds the input projection on entry; writes h_t (B, H).
    fn forward_step<F: NdFloat>(
        &self,
        prep: &mut Self::Forward<F>,
        cache: &mut Self::Cache<F>,
        t: usize,
        gates: ArrayViewMut2<'_, F>,
        h_prev: ArrayView2<'_, F>,
        h_out: ArrayViewMut2<'_, F>,
    );

    /// The second state for every step, (T+1, B, H) laid out like `h` (LSTM's c).
    fn memory<F: NdFloat>(_cache: &Self::Cache<F>) -> Option<&Array3<F>> {
        None
    }

    /// A one-step cache (step 0) holding rows `rows` (repetitions allowed) of step t of `cache`:
    /// what [`Cell::backward_step`] reads, for the step Jacobian.
    fn select_step<F: NdFloat>(cache: &Self::Cache<F>, t: usize, rows: &[usize]) -> Self::Cache<F>;

    fn prepare_backward<F: NdFloat>(&self, p: &LayerParams<F>) -> Self::Backward<F>;

    /// Sizes `adj` for `steps` × `batch` × `hidden` and zeroes its carries and accumulators.
    fn begin_backward<F: NdFloat>(
        &self,
        adj: &mut Self::Adjoint<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
    );

    /// Checkpointed BPTT: sizes `adj` for another segment of `steps` steps of the same sequence
    /// (the one before the segment it last ran), keeping its carries and accumulators, so that
    /// the segments' backward steps continue exactly where the later segment stopped.
    fn begin_segment<F: NdFloat>(
        &self,
        adj: &mut Self::Adjoint<F>,
        steps: usize,
        batch: usize,
        hidden: usize,
    );
    /// Step t backward. dh: (B, H) = ∂ℓ/∂h_t along every path; `gates`, `h_prev`, `h` are step t's
    /// forward values. Writes `d_pre` (B, G·H) = ∂ℓ/∂(input projection) and overwrites `dh_prev`
    /// (B, H) with the adjoint sent to h_{t−1}; carries its own adjoints (LSTM's c) in `adj`.
    #[allow(clippy::too_many_arguments)]
    fn backward_step<F: NdFloat>(
        &self,
        prep: &Self::Backward<F>,
        cache: &Self::Cache<F>,
        adj: &mut Self::Adjoint<F>,
        t: usize,
        gates: ArrayView2<'_, F>,
        h_prev: ArrayView2<'_, F>,
        h: ArrayView2<'_, F>,
        dh: ArrayView2<'_, F>,
        d_pre: ArrayViewMut2<'_, F>,
        dh_prev: ArrayViewMut2<'_, F>,
    );

    /// Parallel forward steps (see `crate::parallel`): the cache's arrays that hold one entry per
    /// sequence, with the batch on axis 1 ((T or T+1, B, ·); a 2-D (T, B) array as (T, B, 1)),
    /// always in the same order. The time loop builds a cache for each block of rows and copies it
    /// into the whole batch's through these. None (the default): the forward steps run on one
    /// thread.
    fn cache_rows<F: NdFloat>(_cache: &Self::Cache<F>) -> Option<Vec<ArrayView3<'_, F>>> {
        None
    }

    /// [`Cell::cache_rows`], writable (the same arrays in the same order).
    fn cache_rows_mut<F: NdFloat>(
        _cache: &mut Self::Cache<F>,
    ) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        None
    }

    /// Parallel backward steps: the adjoint's arrays with the batch on axis 1 (a (B, ·) carry as
    /// (1, B, ·)), in a fixed order, after [`Cell::begin_backward`]. None (the default, and
    /// whenever the adjoint holds a sum over sequences, whose order a split would change): the
    /// backward steps run on one thread.
    fn adjoint_rows<F: NdFloat>(_adj: &mut Self::Adjoint<F>) -> Option<Vec<ArrayViewMut3<'_, F>>> {
        None
    }

    /// Truncated BPTT: drops whatever adjoint the cell carries to the previous step.
    fn cut<F: NdFloat>(_adj: &mut Self::Adjoint<F>) {}

    /// ∂ℓ/∂(h_{t−1} W_hh^T + b_hh) (T, B, G·H) when it differs from `d_pre` (GRU).
    fn recurrent_adjoint<F: NdFloat>(_adj: &Self::Adjoint<F>) -> Option<&Array3<F>> {
        None
    }

    /// ∂ℓ/∂(second state) for every step, (T, B, H) (LSTM's dc).
    fn memory_adjoint<F: NdFloat>(_adj: &Self::Adjoint<F>) -> Option<&Array3<F>> {
        None
    }

    /// ∂ℓ/∂(initial second state), (B, H), after the last backward step.
    fn initial_memory_adjoint<F: NdFloat>(_adj: &Self::Adjoint<F>) -> Option<Array2<F>> {
        None
    }

    /// Adds what the adjoint accumulated beyond the generic weight products into `grads`
    /// (layer-norm γ, β); called once after the time loop.
    fn end_backward<F: NdFloat>(&self, _adj: &Self::Adjoint<F>, _grads: &mut LayerParams<F>) {}

    /// Adds the derivative statistics and gate of the steps of a forward pass (f64, for the
    /// diagnostics) to `sums`, (t, b, unit) in that order. gates: (T, B, G·H), hidden: (T, B, H).
    fn gate_statistics(
        &self,
        gates: ArrayView3<'_, f64>,
        hidden: ArrayView3<'_, f64>,
        hid: usize,
        sums: &mut GateStatistics,
    );
}

/// PyTorch's layout drawn block by block: `weight_ih` then `weight_hh` as G blocks of (H, fan_in)
/// each under its group's scheme and scale, then `bias_ih` and `bias_hh`.
pub fn draw_gate_blocks<F: NdFloat>(
    gates: usize,
    layer: &mut LayerParams<F>,
    init: &InitSpec,
    rng: &mut ChaCha8Rng,
) {
    let h = layer.weight_hh.ncols();
    let fan_in = layer.weight_ih.ncols();
    layer.weight_ih = stacked_blocks(gates, h, fan_in, init.input, rng).mapv(cast);
    layer.weight_hh = stacked_blocks(gates, h, h, init.recurrent, rng).mapv(cast);
    layer.bias_ih = bias(gates * h, h, init.bias, rng).mapv(cast);
    layer.bias_hh = bias(gates * h, h, init.bias, rng).mapv(cast);
}

/// Adds Σ φ' and the count of φ' < 0.01 · `max_derivative` over `values` = φ's outputs to `sums`.
pub fn derivative_statistics(
    values: ArrayView3<'_, f64>,
    act: Activation,
    max_derivative: f64,
    sums: &mut GateStatistics,
) {
    let threshold = 0.01 * max_derivative;
    let (sum, saturated) =
        values
            .iter()
            .fold((sums.derivative_sum, sums.saturated), |(sum, sat), &y| {
                let d = act.derivative_from_output(y);
                (sum + d, sat + usize::from(d < threshold))
            });
    sums.derivative_sum = sum;
    sums.saturated = saturated;
    sums.count += values.len();
}

/// The statistics of a gated cell whose gate blocks are stacked along the last axis (T, B, G·H),
/// added to `sums`: the gate in block `gate_block` (LSTM forget f, GRU update z) and the
/// tanh-derivative statistics of the candidate in block `candidate_block` (LSTM g, GRU n).
pub fn gated_statistics(
    gates: ArrayView3<'_, f64>,
    hid: usize,
    gate_block: usize,
    candidate_block: usize,
    sums: &mut GateStatistics,
) {
    let block = |b: usize| ndarray::s![.., .., b * hid..(b + 1) * hid];
    let gate = gates
        .slice(block(gate_block))
        .iter()
        .fold(sums.gate_sum.unwrap_or(0.0), |sum, &g| sum + g);
    sums.gate_sum = Some(gate);
    derivative_statistics(
        gates.slice_move(block(candidate_block)),
        Activation::Tanh,
        1.0,
        sums,
    );
}

/// `slot` when it has shape `dim` in standard layout, else a new zero array.
pub(crate) fn reuse<F: NdFloat, D: ndarray::Dimension>(
    slot: Option<ndarray::Array<F, D>>,
    dim: D,
) -> ndarray::Array<F, D> {
    match slot {
        Some(a) if a.raw_dim() == dim && a.is_standard_layout() => a,
        _ => ndarray::Array::zeros(dim),
    }
}

/// Resizes `a` in place to `dim` (keeping it when it already fits); contents unspecified.
pub(crate) fn fit<F: NdFloat, D: ndarray::Dimension>(a: &mut ndarray::Array<F, D>, dim: D) {
    if a.raw_dim() != dim || !a.is_standard_layout() {
        *a = ndarray::Array::zeros(dim);
    }
}

/// The vanilla RNN's nonlinearity φ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Tanh,
    Sigmoid,
    Relu,
}

impl Activation {
    pub const ALL: [Activation; 3] = [Activation::Tanh, Activation::Sigmoid, Activation::Relu];

    /// φ(x)
    #[inline]
    pub fn apply<F: ndarray::NdFloat>(self, x: F) -> F {
        match self {
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => sigmoid(x),
            Activation::Relu => x.max(F::zero()),
        }
    }

    /// φ'(x) written in terms of the output y = φ(x): tanh 1 − y², sigmoid y(1 − y), relu `[y > 0]`.
    #[inline]
    pub fn derivative_from_output<F: ndarray::NdFloat>(self, y: F) -> F {
        match self {
            Activation::Tanh => F::one() - y * y,
            Activation::Sigmoid => y * (F::one() - y),
            Activation::Relu => {
                if y > F::zero() {
                    F::one()
                } else {
                    F::zero()
                }
            }
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
        })
    }
}

impl FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tanh" => Ok(Activation::Tanh),
            "sigmoid" => Ok(Activation::Sigmoid),
            "relu" => Ok(Activation::Relu),
            other => Err(Error::invalid(
                "activation",
                format!("unknown activation '{other}' (expected tanh, sigmoid or relu)"),
            )),
        }
    }
}

/// σ(x) = 1 / (1 + e^{−x}); saturates to exactly 0 or 1 at large |x| without producing NaN.
#[inline]
pub fn sigmoid<F: ndarray::NdFloat>(x: F) -> F {
    F::one() / (F::one() + (-x).exp())
}

/// Row `b` of a (B, K) view as a slice of length K.
///
/// Panics when the view's rows are not contiguous (see the module contract).
#[inline]
pub(crate) fn row<'a, F>(a: &'a ArrayView2<'_, F>, b: usize) -> &'a [F] {
    a.row(b)
        .to_slice()
        .expect("cell step views need contiguous rows (unit column stride)")
}

/// Row `b` of a mutable (B, K) view as a slice of length K (same contract as [`row`]).
#[inline]
pub(crate) fn row_mut<'a, F>(a: &'a mut ArrayViewMut2<'_, F>, b: usize) -> &'a mut [F] {
    a.row_mut(b)
        .into_slice()
        .expect("cell step views need contiguous rows (unit column stride)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_and_tanh_saturate_without_nan() {
        for x in [-100.0f32, 100.0, -1e30, 1e30] {
            assert!(sigmoid(x).is_finite() && Activation::Tanh.apply(x).is_finite());
        }
        assert_eq!(sigmoid(-100.0f32), 0.0);
        assert_eq!(sigmoid(100.0f64), 1.0);
    }

    #[test]
    fn derivative_from_output_matches_finite_difference() {
        for act in Activation::ALL {
            for x in [-1.3f64, -0.2, 0.4, 2.0] {
                let h = 1e-6;
                let fd = (act.apply(x + h) - act.apply(x - h)) / (2.0 * h);
                let d = act.derivative_from_output(act.apply(x));
                assert!((fd - d).abs() < 1e-8, "{act} at {x}: {fd} vs {d}");
            }
        }
    }

    #[test]
    fn names_parse_and_unknown_names_are_errors() {
        assert_eq!("LSTM".parse::<CellKind>().unwrap(), CellKind::Lstm);
        assert_eq!("relu".parse::<Activation>().unwrap(), Activation::Relu);
        let err = "transformer".parse::<CellKind>().unwrap_err().to_string();
        assert!(err.contains("cell") && err.contains("transformer"), "{err}");
        assert!("softplus".parse::<Activation>().is_err());
    }
}
