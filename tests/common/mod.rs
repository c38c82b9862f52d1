//! Running the real `rnnlab` binary from the CLI tests.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
}

/// Runs `rnnlab args…` in `dir`.
pub fn rnnlab(dir: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("rnnlab writes UTF-8")
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = rnnlab(dir, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs a command that must fail as a usage or input error: exit code 2, nothing on stdout, one
/// stderr line, no panic. Returns the line.
pub fn usage_error(dir: &Path, args: &[&str]) -> String {
    let out = rnnlab(dir, args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        out.stdout.is_empty(),
        "{args:?}: nothing on stdout, got {}",
        text(&out.stdout)
    );
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A training run of `config` on `threads` threads with the batch split even for tiny work (so
/// the threaded paths run), reporting to no observer.
pub fn train_on_threads(
    config: &rnnlab::train::TrainConfig,
    threads: usize,
) -> rnnlab::train::TrainOutcome {
    use rnnlab::parallel;
    parallel::with_threads(threads, || {
        parallel::set_min_work(1);
        let mut config = config.clone();
        let data = rnnlab::train::RunData::prepare(&mut config).unwrap();
        let out = rnnlab::train::train(&config, &data, &mut rnnlab::train::NoObserver).unwrap();
        parallel::set_min_work(parallel::MIN_WORK_PER_THREAD);
        out
    })
}

/// Everything a run leaves but its metadata and wall time, as text that shows every bit of
/// every float: weights, metrics, gradient probes, learning over time, the summary.
pub fn run_fingerprint(o: &rnnlab::train::TrainOutcome) -> String {
    let metrics: Vec<String> = o.metrics.iter().map(|m| m.csv()).collect();
    let mut summary = o.summary.clone();
    summary.metadata = Default::default();
    summary.wall_seconds = 0.0;
    format!(
        "{:?}\n{}\n{:?}\n{:?}\n{:?}",
        o.network,
        metrics.join("\n"),
        o.probes,
        o.history,
        summary
    )
}
