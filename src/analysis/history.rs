//! Learning over time: the gradient profile and the signal at the source at regular training
//! steps, and a reading of when the signal rose against when eval accuracy jumped. Accuracy comes
//! from the run's own evaluations (every `eval_every` steps): an extra evaluation of the eval set
//! at every history point would cost more than the point itself.
//!
//! A history point is cheaper than a full gradient probe: one forward and backward pass for the
//! profile ([`gradient_rows_in`], the same numbers as the full report's `grad_h`),
//! which also gives the signal at the source when every target is at the probe step (tanaka,
//! recall, adding; copy takes one more pass per other target step, [`source_signal_in`]),
//! no diagnostics and no theory line.

use std::fmt::Write as _;

use std::collections::BTreeSet;

use super::gradient_report::{
    gradient_rows_in, signal_sources, summarise_source_signal, SourceSignal,
};
use crate::batch::Batch;
use crate::error::Result;
use crate::network::{Network, Workspace};
use crate::tasks::{Dependency, Sequence, Task};

/// What `history_every: None` (auto) aims at: at most about this many points over the configured
/// steps.
pub const AUTO_HISTORY_PROBES: usize = 200;
/// Auto never probes more often than every this many training steps per forward and backward pass
/// a point takes, so the history costs about one f64 pass per ten training steps at most.
pub const AUTO_STEPS_PER_PASS: usize = 10;

/// The auto interval: every max(⌊steps / 200⌋, 10·passes) steps (at least 1), with `passes` the
/// forward and backward passes one point takes ([`history_passes`]). The default run (2000 steps,
/// tanaka: one pass; it solves near step 300) gets a point every 10 steps, 31 in all; a copy run
/// of length 10 (10 passes) one every 100 steps.
pub fn auto_history_every(steps: usize, passes: usize) -> usize {
    (steps / AUTO_HISTORY_PROBES)
        .max(AUTO_STEPS_PER_PASS * passes)
        .max(1)
}

/// The forward and backward passes a history point takes on `sequences`: one for the profile,
/// plus one per target step of the signal at the source whose batch is not the profile's (copy:
/// one per recall step but the probe step; tanaka, recall and adding: none).
pub fn history_passes(task: &Task, sequences: &[Sequence]) -> usize {
    let deps: Vec<Vec<Dependency>> = sequences.iter().map(|s| signal_sources(task, s)).collect();
    let targets: BTreeSet<usize> = deps.iter().flatten().map(|d| d.target_step).collect();
    let p = task.probe_step();
    let shared = targets.contains(&p) && deps.iter().all(|d| d.iter().any(|d| d.target_step == p));
    1 + targets.len() - usize::from(shared)
}

/// One learning-over-time probe.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub step: usize,
    /// The eval set's loss and accuracy at this step (in the training precision), when the run
    /// evaluated at this step (step 0, every `eval_every` steps and the end).
    pub eval_loss: Option<f64>,
    pub eval_accuracy: Option<f64>,
    /// Per layer, mean ‖∂ℓ_b/∂h_t‖₂ by distance 0..=probe step (index = distance).
    pub grad_h: Vec<Vec<f64>>,
    /// Per layer, the signal at the task's sources.
    pub source_signal: Vec<SourceSignal>,
}

pub const GRADIENT_HISTORY_CSV_HEADER: &str = "step,layer,distance,grad_norm";
pub const SIGNAL_HISTORY_CSV_HEADER: &str =
    "step,layer,source_signal_mean,source_signal_geometric_mean,eval_loss,eval_accuracy";

impl HistoryPoint {
    /// Rows of `gradient_history.csv` (long format; floats in shortest round-trip form).
    pub fn gradient_csv_rows(&self) -> Vec<String> {
        self.grad_h
            .iter()
            .enumerate()
            .flat_map(|(l, by_distance)| {
                by_distance
                    .iter()
                    .enumerate()
                    .map(move |(d, g)| format!("{},{l},{d},{g:e}", self.step))
            })
            .collect()
    }

    /// Rows of `signal_history.csv`: one per layer (the eval numbers repeat on each; empty at steps
    /// without an evaluation).
    pub fn signal_csv_rows(&self) -> Vec<String> {
        self.source_signal
            .iter()
            .map(|s| {
                let geo = s
                    .geometric_mean
                    .map(|g| format!("{g:e}"))
                    .unwrap_or_default();
                let f = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
                format!(
                    "{},{},{:e},{geo},{},{}",
                    self.step,
                    s.layer,
                    s.mean,
                    f(self.eval_loss),
                    f(self.eval_accuracy)
                )
            })
            .collect()
    }
}

