//! The sentence lit by the gradient (issue 21): one probe sequence's text, each step's character
//! or phrase shaded by log10 of the gradient reaching it relative to the loss step,
//! `log10(grad_h(t) / grad_h(p))` with `grad_h` the value `gradients.csv` holds for that probe,
//! layer and timestep (the probe batch's mean ‖∂ℓ_b/∂h_t‖₂) and p the probe step.
//!
//! The probe sequences of a text task share one layout (tanaka: the name at the start, the query
//! at the end, char-level: the name's end at the same step), so timestep t sits at the same place
//! in each sentence; the text shown is the first probe sequence's.
//!
//! Three forms of the same values: an SVG (hand-written like the heatmaps, one
//! `<rect class="lit">` per step with the value in `data-grad-h` and `data-log10-ratio`),
//! `lit_sentence.csv`, and a terminal version with ANSI 24-bit background colours (or, without
//! colour, a digit per step: how many decades below the loss step it lies).

use std::fmt::Write as _;
use std::path::Path;

use super::heatmap::scale_colour;
use super::html::escape;
use crate::analysis::gradient_report::GradientProbe;
use crate::error::{Error, Result};
use crate::tasks::{Sequence, Task};

/// Fonts that render Japanese, in order: Noto CJK (Debian `fonts-noto-cjk`, what headless
/// Chromium finds on Linux), the macOS and Windows Japanese fonts, then generic fallbacks.
pub const FONT_FAMILY: &str = "'Noto Sans CJK JP', 'Noto Sans JP', 'Source Han Sans JP', 'Hiragino Sans', 'Hiragino Kaku Gothic ProN', 'Yu Gothic', 'Meiryo', 'Droid Sans Fallback', 'DejaVu Sans', sans-serif";

/// The file names a text task's report writes.
pub const LIT_SVG: &str = "lit_sentence.svg";
pub const LIT_CSV: &str = "lit_sentence.csv";
pub const LIT_CSV_HEADER: &str = "row,label,step,layer,timestep,distance,text,grad_h,log10_ratio";

/// One step of a lit sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct LitPiece {
    pub timestep: usize,
    /// p − t (None after the probe step, where no gradient of the probe's loss arrives).
    pub distance: Option<usize>,
    pub text: String,
    /// gradients.csv's grad_h at this timestep (None after the probe step).
    pub grad_h: Option<f64>,
    /// log10(grad_h / grad_h at the probe step); None when either is not positive and finite.
    pub log10_ratio: Option<f64>,
}

/// One sentence: a label (`initialisation`, `step 3000`, a cell name) and its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct LitRow {
    pub label: String,
    /// The training step of the probe it was measured at.
    pub step: usize,
    pub layer: usize,
    pub pieces: Vec<LitPiece>,
}

/// The row of `probe`'s `layer` over the step texts of one sequence (`texts[t]` is step t's).
pub fn lit_row(
    label: impl Into<String>,
    texts: &[String],
    probe: &GradientProbe,
    layer: usize,
    probe_step: usize,
) -> Result<LitRow> {
    let mut by_distance = vec![f64::NAN; probe_step + 1];
    for r in probe.rows.iter().filter(|r| r.layer == layer) {
        if r.timestep <= probe_step {
            by_distance[probe_step - r.timestep] = r.grad_h;
        }
    }
    if probe
        .rows
        .iter()
        .all(|r| r.layer != layer || r.timestep != probe_step)
    {
        return Err(Error::invalid(
            "lit sentence",
            format!("the probe has no layer {layer} value at step {probe_step}"),
        ));
    }
    Ok(lit_row_from_profile(
        label,
        texts,
        &by_distance,
        probe.step,
        layer,
    ))
}

