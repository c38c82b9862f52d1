//! The gradient-norm-versus-distance report: how much error signal from the loss at the task's
//! probe step reaches each earlier timestep.
//!
//! For a probe batch whose loss is each sequence's own loss ℓ_b at the probe step p (loss weight 1
//! there, 0 elsewhere, so row b of every adjoint is exactly ∂ℓ_b/∂·), per layer and timestep t ≤ p:
//! - `grad_h(t) = mean_b ‖∂ℓ_b/∂h_t‖₂`,
//! - `grad_c(t) = mean_b ‖∂ℓ_b/∂c_t‖₂` (LSTM),
//! - `grad_w(t) = mean_b ‖∂ℓ_b/∂a_t ⊗ h_{t−1}‖_F = mean_b ‖∂ℓ_b/∂a_t‖₂ ‖h_{t−1}‖₂`, the norm of
//!   timestep t's (rank-one) contribution to ∂ℓ_b/∂W_hh, with a_t the recurrent pre-activation,
//!
//! at distance d = p − t. Everything is computed in f64, so values stay exact down to ~1e-300
//! (f64's normal range ends at 2.2e-308; below it precision thins out and 0 is reached at 5e-324).

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostics::{
    add_gate_statistics, jacobian_norms, layer_diagnostics, LayerDiagnostics,
};
use crate::batch::Batch;
use crate::cells::{Activation, CellKind, GateStatistics};
use crate::error::{Error, Result};
use crate::network::{Backward, BpttMemory, ForwardCache, Network, SegmentObserver, Workspace};
use crate::tasks::{Dependency, LossWeighting, Sequence, SequenceInputs, Task, TaskKind};
use std::ops::Range;

/// One row of `gradients.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientRow {
    pub step: usize,
    pub layer: usize,
    pub timestep: usize,
    pub distance: usize,
    pub grad_h: f64,
    pub grad_c: Option<f64>,
    pub grad_w: f64,
}

pub const GRADIENTS_CSV_HEADER: &str = "step,layer,timestep,distance,grad_h,grad_c,grad_w";

impl GradientRow {
    /// Floats in Rust's shortest round-trip form (`1.5e-87`), so the file holds the exact values.
    pub fn csv(&self) -> String {
        let c = self.grad_c.map(|v| format!("{v:e}")).unwrap_or_default();
        format!(
            "{},{},{},{},{:e},{},{:e}",
            self.step, self.layer, self.timestep, self.distance, self.grad_h, c, self.grad_w
        )
    }
}

/// How fast the signal decays with distance, for one layer of one probe.
///
/// The fit is a least-squares line of ln grad_h against distance over distances ≥ 1 with finite
/// grad_h > 0. It says when it does not apply ([`decay_summary`] states the rules): then
/// `fit_warning` holds the reason, and ρ and the half-life are either fitted only on the range
/// where the profile falls (`fit_from`–`fit_to`) or None.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecaySummary {
    pub layer: usize,
    /// ρ = exp(slope) of the fit over `fit_from`–`fit_to`. None when fewer than two points exist or
    /// the fit is rejected (see `fit_warning`).
    pub decay_per_step: Option<f64>,
    /// ln 2 / (−ln ρ) steps; infinite when ρ ≥ 1.
    pub half_life: Option<f64>,
    /// The first distance where grad_h / grad_h(0) < 1e-3; None if the signal never falls that far.
    pub horizon: Option<usize>,
    /// The farthest distance in the report and grad_h there relative to distance 0.
    pub farthest_distance: usize,
    pub ratio_at_farthest: f64,
    /// R² of the log-linear fit over `fit_from`–`fit_to` (1 for a perfectly flat profile). None in
    /// summaries written before fit quality was reported, or when no fit was possible.
    #[serde(default)]
    pub fit_r_squared: Option<f64>,
    /// The distance range the fit was made on (inclusive).
    #[serde(default)]
    pub fit_from: Option<usize>,
    #[serde(default)]
    pub fit_to: Option<usize>,
    /// Why the profile is not one exponential, e.g. `not exponential: falls to 2.6e-4 at distance
    /// 12, then rises to 3.9e-3 at distance 21`. None when the fit applies over every distance.
    #[serde(default)]
    pub fit_warning: Option<String>,
}

/// The signal at the dependency's source for one sequence and one of its dependencies:
/// ‖∂ℓ_q/∂h_src‖ / ‖∂ℓ_q/∂h_q‖ with ℓ_q the sequence's loss at the target step q alone.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSignalRow {
    pub step: usize,
    pub layer: usize,
    /// Index of the sequence in the probe batch.
    pub sequence: usize,
    pub target_step: usize,
    pub source_step: usize,
    pub ratio: f64,
}

pub const SOURCE_SIGNAL_CSV_HEADER: &str = "step,layer,sequence,target_step,source_step,ratio";

impl SourceSignalRow {
    pub fn csv(&self) -> String {
        format!(
            "{},{},{},{},{},{:e}",
            self.step, self.layer, self.sequence, self.target_step, self.source_step, self.ratio
        )
    }
}

/// The signal at the source of one layer, averaged: each sequence's value is the mean ratio over
/// its dependencies; `mean` and `geometric_mean` are over sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSignal {
    pub layer: usize,
    pub sequences: usize,
    /// Dependencies measured in all (copy: 10 per sequence, adding: 2, recall and tanaka: 1).
    pub dependencies: usize,
    pub mean: f64,
    /// Geometric mean of the per-sequence values that are finite and > 0; None if none is.
    pub geometric_mean: Option<f64>,
}

