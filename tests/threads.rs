//! Thread-count invariance: a run gives the same bits whatever `--threads` (issue 12). The batch
//! is split across threads inside each pass; every sum keeps its order, so weights, metrics and
//! gradient reports must be identical, for every registered cell, truncated BPTT, two layers and
//! thread counts above the batch size and the cores.

mod common;

use rnnlab::cells::{Activation, CellKind};
use rnnlab::train::{Precision, TrainConfig, TrainOutcome};

fn config(cell: CellKind, layers: usize, bptt: Option<usize>, precision: Precision) -> TrainConfig {
    let mut c = TrainConfig::default();
    c.task.length = 8;
    c.model.cell = cell;
    c.model.hidden = 12;
    c.model.layers = layers;
    c.batch = 7;
    c.steps = 6;
    c.bptt = bptt;
    c.eval_every = 3;
    c.eval_size = 9;
    c.probe_every = 3;
    c.history_every = Some(2);
    c.probe_size = 5;
    c.seed = 11;
    c.precision = precision;
    c
}

fn run(config: &TrainConfig, threads: usize) -> TrainOutcome {
    common::train_on_threads(config, threads)
}

fn fingerprint(o: &TrainOutcome) -> String {
    common::run_fingerprint(o)
}

fn assert_invariant(config: &TrainConfig, what: &str) {
    let one = run(config, 1);
    assert_eq!(one.summary.metadata.threads, 1);
    let want = fingerprint(&one);
    // 2, 3: uneven blocks; 7: one sequence per thread; 16: more threads than sequences and cores
    for threads in [2, 3, 7, 16] {
        let got = run(config, threads);
        assert_eq!(got.summary.metadata.threads, threads);
        assert!(
            fingerprint(&got) == want,
            "{what}: {threads} threads differ from 1"
        );
    }
}

#[test]
fn every_registered_cell_trains_to_the_same_bits_on_any_thread_count() {
    for cell in CellKind::REGISTERED {
        for precision in [Precision::F32, Precision::F64] {
            let c = config(cell, 1, None, precision);
            assert_invariant(&c, &format!("{cell} {precision:?}"));
        }
    }
}

#[test]
fn truncated_bptt_and_two_layers_are_thread_invariant() {
    for cell in CellKind::REGISTERED {
        assert_invariant(
            &config(cell, 2, Some(3), Precision::F32),
            &format!("{cell} 2 layers bptt 3"),
        );
    }
    let mut residual = config(CellKind::Lstm, 2, None, Precision::F64);
    residual.model.residual = true;
    assert_invariant(&residual, "residual lstm");
}

#[test]
fn cells_that_sum_over_sequences_in_their_steps_are_thread_invariant_too() {
    // layer norm's γ, β and modReLU's bias are summed over the batch inside the backward steps
    let mut ln = config(CellKind::Rnn, 2, None, Precision::F32);
    ln.model.layer_norm = true;
    assert_invariant(&ln, "rnn layer norm");
    for act in Activation::ALL {
        let mut c = config(CellKind::ExpRnn, 1, Some(4), Precision::F64);
        c.model.activation = act;
        assert_invariant(&c, &format!("exprnn {act}"));
        let mut c = config(CellKind::Rnn, 1, None, Precision::F32);
        c.model.activation = act;
        assert_invariant(&c, &format!("rnn {act}"));
    }
}

/// Big enough that the default threshold splits the batch across 2 threads (T·B·4H·H ≈ 10⁷).
const SPLIT: &[&str] = &[
    "--cell",
    "lstm",
    "--hidden",
    "64",
    "--length",
    "20",
    "--batch",
    "32",
    "--steps",
    "4",
    "--eval-every",
    "2",
    "--eval-size",
    "32",
    "--probe-every",
    "2",
    "--probe-size",
    "32",
    "--layers",
    "2",
    "--bptt",
    "7",
];

fn args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(SPLIT).chain(tail).copied().collect()
}

#[test]
fn the_command_line_writes_the_same_files_whatever_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for n in ["1", "2", "5"] {
        let run = format!("run{n}");
        common::ok(
            dir,
            &args(&["train", "--quiet"], &["--threads", n, "--out", &run]),
        );
        let grads = format!("grad{n}");
        common::ok(
            dir,
            &args(&["gradients"], &["--threads", n, "--out", &grads]),
        );
        let ev = format!("eval{n}");
        common::ok(
            dir,
            &["eval", "--model", "run1", "--threads", n, "--out", &ev],
        );
        let summary = std::fs::read_to_string(dir.join(&run).join("summary.ron")).unwrap();
        assert!(summary.contains(&format!("threads: {n},")), "{summary}");
    }
    let read = |p: String| std::fs::read(dir.join(p)).unwrap();
    for n in ["2", "5"] {
        for f in [
            "metrics.csv",
            "gradients.csv",
            "diagnostics.csv",
            "model.safetensors",
            "gradient_history.csv",
            "signal_history.csv",
            "plots/gradient_history.svg",
            "plots/learning_over_time.svg",
        ] {
            assert!(
                read(format!("run{n}/{f}")) == read(format!("run1/{f}")),
                "train --threads {n}: {f} differs"
            );
        }
        for f in ["gradients.csv", "diagnostics.csv", "source_signal.csv"] {
            assert!(
                read(format!("grad{n}/{f}")) == read(format!("grad1/{f}")),
                "gradients --threads {n}: {f} differs"
            );
        }
        assert!(
            read(format!("eval{n}/eval.json")) == read("eval1/eval.json".into()),
            "eval --threads {n} differs"
        );
    }
}

#[test]
fn zero_threads_is_a_usage_error_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd in [
        &["train", "--threads", "0"][..],
        &["gradients", "--threads", "0"],
        &["eval", "--model", "nowhere", "--threads", "0"],
        &["bench", "--threads", "0"],
        &["sweep", "--cell", "rnn", "--threads", "0"],
    ] {
        let err = common::usage_error(tmp.path(), cmd);
        assert!(err.contains("--threads"), "{cmd:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{cmd:?}: {err}");
    }
}

#[test]
fn bench_accepts_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    for n in ["1", "2", "9"] {
        let out = common::ok(
            tmp.path(),
            &[
                "bench",
                "--cells",
                "gru",
                "--hidden",
                "8",
                "--batch",
                "4",
                "--length",
                "5",
                "--steps",
                "1",
                "--warmup",
                "0",
                "--threads",
                n,
            ],
        );
        let row = out.lines().nth(1).unwrap();
        assert!(row.starts_with(&format!("gru,8,4,5,{n},")), "{row}");
    }
}