/// The row of a gradient profile `by_distance[d]` = grad_h at distance d from the probe step
/// (`by_distance.len() − 1`), as a learning-over-time point holds it.
pub fn lit_row_from_profile(
    label: impl Into<String>,
    texts: &[String],
    by_distance: &[f64],
    step: usize,
    layer: usize,
) -> LitRow {
    let probe_step = by_distance.len().saturating_sub(1);
    let at_loss = by_distance.first().copied().unwrap_or(f64::NAN);
    let pieces = texts
        .iter()
        .enumerate()
        .map(|(t, text)| {
            let grad_h = (t <= probe_step).then(|| by_distance[probe_step - t]);
            let log10_ratio = grad_h.and_then(|g| {
                let r = g / at_loss;
                (r.is_finite() && r > 0.0).then(|| r.log10())
            });
            LitPiece {
                timestep: t,
                distance: (t <= probe_step).then(|| probe_step - t),
                text: text.clone(),
                grad_h,
                log10_ratio,
            }
        })
        .collect();
    LitRow {
        label: label.into(),
        step,
        layer,
        pieces,
    }
}

/// The rows of a text task (None for the others): `sequence`'s text lit by each labelled probe's
/// `layer` (a run: at initialisation and after training).
pub fn lit_rows(
    task: &Task,
    sequence: &Sequence,
    probes: &[(String, &GradientProbe)],
    layer: usize,
) -> Result<Option<Vec<LitRow>>> {
    let Some(texts) = task.step_texts(sequence, task.lang()) else {
        return Ok(None);
    };
    let rows = probes
        .iter()
        .map(|(label, probe)| lit_row(label.clone(), &texts, probe, layer, task.probe_step()))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(rows))
}

/// The bottom of the colour scale in log10: a step whose gradient is 10^-16 or less of the loss
/// step's gets the darkest colour. A term that small is below f64's rounding (ε ≈ 2.2e-16) of
/// any sum the loss step's term is in, so it cannot change the weight gradient; without the
/// floor a trained tanh RNN's 10^-150 would squeeze every other row into the bright end.
pub const SCALE_FLOOR: f64 = -16.0;

/// The colour scale's range in log10 over every row (shared, so rows compare): whole decades
/// from the smallest value (at least [`SCALE_FLOOR`]) to max(0, the largest).
pub fn scale_range(rows: &[LitRow]) -> (f64, f64) {
    let logs = rows
        .iter()
        .flat_map(|r| &r.pieces)
        .filter_map(|p| p.log10_ratio);
    let (lo, hi) = logs.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (lo.floor().max(SCALE_FLOOR), hi.ceil());
    if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi)
    }
}

/// The label of the scale's bottom: `1e-7`, or `≤1e-16` when some value lies below the floor.
pub fn low_label(rows: &[LitRow], (lo, _): (f64, f64)) -> String {
    let below = rows
        .iter()
        .flat_map(|r| &r.pieces)
        .filter_map(|p| p.log10_ratio)
        .any(|v| v < lo);
    if below {
        format!("≤1e{lo}")
    } else {
        format!("1e{lo}")
    }
}

/// Position of a log10 value on the scale, 0 (darkest) to 1.
fn scale_position(v: f64, (lo, hi): (f64, f64)) -> f64 {
    ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
}

fn rgb(hex: &str) -> (u8, u8, u8) {
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    (channel(1), channel(3), channel(5))
}

/// Dark text on the bright end of the scale, white on the dark end.
fn text_colour(t: f64) -> &'static str {
    if t > 0.55 {
        "#000000"
    } else {
        "#ffffff"
    }
}

const MISSING: &str = "#dddddd";

/// Whether a character takes a full em (CJK, kana, full-width punctuation) rather than about half.
fn is_wide(c: char) -> bool {
    matches!(u32::from(c), 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6)
}

/// Width of a text in ems.
fn text_ems(text: &str) -> f64 {
    text.chars()
        .map(|c| if is_wide(c) { 1.0 } else { 0.6 })
        .sum()
}

/// Columns a text takes in a terminal.
fn text_columns(text: &str) -> usize {
    text.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

/// A picture shows at most this many steps of a sentence: the first and last half of it, with
/// one piece between them that says how many steps were left out (the CSV keeps every step).
pub const SHOWN_STEPS: usize = 400;

/// The pieces of `row` a picture draws: all of them, or for a longer sentence the first and the
/// last [`SHOWN_STEPS`]` / 2` with a piece `… 99,600 steps left out …` (no value) between them.
pub fn shown_pieces(row: &LitRow) -> Vec<std::borrow::Cow<'_, LitPiece>> {
    use std::borrow::Cow;
    let n = row.pieces.len();
    if n <= SHOWN_STEPS {
        return row.pieces.iter().map(Cow::Borrowed).collect();
    }
    let half = SHOWN_STEPS / 2;
    let left_out = n - 2 * half;
    let mut shown: Vec<Cow<'_, LitPiece>> = row.pieces[..half].iter().map(Cow::Borrowed).collect();
    shown.push(Cow::Owned(LitPiece {
        timestep: half,
        distance: None,
        text: format!(" … {left_out} steps left out … "),
        grad_h: None,
        log10_ratio: None,
    }));
    shown.extend(row.pieces[n - half..].iter().map(Cow::Borrowed));
    shown
}

