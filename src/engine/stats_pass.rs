//! The statistics pass of one decode step: every ready path's logits row
//! (and its drift reference row) reduced to `RowStats`, its top candidates
//! and KL, on several cores when the model runs on a GPU.
//!
//! On the CPU backend ggml's threads are busy with the model and the pass
//! stays on the calling thread (as before). With every layer offloaded
//! those cores idle between decodes, while one pass over 64 rows of a 262k
//! vocabulary takes tens of milliseconds on one core: rows are then spread
//! over a pool. Each row is reduced by the same code in the same order
//! whatever the thread count, so the numbers are bit-identical.
//!
//! Not pipelined with the next decode: llama.cpp writes the next step's
//! logits into the same buffer, so overlapping would need a copy of every
//! row (N × V floats per step), which costs about what the pass does.

use rayon::prelude::*;

use super::stats::{kl_divergence, log_sum_exp, row_stats, RowStats, TopK};

/// One path's results for the current step (buffers reused every step).
#[derive(Debug, Clone)]
pub struct Slot {
    pub stats: RowStats,
    pub top: TopK,
    pub kl: Option<f32>,
    /// Computed for this step.
    pub ready: bool,
}

/// A path's rows for this step: its own and, when drift is measured, the
/// reference's.
pub type Rows<'a> = (&'a [f32], Option<&'a [f32]>);

pub struct StatsPass {
    pub slots: Vec<Slot>,
    /// `None`: the calling thread does the pass.
    pool: Option<rayon::ThreadPool>,
}

impl StatsPass {
    /// `top_n` candidates kept per row; `threads` 1 keeps the pass on the
    /// calling thread.
    pub fn new(n_paths: usize, top_n: usize, threads: usize) -> Self {
        let empty = RowStats {
            lse: 0.0,
            entropy: 0.0,
            self_certainty: 0.0,
            confidence: 0.0,
        };
        StatsPass {
            slots: vec![
                Slot {
                    stats: empty,
                    top: TopK::new(top_n),
                    kl: None,
                    ready: false,
                };
                n_paths
            ],
            pool: (threads > 1)
                .then(|| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .thread_name(|i| format!("stats-{i}"))
                        .build()
                        .ok()
                })
                .flatten(),
        }
    }

    pub fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }

    /// Reduce `rows[i]` into `slots[i]` (`None`: nothing this step).
    pub fn run(&mut self, rows: &[Option<Rows>]) {
        let one = |(slot, rows): (&mut Slot, &Option<Rows>)| {
            slot.ready = false;
            if let Some((row, reference)) = rows {
                slot.stats = row_stats(row, &mut slot.top);
                slot.kl =
                    reference.map(|r| kl_divergence(row, slot.stats.lse, r, log_sum_exp(r)) as f32);
                slot.ready = true;
            }
        };
        let work = rows.iter().filter(|r| r.is_some()).count();
        match &self.pool {
            Some(pool) if work > 1 => pool.install(|| {
                // One row per task: rows are long (a pass each).
                self.slots
                    .par_iter_mut()
                    .zip(rows.par_iter())
                    .with_max_len(1)
                    .for_each(one)
            }),
            _ => self.slots.iter_mut().zip(rows.iter()).for_each(one),
        }
    }
}

/// Threads for the pass: `REASONSCOPE_STATS_THREADS` when set; else every
/// core when the model runs on a GPU (ggml's CPU threads idle), else 1.
pub fn threads_for(backend: &str) -> usize {
    if let Some(n) = std::env::var("REASONSCOPE_STATS_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 256);
    }
    if backend == "cpu" {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, v: usize) -> Vec<Vec<f32>> {
        let mut rng = fastrand::Rng::with_seed(9);
        (0..n)
            .map(|_| (0..v).map(|_| rng.f32() * 20.0 - 10.0).collect())
            .collect()
    }

    #[test]
    fn threads_give_the_same_bits_as_one() {
        let data = rows(9, 5000);
        let refs = rows(9, 5000);
        let input: Vec<Option<Rows>> = data
            .iter()
            .zip(&refs)
            .enumerate()
            .map(|(i, (r, q))| match i % 3 {
                0 => None,
                1 => Some((r.as_slice(), None)),
                _ => Some((r.as_slice(), Some(q.as_slice()))),
            })
            .collect();
        let mut one = StatsPass::new(9, 20, 1);
        one.run(&input);
        let mut four = StatsPass::new(9, 20, 4);
        four.run(&input);
        for (a, b) in one.slots.iter().zip(&four.slots) {
            assert_eq!(a.ready, b.ready);
            if a.ready {
                assert_eq!(a.stats, b.stats);
                assert_eq!(a.top.items(), b.top.items());
                assert_eq!(a.kl.map(f32::to_bits), b.kl.map(f32::to_bits));
            }
        }
        // Each slot is its own row's, as the single-row function gives it.
        let mut top = TopK::new(20);
        let want = row_stats(&data[4], &mut top);
        assert_eq!(four.slots[4].stats, want);
        assert!(!four.slots[3].ready && four.slots[5].kl.is_some());
    }
}
