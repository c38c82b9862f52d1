//! The synchronisation cost of one parallel region (`rnnlab::parallel::run`: fork N−1 scoped
//! threads, join them): `cargo run --release --example sync_cost`. A training step of one layer
//! has six regions (forward time loop, backward time loop, three weight-gradient products and the
//! input projection of a second layer), so this cost × 6 is the overhead per step.

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
