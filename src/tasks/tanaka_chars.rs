//! "Who is that guy?" character by character (issue 21): the tanaka sentence read one character
//! per timestep, in Japanese or English.
//!
//! A sequence is, for `length` = L:
//!
//! ```text
//! [pad][name][suffix][、clause]…[…pad…][、][あいつ……]
//!  ^^^^^^^^^^ E+1 steps  ^^^^^^^^^^^^^^^^^^^^ L steps  ^^^^^^^^^ the query
//! ```
//!
//! - the prefix: the subject template's text before `{}` and the name, right-aligned to end at
//!   step E (the same step for every name: shorter names are preceded by spaces);
//! - the gap, exactly L characters between the name's last character and the query's first:
//!   the template's text after `{}` (`さんが`), whole clauses (separator + filler phrase, or
//!   separator + a distractor name with probability `distractor_names`), padding `…` shorter
//!   than the shortest clause, and the separator before the query;
//! - the query and its ending (`あいつ……`, `that guy…`). The target is the subject's class at the
//!   last step, T − 1.
//!
//! So every sequence has the same layout: its dependency runs from step E (the name's last
//! character, where the name is fully read) to step T − 1, distance L + the query's length.
//!
//! The input vocabulary is every character of the words of `datasets/tanaka.ron` (both
//! languages, templates without `{}`), the pad characters, and the spec's extra `characters`,
//! sorted by code point: the same set for `ja` and `en`, built the same way every time.

use std::collections::BTreeSet;

use super::tanaka::{Phrase, TanakaVocabulary};
use super::{
    invalid, Baseline, Dependency, InputKind, Lang, MemorylessOutput, OutputKind, Sequence,
    SequenceInputs, SequenceTargets, Solved, TaskDef, TaskSpec, Vocabulary,
};
use crate::error::Result;
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Before a name shorter than the longest one in play.
const FRONT_PAD: char = ' ';
/// Fills the gap when no whole clause fits any more (less than the shortest clause).
const GAP_PAD: char = '…';

#[derive(Debug)]
pub(crate) struct TanakaChars {
    names: usize,
    distractor_names: f64,
    length: usize,
    chars: Vocabulary,
    classes: Vocabulary,
    /// The class names in `lang`, for the answer of [`TaskDef::render`].
    class_text: Vec<String>,
    /// Per name in play: the subject template's text before `{}` and the name, as ids.
    subject_prefix: Vec<Vec<usize>>,
    /// The subject template's text after `{}`.
    suffix: Vec<usize>,
    /// Separator + filler phrase, as ids.
    clauses: Vec<Vec<usize>>,
    /// Per name in play: separator + the distractor template filled with it.
    distractors: Vec<Vec<usize>>,
    separator: Vec<usize>,
    /// The query and its ending.
    tail: Vec<usize>,
    front_pad: usize,
    gap_pad: usize,
    /// E: the step of the name's last character.
    name_end: usize,
}

/// The characters of the builtin words, both languages, templates without `{}`, and the pads.
fn builtin_characters(words: &TanakaVocabulary) -> BTreeSet<char> {
    let mut set: BTreeSet<char> = [FRONT_PAD, GAP_PAD].into_iter().collect();
    let phrases = words.names.iter().chain(&words.fillers).chain([
        &words.query,
        &words.subject,
        &words.distractor,
        &words.separator,
        &words.ending,
    ]);
    for phrase in phrases {
        for text in [&phrase.ja, &phrase.en] {
            set.extend(text.replace("{}", "").chars());
        }
    }
    set
}

