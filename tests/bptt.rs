//! Behaviour of the forward and backward passes beyond exactness: state carrying, the
//! per-timestep adjoints the gradient reports use, vanishing and exploding signals, saturation.

use ndarray::{Array2, Array3, Axis};
use rnnlab::gradcheck::{case_setup, standard_cases};
use rnnlab::network::{InputKind, OutputKind};
use rnnlab::{
    Activation, Batch, Bptt, CellKind, InitScheme, InitSpec, Inputs, ModelSpec, Network, Targets,
    WeightInit,
};

#[test]
fn step_by_step_forward_equals_whole_sequence_forward() {
    for case in standard_cases(&CellKind::ALL, &Activation::ALL) {
        let (net, batch, state) = case_setup(&case, 11).unwrap();
        let whole = net.forward(&batch.inputs, Some(&state)).unwrap();
        let mut carried = state.clone();
        for t in 0..case.steps {
            let out = net.step(&mut carried, &batch.inputs, t).unwrap();
            let expected = whole.top_output().index_axis(Axis(0), t).to_owned();
            let diff = (&out - &expected)
                .iter()
                .fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(diff < 1e-12, "{case} step {t}: {diff:e}");
        }
        assert_eq!(carried.h.len(), whole.final_state().h.len());
    }
}

#[test]
fn per_timestep_recurrent_contributions_sum_to_the_recurrent_gradient() {
    for case in standard_cases(&CellKind::ALL, &[Activation::Tanh]) {
        let (net, batch, state) = case_setup(&case, 5).unwrap();
        let eval = net.evaluate(&batch, Some(&state), Bptt::Full).unwrap();
        for l in 0..case.spec.layers() {
            let mut sum = Array2::<f64>::zeros(eval.backward.grads.layers[l].weight_hh.raw_dim());
            for t in 0..case.steps {
                sum += &eval.backward.whh_step_grad(&eval.forward, l, t);
            }
            let diff = (&sum - &eval.backward.grads.layers[l].weight_hh)
                .iter()
                .fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(diff < 1e-12, "{case} layer {l}: {diff:e}");
            let norms = eval.backward.whh_step_grad_norms(&eval.forward, l);
            assert_eq!(norms.len(), case.steps);
            assert!(norms.iter().all(|n| n.is_finite()));
        }
    }
}

/// A one-layer RNN on random real inputs with the loss (per sequence) at the last step only.
fn last_step_problem(
    activation: Activation,
    input: WeightInit,
    recurrent: WeightInit,
    steps: usize,
) -> (Network<f64>, Batch<f64>) {
    let mut spec = ModelSpec::new(
        CellKind::Rnn,
        InputKind::Dense { width: 4 },
        16,
        1,
        OutputKind::Classes { count: 3 },
    );
    spec.activation = activation;
    let init = InitSpec {
        input,
        recurrent,
        bias: WeightInit::new(InitScheme::Zeros, 1.0),
        ..InitSpec::default()
    };
    let net = Network::<f64>::init(spec, &init, 2).unwrap();
    let batch = 5;
    let x = Array3::from_shape_fn((steps, batch, 4), |(t, b, i)| {
        (((t * 31 + b * 7 + i * 3) % 11) as f64 / 11.0) + 0.05
    });
    let mut loss_weight = Array2::zeros((steps, batch));
    loss_weight.row_mut(steps - 1).fill(1.0);
    let targets = Targets::Classes {
        ids: Array2::from_shape_fn((steps, batch), |(_, b)| b % 3),
        classes: 3,
    };
    (
        net,
        Batch {
            inputs: Inputs::Dense(x),
            targets,
            loss_weight,
        },
    )
}

/// Mean over the batch of ‖∂ℓ/∂h_t‖₂ for every t.
fn grad_h_by_step(net: &Network<f64>, batch: &Batch<f64>) -> Vec<f64> {
    let eval = net.evaluate(batch, None, Bptt::Full).unwrap();
    let dh = &eval.backward.layers[0].dh;
    (0..dh.dim().0)
        .map(|t| {
            let rows = dh.index_axis(Axis(0), t);
            rows.rows()
                .into_iter()
                .map(|r| r.dot(&r).sqrt())
                .sum::<f64>()
                / rows.nrows() as f64
        })
        .collect()
}