/// Where the update of W_hh comes from, for one layer of one probe: from grad_w(d), the norm of
/// the contribution made at distance d, `share(d) = Σ_{d' ≥ d} grad_w(d') / Σ_{d'} grad_w(d')`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateShare {
    pub layer: usize,
    /// The effective learning horizon: the smallest distance D with Σ_{d ≤ D} grad_w(d) ≥ 99% of
    /// the sum, so distances beyond D make less than 1% of it. None when the sum is 0 or not finite.
    pub learning_horizon: Option<usize>,
    pub farthest_distance: usize,
    /// The far half: distances ≥ ⌈farthest/2⌉ (the farthest distance's own contribution is 0 when
    /// it reads the zero initial state, so the far half says more).
    pub far_half_from: usize,
    /// share(far_half_from): the part of the update made in the far half.
    pub share_far_half: f64,
}

/// The theory beside the measurement, for one layer of one probe (Pascanu et al. 2013).
///
/// With J_t = ∂h_t/∂h_{t−1} the layer's step Jacobian, `∂ℓ/∂h_{p−d} = J_{p−d+1}ᵀ ⋯ J_pᵀ ∂ℓ/∂h_p`
/// (one layer, h → h path), so the signal ratio at distance d is at most `Π_{t=p−d+1}^{p} ‖J_t‖₂`.
/// For a vanilla RNN `‖J_t‖₂ ≤ γ·σ_max(W_hh)` with γ the bound on φ' (tanh, relu 1; sigmoid 1/4),
/// and γ·σ_max < 1 is sufficient for the signal to vanish exponentially.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TheoryCheck {
    pub layer: usize,
    /// The distance the product runs to (the farthest in the report, p).
    pub distance: usize,
    /// `Π ‖J_t‖₂` over the path to `distance`: the geometric mean over the first
    /// [`JACOBIAN_SEQUENCES`] probe sequences of each one's product of power-iteration estimates.
    /// A bound for the measured ratio only where the h → h path is the only one: one layer, no
    /// LSTM (whose J holds c_{t−1} fixed).
    pub jacobian_product: f64,
    /// The measured grad_h(distance) / grad_h(0), for comparison.
    pub measured_ratio: f64,
    /// Whether the product bounds the measured ratio: a single layer whose state is h alone (not
    /// LSTM, whose cell path J leaves out; not stacked, where the loss also reaches h_t from above).
    #[serde(default)]
    pub is_bound: bool,
    /// Vanilla RNN without layer norm or residual connections: γ and σ_max(W_hh) (power iteration
    /// on W_hhᵀW_hh); None otherwise.
    pub gamma: Option<f64>,
    pub sigma_max: Option<f64>,
    /// γ·σ_max < 1: the sufficient condition for vanishing holds.
    pub vanishing_sufficient: Option<bool>,
    /// The same theory at every distance d = 0..=`distance` (ascending): the curves the run's
    /// `theory.svg` draws and `theory.csv` holds. Not in `summary.ron`, which keeps one number
    /// per probe; a summary read back has none.
    #[serde(skip)]
    pub curve: Vec<TheoryPoint>,
}

/// The theory at one distance d from the probe step p (see [`TheoryCheck`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TheoryPoint {
    pub distance: usize,
    /// `Π_{t=p−d+1}^{p} ‖J_t‖₂` (1 at d = 0): the geometric mean over the first
    /// [`JACOBIAN_SEQUENCES`] probe sequences of each one's product, like
    /// [`TheoryCheck::jacobian_product`] (which is this value at d = p).
    pub jacobian_product: f64,
    /// (γ·σ_max(W_hh))^d for a vanilla RNN, else None.
    pub vanilla_bound: Option<f64>,
    /// grad_h(d) / grad_h(0), measured.
    pub measured_ratio: f64,
}

impl TheoryPoint {
    /// One row of `theory.csv` ([`THEORY_CSV_HEADER`]) for probe `step` and `layer`.
    pub fn csv(&self, step: usize, layer: usize) -> String {
        let bound = self
            .vanilla_bound
            .map(|v| format!("{v:e}"))
            .unwrap_or_default();
        format!(
            "{step},{layer},{},{:e},{bound},{:e}",
            self.distance, self.jacobian_product, self.measured_ratio
        )
    }
}

/// `theory.csv`: per probe, layer and distance, the product of step-Jacobian norms from the loss
/// step back to that distance, (γ·σ_max)^d (vanilla RNN; empty otherwise) and the measured ratio.
pub const THEORY_CSV_HEADER: &str =
    "step,layer,distance,jacobian_product,gamma_sigma_max_pow_d,measured_ratio";

/// The share of the update the learning horizon covers.
pub const UPDATE_SHARE: f64 = 0.99;

/// The report of one probe: rows for every layer and timestep up to the probe step, the decay
/// summary and the diagnostics of every layer, the signal at the task's sources (when measured
/// with [`source_signal`]) and where the W_hh update comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientProbe {
    pub step: usize,
    pub rows: Vec<GradientRow>,
    pub summaries: Vec<DecaySummary>,
    pub diagnostics: Vec<LayerDiagnostics>,
    /// Per sequence and dependency; empty when the probe was not given the task's sequences.
    pub source_rows: Vec<SourceSignalRow>,
    /// Per layer, averaged over sequences; empty like `source_rows`.
    pub source_signal: Vec<SourceSignal>,
    pub update_shares: Vec<UpdateShare>,
    pub theory: Vec<TheoryCheck>,
}

/// Sequences of the probe batch whose step Jacobians enter the spectral-norm diagnostic, and the
/// power iterations per Jacobian: enough for two or three significant digits at modest cost.
pub const JACOBIAN_SEQUENCES: usize = 4;
pub const JACOBIAN_ITERATIONS: usize = 20;

