//! Tuned options: the validation set is not the evaluation set, and `compare` chooses each group's
//! value by the stated rule (best mean validation score over all its lengths and seeds; ties → the
//! smaller value), then reports only the chosen runs. Results tables are built in code.

use rnnlab::sweep::compare::{compare_table, compare_table_with, TaskComparison};
use rnnlab::sweep::experiment::GridValue;
use rnnlab::sweep::results::{ResultsTable, METRIC_COLUMNS};
use rnnlab::sweep::runner::option_columns;
use rnnlab::sweep::tables::comparison_text;
use rnnlab::sweep::tuning::{choose, ValidationMetric};
use rnnlab::sweep::{Experiment, ResultRow};
use rnnlab::tasks::TaskKind;
use rnnlab::train::trainer::{derived_seed, RunData, STREAM_EVAL, STREAM_VAL};
use rnnlab::train::TrainConfig;

/// The benchmark with cells rnn and gru, lengths 5 and 10, seeds 0–2, tuning lr.
fn experiment(lrs: &[f64]) -> Experiment {
    let mut exp = Experiment::tanaka_benchmark();
    // the cells as a grid axis, not the benchmark's groups
    exp.variants.clear();
    let text = |v: &[&str]| v.iter().map(|s| GridValue::Text(s.to_string())).collect();
    exp.grid.insert("cell".into(), text(&["rnn", "gru"]));
    exp.grid
        .insert("length".into(), vec![GridValue::Int(5), GridValue::Int(10)]);
    exp.grid.insert(
        "seed".into(),
        vec![GridValue::Int(0), GridValue::Int(1), GridValue::Int(2)],
    );
    exp.tune.insert(
        "lr".into(),
        lrs.iter().map(|&x| GridValue::Float(x)).collect(),
    );
    exp.normalize();
    exp.validate().unwrap();
    exp
}

/// One run: (cell, length, seed, lr, eval accuracy, validation accuracy, solved).
type Run = (&'static str, usize, usize, &'static str, f64, f64, bool);

fn table(exp: &Experiment, runs: &[Run]) -> ResultsTable {
    let mut table = ResultsTable::new(option_columns(exp));
    for (index, &(cell, length, seed, lr, acc, val, solved)) in runs.iter().enumerate() {
        let options = vec![
            ("task".to_string(), "tanaka".to_string()),
            ("cell".to_string(), cell.to_string()),
            ("length".to_string(), length.to_string()),
            ("hidden".to_string(), "32".to_string()),
            ("seed".to_string(), seed.to_string()),
            ("lr".to_string(), lr.to_string()),
        ];
        let metrics = METRIC_COLUMNS
            .iter()
            .map(|&c| match c {
                "accuracy" => acc.to_string(),
                "val_accuracy" => val.to_string(),
                "val_loss" => "1".to_string(),
                "solved" => solved.to_string(),
                "solved_at_step" => if solved { "300" } else { "" }.to_string(),
                "diverged" => "false".to_string(),
                "baseline" => "0.125".to_string(),
                _ => "0.5".to_string(),
            })
            .collect();
        table.rows.insert(
            format!("length={length},cell={cell},lr={lr},seed={seed}"),
            (index, ResultRow { options, metrics }),
        );
    }
    table
}

fn chosen(tc: &TaskComparison, group: &str) -> String {
    let t = tc
        .tuning
        .as_ref()
        .expect("a tuned experiment reports its choice");
    t.groups
        .iter()
        .find(|g| g.group == group)
        .unwrap()
        .chosen()
        .label()
}

/// rnn: lr=0.01 wins at length 5 (by a little) and loses at 10 (by a lot): over all lengths and
/// seeds 0.001 is better, so per-length selection would have mixed the two. Its evaluation accuracy
/// favours 0.01 everywhere, which must not matter. gru: 0.01 is better on validation.
fn runs() -> Vec<Run> {
    let mut runs = Vec::new();
    for seed in 0..3 {
        // (cell, length, lr, eval acc, val acc, solved)
        for &(cell, length, lr, acc, val, solved) in &[
            ("rnn", 5, "0.001", 0.5, 0.60, false),
            ("rnn", 5, "0.01", 1.0, 0.65, true),
            ("rnn", 10, "0.001", 0.5, 0.50, false),
            ("rnn", 10, "0.01", 1.0, 0.20, true),
            ("gru", 5, "0.001", 0.5, 0.70, false),
            ("gru", 5, "0.01", 1.0, 0.99, true),
            ("gru", 10, "0.001", 0.5, 0.40, false),
            ("gru", 10, "0.01", 1.0, 0.90, true),
        ] {
            runs.push((cell, length, seed, lr, acc, val, solved));
        }
    }
    runs
}

