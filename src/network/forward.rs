//! The forward pass over a whole sequence: input projections of all timesteps in one product, then
//! one recurrent product and one element-wise update per step, writing into arrays allocated
//! before the time loop.

use ndarray::{
    s, Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut3, Axis, NdFloat, Zip,
};

use super::params::LayerParams;
use super::spec::{InputKind, ModelSpec};
use crate::batch::Inputs;
use crate::cells::{CellCache, CellVisitor, Registered};
use crate::error::{Error, Result};
use crate::parallel;

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
                .map(|&h| spec.cell.has_memory().then(|| Array2::zeros((batch, h))))
                .collect(),
        }
    }
}

/// Everything one layer's forward pass leaves for the backward pass.
#[derive(Debug, Clone)]
pub struct LayerCache<F: NdFloat> {
    /// (T, B, G·H): what the cell leaves in its gate buffer (LSTM i,f,g,o; GRU r,z,n activated;
    /// the RNN's (normalised) pre-activation).
    pub gates: Array3<F>,
    /// (T+1, B, H): `h[0]` is the initial state, `h[t+1]` is h_t.
    pub h: Array3<F>,
    /// The cell's own buffers (LSTM c and tanh c, GRU `W_hn h + b_hn`, layer norm x̂ and rstd).
    pub cell: CellCache<F>,
    /// Residual layers: (T, B, H) `h_t + input_t`, the layer's output. None: the output is h_t.
    pub residual_out: Option<Array3<F>>,
    /// With several threads: each thread's own buffers for its block of sequences, copied into
    /// `cell` after the time loop and kept so that the next pass reuses their memory (fresh
    /// per-pass buffers cost more in page faults than the threads gain at hidden 128).
    pub blocks: Vec<CellCache<F>>,
    /// The rows of the batch each of `blocks` holds, as the last forward pass split them; empty
    /// when it ran on one thread (then `blocks` are stale and the backward pass copies rows).
    pub block_ranges: Vec<std::ops::Range<usize>>,
}

impl<F: NdFloat> LayerCache<F> {
    /// A cache holding nothing yet, to be filled by a forward pass.
    pub fn empty() -> Self {
        LayerCache {
            gates: Array3::zeros((0, 0, 0)),
            h: Array3::zeros((0, 0, 0)),
            cell: CellCache::Empty,
            residual_out: None,
            blocks: Vec::new(),
            block_ranges: Vec::new(),
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
pub struct ForwardCache<F: NdFloat> {
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
                .map(|l| {
                    l.cell
                        .memory()
                        .map(|c| c.index_axis(Axis(0), last).to_owned())
                })
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
    spec.cell.visit(
        &spec.cell_config(),
        NetworkForward {
            spec,
            layers,
            inputs,
            state,
            cache,
        },
    );
    Ok(())
}

/// The layer loop of [`network_forward_into`] with the concrete cell.
struct NetworkForward<'a, F: NdFloat> {
    spec: &'a ModelSpec,
    layers: &'a [LayerParams<F>],
    inputs: &'a Inputs<F>,
    state: Option<&'a State<F>>,
    cache: &'a mut ForwardCache<F>,
}

impl<F: NdFloat> CellVisitor for NetworkForward<'_, F> {
    type Output = ();
    fn visit<C: Registered>(self, cell: C) {
        let NetworkForward {
            spec,
            layers,
            inputs,
            state,
            cache,
        } = self;
        let (steps, batch) = (cache.steps, cache.batch);
        for (l, p) in layers.iter().enumerate() {
            let h0 = state.map(|s| s.h[l].view());
            let c0 = state.and_then(|s| s.c[l].as_ref().map(|c| c.view()));
            let (done, rest) = cache.layers.split_at_mut(l);
            let below = done.last().map(|c| c.output());
            let layer = &mut rest[0];
            layer_forward(
                cell,
                p,
                (steps, batch, spec.hidden[l]),
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
    }
}

pub(crate) use crate::cells::{fit, reuse};

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
            parallel::mat_mul(&x2, &w_ih.t(), F::one(), &mut out2);
        }
        LayerInput::Tokens(ids) => {
            // rows of W_ih^T + bias are what one-hot inputs select: build that (V, G·H) table once
            // (`as_standard_layout`: `to_owned` of the transposed view would stay column-major)
            let mut table = w_ih.t().as_standard_layout().into_owned();
            table += bias;
            let table = table.view();
            // row copies: split by timesteps, each row written by whichever thread, same bits
            let rs = parallel::ranges(t, parallel::plan_elementwise(t, t * b * gh));
            let jobs: Vec<_> = parallel::split_mut(out.view_mut(), Axis(0), &rs)
                .into_iter()
                .zip(parallel::split(ids.view(), Axis(0), &rs))
                .collect();
            parallel::run(jobs, |(mut out, ids)| {
                Zip::from(out.lanes_mut(Axis(2)))
                    .and(&ids)
                    .for_each(|mut row, &id| match row.as_slice_mut() {
                        Some(dst) => dst.copy_from_slice(crate::cells::row(&table, id)),
                        None => row.assign(&table.row(id)),
                    });
            });
        }
    }
}

