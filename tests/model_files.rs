//! Model files: safetensors with PyTorch names plus model.ron; round trips and clear errors.

use rnnlab::gradcheck::{case_setup, standard_cases};
use rnnlab::model_io::{load_model, save_model, SPEC_FILE, WEIGHTS_FILE};
use rnnlab::network::{InputKind, OutputKind};
use rnnlab::{Activation, CellKind, InitSpec, ModelSpec, Network};

#[test]
fn save_then_load_gives_the_same_network_in_both_precisions() {
    for case in standard_cases(&CellKind::ALL, &[Activation::Sigmoid])
        .into_iter()
        .step_by(5)
    {
        let dir = tempfile::tempdir().unwrap();
        let (net, batch, _) = case_setup(&case, 3).unwrap();
        save_model(&net, dir.path()).unwrap();
        let back: Network<f64> = load_model(dir.path()).unwrap();
        assert_eq!(back, net, "{case}");
        assert_eq!(
            back.loss(&batch, None).unwrap(),
            net.loss(&batch, None).unwrap()
        );
        // an f64 file read as f32 holds the rounded weights
        let as_f32: Network<f32> = load_model(dir.path()).unwrap();
        assert_eq!(as_f32, net.cast::<f32>());
    }
}

#[test]
fn tensor_names_and_shapes_follow_pytorch() {
    let spec = ModelSpec::new(
        CellKind::Lstm,
        InputKind::Tokens { vocab: 16 },
        32,
        2,
        OutputKind::Classes { count: 16 },
    );
    let net = Network::<f32>::init(spec, &InitSpec::default(), 0).unwrap();
    let names: Vec<(String, Vec<usize>)> = net
        .params
        .named()
        .into_iter()
        .map(|t| (t.name, t.shape))
        .collect();
    let expected = [
        ("weight_ih_l0", vec![128, 16]),
        ("weight_hh_l0", vec![128, 32]),
        ("bias_ih_l0", vec![128]),
        ("bias_hh_l0", vec![128]),
        ("weight_ih_l1", vec![128, 32]),
        ("weight_hh_l1", vec![128, 32]),
        ("bias_ih_l1", vec![128]),
        ("bias_hh_l1", vec![128]),
        ("readout.weight", vec![16, 32]),
        ("readout.bias", vec![16]),
    ];
    assert_eq!(
        names,
        expected
            .iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect::<Vec<_>>()
    );
}

fn saved_gru() -> (tempfile::TempDir, Network<f32>) {
    let dir = tempfile::tempdir().unwrap();
    let spec = ModelSpec::new(
        CellKind::Gru,
        InputKind::Dense { width: 2 },
        8,
        1,
        OutputKind::Values { width: 1 },
    );
    let net = Network::<f32>::init(spec, &InitSpec::default(), 0).unwrap();
    save_model(&net, dir.path()).unwrap();
    (dir, net)
}

#[test]
fn weights_that_do_not_fit_the_architecture_are_named_in_the_error() {
    let (dir, _) = saved_gru();
    let ron_path = dir.path().join(SPEC_FILE);
    let text = std::fs::read_to_string(&ron_path).unwrap();
    // same weights, but the description now says 16 hidden units
    std::fs::write(
        &ron_path,
        text.replace("    8,\n        ],", "    16,\n        ],"),
    )
    .unwrap();
    let err = load_model::<f32>(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("weight_ih_l0") && err.contains("shape"),
        "{err}"
    );
    // an LSTM description over GRU weights
    std::fs::write(&ron_path, text.replace("cell: gru", "cell: lstm")).unwrap();
    let err = load_model::<f32>(dir.path()).unwrap_err().to_string();
    assert!(err.contains("weight_ih_l0"), "{err}");
    // two layers described, one stored
    std::fs::write(
        &ron_path,
        text.replace("    8,\n        ],", "    8,\n            8,\n        ],"),
    )
    .unwrap();
    let err = load_model::<f32>(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("missing tensor 'weight_ih_l1'") || err.contains("readout"),
        "{err}"
    );
}

#[test]
fn broken_files_give_one_line_errors_naming_the_file() {
    let (dir, _) = saved_gru();
    std::fs::write(dir.path().join(WEIGHTS_FILE), b"not a tensor file").unwrap();
    let err = load_model::<f32>(dir.path()).unwrap_err().to_string();
    assert!(err.contains(WEIGHTS_FILE) && !err.contains('\n'), "{err}");

    let (dir, _) = saved_gru();
    let ron_path = dir.path().join(SPEC_FILE);
    let text = std::fs::read_to_string(&ron_path).unwrap();
    std::fs::write(&ron_path, text.replace("cell: gru", "cell: gru,,")).unwrap();
    let err = load_model::<f32>(dir.path()).unwrap_err().to_string();
    assert!(err.contains(SPEC_FILE) && err.contains("line"), "{err}");

    let err = load_model::<f32>(&dir.path().join("nowhere"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nowhere"), "{err}");
}
