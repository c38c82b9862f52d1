//! The run directory: every file a training run leaves, each written as soon as its content
//! exists (config first, metric and gradient rows as they come, summary and model at the end), so
//! an interrupted run keeps everything it finished.
//!
//! ```text
//! DIR/config.ron          the fully resolved configuration (rnnlab train --config DIR/config.ron repeats the run)
//! DIR/metrics.csv         step,train_loss,eval_loss,eval_accuracy,grad_norm,clipped
//! DIR/gradients.csv       step,layer,timestep,distance,grad_h,grad_c,grad_w
//! DIR/diagnostics.csv     step,layer,mean_activation_derivative,saturated_fraction,
//!                         mean_jacobian_spectral_norm,mean_gate (see analysis::diagnostics)
//! DIR/update_share.csv  step,layer,distance,share_at_or_beyond (share of Σ_t grad_w from distances ≥ d)
//! DIR/theory.csv        step,layer,distance,jacobian_product,gamma_sigma_max_pow_d,measured_ratio
//!                         (Π‖J_t‖₂ from the loss step back to each distance, (γ·σ_max)^d for a
//!                         vanilla RNN, the measured grad_h ratio)
//! DIR/source_signal.csv step,layer,sequence,target_step,source_step,ratio (‖∂ℓ/∂h_src‖ / ‖∂ℓ/∂h_target‖)
//! DIR/gradient_history.csv step,layer,distance,grad_norm (learning over time: mean ‖∂ℓ/∂h_t‖ every
//!                         history-every steps)
//! DIR/signal_history.csv  step,layer,source_signal_mean,source_signal_geometric_mean,eval_loss,
//!                         eval_accuracy (the same steps)
//! DIR/summary.ron         final numbers, decay summaries at initialisation and at the end
//! DIR/model.safetensors   weights (PyTorch names) + DIR/model.ron (architecture)
//! DIR/plots/*.svg         gradient norm against distance, the theory beside it, loss and accuracy curves, the gradient
//!                         history heatmap and learning over time
//! DIR/report.{md,html}    the run's report (see `run_report`)
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::config::TrainConfig;
use super::plots::{
    accuracy_plot, config_caption, gradient_history_plot, gradient_plot, learning_over_time_plot,
    loss_plot_with, theory_plot,
};
use super::run_files::{
    gradient_history_plot_file, gradient_plot_file, theory_plot_file, CONFIG_FILE,
    DIAGNOSTICS_FILE, GRADIENTS_FILE, GRADIENT_HISTORY_FILE, LEARNING_OVER_TIME_PLOT, METRICS_FILE,
    SIGNAL_HISTORY_FILE, SOURCE_SIGNAL_FILE, SUMMARY_FILE, THEORY_FILE, UPDATE_SHARE_FILE,
};
use super::trainer::{
    MetricRow, RunSummary, TrainObserver, TrainOutcome, TrainedNetwork, METRICS_CSV_HEADER,
};
use crate::analysis::gradient_report::{
    GradientProbe, GRADIENTS_CSV_HEADER, SOURCE_SIGNAL_CSV_HEADER, THEORY_CSV_HEADER,
    UPDATE_SHARE_CSV_HEADER,
};
use crate::analysis::history::{
    HistoryPoint, GRADIENT_HISTORY_CSV_HEADER, SIGNAL_HISTORY_CSV_HEADER,
};
use crate::analysis::{diagnostics_csv_rows, DIAGNOSTICS_CSV_HEADER};
use crate::error::{Error, Result};
use crate::model_io::save_model_initialised;
use crate::outdir::{prepare_fresh, write_atomic, write_json, DirKind, DEFAULT_ROOT};
use crate::tasks::OutputKind;

/// An open run directory receiving a run's files.
pub struct RunDir {
    pub path: PathBuf,
    /// The run's resolved configuration (for the report).
    config: TrainConfig,
    metrics: BufWriter<File>,
    gradients: BufWriter<File>,
    diagnostics: BufWriter<File>,
    update_share: BufWriter<File>,
    source_signal: BufWriter<File>,
    theory: BufWriter<File>,
    gradient_history: BufWriter<File>,
    signal_history: BufWriter<File>,
}

