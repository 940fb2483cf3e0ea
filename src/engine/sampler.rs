//! One sampler chain per path, seeded per path: top-k → top-p → min-p →
//! temperature → draw (llama.cpp's default order). It works on the
//! candidates that `stats::row_stats` already collected, so sampling costs no
//! second pass over the vocabulary; only `top_k = 0` (no top-k) falls back to
//! the full row. Buffers are allocated once per path.

use super::stats::TopK;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerParams {
    pub temperature: f32,
    /// 0 = off (whole vocabulary).
    pub top_k: u32,
    /// 1.0 = off.
    pub top_p: f32,
    /// 0.0 = off.
    pub min_p: f32,
}

impl SamplerParams {
    /// How many candidates `row_stats` must keep for this chain (0 = the
    /// whole row is needed).
    pub fn candidates_needed(&self) -> usize {
        self.top_k as usize
    }
}

#[derive(Debug, Clone)]
pub struct PathSampler {
    params: SamplerParams,
    rng: fastrand::Rng,
    /// (logit, id) candidates of the current step.
    cand: Vec<(f32, i32)>,
    probs: Vec<f64>,
}

impl PathSampler {
    pub fn new(params: SamplerParams, seed: u64) -> Self {
        let cap = if params.top_k == 0 {
            0
        } else {
            params.top_k as usize
        };
        PathSampler {
            params,
            rng: fastrand::Rng::with_seed(seed),
            cand: Vec::with_capacity(cap),
            probs: Vec::with_capacity(cap),
        }
    }

    /// Draw the next token. `top` holds the row's largest logits (at least
    /// `top_k` of them when top-k is on); `row` is the full logits row.
    pub fn sample(&mut self, top: &TopK, row: &[f32]) -> i32 {
        let p = self.params;
        self.cand.clear();
        if p.top_k > 0 && top.items().len() >= (p.top_k as usize).min(row.len()) {
            let k = (p.top_k as usize).min(top.items().len());
            self.cand.extend_from_slice(&top.items()[..k]);
        } else {
            // No top-k: the whole row, sorted (the slow path, still allocation-free
            // after the first step).
            self.cand
                .extend(row.iter().enumerate().map(|(i, &l)| (l, i as i32)));
            // Drop what min-p will drop anyway before sorting.
            if p.min_p > 0.0 {
                let max = top.items().first().map_or(f32::INFINITY, |c| c.0);
                let floor = max + p.min_p.ln();
                self.cand.retain(|c| c.0 >= floor);
            }
            self.cand
                .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        }
        if p.temperature <= 0.0 || self.cand.len() == 1 {
            return self.cand[0].1;
        }
        // top-p over the softmax of the remaining candidates.
        if p.top_p < 1.0 {
            self.softmax(1.0);
            let mut cum = 0.0;
            let mut keep = self.cand.len();
            for (i, &q) in self.probs.iter().enumerate() {
                cum += q;
                if cum >= f64::from(p.top_p) {
                    keep = i + 1;
                    break;
                }
            }
            self.cand.truncate(keep.max(1));
        }
        // min-p relative to the most probable candidate.
        if p.min_p > 0.0 {
            let floor = self.cand[0].0 + p.min_p.ln();
            let keep = self.cand.iter().take_while(|c| c.0 >= floor).count();
            self.cand.truncate(keep.max(1));
        }
        self.softmax(p.temperature);
        let r = self.rng.f64();
        let mut cum = 0.0;
        for (i, &q) in self.probs.iter().enumerate() {
            cum += q;
            if r < cum {
                return self.cand[i].1;
            }
        }
        self.cand[self.cand.len() - 1].1
    }

    fn softmax(&mut self, temperature: f32) {
        let t = f64::from(temperature);
        let max = f64::from(self.cand[0].0);
        self.probs.clear();
        self.probs
            .extend(self.cand.iter().map(|c| ((f64::from(c.0) - max) / t).exp()));
        let total: f64 = self.probs.iter().sum();
        for q in &mut self.probs {
            *q /= total;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::row_stats;

    fn params(t: f32, k: u32, p: f32, min_p: f32) -> SamplerParams {
        SamplerParams {
            temperature: t,
            top_k: k,
            top_p: p,
            min_p,
        }
    }

    fn row() -> Vec<f32> {
        (0..100).map(|i| -(i as f32) * 0.5).collect()
    }

    #[test]
    fn greedy_at_zero_temperature() {
        let row = row();
        let mut top = TopK::new(40);
        row_stats(&row, &mut top);
        let mut s = PathSampler::new(params(0.0, 40, 1.0, 0.0), 1);
        assert_eq!(s.sample(&top, &row), 0);
    }

    #[test]
    fn top_k_one_is_greedy() {
        let row = row();
        let mut top = TopK::new(40);
        row_stats(&row, &mut top);
        let mut s = PathSampler::new(params(1.0, 1, 1.0, 0.0), 7);
        for _ in 0..50 {
            assert_eq!(s.sample(&top, &row), 0);
        }
    }

    #[test]
    fn min_p_bounds_the_draws() {
        let row = row();
        let mut top = TopK::new(40);
        row_stats(&row, &mut top);
        // p_i / p_0 = exp(-0.5 i) >= 0.1  ⇔  i <= 4.6
        let mut s = PathSampler::new(params(1.0, 40, 1.0, 0.1), 3);
        for _ in 0..500 {
            assert!(s.sample(&top, &row) <= 4);
        }
    }

    #[test]
    fn top_p_bounds_the_draws_and_full_row_path_agrees() {
        let row = row();
        let mut top = TopK::new(40);
        row_stats(&row, &mut top);
        // cumulative of geometric(e^-0.5): first index reaching 0.8 is i = 3
        let mut a = PathSampler::new(params(1.0, 40, 0.8, 0.0), 9);
        let mut b = PathSampler::new(params(1.0, 0, 0.8, 0.0), 9);
        for _ in 0..500 {
            let x = a.sample(&top, &row);
            assert!(x <= 3);
            assert_eq!(x, b.sample(&top, &row));
        }
    }

    #[test]
    fn same_seed_same_draws() {
        let row = row();
        let mut top = TopK::new(40);
        row_stats(&row, &mut top);
        let mut a = PathSampler::new(params(1.0, 40, 0.95, 0.0), 42);
        let mut b = PathSampler::new(params(1.0, 40, 0.95, 0.0), 42);
        let xs: Vec<i32> = (0..100).map(|_| a.sample(&top, &row)).collect();
        let ys: Vec<i32> = (0..100).map(|_| b.sample(&top, &row)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|&x| x != xs[0]));
    }
}
