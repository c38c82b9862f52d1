//! `rnnlab compare`: which cell remembers how far, and how sure we are. Per task: a table of group
//! (the cell and any other varied option) × length with seeds solved k/n and its 95% Wilson
//! interval, one with accuracy over seeds and median steps to solve; per group L50 (the length where
//! a logistic fit of P(solved) against ln length crosses 1/2) with a bootstrap interval over seeds,
//! and the longest length solved in at least half the seeds; pairwise verdicts that rank two groups
//! only when a Holm-corrected one-sided Fisher exact test supports it at 95%; plots and a Markdown
//! report that states these rules.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::experiment::{canonical_text, Experiment, RunSpec, VARIANT_AXIS};
use super::plots::SweepPlots;
use super::results::{ResultRow, ResultsTable};
use super::runner::{read_results, run_dir, EXPERIMENT_FILE};
use crate::analysis::stats::{
    bootstrap_length_at_half, fisher_exact, format_length, holm_adjusted, length_at_half,
    wilson_95, BootstrapInterval, Interval, LengthAtHalf, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED,
};
use crate::error::{Error, Result};
use crate::outdir::write_atomic;
use crate::report::html::write_html_report;
use crate::tasks::{Solved, Task};

/// The statistics of one (group, length) cell over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct CellStats {
    pub runs: usize,
    pub mean_accuracy: f64,
    pub std_accuracy: f64,
    pub min_accuracy: f64,
    pub max_accuracy: f64,
    pub solved_fraction: f64,
    /// Runs with `solved = true` (diverged runs never are).
    pub solved_runs: usize,
    /// The 95% Wilson score interval of `solved_runs / runs`.
    pub solved_interval: Option<Interval>,
    pub median_steps_to_solve: Option<f64>,
    pub mean_decay_init: Option<f64>,
    pub mean_decay_final: Option<f64>,
    /// Mean over seeds of the signal at the source (layer 0), at initialisation and at the end.
    pub mean_source_signal_init: Option<f64>,
    pub mean_source_signal_final: Option<f64>,
    /// Runs whose final decay fit was rejected (not exponential): their ρ is left out of the mean.
    pub decay_not_exponential: usize,
    pub diverged: usize,
}

/// One task's comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskComparison {
    pub task: String,
    pub lengths: Vec<usize>,
    pub groups: Vec<String>,
    pub cells: BTreeMap<(String, usize), CellStats>,
    /// Per group: the longest length solved in at least half the seeds (no uncertainty attached;
    /// kept beside L50 for comparison with earlier reports).
    pub critical_length: BTreeMap<String, Option<usize>>,
    /// Per group: L50 and its bootstrap interval over seeds.
    pub length_at_half: BTreeMap<String, GroupLengthAtHalf>,
    /// One verdict per pair of groups, in group order.
    pub verdicts: Vec<PairVerdict>,
    /// Per group, the runs at the longest length (for the gradient plots).
    pub longest_runs: BTreeMap<String, Vec<RunSpec>>,
    /// When the experiment tunes options: the value chosen for each group and why.
    pub tuning: Option<Tuning>,
    /// The rows every number above is computed from (the chosen tuned values only, unless all
    /// values were asked for), in grid order, and the columns that name their groups.
    pub rows: Vec<ResultRow>,
    pub group_columns: Vec<String>,
}

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
fn choose_tuned(
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
    fn is_chosen(&self, row: &ResultRow, base_cols: &[String]) -> bool {
        let g = group_label(row, base_cols);
        self.groups
            .iter()
            .find(|t| t.group == g)
            .is_some_and(|t| t.chosen().matches(row))
    }
}

/// The significance level of every verdict and the coverage of every interval: 95%.
pub const ALPHA: f64 = 0.05;

/// L50 of one group: the length where P(solved) = 1/2.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupLengthAtHalf {
    /// From all the group's runs pooled.
    pub estimate: LengthAtHalf,
    /// Percentile bootstrap over seeds; `None` when the group has no run with a length.
    pub bootstrap: Option<BootstrapInterval>,
    /// The number of seeds resampled.
    pub seeds: usize,
}

/// One length's test between two groups.
#[derive(Debug, Clone, PartialEq)]
pub struct LengthTest {
    pub length: usize,
    /// (seeds solved, seeds) of the first group.
    pub first: (usize, usize),
    /// (seeds solved, seeds) of the second group.
    pub second: (usize, usize),
    /// One-sided Fisher exact p for "the first group solves more often".
    pub p_first_more: f64,
    /// One-sided Fisher exact p for "the second group solves more often".
    pub p_second_more: f64,
    /// `p_first_more` after the Holm correction over the pair's 2 × lengths tests.
    pub holm_first_more: f64,
    /// `p_second_more` after the Holm correction.
    pub holm_second_more: f64,
}

/// What the tests between two groups support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The first group solves more often at some length, and the second at none.
    FirstLonger,
    /// The second group solves more often at some length, and the first at none.
    SecondLonger,
    /// Each solves more often at some length: no single ranking.
    Conflicting,
    /// No test significant at 95% after the correction.
    NotDistinguishable,
}

/// The comparison of two groups of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct PairVerdict {
    pub first: String,
    pub second: String,
    pub verdict: Verdict,
    /// One per length both groups ran, ascending.
    pub tests: Vec<LengthTest>,
}

