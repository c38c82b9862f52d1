//! `rnnlab compare`: which cell remembers how far. Per task, a table of group (the cell and any
//! other varied option) × length with accuracy over seeds, solved fraction and median steps to
//! solve; the critical length per group; plots and a Markdown report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::experiment::{Experiment, RunSpec};
use super::results::{ResultRow, ResultsTable};
use super::runner::{read_results, run_dir, EXPERIMENT_FILE};
use crate::error::{Error, Result};
use crate::report::sweep_plots::SweepPlots;
use crate::train::run_dir::write_atomic;

/// The statistics of one (group, length) cell over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct CellStats {
    pub runs: usize,
    pub mean_accuracy: f64,
    pub std_accuracy: f64,
    pub min_accuracy: f64,
    pub max_accuracy: f64,
    pub solved_fraction: f64,
    pub median_steps_to_solve: Option<f64>,
    pub mean_decay_init: Option<f64>,
    pub mean_decay_final: Option<f64>,
    pub diverged: usize,
}

/// One task's comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskComparison {
    pub task: String,
    pub lengths: Vec<usize>,
    pub groups: Vec<String>,
    pub cells: BTreeMap<(String, usize), CellStats>,
    /// Per group: the longest length solved in at least half the seeds.
    pub critical_length: BTreeMap<String, Option<usize>>,
    /// Per group, the runs at the longest length (for the gradient plots).
    pub longest_runs: BTreeMap<String, Vec<RunSpec>>,
}

/// The columns that tell groups apart: the cell, and every varied option but task, length, seed.
fn group_columns(exp: &Experiment) -> Vec<String> {
    let mut cols = vec!["cell".to_string()];
    // variant first after the cell: it names the remedy being compared
    for a in exp.axes() {
        if !["task", "length", "seed", "cell"].contains(&a) {
            cols.push(a.to_string());
        }
    }
    cols
}

fn group_label(row: &ResultRow, cols: &[String]) -> String {
    let mut parts = vec![row.option("cell").unwrap_or("?").to_string()];
    for c in &cols[1..] {
        parts.push(format!("{c}={}", row.option(c).unwrap_or("")));
    }
    parts.join(" ")
}

/// Reads a sweep directory and computes the comparison of every task in it.
pub fn compare_dir(dir: &Path) -> Result<(Experiment, Vec<TaskComparison>)> {
    let exp = Experiment::load(&dir.join(EXPERIMENT_FILE))?;
    let table = read_results(&exp, dir)?;
    if table.rows.is_empty() {
        return Err(Error::invalid(
            "compare",
            format!("{} has no finished runs yet", dir.display()),
        ));
    }
    Ok((exp.clone(), compare_table(&exp, &table)?))
}

