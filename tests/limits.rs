//! Issue 8, bounded resources: sizes that would exhaust memory or overflow are refused up front, as
//! one line naming the option or file, exit 2, no panic and nothing created on disk.

mod common;

use common::{bin, ok, text, usage_error};
use rnnlab::resources::estimate_run;
use rnnlab::tasks::Task;
use rnnlab::train::TrainConfig;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/examples")
        .join(name)
}

/// Everything under `dir`, recursively.
fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    let mut all = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            all.insert(path);
        }
    }
    all
}

/// Runs a command that must be refused as an input error naming `needle`, and checks that it left
/// `dir` as it was. Returns the stderr line.
fn refused(dir: &Path, args: &[&str], needle: &str) -> String {
    let before = listing(dir);
    let line = usage_error(dir, args);
    assert!(
        line.contains(needle),
        "{args:?}: expected {needle:?} in {line}"
    );
    assert_eq!(listing(dir), before, "{args:?} created files: {line}");
    line
}

#[test]
fn huge_training_sizes_are_refused_before_any_directory_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cases: [(&[&str], &str); 9] = [
        (
            &["train", "--hidden", "1000000"],
            "invalid hidden: needs an estimated",
        ),
        (
            &["train", "--layers", "1000000000"],
            "invalid layers: needs an estimated",
        ),
        (
            &["train", "--widths", "64:2000000"],
            "invalid widths: needs an estimated",
        ),
        (
            &["train", "--batch", "100000000"],
            "invalid batch: needs an estimated",
        ),
        (
            &["train", "--eval-size", "100000000000"],
            "invalid eval-size: needs an estimated",
        ),
        (
            &["train", "--probe-size", "100000000"],
            "invalid probe-size: needs an estimated",
        ),
        (
            // the evaluation after training at a length the run never trained on
            // (its forward pass runs a segment at a time, so only the sequences themselves are
            // large: about 10 GB for 256 of them, refused under 4G)
            &["train", "--eval-lengths", "900000", "--max-memory", "4G"],
            "invalid eval-lengths: needs an estimated",
        ),
        (
            &["train", "--length", "1000000", "--max-memory", "4G"],
            "invalid length: needs an estimated",
        ),
        (
            &[
                "train",
                "--steps",
                "18446744073709551615",
                "--max-memory",
                "4G",
            ],
            "invalid steps: needs an estimated",
        ),
    ];
    for (args, needle) in cases {
        let line = refused(d, args, needle);
        assert!(line.contains("raise it with --max-memory"), "{line}");
    }
    // the length bound comes first, then the estimate
    refused(
        d,
        &["train", "--length", "100000000"],
        "invalid length: 100000000 is above the maximum of 1000000 steps",
    );
    refused(d, &["train", "--length", "1e8"], "invalid --length: '1e8'");
    // a tiny limit refuses even the default run, naming a size option and the limit
    let line = refused(
        d,
        &["train", "--max-memory", "1M"],
        "above the limit of 1.0 MiB",
    );
    assert!(line.starts_with("error: invalid eval-size:"), "{line}");
}

#[test]
fn max_memory_takes_sizes_and_refuses_nonsense() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for bad in ["4X", "0", "1.5.5G", "G", "1e3"] {
        refused(d, &["train", "--max-memory", bad], "max-memory");
        refused(d, &["gradients", "--max-memory", bad], "max-memory");
        refused(d, &["sweep", "--max-memory", bad, "--quiet"], "max-memory");
    }
    // a limit raised far enough lets the same run through (into --out)
    let out = d.join("run");
    ok(
        d,
        &[
            "train",
            "--length",
            "3",
            "--hidden",
            "4",
            "--steps",
            "1",
            "--eval-size",
            "4",
            "--probe-size",
            "2",
            "--batch",
            "2",
            "--quiet",
            "--max-memory",
            "2GiB",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(out.join("summary.ron").exists());
}

#[test]
fn zero_sizes_are_refused_naming_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for (option, field) in [
        ("--hidden", "hidden"),
        ("--layers", "layers"),
        ("--batch", "batch"),
        ("--steps", "steps"),
        ("--eval-size", "eval_size"),
        ("--probe-size", "probe_size"),
        ("--length", "length"),
    ] {
        refused(d, &["train", option, "0"], &format!("invalid {field}:"));
        refused(d, &["gradients", option, "0"], &format!("invalid {field}:"));
    }
    refused(d, &["train", "--widths", "8:0"], "hidden");
    refused(
        d,
        &[
            "data", "generate", "--task", "copy", "--length", "3", "--count", "0", "--out", "x.ron",
        ],
        "--count",
    );
    refused(
        d,
        &[
            "data", "generate", "--task", "copy", "--length", "0", "--count", "1", "--out", "x.ron",
        ],
        "invalid length:",
    );
    refused(
        d,
        &["data", "show", "--task", "tanaka", "--length", "0"],
        "invalid length:",
    );
    refused(d, &["sweep", "--seeds", "0", "--quiet"], "--seeds");
}

