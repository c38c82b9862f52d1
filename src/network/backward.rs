//! Backpropagation through time, full or truncated. The time loop only moves adjoints from step to
//! step (one product with W_hh per step); the weight gradients are accumulated afterwards in one
//! product per weight matrix over all timesteps. Every layer's ∂L/∂h_t (and ∂L/∂c_t for LSTM) is
//! kept, because the gradient reports are built on exactly these.

use ndarray::{
    s, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Axis, NdFloat, Zip,
};

use super::forward::{reuse, ForwardCache, LayerCache, LayerInput, State};
use super::params::{LayerParams, Params};
use super::spec::ModelSpec;
use crate::batch::{cast, Inputs};
use crate::cells::{CellAdjoint, CellCache, CellVisitor, Registered};
use crate::error::{Error, Result};
use crate::parallel;

/// How far back the error signal travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bptt {
    /// Through every step back to the initial state.
    #[default]
    Full,
    /// Truncated BPTT with window k: the sequence is cut into chunks [0, k), [k, 2k), … and no
    /// adjoint crosses a chunk boundary through the recurrent state (h, and c for LSTM), exactly as
    /// if the state were detached at the start of every chunk. The forward pass is unchanged.
    Truncated(usize),
}

impl Bptt {
    pub fn validate(self) -> Result<()> {
        if self == Bptt::Truncated(0) {
            return Err(Error::invalid(
                "bptt",
                "the truncation window must be at least 1 step",
            ));
        }
        Ok(())
    }

    /// True when no adjoint may flow from step t (of the whole sequence) into step t − 1.
    fn cuts_before(self, t: usize) -> bool {
        matches!(self, Bptt::Truncated(k) if t > 0 && t.is_multiple_of(k))
    }
}

/// Steps per block of the weight-gradient sums: ∂ℓ/∂W = Σ_t (…) is summed as one matrix product
/// per block of this many steps, blocks aligned at multiples of it from step 0 and added last
/// block first. The order of the additions is then the same whether the backward pass runs over
/// the whole sequence at once or over segments whose boundaries are multiples of it
/// (checkpointed BPTT, [`super::checkpoint`]), so both give the same bits.
pub const WEIGHT_GRAD_BLOCK: usize = 64;

/// Which steps of a sequence one backward pass covers: `[offset, offset + steps)` of `total`
/// steps. Segments run last first; the one ending at `total` starts the adjoints and carries, the
/// one starting at 0 finishes them (initial-state adjoints, per-layer accumulators).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: usize,
    pub total: usize,
}

impl Span {
    /// The whole sequence of `steps` steps in one pass.
    pub fn whole(steps: usize) -> Self {
        Span {
            offset: 0,
            total: steps,
        }
    }
}

/// The adjoints of one layer, kept for the gradient reports.
#[derive(Debug, Clone)]
pub struct LayerAdjoints<F: NdFloat> {
    /// (T, B, H): ∂L/∂h_t along every path (from the loss at t, from later steps, from above).
    pub dh: Array3<F>,
    /// (T, B, G·H): ∂L/∂(x_t W_ih^T + b_ih), the gate pre-activations seen from the input side.
    pub d_pre: Array3<F>,
    /// The cell's own adjoints (LSTM ∂L/∂c_t, GRU ∂L/∂(h_{t−1} W_hh^T + b_hh)).
    pub cell: CellAdjoint<F>,
    /// With several threads: each thread's copy of its block's forward buffers and its own
    /// adjoints, kept so that the next pass reuses their memory (as `LayerCache::blocks`).
    pub blocks: Vec<(CellCache<F>, CellAdjoint<F>)>,
    /// (B, H) the adjoint carried from the first step of a segment to the step before it; after
    /// the pass that reaches step 0, ∂L/∂h_0.
    pub dh_carry: Array2<F>,
    /// ∂ℓ/∂W of a reparameterised recurrent matrix, summed over the segments so far.
    pub d_w: Option<Array2<F>>,
}

