//! The gradient report, second edition (issue 13): fit quality and the non-exponential flag, the
//! signal at each task's sources, and where the W_hh update comes from.

use ndarray::{arr1, arr2, s, Array2, Array3};
use rnnlab::analysis::gradient_report::{
    decay_summary, probe_gradients, signal_sources, source_signal, summarise_source_signal,
    update_share, update_share_curve, DecaySummary, SourceSignalRow,
};
use rnnlab::network::{InputKind, OutputKind, Params};
use rnnlab::sweep::results::{ResultsTable, METRIC_COLUMNS};
use rnnlab::tasks::{SequenceInputs, Task, TaskKind, TaskSpec};
use rnnlab::train::trainer::probe_batch;
use rnnlab::train::TrainConfig;
use rnnlab::{Activation, Batch, Bptt, CellKind, Inputs, ModelSpec, Network, Targets};

fn profile(f: impl Fn(usize) -> f64, n: usize) -> Vec<(usize, f64)> {
    (0..n).map(|d| (d, f(d))).collect()
}

#[test]
fn an_exponential_profile_passes_with_r_squared_one_over_every_distance() {
    let s = decay_summary(0, &profile(|d| 0.3 * 0.8f64.powi(d as i32), 22));
    assert!((s.decay_per_step.unwrap() - 0.8).abs() < 1e-12);
    assert!((s.fit_r_squared.unwrap() - 1.0).abs() < 1e-12);
    assert_eq!((s.fit_from, s.fit_to), (Some(1), Some(21)));
    assert_eq!(s.fit_warning, None);
}

#[test]
fn a_u_shaped_profile_is_flagged_and_fitted_only_where_it_falls() {
    // falls by 0.5 per step to distance 10, then rises by 2 per step to distance 14: ×16
    let g = |d: usize| {
        if d <= 10 {
            0.5f64.powi(d as i32)
        } else {
            0.5f64.powi(10) * 2f64.powi((d - 10) as i32)
        }
    };
    let s = decay_summary(0, &profile(g, 15));
    let w = s.fit_warning.clone().expect("flagged");
    assert!(
        w.starts_with("not exponential: falls to 9.77e-4 at distance 10, then rises to 1.56e-2 at distance 14"),
        "{w}"
    );
    // the fall is exactly exponential, so ρ holds there and the range says where
    assert!((s.decay_per_step.unwrap() - 0.5).abs() < 1e-12);
    assert_eq!((s.fit_from, s.fit_to), (Some(1), Some(10)));
    assert!((s.half_life.unwrap() - 1.0).abs() < 1e-9);
}

#[test]
fn the_issue_profile_is_not_summarised_by_one_rho() {
    // the shape reported in issue 13: 6.3e-2 at the loss, 2.6e-4 at 12, 3.9e-3 at 21, with a fall
    // that is fast and then slow (not one exponential either)
    let g = |d: usize| match d {
        0 => 6.3e-2,
        1 => 1.4e-2,
        2 => 2.5e-3,
        3..=12 => 1.2e-3 * (2.6e-4f64 / 1.2e-3).powf((d - 3) as f64 / 9.0),
        _ => 2.6e-4 * (3.9e-3f64 / 2.6e-4).powf((d - 12) as f64 / 9.0),
    };
    let s = decay_summary(0, &profile(g, 22));
    assert_eq!(s.decay_per_step, None);
    assert_eq!(s.half_life, None);
    let w = s.fit_warning.unwrap();
    assert!(w.contains("falls to 2.60e-4 at distance 12, then rises to 3.90e-3 at distance 21"));
    assert!(
        w.contains("the fall over distances 1–12 fits with R²"),
        "{w}"
    );
    assert_eq!((s.fit_from, s.fit_to), (Some(1), Some(12)));
}

