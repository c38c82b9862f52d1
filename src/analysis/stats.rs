//! Small-sample statistics for sweep verdicts: how sure can we be about "k of n seeds solved", is
//! one cell's solved count at a length really larger than another's, and at which length does a
//! cell go from mostly solving to mostly failing.
//!
//! Everything here is a pure function of its arguments (the bootstrap takes its RNG seed as an
//! argument), returns an error instead of panicking on inputs it cannot use, and states its formula
//! in its doc comment.

use ndarray_rand::rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// z for a two-sided 95% interval: Φ⁻¹(0.975).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// A closed interval [low, high].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// Whether `low ≤ x ≤ high`.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Wilson score interval for a binomial proportion with `successes` of `trials` (Wilson 1927):
///
/// with p̂ = k/n,
/// centre = (p̂ + z²/2n) / (1 + z²/n),
/// half-width = z / (1 + z²/n) · √(p̂(1 − p̂)/n + z²/4n²),
/// interval = [centre − half-width, centre + half-width], clipped to [0, 1] (exactly 0 for k = 0
/// and exactly 1 for k = n).
///
/// Unlike the Wald interval p̂ ± z√(p̂(1−p̂)/n) it is not degenerate at k = 0 or k = n and its
/// coverage stays near nominal for the 3–10 trials of a sweep (Newcombe 1998; Brown, Cai and
/// DasGupta 2001). Errors when `trials` is 0, `successes > trials` or `z` is not a positive number.
pub fn wilson_interval(successes: usize, trials: usize, z: f64) -> Result<Interval> {
    if trials == 0 {
        return Err(Error::invalid(
            "trials",
            "a proportion needs at least one trial",
        ));
    }
    if successes > trials {
        return Err(Error::invalid(
            "successes",
            format!("{successes} successes in {trials} trials"),
        ));
    }
    if !(z.is_finite() && z > 0.0) {
        return Err(Error::invalid(
            "z",
            format!("must be a positive number, got {z}"),
        ));
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half_width = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Ok(Interval {
        low: if successes == 0 {
            0.0
        } else {
            (centre - half_width).max(0.0)
        },
        high: if successes == trials {
            1.0
        } else {
            (centre + half_width).min(1.0)
        },
    })
}

/// The 95% Wilson score interval of `successes` / `trials` ([`wilson_interval`] with [`Z_95`]).
pub fn wilson_95(successes: usize, trials: usize) -> Result<Interval> {
    wilson_interval(successes, trials, Z_95)
}

/// p-values of Fisher's exact test on the 2×2 table
///
/// ```text
///             success   failure
/// group 1     k1        n1 − k1
/// group 2     k2        n2 − k2
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FisherExact {
    /// One-sided, alternative "group 1 succeeds more often than group 2": P(X ≥ k1).
    pub p_first_greater: f64,
    /// One-sided, alternative "group 1 succeeds less often than group 2": P(X ≤ k1).
    pub p_first_less: f64,
    /// Two-sided: the sum of P(X = x) over every x with P(X = x) ≤ P(X = k1) (R's `fisher.test`
    /// rule, with the same relative tolerance 1e-7 for ties).
    pub p_two_sided: f64,
}

/// Fisher's exact test for k1/n1 against k2/n2 (Fisher 1935; Agresti 2002, §3.5).
///
/// Conditional on the margins, group 1's success count X is hypergeometric:
/// P(X = x) = C(n1, x) · C(n2, s − x) / C(n1 + n2, s), with s = k1 + k2 and
/// max(0, s − n2) ≤ x ≤ min(n1, s). The probabilities are computed in log space through the ratio
/// P(x + 1)/P(x) = (n1 − x)(s − x) / ((x + 1)(n2 − s + x + 1)), so no factorial overflows.
///
/// A group with no trials makes the table uninformative: every p is 1. Errors when a group has more
/// successes than trials.
pub fn fisher_exact(k1: usize, n1: usize, k2: usize, n2: usize) -> Result<FisherExact> {
    if k1 > n1 || k2 > n2 {
        return Err(Error::invalid(
            "table",
            format!("{k1}/{n1} against {k2}/{n2}: more successes than trials"),
        ));
    }
    let total_successes = k1 + k2;
    let x_min = total_successes.saturating_sub(n2);
    let x_max = n1.min(total_successes);
    // log of P(x) up to a constant, from x_min upwards
    let mut log_weights = Vec::with_capacity(x_max - x_min + 1);
    let mut log_weight = 0.0_f64;
    log_weights.push(log_weight);
    for x in x_min..x_max {
        let ratio = ((n1 - x) as f64 * (total_successes - x) as f64)
            / ((x + 1) as f64 * (n2 + x + 1 - total_successes) as f64);
        log_weight += ratio.ln();
        log_weights.push(log_weight);
    }
    let max_log = log_weights
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = log_weights.iter().map(|w| (w - max_log).exp()).collect();
    let total: f64 = weights.iter().sum();
    let probability = |x: usize| weights[x - x_min] / total;
    let observed = probability(k1);
    let sum_over = |keep: &dyn Fn(usize) -> bool| -> f64 {
        (x_min..=x_max)
            .filter(|&x| keep(x))
            .map(probability)
            .sum::<f64>()
            .min(1.0)
    };
    Ok(FisherExact {
        p_first_greater: sum_over(&|x| x >= k1),
        p_first_less: sum_over(&|x| x <= k1),
        p_two_sided: sum_over(&|x| probability(x) <= observed * (1.0 + 1e-7)),
    })
}

/// Holm's step-down adjustment of m p-values (Holm 1979), returned in input order:
///
/// sort p ascending, p_(1) ≤ … ≤ p_(m); adjusted p_(i) = max over j ≤ i of min(1, (m − j + 1)·p_(j)).
///
/// Rejecting every hypothesis whose adjusted p is ≤ α controls the family-wise error rate at α for
/// any dependence between the tests. A NaN p counts as 1.
pub fn holm_adjusted(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let clean: Vec<f64> = p_values
        .iter()
        .map(|&p| if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) })
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean[a].total_cmp(&clean[b]));
    let mut adjusted = vec![1.0; m];
    let mut running_max = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running_max = running_max.max(((m - rank) as f64 * clean[i]).min(1.0));
        adjusted[i] = running_max;
    }
    adjusted
}

