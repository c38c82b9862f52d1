//! The gradient report on a network whose answer can be computed by hand.

use ndarray::{arr1, arr2, Array2, Array3};
use rnnlab::analysis::gradient_report::probe_gradients;
use rnnlab::network::{InputKind, OutputKind, Params};
use rnnlab::{Activation, Batch, CellKind, Inputs, ModelSpec, Network, Targets};

/// One unit, h_t = relu(w h_{t−1} + x_t) with x_t > 0 and w > 0, so the cell is linear along the
/// whole sequence; readout y = h, squared error at the last step.
fn linear_unit(w: f64, steps: usize) -> (Network<f64>, Batch<f64>) {
    let mut spec = ModelSpec::new(
        CellKind::Rnn,
        InputKind::Dense { width: 1 },
        1,
        1,
        OutputKind::Values { width: 1 },
    );
    spec.activation = Activation::Relu;
    let mut params = Params::<f64>::zeros(&spec);
    params.layers[0].weight_ih = arr2(&[[1.0]]);
    params.layers[0].weight_hh = arr2(&[[w]]);
    params.readout_weight = arr2(&[[1.0]]);
    params.readout_bias = arr1(&[0.0]);
    let net = Network::new(spec, params).unwrap();
    let batch = 3;
    let x = Array3::from_shape_fn((steps, batch, 1), |(t, b, _)| {
        0.5 + 0.1 * ((t + b) % 3) as f64
    });
    let mut loss_weight = Array2::zeros((steps, batch));
    loss_weight.row_mut(steps - 1).fill(1.0);
    let targets = Targets::Values(Array3::from_elem((steps, batch, 1), -1.0));
    (
        net,
        Batch {
            inputs: Inputs::Dense(x),
            targets,
            loss_weight,
        },
    )
}

#[test]
fn a_linear_unit_decays_by_exactly_its_weight_per_step() {
    for w in [0.5, 0.9, 1.1] {
        let steps = 30;
        let (net, batch) = linear_unit(w, steps);
        let probe = probe_gradients(&net, &batch, steps - 1, 0).unwrap();
        let g0 = probe.rows.iter().find(|r| r.distance == 0).unwrap().grad_h;
        for r in &probe.rows {
            let expected = w.powi(r.distance as i32) * g0;
            assert!(
                (r.grad_h - expected).abs() <= 1e-12 * expected,
                "w={w} d={}: {} vs {expected}",
                r.distance,
                r.grad_h
            );
            assert_eq!(r.timestep + r.distance, steps - 1);
            assert_eq!(r.grad_c, None);
        }
        let s = &probe.summaries[0];
        assert!(
            (s.decay_per_step.unwrap() - w).abs() < 1e-12,
            "ρ = {:?}",
            s.decay_per_step
        );
        if w < 1.0 {
            assert!((s.half_life.unwrap() - std::f64::consts::LN_2 / -w.ln()).abs() < 1e-9);
        } else {
            assert!(s.half_life.unwrap().is_infinite() && s.horizon.is_none());
        }
    }
}

#[test]
fn values_near_1e_minus_200_are_reported_not_flushed_to_zero() {
    // 0.01 per step over 100 steps: 1e-200 of the signal at distance 0
    let (net, batch) = linear_unit(0.01, 101);
    let probe = probe_gradients(&net, &batch, 100, 0).unwrap();
    let g0 = probe.rows.iter().find(|r| r.distance == 0).unwrap().grad_h;
    let far = probe.rows.iter().find(|r| r.distance == 100).unwrap();
    assert!(far.grad_h > 0.0);
    assert!(
        (far.grad_h / g0 / 1e-200 - 1.0).abs() < 1e-9,
        "{:e}",
        far.grad_h / g0
    );
    assert!(far.csv().contains("e-2"), "{}", far.csv());
    let s = &probe.summaries[0];
    assert!((s.decay_per_step.unwrap() - 0.01).abs() < 1e-12);
    assert_eq!(s.horizon, Some(2));
}

#[test]
fn the_recurrent_weight_contribution_is_the_adjoint_times_the_previous_state() {
    let (net, batch) = linear_unit(0.8, 6);
    let probe = probe_gradients(&net, &batch, 5, 0).unwrap();
    // t = 0 reads h_{-1} = 0, so its contribution to dℓ/dW_hh vanishes; later ones do not
    let at = |t: usize| probe.rows.iter().find(|r| r.timestep == t).unwrap().grad_w;
    assert_eq!(at(0), 0.0);
    assert!(at(3) > 0.0);
}