#[test]
fn a_rise_under_three_times_is_not_a_u() {
    // falls to distance 10, then rises ×2: still reported (R² decides), no U text
    let g = |d: usize| {
        if d <= 10 {
            0.5f64.powi(d as i32)
        } else {
            0.5f64.powi(10) * 2f64.powf((d - 10) as f64 / 4.0)
        }
    };
    let s = decay_summary(0, &profile(g, 15));
    assert!(s
        .fit_warning
        .as_deref()
        .is_none_or(|w| !w.contains("rises")));
    // exponential growth is exponential: no flag
    let s = decay_summary(0, &profile(|d| 1.3f64.powi(d as i32), 20));
    assert_eq!(s.fit_warning, None);
    assert!((s.decay_per_step.unwrap() - 1.3).abs() < 1e-12);
}

#[test]
fn a_step_fits_badly_and_a_flat_profile_does_not() {
    // a zigzag by 1000× is a U at its first minimum, with too few points left to fit
    let zig = |d: usize| if d.is_multiple_of(2) { 1.0 } else { 1e-3 };
    let s = decay_summary(0, &profile(zig, 20));
    assert_eq!(s.decay_per_step, None);
    assert!(s
        .fit_warning
        .unwrap()
        .contains("falls to 1.00e-3 at distance 1"));
    // a monotone step: no U, but R² ≈ 0.75
    let step = |d: usize| if d <= 10 { 1.0 } else { 1e-3 };
    let s = decay_summary(0, &profile(step, 21));
    assert_eq!(s.decay_per_step, None);
    assert_eq!(s.half_life, None);
    assert!(s.fit_r_squared.unwrap() < 0.9);
    assert!(
        s.fit_warning
            .as_deref()
            .unwrap()
            .starts_with("not exponential: R² "),
        "{:?}",
        s.fit_warning
    );
    // ±2% noise around a constant: R² ≈ 0, but every point is within 10% of the line
    let flat = |d: usize| 1.0 + 0.02 * if d.is_multiple_of(2) { 1.0 } else { -1.0 };
    let s = decay_summary(0, &profile(flat, 20));
    assert!(s.fit_r_squared.unwrap() < 0.9);
    assert_eq!(s.fit_warning, None);
    assert!((s.decay_per_step.unwrap() - 1.0).abs() < 1e-2);
}

#[test]
fn summaries_without_the_new_fields_still_read() {
    let old = r#"{"layer":0,"decay_per_step":0.8,"half_life":3.1,"horizon":null,
        "farthest_distance":21,"ratio_at_farthest":0.01}"#;
    let s: DecaySummary = serde_json::from_str(old).unwrap();
    assert_eq!(s.fit_r_squared, None);
    assert_eq!(s.fit_warning, None);
    let ron_old = "(layer: 0, decay_per_step: Some(0.8), half_life: Some(3.1), horizon: None, farthest_distance: 21, ratio_at_farthest: 0.01)";
    let s: DecaySummary = ron::from_str(ron_old).unwrap();
    assert_eq!(s.fit_from, None);
}

/// One unit, h_t = relu(w h_{t−1} + x_t) with x_t > 0 and w > 0: linear along the sequence.
fn linear_unit(w: f64, steps: usize) -> (Network<f64>, Batch<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..steps).map(|t| 0.5 + 0.1 * (t % 3) as f64).collect();
    scalar_unit(Activation::Relu, w, x)
}

/// One unit h_t = φ(w h_{t−1} + x_t) read out as h itself, loss at the last step only.
fn scalar_unit(
    activation: Activation,
    w: f64,
    x: Vec<f64>,
) -> (Network<f64>, Batch<f64>, Vec<f64>) {
    let steps = x.len();
    let mut spec = ModelSpec::new(
        CellKind::Rnn,
        InputKind::Dense { width: 1 },
        1,
        1,
        OutputKind::Values { width: 1 },
    );
    spec.activation = activation;
    let mut params = Params::<f64>::zeros(&spec);
    params.layers[0].weight_ih = arr2(&[[1.0]]);
    params.layers[0].weight_hh = arr2(&[[w]]);
    params.readout_weight = arr2(&[[1.0]]);
    params.readout_bias = arr1(&[0.0]);
    let net = Network::new(spec, params).unwrap();
    let inputs = Array3::from_shape_fn((steps, 1, 1), |(t, _, _)| x[t]);
    let mut loss_weight = Array2::zeros((steps, 1));
    loss_weight[[steps - 1, 0]] = 1.0;
    let targets = Targets::Values(Array3::from_elem((steps, 1, 1), -1.0));
    let batch = Batch {
        inputs: Inputs::Dense(inputs),
        targets,
        loss_weight,
    };
    (net, batch, x)
}