#[test]
fn a_sigmoid_rnn_with_small_recurrent_weights_forgets_within_thirty_steps() {
    let (net, batch) = last_step_problem(
        Activation::Sigmoid,
        WeightInit::new(InitScheme::Default, 1.0),
        WeightInit::new(InitScheme::Default, 0.5),
        31,
    );
    let g = grad_h_by_step(&net, &batch);
    let (at_loss, thirty_back) = (g[30], g[0]);
    assert!(thirty_back > 0.0, "the signal must be small, not zero");
    assert!(
        thirty_back < 1e-6 * at_loss,
        "ratio {:e}",
        thirty_back / at_loss
    );
}

#[test]
fn a_relu_rnn_with_scaled_identity_recurrence_amplifies_the_signal_with_distance() {
    // identity input weights and positive inputs keep the first 4 units active at every step, so
    // each step back multiplies their adjoint by exactly 1.2; the 12 units that never switch on
    // drop out between distance 0 and 1
    let (net, batch) = last_step_problem(
        Activation::Relu,
        WeightInit::new(InitScheme::Identity, 1.0),
        WeightInit::new(InitScheme::Identity, 1.2),
        20,
    );
    let g = grad_h_by_step(&net, &batch);
    // distance d = 19 − t
    for t in 0..18 {
        let ratio = g[t] / g[t + 1];
        assert!((ratio - 1.2).abs() < 1e-9, "step {t}: growth {ratio}");
    }
    assert!(g[0] > 1.2f64.powi(10) * g[18]);
}

#[test]
fn saturating_inputs_of_plus_minus_100_give_no_nan() {
    for cell in CellKind::ALL {
        for act in [Activation::Tanh, Activation::Sigmoid] {
            let mut spec = ModelSpec::new(
                cell,
                InputKind::Dense { width: 2 },
                6,
                2,
                OutputKind::Classes { count: 2 },
            );
            spec.activation = act;
            let init = InitSpec {
                input: WeightInit::new(InitScheme::Default, 50.0),
                ..InitSpec::default()
            };
            let net = Network::<f32>::init(spec.clone(), &init, 0).unwrap();
            let x = Array3::from_shape_fn((5, 2, 2), |(t, b, i)| {
                if (t + b + i) % 2 == 0 {
                    100.0f32
                } else {
                    -100.0
                }
            });
            let targets = Targets::Classes {
                ids: Array2::zeros((5, 2)),
                classes: 2,
            };
            let batch = Batch {
                inputs: Inputs::Dense(x),
                targets,
                loss_weight: Array2::from_elem((5, 2), 0.1f32),
            };
            let eval = net.evaluate(&batch, None, Bptt::Full).unwrap();
            assert!(eval.loss.is_finite(), "{cell}/{act}");
            assert!(
                eval.backward.grads.global_norm().is_finite(),
                "{cell}/{act}"
            );
            assert!(eval
                .forward
                .layers
                .iter()
                .all(|l| l.h.iter().all(|v| v.is_finite())));
        }
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let (net, mut batch) = last_step_problem(
        Activation::Tanh,
        WeightInit::new(InitScheme::Default, 1.0),
        WeightInit::new(InitScheme::Default, 1.0),
        4,
    );
    batch.inputs = Inputs::Dense(Array3::zeros((4, 5, 3)));
    assert!(net
        .evaluate(&batch, None, Bptt::Full)
        .unwrap_err()
        .to_string()
        .contains("input width"));
    batch.inputs = Inputs::Tokens {
        ids: Array2::zeros((4, 5)),
        vocab: 4,
    };
    assert!(net.evaluate(&batch, None, Bptt::Full).is_err());
    let (net, mut batch) = last_step_problem(
        Activation::Tanh,
        WeightInit::new(InitScheme::Default, 1.0),
        WeightInit::new(InitScheme::Default, 1.0),
        4,
    );
    batch.loss_weight = Array2::zeros((3, 5));
    assert!(net
        .evaluate(&batch, None, Bptt::Full)
        .unwrap_err()
        .to_string()
        .contains("loss weights"));
    let (net, batch) = last_step_problem(
        Activation::Tanh,
        WeightInit::new(InitScheme::Default, 1.0),
        WeightInit::new(InitScheme::Default, 1.0),
        4,
    );
    assert!(net
        .evaluate(&batch, None, Bptt::Truncated(0))
        .unwrap_err()
        .to_string()
        .contains("bptt"));
}
