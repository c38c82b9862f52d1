//! The synthetic tasks: determinism, masks, probe steps, distances, baselines, accuracy, options.

use ndarray::{Array2, Array3};
use rnnlab::tasks::{
    InputKind, Lang, LossWeighting, OutputKind, Predictions, Sequence, SequenceInputs,
    SequenceTargets, Solved, TanakaVocabulary, Task, TaskKind, TaskSpec,
};
use rnnlab::{Batch, Inputs, Targets};

fn task(kind: TaskKind, length: usize) -> Task {
    Task::new(TaskSpec::new(kind, length)).expect("default spec is valid")
}

fn tanaka_with(length: usize, names: usize, distractor_names: f64) -> Task {
    Task::new(TaskSpec {
        names: Some(names),
        distractor_names: Some(distractor_names),
        ..TaskSpec::new(TaskKind::Tanaka, length)
    })
    .expect("valid tanaka spec")
}

fn all_tasks(length: usize) -> Vec<Task> {
    TaskKind::ALL.into_iter().map(|k| task(k, length)).collect()
}

#[test]
fn same_seed_gives_identical_sequences_and_another_seed_does_not() {
    for task in all_tasks(12).into_iter().chain([tanaka_with(12, 5, 0.3)]) {
        let a = task.generate(50, 42);
        let b = task.generate(50, 42);
        let c = task.generate(50, 43);
        assert_eq!(a, b, "{}: same seed", task.kind());
        assert_ne!(a, c, "{}: different seed", task.kind());
    }
}

#[test]
fn generated_sequences_belong_to_their_task() {
    for length in [0, 1, 2, 7, 40] {
        for kind in TaskKind::ALL {
            let Ok(task) = Task::new(TaskSpec::new(kind, length)) else {
                // tanaka and copy need length ≥ 1 and adding ≥ 2; those are tested below.
                assert!(matches!(
                    (kind, length),
                    (TaskKind::Tanaka | TaskKind::Copy, 0) | (TaskKind::Adding, 0 | 1)
                ));
                continue;
            };
            for seq in task.generate(30, length as u64) {
                assert_eq!(seq.len(), task.steps());
                task.check_sequence(&seq)
                    .unwrap_or_else(|m| panic!("{kind} length {length}: {m}"));
            }
        }
    }
}

#[test]
fn steps_masks_and_probe_steps_follow_the_published_layouts() {
    // tanaka: [name, L fillers, query]; loss and probe at the query.
    let t = task(TaskKind::Tanaka, 6);
    assert_eq!((t.steps(), t.loss_steps(), t.probe_step()), (8, vec![7], 7));
    // copy: T + 20 steps, loss everywhere, probe at the first recalled symbol T + 10.
    let t = task(TaskKind::Copy, 100);
    assert_eq!(
        (t.steps(), t.loss_steps(), t.probe_step()),
        (120, (0..120).collect(), 110)
    );
    assert_eq!(t.scored_steps(), (110..120).collect::<Vec<_>>());
    // adding: loss and probe at the last step.
    let t = task(TaskKind::Adding, 50);
    assert_eq!(
        (t.steps(), t.loss_steps(), t.probe_step()),
        (50, vec![49], 49)
    );
    // recall: 2·pairs + length + separator + query.
    let t = Task::new(TaskSpec {
        pairs: Some(3),
        ..TaskSpec::new(TaskKind::Recall, 5)
    })
    .unwrap();
    assert_eq!(
        (t.steps(), t.loss_steps(), t.probe_step()),
        (13, vec![12], 12)
    );
    assert_eq!(t.loss_mask().iter().filter(|&&m| m).count(), 1);
}