#[test]
fn gradients_refuses_huge_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    refused(
        d,
        &["gradients", "--hidden", "1000000"],
        "invalid hidden: needs an estimated",
    );
    refused(
        d,
        &["gradients", "--probe-size", "100000000"],
        "invalid probe-size:",
    );
    // a saved model's own widths count: a real 8-unit model, probed with a huge batch
    ok(
        d,
        &[
            "gradients",
            "--length",
            "3",
            "--hidden",
            "8",
            "--probe-size",
            "2",
            "--out",
            "m",
        ],
    );
    refused(
        d,
        &[
            "gradients",
            "--model",
            "m",
            "--probe-size",
            "100000000",
            "--out",
            "g",
        ],
        "invalid probe-size: needs an estimated",
    );
    refused(
        d,
        &["gradients", "--length", "18446744073709551615"],
        "invalid length: 18446744073709551615 is above the maximum",
    );
}

#[test]
fn a_model_file_claiming_a_huge_width_names_the_file_and_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let model = d.join("model");
    ok(
        d,
        &[
            "gradients",
            "--length",
            "3",
            "--hidden",
            "8",
            "--probe-size",
            "2",
            "--out",
            "model",
        ],
    );
    let spec = model.join("model.ron");
    let original = std::fs::read_to_string(&spec).unwrap();
    let widths = original
        .find("hidden: [")
        .map(|at| &original[at..at + original[at..].find(']').unwrap() + 1])
        .unwrap()
        .to_string();
    for claim in ["hidden: [1000000]", "hidden: [8, 8, 8, 8, 100000]"] {
        std::fs::write(&spec, original.replace(&widths, claim)).unwrap();
        let line = refused(
            d,
            &["gradients", "--model", "model", "--out", "g"],
            "model.ron",
        );
        assert!(line.contains("field `hidden`"), "{line}");
    }
    // a claim within the memory limit that the weights file cannot hold: refused before the
    // 16-million-parameter arrays exist
    std::fs::write(&spec, original.replace(&widths, "hidden: [2000]")).unwrap();
    let line = refused(
        d,
        &["gradients", "--model", "model", "--out", "g"],
        "model.ron",
    );
    assert!(
        line.contains("field `hidden`: widths [2000] need") && line.contains("holds only"),
        "{line}"
    );
    // absurd widths: the parameter count saturates instead of overflowing
    std::fs::write(
        &spec,
        original.replace(
            &widths,
            "hidden: [18446744073709551615, 18446744073709551615]",
        ),
    )
    .unwrap();
    let line = refused(
        d,
        &["gradients", "--model", "model", "--out", "g"],
        "model.ron",
    );
    assert!(line.contains("field `hidden`"), "{line}");
    // the file as written still loads
    std::fs::write(&spec, &original).unwrap();
    ok(d, &["gradients", "--model", "model", "--out", "g"]);
}

