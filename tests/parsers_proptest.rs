//! Property tests of the file parsers (issue 8): valid files — a run's config.ron, model.ron and
//! model.safetensors, the shipped experiments and example datasets — mutated by byte flips,
//! truncation, inserted tokens and numbers replaced with extreme values. Every parser returns Ok
//! or Err; none panics. The random seed is fixed so that CI runs the same cases every time.

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rnnlab::sweep::Experiment;
use rnnlab::tasks::load_dataset;
use rnnlab::train::TrainConfig;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A tiny training run made once with the binary: config.ron, model.ron, model.safetensors.
fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("parsers-proptest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        common::ok(
            &dir,
            &[
                "train",
                "--steps",
                "2",
                "--hidden",
                "4",
                "--eval-size",
                "8",
                "--probe-size",
                "2",
                "--length",
                "5",
                "--batch",
                "4",
                "--quiet",
                "--out",
                "run",
            ],
        );
        dir.join("run")
    })
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `.ron` files of a directory of the repository.
fn shipped(dir: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{}", dir.display());
    paths.iter().map(|p| read(p)).collect()
}

/// Tokens that RON, the parsers' validation and the sizes they imply may trip over.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "'",
    "Some(",
    "None",
    "-",
    "/*",
    "//",
    "\n",
    "\u{0}",
    "é",
    "#![enable(implicit_some)]",
    "r#\"",
    "0x",
    "1e308",
    "-1e308",
    "NaN",
    "inf",
    "-inf",
    "18446744073709551615",
    "-9223372036854775808",
    "340282366920938463463374607431768211456",
    "true",
    "unit",
    "tokens(vocab: 3)",
];

/// Values a number in a file is replaced with.
const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "-0.0",
    "1e308",
    "-1e308",
    "1e-320",
    "NaN",
    "inf",
    "-inf",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "1000000000",
    "0.5",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Flip bit `bit` of the byte at (`at` mod length).
    Flip { at: usize, bit: u8 },
    /// Keep the first (`at` mod length) bytes.
    Truncate { at: usize },
    /// Insert a token at (`at` mod (length + 1)).
    Insert { at: usize, token: usize },
    /// Replace the (`which` mod count)-th number with an extreme value.
    Number { which: usize, value: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (any::<usize>(), 0..EXTREMES.len())
            .prop_map(|(which, value)| Mutation::Number { which, value }),
    ]
}

/// The byte ranges of the numbers in `bytes`: a digit, or a '-' before one, and what follows of
/// digits, '.', 'e', '+' and '-'.
fn numbers(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            || (bytes[i] == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        let inside_word = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts && !inside_word {
            let mut j = i + 1;
            while j < bytes.len()
                && matches!(bytes[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            {
                j += 1;
            }
            out.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match *m {
            Mutation::Flip { at, bit } if !bytes.is_empty() => {
                let i = at % bytes.len();
                bytes[i] ^= 1 << bit;
            }
            Mutation::Flip { .. } => {}
            Mutation::Truncate { at } => {
                let n = at % (bytes.len() + 1);
                bytes.truncate(n);
            }
            Mutation::Insert { at, token } => {
                let i = at % (bytes.len() + 1);
                bytes.splice(i..i, TOKENS[token].bytes());
            }
            Mutation::Number { which, value } => {
                let spans = numbers(&bytes);
                if !spans.is_empty() {
                    let (a, b) = spans[which % spans.len()];
                    bytes.splice(a..b, EXTREMES[value].bytes());
                }
            }
        }
    }
    bytes
}

/// Up to four mutations, number replacements made likelier (they reach validation and sizes).
fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..=4)
}

/// Only number replacements: the file stays well-formed RON, its values go to the extremes.
fn number_mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(
        (any::<usize>(), 0..EXTREMES.len())
            .prop_map(|(which, value)| Mutation::Number { which, value }),
        1..=3,
    )
}

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Writes `bytes` to a fresh file and returns its directory (kept alive by the guard).
fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn check_config(bytes: &[u8]) {
    let (_dir, path) = temp_file("config.ron", bytes);
    if let Ok(config) = TrainConfig::load(&path) {
        let _ = config.validate();
    }
}

fn check_experiment(bytes: &[u8]) {
    let (_dir, path) = temp_file("experiment.ron", bytes);
    if let Ok(exp) = Experiment::load(&path) {
        let _ = exp.runs();
    }
}

fn check_dataset(bytes: &[u8]) {
    let (_dir, path) = temp_file("data.ron", bytes);
    let _ = load_dataset(&path);
}

