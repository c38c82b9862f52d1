//! Parameter tensors, named and shaped as in PyTorch (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
//! `bias_hh_l0`, … per layer), so weights move between rnnlab and `torch.nn.RNN/LSTM/GRU` unchanged.
//! Gradients have the same type as the parameters.

use ndarray::{Array1, Array2, NdFloat};

use super::spec::ModelSpec;
use crate::batch::cast;
#[cfg(doc)]
use crate::cells::Cell;
use crate::cells::{CellKind, CellVisitor, Registered, TensorNames};
use crate::error::{Error, Result};
use crate::init::{uniform, InitSpec};
use ndarray_rand::rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use crate::cells::LayerParams;

/// All parameters of a network: the recurrent layers, bottom first, and the linear readout.
#[derive(Debug, Clone, PartialEq)]
pub struct Params<F> {
    pub layers: Vec<LayerParams<F>>,
    /// The cell's export names of the layer tensors.
    names: TensorNames,
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
    /// The shapes and names come from the cell ([`Cell::zero_layer`], [`Cell::TENSOR_NAMES`]).
    pub fn zeros(spec: &ModelSpec) -> Self {
        let (layers, names) = spec.cell.visit(
            &spec.cell_config(),
            ZeroLayers {
                spec,
                float: std::marker::PhantomData,
            },
        );
        Params {
            layers,
            names,
            readout_weight: Array2::zeros((spec.output.width(), spec.top_width())),
            readout_bias: Array1::zeros(spec.output.width()),
        }
    }

    /// All-zero tensors of the shapes of `self` (e.g. an optimiser's moments).
    pub fn zeros_like(&self) -> Self {
        let z1 = |a: &Array1<F>| Array1::zeros(a.raw_dim());
        let z2 = |a: &Array2<F>| Array2::zeros(a.raw_dim());
        Params {
            names: self.names,
            layers: self
                .layers
                .iter()
                .map(|p| LayerParams {
                    weight_ih: z2(&p.weight_ih),
                    weight_hh: z2(&p.weight_hh),
                    bias_ih: z1(&p.bias_ih),
                    bias_hh: z1(&p.bias_hh),
                    layer_norm: p.layer_norm.as_ref().map(|(g, b)| (z1(g), z1(b))),
                })
                .collect(),
            readout_weight: z2(&self.readout_weight),
            readout_bias: z1(&self.readout_bias),
        }
    }

