//! Model files say whether they are exactly a `torch.nn` module: in model.ron (`torch`) and in
//! the safetensors metadata (`torch_exact`, `torch_module`, `torch_not_exact_because`).

mod common;
use common::*;

fn metadata(dir: &std::path::Path) -> std::collections::HashMap<String, String> {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().clone().unwrap_or_default()
}

#[test]
fn model_files_say_which_torch_module_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = |extra: &[&str], out: &str| {
        let mut args = vec![
            "train",
            "--steps",
            "1",
            "--hidden",
            "4",
            "--length",
            "5",
            "--eval-size",
            "4",
            "--probe-size",
            "2",
            "--quiet",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        ok(tmp.path(), &args);
        tmp.path().join(out)
    };
    let lstm = tiny(&["--cell", "lstm", "--layers", "2"], "lstm");
    let meta = metadata(&lstm);
    assert_eq!(meta["torch_exact"], "true");
    let vocab = {
        let ron = std::fs::read_to_string(lstm.join("model.ron")).unwrap();
        assert!(ron.contains("exact: true"), "{ron}");
        let after = ron.split("vocab: ").nth(1).unwrap();
        after.split(',').next().unwrap().trim().to_string()
    };
    assert_eq!(
        meta["torch_module"],
        format!("torch.nn.LSTM(input_size={vocab}, hidden_size=4, num_layers=2)")
    );
    let relu = metadata(&tiny(&["--cell", "rnn", "--activation", "relu"], "relu"));
    assert!(
        relu["torch_module"].ends_with("nonlinearity='relu')"),
        "{relu:?}"
    );

    for (extra, out, why) in [
        (
            &["--cell", "rnn", "--activation", "sigmoid"][..],
            "sigmoid",
            "sigmoid",
        ),
        (
            &["--cell", "rnn", "--layer-norm"][..],
            "ln",
            "layer normalisation",
        ),
        (
            &["--cell", "gru", "--layers", "2", "--residual"][..],
            "res",
            "residual",
        ),
        (
            &["--cell", "gru", "--widths", "4:3"][..],
            "widths",
            "one hidden size",
        ),
    ] {
        let meta = metadata(&tiny(extra, out));
        assert_eq!(meta["torch_exact"], "false", "{out}");
        assert!(!meta.contains_key("torch_module"), "{out}");
        assert!(
            meta["torch_not_exact_because"].contains(why),
            "{out}: {meta:?}"
        );
    }
}

#[test]
fn the_same_weights_always_give_the_same_file() {
    // the header's metadata is written in a fixed (sorted) order, not a HashMap's
    let tmp = tempfile::tempdir().unwrap();
    ok(
        tmp.path(),
        &[
            "train",
            "--steps",
            "1",
            "--hidden",
            "4",
            "--length",
            "5",
            "--eval-size",
            "4",
            "--probe-size",
            "2",
            "--quiet",
            "--out",
            "run",
        ],
    );
    let net: rnnlab::Network<f32> = rnnlab::model_io::load_model(&tmp.path().join("run")).unwrap();
    let first = std::fs::read(tmp.path().join("run/model.safetensors")).unwrap();
    for i in 0..8 {
        let dir = tmp.path().join(format!("copy{i}"));
        rnnlab::model_io::save_model(&net, &dir).unwrap();
        let again = std::fs::read(dir.join("model.safetensors")).unwrap();
        assert!(again == first, "save {i} wrote other bytes");
    }
}
