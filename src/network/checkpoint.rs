//! Checkpointed BPTT (Chen et al. 2016, "Training deep nets with sublinear memory cost"): the
//! forward pass keeps the recurrent state only at the start of each segment of `S` steps and the
//! readout's inputs at the steps that carry a loss; the backward pass runs the segments last
//! first, recomputing each one's forward caches from its start state (the last segment's are
//! still in memory from the forward pass). Memory is O(T/S + S) states and caches instead of
//! O(T); the cost is one more forward pass over T − S steps.
//!
//! Exactness: every recomputed entry is the same arithmetic on the same inputs as in the whole
//! forward pass (the time loops are row-wise and step-wise; the input projection's rows do not
//! depend on how many rows one product holds), the adjoints cross segment boundaries through the
//! carries the cells keep ([`crate::cells::Cell::begin_segment`]), and the weight gradients are
//! summed per block of [`WEIGHT_GRAD_BLOCK`] steps in the same order in both cases, since `S` is
//! a multiple of it. So gradients, losses and trained weights are the same bits as full BPTT's.

use ndarray::{s, Array2, Array3, NdFloat};

use super::backward::{network_backward_span_into, Bptt, Span, WEIGHT_GRAD_BLOCK};
use super::forward::{check_inputs, network_forward_into, State};
use super::readout::{self, ReadoutCache};
use super::{Evaluation, Network};
use crate::batch::{Batch, Inputs};
use crate::error::Result;

/// How the backward pass gets the forward pass's caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BpttMemory {
    /// Keep every step's caches (memory linear in T).
    #[default]
    Full,
    /// Keep the state every `S` steps and recompute each segment's caches in the backward pass;
    /// `S` is a multiple of [`WEIGHT_GRAD_BLOCK`].
    Segments(usize),
}

impl BpttMemory {
    /// The segment length that makes the checkpoints and one segment's caches balance, ⌈√T⌉
    /// rounded up to a multiple of [`WEIGHT_GRAD_BLOCK`] (the weight-gradient blocks must not
    /// straddle a segment boundary for the sums to keep their order).
    pub fn sqrt(steps: usize) -> Self {
        BpttMemory::Segments(round_to_block(
            steps.isqrt() + usize::from(!is_square(steps)),
        ))
    }

    /// The segment length used for a sequence of `steps` steps; None: the whole sequence at once.
    pub fn segment(self, steps: usize) -> Option<usize> {
        match self {
            BpttMemory::Segments(s) if s < steps => Some(s),
            _ => None,
        }
    }
}

/// What a pass shows of itself, segment by segment: a gradient report reads its caches and adjoints
/// here instead of keeping them for all T steps (see [`Network::evaluate_observed_with`]).
///
/// With full BPTT there is one segment, `0..T`. Checkpointed, `forward` sees each segment's caches
/// as the forward pass makes them (first segment first), `backward` each segment's caches and
/// adjoints once its backward pass is done (last segment first). In both, the arrays are indexed
/// from the segment's first step (step `range.start + i` is index `i`; `h` holds one more, the
/// state entering the segment, at index 0).
pub trait SegmentObserver<F: NdFloat> {
    /// The forward caches of steps `range`.
    fn forward(
        &mut self,
        range: std::ops::Range<usize>,
        forward: &super::ForwardCache<F>,
    ) -> Result<()>;
    /// The forward caches and adjoints of steps `range`.
    fn backward(
        &mut self,
        range: std::ops::Range<usize>,
        forward: &super::ForwardCache<F>,
        backward: &super::Backward<F>,
    ) -> Result<()>;
}

/// `n` rounded up to a positive multiple of [`WEIGHT_GRAD_BLOCK`].
pub fn round_to_block(n: usize) -> usize {
    n.max(1).div_ceil(WEIGHT_GRAD_BLOCK) * WEIGHT_GRAD_BLOCK
}

fn is_square(n: usize) -> bool {
    n.isqrt() * n.isqrt() == n
}

/// The segments `[a, b)` of `steps` steps `segment` long (the last may be shorter).
pub fn segments(steps: usize, segment: usize) -> Vec<std::ops::Range<usize>> {
    (0..steps.div_ceil(segment))
        .map(|i| i * segment..((i + 1) * segment).min(steps))
        .collect()
}

/// Steps `range` of `inputs`.
pub fn slice_inputs<F: NdFloat>(inputs: &Inputs<F>, range: std::ops::Range<usize>) -> Inputs<F> {
    match inputs {
        Inputs::Tokens { ids, vocab } => Inputs::Tokens {
            ids: ids.slice(s![range, ..]).to_owned(),
            vocab: *vocab,
        },
        Inputs::Dense(x) => Inputs::Dense(x.slice(s![range, .., ..]).to_owned()),
    }
}

/// The index range, in the time-major list of loss positions, of the positions in steps `range`.
fn positions_in(
    positions: &[(usize, usize)],
    range: &std::ops::Range<usize>,
) -> std::ops::Range<usize> {
    let first = positions.partition_point(|&(t, _)| t < range.start);
    let end = positions.partition_point(|&(t, _)| t < range.end);
    first..end
}

impl<F: NdFloat> Network<F> {
    /// Readout and loss of `batch` from a forward pass run `segment` steps at a time, keeping only
    /// the state between segments: the same values as [`Network::readout`] after a whole
    /// forward pass, in memory that does not grow with T beyond the batch itself.
    pub fn readout_segmented(
        &self,
        batch: &Batch<F>,
        state: Option<&State<F>>,
        segment: usize,
    ) -> Result<ReadoutCache<F>> {
        let (steps, size) = check_inputs(&self.spec, &batch.inputs)?;
        readout::check_targets(&self.spec, &batch.targets, &batch.loss_weight, steps, size)?;
        let mut forward = empty_forward();
        let (readout, _) =
            self.segmented_forward(batch, state, segment.max(1), &mut forward, None)?;
        Ok(readout)
    }

