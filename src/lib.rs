//! rnnlab: why do recurrent networks forget? Vanilla RNN, LSTM and GRU cells with exact
//! backpropagation through time, and the measurements that show gradients vanish or explode.
//!
//! Dimension letters used throughout: T time, B batch (one row per sequence), I input width,
//! H hidden width, G gates (rnn 1, lstm 4, gru 3), O output width, V vocabulary.

pub mod analysis;
pub mod batch;
pub mod bench;
pub mod cells;
pub mod error;
pub mod float_env;
pub mod gradcheck;
pub mod init;
pub mod model_io;
pub mod network;
pub mod optim;
pub mod outdir;
pub mod parallel;
pub mod sweep;
pub mod tasks;
pub mod train;

pub use batch::{Batch, Inputs, Targets};
pub use cells::{Activation, CellKind};
pub use error::{Error, Result};
pub use init::{InitScheme, InitSpec, WeightInit};
pub use network::{Bptt, ModelSpec, Network, State};
pub mod report;
pub mod resources;
