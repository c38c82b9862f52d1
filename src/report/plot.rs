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

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{decade_bounds, log10_positive};
use crate::{Error, Result};

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

/// A series mapped to axis coordinates: runs of consecutive drawable points, and bands.
struct Mapped {
    runs: Vec<Vec<(f64, f64)>>,
    /// Runs of (x, low, high); a low of `None` means "down to the bottom of the axis".
    bands: Vec<Vec<(f64, Option<f64>, f64)>>,
    /// Flagged points that are drawable.
    flagged: Vec<(f64, f64)>,
}

fn to_axis(v: f64, scale: Scale) -> Option<f64> {
    match scale {
        Scale::Linear => v.is_finite().then_some(v),
        Scale::Log10 => log10_positive(v),
    }
}

/// Splits `items` into runs of consecutive `Some` values.
fn runs<T>(items: impl IntoIterator<Item = Option<T>>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = vec![];
    let mut current = vec![];
    for item in items {
        match item {
            Some(v) => current.push(v),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn map_point(p: (f64, f64), chart: &ChartSpec) -> Option<(f64, f64)> {
    Some((to_axis(p.0, chart.x_scale)?, to_axis(p.1, chart.y_scale)?))
}

fn map_series(s: &StyledSeries, chart: &ChartSpec) -> Mapped {
    let flagged = s
        .flagged
        .iter()
        .filter_map(|&i| map_point(*s.series.points.get(i)?, chart))
        .collect();
    let s = &s.series;
    let runs_ = runs(s.points.iter().map(|&p| map_point(p, chart)));
    let bands = match &s.spread {
        None => vec![],
        Some(spread) => runs(s.points.iter().zip(spread).map(|(&(x, _), &(lo, hi))| {
            let x = to_axis(x, chart.x_scale)?;
            let hi = to_axis(hi, chart.y_scale)?;
            let lo = match chart.y_scale {
                Scale::Linear => Some(to_axis(lo, Scale::Linear)?),
                // A low end at or below zero reaches the bottom of a log axis; NaN is skipped.
                Scale::Log10 if lo.is_nan() => return None,
                Scale::Log10 => log10_positive(lo),
            };
            Some((x, lo, hi))
        })),
    };
    Mapped {
        runs: runs_,
        bands,
        flagged,
    }
}

/// How tick labels of an axis are written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LabelFormat {
    /// Linear: fixed decimals, or `None` for scientific notation.
    Linear(Option<usize>),
    /// Log: the value 10^t written plainly near 1, `2e-5` style far from it.
    Log,
    /// Log with fixed decimals (fine ticks within one decade).
    LogFixed(usize),
}

/// An axis: its drawn range, tick positions (labelled and light) and how ticks are labelled.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    light: Vec<f64>,
    format: LabelFormat,
}

impl Axis {
    /// The axis for mapped values `values` (empty: a default range). `data_ticks`: tick at the
    /// values themselves when there are few distinct ones.
    fn new(values: &[f64], scale: Scale, data_ticks: bool) -> Axis {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in values {
            min = min.min(v);
            max = max.max(v);
        }
        if min > max {
            return match scale {
                Scale::Log10 => log_decade_axis(0, 1),
                Scale::Linear => linear_axis(0.0, 1.0),
            };
        }
        if data_ticks {
            let mut distinct: Vec<f64> = values.to_vec();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup_by(|a, b| (*a - *b).abs() <= 1e-9 * (1.0 + b.abs()));
            if (2..=MAX_DATA_TICKS).contains(&distinct.len()) {
                let pad = 0.05 * (max - min);
                let format = match scale {
                    Scale::Log10 => LabelFormat::Log,
                    Scale::Linear => LabelFormat::Linear(linear_decimals(&distinct)),
                };
                return Axis {
                    lo: min - pad,
                    hi: max + pad,
                    ticks: distinct,
                    light: vec![],
                    format,
                };
            }
        }
        match scale {
            Scale::Log10 => log_axis(min, max),
            Scale::Linear
                if values.iter().all(|v| v.fract() == 0.0)
                    && max - min <= 8.0
                    && min.abs().max(max.abs()) < 1e12 =>
            {
                // Whole numbers (training steps, distances) over a short range: a tick at each.
                let (lo, hi) = if min == max {
                    // One value: a unit either side, not below 0 when the value is 0 (step 0).
                    (if min == 0.0 { 0.0 } else { min - 1.0 }, max + 1.0)
                } else {
                    (min, max)
                };
                let ticks: Vec<f64> = (0..=(hi - lo) as usize).map(|i| lo + i as f64).collect();
                Axis {
                    lo,
                    hi,
                    ticks,
                    light: vec![],
                    format: LabelFormat::Linear(Some(0)),
                }
            }
            Scale::Linear => linear_axis(min, max),
        }
    }

    fn label(&self, v: f64) -> String {
        match self.format {
            LabelFormat::Log => {
                // Plain numbers down to 0.001 when no tick is smaller, else down to 0.01.
                let smallest = self.ticks.first().copied().unwrap_or(0.0);
                log_label_plain_from(v, if smallest >= -3.0 - 1e-9 { -3 } else { -2 })
            }
            LabelFormat::LogFixed(d) => format!("{:.*}", d, 10f64.powf(v)),
            LabelFormat::Linear(Some(d)) => format!("{:.*}", d, v + 0.0),
            LabelFormat::Linear(None) => {
                let s = format!("{:.1e}", v + 0.0);
                s.replace(".0e", "e")
            }
        }
    }

    /// Drops labels that would overlap on screen: `pixels` is the axis length, `extent` the
    /// on-screen size of a label along the axis. The two end labels are kept first, then every
    /// label in between that keeps clear of its kept neighbours. Dropped ticks stay as light grid
    /// lines.
    fn thin(&mut self, pixels: f64, extent: impl Fn(&str) -> f64) {
        let scale = pixels / (self.hi - self.lo);
        let place = |t: f64| ((t - self.lo) * scale, extent(&self.label(t)) / 2.0);
        let clear = |a: (f64, f64), b: (f64, f64)| (b.0 - a.0).abs() >= a.1 + b.1 + 6.0;
        let (Some(&first), Some(&last)) = (self.ticks.first(), self.ticks.last()) else {
            return;
        };
        let mut kept = vec![first];
        let mut dropped = vec![];
        let end = place(last);
        for &t in &self.ticks[1..self.ticks.len() - 1] {
            let p = place(t);
            if clear(place(*kept.last().unwrap_or(&first)), p) && clear(p, end) {
                kept.push(t);
            } else {
                dropped.push(t);
            }
        }
        if self.ticks.len() > 1 {
            if clear(place(*kept.last().unwrap_or(&first)), end) {
                kept.push(last);
            } else {
                dropped.push(last);
            }
        }
        self.ticks = kept;
        self.light.extend(dropped);
    }
}

/// Decimals that write every value in `values` exactly enough (at most 6), `None` for
/// scientific notation when values are huge or tiny.
fn linear_decimals(values: &[f64]) -> Option<usize> {
    let big = values.iter().any(|v| v.abs() >= 1e7);
    if big {
        return None;
    }
    (0..=6).find(|&d| {
        values.iter().all(|v| {
            let s: f64 = format!("{:.*}", d, v).parse().unwrap_or(f64::NAN);
            (s - v).abs() <= 1e-9 * (1.0 + v.abs())
        })
    })
}

/// Label of the log-axis position `t` (the value 10^t): `0.05`, `2`, `200`, `50000` between
/// 0.01 and 1e5; `1e-40`, `2e-5`, `2.5e8` outside.
#[cfg(test)]
fn log_label(t: f64) -> String {
    log_label_plain_from(t, -2)
}

/// [`log_label`] with plain numbers from 10^`plain_from` up to 1e5.
fn log_label_plain_from(t: f64, plain_from: i64) -> String {
    let k = (t + 1e-9).floor();
    let mantissa = 10f64.powf(t - k);
    // Two significant digits of the mantissa: 1, 2, 2.5, 5, ...
    let mut m = (mantissa * 10.0).round() / 10.0;
    let mut k = k as i64;
    if m >= 10.0 {
        m = 1.0;
        k += 1;
    }
    if (plain_from..5).contains(&k) {
        let v = m * 10f64.powi(k as i32);
        let decimals = (1 - k).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        let ms = format!("{m:.1}");
        let ms = ms.trim_end_matches('0').trim_end_matches('.');
        format!("{ms}e{k}")
    }
}

/// Log axis for data spanning log10 values `min..=max`: fine value steps within less than about
/// half a decade, 1-2-5 ticks up to three decades, whole decades beyond.
fn log_axis(min: f64, max: f64) -> Axis {
    let span = max - min;
    if span < 0.6 {
        if let Some(a) = log_fine_axis(min, max) {
            return a;
        }
    }
    if span <= 3.2 {
        return log_125_axis(min, max);
    }
    let (lo, hi) = decade_bounds(min, max);
    log_decade_axis(lo, hi)
}

/// Ticks at 1, 2, 5 × powers of ten, the range rounded out to them.
fn log_125_axis(min: f64, max: f64) -> Axis {
    const EPS: f64 = 1e-9;
    let mut candidates = vec![];
    for e in (min.floor() as i64 - 1)..=(max.ceil() as i64 + 1) {
        for m in [1.0f64, 2.0, 5.0] {
            candidates.push(e as f64 + m.log10());
        }
    }
    let lo = candidates
        .iter()
        .copied()
        .filter(|&c| c <= min + EPS)
        .fold(f64::NEG_INFINITY, f64::max);
    let hi = candidates
        .iter()
        .copied()
        .find(|&c| c >= max - EPS)
        .unwrap_or(max.ceil());
    let lo = if lo.is_finite() { lo } else { min.floor() };
    let (lo, hi) = if hi - lo < EPS {
        (lo - 2f64.log10(), hi + 2.5f64.log10())
    } else {
        (lo, hi)
    };
    let ticks = candidates
        .into_iter()
        .filter(|&c| c >= lo - EPS && c <= hi + EPS)
        .collect();
    Axis {
        lo,
        hi,
        ticks,
        light: vec![],
        format: LabelFormat::Log,
    }
}

/// Within less than a decade: ticks at multiples of a 1-2-5 step in value space (2.00, 2.05,
/// 2.10), drawn at their log positions. `None` when the values do not allow it.
fn log_fine_axis(min: f64, max: f64) -> Option<Axis> {
    let (vlo, vhi) = (10f64.powf(min), 10f64.powf(max));
    let (vlo, vhi) = if vhi - vlo < vlo * 1e-9 {
        (vlo * 0.8, vhi * 1.25)
    } else {
        (vlo, vhi)
    };
    let raw = (vhi - vlo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-12))?;
    let first = (vlo / step).floor();
    let last = (vhi / step).ceil();
    if !(first.is_finite() && last.is_finite()) || last - first > 20.0 || first < 1.0 {
        return None;
    }
    let ticks: Vec<f64> = (first as i64..=last as i64)
        .map(|k| (k as f64 * step).log10())
        .collect();
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    if !(-6.0..7.0).contains(&step.log10()) {
        return None;
    }
    Some(Axis {
        lo: *ticks.first()?,
        hi: *ticks.last()?,
        ticks,
        light: vec![],
        format: LabelFormat::LogFixed(decimals),
    })
}

