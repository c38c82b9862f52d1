//! Checkpointed BPTT (issue 19): a backward pass that keeps the state every S steps and
//! recomputes each segment's caches gives the same bits as full BPTT — loss, every parameter
//! gradient, the input adjoint and the initial-state adjoints — for every registered cell and
//! every option of the gradient-check grid (layers, residual, layer norm, the LSTM without forget
//! gate, chrono, token and dense inputs, losses at the last or several steps, truncated BPTT),
//! in f64 and f32, on one and on two threads.

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

/// Segments of 64 over 150 steps: two full segments and a short one, crossing weight-gradient
/// blocks and (for truncated cases) truncation windows that do not line up with segments.
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
