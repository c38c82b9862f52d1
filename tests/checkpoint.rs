//! Checkpointed BPTT (issue 19): a backward pass that keeps the state every S steps and
//! recomputes each segment's caches gives the same bits as full BPTT — loss, every parameter
//! gradient, the input adjoint and the initial-state adjoints — for every registered cell and
//! every option of the gradient-check grid (layers, residual, layer norm, the LSTM without forget
//! gate, chrono, token and dense inputs, losses at the last or several steps, truncated BPTT),
//! in f64 and f32, on one and on two threads.

mod common;

use rnnlab::batch::{Batch, Inputs, Targets};
use rnnlab::cells::{Activation, CellKind};
use rnnlab::gradcheck::{case_setup, standard_cases, truncated_cases, GradcheckCase};
use rnnlab::network::{checkpoint, BpttMemory, Network, Workspace};
use rnnlab::parallel;

/// Every bit of what an evaluation returns that the training loop and the gradient checks read.
fn fingerprint<F: ndarray::NdFloat>(
    net: &Network<F>,
    batch: &Batch<F>,
    state: &rnnlab::network::State<F>,
    case: &GradcheckCase,
    memory: BpttMemory,
) -> String {
    let mut ws = Workspace::with_memory(memory);
    // twice, so that reused buffers are exercised too
    let mut out = String::new();
    for _ in 0..2 {
        let e = net
            .evaluate_with(&mut ws, batch, Some(state), case.bptt)
            .unwrap();
        out = format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            e.loss.to_bits(),
            e.backward.grads,
            e.backward.d_inputs,
            e.backward.d_state,
            e.readout.outputs,
            e.readout.losses
        );
    }
    out
}

fn long(case: &GradcheckCase, steps: usize) -> GradcheckCase {
    let mut case = case.clone();
    case.steps = steps;
    case
}

fn every_case() -> Vec<GradcheckCase> {
    let mut cases = standard_cases(&CellKind::REGISTERED, &Activation::ALL);
    cases.extend(truncated_cases(
        &[CellKind::Rnn, CellKind::Lstm, CellKind::Gru],
        &[Activation::Tanh],
    ));
    cases
}

/// Segments of at most 64 over 150 steps (two full segments and a short last one) and of at most
/// 128 (a first of 64 and a last of 86, longer than the block-rounded limit's middle segments
/// would be), crossing weight-gradient blocks and (for truncated cases) truncation windows that
/// do not line up with segments.
#[test]
fn checkpointed_equals_full_bit_for_bit_for_every_cell_and_option() {
    let cases = every_case();
    assert!(cases.len() > 100, "{} cases", cases.len());
    for (i, case) in cases.iter().enumerate() {
        let case = long(case, 150);
        let (net, batch, state) = case_setup(&case, 3 + i as u64).unwrap();
        let full = fingerprint(&net, &batch, &state, &case, BpttMemory::Full);
        let seg = fingerprint(&net, &batch, &state, &case, BpttMemory::Segments(64));
        assert_eq!(full, seg, "f64 {case}");
        // f32 on two threads (the batch split across them)
        let net32 = net.cast::<f32>();
        let batch32 = cast_batch(&batch);
        let state32 = rnnlab::network::State {
            h: state.h.iter().map(|h| h.mapv(|v| v as f32)).collect(),
            c: state
                .c
                .iter()
                .map(|c| c.as_ref().map(|c| c.mapv(|v| v as f32)))
                .collect(),
        };
        let two = |memory| {
            parallel::with_threads(2, || {
                parallel::set_min_work(1);
                let f = fingerprint(&net32, &batch32, &state32, &case, memory);
                parallel::set_min_work(parallel::MIN_WORK_PER_THREAD);
                f
            })
        };
        let one = fingerprint(&net32, &batch32, &state32, &case, BpttMemory::Full);
        assert_eq!(one, two(BpttMemory::Full), "f32 threads {case}");
        assert_eq!(
            one,
            two(BpttMemory::Segments(128)),
            "f32 checkpointed {case}"
        );
    }
}

