//! Dataset files: a task spec and a list of sequences in RON, written by `rnnlab data generate` or
//! by hand. The format is documented in `datasets/README.md`:
//!
//! ```ron
//! #![enable(implicit_some)]
//! (
//!     task: (task: recall, length: 2, pairs: 4),
//!     records: [
//!         (inputs: Tokens(["c", "9", "k", "8", "j", "3", "f", "1", ".", ".", "??", "c"]),
//!          targets: Classes([None, None, None, None, None, None, None, None, None, None, None, "9"])),
//!     ],
//! )
//! ```
//!
//! Loading checks every record against the task; the first problem is reported as one line naming
//! the file and the record (1-based) with the line it starts on, or the line and column of a syntax
//! error.

use super::{Sequence, SequenceInputs, SequenceTargets, Task, TaskSpec, Vocabulary};
use crate::error::{Error, Result};
use ron::extensions::Extensions;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A task and a fixed set of its sequences.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub task: Task,
    pub sequences: Vec<Sequence>,
}

/// The file as written: a spec and records with tokens by name.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetRepr {
    task: TaskSpec,
    records: Vec<RecordRepr>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordRepr {
    inputs: InputsRepr,
    targets: TargetsRepr,
}

#[derive(Debug, Serialize, Deserialize)]
enum InputsRepr {
    /// One token name per step.
    Tokens(Vec<String>),
    /// One value vector per step.
    Dense(Vec<Vec<f64>>),
}

#[derive(Debug, Serialize, Deserialize)]
enum TargetsRepr {
    /// One class name or `None` per step.
    Classes(Vec<Option<String>>),
    /// One value vector or `None` per step.
    Values(Vec<Option<Vec<f64>>>),
}

/// RON with `implicit_some`, so targets read `[None, "田中"]` rather than `[None, Some("田中")]`.
fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME)
}

/// `line L, column C: message` for a RON syntax or type error.
pub(crate) fn describe_ron_error(e: &ron::error::SpannedError) -> String {
    format!(
        "line {}, column {}: {}",
        e.position.line, e.position.col, e.code
    )
}

/// Reads and checks a dataset file. Every error is [`Error::BadFile`] naming `path`.
pub fn load_dataset(path: &Path) -> Result<Dataset> {
    // A file the user named that cannot be read is an input error (exit 2), not a runtime failure.
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::bad_file(path, format!("cannot read: {e}")))?;
    parse_dataset(&text, path)
}

/// The task spec of a dataset file, read without building its records (they are scanned, not
/// kept), so a run can check its memory before loading the sequences. The spec is not checked;
/// errors name `path`.
pub fn dataset_task(path: &Path) -> Result<TaskSpec> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Header {
        task: TaskSpec,
        #[allow(dead_code)] // read to check the file's shape, never used
        records: serde::de::IgnoredAny,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::bad_file(path, format!("cannot read: {e}")))?;
    let header: Header = ron_options()
        .from_str(&text)
        .map_err(|e| Error::bad_file(path, describe_ron_error(&e)))?;
    Ok(header.task)
}

/// Parses and checks a dataset file's text; `path` only names the file in errors.
pub fn parse_dataset(text: &str, path: &Path) -> Result<Dataset> {
    let bad = |message: String| Error::bad_file(path, message);
    let repr: DatasetRepr = ron_options()
        .from_str(text)
        .map_err(|e| bad(describe_ron_error(&e)))?;
    let task = Task::new(repr.task.clone()).map_err(|e| bad(format!("task: {e}")))?;
    if repr.records.is_empty() {
        return Err(bad(
            "no records; a dataset needs at least one sequence".into()
        ));
    }
    let lines = record_lines(text);
    let mut sequences = Vec::with_capacity(repr.records.len());
    for (i, record) in repr.records.into_iter().enumerate() {
        let sequence =
            to_sequence(&task, record).and_then(|seq| task.check_sequence(&seq).map(|()| seq));
        match sequence {
            Ok(seq) => sequences.push(seq),
            Err(message) => {
                let at = lines
                    .get(i)
                    .map_or(String::new(), |line| format!(" (line {line})"));
                return Err(bad(format!("record {}{at}: {message}", i + 1)));
            }
        }
    }
    Ok(Dataset { task, sequences })
}

