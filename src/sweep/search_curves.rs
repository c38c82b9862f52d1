//! Budget or memory? Where a length search bracketed a group's limit, the runs on both sides of
//! the bracket: each seed's evaluation accuracy against training steps at the longest length the
//! group solved and at the shortest it failed (`plots/search_curves.svg`, one panel per group),
//! and one sentence per group on how the failed runs ended. A failed run that trained its whole
//! step budget and was still rising says the budget stopped it; one that stayed at the memoryless
//! baseline says the signal did not arrive.

use std::path::{Path, PathBuf};

use super::experiment::{Experiment, RunSpec};
use super::runner::read_results;
use super::search::{group_of, Bracket, SearchOutcome};
use crate::error::{Error, Result};
use crate::report::{stacked_svg, Chart, ChartSpec, Scale, Series, SeriesStyle};

/// The figure's file inside the sweep directory.
pub const SEARCH_CURVES_SVG: &str = "plots/search_curves.svg";

/// One run's evaluation accuracy by step, from its `metrics.csv`.
fn accuracy_curve(dir: &Path, run: &RunSpec) -> Result<Vec<(f64, f64)>> {
    let path = dir.join("runs").join(run.dir_name()).join("metrics.csv");
    let bad = |e: String| Error::invalid("metrics", format!("{}: {e}", path.display()));
    let mut reader = csv::Reader::from_path(&path).map_err(|e| bad(e.to_string()))?;
    let header = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(format!("no column {name}")))
    };
    let (step, accuracy) = (column("step")?, column("eval_accuracy")?);
    let mut points = Vec::new();
    for record in reader.records() {
        let r = record.map_err(|e| bad(e.to_string()))?;
        if let (Ok(s), Ok(a)) = (r[step].parse::<f64>(), r[accuracy].parse::<f64>()) {
            points.push((s, a));
        }
    }
    Ok(points)
}

/// How the unsolved runs of one group at one length ended.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedRuns {
    pub group: String,
    pub length: usize,
    pub unsolved: usize,
    /// Of the unsolved runs, those that trained every step of the budget.
    pub whole_budget: usize,
    pub steps: usize,
    /// Mean over the unsolved runs of the last and of the best evaluation accuracy.
    pub final_accuracy: f64,
    pub best_accuracy: f64,
    /// Mean over the unsolved runs of (best accuracy in the budget's last quarter) − (best in
    /// its first three quarters): above 0 the runs were still improving when the budget ended.
    pub late_gain: f64,
    pub baseline: Option<f64>,
}

impl FailedRuns {
    /// The sentence of the search's report.
    pub fn text(&self) -> String {
        let baseline = self
            .baseline
            .map(|b| format!(", memoryless baseline {b:.3}"))
            .unwrap_or_default();
        let reading = if self.whole_budget == self.unsolved && self.late_gain > 0.02 {
            "still improving when the budget ended: more steps may solve this length (the budget, not the memory, stopped them)"
        } else if self.whole_budget == self.unsolved {
            "no gain in the budget's last quarter: more steps alone are unlikely to help"
        } else {
            "some stopped before the budget (diverged)"
        };
        format!(
            "{} at {}: {}/{} unsolved runs trained all {} steps; eval accuracy last {:.3}, best {:.3} (mean over them{baseline}), last-quarter gain {:+.3}: {reading}",
            self.group,
            self.length,
            self.whole_budget,
            self.unsolved,
            self.steps,
            self.final_accuracy,
            self.best_accuracy,
            self.late_gain
        )
    }
}

/// The curves of `outcome`'s bracketed groups in `dir` (whose experiment, with every length the
/// search visited, is `current`): writes [`SEARCH_CURVES_SVG`] when some group has a bracket and
/// returns the failed runs' summaries, in the groups' order.
pub fn write_search_curves(
    current: &Experiment,
    dir: &Path,
    outcome: &SearchOutcome,
) -> Result<(Vec<FailedRuns>, Option<PathBuf>)> {
    let runs = current.runs()?;
    let table = read_results(current, dir)?;
    let mut charts = Vec::new();
    let mut failed_runs = Vec::new();
    for (group, bracket) in &outcome.brackets {
        let Bracket::Between { solved, failed, .. } = *bracket else {
            continue;
        };
        let mut chart = Chart::new(ChartSpec {
            title: group,
            x_label: "training step",
            y_label: "eval accuracy",
            y_scale: Scale::Linear,
            x_scale: Scale::Linear,
        })
        .y_include(0.0, 1.0);
        let mut summary = FailedRuns {
            group: group.clone(),
            length: failed,
            unsolved: 0,
            whole_budget: 0,
            steps: 0,
            final_accuracy: 0.0,
            best_accuracy: 0.0,
            late_gain: 0.0,
            baseline: None,
        };
        for (i, length) in [solved, failed].into_iter().enumerate() {
            let mut seeds = 0;
            for run in runs
                .iter()
                .filter(|r| group_of(r) == *group && r.config.task.length == length)
            {
                let Some((_, row)) = table.rows.get(&run.id()) else {
                    continue;
                };
                let curve = accuracy_curve(dir, run)?;
                let style = SeriesStyle::nth(i);
                let style = if i == 1 { style.dashed() } else { style };
                let label = if seeds == 0 {
                    format!(
                        "length {length} ({})",
                        if i == 0 { "solved" } else { "failed" }
                    )
                } else {
                    String::new()
                };
                seeds += 1;
                if i == 1 && row.metric("solved") != Some("true") {
                    let steps = run.config.steps;
                    let last = curve.last().map_or(0.0, |p| p.1);
                    let best = curve.iter().map(|p| p.1).fold(0.0, f64::max);
                    let split = 0.75 * steps as f64;
                    let best_in = |late: bool| {
                        curve
                            .iter()
                            .filter(|p| (p.0 > split) == late)
                            .map(|p| p.1)
                            .fold(0.0, f64::max)
                    };
                    summary.unsolved += 1;
                    summary.steps = steps;
                    summary.whole_budget +=
                        usize::from(curve.last().is_some_and(|p| p.0 >= steps as f64));
                    summary.final_accuracy += last;
                    summary.best_accuracy += best;
                    summary.late_gain += best_in(true) - best_in(false);
                    summary.baseline = row.metric("baseline").and_then(|b| b.parse().ok());
                }
                chart = chart.styled(Series::new(label, curve), style);
            }
        }
        if summary.unsolved > 0 {
            let n = summary.unsolved as f64;
            summary.final_accuracy /= n;
            summary.best_accuracy /= n;
            summary.late_gain /= n;
            failed_runs.push(summary);
        }
        charts.push(chart);
    }
    if charts.is_empty() {
        return Ok((failed_runs, None));
    }
    let path = dir.join(SEARCH_CURVES_SVG);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    stacked_svg(&path, &charts)?;
    Ok((failed_runs, Some(path)))
}
