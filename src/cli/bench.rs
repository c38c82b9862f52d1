//! `rnnlab bench`: training throughput, in the CSV of `shared/peer/torch_rnn_bench.py`.

use clap::Args;
use rnnlab::bench::{bench_training_step, BenchConfig, BenchResult};
use rnnlab::CellKind;

use super::UsageError;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  rnnlab bench                                   # rnn,lstm,gru × 32,64,128,256\n  rnnlab bench --cell lstm --hidden 128 --batch 64 --length 200\n  rnnlab bench --threads 1; rnnlab bench --threads 2   # the speed-up of a second core\n\nCompare with: python3 docs/pytorch/torch_rnn_bench.py --threads 1 (same workload and columns)"
)]
pub struct BenchArgs {
    /// Cells (comma list of registered cell names, as for `rnnlab train --cell`).
    #[arg(
        long = "cell",
        visible_alias = "cells",
        value_delimiter = ',',
        default_value = "rnn,lstm,gru"
    )]
    cells: Vec<CellKind>,
    /// Hidden sizes (comma list).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "32,64,128,256",
        allow_negative_numbers = true
    )]
    hidden: Vec<usize>,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32, allow_negative_numbers = true)]
    batch: usize,
    /// Timesteps per sequence.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    length: usize,
    /// Vocabulary of the one-hot inputs and of the classes.
    #[arg(long, default_value_t = 16, allow_negative_numbers = true)]
    vocab: usize,
    #[command(flatten)]
    threads: super::ThreadsArg,
    /// Training steps per timed block (the best of three blocks is reported).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true)]
    warmup: usize,
    /// Add the median and the slowest block (median_ms,max_ms) to every row.
    #[arg(long)]
    spread: bool,
    /// What the backward pass keeps: full (every step) or sqrt (the state every ~sqrt(T) steps,
    /// segments recomputed; the same bits).
    #[arg(long, default_value = "full", value_parser = ["full", "sqrt"])]
    bptt_memory: String,
    /// Add the schedule and the process's peak resident memory (bptt_memory,peak_rss_mib) to
    /// every row; give one configuration per run for a per-configuration peak.
    #[arg(long)]
    memory: bool,
    /// No notices on stderr (the warning about a block slower than the others); the CSV still
    /// goes to stdout.
    #[arg(long)]
    quiet: bool,
    /// Refuse a configuration whose estimated memory is above SIZE (e.g. 4G, 512M, 2GiB or
    /// bytes) [default: half the physical memory].
    #[arg(long, value_name = "SIZE", value_parser = rnnlab::resources::parse_size)]
    max_memory: Option<u64>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let threads = args.threads.apply()?;
    for (name, v) in [
        ("--batch", args.batch),
        ("--length", args.length),
        ("--vocab", args.vocab),
        ("--steps", args.steps),
    ] {
        if v == 0 {
            return Err(UsageError(format!("{name}: must be at least 1")).into());
        }
    }
    if args.hidden.contains(&0) {
        return Err(UsageError("--hidden: sizes must be at least 1".into()).into());
    }
    let mut configs = Vec::new();
    for &cell in &args.cells {
        for &hidden in &args.hidden {
            let config = BenchConfig {
                cell,
                hidden,
                batch: args.batch,
                length: args.length,
                vocab: args.vocab,
                steps: args.steps,
                warmup: args.warmup,
                threads,
                memory: match args.bptt_memory.as_str() {
                    "sqrt" => rnnlab::network::BpttMemory::sqrt(args.length),
                    _ => rnnlab::network::BpttMemory::Full,
                },
            };
            // every configuration is checked before the first row is printed
            config.check(rnnlab::resources::memory_limit(args.max_memory))?;
            configs.push(config);
        }
    }
    let extra = format!(
        "{}{}",
        if args.spread {
            BenchResult::SPREAD_HEADER
        } else {
            ""
        },
        if args.memory {
            BenchResult::MEMORY_HEADER
        } else {
            ""
        }
    );
    outln!("{}{extra}", BenchResult::CSV_HEADER);
    for config in &configs {
        let result = bench_training_step(config)?;
        let spread = if args.spread {
            result.csv_spread()
        } else {
            String::new()
        };
        let memory = if args.memory {
            result.csv_memory()
        } else {
            String::new()
        };
        outln!("{}{spread}{memory}", result.csv_row());
        if let Some(warning) = result.outlier_warning().filter(|_| !args.quiet) {
            eprintln!("{warning}");
        }
    }
    Ok(())
}
