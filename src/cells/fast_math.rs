//! Element-wise σ and tanh over contiguous slices, the gate nonlinearities of every cell.
//!
//! For f32 the functions are branch-free polynomial approximations (Cephes-style range reduction
//! `e^x = 2^n · e^r`, |r| ≤ ln2/2, degree-6 polynomial, exponent-bit scaling) written so that LLVM
//! vectorises the loops; libm's scalar `expf`/`tanhf` dominated the profile before. They only
//! ever evaluate `e^{−|x|}`, so nothing overflows: σ and tanh saturate to exactly 0, ±1 and stay
//! NaN-free for any finite or infinite input (NaN in gives NaN out). Relative error is a few ulp
//! (tested against f64 below).
//!
//! For f64 (gradient checks, PyTorch parity, vanished-gradient measurements) they are exactly
//! `1 / (1 + e^{−x})` and `tanh` from std: the dispatch is on the element type, resolved at
//! compile time.

use ndarray::NdFloat;
use std::any::TypeId;

use super::sigmoid;

/// `xs[i] ← σ(xs[i])`.
#[inline]
pub fn sigmoid_inplace<F: NdFloat>(xs: &mut [F]) {
    match as_f32_mut(xs) {
        Some(xs) => xs.iter_mut().for_each(|v| *v = sigmoid_f32(*v)),
        None => xs.iter_mut().for_each(|v| *v = sigmoid(*v)),
    }
}

/// `xs[i] ← tanh(xs[i])`.
#[inline]
pub fn tanh_inplace<F: NdFloat>(xs: &mut [F]) {
    match as_f32_mut(xs) {
        Some(xs) => xs.iter_mut().for_each(|v| *v = tanh_f32(*v)),
        None => xs.iter_mut().for_each(|v| *v = v.tanh()),
    }
}

/// `out[i] ← tanh(xs[i])`; `out` and `xs` have the same length.
#[inline]
pub fn tanh_into<F: NdFloat>(out: &mut [F], xs: &[F]) {
    assert_eq!(out.len(), xs.len(), "tanh_into: lengths differ");
    match (as_f32_mut(out), as_f32(xs)) {
        (Some(out), Some(xs)) => out.iter_mut().zip(xs).for_each(|(o, &x)| *o = tanh_f32(x)),
        _ => out.iter_mut().zip(xs).for_each(|(o, &x)| *o = x.tanh()),
    }
}

/// The slice as `&mut [f32]` when F is f32.
#[inline(always)]
pub(crate) fn as_f32_mut<F: 'static>(xs: &mut [F]) -> Option<&mut [f32]> {
    if TypeId::of::<F>() == TypeId::of::<f32>() {
        // SAFETY: F is f32 (same TypeId), so the cast is the identity on type, length and layout.
        Some(unsafe { &mut *(xs as *mut [F] as *mut [f32]) })
    } else {
        None
    }
}

/// The slice as `&[f32]` when F is f32.
#[inline(always)]
pub(crate) fn as_f32<F: 'static>(xs: &[F]) -> Option<&[f32]> {
    if TypeId::of::<F>() == TypeId::of::<f32>() {
        // SAFETY: F is f32 (same TypeId).
        Some(unsafe { &*(xs as *const [F] as *const [f32]) })
    } else {
        None
    }
}

/// `e^x` for x ≤ 0 (x > 0 is not used and not accurate). Returns exactly 0 below ln(f32::MIN_POSITIVE) ≈ −87.34, where
/// `e^x` leaves the normal range; NaN stays NaN.
// the polynomial coefficients are Cephes' as published
#[allow(clippy::excessive_precision)]
#[inline(always)]
fn exp_nonpositive_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln2 split in a part exact in f32 and the rest (Cephes)
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits
    const ROUND: f32 = 12_582_912.0;
    const LO: f32 = -87.336_544; // ln(f32::MIN_POSITIVE)
    let xc = if x < LO { LO } else { x };
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND;
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = xc - n * LN2_HI - n * LN2_LO;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let y = p * r2 + r + 1.0;
    // n ∈ [−126, 0] here, so n + 127 is a valid normal exponent
    let scale = f32::from_bits(((ni + 127) as u32) << 23);
    if x < LO {
        0.0
    } else {
        y * scale
    }
}