#[test]
fn a_linear_unit_makes_its_update_share_from_powers_of_w() {
    let (w, steps) = (0.7, 12);
    let (net, batch, x) = linear_unit(w, steps);
    let p = steps - 1;
    let probe = probe_gradients(&net, &batch, p, 0).unwrap();
    // by hand: h_t = w h_{t−1} + x_t, ∂ℓ/∂h_p = g0, ∂ℓ/∂a_t = ∂ℓ/∂h_t = w^(p−t) g0,
    // grad_w(t) = |w^(p−t) g0| · |h_{t−1}|
    let mut h = vec![0.0; steps];
    for t in 0..steps {
        h[t] = w * if t > 0 { h[t - 1] } else { 0.0 } + x[t];
    }
    let g0 = probe.rows.iter().find(|r| r.distance == 0).unwrap().grad_h;
    let expected: Vec<(usize, f64)> = (0..=p)
        .map(|d| {
            let t = p - d;
            let prev = if t > 0 { h[t - 1] } else { 0.0 };
            (d, w.powi(d as i32) * g0 * prev)
        })
        .collect();
    for &(d, e) in &expected {
        let r = probe.rows.iter().find(|r| r.distance == d).unwrap();
        assert!((r.grad_w - e).abs() <= 1e-12 * e.max(1e-300), "d={d}");
    }
    let total: f64 = expected.iter().map(|e| e.1).sum();
    let curve = update_share_curve(&expected);
    for (d, share) in curve {
        let beyond: f64 = expected.iter().filter(|e| e.0 >= d).map(|e| e.1).sum();
        assert!((share - beyond / total).abs() < 1e-12);
    }
    let u = &probe.update_shares[0];
    let mut within = 0.0;
    let horizon = expected
        .iter()
        .find_map(|&(d, g)| {
            within += g;
            (within >= 0.99 * total).then_some(d)
        })
        .unwrap();
    assert_eq!(u.learning_horizon, Some(horizon));
    assert_eq!(u.farthest_distance, p);
    // and the decay of the same probe is exactly w, with R² 1
    let s = &probe.summaries[0];
    assert!((s.decay_per_step.unwrap() - w).abs() < 1e-12);
    assert!(s.fit_warning.is_none());
}

#[test]
fn update_share_and_horizon_of_a_synthetic_profile() {
    // 80 + 15 + 4.5 + 0.5 = 100: shares 1, 0.2, 0.05, 0.005; 99% is reached at distance 2
    let grad_w = vec![(3, 0.5), (0, 80.0), (2, 4.5), (1, 15.0)];
    let curve = update_share_curve(&grad_w);
    let expected = [(0, 1.0), (1, 0.2), (2, 0.05), (3, 0.005)];
    for ((d, s), (ed, es)) in curve.iter().zip(expected) {
        assert_eq!(*d, ed);
        assert!((s - es).abs() < 1e-12, "{d}: {s}");
    }
    let u = update_share(0, &grad_w);
    assert_eq!(u.learning_horizon, Some(2));
    assert_eq!((u.farthest_distance, u.far_half_from), (3, 2));
    assert!((u.share_far_half - 0.05).abs() < 1e-12);
    // nothing to share
    let u = update_share(0, &[(0, 0.0), (1, 0.0)]);
    assert_eq!(u.learning_horizon, None);
    assert!(u.share_far_half.is_nan());
}

