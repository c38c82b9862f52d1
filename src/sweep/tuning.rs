//! Tuned options: the validation metric, the candidate values of a group, and the value
//! [`TUNING_RULE`] chooses for each group (with the choice as text and as a table).

use super::experiment::{canonical_text, Experiment};
use super::groups::group_label;
use super::results::ResultRow;
use crate::report::table::Table;
use crate::tasks::Solved;

/// The selection rule for tuned options, as the report states it.
pub const TUNING_RULE: &str = "For each group (every varied option except the tuned ones, length and seed; per task), the value of the tuned option(s) chosen is the one whose runs have the best mean validation score over all of the group's lengths and seeds together: the highest mean validation accuracy, or, for a task solved by mean squared error (adding), the lowest mean validation MSE. One value per group, not one per length: choosing per length with few seeds picks each length's luckiest value and flatters every cell. Ties (means equal to 12 significant digits) go to the smaller value (for an option whose values are not all numbers, the one listed first); with several tuned options, candidates are ordered option by option in the order of results.csv's columns. A diverged run's NaN validation accuracy counts as 0 and its NaN MSE as +∞. The validation set is eval-size sequences generated from the run's seed through a stream of their own, never the evaluation sequences; evaluation numbers are never used to choose. Every table, L50 and verdict then uses only the chosen runs (compare --all-values shows every value, the tuned option then being part of the group).";

/// The validation number tuned options are chosen by: the task's solved metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationMetric {
    /// `val_accuracy`, higher is better.
    Accuracy,
    /// `val_loss` (mean squared error), lower is better.
    Mse,
}

impl ValidationMetric {
    /// The metric of a task's `Solved` rule.
    pub fn of(solved: Solved) -> ValidationMetric {
        match solved {
            Solved::AccuracyAtLeast(_) => ValidationMetric::Accuracy,
            Solved::MseAtMost(_) => ValidationMetric::Mse,
        }
    }

    /// The row's validation score; `None` when the row has none (a results file written before
    /// validation existed). NaN (a diverged run) is the worst score: accuracy 0, MSE +∞.
    pub fn score(self, row: &ResultRow) -> Option<f64> {
        match self {
            ValidationMetric::Accuracy => {
                row.metric_f64("val_accuracy")
                    .map(|a| if a.is_nan() { 0.0 } else { a })
            }
            ValidationMetric::Mse => {
                row.metric_f64("val_loss")
                    .map(|l| if l.is_nan() { f64::INFINITY } else { l })
            }
        }
    }

    /// `mean validation accuracy (higher is better)`.
    pub fn text(self) -> &'static str {
        match self {
            ValidationMetric::Accuracy => "mean validation accuracy (higher is better)",
            ValidationMetric::Mse => "mean validation MSE (lower is better)",
        }
    }

    /// Whether `a` is a strictly better score than `b` (beyond 12 significant digits).
    pub fn better(self, a: f64, b: f64) -> bool {
        let tie = a == b
            || (a.is_finite()
                && b.is_finite()
                && (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0));
        !tie && match self {
            ValidationMetric::Accuracy => a > b,
            ValidationMetric::Mse => a < b,
        }
    }
}

/// One candidate value (or combination of values) of the tuned options within a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// (option, value) per tuned option, in column order.
    pub values: Vec<(String, String)>,
    /// The group's finished runs at these values.
    pub runs: usize,
    /// Their mean validation score over every length and seed (`None`: no run has one).
    pub mean_score: Option<f64>,
}

impl Candidate {
    /// `lr=0.003`, or `lr=0.003 clip=1` with several tuned options.
    pub fn label(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn matches(&self, row: &ResultRow) -> bool {
        self.values
            .iter()
            .all(|(k, v)| canonical_text(row.option(k).unwrap_or("")) == *v)
    }
}

/// The choice for one group.
#[derive(Debug, Clone, PartialEq)]
pub struct TunedGroup {
    /// The group's label without the tuned options.
    pub group: String,
    /// Every candidate, in tie-break order (the first of equal scores wins).
    pub candidates: Vec<Candidate>,
    /// The index of the chosen candidate.
    pub chosen: usize,
    /// False when no candidate has a validation score: the first candidate with runs is taken.
    pub by_validation: bool,
}

impl TunedGroup {
    pub fn chosen(&self) -> &Candidate {
        &self.candidates[self.chosen]
    }
}

/// The tuned options of one task and the value chosen for each group.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    pub options: Vec<String>,
    pub metric: ValidationMetric,
    pub groups: Vec<TunedGroup>,
    /// Whether the tables show every value (`--all-values`) rather than the chosen ones.
    pub all_values: bool,
}

/// The index of the best mean score under [`TUNING_RULE`]: `means` in tie-break order, a
/// candidate replaces the best so far only when strictly better. `None` when no mean exists.
pub fn choose(metric: ValidationMetric, means: &[Option<f64>]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, m) in means.iter().enumerate() {
        if let Some(m) = *m {
            if best.is_none_or(|(_, b)| metric.better(m, b)) {
                best = Some((i, m));
            }
        }
    }
    best.map(|(i, _)| i)
}

/// Every combination of the tuned options' values in tie-break order: per option, ascending when
/// all its values are numbers, else as listed; the first option varies slowest.
fn tune_candidates(exp: &Experiment) -> Vec<Vec<(String, String)>> {
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in exp.tuned_axes() {
        let mut values = exp.axis_values(axis);
        let numbers: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok()).collect();
        if let Some(numbers) = numbers {
            let mut pairs: Vec<(f64, String)> = numbers.into_iter().zip(values).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            values = pairs.into_iter().map(|(_, v)| v).collect();
        }
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((axis.to_string(), v.clone()));
                    c
                })
            })
            .collect();
    }
    combos
}