#[test]
fn the_sqrt_schedule_rounds_to_weight_gradient_blocks() {
    assert_eq!(BpttMemory::sqrt(100), BpttMemory::Segments(64));
    assert_eq!(BpttMemory::sqrt(4096), BpttMemory::Segments(64));
    assert_eq!(BpttMemory::sqrt(4097), BpttMemory::Segments(128));
    assert_eq!(BpttMemory::sqrt(100_000), BpttMemory::Segments(320));
    assert_eq!(BpttMemory::Segments(64).segment(64), None);
    assert_eq!(BpttMemory::Segments(64).segment(65), Some(64));
    let segs = checkpoint::segments(150, 64);
    assert_eq!(segs, vec![0..64, 64..128, 128..150]);
}

/// The segmented forward-only readout (the evaluation set's) equals the whole forward pass's.
#[test]
fn segmented_readout_equals_whole_readout() {
    for case in standard_cases(&[CellKind::Lstm, CellKind::Gru], &[Activation::Tanh]) {
        let case = long(&case, 97);
        let (net, batch, state) = case_setup(&case, 5).unwrap();
        let fwd = net.forward(&batch.inputs, Some(&state)).unwrap();
        let whole = net
            .readout(&fwd, &batch.targets, &batch.loss_weight)
            .unwrap();
        for segment in [1, 10, 64, 97, 500] {
            let seg = net
                .readout_segmented(&batch, Some(&state), segment)
                .unwrap();
            assert_eq!(
                format!("{:?}", whole),
                format!("{:?}", seg),
                "{case} segment {segment}"
            );
        }
    }
}

fn cast_batch(b: &Batch<f64>) -> Batch<f32> {
    Batch {
        inputs: match &b.inputs {
            Inputs::Tokens { ids, vocab } => Inputs::Tokens {
                ids: ids.clone(),
                vocab: *vocab,
            },
            Inputs::Dense(x) => Inputs::Dense(x.mapv(|v| v as f32)),
        },
        targets: match &b.targets {
            Targets::Classes { ids, classes } => Targets::Classes {
                ids: ids.clone(),
                classes: *classes,
            },
            Targets::Values(y) => Targets::Values(y.mapv(|v| v as f32)),
        },
        loss_weight: b.loss_weight.mapv(|v| v as f32),
    }
}

mod training {
    use super::common;
    use rnnlab::cells::CellKind;
    use rnnlab::parallel;
    use rnnlab::train::{BpttMemorySetting, Precision, TrainConfig};

    fn config(cell: CellKind, precision: Precision) -> TrainConfig {
        let mut c = TrainConfig::default();
        c.task.length = 140;
        c.model.cell = cell;
        c.model.hidden = 10;
        c.batch = 5;
        c.steps = 4;
        c.eval_every = 2;
        c.eval_size = 6;
        c.probe_every = 2;
        c.history_every = Some(2);
        c.probe_size = 3;
        c.seed = 7;
        c.precision = precision;
        c
    }

    /// The budget whose longest fitting segments are 64 steps.
    fn budget_for_64(c: &TrainConfig) -> BpttMemorySetting {
        let task = rnnlab::tasks::Task::new(c.task.clone()).unwrap();
        let seg = rnnlab::network::BpttMemory::Segments(64);
        // the estimate counts the threads' own buffers where a pass is split: take it on the
        // run's 2 threads, splitting even tiny work as `train_on_threads` does
        let bytes = parallel::with_threads(2, || {
            parallel::set_min_work(1);
            let bytes = rnnlab::resources::bptt_cache_bytes(c, &task, seg);
            parallel::set_min_work(parallel::MIN_WORK_PER_THREAD);
            bytes
        });
        BpttMemorySetting::Budget(bytes as u64)
    }