/// Measures a history point of `net` at training step `step`: the profile on `probe_batch` (loss
/// at `probe_step` only, as [`crate::train::trainer::probe_batch`] makes it) and the signal at
/// the sources of `sequences` (the probe batch's sequences). `eval` is the (loss, accuracy) the
/// caller measured on its eval set at this step, if it evaluated. `workspace` holds the pass's buffers from one call to the next.
#[allow(clippy::too_many_arguments)]
pub fn measure_history(
    net: &Network<f64>,
    workspace: &mut Workspace<f64>,
    probe_batch: &Batch<f64>,
    probe_step: usize,
    task: &Task,
    sequences: &[Sequence],
    step: usize,
    eval: Option<(f64, f64)>,
) -> Result<HistoryPoint> {
    let (rows, source) = gradient_rows_in(net, workspace, probe_batch, task, sequences, step)?;
    let layers = rows.iter().map(|r| r.layer + 1).max().unwrap_or(0);
    let mut grad_h = vec![vec![f64::NAN; probe_step + 1]; layers];
    for r in &rows {
        grad_h[r.layer][r.distance] = r.grad_h;
    }
    Ok(HistoryPoint {
        step,
        eval_loss: eval.map(|e| e.0),
        eval_accuracy: eval.map(|e| e.1),
        grad_h,
        source_signal: summarise_source_signal(&source),
    })
}

/// When a quantity crossed the middle of its rise: from `first` (its value at the first point)
/// to `peak` (its largest), the first step at which it reached `middle`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rise {
    pub first: f64,
    pub first_step: usize,
    pub peak: f64,
    pub peak_step: usize,
    pub middle: f64,
    /// The rise first → peak had to exceed to count (accuracy: a difference; the signal: a
    /// factor), from the noise rule of [`learning_story`].
    pub needed: f64,
    /// None when it did not rise enough to count (see [`learning_story`]).
    pub crossed_at: Option<usize>,
}

/// The signal at the source must grow by at least this factor (first point to peak) to count as
/// risen, and by more than its own noise ([`SIGNAL_NOISE_K`]).
pub const SIGNAL_RISE_FACTOR: f64 = 2.0;
/// Accuracy must grow by at least this much (first point to peak) to count as having jumped, and
/// by more than its binomial noise ([`ACCURACY_NOISE_K`]).
pub const ACCURACY_RISE: f64 = 0.05;
/// Accuracy's rise first → peak must exceed this many standard errors of the difference of two
/// binomial accuracies over the evaluation set: `sqrt(2·q(1 − q)/n)`, q the first accuracy
/// (clamped to [1/n, 1 − 1/n]), n the evaluation sequences. The peak is the largest of many
/// noisy evaluations, so 3 rather than 2.
pub const ACCURACY_NOISE_K: f64 = 3.0;
/// ln(peak/first) of the signal must exceed this many times its own step-to-step scatter: the
/// standard deviation of one change of ln signal between consecutive probes, estimated robustly
/// as 1.4826 × the median absolute deviation of those changes about their median (so a steady
/// trend is not counted as scatter).
pub const SIGNAL_NOISE_K: f64 = 4.0;

/// The rise of `points` `(step, value)`: the middle is the midpoint (`log` true: the geometric
/// midpoint) of first and peak; it counts when first → peak exceeds `needed` (a factor when
/// `log`, else a difference).
fn rise(points: &[(usize, f64)], log: bool, needed: impl Fn(f64) -> f64) -> Option<Rise> {
    let finite: Vec<(usize, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.1.is_finite() && (!log || p.1 > 0.0))
        .collect();
    let &(first_step, first) = finite.first()?;
    let &(peak_step, peak) = finite
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
    let middle = if log {
        (first * peak).sqrt()
    } else {
        (first + peak) / 2.0
    };
    let needed = needed(first);
    let counts = if log {
        peak >= needed * first
    } else {
        peak - first >= needed
    };
    let crossed_at = counts
        .then(|| finite.iter().find(|p| p.1 >= middle).map(|p| p.0))
        .flatten();
    Some(Rise {
        first,
        first_step,
        peak,
        peak_step,
        middle,
        needed,
        crossed_at,
    })
}

