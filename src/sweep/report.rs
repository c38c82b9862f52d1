//! The sweep's report: `plots/*.svg`, `report.md` and `report.html` ([`write_report`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::compare::{format_p, TaskComparison};
use super::experiment::{Experiment, RunSpec};
use super::groups::group_label;
use super::lit::write_sweep_lit;
use super::plots::SweepPlots;
use super::runner::run_dir;
use super::tables::{
    accuracy_text, solved_text, source_signal_text, HALF_SEEDS_HEADER, SOURCE_SIGNAL_CAPTION,
};
use super::tuning::TUNING_RULE;
use crate::analysis::stats::{BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};
use crate::error::Result;
use crate::outdir::write_atomic;
use crate::report::html::write_html_report;
use crate::report::table::Table;
use crate::train::run_dir::read_summary;
use crate::train::run_files::SUMMARY_FILE;
use crate::train::trainer::{HOLD_OUT_DIVISOR, HOLD_OUT_SEED, MIN_HOLD_OUT};

/// The rules behind every number in the report, for its last section.
fn protocol_text() -> String {
    format!(
        "## Protocol and definitions

- **Solved**: a run is solved when `results.csv` says `solved = true` (it reached the task's solving criterion on held-out data within its step budget); a diverged run is never solved. Seeds are the runs' `seed` option; every (group, length) cell is one run per seed.
- **k/n [low, high]**: k of n seeds solved, with the 95% Wilson score interval of the fraction (Wilson 1927): centre (p̂ + z²/2n)/(1 + z²/n), half-width z/(1 + z²/n)·√(p̂(1 − p̂)/n + z²/4n²), z = 1.96. It stays sensible at 0/n and n/n, where p̂ ± 1.96·√(p̂(1 − p̂)/n) would collapse to a point.
- **L50**: the length where P(solved) = 1/2, from a logistic regression of every run's solved (0/1) on ln(length), fitted by maximum likelihood (Newton–Raphson): P = 1/(1 + e^−(a + b·ln L)), L50 = e^(−a/b). The fit has no maximum when the outcomes are separated, and no number is given then: all solved gives \"> longest length\", none solved \"< shortest length\", and when every solved run is at a length no longer than every failed one the fit tends to a step, so only a bracket is given: \"between\" the longest solved and the shortest failed length, or, when they meet at one length L, between L and its neighbour on the side where the solved fraction at L says the curve crosses 1/2. A fit that does not fall with length is \"not estimable\".
- **Bootstrap 95% interval of L50**: {BOOTSTRAP_RESAMPLES} resamples of the group's seeds with replacement (a seed's runs at all lengths stay together; ChaCha8 seeded with {BOOTSTRAP_SEED}, so the report is reproducible); the interval is the 2.5% and 97.5% percentiles of L50 over the resamples where it is estimable, and **resamples without L50** is the share where it is not. A large share means the interval describes only the resamples that happened to overlap and understates the uncertainty.
- **{HALF_SEEDS_HEADER}**: the longest length at which at least half the seeds solved (the \"critical length\" of earlier reports); it carries no uncertainty and is kept for comparison.
- **Verdicts**: for each pair of groups A and B, at every length both ran, two one-sided Fisher exact tests on the 2×2 table of seeds solved (Fisher 1935): \"A solves more often than B\" and \"B solves more often than A\". The pair's 2 × lengths p-values are adjusted together with Holm's step-down method (Holm 1979), which keeps the chance of any false ranking of that pair at most 5%. \"A remembers longer than B\" when at least one adjusted p for A is ≤ 0.05 and none for B is; \"no single ranking\" when both have one; otherwise \"A and B: not distinguishable with n seeds\". Different pairs are not corrected against each other.
- **What n seeds can show**: the most extreme table at one length, n/n against 0/n, has one-sided p = 1/C(2n, n): 0.05 for 3 seeds, 0.0040 for 5, 5.4e-6 for 10, before the Holm factor of up to 2 × lengths. With 3 seeds no ranking is possible at all.
"
    )
}

/// Writes `dir/plots/*.svg`, `dir/report.md` and `dir/report.html` (the same report as one
/// self-contained page, with the files and the experiment).
pub fn write_report(dir: &Path, exp: &Experiment, comparisons: &[TaskComparison]) -> Result<()> {
    // Long (~150 lines): the report's sections in reading order, each a few lines of Markdown
    // around a table or a plot; one function keeps the order visible. Split a section out when
    // it grows logic of its own.
    let plots = dir.join("plots");
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n\n{}\n", exp.name, exp.description);
    let _ = writeln!(md, "Every fraction comes with a 95% interval and every ranking with a test; the rules are under [Protocol and definitions](#protocol-and-definitions) at the end.\n");
    for tc in comparisons {
        let suffix = if comparisons.len() > 1 {
            format!("_{}", tc.task)
        } else {
            String::new()
        };
        let _ = writeln!(md, "## Task `{}`\n", tc.task);
        if let Some(t) = &tc.tuning {
            let _ = writeln!(
                md,
                "### Tuned options: {}\n\nEach group is reported at one value of {}, chosen on the validation set by the {} over all its lengths and seeds (rule under [Protocol and definitions](#protocol-and-definitions)). Each cell: the candidate's mean validation score (its finished runs).\n",
                t.options_text(),
                t.options_text(),
                t.metric.text()
            );
            md.push_str(&t.table().markdown());
            let _ = writeln!(md, "\n{}\n", t.scope_text());
        }

        let sweep_plots = SweepPlots::new(
            exp,
            tc,
            tc.rows
                .iter()
                .map(|r| (group_label(r, &tc.group_columns), r)),
        );

        let _ = writeln!(md, "### Seeds solved\n\nSeeds solved / seeds at each length, with the 95% Wilson interval of the fraction.\n");
        md.push_str(&tc.by_length_table(solved_text, "–").markdown());
        let _ = writeln!(md);
        let file = format!("solved_vs_length{suffix}.svg");
        sweep_plots.solved_plot(&plots.join(&file))?;
        let _ = writeln!(
            md,
            "![fraction of seeds solved against length](plots/{file})\n"
        );

        let _ = writeln!(md, "### Accuracy\n\nEval accuracy mean ± std over seeds, `@` median steps to solve (solved runs only).\n");
        md.push_str(&tc.by_length_table(accuracy_text, "–").markdown());
        let _ = writeln!(md);
        let file = sweep_plots.metric_file(&suffix);
        sweep_plots.metric_plot(&plots.join(&file))?;
        let metric = sweep_plots.metric_name();
        let _ = writeln!(md, "![{metric} against length](plots/{file})\n");

        let _ = writeln!(md, "### How far each group remembers\n\nL50: the length where a logistic fit of P(solved) against ln(length) crosses 1/2, with its bootstrap 95% interval over seeds ({BOOTSTRAP_RESAMPLES} resamples).\n");
        md.push_str(&tc.length_at_half_table().markdown());
        let _ = writeln!(md);

        if !tc.verdicts.is_empty() {
            let _ = writeln!(md, "### Verdicts\n\nOne-sided Fisher exact test at each length, Holm-corrected over each pair's tests, 95%.\n");
            for v in &tc.verdicts {
                let _ = writeln!(md, "- {}", v.text());
            }
            if let Some(note) = tc.power_note() {
                let _ = writeln!(md, "\n{note}");
            }
            let _ = writeln!(md, "\nThe tests behind the verdicts (A, B: the pair in the order named; p: one-sided Fisher exact, then Holm-adjusted):\n");
            let tests = Table {
                header: [
                    "A",
                    "B",
                    "length",
                    "A solved",
                    "B solved",
                    "p (A more)",
                    "p (B more)",
                    "Holm (A more)",
                    "Holm (B more)",
                ]
                .map(String::from)
                .to_vec(),
                rows: tc
                    .verdicts
                    .iter()
                    .flat_map(|v| {
                        v.tests.iter().map(|t| {
                            vec![
                                v.first.clone(),
                                v.second.clone(),
                                t.length.to_string(),
                                format!("{}/{}", t.first.0, t.first.1),
                                format!("{}/{}", t.second.0, t.second.1),
                                format_p(t.p_first_more),
                                format_p(t.p_second_more),
                                format_p(t.holm_first_more),
                                format_p(t.holm_second_more),
                            ]
                        })
                    })
                    .collect(),
            };
            md.push_str(&tests.markdown());
            let _ = writeln!(md);
        }

        if let Some(table) = tc.generalisation_table() {
            let _ = writeln!(md, "### Length generalisation\n\nEach run trained at one length and evaluated after training at others (`eval-lengths`), on held-out sequences of the evaluation stream: the mean over seeds of the task's solved metric (accuracy, or MSE for adding), with the number of runs.\n");
            md.push_str(&table.markdown());
            let _ = writeln!(md);
            let file = format!("generalisation{suffix}.svg");
            sweep_plots.generalisation_plot(&plots.join(&file), &tc.generalisation())?;
            let _ = writeln!(
                md,
                "![solved metric against test length, by training length](plots/{file})\n"
            );
        }

        let _ = writeln!(md, "### Gradients\n\n{SOURCE_SIGNAL_CAPTION}.\n");
        md.push_str(&tc.by_length_table(source_signal_text, "–").markdown());
        let _ = writeln!(md);
        let file = format!("source_signal_vs_length{suffix}.svg");
        sweep_plots.source_signal_plot(&plots.join(&file))?;
        let _ = writeln!(md, "![signal at the source against length](plots/{file})\n");
        let file = format!("decay_vs_length{suffix}.svg");
        sweep_plots.decay_plot(&plots.join(&file))?;
        let _ = writeln!(md, "![decay per step against length](plots/{file})\n");

        let longest = tc.lengths.last().copied().unwrap_or(0);
        for (when, first) in [("init", true), ("trained", false)] {
            let profiles: Vec<(String, Vec<(f64, f64)>)> = tc
                .groups
                .iter()
                .filter_map(|g| {
                    let runs = tc.longest_runs.get(g)?;
                    Some((g.clone(), mean_gradient_profile(dir, runs, first)))
                })
                .collect();
            let file = format!("gradients_{when}{suffix}.svg");
            sweep_plots.gradient_plot(&plots.join(&file), longest, !first, profiles)?;
            let _ = writeln!(md, "![gradient against distance, {when}](plots/{file})\n");
        }
        if let Some(text) = what_training_did(dir, tc) {
            let _ = writeln!(md, "{text}\n");
        }
        let file = format!("lit_sentence{suffix}.svg");
        if let Some(section) = write_sweep_lit(dir, tc, &file)? {
            md.push_str(&section);
        }
    }
    let _ = writeln!(md, "Each run's own files (metrics, gradients, diagnostics, model, plots) are under `runs/`; `results.csv` has one row per run.\n");
    md.push_str(&protocol_text());
    if !exp.tune.is_empty() {
        let _ = writeln!(md, "- **Tuned options**: {TUNING_RULE}");
        let mut files: Vec<String> = Vec::new();
        for run in exp.runs()? {
            if let (Some(file), Some(_)) = (&run.config.data, run.config.hold_out_seed) {
                let file = format!("`{}`", file.display());
                if !files.contains(&file) {
                    files.push(file);
                }
            }
        }
        if !files.is_empty() {
            let _ = writeln!(md, "- **Validation on the data file**: runs that train on {} validate not on generated sequences but on a held-out part of the file: the last 20% (rounded down) of its sequences after a shuffle with seed {HOLD_OUT_SEED}, one split for every run (rnnlab::train::trainer::hold_out_split; each run's summary.ron gives the counts under `validation_hold_out`), and train on the rest. A file of fewer than {} sequences is refused.", files.join(", "), MIN_HOLD_OUT * HOLD_OUT_DIVISOR);
        }
    }
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    // the page: the same report, with the files and the experiment as run
    let mut page = md;
    let _ = writeln!(
        page,
        "\n## Files\n\n- [results.csv](results.csv): one row per finished run\n- [experiment.ron](experiment.ron): the experiment as run\n- [report.md](report.md): this report as Markdown\n- `runs/`: every run's own directory (config, metrics, gradients, diagnostics, summary, model, plots)\n\n## The experiment\n\n```\n{}\n```",
        exp.to_ron()
    );
    write_html_report(dir, &format!("rnnlab: {}", exp.name), &page)
}

/// One group at the longest length, at initialisation and trained (see [`what_training_did`]).
struct InitVsTrained {
    group: String,
    signal_init: Option<f64>,
    signal_final: Option<f64>,
    solved: usize,
    runs: usize,
    /// Mean over the runs of layer 0's mean gate (LSTM forget gate, GRU update gate z), from
    /// each run's summary; None for a cell without one or runs without a summary.
    gate_init: Option<f64>,
    gate_final: Option<f64>,
    cell: Option<crate::cells::CellKind>,
}

/// What training did, at the longest length: per group the signal at the source (geometric mean
/// over seeds) at initialisation and trained, seeds solved, and the mean gate before and after;
/// and, when the group whose signal vanished most at initialisation solved more seeds than a
/// group whose signal started larger, a sentence that says so and what training changed. Every
/// number comes from results.csv and the runs' summaries; None without a signal at the source.
fn what_training_did(dir: &Path, tc: &TaskComparison) -> Option<String> {
    let longest = *tc.lengths.last()?;
    let mut groups: Vec<InitVsTrained> = Vec::new();
    for g in &tc.groups {
        let Some(c) = tc.cells.get(&(g.clone(), longest)) else {
            continue;
        };
        let runs = tc.longest_runs.get(g).map(Vec::as_slice).unwrap_or(&[]);
        let summaries: Vec<_> = runs
            .iter()
            .filter_map(|r| read_summary(&run_dir(dir, r).join(SUMMARY_FILE)).ok())
            .collect();
        let gate = |init: bool| {
            let v: Vec<f64> = summaries
                .iter()
                .filter_map(|s| {
                    let d = if init {
                        &s.diagnostics_init
                    } else {
                        &s.diagnostics_final
                    };
                    d.first()?.mean_gate
                })
                .filter(|g| g.is_finite())
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        groups.push(InitVsTrained {
            group: g.clone(),
            signal_init: c.geomean_source_signal_init,
            signal_final: c.geomean_source_signal_final,
            solved: c.solved_runs,
            runs: c.runs,
            gate_init: gate(true),
            gate_final: gate(false),
            cell: runs.first().map(|r| r.config.model.cell),
        });
    }
    if groups.iter().all(|g| g.signal_init.is_none()) {
        return None;
    }
    let e = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |x| format!("{x:.1e}"));
    let gate_name = |cell: Option<crate::cells::CellKind>| match cell {
        Some(crate::cells::CellKind::Lstm) => "mean forget gate",
        Some(crate::cells::CellKind::Gru) => "mean update gate z",
        _ => "mean gate",
    };
    let mut text = format!("**What training did** at the longest length, L = {longest} (the signal at the source, layer 0, geometric mean over seeds, at initialisation → trained; the mean gate over the runs' probe batches):");
    for (i, g) in groups.iter().enumerate() {
        let gate = match (g.gate_init, g.gate_final) {
            (Some(a), Some(b)) => format!(", {} {a:.2} → {b:.2}", gate_name(g.cell)),
            _ => String::new(),
        };
        let _ = write!(
            text,
            "{} {}: {} → {}, {}/{} seeds solved{gate}",
            if i == 0 { "" } else { ";" },
            g.group,
            e(g.signal_init),
            e(g.signal_final),
            g.solved,
            g.runs
        );
    }
    text.push('.');
    // the contradiction a reader sees in the init plot: the fastest-vanishing group solves more
    let fastest = groups
        .iter()
        .filter(|g| g.signal_init.is_some())
        .min_by(|a, b| {
            a.signal_init
                .unwrap_or(0.0)
                .total_cmp(&b.signal_init.unwrap_or(0.0))
        })?;
    let fraction = |g: &InitVsTrained| g.solved as f64 / g.runs.max(1) as f64;
    let beaten: Vec<&InitVsTrained> = groups
        .iter()
        .filter(|g| {
            g.group != fastest.group
                && g.signal_init > fastest.signal_init
                && fraction(g) < fraction(fastest)
        })
        .collect();
    if !beaten.is_empty() {
        let others = beaten
            .iter()
            .map(|g| {
                format!(
                    "{} ({}/{}, from {})",
                    g.group,
                    g.solved,
                    g.runs,
                    e(g.signal_init)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            text,
            " So the profile at initialisation does not rank the cells: {}'s signal vanished most at initialisation ({}), yet it solved {}/{} seeds, more than {others}.",
            fastest.group,
            e(fastest.signal_init),
            fastest.solved,
            fastest.runs
        );
        if let (Some(a), Some(b)) = (fastest.signal_init, fastest.signal_final) {
            let _ = write!(
                text,
                " Training changed that: it multiplied {}'s signal at the source by {:.1e}",
                fastest.group,
                b / a
            );
            match (fastest.gate_init, fastest.gate_final) {
                (Some(gi), Some(gf)) => {
                    let _ = write!(
                        text,
                        " and moved its {} from {gi:.2} to {gf:.2}{}.",
                        gate_name(fastest.cell),
                        if gf > gi {
                            " (a gate nearer 1 keeps more of the state from step to step, so the signal passes more steps)"
                        } else {
                            ""
                        }
                    );
                }
                _ => text.push('.'),
            }
        }
    }
    Some(text)
}

/// Mean over `runs` of layer 0's grad_h by distance, at each run's first (or last) probe.
fn mean_gradient_profile(dir: &Path, runs: &[RunSpec], first: bool) -> Vec<(f64, f64)> {
    let mut sum: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for run in runs {
        let Ok(mut reader) = csv::Reader::from_path(run_dir(dir, run).join("gradients.csv")) else {
            continue;
        };
        // step,layer,timestep,distance,grad_h,…: layer 0's rows
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .map_while(|r| r.ok())
            .filter(|r| r.len() == 7 && &r[1] == "0")
            .collect();
        let steps: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        let Some(step) = (if first { steps.first() } else { steps.last() }).copied() else {
            continue;
        };
        for r in rows.iter().filter(|r| &r[0] == step) {
            if let (Ok(d), Ok(g)) = (r[3].parse::<usize>(), r[4].parse::<f64>()) {
                let e = sum.entry(d).or_insert((0.0, 0));
                e.0 += g;
                e.1 += 1;
            }
        }
    }
    sum.into_iter()
        .map(|(d, (s, n))| (d as f64, s / n as f64))
        .collect()
}