impl<F: NdFloat> LayerAdjoints<F> {
    /// ∂L/∂(h_{t−1} W_hh^T + b_hh), (T, B, G·H).
    pub fn recurrent_pre(&self) -> &Array3<F> {
        self.cell.recurrent().unwrap_or(&self.d_pre)
    }

    /// ∂L/∂(second state) (LSTM's c_t), (T, B, H); None for cells without one.
    pub fn dc(&self) -> Option<&Array3<F>> {
        self.cell.memory()
    }
}

/// Everything one backward pass produces.
#[derive(Debug, Clone)]
pub struct Backward<F: NdFloat> {
    /// ∂L/∂θ for every parameter.
    pub grads: Params<F>,
    /// Per layer, bottom first.
    pub layers: Vec<LayerAdjoints<F>>,
    /// Real-valued inputs only: ∂L/∂x_t, (T, B, I).
    pub d_inputs: Option<Array3<F>>,
    /// ∂L/∂h_0 (and ∂L/∂c_0) per layer: the adjoint of the initial state.
    pub d_state: State<F>,
}

impl<F: NdFloat> Backward<F> {
    /// Timestep t's contribution to ∂L/∂W_hh of `layer`: `d_hproj[t]^T h_{t−1}`, (G·H, H).
    /// Summed over t it gives `grads.layers[layer].weight_hh`.
    pub fn whh_step_grad(&self, forward: &ForwardCache<F>, layer: usize, t: usize) -> Array2<F> {
        let d = self.layers[layer].recurrent_pre().index_axis(Axis(0), t);
        let h_prev = forward.layers[layer].h.index_axis(Axis(0), t);
        d.t().dot(&h_prev)
    }

    /// Frobenius norm of every timestep's contribution to ∂L/∂W_hh of `layer`, computed in f64
    /// without under- or overflow of the squares.
    pub fn whh_step_grad_norms(&self, forward: &ForwardCache<F>, layer: usize) -> Vec<f64> {
        (0..forward.steps)
            .map(|t| {
                let g = self.whh_step_grad(forward, layer, t);
                super::l2_norm(g.iter().map(|&v| cast::<F, f64>(v)))
            })
            .collect()
    }
}

/// Backward through all layers, top first. `d_top`: (T, B, H_top) = ∂L/∂(top layer output).
/// Parameter gradients are added into `grads`.
pub fn network_backward<F: NdFloat>(
    spec: &ModelSpec,
    params: &Params<F>,
    inputs: &Inputs<F>,
    forward: &ForwardCache<F>,
    d_top: Array3<F>,
    grads: Params<F>,
    bptt: Bptt,
) -> Result<Backward<F>> {
    let mut out = Backward {
        grads,
        layers: Vec::new(),
        d_inputs: None,
        d_state: State {
            h: Vec::new(),
            c: Vec::new(),
        },
    };
    network_backward_into(spec, params, inputs, forward, d_top.view(), bptt, &mut out)?;
    Ok(out)
}

/// [`network_backward_span_into`] over the whole sequence.
pub fn network_backward_into<F: NdFloat>(
    spec: &ModelSpec,
    params: &Params<F>,
    inputs: &Inputs<F>,
    forward: &ForwardCache<F>,
    d_top: ArrayView3<'_, F>,
    bptt: Bptt,
    out: &mut Backward<F>,
) -> Result<()> {
    let span = Span::whole(forward.steps);
    network_backward_span_into(spec, params, inputs, forward, d_top, bptt, span, out)
}