#[test]
fn data_generate_and_show_refuse_huge_counts_and_lengths() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let generate = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["data", "generate", "--out", "x.ron"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: Vec<String>, needle: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(d, &args, needle)
    };
    run(
        generate(&[
            "--task",
            "copy",
            "--length",
            "100",
            "--count",
            "100000000000",
        ]),
        "invalid count: needs an estimated",
    );
    run(
        generate(&[
            "--task",
            "copy",
            "--length",
            "100",
            "--count",
            "1000",
            "--max-memory",
            "1M",
        ]),
        "invalid count: needs an estimated",
    );
    for task in ["copy", "tanaka", "adding", "recall"] {
        for length in ["18446744073709551600", "18446744073709551615", "1000001"] {
            run(
                generate(&["--task", task, "--length", length, "--count", "1"]),
                &format!("invalid length: {length} is above the maximum of 1000000 steps"),
            );
            refused(
                d,
                &["data", "show", "--task", task, "--length", length],
                "invalid length:",
            );
        }
    }
    // a generated show streams: a large count is no problem (the first lines are checked)
    let mut child = bin()
        .args([
            "data",
            "show",
            "--task",
            "recall",
            "--length",
            "2",
            "--count",
            "100000000000",
        ])
        .current_dir(d)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.ends_with('\n') && first.contains("??"), "{first}");
    child.kill().unwrap();
    child.wait().unwrap();
    // and the same sequences as before streaming: show's first lines equal a generated file's
    let shown = ok(
        d,
        &[
            "data", "show", "--task", "recall", "--length", "2", "--count", "3",
        ],
    );
    ok(
        d,
        &[
            "data", "generate", "--task", "recall", "--length", "2", "--count", "3", "--out",
            "r.ron",
        ],
    );
    assert_eq!(ok(d, &["data", "show", "--data", "r.ron"]), shown);
}

#[test]
fn dataset_files_with_an_overflowing_length_are_refused_by_check_and_train_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let original = std::fs::read_to_string(example("recall.ron")).unwrap();
    for length in ["18446744073709551615", "18446744073709551606", "1000001"] {
        let text = original.replace("length: 0,", &format!("length: {length},"));
        assert_ne!(text, original);
        std::fs::write(d.join("bad.ron"), text).unwrap();
        let expected = format!(
            "bad.ron: task: invalid length: {length} is above the maximum of 1000000 steps"
        );
        let check = refused(d, &["data", "check", "bad.ron"], &expected);
        let train = refused(d, &["train", "--data", "bad.ron", "--quiet"], &expected);
        assert_eq!(check, train);
        refused(d, &["data", "show", "--data", "bad.ron"], &expected);
        refused(d, &["gradients", "--data", "bad.ron"], &expected);
        refused(
            d,
            &["train", "--eval-data", "bad.ron", "--quiet", "--steps", "1"],
            &expected,
        );
        std::fs::remove_file(d.join("bad.ron")).unwrap();
    }
}

#[test]
fn the_recall_example_passes_check_and_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let file = example("recall.ron");
    let file = file.to_str().unwrap();
    assert!(ok(d, &["data", "check", file]).contains(": ok, 2 recall sequences of 10 steps"));
    let out = ok(
        d,
        &[
            "train",
            "--data",
            file,
            "--steps",
            "2",
            "--hidden",
            "4",
            "--eval-size",
            "4",
            "--quiet",
            "--out",
            "run",
        ],
    );
    assert!(out.contains("run"), "{out}");
    assert!(d.join("run/summary.ron").exists());
    // a length a task cannot take is refused by both, naming the file
    let copy0 = std::fs::read_to_string(example("copy.ron"))
        .unwrap()
        .replacen("length: ", "length: 0, x: ", 1);
    std::fs::write(d.join("bad.ron"), &copy0).unwrap();
    let check = refused(d, &["data", "check", "bad.ron"], "bad.ron");
    let train = refused(d, &["train", "--data", "bad.ron", "--quiet"], "bad.ron");
    assert_eq!(check, train);
}

