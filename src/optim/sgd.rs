//! SGD with optional momentum, as `torch.optim.SGD`: `v ← μ v + g` (v = g on the first step),
//! `θ ← θ − lr · v`; with μ = 0 simply `θ ← θ − lr · g`.

use ndarray::NdFloat;

pub fn sgd_update<F: NdFloat>(
    param: &mut [F],
    grad: &[F],
    velocity: &mut [F],
    lr: F,
    momentum: F,
    first_step: bool,
) {
    if momentum == F::zero() {
        for (p, &g) in param.iter_mut().zip(grad) {
            *p -= lr * g;
        }
        return;
    }
    for ((p, &g), v) in param.iter_mut().zip(grad).zip(velocity.iter_mut()) {
        *v = if first_step { g } else { momentum * *v + g };
        *p -= lr * *v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_accumulates_like_torch() {
        let (mut p, mut v) = (vec![1.0f64], vec![0.0]);
        sgd_update(&mut p, &[0.5], &mut v, 0.1, 0.9, true);
        assert!((p[0] - 0.95).abs() < 1e-15);
        sgd_update(&mut p, &[0.5], &mut v, 0.1, 0.9, false);
        // v = 0.9·0.5 + 0.5 = 0.95
        assert!((p[0] - (0.95 - 0.095)).abs() < 1e-15);
    }
}