#[test]
fn the_choice_is_the_argmax_of_the_mean_validation_score_over_all_lengths_and_seeds() {
    let exp = experiment(&[0.001, 0.01]);
    let runs = runs();
    let comparisons = compare_table(&exp, &table(&exp, &runs)).unwrap();
    let tc = &comparisons[0];
    // the argmax, computed here from the table: mean val accuracy of each (cell, lr) over every
    // length and seed
    for cell in ["rnn", "gru"] {
        let mean = |lr: &str| {
            let v: Vec<f64> = runs
                .iter()
                .filter(|r| r.0 == cell && r.3 == lr)
                .map(|r| r.5)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let best = if mean("0.01") > mean("0.001") {
            "lr=0.01"
        } else {
            "lr=0.001"
        };
        assert_eq!(chosen(tc, cell), best, "{cell}");
        let t = tc.tuning.as_ref().unwrap();
        let g = t.groups.iter().find(|g| g.group == cell).unwrap();
        for c in &g.candidates {
            assert_eq!(c.runs, 6, "{cell} {}: 2 lengths × 3 seeds", c.label());
            let lr = &c.values[0].1;
            assert!((c.mean_score.unwrap() - mean(lr)).abs() < 1e-12);
        }
    }
    // not per length (rnn's 0.01 is better at length 5 alone), not by evaluation accuracy
    assert_eq!(chosen(tc, "rnn"), "lr=0.001");
    assert_eq!(chosen(tc, "gru"), "lr=0.01");
    // every table uses the chosen runs only: rnn at 0.001 solves nothing, gru at 0.01 everything
    assert_eq!(tc.groups, vec!["rnn".to_string(), "gru".to_string()]);
    for length in [5, 10] {
        let rnn = &tc.cells[&("rnn".to_string(), length)];
        let gru = &tc.cells[&("gru".to_string(), length)];
        assert_eq!((rnn.runs, rnn.solved_runs), (3, 0));
        assert_eq!((gru.runs, gru.solved_runs), (3, 3));
    }
    let text = comparison_text(&comparisons);
    assert!(
        text.contains("tuned lr")
            && text.contains("0.4250 (6 runs)")
            && text.contains("0.9450 (6 runs)"),
        "{text}"
    );

    // --all-values: every value is a group of its own, the choice still reported
    let all = compare_table_with(&exp, &table(&exp, &runs), true).unwrap();
    assert_eq!(
        all[0].groups,
        vec!["rnn lr=0.001", "rnn lr=0.01", "gru lr=0.001", "gru lr=0.01"]
    );
    assert_eq!(chosen(&all[0], "rnn"), "lr=0.001");
    assert!(all[0].tuning.as_ref().unwrap().all_values);
}

#[test]
fn ties_go_to_the_smaller_value_whatever_order_it_is_listed_in() {
    // every run scores the same on validation
    let flat: Vec<Run> = runs()
        .into_iter()
        .map(|(c, l, s, lr, acc, _, solved)| (c, l, s, lr, acc, 0.5, solved))
        .collect();
    for order in [[0.001, 0.01], [0.01, 0.001]] {
        let exp = experiment(&order);
        let tc = &compare_table(&exp, &table(&exp, &flat)).unwrap()[0];
        assert_eq!(chosen(tc, "rnn"), "lr=0.001", "listed {order:?}");
        assert_eq!(chosen(tc, "gru"), "lr=0.001", "listed {order:?}");
    }
    // the rule itself: strictly better replaces, a tie keeps the earlier, MSE is minimised
    let acc = ValidationMetric::Accuracy;
    assert_eq!(choose(acc, &[Some(0.5), Some(0.7), Some(0.7)]), Some(1));
    assert_eq!(choose(acc, &[Some(0.3), Some(0.1 + 0.2)]), Some(0));
    assert_eq!(choose(acc, &[None, Some(0.2), None]), Some(1));
    assert_eq!(choose(acc, &[None, None]), None);
    let mse = ValidationMetric::Mse;
    assert_eq!(choose(mse, &[Some(0.2), Some(0.01), Some(0.05)]), Some(1));
    assert_eq!(choose(mse, &[Some(f64::INFINITY), Some(0.1)]), Some(1));
}

#[test]
fn validation_and_evaluation_are_different_sequences_from_different_seeds() {
    for task in [TaskKind::Copy, TaskKind::Tanaka, TaskKind::Adding] {
        for seed in [0u64, 1, 7] {
            let mut config = TrainConfig {
                task: rnnlab::tasks::TaskSpec::new(task, 20),
                seed,
                eval_size: 64,
                ..TrainConfig::default()
            };
            let data = RunData::prepare(&mut config).unwrap();
            assert_ne!(
                derived_seed(seed, STREAM_VAL),
                derived_seed(seed, STREAM_EVAL)
            );
            assert_eq!(data.val.len(), data.eval.len(), "val size = eval size");
            for v in &data.val {
                assert!(
                    !data.eval.contains(v),
                    "{task:?} seed {seed}: a validation sequence is also in the evaluation set"
                );
            }
            // and fixed by the seed
            let again = RunData::prepare(&mut config.clone()).unwrap();
            assert_eq!(again.val, data.val);
        }
    }
}

#[test]
fn tuned_experiments_validate_and_round_trip() {
    let exp = experiment(&[0.001, 0.003, 0.01]);
    let runs = exp.runs().unwrap();
    assert_eq!(runs.len(), 2 * 2 * 3 * 3);
    assert_eq!(runs[0].id(), "length=5,cell=rnn,lr=0.001,seed=0");
    assert_eq!(runs[0].config.optimizer.lr, 0.001);
    let back: Experiment = ron::from_str(&exp.to_ron()).unwrap();
    assert_eq!(back, exp);
    // an experiment without tune is written as before (old sweep directories still match)
    assert!(!Experiment::tanaka_benchmark().to_ron().contains("tune"));
    let parsed: Experiment = ron::from_str(
        r#"(name: "t", grid: {"cell": ["rnn", "lstm"]}, tune: {"lr": [0.001, 0.01]})"#,
    )
    .unwrap();
    assert_eq!(parsed.tuned_axes(), vec!["lr"]);
    for (bad, expect) in [
        (
            r#"(name: "t", grid: {}, tune: {"seed": [0, 1]})"#,
            "cannot be tuned",
        ),
        (
            r#"(name: "t", grid: {"lr": [0.1]}, tune: {"lr": [0.2]})"#,
            "also in the grid",
        ),
        (r#"(name: "t", grid: {}, tune: {"lr": []})"#, "empty"),
        (r#"(name: "t", grid: {}, tune: {"colour": [1]})"#, "colour"),
    ] {
        let exp: Experiment = ron::from_str(bad).unwrap();
        let err = exp.validate().unwrap_err().to_string();
        assert!(err.contains(expect), "{bad}: {err}");
    }
}

#[test]
fn results_files_from_before_validation_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("results.csv");
    std::fs::write(
        &path,
        "task,cell,length,hidden,seed,accuracy,loss,baseline,solved,solved_at_step,diverged,decay_init,decay_final,half_life_init,horizon_init,wall_seconds\n\
         tanaka,rnn,5,32,0,0.5,1.2,0.125,false,,false,0.9,0.8,3,10,1.5\n",
    )
    .unwrap();
    let table = ResultsTable::read(&path, &|_| Some(("r".into(), 0))).unwrap();
    let row = &table.rows["r"].1;
    assert_eq!(row.metric("accuracy"), Some("0.5"));
    assert_eq!(row.metric("val_accuracy"), Some(""));
    assert_eq!(row.metric("wall_seconds"), Some("1.5"));
}

#[test]
fn the_adding_task_is_tuned_by_the_lowest_validation_mse() {
    let mut exp = experiment(&[0.001, 0.01]);
    exp.base.task = rnnlab::tasks::TaskSpec::new(TaskKind::Adding, 20);
    exp.validate().unwrap();
    // val accuracy favours 0.01, val MSE (the adding task's solved metric) favours 0.001
    let mut t = table(&exp, &runs());
    for (_, row) in t.rows.values_mut() {
        row.options[0].1 = "adding".into();
        let lr = row.option("lr").unwrap().to_string();
        let at = |name: &str| METRIC_COLUMNS.iter().position(|c| *c == name).unwrap();
        row.metrics[at("val_loss")] = if lr == "0.001" { "0.02" } else { "NaN" }.into();
        row.metrics[at("val_accuracy")] = if lr == "0.001" { "0.1" } else { "0.9" }.into();
    }
    let tc = &compare_table(&exp, &t).unwrap()[0];
    let tuning = tc.tuning.as_ref().unwrap();
    assert_eq!(tuning.metric, ValidationMetric::Mse);
    assert_eq!(chosen(tc, "rnn"), "lr=0.001");
    assert_eq!(chosen(tc, "gru"), "lr=0.001");
    let text = comparison_text(std::slice::from_ref(tc));
    assert!(
        text.contains("mean validation MSE (lower is better)") && text.contains("inf"),
        "{text}"
    );
}

#[test]
fn candidates_with_different_numbers_of_runs_are_flagged() {
    let exp = experiment(&[0.001, 0.01]);
    // a sweep still running: rnn at lr=0.01 has only seed 0
    let partial: Vec<Run> = runs()
        .into_iter()
        .filter(|r| !(r.0 == "rnn" && r.3 == "0.01" && r.2 > 0))
        .collect();
    let tc = &compare_table(&exp, &table(&exp, &partial)).unwrap()[0];
    let scope = tc.tuning.as_ref().unwrap().scope_text();
    assert!(
        scope.contains("Warning: in rnn,") || scope.contains("Warning: in rnn "),
        "{scope}"
    );
    assert!(!scope.contains("gru"), "{scope}");
}
