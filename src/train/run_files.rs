//! The names of the files in a run directory (see [`super::run_dir`] for what each holds), in
//! one place that the run directory's writer and the run's report both import.

pub const CONFIG_FILE: &str = "config.ron";
pub const METRICS_FILE: &str = "metrics.csv";
pub const GRADIENTS_FILE: &str = "gradients.csv";
pub const SUMMARY_FILE: &str = "summary.ron";
pub const DIAGNOSTICS_FILE: &str = "diagnostics.csv";
pub const UPDATE_SHARE_FILE: &str = "update_share.csv";
pub const SOURCE_SIGNAL_FILE: &str = "source_signal.csv";
pub const GRADIENT_HISTORY_FILE: &str = "gradient_history.csv";
pub const SIGNAL_HISTORY_FILE: &str = "signal_history.csv";
pub const THEORY_FILE: &str = "theory.csv";
/// The learning-over-time plots of layer 0 (other layers' heatmaps: `gradient_history_l1.svg`, …).
pub const GRADIENT_HISTORY_PLOT: &str = "gradient_history.svg";
pub const LEARNING_OVER_TIME_PLOT: &str = "learning_over_time.svg";

/// The heatmap file of `layer`.
pub fn gradient_history_plot_file(layer: usize) -> String {
    if layer == 0 {
        GRADIENT_HISTORY_PLOT.to_string()
    } else {
        format!("gradient_history_l{layer}.svg")
    }
}

/// The gradient plot file of `layer`: `gradients.svg`, then `gradients_l1.svg`, ….
pub fn gradient_plot_file(layer: usize) -> String {
    if layer == 0 {
        "gradients.svg".to_string()
    } else {
        format!("gradients_l{layer}.svg")
    }
}

/// The theory plot file of `layer`: `theory.svg`, then `theory_l1.svg`, ….
pub fn theory_plot_file(layer: usize) -> String {
    if layer == 0 {
        "theory.svg".to_string()
    } else {
        format!("theory_l{layer}.svg")
    }
}
