//! A training run's report: `report.md` and the same as one self-contained page, `report.html`
//! (the summary, the gradient report, every plot, the definitions, the configuration and links
//! to the run's files).

use std::fmt::Write as _;
use std::path::Path;

use super::plots::config_caption;
use super::run_files::{
    gradient_history_plot_file, theory_plot_file, GRADIENT_HISTORY_FILE, LEARNING_OVER_TIME_PLOT,
    SIGNAL_HISTORY_FILE, THEORY_FILE,
};
use super::trainer::TrainOutcome;
use super::TrainConfig;
use crate::analysis::gradient_report::theory_sentence;
use crate::analysis::history::learning_story;
use crate::error::Result;
use crate::outdir::write_atomic;
use crate::report::html::write_html_report;
use crate::report::lit_sentence::{lit_rows, write_lit_files, LitRow, LIT_SVG};

/// For a text task (tanaka): the first probe sequence lit at initialisation and after training.
pub fn lit_sentence_rows(outcome: &TrainOutcome) -> Option<Result<Vec<LitRow>>> {
    let sequence = outcome.probe_sequences.first()?;
    let mut probes = Vec::new();
    if let Some(first) = outcome.probes.first() {
        probes.push(("at initialisation".to_string(), first));
    }
    if let Some(last) = outcome.probes.last().filter(|p| p.step > 0) {
        probes.push((format!("after training (step {})", last.step), last));
    }
    lit_rows(&outcome.task, sequence, &probes, 0).transpose()
}

fn number(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        Some(x) => format!("{x}"),
        None => "–".to_string(),
    }
}