fn network_for(task: &Task) -> Network<f64> {
    let mut config = TrainConfig::default();
    config.model.hidden = 8;
    Network::init(config.model_spec(task).unwrap(), &config.init, 3).unwrap()
}

fn rows_of(task: &Task, n: usize) -> (Vec<rnnlab::tasks::Sequence>, Vec<SourceSignalRow>) {
    let seqs = task.generate(n, 11);
    let net = network_for(task);
    let rows = source_signal(&net, task, &seqs, 7).unwrap();
    (seqs, rows)
}

/// (target, source) pairs of sequence `b`, layer 0.
fn pairs(rows: &[SourceSignalRow], b: usize) -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = rows
        .iter()
        .filter(|r| r.layer == 0 && r.sequence == b)
        .map(|r| (r.target_step, r.source_step))
        .collect();
    v.sort();
    v
}

#[test]
fn tanaka_measures_the_name_from_the_query() {
    let task = Task::new(TaskSpec::new(TaskKind::Tanaka, 6)).unwrap();
    let (seqs, rows) = rows_of(&task, 5);
    for b in 0..seqs.len() {
        // the name at step 0, the query after 6 filler phrases at step 7
        assert_eq!(pairs(&rows, b), vec![(7, 0)]);
    }
    assert!(rows
        .iter()
        .all(|r| r.step == 7 && r.ratio.is_finite() && r.ratio > 0.0));
    // the ratio is ‖∂ℓ/∂h_0‖ / ‖∂ℓ/∂h_7‖ of the probe batch's own backward pass
    let net = network_for(&task);
    let batch = probe_batch(&task, &seqs).unwrap();
    let eval = net.evaluate(&batch, None, Bptt::Full).unwrap();
    let dh = &eval.backward.layers[0].dh;
    let norm = |t: usize, b: usize| {
        dh.slice(s![t, b, ..])
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt()
    };
    for r in &rows {
        let expected = norm(0, r.sequence) / norm(7, r.sequence);
        assert!(
            (r.ratio - expected).abs() <= 1e-10 * expected,
            "{} vs {expected}",
            r.ratio
        );
    }
    let summary = summarise_source_signal(&rows);
    assert_eq!(summary.len(), 1);
    assert_eq!((summary[0].sequences, summary[0].dependencies), (5, 5));
    let mean = rows.iter().map(|r| r.ratio).sum::<f64>() / 5.0;
    assert!((summary[0].mean - mean).abs() < 1e-15);
    let geo = (rows.iter().map(|r| r.ratio.ln()).sum::<f64>() / 5.0).exp();
    assert!((summary[0].geometric_mean.unwrap() - geo).abs() < 1e-12 * geo);
}

#[test]
fn copy_measures_every_recalled_symbol_from_its_input_position() {
    let task = Task::new(TaskSpec::new(TaskKind::Copy, 5)).unwrap();
    let (seqs, rows) = rows_of(&task, 3);
    // ten symbols at 0..9, recalled at 15..24 (T = 5: first recall at T + 10)
    let expected: Vec<(usize, usize)> = (0..10).map(|k| (15 + k, k)).collect();
    for b in 0..seqs.len() {
        assert_eq!(pairs(&rows, b), expected);
    }
    let summary = summarise_source_signal(&rows);
    assert_eq!((summary[0].sequences, summary[0].dependencies), (3, 30));
    // a sequence's value is the mean over its ten symbols
    let per_seq: Vec<f64> = (0..3)
        .map(|b| {
            rows.iter()
                .filter(|r| r.layer == 0 && r.sequence == b)
                .map(|r| r.ratio)
                .sum::<f64>()
                / 10.0
        })
        .collect();
    assert!((summary[0].mean - per_seq.iter().sum::<f64>() / 3.0).abs() < 1e-15);
}