/// [`network_backward`] over the steps `span` says `forward` and `inputs` hold, into `out`:
/// parameter gradients are added into `out.grads`; the adjoint arrays of `out.layers` are reused
/// when their shapes fit and are overwritten entirely. A segment that does not end the sequence
/// continues from the carries the previous call (the segment after it) left in `out.layers`;
/// `out.d_state` and the per-layer accumulators are final after the segment that starts at 0.
#[allow(clippy::too_many_arguments)]
pub fn network_backward_span_into<F: NdFloat>(
    spec: &ModelSpec,
    params: &Params<F>,
    inputs: &Inputs<F>,
    forward: &ForwardCache<F>,
    d_top: ArrayView3<'_, F>,
    bptt: Bptt,
    span: Span,
    out: &mut Backward<F>,
) -> Result<()> {
    bptt.validate()?;
    if span.offset + forward.steps > span.total {
        return Err(Error::invalid(
            "backward span",
            format!(
                "steps {}..{} lie past the sequence's {} steps",
                span.offset,
                span.offset + forward.steps,
                span.total
            ),
        ));
    }
    let n = spec.layers();
    out.layers.truncate(n);
    while out.layers.len() < n {
        out.layers.push(LayerAdjoints {
            dh: Array3::zeros((0, 0, 0)),
            d_pre: Array3::zeros((0, 0, 0)),
            cell: CellAdjoint::Empty,
            blocks: Vec::new(),
            dh_carry: Array2::zeros((0, 0)),
            d_w: None,
        });
    }
    spec.cell.visit(
        &spec.cell_config(),
        NetworkBackward {
            spec,
            params,
            inputs,
            forward,
            d_top,
            bptt,
            span,
            out,
        },
    );
    Ok(())
}

/// The layer loop of [`network_backward_span_into`] with the concrete cell.
struct NetworkBackward<'a, F: NdFloat> {
    spec: &'a ModelSpec,
    params: &'a Params<F>,
    inputs: &'a Inputs<F>,
    forward: &'a ForwardCache<F>,
    d_top: ArrayView3<'a, F>,
    bptt: Bptt,
    span: Span,
    out: &'a mut Backward<F>,
}

impl<F: NdFloat> CellVisitor for NetworkBackward<'_, F> {
    type Output = ();
    fn visit<C: Registered>(self, cell: C) {
        let NetworkBackward {
            spec,
            params,
            inputs,
            forward,
            d_top,
            bptt,
            span,
            out,
        } = self;
        let n = spec.layers();
        let mut d_h0 = vec![None; n];
        let mut d_c0 = vec![None; n];
        // ∂L/∂(output of layer l) for l below the top, produced by the layer above
        let mut d_below: Option<Array3<F>> = None;
        out.d_inputs = None;
        for l in (0..n).rev() {
            let below = (l > 0).then(|| forward.layers[l - 1].output());
            let input = LayerInput::new(inputs, below);
            let need_dx = l > 0 || matches!(inputs, Inputs::Dense(_));
            let d_out_owned = d_below.take();
            let d_out = d_out_owned.as_ref().map_or(d_top, |d| d.view());
            let (dx, dh0, dc0) = layer_backward(
                cell,
                &params.layers[l],
                &forward.layers[l],
                input,
                d_out,
                &mut out.grads.layers[l],
                bptt,
                span,
                need_dx,
                &mut out.layers[l],
            );
            let mut dx = dx;
            if spec.residual && l > 0 {
                // y = h + x: the output's adjoint also reaches the layer below directly
                if let Some(dx) = dx.as_mut() {
                    *dx += &d_out;
                }
            }
            d_h0[l] = Some(dh0);
            d_c0[l] = dc0;
            match dx {
                Some(dx) if l > 0 => d_below = Some(dx),
                dx => out.d_inputs = dx,
            }
        }
        out.d_state = State {
            h: d_h0
                .into_iter()
                .map(|h| h.expect("every layer ran backward"))
                .collect(),
            c: d_c0,
        };
    }
}

