//! expRNN, the cell added through the Cell trait: the recurrent matrix exp(S − Sᵀ) is orthogonal,
//! every gradient (through the matrix exponential) matches central differences, and the model
//! trains, saves and reloads like the standard cells.

use ndarray::Array2;
use rnnlab::cells::exprnn::ExpRnn;
use rnnlab::gradcheck::{case_setup, check_case, standard_cases, truncated_cases, TOLERANCE};
use rnnlab::network::{InputKind, OutputKind};
use rnnlab::{Activation, Bptt, CellKind, InitSpec, ModelSpec, Network};

#[test]
fn exprnn_is_registered_by_name_but_not_among_the_standard_cells() {
    assert_eq!("exprnn".parse::<CellKind>().unwrap(), CellKind::ExpRnn);
    assert_eq!(CellKind::ExpRnn.to_string(), "exprnn");
    assert!(CellKind::REGISTERED.contains(&CellKind::ExpRnn));
    assert!(!CellKind::ALL.contains(&CellKind::ExpRnn));
    assert!(CellKind::ExpRnn.reparameterised() && CellKind::ExpRnn.uses_activation());
}

#[test]
fn every_exprnn_gradient_matches_finite_differences() {
    // modReLU (relu), tanh, sigmoid × depths × masks × losses, token inputs, truncated BPTT
    let mut cases = standard_cases(&[CellKind::ExpRnn], &Activation::ALL);
    cases.extend(truncated_cases(&[CellKind::ExpRnn], &Activation::ALL));
    assert!(cases.len() >= 27);
    for case in &cases {
        let report = check_case(case, 11).unwrap();
        for t in &report.tensors {
            assert!(
                t.max_rel_error < TOLERANCE,
                "{case}: {} relative error {:.3e}",
                t.name,
                t.max_rel_error
            );
            assert!(t.max_abs_grad > 1e-9, "{case}: {} has no gradient", t.name);
        }
    }
}

#[test]
fn the_recurrent_matrix_stays_orthogonal_and_is_exported_as_its_skew_parameter() {
    let spec = ModelSpec::new(
        CellKind::ExpRnn,
        InputKind::Dense { width: 3 },
        6,
        2,
        OutputKind::Classes { count: 2 },
    );
    let net = Network::<f64>::init(spec, &InitSpec::default(), 4).unwrap();
    for layer in &net.params.layers {
        let w = ExpRnn::recurrent_matrix(layer);
        let gram = w.t().dot(&w);
        assert!((&gram - &Array2::<f64>::eye(6))
            .iter()
            .all(|v| v.abs() < 1e-12));
    }
    let names: Vec<String> = net.params.named().into_iter().map(|t| t.name).collect();
    assert!(names.contains(&"skew_hh_l0".to_string()), "{names:?}");
    assert!(names.contains(&"weight_ih_l1".to_string()), "{names:?}");
}

#[test]
fn a_training_step_runs_in_f32_and_the_loss_is_finite() {
    let case = &standard_cases(&[CellKind::ExpRnn], &[Activation::Relu])[0];
    let (net, batch, state) = case_setup(case, 2).unwrap();
    let (net, batch) = (net.cast::<f32>(), batch.cast::<f32>());
    let state = rnnlab::State {
        h: state.h.iter().map(|h| h.mapv(|v| v as f32)).collect(),
        c: state.c.iter().map(|_| None).collect(),
    };
    let eval = net.evaluate(&batch, Some(&state), Bptt::Full).unwrap();
    assert!(eval.loss.is_finite());
    assert!(eval.backward.grads.global_norm().is_finite());
}

#[test]
fn the_step_jacobian_from_the_backward_step_matches_finite_differences() {
    use rnnlab::analysis::StepJacobian;
    for act in [Activation::Relu, Activation::Tanh] {
        let case = &standard_cases(&[CellKind::ExpRnn], &[act])[0];
        let (net, batch, state) = case_setup(case, 6).unwrap();
        let forward = net.forward(&batch.inputs, Some(&state)).unwrap();
        let (b, h) = (forward.batch, net.spec.hidden[0]);
        let v = Array2::from_shape_fn((b, h), |(i, j)| ((i * 7 + j * 3) % 5) as f64 * 0.2 - 0.4);
        for t in [0, forward.steps - 1] {
            let jv = StepJacobian::new(&net, &forward, 0, t, b).apply(v.view());
            let run = |sign: f64| {
                let mut s = forward.state_at(t);
                s.h[0].scaled_add(sign * 1e-6, &v);
                net.step(&mut s, &batch.inputs, t).unwrap();
                s.h[0].clone()
            };
            let fd = (run(1.0) - run(-1.0)) / 2e-6;
            let err = (&jv - &fd).iter().fold(0.0f64, |m, e| m.max(e.abs()));
            assert!(err < 1e-7, "{act} t {t}: {err:e}");
        }
    }
}