/// The horizon threshold: grad_h relative to distance 0.
pub const HORIZON_RATIO: f64 = 1e-3;

/// Runs forward and backward on `batch` (whose loss weights must be 1 at `probe_step` and 0
/// elsewhere) and measures every layer's adjoints. `step` labels the rows.
pub fn probe_gradients(
    net: &Network<f64>,
    batch: &Batch<f64>,
    probe_step: usize,
    step: usize,
) -> Result<GradientProbe> {
    probe_gradients_with(net, batch, probe_step, step, BpttMemory::Full)
}

/// [`probe_gradients`] with the BPTT schedule `memory`: checkpointed, only one segment's caches
/// and adjoints exist at a time, so a probe at T = 100,000 fits in memory. Every schedule gives
/// the same report, bit for bit.
pub fn probe_gradients_with(
    net: &Network<f64>,
    batch: &Batch<f64>,
    probe_step: usize,
    step: usize,
    memory: BpttMemory,
) -> Result<GradientProbe> {
    let pass = ProbePass::run(
        net,
        &mut Workspace::with_memory(memory),
        batch,
        probe_step,
        step,
        true,
        BTreeSet::new(),
    )?;
    Ok(pass.into_probe(net))
}

/// The report of [`probe_gradients_with`] and the signal at the task's sources
/// ([`GradientProbe::with_source_signal`]) on `sequences` (the probe batch `batch`'s), taking the
/// source adjoints from the probe's own pass where the source batch is the probe batch (tanaka,
/// recall, adding): the same bits as measuring them apart, in one pass fewer.
pub fn probe_report(
    net: &Network<f64>,
    task: &Task,
    sequences: &[Sequence],
    batch: &Batch<f64>,
    step: usize,
    memory: BpttMemory,
) -> Result<GradientProbe> {
    let wanted = source_steps(task, sequences);
    let pass = ProbePass::run(
        net,
        &mut Workspace::with_memory(memory),
        batch,
        task.probe_step(),
        step,
        true,
        wanted,
    )?;
    let known = pass.norms.clone();
    let mut probe = pass.into_probe(net);
    probe.source_rows =
        source_signal_in(net, task, sequences, step, memory, Some((batch, &known)))?;
    probe.source_signal = summarise_source_signal(&probe.source_rows);
    Ok(probe)
}

/// One layer's ‖∂ℓ/∂h_t‖₂ of sequence b, by (t, b).
pub type AdjointNorms = BTreeMap<(usize, usize), f64>;

/// What one pass over a probe batch collects, segment by segment ([`SegmentObserver`]): the
/// rows (unless `rows_wanted` is false), and with `diagnostics` the gate statistics and step-Jacobian norms of every step, and
/// ‖∂ℓ/∂h_t‖ of sequence b for the `(t, b)` in `wanted`.
struct ProbePass<'a> {
    net: &'a Network<f64>,
    probe_step: usize,
    step: usize,
    size: usize,
    rows_wanted: bool,
    diagnostics: bool,
    /// Per layer, added up step by step in order.
    gate_stats: Vec<GateStatistics>,
    /// Per layer and step t (in order): the estimates of ‖J_t‖₂ of the first sequences.
    jacobian_norms: Vec<Vec<ndarray::Array1<f64>>>,
    /// Per layer, latest step first.
    rows: Vec<Vec<GradientRow>>,
    wanted: BTreeSet<(usize, usize)>,
    /// Per layer: ‖∂ℓ/∂h_t‖₂ of sequence b at each wanted (t, b).
    norms: Vec<AdjointNorms>,
}

impl<'a> ProbePass<'a> {
    fn run(
        net: &'a Network<f64>,
        workspace: &mut Workspace<f64>,
        batch: &Batch<f64>,
        probe_step: usize,
        step: usize,
        diagnostics: bool,
        wanted: BTreeSet<(usize, usize)>,
    ) -> Result<Self> {
        let (steps, size) = batch.shape();
        if probe_step >= steps {
            return Err(Error::invalid(
                "probe step",
                format!("{probe_step} is past the sequence's {steps} steps"),
            ));
        }
        let layers = net.spec.layers();
        let mut pass = ProbePass {
            net,
            probe_step,
            step,
            size,
            rows_wanted: true,
            diagnostics,
            gate_stats: vec![GateStatistics::default(); layers],
            jacobian_norms: vec![Vec::new(); layers],
            rows: vec![Vec::new(); layers],
            wanted,
            norms: vec![BTreeMap::new(); layers],
        };
        net.evaluate_observed_with(workspace, batch, &mut pass)?;
        Ok(pass)
    }

    /// Only the norms at `wanted`, from a batch whose loss is at any steps.
    fn norms(
        net: &'a Network<f64>,
        memory: BpttMemory,
        batch: &Batch<f64>,
        wanted: BTreeSet<(usize, usize)>,
    ) -> Result<Vec<AdjointNorms>> {
        let layers = net.spec.layers();
        let mut pass = ProbePass {
            net,
            probe_step: 0,
            step: 0,
            size: batch.shape().1,
            rows_wanted: false,
            diagnostics: false,
            gate_stats: Vec::new(),
            jacobian_norms: Vec::new(),
            rows: vec![Vec::new(); layers],
            wanted,
            norms: vec![BTreeMap::new(); layers],
        };
        net.evaluate_observed_with(&mut Workspace::with_memory(memory), batch, &mut pass)?;
        Ok(pass.norms)
    }