/// Decade axis `lo..hi` (log10 units): multiples of a 1-2-5 step of decades, and a light grid
/// line per decade when there are not too many.
fn log_decade_axis(lo: i32, hi: i32) -> Axis {
    let span = (hi - lo) as i64;
    let step = nice_steps()
        .map(|s| s.round() as i64)
        .find(|s| span / s < MAX_TICKS as i64)
        .unwrap_or(span.max(1));
    let mut ticks = vec![];
    let mut k = (lo as i64).div_euclid(step) * step;
    if k < lo as i64 {
        k += step;
    }
    while k <= hi as i64 {
        ticks.push(k as f64);
        k += step;
    }
    // The ends are labelled too, unless a tick sits close by (thinning drops collisions).
    if ticks.first() != Some(&(lo as f64)) {
        ticks.insert(0, lo as f64);
    }
    if ticks.last() != Some(&(hi as f64)) {
        ticks.push(hi as f64);
    }
    let light = if step > 1 && span <= 60 {
        (lo..=hi).map(f64::from).collect()
    } else {
        vec![]
    };
    Axis {
        lo: lo as f64,
        hi: hi as f64,
        ticks,
        light,
        format: LabelFormat::Log,
    }
}

/// Plotters draws the axis through this: the mapping is plotters' own linear one, the ticks are
/// ours (bold ones labelled, light ones only drawn as faint grid lines).
impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.lo..self.hi).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// 1, 2, 5, 10, 20, 50, ... as f64.
fn nice_steps() -> impl Iterator<Item = f64> {
    (0..19).flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
}

