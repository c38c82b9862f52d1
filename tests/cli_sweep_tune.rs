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