    /// The rows of every layer, each layer's latest step first.
    fn rows(&self) -> Vec<GradientRow> {
        self.rows.iter().flatten().cloned().collect()
    }

    fn into_probe(self, net: &Network<f64>) -> GradientProbe {
        let rows = self.rows();
        let profile = |l: usize, value: fn(&GradientRow) -> f64| -> Vec<(usize, f64)> {
            self.rows[l]
                .iter()
                .map(|r| (r.distance, value(r)))
                .collect()
        };
        let layers = self.rows.len();
        let summaries: Vec<DecaySummary> = (0..layers)
            .map(|l| decay_summary(l, &profile(l, |r| r.grad_h)))
            .collect();
        let update_shares = (0..layers)
            .map(|l| update_share(l, &profile(l, |r| r.grad_w)))
            .collect();
        let diagnostics = (0..layers)
            .map(|l| layer_diagnostics(l, &self.gate_stats[l], &self.jacobian_norms[l]))
            .collect();
        let theory = (0..layers)
            .map(|l| {
                theory_check(
                    net,
                    &self.jacobian_norms[l],
                    l,
                    self.probe_step,
                    &profile(l, |r| r.grad_h),
                )
            })
            .collect();
        GradientProbe {
            step: self.step,
            rows,
            summaries,
            diagnostics,
            source_rows: Vec::new(),
            source_signal: Vec::new(),
            update_shares,
            theory,
        }
    }
}

impl SegmentObserver<f64> for ProbePass<'_> {
    fn forward(&mut self, _range: Range<usize>, forward: &ForwardCache<f64>) -> Result<()> {
        if self.diagnostics {
            for l in 0..self.net.spec.layers() {
                add_gate_statistics(self.net, forward, l, &mut self.gate_stats[l]);
                self.jacobian_norms[l].extend(jacobian_norms(
                    self.net,
                    forward,
                    l,
                    JACOBIAN_SEQUENCES,
                    JACOBIAN_ITERATIONS,
                ));
            }
        }
        Ok(())
    }

    fn backward(
        &mut self,
        range: Range<usize>,
        forward: &ForwardCache<f64>,
        backward: &Backward<f64>,
    ) -> Result<()> {
        let a = range.start;
        for (l, adj) in backward.layers.iter().enumerate() {
            let h_all = &forward.layers[l].h;
            let d_rec = adj.recurrent_pre();
            let rows_end = if self.rows_wanted {
                range.end.min(self.probe_step + 1)
            } else {
                a
            };
            for t in (a..rows_end).rev() {
                let i = t - a;
                let grad_h = mean_row_norm(adj.dh.index_axis(Axis(0), i));
                let grad_c = adj.dc().map(|dc| mean_row_norm(dc.index_axis(Axis(0), i)));
                let d_t = d_rec.index_axis(Axis(0), i);
                let h_prev = h_all.index_axis(Axis(0), i);
                let grad_w = d_t
                    .rows()
                    .into_iter()
                    .zip(h_prev.rows())
                    .map(|(d, h)| l2_norm(d.iter().copied()) * l2_norm(h.iter().copied()))
                    .sum::<f64>()
                    / self.size as f64;
                self.rows[l].push(GradientRow {
                    step: self.step,
                    layer: l,
                    timestep: t,
                    distance: self.probe_step - t,
                    grad_h,
                    grad_c,
                    grad_w,
                });
            }
            for &(t, b) in self.wanted.range((a, 0)..(range.end, 0)) {
                let norm = l2_norm(adj.dh.slice(ndarray::s![t - a, b, ..]).iter().copied());
                self.norms[l].insert((t, b), norm);
            }
        }
        Ok(())
    }
}

/// The rows of [`probe_gradients`] alone (no summaries, diagnostics or theory): one forward and
/// backward pass, the same numbers bit for bit. What the learning-over-time probes measure.
pub fn gradient_rows(
    net: &Network<f64>,
    batch: &Batch<f64>,
    probe_step: usize,
    step: usize,
) -> Result<Vec<GradientRow>> {
    let pass = ProbePass::run(
        net,
        &mut Workspace::new(),
        batch,
        probe_step,
        step,
        false,
        BTreeSet::new(),
    )?;
    Ok(pass.rows())
}

/// [`gradient_rows`] and the signal at the sources of `sequences` (the probe batch's), measured
/// in the buffers of `workspace` (kept from one call to the next, as a training loop keeps its
/// own) under its memory schedule; the source adjoints come from the same pass where the source
/// batch is the probe batch.
pub fn gradient_rows_in(
    net: &Network<f64>,
    workspace: &mut Workspace<f64>,
    batch: &Batch<f64>,
    task: &Task,
    sequences: &[Sequence],
    step: usize,
) -> Result<(Vec<GradientRow>, Vec<SourceSignalRow>)> {
    let pass = ProbePass::run(
        net,
        workspace,
        batch,
        task.probe_step(),
        step,
        false,
        source_steps(task, sequences),
    )?;
    let source = source_signal_in(
        net,
        task,
        sequences,
        step,
        workspace.memory(),
        Some((batch, &pass.norms)),
    )?;
    Ok((pass.rows(), source))
}

/// Power iterations for σ_max(W_hh).
pub const SIGMA_ITERATIONS: usize = 200;

