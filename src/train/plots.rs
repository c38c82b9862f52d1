//! The plots of a training run or gradient report, built from its measured rows.

use std::path::Path;

use super::{MetricRow, TrainConfig};
use crate::analysis::gradient_report::GradientProbe;
use crate::analysis::history::HistoryPoint;
use crate::cells::CellKind;
use crate::error::Result;
use crate::report::{
    heatmap_svg, line_chart_svg, stacked_svg, Chart, ChartSpec, Heatmap, Scale, Series, SeriesStyle,
};

/// The configuration in a few words for a plot title: `tanaka T=20, lstm, hidden 64`, with the
/// activation for a vanilla RNN (or any non-default one), stacked layers, residual connections and
/// layer norm when used. Options named in `omit` (as the sweep grid names them: `task`, `length`,
/// `cell`, `activation`, `hidden`, `layers`) are left out, because a legend or axis shows them.
pub fn config_caption(config: &TrainConfig, omit: &[&str]) -> String {
    let shown = |name: &str| !omit.contains(&name);
    let m = &config.model;
    let mut parts = vec![];
    let mut task = String::new();
    if shown("task") {
        task.push_str(config.task.task.name());
    }
    if shown("length") {
        if !task.is_empty() {
            task.push(' ');
        }
        task.push_str(&format!("T={}", config.task.length));
    }
    if !task.is_empty() {
        parts.push(task);
    }
    let mut cell = String::new();
    if shown("cell") {
        cell.push_str(&m.cell.to_string());
    }
    let activation_matters = m.cell == CellKind::Rnn || m.activation.to_string() != "tanh";
    if shown("activation") && activation_matters {
        if !cell.is_empty() {
            cell.push(' ');
        }
        cell.push_str(&m.activation.to_string());
    }
    if !cell.is_empty() {
        parts.push(cell);
    }
    match &m.widths {
        Some(w) if shown("widths") => parts.push(format!(
            "widths {}",
            w.iter().map(usize::to_string).collect::<Vec<_>>().join(":")
        )),
        Some(_) => {}
        None => {
            let hidden = shown("hidden").then(|| format!("hidden {}", m.hidden));
            let layers = (shown("layers") && m.layers > 1).then(|| format!("{} layers", m.layers));
            parts.extend(hidden.into_iter().chain(layers));
        }
    }
    if m.residual && shown("residual") {
        parts.push("residual".into());
    }
    if m.layer_norm && shown("layer-norm") {
        parts.push("layer norm".into());
    }
    parts.join(", ")
}

/// Mean ‖∂ℓ/∂h_t‖ of `layer` against distance from the probe step, one curve per probe step
/// ("training step 300"), log y axis.
pub fn gradient_plot(
    path: &Path,
    title: &str,
    probes: &[GradientProbe],
    layer: usize,
) -> Result<()> {
    let series: Vec<Series> = probes
        .iter()
        .map(|p| {
            let mut points: Vec<(f64, f64)> = p
                .rows
                .iter()
                .filter(|r| r.layer == layer)
                .map(|r| (r.distance as f64, r.grad_h))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series::new(format!("training step {}", p.step), points)
        })
        .collect();
    let chart = ChartSpec {
        title,
        x_label: "distance from the loss (timesteps)",
        y_label: "mean ‖∂ℓ/∂h_t‖₂",
        y_scale: Scale::Log10,
        x_scale: Scale::Linear,
    };
    line_chart_svg(path, &chart, &series)
}

