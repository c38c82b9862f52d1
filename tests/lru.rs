//! LRU (Orvieto et al. 2023), the diagonal complex linear recurrence: every gradient (ν and θ
//! included) matches central differences, the recurrence matches a plain complex-number reference,
//! and the initialisation puts the eigenvalues on the paper's ring.

use ndarray::Array3;
use rnnlab::cells::lru::{eigenvalues, units, R_MAX, R_MIN, THETA_MAX};
use rnnlab::gradcheck::{check_case, standard_cases, truncated_cases, TOLERANCE};
use rnnlab::network::{InputKind, OutputKind};
use rnnlab::{Activation, CellKind, InitSpec, Inputs, ModelSpec, Network};

#[test]
fn lru_is_registered_by_name_with_a_second_state() {
    assert_eq!("lru".parse::<CellKind>().unwrap(), CellKind::Lru);
    assert_eq!(CellKind::Lru.to_string(), "lru");
    assert!(CellKind::REGISTERED.contains(&CellKind::Lru));
    assert!(!CellKind::ALL.contains(&CellKind::Lru));
    assert!(CellKind::Lru.has_memory() && CellKind::Lru.uses_activation());
}

#[test]
fn every_lru_gradient_matches_finite_differences() {
    let mut cases = standard_cases(&[CellKind::Lru], &Activation::ALL);
    cases.extend(truncated_cases(&[CellKind::Lru], &Activation::ALL));
    assert!(cases.len() >= 27);
    let mut names = std::collections::BTreeSet::new();
    for case in &cases {
        let report = check_case(case, 13).unwrap();
        for t in &report.tensors {
            names.insert(t.name.clone());
            assert!(
                t.max_rel_error < TOLERANCE,
                "{case}: {} relative error {:.3e}",
                t.name,
                t.max_rel_error
            );
            // h_{t−1} reaches h_t only through the state x: the initial h has no gradient
            if !t.name.starts_with("h0_") {
                assert!(t.max_abs_grad > 1e-9, "{case}: {} has no gradient", t.name);
            }
        }
    }
    for name in [
        "B_re_B_im_D_l0",
        "C_re_C_im_l0",
        "bias_B_re_B_im_D_l0",
        "nu_log_theta_log_l0",
        "c0_l0",
    ] {
        assert!(names.contains(name), "{name} not checked: {names:?}");
    }
}

type C64 = (f64, f64);