/// The figure as SVG text: a title, per row its label and the shaded text (wrapped), and a colour
/// bar with decade ticks. Same rows, byte-identical text.
pub fn render_lit_svg(title: &str, rows: &[LitRow]) -> String {
    const FONT: f64 = 20.0;
    const WIDTH: f64 = 1000.0;
    const MARGIN: f64 = 20.0;
    const LINE: f64 = 30.0;
    let range = scale_range(rows);
    let mut body = String::new();
    let mut y = 50.0;
    for (r, row) in rows.iter().enumerate() {
        let _ = writeln!(
            body,
            r##"<text x="{MARGIN}" y="{:.1}" font-size="15" fill="#333333">{}</text>"##,
            y,
            escape(&row.label)
        );
        y += 10.0;
        let mut x = MARGIN;
        for piece in shown_pieces(row).iter() {
            let w = (text_ems(&piece.text) * FONT).max(FONT * 0.4);
            if x + w > WIDTH - MARGIN && x > MARGIN {
                x = MARGIN;
                y += LINE + 4.0;
            }
            let (fill, ink) = match piece.log10_ratio {
                Some(v) => {
                    let t = scale_position(v, range);
                    (scale_colour(t), text_colour(t))
                }
                None => (MISSING.to_string(), "#000000"),
            };
            let value = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:e}"));
            let _ = writeln!(
                body,
                r##"<rect class="lit" data-row="{r}" data-timestep="{}" data-grad-h="{}" data-log10-ratio="{}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{LINE}" fill="{fill}"><title>step {}, distance {}: {}</title></rect>"##,
                piece.timestep,
                value(piece.grad_h),
                value(piece.log10_ratio),
                piece.timestep,
                piece.distance.map_or("–".to_string(), |d| d.to_string()),
                piece
                    .log10_ratio
                    .map_or("no gradient".to_string(), |v| format!(
                        "10^{v:.2} of the loss step's"
                    )),
            );
            let fit = if piece.text.chars().count() > 1 {
                format!(
                    r##" textLength="{:.1}" lengthAdjust="spacingAndGlyphs""##,
                    w - 2.0
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                body,
                r##"<text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle" fill="{ink}"{fit}>{}</text>"##,
                x + w / 2.0,
                y + LINE - 8.0,
                escape(&piece.text)
            );
            x += w;
        }
        y += LINE + 34.0;
    }
    // the colour bar
    let (lo, hi) = range;
    let bar_w = 400.0;
    let _ = writeln!(
        body,
        r##"<text x="{MARGIN}" y="{:.1}" font-size="14" fill="#333333">log10 ‖∂ℓ/∂h_t‖ relative to the loss step (layer {}, mean over the probe batch; grey: after the loss)</text>"##,
        y,
        rows.first().map_or(0, |r| r.layer)
    );
    y += 8.0;
    let stops = 40;
    for i in 0..stops {
        let t = i as f64 / (stops - 1) as f64;
        let _ = writeln!(
            body,
            r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="14" fill="{}"/>"##,
            MARGIN + bar_w * i as f64 / stops as f64,
            bar_w / stops as f64 + 0.5,
            scale_colour(t)
        );
    }
    let every = (((hi - lo).round() as i64 + 6) / 7).max(1);
    // the bottom, then the multiples of `every` (the loss step's own value, 1, among them) not
    // crowding it
    let ticks = std::iter::once(lo).chain(
        (lo.round() as i64..=hi.round() as i64)
            .filter(|v| v.rem_euclid(every) == 0 && *v as f64 - lo >= every as f64)
            .map(|v| v as f64),
    );
    for v in ticks {
        let x = MARGIN + bar_w * (v - lo) / (hi - lo);
        // the bottom's label starts at the bar's left end, inside the margin
        let anchor = if v == lo { "start" } else { "middle" };
        let _ = writeln!(
            body,
            r##"<text x="{x:.1}" y="{:.1}" font-size="12" text-anchor="{anchor}" fill="#333333">{}</text>"##,
            y + 28.0,
            if v == 0.0 {
                "1".to_string()
            } else if v == lo {
                escape(&low_label(rows, range))
            } else {
                format!("1e{v}")
            }
        );
    }
    let height = y + 40.0;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="{}">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{MARGIN}" y="26" font-size="17" font-weight="bold" fill="#111111">{}</text>
{body}</svg>
"##,
        FONT_FAMILY,
        escape(title)
    )
}