/// The run's report as Markdown (image paths relative to the run directory).
pub fn run_report_markdown(config: &TrainConfig, outcome: &TrainOutcome) -> String {
    // Long (~190 lines): the report's sections in reading order (verdict, gradient report,
    // learning over time, definitions, configuration, files); one function keeps the order
    // visible. Split a section out when it grows logic of its own.
    let s = &outcome.summary;
    let caption = config_caption(config, &[]);
    let mut md = String::new();
    let _ = writeln!(md, "# {caption}: training run\n");
    if let (Some(file), Some(lengths)) = (&config.data, &outcome.train_file_lengths) {
        let _ = writeln!(
            md,
            "Trained on the data file `{}`: {}.\n",
            file.display(),
            lengths.text()
        );
    }
    if let Some(h) = &s.validation_hold_out {
        let _ = writeln!(
            md,
            "Validated (val_accuracy, val_loss: what a sweep chooses tuned options by) on {}.\n",
            h.text()
        );
    }
    let verdict = if s.diverged {
        format!(
            "**Diverged** at step {}; the saved weights are the last finite ones.",
            s.steps
        )
    } else if let Some(at) = s.solved_at_step {
        format!("**Solved** at step {at}.")
    } else {
        format!("**Not solved** in {} steps.", s.steps)
    };
    let _ = writeln!(md, "{verdict}\n");
    let _ = writeln!(
        md,
        "| measure | this run | memoryless baseline |\n|---|---|---|"
    );
    let _ = writeln!(
        md,
        "| eval accuracy | {:.4} | {:.4} |",
        s.final_eval_accuracy, s.baseline_accuracy
    );
    let _ = writeln!(
        md,
        "| eval loss | {:.4} | {:.4} |",
        s.final_eval_loss, s.baseline_loss
    );
    let _ = writeln!(md, "| steps | {} | |", s.steps);
    let _ = writeln!(md, "| clipped steps | {:.1}% | |", 100.0 * s.clip_rate);
    let _ = writeln!(md, "| wall time | {:.1} s | |\n", s.wall_seconds);

    let _ = writeln!(md, "## The gradient report\n");
    let _ = writeln!(md, "How much error signal reaches each step back from the loss: ρ is the decay per step of a log-linear fit of ‖∂ℓ/∂h_t‖ against distance, the half-life ln 2/(−ln ρ), the horizon the first distance where the signal falls below 1e-3 of the loss step's (definitions below).\n");
    let _ = writeln!(
        md,
        "| when | layer | ρ per step | half-life | horizon | ratio at farthest | mean φ′ | saturated | ‖J‖₂ | mean gate |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    let mut flagged: Vec<String> = Vec::new();
    for (when, decays, diags) in [
        ("initialisation", &s.gradients_init, &s.diagnostics_init),
        ("end", &s.gradients_final, &s.diagnostics_final),
    ] {
        for (d, g) in decays.iter().zip(diags.iter()) {
            // the terminal's flag: a profile that is not one exponential (U-shaped, or a poor
            // fit) has a ρ that describes only part of it
            let rho = match &d.fit_warning {
                Some(w) => {
                    flagged.push(format!("layer {} at {when}, {w}", d.layer));
                    format!(
                        "{} (not exponential, †{})",
                        number(d.decay_per_step),
                        flagged.len()
                    )
                }
                None => number(d.decay_per_step),
            };
            let _ = writeln!(
                md,
                "| {when} | {} | {rho} | {} | {} | {:.3e} (distance {}) | {:.4} | {:.1}% | {:.4} | {} |",
                d.layer,
                number(d.half_life),
                d.horizon.map_or("none".to_string(), |h| h.to_string()),
                d.ratio_at_farthest,
                d.farthest_distance,
                g.mean_activation_derivative,
                100.0 * g.saturated_fraction,
                g.mean_jacobian_spectral_norm,
                number(g.mean_gate)
            );
        }
    }
    let _ = writeln!(md);
    for (i, f) in flagged.iter().enumerate() {
        let _ = writeln!(md, "†{} {f}.\n", i + 1);
    }
    let layers = s.gradients_init.len();
    for layer in 0..layers {
        let file = if layer == 0 {
            "gradients.svg".to_string()
        } else {
            format!("gradients_l{layer}.svg")
        };
        let _ = writeln!(
            md,
            "![gradient norm against distance from the loss, layer {layer}](plots/{file})\n"
        );
    }
    theory_section(&mut md, s);
    if lit_sentence_rows(outcome).is_some() {
        let _ = writeln!(md, "## The sentence, lit by the gradient\n");
        let _ = writeln!(md, "The first probe sequence as the network reads it, each step shaded by log10 of ‖∂ℓ/∂h_t‖ relative to the loss step's (layer 0, the probe batch's mean, as in gradients.csv), at initialisation and after training. The values are in [lit_sentence.csv](lit_sentence.csv).\n");
        let _ = writeln!(md, "![the sentence lit by the gradient](plots/{LIT_SVG})\n");
    }
    if !outcome.history.is_empty() {
        let h = &outcome.history;
        let _ = writeln!(md, "## Learning over time\n");
        let _ = writeln!(
            md,
            "The gradient profile and the signal at the source at {} training steps (every {} steps, step 0 and the end; `--history-every`), and the eval accuracy of the run's evaluations (every {} steps; `--eval-every`). In the heatmap each column is one of those steps and each row a distance from the loss; the colour is log10 of mean ‖∂ℓ/∂h_t‖₂.\n",
            h.len(),
            outcome.history_every,
            config.eval_every
        );
        let accuracy: Vec<(usize, f64)> = outcome
            .metrics
            .iter()
            .filter_map(|m| Some((m.step, m.eval_accuracy?)))
            .collect();
        let history_layers = h[0].grad_h.len();
        for layer in 0..history_layers {
            let _ = writeln!(
                md,
                "![log gradient norm over distance and training step, layer {layer}](plots/{})\n",
                gradient_history_plot_file(layer)
            );
        }
        let _ = writeln!(
            md,
            "![signal at the source and eval accuracy against training step](plots/{LEARNING_OVER_TIME_PLOT})\n"
        );
        for layer in 0..history_layers {
            if let Some(story) = learning_story(h, &accuracy, layer, outcome.eval_sequences) {
                let which = if history_layers > 1 {
                    format!("Layer {layer}: ")
                } else {
                    String::new()
                };
                let _ = writeln!(md, "{which}{story}\n");
            }
        }
    }
    let _ = writeln!(md, "## Training\n");
    let _ = writeln!(md, "![loss against training step](plots/loss.svg)\n");
    let _ = writeln!(
        md,
        "![eval accuracy against training step](plots/accuracy.svg)\n"
    );
    if !s.accuracy_by_distance.is_empty() {
        let _ = writeln!(
            md,
            "| distance | sequences | eval accuracy |\n|---|---|---|"
        );
        for b in &s.accuracy_by_distance {
            let _ = writeln!(
                md,
                "| {}–{} | {} | {:.3} |",
                b.low, b.high, b.sequences, b.accuracy
            );
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(md, "## Definitions\n");
    let _ = writeln!(md, "- **grad_h** at distance d = p − t: the mean over the probe sequences of ‖∂ℓ_b/∂h_t‖₂, with ℓ_b each sequence's own loss at the task's probe step p, computed in f64.");
    let _ = writeln!(md, "- **ρ per step**: exp of the least-squares slope of ln grad_h against distance (distances ≥ 1); **half-life** ln 2/(−ln ρ) steps; **horizon** the first distance where grad_h/grad_h(0) < 1e-3.");
    let _ = writeln!(md, "- **mean φ′**: the activation's mean derivative (LSTM/GRU: of the candidate tanh); **saturated**: the share of units whose derivative is below 1% of its maximum; **‖J‖₂**: the mean spectral norm of the step Jacobian ∂h_t/∂h_{{t−1}}; **mean gate**: LSTM forget gate, GRU update gate.");
    let _ = writeln!(md, "- **memoryless baseline**: the best a predictor that sees the step index but nothing it has read can score.\n");
    let _ = writeln!(md, "## Files\n");
    for (file, what) in [
        (
            "config.ron",
            "the resolved configuration (`rnnlab train --config` repeats the run)",
        ),
        ("config.json", "the same as JSON"),
        ("metrics.csv", "one row per step"),
        (
            "gradients.csv",
            "grad_h, grad_c, grad_w per probe, layer and timestep",
        ),
        ("diagnostics.csv", "the diagnostics per probe and layer"),
        (
            THEORY_FILE,
            "the theory per probe, layer and distance: Π‖J_t‖₂ back to d, (γ·σ_max)^d, the measured ratio",
        ),
        (
            "source_signal.csv",
            "the signal at the source per probe, layer, sequence and dependency",
        ),
        (
            "update_share.csv",
            "the share of the W_hh update made at each distance or beyond, per probe and layer",
        ),
        (
            GRADIENT_HISTORY_FILE,
            "learning over time: mean ‖∂ℓ/∂h_t‖ per step, layer and distance",
        ),
        (
            SIGNAL_HISTORY_FILE,
            "learning over time: the signal at the source and eval loss and accuracy per step",
        ),
        ("summary.ron", "the summary"),
        ("summary.json", "the same as JSON"),
        ("model.safetensors", "the weights (PyTorch names)"),
        ("model.ron", "the architecture"),
    ] {
        let _ = writeln!(md, "- [{file}]({file}): {what}");
    }
    let m = &s.metadata;
    let _ = writeln!(
        md,
        "\n## Configuration\n\nMade by `{}` on {} at {} (rnnlab {}, build {}, {} thread{}).\n\n```\n{}\n```",
        m.command.join(" "),
        m.host,
        m.started_utc,
        m.rnnlab_version,
        m.git_commit,
        m.threads,
        if m.threads == 1 { "" } else { "s" },
        config.to_ron()
    );
    md
}

/// The theory beside the measurement: the plot per layer and, at initialisation and at the end,
/// whether Pascanu et al.'s sufficient condition for vanishing holds.
fn theory_section(md: &mut String, s: &super::trainer::RunSummary) {
    if s.theory_init.is_empty() && s.theory_final.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### The theory beside the measurement
"
    );
    let _ = writeln!(md, "The measured ratio ‖∂ℓ/∂h_t‖₂ / ‖∂ℓ/∂h_p‖₂ (solid) against the product of the step Jacobians' spectral norms Π‖∂h_t/∂h_t−1‖₂ from the loss step back to each distance d (dashed) and, for a vanilla RNN, (γ·σ_max(W_hh))^d with γ the bound on the activation's derivative (dotted), at initialisation and after training; the values are in [{THEORY_FILE}]({THEORY_FILE}).\n");
    for layer in 0..s.theory_init.len().max(s.theory_final.len()) {
        let _ = writeln!(
            md,
            "![measured gradient ratio and the theory against distance, layer {layer}](plots/{})\n",
            theory_plot_file(layer)
        );
    }
    for (when, theory) in [
        ("At initialisation", &s.theory_init),
        ("At the end", &s.theory_final),
    ] {
        for t in theory {
            let which = if theory.len() > 1 {
                format!(", layer {}", t.layer)
            } else {
                String::new()
            };
            let _ = writeln!(md, "{when}{which}: {}\n", theory_sentence(t));
        }
    }
}

/// Writes `dir/report.md` and `dir/report.html` of a finished run.
pub fn write_run_report(dir: &Path, config: &TrainConfig, outcome: &TrainOutcome) -> Result<()> {
    if let Some(rows) = lit_sentence_rows(outcome) {
        let title = format!(
            "{}: the sentence lit by the gradient",
            config_caption(config, &[])
        );
        write_lit_files(dir, &title, &rows?)?;
    }
    let md = run_report_markdown(config, outcome);
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    let title = format!("rnnlab: {}", config_caption(config, &[]));
    write_html_report(dir, &title, &md)
}