/// The default directory of a run: `runs/<task>-<cell>-L<length>-s<seed>`, the task with its
/// unit and language when not the default ([`crate::tasks::TaskSpec::dir_stem`]:
/// `runs/tanaka-char-lstm-L55-s0`).
pub fn default_run_dir(config: &TrainConfig) -> PathBuf {
    PathBuf::from(DEFAULT_ROOT).join(format!(
        "{}-{}-L{}-s{}",
        config.task.dir_stem(),
        config.model.cell,
        config.task.length,
        config.seed
    ))
}

impl RunDir {
    /// Creates `path` (marked as a run directory) and writes `config.ron`. An existing run is
    /// replaced only with `force`, and only as [`crate::outdir::prepare_fresh`] allows.
    pub fn create(path: &Path, config: &TrainConfig, force: bool) -> Result<RunDir> {
        prepare_fresh(path, DirKind::Run, force)?;
        write_atomic(&path.join(CONFIG_FILE), config.to_ron().as_bytes())?;
        write_json(&path.join(CONFIG_FILE).with_extension("json"), config)?;
        let mut metrics = create(&path.join(METRICS_FILE))?;
        let mut gradients = create(&path.join(GRADIENTS_FILE))?;
        writeln!(metrics, "{METRICS_CSV_HEADER}").map_err(|e| io(path.join(METRICS_FILE), e))?;
        writeln!(gradients, "{GRADIENTS_CSV_HEADER}")
            .map_err(|e| io(path.join(GRADIENTS_FILE), e))?;
        let mut diagnostics = create(&path.join(DIAGNOSTICS_FILE))?;
        writeln!(diagnostics, "{DIAGNOSTICS_CSV_HEADER}")
            .map_err(|e| io(path.join(DIAGNOSTICS_FILE), e))?;
        let mut update_share = create(&path.join(UPDATE_SHARE_FILE))?;
        writeln!(update_share, "{UPDATE_SHARE_CSV_HEADER}")
            .map_err(|e| io(path.join(UPDATE_SHARE_FILE), e))?;
        let mut source_signal = create(&path.join(SOURCE_SIGNAL_FILE))?;
        writeln!(source_signal, "{SOURCE_SIGNAL_CSV_HEADER}")
            .map_err(|e| io(path.join(SOURCE_SIGNAL_FILE), e))?;
        let mut theory = create(&path.join(THEORY_FILE))?;
        writeln!(theory, "{THEORY_CSV_HEADER}").map_err(|e| io(path.join(THEORY_FILE), e))?;
        let mut gradient_history = create(&path.join(GRADIENT_HISTORY_FILE))?;
        writeln!(gradient_history, "{GRADIENT_HISTORY_CSV_HEADER}")
            .map_err(|e| io(path.join(GRADIENT_HISTORY_FILE), e))?;
        let mut signal_history = create(&path.join(SIGNAL_HISTORY_FILE))?;
        writeln!(signal_history, "{SIGNAL_HISTORY_CSV_HEADER}")
            .map_err(|e| io(path.join(SIGNAL_HISTORY_FILE), e))?;
        Ok(RunDir {
            path: path.to_path_buf(),
            config: config.clone(),
            metrics,
            gradients,
            diagnostics,
            update_share,
            source_signal,
            theory,
            gradient_history,
            signal_history,
        })
    }

    /// Writes the summary, the model and the plots once training has ended.
    pub fn finish(mut self, outcome: &TrainOutcome) -> Result<()> {
        self.metrics
            .flush()
            .map_err(|e| io(self.path.join(METRICS_FILE), e))?;
        self.gradients
            .flush()
            .map_err(|e| io(self.path.join(GRADIENTS_FILE), e))?;
        self.gradient_history
            .flush()
            .map_err(|e| io(self.path.join(GRADIENT_HISTORY_FILE), e))?;
        self.signal_history
            .flush()
            .map_err(|e| io(self.path.join(SIGNAL_HISTORY_FILE), e))?;
        let init = self.config.resolved_init(&outcome.task);
        match &outcome.network {
            TrainedNetwork::F32(n) => save_model_initialised(n, Some(&init), &self.path)?,
            TrainedNetwork::F64(n) => save_model_initialised(n, Some(&init), &self.path)?,
        }
        write_summary(&self.path.join(SUMMARY_FILE), &outcome.summary)?;
        write_run_plots(&self.path, outcome)?;
        super::run_report::write_run_report(&self.path, &self.config, outcome)
    }
}