/// The columns that tell groups apart: the cell, and every varied option but task, length, seed
/// (and the tuned options, unless `with_tuned`).
fn group_columns(exp: &Experiment, with_tuned: bool) -> Vec<String> {
    let tuned = exp.tuned_axes();
    let mut cols = vec!["cell".to_string()];
    // variant first after the cell: it names the remedy being compared
    for a in exp.axes() {
        if !["task", "length", "seed", "cell"].contains(&a) && (with_tuned || !tuned.contains(&a)) {
            cols.push(a.to_string());
        }
    }
    cols
}

/// "cell option=value …"; a variant shows as its name alone when the name starts with the cell's
/// (`lstm-chrono`, not `lstm variant=lstm-chrono`), else as `cell name` (`rnn no-clip`).
fn group_label(row: &ResultRow, cols: &[String]) -> String {
    let cell = row.option("cell").unwrap_or("?");
    let mut parts = vec![cell.to_string()];
    for c in &cols[1..] {
        let value = row.option(c).unwrap_or("");
        if c == VARIANT_AXIS {
            if value == cell || value.starts_with(&format!("{cell}-")) {
                parts[0] = value.to_string();
            } else {
                parts.push(value.to_string());
            }
        } else {
            parts.push(format!("{c}={value}"));
        }
    }
    parts.join(" ")
}

/// Reads a sweep directory and computes the comparison of every task in it (tuned options at
/// their chosen values).
pub fn compare_dir(dir: &Path) -> Result<(Experiment, Vec<TaskComparison>)> {
    compare_dir_with(dir, false)
}

/// [`compare_dir`]; with `all_values` the tables show every value of the tuned options.
pub fn compare_dir_with(dir: &Path, all_values: bool) -> Result<(Experiment, Vec<TaskComparison>)> {
    let exp = Experiment::load(&dir.join(EXPERIMENT_FILE))?;
    let table = read_results(&exp, dir)?;
    if table.rows.is_empty() {
        return Err(Error::invalid(
            "compare",
            format!("{} has no finished runs yet", dir.display()),
        ));
    }
    Ok((exp.clone(), compare_table_with(&exp, &table, all_values)?))
}

/// The comparison of every task in `table`, each group at its chosen tuned value ([`TUNING_RULE`]).
pub fn compare_table(exp: &Experiment, table: &ResultsTable) -> Result<Vec<TaskComparison>> {
    compare_table_with(exp, table, false)
}

