//! Parity with PyTorch: weights saved by `torch.nn.RNN/LSTM/GRU` load unchanged and give the same
//! outputs, loss and gradients. The golden files were written by `tests/data/make_torch_golden.py`
//! (torch 2.15, float64): 2 layers, input 3, hidden 5, T = 6, B = 2, a linear readout at the last
//! step, `torch.nn.functional.mse_loss`.

use ndarray::{Array2, Array3, ArrayD, IxDyn};
use rnnlab::model_io::load_model;
use rnnlab::{Batch, Bptt, Inputs, Network, Targets};
use safetensors::SafeTensors;
use std::path::PathBuf;

fn tensor(file: &SafeTensors<'_>, name: &str) -> ArrayD<f64> {
    let view = file.tensor(name).unwrap();
    let data: Vec<f64> = view
        .data()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    ArrayD::from_shape_vec(IxDyn(view.shape()), data).unwrap()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn check(name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("torch_{name}"));
    let net: Network<f64> = load_model(&dir).unwrap();
    let bytes = std::fs::read(dir.join("golden.safetensors")).unwrap();
    let golden = SafeTensors::deserialize(&bytes).unwrap();
    let x: Array3<f64> = tensor(&golden, "input").into_dimensionality().unwrap();
    let y: Array2<f64> = tensor(&golden, "target").into_dimensionality().unwrap();
    let (steps, batch, _) = x.dim();
    let mut targets = Array3::<f64>::zeros((steps, batch, y.ncols()));
    targets
        .index_axis_mut(ndarray::Axis(0), steps - 1)
        .assign(&y);
    let mut loss_weight = Array2::<f64>::zeros((steps, batch));
    loss_weight.row_mut(steps - 1).fill(1.0 / batch as f64);
    let batch = Batch {
        inputs: Inputs::Dense(x),
        targets: Targets::Values(targets),
        loss_weight,
    };

    let eval = net.evaluate(&batch, None, Bptt::Full).unwrap();
    let output = tensor(&golden, "output");
    let ours: Vec<f64> = eval.forward.top_output().iter().copied().collect();
    assert!(
        max_abs_diff(&ours, output.as_slice().unwrap()) < 1e-12,
        "{name}: outputs differ"
    );
    let loss = tensor(&golden, "loss")[[0]];
    assert!(
        (eval.loss - loss).abs() < 1e-12,
        "{name}: loss {} vs torch {loss}",
        eval.loss
    );
    for t in eval.backward.grads.named() {
        let expected = tensor(&golden, &format!("grad.{}", t.name));
        assert_eq!(expected.shape(), t.shape.as_slice(), "{name}: {}", t.name);
        let diff = max_abs_diff(t.data, expected.as_slice().unwrap());
        assert!(
            diff < 1e-12,
            "{name}: gradient of {} differs from torch by {diff:e}",
            t.name
        );
    }
}

#[test]
fn rnn_tanh_matches_torch() {
    check("rnn_tanh");
}

#[test]
fn rnn_relu_matches_torch() {
    check("rnn_relu");
}

#[test]
fn lstm_matches_torch() {
    check("lstm");
}

#[test]
fn gru_matches_torch() {
    check("gru");
}