/// Applies [`TUNING_RULE`] to one task's rows.
pub(crate) fn choose_tuned(
    exp: &Experiment,
    metric: ValidationMetric,
    rows: &[&ResultRow],
    base_cols: &[String],
    all_values: bool,
) -> Tuning {
    let combos = tune_candidates(exp);
    let mut labels: Vec<String> = Vec::new();
    for r in rows {
        let g = group_label(r, base_cols);
        if !labels.contains(&g) {
            labels.push(g);
        }
    }
    let groups = labels
        .into_iter()
        .map(|group| {
            let in_group: Vec<&ResultRow> = rows
                .iter()
                .copied()
                .filter(|r| group_label(r, base_cols) == group)
                .collect();
            let candidates: Vec<Candidate> = combos
                .iter()
                .map(|values| {
                    let mut c = Candidate {
                        values: values.clone(),
                        runs: 0,
                        mean_score: None,
                    };
                    let sel: Vec<&ResultRow> =
                        in_group.iter().copied().filter(|r| c.matches(r)).collect();
                    let scores: Vec<f64> = sel.iter().filter_map(|r| metric.score(r)).collect();
                    c.runs = sel.len();
                    c.mean_score = (!scores.is_empty())
                        .then(|| scores.iter().sum::<f64>() / scores.len() as f64);
                    c
                })
                .collect();
            let means: Vec<Option<f64>> = candidates.iter().map(|c| c.mean_score).collect();
            let (chosen, by_validation) = match choose(metric, &means) {
                Some(i) => (i, true),
                None => (
                    candidates.iter().position(|c| c.runs > 0).unwrap_or(0),
                    false,
                ),
            };
            TunedGroup {
                group,
                candidates,
                chosen,
                by_validation,
            }
        })
        .collect();
    Tuning {
        options: exp.tuned_axes().iter().map(|s| s.to_string()).collect(),
        metric,
        groups,
        all_values,
    }
}

impl Tuning {
    /// Whether `row` is a run at its group's chosen value.
    pub(crate) fn is_chosen(&self, row: &ResultRow, base_cols: &[String]) -> bool {
        let g = group_label(row, base_cols);
        self.groups
            .iter()
            .find(|t| t.group == g)
            .is_some_and(|t| t.chosen().matches(row))
    }
}

/// `0.5312`, `2.1e-4`: a mean validation score.
fn format_score(x: f64) -> String {
    if x != 0.0 && x.is_finite() && x.abs() < 1e-3 {
        format!("{x:.1e}")
    } else {
        format!("{x:.4}")
    }
}

impl Tuning {
    /// `lr`, or `lr and clip`.
    pub(crate) fn options_text(&self) -> String {
        self.options.join(" and ")
    }

    /// The heading line of the choice table.
    pub fn heading(&self, task: &str) -> String {
        format!(
            "task {task}: tuned {}, one value per group chosen on the validation set by {} over all lengths and seeds (ties → the smaller value)",
            self.options_text(),
            self.metric.text()
        )
    }

    /// What the tables below show, and a warning when a group's candidates have different numbers
    /// of finished runs (their means are then over different lengths or seeds).
    pub fn scope_text(&self) -> String {
        let uneven: Vec<&str> = self
            .groups
            .iter()
            .filter(|g| g.candidates.windows(2).any(|w| w[0].runs != w[1].runs))
            .map(|g| g.group.as_str())
            .collect();
        let warning = if uneven.is_empty() {
            String::new()
        } else {
            format!(
                " Warning: in {}, the candidates have different numbers of finished runs (a sweep still running?), so their means are over different runs.",
                uneven.join(", ")
            )
        };
        let scope = if self.all_values {
            format!(
                "--all-values: the tables below show every value of {} (as part of the group), not only the chosen ones.",
                self.options_text()
            )
        } else {
            format!(
                "The tables, L50 and verdicts below use each group's runs at its chosen value only; compare --all-values shows every value of {}.",
                self.options_text()
            )
        };
        scope + &warning
    }

    /// Per group: every candidate's mean validation score and run count, and the choice.
    pub(crate) fn table(&self) -> Table {
        let mut header = vec!["group".to_string()];
        if let Some(first) = self.groups.first() {
            header.extend(first.candidates.iter().map(Candidate::label));
        }
        header.push("chosen".into());
        Table {
            header,
            rows: self
                .groups
                .iter()
                .map(|g| {
                    let mut row = vec![g.group.clone()];
                    row.extend(g.candidates.iter().map(|c| match c.mean_score {
                        Some(m) => format!(
                            "{} ({} run{})",
                            format_score(m),
                            c.runs,
                            if c.runs == 1 { "" } else { "s" }
                        ),
                        None if c.runs > 0 => format!("no validation score ({} runs)", c.runs),
                        None => "–".into(),
                    }));
                    row.push(if g.by_validation {
                        let best = g.chosen().mean_score;
                        let tied = g.candidates.iter().enumerate().any(|(i, c)| {
                            i != g.chosen
                                && matches!((c.mean_score, best), (Some(m), Some(b))
                                    if !self.metric.better(m, b) && !self.metric.better(b, m))
                        });
                        if tied {
                            format!("{} (tie: the smaller value)", g.chosen().label())
                        } else {
                            g.chosen().label()
                        }
                    } else {
                        format!(
                            "{} (no validation scores: first with runs)",
                            g.chosen().label()
                        )
                    });
                    row
                })
                .collect(),
        }
    }
}
