//! Charts for reports: SVG line charts ([`line_chart_svg`]) and compact terminal charts
//! ([`text_chart_log`]). Plain data in, files or text out; nothing here knows about networks.
//!
//! Log axes are drawn as log10(value) on a linear axis, so ranges far beyond what floating-point
//! log coordinates handle well (1e-300..1e10) stay exact; tick labels read `5`, `0.05` near 1 and
//! `1e-300` far from it.

pub mod heatmap;
pub mod html;
pub mod lit_sentence;
mod plot;
pub mod table;
mod text_chart;

pub use heatmap::{heatmap_svg, Heatmap};
pub use plot::{
    line_chart_svg, line_chart_svg_sized, stacked_svg, Chart, ChartSpec, Dash, Marker, Reference,
    Scale, Series, SeriesStyle, StyledSeries, DEFAULT_SIZE, LEGEND_BORDER, PALETTE,
};
pub use text_chart::text_chart_log;

/// Values within this many decades of a whole power of ten count as that power, so that
/// `log10(1e-250)` rounding to -249.99999999999997 or -250.00000000000003 still gives -250.
const DECADE_SNAP: f64 = 1e-9;

/// log10 of a value drawn on a log axis: `None` when `v` is not finite or not > 0.
pub(crate) fn log10_positive(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then(|| v.log10())
}

/// Whole-decade bounds `(lo, hi)` with `lo < hi` that contain the log10 values `log_min..=log_max`
/// (both finite, `log_min <= log_max`). When all values lie in one decade or on one power of ten,
/// the range is widened so the data never sits on a degenerate axis: a single power of ten `k`
/// gives `(k - 1, k + 1)`.
pub(crate) fn decade_bounds(log_min: f64, log_max: f64) -> (i32, i32) {
    let snap = |l: f64| {
        if (l - l.round()).abs() < DECADE_SNAP {
            l.round()
        } else {
            l
        }
    };
    // log10 of any positive finite f64 lies in about -323.3..308.3: the casts cannot overflow.
    let lo = snap(log_min).floor() as i32;
    let hi = snap(log_max).ceil() as i32;
    if lo >= hi {
        (lo - 1, hi + 1)
    } else {
        (lo, hi)
    }
}

/// Tick label for the power of ten `10^k`: `"1"` for k = 0, otherwise `"1e-300"` style.
pub(crate) fn decade_label(k: i32) -> String {
    if k == 0 {
        "1".to_string()
    } else {
        format!("1e{k}")
    }
}

/// Short human form of a number for axis ranges: integers without decimals, moderate values with
/// at most three decimals (trailing zeros dropped), very large or small ones in `1.23e-7` form.
pub(crate) fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let v = v + 0.0; // turns -0.0 into 0.0
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e9 {
        format!("{v:.0}")
    } else if (1e-3..1e6).contains(&a) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decade_bounds_pad_to_whole_decades() {
        assert_eq!(decade_bounds(-2.5, 0.3), (-3, 1));
        assert_eq!(decade_bounds(1e-250f64.log10(), 0.0), (-250, 0));
        assert_eq!(
            decade_bounds(1e-300f64.log10(), 1e10f64.log10()),
            (-300, 10)
        );
        // Subnormals still give a finite decade.
        let tiny = f64::from_bits(1).log10();
        assert_eq!(decade_bounds(tiny, tiny), (-324, -323));
    }

    #[test]
    fn decade_bounds_widen_degenerate_ranges() {
        assert_eq!(decade_bounds(-3.0, -3.0), (-4, -2));
        assert_eq!(decade_bounds(0.0, 0.0), (-1, 1));
        assert_eq!(decade_bounds(0.5, 0.6), (0, 1));
    }

    #[test]
    fn log10_positive_drops_unplottable_values() {
        assert_eq!(log10_positive(100.0), Some(2.0));
        for v in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(log10_positive(v), None, "{v}");
        }
    }

    #[test]
    fn labels_and_numbers_are_short() {
        assert_eq!(decade_label(-300), "1e-300");
        assert_eq!(decade_label(0), "1");
        assert_eq!(decade_label(10), "1e10");
        assert_eq!(format_number(50.0), "50");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(0.125), "0.125");
        assert_eq!(format_number(2.5), "2.5");
        assert_eq!(format_number(1.5e-7), "1.50e-7");
    }
}
