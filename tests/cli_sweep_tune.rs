//! `rnnlab sweep --tune` and `compare --all-values` as a user runs them, on a tiny grid.

mod common;

use common::{ok, usage_error};

const TUNED: &[&str] = &[
    "sweep",
    "--cell",
    "rnn,gru",
    "--length",
    "5",
    "--seeds",
    "2",
    "--steps",
    "5",
    "--hidden",
    "4",
    "--eval-size",
    "8",
    "--probe-size",
    "4",
    "--tune",
    "lr=0.001,0.01",
    "--quiet",
    "--out",
    "sw",
];

#[test]
fn a_tuned_sweep_keeps_every_run_names_the_choice_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let stdout = ok(tmp.path(), TUNED);
    let sw = tmp.path().join("sw");
    let csv = std::fs::read_to_string(sw.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    // a column for the tuned option, and the validation metrics beside the evaluation ones
    assert_eq!(
        &header[..9],
        &[
            "task",
            "cell",
            "length",
            "hidden",
            "seed",
            "lr",
            "accuracy",
            "loss",
            "val_accuracy"
        ]
    );
    assert_eq!(header[9], "val_loss");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows.len(),
        2 * 2 * 2,
        "every run kept: cells × seeds × lr values"
    );
    for lr in ["0.001", "0.01"] {
        assert_eq!(rows.iter().filter(|r| r[5] == lr).count(), 4, "lr={lr}");
    }
    for r in &rows {
        let val_acc: f64 = r[8].parse().unwrap();
        let val_loss: f64 = r[9].parse().unwrap();
        assert!(
            (0.0..=1.0).contains(&val_acc) && val_loss.is_finite(),
            "{r:?}"
        );
    }
    // the runs' summaries carry the validation numbers too
    let summary =
        std::fs::read_to_string(sw.join("runs/cell-rnn_lr-0.001_seed-0/summary.json")).unwrap();
    assert!(summary.contains("\"final_val_accuracy\""), "{summary}");

    // compare names the rule, every candidate and the chosen value per group
    let compare = ok(tmp.path(), &["compare", "sw"]);
    assert_eq!(stdout.lines().filter(|l| l.contains("tuned lr")).count(), 1);
    assert!(
        compare.contains("tuned lr")
            && compare.contains("mean validation accuracy")
            && compare.contains("lr=0.001")
            && compare.contains("lr=0.01")
            && compare.contains("chosen"),
        "{compare}"
    );
    let choice_line = |cell: &str| -> String {
        compare
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{cell} ")) && l.contains("runs)"))
            .unwrap_or_else(|| panic!("no choice row for {cell}: {compare}"))
            .to_string()
    };
    for cell in ["rnn", "gru"] {
        let line = choice_line(cell);
        // the chosen column follows the last candidate cell: `lr=0.01`, or `lr=0.001 (tie: …)`
        let chosen = line
            .rsplit("runs)")
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        assert!(chosen == "lr=0.001" || chosen == "lr=0.01", "{line}");
        // the chosen value has the best mean validation accuracy of the cell's runs
        let mean = |lr: &str| {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r[1] == cell && r[5] == lr)
                .map(|r| r[8].parse::<f64>().unwrap())
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let expected = if mean("0.01") > mean("0.001") + 1e-12 {
            "lr=0.01"
        } else {
            "lr=0.001"
        };
        assert_eq!(chosen, expected, "{cell}: {line}");
    }
    // the tables show one row per cell (at its chosen value)
    assert!(!compare.contains("rnn lr="), "{compare}");
    let report = std::fs::read_to_string(sw.join("report.md")).unwrap();
    assert!(
        report.contains("### Tuned options: lr")
            && report.contains("**Tuned options**")
            && report.contains("never used to choose"),
        "{report}"
    );

    // --all-values shows every value as part of the group
    let all = ok(tmp.path(), &["compare", "sw", "--all-values"]);
    assert!(
        all.contains("rnn lr=0.001") && all.contains("gru lr=0.01") && all.contains("--all-values"),
        "{all}"
    );

    // the same command again recognises every finished tuned run
    let again = ok(tmp.path(), TUNED);
    assert!(
        again.contains("0 runs finished now, 8 already done"),
        "{again}"
    );
    assert_eq!(
        std::fs::read_to_string(sw.join("results.csv")).unwrap(),
        csv
    );
}

#[test]
fn bad_tune_flags_give_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = |extra: &[&str]| -> String {
        let mut args = vec!["sweep", "--cell", "rnn", "--length", "5", "--quiet"];
        args.extend_from_slice(extra);
        usage_error(tmp.path(), &args)
    };
    assert!(sweep(&["--tune", "lr"]).contains("OPTION=V1,V2"));
    assert!(sweep(&["--tune", "colour=red,blue"]).contains("colour"));
    assert!(sweep(&["--tune", "lr=0.1,"]).contains("empty"));
    assert!(sweep(&["--tune", "seed=0,1"]).contains("seed"));
    assert!(sweep(&["--tune", "lr=0.1,0.10"]).contains("twice"));
    assert!(sweep(&["--lr", "0.1", "--tune", "lr=0.1,0.2"]).contains("one or the other"));
    assert!(sweep(&["--tune", "cell=rnn,gru"]).contains("--cell and --tune cell"));
    assert!(sweep(&["--tune", "lr=0.1,0.2", "--tune", "lr=0.3"]).contains("twice"));
}