/// Linear axis covering `min..=max` (both finite, `min <= max`), rounded out to a 1-2-5 tick
/// step. Degenerate data (one value, spans below the smallest float step, values near
/// ±f64::MAX) falls back to an axis with just its two ends labelled: never a panic, never a
/// non-finite bound.
fn linear_axis(min: f64, max: f64) -> Axis {
    let (min, max) = if min == max {
        let pad = if min == 0.0 {
            1.0
        } else {
            (min.abs() * 0.5).max(f64::MIN_POSITIVE)
        };
        ((min - pad).max(f64::MIN), (max + pad).min(f64::MAX))
    } else {
        (min, max)
    };
    let ends_only = Axis {
        lo: min,
        hi: max,
        ticks: vec![min, max],
        light: vec![],
        format: LabelFormat::Linear(None),
    };
    let raw = (max - min) / (MAX_TICKS - 1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-12))
        .unwrap_or(10.0 * mag);
    let lo = (min / step).floor() * step;
    let hi = (max / step).ceil() * step;
    let n = ((hi - lo) / step).round();
    let sane = step > 0.0 && lo.is_finite() && hi.is_finite() && lo < hi;
    if !(sane && (1.0..=2.0 * MAX_TICKS as f64).contains(&n)) {
        return ends_only;
    }
    let ticks = (0..=n as usize).map(|i| lo + i as f64 * step).collect();
    let exp = step.log10().floor();
    let decimals = (-6.0..6.0).contains(&exp).then(|| (-exp).max(0.0) as usize);
    Axis {
        lo,
        hi,
        ticks,
        light: vec![],
        format: LabelFormat::Linear(decimals),
    }
}

