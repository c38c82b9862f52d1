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
    /// Threads of the run's arithmetic (`crate::parallel`).
    pub threads: usize,
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

impl BenchConfig {
    /// Refuses a size of 0, and sizes whose memory (a lower bound: weights, gradients and Adam's
    /// two moments, and per timestep the gate pre-activations, states and logits, all f32) is
    /// above `limit` bytes, naming the option to lower; counted in u128, so no size overflows
    /// it. Called before anything is allocated (a huge --hidden or --length panicked inside
    /// ndarray).
    pub fn check(&self, limit: u64) -> Result<()> {
        for (field, v) in [
            ("hidden", self.hidden),
            ("batch", self.batch),
            ("length", self.length),
            ("vocab", self.vocab),
            ("steps", self.steps),
            ("threads", self.threads),
        ] {
            if v == 0 {
                return Err(Error::invalid(field, "must be at least 1"));
            }
        }
        let gates = self.cell.gates() as u128;
        let (h, b, t, v) = (
            self.hidden as u128,
            self.batch as u128,
            self.length as u128,
            self.vocab as u128,
        );
        let params = (gates * h)
            .saturating_mul(v.saturating_add(h).saturating_add(2))
            .saturating_add(v.saturating_mul(h).saturating_add(v));
        let per_step = b.saturating_mul((2 * gates + 4).saturating_mul(h).saturating_add(2 * v));
        let weights = params.saturating_mul(4 * 4);
        let steps = t.saturating_mul(per_step).saturating_mul(4);
        let estimate = crate::resources::Estimate {
            bytes: weights.saturating_add(steps),
            dominant: if weights >= steps {
                if v > h {
                    "vocab"
                } else {
                    "hidden"
                }
            } else if v > h && v > t && v > b {
                "vocab"
            } else if t >= b {
                "length"
            } else {
                "batch"
            }
            .to_string(),
            what: if weights >= steps {
                "the weights, their gradients and Adam's moments"
            } else {
                "the activations kept for backpropagation through time"
            },
        };
        estimate.check(limit)
    }
}

/// Measures one configuration with `config.threads` threads.
/// (Sizes whose memory does not even fit in 2^64 bytes are refused; the command line checks
/// against its --max-memory first.)
pub fn bench_training_step(config: &BenchConfig) -> Result<BenchResult> {
    config.check(u64::MAX)?;
    crate::parallel::with_threads(config.threads, || bench_in(config))
}

fn bench_in(config: &BenchConfig) -> Result<BenchResult> {
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
        threads: config.threads,
        ms_per_step: best * 1e3,
        seq_steps_per_s: (b * t) as f64 / best,
    })
}
