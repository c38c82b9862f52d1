//! Proof that every backward pass is exact: central differences in f64 against the analytic
//! gradients of every parameter tensor, the inputs and the initial state.

use rnnlab::gradcheck::{
    case_setup, check_case, compare, standard_cases, truncated_objective, GradcheckCase, LossSteps,
    TOLERANCE,
};
use rnnlab::network::{InputKind, OutputKind};
use rnnlab::{Activation, Bptt, CellKind, ModelSpec};

fn assert_passes(case: &GradcheckCase) {
    let report = check_case(case, 7).unwrap();
    for t in &report.tensors {
        assert!(
            t.max_rel_error < TOLERANCE,
            "{case}: {} relative error {:.3e}",
            t.name,
            t.max_rel_error
        );
        assert!(
            t.max_abs_grad > 1e-9,
            "{case}: {} has no gradient to check ({:e})",
            t.name,
            t.max_abs_grad
        );
    }
}

#[test]
fn every_cell_layer_norm_residual_and_mask_combination_matches_finite_differences() {
    let cases = standard_cases(&CellKind::ALL, &Activation::ALL);
    // 3 activations × 2 depths × 2 norms × 2 masks × 2 losses + 1 token case, per activation;
    // lstm and gru without norm
    assert_eq!(cases.len(), 3 * (16 + 1) + 2 * (8 + 1));
    for case in &cases {
        assert_passes(case);
    }
}
