//! The plots of a sweep report (`rnnlab sweep` / `rnnlab compare DIR`), per task:
//!
//! - the task's own solved metric against length (accuracy for classification tasks, mean
//!   squared error for adding), mean over seeds with the seed min–max as a band, the memoryless
//!   baseline and the solved threshold as reference lines, diverged runs marked ✕;
//! - gradient decay per step ρ against length, at initialisation (solid) and trained (dashed);
//! - the signal at the source ‖∂ℓ/∂h_src‖/‖∂ℓ/∂h_p‖ against length, the same way;
//! - mean ‖∂ℓ/∂h_t‖ against distance at the longest length, at initialisation and trained.
//!
//! Every group (cell and other varied options) keeps one colour and marker in all of them: its
//! position in the task's group list ([`SeriesStyle::nth`]).

use std::collections::BTreeMap;
use std::path::Path;

use super::compare::{GeneralisationCells, TaskComparison};
use super::{Experiment, ResultRow};
use crate::error::Result;
use crate::report::{format_number, Chart, ChartSpec, Dash, Scale, Series, SeriesStyle};
use crate::tasks::{Solved, Task};
use crate::train::plots::config_caption;

/// What one finished run contributes to the sweep plots.
#[derive(Debug, Clone, PartialEq)]
struct RunPoint {
    group: String,
    length: usize,
    accuracy: f64,
    loss: f64,
    baseline: f64,
    diverged: bool,
    decay_init: Option<f64>,
    decay_final: Option<f64>,
    source_init: Option<f64>,
    source_final: Option<f64>,
}

/// (length, fraction of seeds solved, its 95% Wilson interval (low, high)).
type SolvedPoint = (f64, f64, (f64, f64));

/// The plots of one task of a sweep.
#[derive(Debug, Clone)]
pub struct SweepPlots {
    /// The fixed configuration in words (the varied options are in the legends).
    caption: String,
    seeds: usize,
    groups: Vec<String>,
    runs: Vec<RunPoint>,
    solved: Solved,
    /// Per group: the fraction of seeds solved by length.
    solved_fractions: Vec<Vec<SolvedPoint>>,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

impl SweepPlots {
    /// The plots of `tc`, from its result rows, each given with its group label (as in
    /// `tc.groups`).
    pub fn new<'r>(
        exp: &Experiment,
        tc: &TaskComparison,
        rows: impl IntoIterator<Item = (String, &'r ResultRow)>,
    ) -> SweepPlots {
        let runs = rows
            .into_iter()
            .filter_map(|(group, r)| {
                Some(RunPoint {
                    group,
                    length: r.option("length")?.parse().ok()?,
                    accuracy: r.metric_f64("accuracy").unwrap_or(f64::NAN),
                    loss: r.metric_f64("loss").unwrap_or(f64::NAN),
                    baseline: r.metric_f64("baseline").unwrap_or(f64::NAN),
                    diverged: r.metric("diverged") == Some("true"),
                    decay_init: finite(r.metric_f64("decay_init")),
                    decay_final: finite(r.metric_f64("decay_final")),
                    source_init: finite(r.metric_f64("source_signal_init")),
                    source_final: finite(r.metric_f64("source_signal_final")),
                })
            })
            .collect();
        let config = tc.longest_runs.values().flatten().next().map(|r| &r.config);
        let mut omit: Vec<&str> = exp.axes();
        omit.extend(
            exp.variants
                .iter()
                .flat_map(|v| v.set.keys().map(String::as_str)),
        );
        omit.extend(["cell", "length"]);
        let caption = config.map_or_else(|| tc.task.clone(), |c| config_caption(c, &omit));
        let caption = if caption.is_empty() {
            tc.task.clone()
        } else {
            caption
        };
        let solved = config
            .and_then(|c| Task::new(c.task.clone()).ok())
            .map(|t| t.solved())
            .unwrap_or(if tc.task == "adding" {
                Solved::MseAtMost(0.01)
            } else {
                Solved::NEAR_PERFECT_ACCURACY
            });
        let seeds = exp.grid.get("seed").map_or(1, Vec::len).max(1);
        let solved_fractions = tc
            .groups
            .iter()
            .map(|g| {
                tc.lengths
                    .iter()
                    .filter_map(|&l| {
                        let c = tc.cells.get(&(g.clone(), l))?;
                        let ci = c.solved_interval?;
                        Some((l as f64, c.solved_fraction, (ci.low, ci.high)))
                    })
                    .collect()
            })
            .collect();
        SweepPlots {
            caption,
            seeds,
            groups: tc.groups.clone(),
            runs,
            solved,
            solved_fractions,
        }
    }

    fn uses_mse(&self) -> bool {
        matches!(self.solved, Solved::MseAtMost(_))
    }