/// One layer backward over the steps of `span`. `dy`: (T, B, H) = ∂L/∂h_t arriving from above
/// (readout or next layer). Writes the layer's adjoints into `adj` (arrays reused when their
/// shapes fit) and returns ∂L/∂input (T, B, I) when asked, ∂L/∂h_0 and the cell's ∂L/∂(initial
/// second state) (meaningful after the segment that starts at step 0).
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn layer_backward<F: NdFloat, C: Registered>(
    cell: C,
    p: &LayerParams<F>,
    cache: &LayerCache<F>,
    input: LayerInput<'_, F>,
    dy: ArrayView3<'_, F>,
    grads: &mut LayerParams<F>,
    bptt: Bptt,
    span: Span,
    need_dx: bool,
    adj: &mut LayerAdjoints<F>,
) -> (Option<Array3<F>>, Array2<F>, Option<Array2<F>>) {
    let (steps, batch, gh) = cache.gates.dim();
    let hid = cache.h.dim().2;
    // the segment that ends the sequence starts every carry and accumulator; the others continue
    let starts = span.offset + steps == span.total;
    let own_cache = C::cache_ref(&cache.cell).expect("the forward cache was made by this cell");
    let mut dh = reuse(
        Some(std::mem::replace(&mut adj.dh, Array3::zeros((0, 0, 0)))),
        ndarray::Dim((steps, batch, hid)),
    );
    let mut d_pre = reuse(
        Some(std::mem::replace(&mut adj.d_pre, Array3::zeros((0, 0, 0)))),
        ndarray::Dim((steps, batch, gh)),
    );
    let own = C::adjoint_mut(&mut adj.cell);
    let begin = |own: &mut C::Adjoint<F>, rows: usize| match starts {
        true => cell.begin_backward(own, steps, rows, hid),
        false => cell.begin_segment(own, steps, rows, hid),
    };
    begin(own, batch);
    // adjoint carried from step t to step t − 1 through h (the cell carries its own)
    if starts || adj.dh_carry.dim() != (batch, hid) {
        adj.dh_carry = Array2::<F>::zeros((batch, hid));
    }
    let dh_next = &mut adj.dh_carry;
    let prep = cell.prepare_backward(p);
    // split as the whole sequence would be, so that every segment's blocks carry the same rows
    let parts = parallel::plan(batch, span.total * batch * gh * hid);
    if parts > 1 && C::adjoint_rows(own).is_some() && C::cache_rows(own_cache).is_some() {
        // each block of sequences runs the whole time loop on its own thread with its own copy of
        // its rows of the forward cache and its own adjoints, then copies them into its rows
        let rs = parallel::ranges(batch, parts);
        let mut adj_blocks: Vec<Vec<ArrayViewMut3<'_, F>>> =
            rs.iter().map(|_| Vec::new()).collect();
        for a in C::adjoint_rows(own).expect("checked above") {
            for (i, piece) in parallel::split_mut(a, Axis(1), &rs).into_iter().enumerate() {
                adj_blocks[i].push(piece);
            }
        }
        let mut cache_blocks: Vec<Vec<ArrayView3<'_, F>>> = rs.iter().map(|_| Vec::new()).collect();
        for a in C::cache_rows(own_cache).expect("checked above") {
            for (i, piece) in parallel::split(a, Axis(1), &rs).into_iter().enumerate() {
                cache_blocks[i].push(piece);
            }
        }
        adj.blocks.resize_with(rs.len(), Default::default);
        let jobs: Vec<_> = parallel::split(cache.gates.view(), Axis(1), &rs)
            .into_iter()
            .zip(parallel::split(cache.h.view(), Axis(1), &rs))
            .zip(parallel::split(dy, Axis(1), &rs))
            .zip(parallel::split_mut(dh.view_mut(), Axis(1), &rs))
            .zip(parallel::split_mut(d_pre.view_mut(), Axis(1), &rs))
            .zip(parallel::split_mut(dh_next.view_mut(), Axis(0), &rs))
            .zip(cache_blocks.into_iter().zip(adj_blocks))
            .zip(adj.blocks.iter_mut())
            .map(|(((((((g, h), dy), dh), dp), dn), (c, a)), slots)| {
                (
                    BackwardBlock {
                        gates: g,
                        h,
                        dy,
                        dh,
                        d_pre: dp,
                        dh_next: dn,
                    },
                    c,
                    a,
                    slots,
                )
            })
            .collect();
        // the forward pass's own blocks when it split the batch the same way (it then copied
        // them into the layer's cache, so they hold the same values); else copies of the rows
        let forward_blocks: Vec<Option<&CellCache<F>>> = if cache.block_ranges == rs {
            cache.blocks.iter().map(Some).collect()
        } else {
            vec![None; rs.len()]
        };
        let jobs: Vec<_> = jobs.into_iter().zip(forward_blocks).collect();
        parallel::run(
            jobs,
            |((mut block, cache_rows, mut adj_rows, slots), forward)| {
                let rows = block.gates.dim().1;
                let (fc_slot, ba_slot) = slots;
                let fc = match forward.and_then(C::cache_ref) {
                    Some(fc) => fc,
                    None => {
                        let fc = C::cache_mut(fc_slot);
                        cell.begin_forward(fc, steps, rows, hid, None);
                        let dst = C::cache_rows_mut(fc)
                            .expect("a cell with cache_rows has cache_rows_mut");
                        for (mut d, s) in dst.into_iter().zip(cache_rows) {
                            d.assign(&s);
                        }
                        fc
                    }
                };
                // a block's adjoint keeps its carries from the segment after this one
                let ba = C::adjoint_mut(ba_slot);
                begin(ba, rows);
                backward_steps(cell, &prep, fc, ba, bptt, span.offset, &mut block);
                let src = C::adjoint_rows(ba).expect("the cell split its adjoint above");
                for (d, s) in adj_rows.iter_mut().zip(src) {
                    d.assign(&s);
                }
            },
        );
    } else {
        let mut block = BackwardBlock {
            gates: cache.gates.view(),
            h: cache.h.view(),
            dy,
            dh: dh.view_mut(),
            d_pre: d_pre.view_mut(),
            dh_next: dh_next.view_mut(),
        };
        backward_steps(cell, &prep, own_cache, own, bptt, span.offset, &mut block);
    }

    // weight gradients: one product per block of WEIGHT_GRAD_BLOCK steps, the last block first
    let d_hproj = C::recurrent_adjoint(own);
    let d_rec = d_hproj.unwrap_or(&d_pre);
    if C::REPARAMETERISED && (starts || adj.d_w.is_none()) {
        adj.d_w = Some(Array2::<F>::zeros(grads.weight_hh.raw_dim()));
    }
    for block in weight_grad_blocks(span.offset, steps).into_iter().rev() {
        let d_pre2 = as_matrix(d_pre.slice(s![block.clone(), .., ..]));
        let d_rec2 = as_matrix(d_rec.slice(s![block.clone(), .., ..]));
        let h_prev2 = as_matrix(cache.h.slice(s![block.clone(), .., ..]));
        // ∂ℓ/∂W of the recurrent matrix used; a reparameterised one is mapped to its parameter
        // by the cell once all steps are summed
        let d_w = match adj.d_w.as_mut() {
            Some(d_w) if C::REPARAMETERISED => d_w,
            _ => &mut grads.weight_hh,
        };
        parallel::mat_mul(&d_rec2.t(), &h_prev2, F::one(), &mut d_w.view_mut());
        let d_pre_sum = parallel::column_sums(&d_pre2);
        match (cell.bias_hh_in_pre(), d_hproj) {
            (false, _) => {}
            (true, Some(_)) => grads.bias_hh += &parallel::column_sums(&d_rec2),
            // the recurrent pre-activation adjoint is d_pre itself
            (true, None) => grads.bias_hh += &d_pre_sum,
        }
        grads.bias_ih += &d_pre_sum;
        match input {
            LayerInput::Dense(x) => {
                let x = x.slice(s![block.clone(), .., ..]);
                let x = x.as_standard_layout();
                let x2 = as_matrix(x.view());
                parallel::mat_mul(&d_pre2.t(), &x2, F::one(), &mut grads.weight_ih.view_mut());
            }
            LayerInput::Tokens(ids) => {
                // one-hot rows: each step's adjoint lands in the column of its token
                // split by columns: every entry still sums its steps in order
                let ids = ids.slice(s![block.clone(), ..]);
                let d_pre = d_pre.slice(s![block.clone(), .., ..]);
                let n = block.len();
                let mut d_w_t = Array2::<F>::zeros((p.weight_ih.ncols(), gh));
                let rs = parallel::ranges(gh, parallel::plan_elementwise(gh, n * batch * gh));
                let jobs: Vec<_> = parallel::split(d_pre, Axis(2), &rs)
                    .into_iter()
                    .zip(parallel::split_mut(d_w_t.view_mut(), Axis(1), &rs))
                    .collect();
                parallel::run(jobs, |(d_pre, mut d_w_t)| {
                    Zip::from(d_pre.lanes(Axis(2)))
                        .and(&ids)
                        .for_each(|row, &id| {
                            let mut dst = d_w_t.row_mut(id);
                            dst += &row;
                        });
                });
                grads.weight_ih += &d_w_t.t();
            }
        }
    }
    if span.offset == 0 {
        if let Some(d_w) = adj.d_w.take() {
            grads.weight_hh += &cell.recurrent_weight_grad(p, d_w);
        }
        cell.end_backward(own, grads);
    }
    let dx = need_dx.then(|| {
        let d_pre2 = as_matrix(d_pre.view());
        let mut dx2 = Array2::<F>::zeros((steps * batch, p.weight_ih.ncols()));
        parallel::mat_mul(&d_pre2, &p.weight_ih.view(), F::zero(), &mut dx2.view_mut());
        dx2.into_shape_with_order((steps, batch, p.weight_ih.ncols()))
            .expect("fresh product is contiguous")
    });
    let dc0 = C::initial_memory_adjoint(own);
    adj.dh = dh;
    adj.d_pre = d_pre;
    (dx, adj.dh_carry.clone(), dc0)
}

