//! SVG line charts through plotters' pure-Rust SVG backend (no font files, no system libraries:
//! text is written as SVG `<text>` elements and laid out by whatever displays the file).
//!
//! Log axes are not plotters' `log_scale()`: every value is mapped to log10 and drawn on a linear
//! axis, so any positive finite range works (1e-300..1e10 included).
//!
//! Ticks: an x axis with few distinct values (sweep lengths 5, 10, 20, 50) is ticked at exactly
//! those values; otherwise ticks follow a 1-2-5 sequence (log axes: 0.5, 1, 2, 5 when the data
//! spans a few decades, finer steps within one decade, whole decades across many). Labels are
//! plain numbers near 1 (`0.05`, `200`) and `2e-5` style far from it. Labels that would collide on
//! screen are dropped (their grid line stays, faint).
//!
//! The legend is drawn inside the plot area only in a corner that no data passes through;
//! otherwise to the right of it, on a canvas widened to make room.

use std::path::Path;

use plotters::prelude::*;

use super::log10_positive;
use crate::{Error, Result};

mod axis;
mod render;

use render::render_svg;

/// Width × height in pixels of [`line_chart_svg`] output (before room for an outside legend).
pub const DEFAULT_SIZE: (u32, u32) = (800, 500);

/// Series colours in order (matplotlib's Tableau-10). After ten series the colours repeat with
/// another marker shape and line pattern ([`SeriesStyle::nth`]), so series stay distinct.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// Colour of reference lines (baselines, thresholds) and of the legend border.
const REFERENCE_GREY: RGBColor = RGBColor(0x44, 0x44, 0x44);
/// Stroke colour of the legend box (tests find the box by it).
pub const LEGEND_BORDER: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// At most this many tick labels per axis before thinning.
const MAX_TICKS: usize = 9;
/// An x axis with at most this many distinct values is ticked at those values.
const MAX_DATA_TICKS: usize = 12;
/// Series with at most this many plotted points also get a marker per point.
const MAX_MARKED_POINTS: usize = 60;
const FONT: &str = "sans-serif";
const TICK_FONT: u32 = 14;
const LEGEND_FONT: u32 = 13;
/// Legend geometry in pixels.
const LEGEND_ROW: i32 = 19;
const LEGEND_PAD: i32 = 8;
const LEGEND_SAMPLE: i32 = 30;
/// Approximate advance of one character of sans-serif text, as a fraction of the font size.
const CHAR_WIDTH: f64 = 0.52;

/// One curve. `spread`: optional (low, high) per point, drawn as a band or error bars (seed
/// spread in sweeps).
///
/// `spread`, when given, must have one entry per point: `spread[i]` belongs to `points[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub spread: Option<Vec<(f64, f64)>>,
}

impl Series {
    /// A series without spread.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            spread: None,
        }
    }
}

/// How an axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Powers of ten equally spaced; values that are not > 0 cannot be drawn and are skipped.
    Log10,
}

/// Titles and scales of one chart.
#[derive(Debug, Clone, Copy)]
pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub y_scale: Scale,
    pub x_scale: Scale,
}

/// Line pattern of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dash {
    #[default]
    Solid,
    Dashed,
    Dotted,
}

/// Marker shape drawn at each point (when a series has few enough points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Marker {
    #[default]
    Circle,
    Square,
    Triangle,
    Diamond,
}

const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
];

/// How one series is drawn: a [`PALETTE`] colour (index taken modulo 10), a line pattern and a
/// marker shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeriesStyle {
    pub color: usize,
    pub dash: Dash,
    pub marker: Marker,
}

impl SeriesStyle {
    /// The style of the `i`-th of several series (or groups): colours 0..9, then the same colours
    /// again with the next marker shape (circle, square, triangle, diamond), so 40 series differ
    /// in colour or marker. Solid lines; use [`SeriesStyle::dashed`] for a second curve of the
    /// same group (e.g. trained vs at initialisation).
    pub fn nth(i: usize) -> SeriesStyle {
        SeriesStyle {
            color: i % PALETTE.len(),
            dash: Dash::Solid,
            marker: MARKERS[(i / PALETTE.len()) % MARKERS.len()],
        }
    }

    /// The same style with a dashed line.
    pub fn dashed(self) -> SeriesStyle {
        SeriesStyle {
            dash: Dash::Dashed,
            ..self
        }
    }

    /// The same style with a dotted line.
    pub fn dotted(self) -> SeriesStyle {
        SeriesStyle {
            dash: Dash::Dotted,
            ..self
        }
    }

