//! `rnnlab train --watch`: the live view in the terminal (ratatui on crossterm). An observer that
//! forwards everything to the run directory, feeds [`WatchState`] and redraws at most every
//! [`REDRAW`]; `q`, Esc or Ctrl-C stops the run after the step in progress. The run directory then
//! holds every finished step, as a killed run's does (no summary or model: training did not end).

use std::io::Stdout;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use rnnlab::analysis::gradient_report::GradientProbe;
use rnnlab::analysis::history::HistoryPoint;
use rnnlab::train::run_dir::RunDir;
use rnnlab::train::trainer::{MetricRow, Progress, TrainObserver};
use rnnlab::train::watch::{draw, WatchState};

/// At most one redraw per this interval (and one at every probe and history point).
pub const REDRAW: Duration = Duration::from_millis(200);

/// The terminal in raw mode on the alternate screen, given back as it was when dropped.
pub struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    pub fn open() -> anyhow::Result<Screen> {
        enable_raw_mode()?;
        let mut stdout = std::io::stdout();
        if let Err(e) = crossterm::execute!(stdout, EnterAlternateScreen) {
            let _ = disable_raw_mode();
            return Err(e.into());
        }
        let mut terminal = Terminal::new(CrosstermBackend::new(stdout))?;
        terminal.hide_cursor()?;
        Ok(Screen { terminal })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = crossterm::execute!(self.terminal.backend_mut(), LeaveAlternateScreen);
        let _ = self.terminal.show_cursor();
    }
}

/// Why the user stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Key(&'static str),
}

pub struct WatchObserver<'a> {
    pub dir: &'a mut RunDir,
    pub state: WatchState,
    pub screen: Screen,
    pub stopped: Option<Stop>,
    last_draw: Option<Instant>,
}

impl<'a> WatchObserver<'a> {
    pub fn new(dir: &'a mut RunDir, state: WatchState, screen: Screen) -> Self {
        WatchObserver {
            dir,
            state,
            screen,
            stopped: None,
            last_draw: None,
        }
    }

    fn redraw(&mut self, now: bool) {
        if !now && self.last_draw.is_some_and(|t| t.elapsed() < REDRAW) {
            return;
        }
        let state = &self.state;
        // a drawing error (a closed terminal) must not lose the run: training goes on
        let _ = self.screen.terminal.draw(|f| draw(f, state));
        self.last_draw = Some(Instant::now());
    }

    /// Reads the keys pressed since the last call, without waiting.
    fn poll_keys(&mut self) {
        while let Ok(true) = event::poll(Duration::ZERO) {
            match event::read() {
                Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                    let ctrl_c =
                        k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                    if ctrl_c {
                        self.stopped = Some(Stop::Key("Ctrl-C"));
                    } else if matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                        self.stopped = Some(Stop::Key("q"));
                    }
                }
                Ok(Event::Resize(..)) => self.redraw(true),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    fn check_stop(&self) -> rnnlab::Result<()> {
        match self.stopped {
            // ends `train` here; the CLI tells this apart from a failure by `stopped`
            Some(Stop::Key(key)) => {
                Err(rnnlab::Error::invalid("watch", format!("stopped by {key}")))
            }
            None => Ok(()),
        }
    }
}

impl TrainObserver for WatchObserver<'_> {
    fn on_metric(&mut self, row: &MetricRow) -> rnnlab::Result<()> {
        self.dir.on_metric(row)?;
        self.state.on_metric(row);
        self.poll_keys();
        self.redraw(false);
        self.check_stop()
    }
    fn on_probe(&mut self, probe: &GradientProbe) -> rnnlab::Result<()> {
        self.dir.on_probe(probe)?;
        self.state.on_probe(probe);
        self.redraw(true);
        self.check_stop()
    }
    fn on_history(&mut self, point: &HistoryPoint) -> rnnlab::Result<()> {
        self.dir.on_history(point)?;
        self.state.on_history(point);
        self.redraw(true);
        self.check_stop()
    }
    fn on_progress(&mut self, progress: &Progress) {
        self.state.on_progress(progress);
    }
}
