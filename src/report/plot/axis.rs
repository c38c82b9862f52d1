//! Axes of the line charts: linear and log scales, their ticks and tick labels, and the thinning
//! of labels that would collide (see the module above for the rules).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;

use super::*;
use crate::report::decade_bounds;

/// How tick labels of an axis are written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum LabelFormat {
    /// Linear: fixed decimals, or `None` for scientific notation.
    Linear(Option<usize>),
    /// Log: the value 10^t written plainly near 1, `2e-5` style far from it.
    Log,
    /// Log with fixed decimals (fine ticks within one decade).
    LogFixed(usize),
}

/// An axis: its drawn range, tick positions (labelled and light) and how ticks are labelled.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
    pub(super) light: Vec<f64>,
    pub(super) format: LabelFormat,
}

impl Axis {
    /// The axis for mapped values `values` (empty: a default range). `data_ticks`: tick at the
    /// values themselves when there are few distinct ones.
    pub(super) fn new(values: &[f64], scale: Scale, data_ticks: bool) -> Axis {
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

    pub(super) fn label(&self, v: f64) -> String {
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
    pub(super) fn thin(&mut self, pixels: f64, extent: impl Fn(&str) -> f64) {
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
pub(super) fn linear_decimals(values: &[f64]) -> Option<usize> {
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
pub(super) fn log_label(t: f64) -> String {
    log_label_plain_from(t, -2)
}

/// [`log_label`] with plain numbers from 10^`plain_from` up to 1e5.
pub(super) fn log_label_plain_from(t: f64, plain_from: i64) -> String {
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
pub(super) fn log_axis(min: f64, max: f64) -> Axis {
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
pub(super) fn log_125_axis(min: f64, max: f64) -> Axis {
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
pub(super) fn log_fine_axis(min: f64, max: f64) -> Option<Axis> {
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
pub(super) fn log_decade_axis(lo: i32, hi: i32) -> Axis {
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
pub(super) fn nice_steps() -> impl Iterator<Item = f64> {
    (0..19).flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
}

/// Linear axis covering `min..=max` (both finite, `min <= max`), rounded out to a 1-2-5 tick
/// step. Degenerate data (one value, spans below the smallest float step, values near
/// ±f64::MAX) falls back to an axis with just its two ends labelled: never a panic, never a
/// non-finite bound.
pub(super) fn linear_axis(min: f64, max: f64) -> Axis {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