/// One layer over the whole sequence, into `cache` (arrays reused when their shapes fit):
/// the input projection of every step at once, then the cell's steps.
fn layer_forward<F: NdFloat, C: Registered>(
    cell: C,
    p: &LayerParams<F>,
    (steps, batch, hid): (usize, usize, usize),
    input: LayerInput<'_, F>,
    h0: Option<ArrayView2<'_, F>>,
    c0: Option<ArrayView2<'_, F>>,
    cache: &mut LayerCache<F>,
) {
    let LayerCache {
        gates,
        h,
        cell: slot,
        blocks,
        block_ranges,
        ..
    } = cache;
    block_ranges.clear();
    let gh = cell.gates() * hid;
    fit(gates, ndarray::Dim((steps, batch, gh)));
    input_projection(gates, input, &p.weight_ih, &cell.input_bias(p));
    fit(h, ndarray::Dim((steps + 1, batch, hid)));
    match h0 {
        Some(h0) => h.index_axis_mut(Axis(0), 0).assign(&h0),
        None => h.index_axis_mut(Axis(0), 0).fill(F::zero()),
    }
    let own = C::cache_mut(slot);
    cell.begin_forward(own, steps, batch, hid, c0);
    // the recurrent products dominate: T·B·G·H·H multiply-adds
    let parts = parallel::plan(batch, steps * batch * gh * hid);
    if parts > 1 && C::cache_rows_mut(own).is_some() {
        // each block of sequences runs the whole time loop on its own thread with its own cache,
        // then copies that cache into its rows of the layer's
        let rs = parallel::ranges(batch, parts);
        let mut own_blocks: Vec<Vec<ArrayViewMut3<'_, F>>> =
            rs.iter().map(|_| Vec::new()).collect();
        for a in C::cache_rows_mut(own).expect("checked above") {
            for (i, piece) in parallel::split_mut(a, Axis(1), &rs).into_iter().enumerate() {
                own_blocks[i].push(piece);
            }
        }
        let c0s: Vec<Option<ArrayView2<'_, F>>> = match c0 {
            Some(c0) => parallel::split(c0, Axis(0), &rs)
                .into_iter()
                .map(Some)
                .collect(),
            None => vec![None; rs.len()],
        };
        blocks.resize_with(rs.len(), CellCache::default);
        block_ranges.clone_from(&rs);
        let jobs: Vec<_> = parallel::split_mut(gates.view_mut(), Axis(1), &rs)
            .into_iter()
            .zip(parallel::split_mut(h.view_mut(), Axis(1), &rs))
            .zip(own_blocks)
            .zip(c0s)
            .zip(blocks.iter_mut())
            .collect();
        parallel::run(jobs, |((((g, hb), mut dst), c0), slot)| {
            let rows = g.dim().1;
            let mut prep = cell.prepare_forward(p, rows);
            let block = C::cache_mut(slot);
            cell.begin_forward(block, steps, rows, hid, c0);
            forward_steps(cell, &mut prep, block, g, hb);
            let src = C::cache_rows(block).expect("a cell with cache_rows_mut has cache_rows");
            for (d, s) in dst.iter_mut().zip(src) {
                d.assign(&s);
            }
        });
    } else {
        let mut prep = cell.prepare_forward(p, batch);
        forward_steps(cell, &mut prep, own, gates.view_mut(), h.view_mut());
    }
}

/// The cell's steps over every timestep: `gates` (T, B, G·H) holds the input projections, `h`
/// (T+1, B, H) the initial state in `h[0]`.
fn forward_steps<F: NdFloat, C: Registered>(
    cell: C,
    prep: &mut C::Forward<F>,
    cache: &mut C::Cache<F>,
    mut gates: ArrayViewMut3<'_, F>,
    mut h: ArrayViewMut3<'_, F>,
) {
    for t in 0..gates.dim().0 {
        let (before, mut after) = h.view_mut().split_at(Axis(0), t + 1);
        cell.forward_step(
            prep,
            cache,
            t,
            gates.index_axis_mut(Axis(0), t),
            before.index_axis(Axis(0), t),
            after.index_axis_mut(Axis(0), 0),
        );
    }
}
