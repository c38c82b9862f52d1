//! What a finished run prints: the outcome against the baseline and the gradient decay.

use std::path::Path;

use rnnlab::analysis::gradient_report::{
    DecaySummary, GradientProbe, SourceSignal, TheoryCheck, UpdateShare,
};
use rnnlab::analysis::LayerDiagnostics;
use rnnlab::train::{TrainConfig, TrainOutcome};

/// `ρ 0.812/step over distances 1–21 (R² 0.99), half-life 3.3 steps, horizon 34, ×1.2e-4 at
/// distance 21`; a profile that is not one exponential says so on a second line, and its ρ is
/// either n/a or stated for the range it was fitted on.
pub fn decay_line(s: &DecaySummary) -> String {
    let range = match (s.fit_from, s.fit_to) {
        (Some(a), Some(b)) => {
            let r2 = s
                .fit_r_squared
                .map(|r| format!(" (R² {r:.3})"))
                .unwrap_or_default();
            format!(" over distances {a}–{b}{r2}")
        }
        _ => String::new(),
    };
    let rho = match s.decay_per_step {
        Some(r) => format!("{r:.4}/step{range}"),
        None if s.fit_warning.is_some() => "n/a (not exponential)".into(),
        None => "n/a".into(),
    };
    let half = match s.half_life {
        Some(h) if h.is_infinite() => "∞ (no decay)".to_string(),
        Some(h) => format!("{h:.3} steps"),
        None => "n/a".into(),
    };
    let horizon = s
        .horizon
        .map(|h| h.to_string())
        .unwrap_or_else(|| "none".into());
    let warning = s
        .fit_warning
        .as_ref()
        .map(|w| format!("\n                         {w}"))
        .unwrap_or_default();
    format!(
        "ρ {rho}, half-life {half}, horizon {horizon}, ×{:.3e} at distance {}{warning}",
        s.ratio_at_farthest, s.farthest_distance
    )
}

/// `signal at the source ‖∂ℓ/∂h_src‖/‖∂ℓ/∂h_p‖: geometric mean 5.0e-2, mean 6.2e-2 (32 sequences, 32 sources)`
/// (the geometric mean first: one outlier sequence can move the mean by decades)
pub fn source_signal_line(s: &SourceSignal) -> String {
    let geo = s
        .geometric_mean
        .map(|g| format!("{g:.3e}"))
        .unwrap_or_else(|| "n/a".into());
    format!(
        "signal at the source ‖∂ℓ/∂h_src‖/‖∂ℓ/∂h_p‖: geometric mean {geo}, mean {:.3e} ({} sequences, {} sources)",
        s.mean, s.sequences, s.dependencies
    )
}

/// `W_hh update: 99% from distances ≤ 7 (learning horizon; of 21), 1.2e-5 from distances ≥ 11`
pub fn update_share_line(u: &UpdateShare) -> String {
    let horizon = u
        .learning_horizon
        .map(|h| {
            format!(
                "99% from distances ≤ {h} (learning horizon; of {})",
                u.farthest_distance
            )
        })
        .unwrap_or_else(|| "no update to share".into());
    format!(
        "W_hh update: {horizon}, {:.3e} from distances ≥ {}",
        u.share_far_half, u.far_half_from
    )
}

/// `theory: Π‖J_t‖₂ to distance 21 = 3.2e-5 (measured 3.4e-3); γ·σ_max(W_hh) = 1 × 1.23 = 1.23 ≥ 1:
/// vanishing not guaranteed`
pub fn theory_line(t: &TheoryCheck) -> String {
    let condition = match (t.gamma, t.sigma_max, t.vanishing_sufficient) {
        (Some(g), Some(s), Some(v)) => format!(
            "; γ·σ_max(W_hh) = {g} × {s:.4} = {:.4} {}",
            g * s,
            if v {
                "< 1: the sufficient condition for vanishing holds"
            } else {
                "≥ 1: vanishing not guaranteed"
            }
        ),
        _ => String::new(),
    };
    let bound = if t.is_bound {
        "bound"
    } else {
        "not a bound here: the cell path or the layers above carry signal J leaves out"
    };
    format!(
        "theory: Π‖∂h_t/∂h_t−1‖₂ to distance {} = {:.3e} ({bound}; measured ratio {:.3e}){condition}",
        t.distance, t.jacobian_product, t.measured_ratio
    )
}

