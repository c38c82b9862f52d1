//! Compact terminal charts on a log10 y axis, for printing next to numbers in a CLI report.

use super::{decade_bounds, decade_label, format_number, log10_positive};

/// Rows between two labelled decades in the middle of the axis (the ends are always labelled).
const MIN_LABEL_GAP: usize = 3;

/// A compact terminal chart of positive values on a log10 y axis (e.g. gradient norm against
/// distance): `height` rows, at most `width` columns, with the y range (powers of ten) on the
/// left and the x range below. Non-finite or ≤ 0 values are skipped (shown as blanks). Pure text,
/// no colours.
///
/// Layout, every line ending in `\n` and without trailing spaces:
/// - `height` plot rows (at least 2): `LABEL |` then a `*` for each point, the top row at the
///   upper decade and the bottom row at the lower one (whole decades around the data). The top
///   and bottom rows are labelled like `1e-8`; middle rows that fall exactly on a decade may be.
/// - one axis line ` +-----`, then one line with the smallest x under the first column and the
///   largest under the last, then `x_label` centred under the plot (omitted when empty).
///
/// Lines are at most `width` characters when `width` leaves room for the labels plus one column;
/// otherwise the plot keeps one column. When no point is drawable the result is the single line
/// `(no positive values to plot)`.
pub fn text_chart_log(points: &[(f64, f64)], width: usize, height: usize, x_label: &str) -> String {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, _)| x.is_finite())
        .filter_map(|&(x, y)| Some((x, log10_positive(y)?)))
        .collect();
    if pts.is_empty() {
        return "(no positive values to plot)\n".to_string();
    }
    let height = height.max(2);
    let fold = |(lo, hi): (f64, f64), v: f64| (lo.min(v), hi.max(v));
    let inf = (f64::INFINITY, f64::NEG_INFINITY);
    let (x_min, x_max) = pts.iter().map(|p| p.0).fold(inf, fold);
    let (y_min, y_max) = pts.iter().map(|p| p.1).fold(inf, fold);
    let (lo, hi) = decade_bounds(y_min, y_max);

    let labels = row_labels(lo, hi, height);
    let label_width = labels.iter().flatten().map(String::len).max().unwrap_or(0);
    let plot_width = width.saturating_sub(label_width + 2).max(1);

    let mut grid = vec![vec![' '; plot_width]; height];
    let (decades, rows) = (f64::from(hi - lo), (height - 1) as f64);
    for &(x, ly) in &pts {
        let col = if x_max > x_min {
            ((x - x_min) / (x_max - x_min) * (plot_width - 1) as f64).round() as usize
        } else {
            0
        };
        let row = ((f64::from(hi) - ly) / decades * rows).round() as usize;
        grid[row.min(height - 1)][col.min(plot_width - 1)] = '*';
    }

    let mut out = String::new();
    let mut push = |line: String| {
        out.push_str(line.trim_end());
        out.push('\n');
    };
    for (row, label) in grid.iter().zip(&labels) {
        let label = label.as_deref().unwrap_or("");
        push(format!(
            "{label:>label_width$} |{}",
            row.iter().collect::<String>()
        ));
    }
    let indent = " ".repeat(label_width + 2);
    push(format!("{:label_width$} +{}", "", "-".repeat(plot_width)));
    let (left, right) = (format_number(x_min), format_number(x_max));
    let range = if x_max == x_min {
        left
    } else if left.len() + 1 + right.len() <= plot_width {
        let gap = plot_width - left.len() - right.len();
        format!("{left}{}{right}", " ".repeat(gap))
    } else {
        format!("{left} {right}")
    };
    push(format!("{indent}{range}"));
    if !x_label.is_empty() {
        let pad = plot_width.saturating_sub(x_label.chars().count()) / 2;
        push(format!("{indent}{}{x_label}", " ".repeat(pad)));
    }
    out
}

/// Labels for each of `height` rows spanning decades `hi` (top) to `lo` (bottom): both ends, and
/// middle rows that fall exactly on a decade, at least [`MIN_LABEL_GAP`] rows from any other.
fn row_labels(lo: i32, hi: i32, height: usize) -> Vec<Option<String>> {
    let decades = (hi - lo) as usize;
    let rows = height - 1;
    let mut labels = vec![None; height];
    labels[0] = Some(decade_label(hi));
    labels[rows] = Some(decade_label(lo));
    let mut last = 0;
    for (r, label) in labels.iter_mut().enumerate().take(rows).skip(1) {
        let on_decade = (r * decades).is_multiple_of(rows);
        if on_decade && r - last >= MIN_LABEL_GAP && rows - r >= MIN_LABEL_GAP {
            *label = Some(decade_label(hi - (r * decades / rows) as i32));
            last = r;
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_labels_mark_ends_and_exact_decades() {
        let l = row_labels(-8, 0, 9);
        assert_eq!(l[0].as_deref(), Some("1"));
        assert_eq!(l[8].as_deref(), Some("1e-8"));
        assert_eq!(l[3].as_deref(), Some("1e-3"));
        assert_eq!(l[1], None);
        // Rows between decades get no label.
        let l = row_labels(-1, 0, 4);
        assert_eq!(l.iter().flatten().count(), 2);
    }
}