#[test]
fn writing_to_a_full_stdout_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let recall = example("recall.ron");
    let recall = recall.to_str().unwrap();
    let commands: [&[&str]; 4] = [
        &["data", "show", "--task", "tanaka", "--length", "3"],
        &["data", "show", "--data", recall],
        &["data", "check", recall],
        &[
            "data", "generate", "--task", "copy", "--length", "2", "--count", "2", "--out", "c.ron",
        ],
    ];
    for args in commands {
        let full = std::fs::File::create("/dev/full").unwrap();
        let out = bin()
            .args(args)
            .current_dir(d)
            .stdout(full)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: cannot write to standard output: No space left on device"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn sweeps_refuse_absurd_grids_and_oversized_runs_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    refused(
        d,
        &["sweep", "--seeds", "1000000000000", "--quiet"],
        "invalid seeds: 1000000000000 runs; a sweep holds at most 100000",
    );
    refused(
        d,
        &["sweep", "--seeds", "18446744073709551615", "--quiet"],
        "invalid seeds:",
    );
    let line = refused(
        d,
        &[
            "sweep",
            "--hidden",
            "8,1000000",
            "--seeds",
            "2",
            "--quiet",
            "--out",
            "s",
        ],
        "hidden=1000000,seed=0: invalid hidden: needs an estimated",
    );
    assert!(line.contains("invalid run "), "{line}");
    refused(
        d,
        &[
            "sweep",
            "--length",
            "5,1000000",
            "--quiet",
            "--max-memory",
            "4G",
            "--out",
            "s",
        ],
        "run length=1000000: invalid length",
    );
    refused(
        d,
        &["sweep", "--batch", "100000000", "--quiet", "--out", "s"],
        "invalid batch: needs an estimated",
    );
    refused(
        d,
        &[
            "sweep",
            "--length",
            "5,18446744073709551615",
            "--quiet",
            "--out",
            "s",
        ],
        "invalid length: 18446744073709551615 is above the maximum",
    );
    // each run fits, but not two at a time: --jobs is named; one at a time runs (one thread each:
    // with more, each run keeps its threads' copies of the LSTM's buffers too, and the estimate
    // would depend on the machine's cores)
    let line = refused(
        d,
        &[
            "sweep",
            "--length",
            "300",
            "--hidden",
            "64",
            "--batch",
            "16,17",
            "--eval-size",
            "64",
            "--probe-size",
            "8",
            "--steps",
            "1",
            "--cell",
            "lstm",
            "--seeds",
            "1",
            "--max-memory",
            "100M",
            "--jobs",
            "2",
            "--threads",
            "1",
            "--quiet",
            "--out",
            "s",
        ],
        "invalid jobs: 2 runs at a time need an estimated",
    );
    assert!(
        line.contains("lower --jobs or raise --max-memory"),
        "{line}"
    );
    ok(
        d,
        &[
            "sweep",
            "--length",
            "300",
            "--hidden",
            "64",
            "--batch",
            "16,17",
            "--eval-size",
            "64",
            "--probe-size",
            "8",
            "--steps",
            "1",
            "--cell",
            "lstm",
            "--seeds",
            "1",
            "--max-memory",
            "100M",
            "--jobs",
            "1",
            "--threads",
            "1",
            "--quiet",
            "--out",
            "s",
        ],
    );
    // 10 × 10 × 10 × 10 × 10 × 3 × 3 runs > 100,000: counted, not built
    let ten = "1,2,3,4,5,6,7,8,9,10";
    let three = "rnn,lstm,gru";
    refused(
        d,
        &[
            "sweep",
            "--length",
            ten,
            "--hidden",
            ten,
            "--batch",
            ten,
            "--steps",
            ten,
            "--eval-size",
            ten,
            "--cell",
            three,
            "--seeds",
            "3",
            "--quiet",
            "--out",
            "s",
        ],
        "invalid grid: 900000 runs",
    );
}

/// The peak resident memory (KiB) of `rnnlab args…`, from wait4's rusage of that one child.
// the child is reaped by wait4, which clippy does not see
#[allow(clippy::zombie_processes)]
fn peak_rss_kib(dir: &Path, args: &[&str]) -> u64 {
    let child = bin()
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, filled in by wait4 for the child we spawned and own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{args:?}: {status}"
    );
    usage.ru_maxrss as u64
}

