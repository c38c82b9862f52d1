//! The training loop as the algorithm reads: [`TrainLoop::start`] measures the untrained network,
//! then every [`TrainLoop::step`] draws a batch, runs forward and backward, clips and updates
//! (keeping the last finite weights), evaluates, records learning over time, probes the gradient
//! and decides whether to stop; [`TrainLoop::finish`] takes the last measurements and writes the
//! summary. Everything the loop carries from step to step is a field of [`TrainLoop`].
//!
//! The order of the observer's calls and of the random draws is the contract: the same seed gives
//! the same run, bit for bit.

use ndarray::NdFloat;
use ndarray_rand::rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

use super::config::TrainConfig;
use super::metadata::RunMetadata;
use super::trainer::{
    accuracy_by_distance, all_finite, derived_seed, evaluate, length_generalisation, probe_batch,
    FileLengths, IntoTrained, MetricRow, Progress, RunData, RunSummary, TrainObserver,
    TrainOutcome, STREAM_BATCHES,
};
use crate::analysis::gradient_report::{probe_report, GradientProbe};
use crate::analysis::history::{history_passes, measure_history, HistoryPoint};
use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::network::{Bptt, Network, Params, Workspace};
use crate::optim::{Optimizer, StepReport};
use crate::tasks::{LossWeighting, Sequence, Solved, Task};

/// What a step's update did.
enum Update {
    Done(StepReport),
    /// The step diverged; `grad_norm` is the global norm of its gradient (after any clipping).
    Diverged {
        grad_norm: f64,
    },
}

/// A training run in progress: the network and optimiser, the fixed batches it is measured on,
/// and the loop's state.
pub struct TrainLoop<'a, F: NdFloat> {
    config: &'a TrainConfig,
    data: &'a RunData,
    started: Instant,
    metadata: RunMetadata,
    net: Network<F>,
    opt: Optimizer<F>,
    bptt: Bptt,
    eval_batch: Batch<F>,
    probe_batch: Batch<f64>,
    probe_step: usize,
    solved_rule: Solved,
    rng: ChaCha8Rng,
    /// Forward caches and adjoints, allocated once, not per batch.
    workspace: Workspace<F>,
    history_workspace: Workspace<f64>,
    history_every: usize,

    metrics: Vec<MetricRow>,
    probes: Vec<GradientProbe>,
    history: Vec<HistoryPoint>,
    /// The latest evaluation (loss, accuracy).
    eval: (f64, f64),
    /// The first step of the latest unbroken run of evaluations that met the solved rule: with
    /// early stopping the step the run stopped at; without it (--no-early-stop) the step from
    /// which every evaluation to the end met the rule, not the last step trained.
    solved_since: Option<usize>,
    stopped: bool,
    diverged: bool,
    /// The weights of the last step that left them finite: what a diverged run keeps.
    last_finite: Params<F>,
    step: usize,
    clipped_steps: usize,
    last_probe: usize,
    last_history: usize,
}

