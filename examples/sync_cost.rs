//! The synchronisation cost of one parallel region (`rnnlab::parallel::run`: hand N−1 jobs to the
//! calling thread's pool workers, run one, wait for the others):
//! `cargo run --release --example sync_cost`. A training step of one layer has about six regions
//! (forward and backward time loops, the weight-gradient products, the one-hot gather and
//! scatter), so this cost × 6 is the overhead per step.

use rnnlab::parallel;
use std::time::Instant;

fn main() {
    for threads in [2, 3, 4, 8] {
        let rounds = 2000;
        let start = Instant::now();
        for _ in 0..rounds {
            parallel::run((0..threads).collect(), |i: usize| {
                std::hint::black_box(i);
            });
        }
        let us = start.elapsed().as_secs_f64() / rounds as f64 * 1e6;
        println!("{threads} threads: {us:.1} µs per fork/join");
    }
}
