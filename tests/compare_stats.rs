//! `rnnlab compare`'s uncertainty on small results tables built in code: seeds solved with Wilson
//! intervals, L50 with its bootstrap, and verdicts that rank two groups only when a
//! Holm-corrected one-sided Fisher exact test supports it.

use rnnlab::sweep::compare::{compare_table, TaskComparison, Verdict};
use rnnlab::sweep::experiment::GridValue;
use rnnlab::sweep::report::write_report;
use rnnlab::sweep::results::METRIC_COLUMNS;
use rnnlab::sweep::runner::option_columns;
use rnnlab::sweep::tables::comparison_text;
use rnnlab::sweep::{Experiment, ResultRow, ResultsTable};

/// The built-in benchmark with cells rnn and gru (the grid only names the experiment's axes; the
/// table below decides which runs exist).
fn experiment() -> Experiment {
    let mut exp = Experiment::tanaka_benchmark();
    // the cells as a grid axis, not the benchmark's groups
    exp.variants.clear();
    exp.grid.insert(
        "cell".into(),
        vec![GridValue::Text("rnn".into()), GridValue::Text("gru".into())],
    );
    exp
}

/// (cell, length, seed, solved) → a results table with plausible measurements.
fn table(exp: &Experiment, runs: &[(&str, usize, usize, bool)]) -> ResultsTable {
    let mut table = ResultsTable::new(option_columns(exp));
    for (index, &(cell, length, seed, solved)) in runs.iter().enumerate() {
        let options = vec![
            ("task".to_string(), "tanaka".to_string()),
            ("cell".to_string(), cell.to_string()),
            ("length".to_string(), length.to_string()),
            ("hidden".to_string(), "32".to_string()),
            ("seed".to_string(), seed.to_string()),
        ];
        let metrics = METRIC_COLUMNS
            .iter()
            .map(|&c| match c {
                "accuracy" => if solved { "1" } else { "0.125" }.to_string(),
                "solved" => solved.to_string(),
                "solved_at_step" => if solved { "300" } else { "" }.to_string(),
                "diverged" => "false".to_string(),
                "baseline" => "0.125".to_string(),
                _ => "0.5".to_string(),
            })
            .collect();
        table.rows.insert(
            format!("cell={cell},length={length},seed={seed}"),
            (index, ResultRow { options, metrics }),
        );
    }
    table
}

