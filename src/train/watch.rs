//! What `rnnlab train --watch` shows while a run trains (issue 21): loss and accuracy against
//! steps, the gradient profile by distance at the latest measurement, the signal at the source
//! over training, and the lit sentence (text tasks). [`WatchState`] gathers what a run reports
//! (it is fed by an observer); [`draw`] lays it out on any ratatui backend, so a test can draw
//! it into a fixed buffer. The terminal itself (raw mode, keys) is the CLI's.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Wrap};
use ratatui::Frame;

use super::trainer::{MetricRow, Progress};
use crate::analysis::gradient_report::GradientProbe;
use crate::analysis::history::HistoryPoint;
use crate::report::heatmap::scale_colour;
use crate::report::lit_sentence::{lit_row_from_profile, low_label, scale_range, LitRow};

/// Everything the live view draws, updated as the run reports.
#[derive(Debug, Clone, Default)]
pub struct WatchState {
    /// The run, e.g. `tanaka lstm L20 s0`.
    pub title: String,
    pub total_steps: usize,
    pub step: usize,
    /// (step, train loss) and (step, eval loss), (step, eval accuracy).
    pub train_loss: Vec<(f64, f64)>,
    pub eval_loss: Vec<(f64, f64)>,
    pub eval_accuracy: Vec<(f64, f64)>,
    /// The latest gradient profile of layer 0: mean ‖∂ℓ/∂h_t‖ by distance, and its step.
    pub profile: Vec<f64>,
    pub profile_step: usize,
    /// (step, geometric mean of the signal at the source), layer 0.
    pub source_signal: Vec<(f64, f64)>,
    /// The first probe sequence's step texts (text tasks only).
    pub texts: Option<Vec<String>>,
    /// Latest train loss, eval accuracy and clip rate (from progress).
    pub last: Option<Progress>,
}

impl WatchState {
    pub fn new(title: impl Into<String>, total_steps: usize, texts: Option<Vec<String>>) -> Self {
        WatchState {
            title: title.into(),
            total_steps,
            texts,
            ..WatchState::default()
        }
    }

    pub fn on_metric(&mut self, row: &MetricRow) {
        let s = row.step as f64;
        self.step = row.step;
        if let Some(l) = row.train_loss.filter(|l| l.is_finite()) {
            self.train_loss.push((s, l));
        }
        if let Some(l) = row.eval_loss.filter(|l| l.is_finite()) {
            self.eval_loss.push((s, l));
        }
        if let Some(a) = row.eval_accuracy {
            self.eval_accuracy.push((s, a));
        }
    }

    fn profile_from(&mut self, step: usize, by_distance: Vec<f64>, signal: Option<f64>) {
        if step >= self.profile_step || self.profile.is_empty() {
            self.profile = by_distance;
            self.profile_step = step;
        }
        if let Some(g) = signal {
            let s = step as f64;
            if self.source_signal.last().is_none_or(|p| p.0 < s) {
                self.source_signal.push((s, g));
            }
        }
    }

    pub fn on_probe(&mut self, probe: &GradientProbe) {
        let mut rows: Vec<(usize, f64)> = probe
            .rows
            .iter()
            .filter(|r| r.layer == 0)
            .map(|r| (r.distance, r.grad_h))
            .collect();
        rows.sort_by_key(|r| r.0);
        let signal = probe
            .source_signal
            .iter()
            .find(|s| s.layer == 0)
            .and_then(|s| s.geometric_mean);
        self.profile_from(probe.step, rows.into_iter().map(|r| r.1).collect(), signal);
    }

    pub fn on_history(&mut self, point: &HistoryPoint) {
        let signal = point
            .source_signal
            .iter()
            .find(|s| s.layer == 0)
            .and_then(|s| s.geometric_mean);
        if let Some(profile) = point.grad_h.first() {
            self.profile_from(point.step, profile.clone(), signal);
        }
    }

    pub fn on_progress(&mut self, progress: &Progress) {
        self.step = progress.step;
        self.last = Some(progress.clone());
    }

    /// The lit sentence of the latest profile.
    pub fn lit(&self) -> Option<LitRow> {
        let texts = self.texts.as_ref()?;
        (!self.profile.is_empty()).then(|| {
            lit_row_from_profile(
                format!("step {}", self.profile_step),
                texts,
                &self.profile,
                self.profile_step,
                0,
            )
        })
    }
}

fn hex(colour: &str) -> Color {
    let c = |i: usize| u8::from_str_radix(&colour[i..i + 2], 16).unwrap_or(0);
    Color::Rgb(c(1), c(3), c(5))
}

/// `lo..hi` over the values, widened when flat.
fn bounds(points: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64) -> [f64; 2] {
    let (lo, hi) = points
        .iter()
        .map(pick)
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        [0.0, 1.0]
    } else if hi > lo {
        [lo, hi]
    } else {
        [lo - 0.5, hi + 0.5]
    }
}