#[test]
fn adding_measures_both_markers_from_the_last_step() {
    let task = Task::new(TaskSpec::new(TaskKind::Adding, 12)).unwrap();
    let (seqs, rows) = rows_of(&task, 4);
    let last = task.steps() - 1;
    for (b, seq) in seqs.iter().enumerate() {
        let SequenceInputs::Dense(x) = &seq.inputs else {
            panic!("adding has dense inputs")
        };
        let markers: Vec<(usize, usize)> = x
            .iter()
            .enumerate()
            .filter(|(_, row)| row[1] == 1.0)
            .map(|(t, _)| (last, t))
            .collect();
        assert_eq!(markers.len(), 2);
        assert_eq!(pairs(&rows, b), markers);
        assert_eq!(signal_sources(&task, seq).len(), 2);
    }
}

#[test]
fn recall_measures_the_asked_key_from_the_query() {
    let task = Task::new(TaskSpec::new(TaskKind::Recall, 5)).unwrap();
    let (seqs, rows) = rows_of(&task, 6);
    // 4 pairs at 0..8, 5 fillers, the separator, the query at 2·4 + 5 + 1 = 14
    for (b, seq) in seqs.iter().enumerate() {
        let ids = seq.tokens().unwrap();
        let key = (0..4).map(|i| 2 * i).find(|&t| ids[t] == ids[14]);
        assert_eq!(
            pairs(&rows, b),
            key.map(|k| (14, k)).into_iter().collect::<Vec<_>>()
        );
    }
}

#[test]
fn results_written_before_the_new_columns_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.csv");
    std::fs::write(
        &path,
        "task,cell,length,hidden,seed,accuracy,loss,val_accuracy,val_loss,baseline,solved,solved_at_step,diverged,decay_init,decay_final,half_life_init,horizon_init,wall_seconds\n\
         tanaka,lstm,20,64,0,1,0.07,1,0.08,0.125,true,300,false,0.83,0.99,3.8,,0.8\n",
    )
    .unwrap();
    let table = ResultsTable::read(&path, &|r| Some((r.option("seed")?.to_string(), 0))).unwrap();
    let row = &table.rows["0"].1;
    assert_eq!(row.metrics.len(), METRIC_COLUMNS.len());
    assert_eq!(row.metric("decay_final"), Some("0.99"));
    assert_eq!(row.metric("source_signal_final"), Some(""));
    assert_eq!(row.metric("wall_seconds"), Some("0.8"));
}

#[test]
fn a_linear_unit_meets_its_theory_exactly() {
    for (w, vanishes) in [(0.7, true), (1.2, false)] {
        let steps = 10;
        let (net, batch, _) = linear_unit(w, steps);
        let probe = probe_gradients(&net, &batch, steps - 1, 0).unwrap();
        let t = &probe.theory[0];
        // J_t = w·relu'(a_t) = w at every step: the product is w^9, the measurement the same
        assert_eq!(t.distance, 9);
        assert!((t.jacobian_product / w.powi(9) - 1.0).abs() < 1e-9, "{t:?}");
        assert!((t.measured_ratio / w.powi(9) - 1.0).abs() < 1e-12);
        assert!(t.is_bound);
        assert_eq!(t.gamma, Some(1.0));
        assert!((t.sigma_max.unwrap() - w).abs() < 1e-12);
        assert_eq!(t.vanishing_sufficient, Some(vanishes));
        // and at every distance d: Π‖J‖ back to d = (γ·σ_max)^d = w^d = the measured ratio
        assert_eq!(t.curve.len(), steps);
        for (d, c) in t.curve.iter().enumerate() {
            let expected = w.powi(d as i32);
            assert_eq!(c.distance, d);
            assert!((c.jacobian_product / expected - 1.0).abs() < 1e-9, "{c:?}");
            assert!(
                (c.vanilla_bound.unwrap() / expected - 1.0).abs() < 1e-9,
                "{c:?}"
            );
            assert!((c.measured_ratio / expected - 1.0).abs() < 1e-12, "{c:?}");
        }
        assert_eq!(t.curve[steps - 1].jacobian_product, t.jacobian_product);
    }
}

