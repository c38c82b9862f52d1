//! Bounded resources: the memory a run will need, estimated from its options BEFORE anything is
//! allocated or any directory is created, and refused when it is above a limit.
//!
//! # The estimate
//!
//! Letters: T steps of a sequence, B `batch`, E `eval-size`, P `probe-size`, S `steps`,
//! I input width (vocabulary for token tasks), O output width, and per layer l of width H_l with
//! input width I_l (I for layer 0, H_{l−1} above), G gates (rnn 1, lstm 4, gru 3). s is the
//! training float's size (4 for f32, 8 for f64); gradient probes always run in f64 (8 bytes).
//! N_pos is the number of steps with a loss per sequence.
//!
//! * parameters `N = Σ_l [G·H_l·(I_l + H_l) + 2·G·H_l (+ 2·H_l with layer norm)] + O·H_top + O`;
//!   the model term is `N · (6·s + 2·8)`: weights, gradients and two optimiser moments in the
//!   training precision, two more copies while `model.safetensors` is written, and the f64 copy
//!   and f64 gradients of every gradient probe; learning over time (h = 1 when `history-every`
//!   is not 0) keeps one more f64 gradient copy (`+ 8·N·h`) and a probe's caches between its
//!   points (`probe·(1 + h)` below).
//! * per step and sequence, the exact-BPTT caches of layer l hold `f_l` forward floats (gates
//!   G·H, h H; lstm + c, tanh c 2H; gru + W_hn·h H; layer norm + H; residual + H) and `b_l`
//!   adjoint floats (dh H, d_pre G·H; lstm + dc H; gru + d_hproj 3H); the network adds the top
//!   adjoint H_top (and ∂x I for real-valued inputs). `F = Σ f_l`, `A = Σ b_l + H_top (+ I)`.
//!   Where a pass splits layer l's time loop across threads (`crate::parallel::plan` of its rows
//!   and work, as `network::forward` decides) each thread keeps its block's own cell buffers as
//!   well (`LayerCache::blocks`, `LayerAdjoints::blocks`): f_l gains the cell's extra forward
//!   floats (lstm 2H, gru H) and b_l its extra adjoint floats (a probe of one sequence, or a
//!   batch too small to pay for a thread, has none).
//! * a collated batch holds `c(s)` bytes per step and sequence (token ids and class ids 8 each,
//!   or I·s inputs and O·s targets, plus the loss weight s); a generated sequence `q` bytes
//!   (token 8 + target 16, or a heap row of I f64 + 40 bytes of bookkeeping + target 24).
//! * the readout keeps `(H_top + O + 4)` floats per loss position.
//!
//! ```text
//! train     = B·T·((F + A)·s + c(s) + q) + B·N_pos·(H_top + O + 4)·s   (full BPTT; checkpointed:
//!             see `train_bytes`)
//! eval set  = E·T·(c(s) + q)
//! eval pass = E·min(T, 256)·F·s + E·N_pos·(H_top + O + 4)·s
//! probe     = P·T·((F + A)·8 + c(8) + q) + P·N_pos·(H_top + O + 4)·8
//! history   = 64·S + 64·T·layers·(S / probe-every + 2 + S / history-every + 2)
//! peak      = 8 MiB + model + train + eval set + history + probe·h
//!             + max(eval pass, probe, eval at --eval-lengths)
//! ```
//!
//! The evaluation's forward pass, a probe and the evaluation at `--eval-lengths` run one after
//! the other, each next to the training workspace and the evaluation set that persist, so the
//! peak holds the largest of them (it summed them before the length search's long runs, 1.41×
//! the peak of a checkpointed LSTM at T = 10⁴). The test `tests/limits.rs` compares it with the peak resident
//! memory (wait4's `ru_maxrss`) of real runs; on the machine it was written on the estimate was
//! 1.33× the peak of an LSTM run dominated by its caches (length 400), 1.26× for an f64 GRU, 0.96×
//! for a run dominated by its parameters (hidden 768), and 1.01× for `rnnlab gradients`. All arithmetic is on u128 and saturates, so no user-given number can
//! overflow it; a saturated estimate is simply far above any limit.
//!
//! # The limit
//!
//! Half of the physical memory (`MemTotal` of `/proc/meminfo`), or [`FALLBACK_LIMIT`] where that
//! cannot be read; `--max-memory SIZE` replaces it.

use crate::cells::CellKind;
use crate::error::{Error, Result};
use crate::network::{BpttMemory, ModelSpec};
use crate::tasks::{dataset_task, InputKind, OutputKind, Task};
use crate::train::{BpttMemorySetting, Precision, TrainConfig};

const KIB: u128 = 1024;
const MIB: u128 = 1024 * KIB;
const GIB: u128 = 1024 * MIB;

/// The limit where the physical memory cannot be read: 8 GiB.
pub const FALLBACK_LIMIT: u64 = 8 << 30;
/// The most runs one sweep may hold (the grid, every shard together); declared with the
/// experiment, which checks it first.
/// What the process needs before any array exists: code, allocator, standard library.
pub const PROCESS_BASE: u128 = 8 * MIB;
/// Bytes kept per metric row and per gradient-report row.
const ROW_BYTES: u128 = 64;