#[test]
fn the_recurrent_matrix_stays_orthogonal_to_1e12_after_200_adam_steps() {
    use rnnlab::optim::{Clip, Optimizer, OptimizerKind, OptimizerSpec};
    let mut case = standard_cases(&[CellKind::ExpRnn], &[Activation::Tanh])[0].clone();
    case.spec.hidden = vec![8];
    let (mut net, batch, state) = case_setup(&case, 3).unwrap();
    let mut opt =
        Optimizer::new(OptimizerSpec::new(OptimizerKind::Adam, 0.05), &net.params).unwrap();
    let first = net.loss(&batch, Some(&state)).unwrap();
    let skew0 = net.params.layers[0].weight_hh.clone();
    for _ in 0..200 {
        let mut grads = net
            .evaluate(&batch, Some(&state), Bptt::Full)
            .unwrap()
            .backward
            .grads;
        opt.step(&mut net.params, &mut grads, Clip::None).unwrap();
    }
    assert_eq!(opt.steps(), 200);
    // the parameter moved far, the loss fell, and W = exp(S − Sᵀ) is still orthogonal
    let moved = (&net.params.layers[0].weight_hh - &skew0)
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(moved > 0.5, "{moved}");
    assert!(net.loss(&batch, Some(&state)).unwrap() < first);
    let w = ExpRnn::recurrent_matrix(&net.params.layers[0]);
    let err = (&w.t().dot(&w) - &Array2::<f64>::eye(8))
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(err < 1e-12, "‖WᵀW − I‖_max = {err:e}");
}

#[test]
fn exprnn_defaults_to_modrelu_unless_another_activation_is_asked_for() {
    use rnnlab::sweep::Experiment;
    assert_eq!(CellKind::ExpRnn.default_activation(), Activation::Relu);
    assert_eq!(CellKind::Rnn.default_activation(), Activation::Tanh);
    let with = |options: &[(&str, &str)]| configured(options).model.activation;
    assert_eq!(with(&[("cell", "exprnn")]), Activation::Relu);
    assert_eq!(
        with(&[("cell", "exprnn"), ("activation", "tanh")]),
        Activation::Tanh
    );
    // back to a tanh cell, the exprnn default goes with it; an asked-for one stays
    assert_eq!(
        with(&[("cell", "exprnn"), ("cell", "rnn")]),
        Activation::Tanh
    );
    assert_eq!(
        with(&[("activation", "sigmoid"), ("cell", "exprnn")]),
        Activation::Sigmoid
    );
    // sweeps apply the same rule, whatever the order the file lists options in
    let exp: Experiment = ron::from_str(
        r#"(name: "t", grid: {"length": [5]}, variants: [
            (name: "modrelu", set: {"cell": "exprnn"}),
            (name: "tanh", set: {"activation": "tanh", "cell": "exprnn"}),
            (name: "rnn", set: {"cell": "rnn"}),
        ])"#,
    )
    .unwrap();
    let acts: Vec<Activation> = exp
        .runs()
        .unwrap()
        .iter()
        .map(|r| r.config.model.activation)
        .collect();
    assert_eq!(acts, [Activation::Relu, Activation::Tanh, Activation::Tanh]);
}

#[test]
fn henaff_gives_exprnn_the_rotation_a_plain_recurrent_matrix_gets_from_the_same_seed() {
    use rnnlab::init::{InitScheme, WeightInit};
    for scheme in [InitScheme::Henaff, InitScheme::Cayley] {
        let init = InitSpec {
            recurrent: WeightInit::new(scheme, 1.0),
            ..InitSpec::default()
        };
        let spec = |cell| {
            ModelSpec::new(
                cell,
                InputKind::Dense { width: 3 },
                7,
                1,
                OutputKind::Classes { count: 2 },
            )
        };
        let rnn = Network::<f64>::init(spec(CellKind::Rnn), &init, 9).unwrap();
        let exp = Network::<f64>::init(spec(CellKind::ExpRnn), &init, 9).unwrap();
        let w = &rnn.params.layers[0].weight_hh;
        let err = (&ExpRnn::recurrent_matrix(&exp.params.layers[0]) - w)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-12, "{scheme}: exp(S − Sᵀ) differs by {err:e}");
        // 2×2 rotation blocks (an odd size ends in a 1), nothing off the blocks
        assert_eq!(w[[6, 6]], 1.0);
        for i in 0..7 {
            for j in 0..7 {
                if i / 2 != j / 2 || i == 6 || j == 6 {
                    assert_eq!(
                        w[[i, j]],
                        f64::from(u8::from(i == j)),
                        "{scheme} ({i}, {j})"
                    );
                }
            }
        }
        for k in 0..3 {
            let (c, s) = (w[[2 * k, 2 * k]], w[[2 * k, 2 * k + 1]]);
            assert_eq!(w[[2 * k + 1, 2 * k + 1]], c);
            assert_eq!(w[[2 * k + 1, 2 * k]], -s);
            assert!((c * c + s * s - 1.0).abs() < 1e-15);
        }
        // the inputs are the same draw with and without the rotation scheme
        assert_eq!(
            rnn.params.layers[0].weight_ih,
            exp.params.layers[0].weight_ih
        );
    }
}

