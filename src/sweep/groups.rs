//! The groups a comparison tells apart: which columns name a group, and a row's group label.

use super::experiment::{Experiment, VARIANT_AXIS};
use super::results::ResultRow;

/// The columns that tell groups apart: the cell, and every varied option but task, length, seed
/// (and the tuned options, unless `with_tuned`).
pub fn group_columns(exp: &Experiment, with_tuned: bool) -> Vec<String> {
    let tuned = exp.tuned_axes();
    let mut cols = vec!["cell".to_string()];
    // variant first after the cell: it names the remedy being compared
    for a in exp.axes() {
        if !["task", "length", "seed", "cell"].contains(&a) && (with_tuned || !tuned.contains(&a)) {
            cols.push(a.to_string());
        }
    }
    cols
}

/// "cell option=value …"; a variant shows as its name alone when the name starts with the cell's
/// (`lstm-chrono`, not `lstm variant=lstm-chrono`), else as `cell name` (`rnn no-clip`).
pub fn group_label(row: &ResultRow, cols: &[String]) -> String {
    let cell = row.option("cell").unwrap_or("?");
    let mut parts = vec![cell.to_string()];
    for c in &cols[1..] {
        let value = row.option(c).unwrap_or("");
        if c == VARIANT_AXIS {
            if value == cell || value.starts_with(&format!("{cell}-")) {
                parts[0] = value.to_string();
            } else {
                parts.push(value.to_string());
            }
        } else {
            parts.push(format!("{c}={value}"));
        }
    }
    parts.join(" ")
}
