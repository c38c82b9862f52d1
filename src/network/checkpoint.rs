//! Checkpointed BPTT (Chen et al. 2016, "Training deep nets with sublinear memory cost"): the
//! forward pass keeps the recurrent state only at the start of each segment of at most `S` steps
//! and the readout's inputs at the steps that carry a loss; the backward pass runs the segments
//! last first, recomputing each one's forward caches from its start state (the last segment's are
//! still in memory from the forward pass). Memory is O(T/S + S) states and caches instead of
//! O(T); the cost is one more forward pass over the steps before the last segment, which is laid
//! out to be the longest (see [`segments`]): at most T − S + 63 steps.
//!
//! Exactness: every recomputed entry is the same arithmetic on the same inputs as in the whole
//! forward pass (the time loops are row-wise and step-wise; the input projection's rows do not
//! depend on how many rows one product holds), the adjoints cross segment boundaries through the
//! carries the cells keep ([`crate::cells::Cell::begin_segment`]), and the weight gradients are
//! summed per block of [`WEIGHT_GRAD_BLOCK`] steps in the same order in both cases, since every
//! segment boundary is a multiple of it. So gradients, losses and trained weights are the same
//! bits as full BPTT's.

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
    /// Keep the state at the start of each segment of at most `S` steps (`S` ≥
    /// [`WEIGHT_GRAD_BLOCK`]) and recompute each segment's caches in the backward pass; the
    /// segments are laid out by [`segments`].
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

    /// The segment length used for a sequence of `steps` steps; None: the whole sequence at once
    /// (also where the segments would be one).
    pub fn segment(self, steps: usize) -> Option<usize> {
        match self {
            BpttMemory::Segments(s) if segment_extent(steps as u128, s as u128).1 > 1 => Some(s),
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

/// The segments `[a, b)` of `steps` steps, none longer than `limit`, laid out from the end: the
/// last one (whose caches the backward pass finds still in memory, so it is never recomputed) is
/// the longest that ends at `steps` and starts on a multiple of [`WEIGHT_GRAD_BLOCK`]; the ones
/// before it are `limit` rounded down to a multiple of the block, and the first takes the
/// remainder. (A `limit` below the block, used by forward-only passes, cuts plainly from the
/// end.) Every boundary is a multiple of the block (exactness), and the steps recomputed, the
/// last segment's start, are the fewest any schedule whose caches hold `limit` steps can have;
/// with a budget choosing `limit`, this equals the optimum of Gruslys et al.'s dynamic programme
/// over all store-and-recompute schedules on the same byte model (`tests/checkpoint.rs`).
pub fn segments(steps: usize, limit: usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let Some((middle, last)) = cut(steps as u128, limit as u128) else {
        ranges.push(0..steps);
        return ranges;
    };
    let (middle, start) = (middle as usize, steps - last as usize);
    ranges.push(start..steps);
    let mut end = start;
    while end > 0 {
        let begin = end.saturating_sub(middle);
        ranges.push(begin..end);
        end = begin;
    }
    ranges.reverse();
    ranges
}

/// The longest segment and the number of segments of [`segments`]`(steps, limit)`, without
/// listing them (the memory estimate's form, for any size).
pub fn segment_extent(steps: u128, limit: u128) -> (u128, u128) {
    match cut(steps, limit) {
        None => (steps, 1),
        // before the last: the middle segments, or only the remainder where it is shorter
        Some((middle, last)) => (
            last.max(middle.min(steps - last)),
            1 + (steps - last).div_ceil(middle),
        ),
    }
}

/// The middle segments' and the last segment's lengths for segments of at most `limit` steps;
/// None: one segment.
fn cut(steps: u128, limit: u128) -> Option<(u128, u128)> {
    let limit = limit.max(1);
    if limit >= steps {
        return None;
    }
    let block = WEIGHT_GRAD_BLOCK as u128;
    if limit < block {
        return Some((limit, limit));
    }
    let odd = steps % block;
    // the longest tail ≤ limit whose start, steps − tail, is a multiple of the block
    let last = odd + (limit - odd) / block * block;
    Some((limit / block * block, last))
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

    /// Forward, loss and backward over `batch` with checkpointed BPTT, segments of at most
    /// `segment` steps (at least [`WEIGHT_GRAD_BLOCK`]; laid out by [`segments`]), into `eval`
    /// (buffers reused when they fit).
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
        debug_assert!(segment >= WEIGHT_GRAD_BLOCK);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_steps_on_block_boundaries_the_last_the_longest() {
        for steps in [1, 63, 64, 65, 100, 1000, 1002, 4096, 4100, 100_000] {
            for limit in [64, 100, 128, 320, 386, 960, 4096] {
                let ranges = segments(steps, limit);
                assert_eq!(ranges.first().map(|r| r.start), Some(0));
                assert_eq!(ranges.last().map(|r| r.end), Some(steps));
                assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
                assert!(ranges
                    .iter()
                    .all(|r| !r.is_empty() && r.start.is_multiple_of(WEIGHT_GRAD_BLOCK)));
                let longest = ranges.iter().map(|r| r.len()).max().unwrap();
                assert!(ranges.len() == 1 || longest <= limit, "{steps} by {limit}");
                assert_eq!(
                    segment_extent(steps as u128, limit as u128),
                    (longest as u128, ranges.len() as u128),
                    "{steps} by {limit}"
                );
                // the last segment starts at the first block boundary at or after steps − limit
                let earliest =
                    steps.saturating_sub(limit).div_ceil(WEIGHT_GRAD_BLOCK) * WEIGHT_GRAD_BLOCK;
                assert_eq!(ranges.last().unwrap().start, earliest, "{steps} by {limit}");
                assert_eq!(
                    BpttMemory::Segments(limit).segment(steps).is_some(),
                    ranges.len() > 1
                );
            }
        }
        // 1000 steps in segments of at most 960: 64 steps recomputed, not 960
        assert_eq!(segments(1000, 960), vec![0..64, 64..1000]);
        // 1002 steps, at most 426: middle segments of 384, the last 426, 576 steps recomputed
        assert_eq!(segments(1002, 426), vec![0..192, 192..576, 576..1002]);
        assert_eq!(segments(1002, 386), vec![0..256, 256..640, 640..1002]);
        // a limit below the block (forward-only passes): the plain split from the end
        assert_eq!(segments(10, 4), vec![0..2, 2..6, 6..10]);
    }
}