    /// A whole training run (weights after the updates, metrics, gradient reports) is the same
    /// with full BPTT, the sqrt schedule and a byte budget, for every cell, stacked + residual
    /// and layer norm, in f32 and f64, on 1 and 2 threads.
    #[test]
    fn training_runs_are_identical_under_every_schedule() {
        let mut configs = Vec::new();
        for &cell in CellKind::REGISTERED.iter() {
            configs.push(config(cell, Precision::F32));
        }
        let mut c = config(CellKind::Lstm, Precision::F64);
        c.model.layers = 2;
        c.model.residual = true;
        configs.push(c);
        let mut c = config(CellKind::Rnn, Precision::F32);
        c.model.layer_norm = true;
        configs.push(c);
        let mut c = config(CellKind::Lstm, Precision::F32);
        c.model.forget_gate = false;
        configs.push(c);
        let mut c = config(CellKind::Gru, Precision::F32);
        c.bptt = Some(50);
        configs.push(c);
        for c in configs {
            let full = {
                let mut c = c.clone();
                c.bptt_memory = BpttMemorySetting::Full;
                common::run_fingerprint(&common::train_on_threads(&c, 1))
            };
            for (memory, threads) in [
                (BpttMemorySetting::Sqrt, 1),
                (BpttMemorySetting::Sqrt, 2),
                (budget_for_64(&c), 2),
            ] {
                let mut c = c.clone();
                c.bptt_memory = memory;
                assert_eq!(
                    full,
                    common::run_fingerprint(&common::train_on_threads(&c, threads)),
                    "{} {:?} {memory} threads {threads}",
                    c.model.cell,
                    c.precision
                );
            }
        }
    }
}

/// A budget picks the longest segments that fit it; one below every schedule is refused with
/// the smallest budget that works; `auto` is full BPTT while the run fits its limit.
#[test]
fn budgets_resolve_to_the_longest_segments_that_fit() {
    use rnnlab::resources::{estimate_run_with, resolve_bptt_memory};
    use rnnlab::tasks::Task;
    use rnnlab::train::{BpttMemorySetting, TrainConfig};
    let mut c = TrainConfig::default();
    c.task.length = 2000;
    let task = Task::new(c.task.clone()).unwrap();
    let limit = 8u64 << 30;
    c.bptt_memory = BpttMemorySetting::Auto;
    assert_eq!(
        resolve_bptt_memory(&c, &task, limit).unwrap(),
        BpttMemory::Full
    );
    c.bptt_memory = BpttMemorySetting::Sqrt;
    assert_eq!(
        resolve_bptt_memory(&c, &task, limit).unwrap(),
        BpttMemory::Segments(64)
    );
    // auto under a limit below full BPTT's estimate: checkpointed, within the limit
    let full = estimate_run_with(&c, &task, BpttMemory::Full).bytes as u64;
    c.bptt_memory = BpttMemorySetting::Auto;
    let m = resolve_bptt_memory(&c, &task, full - 1).unwrap();
    assert!(matches!(m, BpttMemory::Segments(_)), "{m:?}");
    assert!(estimate_run_with(&c, &task, m).bytes <= u128::from(full - 1));
    // budgets: longer segments for larger budgets, never above the budget's fit
    let mut last = 0;
    for budget in [12u64 << 20, 16 << 20, 64 << 20] {
        c.bptt_memory = BpttMemorySetting::Budget(budget);
        match resolve_bptt_memory(&c, &task, limit).unwrap() {
            BpttMemory::Segments(s) => {
                assert!(s >= last, "{budget}: {s} < {last}");
                last = s;
            }
            BpttMemory::Full => last = usize::MAX,
        }
    }
    c.bptt_memory = BpttMemorySetting::Budget(1000);
    let e = resolve_bptt_memory(&c, &task, limit)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bptt-memory") && e.contains("smallest budget that works"),
        "{e}"
    );
}