/// One tanh unit: J_t = w·(1 − h_t²) changes from step to step with the input, and with one unit
/// and one sequence the measured ratio is exactly the product |J_p ⋯ J_{p−d+1}|, so the curve must
/// take the steps nearest the loss first.
#[test]
fn a_scalar_tanh_unit_meets_the_product_at_every_distance() {
    let x: Vec<f64> = (0..16).map(|t| 1.5 * (t as f64).sin()).collect();
    let (net, batch, _) = scalar_unit(Activation::Tanh, 0.9, x);
    let probe = probe_gradients(&net, &batch, 15, 0).unwrap();
    let t = &probe.theory[0];
    let mut spread = (f64::INFINITY, 0.0f64);
    for pair in t.curve.windows(2) {
        let step_norm = pair[1].jacobian_product / pair[0].jacobian_product;
        spread = (spread.0.min(step_norm), spread.1.max(step_norm));
    }
    // the step norms differ, so the order of the product matters
    assert!(spread.1 > 1.5 * spread.0, "{spread:?}");
    for c in &t.curve {
        assert!(
            (c.measured_ratio / c.jacobian_product - 1.0).abs() < 1e-9,
            "{c:?}"
        );
        assert!(c.jacobian_product <= c.vanilla_bound.unwrap() * (1.0 + 1e-12));
    }
}

/// A single-layer vanilla RNN of every activation, at three scales of W_hh (so γ·σ_max lies on
/// both sides of 1), probed on one sequence: at every distance d the measured ratio is at most
/// Π‖J_t‖₂ back to d, which is at most (γ·σ_max)^d. (Power iteration approaches each norm from
/// below, so both sides get a relative slack of 1e-9 per step.)
#[test]
fn the_theory_curve_is_never_below_the_measured_ratio_at_any_distance() {
    let task = Task::new(TaskSpec::new(TaskKind::Adding, 30)).unwrap();
    let seqs = task.generate(1, 5);
    let batch = probe_batch(&task, &seqs).unwrap();
    let p = task.probe_step();
    let mut vanishing = [0usize; 2];
    for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Relu] {
        for (seed, scale) in [(0, 0.5), (1, 1.0), (2, 4.0)] {
            let mut config = TrainConfig::default();
            config.model.cell = CellKind::Rnn;
            config.model.activation = activation;
            config.model.hidden = 8;
            let mut net =
                Network::init(config.model_spec(&task).unwrap(), &config.init, seed).unwrap();
            net.params.layers[0].weight_hh *= scale;
            let probe = probe_gradients(&net, &batch, p, 0).unwrap();
            let t = &probe.theory[0];
            assert!(t.is_bound);
            vanishing[usize::from(t.vanishing_sufficient.unwrap())] += 1;
            assert_eq!(t.curve.len(), p + 1);
            for c in &t.curve {
                let slack = 1.0 + 1e-9 * c.distance as f64;
                assert!(
                    c.measured_ratio <= c.jacobian_product * slack,
                    "{activation:?} ×{scale}: measured above the product at {c:?}"
                );
                let bound = c.vanilla_bound.unwrap();
                assert!(
                    c.jacobian_product <= bound * slack,
                    "{activation:?} ×{scale}: the product above (γ·σ_max)^d at {c:?}"
                );
            }
        }
    }
    // both regimes were met
    assert!(vanishing[0] > 0 && vanishing[1] > 0, "{vanishing:?}");
}

#[test]
fn spectral_norm_of_known_matrices() {
    use rnnlab::analysis::gradient_report::spectral_norm;
    assert!((spectral_norm(&arr2(&[[3.0, 0.0], [0.0, -4.0]])) - 4.0).abs() < 1e-12);
    // σ_max of [[1, 2], [3, 4]] = sqrt((30 + sqrt(884)) / 2): the eigenvalues of AᵀA = [[10, 14], [14, 20]]
    let expected = ((30.0 + 884f64.sqrt()) / 2.0).sqrt();
    assert!((spectral_norm(&arr2(&[[1.0, 2.0], [3.0, 4.0]])) - expected).abs() < 1e-12);
}
