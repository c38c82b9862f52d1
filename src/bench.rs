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
    /// What the backward pass keeps (full BPTT, or checkpointed segments).
    pub memory: crate::network::BpttMemory,
}

/// Timed blocks per configuration (the best is reported, as the peer script does).
pub const BLOCKS: usize = 3;

/// One measured row, in the peer script's CSV columns.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    pub config: BenchConfig,
    pub threads: usize,
    /// The best block's milliseconds per step (what the peer script reports).
    pub ms_per_step: f64,
    pub seq_steps_per_s: f64,
    /// Milliseconds per step of every timed block, in the order they ran.
    pub block_ms: Vec<f64>,
}

impl BenchResult {
    pub const CSV_HEADER: &'static str =
        "cell,hidden,batch,length,threads,ms_per_step,seq_steps_per_s";

    /// The extra columns of `--spread`: the median and the worst block.
    pub const SPREAD_HEADER: &'static str = ",median_ms,max_ms";

    /// (min, median, max) milliseconds per step over the blocks.
    pub fn spread(&self) -> (f64, f64, f64) {
        let mut ms = self.block_ms.clone();
        ms.sort_by(f64::total_cmp);
        let n = ms.len();
        if n == 0 {
            return (self.ms_per_step, self.ms_per_step, self.ms_per_step);
        }
        let median = if n % 2 == 1 {
            ms[n / 2]
        } else {
            (ms[n / 2 - 1] + ms[n / 2]) / 2.0
        };
        (ms[0], median, ms[n - 1])
    }

    /// A warning when the blocks disagree by more than half the best one (as hyperfine flags
    /// statistical outliers): another program probably ran at the same time.
    pub fn outlier_warning(&self) -> Option<String> {
        let (min, median, max) = self.spread();
        (max > 1.5 * min).then(|| {
            format!(
                "warning: {} hidden {}: blocks took {min:.3} to {max:.3} ms per step (median {median:.3}); the slowest is {:.1}× the best: another program probably ran meanwhile; rerun on a quiet machine",
                self.config.cell,
                self.config.hidden,
                max / min
            )
        })
    }

    /// The extra columns of `--memory`: the schedule and the process's peak resident memory.
    pub const MEMORY_HEADER: &'static str = ",bptt_memory,peak_rss_mib";

    /// `--memory`'s columns: the schedule (`full` or `segments-S`) and getrusage's peak RSS of
    /// this process so far, in MiB (run one configuration per process for a per-configuration
    /// figure, as `scripts/bench-memory.sh` does).
    pub fn csv_memory(&self) -> String {
        let schedule = match self.config.memory.segment(self.config.length) {
            Some(s) => format!("segments-{s}"),
            None => "full".into(),
        };
        format!(
            ",{schedule},{:.1}",
            peak_rss_bytes() as f64 / (1u64 << 20) as f64
        )
    }

    pub fn csv_spread(&self) -> String {
        let (_, median, max) = self.spread();
        format!(",{median:.3},{max:.3}")
    }

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
        // checkpointed: one segment's caches (and a state per segment)
        let kept = self.memory.segment(self.length).map_or(t, |seg| {
            crate::network::checkpoint::segment_extent(t, seg as u128).0
        });
        let steps = kept.saturating_mul(per_step).saturating_mul(4);
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

/// The peak resident memory of this process so far (getrusage's `ru_maxrss`, KiB on Linux).
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: getrusage fills the struct it is given; a zeroed rusage is a valid value
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0;
    if ok {
        (usage.ru_maxrss as u64).saturating_mul(1024)
    } else {
        0
    }
}

/// Measures one configuration with `config.threads` threads.
/// (Sizes whose memory does not even fit in 2^64 bytes are refused; the command line checks
/// against its --max-memory first.)
pub fn bench_training_step(config: &BenchConfig) -> Result<BenchResult> {
    config.check(u64::MAX)?;
    let _flush = crate::float_env::flush_subnormals();
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
    let mut workspace = Workspace::with_memory(config.memory);
    let mut step = || -> Result<()> {
        let eval = net.evaluate_with(&mut workspace, &batch, None, Bptt::Full)?;
        opt.step(&mut net.params, &mut eval.backward.grads, Clip::None)?;
        Ok(())
    };
    for _ in 0..config.warmup {
        step()?;
    }
    let mut blocks = Vec::with_capacity(BLOCKS);
    for _ in 0..BLOCKS {
        let start = Instant::now();
        for _ in 0..config.steps {
            step()?;
        }
        blocks.push(start.elapsed().as_secs_f64() / config.steps as f64);
    }
    let best = blocks.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(BenchResult {
        config: config.clone(),
        threads: config.threads,
        ms_per_step: best * 1e3,
        seq_steps_per_s: (b * t) as f64 / best,
        block_ms: blocks.iter().map(|s| s * 1e3).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(block_ms: Vec<f64>) -> BenchResult {
        let best = block_ms.iter().copied().fold(f64::INFINITY, f64::min);
        BenchResult {
            config: BenchConfig {
                cell: CellKind::Lstm,
                hidden: 8,
                batch: 2,
                length: 3,
                vocab: 4,
                steps: 1,
                warmup: 0,
                threads: 1,
                memory: crate::network::BpttMemory::Full,
            },
            threads: 1,
            ms_per_step: best,
            seq_steps_per_s: 6e3 / best,
            block_ms,
        }
    }

    #[test]
    fn spread_and_outliers_follow_the_blocks() {
        let steady = result(vec![1.2, 1.0, 1.1]);
        assert_eq!(steady.spread(), (1.0, 1.1, 1.2));
        assert_eq!(steady.csv_spread(), ",1.100,1.200");
        assert!(steady.outlier_warning().is_none());
        // a 3.6× first block, as seen on a busy machine
        let noisy = result(vec![3.6, 1.0, 1.05]);
        let warning = noisy.outlier_warning().unwrap();
        assert!(
            warning.contains("3.6×") && warning.contains("lstm hidden 8"),
            "{warning}"
        );
        assert_eq!(result(vec![2.0, 4.0]).spread(), (2.0, 3.0, 4.0));
    }
}
