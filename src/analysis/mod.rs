//! Measurements on trained or freshly initialised networks.

pub mod gradient_report;