/// σ(x) = 1 / (1 + e^{−x}), from e = e^{−|x|}: `1 / (1 + e)` for x ≥ 0, `e / (1 + e)` below.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_nonpositive_f32(-x.abs());
    let d = 1.0 / (1.0 + e);
    if x >= 0.0 {
        d
    } else {
        e * d
    }
}

/// tanh(x): an odd polynomial for |x| < 0.625 (Cephes `tanhf`), else
/// `sign(x) · (1 − e) / (1 + e)` with e = e^{−2|x|}.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small =
        ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
            - 3.333_328_2e-1)
            * z
            * x
            + x;
    let e = exp_nonpositive_f32(-2.0 * a);
    let large = (1.0 - e) / (1.0 + e);
    let large = f32::from_bits(large.to_bits() | (x.to_bits() & 0x8000_0000));
    if a < 0.625 {
        small
    } else {
        large
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Max relative error against f64 over a dense grid on [−100, 100] plus extremes; exact values
    /// below f32's normal range must be met within `f32::MIN_POSITIVE` (flush to zero allowed).
    fn max_rel_err(f: fn(f32) -> f32, exact: fn(f64) -> f64) -> f64 {
        let mut xs: Vec<f32> = (-400_000..=400_000).map(|i| i as f32 * 2.5e-4).collect();
        xs.extend((-2000..=2000).map(|i| i as f32 * 0.07));
        xs.extend([
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            1e-8,
            -1e-8,
            87.0,
            -87.0,
            88.0,
            -88.0,
            89.0,
            -89.0,
            100.0,
            -100.0,
            1e30,
            -1e30,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ]);
        let mut worst = 0.0f64;
        for x in xs {
            let got = f(x) as f64;
            let want = exact(x as f64);
            assert!(got.is_finite(), "non-finite at {x}: {got}");
            if want.abs() < f32::MIN_POSITIVE as f64 {
                // below the normal range the result may flush to zero
                assert!(
                    (got - want).abs() <= f32::MIN_POSITIVE as f64,
                    "{x}: {got} vs {want}"
                );
            } else {
                worst = worst.max((got - want).abs() / want.abs());
            }
        }
        worst
    }

    #[test]
    fn fast_sigmoid_is_within_a_few_ulp_of_exact() {
        let err = max_rel_err(sigmoid_f32, |x| 1.0 / (1.0 + (-x).exp()));
        assert!(err < 1e-6, "{err:e}");
    }

    #[test]
    fn fast_tanh_is_within_a_few_ulp_of_exact() {
        let err = max_rel_err(tanh_f32, f64::tanh);
        assert!(err < 1e-6, "{err:e}");
    }

    #[test]
    fn saturation_is_exact_and_nan_free() {
        for x in [100.0f32, 1e30, f32::INFINITY] {
            assert_eq!(sigmoid_f32(x), 1.0);
            assert_eq!(sigmoid_f32(-x), 0.0);
            assert_eq!(tanh_f32(x), 1.0);
            assert_eq!(tanh_f32(-x), -1.0);
        }
        assert!(sigmoid_f32(f32::NAN).is_nan() && tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(sigmoid_f32(0.0), 0.5);
    }

    #[test]
    fn slices_dispatch_f32_fast_and_f64_exact() {
        let xs = [-3.0f64, -0.3, 0.0, 0.7, 5.0];
        let mut s64 = xs;
        sigmoid_inplace(&mut s64);
        let mut t64 = xs;
        tanh_inplace(&mut t64);
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(s64[i], 1.0 / (1.0 + (-x).exp()));
            assert_eq!(t64[i], x.tanh());
        }
        let mut s32 = xs.map(|x| x as f32);
        sigmoid_inplace(&mut s32);
        let mut t32 = [0.0f32; 5];
        tanh_into(&mut t32, &xs.map(|x| x as f32));
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(s32[i], sigmoid_f32(x as f32));
            assert_eq!(t32[i], tanh_f32(x as f32));
        }
    }
}
