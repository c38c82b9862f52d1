//! Drawing a [`Chart`] as SVG: series mapped to axis coordinates, the plot area, bands, markers,
//! reference lines and the legend (in a free corner, or beside the plot).

use plotters::coord::Shift;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::*;
use super::*;

/// A series mapped to axis coordinates: runs of consecutive drawable points, and bands.
pub(super) struct Mapped {
    pub(super) runs: Vec<Vec<(f64, f64)>>,
    /// Runs of (x, low, high); a low of `None` means "down to the bottom of the axis".
    pub(super) bands: Vec<Vec<(f64, Option<f64>, f64)>>,
    /// Flagged points that are drawable.
    pub(super) flagged: Vec<(f64, f64)>,
}

pub(super) fn to_axis(v: f64, scale: Scale) -> Option<f64> {
    match scale {
        Scale::Linear => v.is_finite().then_some(v),
        Scale::Log10 => log10_positive(v),
    }
}

/// Splits `items` into runs of consecutive `Some` values.
pub(super) fn runs<T>(items: impl IntoIterator<Item = Option<T>>) -> Vec<Vec<T>> {
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

pub(super) fn map_point(p: (f64, f64), chart: &ChartSpec) -> Option<(f64, f64)> {
    Some((to_axis(p.0, chart.x_scale)?, to_axis(p.1, chart.y_scale)?))
}

pub(super) fn map_series(s: &StyledSeries, chart: &ChartSpec) -> Mapped {
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

pub(super) type DrawError = DrawingAreaErrorKind<std::io::Error>;
pub(super) type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

/// Pixel width of `text` at `font` size (an estimate: the SVG viewer lays the text out).
pub(super) fn text_width(text: &str, font: u32) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH * f64::from(font)
}

/// One legend row.
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) kind: EntryKind,
}

pub(super) enum EntryKind {
    Series { style: SeriesStyle, marker: bool },
    Reference(Dash),
    Key(Dash),
    Flag,
}

pub(super) fn reference_dash(i: usize) -> Dash {
    [Dash::Dashed, Dash::Dotted][i % 2]
}

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// Inside the plot area with its top-left corner at this pixel.
    Inside(i32, i32),
    /// To the right of the plot area, on a widened canvas.
    Outside,
}

/// The caption font size that fits `title` into `width` pixels.
pub(super) fn title_font(title: &str, width: u32) -> u32 {
    let room = f64::from(width.saturating_sub(40));
    let chars = title.chars().count().max(1) as f64;
    ((room / (chars * CHAR_WIDTH)).floor() as u32).clamp(11, 20)
}

pub(super) fn build_ctx<'a, 'b>(
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
pub(super) fn render_svg(chart: &Chart) -> std::result::Result<String, DrawError> {
    // Long (~160 lines): plotters' drawing sequence (canvas, mesh, bands, series, references,
    // legend) shares the context and the mapped series; the legend placement and each drawing
    // primitive are already functions below.
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
    // dodged series move after the axis is fixed, so its ticks stay at the data's x; the axis
    // widens by the outermost series' shift and a cap, so their bars are not clipped
    let mapped = match chart.dodge {
        Some(dodge) => {
            let reach = (mapped.len() as f64 - 1.0).max(0.0) / 2.0 * dodge + dodge / 6.0;
            let (min, max) = xs
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                });
            if min <= max {
                x_axis.lo = x_axis.lo.min(min - reach);
                x_axis.hi = x_axis.hi.max(max + reach);
            }
            dodged(mapped, dodge)
        }
        None => mapped,
    };
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
                match chart.dodge {
                    Some(dodge) => {
                        draw_error_bars(&mut ctx, band, y_axis.lo, s.style.rgb(), dodge)?
                    }
                    None => draw_band(&mut ctx, band, y_axis.lo, s.style.rgb())?,
                }
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
pub(super) fn xs_extend(xs: &mut Vec<f64>, values: [f64; 2], scale: Scale) {
    xs.extend(values.into_iter().filter_map(|v| to_axis(v, scale)));
}

pub(super) fn legend_entries(chart: &Chart, mapped: &[Mapped]) -> Vec<LegendEntry> {
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
pub(super) fn free_corner(
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
pub(super) fn segment_hits(
    a: (f64, f64),
    b: (f64, f64),
    inside: &impl Fn((f64, f64)) -> bool,
) -> bool {
    let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
    let n = (len / 2.0).ceil().clamp(1.0, 10_000.0) as usize;
    (0..=n).any(|k| {
        let t = k as f64 / n as f64;
        inside((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)))
    })
}

pub(super) fn draw_line(
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

pub(super) fn draw_marker(
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
pub(super) fn draw_legend(
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

pub(super) fn sample_line(
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

pub(super) fn legend_marker(
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

/// Series `i` of `n` moved by `(i − (n − 1)/2) · dodge` along x (axis units).
pub(super) fn dodged(mapped: Vec<Mapped>, dodge: f64) -> Vec<Mapped> {
    let n = mapped.len();
    mapped
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let dx = (i as f64 - (n as f64 - 1.0) / 2.0) * dodge;
            Mapped {
                runs: m
                    .runs
                    .into_iter()
                    .map(|r| r.into_iter().map(|(x, y)| (x + dx, y)).collect())
                    .collect(),
                bands: m
                    .bands
                    .into_iter()
                    .map(|b| b.into_iter().map(|(x, lo, hi)| (x + dx, lo, hi)).collect())
                    .collect(),
                flagged: m.flagged.into_iter().map(|(x, y)| (x + dx, y)).collect(),
            }
        })
        .collect()
}

/// Draws one band run as error bars: a vertical line per point with caps `dodge / 3` wide.
pub(super) fn draw_error_bars(
    ctx: &mut Ctx,
    band: &[(f64, Option<f64>, f64)],
    bottom: f64,
    color: RGBColor,
    dodge: f64,
) -> std::result::Result<(), DrawError> {
    let cap = dodge / 6.0;
    for b in band {
        let low = b.1.unwrap_or(bottom);
        let lines = [
            vec![(b.0, low), (b.0, b.2)],
            vec![(b.0 - cap, low), (b.0 + cap, low)],
            vec![(b.0 - cap, b.2), (b.0 + cap, b.2)],
        ];
        ctx.draw_series(
            lines
                .into_iter()
                .map(|l| PathElement::new(l, color.stroke_width(2))),
        )?;
    }
    Ok(())
}

/// Draws one band run: a translucent polygon, or an error bar when the run has one point.
pub(super) fn draw_band(
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
}