    fn rgb(&self) -> RGBColor {
        PALETTE[self.color % PALETTE.len()]
    }
}

/// A series with its style (a series with an empty label gets no legend entry, e.g. the second
/// curve of a group whose colour is already in the legend), and the indices of points to flag (e.g. a diverged run): those get
/// a black ✕ and the chart gets one legend entry for them ([`Chart::flag_label`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StyledSeries {
    pub series: Series,
    pub style: SeriesStyle,
    pub flagged: Vec<usize>,
}

/// A horizontal reference line across the whole plot (a memoryless baseline, chance level, a
/// solved threshold), with its own legend entry. Drawn dark grey: dashed, then dotted, in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub label: String,
    pub y: f64,
}

/// A chart with everything [`ChartSpec`] + [`Series`] cannot say: styles per series, reference
/// lines, flagged points, a fixed y range and the size. Build with [`Chart::new`] and the
/// methods, write with [`Chart::write`].
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    pub spec: ChartSpec<'a>,
    pub series: Vec<StyledSeries>,
    pub references: Vec<Reference>,
    /// Legend-only entries explaining a line pattern (drawn black), e.g. "dashed: trained".
    pub keys: Vec<(String, Dash)>,
    /// Legend label of flagged points.
    pub flag_label: String,
    /// A y range (data units) that the axis always includes, e.g. (0, 1) for accuracies.
    pub y_include: Option<(f64, f64)>,
    /// An x range (data units) that the axis always includes: charts stacked on one time axis
    /// ([`stacked_svg`]) give the same range so their x axes agree.
    pub x_include: Option<(f64, f64)>,
    /// Canvas size before room is added for a legend outside the plot.
    pub size: (u32, u32),
    /// Spreads drawn as error bars (with caps) instead of bands, and series `i` of `n` moved
    /// sideways by `(i − (n − 1)/2) · dodge` in x axis units (decades on a log axis), so
    /// overlapping intervals of several series stay readable. The ticks stay at the data's x.
    pub dodge: Option<f64>,
}

impl<'a> Chart<'a> {
    pub fn new(spec: ChartSpec<'a>) -> Chart<'a> {
        Chart {
            spec,
            series: vec![],
            references: vec![],
            keys: vec![],
            flag_label: "diverged run".into(),
            y_include: None,
            x_include: None,
            size: DEFAULT_SIZE,
            dodge: None,
        }
    }

    /// Adds a series in the next default style ([`SeriesStyle::nth`]).
    pub fn series(self, series: Series) -> Self {
        let style = SeriesStyle::nth(self.series.len());
        self.styled(series, style)
    }

    /// Adds a series in `style`.
    pub fn styled(mut self, series: Series, style: SeriesStyle) -> Self {
        self.series.push(StyledSeries {
            series,
            style,
            flagged: vec![],
        });
        self
    }

    /// Adds a series in `style` whose points at indices `flagged` are marked.
    pub fn flagged(mut self, series: Series, style: SeriesStyle, flagged: Vec<usize>) -> Self {
        self.series.push(StyledSeries {
            series,
            style,
            flagged,
        });
        self
    }

    /// Adds a horizontal reference line at `y`.
    pub fn reference(mut self, label: impl Into<String>, y: f64) -> Self {
        self.references.push(Reference {
            label: label.into(),
            y,
        });
        self
    }

    /// Adds a legend-only entry: a black line sample in `dash` with `label`.
    pub fn key(mut self, label: impl Into<String>, dash: Dash) -> Self {
        self.keys.push((label.into(), dash));
        self
    }

    /// Makes the y axis include `lo..=hi`.
    pub fn y_include(mut self, lo: f64, hi: f64) -> Self {
        self.y_include = Some((lo, hi));
        self
    }

    /// Makes the x axis include `lo..=hi`.
    pub fn x_include(mut self, lo: f64, hi: f64) -> Self {
        self.x_include = Some((lo, hi));
        self
    }

    /// Draws spreads as error bars, each series moved sideways by its share of `dodge` (see
    /// [`Chart::dodge`]).
    pub fn error_bars(mut self, dodge: f64) -> Self {
        self.dodge = Some(dodge);
        self
    }

    pub fn size(mut self, size: (u32, u32)) -> Self {
        self.size = size;
        self
    }

    /// Writes the chart as SVG; the contract and errors of [`line_chart_svg`].
    pub fn write(&self, path: &Path) -> Result<()> {
        let svg = self.render(path)?;
        write_file(path, &svg)
    }

    /// The chart as SVG text (`path` only names it in errors).
    fn render(&self, path: &Path) -> Result<String> {
        for s in &self.series {
            let s = &s.series;
            if let Some(spread) = &s.spread {
                if spread.len() != s.points.len() {
                    return Err(Error::invalid(
                        "spread",
                        format!(
                            "series '{}' has {} points but {} spread entries",
                            s.label,
                            s.points.len(),
                            spread.len()
                        ),
                    ));
                }
            }
        }
        render_svg(self).map_err(|e| Error::bad_file(path, format!("could not draw chart: {e}")))
    }
}

/// Writes `text` to `path`, creating its parent directories.
fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `charts` as one SVG, one below the other (each keeps its own title, axes and legend).
/// Charts of the same width whose x ranges are made equal with [`Chart::x_include`] share one x
/// axis: the same data x falls on the same pixel column in every panel, since every panel's plot
/// area has the same left and right edges. Each panel is a nested `<svg>` placed at its offset.
///
/// Errors: those of [`Chart::write`].
pub fn stacked_svg(path: &Path, charts: &[Chart]) -> Result<()> {
    let mut panels = Vec::with_capacity(charts.len());
    let (mut width, mut height) = (0u32, 0u32);
    for chart in charts {
        let svg = chart.render(path)?;
        let (w, h) = svg_size(&svg).ok_or_else(|| {
            Error::bad_file(path, "a panel's SVG has no width and height".to_string())
        })?;
        panels.push((height, svg));
        width = width.max(w);
        height += h;
    }
    let mut out = format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\n"
    );
    for (y, svg) in panels {
        let start = svg.find("<svg").unwrap_or(0);
        // the panel's own root element, moved down to its place
        out.push_str(&svg[start..].replacen("<svg ", &format!("<svg x=\"0\" y=\"{y}\" "), 1));
    }
    out.push_str("</svg>\n");
    write_file(path, &out)
}