/// The [`TheoryCheck`] of `layer`: the Jacobian norms of every step of the pass (`norms`, from
/// [`jacobian_norms`]) along the path from `probe_step` back to step 0, and the measured
/// `(distance, grad_h)` profile of the layer for the ratios.
fn theory_check(
    net: &Network<f64>,
    norms: &[ndarray::Array1<f64>],
    layer: usize,
    probe_step: usize,
    profile: &[(usize, f64)],
) -> TheoryCheck {
    let sequences = norms.first().map_or(1, |n| n.len());
    // ln ‖J_t‖₂ per step t = 1..=p (index t − 1) and sequence
    let log_norms: Vec<Vec<f64>> = (1..=probe_step)
        .map(|t| norms[t].iter().map(|n| n.ln()).collect())
        .collect();
    // the whole path summed from step 1 up, as the one number always was
    let mut log_product = vec![0.0; sequences];
    for step in &log_norms {
        for (acc, n) in log_product.iter_mut().zip(step) {
            *acc += n;
        }
    }
    let jacobian_product = (log_product.iter().sum::<f64>() / sequences as f64).exp();
    let at = |d: usize| profile.iter().find(|p| p.0 == d).map_or(f64::NAN, |p| p.1);
    let at_zero = at(0);
    let measured_ratio = at(probe_step) / at_zero;
    let spec = &net.spec;
    let vanilla = spec.cell == CellKind::Rnn && !spec.layer_norm && !spec.residual;
    let gamma = vanilla.then_some(match spec.activation {
        Activation::Sigmoid => 0.25,
        Activation::Tanh | Activation::Relu => 1.0,
    });
    let sigma_max = vanilla.then(|| spectral_norm(&net.params.layers[layer].weight_hh));
    let vanishing_sufficient = gamma.zip(sigma_max).map(|(g, s)| g * s < 1.0);
    // distance d: the steps p, p − 1, …, p − d + 1 from the loss back
    let mut suffix = vec![0.0; sequences];
    let mut curve = Vec::with_capacity(probe_step + 1);
    for d in 0..=probe_step {
        if d > 0 {
            for (acc, n) in suffix.iter_mut().zip(&log_norms[probe_step - d]) {
                *acc += n;
            }
        }
        curve.push(TheoryPoint {
            distance: d,
            jacobian_product: (suffix.iter().sum::<f64>() / sequences as f64).exp(),
            vanilla_bound: gamma.zip(sigma_max).map(|(g, s)| (g * s).powi(d as i32)),
            measured_ratio: at(d) / at_zero,
        });
    }
    TheoryCheck {
        layer,
        distance: probe_step,
        jacobian_product,
        measured_ratio,
        is_bound: spec.layers() == 1 && spec.cell != CellKind::Lstm,
        gamma,
        sigma_max,
        vanishing_sufficient,
        curve,
    }
}

/// The theory of one layer in words, for a report: whether Pascanu et al.'s sufficient condition
/// for vanishing (γ·σ_max(W_hh) < 1, vanilla RNNs) holds, and how the measured ratio stands to the
/// product of step-Jacobian norms over the distances of [`TheoryCheck::curve`].
pub fn theory_sentence(t: &TheoryCheck) -> String {
    let condition = match (t.gamma, t.sigma_max) {
        (Some(g), Some(s)) if g * s < 1.0 => format!(
            "γ·σ_max(W_hh) = {g} × {s:.4} = {:.4} < 1: Pascanu et al.'s sufficient condition for vanishing holds, so the signal must fall at least as fast as {:.4}^d.",
            g * s,
            g * s
        ),
        (Some(g), Some(s)) => format!(
            "γ·σ_max(W_hh) = {g} × {s:.4} = {:.4} ≥ 1: Pascanu et al.'s sufficient condition for vanishing does not hold (vanishing is then not ruled out, only not guaranteed).",
            g * s
        ),
        _ => "Pascanu et al.'s sufficient condition γ·σ_max(W_hh) < 1 is stated for a vanilla RNN, which this is not; only the product of step-Jacobian norms is drawn.".to_string(),
    };
    let compared: Vec<&TheoryPoint> = t
        .curve
        .iter()
        .filter(|c| {
            c.distance > 0 && c.measured_ratio.is_finite() && c.jacobian_product.is_finite()
        })
        .collect();
    let above = compared
        .iter()
        .filter(|c| c.measured_ratio > c.jacobian_product)
        .count();
    let product = if compared.is_empty() {
        String::new()
    } else if !t.is_bound {
        format!(
            " The product is not a bound here (the cell path or the layers above carry signal the step Jacobians leave out): the measured ratio is above it at {above} of {} distances.",
            compared.len()
        )
    } else {
        format!(
            " The measured ratio is above the product of step-Jacobian norms at {above} of {} distances (the product bounds it for a single sequence; the probe's mean over sequences may exceed the product's geometric mean over {} of them).",
            compared.len(),
            JACOBIAN_SEQUENCES
        )
    };
    format!("{condition}{product}")
}

/// σ_max of `w` by power iteration on wᵀw from the normalised all-ones vector.
pub fn spectral_norm(w: &Array2<f64>) -> f64 {
    let n = w.ncols();
    if n == 0 {
        return 0.0;
    }
    let mut v = ndarray::Array1::from_elem(n, 1.0 / (n as f64).sqrt());
    let mut sigma = 0.0;
    for _ in 0..SIGMA_ITERATIONS {
        let wv = w.dot(&v);
        sigma = l2_norm(wv.iter().copied());
        let wtwv = w.t().dot(&wv);
        let norm = l2_norm(wtwv.iter().copied());
        if norm == 0.0 || !norm.is_finite() {
            break;
        }
        v = wtwv / norm;
    }
    sigma.max(l2_norm(w.dot(&v).iter().copied()))
}

/// mean over rows of the row's Euclidean norm.
fn mean_row_norm(a: ndarray::ArrayView2<f64>) -> f64 {
    a.rows()
        .into_iter()
        .map(|r| l2_norm(r.iter().copied()))
        .sum::<f64>()
        / a.nrows().max(1) as f64
}