    /// `accuracy` or `MSE`: the task's solved metric.
    pub fn metric_name(&self) -> &'static str {
        if self.uses_mse() {
            "MSE"
        } else {
            "accuracy"
        }
    }

    /// `accuracy_vs_length{suffix}.svg`, or `mse_vs_length{suffix}.svg` for a task solved by MSE.
    pub fn metric_file(&self, suffix: &str) -> String {
        if self.uses_mse() {
            format!("mse_vs_length{suffix}.svg")
        } else {
            format!("accuracy_vs_length{suffix}.svg")
        }
    }

    /// `mean of 3 seeds, band: min–max`, or `1 seed`.
    fn over_seeds(&self) -> String {
        if self.seeds == 1 {
            "1 seed".into()
        } else {
            format!("mean of {} seeds, band: min–max", self.seeds)
        }
    }

    /// `mean of 3 seeds`, or `1 seed`.
    fn seeds_text(&self) -> String {
        if self.seeds == 1 {
            "1 seed".into()
        } else {
            format!("mean of {} seeds", self.seeds)
        }
    }

    /// The runs of `group` by length, in length order.
    fn by_length(&self, group: &str) -> BTreeMap<usize, Vec<&RunPoint>> {
        let mut out: BTreeMap<usize, Vec<&RunPoint>> = BTreeMap::new();
        for r in self.runs.iter().filter(|r| r.group == group) {
            out.entry(r.length).or_default().push(r);
        }
        out
    }

    /// The solved metric against length, one series per group (mean over seeds, seed min–max
    /// band, ✕ where a run diverged), the memoryless baseline and the solved threshold.
    pub fn metric_plot(&self, path: &Path) -> Result<()> {
        // Long (~120 lines): the series per group, the diverged markers, the baseline and the
        // threshold lines, each needing the same per-group rows; split by those when it changes.
        let mse = self.uses_mse();
        let value = |r: &RunPoint| {
            if mse {
                r.loss
            } else if r.accuracy.is_nan() {
                0.0
            } else {
                r.accuracy
            }
        };
        let (title, y_label) = if mse {
            (
                format!(
                    "{}: eval MSE by length ({})",
                    self.caption,
                    self.over_seeds()
                ),
                "eval mean squared error (lower is better)",
            )
        } else {
            (
                format!(
                    "{}: eval accuracy by length ({})",
                    self.caption,
                    self.over_seeds()
                ),
                "eval accuracy",
            )
        };
        let mut chart = Chart::new(ChartSpec {
            title: &title,
            x_label: "sequence length T",
            y_label,
            y_scale: if mse { Scale::Log10 } else { Scale::Linear },
            x_scale: Scale::Log10,
        });
        for (i, g) in self.groups.iter().enumerate() {
            let mut points = vec![];
            let mut spread = vec![];
            let mut flagged = vec![];
            let mut diverged = 0;
            for (l, runs) in self.by_length(g) {
                let vals: Vec<f64> = runs
                    .iter()
                    .map(|r| value(r))
                    .filter(|v| v.is_finite())
                    .collect();
                let n_div = runs.iter().filter(|r| r.diverged).count();
                diverged += n_div;
                if vals.is_empty() {
                    continue;
                }
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if n_div > 0 {
                    flagged.push(points.len());
                }
                points.push((l as f64, mean));
                spread.push((lo, hi));
            }
            let label = if diverged > 0 {
                format!("{g} ({diverged} diverged)")
            } else {
                g.clone()
            };
            let series = Series {
                label,
                points,
                spread: (self.seeds > 1).then_some(spread),
            };
            chart = chart.flagged(series, SeriesStyle::nth(i), flagged);
        }
        let baselines: Vec<f64> = self
            .runs
            .iter()
            .map(|r| r.baseline)
            .filter(|b| b.is_finite())
            .collect();
        if let (Some(&b0), true) = (
            baselines.first(),
            baselines.iter().all(|b| (b - baselines[0]).abs() <= 1e-9),
        ) {
            let label = if mse {
                format!("memoryless baseline (MSE {})", format_number(b0))
            } else {
                format!("chance / memoryless baseline ({})", format_number(b0))
            };
            chart = chart.reference(label, b0);
        } else if !baselines.is_empty() {
            // The baseline varies with length: one value per length.
            let mut by_len: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
            for r in self.runs.iter().filter(|r| r.baseline.is_finite()) {
                let e = by_len.entry(r.length).or_insert((0.0, 0));
                e.0 += r.baseline;
                e.1 += 1;
            }
            let points = by_len
                .into_iter()
                .map(|(l, (s, n))| (l as f64, s / n as f64))
                .collect();
            chart = chart.styled(
                Series::new("memoryless baseline", points),
                SeriesStyle {
                    color: 7,
                    dash: Dash::Dotted,
                    ..SeriesStyle::default()
                },
            );
        }
        chart = match self.solved {
            Solved::MseAtMost(t) => {
                chart.reference(format!("solved: MSE ≤ {}", format_number(t)), t)
            }
            Solved::AccuracyAtLeast(t) => chart
                .reference(format!("solved: accuracy ≥ {}", format_number(t)), t)
                .y_include(0.0, 1.0),
        };
        chart.write(path)
    }

