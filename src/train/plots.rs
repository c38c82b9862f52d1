//! The plots of a training run or gradient report, built from its measured rows.

use std::path::Path;

use super::{MetricRow, TrainConfig};
use crate::analysis::gradient_report::GradientProbe;
use crate::cells::CellKind;
use crate::error::Result;
use crate::report::{line_chart_svg, Chart, ChartSpec, Scale, Series, SeriesStyle};

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
