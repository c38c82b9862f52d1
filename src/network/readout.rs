//! The linear readout `z = W_out y_t + b_out` at every timestep that carries a loss, and its loss:
//! softmax cross-entropy for classes, squared error averaged over the output width for values.
//! The batch loss is `L = Σ_{t,b} w[t,b] · ℓ(t,b)` with w the batch's loss weights.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayView3, Axis, NdFloat, Zip};

use super::spec::{ModelSpec, OutputKind};
use crate::batch::{cast, Targets};
use crate::error::{Error, Result};

/// What the readout's forward pass leaves for the backward pass and for accuracy.
#[derive(Debug, Clone)]
pub struct ReadoutCache<F> {
    /// (t, b) of every step with a non-zero loss weight, time-major order.
    pub positions: Vec<(usize, usize)>,
    /// The loss weight at each position.
    pub weights: Vec<F>,
    /// (N, H_top): the top layer's outputs at the positions.
    pub features: Array2<F>,
    /// (N, O): softmax probabilities (classes) or predictions (values).
    pub outputs: Array2<F>,
    /// Unweighted ℓ at each position, in f64.
    pub losses: Vec<f64>,
}

impl<F: NdFloat> ReadoutCache<F> {
    /// The weighted loss `Σ w ℓ`, accumulated in f64.
    pub fn loss(&self) -> f64 {
        self.weights
            .iter()
            .zip(&self.losses)
            .map(|(&w, &l)| w.to_f64().unwrap_or(f64::NAN) * l)
            .sum()
    }

    /// Arg-max class at each position (classes only meaningful for class outputs).
    pub fn predicted_classes(&self) -> Vec<usize> {
        self.outputs
            .rows()
            .into_iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold((0, F::neg_infinity()), |best, (i, &v)| {
                        if v > best.1 {
                            (i, v)
                        } else {
                            best
                        }
                    })
                    .0
            })
            .collect()
    }
}

/// Checks that targets and loss weights fit the model and the (T, B) of the inputs.
pub fn check_targets<F: NdFloat>(
    spec: &ModelSpec,
    targets: &Targets<F>,
    loss_weight: &Array2<F>,
    steps: usize,
    batch: usize,
) -> Result<()> {
    if loss_weight.dim() != (steps, batch) {
        return Err(Error::shape(
            "loss weights (steps, batch)",
            (steps, batch),
            loss_weight.dim(),
        ));
    }
    if loss_weight.iter().any(|w| !w.is_finite() || *w < F::zero()) {
        return Err(Error::invalid(
            "loss weights",
            "must be finite and non-negative",
        ));
    }
    match (spec.output, targets) {
        (OutputKind::Classes { count }, Targets::Classes { ids, .. }) => {
            if ids.dim() != (steps, batch) {
                return Err(Error::shape(
                    "class targets (steps, batch)",
                    (steps, batch),
                    ids.dim(),
                ));
            }
            let bad = Zip::from(ids).and(loss_weight).fold(None, |acc, &id, &w| {
                acc.or((w > F::zero() && id >= count).then_some(id))
            });
            if let Some(id) = bad {
                return Err(Error::invalid(
                    "targets",
                    format!("class {id} is outside the {count} classes of the model"),
                ));
            }
        }
        (OutputKind::Values { width }, Targets::Values(y)) => {
            if y.dim() != (steps, batch, width) {
                return Err(Error::shape(
                    "value targets (steps, batch, width)",
                    (steps, batch, width),
                    y.dim(),
                ));
            }
        }
        (kind, _) => {
            return Err(Error::invalid(
                "targets",
                format!("the model's readout produces {kind:?}"),
            ))
        }
    }
    Ok(())
}

/// (t, b) and weight of every step with a non-zero loss weight, time-major.
pub fn loss_positions<F: NdFloat>(loss_weight: &Array2<F>) -> (Vec<(usize, usize)>, Vec<F>) {
    let mut positions = Vec::new();
    let mut weights = Vec::new();
    for ((t, b), &w) in loss_weight.indexed_iter() {
        if w > F::zero() {
            positions.push((t, b));
            weights.push(w);
        }
    }
    (positions, weights)
}

/// Copies into `features` (one row per position, in order) the rows of `top` (T', B, H) at the
/// positions whose step lies in `[offset, offset + T')`; `positions` are those positions, `first`
/// the index of the first of them in the whole list.
pub fn gather_features<F: NdFloat>(
    top: ArrayView3<'_, F>,
    offset: usize,
    positions: &[(usize, usize)],
    first: usize,
    features: &mut Array2<F>,
) {
    for (i, &(t, b)) in positions.iter().enumerate() {
        features
            .row_mut(first + i)
            .assign(&top.slice(ndarray::s![t - offset, b, ..]));
    }
}

/// Forward through readout and loss at the weighted positions. top: (T, B, H); w_out: (O, H).
pub fn readout_forward<F: NdFloat>(
    top: ArrayView3<'_, F>,
    w_out: &Array2<F>,
    b_out: &Array1<F>,
    targets: &Targets<F>,
    loss_weight: &Array2<F>,
) -> ReadoutCache<F> {
    let (positions, weights) = loss_positions(loss_weight);
    let mut features = Array2::<F>::zeros((positions.len(), top.dim().2));
    gather_features(top, 0, &positions, 0, &mut features);
    readout_from_features(features, positions, weights, w_out, b_out, targets)
}