impl TrainObserver for RunDir {
    fn on_metric(&mut self, row: &MetricRow) -> Result<()> {
        // each row reaches the file as it is measured, so a killed run keeps every finished step
        writeln!(self.metrics, "{}", row.csv()).map_err(|e| io(self.path.join(METRICS_FILE), e))?;
        self.metrics
            .flush()
            .map_err(|e| io(self.path.join(METRICS_FILE), e))
    }

    fn on_probe(&mut self, probe: &GradientProbe) -> Result<()> {
        for row in &probe.rows {
            writeln!(self.gradients, "{}", row.csv())
                .map_err(|e| io(self.path.join(GRADIENTS_FILE), e))?;
        }
        self.gradients
            .flush()
            .map_err(|e| io(self.path.join(GRADIENTS_FILE), e))?;
        for row in diagnostics_csv_rows(probe.step, &probe.diagnostics) {
            writeln!(self.diagnostics, "{row}")
                .map_err(|e| io(self.path.join(DIAGNOSTICS_FILE), e))?;
        }
        self.diagnostics
            .flush()
            .map_err(|e| io(self.path.join(DIAGNOSTICS_FILE), e))?;
        for (layer, distance, share) in probe.update_share_rows() {
            writeln!(
                self.update_share,
                "{},{layer},{distance},{share:e}",
                probe.step
            )
            .map_err(|e| io(self.path.join(UPDATE_SHARE_FILE), e))?;
        }
        self.update_share
            .flush()
            .map_err(|e| io(self.path.join(UPDATE_SHARE_FILE), e))?;
        for row in probe.theory_csv_rows() {
            writeln!(self.theory, "{row}").map_err(|e| io(self.path.join(THEORY_FILE), e))?;
        }
        self.theory
            .flush()
            .map_err(|e| io(self.path.join(THEORY_FILE), e))?;
        for row in &probe.source_rows {
            writeln!(self.source_signal, "{}", row.csv())
                .map_err(|e| io(self.path.join(SOURCE_SIGNAL_FILE), e))?;
        }
        self.source_signal
            .flush()
            .map_err(|e| io(self.path.join(SOURCE_SIGNAL_FILE), e))
    }

    fn on_history(&mut self, point: &HistoryPoint) -> Result<()> {
        for row in point.gradient_csv_rows() {
            writeln!(self.gradient_history, "{row}")
                .map_err(|e| io(self.path.join(GRADIENT_HISTORY_FILE), e))?;
        }
        self.gradient_history
            .flush()
            .map_err(|e| io(self.path.join(GRADIENT_HISTORY_FILE), e))?;
        for row in point.signal_csv_rows() {
            writeln!(self.signal_history, "{row}")
                .map_err(|e| io(self.path.join(SIGNAL_HISTORY_FILE), e))?;
        }
        self.signal_history
            .flush()
            .map_err(|e| io(self.path.join(SIGNAL_HISTORY_FILE), e))
    }
}

/// Writes the files of one probe without training, as a run writes them (`rnnlab gradients`):
/// `gradients.csv`, `diagnostics.csv`, `theory.csv` and `source_signal.csv` with their headers.
pub fn write_probe_files(dir: &Path, probe: &GradientProbe) -> Result<()> {
    let file = |header: &str, rows: Vec<String>| {
        let mut text = format!("{header}\n");
        for row in rows {
            text.push_str(&row);
            text.push('\n');
        }
        text
    };
    let gradients = file(
        GRADIENTS_CSV_HEADER,
        probe.rows.iter().map(|r| r.csv()).collect(),
    );
    write_atomic(&dir.join(GRADIENTS_FILE), gradients.as_bytes())?;
    let diagnostics = file(
        DIAGNOSTICS_CSV_HEADER,
        diagnostics_csv_rows(probe.step, &probe.diagnostics),
    );
    write_atomic(&dir.join(DIAGNOSTICS_FILE), diagnostics.as_bytes())?;
    let theory = file(THEORY_CSV_HEADER, probe.theory_csv_rows());
    write_atomic(&dir.join(THEORY_FILE), theory.as_bytes())?;
    let sources = file(
        SOURCE_SIGNAL_CSV_HEADER,
        probe.source_rows.iter().map(|r| r.csv()).collect(),
    );
    write_atomic(&dir.join(SOURCE_SIGNAL_FILE), sources.as_bytes())
}

