//! The decay diagnostics: the step Jacobian products against finite differences of the forward
//! step, the power-iteration norm against a dense eigen-solver, and the regimes the diagnostics
//! are meant to expose (sigmoid's 0.25, saturation, dead ReLUs, open forget gates, linear decay).

use ndarray::{Array2, Array3};
use ndarray_rand::rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rnnlab::analysis::{
    diagnose, diagnostics_csv_rows, LayerDiagnostics, StepJacobian, DIAGNOSTICS_CSV_HEADER,
};
use rnnlab::network::{InputKind, OutputKind};
use rnnlab::{
    Activation, CellKind, InitScheme, InitSpec, Inputs, ModelSpec, Network, State, WeightInit,
};

const INPUT_WIDTH: usize = 3;

fn uniform2(shape: (usize, usize), scale: f64, rng: &mut ChaCha8Rng) -> Array2<f64> {
    Array2::from_shape_fn(shape, |_| scale * rng.random_range(-1.0..1.0))
}

fn dense_inputs(steps: usize, batch: usize, scale: f64, seed: u64) -> Inputs<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Inputs::Dense(Array3::from_shape_fn((steps, batch, INPUT_WIDTH), |_| {
        scale * rng.random_range(-1.0..1.0)
    }))
}

struct Net {
    cell: CellKind,
    activation: Activation,
    layer_norm: bool,
    hidden: usize,
    layers: usize,
    init: InitSpec,
}

impl Net {
    fn new(cell: CellKind, activation: Activation) -> Self {
        Net {
            cell,
            activation,
            layer_norm: false,
            hidden: 5,
            layers: 1,
            init: InitSpec::default(),
        }
    }

    fn build(&self, seed: u64) -> Network<f64> {
        let mut spec = ModelSpec::new(
            self.cell,
            InputKind::Dense { width: INPUT_WIDTH },
            self.hidden,
            self.layers,
            OutputKind::Classes { count: 2 },
        );
        spec.activation = self.activation;
        spec.layer_norm = self.layer_norm;
        let mut net = Network::<f64>::init(spec, &self.init, seed).unwrap();
        // γ = 1, β = 0 at initialisation would hide a misplaced γ: draw them
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 1000);
        for layer in &mut net.params.layers {
            if let Some((gamma, beta)) = &mut layer.layer_norm {
                gamma.mapv_inplace(|_| rng.random_range(0.5..2.0));
                beta.mapv_inplace(|_| rng.random_range(-0.5..0.5));
            }
        }
        net
    }

    fn label(&self) -> String {
        format!(
            "{} {} ln={} L={}",
            self.cell, self.activation, self.layer_norm, self.layers
        )
    }
}

/// A random initial state (h and, for LSTM, c) for every layer.
fn random_state(net: &Network<f64>, batch: usize, seed: u64) -> State<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let h = net
        .spec
        .hidden
        .iter()
        .map(|&h| uniform2((batch, h), 0.8, &mut rng))
        .collect();
    let c = net
        .spec
        .hidden
        .iter()
        .map(|&h| (net.spec.cell == CellKind::Lstm).then(|| uniform2((batch, h), 1.5, &mut rng)))
        .collect();
    State { h, c }
}

fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// The cases whose Jacobian products are checked.
fn jacobian_cases() -> Vec<Net> {
    let mut cases: Vec<Net> = Activation::ALL
        .iter()
        .map(|&a| Net::new(CellKind::Rnn, a))
        .collect();
    for a in Activation::ALL {
        cases.push(Net {
            layer_norm: true,
            ..Net::new(CellKind::Rnn, a)
        });
    }
    cases.push(Net::new(CellKind::Lstm, Activation::Tanh));
    cases.push(Net::new(CellKind::Gru, Activation::Tanh));
    for cell in CellKind::ALL {
        cases.push(Net {
            layers: 2,
            layer_norm: cell == CellKind::Rnn,
            ..Net::new(cell, Activation::Tanh)
        });
    }
    cases
}