/// Readout and loss from the top layer's outputs at the positions, (N, H).
pub fn readout_from_features<F: NdFloat>(
    features: Array2<F>,
    positions: Vec<(usize, usize)>,
    weights: Vec<F>,
    w_out: &Array2<F>,
    b_out: &Array1<F>,
    targets: &Targets<F>,
) -> ReadoutCache<F> {
    let n = positions.len();
    let mut outputs = Array2::<F>::zeros((n, w_out.nrows()));
    let dim = outputs.raw_dim();
    outputs.assign(&b_out.broadcast(dim).expect("bias has O entries"));
    general_mat_mul(F::one(), &features, &w_out.t(), F::one(), &mut outputs);
    let mut losses = Vec::with_capacity(n);
    match targets {
        Targets::Classes { ids, .. } => {
            for (mut z, &(t, b)) in outputs.rows_mut().into_iter().zip(&positions) {
                // log-sum-exp with the max taken out, so large logits cannot overflow
                let max = z.fold(F::neg_infinity(), |m, &v| m.max(v));
                let sum = z.fold(F::zero(), |s, &v| s + (v - max).exp());
                let lse = max + sum.ln();
                let target = ids[[t, b]];
                losses.push(cast::<F, f64>(lse - z[target]));
                z.mapv_inplace(|v| (v - lse).exp());
            }
        }
        Targets::Values(y) => {
            let o = cast::<f64, F>(outputs.ncols() as f64);
            for (z, &(t, b)) in outputs.rows().into_iter().zip(&positions) {
                let target = y.slice(ndarray::s![t, b, ..]);
                let se = Zip::from(&z)
                    .and(&target)
                    .fold(F::zero(), |acc, &p, &q| acc + (p - q) * (p - q));
                losses.push(cast::<F, f64>(se / o));
            }
        }
    }
    ReadoutCache {
        positions,
        weights,
        features,
        outputs,
        losses,
    }
}

/// Backward through loss and readout. Adds ∂L/∂W_out and ∂L/∂b_out to `d_w`, `d_b`, and returns
/// ∂L/∂y (T, B, H) for the top layer (zero at steps without loss).
pub fn readout_backward<F: NdFloat>(
    d_w: &mut Array2<F>,
    d_b: &mut Array1<F>,
    cache: &ReadoutCache<F>,
    targets: &Targets<F>,
    w_out: ArrayView2<'_, F>,
    steps: usize,
    batch: usize,
) -> Array3<F> {
    let mut d_top = Array3::<F>::zeros((steps, batch, w_out.ncols()));
    readout_backward_into(d_w, d_b, cache, targets, w_out, &mut d_top);
    d_top
}

/// [`readout_backward`] writing ∂L/∂y into `d_top` (T, B, H), which is overwritten entirely.
pub fn readout_backward_into<F: NdFloat>(
    d_w: &mut Array2<F>,
    d_b: &mut Array1<F>,
    cache: &ReadoutCache<F>,
    targets: &Targets<F>,
    w_out: ArrayView2<'_, F>,
    d_top: &mut Array3<F>,
) {
    let d_features = readout_backward_features(d_w, d_b, cache, targets, w_out);
    d_top.fill(F::zero());
    scatter_features(d_features.view(), &cache.positions, 0, d_top);
}

/// Backward through loss and readout: adds ∂L/∂W_out and ∂L/∂b_out to `d_w`, `d_b` and returns
/// ∂L/∂y at the positions, (N, H).
pub fn readout_backward_features<F: NdFloat>(
    d_w: &mut Array2<F>,
    d_b: &mut Array1<F>,
    cache: &ReadoutCache<F>,
    targets: &Targets<F>,
    w_out: ArrayView2<'_, F>,
) -> Array2<F> {
    // ∂L/∂z: w (p − onehot) for cross-entropy, w · 2 (z − y) / O for squared error
    let mut d_logits = cache.outputs.clone();
    match targets {
        Targets::Classes { ids, .. } => {
            for ((mut row, &(t, b)), &w) in d_logits
                .rows_mut()
                .into_iter()
                .zip(&cache.positions)
                .zip(&cache.weights)
            {
                row[ids[[t, b]]] -= F::one();
                row.mapv_inplace(|v| v * w);
            }
        }
        Targets::Values(y) => {
            let scale = cast::<f64, F>(2.0 / d_logits.ncols() as f64);
            for ((mut row, &(t, b)), &w) in d_logits
                .rows_mut()
                .into_iter()
                .zip(&cache.positions)
                .zip(&cache.weights)
            {
                Zip::from(&mut row)
                    .and(&y.slice(ndarray::s![t, b, ..]))
                    .for_each(|d, &q| *d = (*d - q) * scale * w);
            }
        }
    }
    general_mat_mul(F::one(), &d_logits.t(), &cache.features, F::one(), d_w);
    *d_b += &d_logits.sum_axis(Axis(0));
    d_logits.dot(&w_out)
}

/// Adds each row of `d_features` into `d_top` (T', B, H) at its position, for the positions whose
/// step lies in `[offset, offset + T')` (`positions` are those, in the rows' order).
pub fn scatter_features<F: NdFloat>(
    d_features: ArrayView2<'_, F>,
    positions: &[(usize, usize)],
    offset: usize,
    d_top: &mut Array3<F>,
) {
    for (row, &(t, b)) in d_features.rows().into_iter().zip(positions) {
        let mut dst = d_top.slice_mut(ndarray::s![t - offset, b, ..]);
        dst += &row;
    }
}