/// The `width` and `height` attributes of the first `<svg` element.
fn svg_size(svg: &str) -> Option<(u32, u32)> {
    let head = &svg[svg.find("<svg")?..];
    let head = &head[..head.find('>')?];
    let attr = |name: &str| -> Option<u32> {
        let at = head.find(&format!(" {name}=\""))? + name.len() + 3;
        let rest = &head[at..];
        rest[..rest.find('"')?].parse().ok()
    };
    Some((attr("width")?, attr("height")?))
}

/// Writes an SVG line chart (one colour per series, legend, axis labels, grid); size 800×500 by
/// default ([`DEFAULT_SIZE`]; see [`line_chart_svg_sized`]), wider when the legend has to go
/// outside the plot. For styles, reference lines and flagged points see [`Chart`].
///
/// Contract:
/// - A point whose x or y is NaN or infinite, or not > 0 on a log axis, is skipped; the line of
///   its series is broken there rather than drawn across it. A spread entry is skipped the same
///   way, except that a low value ≤ 0 on a log y axis is drawn down to the bottom of the axis.
/// - Axis ranges come from the drawable data (spread included).
/// - A series with no drawable point still has its legend entry. When no point at all can be
///   drawn the chart says "no positive values" (log y), "no finite values" or "no data" (empty
///   `series`), and is still a valid SVG with its title.
/// - The legend never covers a drawn point or line.
/// - Same input, byte-identical file. Parent directories are created.
///
/// Errors: [`Error::InvalidOption`] when a spread's length differs from its points',
/// [`Error::Io`] when the file or its directory cannot be written, [`Error::BadFile`] when the
/// plotting backend fails.
pub fn line_chart_svg(path: &Path, chart: &ChartSpec, series: &[Series]) -> Result<()> {
    line_chart_svg_sized(path, chart, series, DEFAULT_SIZE)
}

/// [`line_chart_svg`] with an explicit size in pixels (width, height).
pub fn line_chart_svg_sized(
    path: &Path,
    chart: &ChartSpec,
    series: &[Series],
    size: (u32, u32),
) -> Result<()> {
    let mut c = Chart::new(*chart).size(size);
    for s in series {
        c = c.series(s.clone());
    }
    c.write(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_stay_distinct_past_ten() {
        let styles: Vec<SeriesStyle> = (0..40).map(SeriesStyle::nth).collect();
        for i in 0..40 {
            for j in 0..i {
                assert_ne!(styles[i], styles[j], "{i} {j}");
            }
        }
    }
}
