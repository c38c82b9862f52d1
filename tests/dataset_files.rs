//! Dataset files: round trips, the example files, and every kind of bad file.

use rnnlab::tasks::{
    load_dataset, parse_dataset, save_dataset, write_dataset, LossWeighting, Task, TaskKind,
    TaskSpec,
};
use rnnlab::{Batch, Error};
use std::path::{Path, PathBuf};

fn specs() -> Vec<TaskSpec> {
    vec![
        TaskSpec::new(TaskKind::Tanaka, 6),
        TaskSpec {
            names: Some(5),
            distractor_names: Some(0.3),
            ..TaskSpec::new(TaskKind::Tanaka, 9)
        },
        TaskSpec::new(TaskKind::Copy, 4),
        TaskSpec {
            solved: Some(0.02),
            ..TaskSpec::new(TaskKind::Adding, 15)
        },
        TaskSpec {
            pairs: Some(7),
            ..TaskSpec::new(TaskKind::Recall, 3)
        },
    ]
}

#[test]
fn generate_save_load_gives_identical_sequences_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    for (i, spec) in specs().into_iter().enumerate() {
        let task = Task::new(spec).unwrap();
        let sequences = task.generate(25, 77);
        let path = dir.path().join(format!("{i}.ron"));
        save_dataset(&path, &task, &sequences).unwrap();
        let loaded = load_dataset(&path).unwrap();
        assert_eq!(
            loaded.task.spec(),
            task.spec(),
            "the spec is stored resolved"
        );
        assert_eq!(loaded.sequences, sequences, "{}", task.kind());
        let original: Batch<f64> = task
            .collate(&sequences, LossWeighting::MeanOverSteps)
            .unwrap();
        let reloaded: Batch<f64> = loaded
            .task
            .collate(&loaded.sequences, LossWeighting::MeanOverSteps)
            .unwrap();
        assert_eq!(original, reloaded, "{}", task.kind());
        let original: Batch<f32> = task
            .collate(&sequences, LossWeighting::SumPerSequence)
            .unwrap();
        let reloaded: Batch<f32> = loaded
            .task
            .collate(&loaded.sequences, LossWeighting::SumPerSequence)
            .unwrap();
        assert_eq!(original, reloaded, "{}", task.kind());
    }
}

#[test]
fn written_files_put_one_record_on_each_line() {
    let task = Task::new(TaskSpec::new(TaskKind::Recall, 2)).unwrap();
    let text = write_dataset(&task, &task.generate(3, 0)).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("(inputs:"))
            .count(),
        3
    );
    assert!(text.starts_with("#![enable(implicit_some)]\n"));
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples")
}

#[test]
fn the_hand_written_examples_load() {
    let mut kinds = Vec::new();
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let data = load_dataset(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!data.sequences.is_empty());
        kinds.push(data.task.kind());
    }
    for kind in TaskKind::ALL {
        assert!(kinds.contains(&kind), "an example file for {kind}");
    }
}

/// The example file for `name` with `from` replaced by `to` (exactly once).
fn edited_example(name: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(examples_dir().join(name)).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} occurs once in {name}"
    );
    text.replace(from, to)
}

