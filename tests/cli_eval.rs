//! `rnnlab eval`, and the JSON files notebooks read.

mod common;
use common::*;

fn json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn eval_at_the_training_length_reproduces_the_runs_evaluation_and_other_lengths_add_rows() {
    let tmp = tempfile::tempdir().unwrap();
    ok(
        tmp.path(),
        &[
            "train",
            "--steps",
            "30",
            "--hidden",
            "8",
            "--length",
            "6",
            "--eval-size",
            "16",
            "--probe-size",
            "2",
            "--precision",
            "f64",
            "--out",
            "run",
            "--quiet",
        ],
    );
    let summary = json(&tmp.path().join("run/summary.json"));
    let config = json(&tmp.path().join("run/config.json"));
    assert_eq!(config["task"]["length"], 6);
    assert!(summary["metadata"]["command"].as_array().unwrap().len() > 3);
    assert!(summary["metadata"]["git_commit"].as_str().is_some());

    let stdout = ok(
        tmp.path(),
        &["eval", "--model", "run", "--length", "6,12", "--out", "ev"],
    );
    assert!(stdout.contains("generated"), "{stdout}");
    // the report of a saved model says so, and one at initialisation says that
    ok(tmp.path(), &["gradients", "--model", "run", "--out", "g"]);
    ok(tmp.path(), &["gradients", "--length", "6", "--out", "g0"]);
    let title = |dir: &str| {
        std::fs::read_to_string(tmp.path().join(dir).join("plots/gradients.svg")).unwrap()
    };
    assert!(title("g").contains("of the saved model"), "{}", title("g"));
    assert!(!title("g").contains("at initialisation"));
    assert!(title("g0").contains("at initialisation"));
    let reports = json(&tmp.path().join("ev/eval.json"));
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 2);
    // the same sequences (the run's evaluation stream) and the same f64 weights: the same numbers
    assert_eq!(reports[0]["loss"], summary["final_eval_loss"]);
    assert_eq!(reports[0]["accuracy"], summary["final_eval_accuracy"]);
    assert_eq!(reports[1]["task"]["length"], 12);
    let table = std::fs::read_to_string(tmp.path().join("ev/eval.csv")).unwrap();
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(table.starts_with("source,task,length,sequences,loss,accuracy"));
    // tanaka scores one step per sequence: 16 sequences × 2 lengths
    let predictions = std::fs::read_to_string(tmp.path().join("ev/predictions.csv")).unwrap();
    assert_eq!(predictions.lines().count(), 1 + 32);

    // an existing eval directory is replaced only with --force
    let err = usage_error(tmp.path(), &["eval", "--model", "run", "--out", "ev"]);
    assert!(err.contains("--force"), "{err}");
    ok(
        tmp.path(),
        &["eval", "--model", "run", "--out", "ev", "--force"],
    );
    // --force never replaces the training run
    let err = usage_error(
        tmp.path(),
        &["eval", "--model", "run", "--out", "run", "--force"],
    );
    assert!(err.contains("run directory"), "{err}");
}

#[test]
fn eval_refuses_what_does_not_fit_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let err = usage_error(tmp.path(), &["eval", "--model", "missing"]);
    assert!(
        err.contains("--model") && err.contains("model.ron"),
        "{err}"
    );
    ok(
        tmp.path(),
        &[
            "train",
            "--steps",
            "2",
            "--hidden",
            "4",
            "--length",
            "5",
            "--eval-size",
            "4",
            "--probe-size",
            "2",
            "--out",
            "run",
            "--quiet",
        ],
    );
    ok(
        tmp.path(),
        &[
            "data", "generate", "--task", "copy", "--length", "5", "--count", "3", "--out",
            "copy.ron",
        ],
    );
    let err = usage_error(
        tmp.path(),
        &["eval", "--model", "run", "--data", "copy.ron"],
    );
    assert!(
        err.contains("copy.ron") && err.contains("vocabulary"),
        "{err}"
    );
    let err = usage_error(tmp.path(), &["eval", "--model", "run", "--count", "0"]);
    assert!(err.contains("--count"), "{err}");
    assert!(
        !tmp.path().join("runs").exists(),
        "nothing written for refused input"
    );
}

#[test]
fn eval_lengths_agree_with_rnnlab_eval_and_reach_compare() {
    let tmp = tempfile::tempdir().unwrap();
    ok(
        tmp.path(),
        &[
            "train",
            "--steps",
            "20",
            "--hidden",
            "8",
            "--length",
            "5",
            "--eval-size",
            "16",
            "--probe-size",
            "2",
            "--precision",
            "f64",
            "--eval-lengths",
            "10:20",
            "--out",
            "run",
            "--quiet",
        ],
    );
    let summary = json(&tmp.path().join("run/summary.json"));
    let at = summary["length_generalisation"].as_array().unwrap();
    assert_eq!(at.len(), 2);
    ok(
        tmp.path(),
        &["eval", "--model", "run", "--length", "10,20", "--out", "ev"],
    );
    let reports = json(&tmp.path().join("ev/eval.json"));
    for (g, r) in at.iter().zip(reports.as_array().unwrap()) {
        assert_eq!(g["length"], r["task"]["length"]);
        assert_eq!(
            g["loss"], r["loss"],
            "the same sequences and weights give the same loss"
        );
        assert_eq!(g["accuracy"], r["accuracy"]);
    }
    let err = usage_error(tmp.path(), &["train", "--eval-lengths", "0:5"]);
    assert!(err.contains("eval-lengths"), "{err}");

    let stdout = ok(
        tmp.path(),
        &[
            "sweep",
            "--cell",
            "rnn,gru",
            "--length",
            "3,5",
            "--steps",
            "3",
            "--hidden",
            "4",
            "--eval-size",
            "8",
            "--probe-size",
            "2",
            "--eval-lengths",
            "10:20",
            "--out",
            "sw",
            "--quiet",
        ],
    );
    assert!(stdout.contains("length generalisation"), "{stdout}");
    assert!(stdout.contains("tested at 20"), "{stdout}");
    let results = std::fs::read_to_string(tmp.path().join("sw/results.csv")).unwrap();
    assert!(
        results.lines().nth(1).unwrap().contains(";20="),
        "{results}"
    );
}