/// The standard deviation of one change of ln value between consecutive points: 1.4826 × the
/// median absolute deviation of the changes about their median (0 with fewer than two changes).
pub fn log_step_scatter(values: &[f64]) -> f64 {
    let logs: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite() && **v > 0.0)
        .map(|v| v.ln())
        .collect();
    let mut changes: Vec<f64> = logs.windows(2).map(|w| w[1] - w[0]).collect();
    if changes.len() < 2 {
        return 0.0;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let m = v.len() / 2;
        if v.len() % 2 == 1 {
            v[m]
        } else {
            (v[m - 1] + v[m]) / 2.0
        }
    };
    let centre = median(&mut changes);
    let mut deviations: Vec<f64> = changes.iter().map(|c| (c - centre).abs()).collect();
    1.4826 * median(&mut deviations)
}

/// The rise of the mean signal at the source of `layer` over `history`, and of eval accuracy over
/// `accuracy` `(step, accuracy)` (the run's evaluations, each over `eval_sequences` sequences),
/// each counted only outside its noise (see [`learning_story`]).
pub fn rises(
    history: &[HistoryPoint],
    accuracy: &[(usize, f64)],
    layer: usize,
    eval_sequences: usize,
) -> (Option<Rise>, Option<Rise>) {
    let signal: Vec<(usize, f64)> = history
        .iter()
        .filter_map(|p| {
            let s = p.source_signal.iter().find(|s| s.layer == layer)?;
            Some((p.step, s.mean))
        })
        .collect();
    let values: Vec<f64> = signal.iter().map(|p| p.1).collect();
    let signal_factor = (SIGNAL_NOISE_K * log_step_scatter(&values))
        .exp()
        .max(SIGNAL_RISE_FACTOR);
    let n = eval_sequences.max(1) as f64;
    (
        rise(&signal, true, |_| signal_factor),
        rise(accuracy, false, |first| {
            let q = first.clamp(1.0 / n, 1.0 - 1.0 / n);
            (ACCURACY_NOISE_K * (2.0 * q * (1.0 - q) / n).sqrt()).max(ACCURACY_RISE)
        }),
    )
}

