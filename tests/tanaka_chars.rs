//! Issue 21: tanaka character by character — the generator's distances, the vocabulary through a
//! dataset file, bad input, and the lit sentence's values against gradients.csv.

use std::path::Path;
use std::process::{Command, Output};

use rnnlab::tasks::{parse_dataset, write_dataset, Lang, Task, TaskKind, TaskSpec, Unit};

fn char_spec(length: usize, lang: Lang) -> TaskSpec {
    TaskSpec {
        unit: Some(Unit::Char),
        lang: Some(lang),
        ..TaskSpec::new(TaskKind::Tanaka, length)
    }
}

fn rnnlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8(out.to_vec()).unwrap()
}

/// A command that must fail with exit 2, one line on stderr, nothing on stdout.
fn input_error(args: &[&str]) -> String {
    let out = rnnlab(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The distance each sentence's text holds, found in the text alone: from the name's last
/// character (the subject is the target class's name, the first name in the sentence) to the
/// last character, and the characters between the name and the query.
fn distances_in_text(chars: &[String], name: &str, query: &str) -> (usize, usize) {
    let joined: Vec<char> = chars.iter().flat_map(|s| s.chars()).collect();
    assert_eq!(joined.len(), chars.len(), "one character per step");
    let find = |needle: &str, from_end: bool| -> usize {
        let n: Vec<char> = needle.chars().collect();
        let hits: Vec<usize> = (0..=joined.len() - n.len())
            .filter(|&i| joined[i..i + n.len()] == n[..])
            .collect();
        if from_end {
            *hits.last().unwrap()
        } else {
            hits[0]
        }
    };
    let name_end = find(name, false) + name.chars().count() - 1;
    let query_start = find(query, true);
    (joined.len() - 1 - name_end, query_start - name_end - 1)
}

#[test]
fn generated_distances_equal_the_recorded_ones_on_ten_thousand_sequences() {
    let mut checked = 0;
    for (lang, query, names) in [
        (
            Lang::Ja,
            "あいつ",
            [
                "田中", "鈴木", "佐藤", "高橋", "伊藤", "渡辺", "山本", "中村",
            ],
        ),
        (
            Lang::En,
            "that guy",
            [
                "Tanaka",
                "Suzuki",
                "Sato",
                "Takahashi",
                "Ito",
                "Watanabe",
                "Yamamoto",
                "Nakamura",
            ],
        ),
    ] {
        for (length, distractors) in [(9, 0.0), (37, 0.3), (101, 0.0), (400, 0.1)] {
            let spec = TaskSpec {
                distractor_names: Some(distractors),
                ..char_spec(length, lang)
            };
            let task = Task::new(spec).unwrap();
            let tail = query.chars().count() + if lang == Lang::Ja { 2 } else { 1 };
            for seq in task.generate(1250, length as u64) {
                task.check_sequence(&seq).unwrap();
                let chars = task.step_texts(&seq, lang).unwrap();
                assert_eq!(chars.len(), task.steps());
                let subject = seq.class_at(task.probe_step()).unwrap();
                let (distance, gap) = distances_in_text(&chars, names[subject], query);
                assert_eq!(gap, length, "{}", task.render(&seq, lang));
                let deps = task.dependencies(&seq);
                assert_eq!(deps.len(), 1);
                assert_eq!(deps[0].target_step, task.steps() - 1);
                assert_eq!(deps[0].distance(), distance);
                assert_eq!(distance, length + tail);
                assert_eq!(task.probe_distance(&seq), distance);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 10_000);
}

#[test]
fn the_gap_is_whole_clauses_and_less_than_a_clause_of_padding() {
    let task = Task::new(char_spec(200, Lang::Ja)).unwrap();
    for seq in task.generate(200, 1) {
        let sentence: String = task.step_texts(&seq, Lang::Ja).unwrap().concat();
        let pad = sentence.chars().filter(|&c| c == '…').count() - 2;
        // the shortest clause, "、昨日", is 3 characters
        assert!(pad < 3, "{sentence}");
        let gap = sentence.split_once("さんが").unwrap().1;
        let gap = gap.trim_end_matches("、あいつ……").trim_end_matches('…');
        for clause in gap.split('、').skip(1) {
            assert!(
                rnnlab::tasks::TanakaVocabulary::builtin()
                    .unwrap()
                    .fillers
                    .iter()
                    .any(|f| f.ja == clause),
                "{clause:?} in {sentence}"
            );
        }
    }
}

#[test]
fn the_vocabulary_is_sorted_the_same_every_time_and_round_trips_through_a_file() {
    let extra = "ωαβ\nω";
    let spec = TaskSpec {
        characters: Some(extra.to_string()),
        ..char_spec(30, Lang::En)
    };
    let task = Task::new(spec.clone()).unwrap();
    assert_eq!(task.spec().characters.as_deref(), Some("αβω"));
    let vocab = task.input_vocabulary().unwrap();
    let names: Vec<char> = vocab
        .names()
        .iter()
        .map(|n| n.chars().next().unwrap())
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted, no repeat");
    for c in ['田', 'T', '、', '…', ' ', 'α', 'ω'] {
        assert!(names.contains(&c), "{c}");
    }
    assert_eq!(Task::new(spec).unwrap().input_vocabulary(), Some(vocab));

    let sequences = task.generate(20, 4);
    let file = write_dataset(&task, &sequences).unwrap();
    let back = parse_dataset(&file, Path::new("chars.ron")).unwrap();
    assert_eq!(back.sequences, sequences);
    assert_eq!(back.task.input_vocabulary(), Some(vocab));
    assert_eq!(back.task.spec(), task.spec());

    // a user character in the gap reads back; one outside the vocabulary names file, line, char
    let edited = file.replacen("\"l\"", "\"ω\"", 1);
    assert!(parse_dataset(&edited, Path::new("chars.ron")).is_ok());
    let edited = file.replacen("\"l\"", "\"ж\"", 1);
    let err = parse_dataset(&edited, Path::new("chars.ron"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("chars.ron") && err.contains("(line ") && err.contains("\"ж\""),
        "{err}"
    );
    // a phrase in a character file: mixed units
    let edited = file.replacen("\"l\"", "\"last\"", 1);
    let err = parse_dataset(&edited, Path::new("chars.ron"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("mixed units"), "{err}");
}

#[test]
fn bad_input_is_one_line_exit_2_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.ron");
    let out = out.to_str().unwrap();
    let base = [
        "data", "generate", "--task", "tanaka", "--count", "2", "--out", out,
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut v: Vec<&str> = base.to_vec();
        v.extend(extra);
        v
    };
    let err = input_error(&with(&["--unit", "word", "--length", "20"]));
    assert!(err.contains("--unit") && err.contains("word"), "{err}");
    let err = input_error(&with(&["--unit", "char", "--lang", "fr", "--length", "20"]));
    assert!(err.contains("--lang") && err.contains("fr"), "{err}");
    let err = input_error(&with(&["--unit", "char", "--length", "6"]));
    assert!(err.contains("length") && err.contains("≥ 7"), "{err}");
    let err = input_error(&with(&["--unit", "char", "--lang", "en", "--length", "8"]));
    assert!(err.contains("≥ 9"), "{err}");
    let err = input_error(&with(&[
        "--length",
        "8",
        "--vocab-file",
        "/nonexistent/v.txt",
    ]));
    assert!(err.contains("/nonexistent/v.txt"), "{err}");
    // train takes the same options from the options table
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let err = input_error(&[
        "train", "--task", "tanaka", "--unit", "chars", "--length", "20", "--out", run_s,
    ]);
    assert!(err.contains("--unit") && err.contains("chars"), "{err}");
    let err = input_error(&[
        "train", "--task", "copy", "--unit", "char", "--length", "20", "--out", run_s,
    ]);
    assert!(err.contains("unit"), "{err}");
    assert!(!Path::new(out).exists() && !run.exists(), "nothing written");

    // a dataset file with a character outside the vocabulary, and one with mixed units
    let task = Task::new(char_spec(12, Lang::Ja)).unwrap();
    let good = write_dataset(&task, &task.generate(3, 0)).unwrap();
    let first = task.step_texts(&task.generate(1, 0)[0], Lang::Ja).unwrap()[0].clone();
    for (name, bad, says) in [
        ("unknown.ron", "\"☃\"", "U+2603"),
        ("mixed.ron", "\"田中\"", "mixed units"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, good.replacen(&format!("\"{first}\""), bad, 1)).unwrap();
        let file = file.to_str().unwrap();
        let err = input_error(&["data", "check", file]);
        assert!(
            err.contains(file) && err.contains("record 1 (line 6)") && err.contains(says),
            "{err}"
        );
        let err = input_error(&["train", "--data", file, "--out", run_s]);
        assert!(err.contains(says), "{err}");
    }
    assert!(!run.exists(), "nothing written");
}

#[test]
fn data_show_prints_the_sentences_as_text() {
    let out = rnnlab(&[
        "data", "show", "--task", "tanaka", "--unit", "char", "--length", "12", "--count", "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert_eq!(shown.lines().count(), 3);
    for line in shown.lines() {
        assert!(
            line.contains("さんが、") && line.contains("、あいつ…… → "),
            "{line}"
        );
    }
}

/// (layer, timestep) → grad_h of `step` in a gradients.csv.
fn gradients_csv(path: &Path, step: usize) -> std::collections::BTreeMap<(usize, usize), f64> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f[0].parse::<usize>().unwrap() == step).then(|| {
                (
                    (f[1].parse().unwrap(), f[2].parse().unwrap()),
                    f[4].parse().unwrap(),
                )
            })
        })
        .collect()
}

/// lit_sentence.csv's rows: (row, step, layer, timestep, text, grad_h, log10_ratio).
type LitLine = (usize, usize, usize, usize, String, f64, f64);
fn lit_csv(path: &Path) -> Vec<LitLine> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].parse().unwrap(),
                r[2].parse().unwrap(),
                r[3].parse().unwrap(),
                r[4].parse().unwrap(),
                r[6].to_string(),
                r[7].parse().unwrap(),
                r[8].parse().unwrap(),
            )
        })
        .collect()
}