/// A fitted logistic curve P(success | x) = 1 / (1 + exp(−(intercept + slope·x))).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticFit {
    pub intercept: f64,
    pub slope: f64,
}

impl LogisticFit {
    /// P(success) at `x`.
    pub fn probability(&self, x: f64) -> f64 {
        1.0 / (1.0 + (-(self.intercept + self.slope * x)).exp())
    }
}

/// How binary outcomes against a covariate x are separated, which decides whether the logistic
/// maximum-likelihood estimate exists (Albert and Anderson 1984): with one covariate it exists
/// exactly when the successes' and the failures' x ranges overlap in more than a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Separation {
    /// No outcomes at all.
    Empty,
    /// Every outcome a success.
    AllSuccesses,
    /// Every outcome a failure.
    AllFailures,
    /// Every success at x ≤ `max_success_x` ≤ `min_failure_x` ≤ every failure's x (complete
    /// separation when the two differ, quasi-complete when they are equal).
    SuccessesBelow {
        max_success_x: f64,
        min_failure_x: f64,
    },
    /// Every failure at x ≤ `max_failure_x` ≤ `min_success_x` ≤ every success's x.
    SuccessesAbove {
        max_failure_x: f64,
        min_success_x: f64,
    },
    /// The two x ranges overlap: the maximum-likelihood estimate exists and is unique.
    Overlap,
}

/// Classifies `outcomes` ((x, success) pairs) as in [`Separation`].
pub fn separation(outcomes: &[(f64, bool)]) -> Separation {
    let xs = |success: bool| outcomes.iter().filter(move |o| o.1 == success).map(|o| o.0);
    let (Some(min_success_x), Some(max_success_x)) =
        (xs(true).reduce(f64::min), xs(true).reduce(f64::max))
    else {
        return if outcomes.is_empty() {
            Separation::Empty
        } else {
            Separation::AllFailures
        };
    };
    let (Some(min_failure_x), Some(max_failure_x)) =
        (xs(false).reduce(f64::min), xs(false).reduce(f64::max))
    else {
        return Separation::AllSuccesses;
    };
    if max_success_x <= min_failure_x {
        Separation::SuccessesBelow {
            max_success_x,
            min_failure_x,
        }
    } else if max_failure_x <= min_success_x {
        Separation::SuccessesAbove {
            max_failure_x,
            min_success_x,
        }
    } else {
        Separation::Overlap
    }
}