/// The blocks of [`WEIGHT_GRAD_BLOCK`] steps (aligned at its multiples counted from step 0 of the
/// sequence) that cover `steps` steps from `offset`, as ranges of the segment's own steps.
fn weight_grad_blocks(offset: usize, steps: usize) -> Vec<std::ops::Range<usize>> {
    let mut blocks = Vec::new();
    let mut t = offset;
    while t < offset + steps {
        let end = ((t / WEIGHT_GRAD_BLOCK + 1) * WEIGHT_GRAD_BLOCK).min(offset + steps);
        blocks.push(t - offset..end - offset);
        t = end;
    }
    blocks
}

/// The arrays one block of sequences' backward steps read and write, (T, B', ·) each (h: T+1;
/// `dh_next`: (B', H), ∂ℓ/∂h_0 after the last step).
struct BackwardBlock<'a, F> {
    gates: ArrayView3<'a, F>,
    h: ArrayView3<'a, F>,
    dy: ArrayView3<'a, F>,
    dh: ArrayViewMut3<'a, F>,
    d_pre: ArrayViewMut3<'a, F>,
    dh_next: ArrayViewMut2<'a, F>,
}

/// The cell's backward steps over every timestep, last first, for one block of sequences whose
/// step 0 is step `offset` of the whole sequence.
fn backward_steps<F: NdFloat, C: Registered>(
    cell: C,
    prep: &C::Backward<F>,
    cache: &C::Cache<F>,
    adj: &mut C::Adjoint<F>,
    bptt: Bptt,
    offset: usize,
    b: &mut BackwardBlock<'_, F>,
) {
    for t in (0..b.gates.dim().0).rev() {
        Zip::from(b.dh.index_axis_mut(Axis(0), t))
            .and(b.dy.index_axis(Axis(0), t))
            .and(&b.dh_next)
            .for_each(|a, &above, &later| *a = above + later);
        cell.backward_step(
            prep,
            cache,
            adj,
            t,
            b.gates.index_axis(Axis(0), t),
            b.h.index_axis(Axis(0), t),
            b.h.index_axis(Axis(0), t + 1),
            b.dh.index_axis(Axis(0), t),
            b.d_pre.index_axis_mut(Axis(0), t),
            b.dh_next.view_mut(),
        );
        if bptt.cuts_before(offset + t) {
            b.dh_next.fill(F::zero());
            C::cut(adj);
        }
    }
}

/// (T, B, K) → (T·B, K) view of a contiguous array (or a block of its leading axis).
fn as_matrix<F>(a: ArrayView3<'_, F>) -> ArrayView2<'_, F> {
    let (t, b, k) = a.dim();
    a.into_shape_with_order((t * b, k))
        .expect("arrays built here are contiguous")
}
