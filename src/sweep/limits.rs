//! A sweep's resources, refused before anything runs: its run count (at most [`MAX_RUNS`]), each
//! run's memory estimate ([`crate::resources`]) and the estimate of the runs that may run at the
//! same time. The sweep floor's use of the resources floor, kept here so that resources imports
//! nothing from the sweep.

use super::experiment::{MAX_RUNS, VARIANT_AXIS};
use super::{Experiment, RunSpec};
use crate::error::{Error, Result};
use crate::resources::{estimate_run, gib, memory_limit, PROCESS_BASE};
use crate::tasks::Task;

/// Refuses a sweep up front when it holds more than [`MAX_RUNS`] runs, when any run is above the
/// limit (the error names the run: `run hidden=1000000,seed=0`), or when the `jobs` largest runs
/// together are (they may run at the same time; the error names `jobs`).
pub fn check_sweep(exp: &Experiment, jobs: usize, limit: Option<u64>) -> Result<()> {
    check_grid(exp)?;
    let limit = memory_limit(limit);
    let mut sizes = Vec::new();
    for run in exp.runs()? {
        sizes.push(check_run(&run, limit)?);
    }
    let parallel = jobs.min(sizes.len());
    let together = together(&sizes, jobs);
    if together > u128::from(limit) {
        return Err(Error::invalid(
            "jobs",
            format!(
                "{parallel} runs at a time need an estimated {}, above the limit of {}; lower --jobs or raise --max-memory",
                gib(together),
                gib(u128::from(limit))
            ),
        ));
    }
    Ok(())
}

/// What the `jobs` largest of the runs estimated at `sizes` bytes need when they run at the same
/// time in one process (the process's own base counted once).
pub fn together(sizes: &[u128], jobs: usize) -> u128 {
    let mut sizes = sizes.to_vec();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes[..jobs.min(sizes.len())]
        .iter()
        .fold(0u128, |sum, &b| {
            sum.saturating_add(b.saturating_sub(PROCESS_BASE))
        })
        .saturating_add(PROCESS_BASE)
}

/// Every run's estimate in bytes at the calling thread's thread count, in grid order, with the
/// run's id; a run whose task cannot be built is an error naming it.
pub fn run_estimates(exp: &Experiment) -> Result<Vec<(String, u128)>> {
    check_grid(exp)?;
    exp.runs()?
        .iter()
        .map(|run| Ok((run.id(), check_run(run, u64::MAX)?)))
        .collect()
}

/// The run's estimate in bytes, or an error naming the run.
fn check_run(run: &RunSpec, limit: u64) -> Result<u128> {
    let named = |e: Error| Error::invalid(format!("run {}", run.id()), e.to_string());
    let task = Task::new(run.config.task.clone()).map_err(named)?;
    let estimate = estimate_run(&run.config, &task);
    estimate.check(limit).map_err(named)?;
    Ok(estimate.bytes)
}

/// Refuses a grid of more than [`MAX_RUNS`] runs, counted without building it.
pub fn check_grid(exp: &Experiment) -> Result<()> {
    let mut runs: u128 = 1;
    for axis in exp.axes() {
        let values = if axis == VARIANT_AXIS {
            exp.variants.len()
        } else {
            exp.grid.get(axis).map_or(1, Vec::len)
        };
        runs = runs.saturating_mul(values as u128);
    }
    check_run_count("grid", runs)
}

/// Refuses more than [`MAX_RUNS`] runs (`option`: `seeds` for the `--seeds` count alone, `grid`
/// for a whole grid).
pub fn check_run_count(option: &str, runs: u128) -> Result<()> {
    if runs > u128::from(MAX_RUNS) {
        return Err(Error::invalid(
            option,
            format!("{runs} runs; a sweep holds at most {MAX_RUNS} (split it into experiments)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_are_bounded() {
        assert!(check_run_count("grid", u128::from(MAX_RUNS)).is_ok());
        let err = check_run_count("grid", u128::from(MAX_RUNS) + 1)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid grid: 100001 runs"), "{err}");
    }
}
