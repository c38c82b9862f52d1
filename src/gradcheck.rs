//! Central-difference gradient checks in f64 of every parameter tensor, the input adjoint and the
//! initial-state adjoint: the proof that the backward passes are exact.
//!
//! Error measure, per tensor: `max_i |a_i − n_i| / max_i max(|a_i|, |n_i|)` with a the analytic
//! and n the numerical gradient: the largest disagreement relative to the tensor's largest
//! gradient, so entries that are legitimately near zero do not divide by 0.
//!
//! The numerical gradient is the fourth-order central difference
//! `(−L(+2h) + 8 L(+h) − 8 L(−h) + L(−2h)) / 12h`, whose truncation error is O(h⁴ L⁽⁵⁾) and whose
//! round-off is ~1e-16·|L|/h. No single h suits every tensor: the far-back initial-state
//! gradients of a sigmoid RNN are ~1e-7 of the loss and need a large h against round-off, while
//! layer norm's curvature needs a small one. Each tensor is therefore compared at h = 1e-3 and
//! h = 1e-4 and the smaller error is reported: a correct gradient agrees at one of them to ~1e-9,
//! a wrong one disagrees at both.

use ndarray::{Array2, Array3};
use ndarray_rand::rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;

use crate::batch::{Batch, Inputs, Targets};
use crate::cells::{Activation, CellKind};
use crate::error::Result;
use crate::init::{Chrono, InitScheme, InitSpec, WeightInit};
use crate::network::{Bptt, InputKind, ModelSpec, Network, OutputKind, State};

/// The finite-difference steps tried for each tensor.
pub const FD_STEPS: [f64; 2] = [1e-3, 1e-4];
/// The tolerance the issue sets for every tensor.
pub const TOLERANCE: f64 = 1e-6;

/// Where the loss sits in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossSteps {
    /// Only at the last step (weight 1/B each).
    Last,
    /// At several steps with unequal weights, different per sequence.
    Several,
}

/// One configuration to check.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckCase {
    pub spec: ModelSpec,
    pub loss_steps: LossSteps,
    pub bptt: Bptt,
    pub steps: usize,
    pub batch: usize,
    /// Chrono initialisation's T_max for the gate biases (gated cells), None for the usual draw.
    pub chrono: Option<f64>,
    /// The recurrent scheme at scale 1 (e.g. expRNN's Henaff rotations), None for PyTorch's
    /// default at scale 1.5.
    pub recurrent_init: Option<InitScheme>,
}

impl fmt::Display for GradcheckCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        write!(f, "{}", s.cell)?;
        if s.cell.uses_activation() {
            write!(f, "-{}", s.activation)?;
        }
        write!(f, " layers={}", s.layers())?;
        if s.residual {
            write!(f, "+residual")?;
        }
        if s.layer_norm {
            write!(f, " layer-norm")?;
        }
        if !s.forget_gate {
            write!(f, " no-forget-gate")?;
        }
        if let Some(t) = self.chrono {
            write!(f, " chrono(T_max={t})")?;
        }
        if let Some(scheme) = self.recurrent_init {
            write!(f, " recurrent-init={scheme}")?;
        }
        let input = match s.input {
            InputKind::Tokens { .. } => "tokens",
            InputKind::Dense { .. } => "dense",
        };
        let output = match s.output {
            OutputKind::Classes { .. } => "cross-entropy",
            OutputKind::Values { .. } => "squared-error",
        };
        let loss = match self.loss_steps {
            LossSteps::Last => "last step",
            LossSteps::Several => "masked steps",
        };
        write!(f, " {input} {output} loss@{loss}")?;
        if let Bptt::Truncated(k) = self.bptt {
            write!(f, " bptt={k}")?;
        }
        Ok(())
    }
}

/// The check of one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorCheck {
    pub name: String,
    pub max_rel_error: f64,
    /// The tensor's largest |gradient|, to show the check compared real signal.
    pub max_abs_grad: f64,
}

/// The checks of one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    pub case: GradcheckCase,
    pub tensors: Vec<TensorCheck>,
}

impl GradcheckReport {
    pub fn max_rel_error(&self) -> f64 {
        self.tensors
            .iter()
            .map(|t| t.max_rel_error)
            .fold(0.0, f64::max)
    }

    pub fn passed(&self) -> bool {
        self.max_rel_error() < TOLERANCE
    }
}

