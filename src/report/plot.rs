//! SVG line charts through plotters' pure-Rust SVG backend (no font files, no system libraries:
//! text is written as SVG `<text>` elements and laid out by whatever displays the file).
//!
//! Log axes are not plotters' `log_scale()`: every value is mapped to log10 and drawn on a linear
//! axis whose ticks are labelled `1e-300` style, so any positive finite range works.

use std::path::Path;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{decade_bounds, decade_label, log10_positive};
use crate::{Error, Result};

/// Width × height in pixels of [`line_chart_svg`] output.
pub const DEFAULT_SIZE: (u32, u32) = (800, 500);

/// Series colours in order (matplotlib's Tableau-10), reused cyclically after ten series.
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

/// At most this many tick labels per axis.
const MAX_TICKS: usize = 9;
/// Series with at most this many plotted points also get a marker per point.
const MAX_MARKED_POINTS: usize = 60;
const FONT: &str = "sans-serif";

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

/// Writes an SVG line chart (one colour per series, legend, axis labels, grid); size 800×500 by
/// default ([`DEFAULT_SIZE`]; see [`line_chart_svg_sized`]).
///
/// Contract:
/// - A point whose x or y is NaN or infinite, or not > 0 on a log axis, is skipped; the line of
///   its series is broken there rather than drawn across it. A spread entry is skipped the same
///   way, except that a low value ≤ 0 on a log y axis is drawn down to the bottom of the axis.
/// - Axis ranges come from the drawable data (spread included): log axes span whole decades,
///   linear axes are rounded out to tick steps.
/// - A series with no drawable point still has its legend entry. When no point at all can be
///   drawn the chart says "no positive values" (log y), "no finite values" or "no data" (empty
///   `series`), and is still a valid SVG with its title.
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
    for s in series {
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
    let svg = render_svg(chart, series, size)
        .map_err(|e| Error::bad_file(path, format!("could not draw chart: {e}")))?;
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

/// A series mapped to axis coordinates: runs of consecutive drawable points, and bands.
struct Mapped {
    runs: Vec<Vec<(f64, f64)>>,
    /// Runs of (x, low, high); a low of `None` means "down to the bottom of the axis".
    bands: Vec<Vec<(f64, Option<f64>, f64)>>,
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

fn map_series(s: &Series, chart: &ChartSpec) -> Mapped {
    let runs_ = runs(
        s.points
            .iter()
            .map(|&(x, y)| Some((to_axis(x, chart.x_scale)?, to_axis(y, chart.y_scale)?))),
    );
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
    Mapped { runs: runs_, bands }
}

/// An axis: its drawn range, tick positions (bold and light) and how ticks are labelled.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    light: Vec<f64>,
    scale: Scale,
    /// Decimals for linear tick labels, `None` for scientific notation.
    decimals: Option<usize>,
}

impl Axis {
    /// The axis for mapped values `values` (empty: a default range).
    fn new(values: impl IntoIterator<Item = f64>, scale: Scale) -> Axis {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            min = min.min(v);
            max = max.max(v);
        }
        let empty = min > max;
        match scale {
            Scale::Log10 => {
                let (lo, hi) = if empty {
                    (0, 1)
                } else {
                    decade_bounds(min, max)
                };
                log_axis(lo, hi)
            }
            Scale::Linear if empty => linear_axis(0.0, 1.0),
            Scale::Linear => linear_axis(min, max),
        }
    }

    fn label(&self, v: f64) -> String {
        match (self.scale, self.decimals) {
            (Scale::Log10, _) => decade_label(v.round() as i32),
            (Scale::Linear, Some(d)) => format!("{:.*}", d, v + 0.0),
            (Scale::Linear, None) => {
                let s = format!("{:.1e}", v + 0.0);
                s.replace(".0e", "e")
            }
        }
    }
}

