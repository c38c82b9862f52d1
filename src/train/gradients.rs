//! The gradient report without training (what `rnnlab gradients` runs): a network at
//! initialisation or loaded from a saved model, measured on the run's probe batch (the same
//! sequences `rnnlab train` probes for the same config) or on a dataset file, and the files it
//! leaves.

use std::path::{Path, PathBuf};

use super::run_dir::write_probe_files;
use super::run_files::{gradient_plot_file, theory_plot_file};
use super::trainer::{probe_batch, probe_sequences};
use super::TrainConfig;
use crate::analysis::gradient_report::{probe_report, GradientProbe};
use crate::error::{Error, Result};
use crate::init::InitSpec;
use crate::model_io::{checked_spec, load_model, save_model_initialised};
use crate::network::Network;
use crate::outdir::{prepare_fresh, DirKind};
use crate::tasks::{load_dataset, save_dataset, Sequence, Task};

use super::plots::{gradient_plot, theory_plot};

/// The probe batch's file in the output directory.
pub const PROBE_FILE: &str = "probe.ron";

/// A measured gradient report and what it was measured on.
#[derive(Debug, Clone)]
pub struct GradientReport {
    /// The config as measured: its task is the probe batch's, its cell the model's.
    pub config: TrainConfig,
    pub task: Task,
    /// The probe batch's sequences.
    pub sequences: Vec<Sequence>,
    pub net: Network<f64>,
    /// How the network's weights were drawn (chrono's T_max resolved); None for a saved model.
    pub init: Option<InitSpec>,
    /// The report at step 0, with the signal at the task's sources.
    pub probe: GradientProbe,
}

/// Measures the gradient report of `config`'s network at initialisation, or of the saved model
/// in `model` (a directory with `model.ron` and `model.safetensors`), on `config.data` when it
/// names a dataset file, otherwise on the run's probe sequences ([`probe_sequences`]).
/// `max_memory`: refuse a report whose estimated memory is above it (None: half the machine's).
///
/// Errors: input errors when the model, the data or the memory estimate do not allow it: a data
/// file whose vocabulary differs from the task the model was trained on is refused (field `data`,
/// the message starting with the file's path), and probe sequences the model cannot read (field
/// `probe sequences`).
pub fn measure_gradients(
    mut config: TrainConfig,
    model: Option<&Path>,
    max_memory: Option<u64>,
) -> Result<GradientReport> {
    let _flush = crate::float_env::flush_subnormals();
    let saved = model.map(checked_spec).transpose()?;
    let memory = crate::resources::check_gradients(&config, saved.as_ref(), max_memory)?;
    let (task, sequences) = match &config.data {
        Some(path) => {
            let ds = load_dataset(path)?;
            (ds.task, ds.sequences)
        }
        None => {
            let task = Task::new(config.task.clone())?;
            let sequences = probe_sequences(&task, &config);
            (task, sequences)
        }
    };
    if let (Some(dir), Some(path)) = (model, &config.data) {
        check_vocabulary(dir, path, &task)?;
    }
    config.task = task.spec().clone();
    let init = model.is_none().then(|| config.resolved_init(&task));
    let net: Network<f64> = match (model, &init) {
        (Some(dir), _) => load_model(dir)?,
        (None, init) => Network::init(
            config.model_spec(&task)?,
            init.as_ref().unwrap_or(&config.init),
            config.seed,
        )?,
    };
    if model.is_some() {
        config.model.cell = net.spec.cell;
    }
    let batch = probe_batch(&task, &sequences).map_err(|e| {
        Error::invalid(
            "probe sequences",
            format!("the probe sequences do not fit the model: {e}"),
        )
    })?;
    let probe = probe_report(&net, &task, &sequences, &batch, 0, memory)?;
    Ok(GradientReport {
        config,
        task,
        sequences,
        net,
        init,
        probe,
    })
}

/// A data file for a saved model must speak the vocabulary of the task the model was trained on
/// (when its run directory says which), or its token ids would mean other tokens.
fn check_vocabulary(model: &Path, data: &Path, task: &Task) -> Result<()> {
    let config_file = model.join("config.ron");
    if !config_file.is_file() {
        return Ok(());
    }
    let trained_on = Task::new(TrainConfig::load(&config_file)?.task)?;
    if trained_on.input_vocabulary() != task.input_vocabulary()
        || trained_on.class_vocabulary() != task.class_vocabulary()
        || trained_on.input_width() != task.input_width()
        || trained_on.output_width() != task.output_width()
    {
        return Err(Error::invalid(
            "data",
            format!(
                "{}: its {} vocabulary differs from the {} task the model was trained on; the model's token ids would mean other tokens",
                data.display(),
                task.kind(),
                trained_on.kind()
            ),
        ));
    }
    Ok(())
}

/// The default directory of a report: `runs/gradients-<task>-<cell>-L<length>-s<seed>`, the
/// task with its unit and language when not the default (`gradients-tanaka-char-rnn-L55-s0`).
pub fn default_gradients_dir(config: &TrainConfig) -> PathBuf {
    PathBuf::from(crate::outdir::DEFAULT_ROOT).join(format!(
        "gradients-{}-{}-L{}-s{}",
        config.task.dir_stem(),
        config.model.cell,
        config.task.length,
        config.seed
    ))
}

impl GradientReport {
    /// Writes the report into `out` (a fresh gradients directory; `force` replaces one as
    /// [`prepare_fresh`] allows): `gradients.csv`, `diagnostics.csv`, `source_signal.csv`, the
    /// model, the probe batch (`probe.ron`) and one gradient plot per layer.
    pub fn write(&self, out: &Path, force: bool) -> Result<()> {
        prepare_fresh(out, DirKind::Gradients, force)?;
        write_probe_files(out, &self.probe)?;
        save_model_initialised(&self.net, self.init.as_ref(), out)?;
        // a saved model is measured as trained, not at initialisation
        let when = match self.init {
            Some(_) => "at initialisation",
            None => "of the saved model",
        };
        let title = format!(
            "{}: gradient reaching each step back from the loss, {when}",
            self.task.kind()
        );
        for layer in 0..self.probe.summaries.len() {
            gradient_plot(
                &out.join("plots").join(gradient_plot_file(layer)),
                &title,
                std::slice::from_ref(&self.probe),
                layer,
            )?;
            theory_plot(
                &out.join("plots").join(theory_plot_file(layer)),
                &format!(
                    "{}: measured gradient ratio and the theory",
                    self.task.kind()
                ),
                std::slice::from_ref(&self.probe),
                layer,
            )?;
        }
        save_dataset(&out.join(PROBE_FILE), &self.task, &self.sequences)
    }
}
