//! `rnnlab gradients`: the gradient-versus-distance report without training, at initialisation or
//! for a saved model, with everything needed to recompute it elsewhere.

use clap::Args;
use std::path::PathBuf;

use rnnlab::train::gradients::{default_gradients_dir, measure_gradients};

use super::report_text::{
    decay_line, diagnostics_line, grad_h_points, source_signal_line, text_chart, theory_line,
    update_share_line,
};
use super::train::{resolve_config, TrainOptions};
use super::UsageError;
use rnnlab::report::lit_sentence::{lit_rows, lit_terminal, write_lit_files, LIT_SVG};

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
    /// Output directory [default: runs/gradients-<task>-<cell>-L<length>-s<seed>; with --unit char the task is tanaka-char, or tanaka-char-en with --lang en, and --vocab-file adds -vocab and a hash of its characters].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing output directory.
    #[arg(long)]
    force: bool,
    /// No progress output. This command prints none (its results go to stdout, errors to
    /// stderr); the flag is accepted as by train, sweep and bench, so a script can pass it to all.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    threads: super::ThreadsArg,
    /// Refuse a run whose estimated memory is above SIZE (e.g. 4G, 512M, 2GiB or bytes)
    /// [default: half the physical memory].
    #[arg(long, value_name = "SIZE", value_parser = rnnlab::resources::parse_size)]
    max_memory: Option<u64>,
    /// Colour of the lit sentence (text tasks): auto (when stdout is a terminal and NO_COLOR is
    /// unset), always or never (decade digits instead).
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
}

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to print ANSI colours: always, never, or (auto) when stdout is a terminal and
    /// NO_COLOR is unset or empty (https://no-color.org; an explicit --color always wins).
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// Terminal width for wrapping: $COLUMNS, else 100.
pub fn terminal_columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

pub fn run(args: GradientsArgs) -> anyhow::Result<()> {
    args.threads.apply()?;
    // nothing to silence: see the flag's help
    let _ = args.quiet;
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
    // a saved run's own config unless --config names another; flags override either
    let config = match (&args.config, &args.model) {
        (None, Some(dir)) if dir.join("config.ron").exists() => {
            resolve_config(Some(&dir.join("config.ron")), &args.options)?
        }
        (file, _) => resolve_config(file.as_ref(), &args.options)?,
    };
    let report =
        measure_gradients(config, args.model.as_deref(), args.max_memory).map_err(|e| match e {
            // the file's own error names the flag that gave it
            rnnlab::Error::InvalidOption { field, message } if field == "data" => {
                anyhow::Error::from(UsageError(format!("--data {message}")))
            }
            rnnlab::Error::InvalidOption { field, message } if field == "probe sequences" => {
                UsageError(message).into()
            }
            other => other.into(),
        })?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_gradients_dir(&report.config));
    report.write(&out, args.force)?;

    let probe = &report.probe;
    outln!(
        "{} {} length {}: gradient of each sequence's loss at step {} over {} sequences → {}",
        report.task.kind(),
        report.net.spec.cell,
        report.config.task.length,
        report.task.probe_step(),
        report.sequences.len(),
        out.display()
    );
    for (s, d) in probe.summaries.iter().zip(&probe.diagnostics) {
        outln!("layer {}: {}", s.layer, decay_line(s));
        outln!("         {}", diagnostics_line(d));
        if let Some(src) = probe.source_signal.iter().find(|x| x.layer == s.layer) {
            outln!("         {}", source_signal_line(src));
        }
        if let Some(u) = probe.update_shares.iter().find(|x| x.layer == s.layer) {
            outln!("         {}", update_share_line(u));
        }
        if let Some(t) = probe.theory.iter().find(|x| x.layer == s.layer) {
            outln!("         {}", theory_line(t));
        }
    }
    outln!("mean ‖∂ℓ/∂h_t‖ against distance (layer 0):");
    out!("{}", text_chart(&grad_h_points(probe, 0)));
    let label = match &args.model {
        Some(dir) => format!("model {}", dir.display()),
        None => "at initialisation".to_string(),
    };
    if let Some(first) = report.sequences.first() {
        if let Some(rows) = lit_rows(&report.task, first, &[(label, probe)], 0)? {
            let title = format!(
                "{} {}: the sentence lit by the gradient",
                report.task.label(),
                report.net.spec.cell
            );
            write_lit_files(&out, &title, &rows)?;
            outln!(
                "the first probe sequence lit by log10 ‖∂ℓ/∂h_t‖ relative to the loss step (layer 0; {}):",
                out.join("plots").join(LIT_SVG).display()
            );
            out!(
                "{}",
                lit_terminal(&rows, args.color.enabled(), terminal_columns())
            );
        }
    }
    Ok(())
}