#[test]
fn kinds_and_widths_are_what_the_engine_is_told() {
    let t = task(TaskKind::Tanaka, 3);
    let vocab = TanakaVocabulary::builtin().unwrap();
    assert_eq!(
        t.input_kind(),
        InputKind::Tokens {
            vocab: 8 + vocab.fillers.len() + 1
        }
    );
    assert_eq!(t.output_kind(), OutputKind::Classes { count: 8 });
    assert_eq!(
        task(TaskKind::Copy, 3).input_kind(),
        InputKind::Tokens { vocab: 10 }
    );
    assert_eq!(
        task(TaskKind::Copy, 3).output_kind(),
        OutputKind::Classes { count: 9 }
    );
    assert_eq!(
        task(TaskKind::Adding, 3).input_kind(),
        InputKind::Dense { width: 2 }
    );
    assert_eq!(
        task(TaskKind::Adding, 3).output_kind(),
        OutputKind::Values { width: 1 }
    );
    assert_eq!(
        task(TaskKind::Recall, 3).input_kind(),
        InputKind::Tokens { vocab: 26 + 10 + 2 }
    );
    assert_eq!(task(TaskKind::Recall, 3).output_width(), 10);
}

#[test]
fn collate_lays_out_time_major_batches_with_mean_or_sum_weights() {
    for task in all_tasks(9) {
        let seqs = task.generate(7, 3);
        let mean: Batch<f64> = task.collate(&seqs, LossWeighting::MeanOverSteps).unwrap();
        let sum: Batch<f32> = task.collate(&seqs, LossWeighting::SumPerSequence).unwrap();
        assert_eq!(mean.shape(), (task.steps(), 7));
        assert_eq!(mean.inputs.width(), task.input_width());
        let positions = task.loss_steps().len() * 7;
        for t in 0..task.steps() {
            for b in 0..7 {
                let masked = task.loss_mask()[t];
                assert_eq!(
                    sum.loss_weight[[t, b]],
                    if masked { 1.0 } else { 0.0 },
                    "{} t={t}",
                    task.kind()
                );
                let expected = if masked { 1.0 / positions as f64 } else { 0.0 };
                assert!((mean.loss_weight[[t, b]] - expected).abs() < 1e-15);
            }
        }
        assert!((mean.loss_weight.sum() - 1.0).abs() < 1e-12);
        // Row b of the batch is sequence b.
        match (&mean.inputs, &seqs[4].inputs) {
            (Inputs::Tokens { ids, .. }, SequenceInputs::Tokens(tokens)) => {
                assert_eq!(ids.column(4).to_vec(), *tokens)
            }
            (Inputs::Dense(x), SequenceInputs::Dense(rows)) => {
                for (t, row) in rows.iter().enumerate() {
                    assert_eq!(x[[t, 4, 0]], row[0]);
                    assert_eq!(x[[t, 4, 1]], row[1]);
                }
            }
            _ => panic!("{}: input kind changed in collate", task.kind()),
        }
    }
}

#[test]
fn collate_rejects_an_empty_batch_and_a_foreign_sequence() {
    let copy = task(TaskKind::Copy, 5);
    assert!(copy
        .collate::<f32>(&[], LossWeighting::MeanOverSteps)
        .is_err());
    let other = task(TaskKind::Copy, 6).generate(1, 0);
    let err = copy
        .collate::<f32>(&other, LossWeighting::MeanOverSteps)
        .unwrap_err();
    assert!(err.to_string().contains("sequence 0"), "{err}");
}

#[test]
fn tanaka_target_is_the_subject_at_distance_length_plus_one() {
    let task = tanaka_with(10, 6, 0.0);
    for seq in task.generate(40, 1) {
        let tokens = seq.tokens().unwrap();
        assert_eq!(
            seq.class_at(11),
            Some(tokens[0]),
            "the answer is the first name"
        );
        assert_eq!(task.probe_distance(&seq), 11);
        // No names among the fillers without distractors.
        assert!(tokens[1..11].iter().all(|&id| id >= 6));
    }
}

#[test]
fn distractor_names_fill_slots_with_other_names_at_the_given_rate() {
    let task = tanaka_with(20, 8, 0.25);
    let (mut names, mut slots) = (0, 0);
    for seq in task.generate(500, 9) {
        let tokens = seq.tokens().unwrap();
        let subject = tokens[0];
        for &id in &tokens[1..21] {
            slots += 1;
            if id < 8 {
                names += 1;
                assert_ne!(id, subject, "a distractor is another name");
            }
        }
        assert_eq!(
            seq.class_at(21),
            Some(subject),
            "the answer stays the subject"
        );
    }
    let rate = names as f64 / slots as f64;
    // 10,000 slots: the standard error of the rate is 0.0043.
    assert!((rate - 0.25).abs() < 0.02, "distractor rate {rate}");
}