/// Parses `text` as `bad.ron` and returns the error's one line.
fn error_of(text: &str) -> String {
    let err = parse_dataset(text, Path::new("dir/bad.ron")).expect_err("this file is bad");
    assert!(
        matches!(err, Error::BadFile { .. }) && err.is_input_error(),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(
        message.starts_with("dir/bad.ron: "),
        "names the file: {message}"
    );
    message
}

#[test]
fn syntax_error_names_line_and_column() {
    let text = edited_example("recall.ron", r#"["c", "9", "k""#, r#"["c" "9", "k""#);
    let message = error_of(&text);
    assert!(
        message.starts_with("dir/bad.ron: line 8, column 33: Expected comma"),
        "{message}"
    );
}

#[test]
fn token_outside_the_vocabulary_names_record_line_and_step() {
    let text = edited_example("tanaka.ron", r#""赤い服を着て""#, r#""青い服""#);
    let message = error_of(&text);
    assert!(
        message.starts_with("dir/bad.ron: record 1 (line 8): step 2: token \"青い服\""),
        "{message}"
    );
    let text = edited_example("recall.ron", r#"["a", "0""#, r#"["A", "0""#);
    let message = error_of(&text);
    assert!(
        message.contains("record 2 (line 11): step 0: token \"A\" is not in the recall vocabulary"),
        "{message}"
    );
    let text = edited_example("recall.ron", r#"None, "7""#, r#"None, "x""#);
    let message = error_of(&text);
    assert!(
        message.contains("record 2 (line 11): step 9: target \"x\" is not a recall class"),
        "{message}"
    );
}

#[test]
fn sequence_and_target_lengths_that_disagree() {
    let text = edited_example("recall.ron", r#"None, None, "9""#, r#"None, "9""#);
    let message = error_of(&text);
    assert!(
        message.contains("record 1 (line 7): 10 input steps but 9 target slots"),
        "{message}"
    );
    // Both shortened: the sequence no longer has the task's length.
    let text = edited_example(
        "adding.ron",
        "[0.25, 1.0]]),\n            targets: Values([None, None, None,",
        "]),\n            targets: Values([None, None,",
    );
    let message = error_of(&text);
    assert!(
        message.contains("record 1 (line 7): 3 input steps, but adding with this length has 4"),
        "{message}"
    );
}

#[test]
fn target_at_a_step_without_loss_and_missing_target() {
    let text = edited_example(
        "tanaka.ron",
        r#"None, None, None, None, None, None, "田中""#,
        r#"None, "田中", None, None, None, None, "田中""#,
    );
    let message = error_of(&text);
    assert!(message.contains("record 1 (line 8): step 1: a target at a step without loss (tanaka has a loss only at step 6)"), "{message}");
    let text = edited_example("recall.ron", r#"None, "7""#, "None, None");
    let message = error_of(&text);
    assert!(
        message.contains("record 2 (line 11): step 9: no target at a step with loss"),
        "{message}"
    );
    let text = edited_example(
        "copy.ron",
        r#""-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-","#,
        r#"None, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-","#,
    );
    let message = error_of(&text);
    assert!(message.contains("record 1 (line 8): step 0: no target at a step with loss (copy has a loss at steps 0..=22)"), "{message}");
}

#[test]
fn empty_set_is_an_error() {
    let message = error_of("(task: (task: recall, length: 0), records: [])");
    assert_eq!(
        message,
        "dir/bad.ron: no records; a dataset needs at least one sequence"
    );
}

#[test]
fn the_task_and_its_structure_are_checked() {
    let message = error_of("(task: (task: copy, length: 0), records: [])");
    assert!(
        message.starts_with("dir/bad.ron: task: invalid length:"),
        "{message}"
    );
    let message = error_of("(task: (task: copy, length: 3, pairs: 2), records: [])");
    assert!(
        message.contains("task: invalid pairs: only the recall task"),
        "{message}"
    );
    let message = error_of("(task: (task: kopy, length: 3), records: [])");
    assert!(
        message.starts_with("dir/bad.ron: line 1, column"),
        "{message}"
    );
    // Real vectors for a token task.
    let text = edited_example(
        "recall.ron",
        r#"Tokens(["a", "0", "z", "7", "q", "7", "m", "2", "??", "q"])"#,
        "Dense([[0.0]])",
    );
    assert!(error_of(&text).contains("record 2 (line 11): recall reads Tokens"));
    // A target that is not the answer.
    let text = edited_example("recall.ron", r#"None, "9""#, r#"None, "8""#);
    assert!(error_of(&text).contains("record 1 (line 7): step 9: target must be 9"));
    let text = edited_example("adding.ron", "[0.97]", "[0.98]");
    assert!(error_of(&text).contains("record 1 (line 7): step 3: target 0.98 is not the sum"));
    let text = edited_example("tanaka.ron", r#""Sato""#, r#""Suzuki""#);
    assert!(error_of(&text).contains("record 2 (line 13): step 2: the subject \"鈴木\" again"));
}

#[test]
fn an_unreadable_file_is_a_bad_file() {
    let err = load_dataset(Path::new("/nonexistent/rnnlab.ron")).unwrap_err();
    assert!(err.is_input_error());
    assert!(
        err.to_string()
            .starts_with("/nonexistent/rnnlab.ron: cannot read"),
        "{err}"
    );
}
