//! Proof that every backward pass is exact: central differences in f64 against the analytic
//! gradients of every parameter tensor, the inputs and the initial state.

use rnnlab::gradcheck::{
    case_setup, check_case, compare, standard_cases, truncated_objective, GradcheckCase, TOLERANCE,
};
use rnnlab::{Activation, Bptt, CellKind};

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
    // lstm and gru without norm; then the variants (1 and 2 layers × 2 masks each): lstm without
    // a forget gate, with and without chrono, and lstm and gru with chrono
    assert_eq!(cases.len(), 3 * (16 + 1) + 2 * (8 + 1) + 4 * 4);
    for case in &cases {
        assert_passes(case);
    }
}

fn truncated_cases() -> Vec<GradcheckCase> {
    rnnlab::gradcheck::truncated_cases(&CellKind::ALL, &[Activation::Tanh])
}

#[test]
fn truncated_bptt_is_the_exact_gradient_of_its_definition() {
    // the definition: chunks [0,k), [k,2k), ... each run from a start state held constant
    for case in truncated_cases() {
        assert_passes(&case);
    }
}

#[test]
fn truncated_bptt_differs_from_full_when_the_window_is_short_and_equals_it_when_it_covers_the_sequence(
) {
    for mut case in truncated_cases() {
        let (net, batch, state) = case_setup(&case, 3).unwrap();
        let full = net
            .evaluate(&batch, Some(&state), Bptt::Full)
            .unwrap()
            .backward
            .grads;
        let short = net
            .evaluate(&batch, Some(&state), case.bptt)
            .unwrap()
            .backward
            .grads;
        assert_ne!(
            full.layers[0].weight_hh, short.layers[0].weight_hh,
            "{case}"
        );
        for window in [case.steps, case.steps + 4] {
            case.bptt = Bptt::Truncated(window);
            let covered = net
                .evaluate(&batch, Some(&state), case.bptt)
                .unwrap()
                .backward
                .grads;
            assert_eq!(full, covered, "{case}");
        }
    }
}

#[test]
fn the_truncated_objective_is_the_full_loss_when_nothing_is_cut() {
    let case = &truncated_cases()[0];
    let (net, batch, state) = case_setup(case, 1).unwrap();
    let full = net.loss(&batch, Some(&state)).unwrap();
    let one_chunk = truncated_objective(
        &net,
        &batch,
        &state,
        std::slice::from_ref(&state),
        case.steps,
    )
    .unwrap();
    assert_eq!(full, one_chunk);
}

#[test]
fn the_checker_catches_a_wrong_gradient() {
    // a gradient off by 1e-4 in one entry must fail the tolerance
    let mut analytic = vec![0.3, -0.2, 0.05];
    let numeric = analytic.clone();
    assert_eq!(compare("w".into(), &analytic, &numeric).max_rel_error, 0.0);
    analytic[2] += 1e-4;
    assert!(compare("w".into(), &analytic, &numeric).max_rel_error > TOLERANCE);
    assert!(compare("w".into(), &[f64::NAN], &[1.0])
        .max_rel_error
        .is_infinite());
}
