//! The serde-level description of a task: which task, how long a dependency, which options.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The four tasks. Written in lowercase (`tanaka`, `copy`, `adding`, `recall`) in RON and on the
/// command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// "Who is that guy?": a name, `length` filler phrases, the query あいつ → the name.
    Tanaka,
    /// Arjovsky et al. 2016: 10 symbols, `length` − 1 blanks, a delimiter, 10 blanks → the symbols.
    Copy,
    /// Le et al. 2015: `length` (value, marker) pairs → the sum of the two marked values.
    Adding,
    /// Ba et al. 2016: `pairs` key–value pairs, `length` fillers, `??`, a key → its value.
    Recall,
}

impl TaskKind {
    pub const ALL: [TaskKind; 4] = [
        TaskKind::Tanaka,
        TaskKind::Copy,
        TaskKind::Adding,
        TaskKind::Recall,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Tanaka => "tanaka",
            TaskKind::Copy => "copy",
            TaskKind::Adding => "adding",
            TaskKind::Recall => "recall",
        }
    }
}

impl std::fmt::Display for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TaskKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<TaskKind> {
        TaskKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "task",
                    format!("unknown task {s:?}; the tasks are tanaka, copy, adding, recall"),
                )
            })
    }
}

/// What one timestep of tanaka reads: a whole phrase (`token`, the default) or one character of
/// the sentence (`char`, issue 21). Written `token` / `char` in RON and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    #[default]
    Token,
    Char,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Token => "token",
            Unit::Char => "char",
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Unit {
    type Err = Error;

    fn from_str(s: &str) -> Result<Unit> {
        [Unit::Token, Unit::Char]
            .into_iter()
            .find(|u| u.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "unit",
                    format!("unknown unit {s:?}; the units are token, char"),
                )
            })
    }
}

/// A task and its options, as a configuration file or a dataset file writes it, e.g.
/// `(task: tanaka, length: 20, names: 8, distractor_names: 0.1)`.
///
/// Options left out take their defaults in [`super::Task::new`]; an option that does not apply to
/// the task is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub task: TaskKind,
    /// The dependency length: tanaka filler phrases, copy's T, adding's sequence length, recall
    /// filler tokens between the pairs and the query.
    pub length: usize,
    /// tanaka: how many names are in play (classes); default 8, chance 1/names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<usize>,
    /// tanaka: probability that a filler slot holds another name instead; default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distractor_names: Option<f64>,
    /// recall: how many key–value pairs; default 4, at most 26.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<usize>,
    /// tanaka: one step per phrase (`token`, the default) or per character (`char`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    /// tanaka: the language of the sentence, `ja` or `en`. With `unit: char` it is the task's
    /// text (default ja); with tokens only the language sentences are printed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<super::Lang>,
    /// tanaka char: characters added to the vocabulary (a user vocabulary file's characters,
    /// kept sorted and without repeats, so a dataset file carries its whole vocabulary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub characters: Option<String>,
    /// Overrides the solved threshold: an eval accuracy for classification tasks, an eval MSE for
    /// adding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solved: Option<f64>,
}

/// Default number of names in play for tanaka.
pub const DEFAULT_NAMES: usize = 8;
/// Default number of key–value pairs for recall.
pub const DEFAULT_PAIRS: usize = 4;

impl TaskSpec {
    /// A spec with every option at its default.
    pub fn new(task: TaskKind, length: usize) -> TaskSpec {
        TaskSpec {
            task,
            length,
            names: None,
            distractor_names: None,
            pairs: None,
            unit: None,
            lang: None,
            characters: None,
            solved: None,
        }
    }

