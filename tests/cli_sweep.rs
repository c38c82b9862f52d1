//! `rnnlab sweep`, `merge` and `compare` run as a user runs them, on tiny grids.

mod common;

use common::{bin, ok, usage_error};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// results.csv without the wall_seconds column (the one thing allowed to differ between runs).
fn results(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path.join("results.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

const GRID: &[&str] = &[
    "sweep",
    "--cell",
    "rnn,gru",
    "--length",
    "3,6",
    "--seeds",
    "2",
    "--hidden",
    "6",
    "--batch",
    "4",
    "--steps",
    "20",
    "--eval-every",
    "10",
    "--eval-size",
    "8",
    "--probe-size",
    "4",
    "--quiet",
];

fn grid(extra: &[&str]) -> Vec<&'static str> {
    let mut v = GRID.to_vec();
    v.extend(
        extra
            .iter()
            .map(|s| -> &'static str { Box::leak(s.to_string().into_boxed_str()) }),
    );
    v
}

#[test]
fn a_small_grid_writes_results_runs_and_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let stdout = ok(tmp.path(), &grid(&["--out", "sw", "--jobs", "2"]));
    assert!(
        stdout.contains("longest length solved in at least half the seeds")
            && stdout.contains("L=6"),
        "{stdout}"
    );
    let sw = tmp.path().join("sw");
    let lines = results(&sw);
    assert_eq!(lines.len(), 1 + 8);
    let full = std::fs::read_to_string(sw.join("results.csv")).unwrap();
    let header = full.lines().next().unwrap();
    assert_eq!(header, "task,cell,length,hidden,seed,accuracy,loss,val_accuracy,val_loss,baseline,solved,solved_at_step,diverged,decay_init,decay_final,half_life_init,horizon_init,decay_r2_init,decay_r2_final,decay_range_init,decay_range_final,source_signal_init,source_signal_final,learning_horizon_init,learning_horizon_final,generalisation,wall_seconds");
    for line in full.lines().skip(1) {
        assert_eq!(line.split(',').count(), 27, "{line}");
        assert!(line.starts_with("tanaka,"));
    }
    assert_eq!(std::fs::read_dir(sw.join("runs")).unwrap().count(), 8);
    for f in [
        "experiment.ron",
        "report.md",
        "plots/accuracy_vs_length.svg",
        "plots/solved_vs_length.svg",
        "plots/decay_vs_length.svg",
        "plots/gradients_init.svg",
        "plots/gradients_trained.svg",
    ] {
        assert!(sw.join(f).is_file(), "{f} missing");
    }
    let report = std::fs::read_to_string(sw.join("report.md")).unwrap();
    assert!(
        report.contains("| rnn |")
            && report.contains("| gru |")
            && report.contains("longest length solved in at least half the seeds")
    );
    // compare reads it back
    let again = ok(tmp.path(), &["compare", "sw"]);
    assert!(again.contains("longest length solved in at least half the seeds"));
    // running again skips everything and changes nothing
    let before = results(&sw);
    let stdout = ok(tmp.path(), &grid(&["--out", "sw"]));
    assert!(
        stdout.contains("0 runs finished now, 8 already done"),
        "{stdout}"
    );
    assert_eq!(results(&sw), before);
}

#[test]
fn one_job_and_two_jobs_give_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    ok(tmp.path(), &grid(&["--out", "one", "--jobs", "1"]));
    ok(tmp.path(), &grid(&["--out", "two", "--jobs", "2"]));
    assert_eq!(
        results(&tmp.path().join("one")),
        results(&tmp.path().join("two"))
    );
}

#[test]
fn threads_per_run_do_not_change_results_and_the_sweep_says_what_it_chose() {
    let tmp = tempfile::tempdir().unwrap();
    ok(
        tmp.path(),
        &grid(&["--out", "one", "--jobs", "1", "--threads", "1"]),
    );
    let loud: Vec<&str> = grid(&["--out", "three", "--jobs", "1", "--threads", "3"])
        .into_iter()
        .filter(|a| *a != "--quiet")
        .collect();
    let out = bin().args(loud).current_dir(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 run at a time × 3 threads each"),
        "{stderr}"
    );
    assert_eq!(
        results(&tmp.path().join("one")),
        results(&tmp.path().join("three"))
    );
    assert!(usage_error(tmp.path(), &grid(&["--threads", "0"])).contains("--threads"));
}

