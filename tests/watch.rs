//! `rnnlab train --watch` (issue 21): the screen drawn into ratatui's test backend against a fixed
//! buffer, the bad-input and non-terminal cases, and (when tmux is installed) one run inside tmux
//! stopped with `q`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;
use rnnlab::train::trainer::{MetricRow, Progress};
use rnnlab::train::watch::{draw, WatchState};

fn rnnlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn state() -> WatchState {
    let texts: Vec<String> = "田中さんが、昨日、あいつ……"
        .chars()
        .map(String::from)
        .collect();
    let mut s = WatchState::new("tanaka char (ja) lstm L7 s0", 100, Some(texts));
    for step in 0..=4usize {
        s.on_metric(&MetricRow {
            step: step * 25,
            train_loss: (step > 0).then(|| 2.0 / step as f64),
            eval_loss: Some(2.1 - 0.5 * step as f64),
            eval_accuracy: Some(0.125 + 0.2 * step as f64),
            grad_norm: None,
            clipped: None,
        });
    }
    s.on_progress(&Progress {
        step: 100,
        total: 100,
        train_loss: 0.5,
        eval_accuracy: Some(0.925),
        clip_rate: 0.0,
    });
    // 14 steps, distance d at 10^(−d/2)
    s.profile = (0..14).map(|d| 10f64.powf(-(d as f64) / 2.0)).collect();
    s.profile_step = 100;
    s.source_signal = vec![(0.0, 1e-6), (50.0, 1e-4), (100.0, 1e-3)];
    s
}

