//! The plots of a training run or gradient report, built from its measured rows.

use std::path::Path;

use super::{line_chart_svg, ChartSpec, Scale, Series};
use crate::analysis::gradient_report::GradientProbe;
use crate::error::Result;
use crate::train::MetricRow;

/// Mean ‖∂ℓ/∂h_t‖ of `layer` against distance from the probe step, one curve per probe step,
/// log y axis.
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
            Series {
                label: format!("step {}", p.step),
                points,
                spread: None,
            }
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
    Series {
        label: label.into(),
        points: metrics
            .iter()
            .filter_map(|m| value(m).map(|v| (m.step as f64, v)))
            .collect(),
        spread: None,
    }
}

/// A flat line at the memoryless predictor's value across the run.
fn baseline_line(metrics: &[MetricRow], baseline: f64) -> Series {
    let last = metrics.last().map_or(1.0, |m| m.step.max(1) as f64);
    Series {
        label: "memoryless baseline".into(),
        points: vec![(0.0, baseline), (last, baseline)],
        spread: None,
    }
}

/// Training loss (every step) and evaluation loss against step, with the memoryless baseline.
pub fn loss_plot(path: &Path, title: &str, metrics: &[MetricRow], baseline: f64) -> Result<()> {
    let series = vec![
        by_step("train loss", metrics, |m| m.train_loss),
        by_step("eval loss", metrics, |m| m.eval_loss),
        baseline_line(metrics, baseline),
    ];
    let chart = ChartSpec {
        title,
        x_label: "step",
        y_label: "loss",
        y_scale: Scale::Log10,
        x_scale: Scale::Linear,
    };
    line_chart_svg(path, &chart, &series)
}

/// Evaluation accuracy against step, with the memoryless baseline.
pub fn accuracy_plot(path: &Path, title: &str, metrics: &[MetricRow], baseline: f64) -> Result<()> {
    let series = vec![
        by_step("eval accuracy", metrics, |m| m.eval_accuracy),
        baseline_line(metrics, baseline),
    ];
    let chart = ChartSpec {
        title,
        x_label: "step",
        y_label: "accuracy",
        y_scale: Scale::Linear,
        x_scale: Scale::Linear,
    };
    line_chart_svg(path, &chart, &series)
}
