//! Adam, as `torch.optim.Adam`: `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`,
//! `θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`.

use ndarray::NdFloat;

use crate::batch::cast;

#[allow(clippy::too_many_arguments)]
pub fn adam_update<F: NdFloat>(
    param: &mut [F],
    grad: &[F],
    m: &mut [F],
    v: &mut [F],
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: F,
    t: u64,
) {
    let step = t.min(i32::MAX as u64) as i32;
    let step_size: F = cast(lr / (1.0 - beta1.powi(step)));
    let bias2_sqrt: F = cast((1.0 - beta2.powi(step)).sqrt());
    let (b1, b2): (F, F) = (cast(beta1), cast(beta2));
    let one = F::one();
    for (((p, &g), m), v) in param
        .iter_mut()
        .zip(grad)
        .zip(m.iter_mut())
        .zip(v.iter_mut())
    {
        *m = b1 * *m + (one - b1) * g;
        *v = b2 * *v + (one - b2) * g * g;
        *p -= step_size * *m / (v.sqrt() / bias2_sqrt + eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_weight_by_about_lr_against_its_gradient_sign() {
        let mut p = vec![1.0f64, 1.0];
        let (mut m, mut v) = (vec![0.0; 2], vec![0.0; 2]);
        adam_update(
            &mut p,
            &[3.0, -0.002],
            &mut m,
            &mut v,
            0.001,
            0.9,
            0.999,
            1e-8,
            1,
        );
        assert!((p[0] - (1.0 - 0.001 * 3.0 / (3.0 + 1e-8))).abs() < 1e-12);
        assert!((p[1] - (1.0 + 0.001 * 0.002 / (0.002 + 1e-8))).abs() < 1e-12);
    }
}