/// The measured ratio grad_h(d)/grad_h(0) of `layer` (solid) beside the theory (Pascanu et al.
/// 2013) on one log axis: the product of step-Jacobian norms from the loss step back to distance
/// d (dashed) and, for a vanilla RNN, (γ·σ_max(W_hh))^d (dotted); one colour per probe, drawn for
/// the first probe and the last (at initialisation and after training).
pub fn theory_plot(path: &Path, title: &str, probes: &[GradientProbe], layer: usize) -> Result<()> {
    let mut chart = Chart::new(ChartSpec {
        title,
        x_label: "distance from the loss (timesteps)",
        y_label: "ratio to the loss step (log)",
        y_scale: Scale::Log10,
        x_scale: Scale::Linear,
    });
    let mut shown: Vec<&GradientProbe> = probes.first().into_iter().collect();
    if let Some(last) = probes
        .last()
        .filter(|l| probes.len() > 1 && l.step != probes[0].step)
    {
        shown.push(last);
    }
    for (i, p) in shown.iter().enumerate() {
        let Some(t) = p.theory.iter().find(|t| t.layer == layer) else {
            continue;
        };
        let style = SeriesStyle::nth(i);
        let at = format!("step {}", p.step);
        let curve = |f: &dyn Fn(&crate::analysis::gradient_report::TheoryPoint) -> Option<f64>| {
            t.curve
                .iter()
                .filter_map(|c| Some((c.distance as f64, f(c)?)))
                .collect::<Vec<_>>()
        };
        chart = chart
            .styled(
                Series::new(
                    format!("measured ‖∂ℓ/∂h_t‖ ratio, {at}"),
                    curve(&|c| Some(c.measured_ratio)),
                ),
                style,
            )
            .styled(
                Series::new(
                    format!("Π‖∂h_t/∂h_t−1‖₂ back to d, {at}"),
                    curve(&|c| Some(c.jacobian_product)),
                ),
                style.dashed(),
            );
        if let (Some(g), Some(s)) = (t.gamma, t.sigma_max) {
            chart = chart.styled(
                Series::new(
                    format!(
                        "(γ·σ_max)^d = {}^d, {at}",
                        crate::report::format_number(g * s)
                    ),
                    curve(&|c| c.vanilla_bound),
                ),
                style.dotted(),
            );
        }
    }
    chart.write(path)
}

/// The `(step, value)` points of the rows that have a value.
fn by_step(
    label: &str,
    metrics: &[MetricRow],
    value: impl Fn(&MetricRow) -> Option<f64>,
) -> Series {
    Series::new(
        label,
        metrics
            .iter()
            .filter_map(|m| value(m).map(|v| (m.step as f64, v)))
            .collect(),
    )
}

/// The memoryless baseline's legend label with its value.
fn baseline_label(baseline: f64) -> String {
    format!(
        "memoryless baseline ({})",
        crate::report::format_number(baseline)
    )
}

/// Training loss (every step) and evaluation loss against step, with the memoryless baseline.
pub fn loss_plot(path: &Path, title: &str, metrics: &[MetricRow], baseline: f64) -> Result<()> {
    loss_plot_with(path, title, "loss", metrics, baseline, false)
}

/// [`loss_plot`] with the y axis label (e.g. "loss (MSE)") and, for a diverged run, the last
/// finite training loss marked with a ✕ ("diverged after this step").
pub fn loss_plot_with(
    path: &Path,
    title: &str,
    y_label: &str,
    metrics: &[MetricRow],
    baseline: f64,
    diverged: bool,
) -> Result<()> {
    let train = by_step(
        if diverged {
            "train loss (diverged)"
        } else {
            "train loss"
        },
        metrics,
        |m| m.train_loss,
    );
    let flagged = if diverged {
        let last = train
            .points
            .iter()
            .rposition(|p| p.1.is_finite() && p.1 > 0.0);
        last.into_iter().collect()
    } else {
        vec![]
    };
    let mut chart = Chart::new(ChartSpec {
        title,
        x_label: "training step",
        y_label,
        y_scale: Scale::Log10,
        x_scale: Scale::Linear,
    })
    .flagged(train, SeriesStyle::nth(0), flagged)
    .styled(
        by_step("eval loss", metrics, |m| m.eval_loss),
        SeriesStyle::nth(1),
    )
    .reference(baseline_label(baseline), baseline);
    chart.flag_label = "diverged after this step".into();
    chart.write(path)
}

/// Evaluation accuracy against step, with the memoryless baseline.
pub fn accuracy_plot(path: &Path, title: &str, metrics: &[MetricRow], baseline: f64) -> Result<()> {
    Chart::new(ChartSpec {
        title,
        x_label: "training step",
        y_label: "eval accuracy",
        y_scale: Scale::Linear,
        x_scale: Scale::Linear,
    })
    .series(by_step("eval accuracy", metrics, |m| m.eval_accuracy))
    .reference(baseline_label(baseline), baseline)
    .y_include(0.0, 1.0)
    .write(path)
}

/// The heatmap's largest size in cells: more probes or distances than this are merged in equal
/// groups (geometric mean of the group's positive values), so a long run on a long task keeps a
/// file of at most ~1 MB; `gradient_history.csv` keeps every value.
pub const HEATMAP_MAX_COLUMNS: usize = 120;
pub const HEATMAP_MAX_ROWS: usize = 100;