/// A model directory: model.ron and model.safetensors, either of them replaced.
fn check_model(model_ron: &[u8], weights: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.ron"), model_ron).unwrap();
    std::fs::write(dir.path().join("model.safetensors"), weights).unwrap();
    let _ = rnnlab::model_io::load_model::<f64>(dir.path());
    let _ = rnnlab::model_io::load_model::<f32>(dir.path());
}

#[test]
fn the_unmutated_files_parse() {
    let run = run_dir();
    TrainConfig::load(&run.join("config.ron"))
        .unwrap()
        .validate()
        .unwrap();
    rnnlab::model_io::load_model::<f64>(run).unwrap();
    for (i, text) in shipped("datasets/experiments").iter().enumerate() {
        let (_d, p) = temp_file("e.ron", text);
        Experiment::load(&p).unwrap_or_else(|e| panic!("experiment {i}: {e}"));
    }
    for (i, text) in shipped("datasets/examples").iter().enumerate() {
        let (_d, p) = temp_file("d.ron", text);
        load_dataset(&p).unwrap_or_else(|e| panic!("dataset {i}: {e}"));
    }
    // the mutation helpers find the numbers of a config
    let text = read(&run.join("config.ron"));
    assert!(numbers(&text).len() > 10);
}

proptest! {
    #![proptest_config(config(256, 0x8_0001))]
    #[test]
    fn train_config_load_never_panics(m in mutations()) {
        check_config(&apply(read(&run_dir().join("config.ron")), &m));
    }
}

proptest! {
    #![proptest_config(config(256, 0x8_0002))]
    #[test]
    fn train_config_with_extreme_numbers_never_panics(m in number_mutations()) {
        check_config(&apply(read(&run_dir().join("config.ron")), &m));
    }
}

proptest! {
    #![proptest_config(config(256, 0x8_0003))]
    #[test]
    fn experiment_load_never_panics(which in any::<usize>(), m in mutations()) {
        let files = shipped("datasets/experiments");
        check_experiment(&apply(files[which % files.len()].clone(), &m));
    }
}

proptest! {
    #![proptest_config(config(256, 0x8_0004))]
    #[test]
    fn experiment_with_extreme_numbers_never_panics(which in any::<usize>(), m in number_mutations()) {
        let files = shipped("datasets/experiments");
        check_experiment(&apply(files[which % files.len()].clone(), &m));
    }
}

proptest! {
    #![proptest_config(config(256, 0x8_0005))]
    #[test]
    fn load_dataset_never_panics(which in any::<usize>(), m in mutations()) {
        let files = shipped("datasets/examples");
        check_dataset(&apply(files[which % files.len()].clone(), &m));
    }
}

proptest! {
    #![proptest_config(config(256, 0x8_0006))]
    #[test]
    fn load_dataset_with_extreme_numbers_never_panics(which in any::<usize>(), m in number_mutations()) {
        let files = shipped("datasets/examples");
        check_dataset(&apply(files[which % files.len()].clone(), &m));
    }
}

proptest! {
    #![proptest_config(config(256, 0x8_0007))]
    #[test]
    fn load_model_with_a_mutated_model_ron_never_panics(m in mutations()) {
        let run = run_dir();
        check_model(&apply(read(&run.join("model.ron")), &m), &read(&run.join("model.safetensors")));
    }
}

proptest! {
    #![proptest_config(config(256, 0x8_0008))]
    #[test]
    fn load_model_with_extreme_sizes_in_model_ron_never_panics(m in number_mutations()) {
        let run = run_dir();
        check_model(&apply(read(&run.join("model.ron")), &m), &read(&run.join("model.safetensors")));
    }
}

proptest! {
    #![proptest_config(config(256, 0x8_0009))]
    #[test]
    fn load_model_with_mutated_weights_never_panics(m in prop::collection::vec(mutation(), 1..=4)) {
        let run = run_dir();
        let weights = read(&run.join("model.safetensors"));
        // the safetensors header (a length, then JSON) is where a flip matters most: aim half
        // the mutations at its first 256 bytes
        let m: Vec<Mutation> = m
            .into_iter()
            .enumerate()
            .map(|(i, mu)| match mu {
                Mutation::Flip { at, bit } if i % 2 == 0 => Mutation::Flip { at: at % 256, bit },
                other => other,
            })
            .collect();
        check_model(&read(&run.join("model.ron")), &apply(weights, &m));
    }
}