#[test]
fn copy_dependencies_point_each_recalled_symbol_at_its_input() {
    let task = task(TaskKind::Copy, 30);
    for seq in task.generate(10, 5) {
        let deps = task.dependencies(&seq);
        assert_eq!(deps.len(), 10);
        for (k, dep) in deps.iter().enumerate() {
            assert_eq!(
                (dep.target_step, dep.evidence_step, dep.distance()),
                (40 + k, k, 40)
            );
            assert_eq!(
                seq.class_at(dep.target_step),
                Some(seq.tokens().unwrap()[k])
            );
        }
        assert_eq!(task.probe_distance(&seq), 40);
        assert_eq!(seq.tokens().unwrap()[39], 9, "delimiter at step T + 9");
    }
}

#[test]
fn adding_distance_is_last_step_minus_first_marker_and_varies() {
    let task = task(TaskKind::Adding, 40);
    let mut distances = std::collections::BTreeSet::new();
    for seq in task.generate(200, 2) {
        let SequenceInputs::Dense(rows) = &seq.inputs else {
            panic!("adding reads dense inputs")
        };
        let markers: Vec<usize> = (0..40).filter(|&t| rows[t][1] == 1.0).collect();
        assert_eq!(markers.len(), 2);
        assert!(
            markers[0] < 20 && markers[1] >= 20,
            "one marker per half: {markers:?}"
        );
        let SequenceTargets::Values(targets) = &seq.targets else {
            panic!("adding has value targets")
        };
        assert_eq!(
            targets[39].as_ref().unwrap()[0],
            rows[markers[0]][0] + rows[markers[1]][0]
        );
        assert_eq!(task.probe_distance(&seq), 39 - markers[0]);
        distances.insert(task.probe_distance(&seq));
    }
    assert!(
        distances.len() > 10,
        "distance varies per sequence: {distances:?}"
    );
    assert!(distances.iter().all(|&d| (20..=39).contains(&d)));
}

#[test]
fn recall_target_is_the_value_of_the_queried_key() {
    let task = Task::new(TaskSpec {
        pairs: Some(5),
        ..TaskSpec::new(TaskKind::Recall, 4)
    })
    .unwrap();
    let vocab = task.input_vocabulary().unwrap().clone();
    for seq in task.generate(100, 8) {
        let words: Vec<&str> = seq
            .tokens()
            .unwrap()
            .iter()
            .map(|&id| vocab.name(id))
            .collect();
        let keys: Vec<&str> = (0..5).map(|i| words[2 * i]).collect();
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 5, "distinct keys in {words:?}");
        assert_eq!(&words[10..14], &[".", ".", ".", "."]);
        assert_eq!(words[14], "??");
        let asked = keys
            .iter()
            .position(|&k| k == words[15])
            .expect("query is a key");
        let value: usize = words[2 * asked + 1].parse().unwrap();
        assert_eq!(seq.class_at(15), Some(value));
        assert_eq!(task.probe_distance(&seq), 15 - 2 * asked);
    }
}

#[test]
fn copy_memoryless_loss_is_ten_ln8_over_t_plus_20() {
    // Arjovsky et al. 2016 quote 0.1733 at T = 100, 0.0945 at T = 200, 0.0400 at T = 500.
    for (t, published) in [(100, 0.1733), (200, 0.0945), (500, 0.0400)] {
        let task = task(TaskKind::Copy, t);
        let batch: Batch<f64> = task
            .collate(&task.generate(16, 0), LossWeighting::MeanOverSteps)
            .unwrap();
        let measured = task.memoryless_loss(&batch).unwrap();
        let formula = 10.0 * 8f64.ln() / (t as f64 + 20.0);
        assert!(
            (measured - formula).abs() < 1e-12,
            "T={t}: {measured} vs {formula}"
        );
        assert!(
            (measured - published).abs() < 5e-5,
            "T={t}: {measured} vs published {published}"
        );
        assert!((task.baseline().loss - formula).abs() < 1e-15);
        assert_eq!(task.baseline().accuracy, 1.0 / 8.0);
    }
}

