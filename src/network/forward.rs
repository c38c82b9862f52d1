//! The forward pass over a whole sequence: input projections of all timesteps in one product, then
//! one recurrent product and one element-wise update per step, writing into arrays allocated
//! before the time loop.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array, Array1, Array2, Array3, ArrayView2, ArrayView3, Axis, NdFloat, Zip};

use super::params::LayerParams;
use super::spec::{InputKind, ModelSpec};
use crate::batch::Inputs;
use crate::cells::gru::gru_forward_step_transposed;
use crate::cells::lstm::lstm_forward_step_transposed;
use crate::cells::matmul::PaddedMatrix;
use crate::cells::rnn::{rnn_forward_step_transposed, RnnLayerNormStep};
use crate::cells::CellKind;
use crate::error::{Error, Result};

/// The recurrent state between calls: per layer h (B, H) and, for LSTM, c (B, H).
#[derive(Debug, Clone, PartialEq)]
pub struct State<F> {
    pub h: Vec<Array2<F>>,
    pub c: Vec<Option<Array2<F>>>,
}

impl<F: NdFloat> State<F> {
    /// The all-zero state for a batch of `batch` sequences.
    pub fn zeros(spec: &ModelSpec, batch: usize) -> Self {
        State {
            h: spec
                .hidden
                .iter()
                .map(|&h| Array2::zeros((batch, h)))
                .collect(),
            c: spec
                .hidden
                .iter()
                .map(|&h| (spec.cell == CellKind::Lstm).then(|| Array2::zeros((batch, h))))
                .collect(),
        }
    }
}

/// Everything one layer's forward pass leaves for the backward pass.
#[derive(Debug, Clone)]
pub struct LayerCache<F> {
    /// (T, B, G·H): activated gates (LSTM i,f,g,o; GRU r,z,n); for the RNN the (normalised)
    /// pre-activation.
    pub gates: Array3<F>,
    /// (T+1, B, H): `h[0]` is the initial state, `h[t+1]` is h_t.
    pub h: Array3<F>,
    /// LSTM: (T+1, B, H) cell states laid out like `h`, and (T, B, H) tanh(c_t).
    pub c: Option<Array3<F>>,
    pub tanh_c: Option<Array3<F>>,
    /// GRU: (T, B, H) `W_hn h_{t−1} + b_hn`.
    pub hproj_n: Option<Array3<F>>,
    /// Layer norm: (T, B, H) x̂ and (T, B) rstd.
    pub ln_xhat: Option<Array3<F>>,
    pub ln_rstd: Option<Array2<F>>,
    /// Residual layers: (T, B, H) `h_t + input_t`, the layer's output. None: the output is h_t.
    pub residual_out: Option<Array3<F>>,
}

impl<F: NdFloat> LayerCache<F> {
    /// A cache holding nothing yet, to be filled by a forward pass.
    pub fn empty() -> Self {
        LayerCache {
            gates: Array3::zeros((0, 0, 0)),
            h: Array3::zeros((0, 0, 0)),
            c: None,
            tanh_c: None,
            hproj_n: None,
            ln_xhat: None,
            ln_rstd: None,
            residual_out: None,
        }
    }

    /// The layer's output y_t for every step, (T, B, H).
    pub fn output(&self) -> ArrayView3<'_, F> {
        match &self.residual_out {
            Some(y) => y.view(),
            None => self.h.slice(s![1.., .., ..]),
        }
    }

    /// h_t for every step, (T, B, H).
    pub fn hidden(&self) -> ArrayView3<'_, F> {
        self.h.slice(s![1.., .., ..])
    }
}

/// The forward pass of a whole network over one batch.
#[derive(Debug, Clone)]
pub struct ForwardCache<F> {
    pub layers: Vec<LayerCache<F>>,
    /// (T, B)
    pub steps: usize,
    pub batch: usize,
}

