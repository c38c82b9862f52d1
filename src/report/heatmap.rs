//! SVG heatmaps written by hand: one `<rect class="cell">` per value, a colour scale legend with
//! its own ticks, axis ticks and labels, nothing else (no fonts, no script, no external file).
//!
//! Columns sit at x positions (training steps) that need not be evenly spaced: each cell spans
//! from halfway to the previous column to halfway to the next, the two end cells extend by half
//! their inner gap. Rows sit at y positions (distances) the same way, the first at the bottom.
//! Values are coloured by log10 on a viridis-like scale from the smallest to the largest positive
//! finite value; a value that is 0, negative or not finite is drawn grey and named in the legend.
//! Same input, byte-identical file.

use std::fmt::Write as _;
use std::path::Path;

use super::{format_number, log10_positive};
use crate::error::{Error, Result};

/// Class of the data cells' `<rect>` elements (tests and tools count them by it).
pub const CELL_CLASS: &str = "cell";

/// Colour of cells without a drawable value.
const MISSING: &str = "#bbbbbb";

/// Anchors of the colour scale (viridis at 0, 1/8, …, 1), interpolated linearly in RGB.
const SCALE: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x47, 0x2d, 0x7b),
    (0x3b, 0x52, 0x8b),
    (0x2c, 0x72, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x28, 0xae, 0x80),
    (0x5e, 0xc9, 0x62),
    (0xad, 0xdc, 0x30),
    (0xfd, 0xe7, 0x25),
];

/// A heatmap: `values[c][r]` is the value at column `columns[c]` and row `rows[r]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// What the colour shows, e.g. "‖∂ℓ/∂h_t‖₂" (the legend says it is on a log scale).
    pub value_label: &'a str,
    /// Column positions, strictly increasing.
    pub columns: Vec<f64>,
    /// Row positions, strictly increasing (drawn bottom to top).
    pub rows: Vec<f64>,
    pub values: Vec<Vec<f64>>,
}

/// The colour of `t` in 0..=1 on the scale, as `#rrggbb`.
pub fn scale_colour(t: f64) -> String {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (SCALE.len() - 1) as f64;
    let i = (pos.floor() as usize).min(SCALE.len() - 2);
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + f * (f64::from(b) - f64::from(a))).round() as u8;
    let (a, b) = (SCALE[i], SCALE[i + 1]);
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

/// Cell edges of increasing positions: halfway between neighbours, the ends extended by half the
/// inner gap (a single position gets a unit-wide cell).
fn edges(pos: &[f64]) -> Vec<f64> {
    match pos {
        [] => vec![],
        [p] => vec![p - 0.5, p + 0.5],
        _ => {
            let n = pos.len();
            let mut e = Vec::with_capacity(n + 1);
            e.push(pos[0] - (pos[1] - pos[0]) / 2.0);
            e.extend(pos.windows(2).map(|w| (w[0] + w[1]) / 2.0));
            e.push(pos[n - 1] + (pos[n - 1] - pos[n - 2]) / 2.0);
            e
        }
    }
}

/// About `want` ticks at multiples of a 1-2-5 step inside `lo..=hi`.
fn nice_ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn escape(text: &str) -> String {
    super::html::escape(text)
}

