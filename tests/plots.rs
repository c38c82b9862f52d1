//! SVG line charts and terminal log charts: files written, labels present, unplottable values
//! skipped without panics, deterministic bytes, one-line errors.

use std::path::Path;

use rnnlab::report::{line_chart_svg, text_chart_log, ChartSpec, Scale, Series};
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
    assert_eq!(count(&svg, "<circle"), 8);
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
    assert_eq!(count(&svg, "<circle"), 26, "every point is drawn");
    assert!(has_text(&svg, "1e-250"), "bottom decade labelled");
    assert!(has_text(&svg, "1"), "top decade labelled");
    assert!(!svg.contains("no positive values"));
}

#[test]
fn log_chart_spans_1e_minus_300_to_1e10() {
    let points = vec![(0.0, 1e10), (1.0, 1.0), (2.0, 1e-150), (3.0, 1e-300)];
    let svg = render(&spec("extreme", Scale::Log10), &[series("s", points)]);
    assert_eq!(count(&svg, "<circle"), 4);
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
    assert_eq!(count(&svg, "<circle"), 3);
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
    assert!(has_text(&svg, "1e-5"));

    // On a linear axis zero and negative values are drawable; non-finite ones are not.
    let svg = render(&spec("gaps", Scale::Linear), &[series("s", points)]);
    assert_eq!(count(&svg, "<circle"), 5);
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
        assert_eq!(count(&svg, "<circle"), 2, "{points:?}");
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

#[test]
fn log_x_axis_is_supported() {
    let chart = ChartSpec {
        x_scale: Scale::Log10,
        ..spec("log-log", Scale::Log10)
    };
    let points = vec![(1.0, 1.0), (10.0, 0.1), (1000.0, 1e-3), (0.0, 5.0)];
    let svg = render(&chart, &[series("power law", points)]);
    assert_eq!(
        count(&svg, "<circle"),
        3,
        "x = 0 is skipped on a log x axis"
    );
    assert!(has_text(&svg, "1e3"));
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
