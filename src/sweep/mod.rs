//! Sweeps: grids of training runs in parallel, shards and merging, and the comparison report.

pub mod compare;
pub mod cost;
pub mod experiment;
pub mod groups;
pub mod limits;
pub mod lit;
pub mod merge;
pub mod plots;
pub mod report;
pub mod results;
pub mod runner;
pub mod search;
pub mod search_curves;
pub mod slurm;
pub mod status;
pub mod tables;
pub mod tuning;

pub use experiment::{Experiment, GridValue, RunSpec, Shard};
pub use results::{ResultRow, ResultsTable};
pub use runner::{run_sweep, QuietSweep, SweepObserver, SweepOutcome, SweepSettings};
