//! "Who is that guy?" — the story form of Hochreiter & Schmidhuber's experiment 2a.
//!
//! Input (length + 2 steps): a name (the subject), `length` filler phrases, the query あいつ
//! ("that guy"). Target at the query step: the subject's class. With `distractor_names` = p, each
//! filler slot holds another name instead with probability p; the answer stays the subject.
//!
//! Tokens, for `names` = n names in play and F fillers: ids 0..n are the names, n..n+F the fillers,
//! n+F the query. Class i is name i. Words come from `datasets/tanaka.ron`, compiled in.

use super::{
    invalid, Baseline, Dependency, InputKind, Lang, MemorylessOutput, OutputKind, Sequence,
    SequenceInputs, SequenceTargets, Solved, TaskDef, TaskSpec, Vocabulary,
};
use crate::error::{Error, Result};
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

/// The text of `datasets/tanaka.ron`, the vocabulary every tanaka task uses.
pub const BUILTIN_VOCABULARY: &str = include_str!("../../datasets/tanaka.ron");
const MIN_NAMES: usize = 8;
const MIN_FILLERS: usize = 16;

/// One word or phrase in both languages. Templates hold `{}` where the name goes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phrase {
    pub ja: String,
    pub en: String,
}

impl Phrase {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }
}

/// The words of the tanaka task: the contents of `datasets/tanaka.ron`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TanakaVocabulary {
    /// The people; the first `names` of them are in play.
    pub names: Vec<Phrase>,
    /// Phrases that fill the gap between the subject and the query.
    pub fillers: Vec<Phrase>,
    /// あいつ / "that guy".
    pub query: Phrase,
    /// How the subject reads at the start: `{}さんが`.
    pub subject: Phrase,
    /// How a distractor name reads in a filler slot: `{}さんと`.
    pub distractor: Phrase,
    /// Between phrases: `、`.
    pub separator: Phrase,
    /// After the query: `……`.
    pub ending: Phrase,
}

impl TanakaVocabulary {
    /// The compiled-in `datasets/tanaka.ron`.
    pub fn builtin() -> Result<TanakaVocabulary> {
        TanakaVocabulary::parse(BUILTIN_VOCABULARY, "datasets/tanaka.ron")
    }

    /// Parses and checks a vocabulary file's text: at least 8 names and 16 fillers, no word used
    /// twice, templates with a `{}`. Errors name `path`.
    pub fn parse(text: &str, path: &str) -> Result<TanakaVocabulary> {
        let vocab: TanakaVocabulary = ron::from_str(text)
            .map_err(|e| Error::bad_file(path, super::dataset_file::describe_ron_error(&e)))?;
        let bad = |message: String| Error::bad_file(path, message);
        if vocab.names.len() < MIN_NAMES || vocab.fillers.len() < MIN_FILLERS {
            return Err(bad(format!(
                "{} names and {} fillers; the task needs at least {MIN_NAMES} and {MIN_FILLERS}",
                vocab.names.len(),
                vocab.fillers.len()
            )));
        }
        let mut words: Vec<&str> = Vec::new();
        for phrase in vocab
            .names
            .iter()
            .chain(&vocab.fillers)
            .chain([&vocab.query])
        {
            for word in [phrase.ja.as_str(), phrase.en.as_str()] {
                if word.is_empty() || words.contains(&word) {
                    return Err(bad(format!("the word {word:?} is empty or used twice")));
                }
            }
            words.push(&phrase.ja);
            words.push(&phrase.en);
        }
        for template in [&vocab.subject, &vocab.distractor] {
            if !template.ja.contains("{}") || !template.en.contains("{}") {
                return Err(bad(format!(
                    "the template {template:?} must hold {{}} where the name goes"
                )));
            }
        }
        Ok(vocab)
    }
}

#[derive(Debug)]
pub(crate) struct Tanaka {
    words: TanakaVocabulary,
    fillers: usize,
    names: usize,
    distractor_names: f64,
    inputs: Vocabulary,
    classes: Vocabulary,
}

impl Tanaka {
    pub(crate) fn new(spec: &TaskSpec) -> Result<Tanaka> {
        if spec.length == 0 {
            return Err(invalid(
                "length",
                "tanaka needs length ≥ 1 (filler phrases between the name and the query)",
            ));
        }
        // the subject, `length` fillers, the query
        super::steps_after(spec.length, 2)?;
        let words = TanakaVocabulary::builtin()?;
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
        let in_play = &words.names[..names];
        let phrases: Vec<&Phrase> = in_play
            .iter()
            .chain(&words.fillers)
            .chain([&words.query])
            .collect();
        let mut inputs = Vocabulary::new(phrases.iter().map(|p| p.ja.clone()));
        for (id, phrase) in phrases.iter().enumerate() {
            inputs = inputs.with_alias(phrase.en.clone(), id);
        }
        let mut classes = Vocabulary::new(in_play.iter().map(|p| p.ja.clone()));
        for (id, phrase) in in_play.iter().enumerate() {
            classes = classes.with_alias(phrase.en.clone(), id);
        }
        Ok(Tanaka {
            fillers: spec.length,
            names,
            distractor_names,
            inputs,
            classes,
            words,
        })
    }

