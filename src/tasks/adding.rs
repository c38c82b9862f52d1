//! The adding problem (Le, Jaitly & Hinton 2015; Arjovsky et al. 2016).
//!
//! Input: T steps of (value, marker), values from U[0, 1]; marker 1 at one step of the first half
//! (steps 0..T/2) and one of the second half (T/2..T), 0 elsewhere. Target at the last step: the sum
//! of the two marked values; squared error. Always predicting 1 scores MSE 1/6 (the variance of a
//! sum of two uniforms). A sequence is correct when |error| < 0.04.

use super::{
    invalid, Baseline, Dependency, InputKind, Lang, MemorylessOutput, OutputKind, Sequence,
    SequenceInputs, SequenceTargets, Solved, TaskDef, TaskSpec, Vocabulary,
};
use crate::error::Result;
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

/// |error| below this counts as correct (Hochreiter & Schmidhuber's criterion).
pub const TOLERANCE: f64 = 0.04;
/// Largest difference between a file's target and the sum of its marked values.
const SUM_SLACK: f64 = 1e-6;

#[derive(Debug)]
pub(crate) struct Adding {
    steps: usize,
}

impl Adding {
    pub(crate) fn new(spec: &TaskSpec) -> Result<Adding> {
        if spec.length < 2 {
            return Err(invalid(
                "length",
                "adding needs length ≥ 2 (one marker in each half)",
            ));
        }
        Ok(Adding { steps: spec.length })
    }

    fn half(&self) -> usize {
        self.steps / 2
    }

    /// The marked steps of a sequence, ascending.
    fn markers(seq: &Sequence) -> Vec<usize> {
        match &seq.inputs {
            SequenceInputs::Dense(rows) => rows
                .iter()
                .enumerate()
                .filter(|(_, row)| row.get(1) == Some(&1.0))
                .map(|(t, _)| t)
                .collect(),
            SequenceInputs::Tokens(_) => Vec::new(),
        }
    }
}

impl TaskDef for Adding {
    fn steps(&self) -> usize {
        self.steps
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Dense { width: 2 }
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Values { width: 1 }
    }

    fn loss_steps(&self) -> Vec<usize> {
        vec![self.steps - 1]
    }

    fn probe_step(&self) -> usize {
        self.steps - 1
    }

    fn generate(&self, rng: &mut ChaCha8Rng) -> Sequence {
        let values: Vec<f64> = (0..self.steps).map(|_| rng.random::<f64>()).collect();
        let first = rng.random_range(0..self.half());
        let second = rng.random_range(self.half()..self.steps);
        let inputs = values
            .iter()
            .enumerate()
            .map(|(t, &v)| vec![v, if t == first || t == second { 1.0 } else { 0.0 }])
            .collect();
        let mut targets = vec![None; self.steps];
        targets[self.steps - 1] = Some(vec![values[first] + values[second]]);
        Sequence {
            inputs: SequenceInputs::Dense(inputs),
            targets: SequenceTargets::Values(targets),
        }
    }

    /// Evidence = the first marker: the farther of the two marked values.
    fn dependencies(&self, seq: &Sequence) -> Vec<Dependency> {
        Adding::markers(seq)
            .first()
            .map(|&first| Dependency {
                target_step: self.steps - 1,
                evidence_step: first,
            })
            .into_iter()
            .collect()
    }

    fn check_content(&self, seq: &Sequence) -> std::result::Result<(), String> {
        let (SequenceInputs::Dense(rows), SequenceTargets::Values(targets)) =
            (&seq.inputs, &seq.targets)
        else {
            return Ok(());
        };
        for (t, row) in rows.iter().enumerate() {
            if !(0.0..=1.0).contains(&row[0]) {
                return Err(format!("step {t}: value {} is outside [0, 1]", row[0]));
            }
            if row[1] != 0.0 && row[1] != 1.0 {
                return Err(format!("step {t}: marker {} is neither 0 nor 1", row[1]));
            }
        }
        let markers = Adding::markers(seq);
        let half = self.half();
        if markers.len() != 2 || markers[0] >= half || markers[1] < half {
            return Err(format!(
                "markers at steps {markers:?}; adding needs exactly one in steps 0..{half} and one in {half}..{}",
                self.steps
            ));
        }
        let sum = rows[markers[0]][0] + rows[markers[1]][0];
        let target = targets[self.steps - 1].as_ref().map_or(f64::NAN, |v| v[0]);
        if (target - sum).abs() > SUM_SLACK {
            return Err(format!(
                "step {}: target {target} is not the sum of the marked values, {sum}",
                self.steps - 1
            ));
        }
        Ok(())
    }

    fn memoryless(&self, _step: usize) -> MemorylessOutput {
        MemorylessOutput::Values(vec![1.0])
    }

    /// Predicting 1: MSE = Var(X₁ + X₂) = 2/12; P(|X₁ + X₂ − 1| < a) = 1 − (1 − a)² for the
    /// triangular density of the sum.
    fn baseline(&self) -> Baseline {
        Baseline {
            loss: 1.0 / 6.0,
            accuracy: 1.0 - (1.0 - TOLERANCE) * (1.0 - TOLERANCE),
        }
    }

    fn default_solved(&self) -> Solved {
        Solved::MseAtMost(0.01)
    }

    fn value_tolerance(&self) -> f64 {
        TOLERANCE
    }

    fn input_vocabulary(&self) -> Option<&Vocabulary> {
        None
    }

    fn class_vocabulary(&self) -> Option<&Vocabulary> {
        None
    }

    /// `(0.31,0) (0.72,1) … → 1.03`, values to two decimals.
    fn render(&self, seq: &Sequence, _lang: Lang) -> String {
        let (SequenceInputs::Dense(rows), SequenceTargets::Values(targets)) =
            (&seq.inputs, &seq.targets)
        else {
            return String::new();
        };
        let pairs: Vec<String> = rows
            .iter()
            .map(|r| format!("({:.2},{})", r[0], r[1]))
            .collect();
        let answer = targets
            .iter()
            .flatten()
            .map(|v| format!("{:.2}", v[0]))
            .collect::<Vec<_>>()
            .join(" ");
        format!("{} → {answer}", pairs.join(" "))
    }
}