impl<F: NdFloat> ForwardCache<F> {
    /// The top layer's outputs, (T, B, H_top): what the readout reads.
    pub fn top_output(&self) -> ArrayView3<'_, F> {
        self.layers
            .last()
            .expect("a network has at least one layer")
            .output()
    }

    /// The state after the last step, to continue the sequence with another call.
    pub fn final_state(&self) -> State<F> {
        self.state_at(self.steps)
    }

    /// The state entering step t (t = 0: the initial state; t = T: the final state).
    pub fn state_at(&self, t: usize) -> State<F> {
        let last = t;
        State {
            h: self
                .layers
                .iter()
                .map(|l| l.h.index_axis(Axis(0), last).to_owned())
                .collect(),
            c: self
                .layers
                .iter()
                .map(|l| l.c.as_ref().map(|c| c.index_axis(Axis(0), last).to_owned()))
                .collect(),
        }
    }
}

/// Checks that `inputs` fit `spec` (kind, width, token range, non-empty); returns (T, B).
pub fn check_inputs<F: NdFloat>(spec: &ModelSpec, inputs: &Inputs<F>) -> Result<(usize, usize)> {
    let (t, b) = inputs.shape();
    if t == 0 || b == 0 {
        return Err(Error::shape(
            "inputs (steps, batch)",
            "both at least 1",
            (t, b),
        ));
    }
    match (spec.input, inputs) {
        (InputKind::Tokens { vocab }, Inputs::Tokens { ids, .. }) => {
            if let Some(bad) = ids.iter().find(|&&id| id >= vocab) {
                return Err(Error::invalid(
                    "inputs",
                    format!("token id {bad} is outside the vocabulary of {vocab}"),
                ));
            }
        }
        (InputKind::Dense { width }, Inputs::Dense(x)) => {
            if x.dim().2 != width {
                return Err(Error::shape("input width", width, x.dim().2));
            }
        }
        (kind, _) => {
            return Err(Error::invalid(
                "inputs",
                format!("the model expects {kind:?} inputs"),
            ))
        }
    }
    Ok((t, b))
}

/// Runs every layer over the whole sequence from `state` (zeros when None).
pub fn network_forward<F: NdFloat>(
    spec: &ModelSpec,
    layers: &[LayerParams<F>],
    inputs: &Inputs<F>,
    state: Option<&State<F>>,
) -> Result<ForwardCache<F>> {
    let mut cache = ForwardCache {
        layers: Vec::new(),
        steps: 0,
        batch: 0,
    };
    network_forward_into(spec, layers, inputs, state, &mut cache)?;
    Ok(cache)
}

/// [`network_forward`] writing into `cache`, whose arrays are reused when their shapes fit (a
/// training loop then allocates nothing per batch). Every entry of the result is overwritten, so
/// the outcome does not depend on what `cache` held before.
pub fn network_forward_into<F: NdFloat>(
    spec: &ModelSpec,
    layers: &[LayerParams<F>],
    inputs: &Inputs<F>,
    state: Option<&State<F>>,
    cache: &mut ForwardCache<F>,
) -> Result<()> {
    let (steps, batch) = check_inputs(spec, inputs)?;
    if let Some(st) = state {
        for (l, h0) in st.h.iter().enumerate() {
            if h0.dim() != (batch, spec.hidden[l]) {
                return Err(Error::shape(
                    format!("initial state of layer {l}"),
                    (batch, spec.hidden[l]),
                    h0.dim(),
                ));
            }
        }
    }
    cache.steps = steps;
    cache.batch = batch;
    cache.layers.truncate(layers.len());
    while cache.layers.len() < layers.len() {
        cache.layers.push(LayerCache::empty());
    }
    for (l, p) in layers.iter().enumerate() {
        let h0 = state.map(|s| s.h[l].view());
        let c0 = state.and_then(|s| s.c[l].as_ref().map(|c| c.view()));
        let (done, rest) = cache.layers.split_at_mut(l);
        let below = done.last().map(|c| c.output());
        let layer = &mut rest[0];
        layer_forward(
            spec,
            p,
            steps,
            batch,
            LayerInput::new(inputs, below),
            h0,
            c0,
            layer,
        );
        layer.residual_out = match (spec.residual && l > 0, layer.residual_out.take()) {
            (true, slot) => {
                let below = below.expect("layer l > 0 has a layer below");
                let mut y = reuse(slot, below.raw_dim());
                y.assign(&layer.hidden());
                y += &below;
                Some(y)
            }
            (false, _) => None,
        };
    }
    Ok(())
}

