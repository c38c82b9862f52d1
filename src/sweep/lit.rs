//! The sweep's sentence lit by the gradient (issue 21): on a text task, one probe sequence's text
//! with one row per group, at initialisation and after training, from the runs' own
//! `lit_sentence.csv` (so its values are the runs' `gradients.csv` values).
//!
//! The runs shown are each group's run at the longest length, all with one seed: the smallest
//! seed every group ran there. The probe sequences depend only on the task and the seed, so
//! groups that differ only in their cell or training options read the same sentence.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::compare::TaskComparison;
use super::runner::run_dir;
use crate::error::Result;
use crate::report::lit_sentence::{read_lit_csv, write_lit_svg, LitRow, LIT_CSV};
use crate::train::run_dir::read_summary;
use crate::train::run_files::SUMMARY_FILE;

/// The figure's rows and where they come from.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepLit {
    /// Every group's row at initialisation (in group order), then every group's after training.
    pub rows: Vec<LitRow>,
    pub length: usize,
    pub seed: u64,
    /// (group, the run directory) of each group shown, in group order.
    pub runs: Vec<(String, PathBuf)>,
    /// Whether every row's text is the same sentence.
    pub same_text: bool,
    /// How the task reads its text when not by token: ` by character (ja)`, else empty.
    pub unit: String,
}

/// The lit rows of `tc`'s groups in the sweep directory `dir`; None when no run shown has a
/// `lit_sentence.csv` (a task without text, or runs not finished). A group whose run has none
/// is left out; a file that is there but malformed is an error naming it.
pub fn sweep_lit(dir: &Path, tc: &TaskComparison) -> Result<Option<SweepLit>> {
    let length = tc.lengths.last().copied().unwrap_or(0);
    let groups: Vec<&String> = tc
        .groups
        .iter()
        .filter(|g| tc.longest_runs.get(*g).is_some_and(|r| !r.is_empty()))
        .collect();
    // the smallest seed every group ran at the longest length
    let Some(seed) = groups
        .first()
        .into_iter()
        .flat_map(|g| &tc.longest_runs[*g])
        .map(|r| r.config.seed)
        .filter(|s| {
            groups
                .iter()
                .all(|g| tc.longest_runs[*g].iter().any(|r| r.config.seed == *s))
        })
        .min()
    else {
        return Ok(None);
    };
    let mut init = Vec::new();
    let mut trained = Vec::new();
    let mut runs = Vec::new();
    let mut unit = String::new();
    for g in groups {
        let Some(run) = tc.longest_runs[g].iter().find(|r| r.config.seed == seed) else {
            continue;
        };
        let path = run_dir(dir, run);
        let csv = path.join(LIT_CSV);
        if !csv.is_file() {
            continue;
        }
        let rows = read_lit_csv(&csv)?;
        let outcome = match read_summary(&path.join(SUMMARY_FILE)) {
            Ok(s) => {
                let verdict = match s.solved_at_step {
                    Some(at) if s.solved => format!("solved at step {at}"),
                    _ if s.diverged => "diverged".to_string(),
                    _ => "not solved".to_string(),
                };
                format!(": {verdict}, eval accuracy {:.3}", s.final_eval_accuracy)
            }
            Err(_) => String::new(),
        };
        for (i, mut row) in rows.into_iter().enumerate() {
            if i == 0 {
                row.label = format!("{g}, {}", row.label);
                init.push(row);
            } else {
                row.label = format!("{g}, {}{outcome}", row.label);
                trained.push(row);
            }
        }
        if runs.is_empty() && run.config.task.unit == Some(crate::tasks::Unit::Char) {
            let lang = run.config.task.lang.unwrap_or_default();
            unit = format!(" by character ({lang})");
        }
        runs.push((g.clone(), path));
    }
    if runs.is_empty() {
        return Ok(None);
    }
    let text = |r: &LitRow| r.pieces.iter().map(|p| p.text.as_str()).collect::<String>();
    let rows: Vec<LitRow> = init.into_iter().chain(trained).collect();
    let same_text = rows.windows(2).all(|w| text(&w[0]) == text(&w[1]));
    Ok(Some(SweepLit {
        rows,
        length,
        seed,
        runs,
        same_text,
        unit,
    }))
}

/// Writes `dir/plots/<file>` for `tc` when it is a text task and returns the report's section
/// (Markdown, image and run paths relative to `dir`); None, and no file, otherwise.
pub fn write_sweep_lit(dir: &Path, tc: &TaskComparison, file: &str) -> Result<Option<String>> {
    let Some(lit) = sweep_lit(dir, tc)? else {
        return Ok(None);
    };
    let title = format!(
        "{}{}, length {}, seed {}: the sentence lit by the gradient",
        tc.task, lit.unit, lit.length, lit.seed
    );
    write_lit_svg(&dir.join("plots").join(file), &title, &lit.rows)?;
    let mut md = String::new();
    let which = if lit.same_text {
        "the same sentence for every group: the probe sequences depend only on the task and the seed"
    } else {
        "the groups' task options differ, and so do their sentences"
    };
    let _ = writeln!(
        md,
        "### The sentence, lit by the gradient\n\nThe first probe sequence of seed {} at length {} ({which}), each step shaded by log10 of ‖∂ℓ/∂h_t‖ relative to the loss step's (layer 0, the probe batch's mean, as in each run's gradients.csv), at initialisation and after training, one row per group. The values are the runs' own files: {}.\n",
        lit.seed,
        lit.length,
        lit.runs
            .iter()
            .map(|(g, path)| {
                let rel = path.strip_prefix(dir).unwrap_or(path).join(LIT_CSV);
                format!("[{g}]({})", rel.display())
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        md,
        "![the probe sentence lit by the gradient, one row per group](plots/{file})\n"
    );
    Ok(Some(md))
}