fn cmul(a: C64, b: C64) -> C64 {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

fn cadd(a: C64, b: C64) -> C64 {
    (a.0 + b.0, a.1 + b.1)
}

#[test]
fn the_recurrence_matches_a_complex_number_reference() {
    let (hid, width, steps, batch) = (6, 3, 5, 2);
    let n = units(hid);
    let spec = ModelSpec::new(
        CellKind::Lru,
        InputKind::Dense { width },
        hid,
        1,
        OutputKind::Values { width: 2 },
    );
    let mut net = Network::<f64>::init(spec, &InitSpec::default(), 3).unwrap();
    // non-zero biases, so b_B and b_D are part of the reference too
    let p = &mut net.params.layers[0];
    for (k, b) in p.bias_ih.iter_mut().enumerate() {
        *b = 0.1 * (k as f64 % 5.0) - 0.2;
    }
    let p = net.params.layers[0].clone();
    let x = Array3::from_shape_fn((steps, batch, width), |(t, b, i)| {
        ((t * 7 + b * 3 + i * 5) % 11) as f64 / 5.0 - 1.0
    });
    let forward = net.forward(&Inputs::Dense(x.clone()), None).unwrap();
    let layer = &forward.layers[0];
    let memory = layer
        .cell
        .memory()
        .expect("the LRU keeps its state as memory");

    for b in 0..batch {
        let mut state: Vec<C64> = vec![(0.0, 0.0); n];
        for t in 0..steps {
            let u = x.slice(ndarray::s![t, b, ..]);
            for j in 0..n {
                // λ = exp(−e^ν + i e^θ), γ = sqrt(1 − |λ|²)
                let (nu, theta) = (p.bias_hh[j], p.bias_hh[n + j]);
                let modulus = (-nu.exp()).exp();
                let lambda = (modulus * theta.exp().cos(), modulus * theta.exp().sin());
                let gamma = (1.0 - modulus * modulus).sqrt();
                let mut bu = (p.bias_ih[j], p.bias_ih[n + j]);
                for i in 0..width {
                    bu = cadd(
                        bu,
                        cmul((p.weight_ih[[j, i]], p.weight_ih[[n + j, i]]), (u[i], 0.0)),
                    );
                }
                state[j] = cadd(cmul(lambda, state[j]), (gamma * bu.0, gamma * bu.1));
                let got = (memory[[t + 1, b, j]], memory[[t + 1, b, n + j]]);
                assert!(
                    (got.0 - state[j].0).abs() < 1e-12 && (got.1 - state[j].1).abs() < 1e-12,
                    "x t {t} b {b} j {j}: {got:?} vs {:?}",
                    state[j]
                );
            }
            for o in 0..hid {
                // y = tanh(Re(C x) + D u + b_D)
                let mut z = p.bias_ih[hid + o];
                for (j, &x) in state.iter().enumerate() {
                    z += cmul((p.weight_hh[[o, j]], p.weight_hh[[o, n + j]]), x).0;
                }
                for i in 0..width {
                    z += p.weight_ih[[hid + o, i]] * u[i];
                }
                let got = layer.h[[t + 1, b, o]];
                assert!((got - z.tanh()).abs() < 1e-12, "y t {t} b {b} o {o}");
            }
        }
    }
}

#[test]
fn the_initial_eigenvalues_lie_on_the_ring_with_phases_up_to_theta_max() {
    let spec = ModelSpec::new(
        CellKind::Lru,
        InputKind::Dense { width: 4 },
        400,
        2,
        OutputKind::Classes { count: 2 },
    );
    let net = Network::<f64>::init(spec, &InitSpec::default(), 9).unwrap();
    for p in &net.params.layers {
        let n = units(400);
        let (lre, lim, gamma) = eigenvalues(p);
        assert_eq!(lre.len(), n);
        let radii: Vec<f64> = lre.iter().zip(&lim).map(|(r, i)| r.hypot(*i)).collect();
        for (j, &r) in radii.iter().enumerate() {
            assert!((R_MIN - 1e-12..=R_MAX + 1e-12).contains(&r), "radius {r}");
            assert!((gamma[j] - (1.0 - r * r).sqrt()).abs() < 1e-12);
            let phase = p.bias_hh[n + j].exp();
            assert!(phase > 0.0 && phase <= THETA_MAX + 1e-12, "phase {phase}");
        }
        // r² is uniform on [r_min², r_max²]: its mean is the middle of that interval
        let mean_r2 = radii.iter().map(|r| r * r).sum::<f64>() / n as f64;
        let mid = 0.5 * (R_MIN * R_MIN + R_MAX * R_MAX);
        let sd = (R_MAX * R_MAX - R_MIN * R_MIN) / 12f64.sqrt() / (n as f64).sqrt();
        assert!((mean_r2 - mid).abs() < 4.0 * sd, "{mean_r2} vs {mid}");
        let mean_phase = (0..n).map(|j| p.bias_hh[n + j].exp()).sum::<f64>() / n as f64;
        let sd = THETA_MAX / 12f64.sqrt() / (n as f64).sqrt();
        assert!((mean_phase - THETA_MAX / 2.0).abs() < 4.0 * sd);
        // B and C are complex normal as in the paper: E|B_jk|² = 1/I, E|C_oj|² = 2/N
        let b_sq = p
            .weight_ih
            .slice(ndarray::s![..2 * n, ..])
            .mapv(|v| v * v)
            .sum()
            / (n * p.weight_ih.ncols()) as f64;
        let c_sq = p.weight_hh.mapv(|v| v * v).sum() / (400 * n) as f64;
        let inputs = p.weight_ih.ncols() as f64;
        assert!((b_sq * inputs - 1.0).abs() < 0.25, "{b_sq}");
        assert!((c_sq * n as f64 / 2.0 - 1.0).abs() < 0.1, "{c_sq}");
        assert!(p.bias_ih.iter().all(|&v| v == 0.0));
    }
}

#[test]
fn stepping_one_step_at_a_time_carries_the_complex_state() {
    let spec = ModelSpec::new(
        CellKind::Lru,
        InputKind::Dense { width: 2 },
        4,
        2,
        OutputKind::Classes { count: 2 },
    );
    let net = Network::<f64>::init(spec.clone(), &InitSpec::default(), 5).unwrap();
    let x = Array3::from_shape_fn((6, 3, 2), |(t, b, i)| {
        ((t + 2 * b + 3 * i) % 5) as f64 - 2.0
    });
    let inputs = Inputs::Dense(x);
    let whole = net.forward(&inputs, None).unwrap();
    let mut state = rnnlab::State::zeros(&spec, 3);
    for t in 0..6 {
        let y = net.step(&mut state, &inputs, t).unwrap();
        let want = whole
            .top_output()
            .index_axis(ndarray::Axis(0), t)
            .to_owned();
        assert!((&y - &want).iter().all(|v| v.abs() < 1e-12), "t {t}");
    }
}
