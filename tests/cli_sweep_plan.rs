//! What a sweep says it will do: train's defaults for a grid from flags (the benchmark's recipe
//! only when asked), `--dry-run`, the resolved base printed at start, and plain progress lines
//! when stderr is not a terminal.

mod common;
use common::*;

#[test]
fn a_grid_from_flags_uses_trains_defaults_and_dry_run_runs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(
        tmp.path(),
        &[
            "sweep",
            "--cell",
            "rnn,gru",
            "--length",
            "5,10",
            "--dry-run",
            "--out",
            "plan",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("4 runs"), "{out}");
    assert_eq!(lines[1], "index,run,directory,estimated_flops");
    assert!(
        lines[2].starts_with("0,length=5,cell=rnn,plan/runs/length-5_cell-rnn,"),
        "the run directories as they will be, inside the sweep directory: {out}"
    );
    assert!(out.contains("total:"), "{out}");
    assert!(
        out.contains("estimated time of the training steps: ") && out.contains("GFLOP/s per run"),
        "{out}"
    );
    assert!(
        !tmp.path().join("plan").exists(),
        "a dry run writes nothing"
    );

    // train's default (hidden 64) unless --benchmark asks for the benchmark's (hidden 32)
    let run = |extra: &[&str], dir: &str| {
        let mut args = vec![
            "sweep", "--cell", "rnn", "--length", "5", "--steps", "2", "--out", dir,
        ];
        args.extend_from_slice(extra);
        let output = rnnlab(tmp.path(), &args);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        let results = std::fs::read_to_string(tmp.path().join(dir).join("results.csv")).unwrap();
        (stderr, results)
    };
    let (stderr, results) = run(&[], "plain");
    assert!(
        stderr.contains("1 run into"),
        "one run is \"1 run\": {stderr}"
    );
    assert!(stderr.contains("--hidden 64"), "{stderr}");
    assert!(
        results
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("tanaka,rnn,5,64,0,"),
        "{results}"
    );
    // stderr is not a terminal here: a plain progress line, not a bar
    assert!(stderr.contains("sweep: 0/1 runs finished"), "{stderr}");
    let (stderr, results) = run(&["--benchmark"], "bench");
    assert!(stderr.contains("--hidden 32"), "{stderr}");
    assert!(
        results
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("tanaka,rnn,5,32,0,"),
        "{results}"
    );
    let (stderr, _) = run(&["--quiet"], "quiet");
    assert!(
        stderr.is_empty(),
        "--quiet prints nothing on stderr: {stderr}"
    );
}

#[test]
fn a_usage_error_comes_before_any_other_output() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    std::fs::write(tmp.path().join("taken/notes.txt"), "mine").unwrap();
    let output = rnnlab(
        tmp.path(),
        &[
            "sweep", "--cell", "rnn", "--length", "5", "--steps", "2", "--out", "taken",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "only the error: {stderr}");
    assert!(stderr.contains("taken"), "{stderr}");
}

#[test]
fn help_shows_every_default() {
    let tmp = tempfile::tempdir().unwrap();
    let help = ok(tmp.path(), &["sweep", "--help"]);
    for needle in [
        "--hidden <V1,V2,…>",
        "[default: 64]",
        "[default: 0.001]",
        "--dry-run",
        "--benchmark",
    ] {
        assert!(help.contains(needle), "sweep --help lacks {needle}");
    }
    let help = ok(tmp.path(), &["train", "--help"]);
    assert!(help.contains("--seed <N>") && help.contains("Seed of the weights"));
    assert!(help.contains("[default: 2000]"), "{help}");
}