    /// The fraction of seeds solved against length, one series per group in its colour, with the
    /// 95% Wilson interval as the band.
    pub fn solved_plot(&self, path: &Path) -> Result<()> {
        let title = format!(
            "{}: fraction of seeds solved by length (bars: 95% Wilson interval, {} seeds)",
            self.caption, self.seeds
        );
        let mut chart = Chart::new(ChartSpec {
            title: &title,
            x_label: "sequence length T",
            y_label: "fraction of seeds solved",
            y_scale: Scale::Linear,
            x_scale: Scale::Log10,
        });
        for (i, (g, cells)) in self.groups.iter().zip(&self.solved_fractions).enumerate() {
            let series = Series {
                label: g.clone(),
                points: cells.iter().map(|&(l, f, _)| (l, f)).collect(),
                spread: Some(cells.iter().map(|&(_, _, ci)| ci).collect()),
            };
            chart = chart.styled(series, SeriesStyle::nth(i));
        }
        // each group's bars beside the others' at every length: a fraction of the narrowest gap
        // between lengths (in decades), shared out over the groups
        let mut lengths: Vec<f64> = self
            .solved_fractions
            .iter()
            .flatten()
            .filter(|c| c.0 > 0.0)
            .map(|c| c.0.log10())
            .collect();
        lengths.sort_by(f64::total_cmp);
        lengths.dedup();
        let gap = lengths
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        let groups = self.groups.len().max(1) as f64;
        let dodge = (0.5 * gap / groups).min(0.03);
        chart.y_include(0.0, 1.0).error_bars(dodge).write(path)
    }

    /// Gradient decay per step ρ against length: per group at initialisation (solid) and
    /// trained (dashed), in the group's colour; log y when the values span many decades.
    pub fn decay_plot(&self, path: &Path) -> Result<()> {
        let title = format!(
            "{}: gradient decay per step ρ by length ({})",
            self.caption,
            self.seeds_text()
        );
        let mut series = vec![];
        for (i, g) in self.groups.iter().enumerate() {
            for (trained, suffix) in [(false, "at init"), (true, "trained")] {
                let points: Vec<(f64, f64)> = self
                    .by_length(g)
                    .into_iter()
                    .filter_map(|(l, runs)| {
                        let vals: Vec<f64> = runs
                            .iter()
                            .filter_map(|r| if trained { r.decay_final } else { r.decay_init })
                            .collect();
                        (!vals.is_empty())
                            .then(|| (l as f64, vals.iter().sum::<f64>() / vals.len() as f64))
                    })
                    .collect();
                let style = SeriesStyle::nth(i);
                let style = if trained { style.dashed() } else { style };
                series.push((format!("{g} {suffix}"), points, style, trained));
            }
        }
        let positive: Vec<f64> = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .filter(|v| *v > 0.0)
            .collect();
        let (min, max) = positive
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let log = min > 0.0 && max / min > 30.0;
        let mut chart = Chart::new(ChartSpec {
            title: &title,
            x_label: "sequence length T",
            y_label: "decay per step ρ",
            y_scale: if log { Scale::Log10 } else { Scale::Linear },
            x_scale: Scale::Log10,
        });
        // One legend entry per group (its colour), plus the two line patterns.
        for (label, points, style, trained) in series {
            let label = if trained {
                String::new()
            } else {
                label.trim_end_matches(" at init").to_string()
            };
            chart = chart.styled(Series::new(label, points), style);
        }
        chart = chart
            .key("solid: at initialisation", Dash::Solid)
            .key("dashed: trained", Dash::Dashed)
            .reference("ρ = 1 (no decay)", 1.0);
        chart.write(path)
    }

