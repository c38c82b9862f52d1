//! Training runs with subnormals flushed to zero (src/float_env.rs), on the calling thread only
//! while the library works: a caller's own arithmetic keeps IEEE subnormals.

use rnnlab::float_env::FloatEnv;
use rnnlab::train::{MetricRow, RunData, TrainConfig, TrainObserver};

/// Records, at every metric row, whether the training thread flushes subnormals.
struct Environment(Vec<bool>);
impl TrainObserver for Environment {
    fn on_metric(&mut self, _row: &MetricRow) -> rnnlab::Result<()> {
        self.0.push(FloatEnv::current().flushes_subnormals());
        Ok(())
    }
}

#[test]
fn training_flushes_subnormals_and_leaves_the_caller_as_it_was() {
    let flushing_target = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));
    let before = FloatEnv::current();
    assert!(
        !before.flushes_subnormals(),
        "a test thread starts with IEEE subnormals"
    );
    let mut config = TrainConfig::default();
    config.task.length = 6;
    config.model.hidden = 8;
    config.steps = 4;
    config.eval_every = 2;
    config.eval_size = 4;
    config.probe_every = 0;
    let data = RunData::prepare(&mut config).unwrap();
    let mut seen = Environment(Vec::new());
    rnnlab::train::train(&config, &data, &mut seen).unwrap();
    assert!(!seen.0.is_empty());
    assert!(seen.0.iter().all(|&f| f == flushing_target), "{:?}", seen.0);
    assert_eq!(FloatEnv::current(), before);
    let halved = std::hint::black_box(f32::MIN_POSITIVE) * std::hint::black_box(0.5f32);
    assert!(halved > 0.0, "the caller's subnormals survive the run");
}