/// `slot` when it has shape `dim`, else a new array (its contents are left to the caller).
pub(crate) fn reuse<F: NdFloat, D: ndarray::Dimension>(
    slot: Option<Array<F, D>>,
    dim: D,
) -> Array<F, D> {
    match slot {
        Some(a) if a.raw_dim() == dim && a.is_standard_layout() => a,
        _ => Array::zeros(dim),
    }
}

/// What a layer reads: the network's inputs (layer 0) or the output of the layer below.
#[derive(Clone, Copy)]
pub enum LayerInput<'a, F> {
    Tokens(ArrayView2<'a, usize>),
    Dense(ArrayView3<'a, F>),
}

impl<'a, F: NdFloat> LayerInput<'a, F> {
    pub fn new(inputs: &'a Inputs<F>, below: Option<ArrayView3<'a, F>>) -> Self {
        match (below, inputs) {
            (Some(y), _) => LayerInput::Dense(y),
            (None, Inputs::Tokens { ids, .. }) => LayerInput::Tokens(ids.view()),
            (None, Inputs::Dense(x)) => LayerInput::Dense(x.view()),
        }
    }
}

/// `out (T, B, G·H) = input W_ih^T + bias` for all timesteps at once: one matrix product for real
/// inputs, a column gather of W_ih for tokens (one-hot rows select columns).
pub fn input_projection<F: NdFloat>(
    out: &mut Array3<F>,
    input: LayerInput<'_, F>,
    w_ih: &Array2<F>,
    bias: &Array1<F>,
) {
    let (t, b, gh) = out.dim();
    match input {
        LayerInput::Dense(x) => {
            let x = x.as_standard_layout();
            let x2 = x
                .view()
                .into_shape_with_order((t * b, x.dim().2))
                .expect("standard layout reshapes");
            let mut out2 = out
                .view_mut()
                .into_shape_with_order((t * b, gh))
                .expect("fresh arrays are contiguous");
            out2.assign(&bias.broadcast((t * b, gh)).expect("bias has G·H entries"));
            general_mat_mul(F::one(), &x2, &w_ih.t(), F::one(), &mut out2);
        }
        LayerInput::Tokens(ids) => {
            // rows of W_ih^T + bias are what one-hot inputs select: build that (V, G·H) table once
            // (`as_standard_layout`: `to_owned` of the transposed view would stay column-major)
            let mut table = w_ih.t().as_standard_layout().into_owned();
            table += bias;
            Zip::from(out.lanes_mut(Axis(2)))
                .and(&ids)
                .for_each(|mut row, &id| match row.as_slice_mut() {
                    Some(dst) => dst.copy_from_slice(crate::cells::row(&table.view(), id)),
                    None => row.assign(&table.row(id)),
                });
        }
    }
}

/// One layer over the whole sequence, into `cache` (arrays reused when their shapes fit).
#[allow(clippy::too_many_arguments)]
fn layer_forward<F: NdFloat>(
    spec: &ModelSpec,
    p: &LayerParams<F>,
    steps: usize,
    batch: usize,
    input: LayerInput<'_, F>,
    h0: Option<ArrayView2<'_, F>>,
    c0: Option<ArrayView2<'_, F>>,
    cache: &mut LayerCache<F>,
) {
    let cell = spec.cell;
    let gh = p.weight_hh.nrows();
    let hid = p.weight_hh.ncols();
    let reuse3 = |a: &mut Array3<F>, dim: (usize, usize, usize)| {
        if a.dim() != dim || !a.is_standard_layout() {
            *a = Array3::zeros(dim);
        }
    };
    reuse3(&mut cache.gates, (steps, batch, gh));
    // GRU keeps b_hh inside the recurrent term (r multiplies W_hn h + b_hn); the others fold it in.
    if cell == CellKind::Gru {
        input_projection(&mut cache.gates, input, &p.weight_ih, &p.bias_ih);
    } else {
        input_projection(
            &mut cache.gates,
            input,
            &p.weight_ih,
            &(&p.bias_ih + &p.bias_hh),
        );
    }
    // W_hh^T row-major, once per sequence: the step products stream it row by row
    let w_hh_t = PaddedMatrix::new(p.weight_hh.t());

    reuse3(&mut cache.h, (steps + 1, batch, hid));
    match h0 {
        Some(h0) => cache.h.index_axis_mut(Axis(0), 0).assign(&h0),
        None => cache.h.index_axis_mut(Axis(0), 0).fill(F::zero()),
    }
    let lstm = cell == CellKind::Lstm;
    let gru = cell == CellKind::Gru;
    let ln = cell == CellKind::Rnn && p.layer_norm.is_some();
    let opt3 = |slot: &mut Option<Array3<F>>, keep: bool, dim: (usize, usize, usize)| {
        *slot = keep.then(|| reuse(slot.take(), ndarray::Dim(dim)));
    };
    opt3(&mut cache.c, lstm, (steps + 1, batch, hid));
    opt3(&mut cache.tanh_c, lstm, (steps, batch, hid));
    opt3(&mut cache.hproj_n, gru, (steps, batch, hid));
    opt3(&mut cache.ln_xhat, ln, (steps, batch, hid));
    cache.ln_rstd = ln.then(|| reuse(cache.ln_rstd.take(), ndarray::Dim((steps, batch))));
    let LayerCache {
        gates,
        h,
        c,
        tanh_c,
        hproj_n,
        ln_xhat,
        ln_rstd,
        ..
    } = cache;
    match cell {
        CellKind::Rnn => {
            let mut ln = match (&p.layer_norm, ln_xhat, ln_rstd) {
                (Some((g, b)), Some(xhat), Some(rstd)) => Some((g.view(), b.view(), xhat, rstd)),
                _ => None,
            };
            for t in 0..steps {
                let (before, mut after) = h.view_mut().split_at(Axis(0), t + 1);
                let ln_step = ln.as_mut().map(|(g, b, xhat, rstd)| RnnLayerNormStep {
                    gamma: *g,
                    beta: *b,
                    xhat: xhat.index_axis_mut(Axis(0), t),
                    rstd: rstd.index_axis_mut(Axis(0), t),
                });
                rnn_forward_step_transposed(
                    after.index_axis_mut(Axis(0), 0),
                    gates.index_axis_mut(Axis(0), t),
                    before.index_axis(Axis(0), t),
                    w_hh_t.view(),
                    spec.activation,
                    ln_step,
                );
            }
        }
        CellKind::Lstm => {
            let c = c.as_mut().expect("LSTM layers cache c");
            let tanh_c = tanh_c.as_mut().expect("LSTM layers cache tanh(c)");
            match c0 {
                Some(c0) => c.index_axis_mut(Axis(0), 0).assign(&c0),
                None => c.index_axis_mut(Axis(0), 0).fill(F::zero()),
            }
            for t in 0..steps {
                let (h_before, mut h_after) = h.view_mut().split_at(Axis(0), t + 1);
                let (c_before, mut c_after) = c.view_mut().split_at(Axis(0), t + 1);
                lstm_forward_step_transposed(
                    h_after.index_axis_mut(Axis(0), 0),
                    c_after.index_axis_mut(Axis(0), 0),
                    tanh_c.index_axis_mut(Axis(0), t),
                    gates.index_axis_mut(Axis(0), t),
                    h_before.index_axis(Axis(0), t),
                    c_before.index_axis(Axis(0), t),
                    w_hh_t.view(),
                );
            }
        }
        CellKind::Gru => {
            let hproj_n = hproj_n.as_mut().expect("GRU layers cache W_hn h + b_hn");
            let mut hproj = Array2::<F>::zeros((batch, gh));
            for t in 0..steps {
                let (before, mut after) = h.view_mut().split_at(Axis(0), t + 1);
                gru_forward_step_transposed(
                    after.index_axis_mut(Axis(0), 0),
                    gates.index_axis_mut(Axis(0), t),
                    hproj_n.index_axis_mut(Axis(0), t),
                    hproj.view_mut(),
                    before.index_axis(Axis(0), t),
                    w_hh_t.view(),
                    p.bias_hh.view(),
                );
            }
        }
    }
}
