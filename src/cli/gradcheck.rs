//! `rnnlab gradcheck`: finite-difference proof of the backward passes.

use clap::Args;
use rnnlab::gradcheck::{check_case, standard_cases, truncated_cases, TOLERANCE};
use rnnlab::{Activation, CellKind};

use super::CheckFailed;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  rnnlab gradcheck                      # every configuration\n  rnnlab gradcheck --cell rnn --activation sigmoid\n  rnnlab gradcheck --cell lstm,gru"
)]
pub struct GradcheckArgs {
    /// Cells to check (comma list of registered cell names, as for `rnnlab train --cell`); all by default.
    #[arg(long, value_delimiter = ',')]
    cell: Vec<CellKind>,
    /// Activations of the cells that take one (rnn, exprnn, lru; comma list of tanh, sigmoid, relu); all by default.
    #[arg(long, value_delimiter = ',')]
    activation: Vec<Activation>,
    /// Seed of the random weights, inputs and targets.
    #[arg(long, default_value_t = 7, allow_negative_numbers = true)]
    seed: u64,
}

pub fn run(args: GradcheckArgs) -> anyhow::Result<()> {
    let cells = if args.cell.is_empty() {
        CellKind::REGISTERED.to_vec()
    } else {
        args.cell
    };
    let activations = if args.activation.is_empty() {
        Activation::ALL.to_vec()
    } else {
        args.activation
    };
    let mut cases = standard_cases(&cells, &activations);
    cases.extend(truncated_cases(&cells, &activations));
    outln!("max relative error per tensor (fourth-order central differences in f64; tolerance {TOLERANCE:e})");
    let (mut tensors, mut failed, mut worst) = (0, Vec::new(), (0.0f64, String::new()));
    for case in &cases {
        let report = check_case(case, args.seed)?;
        let verdict = if report.passed() { "ok" } else { "FAIL" };
        outln!("{verdict:<4} {case}");
        for t in &report.tensors {
            outln!(
                "       {:<22} {:>10.3e}   (largest |gradient| {:.3e})",
                t.name,
                t.max_rel_error,
                t.max_abs_grad
            );
            tensors += 1;
            if t.max_rel_error >= worst.0 {
                worst = (t.max_rel_error, format!("{} in {case}", t.name));
            }
        }
        if !report.passed() {
            failed.push(case.to_string());
        }
    }
    outln!(
        "{} configurations, {tensors} tensors: worst {:.3e} ({}); {} failed",
        cases.len(),
        worst.0,
        worst.1,
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CheckFailed(format!(
            "gradient check above tolerance in {} configuration(s): {}",
            failed.len(),
            failed.join("; ")
        ))
        .into())
    }
}
