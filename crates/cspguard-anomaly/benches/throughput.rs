//! Scorer throughput on one thread: `cargo bench -p cspguard-anomaly --bench throughput`.
//!
//! Scores a 2,000,000-point synthetic series (5-minute steps, a daily cycle, noise, a spike now and then) with
//! `Config::default()` and prints the best of 5 runs as points per second, plus the state size. A bench binary
//! (harness = false) rather than criterion: one number, no extra dependency.

use cspguard_anomaly::{Config, SeriesDetector};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then a short smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = if full { 2_000_000 } else { 20_000 };
    let mut z: u64 = 0x2545_F491_4F6C_DD1D;
    let points: Vec<(i64, f64)> = (0..n)
        .map(|i| {
            z ^= z << 13;
            z ^= z >> 7;
            z ^= z << 17;
            let noise = (z >> 11) as f64 / (1u64 << 53) as f64;
            let t = 1_396_310_400 + 300 * i as i64;
            let day = (t % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU;
            let spike = if z.is_multiple_of(5_000) { 80.0 } else { 0.0 };
            (t, 50.0 + 20.0 * day.sin() + 3.0 * noise + spike)
        })
        .collect();
    let mut best = f64::INFINITY;
    let mut checksum = 0.0;
    for _ in 0..if full { 5 } else { 1 } {
        let mut d = SeriesDetector::new(Config::default());
        let start = Instant::now();
        let mut sum = 0.0;
        for &(t, v) in &points {
            sum += d.score(black_box(t), black_box(v));
        }
        best = best.min(start.elapsed().as_secs_f64());
        checksum = black_box(sum);
    }
    let bytes = SeriesDetector::new(Config::default()).state_bytes();
    println!(
        "scorer: {n} points in {:.3} s = {:.2} million points/s on one thread \
         (state {bytes} bytes; checksum {checksum:.3})",
        best,
        n as f64 / best / 1e6
    );
}