/// Maximum-likelihood logistic regression of binary outcomes on one covariate, by Newton–Raphson
/// (equivalently IRLS) with step halving:
///
/// with p_i = 1/(1 + exp(−(a + b·x_i))), maximise ℓ(a, b) = Σ y_i ln p_i + (1 − y_i) ln(1 − p_i);
/// score g = Σ (y_i − p_i)·(1, x_i), information H = Σ p_i(1 − p_i)·(1, x_i)ᵀ(1, x_i);
/// step (a, b) += H⁻¹g, halved until ℓ does not fall; stop when the step is below 1e-10.
///
/// x is centred at its mean while fitting (the result is for the original x). Errors when an x is
/// not finite or the outcomes are separated ([`separation`] is not `Overlap`): then the likelihood
/// has no maximum and the slope runs off to ±∞.
pub fn fit_logistic(outcomes: &[(f64, bool)]) -> Result<LogisticFit> {
    if outcomes.iter().any(|o| !o.0.is_finite()) {
        return Err(Error::invalid(
            "x",
            "every covariate must be a finite number",
        ));
    }
    let separated = separation(outcomes);
    if separated != Separation::Overlap {
        return Err(Error::invalid(
            "outcomes",
            format!("the maximum-likelihood estimate does not exist ({separated:?})"),
        ));
    }
    let n = outcomes.len() as f64;
    let x_mean = outcomes.iter().map(|o| o.0).sum::<f64>() / n;
    let points: Vec<(f64, f64)> = outcomes
        .iter()
        .map(|&(x, y)| (x - x_mean, if y { 1.0 } else { 0.0 }))
        .collect();
    let log_likelihood = |a: f64, b: f64| -> f64 {
        points
            .iter()
            .map(|&(x, y)| {
                let eta = a + b * x;
                // ln p = −ln(1 + e^−η), ln(1 − p) = −ln(1 + e^η), computed without overflow
                let softplus = |t: f64| t.max(0.0) + (-t.abs()).exp().ln_1p();
                -(y * softplus(-eta) + (1.0 - y) * softplus(eta))
            })
            .sum()
    };
    let success_share = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut a, mut b) = ((success_share / (1.0 - success_share)).ln(), 0.0_f64);
    let mut current = log_likelihood(a, b);
    for _ in 0..200 {
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(x, y) in &points {
            let p = 1.0 / (1.0 + (-(a + b * x)).exp());
            let w = p * (1.0 - p);
            g0 += y - p;
            g1 += (y - p) * x;
            h00 += w;
            h01 += w * x;
            h11 += w * x * x;
        }
        let det = h00 * h11 - h01 * h01;
        if !(det.is_finite() && det > 0.0) {
            return Err(Error::invalid(
                "outcomes",
                "the logistic information matrix is singular",
            ));
        }
        let (mut da, mut db) = ((h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det);
        // a NaN likelihood counts as no improvement
        let improves = |next: f64| next >= current;
        let mut halvings = 0;
        let mut next = log_likelihood(a + da, b + db);
        while !improves(next) && halvings < 50 {
            da /= 2.0;
            db /= 2.0;
            next = log_likelihood(a + da, b + db);
            halvings += 1;
        }
        if !improves(next) {
            break; // no step improves ℓ: at the maximum up to rounding
        }
        a += da;
        b += db;
        current = next;
        if da.abs().max(db.abs()) < 1e-10 {
            return Ok(LogisticFit {
                intercept: a - b * x_mean,
                slope: b,
            });
        }
    }
    if a.is_finite() && b.is_finite() {
        Ok(LogisticFit {
            intercept: a - b * x_mean,
            slope: b,
        })
    } else {
        Err(Error::invalid(
            "outcomes",
            "the logistic fit did not converge",
        ))
    }
}

/// The length at which P(solved) = 1/2 (L50), from per-run (length, solved) outcomes.
#[derive(Debug, Clone, PartialEq)]
pub enum LengthAtHalf {
    /// The logistic fit of P(solved) against ln(length) exists and falls with length:
    /// L50 = exp(−intercept / slope).
    Estimated { length: f64, fit: LogisticFit },
    /// Every run solved: L50 is beyond the longest length tested.
    AboveLongest { longest: f64 },
    /// No run solved: L50 is below the shortest length tested.
    BelowShortest { shortest: f64 },
    /// Every solved run is at a length no longer than every failed one (separation): the fitted
    /// slope runs off to −∞ and the fit tends to a step, so only a bracket `low ≤ L50 ≤ high` is
    /// estimable (`None`: open on that side). With complete separation the bracket is (longest
    /// solved length, shortest failed length); when both meet at one length L* with solved
    /// fraction q there, it is (L*, next length) for q > 1/2, (previous length, L*) for q < 1/2 and
    /// L* itself for q = 1/2.
    Bracketed { low: Option<f64>, high: Option<f64> },
    /// No L50 can be given, for the reason stated.
    NotEstimable { reason: String },
}