    /// Length generalisation: the solved metric (mean over seeds) against the test length, one
    /// series per group and training length, in the group's colour (a line pattern per training
    /// length), with the solved threshold.
    pub fn generalisation_plot(&self, path: &Path, cells: &GeneralisationCells) -> Result<()> {
        let mse = self.uses_mse();
        let title = format!(
            "{}: {} at other lengths after training ({})",
            self.caption,
            self.metric_name(),
            self.seeds_text()
        );
        let mut chart = Chart::new(ChartSpec {
            title: &title,
            x_label: "test length",
            y_label: if mse {
                "eval mean squared error"
            } else {
                "eval accuracy"
            },
            y_scale: if mse { Scale::Log10 } else { Scale::Linear },
            x_scale: Scale::Log10,
        });
        let mut trained_at: Vec<usize> = cells.keys().map(|(_, l)| *l).collect();
        trained_at.sort_unstable();
        trained_at.dedup();
        for ((group, train), tests) in cells {
            let i = self.groups.iter().position(|g| g == group).unwrap_or(0);
            let mut style = SeriesStyle::nth(i);
            style.dash = match trained_at.iter().position(|l| l == train).unwrap_or(0) % 3 {
                0 => Dash::Solid,
                1 => Dash::Dashed,
                _ => Dash::Dotted,
            };
            let points = tests
                .iter()
                .map(|(l, (sum, n))| (*l as f64, sum / (*n).max(1) as f64))
                .collect();
            chart = chart.styled(
                Series::new(format!("{group}, trained at {train}"), points),
                style,
            );
        }
        chart = match self.solved {
            Solved::MseAtMost(t) => {
                chart.reference(format!("solved: MSE ≤ {}", format_number(t)), t)
            }
            Solved::AccuracyAtLeast(t) => chart
                .reference(format!("solved: accuracy ≥ {}", format_number(t)), t)
                .y_include(0.0, 1.0),
        };
        chart.write(path)
    }

    /// The signal at the source ‖∂ℓ/∂h_src‖/‖∂ℓ/∂h_p‖ (layer 0) against length: per group the
    /// geometric mean over seeds (of the positive values; one outlier seed cannot dominate it) at
    /// initialisation (solid) and trained (dashed); log y.
    pub fn source_signal_plot(&self, path: &Path) -> Result<()> {
        let title = format!(
            "{}: signal at the source by length (geometric mean over {} seed{})",
            self.caption,
            self.seeds,
            if self.seeds == 1 { "" } else { "s" }
        );
        let mut chart_series = vec![];
        for (i, g) in self.groups.iter().enumerate() {
            for trained in [false, true] {
                let points: Vec<(f64, f64)> = self
                    .by_length(g)
                    .into_iter()
                    .filter_map(|(l, runs)| {
                        let vals: Vec<f64> = runs
                            .iter()
                            .filter_map(|r| {
                                if trained {
                                    r.source_final
                                } else {
                                    r.source_init
                                }
                            })
                            .collect();
                        crate::analysis::stats::geometric_mean(vals).map(|g| (l as f64, g))
                    })
                    .collect();
                let style = SeriesStyle::nth(i);
                let (label, style) = if trained {
                    (String::new(), style.dashed())
                } else {
                    (g.clone(), style)
                };
                chart_series.push((label, points, style));
            }
        }
        let log = chart_series
            .iter()
            .flat_map(|s| s.1.iter())
            .all(|p| p.1 > 0.0);
        let mut chart = Chart::new(ChartSpec {
            title: &title,
            x_label: "sequence length T",
            y_label: "‖∂ℓ/∂h_src‖ / ‖∂ℓ/∂h_p‖",
            y_scale: if log { Scale::Log10 } else { Scale::Linear },
            x_scale: Scale::Log10,
        });
        for (label, points, style) in chart_series {
            chart = chart.styled(Series::new(label, points), style);
        }
        chart
            .key("solid: at initialisation", Dash::Solid)
            .key("dashed: trained", Dash::Dashed)
            .write(path)
    }

    /// Mean ‖∂ℓ/∂h_t‖ against distance at the longest length, at initialisation or trained: one
    /// series per group (`profiles`: group and points), in the group's colour.
    pub fn gradient_plot(
        &self,
        path: &Path,
        longest: usize,
        trained: bool,
        profiles: Vec<(String, Vec<(f64, f64)>)>,
    ) -> Result<()> {
        let title = format!(
            "{}, T={longest}: ‖∂ℓ/∂h_t‖ {} ({})",
            self.caption,
            if trained {
                "after training"
            } else {
                "at initialisation"
            },
            self.seeds_text()
        );
        let mut chart = Chart::new(ChartSpec {
            title: &title,
            x_label: "distance from the loss (timesteps)",
            y_label: "mean ‖∂ℓ/∂h_t‖₂ (layer 0)",
            y_scale: Scale::Log10,
            x_scale: Scale::Linear,
        });
        for (g, points) in profiles {
            let i = self.groups.iter().position(|x| *x == g).unwrap_or(0);
            let style = SeriesStyle::nth(i);
            let style = if trained { style.dashed() } else { style };
            chart = chart.styled(Series::new(g, points), style);
        }
        chart.write(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mse_tasks_get_their_own_file() {
        let p = SweepPlots {
            caption: "adding".into(),
            seeds: 2,
            groups: vec![],
            runs: vec![],
            solved: Solved::MseAtMost(0.01),
            solved_fractions: vec![],
        };
        assert_eq!(p.metric_file("_adding"), "mse_vs_length_adding.svg");
        assert_eq!(p.metric_name(), "MSE");
    }
}