/// The two-level schedule a budget picks against the optimum (Gruslys et al. 2016, BPTT-HSM):
/// a dynamic programme over every schedule that stores states and recomputes, with the same
/// byte model (a leaf's caches per step, a stored state, the same fixed part) and the same rule
/// that segment boundaries fall on weight-gradient blocks (exactness). For every budget from the
/// smallest the two-level schedule fits to just below full BPTT, the two-level schedule
/// recomputes exactly as many steps as the optimum (the issue asked for within 10%).
#[test]
fn the_two_level_schedule_recomputes_as_few_steps_as_the_optimum() {
    use rnnlab::network::backward::WEIGHT_GRAD_BLOCK as BLOCK;
    use rnnlab::resources::{bptt_cache_bytes, resolve_bptt_memory};
    use rnnlab::tasks::Task;
    use rnnlab::train::{BpttMemorySetting, TrainConfig};
    for (cell, layers, length) in [
        (CellKind::Lstm, 1, 1000),
        (CellKind::Lstm, 1, 3000),
        (CellKind::Gru, 1, 2000),
        (CellKind::Rnn, 2, 1500),
    ] {
        let mut c = TrainConfig::default();
        c.model.cell = cell;
        c.model.layers = layers;
        c.model.hidden = 64;
        c.batch = 32;
        c.task.length = length;
        let task = Task::new(c.task.clone()).unwrap();
        let t = task.steps();
        let bytes = |s: usize| bptt_cache_bytes(&c, &task, BpttMemory::Segments(s)) as f64;
        // the byte model: fixed + per cached step · the longest segment + per stored state · the
        // segments (solved from S = 1, 2, 3 blocks, where the longest is S and there are ⌈T/S⌉)
        let (n1, n2, n3) = (
            t.div_ceil(BLOCK),
            t.div_ceil(2 * BLOCK),
            t.div_ceil(3 * BLOCK),
        );
        let (b1, b2, b3) = (bytes(BLOCK), bytes(2 * BLOCK), bytes(3 * BLOCK));
        let state = ((b2 - b1) * 2.0 - (b3 - b1)) / (2.0 * n2 as f64 - n1 as f64 - n3 as f64);
        let step = (b2 - b1 - state * (n2 as f64 - n1 as f64)) / BLOCK as f64;
        let fixed = b1 - step * BLOCK as f64 - state * n1 as f64;
        for s in (BLOCK..t).step_by(BLOCK) {
            let (longest, count) = checkpoint::segment_extent(t as u128, s as u128);
            let model = fixed + step * longest as f64 + state * count as f64;
            assert!(
                (model - bytes(s)).abs() < 1.0,
                "{cell} S = {s}: the byte model is off"
            );
        }
        // F(n, j): fewest forward steps to run the backward pass over n blocks whose start state
        // is stored, with j states held (this one included); `tail` when the n blocks end at T
        // (the last block may be short). A leaf keeps its caches; a split runs y blocks forward,
        // stores a state, solves the rest, then the first y blocks.
        let blocks = t.div_ceil(BLOCK);
        let tail_steps = |n: usize| t - (blocks - n) * BLOCK;
        let optimum = |budget: f64| -> Option<usize> {
            let free = budget - fixed;
            let fits = |len: usize, j: usize| step * len as f64 + state * j as f64 <= free;
            let inf = usize::MAX / 4;
            let mut inner = vec![vec![inf; blocks + 2]; blocks + 1];
            let mut tail = vec![vec![inf; blocks + 2]; blocks + 1];
            for n in 1..=blocks {
                for j in (1..=blocks).rev() {
                    let (mut best_inner, mut best_tail) = (inf, inf);
                    if fits(n * BLOCK, j) {
                        best_inner = n * BLOCK;
                    }
                    if fits(tail_steps(n), j) {
                        best_tail = tail_steps(n);
                    }
                    for y in 1..n {
                        let left = inner[y][j];
                        best_inner = best_inner.min(y * BLOCK + inner[n - y][j + 1] + left);
                        best_tail = best_tail.min(y * BLOCK + tail[n - y][j + 1] + left);
                    }
                    inner[n][j] = best_inner;
                    tail[n][j] = best_tail;
                }
            }
            let total = tail[blocks][1];
            (total < inf).then(|| total - t)
        };
        let smallest = (BLOCK..t)
            .step_by(BLOCK)
            .map(|s| bptt_cache_bytes(&c, &task, BpttMemory::Segments(s)))
            .min()
            .unwrap();
        let full = bptt_cache_bytes(&c, &task, BpttMemory::Full);
        let mut checked = 0;
        for k in 0..=40u128 {
            let budget = smallest + (full - smallest) * k / 40;
            c.bptt_memory = BpttMemorySetting::Budget(budget as u64);
            let BpttMemory::Segments(s) = resolve_bptt_memory(&c, &task, u64::MAX).unwrap() else {
                continue;
            };
            let ranges = checkpoint::segments(t, s);
            let two_level = ranges.last().unwrap().start;
            let best = optimum(budget as f64).expect("the optimum fits where two-level does");
            assert_eq!(
                two_level, best,
                "{cell} T = {t}, budget {budget}: two-level recomputes {two_level} steps (S = {s}), the optimum {best}"
            );
            checked += 1;
        }
        assert!(
            checked >= 30,
            "{cell}: only {checked} budgets were checkpointed"
        );
    }
}