/// Decade axis `lo..hi` (log10 units): the end decades are always labelled, with multiples of a
/// 1-2-5 step in between, and a light grid line per decade when there are not too many.
fn log_axis(lo: i32, hi: i32) -> Axis {
    let span = (hi - lo) as i64;
    let step = nice_steps()
        .map(|s| s.round() as i64)
        .find(|s| span / s < MAX_TICKS as i64)
        .unwrap_or(span.max(1));
    let mut ticks = vec![lo as f64];
    let first = (lo as i64).div_euclid(step) * step + step;
    let mut k = first;
    while k < hi as i64 {
        // Keep clear of the end labels so they never overlap.
        if 2 * (k - lo as i64) >= step && 2 * (hi as i64 - k) >= step {
            ticks.push(k as f64);
        }
        k += step;
    }
    ticks.push(hi as f64);
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
        scale: Scale::Log10,
        decimals: None,
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
        scale: Scale::Linear,
        decimals: None,
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
        scale: Scale::Linear,
        decimals,
    }
}

type DrawError = DrawingAreaErrorKind<std::io::Error>;

/// Draws the chart into an SVG string.
fn render_svg(
    chart: &ChartSpec,
    series: &[Series],
    size: (u32, u32),
) -> std::result::Result<String, DrawError> {
    let mapped: Vec<Mapped> = series.iter().map(|s| map_series(s, chart)).collect();
    let xs = mapped.iter().flat_map(|m| {
        let run_x = m.runs.iter().flatten().map(|p| p.0);
        run_x.chain(m.bands.iter().flatten().map(|b| b.0))
    });
    let ys = mapped.iter().flat_map(|m| {
        let run_y = m.runs.iter().flatten().map(|p| p.1);
        let band_y = m
            .bands
            .iter()
            .flatten()
            .flat_map(|b| b.1.into_iter().chain([b.2]));
        run_y.chain(band_y)
    });
    let x_axis = Axis::new(xs, chart.x_scale);
    let y_axis = Axis::new(ys, chart.y_scale);
    let any_point = mapped.iter().any(|m| !m.runs.is_empty());

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let mut ctx = ChartBuilder::on(&root)
            .caption(chart.title, (FONT, 22))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x_axis.clone(), y_axis.clone())?;
        let x_fmt = |v: &f64| x_axis.label(*v);
        let y_fmt = |v: &f64| y_axis.label(*v);
        ctx.configure_mesh()
            .x_desc(chart.x_label)
            .y_desc(chart.y_label)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.06))
            .draw()?;

        for (i, m) in mapped.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            for band in &m.bands {
                draw_band(&mut ctx, band, y_axis.lo, color)?;
            }
        }
        for (i, (s, m)) in series.iter().zip(&mapped).enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let line = color.stroke_width(2);
            let mut runs = m.runs.iter();
            // The first run (possibly empty) carries the legend entry.
            let first = runs.next().cloned().unwrap_or_default();
            ctx.draw_series(LineSeries::new(first, line))?
                .label(s.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], line));
            for run in runs {
                ctx.draw_series(LineSeries::new(run.iter().copied(), line))?;
            }
            let n: usize = m.runs.iter().map(Vec::len).sum();
            if n <= MAX_MARKED_POINTS {
                let points = m.runs.iter().flatten();
                ctx.draw_series(points.map(|&p| Circle::new(p, 3, color.filled())))?;
            }
        }
        if !series.is_empty() {
            ctx.configure_series_labels()
                .position(legend_corner(series, &mapped, &x_axis, &y_axis, size).position())
                .label_font((FONT, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .draw()?;
        }
        if !any_point {
            let note = if series.is_empty() {
                "no data"
            } else if chart.y_scale == Scale::Log10 {
                "no positive values"
            } else {
                "no finite values"
            };
            let (w, h) = root.dim_in_pixel();
            let grey = BLACK.mix(0.6);
            let style = TextStyle::from((FONT, 20))
                .color(&grey)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(note, (w as i32 / 2, h as i32 / 2), style))?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// A corner of the plot area for the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Corner {
    UpperRight,
    UpperLeft,
    LowerLeft,
    LowerRight,
}

impl Corner {
    fn position(self) -> SeriesLabelPosition {
        match self {
            Corner::UpperRight => SeriesLabelPosition::UpperRight,
            Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
            Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
            Corner::LowerRight => SeriesLabelPosition::LowerRight,
        }
    }
}

/// The corner whose legend-sized box covers the fewest points of the curves (lines sampled
/// between points too), so the legend hides as little data as possible. Ties go to the earlier
/// of upper right, upper left, lower left, lower right. The box size is estimated from the
/// label lengths and the chart size.
fn legend_corner(
    series: &[Series],
    mapped: &[Mapped],
    x: &Axis,
    y: &Axis,
    size: (u32, u32),
) -> Corner {
    const SUBDIVISIONS: usize = 8;
    let longest = series
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(0);
    // Plot area and legend box in pixels, roughly (margins, label areas, caption).
    let (plot_w, plot_h) = (
        (f64::from(size.0) - 112.0).max(1.0),
        (f64::from(size.1) - 112.0).max(1.0),
    );
    let box_w = ((longest as f64 * 8.0 + 60.0) / plot_w).min(1.0);
    let box_h = ((series.len() as f64 * 20.0 + 20.0) / plot_h).min(1.0);
    let corners = [
        Corner::UpperRight,
        Corner::UpperLeft,
        Corner::LowerLeft,
        Corner::LowerRight,
    ];
    let mut counts = [0usize; 4];
    let mut visit = |(px, py): (f64, f64)| {
        let u = (px - x.lo) / (x.hi - x.lo);
        let v = (py - y.lo) / (y.hi - y.lo);
        let (right, left, top, bottom) =
            (u >= 1.0 - box_w, u <= box_w, v >= 1.0 - box_h, v <= box_h);
        let inside = [right && top, left && top, left && bottom, right && bottom];
        for (count, hit) in counts.iter_mut().zip(inside) {
            *count += usize::from(hit);
        }
    };
    for run in mapped.iter().flat_map(|m| &m.runs) {
        visit(run[0]);
        for w in run.windows(2) {
            for k in 1..=SUBDIVISIONS {
                let t = k as f64 / SUBDIVISIONS as f64;
                visit((
                    w[0].0 + t * (w[1].0 - w[0].0),
                    w[0].1 + t * (w[1].1 - w[0].1),
                ));
            }
        }
    }
    let best = (0..4).min_by_key(|&i| (counts[i], i)).unwrap_or(0);
    corners[best]
}

type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

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

    #[test]
    fn legend_goes_to_the_emptiest_corner() {
        let chart = ChartSpec {
            title: "",
            x_label: "",
            y_label: "",
            y_scale: Scale::Log10,
            x_scale: Scale::Linear,
        };
        let s = |label: &str, rate: f64| Series {
            label: label.to_string(),
            points: (0..50)
                .map(|k| (k as f64, 10f64.powf(-rate * k as f64)))
                .collect(),
            spread: None,
        };
        // Steep decay from the top left to the bottom right, flat lines along the top.
        let series = [s("rnn", 5.0), s("lstm", 0.01), s("gru", 0.02)];
        let mapped: Vec<Mapped> = series.iter().map(|s| map_series(s, &chart)).collect();
        let xs = mapped
            .iter()
            .flat_map(|m| m.runs.iter().flatten().map(|p| p.0));
        let ys = mapped
            .iter()
            .flat_map(|m| m.runs.iter().flatten().map(|p| p.1));
        let (x, y) = (Axis::new(xs, Scale::Linear), Axis::new(ys, Scale::Log10));
        let corner = legend_corner(&series, &mapped, &x, &y, DEFAULT_SIZE);
        assert_eq!(corner, Corner::LowerLeft);
        // Nothing drawn: the default corner.
        let empty = [s("a", 1.0)];
        let corner = legend_corner(&empty, &[], &x, &y, DEFAULT_SIZE);
        assert_eq!(corner, Corner::UpperRight);
    }

    #[test]
    fn log_axis_labels_both_end_decades() {
        let a = log_axis(-300, 10);
        assert_eq!(a.ticks.first(), Some(&-300.0));
        assert_eq!(a.ticks.last(), Some(&10.0));
        assert!(a.ticks.len() <= MAX_TICKS + 1, "{:?}", a.ticks);
        assert!(a.ticks.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a.label(-300.0), "1e-300");
        let small = log_axis(-3, 0);
        assert_eq!(small.ticks, vec![-3.0, -2.0, -1.0, 0.0]);
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
}
