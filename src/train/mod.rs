//! Training runs: configuration, the training loop and the run directory.

pub mod config;
pub mod eval;
pub mod gradients;
pub mod metadata;
pub mod options;
pub mod plots;
pub mod run_dir;
pub mod run_files;
pub mod run_report;
pub mod train_loop;
pub mod trainer;
pub mod watch;

pub use config::{BpttMemorySetting, ModelOptions, Precision, TrainConfig};
pub use trainer::{
    train, MetricRow, NoObserver, Progress, RunData, RunSummary, TrainObserver, TrainOutcome,
};
