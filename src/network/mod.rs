//! A stack of recurrent layers with a linear readout: forward over whole sequences, exact BPTT.

pub mod backward;
pub mod checkpoint;
pub mod forward;
pub mod params;
pub mod readout;
pub mod spec;

pub use backward::{Backward, Bptt, LayerAdjoints};
pub use checkpoint::{BpttMemory, SegmentObserver};
pub use forward::{ForwardCache, LayerCache, State};
pub use params::{init_params, LayerParams, NamedTensor, Params};
pub use readout::ReadoutCache;
pub use spec::{InputKind, ModelSpec, OutputKind};

use ndarray::{s, Array2, Array3, NdFloat};

use crate::batch::{Batch, Inputs, Targets};
use crate::error::{Error, Result};
use crate::init::InitSpec;

/// ‖v‖₂ computed as `m · sqrt(Σ (v_i / m)²)` with m = max |v_i|, so the squares neither underflow
/// (a 1e-170 entry squared is below f64's range) nor overflow; exact to rounding for any finite
/// entries. NaN if any entry is NaN.
pub fn l2_norm(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = values.clone().fold(0.0f64, |m, v| {
        if v.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(v.abs())
        }
    });
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * values.map(|v| (v / m) * (v / m)).sum::<f64>().sqrt()
}

/// A network: its architecture and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Network<F> {
    pub spec: ModelSpec,
    pub params: Params<F>,
}

/// One forward and backward pass over a batch.
#[derive(Debug, Clone)]
pub struct Evaluation<F: NdFloat> {
    /// `Σ w ℓ`, in f64.
    pub loss: f64,
    pub forward: ForwardCache<F>,
    pub readout: ReadoutCache<F>,
    pub backward: Backward<F>,
}

/// Buffers kept from one batch to the next by [`Network::evaluate_with`], so a training loop
/// allocates (and page-faults in) its forward caches and adjoint arrays once instead of per batch.
#[derive(Debug, Clone)]
pub struct Workspace<F: NdFloat> {
    evaluation: Option<Evaluation<F>>,
    d_top: Option<Array3<F>>,
    /// How the backward pass gets the forward caches (full, or checkpointed segments).
    memory: BpttMemory,
}

impl<F: NdFloat> Default for Workspace<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: NdFloat> Workspace<F> {
    /// An empty workspace; the first evaluation sizes it.
    pub fn new() -> Self {
        Workspace {
            evaluation: None,
            d_top: None,
            memory: BpttMemory::Full,
        }
    }

    /// An empty workspace whose evaluations use the memory schedule `memory`.
    pub fn with_memory(memory: BpttMemory) -> Self {
        Workspace {
            memory,
            ..Self::new()
        }
    }

    /// The memory schedule of this workspace's evaluations.
    pub fn memory(&self) -> BpttMemory {
        self.memory
    }

    /// The last evaluation made with this workspace, if any.
    pub fn evaluation(&self) -> Option<&Evaluation<F>> {
        self.evaluation.as_ref()
    }
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