/// `lit_sentence.csv`: one line per row and step, floats in shortest round-trip form.
pub fn lit_csv(rows: &[LitRow]) -> String {
    let mut out = format!("{LIT_CSV_HEADER}\n");
    let field = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let value = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:e}"));
    for (r, row) in rows.iter().enumerate() {
        for p in &row.pieces {
            let _ = writeln!(
                out,
                "{r},{},{},{},{},{},{},{},{}",
                field(&row.label),
                row.step,
                row.layer,
                p.timestep,
                p.distance.map_or(String::new(), |d| d.to_string()),
                field(&p.text),
                value(p.grad_h),
                value(p.log10_ratio)
            );
        }
    }
    out
}

/// The rows of a `lit_sentence.csv` as [`lit_csv`] wrote them (the same values, bit for bit: the
/// floats are in shortest round-trip form). Errors name the file and the line.
pub fn read_lit_csv(path: &Path) -> Result<Vec<LitRow>> {
    let bad = |line: u64, message: String| Error::bad_file(path, format!("line {line}: {message}"));
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| Error::bad_file(path, e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| Error::bad_file(path, e.to_string()))?
        .iter()
        .collect::<Vec<_>>()
        .join(",");
    if header != LIT_CSV_HEADER {
        return Err(bad(1, format!("the header is not {LIT_CSV_HEADER}")));
    }
    let mut rows: Vec<LitRow> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::bad_file(path, e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let int = |i: usize| -> Result<usize> {
            record[i]
                .parse()
                .map_err(|_| bad(line, format!("{:?} is not a whole number", &record[i])))
        };
        let float = |i: usize| -> Result<Option<f64>> {
            if record[i].is_empty() {
                return Ok(None);
            }
            record[i]
                .parse()
                .map(Some)
                .map_err(|_| bad(line, format!("{:?} is not a number", &record[i])))
        };
        let index = int(0)?;
        let distance = if record[5].is_empty() {
            None
        } else {
            Some(int(5)?)
        };
        let piece = LitPiece {
            timestep: int(4)?,
            distance,
            text: record[6].to_string(),
            grad_h: float(7)?,
            log10_ratio: float(8)?,
        };
        if index == rows.len() {
            rows.push(LitRow {
                label: record[1].to_string(),
                step: int(2)?,
                layer: int(3)?,
                pieces: Vec::new(),
            });
        } else if index + 1 != rows.len() {
            return Err(bad(line, format!("row {index} out of order")));
        }
        let row = rows.last_mut().expect("pushed above");
        if piece.timestep != row.pieces.len() {
            return Err(bad(
                line,
                format!("timestep {} out of order", piece.timestep),
            ));
        }
        row.pieces.push(piece);
    }
    Ok(rows)
}

/// Writes `text` at `path`, creating its directory.
fn write_text(path: &Path, text: String) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the figure of `rows` at `path` (an SVG file; its directory is created).
pub fn write_lit_svg(path: &Path, title: &str, rows: &[LitRow]) -> Result<()> {
    write_text(path, render_lit_svg(title, rows))
}

/// Writes `dir/plots/lit_sentence.svg` and `dir/lit_sentence.csv`.
pub fn write_lit_files(dir: &Path, title: &str, rows: &[LitRow]) -> Result<()> {
    write_lit_svg(&dir.join("plots").join(LIT_SVG), title, rows)?;
    write_text(&dir.join(LIT_CSV), lit_csv(rows))
}

