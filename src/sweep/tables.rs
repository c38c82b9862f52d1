//! The comparison as text: each cell's text, the by-length tables, L50, the verdicts' sentences
//! and the terminal's report ([`comparison_text`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::compare::{
    format_p, significant, CellStats, GroupLengthAtHalf, PairVerdict, TaskComparison, Verdict,
};
use crate::analysis::stats::{fisher_exact, format_length, BOOTSTRAP_RESAMPLES};
use crate::report::table::Table;

impl PairVerdict {
    /// `3 seeds`, or `3–5 seeds` when the cells tested had different numbers of runs.
    pub fn seeds_text(&self) -> String {
        let counts = self.tests.iter().flat_map(|t| [t.first.1, t.second.1]);
        let (low, high) = (counts.clone().min(), counts.max());
        match (low, high) {
            (Some(l), Some(h)) if l == h => format!("{l} seed{}", if l == 1 { "" } else { "s" }),
            (Some(l), Some(h)) => format!("{l}–{h} seeds"),
            _ => "no common length".into(),
        }
    }

    /// `gru remembers longer than rnn (L=100: 5/5 vs 0/5, Holm-adjusted one-sided Fisher p =
    /// 0.024)`, or `rnn and lstm: not distinguishable with 3 seeds (…)`.
    pub fn text(&self) -> String {
        let evidence = |first_more: bool| -> String {
            self.tests
                .iter()
                .filter(|t| {
                    significant(if first_more {
                        t.holm_first_more
                    } else {
                        t.holm_second_more
                    })
                })
                .map(|t| {
                    let (winner, loser, p) = if first_more {
                        (t.first, t.second, t.holm_first_more)
                    } else {
                        (t.second, t.first, t.holm_second_more)
                    };
                    format!(
                        "L={} {}/{} vs {}/{}, p = {}",
                        t.length,
                        winner.0,
                        winner.1,
                        loser.0,
                        loser.1,
                        format_p(p)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let (a, b) = (&self.first, &self.second);
        match self.verdict {
            Verdict::FirstLonger => format!(
                "{a} remembers longer than {b} (Holm-adjusted one-sided Fisher exact test: {})",
                evidence(true)
            ),
            Verdict::SecondLonger => format!(
                "{b} remembers longer than {a} (Holm-adjusted one-sided Fisher exact test: {})",
                evidence(false)
            ),
            Verdict::Conflicting => format!(
                "{a} and {b}: no single ranking ({a} solves more often at {}; {b} at {})",
                evidence(true),
                evidence(false)
            ),
            Verdict::NotDistinguishable => {
                let strongest = self
                    .tests
                    .iter()
                    .map(|t| (t.holm_first_more.min(t.holm_second_more), t.length))
                    .min_by(|x, y| x.0.total_cmp(&y.0));
                match strongest {
                    Some((p, _)) if p >= 1.0 => format!(
                        "{a} and {b}: not distinguishable with {} (every Holm-adjusted p = 1)",
                        self.seeds_text()
                    ),
                    Some((p, length)) => format!(
                        "{a} and {b}: not distinguishable with {} (smallest Holm-adjusted p = {} at L={length})",
                        self.seeds_text(),
                        format_p(p)
                    ),
                    None => format!("{a} and {b}: not distinguishable (no length run for both)"),
                }
            }
        }
    }
}

/// `3/5 [0.23, 0.88]`: seeds solved / seeds and the 95% Wilson interval of the fraction.
pub fn solved_text(c: &CellStats) -> String {
    match c.solved_interval {
        Some(ci) => format!(
            "{}/{} [{:.2}, {:.2}]",
            c.solved_runs, c.runs, ci.low, ci.high
        ),
        None => format!("{}/{}", c.solved_runs, c.runs),
    }
}

/// `0.99±0.01 @250`: mean ± std eval accuracy over seeds, median steps to solve (solved runs), and
/// how many runs diverged if any did.
pub fn accuracy_text(c: &CellStats) -> String {
    let steps = c
        .median_steps_to_solve
        .map(|s| format!(" @{s:.0}"))
        .unwrap_or_default();
    let div = if c.diverged > 0 {
        format!(" ({} diverged)", c.diverged)
    } else {
        String::new()
    };
    format!("{:.2}±{:.2}{steps}{div}", c.mean_accuracy, c.std_accuracy)
}

/// `3.4e-3 → 8.3e-2`: the geometric mean over seeds of the signal at the source, at
/// initialisation → at the end, and how many of the cell's seeds had a final decay that was not
/// exponential (their ρ is not averaged).
pub fn source_signal_text(c: &CellStats) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |x| format!("{x:.1e}"));
    let flagged = if c.decay_not_exponential > 0 {
        format!(
            " (ρ not exponential in {} of {} seeds)",
            c.decay_not_exponential, c.runs
        )
    } else {
        String::new()
    };
    format!(
        "{} → {}{flagged}",
        f(c.geomean_source_signal_init),
        f(c.geomean_source_signal_final)
    )
}

/// What the source-signal table shows.
pub const SOURCE_SIGNAL_CAPTION: &str =
    "signal at the source ‖∂ℓ/∂h_src‖/‖∂ℓ/∂h_p‖ (layer 0), geometric mean over seeds (one outlier seed cannot dominate it; each run's value, the mean over its probe sequences, is in results.csv), at init → trained";

/// The column header of the old critical length, named for what it is.
pub const HALF_SEEDS_HEADER: &str = "longest length solved in at least half the seeds";

impl GroupLengthAtHalf {
    /// `[18.2, 61.0]`, `none` when no resample had an L50, `–` without a bootstrap.
    pub fn interval_text(&self) -> String {
        match &self.bootstrap {
            None => "–".into(),
            Some(b) => match b.interval {
                Some(ci) => format!("[{}, {}]", format_length(ci.low), format_length(ci.high)),
                None => "none".into(),
            },
        }
    }

    /// `12%`: the share of bootstrap resamples without an L50.
    pub fn not_estimable_text(&self) -> String {
        self.bootstrap.as_ref().map_or_else(
            || "–".into(),
            |b| format!("{:.0}%", 100.0 * b.not_estimable_fraction()),
        )
    }
}

impl TaskComparison {
    pub(crate) fn cell_row(
        &self,
        group: &str,
        text: fn(&CellStats) -> String,
        missing: &str,
    ) -> Vec<String> {
        self.lengths
            .iter()
            .map(|&l| {
                self.cells
                    .get(&(group.to_string(), l))
                    .map(text)
                    .unwrap_or_else(|| missing.into())
            })
            .collect()
    }

    pub(crate) fn by_length_table(&self, text: fn(&CellStats) -> String, missing: &str) -> Table {
        let mut header = vec!["group".to_string()];
        header.extend(self.lengths.iter().map(|l| format!("L={l}")));
        Table {
            header,
            rows: self
                .groups
                .iter()
                .map(|g| {
                    let mut row = vec![g.clone()];
                    row.extend(self.cell_row(g, text, missing));
                    row
                })
                .collect(),
        }
    }

    pub(crate) fn length_at_half_table(&self) -> Table {
        Table {
            header: [
                "group",
                "L50 (logistic fit)",
                "bootstrap 95% interval",
                "resamples without L50",
                HALF_SEEDS_HEADER,
            ]
            .map(String::from)
            .to_vec(),
            rows: self
                .groups
                .iter()
                .map(|g| {
                    let (estimate, interval, missing) = self.length_at_half.get(g).map_or_else(
                        || ("–".into(), "–".into(), "–".into()),
                        |l| (l.estimate.text(), l.interval_text(), l.not_estimable_text()),
                    );
                    vec![
                        g.clone(),
                        estimate,
                        interval,
                        missing,
                        self.critical_text(g),
                    ]
                })
                .collect(),
        }
    }

    /// How strong a result the sweep can show at all: with n seeds per cell, the most extreme
    /// table at one length (n/n against 0/n) has one-sided Fisher p = 1/C(2n, n), which Holm
    /// multiplies by twice the lengths the pair shares (a length search runs each group at its
    /// own lengths, so pairs share fewer). `None` with fewer than two groups or no cells.
    pub fn power_note(&self) -> Option<String> {
        if self.groups.len() < 2 || self.lengths.is_empty() {
            return None;
        }
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for c in self.cells.values() {
            *counts.entry(c.runs).or_default() += 1;
        }
        let (&seeds, _) = counts.iter().max_by_key(|(n, k)| (**k, **n))?;
        let strongest = fisher_exact(seeds, seeds, 0, seeds).ok()?.p_first_greater;
        // per pair, the lengths at which both groups ran
        let shared = |a: &String, b: &String| {
            self.lengths
                .iter()
                .filter(|&&l| {
                    self.cells.contains_key(&(a.clone(), l))
                        && self.cells.contains_key(&(b.clone(), l))
                })
                .count()
        };
        let mut pair_lengths = Vec::new();
        for (i, a) in self.groups.iter().enumerate() {
            for b in &self.groups[i + 1..] {
                pair_lengths.push(shared(a, b));
            }
        }
        let fewest = pair_lengths.iter().copied().filter(|&m| m > 0).min()?;
        let most = pair_lengths.iter().copied().max().unwrap_or(fewest);
        let adjusted = |m: usize| (strongest * (2 * m) as f64).min(1.0);
        let consequence = if significant(adjusted(fewest)) {
            "; only differences close to that extreme can be ranked"
        } else {
            ", so no pair can be ranked at 95% with this many seeds"
        };
        Some(if fewest == most {
            format!(
                "With {seeds} seeds per cell and {most} length{}, the largest possible difference at one length ({seeds}/{seeds} against 0/{seeds}) has one-sided p = {} and Holm-adjusted p = {} over the pair's {} tests{consequence}.",
                if most == 1 { "" } else { "s" },
                format_p(strongest),
                format_p(adjusted(most)),
                2 * most
            )
        } else {
            format!(
                "With {seeds} seeds per cell, the largest possible difference at one length ({seeds}/{seeds} against 0/{seeds}) has one-sided p = {}; Holm multiplies it by the pair's tests, two per length both groups ran (here {fewest} to {most} lengths: Holm-adjusted p = {} to {}){consequence}.",
                format_p(strongest),
                format_p(adjusted(fewest)),
                format_p(adjusted(most))
            )
        })
    }
}

/// The comparison as aligned text, as the terminal shows it.
pub fn comparison_text(comparisons: &[TaskComparison]) -> String {
    let mut out = String::new();
    for tc in comparisons {
        if let Some(t) = &tc.tuning {
            let _ = writeln!(out, "{}", t.heading(&tc.task));
            out.push_str(&t.table().aligned());
            let _ = writeln!(out, "  {}", t.scope_text());
        }
        let _ = writeln!(
            out,
            "task {}: seeds solved k/n [95% Wilson interval] by length",
            tc.task
        );
        out.push_str(&tc.by_length_table(solved_text, "-").aligned());
        let _ = writeln!(
            out,
            "task {}: eval accuracy mean±std over seeds, @ median steps to solve",
            tc.task
        );
        out.push_str(&tc.by_length_table(accuracy_text, "-").aligned());
        let _ = writeln!(out, "task {}: {SOURCE_SIGNAL_CAPTION}", tc.task);
        out.push_str(&tc.by_length_table(source_signal_text, "-").aligned());
        let _ = writeln!(
            out,
            "task {}: L50 = length where P(solved) = 1/2 (logistic fit on ln length; bootstrap over seeds, {BOOTSTRAP_RESAMPLES} resamples)",
            tc.task
        );
        out.push_str(&tc.length_at_half_table().aligned());
        if !tc.verdicts.is_empty() {
            let _ = writeln!(
                out,
                "task {}: verdicts (one-sided Fisher exact test per length, Holm-corrected per pair, 95%)",
                tc.task
            );
            for v in &tc.verdicts {
                let _ = writeln!(out, "  {}", v.text());
            }
            if let Some(note) = tc.power_note() {
                let _ = writeln!(out, "  {note}");
            }
        }
        if let Some(table) = tc.generalisation_table() {
            let _ = writeln!(
                out,
                "task {}: length generalisation, mean over seeds of the solved metric (runs)",
                tc.task
            );
            out.push_str(&table.aligned());
        }
    }
    out
}

impl TaskComparison {
    /// [`Self::generalisation`] as a table: the mean over seeds of the solved metric at each test
    /// length, with the number of runs; None when no run evaluated other lengths.
    pub(crate) fn generalisation_table(&self) -> Option<Table> {
        let cells = self.generalisation();
        if cells.is_empty() {
            return None;
        }
        let mut tests: Vec<usize> = cells.values().flat_map(|m| m.keys().copied()).collect();
        tests.sort_unstable();
        tests.dedup();
        let mut header = vec!["group".to_string(), "trained at".to_string()];
        header.extend(tests.iter().map(|t| format!("tested at {t}")));
        let mut keys: Vec<&(String, usize)> = cells.keys().collect();
        keys.sort_by_key(|(g, l)| (self.groups.iter().position(|x| x == g), *l));
        let rows = keys
            .into_iter()
            .map(|key| {
                let mut row = vec![key.0.clone(), key.1.to_string()];
                for t in &tests {
                    row.push(cells[key].get(t).map_or("–".to_string(), |(sum, n)| {
                        format!("{:.3} ({n})", sum / *n as f64)
                    }));
                }
                row
            })
            .collect();
        Some(Table { header, rows })
    }
}