/// Groups of consecutive indices `0..n`, each of `ceil(n / max)` (the last one shorter), so that
/// there are at most `max` groups.
fn groups(n: usize, max: usize) -> Vec<std::ops::Range<usize>> {
    let size = n.div_ceil(max.max(1)).max(1);
    (0..n).step_by(size).map(|a| a..(a + size).min(n)).collect()
}

/// Geometric mean of the finite positive values; NaN when there is none.
fn geometric_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((0.0, 0usize), |(s, n), v| (s + v.ln(), n + 1));
    if n == 0 {
        f64::NAN
    } else {
        (sum / n as f64).exp()
    }
}

/// A heatmap's cells: `values[c][r]` at `columns[c]` × `rows[r]`, each cell the geometric mean
/// of `per_cell` = (probes, distances) measured values.
#[derive(Debug, Clone, PartialEq)]
struct Cells {
    columns: Vec<f64>,
    rows: Vec<f64>,
    values: Vec<Vec<f64>>,
    per_cell: (usize, usize),
}

/// The heatmap of `values[c][r]` at `columns` × `rows`, merged into at most `max` columns and
/// rows: positions are the groups' means, values their geometric means (unchanged when it fits).
fn merged(columns: &[f64], rows: &[f64], values: &[Vec<f64>], max: (usize, usize)) -> Cells {
    if columns.len() <= max.0 && rows.len() <= max.1 {
        return Cells {
            columns: columns.to_vec(),
            rows: rows.to_vec(),
            values: values.to_vec(),
            per_cell: (1, 1),
        };
    }
    let cg = groups(columns.len(), max.0);
    let rg = groups(rows.len(), max.1);
    let mean = |p: &[f64]| p.iter().sum::<f64>() / p.len().max(1) as f64;
    let merged_values = cg
        .iter()
        .map(|c| {
            rg.iter()
                .map(|r| {
                    geometric_mean(
                        values[c.clone()]
                            .iter()
                            .flat_map(|col| col[r.clone()].iter().copied()),
                    )
                })
                .collect()
        })
        .collect();
    let size = |g: &[std::ops::Range<usize>]| g.first().map_or(1, |r| r.len());
    Cells {
        columns: cg.iter().map(|c| mean(&columns[c.clone()])).collect(),
        rows: rg.iter().map(|r| mean(&rows[r.clone()])).collect(),
        values: merged_values,
        per_cell: (size(&cg), size(&rg)),
    }
}

/// The heatmap of mean ‖∂ℓ/∂h_t‖ of `layer` over training step (x, one column per history point)
/// × distance from the loss (y), coloured by log10; past [`HEATMAP_MAX_COLUMNS`] ×
/// [`HEATMAP_MAX_ROWS`] cells, neighbours are merged and the title says so.
pub fn gradient_history_plot(
    path: &Path,
    title: &str,
    history: &[HistoryPoint],
    layer: usize,
) -> Result<()> {
    let distances = history
        .iter()
        .map(|p| p.grad_h.get(layer).map_or(0, Vec::len))
        .max()
        .unwrap_or(0);
    let values: Vec<Vec<f64>> = history
        .iter()
        .map(|p| {
            let mut column = p.grad_h.get(layer).cloned().unwrap_or_default();
            column.resize(distances, f64::NAN);
            column
        })
        .collect();
    let columns: Vec<f64> = history.iter().map(|p| p.step as f64).collect();
    let rows: Vec<f64> = (0..distances).map(|d| d as f64).collect();
    let Cells {
        columns,
        rows,
        values,
        per_cell: (per_column, per_row),
    } = merged(
        &columns,
        &rows,
        &values,
        (HEATMAP_MAX_COLUMNS, HEATMAP_MAX_ROWS),
    );
    let title = if per_column > 1 || per_row > 1 {
        format!("{title} (cells: geometric means of {per_column} probes × {per_row} distances)")
    } else {
        title.to_string()
    };
    heatmap_svg(
        path,
        &Heatmap {
            title: &title,
            x_label: "training step",
            y_label: "distance from the loss (timesteps)",
            value_label: "mean ‖∂ℓ/∂h_t‖₂",
            columns,
            rows,
            values,
        },
    )
}

