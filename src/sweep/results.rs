//! `results.csv`: one row per finished run, rewritten atomically (temporary file and rename) each
//! time a run finishes, in grid order, so a sweep killed at any moment leaves a valid file.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::outdir::write_atomic;
use crate::train::RunSummary;

/// The measured columns, after the option columns. `accuracy` and `loss` are on the evaluation
/// set (what is reported); `val_accuracy` and `val_loss` on the validation set (what tuned options
/// are chosen by).
pub const METRIC_COLUMNS: &[&str] = &[
    "accuracy",
    "loss",
    "val_accuracy",
    "val_loss",
    "baseline",
    "solved",
    "solved_at_step",
    "diverged",
    "decay_init",
    "decay_final",
    "half_life_init",
    "horizon_init",
    "decay_r2_init",
    "decay_r2_final",
    "decay_range_init",
    "decay_range_final",
    "source_signal_init",
    "source_signal_final",
    "learning_horizon_init",
    "learning_horizon_final",
    "generalisation",
    "wall_seconds",
];

/// The measured columns of results files written before the validation set existed; such a file
/// still reads, with empty validation cells. (Measured columns are read by name: any earlier
/// layout whose names are all here or in [`METRIC_COLUMNS`] reads.)
pub const LEGACY_METRIC_COLUMNS: &[&str] = &[
    "accuracy",
    "loss",
    "baseline",
    "solved",
    "solved_at_step",
    "diverged",
    "decay_init",
    "decay_final",
    "half_life_init",
    "horizon_init",
    "wall_seconds",
];

/// The options every results file names, besides the varied ones.
pub const FIXED_OPTION_COLUMNS: &[&str] = &["task", "cell", "length", "hidden", "seed"];

/// One run's row: option values by column, then the measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub options: Vec<(String, String)>,
    pub metrics: Vec<String>,
}

impl ResultRow {
    /// The measurements of a finished run. `baseline` is the memoryless predictor's value of the
    /// task's solved metric: accuracy for classification tasks, mean squared error for adding.
    pub fn from_summary(
        options: Vec<(String, String)>,
        s: &RunSummary,
        baseline: f64,
    ) -> ResultRow {
        let opt = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
        let init = s.gradients_init.first();
        let fin = s.gradients_final.first();
        // layer 0, like the decay columns; a rejected fit leaves ρ empty but keeps R² and range
        let range = |g: Option<&crate::analysis::gradient_report::DecaySummary>| {
            g.and_then(|g| Some(format!("{}-{}", g.fit_from?, g.fit_to?)))
                .unwrap_or_default()
        };
        let source = |v: &[crate::analysis::gradient_report::SourceSignal]| {
            v.first().map(|x| format!("{}", x.mean)).unwrap_or_default()
        };
        let learning = |v: &[crate::analysis::gradient_report::UpdateShare]| {
            v.first()
                .and_then(|u| u.learning_horizon)
                .map(|h| h.to_string())
                .unwrap_or_default()
        };
        let metrics = vec![
            format!("{}", s.final_eval_accuracy),
            format!("{}", s.final_eval_loss),
            opt(s.final_val_accuracy),
            opt(s.final_val_loss),
            format!("{baseline}"),
            s.solved.to_string(),
            s.solved_at_step.map(|v| v.to_string()).unwrap_or_default(),
            s.diverged.to_string(),
            opt(init.and_then(|g| g.decay_per_step)),
            opt(fin.and_then(|g| g.decay_per_step)),
            opt(init.and_then(|g| g.half_life)),
            init.and_then(|g| g.horizon)
                .map(|h| h.to_string())
                .unwrap_or_default(),
            opt(init.and_then(|g| g.fit_r_squared)),
            opt(fin.and_then(|g| g.fit_r_squared)),
            range(init),
            range(fin),
            source(&s.source_signal_init),
            source(&s.source_signal_final),
            learning(&s.update_share_init),
            learning(&s.update_share_final),
            s.length_generalisation
                .iter()
                .map(|g| format!("{}={}", g.length, g.metric))
                .collect::<Vec<_>>()
                .join(";"),
            format!("{:.3}", s.wall_seconds),
        ];
        ResultRow { options, metrics }
    }

    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn metric(&self, name: &str) -> Option<&str> {
        METRIC_COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|i| self.metrics.get(i))
            .map(String::as_str)
    }

    pub fn metric_f64(&self, name: &str) -> Option<f64> {
        self.metric(name).and_then(|v| v.parse().ok())
    }
}