pub fn compare_table(exp: &Experiment, table: &ResultsTable) -> Result<Vec<TaskComparison>> {
    let runs = exp.runs()?;
    let cols = group_columns(exp);
    let mut by_task: BTreeMap<String, Vec<&ResultRow>> = BTreeMap::new();
    for row in table.ordered() {
        by_task
            .entry(row.option("task").unwrap_or("?").to_string())
            .or_default()
            .push(row);
    }
    let mut out = Vec::new();
    for (task, rows) in by_task {
        let mut lengths: Vec<usize> = rows
            .iter()
            .filter_map(|r| r.option("length")?.parse().ok())
            .collect();
        lengths.sort_unstable();
        lengths.dedup();
        let mut groups: Vec<String> = Vec::new();
        for r in &rows {
            let g = group_label(r, &cols);
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        let mut cells = BTreeMap::new();
        for g in &groups {
            for &l in &lengths {
                let sel: Vec<&&ResultRow> = rows
                    .iter()
                    .filter(|r| {
                        &group_label(r, &cols) == g && r.option("length") == Some(&l.to_string())
                    })
                    .collect();
                if !sel.is_empty() {
                    cells.insert((g.clone(), l), stats(&sel));
                }
            }
        }
        let critical_length = groups
            .iter()
            .map(|g| {
                let best = lengths.iter().rev().find(|&&l| {
                    cells
                        .get(&(g.clone(), l))
                        .is_some_and(|c: &CellStats| c.solved_fraction >= 0.5)
                });
                (g.clone(), best.copied())
            })
            .collect();
        let longest = lengths.last().copied().unwrap_or(0);
        let mut longest_runs: BTreeMap<String, Vec<RunSpec>> = BTreeMap::new();
        for r in &rows {
            if r.option("length") == Some(&longest.to_string()) {
                let id = exp
                    .axes()
                    .iter()
                    .map(|a| format!("{a}={}", r.option(a).unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",");
                if let Some(spec) = runs.iter().find(|s| s.id() == id) {
                    longest_runs
                        .entry(group_label(r, &cols))
                        .or_default()
                        .push(spec.clone());
                }
            }
        }
        out.push(TaskComparison {
            task,
            lengths,
            groups,
            cells,
            critical_length,
            longest_runs,
        });
    }
    Ok(out)
}

impl TaskComparison {
    /// The critical length of `group` as text, `none` when no length was solved.
    pub fn critical_text(&self, group: &str) -> String {
        self.critical_length
            .get(group)
            .copied()
            .flatten()
            .map_or_else(|| "none".into(), |l| l.to_string())
    }
}

fn stats(rows: &[&&ResultRow]) -> CellStats {
    let acc: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.metric_f64("accuracy"))
        .map(|a| if a.is_nan() { 0.0 } else { a })
        .collect();
    let n = acc.len().max(1) as f64;
    let mean = acc.iter().sum::<f64>() / n;
    let std = if acc.len() > 1 {
        (acc.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let solved = rows
        .iter()
        .filter(|r| r.metric("solved") == Some("true"))
        .count();
    let mut steps: Vec<f64> = rows
        .iter()
        .filter(|r| r.metric("solved") == Some("true"))
        .filter_map(|r| r.metric_f64("solved_at_step"))
        .collect();
    steps.sort_by(f64::total_cmp);
    let median = (!steps.is_empty()).then(|| {
        let m = steps.len() / 2;
        if steps.len() % 2 == 1 {
            steps[m]
        } else {
            (steps[m - 1] + steps[m]) / 2.0
        }
    });
    let mean_of = |name: &str| {
        let v: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.metric_f64(name))
            .filter(|x| x.is_finite())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    CellStats {
        runs: rows.len(),
        mean_accuracy: mean,
        std_accuracy: std,
        min_accuracy: acc.iter().copied().fold(f64::INFINITY, f64::min),
        max_accuracy: acc.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        solved_fraction: solved as f64 / rows.len() as f64,
        median_steps_to_solve: median,
        mean_decay_init: mean_of("decay_init"),
        mean_decay_final: mean_of("decay_final"),
        diverged: rows
            .iter()
            .filter(|r| r.metric("diverged") == Some("true"))
            .count(),
    }
}

/// `0.99±0.01 3/3 @250`: mean ± std accuracy, seeds solved, median steps to solve.
pub fn cell_text(c: &CellStats) -> String {
    let solved = (c.solved_fraction * c.runs as f64).round() as usize;
    let steps = c
        .median_steps_to_solve
        .map(|s| format!(" @{s:.0}"))
        .unwrap_or_default();
    let div = if c.diverged > 0 {
        format!(" ({} diverged)", c.diverged)
    } else {
        String::new()
    };
    format!(
        "{:.2}±{:.2} {solved}/{}{steps}{div}",
        c.mean_accuracy, c.std_accuracy, c.runs
    )
}

/// The comparison as aligned text, as the terminal shows it.
pub fn comparison_text(comparisons: &[TaskComparison]) -> String {
    let mut out = String::new();
    for tc in comparisons {
        let _ = writeln!(
            out,
            "task {}: eval accuracy mean±std over seeds, seeds solved, median steps to solve",
            tc.task
        );
        let width = tc
            .groups
            .iter()
            .map(|g| g.chars().count())
            .max()
            .unwrap_or(4)
            .max(5);
        let cells: Vec<Vec<String>> = tc
            .groups
            .iter()
            .map(|g| {
                tc.lengths
                    .iter()
                    .map(|&l| {
                        tc.cells
                            .get(&(g.clone(), l))
                            .map(cell_text)
                            .unwrap_or_else(|| "-".into())
                    })
                    .collect()
            })
            .collect();
        let colw: Vec<usize> = (0..tc.lengths.len())
            .map(|j| {
                cells
                    .iter()
                    .map(|r| r[j].chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(format!("L={}", tc.lengths[j]).len())
            })
            .collect();
        let _ = write!(out, "  {:<width$}", "group");
        for (j, l) in tc.lengths.iter().enumerate() {
            let _ = write!(out, "  {:<w$}", format!("L={l}"), w = colw[j]);
        }
        let _ = writeln!(out, "  critical length");
        for (g, row) in tc.groups.iter().zip(&cells) {
            let _ = write!(out, "  {g:<width$}");
            for (j, c) in row.iter().enumerate() {
                let _ = write!(out, "  {c:<w$}", w = colw[j]);
            }
            let crit = tc.critical_text(g);
            let _ = writeln!(out, "  {crit}");
        }
    }
    out
}

/// Writes `dir/plots/*.svg` and `dir/report.md`.
pub fn write_report(dir: &Path, exp: &Experiment, comparisons: &[TaskComparison]) -> Result<()> {
    let plots = dir.join("plots");
    let table = read_results(exp, dir)?;
    let cols = group_columns(exp);
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n\n{}\n", exp.name, exp.description);
    let _ = writeln!(md, "Cells: eval accuracy mean ± std over seeds, seeds solved / seeds, `@` median steps to solve. The critical length is the longest length solved in at least half the seeds.\n");
    for tc in comparisons {
        let suffix = if comparisons.len() > 1 {
            format!("_{}", tc.task)
        } else {
            String::new()
        };
        let _ = writeln!(md, "## Task `{}`\n", tc.task);
        let _ = write!(md, "| group |");
        for l in &tc.lengths {
            let _ = write!(md, " L={l} |");
        }
        let _ = writeln!(md, " critical length |");
        let _ = writeln!(md, "|---|{}---|", "---|".repeat(tc.lengths.len()));
        for g in &tc.groups {
            let _ = write!(md, "| {g} |");
            for &l in &tc.lengths {
                let c = tc
                    .cells
                    .get(&(g.clone(), l))
                    .map(cell_text)
                    .unwrap_or_else(|| "–".into());
                let _ = write!(md, " {c} |");
            }
            let crit = tc.critical_text(g);
            let _ = writeln!(md, " {crit} |");
        }
        let _ = writeln!(md);

        let rows = table.ordered().into_iter();
        let rows = rows.filter(|r| r.option("task") == Some(tc.task.as_str()));
        let sweep_plots = SweepPlots::new(exp, tc, rows.map(|r| (group_label(r, &cols), r)));
        let file = sweep_plots.metric_file(&suffix);
        sweep_plots.metric_plot(&plots.join(&file))?;
        let metric = sweep_plots.metric_name();
        let _ = writeln!(md, "![{metric} against length](plots/{file})\n");

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
    }
    let _ = writeln!(md, "Each run's own files (metrics, gradients, diagnostics, model, plots) are under `runs/`; `results.csv` has one row per run.");
    write_atomic(&dir.join("report.md"), md.as_bytes())
}

/// Mean over `runs` of layer 0's grad_h by distance, at each run's first (or last) probe.
fn mean_gradient_profile(dir: &Path, runs: &[RunSpec], first: bool) -> Vec<(f64, f64)> {
    let mut sum: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for run in runs {
        let Ok(text) = std::fs::read_to_string(run_dir(dir, run).join("gradients.csv")) else {
            continue;
        };
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .filter(|r: &Vec<&str>| r.len() == 7 && r[1] == "0")
            .collect();
        let steps: Vec<&str> = rows.iter().map(|r| r[0]).collect();
        let Some(step) = (if first { steps.first() } else { steps.last() }).copied() else {
            continue;
        };
        for r in rows.iter().filter(|r| r[0] == step) {
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
