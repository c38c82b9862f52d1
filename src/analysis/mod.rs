//! Analyses of a trained or freshly initialised network on a probe batch: how much error signal
//! reaches step t from the loss (the gradient report), and the quantities that explain why it
//! shrinks or grows with distance (the diagnostics).

pub mod diagnostics;
pub mod gradient_report;
pub mod history;
pub mod stats;

pub use diagnostics::{
    diagnose, diagnostics_csv_rows, LayerDiagnostics, StepJacobian, DIAGNOSTICS_CSV_HEADER,
};
