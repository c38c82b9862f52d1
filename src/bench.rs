//! Training throughput on the workload of `shared/peer/torch_rnn_bench.py`: one-hot token inputs
//! over a vocabulary of 16, one layer, a linear readout at the last step, softmax cross-entropy,
//! one Adam step (lr 1e-3) per batch, full BPTT, f32. Timing as the peer script: warm-up steps,
//! then the best of three timed blocks. Like a training loop, each step evaluates into a
//! [`Workspace`] kept across steps ([`Network::evaluate_with`]), so caches and adjoint arrays are
//! allocated once, not per batch (the peer script's PyTorch also reuses its allocator's memory).

use ndarray::Array2;
use ndarray_rand::rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

use crate::batch::{Batch, Inputs, Targets};
use crate::cells::CellKind;
use crate::error::{Error, Result};
use crate::init::InitSpec;
use crate::network::{Bptt, InputKind, ModelSpec, Network, OutputKind, Workspace};
use crate::optim::{Clip, Optimizer, OptimizerKind, OptimizerSpec};

/// One benchmark configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    pub cell: CellKind,
    pub hidden: usize,
    pub batch: usize,
    pub length: usize,
    pub vocab: usize,
    /// Steps per timed block.
    pub steps: usize,
    pub warmup: usize,
}

/// One measured row, in the peer script's CSV columns.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    pub config: BenchConfig,
    pub threads: usize,
    pub ms_per_step: f64,
    pub seq_steps_per_s: f64,
}

impl BenchResult {
    pub const CSV_HEADER: &'static str =
        "cell,hidden,batch,length,threads,ms_per_step,seq_steps_per_s";

    pub fn csv_row(&self) -> String {
        let c = &self.config;
        format!(
            "{},{},{},{},{},{:.3},{:.0}",
            c.cell,
            c.hidden,
            c.batch,
            c.length,
            self.threads,
            self.ms_per_step,
            self.seq_steps_per_s
        )
    }
}

/// Measures one configuration on this thread.
pub fn bench_training_step(config: &BenchConfig) -> Result<BenchResult> {
    for (field, v) in [
        ("hidden", config.hidden),
        ("batch", config.batch),
        ("length", config.length),
        ("vocab", config.vocab),
        ("steps", config.steps),
    ] {
        if v == 0 {
            return Err(Error::invalid(field, "must be at least 1"));
        }
    }
    let spec = ModelSpec::new(
        config.cell,
        InputKind::Tokens {
            vocab: config.vocab,
        },
        config.hidden,
        1,
        OutputKind::Classes {
            count: config.vocab,
        },
    );
    let mut net = Network::<f32>::init(spec, &InitSpec::default(), 0)?;
    let mut opt = Optimizer::new(OptimizerSpec::new(OptimizerKind::Adam, 1e-3), &net.params)?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (t, b, v) = (config.length, config.batch, config.vocab);
    let ids = Array2::from_shape_fn((t, b), |_| rng.random_range(0..v));
    let targets = Array2::from_shape_fn((t, b), |_| rng.random_range(0..v));
    let mut loss_weight = Array2::<f32>::zeros((t, b));
    loss_weight.row_mut(t - 1).fill(1.0 / b as f32);
    let batch = Batch {
        inputs: Inputs::Tokens { ids, vocab: v },
        targets: Targets::Classes {
            ids: targets,
            classes: v,
        },
        loss_weight,
    };
    // buffers reused across steps, as a training loop does
    let mut workspace = Workspace::new();
    let mut step = || -> Result<()> {
        let eval = net.evaluate_with(&mut workspace, &batch, None, Bptt::Full)?;
        opt.step(&mut net.params, &mut eval.backward.grads, Clip::None)?;
        Ok(())
    };
    for _ in 0..config.warmup {
        step()?;
    }
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..config.steps {
            step()?;
        }
        best = best.min(start.elapsed().as_secs_f64() / config.steps as f64);
    }
    Ok(BenchResult {
        config: config.clone(),
        threads: 1,
        ms_per_step: best * 1e3,
        seq_steps_per_s: (b * t) as f64 / best,
    })
}