/// An experiment file tuning lr on the dataset `data` (a path relative to the sweep's directory).
fn data_experiment(dir: &std::path::Path, data: &str) -> std::path::PathBuf {
    let path = dir.join(format!("exp-{data}"));
    std::fs::write(
        &path,
        format!(
            r#"(
    name: "tune-on-data",
    description: "lr tuned on a data file",
    base: (data: Some("{data}"), steps: 3, eval_size: 8, probe_size: 4, model: (hidden: 4)),
    grid: {{ "seed": [0] }},
    tune: {{ "lr": [0.001, 0.01] }},
)"#
        ),
    )
    .unwrap();
    path
}

fn generate(dir: &std::path::Path, file: &str, count: usize) {
    ok(
        dir,
        &[
            "data",
            "generate",
            "--task",
            "tanaka",
            "--length",
            "3",
            "--count",
            &count.to_string(),
            "--seed",
            "4",
            "--out",
            file,
        ],
    );
}

#[test]
fn tuning_on_a_data_file_validates_on_its_held_out_fifth() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), "d60.ron", 60);
    let exp = data_experiment(tmp.path(), "d60.ron");
    let exp = exp.to_str().unwrap();
    ok(
        tmp.path(),
        &["sweep", "--config", exp, "--quiet", "--out", "sw"],
    );
    let runs = tmp.path().join("sw/runs");
    let mut dirs: Vec<_> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 2);
    for dir in &dirs {
        let config = std::fs::read_to_string(dir.join("config.ron")).unwrap();
        assert!(config.contains("hold_out_seed: Some(0)"), "{config}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        let h = &summary["validation_hold_out"];
        assert_eq!(
            (h["sequences"].as_u64(), h["held_out"].as_u64()),
            (Some(60), Some(12))
        );
        assert_eq!(h["seed"].as_u64(), Some(0));
        let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(
            report.contains("on 12 of the 60 sequences of d60.ron, held out"),
            "{report}"
        );
    }
    let report = std::fs::read_to_string(tmp.path().join("sw/report.md")).unwrap();
    assert!(
        report.contains("**Validation on the data file**"),
        "{report}"
    );
}

#[test]
fn the_held_out_split_is_seeded_disjoint_and_a_fifth() {
    use rnnlab::train::trainer::hold_out_split;
    let task = rnnlab::tasks::Task::new(rnnlab::tasks::TaskSpec::new(
        rnnlab::tasks::TaskKind::Tanaka,
        3,
    ))
    .unwrap();
    let seqs = task.generate(73, 9);
    let key = |s: &rnnlab::tasks::Sequence| format!("{:?}", s.tokens());
    let (train, val) = hold_out_split(seqs.clone(), 0).unwrap();
    assert_eq!((train.len(), val.len()), (59, 14));
    // both parts keep the file's order and together are the file
    let position = |s: &rnnlab::tasks::Sequence| seqs.iter().position(|x| x == s).unwrap();
    let mut all: Vec<usize> = train.iter().chain(&val).map(position).collect();
    assert!(train.windows(2).all(|w| position(&w[0]) < position(&w[1])));
    assert!(val.windows(2).all(|w| position(&w[0]) < position(&w[1])));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 73);
    // the same seed, the same split; another seed, another one; not simply the file's tail
    let again = hold_out_split(seqs.clone(), 0).unwrap().1;
    assert_eq!(
        again.iter().map(key).collect::<Vec<_>>(),
        val.iter().map(key).collect::<Vec<_>>()
    );
    assert_ne!(hold_out_split(seqs.clone(), 1).unwrap().1, val);
    assert_ne!(val, seqs[73 - 14..].to_vec());
    // 50 is the smallest file that splits (10 held out), 49 is refused
    assert_eq!(hold_out_split(task.generate(50, 1), 0).unwrap().1.len(), 10);
    let e = hold_out_split(task.generate(49, 1), 0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("49 sequences") && e.contains("at least 50"),
        "{e}"
    );
}

#[test]
fn tuning_on_a_file_too_small_to_split_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), "d49.ron", 49);
    let exp = data_experiment(tmp.path(), "d49.ron");
    let err = usage_error(
        tmp.path(),
        &[
            "sweep",
            "--config",
            exp.to_str().unwrap(),
            "--quiet",
            "--out",
            "sw",
        ],
    );
    assert!(
        err.contains("--tune lr with --data d49.ron: 49 sequences"),
        "{err}"
    );
    assert!(err.contains("at least 50"), "{err}");
    assert!(!tmp.path().join("sw").exists());
    // the same file without tuning trains on all of it, as before
    let mut plain = std::fs::read_to_string(&exp).unwrap();
    plain = plain.replace(r#"tune: { "lr": [0.001, 0.01] },"#, "");
    std::fs::write(&exp, plain).unwrap();
    ok(
        tmp.path(),
        &[
            "sweep",
            "--config",
            exp.to_str().unwrap(),
            "--quiet",
            "--out",
            "sw",
        ],
    );
}