    fn query_step(&self) -> usize {
        self.fillers + 1
    }

    fn query_id(&self) -> usize {
        self.names + self.words.fillers.len()
    }

    fn is_name(&self, id: usize) -> bool {
        id < self.names
    }

    /// How token `id` at step `t` reads.
    fn word(&self, id: usize, t: usize, lang: Lang) -> String {
        if self.is_name(id) {
            let template = if t == 0 {
                &self.words.subject
            } else {
                &self.words.distractor
            };
            template
                .get(lang)
                .replace("{}", self.words.names[id].get(lang))
        } else if id == self.query_id() {
            format!(
                "{}{}",
                self.words.query.get(lang),
                self.words.ending.get(lang)
            )
        } else {
            self.words.fillers[id - self.names].get(lang).to_string()
        }
    }
}

impl TaskDef for Tanaka {
    fn steps(&self) -> usize {
        self.fillers + 2
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Tokens {
            vocab: self.inputs.len(),
        }
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Classes { count: self.names }
    }

    fn loss_steps(&self) -> Vec<usize> {
        vec![self.query_step()]
    }

    fn probe_step(&self) -> usize {
        self.query_step()
    }

    fn generate(&self, rng: &mut ChaCha8Rng) -> Sequence {
        let subject = rng.random_range(0..self.names);
        let mut ids = Vec::with_capacity(self.steps());
        ids.push(subject);
        // Fillers are dealt from a shuffled deck, refilled when empty, so a phrase does not repeat
        // within one pass over the fillers (the sentences read better; memory demand is unchanged).
        let mut deck: Vec<usize> = Vec::new();
        for _ in 0..self.fillers {
            if self.distractor_names > 0.0 && rng.random_bool(self.distractor_names) {
                // Another name, uniform over the names in play other than the subject.
                let other = rng.random_range(0..self.names - 1);
                ids.push(if other >= subject { other + 1 } else { other });
            } else {
                if deck.is_empty() {
                    deck = (0..self.words.fillers.len()).collect();
                }
                let filler = deck.swap_remove(rng.random_range(0..deck.len()));
                ids.push(self.names + filler);
            }
        }
        ids.push(self.query_id());
        let mut targets = vec![None; self.steps()];
        targets[self.query_step()] = Some(subject);
        Sequence {
            inputs: SequenceInputs::Tokens(ids),
            targets: SequenceTargets::Classes(targets),
        }
    }

    fn dependencies(&self, _seq: &Sequence) -> Vec<Dependency> {
        vec![Dependency {
            target_step: self.query_step(),
            evidence_step: 0,
        }]
    }

    fn check_content(&self, seq: &Sequence) -> std::result::Result<(), String> {
        let Some(ids) = seq.tokens() else {
            return Ok(());
        };
        let name = |id: usize| self.inputs.name(id).to_string();
        let subject = ids[0];
        if !self.is_name(subject) {
            return Err(format!(
                "step 0: expected a name (the subject), found {:?}",
                name(subject)
            ));
        }
        for (t, &id) in ids.iter().enumerate().take(self.query_step()).skip(1) {
            if id == self.query_id() {
                return Err(format!(
                    "step {t}: the query {:?} may only come last",
                    name(id)
                ));
            }
            if id == subject {
                return Err(format!(
                    "step {t}: the subject {:?} again; a distractor must be another name",
                    name(id)
                ));
            }
        }
        let last = self.query_step();
        if ids[last] != self.query_id() {
            return Err(format!(
                "step {last}: expected the query {:?}, found {:?}",
                name(self.query_id()),
                name(ids[last])
            ));
        }
        if seq.class_at(last) != Some(subject) {
            return Err(format!(
                "step {last}: target must be the subject, {:?}",
                name(subject)
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
        Some(&self.inputs)
    }

    fn class_vocabulary(&self) -> Option<&Vocabulary> {
        Some(&self.classes)
    }

    /// Each step's phrase, the separator after every one but the last.
    fn step_texts(&self, seq: &Sequence, lang: Lang) -> Option<Vec<String>> {
        let ids = seq.tokens()?;
        let sep = self.words.separator.get(lang);
        Some(
            ids.iter()
                .enumerate()
                .map(|(t, &id)| {
                    let word = self.word(id, t, lang);
                    if t + 1 < ids.len() {
                        word + sep
                    } else {
                        word
                    }
                })
                .collect(),
        )
    }

    fn unknown_token(&self, name: &str, kind: super::TaskKind) -> String {
        let hint = if name.chars().count() == 1 {
            " (one character: a file of the character task says `unit: char` in its task; one file holds one unit)"
        } else {
            ""
        };
        format!(
            "token {name:?} is not in the {kind} vocabulary ({}){hint}",
            self.inputs.summary()
        )
    }

    /// `田中さんが、昨日、…、あいつ…… → 田中`.
    fn render(&self, seq: &Sequence, lang: Lang) -> String {
        let ids = seq.tokens().unwrap_or(&[]);
        let words: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(t, &id)| self.word(id, t, lang))
            .collect();
        let answer = seq
            .class_at(self.query_step())
            .map_or("?", |c| self.words.names[c].get(lang));
        format!("{} → {answer}", words.join(self.words.separator.get(lang)))
    }
}
