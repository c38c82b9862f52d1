//! Associative recall (Ba et al. 2016, "fast weights"): `c9k8j3f1??c → 9`.
//!
//! Input (2·pairs + length + 2 steps): `pairs` key–value pairs (distinct letter keys a..z, digit
//! values 0..9), `length` filler tokens `.`, the separator `??` (one token), and a query key drawn
//! from the keys. Target at the query step: the query key's value (10 classes, chance 1/10).

use super::{
    invalid, Baseline, Dependency, InputKind, Lang, MemorylessOutput, OutputKind, Sequence,
    SequenceInputs, SequenceTargets, Solved, TaskDef, TaskSpec, Vocabulary,
};
use crate::error::Result;
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

const LETTERS: usize = 26;
const DIGITS: usize = 10;
/// Token ids: letters 0..26, digits 26..36, filler 36, separator 37.
const FIRST_DIGIT: usize = LETTERS;
const FILLER: usize = LETTERS + DIGITS;
const SEPARATOR: usize = FILLER + 1;
const VOCAB: usize = SEPARATOR + 1;

#[derive(Debug)]
pub(crate) struct Recall {
    pairs: usize,
    fillers: usize,
    inputs: Vocabulary,
    classes: Vocabulary,
}

impl Recall {
    pub(crate) fn new(spec: &TaskSpec) -> Result<Recall> {
        let pairs = spec.pairs.unwrap_or(super::spec::DEFAULT_PAIRS);
        if !(1..=LETTERS).contains(&pairs) {
            return Err(invalid(
                "pairs",
                format!("{pairs} pairs; recall takes 1 to 26 (one letter key each)"),
            ));
        }
        // 2·pairs keys and values, `length` fillers, the separator and the query
        super::steps_after(spec.length, 2 * pairs + 2)?;
        let letters = (b'a'..=b'z').map(|c| (c as char).to_string());
        let digits: Vec<String> = (0..DIGITS).map(|d| d.to_string()).collect();
        let names = letters
            .chain(digits.iter().cloned())
            .chain([".".to_string(), "??".to_string()]);
        Ok(Recall {
            pairs,
            fillers: spec.length,
            inputs: Vocabulary::new(names),
            classes: Vocabulary::new(digits),
        })
    }

    fn query_step(&self) -> usize {
        2 * self.pairs + self.fillers + 1
    }

    /// The step of the key the query asks for, if the query key is among the pairs.
    fn asked_key_step(&self, ids: &[usize]) -> Option<usize> {
        let query = ids[self.query_step()];
        (0..self.pairs).map(|i| 2 * i).find(|&t| ids[t] == query)
    }
}

impl TaskDef for Recall {
    fn steps(&self) -> usize {
        self.query_step() + 1
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Tokens { vocab: VOCAB }
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Classes { count: DIGITS }
    }

    fn loss_steps(&self) -> Vec<usize> {
        vec![self.query_step()]
    }

    fn probe_step(&self) -> usize {
        self.query_step()
    }

    fn generate(&self, rng: &mut ChaCha8Rng) -> Sequence {
        // Distinct keys: the first `pairs` entries of a Fisher–Yates shuffle of the alphabet.
        let mut letters: Vec<usize> = (0..LETTERS).collect();
        for i in 0..self.pairs {
            let j = rng.random_range(i..LETTERS);
            letters.swap(i, j);
        }
        let values: Vec<usize> = (0..self.pairs)
            .map(|_| rng.random_range(0..DIGITS))
            .collect();
        let asked = rng.random_range(0..self.pairs);
        let mut ids = Vec::with_capacity(self.steps());
        for i in 0..self.pairs {
            ids.push(letters[i]);
            ids.push(FIRST_DIGIT + values[i]);
        }
        ids.extend(std::iter::repeat_n(FILLER, self.fillers));
        ids.push(SEPARATOR);
        ids.push(letters[asked]);
        let mut targets = vec![None; self.steps()];
        targets[self.query_step()] = Some(values[asked]);
        Sequence {
            inputs: SequenceInputs::Tokens(ids),
            targets: SequenceTargets::Classes(targets),
        }
    }

    /// Evidence = the queried key's step (its value follows one step later).
    fn dependencies(&self, seq: &Sequence) -> Vec<Dependency> {
        let Some(ids) = seq.tokens() else {
            return Vec::new();
        };
        self.asked_key_step(ids)
            .map(|key| Dependency {
                target_step: self.query_step(),
                evidence_step: key,
            })
            .into_iter()
            .collect()
    }

    fn check_content(&self, seq: &Sequence) -> std::result::Result<(), String> {
        let Some(ids) = seq.tokens() else {
            return Ok(());
        };
        let name = |id: usize| self.inputs.name(id).to_string();
        let mut seen = [false; LETTERS];
        for i in 0..self.pairs {
            let (key, value) = (ids[2 * i], ids[2 * i + 1]);
            if key >= LETTERS {
                return Err(format!(
                    "step {}: expected a letter key, found {:?}",
                    2 * i,
                    name(key)
                ));
            }
            if std::mem::replace(&mut seen[key], true) {
                return Err(format!(
                    "step {}: key {:?} appears twice; keys must be distinct",
                    2 * i,
                    name(key)
                ));
            }
            if !(FIRST_DIGIT..FILLER).contains(&value) {
                return Err(format!(
                    "step {}: expected a digit value, found {:?}",
                    2 * i + 1,
                    name(value)
                ));
            }
        }
        let fillers = 2 * self.pairs..self.query_step() - 1;
        for (t, &id) in ids.iter().enumerate().take(fillers.end).skip(fillers.start) {
            if id != FILLER {
                return Err(format!(
                    "step {t}: expected the filler \".\", found {:?}",
                    name(id)
                ));
            }
        }
        let separator = self.query_step() - 1;
        if ids[separator] != SEPARATOR {
            return Err(format!(
                "step {separator}: expected the separator \"??\", found {:?}",
                name(ids[separator])
            ));
        }
        let Some(key_step) = self.asked_key_step(ids) else {
            return Err(format!(
                "step {}: the query {:?} is not one of the keys",
                self.query_step(),
                name(ids[self.query_step()])
            ));
        };
        let value = ids[key_step + 1] - FIRST_DIGIT;
        if seq.class_at(self.query_step()) != Some(value) {
            return Err(format!(
                "step {}: target must be {value}, the value of the queried key",
                self.query_step()
            ));
        }
        Ok(())
    }

    fn memoryless(&self, _step: usize) -> MemorylessOutput {
        MemorylessOutput::uniform(DIGITS)
    }

    fn baseline(&self) -> Baseline {
        Baseline::uniform_guess(DIGITS)
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

    fn render(&self, seq: &Sequence, _lang: Lang) -> String {
        let inputs: String = seq
            .tokens()
            .unwrap_or(&[])
            .iter()
            .map(|&id| self.inputs.name(id))
            .collect();
        let answer = seq
            .class_at(self.query_step())
            .map_or("?", |c| self.classes.name(c));
        format!("{inputs} → {answer}")
    }
}