/// Writes `sequences` of `task` to `path` (see [`write_dataset`]).
pub fn save_dataset(path: &Path, task: &Task, sequences: &[Sequence]) -> Result<()> {
    let text = write_dataset(task, sequences)?;
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The text of a dataset file: a header, the task's resolved spec, one record per line.
/// Values are written in Rust's shortest round-trip form, so loading gives identical sequences.
pub fn write_dataset(task: &Task, sequences: &[Sequence]) -> Result<String> {
    let mut text = String::from("#![enable(implicit_some)]\n");
    text += &format!(
        "// rnnlab dataset: {} {} sequences of {} steps. Format: datasets/README.md\n(\n",
        sequences.len(),
        task.label(),
        task.steps()
    );
    text += &format!("    task: {},\n    records: [\n", ron(task.spec())?);
    for (b, seq) in sequences.iter().enumerate() {
        task.check_sequence(seq)
            .map_err(|m| Error::invalid("dataset", format!("sequence {b}: {m}")))?;
        text += &format!("        {},\n", ron(&to_record(task, seq))?);
    }
    text += "    ],\n)\n";
    Ok(text)
}

/// The dataset as JSON, for readers without RON (Python's standard library): the task's resolved
/// spec, its vocabularies (token id i is `vocabulary.inputs[i]`, class id i is
/// `vocabulary.classes[i]`; null for real-valued inputs or targets) and the records in the RON
/// file's shape (`{"inputs": {"Tokens": [...]}, "targets": {"Classes": [null, "田中"]}}`).
/// The first key, `rnnlab_dataset`, marks the file as rnnlab's.
pub fn write_dataset_json(task: &Task, sequences: &[Sequence]) -> Result<String> {
    let mut records = Vec::with_capacity(sequences.len());
    for (b, seq) in sequences.iter().enumerate() {
        task.check_sequence(seq)
            .map_err(|m| Error::invalid("dataset", format!("sequence {b}: {m}")))?;
        records.push(to_record(task, seq));
    }
    let names = |v: Option<&Vocabulary>| v.map(|v| v.names().to_vec());
    let fail = |e: serde_json::Error| Error::invalid("dataset", e.to_string());
    let value = serde_json::json!({
        "rnnlab_dataset": format!(
            "{} {} sequences of {} steps (rnnlab {}); format: datasets/README.md",
            sequences.len(),
            task.kind(),
            task.steps(),
            env!("CARGO_PKG_VERSION")
        ),
        "task": serde_json::to_value(task.spec()).map_err(fail)?,
        "vocabulary": {
            "inputs": names(task.input_vocabulary()),
            "classes": names(task.class_vocabulary()),
        },
        "records": serde_json::to_value(&records).map_err(fail)?,
    });
    let mut text = serde_json::to_string_pretty(&value).map_err(fail)?;
    text.push('\n');
    Ok(text)
}

/// One value as single-line RON.
fn ron<T: Serialize>(value: &T) -> Result<String> {
    ron_options()
        .to_string(value)
        .map_err(|e| Error::invalid("dataset", e.to_string()))
}

fn to_record(task: &Task, seq: &Sequence) -> RecordRepr {
    let token_name = |vocab: Option<&Vocabulary>, id: usize| {
        vocab.map_or(id.to_string(), |v| v.name(id).to_string())
    };
    let inputs = match &seq.inputs {
        SequenceInputs::Tokens(ids) => InputsRepr::Tokens(
            ids.iter()
                .map(|&id| token_name(task.input_vocabulary(), id))
                .collect(),
        ),
        SequenceInputs::Dense(rows) => InputsRepr::Dense(rows.clone()),
    };
    let targets = match &seq.targets {
        SequenceTargets::Classes(ids) => TargetsRepr::Classes(
            ids.iter()
                .map(|id| id.map(|id| token_name(task.class_vocabulary(), id)))
                .collect(),
        ),
        SequenceTargets::Values(rows) => TargetsRepr::Values(rows.clone()),
    };
    RecordRepr { inputs, targets }
}

/// Converts names to ids; the shape and content checks come after.
fn to_sequence(task: &Task, record: RecordRepr) -> std::result::Result<Sequence, String> {
    let kind = task.kind();
    let inputs = match record.inputs {
        InputsRepr::Tokens(names) => {
            let vocab = task
                .input_vocabulary()
                .ok_or_else(|| format!("{kind} reads real vectors (Dense), not Tokens"))?;
            let ids = names.iter().enumerate().map(|(t, name)| {
                vocab
                    .id(name)
                    .ok_or_else(|| format!("step {t}: {}", task.unknown_token(name)))
            });
            SequenceInputs::Tokens(ids.collect::<std::result::Result<_, _>>()?)
        }
        InputsRepr::Dense(_) if task.input_vocabulary().is_some() => {
            return Err(format!("{kind} reads Tokens, not real vectors (Dense)"));
        }
        InputsRepr::Dense(rows) => SequenceInputs::Dense(rows),
    };
    let targets = match record.targets {
        TargetsRepr::Classes(names) => {
            let vocab = task
                .class_vocabulary()
                .ok_or_else(|| format!("{kind} has real-valued targets (Values), not Classes"))?;
            let ids = names.iter().enumerate().map(|(t, name)| match name {
                None => Ok(None),
                Some(name) => vocab.id(name).map(Some).ok_or_else(|| {
                    format!(
                        "step {t}: target {name:?} is not a {kind} class ({})",
                        vocab.summary()
                    )
                }),
            });
            SequenceTargets::Classes(ids.collect::<std::result::Result<_, _>>()?)
        }
        TargetsRepr::Values(_) if task.class_vocabulary().is_some() => {
            return Err(format!("{kind} has class targets (Classes), not Values"));
        }
        TargetsRepr::Values(rows) => SequenceTargets::Values(rows),
    };
    Ok(Sequence { inputs, targets })
}

/// The 1-based line on which each record of the `records` list starts, found by scanning brackets
/// outside strings and comments. Used only to point error messages at a line.
fn record_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let (mut line, mut depth) = (1usize, 0usize);
    let mut list_depth: Option<usize> = None;
    let mut word = String::new();
    let mut after_records = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '"' => {
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        '\n' => line += 1,
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for s in chars.by_ref() {
                    if s == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for s in chars.by_ref() {
                    if s == '\n' {
                        line += 1;
                    }
                    if prev == '*' && s == '/' {
                        break;
                    }
                    prev = s;
                }
            }
            '(' | '[' | '{' => {
                if c == '(' && list_depth == Some(depth) {
                    lines.push(line);
                }
                if c == '[' && after_records && list_depth.is_none() {
                    list_depth = Some(depth + 1);
                }
                depth += 1;
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                if list_depth.is_some_and(|d| depth < d) {
                    break;
                }
            }
            _ => {}
        }
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else if !word.is_empty() {
            after_records = depth == 1 && word == "records";
            word.clear();
        }
    }
    lines
}
