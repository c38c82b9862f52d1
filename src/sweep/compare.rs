//! `rnnlab compare`: which cell remembers how far, and how sure we are. Per task: a table of group
//! (the cell and any other varied option) × length with seeds solved k/n and its 95% Wilson
//! interval, one with accuracy over seeds and median steps to solve; per group L50 (the length where
//! a logistic fit of P(solved) against ln length crosses 1/2) with a bootstrap interval over seeds,
//! and the longest length solved in at least half the seeds; pairwise verdicts that rank two groups
//! only when a Holm-corrected one-sided Fisher exact test supports it at 95%; plots and a Markdown
//! report that states these rules.

use std::collections::BTreeMap;
use std::path::Path;

use super::experiment::{Experiment, RunSpec};
use super::groups::{group_columns, group_label};
use super::results::{ResultRow, ResultsTable};
use super::runner::{read_results, EXPERIMENT_FILE};
use super::tuning::{choose_tuned, Tuning, ValidationMetric};
use crate::analysis::stats::{
    bootstrap_length_at_half, fisher_exact, holm_adjusted, length_at_half, wilson_95,
    BootstrapInterval, Interval, LengthAtHalf, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED,
};
use crate::error::{Error, Result};
use crate::tasks::Task;

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
    /// Geometric mean over seeds of the same values (those finite and > 0): what the tables and
    /// plots lead with, since one outlier seed can move the mean by decades.
    pub geomean_source_signal_init: Option<f64>,
    pub geomean_source_signal_final: Option<f64>,
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
    // Long (~125 lines): per task, the rows at the chosen tuned values, then per (group, length)
    // the cell statistics, L50, the verdicts and the longest runs, filled into one
    // TaskComparison; stats, L50 and verdicts are already functions. Split per task when it next
    // changes.
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
        geomean_source_signal_init: geometric_mean_of(rows, "source_signal_init"),
        geomean_source_signal_final: geometric_mean_of(rows, "source_signal_final"),
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

/// The geometric mean of metric `name` over `rows`, of the values that are finite and > 0; None
/// when none is.
fn geometric_mean_of(rows: &[&&ResultRow], name: &str) -> Option<f64> {
    crate::analysis::stats::geometric_mean(rows.iter().filter_map(|r| r.metric_f64(name)))
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
pub(crate) fn significant(p: f64) -> bool {
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
pub(crate) fn format_p(p: f64) -> String {
    if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
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
}

/// (group, training length) → test length → (sum of the solved metric over seeds, runs).
pub type GeneralisationCells = BTreeMap<(String, usize), BTreeMap<usize, (f64, usize)>>;