/// `mean φ' 0.211, saturated 3.1%, ‖∂h_t/∂h_t−1‖ 0.74, forget gate 0.73`
pub fn diagnostics_line(d: &LayerDiagnostics) -> String {
    let gate = d
        .mean_gate
        .map(|g| format!(", mean gate {g:.3}"))
        .unwrap_or_default();
    format!(
        "mean activation derivative {:.4}, saturated {:.1}%, mean ‖∂h_t/∂h_t−1‖₂ {:.4}{gate}",
        d.mean_activation_derivative,
        100.0 * d.saturated_fraction,
        d.mean_jacobian_spectral_norm
    )
}

/// grad_h against distance of layer 0 of `probe`, as (distance, value) points.
pub fn grad_h_points(probe: &GradientProbe, layer: usize) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = probe
        .rows
        .iter()
        .filter(|r| r.layer == layer)
        .map(|r| (r.distance as f64, r.grad_h))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

pub fn print_run_summary(
    out: &Path,
    config: &TrainConfig,
    outcome: &TrainOutcome,
) -> anyhow::Result<()> {
    let s = &outcome.summary;
    // a data file's run: the file and its sequences' lengths, not the task's declared length
    let length = match (&config.data, &outcome.train_file_lengths) {
        (Some(file), Some(lengths)) => format!("on {} ({})", file.display(), lengths.text()),
        _ => format!("length {}", config.task.length),
    };
    outln!(
        "{} {} {length} seed {} → {}",
        config.task.task,
        config.model.cell,
        config.seed,
        out.display()
    );
    let verdict = if s.diverged {
        format!("DIVERGED at step {}", s.steps)
    } else if let Some(at) = s.solved_at_step {
        format!("solved at step {at}")
    } else {
        format!("not solved in {} steps", s.steps)
    };
    outln!(
        "{verdict}: eval accuracy {:.4} (memoryless baseline {:.4}), eval loss {:.4} (baseline {:.4}), {:.1} s",
        s.final_eval_accuracy, s.baseline_accuracy, s.final_eval_loss, s.baseline_loss, s.wall_seconds
    );
    for (label, summaries, diags, sources, shares, theory) in [
        (
            "at init",
            &s.gradients_init,
            &s.diagnostics_init,
            &s.source_signal_init,
            &s.update_share_init,
            &s.theory_init,
        ),
        (
            "final  ",
            &s.gradients_final,
            &s.diagnostics_final,
            &s.source_signal_final,
            &s.update_share_final,
            &s.theory_final,
        ),
    ] {
        for (d, g) in summaries.iter().zip(diags.iter()) {
            outln!("gradient {label} layer {}: {}", d.layer, decay_line(d));
            outln!("                         {}", diagnostics_line(g));
            if let Some(src) = sources.iter().find(|x| x.layer == d.layer) {
                outln!("                         {}", source_signal_line(src));
            }
            if let Some(u) = shares.iter().find(|x| x.layer == d.layer) {
                outln!("                         {}", update_share_line(u));
            }
            if let Some(t) = theory.iter().find(|x| x.layer == d.layer) {
                outln!("                         {}", theory_line(t));
            }
        }
    }
    if let Some(last) = outcome.probes.last() {
        outln!(
            "mean ‖∂ℓ/∂h_t‖ against distance (step {}, layer 0):",
            last.step
        );
        out!(
            "{}",
            super::report_text::text_chart(&grad_h_points(last, 0))
        );
    }
    for g in &s.length_generalisation {
        outln!(
            "  at length {:>5}: eval accuracy {:.4}, loss {:.4}{}",
            g.length,
            g.accuracy,
            g.loss,
            if g.solved { " (solved)" } else { "" }
        );
    }
    for b in &s.accuracy_by_distance {
        outln!(
            "  distance {:>4}–{:<4} {:>5} sequences  accuracy {:.3}",
            b.low,
            b.high,
            b.sequences,
            b.accuracy
        );
    }
    Ok(())
}

/// The terminal chart of grad_h against distance.
pub fn text_chart(points: &[(f64, f64)]) -> String {
    rnnlab::report::text_chart_log(points, 72, 10, "distance from the loss (timesteps)")
}