/// The estimate against the measured peak of two real runs: one dominated by the BPTT caches of
/// the evaluation set and the probe, one by the parameters and optimiser state.
#[test]
fn the_estimate_is_within_a_factor_of_three_of_the_measured_peak() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let runs: [(&str, &[&str]); 3] = [
        (
            "caches",
            &[
                "--length",
                "400",
                "--hidden",
                "64",
                "--batch",
                "32",
                "--eval-size",
                "64",
                "--probe-size",
                "32",
                "--steps",
                "2",
                "--eval-every",
                "1",
            ],
        ),
        (
            "caches-f64-gru",
            &[
                "--length",
                "300",
                "--cell",
                "gru",
                "--hidden",
                "48",
                "--batch",
                "16",
                "--eval-size",
                "128",
                "--probe-size",
                "16",
                "--steps",
                "2",
                "--precision",
                "f64",
            ],
        ),
        (
            "params",
            &[
                "--length",
                "3",
                "--hidden",
                "768",
                "--batch",
                "4",
                "--eval-size",
                "8",
                "--probe-size",
                "2",
                "--steps",
                "2",
            ],
        ),
    ];
    for (name, options) in runs {
        let mut args = vec!["train", "--quiet", "--no-early-stop", "--out", name];
        args.extend_from_slice(options);
        let measured = u128::from(peak_rss_kib(d, &args)) * 1024;
        let mut config = TrainConfig::default();
        for pair in options.chunks(2) {
            rnnlab::train::options::set_option(&mut config, &pair[0][2..], pair[1]).unwrap();
        }
        config.stop_when_solved = false;
        let estimate = estimate_run(&config, &Task::new(config.task.clone()).unwrap()).bytes;
        let ratio = estimate as f64 / measured as f64;
        eprintln!(
            "{name}: estimate {estimate} bytes, measured peak {measured} bytes, ratio {ratio:.2}"
        );
        assert!(
            (1.0 / 3.0..=3.0).contains(&ratio),
            "{name}: estimate {estimate}, measured {measured}"
        );
    }
    // gradients: the probe alone, at initialisation
    let options = ["--length", "600", "--hidden", "64", "--probe-size", "64"];
    let mut args = vec!["gradients", "--out", "g"];
    args.extend_from_slice(&options);
    let measured = u128::from(peak_rss_kib(d, &args)) * 1024;
    let mut config = TrainConfig::default();
    for pair in options.chunks(2) {
        rnnlab::train::options::set_option(&mut config, &pair[0][2..], pair[1]).unwrap();
    }
    let task = Task::new(config.task.clone()).unwrap();
    let estimate = rnnlab::resources::estimate_gradients(
        &config,
        &task,
        None,
        rnnlab::network::BpttMemory::Full,
    )
    .bytes;
    let ratio = estimate as f64 / measured as f64;
    eprintln!(
        "gradients: estimate {estimate} bytes, measured peak {measured} bytes, ratio {ratio:.2}"
    );
    assert!(
        (1.0 / 3.0..=3.0).contains(&ratio),
        "gradients: {estimate} vs {measured}"
    );
}

#[test]
fn every_task_bounds_its_length_without_overflow() {
    use rnnlab::tasks::{TaskKind, TaskSpec, MAX_LENGTH};
    for kind in TaskKind::ALL {
        for length in [MAX_LENGTH + 1, usize::MAX - 20, usize::MAX] {
            let err = Task::new(TaskSpec::new(kind, length)).unwrap_err();
            assert!(err.is_input_error());
            assert_eq!(
                err.to_string(),
                format!("invalid length: {length} is above the maximum of {MAX_LENGTH} steps")
            );
        }
        // the longest length works, positions and all
        let task = Task::new(TaskSpec::new(kind, MAX_LENGTH)).unwrap();
        let seq = &task.generate(1, 0)[0];
        assert_eq!(seq.len(), task.steps());
        assert!(task.steps() >= MAX_LENGTH && task.probe_step() < task.steps());
        task.check_sequence(seq).unwrap();
    }
    // the shortest: recall takes 0 (no fillers), the others need a gap
    assert_eq!(
        Task::new(TaskSpec::new(TaskKind::Recall, 0))
            .unwrap()
            .steps(),
        10
    );
    for (kind, shortest) in [
        (TaskKind::Tanaka, 1),
        (TaskKind::Copy, 1),
        (TaskKind::Adding, 2),
    ] {
        assert!(Task::new(TaskSpec::new(kind, shortest)).is_ok());
        let err = Task::new(TaskSpec::new(kind, shortest - 1)).unwrap_err();
        assert!(err.to_string().starts_with("invalid length:"), "{err}");
    }
}

#[test]
fn a_dataset_files_task_counts_in_the_estimate_before_it_is_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(
        d,
        &[
            "data", "generate", "--task", "recall", "--length", "100000", "--count", "1", "--out",
            "big.ron",
        ],
    );
    assert!(ok(d, &["data", "check", "big.ron"]).contains("big.ron: ok, 1 recall sequences"));
    // the default config's task is tanaka at length 20; the file's length is what counts
    for command in ["train", "gradients"] {
        let line = refused(
            d,
            &[
                command,
                "--data",
                "big.ron",
                "--max-memory",
                "256M",
                "--probe-size",
                "64",
            ],
            "invalid length: needs an estimated",
        );
        assert!(line.contains("above the limit of 256.0 MiB"), "{line}");
    }
}