/// The heatmap as SVG text; the contract of [`heatmap_svg`].
pub fn render_heatmap(map: &Heatmap) -> Result<String> {
    // Long (~200 lines) on purpose for now: one SVG written top to bottom (frame, cells, axes,
    // colour scale, labels) sharing a dozen layout numbers; split it by those parts when it next
    // changes (issue 22 left it, it is byte-checked by cmp-outputs.sh).
    let (nc, nr) = (map.columns.len(), map.rows.len());
    if map.values.len() != nc || map.values.iter().any(|c| c.len() != nr) {
        return Err(Error::invalid(
            "heatmap",
            format!("{nc} columns × {nr} rows need as many values"),
        ));
    }
    let increasing =
        |p: &[f64]| p.iter().all(|v| v.is_finite()) && p.windows(2).all(|w| w[0] < w[1]);
    if !increasing(&map.columns) || !increasing(&map.rows) {
        return Err(Error::invalid(
            "heatmap",
            "column and row positions must be finite and strictly increasing",
        ));
    }
    let logs: Vec<f64> = map
        .values
        .iter()
        .flatten()
        .filter_map(|&v| log10_positive(v))
        .collect();
    let lo = logs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let any_missing = logs.len() < nc * nr;

    // Geometry (pixels): plot area, colour bar to its right.
    let (width, height) = (800.0, 500.0);
    let (left, right, top, bottom) = (80.0, 640.0, 50.0, 430.0);
    let (bar_x, bar_w) = (680.0, 18.0);
    let xe = edges(&map.columns);
    let ye = edges(&map.rows);
    let (x0, x1) = (
        xe.first().copied().unwrap_or(0.0),
        xe.last().copied().unwrap_or(1.0),
    );
    let (y0, y1) = (
        ye.first().copied().unwrap_or(0.0),
        ye.last().copied().unwrap_or(1.0),
    );
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (right - left);
    let py = |y: f64| bottom - (y - y0) / (y1 - y0) * (bottom - top);

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\">"
    );
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>"
    );
    let title_size =
        ((740.0 / (map.title.chars().count().max(1) as f64 * 0.52)).floor()).clamp(11.0, 18.0);
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"28\" text-anchor=\"middle\" font-size=\"{title_size}\">{}</text>",
        width / 2.0,
        escape(map.title)
    );
    // the cells, column by column
    let _ = writeln!(s, "<g shape-rendering=\"crispEdges\">");
    for (c, column) in map.values.iter().enumerate() {
        let (xa, xb) = (px(xe[c]), px(xe[c + 1]));
        for (r, &v) in column.iter().enumerate() {
            let (ya, yb) = (py(ye[r + 1]), py(ye[r]));
            let fill = match log10_positive(v) {
                Some(l) => scale_colour((l - lo) / span),
                None => MISSING.to_string(),
            };
            let _ = writeln!(
                s,
                "<rect class=\"{CELL_CLASS}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{fill}\"/>",
                xa,
                ya,
                (xb - xa).max(0.01),
                (yb - ya).max(0.01)
            );
        }
    }
    let _ = writeln!(s, "</g>");
    let _ = writeln!(
        s,
        "<path d=\"M{left} {top}H{right}V{bottom}H{left}Z\" fill=\"none\" stroke=\"#444444\"/>"
    );
    // axes: ticks at 1-2-5 steps of the positions, whole numbers only
    let mut axis = String::new();
    let ticks = |pos: &[f64]| match (pos.first(), pos.last()) {
        (Some(&a), Some(&b)) => nice_ticks(a, b, 8)
            .into_iter()
            .filter(|t| t.fract() == 0.0)
            .collect(),
        _ => vec![],
    };
    for t in ticks(&map.columns) {
        let x = px(t);
        let _ = writeln!(
            axis,
            "<path d=\"M{x:.2} {bottom}v5\" stroke=\"#444444\"/><text x=\"{x:.2}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
            bottom + 19.0,
            format_number(t)
        );
    }
    for t in ticks(&map.rows) {
        let y = py(t);
        let _ = writeln!(
            axis,
            "<path d=\"M{left} {y:.2}h-5\" stroke=\"#444444\"/><text x=\"{}\" y=\"{:.2}\" text-anchor=\"end\" font-size=\"13\">{}</text>",
            left - 8.0,
            y + 4.5,
            format_number(t)
        );
    }
    s.push_str(&axis);
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"15\">{}</text>",
        (left + right) / 2.0,
        bottom + 45.0,
        escape(map.x_label)
    );
    let _ = writeln!(
        s,
        "<text x=\"22\" y=\"{0}\" text-anchor=\"middle\" font-size=\"15\" transform=\"rotate(-90 22 {0})\">{1}</text>",
        (top + bottom) / 2.0,
        escape(map.y_label)
    );
    // the colour scale: a gradient bar with log10 ticks
    let _ = writeln!(
        s,
        "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
    );
    for i in 0..SCALE.len() {
        let t = i as f64 / (SCALE.len() - 1) as f64;
        let _ = writeln!(
            s,
            "<stop offset=\"{t:.4}\" stop-color=\"{}\"/>",
            scale_colour(t)
        );
    }
    let _ = writeln!(s, "</linearGradient></defs>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
        bar_x + bar_w / 2.0 + 20.0,
        top - 10.0,
        escape(&format!("{} (log scale)", map.value_label))
    );
    if logs.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"18\" fill=\"#666666\">no positive values</text>",
            (left + right) / 2.0,
            (top + bottom) / 2.0
        );
    } else {
        let _ = writeln!(
            s,
            "<path d=\"M{bar_x} {top}h{bar_w}V{bottom}h-{bar_w}Z\" fill=\"url(#scale)\" stroke=\"#444444\"/>"
        );
        let bar_y = |l: f64| bottom - (l - lo) / span * (bottom - top);
        let mut ticks = nice_ticks(lo, if hi > lo { hi } else { lo + 1.0 }, 6);
        if ticks.is_empty() {
            ticks.push(lo);
        }
        for t in ticks {
            let y = bar_y(t);
            // whole decades as 1e-3, steps within a decade as 10^-2.5
            let label = if t.fract() == 0.0 {
                super::decade_label(t as i32)
            } else {
                format!("10^{t:.1}")
            };
            let _ = writeln!(
                s,
                "<path d=\"M{} {y:.2}h5\" stroke=\"#444444\"/><text x=\"{}\" y=\"{:.2}\" font-size=\"12\">{}</text>",
                bar_x + bar_w,
                bar_x + bar_w + 8.0,
                y + 4.0,
                escape(&label)
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{bar_x}\" y=\"{}\" font-size=\"11\" fill=\"#444444\">{} to {}</text>",
            bottom + 19.0,
            format_number(10f64.powf(lo)),
            format_number(10f64.powf(hi))
        );
    }
    if any_missing {
        let _ = writeln!(
            s,
            "<path d=\"M{bar_x} {0}h{bar_w}v12h-{bar_w}Z\" fill=\"{MISSING}\"/><text x=\"{1}\" y=\"{2}\" font-size=\"11\">0 or not finite</text>",
            bottom + 30.0,
            bar_x + bar_w + 6.0,
            bottom + 40.0
        );
    }
    s.push_str("</svg>\n");
    Ok(s)
}