pub use crate::network::l2_norm;

/// A fit with R² below this is rejected (unless it is flat, see [`FLAT_RESIDUAL`]).
pub const FIT_MIN_R_SQUARED: f64 = 0.9;
/// A profile that falls by at least this factor to its minimum and rises again by at least this
/// factor after it is U-shaped, not exponential.
pub const RISE_FACTOR: f64 = 3.0;
/// A fit whose residuals in ln grad_h have a root mean square below this (every point within about
/// 10% of the line) is kept whatever its R²: a flat profile has R² near 0 but ρ ≈ 1 describes it.
pub const FLAT_RESIDUAL: f64 = 0.1;

/// The decay summary of `(distance, grad_h)` points (any order).
///
/// Rules, in order, over the fit points (distances ≥ 1 with finite grad_h > 0):
/// 1. U shape: with m the smallest fit point (at distance d_m), if grad_h before d_m (distance 0
///    included) reaches ≥ 3·m and grad_h after d_m reaches ≥ 3·m (its maximum Y at d′), the
///    profile is flagged `not exponential: falls to m at distance d_m, then rises to Y at distance
///    d′` and the fit is made only on distances ≤ d_m.
/// 2. Fit quality: if R² of the fit < 0.9 and its residual RMS ≥ 0.1 (in ln), ρ and the half-life
///    are None and the profile is flagged (`not exponential: R² 0.42 < 0.9 over distances 1–21`,
///    or rule 1's text followed by `; the fall over distances 1–12 fits with R² 0.85 < 0.9`).
pub fn decay_summary(layer: usize, profile: &[(usize, f64)]) -> DecaySummary {
    let mut points: Vec<(usize, f64)> = profile.to_vec();
    points.sort_by_key(|p| p.0);
    let at_zero = points
        .iter()
        .find(|p| p.0 == 0)
        .map(|p| p.1)
        .unwrap_or(f64::NAN);
    let mut fit_points: Vec<(usize, f64)> = points
        .iter()
        .copied()
        .filter(|(d, g)| *d >= 1 && g.is_finite() && *g > 0.0)
        .collect();
    let mut fit_warning = u_shape(&points, &fit_points).map(|(d_min, min, d_max, max)| {
        fit_points.retain(|p| p.0 <= d_min);
        format!(
            "not exponential: falls to {min:.2e} at distance {d_min}, then rises to {max:.2e} at distance {d_max}"
        )
    });
    let logs: Vec<(f64, f64)> = fit_points
        .iter()
        .map(|&(d, g)| (d as f64, g.ln()))
        .collect();
    let fit = log_linear_fit(&logs);
    let (fit_from, fit_to) = match (fit, fit_points.first(), fit_points.last()) {
        (Some(_), Some(a), Some(b)) => (Some(a.0), Some(b.0)),
        _ => (None, None),
    };
    let mut decay_per_step = fit.map(|f| f.slope.exp());
    if let (Some(f), Some(from), Some(to)) = (fit, fit_from, fit_to) {
        if f.r_squared < FIT_MIN_R_SQUARED && f.residual_rms >= FLAT_RESIDUAL {
            decay_per_step = None;
            fit_warning = Some(match fit_warning {
                Some(u) => format!(
                    "{u}; the fall over distances {from}–{to} fits with R² {:.2} < {FIT_MIN_R_SQUARED}",
                    f.r_squared
                ),
                None => format!(
                    "not exponential: R² {:.2} < {FIT_MIN_R_SQUARED} over distances {from}–{to}",
                    f.r_squared
                ),
            });
        }
    }
    let half_life = decay_per_step.map(|rho| {
        if rho >= 1.0 {
            f64::INFINITY
        } else {
            std::f64::consts::LN_2 / -rho.ln()
        }
    });
    let horizon = points
        .iter()
        .find(|(_, g)| *g / at_zero < HORIZON_RATIO)
        .map(|p| p.0);
    let (farthest_distance, far) = points.last().copied().unwrap_or((0, f64::NAN));
    DecaySummary {
        layer,
        decay_per_step,
        half_life,
        horizon,
        farthest_distance,
        ratio_at_farthest: far / at_zero,
        fit_r_squared: fit.map(|f| f.r_squared),
        fit_from,
        fit_to,
        fit_warning,
    }
}

/// Rule 1 of [`decay_summary`]: `(d_min, min, d_max, max)` when the profile falls by ≥ 3× to its
/// minimum and rises by ≥ 3× after it.
fn u_shape(
    points: &[(usize, f64)],
    fit_points: &[(usize, f64)],
) -> Option<(usize, f64, usize, f64)> {
    let &(d_min, min) = fit_points
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))?;
    let before = points
        .iter()
        .filter(|p| p.0 < d_min && p.1.is_finite())
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let &(d_max, max) = fit_points
        .iter()
        .filter(|p| p.0 > d_min)
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
    (before >= RISE_FACTOR * min && max >= RISE_FACTOR * min).then_some((d_min, min, d_max, max))
}

/// A least-squares line and how well it fits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    pub slope: f64,
    pub intercept: f64,
    /// 1 − SS_res / SS_tot; 1 when every y is equal (the line is exact).
    pub r_squared: f64,
    /// sqrt(SS_res / n).
    pub residual_rms: f64,
}