impl TanakaChars {
    pub(crate) fn new(spec: &TaskSpec) -> Result<TanakaChars> {
        let words = TanakaVocabulary::builtin()?;
        let lang = spec.lang.unwrap_or_default();
        let names = spec.names.unwrap_or(super::spec::DEFAULT_NAMES);
        if names < 2 || names > words.names.len() {
            return Err(invalid(
                "names",
                format!("{names} names; tanaka takes 2 to {}", words.names.len()),
            ));
        }
        let distractor_names = spec.distractor_names.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&distractor_names) {
            return Err(invalid(
                "distractor_names",
                format!("{distractor_names} is not a probability in [0, 1]"),
            ));
        }
        let mut set = builtin_characters(&words);
        if let Some(extra) = &spec.characters {
            set.extend(extra.chars());
        }
        let chars = Vocabulary::new(set.iter().map(|c| c.to_string()));
        let ids = |text: &str| -> Vec<usize> {
            // every character of the builtin words is in the set by construction
            text.chars()
                .map(|c| chars.id(&c.to_string()).unwrap_or(0))
                .collect()
        };
        let get = |p: &Phrase| p.get(lang).to_string();
        let in_play = &words.names[..names];
        let (before, after) = split_template(&get(&words.subject));
        let subject_prefix: Vec<Vec<usize>> = in_play
            .iter()
            .map(|n| ids(&format!("{before}{}", get(n))))
            .collect();
        let separator = ids(&get(&words.separator));
        let sep_text = get(&words.separator);
        let clauses: Vec<Vec<usize>> = words
            .fillers
            .iter()
            .map(|f| ids(&format!("{sep_text}{}", get(f))))
            .collect();
        let distractors = in_play
            .iter()
            .map(|n| {
                ids(&format!(
                    "{sep_text}{}",
                    get(&words.distractor).replace("{}", &get(n))
                ))
            })
            .collect();
        let suffix = ids(&after);
        let tail = ids(&format!("{}{}", get(&words.query), get(&words.ending)));
        let longest = subject_prefix.iter().map(Vec::len).max().unwrap_or(1);
        let shortest_clause = clauses.iter().map(Vec::len).min().unwrap_or(1);
        let minimum = suffix.len() + shortest_clause + separator.len();
        if spec.length < minimum {
            return Err(invalid(
                "length",
                format!(
                    "{} characters is shorter than the shortest clause: tanaka char ({lang}) needs length ≥ {minimum} (the name's {:?}, one clause {:?} and the {:?} before the query)",
                    spec.length,
                    after,
                    format!("{sep_text}{}", shortest_filler(&words, lang)),
                    sep_text
                ),
            ));
        }
        // the prefix, the gap, the query
        super::steps_after(spec.length, longest + tail.len())?;
        let class_text = in_play.iter().map(get).collect();
        let mut classes = Vocabulary::new(in_play.iter().map(|p| p.ja.clone()));
        for (id, phrase) in in_play.iter().enumerate() {
            classes = classes.with_alias(phrase.en.clone(), id);
        }
        let front_pad = ids(&FRONT_PAD.to_string())[0];
        let gap_pad = ids(&GAP_PAD.to_string())[0];
        Ok(TanakaChars {
            names,
            distractor_names,
            length: spec.length,
            chars,
            classes,
            class_text,
            subject_prefix,
            suffix,
            clauses,
            distractors,
            separator,
            tail,
            front_pad,
            gap_pad,
            name_end: longest - 1,
        })
    }

    /// T − 1: the last character of the query's ending, where the target is.
    fn target_step(&self) -> usize {
        self.name_end + self.length + self.tail.len()
    }

    /// The first `name_end + 1` steps of a sequence whose subject is `subject`.
    fn prefix(&self, subject: usize) -> Vec<usize> {
        let name = &self.subject_prefix[subject];
        let mut ids = vec![self.front_pad; self.name_end + 1 - name.len()];
        ids.extend(name);
        ids
    }

    fn text(&self, ids: &[usize]) -> String {
        ids.iter().map(|&id| self.chars.name(id)).collect()
    }
}

/// The text before and after `{}` of a template (checked to hold one when the words were read).
fn split_template(template: &str) -> (String, String) {
    match template.split_once("{}") {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (template.to_string(), String::new()),
    }
}

fn shortest_filler(words: &TanakaVocabulary, lang: Lang) -> String {
    words
        .fillers
        .iter()
        .map(|f| f.get(lang))
        .min_by_key(|f| f.chars().count())
        .unwrap_or("")
        .to_string()
}

impl TaskDef for TanakaChars {
    fn steps(&self) -> usize {
        self.target_step() + 1
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Tokens {
            vocab: self.chars.len(),
        }
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Classes { count: self.names }
    }

    fn loss_steps(&self) -> Vec<usize> {
        vec![self.target_step()]
    }

    fn probe_step(&self) -> usize {
        self.target_step()
    }

    fn generate(&self, rng: &mut ChaCha8Rng) -> Sequence {
        let subject = rng.random_range(0..self.names);
        let mut ids = self.prefix(subject);
        ids.reserve(self.steps());
        ids.extend(&self.suffix);
        // characters of the gap left for clauses; the separator before the query is kept apart
        let mut left = self.length - self.suffix.len() - self.separator.len();
        // fillers are dealt from a shuffled deck as in the token task (no repeat within one pass),
        // but only those that still fit are drawn; when none fits, the rest is padding
        let mut deck: Vec<usize> = (0..self.clauses.len()).collect();
        loop {
            if self.distractor_names > 0.0 && rng.random_bool(self.distractor_names) {
                let other = rng.random_range(0..self.names - 1);
                let other = if other >= subject { other + 1 } else { other };
                if self.distractors[other].len() <= left {
                    ids.extend(&self.distractors[other]);
                    left -= self.distractors[other].len();
                    continue;
                }
            }
            let fitting = |deck: &[usize]| -> Vec<usize> {
                (0..deck.len())
                    .filter(|&i| self.clauses[deck[i]].len() <= left)
                    .collect()
            };
            let mut fits = fitting(&deck);
            if fits.is_empty() {
                deck = (0..self.clauses.len()).collect();
                fits = fitting(&deck);
            }
            if fits.is_empty() {
                break;
            }
            let clause = deck.swap_remove(fits[rng.random_range(0..fits.len())]);
            ids.extend(&self.clauses[clause]);
            left -= self.clauses[clause].len();
        }
        ids.extend(std::iter::repeat_n(self.gap_pad, left));
        ids.extend(&self.separator);
        ids.extend(&self.tail);
        let mut targets = vec![None; ids.len()];
        targets[self.target_step()] = Some(subject);
        Sequence {
            inputs: SequenceInputs::Tokens(ids),
            targets: SequenceTargets::Classes(targets),
        }
    }

