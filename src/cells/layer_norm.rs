//! Layer normalisation over the hidden units of each row (Ba, Kiros & Hinton 2016), used on the
//! vanilla RNN's pre-activation.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, NdFloat, Zip};

/// The ε added to the variance, as in `torch.nn.LayerNorm`.
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// In place, per row: `a ← γ ⊙ x̂ + β` with `x̂ = (a − mean(a)) · rstd`, `rstd = 1/sqrt(var(a) + ε)`.
/// a, xhat: (B, H); rstd: (B); gamma, beta: (H). Caches x̂ and rstd for the backward pass.
pub fn layer_norm_forward<F: NdFloat>(
    mut a: ArrayViewMut2<F>,
    mut xhat: ArrayViewMut2<F>,
    mut rstd: ArrayViewMut1<F>,
    gamma: ArrayView1<F>,
    beta: ArrayView1<F>,
) {
    let width = F::from(a.ncols()).unwrap_or_else(F::one);
    let eps = F::from(LAYER_NORM_EPS).unwrap_or_else(F::epsilon);
    for ((mut row, mut xhat_row), r) in a
        .axis_iter_mut(Axis(0))
        .zip(xhat.axis_iter_mut(Axis(0)))
        .zip(rstd.iter_mut())
    {
        let mean = row.sum() / width;
        let var = row.fold(F::zero(), |acc, &v| acc + (v - mean) * (v - mean)) / width;
        let rs = F::one() / (var + eps).sqrt();
        *r = rs;
        Zip::from(&mut row)
            .and(&mut xhat_row)
            .and(&gamma)
            .and(&beta)
            .for_each(|v, xh, &g, &b| {
                *xh = (*v - mean) * rs;
                *v = g * *xh + b;
            });
    }
}

/// In place, per row: `d ← rstd · (d̂ − mean(d̂) − x̂ ⊙ mean(d̂ ⊙ x̂))` with `d̂ = d ⊙ γ`, where `d`
/// comes in as ∂ℓ/∂(layer-norm output) and leaves as ∂ℓ/∂a. Adds `Σ_b d ⊙ x̂` to dgamma and `Σ_b d`
/// to dbeta. d, xhat: (B, H); rstd: (B); gamma, dgamma, dbeta: (H).
pub fn layer_norm_backward<F: NdFloat>(
    mut d: ArrayViewMut2<F>,
    mut dgamma: ArrayViewMut1<F>,
    mut dbeta: ArrayViewMut1<F>,
    xhat: ArrayView2<F>,
    rstd: ArrayView1<F>,
    gamma: ArrayView1<F>,
) {
    let width = F::from(d.ncols()).unwrap_or_else(F::one);
    for ((mut row, xhat_row), &rs) in d
        .axis_iter_mut(Axis(0))
        .zip(xhat.axis_iter(Axis(0)))
        .zip(rstd.iter())
    {
        let mut mean_d = F::zero();
        let mut mean_dx = F::zero();
        Zip::from(&row)
            .and(&xhat_row)
            .and(&gamma)
            .and(&mut dgamma)
            .and(&mut dbeta)
            .for_each(|&dv, &xh, &g, dg, db| {
                *dg += dv * xh;
                *db += dv;
                mean_d += dv * g;
                mean_dx += dv * g * xh;
            });
        mean_d /= width;
        mean_dx /= width;
        Zip::from(&mut row)
            .and(&xhat_row)
            .and(&gamma)
            .for_each(|dv, &xh, &g| {
                *dv = rs * (*dv * g - mean_d - xh * mean_dx);
            });
    }
}