/// One or two sentences that read the learning-over-time figures of `layer`: when the signal at
/// the source (mean over the probe sequences) rose, crossing the geometric midpoint of its first
/// value and its peak, against when eval accuracy (`accuracy`: the run's `(step, eval accuracy)`
/// over `eval_sequences` sequences) jumped, crossing the midpoint of its first value and its
/// peak, and which came first; then the rule. An event is claimed only outside the noise: the
/// signal must grow at least 2× and by more than [`SIGNAL_NOISE_K`] times its own step-to-step
/// scatter in log; accuracy by at least 0.05 and by more than [`ACCURACY_NOISE_K`] binomial
/// standard errors of a difference at `eval_sequences`. Every number is computed from the
/// arguments; None when `history` holds no signal at the source.
pub fn learning_story(
    history: &[HistoryPoint],
    accuracy: &[(usize, f64)],
    layer: usize,
    eval_sequences: usize,
) -> Option<String> {
    let (signal, accuracy) = rises(history, accuracy, layer, eval_sequences);
    let signal = signal?;
    let mut text = String::new();
    match signal.crossed_at {
        Some(at) => {
            let _ = write!(
                text,
                "The signal at the source rose from {:.2e} at step {} to {:.2e} at step {}, passing the geometric midpoint {:.2e} at step {at}",
                signal.first, signal.first_step, signal.peak, signal.peak_step, signal.middle
            );
        }
        None => {
            let _ = write!(
                text,
                "The signal at the source did not rise beyond its noise (from {:.2e} at step {} to at most {:.2e}, at step {})",
                signal.first, signal.first_step, signal.peak, signal.peak_step
            );
        }
    }
    match accuracy {
        Some(
            a @ Rise {
                crossed_at: Some(at),
                ..
            },
        ) => {
            let _ = write!(
                text,
                "; eval accuracy rose from {:.3} to {:.3} (step {}), passing the midpoint {:.3} at step {at}.",
                a.first, a.peak, a.peak_step, a.middle
            );
            if let Some(s) = signal.crossed_at {
                let order = match s.cmp(&at) {
                    std::cmp::Ordering::Less => {
                        format!(" The signal rose {} steps before accuracy jumped.", at - s)
                    }
                    std::cmp::Ordering::Greater => {
                        format!(" The signal rose {} steps after accuracy jumped.", s - at)
                    }
                    std::cmp::Ordering::Equal => {
                        " The signal rose and accuracy jumped at the same probe.".to_string()
                    }
                };
                text.push_str(&order);
            }
        }
        Some(a) => {
            let _ = write!(
                text,
                "; eval accuracy did not rise beyond its noise (from {:.3} to at most {:.3}).",
                a.first, a.peak
            );
        }
        None => text.push('.'),
    }
    let accuracy_rule = accuracy
        .map(|a| {
            format!(
                " and accuracy by more than {:.3} ({ACCURACY_NOISE_K} standard errors of the difference of two binomial accuracies over {eval_sequences} evaluation sequences, at least {ACCURACY_RISE})",
                a.needed
            )
        })
        .unwrap_or_default();
    let _ = write!(
        text,
        " An event is claimed only outside the noise: the signal must grow by more than ×{:.2} ({SIGNAL_NOISE_K} times its own step-to-step scatter in log, at least {SIGNAL_RISE_FACTOR}×){accuracy_rule}.",
        signal.needed
    );
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: usize, signal: f64, accuracy: f64) -> HistoryPoint {
        HistoryPoint {
            step,
            eval_loss: Some(1.0),
            eval_accuracy: Some(accuracy),
            grad_h: vec![vec![1.0, 0.5]],
            source_signal: vec![SourceSignal {
                layer: 0,
                sequences: 1,
                dependencies: 1,
                mean: signal,
                geometric_mean: Some(signal),
            }],
        }
    }

    fn accuracy(h: &[HistoryPoint]) -> Vec<(usize, f64)> {
        h.iter()
            .filter_map(|p| Some((p.step, p.eval_accuracy?)))
            .collect()
    }

    #[test]
    fn the_story_says_which_rose_first_from_the_numbers() {
        let h = vec![
            point(0, 1e-3, 0.1),
            point(10, 2e-3, 0.1),
            point(20, 5e-2, 0.2),
            point(30, 0.1, 0.9),
            point(40, 0.1, 1.0),
        ];
        let acc = accuracy(&h);
        let (s, a) = rises(&h, &acc, 0, 256);
        let s = s.unwrap();
        // geometric midpoint of 1e-3 and 0.1 is 1e-2: first reached at step 20
        assert!((s.middle - 1e-2).abs() < 1e-15);
        assert_eq!(s.crossed_at, Some(20));
        // midpoint of 0.1 and 1.0 is 0.55: first reached at step 30
        assert_eq!(a.unwrap().crossed_at, Some(30));
        let story = learning_story(&h, &acc, 0, 256).unwrap();
        assert!(story.contains("10 steps before accuracy jumped"), "{story}");
        assert!(learning_story(&h, &acc, 1, 256).is_none());
    }

    #[test]
    fn flat_curves_are_said_not_to_rise() {
        let h = vec![point(0, 1e-3, 0.5), point(10, 1.5e-3, 0.52)];
        let acc = accuracy(&h);
        let (s, a) = rises(&h, &acc, 0, 256);
        assert_eq!(s.unwrap().crossed_at, None);
        assert_eq!(a.unwrap().crossed_at, None);
        let story = learning_story(&h, &acc, 0, 256).unwrap();
        assert!(
            story.contains("signal at the source did not rise")
                && story.contains("accuracy did not rise"),
            "{story}"
        );
    }

    #[test]
    fn csv_rows_are_long_format() {
        let p = point(7, 0.25, 0.5);
        assert_eq!(p.gradient_csv_rows(), vec!["7,0,0,1e0", "7,0,1,5e-1"]);
        assert_eq!(p.signal_csv_rows(), vec!["7,0,2.5e-1,2.5e-1,1,0.5"]);
        let mut q = point(8, 0.25, 0.5);
        (q.eval_loss, q.eval_accuracy) = (None, None);
        assert_eq!(q.signal_csv_rows(), vec!["8,0,2.5e-1,2.5e-1,,"]);
        assert_eq!(auto_history_every(2000, 1), 10);
        assert_eq!(auto_history_every(50, 1), 10);
        assert_eq!(auto_history_every(400, 10), 100);
        assert_eq!(auto_history_every(100_000, 1), 500);
        assert_eq!(auto_history_every(0, 0), 1);
    }
}
