//! The checkpointed gradient probe (issue 19): the f64 report of `rnnlab gradients` and of every
//! training probe — rows, decay summaries, diagnostics, theory curves, the signal at the sources —
//! is the same bits whether its pass keeps every step's caches or only one segment's, for every
//! cell and option, every task (copy's sources need passes of their own), on one and two
//! threads; and `rnnlab gradients` picks the checkpointed probe by itself when the full one would
//! not fit its memory limit.

mod common;

use rnnlab::analysis::gradient_report::probe_report;
use rnnlab::cells::CellKind;
use rnnlab::network::{BpttMemory, Network};
use rnnlab::parallel;
use rnnlab::tasks::{Task, TaskKind, TaskSpec};
use rnnlab::train::trainer::probe_batch;
use rnnlab::train::TrainConfig;

/// Every bit of a probe (Debug prints floats in their shortest round-trip form, so equal text is
/// equal values; the theory curves are in it).
fn report(config: &TrainConfig, task: &Task, memory: BpttMemory, threads: usize) -> String {
    let net: Network<f64> =
        Network::init(config.model_spec(task).unwrap(), &config.init, config.seed).unwrap();
    let sequences = task.generate(3, 11);
    let batch = probe_batch(task, &sequences).unwrap();
    parallel::with_threads(threads, || {
        parallel::set_min_work(1);
        let probe = probe_report(&net, task, &sequences, &batch, 0, memory).unwrap();
        parallel::set_min_work(parallel::MIN_WORK_PER_THREAD);
        format!("{probe:?}")
    })
}

#[test]
fn probe_reports_are_identical_under_every_schedule() {
    let mut configs = Vec::new();
    for &cell in CellKind::REGISTERED.iter() {
        let mut c = TrainConfig::default();
        c.model.cell = cell;
        c.model.hidden = 6;
        configs.push(c);
    }
    let mut stacked = TrainConfig::default();
    stacked.model.cell = CellKind::Lstm;
    stacked.model.hidden = 5;
    stacked.model.layers = 2;
    stacked.model.residual = true;
    configs.push(stacked);
    let mut norm = TrainConfig::default();
    norm.model.cell = CellKind::Rnn;
    norm.model.hidden = 6;
    norm.model.layer_norm = true;
    configs.push(norm);
    let mut no_forget = TrainConfig::default();
    no_forget.model.cell = CellKind::Lstm;
    no_forget.model.hidden = 6;
    no_forget.model.forget_gate = false;
    configs.push(no_forget);
    // every task: 130 to 150 steps, so segments of 64 split each probe in three
    let tasks = [
        TaskSpec::new(TaskKind::Tanaka, 140),
        TaskSpec::new(TaskKind::Copy, 120),
        TaskSpec::new(TaskKind::Adding, 140),
        TaskSpec::new(TaskKind::Recall, 130),
    ];
    let mut compared = 0;
    for spec in tasks {
        let task = Task::new(spec).unwrap();
        assert!(
            task.steps() > 128,
            "{} has {} steps",
            task.kind(),
            task.steps()
        );
        for c in &configs {
            let full = report(c, &task, BpttMemory::Full, 1);
            assert!(full.contains("source_rows: [SourceSignalRow"), "{full}");
            for (memory, threads) in [
                (BpttMemory::Segments(64), 1),
                (BpttMemory::Segments(64), 2),
                (BpttMemory::sqrt(task.steps()), 2),
            ] {
                assert_eq!(
                    full,
                    report(c, &task, memory, threads),
                    "{} {} {memory:?} threads {threads}",
                    task.kind(),
                    c.model.cell
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 4 * 6, "{compared} reports compared");
}

/// Every file of two output directories, byte for byte.
fn assert_same_files(a: &std::path::Path, b: &std::path::Path) {
    let mut files = Vec::new();
    let mut stack = vec![a.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 8, "{files:?}");
    for f in files {
        let rel = f.strip_prefix(a).unwrap();
        assert_eq!(
            std::fs::read(&f).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
            "{} differs",
            rel.display()
        );
    }
}

#[test]
fn gradients_checkpoints_its_probe_when_the_full_one_does_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let args = |out: &'static str, extra: &[&'static str]| {
        let mut a = vec![
            "gradients",
            "--cell",
            "lstm",
            "--hidden",
            "16",
            "--probe-size",
            "4",
            "--length",
            "2000",
            "--out",
            out,
        ];
        a.extend_from_slice(extra);
        a
    };
    common::ok(dir, &args("full", &["--bptt-memory", "full"]));
    common::ok(dir, &args("sqrt", &["--bptt-memory", "sqrt"]));
    assert_same_files(&dir.join("full"), &dir.join("sqrt"));
    // 12 MiB: the full probe's caches (about 14 MiB) do not fit, segments of 64 steps do
    let err = common::usage_error(
        dir,
        &args("refused", &["--bptt-memory", "full", "--max-memory", "12M"]),
    );
    assert!(err.contains("above the limit of 12.0 MiB"), "{err}");
    assert!(!dir.join("refused").exists());
    common::ok(dir, &args("auto", &["--max-memory", "12M"]));
    assert_same_files(&dir.join("full"), &dir.join("auto"));
    let err = common::usage_error(dir, &args("budget", &["--bptt-memory", "1000"]));
    assert!(
        err.contains("bptt-memory") && err.contains("smallest budget"),
        "{err}"
    );
}
