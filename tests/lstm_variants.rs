//! The LSTM as Hochreiter & Schmidhuber built it (no forget gate, f ≡ 1) and chrono initialisation
//! (Tallec & Ollivier 2018) of the LSTM's and the GRU's gate biases: the equations against a hand
//! computation, every gradient against finite differences, the drawn biases against their law,
//! and the options end to end (model files, diagnostics, refusals).

use ndarray::{s, Array3};
use rnnlab::gradcheck::{check_case, standard_cases, TOLERANCE};
use rnnlab::init::Chrono;
use rnnlab::model_io::read_description;
use rnnlab::network::{InputKind, OutputKind};
use rnnlab::tasks::{TaskKind, TaskSpec};
use rnnlab::{Activation, CellKind, InitSpec, Inputs, ModelSpec, Network};
use std::path::Path;
use std::process::Command;

fn lstm(hidden: usize, forget_gate: bool) -> ModelSpec {
    let mut spec = ModelSpec::new(
        CellKind::Lstm,
        InputKind::Dense { width: 3 },
        hidden,
        1,
        OutputKind::Classes { count: 2 },
    );
    spec.forget_gate = forget_gate;
    spec
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn without_a_forget_gate_the_cell_state_adds_up_exactly() {
    let (hid, steps, batch) = (3, 6, 2);
    let net = Network::<f64>::init(lstm(hid, false), &InitSpec::default(), 4).unwrap();
    let p = &net.params.layers[0];
    // the forget block is zero in the weights, so nothing suggests it is used
    assert!(p
        .weight_ih
        .slice(s![hid..2 * hid, ..])
        .iter()
        .all(|&v| v == 0.0));
    assert!(p
        .weight_hh
        .slice(s![hid..2 * hid, ..])
        .iter()
        .all(|&v| v == 0.0));
    let x = Array3::from_shape_fn((steps, batch, 3), |(t, b, i)| {
        ((t * 5 + b * 3 + i * 7) % 9) as f64 / 4.0 - 1.0
    });
    let fwd = net.forward(&Inputs::Dense(x.clone()), None).unwrap();
    let layer = &fwd.layers[0];
    let c = layer.cell.memory().unwrap();
    for b in 0..batch {
        let (mut h, mut cs) = (vec![0.0; hid], vec![0.0; hid]);
        for t in 0..steps {
            let pre = |gate: usize, j: usize| {
                let row = gate * hid + j;
                let mut z = p.bias_ih[row] + p.bias_hh[row];
                for i in 0..3 {
                    z += p.weight_ih[[row, i]] * x[[t, b, i]];
                }
                for (k, hk) in h.iter().enumerate() {
                    z += p.weight_hh[[row, k]] * hk;
                }
                z
            };
            let mut next_h = vec![0.0; hid];
            for j in 0..hid {
                let (i, g, o) = (sigmoid(pre(0, j)), pre(2, j).tanh(), sigmoid(pre(3, j)));
                // c_t = c_{t−1} + i ⊙ g: no forget factor at all
                cs[j] += i * g;
                next_h[j] = o * cs[j].tanh();
                assert!(
                    (c[[t + 1, b, j]] - cs[j]).abs() < 1e-12,
                    "c t {t} b {b} j {j}"
                );
                assert!((layer.h[[t + 1, b, j]] - next_h[j]).abs() < 1e-12);
                // the gate buffer reports f = 1, so the diagnostics' mean gate is exactly 1
                assert_eq!(layer.gates[[t, b, hid + j]], 1.0);
            }
            h = next_h;
        }
    }
}

#[test]
fn every_gradient_of_both_new_options_matches_finite_differences() {
    let cases: Vec<_> = standard_cases(&[CellKind::Lstm, CellKind::Gru], &Activation::ALL)
        .into_iter()
        .filter(|c| !c.spec.forget_gate || c.chrono.is_some())
        .collect();
    let no_forget = cases.iter().filter(|c| !c.spec.forget_gate).count();
    let chrono_gru = cases
        .iter()
        .filter(|c| c.chrono.is_some() && c.spec.cell == CellKind::Gru)
        .count();
    assert!(
        no_forget >= 4 && chrono_gru >= 4,
        "{no_forget} {chrono_gru}"
    );
    for case in &cases {
        let report = check_case(case, 5).unwrap();
        for t in &report.tensors {
            assert!(
                t.max_rel_error < TOLERANCE,
                "{case}: {} relative error {:.3e}",
                t.name,
                t.max_rel_error
            );
        }
    }
}

#[test]
fn the_forget_block_gets_no_gradient_and_stays_zero_in_training() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let status = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args([
            "train",
            "--no-forget-gate",
            "--length",
            "5",
            "--steps",
            "30",
        ])
        .args(["--precision", "f64", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let net: Network<f64> = rnnlab::model_io::load_model(&out).unwrap();
    let p = &net.params.layers[0];
    let h = p.weight_hh.ncols();
    assert!(p
        .weight_ih
        .slice(s![h..2 * h, ..])
        .iter()
        .all(|&v| v == 0.0));
    assert!(p
        .weight_hh
        .slice(s![h..2 * h, ..])
        .iter()
        .all(|&v| v == 0.0));
    assert!(p.bias_ih.slice(s![h..2 * h]).iter().all(|&v| v == 0.0));
    // the other gates did learn
    assert!(p.weight_hh.slice(s![..h, ..]).iter().any(|&v| v != 0.0));
    let description = read_description(&out).unwrap();
    assert!(!description.model.forget_gate);
    assert!(!description.torch.exact);
    let ron = std::fs::read_to_string(out.join("model.ron")).unwrap();
    assert!(ron.contains("forget_gate: false"), "{ron}");
    // the diagnostics report the gate that keeps the past: f ≡ 1
    let diagnostics = std::fs::read_to_string(out.join("diagnostics.csv")).unwrap();
    let header: Vec<&str> = diagnostics.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|&c| c == "mean_gate").unwrap();
    for line in diagnostics.lines().skip(1) {
        assert_eq!(
            line.split(',').nth(col).unwrap().parse::<f64>().unwrap(),
            1.0
        );
    }
}

fn gated(cell: CellKind, hidden: usize) -> ModelSpec {
    ModelSpec::new(
        cell,
        InputKind::Dense { width: 2 },
        hidden,
        2,
        OutputKind::Classes { count: 2 },
    )
}

/// (min, max, mean of e^b) of chrono biases, with the fraction of e^b below the midpoint.
fn law(values: &[f64]) -> (f64, f64, f64, f64) {
    let n = values.len() as f64;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = values.iter().map(|b| b.exp()).sum::<f64>() / n;
    let below = values.iter().filter(|b| b.exp() < 25.0).count() as f64 / n;
    (min, max, mean, below)
}

#[test]
fn chrono_biases_follow_log_uniform_1_to_t_max_minus_1() {
    let hid = 2000;
    let init = InitSpec {
        chrono: Chrono::TMax(50.0),
        ..InitSpec::default()
    };
    // u ~ U[1, 49]: mean 25, sd 48/√12 ≈ 13.9, so over 2000 units the mean's sd is 0.31 and the
    // fraction below 25 has sd 0.011; the bounds allow 5 sd
    for cell in [CellKind::Lstm, CellKind::Gru] {
        let net = Network::<f64>::init(gated(cell, hid), &init, 11).unwrap();
        for (l, p) in net.params.layers.iter().enumerate() {
            let keep: Vec<f64> = p.bias_ih.slice(s![hid..2 * hid]).to_vec();
            let (min, max, mean, below) = law(&keep);
            assert!(
                min >= 0.0 && max <= 49f64.ln(),
                "{cell} l{l}: [{min}, {max}]"
            );
            assert!((mean - 25.0).abs() < 1.6, "{cell} l{l}: mean e^b {mean}");
            assert!((below - 0.5).abs() < 0.055, "{cell} l{l}: {below}");
            assert!(p.bias_hh.iter().all(|&v| v == 0.0), "{cell} l{l}: bias_hh");
            for (k, &b) in p.bias_ih.iter().enumerate() {
                let (gate, j) = (k / hid, k % hid);
                let want = match (cell, gate) {
                    // LSTM (i, f, g, o): b_i = −b_f
                    (CellKind::Lstm, 0) => -keep[j],
                    (_, 1) => keep[j],
                    _ => 0.0,
                };
                assert_eq!(b, want, "{cell} l{l} bias_ih[{k}]");
            }
            // the weights are those of the same seed without chrono
            let plain = Network::<f64>::init(gated(cell, hid), &InitSpec::default(), 11).unwrap();
            assert_eq!(p.weight_hh, plain.params.layers[l].weight_hh);
        }
    }
}

#[test]
fn chrono_auto_takes_t_max_from_the_task_and_only_gated_cells_take_it() {
    let task = rnnlab::tasks::Task::new(TaskSpec::new(TaskKind::Tanaka, 20)).unwrap();
    assert_eq!(task.longest_dependency(), task.probe_step());
    let copy = rnnlab::tasks::Task::new(TaskSpec::new(TaskKind::Copy, 100)).unwrap();
    assert_eq!(copy.longest_dependency(), 110);
    let auto = InitSpec {
        chrono: Chrono::Auto,
        ..InitSpec::default()
    };
    assert_eq!(auto.resolve_chrono(110).chrono, Chrono::TMax(110.0));
    // an unresolved auto cannot draw weights, and an ungated cell refuses chrono
    assert!(Network::<f64>::init(gated(CellKind::Lstm, 4), &auto, 0).is_err());
    let fixed = auto.resolve_chrono(30);
    let err = Network::<f64>::init(gated(CellKind::Rnn, 4), &fixed, 0).unwrap_err();
    assert!(err.to_string().contains("chrono"), "{err}");
    // the text forms round-trip
    for text in ["off", "auto", "40"] {
        assert_eq!(text.parse::<Chrono>().unwrap().to_string(), text);
    }
    for bad in ["1", "-3", "nan", "inf", "soon"] {
        assert!(bad.parse::<Chrono>().is_err(), "{bad}");
    }
}

fn rnnlab(args: &[&str], out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn chrono_runs_record_t_max_and_bad_combinations_exit_2_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chrono");
    let run = rnnlab(
        &[
            "train", "--chrono", "auto", "--length", "10", "--steps", "5",
        ],
        &out,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let description = read_description(&out).unwrap();
    // tanaka length 10: the name is 11 steps before the question
    assert_eq!(description.init.unwrap().chrono, Chrono::TMax(11.0));
    for (args, option) in [
        (vec!["train", "--cell", "rnn", "--chrono", "auto"], "chrono"),
        (vec!["train", "--chrono", "1"], "chrono"),
        (
            vec!["train", "--cell", "gru", "--no-forget-gate"],
            "forget_gate",
        ),
        (
            vec!["gradients", "--cell", "exprnn", "--chrono", "20"],
            "chrono",
        ),
    ] {
        let out = dir.path().join("refused");
        let run = rnnlab(&args, &out);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(option), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}