/// The digit a step gets without colour: how many whole decades below the loss step its value
/// lies (0: within one decade, 9: nine or more), `+` above it, `·` no value.
fn decade_mark(v: Option<f64>) -> char {
    match v {
        None => '·',
        Some(v) if v > 0.0 => '+',
        Some(v) => {
            let d = (-v).floor().min(9.0) as u32;
            char::from_digit(d, 10).unwrap_or('9')
        }
    }
}

/// The terminal version, wrapped at `columns`: with `colour`, each step's text on its ANSI
/// 24-bit background; without, each line of text followed by a line of decade digits.
pub fn lit_terminal(rows: &[LitRow], colour: bool, columns: usize) -> String {
    let columns = columns.max(20);
    let range = scale_range(rows);
    let mut out = String::new();
    for row in rows {
        let _ = writeln!(out, "{}:", row.label);
        let mut text_line = String::new();
        let mut mark_line = String::new();
        let mut used = 0;
        let flush = |out: &mut String, text_line: &mut String, mark_line: &mut String| {
            if colour {
                let _ = writeln!(out, "  {text_line}\x1b[0m");
            } else {
                let _ = writeln!(out, "  {}", text_line.trim_end());
                let _ = writeln!(out, "  {}", mark_line.trim_end());
            }
            text_line.clear();
            mark_line.clear();
        };
        for p in shown_pieces(row).iter() {
            let w = text_columns(&p.text);
            if used + w > columns - 2 && used > 0 {
                flush(&mut out, &mut text_line, &mut mark_line);
                used = 0;
            }
            if colour {
                let (r, g, b) = match p.log10_ratio {
                    Some(v) => rgb(&scale_colour(scale_position(v, range))),
                    None => rgb(MISSING),
                };
                let ink = match p.log10_ratio {
                    Some(v) if text_colour(scale_position(v, range)) == "#ffffff" => "255;255;255",
                    _ => "0;0;0",
                };
                let _ = write!(
                    text_line,
                    "\x1b[48;2;{r};{g};{b}m\x1b[38;2;{ink}m{}",
                    p.text
                );
            } else {
                text_line.push_str(&p.text);
                let mark = decade_mark(p.log10_ratio);
                mark_line.push(mark);
                for _ in 1..w {
                    mark_line.push(' ');
                }
            }
            used += w;
        }
        if used > 0 {
            flush(&mut out, &mut text_line, &mut mark_line);
        }
    }
    let hi = range.1;
    if colour {
        let mut bar = String::new();
        for i in 0..24 {
            let (r, g, b) = rgb(&scale_colour(i as f64 / 23.0));
            let _ = write!(bar, "\x1b[48;2;{r};{g};{b}m ");
        }
        let _ = writeln!(
            out,
            "  {} {bar}\x1b[0m {}  (‖∂ℓ/∂h_t‖ relative to the loss step)",
            low_label(rows, range),
            if hi == 0.0 {
                "1".to_string()
            } else {
                format!("1e{hi}")
            }
        );
    } else {
        let _ = writeln!(
            out,
            "  digits: decades of ‖∂ℓ/∂h_t‖ below the loss step's (0: within 10×, 9: 1e-9 or less, +: above it)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[Option<f64>]) -> LitRow {
        LitRow {
            label: "init".into(),
            step: 0,
            layer: 0,
            pieces: values
                .iter()
                .enumerate()
                .map(|(t, v)| LitPiece {
                    timestep: t,
                    distance: Some(values.len() - 1 - t),
                    text: ["田", "a", "、"][t % 3].to_string(),
                    grad_h: v.map(|v| 10f64.powf(v)),
                    log10_ratio: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn a_long_sentence_is_drawn_by_its_ends_and_says_what_it_left_out() {
        let values: Vec<Option<f64>> = (0..1000).map(|t| Some(t as f64)).collect();
        let long = row(&values);
        let shown = shown_pieces(&long);
        assert_eq!(shown.len(), SHOWN_STEPS + 1);
        assert_eq!(shown[SHOWN_STEPS / 2].text, " … 600 steps left out … ");
        assert_eq!(shown[SHOWN_STEPS / 2].log10_ratio, None);
        assert_eq!(shown[0].timestep, 0);
        assert_eq!(shown[SHOWN_STEPS].timestep, 999);
        let text = lit_terminal(std::slice::from_ref(&long), false, 80);
        assert!(text.contains("600 steps left out"), "{text}");
        assert!(text.lines().count() < 40, "{} lines", text.lines().count());
        let svg = render_lit_svg("t", std::slice::from_ref(&long));
        assert!(svg.contains("600 steps left out"));
        let short = row(&values[..SHOWN_STEPS]);
        assert_eq!(shown_pieces(&short).len(), SHOWN_STEPS);
    }

    #[test]
    fn plain_text_marks_decades_and_colour_uses_backgrounds() {
        let r = row(&[Some(-9.5), Some(-2.2), None, Some(0.0)]);
        let plain = lit_terminal(std::slice::from_ref(&r), false, 80);
        let lines: Vec<&str> = plain.lines().collect();
        assert_eq!(lines[1], "  田a、田");
        assert_eq!(lines[2], "  9 2· 0", "a wide character takes two columns");
        let coloured = lit_terminal(&[r], true, 80);
        assert!(coloured.contains("\x1b[48;2;"), "{coloured}");
        assert_eq!(scale_range(&[row(&[Some(-9.5), Some(0.3)])]), (-10.0, 1.0));
    }

    #[test]
    fn the_scale_stops_at_its_floor_and_says_so() {
        let deep = row(&[Some(-150.2), Some(-3.0), Some(0.0)]);
        let range = scale_range(std::slice::from_ref(&deep));
        assert_eq!(range, (SCALE_FLOOR, 0.0));
        assert_eq!(low_label(std::slice::from_ref(&deep), range), "≤1e-16");
        let svg = render_lit_svg("deep", std::slice::from_ref(&deep));
        let ticks: Vec<&str> = svg
            .lines()
            .filter(|l| l.contains(r##"font-size="12""##))
            .map(|l| l.split('>').nth(1).unwrap().trim_end_matches("</text"))
            .collect();
        assert_eq!(ticks, ["≤1e-16", "1e-12", "1e-9", "1e-6", "1e-3", "1"]);
        // the value itself is kept; only its colour is the darkest
        assert!(svg.contains(r##"data-log10-ratio="-1.502e2""##), "{svg}");
        let shallow = row(&[Some(-6.5), Some(0.0)]);
        let range = scale_range(std::slice::from_ref(&shallow));
        assert_eq!(range, (-7.0, 0.0));
        assert_eq!(low_label(std::slice::from_ref(&shallow), range), "1e-7");
    }

    #[test]
    fn the_csv_reads_back_as_the_rows_it_was_written_from() {
        let mut second = row(&[None, Some(-1.0 / 3.0), Some(0.0)]);
        second.label = "after training, \"step\" 30".into();
        second.step = 30;
        second.pieces[2].text = ",".into();
        second.pieces[2].distance = None;
        let rows = vec![row(&[Some(-9.5), Some(-2.2), None, Some(0.0)]), second];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LIT_CSV);
        std::fs::write(&path, lit_csv(&rows)).unwrap();
        assert_eq!(read_lit_csv(&path).unwrap(), rows);
        std::fs::write(
            &path,
            lit_csv(&rows).replace("\n0,init,0,0,1,", "\n0,init,0,0,7,"),
        )
        .unwrap();
        let err = read_lit_csv(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 3") && err.contains("timestep 7"),
            "{err}"
        );
    }

    #[test]
    fn svg_holds_one_rect_per_step_with_its_value() {
        let svg = render_lit_svg("t <1>", &[row(&[Some(-3.0), Some(-1.0), Some(0.0)])]);
        assert_eq!(svg.matches(r##"class="lit""##).count(), 3);
        assert!(svg.contains(r##"data-log10-ratio="-3e0""##), "{svg}");
        assert!(svg.contains("t &lt;1&gt;") && svg.contains("Noto Sans CJK JP"));
        assert_eq!(
            svg,
            render_lit_svg("t <1>", &[row(&[Some(-3.0), Some(-1.0), Some(0.0)])])
        );
    }
}