    fn dependencies(&self, _seq: &Sequence) -> Vec<Dependency> {
        vec![Dependency {
            target_step: self.target_step(),
            evidence_step: self.name_end,
        }]
    }

    fn check_content(&self, seq: &Sequence) -> std::result::Result<(), String> {
        let Some(ids) = seq.tokens() else {
            return Ok(());
        };
        let last = self.target_step();
        let Some(subject) = seq.class_at(last) else {
            return Ok(());
        };
        let prefix = self.prefix(subject);
        if ids[..prefix.len()] != prefix[..] {
            return Err(format!(
                "steps 0–{}: expected the subject's name {:?} ending at step {} (the target is {:?}), found {:?}",
                self.name_end,
                self.text(&prefix).trim_start(),
                self.name_end,
                self.classes.name(subject),
                self.text(&ids[..prefix.len()])
            ));
        }
        let start = ids.len() - self.tail.len();
        if ids[start..] != self.tail[..] {
            return Err(format!(
                "steps {start}–{last}: expected the query {:?}, found {:?}",
                self.text(&self.tail),
                self.text(&ids[start..])
            ));
        }
        Ok(())
    }

    fn memoryless(&self, _step: usize) -> MemorylessOutput {
        MemorylessOutput::uniform(self.names)
    }

    fn baseline(&self) -> Baseline {
        Baseline::uniform_guess(self.names)
    }

    fn default_solved(&self) -> Solved {
        Solved::NEAR_PERFECT_ACCURACY
    }

    fn input_vocabulary(&self) -> Option<&Vocabulary> {
        Some(&self.chars)
    }

    fn class_vocabulary(&self) -> Option<&Vocabulary> {
        Some(&self.classes)
    }

    /// The sentence as read (the spaces before a short name left out), then `→ name`; the
    /// language is the task's own.
    fn render(&self, seq: &Sequence, _lang: Lang) -> String {
        let ids = seq.tokens().unwrap_or(&[]);
        let answer = seq
            .class_at(self.target_step())
            .map_or("?", |c| self.class_text[c].as_str());
        format!("{} → {answer}", self.text(ids).trim_start())
    }

    fn step_texts(&self, seq: &Sequence, _lang: Lang) -> Option<Vec<String>> {
        let ids = seq.tokens()?;
        Some(
            ids.iter()
                .map(|&id| self.chars.name(id).to_string())
                .collect(),
        )
    }

    fn unknown_token(&self, name: &str, kind: super::TaskKind) -> String {
        let mut chars = name.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => format!(
                "character {name:?} (U+{:04X}) is not in the {kind} char vocabulary ({} characters: datasets/tanaka.ron's and the task's `characters`)",
                u32::from(c),
                self.chars.len()
            ),
            _ => format!(
                "token {name:?} is not one character: a {kind} file with `unit: char` holds one character per step (mixed units)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{Task, TaskKind, Unit};

    fn spec(length: usize, lang: Lang) -> TaskSpec {
        TaskSpec {
            unit: Some(Unit::Char),
            lang: Some(lang),
            ..TaskSpec::new(TaskKind::Tanaka, length)
        }
    }

    #[test]
    fn sentences_read_as_the_story() {
        let task = Task::new(spec(20, Lang::Ja)).unwrap();
        let seq = &task.generate(1, 3)[0];
        let text = task.render(seq, Lang::Ja);
        assert!(text.contains("さんが、"), "{text}");
        assert!(text.contains("、あいつ…… → "), "{text}");
        let en = Task::new(spec(30, Lang::En)).unwrap();
        let text = en.render(&en.generate(1, 3)[0], Lang::Ja);
        assert!(text.contains(", that guy… → "), "{text}");
    }

    #[test]
    fn too_short_a_length_names_the_minimum() {
        let err = Task::new(spec(6, Lang::Ja)).unwrap_err().to_string();
        assert!(err.contains("length") && err.contains("≥ 7"), "{err}");
        assert!(Task::new(spec(7, Lang::Ja)).is_ok());
        let err = Task::new(spec(8, Lang::En)).unwrap_err().to_string();
        assert!(err.contains("≥ 9"), "{err}");
    }
}