/// The first probe sequence's sentence, as `data show` prints it from the saved probe batch.
fn first_probe_sentence(probe: &Path) -> String {
    let out = rnnlab(&[
        "data",
        "show",
        "--data",
        probe.to_str().unwrap(),
        "--count",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    line.split(" → ").next().unwrap().to_string()
}

#[test]
fn the_shading_is_gradients_csv_for_the_first_probe_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    let run = rnnlab(&[
        "gradients",
        "--task",
        "tanaka",
        "--unit",
        "char",
        "--length",
        "15",
        "--cell",
        "rnn",
        "--probe-size",
        "4",
        "--color",
        "never",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let printed = text(&run.stdout);
    assert!(printed.contains("at initialisation:"), "{printed}");
    let grads = gradients_csv(&out.join("gradients.csv"), 0);
    let lit = lit_csv(&out.join("lit_sentence.csv"));
    let steps = lit.len();
    assert_eq!(steps, grads.len(), "one shaded character per timestep");
    let probe_step = steps - 1;
    let at_loss = grads[&(0, probe_step)];
    for (row, step, layer, t, _, grad_h, log10_ratio) in &lit {
        assert_eq!((*row, *step, *layer), (0, 0, 0));
        assert_eq!(*grad_h, grads[&(0, *t)], "timestep {t}");
        assert_eq!(*log10_ratio, (grad_h / at_loss).log10(), "timestep {t}");
    }
    // the text shaded is the first probe sequence's, one character per step
    let sentence: String = lit.iter().map(|l| l.4.as_str()).collect();
    assert_eq!(
        sentence.trim_start(),
        first_probe_sentence(&out.join("probe.ron"))
    );
    // the SVG carries the same values, one rect per step
    let svg = std::fs::read_to_string(out.join("plots/lit_sentence.svg")).unwrap();
    let values: Vec<f64> = svg
        .split("data-grad-h=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<f64> = lit.iter().map(|l| l.5).collect();
    assert_eq!(values, expected);
    // the plain terminal version marks each step's decade below the loss step
    let marks: String = printed
        .lines()
        .skip_while(|l| !l.starts_with("at initialisation:"))
        .nth(2)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let expected: String = lit
        .iter()
        .map(|l| {
            if l.6 > 0.0 {
                '+'
            } else {
                char::from_digit((-l.6).floor().min(9.0) as u32, 10).unwrap()
            }
        })
        .collect();
    assert_eq!(marks, expected);
}

#[test]
fn a_run_lights_the_sentence_at_initialisation_and_after_training_in_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = rnnlab(&[
        "train",
        "--task",
        "tanaka",
        "--length",
        "5",
        "--lang",
        "en",
        "--steps",
        "30",
        "--hidden",
        "8",
        "--probe-size",
        "3",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let lit = lit_csv(&out.join("lit_sentence.csv"));
    let last_step = lit.last().unwrap().1;
    assert_eq!(last_step, 30);
    for (row, step) in [(0, 0), (1, last_step)] {
        let grads = gradients_csv(&out.join("gradients.csv"), step);
        let mine: Vec<&LitLine> = lit.iter().filter(|l| l.0 == row).collect();
        assert_eq!(mine.len(), 7, "one phrase per step");
        for l in mine {
            assert_eq!(l.1, step);
            assert_eq!(l.5, grads[&(0, l.3)], "row {row} timestep {}", l.3);
        }
    }
    // token tanaka in English: the phrases read as the sentence
    let sentence: String = lit
        .iter()
        .filter(|l| l.0 == 0)
        .map(|l| l.4.as_str())
        .collect();
    assert!(sentence.ends_with(", that guy…"), "{sentence}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("The sentence, lit by the gradient"));
    assert_eq!(
        html.matches("class=\"lit\"").count(),
        14,
        "the figure is inlined: 2 rows of 7 steps"
    );
}

/// Runs the binary in `cwd` (for the default directories, which are relative to it).
fn rnnlab_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

#[test]
fn a_character_run_and_a_token_run_of_one_cell_and_length_get_different_default_directories() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = ["--length", "9", "--cell", "rnn", "--hidden", "4", "--quiet"];
    let train = |extra: &[&str]| {
        let args: Vec<&str> = ["train", "--steps", "2", "--probe-size", "2"]
            .iter()
            .chain(&tiny)
            .chain(extra)
            .copied()
            .collect();
        let out = rnnlab_in(dir.path(), &args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    train(&[]);
    train(&["--unit", "char"]);
    train(&["--unit", "char", "--lang", "en"]);
    // a token run's language changes only how sentences are printed: the token directory, taken
    train(&["--unit", "token", "--lang", "en", "--force"]);
    let gradients: Vec<&str> = ["gradients", "--probe-size", "2", "--unit", "char"]
        .iter()
        .chain(&tiny)
        .copied()
        .collect();
    let out = rnnlab_in(dir.path(), &gradients);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "gradients-tanaka-char-rnn-L9-s0",
            "tanaka-char-en-rnn-L9-s0",
            "tanaka-char-rnn-L9-s0",
            "tanaka-rnn-L9-s0",
        ]
    );
    let config = |name: &str| {
        std::fs::read_to_string(dir.path().join("runs").join(name).join("config.ron")).unwrap()
    };
    assert!(config("tanaka-char-en-rnn-L9-s0").contains("lang: Some(en)"));
    assert!(config("tanaka-char-rnn-L9-s0").contains("unit: Some(char)"));
    assert!(!config("tanaka-rnn-L9-s0").contains("unit: Some(char)"));
}

#[test]
fn a_user_vocabulary_gets_its_own_default_directory_named_by_its_characters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "xyz\n").unwrap();
    std::fs::write(dir.path().join("a-again.txt"), "zyx\nxx").unwrap();
    std::fs::write(dir.path().join("b.txt"), "xyw").unwrap();
    let train = |extra: &[&str]| {
        let args: Vec<&str> = [
            "train",
            "--steps",
            "2",
            "--probe-size",
            "2",
            "--unit",
            "char",
        ]
        .iter()
        .chain(&["--length", "9", "--cell", "rnn", "--hidden", "4", "--quiet"])
        .chain(extra)
        .copied()
        .collect();
        rnnlab_in(dir.path(), &args)
    };
    for extra in [
        &[][..],
        &["--vocab-file", "a.txt"],
        &["--vocab-file", "b.txt"],
    ] {
        let out = train(extra);
        assert!(out.status.success(), "{extra:?}: {}", text(&out.stderr));
    }
    let names = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("runs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let listed = names();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed.contains(&"tanaka-char-rnn-L9-s0".to_string()),
        "{listed:?}"
    );
    let vocab: Vec<&String> = listed
        .iter()
        .filter(|n| n.starts_with("tanaka-char-vocab"))
        .collect();
    assert_eq!(vocab.len(), 2, "{listed:?}");
    for name in &vocab {
        assert!(name.ends_with("-rnn-L9-s0"), "{name}");
        let config = std::fs::read_to_string(dir.path().join("runs").join(name).join("config.ron"));
        assert!(config.unwrap().contains("characters"), "{name}");
    }
    // the same characters in another order and with repeats name the same directory: the run
    // there is kept (refused without --force), not replaced or doubled
    let out = train(&["--vocab-file", "a-again.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(names(), listed);
}

/// The lit figure's steps: (row, label of the row, timestep, grad_h as written, text).
fn lit_svg_steps(svg: &str) -> Vec<(usize, String, usize, String, String)> {
    let attr = |line: &str, name: &str| -> String {
        let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        line[start..].split('"').next().unwrap().to_string()
    };
    let lines: Vec<&str> = svg.lines().collect();
    let mut labels = Vec::new();
    let mut steps = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(r#"font-size="15""#) {
            labels.push(
                line.split('>')
                    .nth(1)
                    .unwrap()
                    .trim_end_matches("</text")
                    .to_string(),
            );
        }
        if line.contains(r#"class="lit""#) {
            let row: usize = attr(line, "data-row").parse().unwrap();
            assert_eq!(row + 1, labels.len(), "a row's steps follow its label");
            // the step's text is the next element
            let text = lines[i + 1]
                .split('>')
                .nth(1)
                .unwrap()
                .trim_end_matches("</text");
            steps.push((
                row,
                labels[row].clone(),
                attr(line, "data-timestep").parse().unwrap(),
                attr(line, "data-grad-h"),
                text.to_string(),
            ));
        }
    }
    steps
}

#[test]
fn a_sweep_of_cells_lights_one_sentence_with_a_row_per_cell_at_init_and_after_training() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let sweep = rnnlab(&[
        "sweep",
        "--cell",
        "rnn,gru",
        "--unit",
        "char",
        "--length",
        "9",
        "--seeds",
        "2",
        "--steps",
        "6",
        "--hidden",
        "4",
        "--eval-size",
        "8",
        "--probe-size",
        "2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(sweep.status.success(), "{}", text(&sweep.stderr));
    let svg = std::fs::read_to_string(out.join("plots/lit_sentence.svg")).unwrap();
    let steps = lit_svg_steps(&svg);
    let labels: Vec<&str> = {
        let mut l: Vec<&str> = steps.iter().map(|s| s.1.as_str()).collect();
        l.dedup();
        l
    };
    assert_eq!(labels.len(), 4, "{labels:?}");
    for (i, cell) in ["rnn", "gru"].iter().enumerate() {
        assert!(
            labels
                .iter()
                .any(|l| l.starts_with(&format!("{cell}, at initialisation"))),
            "{labels:?}"
        );
        assert!(
            labels[2 + i].contains("after training (step 6): not solved"),
            "{labels:?}"
        );
    }
    // every row reads the same sentence: seed 0's first probe sequence
    let sentence = |row: usize| -> String {
        steps
            .iter()
            .filter(|s| s.0 == row)
            .map(|s| s.4.as_str())
            .collect()
    };
    assert!(sentence(0).ends_with("あいつ……"), "{}", sentence(0));
    for row in 1..4 {
        assert_eq!(sentence(row), sentence(0));
    }
    // and each row's values are its run's lit_sentence.csv (seed 0; row 0 init, 1 trained)
    for (row, label) in labels.iter().enumerate() {
        let cell = label.split(',').next().unwrap();
        let csv = out.join(format!("runs/cell-{cell}_seed-0/lit_sentence.csv"));
        let mut reader = csv::Reader::from_path(&csv).unwrap();
        let own: Vec<(usize, String)> = reader
            .records()
            .map(|r| r.unwrap())
            .filter(|r| r[0] == *if row < 2 { "0" } else { "1" })
            .map(|r| (r[4].parse().unwrap(), r[7].to_string()))
            .collect();
        let drawn: Vec<(usize, String)> = steps
            .iter()
            .filter(|s| s.0 == row)
            .map(|s| (s.2, s.3.clone()))
            .collect();
        assert_eq!(drawn, own, "row {row} ({label}) against {}", csv.display());
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("### The sentence, lit by the gradient"));
    assert!(
        md.contains("(runs/cell-rnn_seed-0/lit_sentence.csv)"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(
        html.matches(r#"class="lit""#).count(),
        steps.len(),
        "inlined"
    );

    // a task without text has no such figure
    let adding = dir.path().join("adding");
    let sweep = rnnlab(&[
        "sweep",
        "--task",
        "adding",
        "--cell",
        "rnn,gru",
        "--length",
        "5",
        "--steps",
        "2",
        "--hidden",
        "4",
        "--eval-size",
        "8",
        "--probe-size",
        "2",
        "--quiet",
        "--out",
        adding.to_str().unwrap(),
    ]);
    assert!(sweep.status.success(), "{}", text(&sweep.stderr));
    assert!(!adding.join("plots/lit_sentence.svg").exists());
    let md = std::fs::read_to_string(adding.join("report.md")).unwrap();
    assert!(!md.contains("lit by the gradient"));
}