/// Writes `map` as an SVG file (parent directories created).
///
/// Errors: [`Error::InvalidOption`] when `values` is not columns × rows or the positions are not
/// finite and strictly increasing; [`Error::Io`] when the file cannot be written.
pub fn heatmap_svg(path: &Path, map: &Heatmap) -> Result<()> {
    let svg = render_heatmap(map)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, svg).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(values: Vec<Vec<f64>>) -> Heatmap<'static> {
        Heatmap {
            title: "t <&>",
            x_label: "training step",
            y_label: "distance",
            value_label: "‖g‖",
            columns: (0..values.len()).map(|c| 10.0 * c as f64).collect(),
            rows: (0..values.first().map_or(0, Vec::len))
                .map(|r| r as f64)
                .collect(),
            values,
        }
    }

    #[test]
    fn one_cell_per_value_and_the_scale_ends_at_the_extremes() {
        let svg =
            render_heatmap(&map(vec![vec![1.0, 1e-3, 0.0], vec![1e-2, f64::NAN, 0.5]])).unwrap();
        assert_eq!(svg.matches("<rect class=\"cell\"").count(), 6);
        assert_eq!(svg.matches(&format!("fill=\"{MISSING}\"")).count(), 3);
        assert!(
            svg.contains(&format!("fill=\"{}\"", scale_colour(1.0))),
            "{svg}"
        );
        assert!(svg.contains(&format!("fill=\"{}\"", scale_colour(0.0))));
        assert!(svg.contains("t &lt;&amp;&gt;") && svg.contains("0 or not finite"));
        assert_eq!(scale_colour(0.0), "#440154");
        assert_eq!(scale_colour(1.0), "#fde725");
        assert_eq!(scale_colour(f64::NAN), "#440154");
    }

    #[test]
    fn bad_shapes_are_errors_and_empty_maps_still_draw() {
        let mut m = map(vec![vec![1.0, 2.0]]);
        m.values[0].pop();
        assert!(render_heatmap(&m).is_err());
        let mut m = map(vec![vec![1.0], vec![2.0]]);
        m.columns = vec![1.0, 1.0];
        assert!(render_heatmap(&m).is_err());
        let svg = render_heatmap(&map(vec![])).unwrap();
        assert!(svg.contains("no positive values") && !svg.contains("class=\"cell\""));
        let svg = render_heatmap(&map(vec![vec![0.0]])).unwrap();
        assert!(svg.contains("no positive values"));
    }

    #[test]
    fn uneven_columns_get_cells_reaching_halfway() {
        assert_eq!(edges(&[0.0, 10.0, 15.0]), vec![-5.0, 5.0, 12.5, 17.5]);
        assert_eq!(edges(&[3.0]), vec![2.5, 3.5]);
    }
}