/// The rows of a sweep keyed by run id, with the column order of the file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultsTable {
    pub option_columns: Vec<String>,
    /// run id → (grid index, row)
    pub rows: BTreeMap<String, (usize, ResultRow)>,
}

impl ResultsTable {
    pub fn new(option_columns: Vec<String>) -> Self {
        ResultsTable {
            option_columns,
            rows: BTreeMap::new(),
        }
    }

    pub fn header(&self) -> String {
        let mut cols: Vec<&str> = self.option_columns.iter().map(String::as_str).collect();
        cols.extend(METRIC_COLUMNS);
        cols.join(",")
    }

    /// Rows in grid order.
    pub fn ordered(&self) -> Vec<&ResultRow> {
        let mut rows: Vec<&(usize, ResultRow)> = self.rows.values().collect();
        rows.sort_by_key(|(i, _)| *i);
        rows.into_iter().map(|(_, r)| r).collect()
    }

    /// The file's text: a header, then one row per run in grid order, quoted as RFC 4180 says
    /// wherever a value holds a comma, quote or line break.
    pub fn to_csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header: Vec<&str> = self
            .option_columns
            .iter()
            .map(String::as_str)
            .chain(METRIC_COLUMNS.iter().copied())
            .collect();
        let fail = |e: csv::Error| Error::invalid("results.csv", e.to_string());
        w.write_record(&header).map_err(fail)?;
        for row in self.ordered() {
            let cells = self
                .option_columns
                .iter()
                .map(|c| row.option(c).unwrap_or(""))
                .chain(row.metrics.iter().map(String::as_str));
            w.write_record(cells).map_err(fail)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::invalid("results.csv", e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| Error::invalid("results.csv", e.to_string()))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_csv()?.as_bytes())
    }

    /// Reads a results file; `id_of` gives each row's run id and grid index from its options.
    pub fn read(
        path: &Path,
        id_of: &dyn Fn(&ResultRow) -> Option<(String, usize)>,
    ) -> Result<ResultsTable> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |e: csv::Error| {
            let line = e.position().map_or(0, |p| p.line());
            Error::bad_file(path, format!("line {line}: {e}"))
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes.as_slice());
        let mut records = reader.records();
        let header = records
            .next()
            .ok_or_else(|| Error::bad_file(path, "is empty"))?
            .map_err(bad)?;
        let header: Vec<&str> = header.iter().collect();
        // the option columns come first; the measured ones are found by name, so a file from an
        // earlier rnnlab (fewer measured columns, e.g. no validation set) still reads, with
        // empty cells for what it did not measure
        let n_opts = header
            .iter()
            .position(|c| METRIC_COLUMNS.contains(c) || LEGACY_METRIC_COLUMNS.contains(c))
            .filter(|&n| {
                header[n..]
                    .iter()
                    .all(|c| METRIC_COLUMNS.contains(c) || LEGACY_METRIC_COLUMNS.contains(c))
                    && header[n..].contains(&"accuracy")
                    && header.last() == Some(&"wall_seconds")
            })
            .ok_or_else(|| {
                Error::bad_file(
                    path,
                    format!(
                        "line 1: the header must end with {}",
                        METRIC_COLUMNS.join(",")
                    ),
                )
            })?;
        let measured: Vec<Option<usize>> = METRIC_COLUMNS
            .iter()
            .map(|c| header[n_opts..].iter().position(|h| h == c))
            .collect();
        let option_columns: Vec<String> = header[..n_opts].iter().map(|s| s.to_string()).collect();
        let mut table = ResultsTable::new(option_columns.clone());
        for record in records {
            let record = record.map_err(bad)?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != header.len() {
                return Err(Error::bad_file(
                    path,
                    format!(
                        "line {line}: {} columns, the header has {}",
                        record.len(),
                        header.len()
                    ),
                ));
            }
            let cells: Vec<&str> = record.iter().collect();
            let row = ResultRow {
                options: option_columns
                    .iter()
                    .cloned()
                    .zip(cells[..n_opts].iter().map(|s| s.to_string()))
                    .collect(),
                metrics: measured
                    .iter()
                    .map(|i| i.map_or_else(String::new, |i| cells[n_opts + i].to_string()))
                    .collect(),
            };
            if let Some((id, index)) = id_of(&row) {
                table.rows.entry(id).or_insert((index, row));
            }
        }
        Ok(table)
    }
}