/// `counts`: (cell, length, seeds solved, seeds); seeds 0..k solve.
fn runs(counts: &[(&'static str, usize, usize, usize)]) -> Vec<(&'static str, usize, usize, bool)> {
    counts
        .iter()
        .flat_map(|&(cell, length, solved, seeds)| {
            (0..seeds).map(move |seed| (cell, length, seed, seed < solved))
        })
        .collect()
}

fn compare(counts: &[(&'static str, usize, usize, usize)]) -> Vec<TaskComparison> {
    let exp = experiment();
    compare_table(&exp, &table(&exp, &runs(counts))).unwrap()
}

#[test]
fn two_of_three_against_one_of_three_is_not_distinguishable() {
    let comparisons = compare(&[("rnn", 20, 2, 3), ("gru", 20, 1, 3)]);
    let tc = &comparisons[0];
    let rnn = &tc.cells[&("rnn".to_string(), 20)];
    assert_eq!((rnn.solved_runs, rnn.runs), (2, 3));
    // Wilson 95% for 2/3: [0.2077, 0.9385]; for 1/3 the mirror image [0.0615, 0.7923]
    let ci = rnn.solved_interval.unwrap();
    assert!(
        (ci.low - 0.2077).abs() < 1e-4 && (ci.high - 0.9385).abs() < 1e-4,
        "{ci:?}"
    );
    assert_eq!(tc.verdicts.len(), 1);
    assert_eq!(tc.verdicts[0].verdict, Verdict::NotDistinguishable);
    let text = comparison_text(&comparisons);
    assert!(text.contains("2/3 [0.21, 0.94]"), "{text}");
    assert!(text.contains("1/3 [0.06, 0.79]"), "{text}");
    assert!(
        text.contains("rnn and gru: not distinguishable with 3 seeds"),
        "{text}"
    );
    assert!(!text.contains("remembers longer"), "{text}");
    assert!(
        text.contains("longest length solved in at least half the seeds"),
        "{text}"
    );
}

#[test]
fn ten_of_ten_against_none_of_ten_is_a_ranking() {
    let comparisons = compare(&[
        ("rnn", 10, 10, 10),
        ("rnn", 20, 0, 10),
        ("gru", 10, 10, 10),
        ("gru", 20, 10, 10),
    ]);
    let tc = &comparisons[0];
    let verdict = &tc.verdicts[0];
    assert_eq!(
        (verdict.first.as_str(), verdict.second.as_str()),
        ("rnn", "gru")
    );
    assert_eq!(verdict.verdict, Verdict::SecondLonger);
    // one-sided Fisher p = 1/C(20, 10) = 1/184756 at L=20, Holm factor 4 (2 lengths × 2 sides)
    let at_20 = verdict.tests.iter().find(|t| t.length == 20).unwrap();
    assert!((at_20.p_second_more - 1.0 / 184_756.0).abs() < 1e-12);
    assert!((at_20.holm_second_more - 4.0 / 184_756.0).abs() < 1e-12);
    let at_10 = verdict.tests.iter().find(|t| t.length == 10).unwrap();
    assert_eq!((at_10.holm_first_more, at_10.holm_second_more), (1.0, 1.0));
    let text = comparison_text(&comparisons);
    assert!(
        text.contains("gru remembers longer than rnn (Holm-adjusted one-sided Fisher exact test: L=20 10/10 vs 0/10, p = 2.2e-5)"),
        "{text}"
    );
    assert!(text.contains("10/10 [0.72, 1.00]"), "{text}");
    assert!(text.contains("0/10 [0.00, 0.28]"), "{text}");
    // L50: gru solved everything, rnn is separated between 10 and 20
    assert!(text.contains("> 20 (all solved)"), "{text}");
    assert!(text.contains("between 10 and 20 (separated"), "{text}");
}

#[test]
fn overlapping_outcomes_give_an_l50_with_a_bootstrap_interval() {
    // seed s solves every length up to last_solved[s]: the solved fraction falls from 8/8 at 5
    // to 1/8 at 80, and the seeds overlap, so the logistic fit exists
    let lengths = [5, 10, 20, 40, 80];
    let last_solved = [0, 1, 1, 2, 2, 3, 3, 4];
    let runs: Vec<(&str, usize, usize, bool)> = last_solved
        .iter()
        .enumerate()
        .flat_map(|(seed, &last)| {
            lengths
                .iter()
                .enumerate()
                .map(move |(i, &l)| ("rnn", l, seed, i <= last))
        })
        .collect();
    let exp = experiment();
    let comparisons = compare_table(&exp, &table(&exp, &runs)).unwrap();
    let l50 = &comparisons[0].length_at_half["rnn"];
    let point = l50.estimate.length().expect("estimable");
    assert!(point > 10.0 && point < 40.0, "{point}");
    assert_eq!(l50.seeds, 8);
    let boot = l50.bootstrap.as_ref().unwrap();
    let ci = boot.interval.unwrap();
    assert!(ci.low <= point && point <= ci.high, "{point} {ci:?}");
    assert!(boot.not_estimable_fraction() < 0.1, "{boot:?}");
    // the old rule: 5/8 solved at 20, 3/8 at 40
    assert_eq!(comparisons[0].critical_text("rnn"), "20");
    // deterministic: the same table gives the same interval
    let again = compare_table(&exp, &table(&exp, &runs)).unwrap();
    assert_eq!(again[0].length_at_half["rnn"], *l50);
    // one group only: no verdicts
    assert!(comparisons[0].verdicts.is_empty());
}

#[test]
fn degenerate_tables_do_not_panic() {
    let exp = experiment();
    assert!(compare_table(&exp, &table(&exp, &[])).unwrap().is_empty());
    assert_eq!(comparison_text(&[]), "");
    // one length, one seed, nothing solved
    let one = compare(&[("rnn", 10, 0, 1), ("gru", 10, 1, 1)]);
    let text = comparison_text(&one);
    assert!(text.contains("< 10 (none solved)"), "{text}");
    assert!(text.contains("> 10 (all solved)"), "{text}");
    assert!(text.contains("not distinguishable with 1 seed "), "{text}");
    // groups that share no length
    let apart = compare(&[("rnn", 10, 1, 2), ("gru", 20, 1, 2)]);
    assert!(comparison_text(&apart).contains("no length run for both"));
    // rows without a parsable length still compare (no lengths, no cells)
    let mut odd = table(&exp, &runs(&[("rnn", 10, 1, 2)]));
    for (_, row) in odd.rows.values_mut() {
        row.options[2].1 = "ten".into();
    }
    let tc = compare_table(&exp, &odd).unwrap();
    assert!(tc[0].lengths.is_empty());
    let _ = comparison_text(&tc);
}

#[test]
fn the_report_states_its_rules_and_draws_the_solved_fraction() {
    let exp = experiment();
    let comparisons = compare(&[("rnn", 10, 3, 5), ("gru", 10, 5, 5)]);
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path(), &exp, &comparisons).unwrap();
    let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    for needle in [
        "| rnn | 3/5 [0.23, 0.88] |",
        "## Protocol and definitions",
        "Wilson",
        "Holm",
        "| longest length solved in at least half the seeds |",
        "rnn and gru: not distinguishable with 5 seeds",
        "plots/solved_vs_length.svg",
    ] {
        assert!(report.contains(needle), "{needle} missing:\n{report}");
    }
    let svg = std::fs::read_to_string(dir.path().join("plots/solved_vs_length.svg")).unwrap();
    assert!(svg.contains("fraction of seeds solved"), "{svg}");
}

#[test]
fn opposite_significant_differences_give_no_single_ranking() {
    let comparisons = compare(&[
        ("rnn", 5, 10, 10),
        ("rnn", 50, 0, 10),
        ("gru", 5, 0, 10),
        ("gru", 50, 10, 10),
    ]);
    assert_eq!(comparisons[0].verdicts[0].verdict, Verdict::Conflicting);
    let text = comparison_text(&comparisons);
    assert!(
        text.contains("rnn and gru: no single ranking (rnn solves more often at L=5 10/10 vs 0/10"),
        "{text}"
    );
    assert!(!text.contains("remembers longer"), "{text}");
}

/// The source-signal table leads with the geometric mean over seeds (issue 22: one outlier seed
/// made the mean read "7.5e-40 → 4.2e19"), says so in its caption, and counts flagged seeds as
/// "k of n seeds".
#[test]
fn the_source_signal_table_leads_with_the_geometric_mean() {
    use rnnlab::sweep::tables::{source_signal_text, SOURCE_SIGNAL_CAPTION};
    let exp = experiment();
    let mut t = table(&exp, &runs(&[("gru", 200, 0, 4)]));
    let finals = ["1e-1", "1e-1", "1e-1", "1e20"];
    let column = |name: &str| METRIC_COLUMNS.iter().position(|&c| c == name).unwrap();
    for (i, (_, (_, row))) in t.rows.iter_mut().enumerate() {
        row.metrics[column("source_signal_init")] = "1e-40".into();
        row.metrics[column("source_signal_final")] = finals[i].into();
        if i < 3 {
            // a rejected final fit: no ρ, but an R²
            row.metrics[column("decay_final")] = String::new();
            row.metrics[column("decay_r2_final")] = "0.4".into();
        }
    }
    let tc = &compare_table(&exp, &t).unwrap()[0];
    let cell = &tc.cells[&("gru".to_string(), 200)];
    // the mean is 2.5e19, the geometric mean (1e-1 · 1e-1 · 1e-1 · 1e20)^(1/4) = 1e4.25
    assert!((cell.mean_source_signal_final.unwrap() / 2.5e19 - 1.0).abs() < 1e-9);
    let geo = cell.geomean_source_signal_final.unwrap();
    assert!((geo.log10() - 4.25).abs() < 1e-9, "{geo}");
    assert_eq!(
        source_signal_text(cell),
        "1.0e-40 → 1.8e4 (ρ not exponential in 3 of 4 seeds)"
    );
    assert!(SOURCE_SIGNAL_CAPTION.contains("geometric mean over seeds"));
}
