//! Per-token statistics from one raw logits row, in one pass over the
//! vocabulary, with no allocation: log-sum-exp (online, rescaled when the
//! running maximum moves), Σ p·ℓ for the entropy, Σ ℓ for self-certainty, and
//! the largest logits for DeepConf's confidence, the stored alternatives and
//! the sampler's candidates.

/// DeepConf's token confidence averages the 20 largest log-probabilities.
pub const CONFIDENCE_K: usize = 20;

/// The `cap` largest (logit, id) pairs of a row, most probable first. The
/// buffer is allocated once and reused for every row.
#[derive(Debug, Clone)]
pub struct TopK {
    cap: usize,
    items: Vec<(f32, i32)>,
}

impl TopK {
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        TopK {
            cap,
            items: Vec::with_capacity(cap + 1),
        }
    }

    pub fn items(&self) -> &[(f32, i32)] {
        &self.items
    }

    fn clear(&mut self) {
        self.items.clear();
    }

    #[inline]
    fn threshold(&self) -> f32 {
        if self.items.len() < self.cap {
            f32::NEG_INFINITY
        } else {
            self.items[self.cap - 1].0
        }
    }

    /// Insert keeping descending order; equal logits keep the lower id first
    /// (the row is scanned in id order), which makes ties deterministic.
    #[inline(never)]
    fn insert(&mut self, logit: f32, id: i32) {
        let pos = self.items.partition_point(|&(l, _)| l >= logit);
        if pos >= self.cap {
            return;
        }
        if self.items.len() == self.cap {
            self.items.pop();
        }
        self.items.insert(pos, (logit, id));
    }
}

/// Summary of one logits row (natural logarithms, raw distribution).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowStats {
    /// ln Σ exp(ℓ)
    pub lse: f64,
    /// H = −Σ p ln p
    pub entropy: f64,
    /// KL(U ‖ p) = lse − mean(ℓ) − ln V
    pub self_certainty: f64,
    /// −(1/20) Σ of the 20 largest ln p
    pub confidence: f64,
}

/// One pass over `logits`: fills `top` with the largest entries and returns
/// the row's statistics. `top` must hold at least `CONFIDENCE_K` entries.
pub fn row_stats(logits: &[f32], top: &mut TopK) -> RowStats {
    debug_assert!(top.cap >= CONFIDENCE_K);
    top.clear();
    let mut max = f32::NEG_INFINITY;
    // Σ exp(ℓ − max) and Σ exp(ℓ − max)·ℓ, rescaled when max moves.
    let mut sum_exp = 0.0f64;
    let mut sum_exp_l = 0.0f64;
    let mut sum_l = 0.0f64;
    let mut threshold = f32::NEG_INFINITY;
    // Chunked so that the common case (no new max) runs a tight loop.
    for (chunk_i, chunk) in logits.chunks(64).enumerate() {
        let base = chunk_i * 64;
        let chunk_max = chunk.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if chunk_max > max {
            let scale = f64::from(max - chunk_max).exp();
            if max == f32::NEG_INFINITY {
                sum_exp = 0.0;
                sum_exp_l = 0.0;
            } else {
                sum_exp *= scale;
                sum_exp_l *= scale;
            }
            max = chunk_max;
        }
        let mut s = 0.0f32;
        let mut sl = 0.0f32;
        let mut l_sum = 0.0f32;
        for &l in chunk {
            let e = (l - max).exp();
            s += e;
            sl += e * l;
            l_sum += l;
        }
        sum_exp += f64::from(s);
        sum_exp_l += f64::from(sl);
        sum_l += f64::from(l_sum);
        if chunk_max >= threshold {
            for (j, &l) in chunk.iter().enumerate() {
                if l > threshold || (top.items.len() < top.cap && l >= threshold) {
                    top.insert(l, (base + j) as i32);
                    threshold = top.threshold();
                }
            }
        }
    }
    let n = logits.len() as f64;
    let lse = f64::from(max) + sum_exp.ln();
    let mean_p_l = sum_exp_l / sum_exp;
    let entropy = (lse - mean_p_l).max(0.0);
    let self_certainty = lse - sum_l / n - n.ln();
    let k = CONFIDENCE_K.min(top.items.len());
    let top_sum: f64 = top.items[..k]
        .iter()
        .map(|&(l, _)| f64::from(l) - lse)
        .sum();
    let confidence = -top_sum / k as f64;
    RowStats {
        lse,
        entropy,
        self_certainty,
        confidence,
    }
}

/// ln Σ exp(ℓ) of a logits row, stable (shifted by its maximum).
pub fn log_sum_exp(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0f64;
    for chunk in logits.chunks(64) {
        let s: f32 = chunk.iter().map(|&l| (l - max).exp()).sum();
        total += f64::from(s);
    }
    f64::from(max) + total.ln()
}

