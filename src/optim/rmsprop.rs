//! RMSprop, as `torch.optim.RMSprop` (no momentum, not centred):
//! `s ← α s + (1 − α) g²`, `θ ← θ − lr · g / (√s + ε)`.

use ndarray::NdFloat;

pub fn rmsprop_update<F: NdFloat>(
    param: &mut [F],
    grad: &[F],
    square_avg: &mut [F],
    lr: F,
    alpha: F,
    eps: F,
) {
    for ((p, &g), s) in param.iter_mut().zip(grad).zip(square_avg.iter_mut()) {
        *s = alpha * *s + (F::one() - alpha) * g * g;
        *p -= lr * g / (s.sqrt() + eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_divides_by_the_root_of_the_smoothed_square() {
        let (mut p, mut s) = (vec![0.0f64], vec![0.0]);
        rmsprop_update(&mut p, &[2.0], &mut s, 0.01, 0.99, 1e-8);
        let expected = -0.01 * 2.0 / ((0.01f64 * 4.0).sqrt() + 1e-8);
        assert!((p[0] - expected).abs() < 1e-15);
    }
}