#[test]
fn jacobian_products_match_central_finite_differences_and_each_other() {
    let (steps, batch) = (4, 3);
    let eps = 1e-5;
    for (k, case) in jacobian_cases().iter().enumerate() {
        let seed = 40 + k as u64;
        let net = case.build(seed);
        let inputs = dense_inputs(steps, batch, 1.0, seed);
        let state = random_state(&net, batch, seed);
        let forward = net.forward(&inputs, Some(&state)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 7);
        for layer in 0..case.layers {
            for t in [0, steps - 1] {
                let jac = StepJacobian::new(&net, &forward, layer, t, batch);
                assert_eq!(jac.sequences(), batch);
                let before = forward.state_at(t);
                for _ in 0..3 {
                    let v = uniform2((batch, case.hidden), 1.0, &mut rng);
                    let jv = jac.apply(v.view());
                    // h_t of this layer from h_{t−1} ± εv, everything else (c_{t−1}, the
                    // other layers' states, the inputs) unchanged
                    let run = |sign: f64| {
                        let mut s = before.clone();
                        s.h[layer].scaled_add(sign * eps, &v);
                        net.step(&mut s, &inputs, t).unwrap();
                        s.h[layer].clone()
                    };
                    let fd = (run(1.0) - run(-1.0)) / (2.0 * eps);
                    let err = max_abs(&(&jv - &fd)) / max_abs(&fd);
                    assert!(
                        err < 1e-7,
                        "{} layer {layer} t {t}: J v relative error {err:e}",
                        case.label()
                    );

                    // ⟨u, J v⟩ = ⟨Jᵀ u, v⟩, sequence by sequence
                    let u = uniform2((batch, case.hidden), 1.0, &mut rng);
                    let jtu = jac.apply_transpose(u.view());
                    for b in 0..batch {
                        let lhs = u.row(b).dot(&jv.row(b));
                        let rhs = jtu.row(b).dot(&v.row(b));
                        let scale = lhs.abs().max(rhs.abs()).max(1e-300);
                        assert!(
                            (lhs - rhs).abs() / scale < 1e-12,
                            "{} layer {layer} t {t} b {b}: ⟨u, Jv⟩ {lhs} vs ⟨Jᵀu, v⟩ {rhs}",
                            case.label()
                        );
                    }
                }
            }
        }
    }
}

/// The eigenvalues of a symmetric matrix by cyclic Jacobi rotations.
fn symmetric_eigenvalues(mut a: Array2<f64>) -> Vec<f64> {
    let n = a.nrows();
    for _sweep in 0..100 {
        let off: f64 = a
            .indexed_iter()
            .filter(|((i, j), _)| i != j)
            .map(|(_, v)| v * v)
            .sum();
        let total: f64 = a.iter().map(|v| v * v).sum();
        if off <= 1e-32 * total {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[[p, q]] == 0.0 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
            }
        }
    }
    a.diag().to_vec()
}

#[test]
fn power_iteration_finds_the_largest_singular_value_of_the_explicit_jacobian() {
    let (steps, batch, hidden) = (3, 4, 6);
    let cases = [
        Net::new(CellKind::Rnn, Activation::Tanh),
        Net {
            layer_norm: true,
            ..Net::new(CellKind::Rnn, Activation::Sigmoid)
        },
        Net::new(CellKind::Lstm, Activation::Tanh),
        Net::new(CellKind::Gru, Activation::Tanh),
    ];
    for (k, case) in cases.into_iter().enumerate() {
        let case = Net {
            hidden,
            init: InitSpec {
                recurrent: WeightInit::new(InitScheme::Default, 3.0),
                ..InitSpec::default()
            },
            ..case
        };
        let seed = 70 + k as u64;
        let net = case.build(seed);
        let inputs = dense_inputs(steps, batch, 1.0, seed);
        let forward = net.forward(&inputs, None).unwrap();
        let mut estimate_sum = 0.0;
        for t in 0..steps {
            let jac = StepJacobian::new(&net, &forward, 0, t, batch);
            // column j of every sequence's Jacobian: J e_j
            let mut explicit = vec![Array2::<f64>::zeros((hidden, hidden)); batch];
            for j in 0..hidden {
                let mut e = Array2::<f64>::zeros((batch, hidden));
                e.column_mut(j).fill(1.0);
                let col = jac.apply(e.view());
                for (b, m) in explicit.iter_mut().enumerate() {
                    m.column_mut(j).assign(&col.row(b));
                }
            }
            let estimates = jac.spectral_norms(500);
            estimate_sum += estimates.sum();
            for (b, m) in explicit.iter().enumerate() {
                let jtj = m.t().dot(m);
                let sigma = symmetric_eigenvalues(jtj)
                    .into_iter()
                    .fold(0.0f64, f64::max)
                    .sqrt();
                let est = estimates[b];
                assert!(
                    (est - sigma).abs() <= 1e-8 * sigma,
                    "{} t {t} b {b}: power iteration {est} vs dense {sigma}",
                    case.label()
                );
                // ‖J v‖ for a unit v never exceeds σ_max
                assert!(est <= sigma * (1.0 + 1e-12), "{}", case.label());
            }
        }
        // diagnose averages exactly these estimates over (t, b); max_sequences is clamped to B
        let d = diagnose(&net, &forward, 100, 500);
        let mean = estimate_sum / (steps * batch) as f64;
        let got = d[0].mean_jacobian_spectral_norm;
        assert!((got - mean).abs() <= 1e-12 * mean, "{got} vs {mean}");
    }
}