fn label(v: f64) -> Span<'static> {
    Span::raw(crate::report::format_number(v))
}

/// A chart's curve: its name, colour and (x, y) points.
type Curve<'a> = (&'a str, Color, &'a [(f64, f64)]);

fn chart<'a>(
    title: &'a str,
    x_title: &'a str,
    series: Vec<Curve<'a>>,
    y: Option<[f64; 2]>,
    y_labels: Vec<Span<'a>>,
) -> Chart<'a> {
    let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.2.iter().copied()).collect();
    let x = bounds(&all, |p| p.0);
    let y = y.unwrap_or_else(|| bounds(&all, |p| p.1));
    let y_labels = if y_labels.is_empty() {
        vec![label(y[0]), label(y[1])]
    } else {
        y_labels
    };
    let datasets = series
        .into_iter()
        .map(|(name, colour, data)| {
            Dataset::default()
                .name(name)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(colour))
                .data(data)
        })
        .collect();
    Chart::new(datasets)
        .block(Block::default().borders(Borders::ALL).title(title))
        .x_axis(
            Axis::default()
                .title(x_title)
                .bounds(x)
                .labels(vec![label(x[0]), label(x[1])]),
        )
        .y_axis(Axis::default().bounds(y).labels(y_labels))
}

/// Draws the live view of `state` into the whole frame.
pub fn draw(frame: &mut Frame, state: &WatchState) {
    let area = frame.area();
    let lit_height = if state.texts.is_some() { 5 } else { 0 };
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(6),
            Constraint::Min(6),
            Constraint::Length(lit_height),
        ])
        .split(area);
    let status = match &state.last {
        Some(p) => format!(
            "q: stop │ {}  step {}/{}  loss {:.4}  eval acc {}  clipped {:.0}%",
            state.title,
            p.step,
            p.total,
            p.train_loss,
            p.eval_accuracy
                .map_or("-".to_string(), |a| format!("{a:.3}")),
            100.0 * p.clip_rate
        ),
        None => format!(
            "q: stop │ {}  step {}/{}",
            state.title, state.step, state.total_steps
        ),
    };
    frame.render_widget(Paragraph::new(status), rows[0]);

    let top = halves(rows[1]);
    frame.render_widget(
        chart(
            "loss",
            "step",
            vec![
                ("train", Color::Cyan, &state.train_loss),
                ("eval", Color::Yellow, &state.eval_loss),
            ],
            None,
            vec![],
        ),
        top[0],
    );
    frame.render_widget(
        chart(
            "eval accuracy",
            "step",
            vec![("eval", Color::Green, &state.eval_accuracy)],
            Some([0.0, 1.0]),
            vec![label(0.0), label(1.0)],
        ),
        top[1],
    );

    let middle = halves(rows[2]);
    let profile: Vec<(f64, f64)> = state
        .profile
        .iter()
        .enumerate()
        .filter(|(_, g)| g.is_finite() && **g > 0.0)
        .map(|(d, g)| (d as f64, g.log10()))
        .collect();
    let profile_title = format!("log10 ‖∂ℓ/∂h_t‖ by distance (step {})", state.profile_step);
    frame.render_widget(
        chart(
            &profile_title,
            "distance",
            vec![("", Color::Magenta, &profile)],
            None,
            vec![],
        ),
        middle[0],
    );
    let signal: Vec<(f64, f64)> = state
        .source_signal
        .iter()
        .filter(|p| p.1.is_finite() && p.1 > 0.0)
        .map(|p| (p.0, p.1.log10()))
        .collect();
    frame.render_widget(
        chart(
            "log10 signal at the source",
            "step",
            vec![("", Color::LightRed, &signal)],
            None,
            vec![],
        ),
        middle[1],
    );

    if let Some(row) = state.lit() {
        let range = scale_range(std::slice::from_ref(&row));
        let spans: Vec<Span> = crate::report::lit_sentence::shown_pieces(&row)
            .iter()
            .map(|p| {
                let style = match p.log10_ratio {
                    Some(v) => {
                        let t = ((v - range.0) / (range.1 - range.0)).clamp(0.0, 1.0);
                        let ink = if t > 0.55 { Color::Black } else { Color::White };
                        Style::default().bg(hex(&scale_colour(t))).fg(ink)
                    }
                    None => Style::default(),
                };
                Span::styled(p.text.clone(), style)
            })
            .collect();
        let title = format!(
            "the sentence lit by the gradient (step {}, {} to 1 of the loss step's)",
            row.step,
            low_label(std::slice::from_ref(&row), range)
        );
        frame.render_widget(
            Paragraph::new(Line::from(spans))
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(title)),
            rows[3],
        );
    }
}

fn halves(area: Rect) -> std::rc::Rc<[Rect]> {
    Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
        .split(area)
}
