//! `make bench` (statistics pass): one decode step's statistics pass
//! (`engine::stats_pass`: log-sum-exp, entropy, self-certainty, the top
//! candidates and DeepConf's confidence of every row) alone, for 1 and 2
//! threads × 49k (SmolLM2) and 262k (Gemma 3) vocabularies × N = 16, 64,
//! 256 rows, as a speed-up over one thread. On a GPU machine the engine
//! gives the pass every core (ggml's CPU threads idle there);
//! `STATS_BENCH_THREADS` adds thread counts (e.g. "1,2,8,16").

use std::time::Instant;

use reasonscope::engine::stats_pass::{Rows, StatsPass};

fn main() {
    let threads: Vec<usize> = std::env::var("STATS_BENCH_THREADS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    println!(
        "statistics pass: best of 5 passes, top 20 kept ({} cores here)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut rng = fastrand::Rng::with_seed(5);
    for vocab in [49_152usize, 262_144] {
        // Logits as a model gives them: most far below a few peaks.
        let max_n = 256;
        let data: Vec<f32> = (0..vocab * max_n)
            .map(|_| {
                let x = rng.f32();
                if x < 0.0005 {
                    10.0 + rng.f32() * 8.0
                } else {
                    rng.f32() * 12.0 - 8.0
                }
            })
            .collect();
        for n in [16usize, 64, 256] {
            let rows: Vec<Option<Rows>> = data
                .chunks(vocab)
                .take(n)
                .map(|r| Some((r, None)))
                .collect();
            let mut base = 0.0;
            let mut line = format!("  V = {vocab:>6}, N = {n:>3}:");
            for &t in &threads {
                let mut pass = StatsPass::new(n, 20, t);
                pass.run(&rows);
                let mut best = f64::MAX;
                for _ in 0..5 {
                    let s = Instant::now();
                    pass.run(&rows);
                    best = best.min(s.elapsed().as_secs_f64());
                }
                std::hint::black_box(&pass.slots[0].stats);
                if t == threads[0] {
                    base = best;
                }
                line.push_str(&format!(
                    "  {t} thread{}: {:.1} ms ({:.2}×)",
                    if t == 1 { "" } else { "s" },
                    best * 1e3,
                    base / best
                ));
            }
            println!("{line}");
        }
    }
}