fn diagnose_one(case: &Net, input_scale: f64, seed: u64) -> (Network<f64>, LayerDiagnostics) {
    let net = case.build(seed);
    let inputs = dense_inputs(12, 8, input_scale, seed);
    let forward = net.forward(&inputs, None).unwrap();
    let d = diagnose(&net, &forward, 4, 50);
    assert_eq!(d.len(), case.layers);
    (net, d[0].clone())
}

#[test]
fn a_sigmoid_rnn_passes_at_most_a_quarter_of_the_signal_through_its_activation() {
    let case = Net::new(CellKind::Rnn, Activation::Sigmoid);
    let (_, d) = diagnose_one(&case, 1.0, 1);
    assert!(
        d.mean_activation_derivative > 0.0 && d.mean_activation_derivative <= 0.25,
        "{d:?}"
    );
    assert_eq!(d.mean_gate, None);
    assert!(d.mean_jacobian_spectral_norm.is_finite() && d.mean_jacobian_spectral_norm > 0.0);
}

#[test]
fn huge_inputs_saturate_a_tanh_rnn_and_shrink_its_jacobian() {
    let scaled = |scale| Net {
        hidden: 8,
        init: InitSpec {
            input: WeightInit::new(InitScheme::Default, scale),
            ..InitSpec::default()
        },
        ..Net::new(CellKind::Rnn, Activation::Tanh)
    };
    // input weights U(±50/√H) on inputs U(±10): |pre-activation| of the order of 100
    let (_, saturated) = diagnose_one(&scaled(50.0), 10.0, 2);
    let (_, calm) = diagnose_one(&scaled(1.0), 1.0, 2);
    assert!(saturated.saturated_fraction > 0.95, "{saturated:?}");
    assert!(saturated.mean_activation_derivative < 0.05, "{saturated:?}");
    assert!(calm.saturated_fraction < 0.1, "{calm:?}");
    assert!(
        saturated.mean_jacobian_spectral_norm < calm.mean_jacobian_spectral_norm,
        "{saturated:?} vs {calm:?}"
    );
}

#[test]
fn a_relu_unit_is_saturated_exactly_when_it_is_inactive() {
    let case = Net {
        hidden: 16,
        ..Net::new(CellKind::Rnn, Activation::Relu)
    };
    let net = case.build(3);
    let forward = net.forward(&dense_inputs(10, 6, 1.0, 3), None).unwrap();
    let d = &diagnose(&net, &forward, 6, 20)[0];
    let h = forward.layers[0].hidden();
    let inactive = h.iter().filter(|&&v| v == 0.0).count() as f64 / h.len() as f64;
    assert!(inactive > 0.0 && inactive < 1.0, "{inactive}");
    assert_eq!(d.saturated_fraction, inactive);
    // relu' ∈ {0, 1}: the mean derivative is the active fraction
    assert!((d.mean_activation_derivative - (1.0 - inactive)).abs() < 1e-15);
}