/// The standard grid: each cell (rnn with each activation, lstm, gru) × {1 layer, 2 layers with
/// residual} × {layer norm off/on for rnn} × {loss at the last step, at several masked steps} ×
/// {cross-entropy, squared error}, on real-valued inputs (so the input adjoint is checked), plus
/// one token-input case per cell.
pub fn standard_cases(cells: &[CellKind], activations: &[Activation]) -> Vec<GradcheckCase> {
    let mut cases = Vec::new();
    for &cell in cells {
        let acts: Vec<Activation> = if cell.uses_activation() {
            activations.to_vec()
        } else {
            vec![Activation::Tanh]
        };
        for act in acts {
            let norms: &[bool] = if cell.supports_layer_norm() {
                &[false, true]
            } else {
                &[false]
            };
            for &(layers, residual) in &[(1, false), (2, true)] {
                for &layer_norm in norms {
                    for loss_steps in [LossSteps::Last, LossSteps::Several] {
                        for output in [
                            OutputKind::Classes { count: 3 },
                            OutputKind::Values { width: 2 },
                        ] {
                            let mut spec = ModelSpec::new(
                                cell,
                                InputKind::Dense { width: 3 },
                                4,
                                layers,
                                output,
                            );
                            spec.activation = act;
                            spec.residual = residual;
                            spec.layer_norm = layer_norm;
                            cases.push(GradcheckCase {
                                spec,
                                loss_steps,
                                bptt: Bptt::Full,
                                steps: 7,
                                batch: 3,
                                chrono: None,
                                recurrent_init: None,
                            });
                        }
                    }
                }
            }
            let mut spec = ModelSpec::new(
                cell,
                InputKind::Tokens { vocab: 5 },
                4,
                2,
                OutputKind::Classes { count: 3 },
            );
            spec.activation = act;
            cases.push(GradcheckCase {
                spec,
                loss_steps: LossSteps::Several,
                bptt: Bptt::Full,
                steps: 7,
                batch: 3,
                chrono: None,
                recurrent_init: None,
            });
        }
        cases.extend(variant_cases(cell));
    }
    cases
}

/// The cell's options and initialisations beyond the grid: the LSTM without a forget gate,
/// chrono initialisation (T_max 20) of the gated cells, and the rotation initialisations (Henaff,
/// Cayley) of a parameterised recurrent matrix with the cell's own activation (expRNN: the
/// Fréchet derivative at a block-diagonal skew matrix); 1 layer and 2 with residual, loss at the
/// last and at several steps.
fn variant_cases(cell: CellKind) -> Vec<GradcheckCase> {
    let mut variants: Vec<(bool, Option<f64>, Option<InitScheme>)> = Vec::new();
    if cell.forget_gate_optional() {
        variants.push((false, None, None));
        if cell.supports_chrono() {
            variants.push((false, Some(20.0), None));
        }
    }
    if cell.supports_chrono() {
        variants.push((true, Some(20.0), None));
    }
    if cell.reparameterised() {
        variants.push((true, None, Some(InitScheme::Henaff)));
        variants.push((true, None, Some(InitScheme::Cayley)));
    }
    let mut cases = Vec::new();
    for (forget_gate, chrono, recurrent_init) in variants {
        for (layers, residual) in [(1, false), (2, true)] {
            for loss_steps in [LossSteps::Last, LossSteps::Several] {
                let mut spec = ModelSpec::new(
                    cell,
                    InputKind::Dense { width: 3 },
                    4,
                    layers,
                    OutputKind::Classes { count: 3 },
                );
                spec.residual = residual;
                spec.forget_gate = forget_gate;
                if recurrent_init.is_some() {
                    spec.activation = cell.default_activation();
                }
                cases.push(GradcheckCase {
                    spec,
                    loss_steps,
                    bptt: Bptt::Full,
                    steps: 7,
                    batch: 3,
                    chrono,
                    recurrent_init,
                });
            }
        }
    }
    cases
}

/// Truncated BPTT with windows 2 and 3 on 7 steps, per cell (the rnn with the first of
/// `activations`), 1 layer and 2 with residual: checked against [`truncated_objective`].
pub fn truncated_cases(cells: &[CellKind], activations: &[Activation]) -> Vec<GradcheckCase> {
    let mut cases = Vec::new();
    for &cell in cells {
        for (layers, residual) in [(1, false), (2, true)] {
            let mut spec = ModelSpec::new(
                cell,
                InputKind::Dense { width: 3 },
                4,
                layers,
                OutputKind::Classes { count: 3 },
            );
            spec.residual = residual;
            spec.activation = activations.first().copied().unwrap_or(Activation::Tanh);
            for k in [2, 3] {
                cases.push(GradcheckCase {
                    spec: spec.clone(),
                    loss_steps: LossSteps::Several,
                    bptt: Bptt::Truncated(k),
                    steps: 7,
                    batch: 3,
                    chrono: None,
                    recurrent_init: None,
                });
            }
        }
    }
    cases
}