    /// The forward pass segment by segment into `forward` (which ends holding the last
    /// segment's caches): the readout and loss at the loss positions, and the state entering
    /// each segment. `observer` sees each segment's caches.
    fn segmented_forward<'o>(
        &self,
        batch: &Batch<F>,
        state: Option<&State<F>>,
        segment: usize,
        forward: &mut super::ForwardCache<F>,
        mut observer: Option<&mut (dyn SegmentObserver<F> + 'o)>,
    ) -> Result<(ReadoutCache<F>, Vec<State<F>>)> {
        let (steps, size) = batch.inputs.shape();
        let (positions, weights) = readout::loss_positions(&batch.loss_weight);
        let top_width = *self.spec.hidden.last().expect("a network has a layer");
        let mut features = Array2::<F>::zeros((positions.len(), top_width));
        let mut starts = Vec::new();
        let mut current = match state {
            Some(s) => s.clone(),
            None => State::zeros(&self.spec, size),
        };
        for range in segments(steps, segment) {
            let inputs = slice_inputs(&batch.inputs, range.clone());
            network_forward_into(
                &self.spec,
                &self.params.layers,
                &inputs,
                Some(&current),
                forward,
            )?;
            let at = positions_in(&positions, &range);
            readout::gather_features(
                forward.top_output(),
                range.start,
                &positions[at.clone()],
                at.start,
                &mut features,
            );
            if let Some(o) = observer.as_deref_mut() {
                o.forward(range.clone(), forward)?;
            }
            starts.push(std::mem::replace(&mut current, forward.final_state()));
        }
        let readout = readout::readout_from_features(
            features,
            positions,
            weights,
            &self.params.readout_weight,
            &self.params.readout_bias,
            &batch.targets,
        );
        Ok((readout, starts))
    }

    /// Forward, loss and backward over `batch` with checkpointed BPTT, segments of `segment`
    /// steps (a multiple of [`WEIGHT_GRAD_BLOCK`]), into `eval` (buffers reused when they fit).
    /// Loss, readout, parameter gradients, input and initial-state adjoints equal
    /// [`Network::evaluate`]'s bit for bit; `eval.forward` and `eval.backward.layers` end holding
    /// only the first segment's caches and adjoints. `observer` sees every segment's caches in
    /// the forward pass and its caches and adjoints in the backward pass.
    pub(crate) fn evaluate_segmented_into<'o>(
        &self,
        eval: &mut Evaluation<F>,
        batch: &Batch<F>,
        state: Option<&State<F>>,
        bptt: Bptt,
        segment: usize,
        mut observer: Option<&mut (dyn SegmentObserver<F> + 'o)>,
    ) -> Result<()> {
        debug_assert!(segment.is_multiple_of(WEIGHT_GRAD_BLOCK));
        let (steps, size) = check_inputs(&self.spec, &batch.inputs)?;
        readout::check_targets(&self.spec, &batch.targets, &batch.loss_weight, steps, size)?;
        bptt.validate()?;
        let (readout, starts) = self.segmented_forward(
            batch,
            state,
            segment,
            &mut eval.forward,
            observer.as_deref_mut(),
        )?;
        eval.readout = readout;
        let grads = &mut eval.backward.grads;
        let d_features = readout::readout_backward_features(
            &mut grads.readout_weight,
            &mut grads.readout_bias,
            &eval.readout,
            &batch.targets,
            self.params.readout_weight.view(),
        );
        let mut d_inputs = match &batch.inputs {
            Inputs::Dense(x) => Some(Array3::<F>::zeros(x.raw_dim())),
            Inputs::Tokens { .. } => None,
        };
        let ranges = segments(steps, segment);
        let last = ranges.len() - 1;
        for (i, range) in ranges.into_iter().enumerate().rev() {
            let inputs = slice_inputs(&batch.inputs, range.clone());
            if i != last {
                // the last segment's caches are still there from the forward pass
                network_forward_into(
                    &self.spec,
                    &self.params.layers,
                    &inputs,
                    Some(&starts[i]),
                    &mut eval.forward,
                )?;
            }
            let top = eval.forward.top_output().raw_dim();
            let mut d_top = Array3::<F>::zeros(top);
            let at = positions_in(&eval.readout.positions, &range);
            readout::scatter_features(
                d_features.slice(s![at.clone(), ..]),
                &eval.readout.positions[at],
                range.start,
                &mut d_top,
            );
            let span = Span {
                offset: range.start,
                total: steps,
            };
            network_backward_span_into(
                &self.spec,
                &self.params,
                &inputs,
                &eval.forward,
                d_top.view(),
                bptt,
                span,
                &mut eval.backward,
            )?;
            if let (Some(all), Some(part)) = (d_inputs.as_mut(), eval.backward.d_inputs.as_ref()) {
                all.slice_mut(s![range.clone(), .., ..]).assign(part);
            }
            if let Some(o) = observer.as_deref_mut() {
                o.backward(range, &eval.forward, &eval.backward)?;
            }
        }
        eval.backward.d_inputs = d_inputs;
        eval.loss = eval.readout.loss();
        Ok(())
    }
}

/// A forward cache holding nothing yet.
pub(crate) fn empty_forward<F: NdFloat>() -> super::ForwardCache<F> {
    super::ForwardCache {
        layers: Vec::new(),
        steps: 0,
        batch: 0,
    }
}