    /// [`Network::evaluate`] into the buffers of `workspace`, reused when the batch has the shape of
    /// the previous one. The result is identical to `evaluate`'s (every entry is recomputed); on
    /// error the workspace's contents are unspecified but it stays usable.
    pub fn evaluate_with<'w>(
        &self,
        workspace: &'w mut Workspace<F>,
        batch: &Batch<F>,
        state: Option<&State<F>>,
        bptt: Bptt,
    ) -> Result<&'w mut Evaluation<F>> {
        self.evaluate_observing(workspace, batch, state, bptt, None)
    }

    /// [`Network::evaluate_with`] from the zero state with exact BPTT, showing `observer` the
    /// caches and adjoints of every segment of the workspace's memory schedule (one segment, the
    /// whole sequence, under full BPTT; see [`SegmentObserver`]). The observed values are the
    /// same bits under every schedule.
    pub fn evaluate_observed_with<'w>(
        &self,
        workspace: &'w mut Workspace<F>,
        batch: &Batch<F>,
        observer: &mut dyn SegmentObserver<F>,
    ) -> Result<&'w mut Evaluation<F>> {
        self.evaluate_observing(workspace, batch, None, Bptt::Full, Some(observer))
    }

    fn evaluate_observing<'w>(
        &self,
        workspace: &'w mut Workspace<F>,
        batch: &Batch<F>,
        state: Option<&State<F>>,
        bptt: Bptt,
        observer: Option<&mut dyn SegmentObserver<F>>,
    ) -> Result<&'w mut Evaluation<F>> {
        let Workspace {
            evaluation,
            d_top,
            memory,
        } = workspace;
        let eval = evaluation.get_or_insert_with(|| Evaluation {
            loss: 0.0,
            forward: ForwardCache {
                layers: Vec::new(),
                steps: 0,
                batch: 0,
            },
            readout: ReadoutCache {
                positions: Vec::new(),
                weights: Vec::new(),
                features: Array2::zeros((0, 0)),
                outputs: Array2::zeros((0, 0)),
                losses: Vec::new(),
            },
            backward: Backward {
                grads: Params::zeros(&self.spec),
                layers: Vec::new(),
                d_inputs: None,
                d_state: State {
                    h: Vec::new(),
                    c: Vec::new(),
                },
            },
        });
        let segment = memory.segment(batch.inputs.shape().0);
        if segment.is_none() {
            forward::network_forward_into(
                &self.spec,
                &self.params.layers,
                &batch.inputs,
                state,
                &mut eval.forward,
            )?;
            eval.readout = self.readout(&eval.forward, &batch.targets, &batch.loss_weight)?;
        }
        let grads = &mut eval.backward.grads;
        let same_shapes = {
            let (have, want) = (grads.named(), self.params.named());
            have.len() == want.len() && have.iter().zip(&want).all(|(a, b)| a.shape == b.shape)
        };
        if same_shapes {
            grads
                .slices_mut()
                .into_iter()
                .for_each(|g| g.fill(F::zero()));
        } else {
            *grads = Params::zeros(&self.spec);
        }
        if let Some(segment) = segment {
            self.evaluate_segmented_into(eval, batch, state, bptt, segment, observer)?;
            return Ok(eval);
        }
        let top = eval.forward.top_output().raw_dim();
        let d_top = d_top.get_or_insert_with(|| Array3::zeros(top));
        if d_top.raw_dim() != top {
            *d_top = Array3::zeros(top);
        }
        readout::readout_backward_into(
            &mut grads.readout_weight,
            &mut grads.readout_bias,
            &eval.readout,
            &batch.targets,
            self.params.readout_weight.view(),
            d_top,
        );
        backward::network_backward_into(
            &self.spec,
            &self.params,
            &batch.inputs,
            &eval.forward,
            d_top.view(),
            bptt,
            &mut eval.backward,
        )?;
        eval.loss = eval.readout.loss();
        if let Some(o) = observer {
            let whole = 0..eval.forward.steps;
            o.forward(whole.clone(), &eval.forward)?;
            o.backward(whole, &eval.forward, &eval.backward)?;
        }
        Ok(eval)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::{Activation, CellKind};
    use crate::gradcheck::{case_setup, standard_cases};

    fn assert_same<F: NdFloat>(a: &Evaluation<F>, b: &Evaluation<F>, what: &str) {
        assert_eq!(a.loss.to_bits(), b.loss.to_bits(), "{what}: loss");
        for (x, y) in a
            .backward
            .grads
            .named()
            .iter()
            .zip(b.backward.grads.named())
        {
            assert_eq!(x.data, y.data, "{what}: {}", x.name);
        }
        for (x, y) in a.backward.layers.iter().zip(&b.backward.layers) {
            assert_eq!(x.dh, y.dh, "{what}: dh");
            assert_eq!(x.d_pre, y.d_pre, "{what}: d_pre");
            assert_eq!(x.dc(), y.dc(), "{what}: dc");
            assert_eq!(x.cell.recurrent(), y.cell.recurrent(), "{what}: d_hproj");
        }
        for (x, y) in a.forward.layers.iter().zip(&b.forward.layers) {
            assert_eq!(x.h, y.h, "{what}: h");
            assert_eq!(x.gates, y.gates, "{what}: gates");
            assert_eq!(x.output(), y.output(), "{what}: output");
        }
        assert_eq!(a.backward.d_state, b.backward.d_state, "{what}: d_state");
        assert_eq!(a.backward.d_inputs, b.backward.d_inputs, "{what}: d_inputs");
    }

    #[test]
    fn evaluate_with_a_reused_workspace_equals_evaluate_bit_for_bit() {
        // one workspace through every configuration: shapes change between cases and repeat
        let mut ws = Workspace::<f64>::new();
        for case in standard_cases(&CellKind::ALL, &Activation::ALL) {
            let (net, batch, state) = case_setup(&case, 3).unwrap();
            let want = net.evaluate(&batch, Some(&state), Bptt::Full).unwrap();
            for round in 0..2 {
                let got = net
                    .evaluate_with(&mut ws, &batch, Some(&state), Bptt::Full)
                    .unwrap();
                assert_same(got, &want, &format!("{case} round {round}"));
            }
            let none = net.evaluate(&batch, None, Bptt::Truncated(2)).unwrap();
            let got = net
                .evaluate_with(&mut ws, &batch, None, Bptt::Truncated(2))
                .unwrap();
            assert_same(got, &none, &format!("{case} truncated, zero state"));
        }
    }

    #[test]
    fn evaluate_with_matches_evaluate_in_f32_too() {
        let mut ws = Workspace::<f32>::new();
        for case in standard_cases(&CellKind::ALL, &[Activation::Tanh]) {
            let (net, batch, state) = case_setup(&case, 4).unwrap();
            let (net, batch) = (net.cast::<f32>(), batch.cast::<f32>());
            let f32s = |a: &Array2<f64>| a.mapv(|v| v as f32);
            let state = State {
                h: state.h.iter().map(f32s).collect(),
                c: state.c.iter().map(|c| c.as_ref().map(f32s)).collect(),
            };
            let want = net.evaluate(&batch, Some(&state), Bptt::Full).unwrap();
            let got = net
                .evaluate_with(&mut ws, &batch, Some(&state), Bptt::Full)
                .unwrap();
            assert_same(got, &want, &format!("{case} f32"));
        }
    }
}