    /// Every tensor with its PyTorch-style name, in a fixed order.
    pub fn named(&self) -> Vec<NamedTensor<'_, F>> {
        let n = &self.names;
        let mut out = Vec::new();
        for (l, p) in self.layers.iter().enumerate() {
            out.push(named(
                format!("{}_l{l}", n.weight_ih),
                p.weight_ih.shape(),
                contiguous(&p.weight_ih),
            ));
            out.push(named(
                format!("{}_l{l}", n.weight_hh),
                p.weight_hh.shape(),
                contiguous(&p.weight_hh),
            ));
            out.push(named(
                format!("{}_l{l}", n.bias_ih),
                p.bias_ih.shape(),
                contiguous(&p.bias_ih),
            ));
            out.push(named(
                format!("{}_l{l}", n.bias_hh),
                p.bias_hh.shape(),
                contiguous(&p.bias_hh),
            ));
            if let Some((gamma, beta)) = &p.layer_norm {
                out.push(named(
                    format!("{}_l{l}", n.layer_norm_weight),
                    gamma.shape(),
                    contiguous(gamma),
                ));
                out.push(named(
                    format!("{}_l{l}", n.layer_norm_bias),
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
        self.tagged_slices_mut()
            .into_iter()
            .map(|(_, data)| data)
            .collect()
    }

    /// [`Params::slices_mut`], each with whether it is a layer's `weight_hh` (which a
    /// parameterising cell's optimiser may step at its own rate).
    pub fn tagged_slices_mut(&mut self) -> Vec<(bool, &mut [F])> {
        let mut out: Vec<(bool, &mut [F])> = Vec::new();
        for p in self.layers.iter_mut() {
            out.push((false, contiguous_mut(&mut p.weight_ih)));
            out.push((true, contiguous_mut(&mut p.weight_hh)));
            out.push((false, contiguous_mut(&mut p.bias_ih)));
            out.push((false, contiguous_mut(&mut p.bias_hh)));
            if let Some((gamma, beta)) = &mut p.layer_norm {
                out.push((false, contiguous_mut(gamma)));
                out.push((false, contiguous_mut(beta)));
            }
        }
        out.push((false, contiguous_mut(&mut self.readout_weight)));
        out.push((false, contiguous_mut(&mut self.readout_bias)));
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
            names: self.names,
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

/// Every layer's zero parameters and the export names, from the cell.
struct ZeroLayers<'a, F> {
    spec: &'a ModelSpec,
    float: std::marker::PhantomData<F>,
}

impl<F: NdFloat> CellVisitor for ZeroLayers<'_, F> {
    type Output = (Vec<LayerParams<F>>, TensorNames);
    fn visit<C: Registered>(self, cell: C) -> Self::Output {
        let spec = self.spec;
        let layers = (0..spec.layers())
            .map(|l| {
                let h = spec.hidden[l];
                let mut layer = cell.zero_layer(spec.layer_input_width(l), h);
                if spec.layer_norm {
                    layer.layer_norm = Some((Array1::zeros(h), Array1::zeros(h)));
                }
                layer
            })
            .collect();
        (layers, C::TENSOR_NAMES)
    }
}

/// Refuses chrono initialisation for a cell without gates to set (field `chrono`).
pub fn check_chrono(init: &InitSpec, cell: CellKind) -> Result<()> {
    if init.chrono.is_off() || cell.supports_chrono() {
        return Ok(());
    }
    Err(Error::invalid(
        "chrono",
        format!("initialises the gates of gated cells (lstm, gru), not {cell}"),
    ))
}

/// Draws all parameters of `spec` from `seed`: per layer what the cell draws
/// ([`Cell::init_layer`]: by default the input weights, the recurrent weights and both biases per
/// gate block; LSTM then sets its forget bias). Readout: PyTorch's nn.Linear default
/// U(±1/√H_top); layer norm: γ = 1, β = 0.
pub fn init_params<F: NdFloat>(spec: &ModelSpec, init: &InitSpec, seed: u64) -> Result<Params<F>> {
    spec.validate()?;
    init.validate()?;
    init.chrono_t_max()?;
    check_chrono(init, spec.cell)?;
    Ok(spec.cell.visit(
        &spec.cell_config(),
        InitParams {
            spec,
            init,
            seed,
            float: std::marker::PhantomData,
        },
    ))
}

struct InitParams<'a, F> {
    spec: &'a ModelSpec,
    init: &'a InitSpec,
    seed: u64,
    float: std::marker::PhantomData<F>,
}

impl<F: NdFloat> CellVisitor for InitParams<'_, F> {
    type Output = Params<F>;
    fn visit<C: Registered>(self, cell: C) -> Params<F> {
        let InitParams {
            spec, init, seed, ..
        } = self;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = Params::<F>::zeros(spec);
        for layer in params.layers.iter_mut() {
            cell.init_layer(layer, init, &mut rng);
            if let Some((gamma, _beta)) = &mut layer.layer_norm {
                gamma.fill(F::one());
            }
        }
        let top = spec.top_width();
        let bound = 1.0 / (top as f64).sqrt();
        params.readout_weight =
            Array2::from_shape_fn(params.readout_weight.dim(), |_| uniform(&mut rng, bound))
                .mapv(cast);
        params.readout_bias =
            Array1::from_shape_fn(params.readout_bias.dim(), |_| uniform(&mut rng, bound))
                .mapv(cast);
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::CellKind;
    use crate::init::{InitScheme, WeightInit};
    use crate::network::{InputKind, OutputKind};

    #[test]
    fn lstm_forget_bias_lands_in_the_forget_block_only() {
        let spec = ModelSpec::new(
            CellKind::Lstm,
            InputKind::Dense { width: 3 },
            4,
            1,
            OutputKind::Values { width: 1 },
        );
        let mut init = InitSpec::uniform_scheme(InitScheme::Orthogonal, 1.0);
        init.forget_bias = 2.5;
        let p = init_params::<f64>(&spec, &init, 0).unwrap();
        let b = &p.layers[0].bias_ih;
        assert!(b.slice(ndarray::s![4..8]).iter().all(|&v| v == 2.5));
        assert!(b.slice(ndarray::s![0..4]).iter().all(|&v| v == 0.0));
        assert!(p.layers[0].bias_hh.iter().all(|&v| v == 0.0));
        // each recurrent gate block is orthogonal on its own
        let w = &p.layers[0].weight_hh;
        for g in 0..4 {
            let blk = w.slice(ndarray::s![g * 4..(g + 1) * 4, ..]);
            let gram = blk.dot(&blk.t());
            assert!((&gram - &Array2::<f64>::eye(4))
                .iter()
                .all(|v| v.abs() < 1e-12));
        }
    }

    #[test]
    fn identity_scale_and_seed_reproducibility() {
        let spec = ModelSpec::new(
            CellKind::Rnn,
            InputKind::Tokens { vocab: 5 },
            3,
            1,
            OutputKind::Classes { count: 2 },
        );
        let init = InitSpec {
            recurrent: WeightInit::new(InitScheme::Identity, 1.2),
            ..InitSpec::default()
        };
        let p = init_params::<f64>(&spec, &init, 9).unwrap();
        assert_eq!(p.layers[0].weight_hh, Array2::<f64>::eye(3) * 1.2);
        assert_eq!(p, init_params::<f64>(&spec, &init, 9).unwrap());
        assert_ne!(p, init_params::<f64>(&spec, &init, 10).unwrap());
        let bound = 1.0 / 3f64.sqrt();
        assert!(p.layers[0].weight_ih.iter().all(|v| v.abs() <= bound));
    }
}
