//! Two bookkeeping bugs met while reproducing Hochreiter & Schmidhuber's experiment 2a
//! (docs/reproductions.md): without early stopping `solved_at_step` was the last step trained,
//! not where the run became solved; and a sweep trained on a `data` file wrote the experiment's
//! default task length into results.csv instead of the file's.

use std::path::Path;

use rnnlab::sweep::{run_sweep, Experiment, QuietSweep, SweepSettings};
use rnnlab::train::options::set_option;
use rnnlab::train::{train, NoObserver, RunData, TrainConfig};

/// Tanaka with two names and one filler: a small GRU solves it within a few dozen steps.
fn easy(stop_when_solved: bool) -> TrainConfig {
    let mut c = TrainConfig::default();
    for (k, v) in [
        ("task", "tanaka"),
        ("length", "1"),
        ("names", "2"),
        ("cell", "gru"),
        ("hidden", "8"),
        ("lr", "0.05"),
        ("steps", "200"),
        ("eval-every", "10"),
        ("eval-size", "32"),
        ("probe-every", "0"),
        ("probe-size", "2"),
    ] {
        set_option(&mut c, k, v).unwrap();
    }
    c.stop_when_solved = stop_when_solved;
    c
}

#[test]
fn without_early_stopping_solved_at_step_is_where_the_final_solved_streak_began() {
    let mut c = easy(false);
    let data = RunData::prepare(&mut c).unwrap();
    let out = train(&c, &data, &mut NoObserver).unwrap();
    assert!(out.summary.solved, "the easy run must solve");
    let evals: Vec<(usize, f64)> = out
        .metrics
        .iter()
        .filter_map(|m| m.eval_accuracy.map(|a| (m.step, a)))
        .collect();
    let last = evals.last().unwrap().0;
    assert_eq!(last, 200, "no early stop: the run trains every step");
    // the first evaluation from which every evaluation to the end met the rule (accuracy ≥ 0.99)
    let streak = evals
        .iter()
        .rposition(|(_, a)| *a < 0.99)
        .map_or(evals[0].0, |i| evals[i + 1].0);
    assert_eq!(out.summary.solved_at_step, Some(streak));
    assert!(streak < last, "solved at {streak}, not at the last step");

    // early stopping (same seed, same batches) stops at the first solved evaluation, as before
    let mut c = easy(true);
    let data = RunData::prepare(&mut c).unwrap();
    let stopped = train(&c, &data, &mut NoObserver).unwrap();
    let first = evals.iter().find(|(_, a)| *a >= 0.99).unwrap().0;
    assert_eq!(stopped.summary.solved_at_step, Some(first));
    assert_eq!(stopped.summary.steps, first);
}

#[test]
fn a_sweep_on_a_data_file_records_the_file_s_task_and_length() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples/tanaka.ron");
    let text = format!(
        r#"(name: "on-a-file", description: "rows of a sweep trained on a file",
            base: (data: Some("{}"), model: (hidden: 4), steps: 2, eval_every: 1, eval_size: 2,
                   probe_every: 0, probe_size: 2),
            grid: {{ "seed": [0] }})"#,
        data.display()
    );
    let file = dir.path().join("e.ron");
    std::fs::write(&file, text).unwrap();
    let exp = Experiment::load(&file).unwrap();
    assert_eq!(
        exp.base.task.length, 20,
        "the experiment's own task is the default"
    );
    let out = dir.path().join("sweep");
    let settings = SweepSettings {
        jobs: 1,
        threads: 1,
        shard: None,
    };
    let outcome = run_sweep(&exp, &out, &settings, &QuietSweep).unwrap();
    let (_, row) = outcome.table.rows.values().next().unwrap();
    // datasets/examples/tanaka.ron holds task (tanaka, length 5)
    assert_eq!(row.option("task"), Some("tanaka"));
    assert_eq!(row.option("length"), Some("5"));
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.lines().nth(1).unwrap().starts_with("tanaka,lstm,5,"),
        "{csv}"
    );
    // the run is still found on resume
    let again = run_sweep(&exp, &out, &settings, &QuietSweep).unwrap();
    assert_eq!((again.ran, again.skipped), (0, 1));
}