type DrawError = DrawingAreaErrorKind<std::io::Error>;
type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

/// Pixel width of `text` at `font` size (an estimate: the SVG viewer lays the text out).
fn text_width(text: &str, font: u32) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH * f64::from(font)
}

/// One legend row.
struct LegendEntry {
    label: String,
    kind: EntryKind,
}

enum EntryKind {
    Series { style: SeriesStyle, marker: bool },
    Reference(Dash),
    Key(Dash),
    Flag,
}

fn reference_dash(i: usize) -> Dash {
    [Dash::Dashed, Dash::Dotted][i % 2]
}

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Inside the plot area with its top-left corner at this pixel.
    Inside(i32, i32),
    /// To the right of the plot area, on a widened canvas.
    Outside,
}

/// The caption font size that fits `title` into `width` pixels.
fn title_font(title: &str, width: u32) -> u32 {
    let room = f64::from(width.saturating_sub(40));
    let chars = title.chars().count().max(1) as f64;
    ((room / (chars * CHAR_WIDTH)).floor() as u32).clamp(11, 20)
}

fn build_ctx<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    chart: &ChartSpec,
    x: &Axis,
    y: &Axis,
) -> std::result::Result<Ctx<'a, 'b>, DrawError> {
    let width = area.dim_in_pixel().0;
    ChartBuilder::on(area)
        .caption(chart.title, (FONT, title_font(chart.title, width)))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x.clone(), y.clone())
}