    /// The task's part of a default directory name: the task's name, then the unit and the
    /// language when they change the sequences the network reads (`tanaka-char` for Japanese
    /// characters, `tanaka-char-en`), so a character run and a token run of the same cell and
    /// length get different directories. A token run's language only changes how its sentences
    /// are printed, so it is left out. A user vocabulary (`characters`) changes the network's
    /// input size, so it adds `-vocab` and 8 hex digits of a hash of its characters
    /// (`tanaka-char-vocab5e0c1a9b`): runs with and without it, or with two different files, get
    /// different directories.
    pub fn dir_stem(&self) -> String {
        let mut stem = match self.unit {
            Some(Unit::Char) => match self.lang.unwrap_or_default() {
                super::Lang::Ja => format!("{}-{}", self.task, Unit::Char),
                lang => format!("{}-{}-{lang}", self.task, Unit::Char),
            },
            _ => self.task.to_string(),
        };
        if let Some(characters) = &self.characters {
            stem.push_str(&format!("-vocab{:08x}", fnv1a32(characters.as_bytes())));
        }
        stem
    }

    /// Rejects options that do not apply to the task and fills in the defaults of those that do.
    pub(crate) fn resolved(&self) -> Result<TaskSpec> {
        let only = |field: &str, applies: bool, given: bool, owner: &str| -> Result<()> {
            if given && !applies {
                Err(Error::invalid(
                    field,
                    format!("only the {owner} task takes this option, not {}", self.task),
                ))
            } else {
                Ok(())
            }
        };
        let is_tanaka = self.task == TaskKind::Tanaka;
        let is_recall = self.task == TaskKind::Recall;
        only("names", is_tanaka, self.names.is_some(), "tanaka")?;
        only(
            "distractor_names",
            is_tanaka,
            self.distractor_names.is_some(),
            "tanaka",
        )?;
        only("pairs", is_recall, self.pairs.is_some(), "recall")?;
        only("unit", is_tanaka, self.unit.is_some(), "tanaka")?;
        only("lang", is_tanaka, self.lang.is_some(), "tanaka")?;
        let is_char = is_tanaka && self.unit == Some(Unit::Char);
        if self.characters.is_some() && !is_char {
            return Err(Error::invalid(
                "characters",
                "only the tanaka task with unit char takes a vocabulary of characters",
            ));
        }
        if let Some(solved) = self.solved {
            let is_accuracy = self.task != TaskKind::Adding;
            let is_mse = !is_accuracy;
            if is_accuracy && !(solved > 0.0 && solved <= 1.0) {
                return Err(Error::invalid(
                    "solved",
                    format!("{solved} is not an accuracy in (0, 1]"),
                ));
            }
            if is_mse && !(solved > 0.0 && solved.is_finite()) {
                return Err(Error::invalid(
                    "solved",
                    format!("{solved} is not a positive mean squared error"),
                ));
            }
        }
        let mut spec = self.clone();
        if is_tanaka {
            spec.names.get_or_insert(DEFAULT_NAMES);
            spec.distractor_names.get_or_insert(0.0);
        }
        if is_char {
            spec.lang.get_or_insert(super::Lang::Ja);
            if let Some(text) = &self.characters {
                spec.characters = Some(normalised_characters(text)?);
            }
        }
        if is_recall {
            spec.pairs.get_or_insert(DEFAULT_PAIRS);
        }
        Ok(spec)
    }
}

/// FNV-1a, 32 bits: a short name for a text that does not change between builds or machines
/// (std's hashers promise neither).
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h: u32, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The characters of a user vocabulary: sorted, without repeats, line breaks dropped; any other
/// control character is refused (it would print as nothing).
pub fn normalised_characters(text: &str) -> Result<String> {
    let set: std::collections::BTreeSet<char> =
        text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    if let Some(c) = set.iter().find(|c| c.is_control()) {
        return Err(Error::invalid(
            "characters",
            format!(
                "the control character U+{:04X} cannot be a token",
                u32::from(*c)
            ),
        ));
    }
    Ok(set.into_iter().collect())
}

/// The characters of a user vocabulary file (UTF-8 text; line breaks are not tokens), sorted and
/// without repeats, for [`TaskSpec::characters`]. Errors name the file.
pub fn read_vocabulary_file(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::bad_file(path, format!("cannot read as UTF-8 text: {e}")))?;
    normalised_characters(&text).map_err(|e| Error::bad_file(path, e.to_string()))
}
