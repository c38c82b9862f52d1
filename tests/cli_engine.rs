//! `rnnlab gradcheck` and `rnnlab bench` run as a user runs them.

mod common;

use std::path::Path;
use std::process::Output;

fn rnnlab(args: &[&str]) -> Output {
    common::rnnlab(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn usage_error(args: &[&str]) -> String {
    common::usage_error(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

use common::text;

#[test]
fn gradcheck_prints_every_tensor_of_every_configuration_and_passes() {
    let out = rnnlab(&["gradcheck", "--cell", "gru"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // gru: 1 layer and 2 layers with residual × 2 masks × 2 losses + a token case + 4 with chrono
    // initialisation + 4 truncated
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        8 + 1 + 4 + 4,
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL"));
    for name in [
        "weight_ih_l0",
        "weight_hh_l1",
        "bias_hh_l0",
        "readout.weight",
        "inputs",
        "h0_l1",
    ] {
        assert!(stdout.contains(name), "{name} missing");
    }
    assert!(stdout.trim_end().ends_with("0 failed"), "{stdout}");
}

#[test]
fn gradcheck_of_one_activation_checks_only_that_activation() {
    let out = rnnlab(&["gradcheck", "--cell", "rnn", "--activation", "sigmoid"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("rnn-sigmoid") && !stdout.contains("rnn-tanh") && !stdout.contains("lstm")
    );
    assert!(stdout.contains("layer-norm"));
}

#[test]
fn bench_prints_the_peer_scripts_csv() {
    let out = rnnlab(&[
        "bench",
        "--cells",
        "rnn,gru",
        "--hidden",
        "4,8",
        "--batch",
        "2",
        "--length",
        "5",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--threads",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "cell,hidden,batch,length,threads,ms_per_step,seq_steps_per_s"
    );
    assert_eq!(lines.len(), 5);
    assert!(lines[1].starts_with("rnn,4,2,5,1,") && lines[4].starts_with("gru,8,2,5,1,"));
    for line in &lines[1..] {
        let ms: f64 = line.split(',').nth(5).unwrap().parse().unwrap();
        assert!(ms > 0.0);
    }
}

#[test]
fn bad_options_name_the_option_and_exit_2() {
    assert!(usage_error(&["gradcheck", "--cell", "transformer"]).contains("--cell"));
    assert!(usage_error(&["gradcheck", "--activation", "softplus"]).contains("--activation"));
    assert!(usage_error(&["bench", "--hidden", "32,0"]).contains("--hidden"));
    assert!(usage_error(&["bench", "--length", "0"]).contains("--length"));
    assert!(usage_error(&["bench", "--cells", "lstm,xyz"]).contains("--cell"));
    assert!(usage_error(&["bench", "--threads", "0"]).contains("--threads"));
    assert!(usage_error(&["frobnicate"]).contains("frobnicate"));
}

#[test]
fn every_subcommand_help_shows_an_example() {
    let subcommands: [&[&str]; 12] = [
        &["gradcheck"],
        &["bench"],
        &["train"],
        &["gradients"],
        &["sweep"],
        &["merge"],
        &["compare"],
        &["status"],
        &["data"],
        &["data", "generate"],
        &["data", "check"],
        &["data", "show"],
    ];
    for sub in subcommands {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = rnnlab(&args);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("Example"), "{sub:?}");
    }
}