#[test]
fn two_shards_merged_equal_the_unsharded_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    ok(tmp.path(), &grid(&["--out", "whole"]));
    let s0 = ok(tmp.path(), &grid(&["--out", "s0", "--shard", "0/2"]));
    assert!(s0.contains("4 runs finished now"), "{s0}");
    ok(tmp.path(), &grid(&["--out", "s1", "--shard", "1/2"]));
    ok(tmp.path(), &["merge", "merged", "s0", "s1"]);
    assert_eq!(
        results(&tmp.path().join("merged")),
        results(&tmp.path().join("whole"))
    );
    assert_eq!(
        std::fs::read_dir(tmp.path().join("merged/runs"))
            .unwrap()
            .count(),
        8
    );
    // shards of another experiment are refused
    ok(
        tmp.path(),
        &grid(&["--out", "other", "--lr", "0.05", "--shard", "0/2"]),
    );
    let err = usage_error(tmp.path(), &["merge", "mixed", "s0", "other"]);
    assert!(err.contains("other"), "{err}");
}

#[test]
fn a_killed_sweep_resumes_without_losing_or_duplicating_rows() {
    let tmp = tempfile::tempdir().unwrap();
    // runs that do not stop early and take a while each
    let args = |out: &'static str, jobs: &'static str| -> Vec<&'static str> {
        vec![
            "sweep",
            "--cell",
            "rnn,gru",
            "--length",
            "3,6,9",
            "--seeds",
            "2",
            "--hidden",
            "32",
            "--batch",
            "16",
            "--steps",
            "3000",
            "--eval-every",
            "500",
            "--eval-size",
            "8",
            "--probe-size",
            "4",
            "--early-stop",
            "false",
            "--quiet",
            "--out",
            out,
            "--jobs",
            jobs,
        ]
    };
    let mut child = bin()
        .args(args("k", "1"))
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let results_path = tmp.path().join("k/results.csv");
    let deadline = Instant::now() + Duration::from_secs(300);
    let finished_before_kill = loop {
        let rows = std::fs::read_to_string(&results_path)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0);
        if rows >= 2 || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(finished_before_kill >= 2);
    let before = results(&tmp.path().join("k"));
    assert!(
        before.len() - 1 < 12,
        "the sweep was killed before it finished"
    );
    ok(tmp.path(), &args("k", "1"));
    let after = results(&tmp.path().join("k"));
    assert_eq!(after.len(), 1 + 12);
    let mut unique = after.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), after.len(), "no duplicated row");
    for row in &before {
        assert!(
            after.contains(row),
            "a row finished before the kill changed or vanished: {row}"
        );
    }
    // and the resumed results equal an uninterrupted sweep
    ok(tmp.path(), &args("clean", "2"));
    assert_eq!(after, results(&tmp.path().join("clean")));
}

#[test]
fn bad_experiments_and_options_give_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &str| std::fs::write(tmp.path().join(name), content).unwrap();
    write("unknown.ron", r#"(name: "x", grid: {"colour": ["red"]})"#);
    assert!(usage_error(tmp.path(), &["sweep", "--config", "unknown.ron"]).contains("colour"));
    write("empty.ron", r#"(name: "x", grid: {"length": []})"#);
    assert!(usage_error(tmp.path(), &["sweep", "--config", "empty.ron"]).contains("empty"));
    write("syntax.ron", "(name: \"x\",\n grid: {\"length\": [5,}\n");
    assert!(usage_error(tmp.path(), &["sweep", "--config", "syntax.ron"]).contains("syntax.ron"));
    write("field.ron", r#"(name: "x", grid: {}, basis: ())"#);
    assert!(usage_error(tmp.path(), &["sweep", "--config", "field.ron"]).contains("basis"));
    assert!(usage_error(tmp.path(), &grid(&["--shard", "3/2"])).contains("shard"));
    assert!(usage_error(tmp.path(), &grid(&["--jobs", "0"])).contains("jobs"));
    assert!(usage_error(tmp.path(), &["sweep", "--cell", "rnn,tcn", "--quiet"]).contains("cell"));
    assert!(usage_error(tmp.path(), &["sweep", "--length", "5,0", "--quiet"]).contains("length"));
    assert!(usage_error(tmp.path(), &["compare", "nowhere"]).contains("nowhere"));
    assert!(usage_error(tmp.path(), &["sweep", "--length", "5,10,5", "--quiet"]).contains("twice"));
    // a directory that holds another experiment is not reused
    ok(tmp.path(), &grid(&["--out", "a"]));
    assert!(
        usage_error(tmp.path(), &grid(&["--out", "a", "--lr", "0.2"]))
            .contains("another experiment")
    );
}