/// `plots/gradients.svg` (one per layer when stacked: `gradients_l1.svg`, …), `plots/loss.svg`,
/// `plots/accuracy.svg`. Titles name the configuration (from `DIR/config.ron`, with the task the
/// run actually used); a diverged run says so in its titles and marks its loss curve.
pub fn write_run_plots(dir: &Path, outcome: &TrainOutcome) -> Result<()> {
    let plots = dir.join("plots");
    let s = &outcome.summary;
    let name = match TrainConfig::load(&dir.join(CONFIG_FILE)) {
        Ok(mut config) => {
            config.task = outcome.task.spec().clone();
            config_caption(&config, &[])
        }
        Err(_) => outcome.task.kind().to_string(),
    };
    let name = if s.diverged {
        format!("{name} (diverged)")
    } else {
        name
    };
    let layers = outcome.probes.first().map_or(0, |p| p.summaries.len());
    for layer in 0..layers {
        let file = gradient_plot_file(layer);
        let which = if layers > 1 {
            format!(", layer {layer}")
        } else {
            String::new()
        };
        let title = format!("{name}: gradient reaching each step back{which}");
        gradient_plot(&plots.join(file), &title, &outcome.probes, layer)?;
        theory_plot(
            &plots.join(theory_plot_file(layer)),
            &format!("{name}: measured gradient ratio and the theory{which}"),
            &outcome.probes,
            layer,
        )?;
    }
    if !outcome.history.is_empty() {
        let history_layers = outcome.history[0].grad_h.len();
        for layer in 0..history_layers {
            let which = if history_layers > 1 {
                format!(", layer {layer}")
            } else {
                String::new()
            };
            gradient_history_plot(
                &plots.join(gradient_history_plot_file(layer)),
                &format!("{name}: log ‖∂ℓ/∂h_t‖ over training{which}"),
                &outcome.history,
                layer,
            )?;
        }
        learning_over_time_plot(
            &plots.join(LEARNING_OVER_TIME_PLOT),
            &name,
            &outcome.history,
            &outcome.metrics,
            s.baseline_accuracy,
        )?;
    }
    let loss_label = match outcome.task.output_kind() {
        OutputKind::Values { .. } => "loss (mean squared error)",
        OutputKind::Classes { .. } => "loss (cross-entropy, nats)",
    };
    loss_plot_with(
        &plots.join("loss.svg"),
        &format!("{name}: loss"),
        loss_label,
        &outcome.metrics,
        s.baseline_loss,
        s.diverged,
    )?;
    accuracy_plot(
        &plots.join("accuracy.svg"),
        &format!("{name}: eval accuracy"),
        &outcome.metrics,
        s.baseline_accuracy,
    )
}

/// Writes `summary.ron` at `path` and the same fields as `summary.json` beside it (for readers
/// without RON, e.g. Python's standard library). JSON has no infinity or NaN: such a number is
/// written as `null`.
pub fn write_summary(path: &Path, summary: &RunSummary) -> Result<()> {
    let text = ron::ser::to_string_pretty(summary, ron::ser::PrettyConfig::default())
        .map_err(|e| Error::bad_file(path, e.to_string()))?;
    write_atomic(path, text.as_bytes())?;
    write_json(&path.with_extension("json"), summary)
}

pub fn read_summary(path: &Path) -> Result<RunSummary> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    ron::from_str(&text)
        .map_err(|e| Error::bad_file(path, format!("line {}: {}", e.position.line, e.code)))
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| io(path.to_path_buf(), e))
}

fn io(path: PathBuf, source: std::io::Error) -> Error {
    Error::Io { path, source }
}