/// [`compare_table`]; with `all_values` every value of the tuned options is shown, as part of the
/// group (the choice is still computed and reported).
pub fn compare_table_with(
    exp: &Experiment,
    table: &ResultsTable,
    all_values: bool,
) -> Result<Vec<TaskComparison>> {
    let runs = exp.runs()?;
    let base_cols = group_columns(exp, false);
    let cols = group_columns(exp, all_values);
    let mut by_task: BTreeMap<String, Vec<&ResultRow>> = BTreeMap::new();
    for row in table.ordered() {
        by_task
            .entry(row.option("task").unwrap_or("?").to_string())
            .or_default()
            .push(row);
    }
    let mut out = Vec::new();
    for (task, all_rows) in by_task {
        let tuning = (!exp.tune.is_empty()).then(|| {
            // the direction of the task's solved rule (accuracy up, MSE down)
            let metric = runs
                .iter()
                .find(|r| r.config.task.task.to_string() == task)
                .and_then(|r| Task::new(r.config.task.clone()).ok())
                .map_or(ValidationMetric::Accuracy, |t| {
                    ValidationMetric::of(t.solved())
                });
            choose_tuned(exp, metric, &all_rows, &base_cols, all_values)
        });
        let rows: Vec<&ResultRow> = match &tuning {
            Some(t) if !all_values => all_rows
                .into_iter()
                .filter(|r| t.is_chosen(r, &base_cols))
                .collect(),
            _ => all_rows,
        };
        let mut lengths: Vec<usize> = rows
            .iter()
            .filter_map(|r| r.option("length")?.parse().ok())
            .collect();
        lengths.sort_unstable();
        lengths.dedup();
        let mut groups: Vec<String> = Vec::new();
        for r in &rows {
            let g = group_label(r, &cols);
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        let mut cells = BTreeMap::new();
        for g in &groups {
            for &l in &lengths {
                let sel: Vec<&&ResultRow> = rows
                    .iter()
                    .filter(|r| {
                        &group_label(r, &cols) == g && r.option("length") == Some(&l.to_string())
                    })
                    .collect();
                if !sel.is_empty() {
                    cells.insert((g.clone(), l), stats(&sel));
                }
            }
        }
        let critical_length = groups
            .iter()
            .map(|g| {
                let best = lengths.iter().rev().find(|&&l| {
                    cells
                        .get(&(g.clone(), l))
                        .is_some_and(|c: &CellStats| c.solved_fraction >= 0.5)
                });
                (g.clone(), best.copied())
            })
            .collect();
        let length_at_half = groups
            .iter()
            .map(|g| {
                let group_rows: Vec<&ResultRow> = rows
                    .iter()
                    .copied()
                    .filter(|r| &group_label(r, &cols) == g)
                    .collect();
                (g.clone(), group_length_at_half(&group_rows))
            })
            .collect();
        let mut verdicts = Vec::new();
        for (i, first) in groups.iter().enumerate() {
            for second in &groups[i + 1..] {
                verdicts.push(pair_verdict(&cells, &lengths, first, second));
            }
        }
        let longest = lengths.last().copied().unwrap_or(0);
        let mut longest_runs: BTreeMap<String, Vec<RunSpec>> = BTreeMap::new();
        for r in &rows {
            if r.option("length") == Some(&longest.to_string()) {
                let id = exp
                    .axes()
                    .iter()
                    .map(|a| format!("{a}={}", r.option(a).unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",");
                if let Some(spec) = runs.iter().find(|s| s.id() == id) {
                    longest_runs
                        .entry(group_label(r, &cols))
                        .or_default()
                        .push(spec.clone());
                }
            }
        }
        out.push(TaskComparison {
            task,
            lengths,
            groups,
            cells,
            critical_length,
            length_at_half,
            verdicts,
            longest_runs,
            tuning,
            rows: rows.iter().map(|r| (*r).clone()).collect(),
            group_columns: cols.clone(),
        });
    }
    Ok(out)
}

impl TaskComparison {
    /// The critical length of `group` as text, `none` when no length was solved.
    pub fn critical_text(&self, group: &str) -> String {
        self.critical_length
            .get(group)
            .copied()
            .flatten()
            .map_or_else(|| "none".into(), |l| l.to_string())
    }
}

fn is_solved(row: &ResultRow) -> bool {
    row.metric("solved") == Some("true")
}

fn stats(rows: &[&&ResultRow]) -> CellStats {
    let acc: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.metric_f64("accuracy"))
        .map(|a| if a.is_nan() { 0.0 } else { a })
        .collect();
    let n = acc.len().max(1) as f64;
    let mean = acc.iter().sum::<f64>() / n;
    let std = if acc.len() > 1 {
        (acc.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let solved = rows.iter().filter(|r| is_solved(r)).count();
    let mut steps: Vec<f64> = rows
        .iter()
        .filter(|r| is_solved(r))
        .filter_map(|r| r.metric_f64("solved_at_step"))
        .collect();
    steps.sort_by(f64::total_cmp);
    let median = (!steps.is_empty()).then(|| {
        let m = steps.len() / 2;
        if steps.len() % 2 == 1 {
            steps[m]
        } else {
            (steps[m - 1] + steps[m]) / 2.0
        }
    });
    let mean_of = |name: &str| {
        let v: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.metric_f64(name))
            .filter(|x| x.is_finite())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    CellStats {
        runs: rows.len(),
        mean_accuracy: mean,
        std_accuracy: std,
        min_accuracy: acc.iter().copied().fold(f64::INFINITY, f64::min),
        max_accuracy: acc.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        solved_fraction: solved as f64 / rows.len().max(1) as f64,
        solved_runs: solved,
        solved_interval: wilson_95(solved, rows.len()).ok(),
        median_steps_to_solve: median,
        mean_decay_init: mean_of("decay_init"),
        mean_decay_final: mean_of("decay_final"),
        mean_source_signal_init: mean_of("source_signal_init"),
        mean_source_signal_final: mean_of("source_signal_final"),
        decay_not_exponential: rows
            .iter()
            .filter(|r| {
                r.metric("decay_final") == Some("") && r.metric_f64("decay_r2_final").is_some()
            })
            .count(),
        diverged: rows
            .iter()
            .filter(|r| r.metric("diverged") == Some("true"))
            .count(),
    }
}

/// L50 of one group's runs, with the bootstrap resampling seeds (a seed's runs at every length stay
/// together). Rows without a seed option count as a seed each.
fn group_length_at_half(rows: &[&ResultRow]) -> GroupLengthAtHalf {
    let mut per_seed: BTreeMap<String, Vec<(f64, bool)>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let Some(length) = row.option("length").and_then(|l| l.parse::<f64>().ok()) else {
            continue;
        };
        let seed = row
            .option("seed")
            .map_or_else(|| format!("row {i}"), str::to_string);
        per_seed
            .entry(seed)
            .or_default()
            .push((length, is_solved(row)));
    }
    let per_seed: Vec<Vec<(f64, bool)>> = per_seed.into_values().collect();
    let pooled: Vec<(f64, bool)> = per_seed.iter().flatten().copied().collect();
    GroupLengthAtHalf {
        estimate: length_at_half(&pooled),
        bootstrap: bootstrap_length_at_half(&per_seed, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).ok(),
        seeds: per_seed.len(),
    }
}

/// Whether a (Holm-adjusted) p supports its alternative at 95%. The relative tolerance keeps an
/// exact p = 0.05 from failing on rounding.
fn significant(p: f64) -> bool {
    p <= ALPHA * (1.0 + 1e-9)
}

/// The verdict rule: at every length both groups ran, the one-sided Fisher exact tests "first
/// solves more often" and "second solves more often"; the pair's 2 × lengths p-values are
/// Holm-adjusted together; a group remembers longer when one of its adjusted p is ≤ 0.05 and none
/// of the other's is.
fn pair_verdict(
    cells: &BTreeMap<(String, usize), CellStats>,
    lengths: &[usize],
    first: &str,
    second: &str,
) -> PairVerdict {
    let mut tests: Vec<LengthTest> = lengths
        .iter()
        .filter_map(|&length| {
            let a = cells.get(&(first.to_string(), length))?;
            let b = cells.get(&(second.to_string(), length))?;
            let fisher = fisher_exact(a.solved_runs, a.runs, b.solved_runs, b.runs).ok()?;
            Some(LengthTest {
                length,
                first: (a.solved_runs, a.runs),
                second: (b.solved_runs, b.runs),
                p_first_more: fisher.p_first_greater,
                p_second_more: fisher.p_first_less,
                holm_first_more: 1.0,
                holm_second_more: 1.0,
            })
        })
        .collect();
    let p_values: Vec<f64> = tests
        .iter()
        .flat_map(|t| [t.p_first_more, t.p_second_more])
        .collect();
    let adjusted = holm_adjusted(&p_values);
    for (test, pair) in tests.iter_mut().zip(adjusted.chunks(2)) {
        test.holm_first_more = pair[0];
        test.holm_second_more = pair[1];
    }
    let first_more = tests.iter().any(|t| significant(t.holm_first_more));
    let second_more = tests.iter().any(|t| significant(t.holm_second_more));
    PairVerdict {
        first: first.to_string(),
        second: second.to_string(),
        verdict: match (first_more, second_more) {
            (true, false) => Verdict::FirstLonger,
            (false, true) => Verdict::SecondLonger,
            (true, true) => Verdict::Conflicting,
            (false, false) => Verdict::NotDistinguishable,
        },
        tests,
    }
}

/// `0.024`, `5.4e-6`.
fn format_p(p: f64) -> String {
    if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

impl PairVerdict {
    /// `3 seeds`, or `3–5 seeds` when the cells tested had different numbers of runs.
    pub fn seeds_text(&self) -> String {
        let counts = self.tests.iter().flat_map(|t| [t.first.1, t.second.1]);
        let (low, high) = (counts.clone().min(), counts.max());
        match (low, high) {
            (Some(l), Some(h)) if l == h => format!("{l} seed{}", if l == 1 { "" } else { "s" }),
            (Some(l), Some(h)) => format!("{l}–{h} seeds"),
            _ => "no common length".into(),
        }
    }

    /// `gru remembers longer than rnn (L=100: 5/5 vs 0/5, Holm-adjusted one-sided Fisher p =
    /// 0.024)`, or `rnn and lstm: not distinguishable with 3 seeds (…)`.
    pub fn text(&self) -> String {
        let evidence = |first_more: bool| -> String {
            self.tests
                .iter()
                .filter(|t| {
                    significant(if first_more {
                        t.holm_first_more
                    } else {
                        t.holm_second_more
                    })
                })
                .map(|t| {
                    let (winner, loser, p) = if first_more {
                        (t.first, t.second, t.holm_first_more)
                    } else {
                        (t.second, t.first, t.holm_second_more)
                    };
                    format!(
                        "L={} {}/{} vs {}/{}, p = {}",
                        t.length,
                        winner.0,
                        winner.1,
                        loser.0,
                        loser.1,
                        format_p(p)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let (a, b) = (&self.first, &self.second);
        match self.verdict {
            Verdict::FirstLonger => format!(
                "{a} remembers longer than {b} (Holm-adjusted one-sided Fisher exact test: {})",
                evidence(true)
            ),
            Verdict::SecondLonger => format!(
                "{b} remembers longer than {a} (Holm-adjusted one-sided Fisher exact test: {})",
                evidence(false)
            ),
            Verdict::Conflicting => format!(
                "{a} and {b}: no single ranking ({a} solves more often at {}; {b} at {})",
                evidence(true),
                evidence(false)
            ),
            Verdict::NotDistinguishable => {
                let strongest = self
                    .tests
                    .iter()
                    .map(|t| (t.holm_first_more.min(t.holm_second_more), t.length))
                    .min_by(|x, y| x.0.total_cmp(&y.0));
                match strongest {
                    Some((p, _)) if p >= 1.0 => format!(
                        "{a} and {b}: not distinguishable with {} (every Holm-adjusted p = 1)",
                        self.seeds_text()
                    ),
                    Some((p, length)) => format!(
                        "{a} and {b}: not distinguishable with {} (smallest Holm-adjusted p = {} at L={length})",
                        self.seeds_text(),
                        format_p(p)
                    ),
                    None => format!("{a} and {b}: not distinguishable (no length run for both)"),
                }
            }
        }
    }
}

/// `3/5 [0.23, 0.88]`: seeds solved / seeds and the 95% Wilson interval of the fraction.
pub fn solved_text(c: &CellStats) -> String {
    match c.solved_interval {
        Some(ci) => format!(
            "{}/{} [{:.2}, {:.2}]",
            c.solved_runs, c.runs, ci.low, ci.high
        ),
        None => format!("{}/{}", c.solved_runs, c.runs),
    }
}

/// `0.99±0.01 @250`: mean ± std eval accuracy over seeds, median steps to solve (solved runs), and
/// how many runs diverged if any did.
pub fn accuracy_text(c: &CellStats) -> String {
    let steps = c
        .median_steps_to_solve
        .map(|s| format!(" @{s:.0}"))
        .unwrap_or_default();
    let div = if c.diverged > 0 {
        format!(" ({} diverged)", c.diverged)
    } else {
        String::new()
    };
    format!("{:.2}±{:.2}{steps}{div}", c.mean_accuracy, c.std_accuracy)
}

/// `3.4e-3 → 8.3e-2`: mean signal at the source over seeds, at initialisation → at the end, and
/// how many runs' final decay was not exponential (their ρ is not averaged).
pub fn source_signal_text(c: &CellStats) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |x| format!("{x:.1e}"));
    let flagged = if c.decay_not_exponential > 0 {
        format!(" (ρ not exponential in {})", c.decay_not_exponential)
    } else {
        String::new()
    };
    format!(
        "{} → {}{flagged}",
        f(c.mean_source_signal_init),
        f(c.mean_source_signal_final)
    )
}

/// What the source-signal table shows.
pub const SOURCE_SIGNAL_CAPTION: &str =
    "signal at the source ‖∂ℓ/∂h_src‖/‖∂ℓ/∂h_p‖ (layer 0), mean over seeds, at init → trained";

/// The column header of the old critical length, named for what it is.
pub const HALF_SEEDS_HEADER: &str = "longest length solved in at least half the seeds";

impl GroupLengthAtHalf {
    /// `[18.2, 61.0]`, `none` when no resample had an L50, `–` without a bootstrap.
    pub fn interval_text(&self) -> String {
        match &self.bootstrap {
            None => "–".into(),
            Some(b) => match b.interval {
                Some(ci) => format!("[{}, {}]", format_length(ci.low), format_length(ci.high)),
                None => "none".into(),
            },
        }
    }

    /// `12%`: the share of bootstrap resamples without an L50.
    pub fn not_estimable_text(&self) -> String {
        self.bootstrap.as_ref().map_or_else(
            || "–".into(),
            |b| format!("{:.0}%", 100.0 * b.not_estimable_fraction()),
        )
    }
}

impl TaskComparison {
    fn cell_row(&self, group: &str, text: fn(&CellStats) -> String, missing: &str) -> Vec<String> {
        self.lengths
            .iter()
            .map(|&l| {
                self.cells
                    .get(&(group.to_string(), l))
                    .map(text)
                    .unwrap_or_else(|| missing.into())
            })
            .collect()
    }

    fn by_length_table(&self, text: fn(&CellStats) -> String, missing: &str) -> Table {
        let mut header = vec!["group".to_string()];
        header.extend(self.lengths.iter().map(|l| format!("L={l}")));
        Table {
            header,
            rows: self
                .groups
                .iter()
                .map(|g| {
                    let mut row = vec![g.clone()];
                    row.extend(self.cell_row(g, text, missing));
                    row
                })
                .collect(),
        }
    }

    fn length_at_half_table(&self) -> Table {
        Table {
            header: [
                "group",
                "L50 (logistic fit)",
                "bootstrap 95% interval",
                "resamples without L50",
                HALF_SEEDS_HEADER,
            ]
            .map(String::from)
            .to_vec(),
            rows: self
                .groups
                .iter()
                .map(|g| {
                    let (estimate, interval, missing) = self.length_at_half.get(g).map_or_else(
                        || ("–".into(), "–".into(), "–".into()),
                        |l| (l.estimate.text(), l.interval_text(), l.not_estimable_text()),
                    );
                    vec![
                        g.clone(),
                        estimate,
                        interval,
                        missing,
                        self.critical_text(g),
                    ]
                })
                .collect(),
        }
    }

    /// How strong a result the sweep can show at all: with n seeds per cell and m lengths, the
    /// most extreme table at one length (n/n against 0/n) has one-sided Fisher p = 1/C(2n, n), which
    /// Holm multiplies by 2m. `None` with fewer than two groups or no cells.
    pub fn power_note(&self) -> Option<String> {
        if self.groups.len() < 2 || self.lengths.is_empty() {
            return None;
        }
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for c in self.cells.values() {
            *counts.entry(c.runs).or_default() += 1;
        }
        let (&seeds, _) = counts.iter().max_by_key(|(n, k)| (**k, **n))?;
        let strongest = fisher_exact(seeds, seeds, 0, seeds).ok()?.p_first_greater;
        let tests = 2 * self.lengths.len();
        let adjusted = (strongest * tests as f64).min(1.0);
        let consequence = if significant(adjusted) {
            "; only differences close to that extreme can be ranked"
        } else {
            ", so no pair can be ranked at 95% with this many seeds"
        };
        Some(format!(
            "With {seeds} seeds per cell and {} lengths, the largest possible difference at one length ({seeds}/{seeds} against 0/{seeds}) has one-sided p = {} and Holm-adjusted p = {} over the pair's {tests} tests{consequence}.",
            self.lengths.len(),
            format_p(strongest),
            format_p(adjusted)
        ))
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
    fn options_text(&self) -> String {
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
    fn table(&self) -> Table {
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

/// A table of text cells, rendered aligned for the terminal or as Markdown.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Two-space indented, columns padded to their widest cell (the last column unpadded).
    fn aligned(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|j| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .filter_map(|r| r.get(j))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (j, cell) in row.iter().enumerate() {
                let _ = write!(
                    line,
                    "  {cell:<w$}",
                    w = widths.get(j).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(self.header.len()));
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }
}

/// The comparison as aligned text, as the terminal shows it.
pub fn comparison_text(comparisons: &[TaskComparison]) -> String {
    let mut out = String::new();
    for tc in comparisons {
        if let Some(t) = &tc.tuning {
            let _ = writeln!(out, "{}", t.heading(&tc.task));
            out.push_str(&t.table().aligned());
            let _ = writeln!(out, "  {}", t.scope_text());
        }
        let _ = writeln!(
            out,
            "task {}: seeds solved k/n [95% Wilson interval] by length",
            tc.task
        );
        out.push_str(&tc.by_length_table(solved_text, "-").aligned());
        let _ = writeln!(
            out,
            "task {}: eval accuracy mean±std over seeds, @ median steps to solve",
            tc.task
        );
        out.push_str(&tc.by_length_table(accuracy_text, "-").aligned());
        let _ = writeln!(out, "task {}: {SOURCE_SIGNAL_CAPTION}", tc.task);
        out.push_str(&tc.by_length_table(source_signal_text, "-").aligned());
        let _ = writeln!(
            out,
            "task {}: L50 = length where P(solved) = 1/2 (logistic fit on ln length; bootstrap over seeds, {BOOTSTRAP_RESAMPLES} resamples)",
            tc.task
        );
        out.push_str(&tc.length_at_half_table().aligned());
        if !tc.verdicts.is_empty() {
            let _ = writeln!(
                out,
                "task {}: verdicts (one-sided Fisher exact test per length, Holm-corrected per pair, 95%)",
                tc.task
            );
            for v in &tc.verdicts {
                let _ = writeln!(out, "  {}", v.text());
            }
            if let Some(note) = tc.power_note() {
                let _ = writeln!(out, "  {note}");
            }
        }
        if let Some(table) = tc.generalisation_table() {
            let _ = writeln!(
                out,
                "task {}: length generalisation, mean over seeds of the solved metric (runs)",
                tc.task
            );
            out.push_str(&table.aligned());
        }
    }
    out
}

impl TaskComparison {
    /// Length generalisation (runs with `eval-lengths`): per (group, training length), per test
    /// length, the sum over seeds of the task's solved metric and the number of runs.
    pub fn generalisation(&self) -> GeneralisationCells {
        let mut cells: GeneralisationCells = BTreeMap::new();
        for row in &self.rows {
            let Some(text) = row.metric("generalisation").filter(|t| !t.is_empty()) else {
                continue;
            };
            let Some(train) = row.option("length").and_then(|l| l.parse().ok()) else {
                continue;
            };
            let entry = cells
                .entry((group_label(row, &self.group_columns), train))
                .or_default();
            for pair in text.split(';') {
                let Some((l, v)) = pair.split_once('=') else {
                    continue;
                };
                if let (Ok(l), Ok(v)) = (l.parse::<usize>(), v.parse::<f64>()) {
                    let e = entry.entry(l).or_insert((0.0, 0));
                    e.0 += if v.is_finite() { v } else { 0.0 };
                    e.1 += 1;
                }
            }
        }
        cells
    }

    /// [`Self::generalisation`] as a table: the mean over seeds of the solved metric at each test
    /// length, with the number of runs; None when no run evaluated other lengths.
    fn generalisation_table(&self) -> Option<Table> {
        let cells = self.generalisation();
        if cells.is_empty() {
            return None;
        }
        let mut tests: Vec<usize> = cells.values().flat_map(|m| m.keys().copied()).collect();
        tests.sort_unstable();
        tests.dedup();
        let mut header = vec!["group".to_string(), "trained at".to_string()];
        header.extend(tests.iter().map(|t| format!("tested at {t}")));
        let mut keys: Vec<&(String, usize)> = cells.keys().collect();
        keys.sort_by_key(|(g, l)| (self.groups.iter().position(|x| x == g), *l));
        let rows = keys
            .into_iter()
            .map(|key| {
                let mut row = vec![key.0.clone(), key.1.to_string()];
                for t in &tests {
                    row.push(cells[key].get(t).map_or("–".to_string(), |(sum, n)| {
                        format!("{:.3} ({n})", sum / *n as f64)
                    }));
                }
                row
            })
            .collect();
        Some(Table { header, rows })
    }
}

/// (group, training length) → test length → (sum of the solved metric over seeds, runs).
pub type GeneralisationCells = BTreeMap<(String, usize), BTreeMap<usize, (f64, usize)>>;

/// The rules behind every number in the report, for its last section.
fn protocol_text() -> String {
    format!(
        "## Protocol and definitions

- **Solved**: a run is solved when `results.csv` says `solved = true` (it reached the task's solving criterion on held-out data within its step budget); a diverged run is never solved. Seeds are the runs' `seed` option; every (group, length) cell is one run per seed.
- **k/n [low, high]**: k of n seeds solved, with the 95% Wilson score interval of the fraction (Wilson 1927): centre (p̂ + z²/2n)/(1 + z²/n), half-width z/(1 + z²/n)·√(p̂(1 − p̂)/n + z²/4n²), z = 1.96. It stays sensible at 0/n and n/n, where p̂ ± 1.96·√(p̂(1 − p̂)/n) would collapse to a point.
- **L50**: the length where P(solved) = 1/2, from a logistic regression of every run's solved (0/1) on ln(length), fitted by maximum likelihood (Newton–Raphson): P = 1/(1 + e^−(a + b·ln L)), L50 = e^(−a/b). The fit has no maximum when the outcomes are separated, and no number is given then: all solved gives \"> longest length\", none solved \"< shortest length\", and when every solved run is at a length no longer than every failed one the fit tends to a step, so only a bracket is given: \"between\" the longest solved and the shortest failed length, or, when they meet at one length L, between L and its neighbour on the side where the solved fraction at L says the curve crosses 1/2. A fit that does not fall with length is \"not estimable\".
- **Bootstrap 95% interval of L50**: {BOOTSTRAP_RESAMPLES} resamples of the group's seeds with replacement (a seed's runs at all lengths stay together; ChaCha8 seeded with {BOOTSTRAP_SEED}, so the report is reproducible); the interval is the 2.5% and 97.5% percentiles of L50 over the resamples where it is estimable, and **resamples without L50** is the share where it is not. A large share means the interval describes only the resamples that happened to overlap and understates the uncertainty.
- **{HALF_SEEDS_HEADER}**: the longest length at which at least half the seeds solved (the \"critical length\" of earlier reports); it carries no uncertainty and is kept for comparison.
- **Verdicts**: for each pair of groups A and B, at every length both ran, two one-sided Fisher exact tests on the 2×2 table of seeds solved (Fisher 1935): \"A solves more often than B\" and \"B solves more often than A\". The pair's 2 × lengths p-values are adjusted together with Holm's step-down method (Holm 1979), which keeps the chance of any false ranking of that pair at most 5%. \"A remembers longer than B\" when at least one adjusted p for A is ≤ 0.05 and none for B is; \"no single ranking\" when both have one; otherwise \"A and B: not distinguishable with n seeds\". Different pairs are not corrected against each other.
- **What n seeds can show**: the most extreme table at one length, n/n against 0/n, has one-sided p = 1/C(2n, n): 0.05 for 3 seeds, 0.0040 for 5, 5.4e-6 for 10, before the Holm factor of up to 2 × lengths. With 3 seeds no ranking is possible at all.
"
    )
}

/// Writes `dir/plots/*.svg`, `dir/report.md` and `dir/report.html` (the same report as one
/// self-contained page, with the files and the experiment).
pub fn write_report(dir: &Path, exp: &Experiment, comparisons: &[TaskComparison]) -> Result<()> {
    let plots = dir.join("plots");
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n\n{}\n", exp.name, exp.description);
    let _ = writeln!(md, "Every fraction comes with a 95% interval and every ranking with a test; the rules are under [Protocol and definitions](#protocol-and-definitions) at the end.\n");
    for tc in comparisons {
        let suffix = if comparisons.len() > 1 {
            format!("_{}", tc.task)
        } else {
            String::new()
        };
        let _ = writeln!(md, "## Task `{}`\n", tc.task);
        if let Some(t) = &tc.tuning {
            let _ = writeln!(
                md,
                "### Tuned options: {}\n\nEach group is reported at one value of {}, chosen on the validation set by the {} over all its lengths and seeds (rule under [Protocol and definitions](#protocol-and-definitions)). Each cell: the candidate's mean validation score (its finished runs).\n",
                t.options_text(),
                t.options_text(),
                t.metric.text()
            );
            md.push_str(&t.table().markdown());
            let _ = writeln!(md, "\n{}\n", t.scope_text());
        }

        let sweep_plots = SweepPlots::new(
            exp,
            tc,
            tc.rows
                .iter()
                .map(|r| (group_label(r, &tc.group_columns), r)),
        );

        let _ = writeln!(md, "### Seeds solved\n\nSeeds solved / seeds at each length, with the 95% Wilson interval of the fraction.\n");
        md.push_str(&tc.by_length_table(solved_text, "–").markdown());
        let _ = writeln!(md);
        let file = format!("solved_vs_length{suffix}.svg");
        sweep_plots.solved_plot(&plots.join(&file))?;
        let _ = writeln!(
            md,
            "![fraction of seeds solved against length](plots/{file})\n"
        );

        let _ = writeln!(md, "### Accuracy\n\nEval accuracy mean ± std over seeds, `@` median steps to solve (solved runs only).\n");
        md.push_str(&tc.by_length_table(accuracy_text, "–").markdown());
        let _ = writeln!(md);
        let file = sweep_plots.metric_file(&suffix);
        sweep_plots.metric_plot(&plots.join(&file))?;
        let metric = sweep_plots.metric_name();
        let _ = writeln!(md, "![{metric} against length](plots/{file})\n");

        let _ = writeln!(md, "### How far each group remembers\n\nL50: the length where a logistic fit of P(solved) against ln(length) crosses 1/2, with its bootstrap 95% interval over seeds ({BOOTSTRAP_RESAMPLES} resamples).\n");
        md.push_str(&tc.length_at_half_table().markdown());
        let _ = writeln!(md);

        if !tc.verdicts.is_empty() {
            let _ = writeln!(md, "### Verdicts\n\nOne-sided Fisher exact test at each length, Holm-corrected over each pair's tests, 95%.\n");
            for v in &tc.verdicts {
                let _ = writeln!(md, "- {}", v.text());
            }
            if let Some(note) = tc.power_note() {
                let _ = writeln!(md, "\n{note}");
            }
            let _ = writeln!(md, "\nThe tests behind the verdicts (A, B: the pair in the order named; p: one-sided Fisher exact, then Holm-adjusted):\n");
            let tests = Table {
                header: [
                    "A",
                    "B",
                    "length",
                    "A solved",
                    "B solved",
                    "p (A more)",
                    "p (B more)",
                    "Holm (A more)",
                    "Holm (B more)",
                ]
                .map(String::from)
                .to_vec(),
                rows: tc
                    .verdicts
                    .iter()
                    .flat_map(|v| {
                        v.tests.iter().map(|t| {
                            vec![
                                v.first.clone(),
                                v.second.clone(),
                                t.length.to_string(),
                                format!("{}/{}", t.first.0, t.first.1),
                                format!("{}/{}", t.second.0, t.second.1),
                                format_p(t.p_first_more),
                                format_p(t.p_second_more),
                                format_p(t.holm_first_more),
                                format_p(t.holm_second_more),
                            ]
                        })
                    })
                    .collect(),
            };
            md.push_str(&tests.markdown());
            let _ = writeln!(md);
        }

        if let Some(table) = tc.generalisation_table() {
            let _ = writeln!(md, "### Length generalisation\n\nEach run trained at one length and evaluated after training at others (`eval-lengths`), on held-out sequences of the evaluation stream: the mean over seeds of the task's solved metric (accuracy, or MSE for adding), with the number of runs.\n");
            md.push_str(&table.markdown());
            let _ = writeln!(md);
            let file = format!("generalisation{suffix}.svg");
            sweep_plots.generalisation_plot(&plots.join(&file), &tc.generalisation())?;
            let _ = writeln!(
                md,
                "![solved metric against test length, by training length](plots/{file})\n"
            );
        }

        let _ = writeln!(md, "### Gradients\n\n{SOURCE_SIGNAL_CAPTION}.\n");
        md.push_str(&tc.by_length_table(source_signal_text, "–").markdown());
        let _ = writeln!(md);
        let file = format!("source_signal_vs_length{suffix}.svg");
        sweep_plots.source_signal_plot(&plots.join(&file))?;
        let _ = writeln!(md, "![signal at the source against length](plots/{file})\n");
        let file = format!("decay_vs_length{suffix}.svg");
        sweep_plots.decay_plot(&plots.join(&file))?;
        let _ = writeln!(md, "![decay per step against length](plots/{file})\n");

        let longest = tc.lengths.last().copied().unwrap_or(0);
        for (when, first) in [("init", true), ("trained", false)] {
            let profiles: Vec<(String, Vec<(f64, f64)>)> = tc
                .groups
                .iter()
                .filter_map(|g| {
                    let runs = tc.longest_runs.get(g)?;
                    Some((g.clone(), mean_gradient_profile(dir, runs, first)))
                })
                .collect();
            let file = format!("gradients_{when}{suffix}.svg");
            sweep_plots.gradient_plot(&plots.join(&file), longest, !first, profiles)?;
            let _ = writeln!(md, "![gradient against distance, {when}](plots/{file})\n");
        }
    }
    let _ = writeln!(md, "Each run's own files (metrics, gradients, diagnostics, model, plots) are under `runs/`; `results.csv` has one row per run.\n");
    md.push_str(&protocol_text());
    if !exp.tune.is_empty() {
        let _ = writeln!(md, "- **Tuned options**: {TUNING_RULE}");
    }
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    // the page: the same report, with the files and the experiment as run
    let mut page = md;
    let _ = writeln!(
        page,
        "\n## Files\n\n- [results.csv](results.csv): one row per finished run\n- [experiment.ron](experiment.ron): the experiment as run\n- [report.md](report.md): this report as Markdown\n- `runs/`: every run's own directory (config, metrics, gradients, diagnostics, summary, model, plots)\n\n## The experiment\n\n```\n{}\n```",
        exp.to_ron()
    );
    write_html_report(dir, &format!("rnnlab: {}", exp.name), &page)
}

/// Mean over `runs` of layer 0's grad_h by distance, at each run's first (or last) probe.
fn mean_gradient_profile(dir: &Path, runs: &[RunSpec], first: bool) -> Vec<(f64, f64)> {
    let mut sum: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for run in runs {
        let Ok(mut reader) = csv::Reader::from_path(run_dir(dir, run).join("gradients.csv")) else {
            continue;
        };
        // step,layer,timestep,distance,grad_h,…: layer 0's rows
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .map_while(|r| r.ok())
            .filter(|r| r.len() == 7 && &r[1] == "0")
            .collect();
        let steps: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        let Some(step) = (if first { steps.first() } else { steps.last() }).copied() else {
            continue;
        };
        for r in rows.iter().filter(|r| &r[0] == step) {
            if let (Ok(d), Ok(g)) = (r[3].parse::<usize>(), r[4].parse::<f64>()) {
                let e = sum.entry(d).or_insert((0.0, 0));
                e.0 += g;
                e.1 += 1;
            }
        }
    }
    sum.into_iter()
        .map(|(d, (s, n))| (d as f64, s / n as f64))
        .collect()
}