/// Two panels on one training-step axis: the signal at the source (geometric mean over
/// sequences, solid; mean, dashed; one colour per layer, log y) above the eval accuracy of the run's
/// evaluations (`metrics`) with the memoryless baseline.
pub fn learning_over_time_plot(
    path: &Path,
    name: &str,
    history: &[HistoryPoint],
    metrics: &[MetricRow],
    baseline_accuracy: f64,
) -> Result<()> {
    let steps = history.iter().map(|p| p.step).chain(
        metrics
            .iter()
            .filter(|m| m.eval_accuracy.is_some())
            .map(|m| m.step),
    );
    let (first, last) = steps.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
        (a.min(s as f64), b.max(s as f64))
    });
    let (first, last) = if first <= last {
        (first, last)
    } else {
        (0.0, 1.0)
    };
    let layers = history.first().map_or(0, |p| p.source_signal.len());
    let signal_title = format!("{name}: signal at the source over training");
    let mut signal = Chart::new(ChartSpec {
        title: &signal_title,
        x_label: "training step",
        y_label: "‖∂ℓ/∂h_src‖ / ‖∂ℓ/∂h_p‖",
        y_scale: Scale::Log10,
        x_scale: Scale::Linear,
    })
    .x_include(first, last)
    .size((800, 400));
    for layer in 0..layers {
        let points =
            |f: &dyn Fn(&crate::analysis::gradient_report::SourceSignal) -> Option<f64>| {
                history
                    .iter()
                    .filter_map(|p| {
                        let s = p.source_signal.iter().find(|s| s.layer == layer)?;
                        Some((p.step as f64, f(s)?))
                    })
                    .collect::<Vec<_>>()
            };
        let prefix = if layers > 1 {
            format!("layer {layer}: ")
        } else {
            String::new()
        };
        let style = SeriesStyle::nth(layer);
        // the geometric mean leads: one outlier sequence can move the mean by decades
        signal = signal
            .styled(
                Series::new(
                    format!("{prefix}geometric mean over sequences"),
                    points(&|s| s.geometric_mean),
                ),
                style,
            )
            .styled(
                Series::new(format!("{prefix}mean"), points(&|s| Some(s.mean))),
                style.dashed(),
            );
    }
    let accuracy_title = format!("{name}: eval accuracy on the same step axis");
    let accuracy = Chart::new(ChartSpec {
        title: &accuracy_title,
        x_label: "training step",
        y_label: "eval accuracy",
        y_scale: Scale::Linear,
        x_scale: Scale::Linear,
    })
    .series(by_step("eval accuracy", metrics, |m| m.eval_accuracy))
    .reference(baseline_label(baseline_accuracy), baseline_accuracy)
    .y_include(0.0, 1.0)
    .x_include(first, last)
    .size((800, 400));
    stacked_svg(path, &[signal, accuracy])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_heatmaps_merge_neighbours_into_geometric_means() {
        assert_eq!(groups(5, 10), vec![0..1, 1..2, 2..3, 3..4, 4..5]);
        assert_eq!(groups(5, 2), vec![0..3, 3..5]);
        assert!(groups(0, 3).is_empty());
        let columns: Vec<f64> = (0..250).map(|c| 10.0 * c as f64).collect();
        let rows: Vec<f64> = (0..201).map(|r| r as f64).collect();
        let values: Vec<Vec<f64>> = columns
            .iter()
            .map(|_| rows.iter().map(|r| 10f64.powf(-r)).collect())
            .collect();
        let m = merged(&columns, &rows, &values, (120, 100));
        assert_eq!(m.per_cell, (3, 3));
        assert_eq!((m.columns.len(), m.rows.len()), (84, 67));
        // steps 0, 10, 20 and distances 0, 1, 2 in the first cell
        assert_eq!((m.columns[0], m.rows[0]), (10.0, 1.0));
        // geometric mean of 1, 0.1, 0.01
        assert!((m.values[0][0] / 0.1 - 1.0).abs() < 1e-12);
        let m = merged(&columns[..3], &rows[..2], &values[..3], (120, 100));
        assert_eq!((m.columns.len(), m.per_cell), (3, (1, 1)));
        assert_eq!(m.values[2][1], 0.1);
        assert!(geometric_mean([0.0, f64::NAN].into_iter()).is_nan());
    }
}