#[test]
fn adding_baseline_is_one_sixth_by_monte_carlo() {
    let task = task(TaskKind::Adding, 20);
    let batch: Batch<f64> = task
        .collate(&task.generate(40_000, 11), LossWeighting::MeanOverSteps)
        .unwrap();
    let mse = task.memoryless_loss(&batch).unwrap();
    // Var of (X1 + X2 − 1)² over 40,000 samples gives a standard error of about 0.001.
    assert!((mse - 1.0 / 6.0).abs() < 0.005, "memoryless MSE {mse}");
    assert_eq!(task.baseline().loss, 1.0 / 6.0);
    // Always predicting 1 is correct when |X1 + X2 − 1| < 0.04: probability 1 − 0.96² = 0.0784.
    let accuracy = task
        .accuracy(&batch, &task.memoryless_predictions(&batch))
        .unwrap();
    assert!(
        (accuracy - 0.0784).abs() < 0.005,
        "memoryless accuracy {accuracy}"
    );
    assert!((task.baseline().accuracy - 0.0784).abs() < 1e-12);
}

#[test]
fn classification_baselines_are_chance() {
    let cases = [
        (tanaka_with(5, 8, 0.0), 8.0),
        (tanaka_with(5, 4, 0.2), 4.0),
        (task(TaskKind::Recall, 5), 10.0),
    ];
    for (task, classes) in cases {
        let batch: Batch<f64> = task
            .collate(&task.generate(20_000, 4), LossWeighting::MeanOverSteps)
            .unwrap();
        let loss = task.memoryless_loss(&batch).unwrap();
        assert!(
            (loss - f64::ln(classes)).abs() < 1e-9,
            "{}: {loss}",
            task.kind()
        );
        assert_eq!(task.baseline().accuracy, 1.0 / classes);
        // The memoryless argmax is one fixed class, right about 1/classes of the time.
        let accuracy = task
            .accuracy(&batch, &task.memoryless_predictions(&batch))
            .unwrap();
        assert!(
            (accuracy - 1.0 / classes).abs() < 0.015,
            "{}: accuracy {accuracy}",
            task.kind()
        );
    }
}

#[test]
fn copy_accuracy_counts_only_the_ten_recalled_symbols() {
    let task = task(TaskKind::Copy, 5);
    let batch: Batch<f32> = task
        .collate(&task.generate(4, 0), LossWeighting::MeanOverSteps)
        .unwrap();
    let Targets::Classes { ids, .. } = &batch.targets else {
        panic!("copy has class targets")
    };
    let mut predicted: Array2<usize> = ids.clone();
    assert_eq!(
        task.accuracy(&batch, &Predictions::Classes(predicted.clone()))
            .unwrap(),
        1.0
    );
    predicted[[3, 1]] = 5; // a wrong blank: not scored
    assert_eq!(
        task.accuracy(&batch, &Predictions::Classes(predicted.clone()))
            .unwrap(),
        1.0
    );
    predicted[[15, 2]] = (ids[[15, 2]] % 8) + 1; // a wrong recalled symbol
    assert_eq!(
        task.accuracy(&batch, &Predictions::Classes(predicted))
            .unwrap(),
        1.0 - 1.0 / 40.0
    );
}

#[test]
fn adding_accuracy_uses_the_004_tolerance() {
    let task = task(TaskKind::Adding, 10);
    let batch: Batch<f64> = task
        .collate(&task.generate(2, 0), LossWeighting::MeanOverSteps)
        .unwrap();
    let Targets::Values(y) = &batch.targets else {
        panic!("adding has value targets")
    };
    let mut predicted: Array3<f64> = y.clone();
    predicted[[9, 0, 0]] += 0.039;
    predicted[[9, 1, 0]] -= 0.041;
    assert_eq!(
        task.accuracy(&batch, &Predictions::Values(predicted))
            .unwrap(),
        0.5
    );
    let wrong_shape = Predictions::Values(Array3::zeros((10, 3, 1)));
    assert!(task.accuracy(&batch, &wrong_shape).is_err());
}

