//! `rnnlab data …` run as a user runs it: the real binary on temporary directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rnnlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs a command that must fail with exit code 2 and one stderr line; returns that line.
fn input_error(args: &[&str]) -> String {
    let out = rnnlab(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err.trim_end().to_string()
}

#[test]
fn generate_then_check_and_the_same_seed_writes_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| -> PathBuf { dir.path().join(name) };
    for (name, seed) in [("a.ron", "5"), ("b.ron", "5"), ("c.ron", "6")] {
        let out = rnnlab(&[
            "data",
            "generate",
            "--task",
            "recall",
            "--length",
            "3",
            "--pairs",
            "5",
            "--count",
            "20",
            "--seed",
            seed,
            "--out",
            path_str(&file(name)),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).starts_with("wrote 20 recall sequences"),
            "{}",
            stdout(&out)
        );
    }
    let read = |name: &str| std::fs::read_to_string(file(name)).unwrap();
    assert_eq!(read("a.ron"), read("b.ron"));
    assert_ne!(read("a.ron"), read("c.ron"));
    let out = rnnlab(&["data", "check", path_str(&file("a.ron"))]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains(": ok, 20 recall sequences of 15 steps"),
        "{report}"
    );
    assert!(report.contains("probe step 14"), "{report}");
}

#[test]
fn every_task_generates_a_file_that_checks() {
    let dir = tempfile::tempdir().unwrap();
    for task in ["tanaka", "copy", "adding", "recall"] {
        let path = dir.path().join(format!("{task}.ron"));
        let out = rnnlab(&[
            "data",
            "generate",
            "--task",
            task,
            "--length",
            "8",
            "--count",
            "4",
            "--out",
            path_str(&path),
        ]);
        assert!(out.status.success(), "{task}: {}", stderr(&out));
        let out = rnnlab(&["data", "check", path_str(&path)]);
        assert!(out.status.success(), "{task}: {}", stderr(&out));
        let out = rnnlab(&["data", "show", "--data", path_str(&path)]);
        assert_eq!(stdout(&out).lines().count(), 4, "{task}");
    }
}