impl LengthAtHalf {
    /// The point estimate, when there is one.
    pub fn length(&self) -> Option<f64> {
        match self {
            LengthAtHalf::Estimated { length, .. } => Some(*length),
            _ => None,
        }
    }

    /// `31.6`, `> 200 (all solved)`, `between 20 and 50 (separated; no logistic estimate)`, …
    pub fn text(&self) -> String {
        match self {
            LengthAtHalf::Estimated { length, .. } => format_length(*length),
            LengthAtHalf::AboveLongest { longest } => {
                format!("> {} (all solved)", format_length(*longest))
            }
            LengthAtHalf::BelowShortest { shortest } => {
                format!("< {} (none solved)", format_length(*shortest))
            }
            LengthAtHalf::Bracketed { low, high } => {
                let bracket = match (low, high) {
                    (Some(l), Some(h)) if l == h => format!("≈ {}", format_length(*l)),
                    (Some(l), Some(h)) => {
                        format!("between {} and {}", format_length(*l), format_length(*h))
                    }
                    (Some(l), None) => format!("≥ {}", format_length(*l)),
                    (None, Some(h)) => format!("≤ {}", format_length(*h)),
                    (None, None) => "anywhere".into(),
                };
                format!("{bracket} (separated; no logistic estimate)")
            }
            LengthAtHalf::NotEstimable { reason } => format!("not estimable ({reason})"),
        }
    }
}

/// A length with at most 3 significant digits after the point: `31.6`, `200`, `1.25e4`.
pub fn format_length(length: f64) -> String {
    if !length.is_finite() {
        format!("{length}")
    } else if length >= 1e4 {
        format!("{length:.2e}")
    } else if length >= 100.0 {
        format!("{length:.0}")
    } else {
        let text = format!("{length:.1}");
        text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
    }
}

/// L50 from (length, solved) outcomes: the length where a logistic fit of P(solved) against
/// ln(length) (maximum likelihood, [`fit_logistic`]) crosses 1/2, i.e. with
/// P = 1/(1 + exp(−(a + b·ln L))), L50 = exp(−a/b).
///
/// Without a maximum-likelihood estimate the answer says why instead of giving a number: all
/// solved / none solved (a one-sided bound), separated (a bracket), solved only at the longer
/// lengths, one length only, or a fit that does not fall with length (b ≥ 0).
pub fn length_at_half(outcomes: &[(f64, bool)]) -> LengthAtHalf {
    if outcomes.iter().any(|o| !(o.0.is_finite() && o.0 > 0.0)) {
        return LengthAtHalf::NotEstimable {
            reason: "a length is not a positive number".into(),
        };
    }
    let lengths = || outcomes.iter().map(|o| o.0);
    let shortest = lengths().fold(f64::INFINITY, f64::min);
    let longest = lengths().fold(f64::NEG_INFINITY, f64::max);
    match separation(outcomes) {
        Separation::Empty => LengthAtHalf::NotEstimable {
            reason: "no runs".into(),
        },
        Separation::AllSuccesses => LengthAtHalf::AboveLongest { longest },
        Separation::AllFailures => LengthAtHalf::BelowShortest { shortest },
        Separation::SuccessesBelow {
            max_success_x,
            min_failure_x,
        } if max_success_x < min_failure_x => LengthAtHalf::Bracketed {
            low: Some(max_success_x),
            high: Some(min_failure_x),
        },
        Separation::SuccessesBelow { max_success_x, .. } => {
            // quasi-complete: solved and failed runs meet at one length
            let step = max_success_x;
            let at_step = || outcomes.iter().filter(|o| o.0 == step);
            let solved_share = at_step().filter(|o| o.1).count() as f64 / at_step().count() as f64;
            let next_longer = lengths().filter(|&l| l > step).reduce(f64::min);
            let next_shorter = lengths().filter(|&l| l < step).reduce(f64::max);
            if solved_share > 0.5 {
                LengthAtHalf::Bracketed {
                    low: Some(step),
                    high: next_longer,
                }
            } else if solved_share < 0.5 {
                LengthAtHalf::Bracketed {
                    low: next_shorter,
                    high: Some(step),
                }
            } else {
                LengthAtHalf::Bracketed {
                    low: Some(step),
                    high: Some(step),
                }
            }
        }
        Separation::SuccessesAbove { .. } => LengthAtHalf::NotEstimable {
            reason: "solved only at the longer lengths".into(),
        },
        Separation::Overlap => {
            let logged: Vec<(f64, bool)> = outcomes.iter().map(|&(l, s)| (l.ln(), s)).collect();
            match fit_logistic(&logged) {
                Ok(fit) if fit.slope < 0.0 => {
                    let length = (-fit.intercept / fit.slope).exp();
                    if length.is_finite() && length > 0.0 {
                        LengthAtHalf::Estimated { length, fit }
                    } else {
                        LengthAtHalf::NotEstimable {
                            reason: "the fitted curve crosses 1/2 out of numeric range".into(),
                        }
                    }
                }
                Ok(_) => LengthAtHalf::NotEstimable {
                    reason: "the fitted P(solved) does not fall with length".into(),
                },
                Err(e) => LengthAtHalf::NotEstimable {
                    reason: e.to_string(),
                },
            }
        }
    }
}