/// KL(p ‖ q) over the full vocabulary, with p = softmax(`p_logits`) and
/// q = softmax(`q_logits`); `lse_p`, `lse_q` are the rows' log-sum-exps
/// (from `row_stats`). One pass: Σ p_i (ℓ_i − m_i) − lse_p + lse_q.
pub fn kl_divergence(p_logits: &[f32], lse_p: f64, q_logits: &[f32], lse_q: f64) -> f64 {
    debug_assert_eq!(p_logits.len(), q_logits.len());
    let shift = lse_p as f32;
    let mut total = 0.0f64;
    for (a, b) in p_logits.chunks(64).zip(q_logits.chunks(64)) {
        let mut s = 0.0f32;
        for (&l, &m) in a.iter().zip(b) {
            s += (l - shift).exp() * (l - m);
        }
        total += f64::from(s);
    }
    (total - lse_p + lse_q).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_matches_two_pass_reference_and_is_zero_on_equal_rows() {
        let p = pseudo_logits(49_152, 7);
        let q = pseudo_logits(49_152, 8);
        let (lse_p, ..) = reference(&p);
        let (lse_q, ..) = reference(&q);
        let want: f64 = p
            .iter()
            .zip(&q)
            .map(|(&l, &m)| {
                let lp = f64::from(l) - lse_p;
                lp.exp() * (lp - (f64::from(m) - lse_q))
            })
            .sum();
        let got = kl_divergence(&p, lse_p, &q, lse_q);
        assert!((got - want).abs() < 1e-4 * want.max(1.0), "{got} vs {want}");
        assert!(kl_divergence(&p, lse_p, &p, lse_p) < 1e-6);
        // Two-token case by hand: p = (0.5, 0.5), q = (0.8, 0.2).
        let p2 = [0.0f32, 0.0];
        let q2 = [(0.8f32).ln(), (0.2f32).ln()];
        let want2 = 0.5 * (0.5f64 / 0.8).ln() + 0.5 * (0.5f64 / 0.2).ln();
        let got2 = kl_divergence(&p2, 2f64.ln(), &q2, 0.0);
        assert!((got2 - want2).abs() < 1e-6, "{got2} vs {want2}");
    }

    /// Straightforward two-pass reference in f64.
    fn reference(logits: &[f32]) -> (f64, f64, f64, f64, Vec<i32>) {
        let l: Vec<f64> = logits.iter().map(|&x| f64::from(x)).collect();
        let m = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + l.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
        let lp: Vec<f64> = l.iter().map(|x| x - lse).collect();
        let h = -lp.iter().map(|x| x.exp() * x).sum::<f64>();
        let sc = lse - l.iter().sum::<f64>() / l.len() as f64 - (l.len() as f64).ln();
        let mut idx: Vec<usize> = (0..l.len()).collect();
        idx.sort_by(|&a, &b| l[b].partial_cmp(&l[a]).unwrap().then(a.cmp(&b)));
        let conf = -idx[..20].iter().map(|&i| lp[i]).sum::<f64>() / 20.0;
        (
            lse,
            h,
            sc,
            conf,
            idx[..20].iter().map(|&i| i as i32).collect(),
        )
    }

    fn pseudo_logits(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n).map(|_| (rng.f32() * 2.0 - 1.0) * 12.0).collect()
    }

    #[test]
    fn matches_reference_on_random_rows() {
        for seed in 0..5 {
            let logits = pseudo_logits(49_152, seed);
            let mut top = TopK::new(40);
            let s = row_stats(&logits, &mut top);
            let (lse, h, sc, conf, ids) = reference(&logits);
            assert!((s.lse - lse).abs() < 1e-4, "{} vs {lse}", s.lse);
            assert!((s.entropy - h).abs() < 1e-3, "{} vs {h}", s.entropy);
            assert!((s.self_certainty - sc).abs() < 1e-3);
            assert!((s.confidence - conf).abs() < 1e-4);
            let got: Vec<i32> = top.items()[..20].iter().map(|&(_, i)| i).collect();
            assert_eq!(got, ids);
        }
    }

    #[test]
    fn uniform_row_has_max_entropy_and_zero_self_certainty() {
        let logits = vec![0.5f32; 1000];
        let mut top = TopK::new(20);
        let s = row_stats(&logits, &mut top);
        assert!((s.entropy - 1000f64.ln()).abs() < 1e-4);
        assert!(s.self_certainty.abs() < 1e-4);
        assert!((s.confidence - 1000f64.ln()).abs() < 1e-4);
        // Ties resolved by lower id first.
        assert_eq!(top.items()[0].1, 0);
        assert_eq!(top.items()[19].1, 19);
    }

    #[test]
    fn peaked_row_has_near_zero_entropy() {
        let mut logits = vec![-30.0f32; 500];
        logits[123] = 30.0;
        let mut top = TopK::new(20);
        let s = row_stats(&logits, &mut top);
        assert!(s.entropy < 1e-6);
        assert_eq!(top.items()[0].1, 123);
        assert!((f64::from(logits[123]) - s.lse).abs() < 1e-6);
    }

    #[test]
    fn max_in_last_chunk_rescales_correctly() {
        let mut logits = vec![0.0f32; 130];
        logits[129] = 50.0;
        let mut top = TopK::new(20);
        let s = row_stats(&logits, &mut top);
        let (lse, h, ..) = reference(&logits);
        assert!((s.lse - lse).abs() < 1e-5);
        assert!((s.entropy - h).abs() < 1e-5);
    }
}