#[test]
fn show_tanaka_reads_as_a_japanese_sentence_with_the_subject_as_answer() {
    let out = rnnlab(&[
        "data", "show", "--task", "tanaka", "--length", "6", "--seed", "3", "--count", "4",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 4);
    for line in text.lines() {
        let (sentence, answer) = line.split_once(" → ").expect("an answer after →");
        assert!(sentence.starts_with(&format!("{answer}さんが、")), "{line}");
        assert!(sentence.ends_with("、あいつ……"), "{line}");
        assert_eq!(
            sentence.split('、').count(),
            8,
            "subject, 6 fillers, query: {line}"
        );
    }
    let again = rnnlab(&[
        "data", "show", "--task", "tanaka", "--length", "6", "--seed", "3", "--count", "4",
    ]);
    assert_eq!(stdout(&again), text, "same seed, same sentences");
}

#[test]
fn show_tanaka_in_english() {
    let out = rnnlab(&[
        "data", "show", "--task", "tanaka", "--length", "3", "--lang", "en", "--count", "2",
        "--names", "3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for line in stdout(&out).lines() {
        let (sentence, answer) = line.split_once(" → ").unwrap();
        assert!(
            ["Tanaka", "Suzuki", "Sato"].contains(&answer),
            "names in play are the first 3: {line}"
        );
        assert!(
            sentence.starts_with(&format!("{answer}, ")) && sentence.ends_with(", that guy…"),
            "{line}"
        );
    }
}

#[test]
fn show_data_prints_the_hand_written_example() {
    let out = rnnlab(&[
        "data",
        "show",
        "--data",
        "datasets/examples/tanaka.ron",
        "--count",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "田中さんが、昨日、赤い服を着て、駅前のカフェで、コーヒーを飲みながら、本を読んでいたんだけど、あいつ…… → 田中\n"
    );
    let out = rnnlab(&["data", "show", "--data", "datasets/examples/recall.ron"]);
    assert_eq!(stdout(&out), "c9k8j3f1??c → 9\na0z7q7m2??q → 7\n");
}

#[test]
fn show_renders_the_other_tasks() {
    let out = rnnlab(&[
        "data", "show", "--task", "copy", "--length", "5", "--count", "1",
    ]);
    let line = stdout(&out);
    let (input, target) = line.trim_end().split_once(" → ").unwrap();
    assert_eq!(
        &input[10..],
        "----:----------",
        "T − 1 blanks, delimiter, 10 blanks"
    );
    assert_eq!(target, format!("{}{}", "-".repeat(15), &input[..10]));
    assert!(input[..10].chars().all(|c| ('1'..='8').contains(&c)));

    let out = rnnlab(&[
        "data", "show", "--task", "adding", "--length", "4", "--count", "1",
    ]);
    let line = stdout(&out);
    let (pairs, sum) = line.trim_end().split_once(" → ").unwrap();
    let pairs: Vec<(f64, u8)> = pairs
        .split(' ')
        .map(|p| {
            let (v, m) = p
                .trim_matches(|c| c == '(' || c == ')')
                .split_once(',')
                .unwrap();
            (v.parse().unwrap(), m.parse().unwrap())
        })
        .collect();
    assert_eq!(pairs.len(), 4);
    let marked: f64 = pairs.iter().filter(|p| p.1 == 1).map(|p| p.0).sum();
    assert!(
        (marked - sum.parse::<f64>().unwrap()).abs() <= 0.0151,
        "two values and their sum each rounded to 0.01: {line}"
    );

    let out = rnnlab(&[
        "data", "show", "--task", "recall", "--length", "2", "--pairs", "3", "--count", "1",
    ]);
    let line = stdout(&out);
    let (input, answer) = line.trim_end().split_once(" → ").unwrap();
    assert_eq!(input.len(), 6 + 2 + 2 + 1);
    assert_eq!(&input[6..10], "..??");
    let query = &input[10..];
    let at = input[..6].find(query).unwrap();
    assert_eq!(&input[at + 1..at + 2], answer);
}

#[test]
fn bad_files_fail_with_one_line_naming_the_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples/recall.ron"),
    )
    .unwrap();
    let cases = [
        (
            "syntax.ron",
            example.replace(r#""c", "9", "k""#, r#""c" "9", "k""#),
            "line 8, column 33",
        ),
        (
            "token.ron",
            example.replace(r#""q", "7", "m""#, r#""q", "77", "m""#),
            "record 2 (line 11): step 5: token \"77\"",
        ),
        (
            "length.ron",
            example.replace(r#"None, None, "9""#, r#"None, "9""#),
            "record 1 (line 7): 10 input steps but 9 target slots",
        ),
        (
            "noloss.ron",
            example.replace(r#"None, None, "9""#, r#""3", None, "9""#),
            "record 1 (line 7): step 7: a target at a step without loss",
        ),
        (
            "empty.ron",
            "(task: (task: tanaka, length: 2), records: [])".to_string(),
            "no records",
        ),
    ];
    for (name, text, expected) in cases {
        assert_ne!(text, example, "{name} changes the example");
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        for args in [
            vec!["data", "check", path_str(&path)],
            vec!["data", "show", "--data", path_str(&path)],
        ] {
            let line = input_error(&args);
            assert!(
                line.starts_with(&format!("error: {}: ", path.display())),
                "{line}"
            );
            assert!(line.contains(expected), "{name}: {line}");
        }
    }
    let missing = dir.path().join("missing.ron");
    let line = input_error(&["data", "check", path_str(&missing)]);
    assert!(line.contains("missing.ron: cannot read"), "{line}");
}

#[test]
fn bad_options_are_usage_errors() {
    assert!(input_error(&["data", "show", "--length", "4"]).contains("--task is required"));
    assert!(input_error(&["data", "show", "--task", "copy"]).contains("--length is required"));
    assert!(
        input_error(&["data", "show", "--task", "copy", "--length", "3", "--pairs", "2"])
            .contains("invalid pairs")
    );
    assert!(input_error(&[
        "data",
        "show",
        "--data",
        "datasets/examples/copy.ron",
        "--task",
        "copy"
    ])
    .contains("--data takes its task from the file"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.ron");
    assert!(input_error(&[
        "data",
        "generate",
        "--task",
        "copy",
        "--length",
        "3",
        "--count",
        "0",
        "--out",
        path_str(&out)
    ])
    .contains("--count"));
    assert!(!out.exists());
    // clap's own errors: an unknown task, a missing argument.
    let out = rnnlab(&["data", "show", "--task", "cpy", "--length", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown task \"cpy\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        rnnlab(&["data", "generate", "--task", "copy", "--length", "3"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn every_subcommand_help_shows_an_example() {
    for sub in [
        vec!["data"],
        vec!["data", "generate"],
        vec!["data", "check"],
        vec!["data", "show"],
    ] {
        let out = rnnlab(&[sub.as_slice(), &["--help"]].concat());
        assert!(out.status.success());
        let help = stdout(&out);
        assert!(
            help.contains("Example") && help.contains("rnnlab data "),
            "{sub:?}: {help}"
        );
    }
}