#[test]
fn gate_means_follow_the_lstm_forget_bias_and_exist_for_gru_only_among_gated_cells() {
    let lstm = |forget_bias| Net {
        init: InitSpec {
            forget_bias,
            ..InitSpec::default()
        },
        ..Net::new(CellKind::Lstm, Activation::Tanh)
    };
    let (net, open) = diagnose_one(&lstm(3.0), 1.0, 4);
    let f = open.mean_gate.unwrap();
    assert!(f > 0.9, "{open:?}");
    // the forget block of the cache is what mean_gate averages
    let forward = net.forward(&dense_inputs(12, 8, 1.0, 4), None).unwrap();
    let h = net.spec.hidden[0];
    let gates = &forward.layers[0].gates;
    let f_min = gates
        .slice(ndarray::s![.., .., h..2 * h])
        .iter()
        .fold(1.0f64, |m, &v| m.min(v));
    assert!(f_min > 0.5 && f_min <= f);
    let (_, neutral) = diagnose_one(&lstm(0.0), 1.0, 4);
    let f0 = neutral.mean_gate.unwrap();
    assert!(f0 > 0.25 && f0 < 0.75, "{neutral:?}");

    let (_, gru) = diagnose_one(&Net::new(CellKind::Gru, Activation::Tanh), 1.0, 5);
    let z = gru.mean_gate.unwrap();
    assert!(z > 0.0 && z < 1.0, "{gru:?}");
    assert!(gru.mean_activation_derivative > 0.0 && gru.mean_activation_derivative <= 1.0);
    assert!((0.0..=1.0).contains(&gru.saturated_fraction));
}

#[test]
fn a_near_linear_tanh_rnn_with_half_identity_recurrence_has_jacobian_norm_one_half() {
    let case = Net {
        hidden: 6,
        init: InitSpec {
            input: WeightInit::new(InitScheme::Default, 1e-6),
            recurrent: WeightInit::new(InitScheme::Identity, 0.5),
            bias: WeightInit::new(InitScheme::Zeros, 1.0),
            ..InitSpec::default()
        },
        ..Net::new(CellKind::Rnn, Activation::Tanh)
    };
    let (_, d) = diagnose_one(&case, 1e-3, 6);
    assert!((d.mean_jacobian_spectral_norm - 0.5).abs() < 1e-9, "{d:?}");
    assert!((d.mean_activation_derivative - 1.0).abs() < 1e-9, "{d:?}");
    assert_eq!(d.saturated_fraction, 0.0);
}

#[test]
fn csv_rows_have_the_header_columns_and_round_trip_the_values() {
    let columns = DIAGNOSTICS_CSV_HEADER.split(',').count();
    assert_eq!(columns, 6);
    for cell in CellKind::ALL {
        let case = Net {
            layers: 2,
            ..Net::new(cell, Activation::Tanh)
        };
        let net = case.build(8);
        let forward = net.forward(&dense_inputs(5, 3, 1.0, 8), None).unwrap();
        let d = diagnose(&net, &forward, 2, 10);
        let rows = diagnostics_csv_rows(17, &d);
        assert_eq!(rows.len(), 2);
        for (row, layer) in rows.iter().zip(&d) {
            let fields: Vec<&str> = row.split(',').collect();
            assert_eq!(fields.len(), columns, "{row}");
            assert_eq!(fields[0], "17");
            assert_eq!(fields[1].parse::<usize>().unwrap(), layer.layer);
            let parse = |s: &str| s.parse::<f64>().unwrap();
            assert_eq!(parse(fields[2]), layer.mean_activation_derivative);
            assert_eq!(parse(fields[3]), layer.saturated_fraction);
            assert_eq!(parse(fields[4]), layer.mean_jacobian_spectral_norm);
            match layer.mean_gate {
                None => assert_eq!(fields[5], "", "{row}"),
                Some(g) => assert_eq!(parse(fields[5]), g),
            }
        }
        assert_eq!(d[0].mean_gate.is_some(), cell != CellKind::Rnn);
        assert_eq!(
            d.iter().map(|l| l.layer).collect::<Vec<_>>(),
            vec![0, 1],
            "{cell}"
        );
    }
}

#[test]
fn tiny_values_keep_full_precision_in_the_csv() {
    let d = LayerDiagnostics {
        layer: 0,
        mean_activation_derivative: 1e-300,
        saturated_fraction: 0.1 + 0.2,
        mean_jacobian_spectral_norm: 3.0e-200,
        mean_gate: Some(0.999_999_999_999_9),
    };
    let row = &diagnostics_csv_rows(0, std::slice::from_ref(&d))[0];
    let fields: Vec<f64> = row.split(',').skip(2).map(|s| s.parse().unwrap()).collect();
    assert_eq!(
        fields,
        vec![1e-300, 0.1 + 0.2, 3.0e-200, 0.999_999_999_999_9],
        "{row}"
    );
}