/// A random batch, initial state and network for `case`, all from `seed`.
pub fn case_setup(
    case: &GradcheckCase,
    seed: u64,
) -> Result<(Network<f64>, Batch<f64>, State<f64>)> {
    // a little larger than PyTorch's default, so that gradients reach back through all steps
    let init = InitSpec {
        recurrent: case
            .recurrent_init
            .map_or(WeightInit::new(InitScheme::Default, 1.5), |scheme| {
                WeightInit::new(scheme, 1.0)
            }),
        input: WeightInit::new(InitScheme::Default, 1.5),
        chrono: case.chrono.map_or(Chrono::Off, Chrono::TMax),
        ..InitSpec::default()
    };
    let mut net = Network::<f64>::init(case.spec.clone(), &init, seed)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9);
    // layer-norm gain and bias away from 1 and 0, so their gradients are exercised
    for layer in net.params.layers.iter_mut() {
        if let Some((g, b)) = &mut layer.layer_norm {
            g.mapv_inplace(|_| 0.5 + rng.random::<f64>());
            b.mapv_inplace(|_| rng.random::<f64>() - 0.5);
        }
    }
    let (t, b) = (case.steps, case.batch);
    let inputs = match case.spec.input {
        InputKind::Tokens { vocab } => Inputs::Tokens {
            ids: Array2::from_shape_fn((t, b), |_| rng.random_range(0..vocab)),
            vocab,
        },
        InputKind::Dense { width } => Inputs::Dense(Array3::from_shape_fn((t, b, width), |_| {
            rng.random::<f64>() * 2.0 - 1.0
        })),
    };
    let targets = match case.spec.output {
        OutputKind::Classes { count } => Targets::Classes {
            ids: Array2::from_shape_fn((t, b), |_| rng.random_range(0..count)),
            classes: count,
        },
        OutputKind::Values { width } => {
            Targets::Values(Array3::from_shape_fn((t, b, width), |_| {
                rng.random::<f64>() * 2.0 - 1.0
            }))
        }
    };
    let loss_weight = match case.loss_steps {
        LossSteps::Last => {
            Array2::from_shape_fn(
                (t, b),
                |(i, _)| if i + 1 == t { 1.0 / b as f64 } else { 0.0 },
            )
        }
        LossSteps::Several => Array2::from_shape_fn((t, b), |(i, j)| {
            if i + 1 == t || (i + j) % 3 == 1 {
                0.2 + 0.1 * ((i * b + j) % 4) as f64
            } else {
                0.0
            }
        }),
    };
    let mut state = State::zeros(&case.spec, b);
    for h in state.h.iter_mut() {
        h.mapv_inplace(|_| rng.random::<f64>() - 0.5);
    }
    for c in state.c.iter_mut().flatten() {
        c.mapv_inplace(|_| rng.random::<f64>() - 0.5);
    }
    Ok((
        net,
        Batch {
            inputs,
            targets,
            loss_weight,
        },
        state,
    ))
}

/// Checks every parameter tensor, the input adjoint (real-valued inputs) and the initial-state
/// adjoints of `case` against central differences. Truncated cases are checked against
/// [`truncated_objective`], the loss whose exact gradient truncated BPTT is by definition.
pub fn check_case(case: &GradcheckCase, seed: u64) -> Result<GradcheckReport> {
    let (mut net, mut batch, mut state) = case_setup(case, seed)?;
    let eval = net.evaluate(&batch, Some(&state), case.bptt)?;
    // chunk start states of the unperturbed forward pass, held constant by the truncated objective
    let frozen: Vec<State<f64>> = match case.bptt {
        Bptt::Full => Vec::new(),
        Bptt::Truncated(k) => (0..case.steps)
            .step_by(k)
            .map(|t| eval.forward.state_at(t))
            .collect(),
    };
    let objective = |net: &Network<f64>, batch: &Batch<f64>, state: &State<f64>| -> Result<f64> {
        match case.bptt {
            Bptt::Full => net.loss(batch, Some(state)),
            Bptt::Truncated(k) => truncated_objective(net, batch, state, &frozen, k),
        }
    };
    let mut tensors = Vec::new();

    let analytic: Vec<(String, Vec<f64>)> = eval
        .backward
        .grads
        .named()
        .into_iter()
        .map(|t| (t.name, t.data.to_vec()))
        .collect();
    for (i, (name, grad)) in analytic.into_iter().enumerate() {
        let numeric = numerical(grad.len(), |j, delta| {
            let original = net.params.slices_mut()[i][j];
            net.params.slices_mut()[i][j] = original + delta;
            let loss = objective(&net, &batch, &state);
            net.params.slices_mut()[i][j] = original;
            loss
        })?;
        tensors.push(best_of(name, &grad, &numeric));
    }
    if let Some(d_inputs) = &eval.backward.d_inputs {
        let grad: Vec<f64> = d_inputs.iter().copied().collect();
        let numeric = numerical(grad.len(), |j, delta| {
            let x = match &mut batch.inputs {
                Inputs::Dense(x) => x,
                Inputs::Tokens { .. } => {
                    unreachable!("an input adjoint exists only for real-valued inputs")
                }
            };
            let original = x.as_slice().expect("built contiguous")[j];
            x.as_slice_mut().expect("built contiguous")[j] = original + delta;
            let loss = objective(&net, &batch, &state);
            if let Inputs::Dense(x) = &mut batch.inputs {
                x.as_slice_mut().expect("built contiguous")[j] = original;
            }
            loss
        })?;
        tensors.push(best_of("inputs".into(), &grad, &numeric));
    }
    for l in 0..case.spec.layers() {
        let grad: Vec<f64> = eval.backward.d_state.h[l].iter().copied().collect();
        let numeric = numerical(grad.len(), |j, delta| {
            let original = state.h[l].as_slice().expect("built contiguous")[j];
            state.h[l].as_slice_mut().expect("built contiguous")[j] = original + delta;
            let loss = objective(&net, &batch, &state);
            state.h[l].as_slice_mut().expect("built contiguous")[j] = original;
            loss
        })?;
        tensors.push(best_of(format!("h0_l{l}"), &grad, &numeric));
        if let Some(dc0) = &eval.backward.d_state.c[l] {
            let grad: Vec<f64> = dc0.iter().copied().collect();
            let numeric = numerical(grad.len(), |j, delta| {
                let c = state.c[l].as_mut().expect("LSTM state has c");
                let original = c.as_slice().expect("built contiguous")[j];
                c.as_slice_mut().expect("built contiguous")[j] = original + delta;
                let loss = objective(&net, &batch, &state);
                state.c[l]
                    .as_mut()
                    .expect("LSTM state has c")
                    .as_slice_mut()
                    .expect("built contiguous")[j] = original;
                loss
            })?;
            tensors.push(best_of(format!("c0_l{l}"), &grad, &numeric));
        }
    }
    Ok(GradcheckReport {
        case: case.clone(),
        tensors,
    })
}

