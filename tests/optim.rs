//! Optimisers and clipping on real networks: losses fall, clipping reports the pre-clip norm,
//! divergence never reaches the weights.

use rnnlab::gradcheck::{case_setup, standard_cases};
use rnnlab::optim::{Clip, Optimizer, OptimizerKind, OptimizerSpec};
use rnnlab::{Activation, Bptt, CellKind, Error};

#[test]
fn every_optimiser_lowers_the_loss_of_a_fixed_batch() {
    let case = standard_cases(&[CellKind::Lstm], &[Activation::Tanh])[0].clone();
    for (kind, lr) in [
        (OptimizerKind::Sgd, 1.0),
        (OptimizerKind::Rmsprop, 0.01),
        (OptimizerKind::Adam, 0.01),
    ] {
        let mut spec = OptimizerSpec::new(kind, lr);
        if kind == OptimizerKind::Sgd {
            spec.momentum = 0.9;
        }
        let (mut net, batch, state) = case_setup(&case, 1).unwrap();
        let mut opt = Optimizer::new(spec, &net.params).unwrap();
        let first = net.loss(&batch, Some(&state)).unwrap();
        for _ in 0..60 {
            let mut grads = net
                .evaluate(&batch, Some(&state), Bptt::Full)
                .unwrap()
                .backward
                .grads;
            opt.step(&mut net.params, &mut grads, Clip::Norm(5.0))
                .unwrap();
        }
        let last = net.loss(&batch, Some(&state)).unwrap();
        assert!(last < 0.5 * first, "{kind}: {first} -> {last}");
        assert_eq!(opt.steps(), 60);
    }
}

#[test]
fn clipping_reports_the_norm_before_clipping_and_bounds_the_gradient() {
    let case = standard_cases(&[CellKind::Gru], &[Activation::Tanh])[0].clone();
    let (net, batch, state) = case_setup(&case, 2).unwrap();
    let grads = net
        .evaluate(&batch, Some(&state), Bptt::Full)
        .unwrap()
        .backward
        .grads;
    let norm = grads.global_norm();
    let mut params = net.params.clone();
    let mut opt = Optimizer::new(OptimizerSpec::new(OptimizerKind::Sgd, 0.1), &params).unwrap();

    let mut g = grads.clone();
    let report = opt
        .step(&mut params, &mut g, Clip::Norm(norm / 4.0))
        .unwrap();
    assert!(report.clipped);
    assert_eq!(report.grad_norm, norm);
    assert!((g.global_norm() - norm / 4.0).abs() < 1e-12 * norm);

    let mut g = grads.clone();
    let report = opt
        .step(&mut params, &mut g, Clip::Norm(norm * 2.0))
        .unwrap();
    assert!(!report.clipped);
    assert_eq!(g, grads);

    let mut g = grads.clone();
    let report = opt.step(&mut params, &mut g, Clip::Value(1e-3)).unwrap();
    assert!(report.clipped);
    assert!(g
        .named()
        .iter()
        .flat_map(|t| t.data.iter())
        .all(|v| v.abs() <= 1e-3));
}

#[test]
fn a_non_finite_gradient_is_divergence_and_leaves_the_weights_alone() {
    let case = standard_cases(&[CellKind::Rnn], &[Activation::Tanh])[0].clone();
    let (net, batch, state) = case_setup(&case, 4).unwrap();
    let mut grads = net
        .evaluate(&batch, Some(&state), Bptt::Full)
        .unwrap()
        .backward
        .grads;
    grads.layers[0].weight_hh[[0, 0]] = f64::NAN;
    let mut params = net.params.clone();
    let mut opt = Optimizer::new(OptimizerSpec::new(OptimizerKind::Adam, 0.1), &params).unwrap();
    let err = opt
        .step(&mut params, &mut grads, Clip::Norm(1.0))
        .unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err}");
    assert_eq!(params, net.params);
    assert_eq!(opt.steps(), 0);
}

#[test]
fn bad_hyper_parameters_name_the_field() {
    let params = case_setup(&standard_cases(&[CellKind::Rnn], &[Activation::Tanh])[0], 0)
        .unwrap()
        .0
        .params;
    let err = Optimizer::new(OptimizerSpec::new(OptimizerKind::Adam, -1.0), &params)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lr"), "{err}");
    let mut spec = OptimizerSpec::new(OptimizerKind::Sgd, 0.1);
    spec.momentum = 1.5;
    assert!(Optimizer::new(spec, &params)
        .unwrap_err()
        .to_string()
        .contains("momentum"));
    assert!(Clip::Norm(0.0)
        .validate()
        .unwrap_err()
        .to_string()
        .contains("clip"));
}

#[test]
fn optimiser_state_is_typed_like_the_parameters() {
    let case = standard_cases(&[CellKind::Lstm], &[Activation::Tanh])[0].clone();
    let (mut net, batch, state) = case_setup(&case, 3).unwrap();
    let mut opt =
        Optimizer::new(OptimizerSpec::new(OptimizerKind::Adam, 0.01), &net.params).unwrap();
    let mut grads = net
        .evaluate(&batch, Some(&state), Bptt::Full)
        .unwrap()
        .backward
        .grads;
    opt.step(&mut net.params, &mut grads, Clip::None).unwrap();
    let (m, v) = opt.state();
    for moment in [m, v] {
        let (want, got) = (net.params.named(), moment.named());
        assert_eq!(want.len(), got.len());
        for (w, g) in want.iter().zip(&got) {
            assert_eq!((&w.name, &w.shape), (&g.name, &g.shape));
        }
    }
    // after one Adam step m = (1 − β₁) g, entry by entry in the parameters' layout
    let g = grads.layers[0].weight_hh[[1, 2]];
    assert!((m.layers[0].weight_hh[[1, 2]] - 0.1 * g).abs() <= 1e-15 * g.abs().max(1.0));
}
