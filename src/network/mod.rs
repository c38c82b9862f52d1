//! A stack of recurrent layers with a linear readout: forward over whole sequences, exact BPTT.

pub mod backward;
pub mod forward;
pub mod params;
pub mod readout;
pub mod spec;

pub use backward::{Backward, Bptt, LayerAdjoints};
pub use forward::{ForwardCache, LayerCache, State};
pub use params::{LayerParams, NamedTensor, Params};
pub use readout::ReadoutCache;
pub use spec::{InputKind, ModelSpec, OutputKind};

use ndarray::{s, Array2, NdFloat};

use crate::batch::{Batch, Inputs, Targets};
use crate::error::{Error, Result};
use crate::init::{init_params, InitSpec};

/// A network: its architecture and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Network<F> {
    pub spec: ModelSpec,
    pub params: Params<F>,
}

/// One forward and backward pass over a batch.
#[derive(Debug, Clone)]
pub struct Evaluation<F> {
    /// `Σ w ℓ`, in f64.
    pub loss: f64,
    pub forward: ForwardCache<F>,
    pub readout: ReadoutCache<F>,
    pub backward: Backward<F>,
}

impl<F: NdFloat> Network<F> {
    /// Wraps existing parameters after checking every shape against the spec.
    pub fn new(spec: ModelSpec, params: Params<F>) -> Result<Self> {
        spec.validate()?;
        let expected = Params::<F>::zeros(&spec);
        let want = expected.named();
        let got = params.named();
        if want.len() != got.len() {
            return Err(Error::shape(
                "parameter tensors",
                want.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
                got.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
            ));
        }
        for (w, g) in want.iter().zip(&got) {
            if w.shape != g.shape {
                return Err(Error::shape(&w.name, &w.shape, &g.shape));
            }
        }
        Ok(Network { spec, params })
    }

    /// A freshly initialised network.
    pub fn init(spec: ModelSpec, init: &InitSpec, seed: u64) -> Result<Self> {
        let params = init_params(&spec, init, seed)?;
        Ok(Network { spec, params })
    }

    /// The same network in another float type.
    pub fn cast<G: NdFloat>(&self) -> Network<G> {
        Network {
            spec: self.spec.clone(),
            params: self.params.cast(),
        }
    }

    /// Runs the whole sequence from `state` (zeros when None).
    pub fn forward(&self, inputs: &Inputs<F>, state: Option<&State<F>>) -> Result<ForwardCache<F>> {
        forward::network_forward(&self.spec, &self.params.layers, inputs, state)
    }

    /// Readout and loss at the steps with non-zero loss weight.
    pub fn readout(
        &self,
        forward: &ForwardCache<F>,
        targets: &Targets<F>,
        loss_weight: &Array2<F>,
    ) -> Result<ReadoutCache<F>> {
        readout::check_targets(
            &self.spec,
            targets,
            loss_weight,
            forward.steps,
            forward.batch,
        )?;
        Ok(readout::readout_forward(
            forward.top_output(),
            &self.params.readout_weight,
            &self.params.readout_bias,
            targets,
            loss_weight,
        ))
    }

    /// Backpropagation through time from the loss of `readout`.
    pub fn backward(
        &self,
        inputs: &Inputs<F>,
        forward: &ForwardCache<F>,
        readout: &ReadoutCache<F>,
        targets: &Targets<F>,
        bptt: Bptt,
    ) -> Result<Backward<F>> {
        let mut grads = Params::<F>::zeros(&self.spec);
        let d_top = readout::readout_backward(
            &mut grads.readout_weight,
            &mut grads.readout_bias,
            readout,
            targets,
            self.params.readout_weight.view(),
            forward.steps,
            forward.batch,
        );
        backward::network_backward(
            &self.spec,
            &self.params,
            inputs,
            forward,
            d_top,
            grads,
            bptt,
        )
    }

    /// Forward, loss and backward over a batch, from `state` (zeros when None).
    pub fn evaluate(
        &self,
        batch: &Batch<F>,
        state: Option<&State<F>>,
        bptt: Bptt,
    ) -> Result<Evaluation<F>> {
        let forward = self.forward(&batch.inputs, state)?;
        let readout = self.readout(&forward, &batch.targets, &batch.loss_weight)?;
        let backward = self.backward(&batch.inputs, &forward, &readout, &batch.targets, bptt)?;
        Ok(Evaluation {
            loss: readout.loss(),
            forward,
            readout,
            backward,
        })
    }

    /// The loss alone (no backward pass).
    pub fn loss(&self, batch: &Batch<F>, state: Option<&State<F>>) -> Result<f64> {
        let forward = self.forward(&batch.inputs, state)?;
        Ok(self
            .readout(&forward, &batch.targets, &batch.loss_weight)?
            .loss())
    }

    /// Advances `state` by timestep `t` of `inputs` alone and returns the top layer's output
    /// (B, H_top). Step by step over all t gives the same outputs as one whole-sequence forward.
    pub fn step(&self, state: &mut State<F>, inputs: &Inputs<F>, t: usize) -> Result<Array2<F>> {
        let (steps, _) = inputs.shape();
        if t >= steps {
            return Err(Error::invalid(
                "step",
                format!("timestep {t} is past the sequence's {steps} steps"),
            ));
        }
        let one_step = match inputs {
            Inputs::Tokens { ids, vocab } => Inputs::Tokens {
                ids: ids.slice(s![t..t + 1, ..]).to_owned(),
                vocab: *vocab,
            },
            Inputs::Dense(x) => Inputs::Dense(x.slice(s![t..t + 1, .., ..]).to_owned()),
        };
        let cache = self.forward(&one_step, Some(state))?;
        *state = cache.final_state();
        Ok(cache
            .top_output()
            .index_axis(ndarray::Axis(0), 0)
            .to_owned())
    }
}