fn screen_lines(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            let mut line = String::new();
            let mut x = 0;
            while x < area.width {
                let symbol = buffer[(x, y)].symbol();
                line.push_str(symbol);
                // a wide character covers the next cell
                x += if symbol.chars().any(|c| u32::from(c) >= 0x2E80) {
                    2
                } else {
                    1
                };
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// The screen of [`state`] on 80 × 24, as drawn by this build (checked by eye when written:
/// status line, the two charts of each row, the lit sentence in its box).
const EXPECTED: &[&str] = &[
    "q: stop │ tanaka char (ja) lstm L7 s0  step 100/100  loss 0.5000  eval acc 0.925",
    "┌loss──────────────────────────────────┐┌eval accuracy─────────────────────────┐",
    "│2.1│⠉⠑⠒⠢⠤⢄⣀⡀⠑⠢⢄                       ││1│                              ⣀⣀⡠⠤⠔⠒│",
    "│   │       ⠈⠉⠒⠒⠤⢄⣀⡀                   ││ │                     ⣀⣀⡠⠤⠔⠒⠒⠉⠉      │",
    "│   │              ⠉⠉⠒⠢⠤⢄⣀             ││ │          ⢀⣀⣀⡠⠤⠤⠔⠒⠒⠉⠉               │",
    "│   │                     ⠉⠑⠒⠢⠤⣀⣀⠤⠤⠤⢄⣀⣀││ │ ⢀⣀⡠⠤⠔⠒⠊⠉⠉⠁                         │",
    "│0.1│                            ⠉⠑step││0│⠉⠁                              step│",
    "│   └──────────────────────────────────││ └────────────────────────────────────│",
    "│   0                               100││ 0                                 100│",
    "└──────────────────────────────────────┘└──────────────────────────────────────┘",
    "┌log10 ‖∂ℓ/∂h_t‖ by distance (step 100)┐┌log10 signal at the source────────────┐",
    "│0   │⠉⠑⠒⠒⠤⠤⣀                          ││-3│                        ⢀⣀⣀⡠⠤⠤⠔⠒⠒⠊⠉│",
    "│    │       ⠉⠉⠒⠒⠤⣀⣀                   ││  │               ⢀⡠⠤⠔⠒⠒⠊⠉⠉⠁          │",
    "│    │              ⠉⠉⠒⠤⠤⣀⣀            ││  │          ⣀⡠⠔⠒⠉⠁                   │",
    "│    │                     ⠉⠒⠒⠤⠤⣀      ││  │     ⣀⠤⠔⠒⠉                         │",
    "│-6.5│                         distance││-6│⣀⠤⠒⠊⠉                          step│",
    "│    └─────────────────────────────────││  └───────────────────────────────────│",
    "│    0                               13││  0                                100│",
    "└──────────────────────────────────────┘└──────────────────────────────────────┘",
    "┌the sentence lit by the gradient (step 100, 1e-7 to 1 of the loss step's)─────┐",
    "│田中さんが、昨日、あいつ……                                                    │",
    "│                                                                              │",
    "│                                                                              │",
    "└──────────────────────────────────────────────────────────────────────────────┘",
];

#[test]
fn the_watch_screen_matches_the_fixed_buffer() {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let s = state();
    terminal.draw(|f| draw(f, &s)).unwrap();
    let lines = screen_lines(&terminal);
    if lines != EXPECTED {
        for l in &lines {
            eprintln!("    {l:?},");
        }
    }
    assert_eq!(lines, EXPECTED);
    // the lit sentence's first character (distance 13, 10^-6.5 of the loss step's) sits 0.5/7 up
    // the scale from 1e-7, the last (the loss step itself) at its bright end
    let buffer = terminal.backend().buffer();
    let find = |text: &str| {
        let area = buffer.area;
        (0..area.height)
            .flat_map(|y| (0..area.width).map(move |x| (x, y)))
            .find(|&(x, y)| buffer[(x, y)].symbol() == text)
            .unwrap()
    };
    let colour = |t: f64| {
        let hex = rnnlab::report::heatmap::scale_colour(t);
        let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
        Color::Rgb(c(1), c(3), c(5))
    };
    assert_eq!(buffer[find("田")].bg, colour(0.5 / 7.0));
    assert_eq!(buffer[find("昨")].bg, colour(0.5 / 7.0 + 3.0 / 7.0));
    let last = (0..buffer.area.width)
        .map(|x| (x, find("田").1))
        .rfind(|&p| buffer[p].symbol() == "…")
        .unwrap();
    assert_eq!(buffer[last].bg, colour(1.0));
}

#[test]
fn watch_with_quiet_is_refused_and_without_a_terminal_it_prints_plain_progress() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_s = out.to_str().unwrap();
    let run = rnnlab(&[
        "train", "--watch", "--quiet", "--steps", "5", "--out", out_s,
    ]);
    let err = String::from_utf8(run.stderr).unwrap();
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--watch") && err.contains("--quiet"), "{err}");
    assert!(!out.exists(), "nothing written");
    // stdout is a pipe here: the ordinary run, its summary on stdout
    let run = rnnlab(&[
        "train", "--watch", "--steps", "5", "--hidden", "4", "--length", "3", "--out", out_s,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!String::from_utf8(run.stdout).unwrap().contains("\x1b["));
    assert!(out.join("summary.ron").is_file());
}

fn tmux(socket: &str, args: &[&str]) -> Output {
    Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .expect("tmux runs")
}

/// Waits (up to a minute: the machine may be busy) until the pane shows `text`.
fn wait_for(socket: &str, text: &str) -> String {
    let start = Instant::now();
    loop {
        let pane = String::from_utf8(tmux(socket, &["capture-pane", "-p", "-t", "w"]).stdout)
            .unwrap_or_default();
        if pane.contains(text) || start.elapsed() > Duration::from_secs(60) {
            return pane;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs only where tmux is installed (`apt-get install tmux`); elsewhere it says so and passes.
#[test]
fn a_watched_run_inside_tmux_draws_and_stops_on_q() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux is not installed: the end-to-end watch test did not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let socket = format!("rnnlab-watch-test-{}", std::process::id());
    let command = format!(
        "{} train --watch --task tanaka --unit char --length 12 --hidden 8 --steps 1000000 --no-early-stop --history-every 10 --out {}; echo EXIT=$?; sleep 30",
        env!("CARGO_BIN_EXE_rnnlab"),
        out.display()
    );
    let started = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "w",
            "-x",
            "110",
            "-y",
            "36",
            &command,
        ],
    );
    assert!(started.status.success(), "{:?}", started);
    let pane = wait_for(&socket, "q: stop");
    let drawn = pane.contains("q: stop")
        && pane.contains("eval accuracy")
        && pane.contains("signal at the source")
        && pane.contains("the sentence lit by the gradient")
        && pane.contains("さんが");
    tmux(&socket, &["send-keys", "-t", "w", "q"]);
    let after = wait_for(&socket, "EXIT=");
    tmux(&socket, &["kill-server"]);
    assert!(drawn, "{pane}");
    assert!(after.contains("EXIT=0"), "{after}");
    assert!(after.contains("stopped by q at step"), "{after}");
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(metrics.lines().count() >= 2, "{metrics}");
    assert!(!Path::new(&out.join("summary.ron")).exists());
}
