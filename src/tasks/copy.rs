//! The copy task (Arjovsky, Shah & Bengio 2016).
//!
//! Input (T + 20 steps): 10 symbols from 1..=8, T − 1 blanks (0), the delimiter (9), 10 blanks.
//! Target: blank for the first T + 10 steps, then the 10 symbols. Loss at every step (the paper's
//! setup); accuracy over the 10 recalled symbols. A memoryless predictor outputs blanks, then a
//! uniform guess among the 8 symbols: mean cross-entropy 10·ln 8 / (T + 20).

use super::{
    invalid, Baseline, Dependency, InputKind, Lang, MemorylessOutput, OutputKind, Sequence,
    SequenceInputs, SequenceTargets, Solved, TaskDef, TaskSpec, Vocabulary,
};
use crate::error::Result;
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Symbols to copy.
pub const SYMBOLS: usize = 10;
/// Alphabet size: symbols are token ids 1..=8.
pub const ALPHABET: usize = 8;
const BLANK: usize = 0;
const DELIMITER: usize = 9;
/// Inputs: blank, 8 symbols, delimiter.
const VOCAB: usize = 10;
/// Outputs: blank and the 8 symbols (the delimiter is never a target).
const CLASSES: usize = 9;

#[derive(Debug)]
pub(crate) struct Copy {
    /// T: the gap between the last symbol and the delimiter is T − 1 blanks.
    gap: usize,
    inputs: Vocabulary,
    classes: Vocabulary,
}

impl Copy {
    pub(crate) fn new(spec: &TaskSpec) -> Result<Copy> {
        if spec.length == 0 {
            return Err(invalid(
                "length",
                "copy needs length ≥ 1 (T − 1 blanks before the delimiter)",
            ));
        }
        super::steps_after(spec.length, 2 * SYMBOLS)?;
        let names = ["-", "1", "2", "3", "4", "5", "6", "7", "8", ":"];
        Ok(Copy {
            gap: spec.length,
            inputs: Vocabulary::new(names),
            classes: Vocabulary::new(names[..CLASSES].iter().copied()),
        })
    }

    /// The step of the first recalled symbol: T + 10.
    fn first_recall(&self) -> usize {
        self.gap + SYMBOLS
    }
}

impl TaskDef for Copy {
    fn steps(&self) -> usize {
        self.gap + 2 * SYMBOLS
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Tokens { vocab: VOCAB }
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Classes { count: CLASSES }
    }

    fn loss_steps(&self) -> Vec<usize> {
        (0..self.steps()).collect()
    }

    fn scored_steps(&self) -> Vec<usize> {
        (self.first_recall()..self.steps()).collect()
    }

    fn probe_step(&self) -> usize {
        self.first_recall()
    }

    fn generate(&self, rng: &mut ChaCha8Rng) -> Sequence {
        let symbols: Vec<usize> = (0..SYMBOLS)
            .map(|_| rng.random_range(1..=ALPHABET))
            .collect();
        let mut inputs = vec![BLANK; self.steps()];
        inputs[..SYMBOLS].copy_from_slice(&symbols);
        inputs[self.first_recall() - 1] = DELIMITER;
        let mut targets = vec![Some(BLANK); self.steps()];
        for (k, &s) in symbols.iter().enumerate() {
            targets[self.first_recall() + k] = Some(s);
        }
        Sequence {
            inputs: SequenceInputs::Tokens(inputs),
            targets: SequenceTargets::Classes(targets),
        }
    }

    fn dependencies(&self, _seq: &Sequence) -> Vec<Dependency> {
        (0..SYMBOLS)
            .map(|k| Dependency {
                target_step: self.first_recall() + k,
                evidence_step: k,
            })
            .collect()
    }

    fn check_content(&self, seq: &Sequence) -> std::result::Result<(), String> {
        let Some(ids) = seq.tokens() else {
            return Ok(());
        };
        for (t, &id) in ids.iter().enumerate() {
            let expected = if t < SYMBOLS {
                if !(1..=ALPHABET).contains(&id) {
                    return Err(format!(
                        "step {t}: expected a symbol 1..8, found {:?}",
                        self.inputs.name(id)
                    ));
                }
                continue;
            } else if t == self.first_recall() - 1 {
                DELIMITER
            } else {
                BLANK
            };
            if id != expected {
                return Err(format!(
                    "step {t}: expected {:?}, found {:?}",
                    self.inputs.name(expected),
                    self.inputs.name(id)
                ));
            }
        }
        for t in 0..self.steps() {
            let expected = if t < self.first_recall() {
                BLANK
            } else {
                ids[t - self.first_recall()]
            };
            if seq.class_at(t) != Some(expected) {
                return Err(format!(
                    "step {t}: target must be {:?} (blank, then the 10 symbols)",
                    self.classes.name(expected)
                ));
            }
        }
        Ok(())
    }

    fn memoryless(&self, step: usize) -> MemorylessOutput {
        let mut p = vec![0.0; CLASSES];
        if step < self.first_recall() {
            p[BLANK] = 1.0;
        } else {
            p[1..=ALPHABET].fill(1.0 / ALPHABET as f64);
        }
        MemorylessOutput::Probabilities(p)
    }

    fn baseline(&self) -> Baseline {
        Baseline {
            loss: SYMBOLS as f64 * (ALPHABET as f64).ln() / self.steps() as f64,
            accuracy: 1.0 / ALPHABET as f64,
        }
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
        let targets: String = (0..seq.len())
            .map(|t| seq.class_at(t).map_or("?", |c| self.classes.name(c)))
            .collect();
        format!("{inputs} → {targets}")
    }
}