#[test]
fn solved_thresholds_default_and_override() {
    assert_eq!(
        task(TaskKind::Tanaka, 5).solved(),
        Solved::AccuracyAtLeast(0.99)
    );
    assert_eq!(
        task(TaskKind::Copy, 5).solved(),
        Solved::AccuracyAtLeast(0.99)
    );
    assert_eq!(
        task(TaskKind::Recall, 5).solved(),
        Solved::AccuracyAtLeast(0.99)
    );
    assert_eq!(task(TaskKind::Adding, 5).solved(), Solved::MseAtMost(0.01));
    let adding = Task::new(TaskSpec {
        solved: Some(0.05),
        ..TaskSpec::new(TaskKind::Adding, 5)
    })
    .unwrap();
    assert_eq!(adding.solved(), Solved::MseAtMost(0.05));
    assert!(adding.solved().is_met(0.04, 0.0) && !adding.solved().is_met(0.06, 1.0));
    let copy = Task::new(TaskSpec {
        solved: Some(0.9),
        ..TaskSpec::new(TaskKind::Copy, 5)
    })
    .unwrap();
    assert!(copy.solved().is_met(9.0, 0.9) && !copy.solved().is_met(0.0, 0.89));
}

#[test]
fn bad_specs_name_the_option() {
    let cases = [
        (
            TaskSpec {
                names: Some(4),
                ..TaskSpec::new(TaskKind::Copy, 5)
            },
            "names",
        ),
        (
            TaskSpec {
                pairs: Some(4),
                ..TaskSpec::new(TaskKind::Tanaka, 5)
            },
            "pairs",
        ),
        (
            TaskSpec {
                distractor_names: Some(1.5),
                ..TaskSpec::new(TaskKind::Tanaka, 5)
            },
            "distractor_names",
        ),
        (
            TaskSpec {
                names: Some(1),
                ..TaskSpec::new(TaskKind::Tanaka, 5)
            },
            "names",
        ),
        (
            TaskSpec {
                names: Some(99),
                ..TaskSpec::new(TaskKind::Tanaka, 5)
            },
            "names",
        ),
        (
            TaskSpec {
                pairs: Some(27),
                ..TaskSpec::new(TaskKind::Recall, 5)
            },
            "pairs",
        ),
        (
            TaskSpec {
                pairs: Some(0),
                ..TaskSpec::new(TaskKind::Recall, 5)
            },
            "pairs",
        ),
        (
            TaskSpec {
                solved: Some(1.5),
                ..TaskSpec::new(TaskKind::Copy, 5)
            },
            "solved",
        ),
        (
            TaskSpec {
                solved: Some(-0.1),
                ..TaskSpec::new(TaskKind::Adding, 5)
            },
            "solved",
        ),
        (TaskSpec::new(TaskKind::Copy, 0), "length"),
        (TaskSpec::new(TaskKind::Adding, 1), "length"),
    ];
    for (spec, field) in cases {
        let err = Task::new(spec.clone()).expect_err(&format!("{spec:?} should be rejected"));
        assert!(err.is_input_error());
        assert!(
            err.to_string().starts_with(&format!("invalid {field}:")),
            "{spec:?}: {err}"
        );
    }
    assert!("tanaka".parse::<TaskKind>().is_ok());
    assert!("Tanaka".parse::<TaskKind>().is_err());
}

