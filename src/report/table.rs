//! A table of text cells, rendered aligned for the terminal or as Markdown.

use std::fmt::Write as _;

/// A table of text cells, rendered aligned for the terminal or as Markdown.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Two-space indented, columns padded to their widest cell (the last column unpadded).
    pub fn aligned(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|j| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .filter_map(|r| r.get(j))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (j, cell) in row.iter().enumerate() {
                let _ = write!(
                    line,
                    "  {cell:<w$}",
                    w = widths.get(j).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(self.header.len()));
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }
}