/// Draws the chart into an SVG string.
fn render_svg(chart: &Chart) -> std::result::Result<String, DrawError> {
    let spec = &chart.spec;
    let mapped: Vec<Mapped> = chart.series.iter().map(|s| map_series(s, spec)).collect();
    let mut xs: Vec<f64> = mapped
        .iter()
        .flat_map(|m| {
            let run_x = m.runs.iter().flatten().map(|p| p.0);
            run_x.chain(m.bands.iter().flatten().map(|b| b.0))
        })
        .collect();
    let references: Vec<(f64, &Reference)> = chart
        .references
        .iter()
        .filter_map(|r| Some((to_axis(r.y, spec.y_scale)?, r)))
        .collect();
    let mut ys: Vec<f64> = mapped
        .iter()
        .flat_map(|m| {
            let run_y = m.runs.iter().flatten().map(|p| p.1);
            let band_y = m
                .bands
                .iter()
                .flatten()
                .flat_map(|b| b.1.into_iter().chain([b.2]));
            run_y.chain(band_y)
        })
        .collect();
    let any_point = mapped.iter().any(|m| !m.runs.is_empty());
    if any_point {
        ys.extend(references.iter().map(|r| r.0));
        if let Some((lo, hi)) = chart.y_include {
            ys.extend(
                [lo, hi]
                    .into_iter()
                    .filter_map(|v| to_axis(v, spec.y_scale)),
            );
        }
    }
    if let Some((lo, hi)) = chart.x_include.filter(|_| any_point) {
        xs_extend(&mut xs, [lo, hi], spec.x_scale);
    }
    // Sweep lengths on a log axis are ticked at the lengths run.
    let mut x_axis = Axis::new(&xs, spec.x_scale, spec.x_scale == Scale::Log10);
    let mut y_axis = Axis::new(&ys, spec.y_scale, false);

    let entries = legend_entries(chart, &mapped);
    let longest = entries
        .iter()
        .map(|e| text_width(&e.label, LEGEND_FONT))
        .fold(0.0, f64::max);
    let box_w = (f64::from(2 * LEGEND_PAD + LEGEND_SAMPLE + 8) + longest).ceil() as i32;
    let box_h = 2 * LEGEND_PAD + LEGEND_ROW * entries.len() as i32 - 4;

    // Measure the plot area on a scratch canvas, thin the tick labels, find a free corner.
    let (w, h) = chart.size;
    let (plot_x, plot_y, placement) = {
        let mut scratch = String::new();
        let area = SVGBackend::with_string(&mut scratch, (w, h)).into_drawing_area();
        let ctx = build_ctx(&area, spec, &x_axis, &y_axis)?;
        let (px, py) = ctx.plotting_area().get_pixel_range();
        let placement = if entries.is_empty() {
            Placement::Outside
        } else {
            free_corner(&ctx, &mapped, &references, (box_w, box_h))
                .map_or(Placement::Outside, |(x, y)| Placement::Inside(x, y))
        };
        (px, py, placement)
    };
    x_axis.thin(f64::from(plot_x.end - plot_x.start), |l| {
        text_width(l, TICK_FONT)
    });
    y_axis.thin(f64::from(plot_y.end - plot_y.start), |_| {
        f64::from(TICK_FONT) + 2.0
    });

    let outside = !entries.is_empty() && placement == Placement::Outside;
    let total = if outside {
        (
            w + box_w as u32 + 16,
            h.max((plot_y.start + box_h + 16) as u32),
        )
    } else {
        (w, h)
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, total).into_drawing_area();
        root.fill(&WHITE)?;
        let chart_area = if outside {
            root.split_horizontally(w).0
        } else {
            root.clone()
        };
        let mut ctx = build_ctx(&chart_area, spec, &x_axis, &y_axis)?;
        let x_fmt = |v: &f64| x_axis.label(*v);
        let y_fmt = |v: &f64| y_axis.label(*v);
        ctx.configure_mesh()
            .x_desc(spec.x_label)
            .y_desc(spec.y_label)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style((FONT, TICK_FONT))
            .axis_desc_style((FONT, 16))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.06))
            .draw()?;

        for (s, m) in chart.series.iter().zip(&mapped) {
            for band in &m.bands {
                draw_band(&mut ctx, band, y_axis.lo, s.style.rgb())?;
            }
        }
        for (i, &(y, _)) in references.iter().enumerate() {
            let line = vec![(x_axis.lo, y), (x_axis.hi, y)];
            draw_line(&mut ctx, line, reference_dash(i), REFERENCE_GREY, 2)?;
        }
        for (s, m) in chart.series.iter().zip(&mapped) {
            let color = s.style.rgb();
            for run in &m.runs {
                draw_line(&mut ctx, run.clone(), s.style.dash, color, 2)?;
            }
            let n: usize = m.runs.iter().map(Vec::len).sum();
            if n <= MAX_MARKED_POINTS {
                for &p in m.runs.iter().flatten() {
                    draw_marker(&mut ctx, p, s.style.marker, color)?;
                }
            }
        }
        for &p in mapped.iter().flat_map(|m| &m.flagged) {
            ctx.draw_series(std::iter::once(Cross::new(p, 7, BLACK.stroke_width(3))))?;
        }
        if !entries.is_empty() {
            let origin = match placement {
                Placement::Inside(x, y) => (x, y),
                Placement::Outside => (w as i32 + 4, plot_y.start),
            };
            draw_legend(&root, &entries, origin, (box_w, box_h))?;
        }
        if !any_point {
            let note = if chart.series.is_empty() {
                "no data"
            } else if spec.y_scale == Scale::Log10 {
                "no positive values"
            } else {
                "no finite values"
            };
            let grey = BLACK.mix(0.6);
            let style = TextStyle::from((FONT, 20))
                .color(&grey)
                .pos(Pos::new(HPos::Center, VPos::Center));
            let cx = (plot_x.start + plot_x.end) / 2;
            let cy = (plot_y.start + plot_y.end) / 2;
            root.draw(&Text::new(note, (cx, cy), style))?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// Adds the drawable ones of `values` (data units) to the mapped x values.
fn xs_extend(xs: &mut Vec<f64>, values: [f64; 2], scale: Scale) {
    xs.extend(values.into_iter().filter_map(|v| to_axis(v, scale)));
}

fn legend_entries(chart: &Chart, mapped: &[Mapped]) -> Vec<LegendEntry> {
    let mut entries: Vec<LegendEntry> = chart
        .series
        .iter()
        .zip(mapped)
        .filter(|(s, _)| !s.series.label.is_empty())
        .map(|(s, m)| LegendEntry {
            label: s.series.label.clone(),
            kind: EntryKind::Series {
                style: s.style,
                marker: m.runs.iter().map(Vec::len).sum::<usize>() <= MAX_MARKED_POINTS,
            },
        })
        .collect();
    for (i, r) in chart.references.iter().enumerate() {
        entries.push(LegendEntry {
            label: r.label.clone(),
            kind: EntryKind::Reference(reference_dash(i)),
        });
    }
    for (label, dash) in &chart.keys {
        entries.push(LegendEntry {
            label: label.clone(),
            kind: EntryKind::Key(*dash),
        });
    }
    if mapped.iter().any(|m| !m.flagged.is_empty()) {
        entries.push(LegendEntry {
            label: chart.flag_label.clone(),
            kind: EntryKind::Flag,
        });
    }
    entries
}

/// The top-left pixel of a legend box of `size` in a corner of the plot area that no drawn
/// point, line, band edge or reference line passes through (tried in the order upper right,
/// upper left, lower right, lower left), or `None`.
fn free_corner(
    ctx: &Ctx,
    mapped: &[Mapped],
    references: &[(f64, &Reference)],
    size: (i32, i32),
) -> Option<(i32, i32)> {
    const INSET: i32 = 10;
    // More than INSET: data drawn on the plot's edge (markers, ✕) blocks the corner next to it.
    const CLEARANCE: f64 = 12.0;
    let (px, py) = ctx.plotting_area().get_pixel_range();
    let (bw, bh) = size;
    if bw + 2 * INSET > px.end - px.start || bh + 2 * INSET > py.end - py.start {
        return None;
    }
    let (left, right) = (px.start + INSET, px.end - INSET - bw);
    let (top, bottom) = (py.start + INSET, py.end - INSET - bh);
    let corners = [(right, top), (left, top), (right, bottom), (left, bottom)];
    // Every drawn curve as pixel polylines.
    let mut lines: Vec<Vec<(f64, f64)>> = vec![];
    let px_of = |p: (f64, f64)| {
        let (x, y) = ctx.backend_coord(&p);
        (f64::from(x), f64::from(y))
    };
    for m in mapped {
        for run in &m.runs {
            lines.push(run.iter().map(|&p| px_of(p)).collect());
        }
        for band in &m.bands {
            lines.push(band.iter().map(|b| px_of((b.0, b.2))).collect());
            if let Some(lows) = band
                .iter()
                .map(|b| b.1.map(|l| px_of((b.0, l))))
                .collect::<Option<Vec<_>>>()
            {
                lines.push(lows);
            }
        }
        lines.extend(m.flagged.iter().map(|&p| vec![px_of(p)]));
    }
    let ref_ys: Vec<f64> = references.iter().map(|r| px_of((0.0, r.0)).1).collect();
    corners.into_iter().find(|&(cx, cy)| {
        let (x0, x1) = (f64::from(cx) - CLEARANCE, f64::from(cx + bw) + CLEARANCE);
        let (y0, y1) = (f64::from(cy) - CLEARANCE, f64::from(cy + bh) + CLEARANCE);
        let inside = |(x, y): (f64, f64)| x >= x0 && x <= x1 && y >= y0 && y <= y1;
        let hits_ref = ref_ys.iter().any(|&y| y >= y0 && y <= y1);
        let hits_line = lines.iter().any(|l| {
            l.first().is_some_and(|&p| inside(p))
                || l.windows(2).any(|w| segment_hits(w[0], w[1], &inside))
        });
        !hits_ref && !hits_line
    })
}

/// Whether the segment a–b passes through the region `inside` (sampled every 2 pixels).
fn segment_hits(a: (f64, f64), b: (f64, f64), inside: &impl Fn((f64, f64)) -> bool) -> bool {
    let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
    let n = (len / 2.0).ceil().clamp(1.0, 10_000.0) as usize;
    (0..=n).any(|k| {
        let t = k as f64 / n as f64;
        inside((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)))
    })
}