/// An estimate of peak memory, and the option that contributes most to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub bytes: u128,
    /// The option (as the command line spells it) to lower first.
    pub dominant: String,
    /// What the largest part of the estimate holds, for the message.
    pub what: &'static str,
}

impl Estimate {
    /// `Ok` when the estimate is at most `limit` bytes, else an input error naming the dominant
    /// option.
    pub fn check(&self, limit: u64) -> Result<()> {
        if self.bytes <= u128::from(limit) {
            return Ok(());
        }
        Err(Error::invalid(
            self.dominant.clone(),
            format!(
                "needs an estimated {} of memory (mostly {}), above the limit of {}; raise it with --max-memory",
                gib(self.bytes),
                self.what,
                gib(u128::from(limit))
            ),
        ))
    }
}

/// `12.3 GiB` (or `3.4e12 GiB` for absurd sizes).
pub fn gib(bytes: u128) -> String {
    let g = bytes as f64 / GIB as f64;
    if g >= 1e6 {
        format!("{g:.1e} GiB")
    } else if g >= 1.0 {
        format!("{g:.1} GiB")
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

/// `limit`, or the default: half the physical memory, or [`FALLBACK_LIMIT`].
pub fn memory_limit(limit: Option<u64>) -> u64 {
    limit.unwrap_or_else(|| physical_memory().map_or(FALLBACK_LIMIT, |m| m / 2))
}

/// `MemTotal` from `/proc/meminfo`, in bytes (None where there is no such file).
pub fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Parses `--max-memory`: bytes, or a number with K, M, G or T (binary multiples; `G`, `GB`,
/// `GiB` all mean 2^30), e.g. `4G`, `512M`, `2GiB`, `1.5G`, `1000000`.
pub fn parse_size(text: &str) -> Result<u64> {
    let bad = |why: &str| Error::invalid("max-memory", format!("{text:?}: {why}"));
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(bad(
                "expected a size such as 4G, 512M, 2GiB or a byte count",
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| bad("expected a size such as 4G, 512M, 2GiB or a byte count"))?;
    let bytes = value * (1u64 << shift) as f64;
    if bytes.is_nan() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(bad("must be at least 1 byte and below 16 EiB"));
    }
    Ok(bytes as u64)
}

/// The layers of a network as groups of equal layers: (count, width, input width).
type LayerGroups = Vec<(u128, u128, u128)>;

/// The layer groups of `config` without building a per-layer list (`layers` may be absurd).
fn config_layers(config: &TrainConfig, input: u128) -> LayerGroups {
    match &config.model.widths {
        Some(widths) => widths_layers(widths, input),
        None => {
            let (h, n) = (config.model.hidden as u128, config.model.layers as u128);
            let mut groups = vec![(1, h, input)];
            if n > 1 {
                groups.push((n - 1, h, h));
            }
            groups
        }
    }
}

fn widths_layers(widths: &[usize], input: u128) -> LayerGroups {
    let mut below = input;
    widths
        .iter()
        .map(|&w| {
            let group = (1, w as u128, below);
            below = w as u128;
            group
        })
        .collect()
}

fn gates(cell: CellKind) -> u128 {
    cell.gates() as u128
}

/// The architecture numbers the estimate needs.
struct Net {
    cell: CellKind,
    layer_norm: bool,
    residual: bool,
    layers: LayerGroups,
    input: u128,
    dense_input: bool,
    output: u128,
    value_output: bool,
}

impl Net {
    fn top(&self) -> u128 {
        self.layers.last().map_or(0, |l| l.1)
    }

    fn layer_count(&self) -> u128 {
        self.layers.iter().fold(0u128, |a, l| a.saturating_add(l.0))
    }

    /// N: every parameter.
    fn params(&self) -> u128 {
        let g = gates(self.cell);
        let mut n = self
            .output
            .saturating_mul(self.top())
            .saturating_add(self.output);
        for &(count, h, i) in &self.layers {
            let gh = g.saturating_mul(h);
            let mut per = gh
                .saturating_mul(i.saturating_add(h))
                .saturating_add(gh.saturating_mul(2));
            if self.layer_norm {
                per = per.saturating_add(h.saturating_mul(2));
            }
            n = n.saturating_add(per.saturating_mul(count));
        }
        n
    }

    /// (F, A): forward-cache and adjoint floats per step and sequence, for passes over `rows`
    /// sequences of `steps` steps.
    fn cache_floats(&self, rows: u128, steps: u128) -> (u128, u128) {
        let g = gates(self.cell);
        let (extra_f, extra_b) = self.cell.extra_floats_per_unit();
        let (mut f, mut a) = (0u128, self.top());
        if self.dense_input {
            a = a.saturating_add(self.input);
        }
        for &(count, h, _) in &self.layers {
            // the threads' own copies of the cell's buffers, kept across passes, where a layer's
            // time loop is split across threads (the rule of `network::forward`)
            let work = product(&[steps, rows, g, h, h]);
            let split = crate::parallel::plan(
                usize::try_from(rows).unwrap_or(usize::MAX),
                usize::try_from(work).unwrap_or(usize::MAX),
            ) > 1;
            let copies = if split { 2 } else { 1 };
            let (extra_f, extra_b) = (copies * extra_f as u128, copies * extra_b as u128);
            let per_f = g + 1 + extra_f + u128::from(self.layer_norm) + u128::from(self.residual);
            let per_b = g + 1 + extra_b;
            let units = h.saturating_mul(count);
            f = f.saturating_add(units.saturating_mul(per_f));
            a = a.saturating_add(units.saturating_mul(per_b));
        }
        (f, a)
    }

    /// Floats of one checkpoint per sequence: h of every layer, and c for cells with memory.
    fn state_floats(&self) -> u128 {
        let per_unit = if self.cell.has_memory() { 2 } else { 1 };
        self.layers.iter().fold(0u128, |a, l| {
            a.saturating_add(product(&[l.0, l.1, per_unit]))
        })
    }

    /// c(s): bytes of a collated batch per step and sequence.
    fn batch_bytes(&self, s: u128) -> u128 {
        let inputs = if self.dense_input {
            self.input.saturating_mul(s)
        } else {
            8
        };
        let targets = if self.value_output {
            self.output.saturating_mul(s)
        } else {
            8
        };
        inputs.saturating_add(targets).saturating_add(s)
    }

    /// q: bytes of a generated sequence per step.
    fn sequence_bytes(&self) -> u128 {
        let inputs = if self.dense_input {
            self.input.saturating_mul(8).saturating_add(40)
        } else {
            8
        };
        let targets = if self.value_output { 24 } else { 16 };
        inputs + targets
    }

    /// Readout floats per loss position.
    fn readout_floats(&self) -> u128 {
        self.top().saturating_add(self.output).saturating_add(4)
    }
}

fn task_net(config: &TrainConfig, task: &Task) -> Net {
    let (input, dense_input) = match task.input_kind() {
        InputKind::Tokens { vocab } => (vocab as u128, false),
        InputKind::Dense { width } => (width as u128, true),
    };
    let (output, value_output) = match task.output_kind() {
        OutputKind::Classes { count } => (count as u128, false),
        OutputKind::Values { width } => (width as u128, true),
    };
    Net {
        cell: config.model.cell,
        layer_norm: config.model.layer_norm,
        residual: config.model.residual,
        layers: config_layers(config, input),
        input,
        dense_input,
        output,
        value_output,
    }
}

fn spec_net(spec: &ModelSpec) -> Net {
    let input = spec.input.width() as u128;
    Net {
        cell: spec.cell,
        layer_norm: spec.layer_norm,
        residual: spec.residual,
        layers: widths_layers(&spec.hidden, input),
        input,
        dense_input: matches!(spec.input, crate::network::InputKind::Dense { .. }),
        output: spec.output.width() as u128,
        value_output: matches!(spec.output, crate::network::OutputKind::Values { .. }),
    }
}

/// Multiplies saturating.
fn product(factors: &[u128]) -> u128 {
    factors.iter().fold(1u128, |a, &b| a.saturating_mul(b))
}

/// One part of the estimate and the options that scale it, each with how far it is above its
/// default (the largest ratio names the option to lower).
struct Part {
    bytes: u128,
    what: &'static str,
    factors: Vec<(String, f64)>,
}

fn ratio(value: usize, default: f64) -> f64 {
    value as f64 / default
}

/// Steps per segment of the evaluation set's forward pass (`Network::readout_segmented`): only
/// this many steps' caches exist at once.
pub const EVAL_SEGMENT: usize = 256;

/// Bytes of the training batch's BPTT caches under `memory` (see the module documentation):
/// `B·(S'·(F + A)·s + n·state·s + T·(c(s) + q)) + B·N_pos·(H_top + O + 4)·s`, with S' the
/// longest segment and n the number of segments (`checkpoint::segment_extent`; S' = T and no
/// checkpoint for full BPTT); a checkpoint holds h (and c) of every layer, and the segment's
/// inputs are copied.
fn train_bytes(net: &Net, b: u128, t: u128, positions: u128, s: u128, memory: BpttMemory) -> u128 {
    let (f, a) = net.cache_floats(b, t);
    let (segment, checkpoints) = match memory.segment(t as usize) {
        Some(seg) => crate::network::checkpoint::segment_extent(t, seg as u128),
        None => (t, 0),
    };
    let state = net.state_floats();
    // a checkpointed pass copies each segment's inputs
    let copied = if segment < t { segment } else { 0 };
    let per_seq = product(&[segment, f.saturating_add(a), s])
        .saturating_add(product(&[checkpoints, state, s]))
        .saturating_add(product(&[copied, net.batch_bytes(s)]))
        .saturating_add(product(&[
            t,
            net.batch_bytes(s).saturating_add(net.sequence_bytes()),
        ]));
    product(&[b, per_seq]).saturating_add(product(&[b, positions, net.readout_floats(), s]))
}

/// Bytes of the training batch's BPTT caches and checkpoints of `config` on `task` under
/// `memory`: what a `--bptt-memory` budget bounds.
pub fn bptt_cache_bytes(config: &TrainConfig, task: &Task, memory: BpttMemory) -> u128 {
    let net = task_net(config, task);
    let s: u128 = match config.precision {
        Precision::F32 => 4,
        Precision::F64 => 8,
    };
    let positions = task.loss_steps().len() as u128;
    train_bytes(
        &net,
        config.batch as u128,
        task.steps() as u128,
        positions,
        s,
        memory,
    )
}

/// The schedule `config.bptt_memory` asks for, on `task`, under `limit` bytes for the whole run
/// (`auto`): full BPTT while the run's estimate fits, else the longest segments that fit (the
/// least recomputation). A budget that no schedule fits, or an `auto` run that fits under no
/// schedule, is refused naming `bptt-memory` and the smallest budget that works.
pub fn resolve_bptt_memory(config: &TrainConfig, task: &Task, limit: u64) -> Result<BpttMemory> {
    let t = task.steps();
    let bytes = |m: BpttMemory| bptt_cache_bytes(config, task, m);
    // the segment limits where the layout changes (`checkpoint::segments`): multiples of the
    // weight-gradient block (the middle segments' length) and those plus T mod the block (the
    // last segment's), longest first; a longer limit never recomputes more, so the first that
    // fits is the least recomputation (the optimum's, `tests/checkpoint.rs`)
    let candidates: Vec<usize> = {
        let block = crate::network::backward::WEIGHT_GRAD_BLOCK;
        let mut c: Vec<usize> = (1..=t.div_ceil(block))
            .flat_map(|k| [k * block, k * block + t % block])
            .filter(|&k| k < t)
            .collect();
        c.sort_unstable();
        c.dedup();
        c.reverse();
        c
    };
    let smallest = candidates
        .iter()
        .map(|&k| bytes(BpttMemory::Segments(k)))
        .chain([bytes(BpttMemory::Full)])
        .min()
        .unwrap_or(u128::MAX);
    let fitting = |budget: u128| {
        if bytes(BpttMemory::Full) <= budget {
            return Some(BpttMemory::Full);
        }
        candidates
            .iter()
            .map(|&k| BpttMemory::Segments(k))
            .find(|&m| bytes(m) <= budget)
    };
    match config.bptt_memory {
        BpttMemorySetting::Full => Ok(BpttMemory::Full),
        BpttMemorySetting::Sqrt => Ok(BpttMemory::sqrt(t)),
        BpttMemorySetting::Budget(budget) => fitting(u128::from(budget)).ok_or_else(|| {
            Error::invalid(
                "bptt-memory",
                format!(
                    "{budget} bytes is below what any schedule needs for length {}; the smallest budget that works is {} ({} bytes)",
                    task.spec().length,
                    gib(smallest),
                    smallest
                ),
            )
        }),
        BpttMemorySetting::Auto => {
            let whole = |m: BpttMemory| estimate_run_with(config, task, m).bytes;
            if whole(BpttMemory::Full) <= u128::from(limit) {
                return Ok(BpttMemory::Full);
            }
            let fits = candidates
                .iter()
                .map(|&k| BpttMemory::Segments(k))
                .find(|&m| whole(m) <= u128::from(limit));
            // none fits: the most frugal schedule, whose estimate the caller refuses by name
            Ok(fits.unwrap_or_else(|| {
                candidates
                    .iter()
                    .map(|&k| BpttMemory::Segments(k))
                    .min_by_key(|&m| bytes(m))
                    .unwrap_or(BpttMemory::Full)
            }))
        }
    }
}

/// The peak memory of a training run of `config` on `task` (see the module documentation), with
/// the BPTT schedule `config.bptt_memory` resolves to under the run's limit.
pub fn estimate_run(config: &TrainConfig, task: &Task) -> Estimate {
    let limit = memory_limit(config.max_memory);
    let memory = resolve_bptt_memory(config, task, limit).unwrap_or_default();
    estimate_run_with(config, task, memory)
}

/// The BPTT schedule of a run's f64 gradient probes (and learning-over-time points) when its
/// training batch runs under `training`: full while training keeps every step's caches,
/// segments of ⌈√T⌉ steps once training is checkpointed. Every schedule gives the same report.
pub fn probe_schedule(training: BpttMemory, steps: usize) -> BpttMemory {
    match training {
        BpttMemory::Full => BpttMemory::Full,
        BpttMemory::Segments(_) => BpttMemory::sqrt(steps),
    }
}

/// [`estimate_run`] with the BPTT schedule `memory`.
pub fn estimate_run_with(config: &TrainConfig, task: &Task, memory: BpttMemory) -> Estimate {
    let net = task_net(config, task);
    let s: u128 = match config.precision {
        Precision::F32 => 4,
        Precision::F64 => 8,
    };
    let t = task.steps() as u128;
    let positions = task.loss_steps().len() as u128;
    let q = net.sequence_bytes();
    let readout = net.readout_floats();
    let (b, e, p) = (
        config.batch as u128,
        config.eval_size as u128,
        config.probe_size as u128,
    );
    // the evaluation's forward pass runs EVAL_SEGMENT steps at a time
    let eval_steps = t.min(EVAL_SEGMENT as u128);
    let (f, _) = net.cache_floats(e, eval_steps);
    // the evaluation set (its sequences and collated batch) lives through the run; its forward
    // pass's buffers only while it runs
    let eval_data = product(&[e, t, net.batch_bytes(s).saturating_add(q)]);
    let eval_pass =
        product(&[e, eval_steps, f, s]).saturating_add(product(&[e, positions, readout, s]));
    let probes = match config.probe_every {
        0 => 2,
        every => (config.steps / every) as u128 + 2,
    };
    // learning over time keeps an f64 workspace (a probe's caches and gradients) from one point
    // to the next, and its points
    let (history_copies, history_points) = match config.history_interval(1) {
        0 => (0u128, 0u128),
        every => (1, (config.steps / every) as u128 + 2),
    };

    // after training, one evaluation set per --eval-lengths value, the longest the largest (the
    // training-length evaluation set stays alive beside it)
    let mut generalisation: u128 = 0;
    let probe = train_bytes(&net, p, t, positions, 8, probe_schedule(memory, t as usize));
    let mut longest_eval = 0;
    for &length in &config.eval_lengths {
        let mut spec = task.spec().clone();
        spec.length = length;
        if let Ok(other) = Task::new(spec) {
            let (tl, pl) = (other.steps() as u128, other.loss_steps().len() as u128);
            let per_seq = product(&[tl.min(EVAL_SEGMENT as u128), f, s])
                .saturating_add(product(&[tl, net.batch_bytes(s).saturating_add(q)]));
            let bytes = product(&[e, per_seq]).saturating_add(product(&[e, pl, readout, s]));
            if bytes > generalisation {
                generalisation = bytes;
                longest_eval = length;
            }
        }
    }

    let widest = match &config.model.widths {
        Some(w) => w.iter().copied().max().unwrap_or(0),
        None => config.model.hidden,
    };
    let width_name = if config.model.widths.is_some() {
        "widths"
    } else {
        "hidden"
    };
    let hidden = (width_name.to_string(), ratio(widest, 64.0));
    let layers = (
        "layers".to_string(),
        net.layer_count() as f64
            * if config.model.widths.is_some() {
                0.0
            } else {
                1.0
            },
    );
    let length = ("length".to_string(), ratio(task.spec().length, 20.0));
    let model = net.params().saturating_mul(6 * s + 16 + 8 * history_copies);
    let train = train_bytes(&net, b, t, positions, s, memory);
    let kept_rows = product(&[ROW_BYTES, config.steps as u128]).saturating_add(product(&[
        ROW_BYTES,
        t,
        net.layer_count(),
        probes.saturating_add(history_points),
    ]));
    let parts = [
        Part {
            bytes: model,
            what: "the parameters, their gradients and optimiser state",
            factors: vec![(hidden.0.clone(), hidden.1 * hidden.1), layers.clone()],
        },
        Part {
            bytes: train,
            what: "the training batch's BPTT caches",
            factors: vec![
                ("batch".into(), ratio(config.batch, 32.0)),
                length.clone(),
                hidden.clone(),
                layers.clone(),
            ],
        },
        Part {
            bytes: eval_data,
            what: "the evaluation set",
            factors: vec![
                ("eval-size".into(), ratio(config.eval_size, 256.0)),
                length.clone(),
            ],
        },
        Part {
            bytes: eval_pass,
            what: "the evaluation set's forward pass",
            factors: vec![
                ("eval-size".into(), ratio(config.eval_size, 256.0)),
                length.clone(),
                hidden.clone(),
                layers.clone(),
            ],
        },
        Part {
            bytes: generalisation,
            what: "the evaluation at --eval-lengths",
            factors: vec![
                ("eval-lengths".into(), ratio(longest_eval, 20.0)),
                ("eval-size".into(), ratio(config.eval_size, 256.0)),
                hidden.clone(),
                layers.clone(),
            ],
        },
        Part {
            bytes: probe.saturating_mul(1 + history_copies),
            what: "the gradient probe's f64 caches",
            factors: vec![
                ("probe-size".into(), ratio(config.probe_size, 32.0)),
                length.clone(),
                hidden.clone(),
                layers.clone(),
            ],
        },
        Part {
            bytes: kept_rows,
            what: "the metrics and gradient reports kept in memory",
            factors: vec![
                ("steps".into(), ratio(config.steps, 2000.0)),
                length.clone(),
            ],
        },
    ];
    // the evaluation's forward pass, a probe and the evaluation at --eval-lengths run one after
    // the other: the peak holds the largest of the three beside what persists (learning over
    // time keeps one probe's caches between its points)
    let persistent = [model, train, eval_data, kept_rows]
        .iter()
        .fold(PROCESS_BASE, |sum, &part| sum.saturating_add(part));
    let one_at_a_time = eval_pass
        .max(generalisation)
        .max(probe)
        .saturating_add(probe.saturating_mul(history_copies));
    let bytes = persistent.saturating_add(one_at_a_time);
    let largest = parts
        .iter()
        .max_by_key(|part| part.bytes)
        .expect("the estimate has parts");
    // the first factor is the part's own size option: it wins ties (e.g. every option at its
    // default under a tiny limit)
    let mut dominant = &largest.factors[0];
    for f in &largest.factors[1..] {
        if f.1 > dominant.1 {
            dominant = f;
        }
    }
    let dominant = dominant.0.clone();
    Estimate {
        bytes,
        dominant,
        what: largest.what,
    }
}

/// The peak memory of `rnnlab gradients` with its probe under the BPTT schedule `memory`: the
/// model (f64 weights, gradients and the two copies written to `model.safetensors`: `8·N·4`) and
/// the probe term of the module documentation (the training batch's term with P sequences in
/// f64), with `model` (a saved model's architecture) in place of the config's when given.
pub fn estimate_gradients(
    config: &TrainConfig,
    task: &Task,
    model: Option<&ModelSpec>,
    memory: BpttMemory,
) -> Estimate {
    let net = model.map_or_else(|| task_net(config, task), spec_net);
    let t = task.steps() as u128;
    let positions = task.loss_steps().len() as u128;
    let p = config.probe_size as u128;
    let widest = net.layers.iter().map(|l| l.1).max().unwrap_or(0);
    let hidden = ("hidden", widest as f64 / 64.0);
    let length = ("length", ratio(task.spec().length, 20.0));
    let model_bytes = net.params().saturating_mul(32);
    let probe_bytes = probe_cache_bytes(&net, p, t, positions, memory);
    let (what, factors) = if model_bytes > probe_bytes {
        (
            "the parameters and their gradients",
            vec![hidden, ("layers", net.layer_count() as f64)],
        )
    } else {
        (
            "the gradient probe's f64 caches",
            vec![
                ("probe-size", ratio(config.probe_size, 32.0)),
                length,
                hidden,
            ],
        )
    };
    let mut dominant = factors[0];
    for f in &factors[1..] {
        if f.1 > dominant.1 {
            dominant = *f;
        }
    }
    Estimate {
        bytes: PROCESS_BASE
            .saturating_add(model_bytes)
            .saturating_add(probe_bytes),
        dominant: dominant.0.to_string(),
        what,
    }
}

/// Bytes of a probe of `p` sequences under `memory`, in f64: what the training batch's term
/// counts for B = P, plus the norms and rows the report keeps per step (Jacobian norms of
/// [`crate::analysis::gradient_report::JACOBIAN_SEQUENCES`] sequences and one row per layer).
fn probe_cache_bytes(net: &Net, p: u128, t: u128, positions: u128, memory: BpttMemory) -> u128 {
    let per_step = product(&[net.layer_count(), ROW_BYTES.saturating_add(64)]);
    train_bytes(net, p, t, positions, 8, memory).saturating_add(product(&[t, per_step]))
}

/// The schedule of `rnnlab gradients`' probe: `config.bptt_memory` (full, sqrt, or a byte budget
/// for the probe's caches: full when they fit it, else ⌈√T⌉ segments), and `auto` full while the
/// whole report fits `limit`, else ⌈√T⌉ segments. A budget below the ⌈√T⌉ schedule's caches is
/// refused naming `bptt-memory`.
pub fn gradients_schedule(
    config: &TrainConfig,
    task: &Task,
    model: Option<&ModelSpec>,
    limit: u64,
) -> Result<BpttMemory> {
    let net = model.map_or_else(|| task_net(config, task), spec_net);
    let (p, t) = (config.probe_size as u128, task.steps() as u128);
    let positions = task.loss_steps().len() as u128;
    let sqrt = BpttMemory::sqrt(task.steps());
    let caches = |m: BpttMemory| probe_cache_bytes(&net, p, t, positions, m);
    Ok(match config.bptt_memory {
        BpttMemorySetting::Full => BpttMemory::Full,
        BpttMemorySetting::Sqrt => sqrt,
        BpttMemorySetting::Budget(budget) => {
            if caches(BpttMemory::Full) <= u128::from(budget) {
                BpttMemory::Full
            } else if caches(sqrt) <= u128::from(budget) {
                sqrt
            } else {
                return Err(Error::invalid(
                    "bptt-memory",
                    format!(
                        "{budget} bytes is below what the probe needs for length {} with segments of sqrt(T) steps; the smallest budget that works is {} ({} bytes)",
                        task.spec().length,
                        gib(caches(sqrt)),
                        caches(sqrt)
                    ),
                ));
            }
        }
        BpttMemorySetting::Auto => {
            if estimate_gradients(config, task, model, BpttMemory::Full).bytes <= u128::from(limit)
            {
                BpttMemory::Full
            } else {
                sqrt
            }
        }
    })
}

/// Refuses a `rnnlab gradients` run above `limit` (None: the default), before anything is
/// generated: the task as [`check_config`] finds it, the saved model's architecture if given.
/// Returns the probe's BPTT schedule ([`gradients_schedule`]).
pub fn check_gradients(
    config: &TrainConfig,
    model: Option<&ModelSpec>,
    limit: Option<u64>,
) -> Result<BpttMemory> {
    let task = config_task(config)?;
    let limit = memory_limit(limit);
    let memory = gradients_schedule(config, &task, model, limit)?;
    estimate_gradients(config, &task, model, memory).check(limit)?;
    Ok(memory)
}

/// Refuses a run of `config` whose estimate is above `limit` (None: the default limit). The task
/// comes from `config.task`, or from the header of the `config.data` file (an error in that task
/// reads as `data check` reports it; a file that cannot be read is left to the loader); the error
/// names the option to lower. Call it before anything is generated or created.
pub fn check_config(config: &TrainConfig, limit: Option<u64>) -> Result<()> {
    let task = config_task(config)?;
    let limit = memory_limit(limit.or(config.max_memory));
    let memory = resolve_bptt_memory(config, &task, limit)?;
    estimate_run_with(config, &task, memory).check(limit)
}

/// The task of `config`: its `data` file's (read from the header alone), else `config.task`.
fn config_task(config: &TrainConfig) -> Result<Task> {
    match &config.data {
        Some(path) => match dataset_task(path) {
            Ok(spec) => Task::new(spec).map_err(|e| Error::bad_file(path, format!("task: {e}"))),
            Err(_) => Task::new(config.task.clone()),
        },
        None => Task::new(config.task.clone()),
    }
}

/// The peak memory of `rnnlab data generate`: `count` sequences and the dataset file's text.
/// Per step: the sequence `q` bytes, and the text: for tokens the longest input name and the
/// longest class name (at least `None`) with quotes and separators, for real vectors 24 bytes per
/// value.
pub fn estimate_dataset(task: &Task, count: usize) -> Estimate {
    let name_len = |v: Option<&crate::tasks::Vocabulary>| {
        v.map_or(0, |v| v.names().iter().map(String::len).max().unwrap_or(0)) as u128
    };
    let (seq, inputs_text) = match task.input_kind() {
        InputKind::Tokens { .. } => (8u128, name_len(task.input_vocabulary()) + 4),
        InputKind::Dense { width } => {
            let w = width as u128;
            (w.saturating_mul(8).saturating_add(40), w.saturating_mul(24))
        }
    };
    let (target, targets_text) = match task.output_kind() {
        OutputKind::Classes { .. } => (16u128, name_len(task.class_vocabulary()).max(4) + 4),
        OutputKind::Values { width } => (24, (width as u128).saturating_mul(24).max(6)),
    };
    let per_step = seq + inputs_text + target + targets_text + 8;
    let bytes =
        product(&[count as u128, task.steps() as u128, per_step]).saturating_add(PROCESS_BASE);
    let dominant = if ratio(count, 1.0) >= ratio(task.spec().length, 100.0) {
        "count"
    } else {
        "length"
    };
    Estimate {
        bytes,
        dominant: dominant.to_string(),
        what: "the sequences and the file's text",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{TaskKind, TaskSpec};

    fn config(f: impl FnOnce(&mut TrainConfig)) -> TrainConfig {
        let mut c = TrainConfig::default();
        f(&mut c);
        c
    }

    fn estimate(c: &TrainConfig) -> Estimate {
        estimate_run(c, &Task::new(c.task.clone()).unwrap())
    }

    #[test]
    fn threads_add_their_copies_of_the_cell_buffers_only() {
        use crate::cells::CellKind;
        use crate::parallel::with_threads;
        let lstm = config(|c| {
            c.model.cell = CellKind::Lstm;
            c.model.hidden = 256;
            c.task.length = 200;
        });
        let (one, two) = (estimate(&lstm), with_threads(2, || estimate(&lstm)));
        // per unit and step: 2 (c, tanh c) forward and 1 (dc) adjoint float more in training,
        // 2 more in evaluation
        let extra = two.bytes - one.bytes;
        let t = Task::new(lstm.task.clone()).unwrap().steps() as u128;
        let floats = t * 256 * (3 * lstm.batch as u128 + 2 * lstm.eval_size as u128);
        assert!(extra >= floats * 4, "{extra} < {}", floats * 4);
        // the vanilla RNN keeps nothing of its own: the same estimate
        let rnn = config(|c| c.model.cell = CellKind::Rnn);
        assert_eq!(estimate(&rnn), with_threads(4, || estimate(&rnn)));
    }

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("512mb").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5K").unwrap(), 1536);
        assert_eq!(parse_size("1000000").unwrap(), 1_000_000);
        for bad in [
            "",
            "G",
            "4X",
            "-1G",
            "0",
            "0.1",
            "1e3",
            "99999999999T",
            "4 G B",
        ] {
            let err = parse_size(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid max-memory:"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_default_run_is_small_and_the_limit_is_half_the_memory() {
        let e = estimate(&TrainConfig::default());
        assert!(e.bytes > PROCESS_BASE && e.bytes < 64 * MIB, "{e:?}");
        let physical = physical_memory();
        assert_eq!(
            memory_limit(None),
            physical.map_or(FALLBACK_LIMIT, |m| m / 2)
        );
        assert_eq!(memory_limit(Some(7)), 7);
    }

    #[test]
    fn the_estimate_grows_with_every_size_and_names_the_dominant_option() {
        let base = estimate(&TrainConfig::default()).bytes;
        let cases: [(&str, TrainConfig); 8] = [
            ("hidden", config(|c| c.model.hidden = 1_000_000)),
            ("layers", config(|c| c.model.layers = 1_000_000_000)),
            (
                "widths",
                config(|c| c.model.widths = Some(vec![64, 2_000_000])),
            ),
            // full BPTT: checkpointed, even a million steps stays below 100 GiB
            (
                "length",
                config(|c| {
                    c.task.length = 1_000_000;
                    c.bptt_memory = BpttMemorySetting::Full;
                }),
            ),
            ("batch", config(|c| c.batch = 100_000_000)),
            ("eval-size", config(|c| c.eval_size = 100_000_000_000)),
            ("probe-size", config(|c| c.probe_size = 10_000_000)),
            ("steps", config(|c| c.steps = usize::MAX)),
        ];
        for (name, c) in cases {
            let e = estimate(&c);
            assert!(e.bytes > 100 * GIB && e.bytes > base, "{name}: {e:?}");
            assert_eq!(e.dominant, name, "{e:?}");
            let err = e.check(4 << 30).unwrap_err();
            assert!(err.is_input_error());
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("invalid {name}: needs an estimated "))
                    && text.contains("above the limit of 4.0 GiB; raise it with --max-memory"),
                "{text}"
            );
        }
        // f64 doubles the float arrays (the f64 probe kept small, since it is f64 either way)
        let f64_run = estimate(&config(|c| {
            c.precision = Precision::F64;
            c.task.length = 1000;
            c.probe_size = 1;
        }));
        let f32_run = estimate(&config(|c| {
            c.task.length = 1000;
            c.probe_size = 1;
        }));
        assert!(
            f64_run.bytes > f32_run.bytes + f32_run.bytes / 3,
            "{f64_run:?} {f32_run:?}"
        );
    }

    #[test]
    fn absurd_numbers_saturate_instead_of_overflowing() {
        let c = config(|c| {
            c.model.hidden = usize::MAX;
            c.model.layers = usize::MAX;
            c.batch = usize::MAX;
            c.eval_size = usize::MAX;
            c.probe_size = usize::MAX;
            c.steps = usize::MAX;
            c.probe_every = 1;
        });
        let e = estimate(&c);
        assert_eq!(e.bytes, u128::MAX);
        assert!(e.check(u64::MAX).is_err());
        assert!(gib(e.bytes).ends_with("e29 GiB"), "{}", gib(e.bytes));
    }

    #[test]
    fn the_cell_and_the_task_change_the_estimate() {
        let rnn = estimate(&config(|c| c.model.cell = CellKind::Rnn)).bytes;
        let gru = estimate(&config(|c| c.model.cell = CellKind::Gru)).bytes;
        let lstm = estimate(&TrainConfig::default()).bytes;
        assert!(rnn < gru && gru < lstm, "{rnn} {gru} {lstm}");
        let adding = config(|c| c.task = TaskSpec::new(TaskKind::Adding, 20));
        assert!(estimate(&adding).bytes != lstm);
    }

    #[test]
    fn gradients_count_the_probe_and_a_saved_models_widths() {
        use crate::network::{InputKind as NetInput, OutputKind as NetOutput};
        let c = TrainConfig::default();
        let task = Task::new(c.task.clone()).unwrap();
        let alone = estimate_gradients(&c, &task, None, BpttMemory::Full);
        assert!(alone.bytes < estimate_run(&c, &task).bytes, "{alone:?}");
        assert!(alone.check(64 << 20).is_ok());
        let mut spec = c.model_spec(&task).unwrap();
        assert_eq!(
            estimate_gradients(&c, &task, Some(&spec), BpttMemory::Full),
            alone
        );
        spec.hidden = vec![64, 100_000];
        let saved = estimate_gradients(&c, &task, Some(&spec), BpttMemory::Full);
        assert_eq!(saved.dominant, "hidden");
        assert!(saved.check(4 << 30).is_err(), "{saved:?}");
        let dense = ModelSpec::new(
            CellKind::Rnn,
            NetInput::Dense { width: 2 },
            8,
            1,
            NetOutput::Values { width: 1 },
        );
        let adding = Task::new(TaskSpec::new(TaskKind::Adding, 1000)).unwrap();
        let big_probe = config(|c| c.probe_size = 1_000_000);
        let e = estimate_gradients(&big_probe, &adding, Some(&dense), BpttMemory::Full);
        assert_eq!(e.dominant, "probe-size");
        assert!(e.bytes > 10 * GIB, "{e:?}");
    }

    #[test]
    fn datasets_are_bounded() {
        let task = Task::new(TaskSpec::new(TaskKind::Copy, 100)).unwrap();
        let small = estimate_dataset(&task, 1000);
        assert!(small.check(1 << 30).is_ok(), "{small:?}");
        let huge = estimate_dataset(&task, 100_000_000_000);
        assert_eq!(huge.dominant, "count");
        assert!(huge.check(1 << 40).is_err());
        let adding = Task::new(TaskSpec::new(TaskKind::Adding, 1_000_000)).unwrap();
        assert_eq!(estimate_dataset(&adding, 10).dominant, "length");
        assert!(estimate_dataset(&adding, usize::MAX).bytes > u128::from(u64::MAX));
    }
}
