//! SVG line charts and terminal log charts: files written, labels present, unplottable values
//! skipped without panics, deterministic bytes, one-line errors.

use std::path::Path;

use rnnlab::analysis::gradient_report::{GradientProbe, GradientRow};
use rnnlab::report::{
    line_chart_svg, text_chart_log, Chart, ChartSpec, Scale, Series, SeriesStyle,
};
use rnnlab::train::plots::gradient_plot;
use rnnlab::Error;

fn spec<'a>(title: &'a str, y_scale: Scale) -> ChartSpec<'a> {
    ChartSpec {
        title,
        x_label: "distance (steps)",
        y_label: "gradient norm",
        y_scale,
        x_scale: Scale::Linear,
    }
}

fn series(label: &str, points: Vec<(f64, f64)>) -> Series {
    Series {
        label: label.to_string(),
        points,
        spread: None,
    }
}

fn render(chart: &ChartSpec, series: &[Series]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.svg");
    line_chart_svg(&path, chart, series).unwrap();
    std::fs::read_to_string(&path).unwrap()
}

/// The trimmed contents of every `<text>` element (plotters writes `<text ...>label\n</text>`).
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

fn has_text(svg: &str, text: &str) -> bool {
    texts(svg).iter().any(|t| t == text)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Every `<tag ...>` element's attributes, as (name, value) pairs, with the element's text.
fn elements(svg: &str, tag: &str) -> Vec<(Vec<(String, String)>, String)> {
    let open = format!("<{tag} ");
    svg.split(&open)
        .skip(1)
        .map(|rest| {
            let end = rest.find('>').unwrap();
            let head = &rest[..end];
            let mut attrs = vec![];
            for part in head.split("\" ") {
                if let Some((k, v)) = part.split_once("=\"") {
                    let v = v.trim_end_matches(['"', '/']);
                    attrs.push((k.trim().to_string(), v.to_string()));
                }
            }
            let body = &rest[end + 1..];
            let text = body[..body.find('<').unwrap_or(0)].trim().to_string();
            (attrs, text)
        })
        .collect()
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn num(attrs: &[(String, String)], name: &str) -> f64 {
    attr(attrs, name).unwrap().parse().unwrap()
}

/// The legend box (x0, y0, x1, y1): the rect drawn with the legend border colour.
fn legend_box(svg: &str) -> (f64, f64, f64, f64) {
    let border = format!(
        "#{:02X}{:02X}{:02X}",
        rnnlab::report::LEGEND_BORDER.0,
        rnnlab::report::LEGEND_BORDER.1,
        rnnlab::report::LEGEND_BORDER.2
    );
    let (a, _) = elements(svg, "rect")
        .into_iter()
        .find(|(a, _)| attr(a, "stroke") == Some(border.as_str()))
        .expect("a legend box");
    let (x, y) = (num(&a, "x"), num(&a, "y"));
    (x, y, x + num(&a, "width"), y + num(&a, "height"))
}

/// Centres of the drawn point markers (circles) outside the legend box.
fn data_circles(svg: &str) -> Vec<(f64, f64)> {
    let legend = elements(svg, "rect")
        .iter()
        .any(|(a, _)| attr(a, "stroke") == Some("#555555"));
    let b = if legend { Some(legend_box(svg)) } else { None };
    elements(svg, "circle")
        .iter()
        .map(|(a, _)| (num(a, "cx"), num(a, "cy")))
        .filter(|&(x, y)| b.is_none_or(|b| !(x >= b.0 && x <= b.2 && y >= b.1 && y <= b.3)))
        .collect()
}

/// The vertices of every coloured polyline (data curves and reference lines; not the black
/// axes or the faint grid), except legend samples lying wholly inside the legend box.
fn curve_points(svg: &str, legend: (f64, f64, f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let inside =
        |&(x, y): &(f64, f64)| x >= legend.0 && x <= legend.2 && y >= legend.1 && y <= legend.3;
    elements(svg, "polyline")
        .iter()
        .filter(|(a, _)| attr(a, "stroke") != Some("#000000"))
        .map(|(a, _)| {
            attr(a, "points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect::<Vec<(f64, f64)>>()
        })
        .filter(|pts| !pts.iter().all(inside))
        .collect()
}

/// Asserts that no marker and no stretch of a curve lies inside the legend box.
fn assert_legend_clear(svg: &str) {
    let b = legend_box(svg);
    let inside = |(x, y): (f64, f64)| x > b.0 && x < b.2 && y > b.1 && y < b.3;
    for (a, _) in elements(svg, "circle") {
        let (x, y, r) = (num(&a, "cx"), num(&a, "cy"), num(&a, "r"));
        let in_legend = x >= b.0 + 4.0 && x <= b.0 + 40.0; // the legend's own sample markers
        if !(in_legend && inside((x, y))) {
            assert!(
                !(x + r > b.0 && x - r < b.2 && y + r > b.1 && y - r < b.3),
                "point ({x}, {y}) under the legend {b:?}"
            );
        }
    }
    for line in curve_points(svg, b) {
        for w in line.windows(2) {
            for k in 0..=20 {
                let t = k as f64 / 20.0;
                let p = (
                    w[0].0 + t * (w[1].0 - w[0].0),
                    w[0].1 + t * (w[1].1 - w[0].1),
                );
                assert!(!inside(p), "curve through {p:?} under the legend {b:?}");
            }
        }
    }
}

/// The labels of the x axis (texts centred below the plot) or the y axis (right-aligned texts
/// left of it), with their pixel position along the axis.
fn tick_labels(svg: &str, axis: char) -> Vec<(String, f64)> {
    let is_number =
        |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || ".-e".contains(c));
    let mut labels: Vec<(String, f64)> = elements(svg, "text")
        .into_iter()
        .filter(|(a, t)| {
            is_number(t)
                && match axis {
                    'x' => attr(a, "text-anchor") == Some("middle") && num(a, "y") > 400.0,
                    _ => attr(a, "text-anchor") == Some("end"),
                }
        })
        .map(|(a, t)| {
            let pos = if axis == 'x' {
                num(&a, "x")
            } else {
                num(&a, "y")
            };
            (t, pos)
        })
        .collect();
    // Lowest value first: left to right, bottom to top.
    labels.sort_by(|a, b| {
        let (a, b) = if axis == 'x' { (a.1, b.1) } else { (b.1, a.1) };
        a.total_cmp(&b)
    });
    labels
}

/// Decaying gradient norms: 10^(-k * rate) for k = 0..n.
fn decay(n: usize, rate: f64) -> Vec<(f64, f64)> {
    (0..n)
        .map(|k| (k as f64, 10f64.powf(-(k as f64) * rate)))
        .collect()
}

#[test]
fn svg_has_title_axis_labels_and_every_legend_label() {
    let svg = render(
        &spec("Gradient norm vs distance", Scale::Linear),
        &[
            series("rnn tanh", vec![(1.0, 0.5), (2.0, 0.25), (3.0, 0.125)]),
            series("lstm", vec![(1.0, 0.9), (2.0, 0.8), (3.0, 0.7)]),
            series("gru <h=64> & more", vec![(1.0, 0.6), (3.0, 0.55)]),
        ],
    );
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for text in [
        "Gradient norm vs distance",
        "distance (steps)",
        "gradient norm",
        "rnn tanh",
        "lstm",
        // Labels are XML-escaped.
        "gru &lt;h=64&gt; &amp; more",
    ] {
        assert!(
            has_text(&svg, text),
            "missing {text:?} in {:?}",
            texts(&svg)
        );
    }
    // One marker per point, and at least three distinct series colours.
    assert_eq!(data_circles(&svg).len(), 8);
    for colour in ["#1F77B4", "#FF7F0E", "#2CA02C"] {
        assert!(
            svg.to_uppercase().contains(colour),
            "missing colour {colour}"
        );
    }
}

#[test]
fn log_chart_keeps_values_from_1e_minus_250_to_1() {
    // 1, 1e-10, ..., 1e-250: 26 points over 250 decades.
    let svg = render(
        &spec("deep", Scale::Log10),
        &[series("rnn", decay(26, 10.0))],
    );
    assert_eq!(data_circles(&svg).len(), 26, "every point is drawn");
    assert!(has_text(&svg, "1e-250"), "bottom decade labelled");
    assert!(has_text(&svg, "1"), "top decade labelled");
    assert!(!svg.contains("no positive values"));
}

#[test]
fn log_chart_spans_1e_minus_300_to_1e10() {
    let points = vec![(0.0, 1e10), (1.0, 1.0), (2.0, 1e-150), (3.0, 1e-300)];
    let svg = render(&spec("extreme", Scale::Log10), &[series("s", points)]);
    assert_eq!(data_circles(&svg).len(), 4);
    assert!(has_text(&svg, "1e-300") && has_text(&svg, "1e10"));
}

#[test]
fn zero_negative_and_non_finite_values_are_skipped() {
    let points = vec![
        (0.0, 1.0),
        (1.0, 0.0),
        (2.0, -1.0),
        (3.0, f64::NAN),
        (4.0, 1e-3),
        (f64::INFINITY, 1.0),
        (f64::NAN, 1.0),
        (7.0, f64::INFINITY),
        (8.0, 1e-5),
    ];
    let svg = render(&spec("gaps", Scale::Log10), &[series("s", points.clone())]);
    assert_eq!(data_circles(&svg).len(), 3);
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
    assert!(has_text(&svg, "1e-5"));

    // On a linear axis zero and negative values are drawable; non-finite ones are not.
    let svg = render(&spec("gaps", Scale::Linear), &[series("s", points)]);
    assert_eq!(data_circles(&svg).len(), 5);
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
}

#[test]
fn extreme_finite_values_draw_without_panic() {
    let tiny = f64::from_bits(1); // the smallest subnormal, 4.9e-324
    let cases = [
        (Scale::Linear, vec![(0.0, -f64::MAX), (1.0, f64::MAX)]),
        (Scale::Linear, vec![(0.0, tiny), (1.0, tiny)]),
        (Scale::Linear, vec![(f64::MAX, 1.0), (f64::MAX, 2.0)]),
        (Scale::Log10, vec![(0.0, tiny), (1.0, f64::MAX)]),
    ];
    for (scale, points) in cases {
        let svg = render(&spec("extreme", scale), &[series("s", points.clone())]);
        assert_eq!(data_circles(&svg).len(), 2, "{points:?}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{points:?}");
    }
}

#[test]
fn charts_without_drawable_points_are_still_valid_svg() {
    let none = render(
        &spec("nothing positive", Scale::Log10),
        &[series(
            "zeros",
            vec![(1.0, 0.0), (2.0, -3.0), (3.0, f64::NAN)],
        )],
    );
    assert!(none.starts_with("<svg") && none.trim_end().ends_with("</svg>"));
    assert!(none.contains("nothing positive") && none.contains("no positive values"));
    assert!(has_text(&none, "zeros"), "legend entry kept");

    let empty = render(&spec("empty chart", Scale::Linear), &[]);
    assert!(empty.starts_with("<svg") && empty.trim_end().ends_with("</svg>"));
    assert!(empty.contains("empty chart") && empty.contains("no data"));
}

#[test]
fn spread_is_drawn_as_a_band_and_must_match_points() {
    let mut s = series("rnn (5 seeds)", decay(20, 0.5));
    s.spread = Some(
        s.points
            .iter()
            // A low end of 0 reaches the bottom of the log axis instead of being dropped.
            .map(|&(x, y)| (if x == 3.0 { 0.0 } else { y / 3.0 }, y * 3.0))
            .collect(),
    );
    let svg = render(&spec("band", Scale::Log10), &[s.clone()]);
    assert_eq!(count(&svg, "<polygon"), 1);
    assert!(has_text(&svg, "rnn (5 seeds)"));

    s.spread.as_mut().unwrap().pop();
    let dir = tempfile::tempdir().unwrap();
    let err = line_chart_svg(&dir.path().join("x.svg"), &spec("band", Scale::Log10), &[s]);
    assert!(matches!(err, Err(Error::InvalidOption { .. })), "{err:?}");
}

/// With `error_bars`, each point's spread is a vertical line with two caps (no band), and two
/// series with the same x are drawn side by side, one on each side of it.
#[test]
fn error_bars_replace_bands_and_dodge_series_apart() {
    let points = vec![(10.0, 0.5), (20.0, 0.4), (40.0, 0.2)];
    let with_spread = |label: &str| {
        let mut s = series(label, points.clone());
        s.spread = Some(points.iter().map(|&(_, y)| (y - 0.1, y + 0.1)).collect());
        s
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bars.svg");
    Chart::new(spec("bars", Scale::Linear))
        .series(with_spread("lstm"))
        .series(with_spread("gru"))
        .y_include(0.0, 1.0)
        .error_bars(2.0)
        .write(&path)
        .unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert_eq!(count(&svg, "<polygon"), 0, "no band");
    // a bar's vertical line: two points with the same x; its caps: same y
    let lines: Vec<Vec<(f64, f64)>> = elements(&svg, "polyline")
        .iter()
        .filter_map(|(a, _)| attr(a, "points"))
        .map(|p| {
            p.split_whitespace()
                .map(|xy| {
                    let (x, y) = xy.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .filter(|p: &Vec<(f64, f64)>| p.len() == 2)
        .collect();
    // a bar spans y ± 0.1, 78 px on this 0–1 axis; axis lines and ticks are longer or shorter
    let bar =
        |l: &Vec<(f64, f64)>| l[0].0 == l[1].0 && ((l[0].1 - l[1].1).abs() - 78.0).abs() < 2.0;
    let verticals: Vec<f64> = lines.iter().filter(|l| bar(l)).map(|l| l[0].0).collect();
    assert_eq!(
        verticals.len(),
        6,
        "one bar per point and series: {lines:?}"
    );
    // every bar has two caps of the same width, none clipped by the plot's edge
    for &x in &verticals {
        let caps: Vec<f64> = lines
            .iter()
            .filter(|l| l[0].1 == l[1].1 && l[0].0 < x && l[1].0 > x)
            .map(|l| l[1].0 - l[0].0)
            .collect();
        assert!(
            caps.len() >= 2 && caps.iter().all(|&w| w > 5.0),
            "caps at {x}: {caps:?}"
        );
    }
    // the two series' bars at one x stand apart, on either side of it
    let mut xs = verticals.clone();
    xs.sort_by(f64::total_cmp);
    for pair in xs.chunks(2) {
        assert!(pair[1] - pair[0] > 2.0, "dodged apart: {xs:?}");
    }
}

#[test]
fn log_x_axis_is_supported() {
    let chart = ChartSpec {
        x_scale: Scale::Log10,
        ..spec("log-log", Scale::Log10)
    };
    let points = vec![(1.0, 1.0), (10.0, 0.1), (1000.0, 1e-3), (0.0, 5.0)];
    let svg = render(&chart, &[series("power law", points)]);
    assert_eq!(
        data_circles(&svg).len(),
        3,
        "x = 0 is skipped on a log x axis"
    );
    // Few x values: ticked at the values, written plainly.
    let x: Vec<String> = tick_labels(&svg, 'x').into_iter().map(|l| l.0).collect();
    assert_eq!(x, ["1", "10", "1000"]);
}

#[test]
fn same_input_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let chart = spec("determinism", Scale::Log10);
    let data = [series("a", decay(40, 0.3)), series("b", decay(40, 0.1))];
    let (p1, p2) = (dir.path().join("1.svg"), dir.path().join("2.svg"));
    line_chart_svg(&p1, &chart, &data).unwrap();
    line_chart_svg(&p2, &chart, &data).unwrap();
    assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
}

#[test]
fn parent_directories_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs/sweep-1/plots/chart.svg");
    line_chart_svg(&path, &spec("nested", Scale::Linear), &[]).unwrap();
    assert!(path.is_file());
}

#[test]
fn unwritable_path_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regular-file");
    std::fs::write(&file, "not a directory").unwrap();
    let path = file.join("chart.svg");
    let err = line_chart_svg(&path, &spec("t", Scale::Linear), &[]).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let message = err.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("regular-file"), "{message}");
    assert!(!Path::new(&path).exists());
}

#[test]
fn text_chart_has_rows_axis_and_decade_labels() {
    let (width, height) = (60, 8);
    let chart = text_chart_log(&decay(50, 0.2), width, height, "distance");
    let lines: Vec<&str> = chart.lines().collect();
    // height plot rows, the axis, the x range and the x label.
    assert_eq!(lines.len(), height + 3, "{chart}");
    assert!(lines[0].trim_start().starts_with("1 |"), "{chart}");
    assert!(
        lines[height - 1].trim_start().starts_with("1e-10 |"),
        "{chart}"
    );
    assert!(lines[height].trim_start().starts_with("+---"), "{chart}");
    let range: Vec<&str> = lines[height + 1].split_whitespace().collect();
    assert_eq!(range, ["0", "49"], "{chart}");
    assert!(lines[height + 2].contains("distance"));
    assert!(lines.iter().all(|l| l.chars().count() <= width), "{chart}");
    // The first point is at the top left, the last at the bottom right.
    let plot_start = lines[0].find('|').unwrap() + 1;
    assert_eq!(lines[0].as_bytes()[plot_start], b'*', "{chart}");
    assert!(lines[height - 1].ends_with('*'), "{chart}");
    assert!(!chart.contains('\x1b'), "no colour codes");
}

#[test]
fn text_chart_skips_non_positive_and_non_finite_values() {
    let points = [
        (0.0, 1.0),
        (1.0, 0.0),
        (2.0, -5.0),
        (3.0, f64::NAN),
        (4.0, f64::INFINITY),
        (f64::NAN, 1e-3),
        (6.0, 1e-3),
    ];
    let chart = text_chart_log(&points, 40, 4, "");
    let lines: Vec<&str> = chart.lines().collect();
    assert_eq!(
        lines.len(),
        4 + 2,
        "no x label line when the label is empty:\n{chart}"
    );
    assert_eq!(count(&chart, "*"), 2, "{chart}");
    assert!(chart.contains("1e-3 |") && chart.contains("1 |"), "{chart}");

    let nothing = text_chart_log(&[(1.0, 0.0), (2.0, f64::NAN)], 40, 4, "x");
    assert_eq!(nothing.lines().count(), 1);
    assert!(nothing.contains("no positive values"));
}

#[test]
fn text_chart_handles_extreme_ranges_and_tiny_sizes() {
    let chart = text_chart_log(&[(1.0, 1e-300), (2.0, 1e10)], 30, 5, "d");
    assert!(
        chart.contains("1e-300 |") && chart.contains("1e10 |"),
        "{chart}"
    );
    // Too narrow for labels: one plot column, no panic; height below 2 becomes 2.
    let tiny = text_chart_log(&[(1.0, 1e-3), (2.0, 1.0)], 0, 0, "");
    assert_eq!(tiny.lines().count(), 2 + 2, "{tiny}");
    assert!(tiny.contains('*'));
}

fn sweep_spec<'a>(title: &'a str, y_scale: Scale) -> ChartSpec<'a> {
    ChartSpec {
        title,
        x_label: "sequence length T",
        y_label: "eval accuracy",
        y_scale,
        x_scale: Scale::Log10,
    }
}

fn write(chart: &Chart) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.svg");
    chart.write(&path).unwrap();
    std::fs::read_to_string(&path).unwrap()
}

const LENGTHS: [f64; 6] = [5.0, 10.0, 20.0, 50.0, 100.0, 200.0];

#[test]
fn log_x_axis_is_ticked_at_the_lengths_run() {
    let acc = [1.0, 1.0, 0.9, 0.5, 0.2, 0.15];
    let points: Vec<(f64, f64)> = LENGTHS.iter().copied().zip(acc).collect();
    let svg = render(
        &sweep_spec("lengths", Scale::Linear),
        &[series("lstm", points)],
    );
    let x: Vec<String> = tick_labels(&svg, 'x').into_iter().map(|l| l.0).collect();
    assert_eq!(x, ["5", "10", "20", "50", "100", "200"]);
    assert!(!has_text(&svg, "1e1") && !has_text(&svg, "1e2"));
}

#[test]
fn log_x_axis_with_many_values_gets_a_1_2_5_sequence() {
    let points: Vec<(f64, f64)> = (1..=40).map(|k| (k as f64 * 5.0, 1.0 / k as f64)).collect();
    let svg = render(&sweep_spec("many", Scale::Log10), &[series("s", points)]);
    let x: Vec<String> = tick_labels(&svg, 'x').into_iter().map(|l| l.0).collect();
    assert_eq!(x, ["5", "10", "20", "50", "100", "200"]);
    // The y axis (0.025 .. 1) reads plainly too.
    let y: Vec<String> = tick_labels(&svg, 'y').into_iter().map(|l| l.0).collect();
    assert_eq!(y, ["0.02", "0.05", "0.1", "0.2", "0.5", "1"]);
}

#[test]
fn log_y_axis_of_a_loss_curve_reads_1_2_5_or_finer() {
    // A loss from 2.08 down to 0.06: 1-2-5 labels, not just "1" and "1e1".
    let points: Vec<(f64, f64)> = (0..300)
        .map(|k| (k as f64, 2.08 * (0.06f64 / 2.08).powf(k as f64 / 299.0)))
        .collect();
    let svg = render(&spec("loss", Scale::Log10), &[series("train loss", points)]);
    let y: Vec<String> = tick_labels(&svg, 'y').into_iter().map(|l| l.0).collect();
    assert_eq!(y, ["0.05", "0.1", "0.2", "0.5", "1", "2", "5"]);

    // Within less than a decade (2.0 .. 2.1): finer steps, at least four labels.
    let flat: Vec<(f64, f64)> = (0..50)
        .map(|k| (k as f64, 2.0 + k as f64 / 490.0))
        .collect();
    let svg = render(&spec("flat loss", Scale::Log10), &[series("s", flat)]);
    let y: Vec<f64> = tick_labels(&svg, 'y')
        .iter()
        .map(|l| l.0.parse().unwrap())
        .collect();
    assert!(y.len() >= 4, "{y:?}");
    assert!(y.iter().all(|v| (1.9..2.2).contains(v)), "{y:?}");
}

#[test]
fn end_tick_labels_never_collide() {
    for top in [0.0, 1.0, 10.0] {
        for bottom in [-43.0, -41.0, -9.0, -2.5, -1.3] {
            let points = vec![(0.0, 10f64.powf(top)), (1.0, 10f64.powf(bottom))];
            let svg = render(&spec("ends", Scale::Log10), &[series("s", points)]);
            let y = tick_labels(&svg, 'y');
            assert!(y.len() >= 2, "{top} {bottom}: {y:?}");
            for w in y.windows(2) {
                assert!(
                    (w[1].1 - w[0].1).abs() >= 14.0,
                    "{top} {bottom}: labels {y:?} overlap"
                );
            }
        }
    }
}

#[test]
fn reference_lines_have_their_own_legend_entry() {
    let points: Vec<(f64, f64)> = LENGTHS.iter().map(|&l| (l, 1.0 / l.sqrt())).collect();
    let chart = Chart::new(sweep_spec("with baseline", Scale::Linear))
        .series(Series::new("rnn", points))
        .reference("memoryless baseline (0.125)", 0.125)
        .reference("solved: accuracy ≥ 0.99", 0.99)
        .y_include(0.0, 1.0);
    let svg = write(&chart);
    assert!(has_text(&svg, "memoryless baseline (0.125)"));
    assert!(has_text(&svg, "solved: accuracy ≥ 0.99"));
    // Drawn in the reference grey, across the plot.
    assert!(svg.contains("#444444"));
    let y: Vec<String> = tick_labels(&svg, 'y').into_iter().map(|l| l.0).collect();
    assert_eq!(y.first().map(String::as_str), Some("0.0"), "{y:?}");
    assert_eq!(y.last().map(String::as_str), Some("1.0"), "{y:?}");
    assert_legend_clear(&svg);
}

#[test]
fn legend_goes_inside_only_where_no_data_is() {
    // A decay from the top left to the bottom right leaves the upper right free.
    let svg = render(
        &spec("decay", Scale::Log10),
        &[series("rnn", decay(30, 0.3))],
    );
    let b = legend_box(&svg);
    assert!(b.2 <= 800.0, "inside: the canvas keeps its width, {b:?}");
    assert!(svg.contains("width=\"800\""));
    assert_legend_clear(&svg);
}

#[test]
fn legend_moves_outside_when_every_corner_has_data() {
    // Curves through all four corners.
    let up: Vec<(f64, f64)> = (0..=20).map(|k| (k as f64, k as f64)).collect();
    let down: Vec<(f64, f64)> = (0..=20).map(|k| (k as f64, 20.0 - k as f64)).collect();
    let svg = render(
        &spec("crossing", Scale::Linear),
        &[series("up", up), series("down", down)],
    );
    let b = legend_box(&svg);
    assert!(b.0 >= 800.0, "outside, right of the plot: {b:?}");
    assert_legend_clear(&svg);
}

#[test]
fn a_24_entry_legend_never_covers_the_data() {
    let mut chart = Chart::new(sweep_spec("depth", Scale::Linear));
    for g in 0..12 {
        let init: Vec<(f64, f64)> = LENGTHS
            .iter()
            .map(|&l| (l, 0.5 + 0.04 * g as f64 - 0.001 * l))
            .collect();
        let trained: Vec<(f64, f64)> = init.iter().map(|&(l, v)| (l, v + 0.2)).collect();
        let style = SeriesStyle::nth(g);
        chart = chart
            .styled(
                Series::new(format!("lstm layers={} hidden=64 at init", g + 1), init),
                style,
            )
            .styled(
                Series::new(format!("lstm layers={} hidden=64 trained", g + 1), trained),
                style.dashed(),
            );
    }
    let svg = write(&chart);
    assert_legend_clear(&svg);
    let (_, y0, _, y1) = legend_box(&svg);
    // Every entry fits on the canvas.
    let height: f64 = svg
        .split("height=\"")
        .nth(1)
        .and_then(|h| h.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(y0 >= 0.0 && y1 <= height, "{y0} {y1} {height}");
    assert!(has_text(&svg, "lstm layers=12 hidden=64 trained"));
}

#[test]
fn styles_stay_distinct_past_ten_series() {
    let series: Vec<Series> = (0..12)
        .map(|i| {
            series(
                &format!("s{i}"),
                vec![(0.0, i as f64), (1.0, i as f64 + 0.5)],
            )
        })
        .collect();
    let svg = render(&spec("twelve", Scale::Linear), &series);
    // Series 10 and 11 reuse colours 0 and 1 with square markers instead of circles.
    assert_eq!(data_circles(&svg).len(), 20);
    assert!(count(&svg, "<rect") >= 4 + 2);
}

#[test]
fn flagged_points_are_marked_and_named() {
    let points: Vec<(f64, f64)> = LENGTHS.iter().map(|&l| (l, 10.0 / l)).collect();
    let chart = Chart::new(sweep_spec("diverged", Scale::Log10)).flagged(
        Series::new("rnn relu (1 diverged)", points),
        SeriesStyle::nth(0),
        vec![5],
    );
    let svg = write(&chart);
    assert!(has_text(&svg, "rnn relu (1 diverged)"));
    assert!(has_text(&svg, "diverged run"));
    assert_legend_clear(&svg);
}

#[test]
fn gradient_plot_legend_names_training_steps() {
    let probe = |step: usize| GradientProbe {
        step,
        rows: (0..10)
            .map(|d| GradientRow {
                step,
                layer: 0,
                timestep: 10 - d,
                distance: d,
                grad_h: 0.5f64.powi(d as i32 + 1),
                grad_c: None,
                grad_w: 0.0,
            })
            .collect(),
        summaries: vec![],
        diagnostics: vec![],
        source_rows: vec![],
        source_signal: vec![],
        update_shares: vec![],
        theory: vec![],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.svg");
    gradient_plot(&path, "t", &[probe(0), probe(300)], 0).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(has_text(&svg, "training step 0"), "{:?}", texts(&svg));
    assert!(has_text(&svg, "training step 300"));
    assert!(!has_text(&svg, "step 0"));
}