fn draw_line(
    ctx: &mut Ctx,
    points: Vec<(f64, f64)>,
    dash: Dash,
    color: RGBColor,
    width: u32,
) -> std::result::Result<(), DrawError> {
    let style = color.stroke_width(width);
    match dash {
        Dash::Solid => {
            ctx.draw_series(LineSeries::new(points, style))?;
        }
        Dash::Dashed => {
            ctx.draw_series(DashedLineSeries::new(points, 9, 5, style))?;
        }
        Dash::Dotted => {
            ctx.draw_series(DashedLineSeries::new(points, 2, 4, style))?;
        }
    }
    Ok(())
}

fn draw_marker(
    ctx: &mut Ctx,
    p: (f64, f64),
    marker: Marker,
    color: RGBColor,
) -> std::result::Result<(), DrawError> {
    let fill = color.filled();
    match marker {
        Marker::Circle => {
            ctx.draw_series(std::iter::once(Circle::new(p, 3, fill)))?;
        }
        Marker::Square => {
            let e = EmptyElement::at(p) + Rectangle::new([(-3, -3), (3, 3)], fill);
            ctx.draw_series(std::iter::once(e))?;
        }
        Marker::Triangle => {
            ctx.draw_series(std::iter::once(TriangleMarker::new(p, 5, fill)))?;
        }
        Marker::Diamond => {
            let e =
                EmptyElement::at(p) + Polygon::new(vec![(0, -5), (5, 0), (0, 5), (-5, 0)], fill);
            ctx.draw_series(std::iter::once(e))?;
        }
    }
    Ok(())
}

