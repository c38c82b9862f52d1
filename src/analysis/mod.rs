//! Analyses of a trained or freshly initialised network on a probe batch: quantities that explain
//! why the error signal reaching step t shrinks (or grows) with the distance from the loss.

pub mod diagnostics;

pub use diagnostics::{
    diagnose, diagnostics_csv_rows, LayerDiagnostics, StepJacobian, DIAGNOSTICS_CSV_HEADER,
};
