//! Every registered cell runs through every subcommand that takes a cell: `train`, `gradients`,
//! `gradcheck` and `bench`, on tiny configurations, and the help of `--cell` lists them all.

mod common;

use common::{ok, rnnlab, text};
use rnnlab::CellKind;

#[test]
fn the_registry_lists_the_standard_cells_first_and_every_name_parses() {
    let names: Vec<&str> = CellKind::REGISTERED.iter().map(|c| c.name()).collect();
    assert_eq!(names[..3], ["rnn", "lstm", "gru"]);
    assert!(
        names.contains(&"exprnn") && names.contains(&"lru"),
        "{names:?}"
    );
    for cell in CellKind::REGISTERED {
        assert_eq!(cell.name().parse::<CellKind>().unwrap(), cell);
        assert!(rnnlab::cells::CELL_HELP.contains(cell.name()));
    }
}

#[test]
fn every_registered_cell_trains_reports_gradients_checks_and_benches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for cell in CellKind::REGISTERED {
        let name = cell.name();
        let run = format!("train-{name}");
        ok(
            dir,
            &[
                "train",
                "--cell",
                name,
                "--steps",
                "2",
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
                &run,
            ],
        );
        for f in [
            "config.ron",
            "metrics.csv",
            "gradients.csv",
            "diagnostics.csv",
            "summary.ron",
            "model.ron",
            "model.safetensors",
        ] {
            assert!(
                dir.join(&run).join(f).is_file(),
                "{name}: train {f} missing"
            );
        }

        let report = format!("gradients-{name}");
        ok(
            dir,
            &[
                "gradients",
                "--cell",
                name,
                "--hidden",
                "4",
                "--length",
                "5",
                "--probe-size",
                "2",
                "--out",
                &report,
            ],
        );
        for f in ["gradients.csv", "diagnostics.csv", "model.ron"] {
            assert!(
                dir.join(&report).join(f).is_file(),
                "{name}: gradients {f} missing"
            );
        }
        let csv = std::fs::read_to_string(dir.join(&report).join("gradients.csv")).unwrap();
        assert!(csv.lines().count() > 1, "{name}: {csv}");

        let out = ok(dir, &["gradcheck", "--cell", name]);
        assert!(out.contains(" 0 failed"), "{name}: {out}");

        for flag in ["--cell", "--cells"] {
            let out = ok(
                dir,
                &[
                    "bench", flag, name, "--hidden", "8", "--steps", "1", "--warmup", "0",
                    "--length", "5",
                ],
            );
            let rows: Vec<&str> = out.lines().filter(|l| l.starts_with(name)).collect();
            assert_eq!(rows.len(), 1, "{name} {flag}: {out}");
            assert!(rows[0].starts_with(&format!("{name},8,")), "{out}");
        }
    }
}

#[test]
fn the_cell_help_and_errors_list_every_registered_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let help = ok(tmp.path(), &["train", "--help"]);
    let line = help
        .lines()
        .find(|l| l.trim_start().starts_with("--cell"))
        .expect("train --help has --cell");
    for cell in CellKind::REGISTERED {
        assert!(line.contains(cell.name()), "{line}");
    }
    let out = rnnlab(
        tmp.path(),
        &["train", "--cell", "transformer", "--out", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for cell in CellKind::REGISTERED {
        assert!(err.contains(cell.name()), "{err}");
    }
}
