//! The README's log-log figure of checkpointed BPTT: peak resident memory and time per step
//! against T, full and sqrt, from the CSV `scripts/bench-memory.sh` prints:
//! `scripts/bench-memory.sh > mem.csv && cargo run --release --example memory_plot -- mem.csv docs/perf/bptt_memory.svg`.

use rnnlab::report::{stacked_svg, Chart, ChartSpec, Scale, Series};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csv_path, svg_path] = args.as_slice() else {
        return Err("usage: memory_plot BENCH_MEMORY.csv OUT.svg".into());
    };
    let mut reader = csv::Reader::from_path(csv_path)?;
    let header = reader.headers()?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(format!("{csv_path}: no column {name}"))
    };
    let (length, ms, schedule, rss) = (
        column("length")?,
        column("ms_per_step")?,
        column("bptt_memory")?,
        column("peak_rss_mib")?,
    );
    // (schedule family, T, ms per step, MiB)
    let mut rows: Vec<(String, f64, f64, f64)> = Vec::new();
    for record in reader.records() {
        let r = record?;
        let family = if r[schedule].starts_with("segments") {
            "sqrt"
        } else {
            "full"
        };
        rows.push((
            family.to_string(),
            r[length].parse()?,
            r[ms].parse()?,
            r[rss].parse()?,
        ));
    }
    let series = |family: &str, pick: fn(&(String, f64, f64, f64)) -> f64| {
        let mut points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.0 == family)
            .map(|r| (r.1, pick(r)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Series::new(format!("{family} BPTT"), points)
    };
    let x_range = rows.iter().fold((f64::INFINITY, 0f64), |(lo, hi), r| {
        (lo.min(r.1), hi.max(r.1))
    });
    let memory = Chart::new(ChartSpec {
        title: "Peak resident memory (getrusage), LSTM B = 32, H = 64",
        x_label: "T (timesteps)",
        y_label: "peak RSS (MiB)",
        y_scale: Scale::Log10,
        x_scale: Scale::Log10,
    })
    .series(series("full", |r| r.3))
    .series(series("sqrt", |r| r.3))
    .x_include(x_range.0, x_range.1);
    let time = Chart::new(ChartSpec {
        title: "Time per training step, one thread",
        x_label: "T (timesteps)",
        y_label: "ms per step",
        y_scale: Scale::Log10,
        x_scale: Scale::Log10,
    })
    .series(series("full", |r| r.2))
    .series(series("sqrt", |r| r.2))
    .x_include(x_range.0, x_range.1);
    stacked_svg(Path::new(svg_path), &[memory, time])?;
    println!("{svg_path}");
    Ok(())
}