/// A percentile bootstrap interval for L50 over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapInterval {
    /// Resamples drawn.
    pub resamples: usize,
    /// Resamples whose L50 was estimable ([`LengthAtHalf::Estimated`]).
    pub estimable: usize,
    /// The 2.5% and 97.5% percentiles of the estimable resamples' L50; `None` when none was.
    pub interval: Option<Interval>,
}

impl BootstrapInterval {
    /// The fraction of resamples whose L50 was not estimable.
    pub fn not_estimable_fraction(&self) -> f64 {
        if self.resamples == 0 {
            1.0
        } else {
            (self.resamples - self.estimable) as f64 / self.resamples as f64
        }
    }
}

/// The number of bootstrap resamples compare uses.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// The RNG seed compare's bootstraps use, so a report is the same every time it is written.
pub const BOOTSTRAP_SEED: u64 = 20_261_128;

/// Percentile bootstrap 95% interval of [`length_at_half`] over seeds (Efron and Tibshirani 1993,
/// ch. 13): `per_seed[s]` holds seed s's (length, solved) outcomes across lengths. Each resample
/// draws as many seeds as there are, uniformly with replacement (a seed's outcomes stay together),
/// and computes L50; the interval is the 2.5% and 97.5% percentiles (linear interpolation between
/// order statistics) of the resamples where L50 is estimable. Deterministic: ChaCha8 seeded by
/// `rng_seed`.
///
/// The interval is conditional on estimability: read it together with
/// [`BootstrapInterval::not_estimable_fraction`]. Errors when there are no seeds or no resamples.
pub fn bootstrap_length_at_half(
    per_seed: &[Vec<(f64, bool)>],
    resamples: usize,
    rng_seed: u64,
) -> Result<BootstrapInterval> {
    if per_seed.is_empty() {
        return Err(Error::invalid(
            "seeds",
            "a bootstrap over seeds needs a seed",
        ));
    }
    if resamples == 0 {
        return Err(Error::invalid("resamples", "must be at least 1"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
    let mut estimates = Vec::with_capacity(resamples);
    let mut pooled = Vec::new();
    for _ in 0..resamples {
        pooled.clear();
        for _ in 0..per_seed.len() {
            pooled.extend_from_slice(&per_seed[rng.random_range(0..per_seed.len())]);
        }
        if let Some(length) = length_at_half(&pooled).length() {
            estimates.push(length);
        }
    }
    estimates.sort_by(f64::total_cmp);
    let interval = (!estimates.is_empty()).then(|| Interval {
        low: percentile(&estimates, 0.025),
        high: percentile(&estimates, 0.975),
    });
    Ok(BootstrapInterval {
        resamples,
        estimable: estimates.len(),
        interval,
    })
}

/// The q-quantile of non-empty ascending `sorted`, interpolating linearly between order statistics
/// at position q·(n − 1) (Hyndman and Fan 1996, type 7).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = position - below as f64;
    sorted[below] + fraction * (sorted[above] - sorted[below])
}

/// The geometric mean of the values that are finite and > 0; None when none is.
pub fn geometric_mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let logs: Vec<f64> = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(f64::ln)
        .collect();
    (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Newcombe R. G. (1998), "Two-sided confidence intervals for the single proportion:
    /// comparison of seven methods", Statistics in Medicine 17, 857–872, Table I, method 3 (Wilson
    /// score without continuity correction), printed to 4 decimals.
    #[test]
    fn wilson_matches_newcombe_1998_table_i() {
        for (k, n, low, high) in [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ] {
            let ci = wilson_95(k, n).unwrap();
            assert!(
                close(ci.low, low, 5e-5) && close(ci.high, high, 5e-5),
                "{k}/{n}: {ci:?}, Newcombe gives [{low}, {high}]"
            );
        }
    }

    /// By hand from the formula with z = 1.96: 3/5 → centre (0.6 + 0.3841)/1.7683 = 0.5565,
    /// half-width 1.1084·√(0.048 + 0.0384) = 0.3257, so [0.2307, 0.8824] (the interval quoted in the
    /// issue as `3/5 [0.23, 0.88]`); k = n gives [n/(n + z²), 1]: 3/3 → [0.4385, 1].
    #[test]
    fn wilson_hand_values_and_edges() {
        let ci = wilson_95(3, 5).unwrap();
        assert!(
            close(ci.low, 0.2307, 1e-4) && close(ci.high, 0.8824, 1e-4),
            "{ci:?}"
        );
        let all = wilson_95(3, 3).unwrap();
        assert!(close(all.low, 3.0 / (3.0 + Z_95 * Z_95), 1e-12), "{all:?}");
        assert_eq!(all.high, 1.0);
        let none = wilson_95(0, 3).unwrap();
        assert_eq!(none.low, 0.0);
        assert!(close(none.high, 1.0 - all.low, 1e-12), "symmetry: {none:?}");
        assert!(wilson_95(0, 0).is_err());
        assert!(wilson_95(4, 3).is_err());
        assert!(wilson_interval(1, 3, f64::NAN).is_err());
        assert!(wilson_interval(1, 3, -1.0).is_err());
    }

    /// Agresti A. (2002), Categorical Data Analysis, 2nd ed., §3.5.2, Table 3.8 (Fisher's tea
    /// tasting): 3 of 4 "milk first" cups guessed right against 1 of 4: one-sided P = 0.243
    /// (= 17/70 = 0.2429), two-sided 0.486 (= 34/70).
    #[test]
    fn fisher_matches_agresti_tea_tasting() {
        let f = fisher_exact(3, 4, 1, 4).unwrap();
        assert!(close(f.p_first_greater, 17.0 / 70.0, 1e-12), "{f:?}");
        assert!(close(f.p_two_sided, 34.0 / 70.0, 1e-12), "{f:?}");
        assert!(close(f.p_first_less, 69.0 / 70.0, 1e-12), "{f:?}");
    }

    /// Wikipedia, "Fisher's exact test", worked example (dieting men/women: 1/10 against 11/14):
    /// P(table) = 0.001346, one-tailed p = 0.001346 + 0.000034 = 0.001380, two-tailed 0.002759.
    #[test]
    fn fisher_matches_the_dieting_example() {
        let f = fisher_exact(1, 10, 11, 14).unwrap();
        assert!(close(f.p_first_less, 0.001380, 1e-6), "{f:?}");
        assert!(close(f.p_two_sided, 0.002759, 1e-6), "{f:?}");
    }

    /// n/n against 0/n: only one table is as extreme, P = 1/C(2n, n): 1/20 for n = 3, 1/184756
    /// for n = 10. An empty group leaves nothing to test.
    #[test]
    fn fisher_extremes_and_degenerate_tables() {
        let three = fisher_exact(3, 3, 0, 3).unwrap();
        assert!(close(three.p_first_greater, 0.05, 1e-12), "{three:?}");
        assert!(close(three.p_two_sided, 0.1, 1e-12), "{three:?}");
        let ten = fisher_exact(10, 10, 0, 10).unwrap();
        assert!(
            close(ten.p_first_greater, 1.0 / 184_756.0, 1e-15),
            "{ten:?}"
        );
        let empty = fisher_exact(0, 0, 2, 3).unwrap();
        assert_eq!(
            (empty.p_first_greater, empty.p_first_less, empty.p_two_sided),
            (1.0, 1.0, 1.0)
        );
        let same = fisher_exact(2, 3, 2, 3).unwrap();
        assert!(close(same.p_two_sided, 1.0, 1e-12), "{same:?}");
        assert!(fisher_exact(4, 3, 0, 3).is_err());
        let big = fisher_exact(500, 1000, 400, 1000).unwrap();
        assert!(
            big.p_first_greater > 0.0 && big.p_first_greater < 1e-5,
            "{big:?}"
        );
    }

    /// Holm (1979) by hand: p = (0.01, 0.04, 0.03) with m = 3 → sorted 0.01·3 = 0.03,
    /// 0.03·2 = 0.06, 0.04·1 = 0.04 → max-accumulated 0.03, 0.06, 0.06; in input order
    /// (0.03, 0.06, 0.06).
    #[test]
    fn holm_by_hand() {
        let adjusted = holm_adjusted(&[0.01, 0.04, 0.03]);
        for (a, e) in adjusted.iter().zip([0.03, 0.06, 0.06]) {
            assert!(close(*a, e, 1e-12), "{adjusted:?}");
        }
        assert_eq!(holm_adjusted(&[0.5, 0.9]), vec![1.0, 1.0]);
        assert_eq!(holm_adjusted(&[f64::NAN]), vec![1.0]);
        assert!(holm_adjusted(&[]).is_empty());
    }

    fn outcomes(counts: &[(f64, usize, usize)]) -> Vec<(f64, bool)> {
        counts
            .iter()
            .flat_map(|&(x, k, n)| (0..n).map(move |i| (x, i < k)))
            .collect()
    }

    /// With two distinct x values the two-parameter model is saturated, so the MLE reproduces the
    /// observed proportions exactly (closed form): 3/4 at L = 10 and 1/4 at L = 100 give
    /// slope = (logit 1/4 − logit 3/4)/(ln 100 − ln 10) = −2 ln 3 / ln 10 and L50 = √(10·100).
    #[test]
    fn logistic_fit_matches_the_saturated_closed_form() {
        let data = outcomes(&[(10.0, 3, 4), (100.0, 1, 4)]);
        let LengthAtHalf::Estimated { length, fit } = length_at_half(&data) else {
            panic!("{:?}", length_at_half(&data));
        };
        assert!(
            close(fit.slope, -2.0 * 3f64.ln() / 10f64.ln(), 1e-9),
            "{fit:?}"
        );
        assert!(close(length, 1000f64.sqrt(), 1e-7), "{length}");
        assert!(close(fit.probability(10f64.ln()), 0.75, 1e-9));
    }

    /// Three covariate values, solved by hand: x = (−1, 0, 1) with successes 3/4, 2/4, 1/4. The
    /// data are symmetric, so a = 0 and p(1) = 1 − p(−1); the score equation
    /// Σ(y − p)·x = −(3 − 4p(−1)) + (1 − 4p(1)) = 0 gives p(−1) = 3/4, so b = −logit(3/4) = −ln 3.
    /// (The first Newton step from (0, 0): g = (0, −2), H = diag(3, 2), so b = −1.)
    #[test]
    fn logistic_fit_solves_the_score_equations() {
        let data = outcomes(&[(-1.0, 3, 4), (0.0, 2, 4), (1.0, 1, 4)]);
        let fit = fit_logistic(&data).unwrap();
        let (mut g0, mut g1) = (0.0, 0.0);
        for &(x, y) in &data {
            let r = f64::from(u8::from(y)) - fit.probability(x);
            g0 += r;
            g1 += r * x;
        }
        assert!(g0.abs() < 1e-9 && g1.abs() < 1e-9, "score ({g0}, {g1})");
        assert!(fit.intercept.abs() < 1e-9, "{fit:?}");
        assert!(close(fit.slope, -(3f64.ln()), 1e-9), "{fit:?}");
    }

    #[test]
    fn separated_or_degenerate_outcomes_give_bounds_not_numbers() {
        // complete separation: solved at 5 and 10, never at 20 or 50
        let step = outcomes(&[(5.0, 3, 3), (10.0, 3, 3), (20.0, 0, 3), (50.0, 0, 3)]);
        assert_eq!(
            length_at_half(&step),
            LengthAtHalf::Bracketed {
                low: Some(10.0),
                high: Some(20.0)
            }
        );
        assert!(fit_logistic(&step).is_err());
        assert!(length_at_half(&step)
            .text()
            .starts_with("between 10 and 20"));
        // quasi-complete, mixed only at 20: the step is there, and its solved share says on
        // which side of 20 the curve crosses 1/2
        let mostly_failed = outcomes(&[(10.0, 3, 3), (20.0, 1, 3), (50.0, 0, 3)]);
        assert_eq!(
            length_at_half(&mostly_failed),
            LengthAtHalf::Bracketed {
                low: Some(10.0),
                high: Some(20.0)
            }
        );
        let mostly_solved = outcomes(&[(10.0, 3, 3), (20.0, 2, 3), (50.0, 0, 3)]);
        assert_eq!(
            length_at_half(&mostly_solved),
            LengthAtHalf::Bracketed {
                low: Some(20.0),
                high: Some(50.0)
            }
        );
        let half = outcomes(&[(10.0, 3, 3), (20.0, 2, 4), (50.0, 0, 3)]);
        assert!(length_at_half(&half).text().starts_with("≈ 20"));
        assert_eq!(
            length_at_half(&outcomes(&[(5.0, 3, 3), (10.0, 3, 3)])),
            LengthAtHalf::AboveLongest { longest: 10.0 }
        );
        assert_eq!(
            length_at_half(&outcomes(&[(5.0, 0, 3), (10.0, 0, 3)])),
            LengthAtHalf::BelowShortest { shortest: 5.0 }
        );
        // one length only, mixed: separated at a point, no slope, a one-sided bracket
        assert_eq!(
            length_at_half(&outcomes(&[(20.0, 2, 3)])),
            LengthAtHalf::Bracketed {
                low: Some(20.0),
                high: None
            }
        );
        assert_eq!(
            length_at_half(&outcomes(&[(20.0, 2, 3)])).text(),
            "≥ 20 (separated; no logistic estimate)"
        );
        assert!(matches!(
            length_at_half(&outcomes(&[(5.0, 0, 3), (10.0, 3, 3)])),
            LengthAtHalf::NotEstimable { .. }
        ));
        // rising with length despite overlap
        assert!(matches!(
            length_at_half(&outcomes(&[(5.0, 1, 4), (50.0, 3, 4)])),
            LengthAtHalf::NotEstimable { .. }
        ));
        assert!(matches!(
            length_at_half(&[]),
            LengthAtHalf::NotEstimable { .. }
        ));
        assert!(matches!(
            length_at_half(&[(0.0, true), (5.0, false)]),
            LengthAtHalf::NotEstimable { .. }
        ));
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets_the_estimate() {
        // 12 seeds whose last solved length is spread from 5 to 100 (and a few irregular ones),
        // so most resamples overlap
        let lengths = [5.0, 10.0, 20.0, 50.0, 100.0];
        let last_solved = [0, 1, 1, 2, 2, 2, 3, 3, 4, 1, 2, 3];
        let per_seed: Vec<Vec<(f64, bool)>> = last_solved
            .iter()
            .map(|&last| {
                lengths
                    .iter()
                    .enumerate()
                    .map(|(i, &l)| (l, i <= last))
                    .collect()
            })
            .collect();
        let pooled: Vec<(f64, bool)> = per_seed.iter().flatten().copied().collect();
        let point = length_at_half(&pooled).length().unwrap();
        let a = bootstrap_length_at_half(&per_seed, 1000, 7).unwrap();
        let b = bootstrap_length_at_half(&per_seed, 1000, 7).unwrap();
        assert_eq!(a, b);
        let ci = a.interval.unwrap();
        assert!(ci.low < point && point < ci.high, "{point} outside {ci:?}");
        assert!(ci.low >= 5.0 * 0.5 && ci.high <= 100.0 * 2.0, "{ci:?}");
        assert!(a.not_estimable_fraction() < 0.05, "{a:?}");
        assert_ne!(bootstrap_length_at_half(&per_seed, 1000, 8).unwrap(), a);
    }

    #[test]
    fn bootstrap_reports_when_l50_is_never_estimable() {
        // every seed solves up to 10 and fails from 20: every resample is separated
        let seed = vec![(10.0, true), (20.0, false)];
        let result = bootstrap_length_at_half(&[seed.clone(), seed], 500, 1).unwrap();
        assert_eq!(result.estimable, 0);
        assert_eq!(result.interval, None);
        assert_eq!(result.not_estimable_fraction(), 1.0);
        assert!(bootstrap_length_at_half(&[], 10, 1).is_err());
        assert!(bootstrap_length_at_half(&[vec![]], 0, 1).is_err());
        let empty_seed = bootstrap_length_at_half(&[vec![]], 10, 1).unwrap();
        assert_eq!(empty_seed.estimable, 0);
    }

    #[test]
    fn lengths_print_compactly() {
        assert_eq!(format_length(31.6227), "31.6");
        assert_eq!(format_length(20.0), "20");
        assert_eq!(format_length(200.4), "200");
        assert_eq!(format_length(12_345.0), "1.23e4");
    }
}
