//! Dataset files exported as JSON with their vocabularies, loaded by a JSON parser.

mod common;
use common::*;

#[test]
fn every_example_dataset_exports_to_json_with_its_vocabulary() {
    let tmp = tempfile::tempdir().unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples");
    for task in ["tanaka", "copy", "adding", "recall"] {
        let input = examples.join(format!("{task}.ron"));
        let out = format!("{task}.json");
        ok(
            tmp.path(),
            &["data", "export", input.to_str().unwrap(), "--out", &out],
        );
        let text = std::fs::read_to_string(tmp.path().join(&out)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            text.trim_start().starts_with("{\n  \"rnnlab_dataset\""),
            "{task}"
        );
        assert_eq!(json["task"]["task"], task);
        let records = json["records"].as_array().unwrap();
        let check = ok(tmp.path(), &["data", "check", input.to_str().unwrap()]);
        assert!(check.contains(&records.len().to_string()), "{check}");
        let vocabulary = &json["vocabulary"];
        if task == "adding" {
            assert!(vocabulary["inputs"].is_null() && vocabulary["classes"].is_null());
            assert!(records[0]["inputs"]["Dense"].is_array());
        } else {
            let inputs = vocabulary["inputs"].as_array().unwrap();
            // every token a record uses is in the vocabulary
            for token in records[0]["inputs"]["Tokens"].as_array().unwrap() {
                assert!(
                    inputs.contains(token),
                    "{task}: {token} not in the vocabulary"
                );
            }
            assert!(!vocabulary["classes"].as_array().unwrap().is_empty());
        }
        // never over an existing file without --force
        let err = usage_error(
            tmp.path(),
            &["data", "export", input.to_str().unwrap(), "--out", &out],
        );
        assert!(err.contains("--force"), "{err}");
    }
}