/// Draws the legend box with its top-left corner at `origin` (root pixels).
fn draw_legend(
    root: &DrawingArea<SVGBackend, Shift>,
    entries: &[LegendEntry],
    origin: (i32, i32),
    size: (i32, i32),
) -> std::result::Result<(), DrawError> {
    let (x0, y0) = origin;
    let (w, h) = size;
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + w, y0 + h)],
        WHITE.mix(0.9).filled(),
    ))?;
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + w, y0 + h)],
        LEGEND_BORDER.stroke_width(1),
    ))?;
    for (i, e) in entries.iter().enumerate() {
        let cy = y0 + LEGEND_PAD + LEGEND_ROW * i as i32 + LEGEND_ROW / 2 - 2;
        let (sx0, sx1) = (x0 + LEGEND_PAD, x0 + LEGEND_PAD + LEGEND_SAMPLE);
        let mid = (sx0 + sx1) / 2;
        match &e.kind {
            EntryKind::Series { style, marker } => {
                sample_line(root, (sx0, sx1, cy), style.dash, style.rgb())?;
                if *marker {
                    legend_marker(root, (mid, cy), style.marker, style.rgb())?;
                }
            }
            EntryKind::Reference(dash) => {
                sample_line(root, (sx0, sx1, cy), *dash, REFERENCE_GREY)?;
            }
            EntryKind::Key(dash) => {
                sample_line(root, (sx0, sx1, cy), *dash, BLACK)?;
            }
            EntryKind::Flag => {
                root.draw(&Cross::new((mid, cy), 7, BLACK.stroke_width(3)))?;
            }
        }
        let style = TextStyle::from((FONT, LEGEND_FONT))
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(e.label.as_str(), (sx1 + 8, cy), style))?;
    }
    Ok(())
}

fn sample_line(
    root: &DrawingArea<SVGBackend, Shift>,
    (x0, x1, y): (i32, i32, i32),
    dash: Dash,
    color: RGBColor,
) -> std::result::Result<(), DrawError> {
    let style = color.stroke_width(2);
    let (on, off) = match dash {
        Dash::Solid => (x1 - x0, 0),
        Dash::Dashed => (9, 5),
        Dash::Dotted => (2, 4),
    };
    let mut x = x0;
    while x < x1 {
        let end = (x + on).min(x1);
        root.draw(&PathElement::new(vec![(x, y), (end, y)], style))?;
        x = end + off;
    }
    Ok(())
}

fn legend_marker(
    root: &DrawingArea<SVGBackend, Shift>,
    p: (i32, i32),
    marker: Marker,
    color: RGBColor,
) -> std::result::Result<(), DrawError> {
    let fill = color.filled();
    let (x, y) = p;
    match marker {
        Marker::Circle => root.draw(&Circle::new(p, 3, fill)),
        Marker::Square => root.draw(&Rectangle::new([(x - 3, y - 3), (x + 3, y + 3)], fill)),
        Marker::Triangle => root.draw(&TriangleMarker::new(p, 5, fill)),
        Marker::Diamond => root.draw(&Polygon::new(
            vec![(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)],
            fill,
        )),
    }
}