impl<'a, F: NdFloat> TrainLoop<'a, F>
where
    Network<F>: IntoTrained,
{
    /// The initialised network, its optimiser and the fixed batches; nothing measured yet.
    pub fn new(config: &'a TrainConfig, data: &'a RunData) -> Result<Self> {
        let started = Instant::now();
        // the calling thread's setting (`crate::parallel`); results do not depend on it
        let metadata = RunMetadata::now(crate::parallel::threads());
        let task = &data.task;
        let spec = config.model_spec(task)?;
        let net = Network::<F>::init(spec, &config.resolved_init(task), config.seed)?;
        let opt = Optimizer::new(config.optimizer, &net.params)?;
        let last_finite = net.params.clone();
        // checkpointed BPTT when the run would not fit otherwise (the same bits either way)
        let memory = crate::resources::resolve_bptt_memory(
            config,
            task,
            crate::resources::memory_limit(config.max_memory),
        )?;
        Ok(TrainLoop {
            config,
            data,
            started,
            metadata,
            opt,
            bptt: config.bptt_mode(),
            eval_batch: task.collate(&data.eval, LossWeighting::MeanOverSteps)?,
            probe_batch: probe_batch(task, &data.probe)?,
            probe_step: task.probe_step(),
            solved_rule: task.solved(),
            rng: ChaCha8Rng::seed_from_u64(derived_seed(config.seed, STREAM_BATCHES)),
            // forward caches and adjoints allocated once, not per batch
            workspace: Workspace::with_memory(memory),
            // the f64 probes are checkpointed when training is
            history_workspace: Workspace::with_memory(crate::resources::probe_schedule(
                memory,
                task.steps(),
            )),
            history_every: config.history_interval(history_passes(task, &data.probe)),
            metrics: Vec::new(),
            probes: Vec::new(),
            history: Vec::new(),
            eval: (f64::NAN, f64::NAN),
            solved_since: None,
            stopped: false,
            diverged: false,
            last_finite,
            net,
            step: 0,
            clipped_steps: 0,
            last_probe: 0,
            last_history: 0,
        })
    }

    fn task(&self) -> &'a Task {
        &self.data.task
    }

    /// Step 0: the gradient report, the evaluation and the learning-over-time point of the
    /// untrained network. A task already solved at initialisation stops here with early stopping.
    pub fn start(&mut self, observer: &mut dyn TrainObserver) -> Result<()> {
        self.probe(observer)?;
        self.eval = evaluate(&self.net, self.task(), &self.eval_batch)?;
        if self.history_every > 0 {
            self.record_history(Some(self.eval), observer)?;
        }
        self.emit_metric(
            MetricRow {
                step: 0,
                train_loss: None,
                eval_loss: Some(self.eval.0),
                eval_accuracy: Some(self.eval.1),
                grad_norm: None,
                clipped: None,
            },
            observer,
        )?;
        self.solved_since = self
            .solved_rule
            .is_met(self.eval.0, self.eval.1)
            .then_some(0);
        self.stopped = self.config.stop_when_solved && self.solved_since.is_some();
        Ok(())
    }

    /// Whether another step is to be taken.
    pub fn running(&self) -> bool {
        !self.stopped && !self.diverged && self.step < self.config.steps
    }

    /// One training step: batch, forward/backward, clip and update, then evaluate, record, report
    /// progress and probe as the intervals say. A step that diverges is recorded and ends the run.
    pub fn step(&mut self, observer: &mut dyn TrainObserver) -> Result<()> {
        self.step += 1;
        let batch = self.next_batch()?;
        let (train_loss, update) = self.forward_backward_update(&batch)?;
        let report = match update {
            Update::Done(report) => report,
            Update::Diverged { grad_norm } => {
                return self.diverged_step(train_loss, grad_norm, observer)
            }
        };
        self.clipped_steps += usize::from(report.clipped);
        let mut row = MetricRow {
            step: self.step,
            train_loss: Some(train_loss),
            eval_loss: None,
            eval_accuracy: None,
            grad_norm: Some(report.grad_norm),
            clipped: Some(report.clipped),
        };
        if self.step.is_multiple_of(self.config.eval_every) || self.step == self.config.steps {
            self.evaluate_and_check_solved(&mut row)?;
        }
        if self.history_every > 0 && self.step.is_multiple_of(self.history_every) {
            // the step's own evaluation when it had one (no extra one: it would cost more than
            // the history point)
            self.record_history(row.eval_loss.zip(row.eval_accuracy), observer)?;
        }
        self.emit_metric(row, observer)?;
        observer.on_progress(&Progress {
            step: self.step,
            total: self.config.steps,
            train_loss,
            eval_accuracy: Some(self.eval.1),
            clip_rate: self.clipped_steps as f64 / self.step as f64,
        });
        if self.config.probe_every > 0 && self.step.is_multiple_of(self.config.probe_every) {
            self.probe(observer)?;
        }
        Ok(())
    }

    /// A step whose loss, gradient or update was not finite: its row, and the end of the run.
    fn diverged_step(
        &mut self,
        train_loss: f64,
        grad_norm: f64,
        observer: &mut dyn TrainObserver,
    ) -> Result<()> {
        self.diverged = true;
        self.emit_metric(
            MetricRow {
                step: self.step,
                train_loss: Some(train_loss),
                eval_loss: None,
                eval_accuracy: None,
                grad_norm: Some(grad_norm),
                clipped: None,
            },
            observer,
        )
    }

    /// The next training batch: fresh sequences from the task, or sequences drawn with
    /// replacement from the training file.
    fn next_batch(&mut self) -> Result<Batch<F>> {
        let (config, task) = (self.config, self.task());
        let sequences: Vec<Sequence> = match &self.data.train {
            None => task.generate_with(&mut self.rng, config.batch),
            Some(all) => (0..config.batch)
                .map(|_| all[self.rng.random_range(0..all.len())].clone())
                .collect(),
        };
        task.collate(&sequences, LossWeighting::MeanOverSteps)
    }

    /// Forward and backward through time on `batch`, then the clipped update (the optimiser
    /// clips and updates in one call, and leaves the weights untouched when the gradient is not
    /// finite). Returns the training loss and what the update did: [`Update::Diverged`] for a
    /// non-finite loss or gradient or an update that overflowed the weights, which are then the
    /// last finite ones (the loop's checkpoint).
    fn forward_backward_update(&mut self, batch: &Batch<F>) -> Result<(f64, Update)> {
        let evaluation = self
            .net
            .evaluate_with(&mut self.workspace, batch, None, self.bptt)?;
        let train_loss = evaluation.loss;
        let grads = &mut evaluation.backward.grads;
        if !train_loss.is_finite() {
            let grad_norm = grads.global_norm();
            return Ok((train_loss, Update::Diverged { grad_norm }));
        }
        match self.opt.step(&mut self.net.params, grads, self.config.clip) {
            // an update can overflow finite weights: then the run ends on the last finite ones
            Ok(r) if all_finite(&self.net.params) => {
                self.last_finite.clone_from(&self.net.params);
                Ok((train_loss, Update::Done(r)))
            }
            Ok(_) | Err(Error::Diverged { .. }) => {
                self.net.params.clone_from(&self.last_finite);
                let grad_norm = grads.global_norm();
                Ok((train_loss, Update::Diverged { grad_norm }))
            }
            Err(e) => Err(e),
        }
    }

    /// Evaluates on the held-out set into `row` and updates the solved state (early stopping).
    fn evaluate_and_check_solved(&mut self, row: &mut MetricRow) -> Result<()> {
        self.eval = evaluate(&self.net, self.task(), &self.eval_batch)?;
        row.eval_loss = Some(self.eval.0);
        row.eval_accuracy = Some(self.eval.1);
        if self.solved_rule.is_met(self.eval.0, self.eval.1) {
            self.solved_since.get_or_insert(self.step);
            self.stopped = self.config.stop_when_solved;
        } else {
            self.solved_since = None;
        }
        Ok(())
    }

    /// The gradient report and the signal at the task's sources at this step, in f64.
    fn probe(&mut self, observer: &mut dyn TrainObserver) -> Result<()> {
        let net = self.net.cast::<f64>();
        let memory = self.history_workspace.memory();
        let probe = probe_report(
            &net,
            self.task(),
            &self.data.probe,
            &self.probe_batch,
            self.step,
            memory,
        )?;
        observer.on_probe(&probe)?;
        self.probes.push(probe);
        self.last_probe = self.step;
        Ok(())
    }

    /// The learning-over-time point: profile and signal at the source in f64, `eval` as measured.
    fn record_history(
        &mut self,
        eval: Option<(f64, f64)>,
        observer: &mut dyn TrainObserver,
    ) -> Result<()> {
        let data = self.data;
        let point = measure_history(
            &self.net.cast::<f64>(),
            &mut self.history_workspace,
            &self.probe_batch,
            self.probe_step,
            &data.task,
            &data.probe,
            self.step,
            eval,
        )?;
        observer.on_history(&point)?;
        self.history.push(point);
        self.last_history = self.step;
        Ok(())
    }

    fn emit_metric(&mut self, row: MetricRow, observer: &mut dyn TrainObserver) -> Result<()> {
        observer.on_metric(&row)?;
        self.metrics.push(row);
        Ok(())
    }

    /// After the last step: the final evaluation (when the last step had none), the last history
    /// point and probe (unless the last step took them), validation, and the summary.
    pub fn finish(mut self, observer: &mut dyn TrainObserver) -> Result<TrainOutcome> {
        let task = self.task();
        if self.diverged || self.metrics.last().is_some_and(|m| m.eval_loss.is_none()) {
            self.eval = evaluate(&self.net, task, &self.eval_batch)?;
        }
        if self.history_every > 0 && self.step > 0 && self.last_history != self.step {
            self.record_history(Some(self.eval), observer)?;
        }
        if self.step > 0 && self.last_probe != self.step {
            self.probe(observer)?;
        }
        let (eval_loss, eval_acc) = self.eval;
        let solved =
            self.stopped || (!self.diverged && self.solved_rule.is_met(eval_loss, eval_acc));
        // validation only at the end: it never steers training, it only ranks tuned options
        let val_batch: Batch<F> = task.collate(&self.data.val, LossWeighting::MeanOverSteps)?;
        let (val_loss, val_acc) = evaluate(&self.net, task, &val_batch)?;
        let baseline = task.baseline();
        let (first, last) = (self.probes.first(), self.probes.last());
        let step = self.step;
        let summary = RunSummary {
            length_generalisation: length_generalisation(
                &self.net.cast::<f64>(),
                task,
                self.config,
            )?,
            metadata: self.metadata,
            rnnlab_version: env!("CARGO_PKG_VERSION").to_string(),
            final_eval_loss: eval_loss,
            final_eval_accuracy: eval_acc,
            final_val_loss: Some(val_loss),
            final_val_accuracy: Some(val_acc),
            validation_hold_out: self.data.hold_out.clone(),
            baseline_loss: baseline.loss,
            baseline_accuracy: baseline.accuracy,
            solved,
            solved_at_step: solved.then(|| self.solved_since.unwrap_or(step)),
            diverged: self.diverged,
            steps: step,
            wall_seconds: self.started.elapsed().as_secs_f64(),
            clip_rate: if step > 0 {
                self.clipped_steps as f64 / step as f64
            } else {
                0.0
            },
            gradients_init: first.map(|p| p.summaries.clone()).unwrap_or_default(),
            gradients_final: last.map(|p| p.summaries.clone()).unwrap_or_default(),
            diagnostics_init: first.map(|p| p.diagnostics.clone()).unwrap_or_default(),
            diagnostics_final: last.map(|p| p.diagnostics.clone()).unwrap_or_default(),
            source_signal_init: first.map(|p| p.source_signal.clone()).unwrap_or_default(),
            source_signal_final: last.map(|p| p.source_signal.clone()).unwrap_or_default(),
            update_share_init: first.map(|p| p.update_shares.clone()).unwrap_or_default(),
            update_share_final: last.map(|p| p.update_shares.clone()).unwrap_or_default(),
            theory_init: first.map(|p| p.theory.clone()).unwrap_or_default(),
            theory_final: last.map(|p| p.theory.clone()).unwrap_or_default(),
            accuracy_by_distance: accuracy_by_distance(&self.net, task, &self.data.eval)?,
        };
        Ok(TrainOutcome {
            summary,
            network: self.net.into_trained(),
            probes: self.probes,
            history: self.history,
            history_every: self.history_every,
            metrics: self.metrics,
            task: task.clone(),
            probe_sequences: self.data.probe.clone(),
            train_file_lengths: self.data.train.as_deref().and_then(FileLengths::of),
            eval_sequences: self.data.eval.len(),
        })
    }
}