#[test]
fn spec_defaults_are_filled_in_and_round_trip_through_ron() {
    let task = task(TaskKind::Tanaka, 4);
    assert_eq!(
        (task.spec().names, task.spec().distractor_names),
        (Some(8), Some(0.0))
    );
    assert_eq!(self::task(TaskKind::Recall, 4).spec().pairs, Some(4));
    let text = "(task: recall, length: 3, pairs: Some(6))";
    let spec: TaskSpec = ron::from_str(text).unwrap();
    assert_eq!(
        spec,
        TaskSpec {
            pairs: Some(6),
            ..TaskSpec::new(TaskKind::Recall, 3)
        }
    );
    let back: TaskSpec = ron::from_str(&ron::to_string(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
    assert!(ron::from_str::<TaskSpec>("(task: recall, length: 3, pears: Some(6))").is_err());
}

#[test]
fn builtin_tanaka_vocabulary_has_the_story_words() {
    let vocab = TanakaVocabulary::builtin().unwrap();
    assert!(vocab.names.len() >= 8 && vocab.fillers.len() >= 16);
    for (ja, en) in [("田中", "Tanaka"), ("鈴木", "Suzuki"), ("佐藤", "Sato")] {
        assert!(
            vocab.names.iter().any(|p| p.ja == ja && p.en == en),
            "{ja}/{en}"
        );
    }
    for ja in [
        "昨日",
        "赤い服を着て",
        "駅前のカフェで",
        "コーヒーを飲みながら",
        "本を読んでいたんだけど",
    ] {
        assert!(vocab.fillers.iter().any(|p| p.ja == ja), "{ja}");
    }
    assert_eq!(
        (vocab.query.ja.as_str(), vocab.query.en.as_str()),
        ("あいつ", "that guy")
    );
}

#[test]
fn tanaka_vocabulary_files_are_checked() {
    let too_few = "(names: [(ja: \"田中\", en: \"Tanaka\")], fillers: [], query: (ja: \"あいつ\", en: \"that guy\"), \
                   subject: (ja: \"{}さんが\", en: \"{}\"), distractor: (ja: \"{}さんと\", en: \"with {}\"), \
                   separator: (ja: \"、\", en: \", \"), ending: (ja: \"……\", en: \"…\"))";
    let err = TanakaVocabulary::parse(too_few, "few.ron")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("few.ron: 1 names and 0 fillers"), "{err}");
    let err = TanakaVocabulary::parse("(names: [", "cut.ron")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cut.ron: line 1"), "{err}");
}

#[test]
fn render_reads_like_the_issue_examples() {
    let task = tanaka_with(5, 8, 0.0);
    let vocab = task.input_vocabulary().unwrap();
    let words = [
        "田中",
        "昨日",
        "赤い服を着て",
        "駅前のカフェで",
        "コーヒーを飲みながら",
        "本を読んでいたんだけど",
        "あいつ",
    ];
    let seq = Sequence {
        inputs: SequenceInputs::Tokens(words.iter().map(|w| vocab.id(w).unwrap()).collect()),
        targets: SequenceTargets::Classes(vec![None, None, None, None, None, None, Some(0)]),
    };
    task.check_sequence(&seq).unwrap();
    assert_eq!(
        task.render(&seq, Lang::Ja),
        "田中さんが、昨日、赤い服を着て、駅前のカフェで、コーヒーを飲みながら、本を読んでいたんだけど、あいつ…… → 田中"
    );
    assert_eq!(
        task.render(&seq, Lang::En),
        "Tanaka, yesterday, wearing red clothes, at the café by the station, while drinking coffee, \
         was reading a book, but, that guy… → Tanaka"
    );
    let recall = Task::new(TaskSpec {
        pairs: Some(4),
        ..TaskSpec::new(TaskKind::Recall, 0)
    })
    .unwrap();
    let vocab = recall.input_vocabulary().unwrap();
    let seq = Sequence {
        inputs: SequenceInputs::Tokens(
            ["c", "9", "k", "8", "j", "3", "f", "1", "??", "c"]
                .iter()
                .map(|w| vocab.id(w).unwrap())
                .collect(),
        ),
        targets: SequenceTargets::Classes([vec![None; 9], vec![Some(9)]].concat()),
    };
    recall.check_sequence(&seq).unwrap();
    assert_eq!(recall.render(&seq, Lang::Ja), "c9k8j3f1??c → 9");
}