/// Draws one band run: a translucent polygon, or an error bar when the run has one point.
fn draw_band(
    ctx: &mut Ctx,
    band: &[(f64, Option<f64>, f64)],
    bottom: f64,
    color: RGBColor,
) -> std::result::Result<(), DrawError> {
    let low = |b: &(f64, Option<f64>, f64)| b.1.unwrap_or(bottom);
    if let [b] = band {
        let bar = PathElement::new(vec![(b.0, low(b)), (b.0, b.2)], color.stroke_width(2));
        ctx.draw_series(std::iter::once(bar))?;
        return Ok(());
    }
    let outline: Vec<(f64, f64)> = band
        .iter()
        .map(|b| (b.0, b.2))
        .chain(band.iter().rev().map(|b| (b.0, low(b))))
        .collect();
    ctx.draw_series(std::iter::once(Polygon::new(
        outline,
        color.mix(0.2).filled(),
    )))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_at_gaps() {
        let r = runs([Some(1), Some(2), None, None, Some(3), None]);
        assert_eq!(r, vec![vec![1, 2], vec![3]]);
        assert!(runs::<i32>([None, None]).is_empty());
    }

    fn labels(a: &Axis) -> Vec<String> {
        a.ticks.iter().map(|&t| a.label(t)).collect()
    }

    #[test]
    fn log_axis_labels_read_plainly_near_one() {
        let lengths: Vec<f64> = [5.0f64, 10.0, 20.0, 50.0, 100.0, 200.0]
            .iter()
            .map(|v| v.log10())
            .collect();
        let a = Axis::new(&lengths, Scale::Log10, true);
        assert_eq!(labels(&a), ["5", "10", "20", "50", "100", "200"]);
        // A loss from 0.06 to 2.08: 1-2-5 ticks.
        let b = log_axis(0.06f64.log10(), 2.08f64.log10());
        assert_eq!(labels(&b), ["0.05", "0.1", "0.2", "0.5", "1", "2", "5"]);
        // Less than a decade: finer value steps.
        let c = log_axis(2.0f64.log10(), 2.3f64.log10());
        assert!(c.ticks.len() >= 4, "{:?}", labels(&c));
        assert!(labels(&c).contains(&"2.1".to_string()), "{:?}", labels(&c));
        assert_eq!(log_label(-43.0), "1e-43");
        assert_eq!(log_label(2e-5f64.log10()), "2e-5");
        assert_eq!(log_label(0.0), "1");
        assert_eq!(log_label(3.0), "1000");
        assert_eq!(log_label(-2.0), "0.01");
        assert_eq!(log_label(5.0), "1e5");
    }

    #[test]
    fn log_axis_labels_both_end_decades() {
        let a = log_decade_axis(-300, 10);
        assert_eq!(a.ticks.first(), Some(&-300.0));
        assert_eq!(a.ticks.last(), Some(&10.0));
        assert!(a.ticks.len() <= MAX_TICKS + 2, "{:?}", a.ticks);
        assert!(a.ticks.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a.label(-300.0), "1e-300");
        let small = log_decade_axis(-3, 1);
        assert_eq!(small.ticks, vec![-3.0, -2.0, -1.0, 0.0, 1.0]);
    }

    #[test]
    fn thinning_drops_colliding_end_labels() {
        let mut a = log_decade_axis(-43, 0);
        // -40 is a multiple of the step and sits right next to the -43 end.
        a.thin(300.0, |_| 16.0);
        let scale = 300.0 / (a.hi - a.lo);
        assert!(
            a.ticks.windows(2).all(|w| (w[1] - w[0]) * scale >= 22.0),
            "{:?}",
            a.ticks
        );
    }

    #[test]
    fn linear_axis_rounds_out_to_ticks() {
        let a = linear_axis(1.0, 50.0);
        assert!(a.lo <= 1.0 && a.hi >= 50.0);
        assert!(a.ticks.len() <= MAX_TICKS + 2, "{:?}", a.ticks);
        assert_eq!(a.label(10.0), "10");
        let b = linear_axis(0.02, 0.17);
        assert_eq!(b.label(0.05), "0.05");
        let tiny = f64::from_bits(1);
        for (min, max) in [
            (0.0, tiny),
            (tiny, tiny),
            (-f64::MAX, f64::MAX),
            (f64::MAX, f64::MAX),
            (1e308, 1.7e308),
            (-1e-300, 1e-300),
        ] {
            let a = linear_axis(min, max);
            assert!(
                a.lo.is_finite() && a.hi.is_finite() && a.lo < a.hi,
                "{min} {max}: {a:?}"
            );
            assert!(a.lo <= min && a.hi >= max, "{min} {max}: {a:?}");
            assert!(a.ticks.iter().all(|t| t.is_finite()) && a.ticks.len() <= 2 * MAX_TICKS + 1);
        }
        let c = linear_axis(3.0, 3.0);
        assert!(c.lo < 3.0 && c.hi > 3.0);
    }

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
