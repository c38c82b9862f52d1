//! One sequence of a task: what is read at each step and what is expected at the loss steps.

use super::{InputKind, OutputKind, Task};

/// One sequence: T input steps and T target slots; a target slot is `Some` exactly at the steps
/// that carry a loss. [`Task::check_sequence`] checks a sequence against its task.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    pub inputs: SequenceInputs,
    pub targets: SequenceTargets,
}

/// Inputs of one sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum SequenceInputs {
    /// (T) token ids.
    Tokens(Vec<usize>),
    /// (T, I) real vectors, one per step.
    Dense(Vec<Vec<f64>>),
}

/// Targets of one sequence; `None` at steps without a loss.
#[derive(Debug, Clone, PartialEq)]
pub enum SequenceTargets {
    /// (T) class ids.
    Classes(Vec<Option<usize>>),
    /// (T, O) real vectors.
    Values(Vec<Option<Vec<f64>>>),
}

impl Sequence {
    /// T: the number of input steps.
    pub fn len(&self) -> usize {
        match &self.inputs {
            SequenceInputs::Tokens(ids) => ids.len(),
            SequenceInputs::Dense(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of target slots (equal to [`Sequence::len`] in a well-formed sequence).
    pub fn target_len(&self) -> usize {
        match &self.targets {
            SequenceTargets::Classes(ids) => ids.len(),
            SequenceTargets::Values(rows) => rows.len(),
        }
    }

    /// Whether step `t` has a target (carries a loss).
    pub fn has_target(&self, t: usize) -> bool {
        match &self.targets {
            SequenceTargets::Classes(ids) => ids.get(t).is_some_and(Option::is_some),
            SequenceTargets::Values(rows) => rows.get(t).is_some_and(Option::is_some),
        }
    }

    /// The token ids, if this is a token sequence.
    pub fn tokens(&self) -> Option<&[usize]> {
        match &self.inputs {
            SequenceInputs::Tokens(ids) => Some(ids),
            SequenceInputs::Dense(_) => None,
        }
    }

    /// The class target at step `t`, if any.
    pub fn class_at(&self, t: usize) -> Option<usize> {
        match &self.targets {
            SequenceTargets::Classes(ids) => ids.get(t).copied().flatten(),
            SequenceTargets::Values(_) => None,
        }
    }
}

/// Checks everything about a sequence that follows from the task's kinds and mask alone.
pub(crate) fn check_shape(task: &Task, seq: &Sequence) -> Result<(), String> {
    let steps = task.steps();
    if seq.len() != steps {
        return Err(format!(
            "{} input steps, but {} with this length has {steps}",
            seq.len(),
            task.kind()
        ));
    }
    if seq.target_len() != seq.len() {
        return Err(format!(
            "{} input steps but {} target slots; they must agree",
            seq.len(),
            seq.target_len()
        ));
    }
    match (&seq.inputs, task.input_kind()) {
        (SequenceInputs::Tokens(ids), InputKind::Tokens { vocab }) => {
            if let Some((t, id)) = ids.iter().enumerate().find(|(_, &id)| id >= vocab) {
                return Err(format!(
                    "step {t}: token id {id} is outside the vocabulary of {vocab}"
                ));
            }
        }
        (SequenceInputs::Dense(rows), InputKind::Dense { width }) => {
            for (t, row) in rows.iter().enumerate() {
                if row.len() != width {
                    return Err(format!(
                        "step {t}: {} input values, expected {width}",
                        row.len()
                    ));
                }
                if row.iter().any(|v| !v.is_finite()) {
                    return Err(format!("step {t}: input value is not finite"));
                }
            }
        }
        (SequenceInputs::Tokens(_), InputKind::Dense { .. }) => {
            return Err(format!(
                "{} reads real vectors (Dense), not Tokens",
                task.kind()
            ))
        }
        (SequenceInputs::Dense(_), InputKind::Tokens { .. }) => {
            return Err(format!(
                "{} reads Tokens, not real vectors (Dense)",
                task.kind()
            ))
        }
    }
    match (&seq.targets, task.output_kind()) {
        (SequenceTargets::Classes(ids), OutputKind::Classes { count: classes }) => {
            if let Some((t, id)) = ids
                .iter()
                .enumerate()
                .find_map(|(t, id)| id.filter(|&id| id >= classes).map(|id| (t, id)))
            {
                return Err(format!(
                    "step {t}: class {id} is outside the {classes} classes"
                ));
            }
        }
        (SequenceTargets::Values(rows), OutputKind::Values { width }) => {
            for (t, row) in rows.iter().enumerate() {
                if let Some(row) = row {
                    if row.len() != width {
                        return Err(format!(
                            "step {t}: {} target values, expected {width}",
                            row.len()
                        ));
                    }
                    if row.iter().any(|v| !v.is_finite()) {
                        return Err(format!("step {t}: target value is not finite"));
                    }
                }
            }
        }
        (SequenceTargets::Classes(_), OutputKind::Values { .. }) => {
            return Err(format!(
                "{} has real-valued targets (Values), not Classes",
                task.kind()
            ))
        }
        (SequenceTargets::Values(_), OutputKind::Classes { .. }) => {
            return Err(format!(
                "{} has class targets (Classes), not Values",
                task.kind()
            ))
        }
    }
    let mask = task.loss_mask();
    for (t, &carries_loss) in mask.iter().enumerate() {
        match (carries_loss, seq.has_target(t)) {
            (false, true) => {
                return Err(format!(
                    "step {t}: a target at a step without loss ({})",
                    loss_steps_text(task)
                ))
            }
            (true, false) => {
                return Err(format!(
                    "step {t}: no target at a step with loss ({})",
                    loss_steps_text(task)
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn loss_steps_text(task: &Task) -> String {
    let steps = task.loss_steps();
    match steps.as_slice() {
        [only] => format!("{} has a loss only at step {only}", task.kind()),
        [first, .., last] if steps.len() == last - first + 1 => {
            format!("{} has a loss at steps {first}..={last}", task.kind())
        }
        _ => format!("{} has a loss at steps {steps:?}", task.kind()),
    }
}