/// The least-squares line through `points`; None for fewer than two distinct x.
pub fn log_linear_fit(points: &[(f64, f64)]) -> Option<LineFit> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss_res: f64 = points
        .iter()
        .map(|p| (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    let r_squared = if syy > 0.0 { 1.0 - ss_res / syy } else { 1.0 };
    Some(LineFit {
        slope,
        intercept,
        r_squared,
        residual_rms: (ss_res / n).sqrt(),
    })
}

/// `(distance, share(distance))` for every distance of a `(distance, grad_w)` profile, ascending:
/// the share of Σ grad_w made at that distance or beyond (NaN when the sum is 0 or not finite).
pub fn update_share_curve(profile: &[(usize, f64)]) -> Vec<(usize, f64)> {
    let mut points: Vec<(usize, f64)> = profile.to_vec();
    points.sort_by_key(|p| p.0);
    let total: f64 = points.iter().map(|p| p.1).sum();
    let ok = total.is_finite() && total > 0.0;
    let mut beyond = total;
    points
        .iter()
        .map(|&(d, g)| {
            let share = if ok {
                (beyond / total).clamp(0.0, 1.0)
            } else {
                f64::NAN
            };
            beyond -= g;
            (d, share)
        })
        .collect()
}

/// The update share summary of a `(distance, grad_w)` profile (see [`UpdateShare`]).
pub fn update_share(layer: usize, profile: &[(usize, f64)]) -> UpdateShare {
    let mut points: Vec<(usize, f64)> = profile.to_vec();
    points.sort_by_key(|p| p.0);
    let total: f64 = points.iter().map(|p| p.1).sum();
    let curve = update_share_curve(&points);
    let learning_horizon = (total.is_finite() && total > 0.0)
        .then(|| {
            let mut within = 0.0;
            points.iter().find_map(|&(d, g)| {
                within += g;
                (within >= UPDATE_SHARE * total).then_some(d)
            })
        })
        .flatten();
    let farthest_distance = points.last().map_or(0, |p| p.0);
    let far_half_from = farthest_distance.div_ceil(2);
    let share_far_half = curve
        .iter()
        .find(|p| p.0 >= far_half_from)
        .map_or(f64::NAN, |p| p.1);
    UpdateShare {
        layer,
        learning_horizon,
        farthest_distance,
        far_half_from,
        share_far_half,
    }
}

/// The steps whose signal [`source_signal`] measures for `seq`: the task's dependencies, and for
/// adding both markers (the task names the first; the second, also read by the target, is added
/// here with the same target step).
pub fn signal_sources(task: &Task, seq: &Sequence) -> Vec<Dependency> {
    let mut deps = task.dependencies(seq);
    if task.kind() == TaskKind::Adding {
        if let SequenceInputs::Dense(rows) = &seq.inputs {
            let target = task.probe_step();
            for (t, row) in rows.iter().enumerate() {
                if row.get(1) == Some(&1.0) && !deps.iter().any(|d| d.evidence_step == t) {
                    deps.push(Dependency {
                        target_step: target,
                        evidence_step: t,
                    });
                }
            }
        }
    }
    deps
}

/// The signal at the source for every sequence, dependency and layer: for each target step q of
/// the dependencies, one backward pass with each sequence's loss at q alone (weight 1 there, 0
/// elsewhere), then `‖∂ℓ_q/∂h_src‖₂ / ‖∂ℓ_q/∂h_q‖₂` per sequence. `step` labels the rows.
pub fn source_signal(
    net: &Network<f64>,
    task: &Task,
    sequences: &[Sequence],
    step: usize,
) -> Result<Vec<SourceSignalRow>> {
    source_signal_in(net, task, sequences, step, BpttMemory::Full, None)
}

/// The `(step, sequence)` pairs whose ‖∂ℓ/∂h‖ the signal at the sources of `sequences` reads:
/// every dependency's source and target.
fn source_steps(task: &Task, sequences: &[Sequence]) -> BTreeSet<(usize, usize)> {
    sequences
        .iter()
        .enumerate()
        .flat_map(|(b, s)| {
            signal_sources(task, s)
                .into_iter()
                .flat_map(move |d| [(d.evidence_step, b), (d.target_step, b)])
        })
        .collect()
}

/// [`source_signal`] under the BPTT schedule `memory`, reusing `known`: a batch of the same
/// sequences with the norms a pass over it kept ([`ProbePass`], per layer). A target step whose
/// batch (inputs, targets and loss weights) equals the known one takes its norms instead of a
/// second forward and backward pass: for tanaka, recall and adding, whose every sequence has its
/// target at the probe step, the probe batch's pass is that pass. The rows are the same bits
/// either way, under every schedule.
pub fn source_signal_in(
    net: &Network<f64>,
    task: &Task,
    sequences: &[Sequence],
    step: usize,
    memory: BpttMemory,
    known: Option<(&Batch<f64>, &[AdjointNorms])>,
) -> Result<Vec<SourceSignalRow>> {
    if sequences.is_empty() {
        return Ok(Vec::new());
    }
    let mut batch: Batch<f64> = task.collate(sequences, LossWeighting::SumPerSequence)?;
    let deps: Vec<Vec<Dependency>> = sequences.iter().map(|s| signal_sources(task, s)).collect();
    let targets: BTreeSet<usize> = deps.iter().flatten().map(|d| d.target_step).collect();
    let mut rows = Vec::new();
    for &q in &targets {
        batch.loss_weight.fill(0.0);
        let mut wanted = BTreeSet::new();
        for (b, d) in deps.iter().enumerate() {
            for dep in d.iter().filter(|d| d.target_step == q) {
                batch.loss_weight[[q, b]] = 1.0;
                wanted.insert((q, b));
                wanted.insert((dep.evidence_step, b));
            }
        }
        let fresh;
        let norms = match known {
            Some((known_batch, norms))
                if *known_batch == batch
                    && norms
                        .iter()
                        .all(|n| wanted.iter().all(|k| n.contains_key(k))) =>
            {
                norms
            }
            _ => {
                fresh = ProbePass::norms(net, memory, &batch, wanted)?;
                &fresh[..]
            }
        };
        for (l, layer_norms) in norms.iter().enumerate() {
            let norm = |t: usize, b: usize| layer_norms[&(t, b)];
            for (b, d) in deps.iter().enumerate() {
                for dep in d.iter().filter(|d| d.target_step == q) {
                    rows.push(SourceSignalRow {
                        step,
                        layer: l,
                        sequence: b,
                        target_step: q,
                        source_step: dep.evidence_step,
                        ratio: norm(dep.evidence_step, b) / norm(q, b),
                    });
                }
            }
        }
    }
    rows.sort_by_key(|r| (r.layer, r.sequence, r.target_step, r.source_step));
    Ok(rows)
}

/// Per layer: the mean over sequences of each sequence's mean ratio, and their geometric mean.
pub fn summarise_source_signal(rows: &[SourceSignalRow]) -> Vec<SourceSignal> {
    let layers: BTreeSet<usize> = rows.iter().map(|r| r.layer).collect();
    layers
        .into_iter()
        .map(|layer| {
            let mut per_seq: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
            let mut dependencies = 0;
            for r in rows.iter().filter(|r| r.layer == layer) {
                let e = per_seq.entry(r.sequence).or_insert((0.0, 0));
                e.0 += r.ratio;
                e.1 += 1;
                dependencies += 1;
            }
            let values: Vec<f64> = per_seq.values().map(|(s, n)| s / *n as f64).collect();
            let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
            let logs: Vec<f64> = values
                .iter()
                .filter(|v| v.is_finite() && **v > 0.0)
                .map(|v| v.ln())
                .collect();
            let geometric_mean =
                (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp());
            SourceSignal {
                layer,
                sequences: values.len(),
                dependencies,
                mean,
                geometric_mean,
            }
        })
        .collect()
}

impl GradientProbe {
    /// Adds the signal at the task's sources, measured on `sequences` (the probe batch's).
    pub fn with_source_signal(
        mut self,
        net: &Network<f64>,
        task: &Task,
        sequences: &[Sequence],
    ) -> Result<GradientProbe> {
        self.source_rows = source_signal(net, task, sequences, self.step)?;
        self.source_signal = summarise_source_signal(&self.source_rows);
        Ok(self)
    }

    /// The rows of `theory.csv` for this probe (every layer, distances ascending).
    pub fn theory_csv_rows(&self) -> Vec<String> {
        self.theory
            .iter()
            .flat_map(|t| t.curve.iter().map(|p| p.csv(self.step, t.layer)))
            .collect()
    }

    /// `(layer, distance, share)` rows of `update_share.csv` for this probe.
    pub fn update_share_rows(&self) -> Vec<(usize, usize, f64)> {
        let layers: BTreeSet<usize> = self.rows.iter().map(|r| r.layer).collect();
        layers
            .into_iter()
            .flat_map(|l| {
                let profile: Vec<(usize, f64)> = self
                    .rows
                    .iter()
                    .filter(|r| r.layer == l)
                    .map(|r| (r.distance, r.grad_w))
                    .collect();
                update_share_curve(&profile)
                    .into_iter()
                    .map(move |(d, s)| (l, d, s))
            })
            .collect()
    }
}

pub const UPDATE_SHARE_CSV_HEADER: &str = "step,layer,distance,share_at_or_beyond";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l2_norm_survives_values_whose_squares_underflow_or_overflow() {
        let v = [3e-200, 4e-200];
        assert!((l2_norm(v.iter().copied()) / 5e-200 - 1.0).abs() < 1e-15);
        let v = [3e200, 4e200];
        assert!((l2_norm(v.iter().copied()) / 5e200 - 1.0).abs() < 1e-15);
        assert_eq!(l2_norm([0.0, 0.0].iter().copied()), 0.0);
        assert!(l2_norm([1.0, f64::NAN].iter().copied()).is_nan());
    }

    #[test]
    fn geometric_decay_gives_its_ratio_half_life_and_horizon() {
        let profile: Vec<(usize, f64)> =
            (0..40).map(|d| (d, 2.0 * 0.5f64.powi(d as i32))).collect();
        let s = decay_summary(0, &profile);
        assert!((s.decay_per_step.unwrap() - 0.5).abs() < 1e-12);
        assert!((s.half_life.unwrap() - 1.0).abs() < 1e-9);
        // 0.5^10 = 9.8e-4 is the first ratio below 1e-3
        assert_eq!(s.horizon, Some(10));
        assert_eq!(s.farthest_distance, 39);
        assert!((s.ratio_at_farthest - 0.5f64.powi(39)).abs() < 1e-25);
    }

    #[test]
    fn growth_has_infinite_half_life_and_no_horizon() {
        let profile: Vec<(usize, f64)> = (0..10).map(|d| (d, 1.1f64.powi(d as i32))).collect();
        let s = decay_summary(0, &profile);
        assert!(s.decay_per_step.unwrap() > 1.0);
        assert_eq!(s.half_life, Some(f64::INFINITY));
        assert_eq!(s.horizon, None);
    }

    #[test]
    fn zeros_and_non_finite_values_are_left_out_of_the_fit() {
        let profile = vec![(0, 1.0), (1, 0.1), (2, 0.0), (3, f64::NAN), (4, 1e-4)];
        let s = decay_summary(0, &profile);
        assert!((s.decay_per_step.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(decay_summary(0, &[(0, 1.0)]).decay_per_step, None);
    }
}