#[test]
fn the_rotation_angles_follow_their_laws() {
    use ndarray_rand::rand::SeedableRng;
    use rnnlab::init::{rotation_angles, InitScheme};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let henaff = rotation_angles(4001, InitScheme::Henaff, &mut rng);
    assert_eq!(henaff.len(), 2000);
    let pi = std::f64::consts::PI;
    assert!(henaff.iter().all(|t| (-pi..=pi).contains(t)));
    // U[−π, π]: mean 0 ± 3·π/√(3·2000), a quarter of the angles beyond ±π/2 on each side
    let mean = henaff.iter().sum::<f64>() / 2000.0;
    assert!(mean.abs() < 3.0 * pi / (3.0f64 * 2000.0).sqrt(), "{mean}");
    let beyond = henaff.iter().filter(|t| **t > pi / 2.0).count();
    assert!((400..600).contains(&beyond), "{beyond}");
    // Cayley: −tan(u/2), u ~ U[0, π/2], so θ ∈ [−1, 0] with median −tan(π/8)
    let cayley = rotation_angles(4000, InitScheme::Cayley, &mut rng);
    assert!(cayley.iter().all(|t| (-1.0..=0.0).contains(t)));
    let below = cayley.iter().filter(|t| **t < -(pi / 8.0).tan()).count();
    assert!((900..1100).contains(&below), "{below}");
    assert!(rotation_angles(10, InitScheme::Orthogonal, &mut rng).is_empty());
}

#[test]
fn exprnn_defaults_to_henaff_unless_another_recurrent_init_is_asked_for() {
    use rnnlab::init::InitScheme;
    let with = |options: &[(&str, &str)]| configured(options).init.recurrent.scheme;
    assert_eq!(with(&[("cell", "exprnn")]), InitScheme::Henaff);
    assert_eq!(
        with(&[("cell", "exprnn"), ("recurrent-init", "default")]),
        InitScheme::Default
    );
    assert_eq!(
        with(&[("cell", "exprnn"), ("init", "orthogonal")]),
        InitScheme::Orthogonal
    );
    // back to another cell: its own default again
    assert_eq!(
        with(&[("cell", "exprnn"), ("cell", "rnn")]),
        InitScheme::Default
    );
    assert_eq!(with(&[("cell", "lstm")]), InitScheme::Default);
}

#[test]
fn lr_orth_scales_the_skew_parameter_step_alone() {
    use rnnlab::optim::{Clip, Optimizer, OptimizerKind, OptimizerSpec};
    let case = &standard_cases(&[CellKind::ExpRnn], &[Activation::Relu])[0];
    let (net, batch, state) = case_setup(case, 5).unwrap();
    let grads = net
        .evaluate(&batch, Some(&state), Bptt::Full)
        .unwrap()
        .backward
        .grads;
    let step = |lr_orth: Option<f64>| {
        let mut spec = OptimizerSpec::new(OptimizerKind::Rmsprop, 1e-2);
        spec.lr_orth = lr_orth;
        let mut params = net.params.clone();
        let mut opt = Optimizer::new(spec, &params).unwrap();
        opt.step(&mut params, &mut grads.clone(), Clip::None)
            .unwrap();
        params
    };
    let (shared, split) = (step(None), step(Some(1e-3)));
    let delta = |p: &rnnlab::network::Params<f64>, l: usize| {
        &p.layers[l].weight_hh - &net.params.layers[l].weight_hh
    };
    for l in 0..net.params.layers.len() {
        let (a, b) = (delta(&shared, l), delta(&split, l));
        assert!(a.iter().any(|v| v.abs() > 1e-4));
        let err = (&a * 0.1 - &b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-15, "layer {l}: {err:e}");
        let layer = |p: &rnnlab::network::Params<f64>| p.layers[l].clone();
        assert_eq!(layer(&shared).weight_ih, layer(&split).weight_ih);
        assert_eq!(layer(&shared).bias_hh, layer(&split).bias_hh);
    }
    assert_eq!(shared.readout_weight, split.readout_weight);
}

/// The default training config with `options` set as the flags would set them, in order.
fn configured(options: &[(&str, &str)]) -> rnnlab::train::TrainConfig {
    let mut c = rnnlab::train::TrainConfig::default();
    for (k, v) in options {
        rnnlab::train::options::set_option(&mut c, k, v).unwrap();
    }
    c
}