/// The fourth-order central difference of L in every entry j, at each step of [`FD_STEPS`];
/// `loss_at(j, δ)` evaluates L with entry j moved by δ and puts it back exactly.
fn numerical(
    len: usize,
    mut loss_at: impl FnMut(usize, f64) -> Result<f64>,
) -> Result<Vec<Vec<f64>>> {
    let mut out = vec![Vec::with_capacity(len); FD_STEPS.len()];
    for j in 0..len {
        for (estimate, &h) in out.iter_mut().zip(&FD_STEPS) {
            let (p1, m1) = (loss_at(j, h)?, loss_at(j, -h)?);
            let (p2, m2) = (loss_at(j, 2.0 * h)?, loss_at(j, -2.0 * h)?);
            estimate.push((8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * h));
        }
    }
    Ok(out)
}

/// The comparison at the finite-difference step that agrees best.
fn best_of(name: String, analytic: &[f64], numeric: &[Vec<f64>]) -> TensorCheck {
    numeric
        .iter()
        .map(|n| compare(name.clone(), analytic, n))
        .min_by(|a, b| a.max_rel_error.total_cmp(&b.max_rel_error))
        .expect("at least one step")
}

/// The per-tensor error measure of this module.
pub fn compare(name: String, analytic: &[f64], numeric: &[f64]) -> TensorCheck {
    let scale = analytic
        .iter()
        .chain(numeric)
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = analytic
        .iter()
        .zip(numeric)
        .fold(0.0f64, |m, (a, n)| m.max((a - n).abs()));
    // f64::max drops NaN, so a non-finite entry is looked for explicitly
    let non_finite = analytic.iter().chain(numeric).any(|v| !v.is_finite());
    let max_rel_error = if non_finite {
        f64::INFINITY
    } else if scale == 0.0 {
        0.0
    } else {
        diff / scale
    };
    TensorCheck {
        name,
        max_rel_error,
        max_abs_grad: analytic.iter().fold(0.0f64, |m, v| m.max(v.abs())),
    }
}

/// The definition of truncated BPTT with window k as a forward-only objective: `Σ_c L_c`, where
/// chunk c = steps [ck, (c+1)k) is run from a start state that is a constant (`frozen[c]`, taken
/// from the unperturbed full forward pass) except for chunk 0, which starts from `state`. Its
/// gradient is what `Bptt::Truncated(k)` must return.
pub fn truncated_objective(
    net: &Network<f64>,
    batch: &Batch<f64>,
    state: &State<f64>,
    frozen: &[State<f64>],
    k: usize,
) -> Result<f64> {
    let (steps, _) = batch.shape();
    let mut total = 0.0;
    for (c, start) in (0..steps).step_by(k).enumerate() {
        let chunk = batch.slice_steps(start..(start + k).min(steps));
        let from = if c == 0 { state } else { &frozen[c] };
        total += net.loss(&chunk, Some(from))?;
    }
    Ok(total)
}
