//! What a run will cost, before it runs: the floating-point operations of all its training steps,
//! for `sweep --dry-run` and for weighting the sweep's ETA by work rather than by runs.

use crate::error::Result;
use crate::tasks::Task;
use crate::train::TrainConfig;

/// Estimated floating-point operations of a run that takes all its `steps` (early stopping only
/// makes it cheaper):
///
/// `steps × 6 · B · T · Σ_l G·H_l·(H_l + I_l)`, with B the batch, T the sequence's timesteps,
/// G the cell's gates, H_l and I_l layer l's width and input width: each step multiplies every
/// gate's input and recurrent weights once forward and twice backward (adjoint and weight
/// gradient), two operations per multiply–add. Evaluation, probes and element-wise work are left
/// out; they are small beside these products at the sizes that matter.
pub fn estimated_flops(config: &TrainConfig) -> Result<f64> {
    let task = Task::new(config.task.clone())?;
    let gates = config.model.cell.gates() as f64;
    let mut input = task.input_width() as f64;
    let mut per_step = 0.0;
    for width in config.model.layer_widths() {
        let h = width as f64;
        per_step += gates * h * (h + input);
        input = h;
    }
    Ok(config.steps as f64 * 6.0 * config.batch as f64 * task.steps() as f64 * per_step)
}

/// `1.2 TFLOP`-style text of a number of floating-point operations.
pub fn flops_text(flops: f64) -> String {
    let units = [
        (1e15, "PFLOP"),
        (1e12, "TFLOP"),
        (1e9, "GFLOP"),
        (1e6, "MFLOP"),
    ];
    for (scale, unit) in units {
        if flops >= scale {
            return format!("{:.1} {unit}", flops / scale);
        }
    }
    format!("{flops:.0} FLOP")
}

/// Times a few training steps of `config` (the bench's workload at its cell, first-layer width,
/// batch and sequence length, `threads` threads, the best of the bench's blocks of 2 steps after
/// 1 untimed) and returns its speed in FLOP/s as [`estimated_flops`] counts them.
pub fn measure_flop_rate(config: &TrainConfig, threads: usize) -> Result<f64> {
    let task = Task::new(config.task.clone())?;
    let bench = crate::bench::BenchConfig {
        cell: config.model.cell,
        hidden: config
            .model
            .layer_widths()
            .first()
            .copied()
            .unwrap_or(config.model.hidden),
        batch: config.batch,
        length: task.steps(),
        vocab: task.input_width(),
        steps: 2,
        warmup: 1,
        memory: crate::network::BpttMemory::Full,
        threads,
    };
    let result = crate::bench::bench_training_step(&bench)?;
    let mut one_step = config.clone();
    one_step.steps = 1;
    one_step.model.widths = None;
    one_step.model.layers = 1;
    one_step.model.hidden = bench.hidden;
    Ok(estimated_flops(&one_step)? / (result.ms_per_step / 1000.0))
}

/// `45 s`, `12 min`, `3.4 h`.
pub fn duration_text(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::CellKind;

    #[test]
    fn cost_follows_the_formula_and_grows_with_gates() {
        let mut c = TrainConfig::default();
        c.model.cell = CellKind::Rnn;
        c.model.hidden = 10;
        c.steps = 1;
        c.batch = 1;
        let task = Task::new(c.task.clone()).unwrap();
        let expected = 6.0 * task.steps() as f64 * 10.0 * (10.0 + task.input_width() as f64);
        assert_eq!(estimated_flops(&c).unwrap(), expected);
        c.model.cell = CellKind::Lstm;
        assert_eq!(estimated_flops(&c).unwrap(), 4.0 * expected);
        assert_eq!(flops_text(2.5e9), "2.5 GFLOP");
    }
}
