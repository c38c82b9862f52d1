//! Parameter tensors, named and shaped as in PyTorch (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
//! `bias_hh_l0`, … per layer), so weights move between rnnlab and `torch.nn.RNN/LSTM/GRU` unchanged.
//! Gradients have the same type as the parameters.

use ndarray::{Array1, Array2, NdFloat};

use super::spec::ModelSpec;

/// One recurrent layer. G gates, H hidden, I input width of this layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerParams<F> {
    /// (G·H, I), gate blocks stacked in PyTorch order
    pub weight_ih: Array2<F>,
    /// (G·H, H)
    pub weight_hh: Array2<F>,
    /// (G·H)
    pub bias_ih: Array1<F>,
    /// (G·H)
    pub bias_hh: Array1<F>,
    /// Layer-norm gain γ and bias β, (H); vanilla RNN with layer norm only.
    pub layer_norm: Option<(Array1<F>, Array1<F>)>,
}

/// All parameters of a network: the recurrent layers, bottom first, and the linear readout.
#[derive(Debug, Clone, PartialEq)]
pub struct Params<F> {
    pub layers: Vec<LayerParams<F>>,
    /// (O, H_top)
    pub readout_weight: Array2<F>,
    /// (O)
    pub readout_bias: Array1<F>,
}

/// A parameter tensor seen by name, shape and flat row-major data.
pub struct NamedTensor<'a, F> {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: &'a [F],
}

impl<F: NdFloat> Params<F> {
    /// All-zero parameters of the right shapes (also the gradient accumulator). γ is 0 here too.
    pub fn zeros(spec: &ModelSpec) -> Self {
        let g = spec.cell.gates();
        let layers = (0..spec.layers())
            .map(|l| {
                let h = spec.hidden[l];
                LayerParams {
                    weight_ih: Array2::zeros((g * h, spec.layer_input_width(l))),
                    weight_hh: Array2::zeros((g * h, h)),
                    bias_ih: Array1::zeros(g * h),
                    bias_hh: Array1::zeros(g * h),
                    layer_norm: spec
                        .layer_norm
                        .then(|| (Array1::zeros(h), Array1::zeros(h))),
                }
            })
            .collect();
        Params {
            layers,
            readout_weight: Array2::zeros((spec.output.width(), spec.top_width())),
            readout_bias: Array1::zeros(spec.output.width()),
        }
    }

    /// Every tensor with its PyTorch-style name, in a fixed order.
    pub fn named(&self) -> Vec<NamedTensor<'_, F>> {
        let mut out = Vec::new();
        for (l, p) in self.layers.iter().enumerate() {
            out.push(named(
                format!("weight_ih_l{l}"),
                p.weight_ih.shape(),
                contiguous(&p.weight_ih),
            ));
            out.push(named(
                format!("weight_hh_l{l}"),
                p.weight_hh.shape(),
                contiguous(&p.weight_hh),
            ));
            out.push(named(
                format!("bias_ih_l{l}"),
                p.bias_ih.shape(),
                contiguous(&p.bias_ih),
            ));
            out.push(named(
                format!("bias_hh_l{l}"),
                p.bias_hh.shape(),
                contiguous(&p.bias_hh),
            ));
            if let Some((gamma, beta)) = &p.layer_norm {
                out.push(named(
                    format!("layer_norm_weight_l{l}"),
                    gamma.shape(),
                    contiguous(gamma),
                ));
                out.push(named(
                    format!("layer_norm_bias_l{l}"),
                    beta.shape(),
                    contiguous(beta),
                ));
            }
        }
        out.push(named(
            "readout.weight".into(),
            self.readout_weight.shape(),
            contiguous(&self.readout_weight),
        ));
        out.push(named(
            "readout.bias".into(),
            self.readout_bias.shape(),
            contiguous(&self.readout_bias),
        ));
        out
    }

    /// Every tensor's data, mutable, in the order of [`Params::named`].
    pub fn slices_mut(&mut self) -> Vec<&mut [F]> {
        let mut out: Vec<&mut [F]> = Vec::new();
        for p in self.layers.iter_mut() {
            out.push(contiguous_mut(&mut p.weight_ih));
            out.push(contiguous_mut(&mut p.weight_hh));
            out.push(contiguous_mut(&mut p.bias_ih));
            out.push(contiguous_mut(&mut p.bias_hh));
            if let Some((gamma, beta)) = &mut p.layer_norm {
                out.push(contiguous_mut(gamma));
                out.push(contiguous_mut(beta));
            }
        }
        out.push(contiguous_mut(&mut self.readout_weight));
        out.push(contiguous_mut(&mut self.readout_bias));
        out
    }

    /// Total number of scalars.
    pub fn len(&self) -> usize {
        self.named().iter().map(|t| t.data.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// ‖θ‖₂ over all tensors, accumulated in f64.
    pub fn global_norm(&self) -> f64 {
        self.named()
            .iter()
            .flat_map(|t| t.data.iter())
            .map(|&v| {
                let v = v.to_f64().unwrap_or(f64::NAN);
                v * v
            })
            .sum::<f64>()
            .sqrt()
    }

    /// The same parameters in another float type.
    pub fn cast<G: NdFloat>(&self) -> Params<G> {
        let c = crate::batch::cast::<F, G>;
        Params {
            layers: self
                .layers
                .iter()
                .map(|p| LayerParams {
                    weight_ih: p.weight_ih.mapv(c),
                    weight_hh: p.weight_hh.mapv(c),
                    bias_ih: p.bias_ih.mapv(c),
                    bias_hh: p.bias_hh.mapv(c),
                    layer_norm: p.layer_norm.as_ref().map(|(g, b)| (g.mapv(c), b.mapv(c))),
                })
                .collect(),
            readout_weight: self.readout_weight.mapv(c),
            readout_bias: self.readout_bias.mapv(c),
        }
    }
}

fn named<'a, F>(name: String, shape: &[usize], data: &'a [F]) -> NamedTensor<'a, F> {
    NamedTensor {
        name,
        shape: shape.to_vec(),
        data,
    }
}

// Parameters are only ever built by `Params::zeros`/`init`/`cast`/file loading, all of which
// allocate fresh standard-layout arrays, so the flat views always exist.
fn contiguous<F, D: ndarray::Dimension>(a: &ndarray::Array<F, D>) -> &[F] {
    a.as_slice()
        .expect("parameter arrays are allocated in standard layout")
}

fn contiguous_mut<F, D: ndarray::Dimension>(a: &mut ndarray::Array<F, D>) -> &mut [F] {
    a.as_slice_mut()
        .expect("parameter arrays are allocated in standard layout")
}
