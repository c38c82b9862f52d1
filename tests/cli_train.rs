//! `rnnlab train` and `rnnlab gradients` run as a user runs them, on tiny configurations.

mod common;

use common::{ok, usage_error};
use std::path::Path;

const TINY: &[&str] = &[
    "--length",
    "4",
    "--hidden",
    "8",
    "--batch",
    "4",
    "--steps",
    "12",
    "--eval-every",
    "5",
    "--eval-size",
    "16",
    "--probe-every",
    "5",
    "--probe-size",
    "4",
    "--quiet",
];

fn tiny(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["train".into()];
    v.extend(TINY.iter().map(|s| s.to_string()));
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let content = std::fs::read_to_string(path).unwrap();
    let mut lines = content.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    (
        header,
        lines
            .map(|l| l.split(',').map(String::from).collect())
            .collect(),
    )
}

#[test]
fn a_run_writes_every_file_with_its_columns() {
    let tmp = tempfile::tempdir().unwrap();
    for cell in ["rnn", "lstm", "gru"] {
        let out = format!("run-{cell}");
        let args = tiny(&[
            "--cell",
            cell,
            "--no-early-stop",
            "--layers",
            "2",
            "--out",
            &out,
        ]);
        let stdout = ok(
            tmp.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(
            stdout.contains("eval accuracy") && stdout.contains("ρ"),
            "{stdout}"
        );
        let run = tmp.path().join(&out);
        for f in [
            "config.ron",
            "metrics.csv",
            "gradients.csv",
            "diagnostics.csv",
            "summary.ron",
            "model.safetensors",
            "model.ron",
            "plots/gradients.svg",
            "plots/gradients_l1.svg",
            "plots/loss.svg",
            "plots/accuracy.svg",
        ] {
            assert!(run.join(f).is_file(), "{cell}: {f} missing");
        }
        let (header, rows) = csv(&run.join("metrics.csv"));
        assert_eq!(
            header,
            [
                "step",
                "train_loss",
                "eval_loss",
                "eval_accuracy",
                "grad_norm",
                "clipped"
            ]
        );
        // step 0 (evaluation only) and steps 1..=12; evaluations at 0, 5, 10 and 12
        assert_eq!(rows.len(), 13);
        assert!(rows.iter().all(|r| r.len() == 6));
        let evals: Vec<&str> = rows
            .iter()
            .filter(|r| !r[2].is_empty())
            .map(|r| r[0].as_str())
            .collect();
        assert_eq!(evals, ["0", "5", "10", "12"]);
        let (header, rows) = csv(&run.join("gradients.csv"));
        assert_eq!(
            header,
            ["step", "layer", "timestep", "distance", "grad_h", "grad_c", "grad_w"]
        );
        // probes at 0, 5, 10, 12; 2 layers; timesteps 0..=probe step (tanaka length 4: probe step 5)
        assert_eq!(rows.len(), 4 * 2 * 6, "{cell}");
        for r in &rows {
            assert_eq!(r.len(), 7);
            let g: f64 = r[4].parse().unwrap();
            assert!(g.is_finite() && g >= 0.0);
            assert_eq!(r[5].is_empty(), cell != "lstm", "grad_c only for lstm");
            assert_eq!(
                r[2].parse::<usize>().unwrap() + r[3].parse::<usize>().unwrap(),
                5
            );
        }
        let (header, rows) = csv(&run.join("diagnostics.csv"));
        assert_eq!(header.len(), 6);
        assert_eq!(rows.len(), 4 * 2);
        assert_eq!(rows[0][5].is_empty(), cell == "rnn");
        let summary = std::fs::read_to_string(run.join("summary.ron")).unwrap();
        for field in [
            "final_eval_loss",
            "baseline_loss",
            "solved",
            "solved_at_step",
            "diverged: false",
            "steps: 12",
            "wall_seconds",
            "gradients_init",
            "decay_per_step",
            "half_life",
            "horizon",
            "diagnostics_final",
            "rnnlab_version",
        ] {
            assert!(
                summary.contains(field),
                "{cell}: {field} missing from summary"
            );
        }
    }
}

#[test]
fn the_saved_config_repeats_the_run_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let args = tiny(&[
        "--cell",
        "gru",
        "--seed",
        "3",
        "--no-early-stop",
        "--out",
        "first",
    ]);
    ok(
        tmp.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    ok(
        tmp.path(),
        &[
            "train",
            "--config",
            "first/config.ron",
            "--out",
            "second",
            "--quiet",
        ],
    );
    for f in [
        "metrics.csv",
        "gradients.csv",
        "diagnostics.csv",
        "model.safetensors",
        "config.ron",
    ] {
        let a = std::fs::read(tmp.path().join("first").join(f)).unwrap();
        let b = std::fs::read(tmp.path().join("second").join(f)).unwrap();
        assert!(a == b, "{f} differs");
    }
    // another seed gives another run
    ok(
        tmp.path(),
        &[
            "train",
            "--config",
            "first/config.ron",
            "--seed",
            "4",
            "--out",
            "third",
            "--quiet",
        ],
    );
    assert_ne!(
        std::fs::read(tmp.path().join("first/metrics.csv")).unwrap(),
        std::fs::read(tmp.path().join("third/metrics.csv")).unwrap()
    );
}

#[test]
fn an_existing_run_is_not_overwritten_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let args = tiny(&["--out", "run"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(tmp.path(), &args);
    assert!(usage_error(tmp.path(), &args).contains("--force"));
    let mut forced = args.clone();
    forced.push("--force");
    ok(tmp.path(), &forced);
    // --force never removes a directory that is not a run
    std::fs::create_dir(tmp.path().join("notes")).unwrap();
    std::fs::write(tmp.path().join("notes/todo.txt"), "keep me").unwrap();
    let elsewhere = tiny(&["--out", "notes", "--force"]);
    let err = usage_error(
        tmp.path(),
        &elsewhere.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(err.contains("notes"), "{err}");
    assert!(tmp.path().join("notes/todo.txt").exists());
}

#[test]
fn a_diverging_run_is_a_result_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    // ReLU with 3× identity recurrence, no clipping and a huge step: the weights blow up
    let args = tiny(&[
        "--cell",
        "rnn",
        "--activation",
        "relu",
        "--init",
        "identity",
        "--init-scale",
        "3",
        "--clip",
        "0",
        "--optimizer",
        "sgd",
        "--lr",
        "1e6",
        "--no-early-stop",
        "--out",
        "boom",
    ]);
    let stdout = ok(
        tmp.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(stdout.contains("DIVERGED"), "{stdout}");
    let summary = std::fs::read_to_string(tmp.path().join("boom/summary.ron")).unwrap();
    assert!(
        summary.contains("diverged: true") && summary.contains("solved: false"),
        "{summary}"
    );
    // the run keeps the last weights that were finite, never NaN or infinity
    let net: rnnlab::Network<f64> = rnnlab::model_io::load_model(&tmp.path().join("boom")).unwrap();
    for tensor in net.params.named() {
        assert!(
            tensor.data.iter().all(|x| x.is_finite()),
            "{} holds a non-finite weight",
            tensor.name
        );
    }
}

#[test]
fn bad_configs_name_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &str| std::fs::write(tmp.path().join(name), content).unwrap();
    write("unknown.ron", "(steps: 10, learning_rate: 0.1)");
    let err = usage_error(tmp.path(), &["train", "--config", "unknown.ron"]);
    assert!(
        err.contains("unknown.ron") && err.contains("learning_rate"),
        "{err}"
    );
    write("type.ron", "(\n  batch: 8,\n  steps: \"ten\",\n)");
    let err = usage_error(tmp.path(), &["train", "--config", "type.ron"]);
    assert!(
        err.contains("type.ron") && err.contains("line 3") && err.contains("steps"),
        "{err}"
    );
    write("lr.ron", "(optimizer: (kind: adam, lr: -0.1))");
    assert!(usage_error(tmp.path(), &["train", "--config", "lr.ron"]).contains("lr"));
    write("zero.ron", "(steps: 0)");
    assert!(usage_error(tmp.path(), &["train", "--config", "zero.ron"]).contains("steps"));
    assert!(usage_error(tmp.path(), &["train", "--hidden", "0"]).contains("hidden"));
    assert!(usage_error(tmp.path(), &["train", "--layers", "0"]).contains("layers"));
    assert!(
        usage_error(tmp.path(), &["train", "--widths", "16:8", "--residual"]).contains("residual")
    );
    assert!(
        usage_error(tmp.path(), &["train", "--activation", "softplus"]).contains("--activation")
    );
    assert!(usage_error(tmp.path(), &["train", "--cell", "cnn"]).contains("--cell"));
    assert!(usage_error(
        tmp.path(),
        &[
            "train",
            "--layers",
            "2",
            "--residual",
            "--cell",
            "lstm",
            "--layer-norm"
        ]
    )
    .contains("layer_norm"));
    assert!(usage_error(tmp.path(), &["train", "--config", "missing.ron"]).contains("missing.ron"));
    ok(
        tmp.path(),
        &[
            "data", "generate", "--task", "tanaka", "--length", "3", "--count", "8", "--seed", "1",
            "--out", "t.ron",
        ],
    );
    assert!(
        usage_error(tmp.path(), &["train", "--data", "t.ron", "--task", "copy"]).contains("--data")
    );
}

#[test]
fn gradients_at_initialisation_write_the_report_and_what_reproduces_it() {
    let tmp = tempfile::tempdir().unwrap();
    let stdout = ok(
        tmp.path(),
        &[
            "gradients",
            "--cell",
            "rnn",
            "--activation",
            "sigmoid",
            "--length",
            "30",
            "--probe-size",
            "4",
            "--out",
            "g",
        ],
    );
    assert!(stdout.contains("ρ"), "{stdout}");
    let g = tmp.path().join("g");
    for f in [
        "gradients.csv",
        "diagnostics.csv",
        "model.safetensors",
        "model.ron",
        "probe.ron",
        "plots/gradients.svg",
    ] {
        assert!(g.join(f).is_file(), "{f} missing");
    }
    let (_, rows) = csv(&g.join("gradients.csv"));
    let at = |d: usize| -> f64 {
        rows.iter().find(|r| r[3] == d.to_string()).unwrap()[4]
            .parse()
            .unwrap()
    };
    // the sigmoid's derivative is at most 1/4: the signal is gone far below f32's range, yet non-zero
    assert!(
        at(31) > 0.0 && at(31) < 1e-12 * at(0),
        "{:e}",
        at(31) / at(0)
    );
    let diag = std::fs::read_to_string(g.join("diagnostics.csv")).unwrap();
    let mean_derivative: f64 = diag
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(mean_derivative <= 0.25);

    // the saved model and probe batch give the same report
    ok(
        tmp.path(),
        &[
            "gradients",
            "--model",
            "g",
            "--data",
            "g/probe.ron",
            "--out",
            "again",
        ],
    );
    assert_eq!(
        std::fs::read(g.join("gradients.csv")).unwrap(),
        std::fs::read(tmp.path().join("again/gradients.csv")).unwrap()
    );
    ok(tmp.path(), &["data", "check", "g/probe.ron"]);
}
