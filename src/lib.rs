//! rnnlab: why do recurrent networks forget? Vanilla RNN, LSTM and GRU cells with exact
//! backpropagation through time, and the measurements that show gradients vanish or explode.

pub mod batch;
pub mod error;
pub mod tasks;

pub use batch::{Batch, Inputs, Targets};
pub use error::{Error, Result};
