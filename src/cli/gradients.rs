//! `rnnlab gradients`: the gradient-versus-distance report without training, at initialisation or
//! for a saved model, with everything needed to recompute it elsewhere.

use clap::Args;
use std::io::Write;
use std::path::PathBuf;

use rnnlab::analysis::gradient_report::{probe_gradients, GRADIENTS_CSV_HEADER};
use rnnlab::analysis::{diagnostics_csv_rows, DIAGNOSTICS_CSV_HEADER};
use rnnlab::model_io::{checked_spec, load_model, save_model};
use rnnlab::outdir::{prepare_fresh, DirKind};
use rnnlab::tasks::{load_dataset, save_dataset, Task};
use rnnlab::train::plots::gradient_plot;
use rnnlab::train::run_dir::{write_atomic, DIAGNOSTICS_FILE, GRADIENTS_FILE};
use rnnlab::train::trainer::{derived_seed, probe_batch};
use rnnlab::train::TrainConfig;
use rnnlab::Network;

use super::report_text::{decay_line, diagnostics_line, grad_h_points, text_chart};
use super::train::{resolve_config, TrainOptions};
use super::UsageError;

/// The probe batch's file in the output directory.
pub const PROBE_FILE: &str = "probe.ron";

#[derive(Args)]
#[command(
    after_help = "Examples:\n  rnnlab gradients --cell rnn --activation sigmoid --length 50 --out grads/sigmoid50\n  rnnlab gradients --cell lstm --forget-bias 0 --length 100 --out grads/lstm-fb0\n  rnnlab gradients --model runs/tanaka-lstm-L20-s0 --data my_sequences.ron --out grads/trained"
)]
pub struct GradientsArgs {
    /// A RON config (as for train); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Measure this saved model (a run directory or any directory with model.ron and
    /// model.safetensors) instead of a fresh initialisation.
    #[arg(long)]
    model: Option<PathBuf>,
    #[command(flatten)]
    options: TrainOptions,
    /// Output directory [default: runs/gradients-<task>-<cell>-L<length>-s<seed>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing output directory.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    threads: super::ThreadsArg,
    /// Refuse a run whose estimated memory is above SIZE (e.g. 4G, 512M, 2GiB or bytes)
    /// [default: half the physical memory].
    #[arg(long, value_name = "SIZE", value_parser = rnnlab::resources::parse_size)]
    max_memory: Option<u64>,
}

pub fn run(args: GradientsArgs) -> anyhow::Result<()> {
    args.threads.apply()?;
    if let Some(dir) = &args.model {
        for file in ["model.ron", "model.safetensors"] {
            if !dir.join(file).is_file() {
                return Err(UsageError(format!(
                    "--model {}: no {file} there (give a run directory or a directory written by save_model)",
                    dir.display()
                ))
                .into());
            }
        }
    }
    let model_task = match &args.model {
        Some(dir) if dir.join("config.ron").is_file() => {
            Some(Task::new(TrainConfig::load(&dir.join("config.ron"))?.task)?)
        }
        _ => None,
    };
    let mut config = match (&args.config, &args.model) {
        (None, Some(dir)) if dir.join("config.ron").exists() => {
            resolve_config(Some(&dir.join("config.ron")), &args.options)?
        }
        (file, _) => resolve_config(file.as_ref(), &args.options)?,
    };
    let saved = args.model.as_deref().map(checked_spec).transpose()?;
    rnnlab::resources::check_gradients(&config, saved.as_ref(), args.max_memory)?;
    // the probe batch: a dataset file, or generated from the task and seed
    let (task, sequences) = match &config.data {
        Some(path) => {
            let ds = load_dataset(path)?;
            (ds.task, ds.sequences)
        }
        None => {
            let task = Task::new(config.task.clone())?;
            let seqs = task.generate(config.probe_size, derived_seed(config.seed, 3));
            (task, seqs)
        }
    };
    if let (Some(trained_on), Some(path)) = (&model_task, &config.data) {
        if trained_on.input_vocabulary() != task.input_vocabulary()
            || trained_on.class_vocabulary() != task.class_vocabulary()
            || trained_on.input_width() != task.input_width()
            || trained_on.output_width() != task.output_width()
        {
            return Err(UsageError(format!(
                "--data {}: its {} vocabulary differs from the {} task the model was trained on; the model's token ids would mean other tokens",
                path.display(),
                task.kind(),
                trained_on.kind()
            ))
            .into());
        }
    }
    config.task = task.spec().clone();
    let net: Network<f64> = match &args.model {
        Some(dir) => load_model(dir)?,
        None => Network::init(
            config.model_spec(&task)?,
            &config.resolved_init(&task),
            config.seed,
        )?,
    };
    if args.model.is_some() {
        config.model.cell = net.spec.cell;
    }
    let out = args.out.clone().unwrap_or_else(|| default_dir(&config));
    prepare_fresh(&out, DirKind::Gradients, args.force)?;
    let batch = probe_batch(&task, &sequences)
        .map_err(|e| UsageError(format!("the probe sequences do not fit the model: {e}")))?;
    let probe = probe_gradients(&net, &batch, task.probe_step(), 0)?;

    let mut csv = Vec::new();
    writeln!(csv, "{GRADIENTS_CSV_HEADER}")?;
    for row in &probe.rows {
        writeln!(csv, "{}", row.csv())?;
    }
    write_atomic(&out.join(GRADIENTS_FILE), &csv)?;
    let mut diag = format!("{DIAGNOSTICS_CSV_HEADER}\n");
    for row in diagnostics_csv_rows(0, &probe.diagnostics) {
        diag.push_str(&row);
        diag.push('\n');
    }
    write_atomic(&out.join(DIAGNOSTICS_FILE), diag.as_bytes())?;
    save_model(&net, &out)?;
    let title = format!(
        "{}: gradient reaching each step back from the loss, at initialisation",
        task.kind()
    );
    for layer in 0..probe.summaries.len() {
        let file = if layer == 0 {
            "gradients.svg".to_string()
        } else {
            format!("gradients_l{layer}.svg")
        };
        gradient_plot(
            &out.join("plots").join(file),
            &title,
            std::slice::from_ref(&probe),
            layer,
        )?;
    }
    save_dataset(&out.join(PROBE_FILE), &task, &sequences)?;

    outln!(
        "{} {} length {}: gradient of each sequence's loss at step {} over {} sequences → {}",
        task.kind(),
        net.spec.cell,
        config.task.length,
        task.probe_step(),
        sequences.len(),
        out.display()
    );
    for (s, d) in probe.summaries.iter().zip(&probe.diagnostics) {
        outln!("layer {}: {}", s.layer, decay_line(s));
        outln!("         {}", diagnostics_line(d));
    }
    outln!("mean ‖∂ℓ/∂h_t‖ against distance (layer 0):");
    out!("{}", text_chart(&grad_h_points(&probe, 0)));
    Ok(())
}

fn default_dir(config: &TrainConfig) -> PathBuf {
    PathBuf::from("runs").join(format!(
        "gradients-{}-{}-L{}-s{}",
        config.task.task, config.model.cell, config.task.length, config.seed
    ))
}
