//! Per-path scores (methods.md, "Per-path scores" and "Uncertain points").

use serde::Serialize;

use crate::run::Tokens;

/// DeepConf's default window.
pub const DEFAULT_WINDOW: usize = 2048;

/// Scores of one path's turn; `None` where undefined (no tokens).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct PathScores {
    pub n_tokens: usize,
    pub mean_logprob: Option<f64>,
    pub perplexity: Option<f64>,
    pub path_prob: Option<f64>,
    pub mean_entropy: Option<f64>,
    pub self_certainty: Option<f64>,
    pub conf_mean: Option<f64>,
    pub conf_tail: Option<f64>,
    pub conf_lowest_group: Option<f64>,
    pub conf_bottom10: Option<f64>,
    pub uncertain_points: usize,
}

fn mean(v: &[f32]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    Some(v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64)
}

/// Means of every window of `w` consecutive values (step 1); the whole
/// trace's mean when it is shorter than `w`.
pub fn window_means(v: &[f32], w: usize) -> Vec<f64> {
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let w = w.max(1);
    if n < w {
        return vec![mean(v).unwrap_or(0.0)];
    }
    let mut out = Vec::with_capacity(n - w + 1);
    let mut sum: f64 = v[..w].iter().map(|&x| f64::from(x)).sum();
    out.push(sum / w as f64);
    for i in w..n {
        sum += f64::from(v[i]) - f64::from(v[i - w]);
        out.push(sum / w as f64);
    }
    out
}

/// DeepConf group confidences: (lowest window mean, mean of the lowest 10%).
fn deepconf_groups(conf: &[f32], w: usize) -> (Option<f64>, Option<f64>) {
    let means = window_means(conf, w);
    if means.is_empty() {
        return (None, None);
    }
    let lowest = means.iter().copied().fold(f64::INFINITY, f64::min);
    let mut sorted = means.clone();
    sorted.sort_by(f64::total_cmp);
    let k = ((0.1 * means.len() as f64).floor() as usize).max(1);
    let bottom = sorted[..k].iter().sum::<f64>() / k as f64;
    (Some(lowest), Some(bottom))
}

/// SRGen's dynamic threshold for every token: max(mean(W) + K·max(std(W),
/// 0.5), 1.8) over the previous 20 entropies W (3.0 while fewer than 20
/// precede it), K = 2, std the population standard deviation.
pub fn srgen_thresholds(entropy: &[f32]) -> Vec<f64> {
    const WINDOW: usize = 20;
    const K: f64 = 2.0;
    let mut out = Vec::with_capacity(entropy.len());
    let mut sum = 0.0f64;
    let mut sum_sq = 0.0f64;
    for (t, &h) in entropy.iter().enumerate() {
        let h = f64::from(h);
        out.push(if t < WINDOW {
            3.0
        } else {
            let m = sum / WINDOW as f64;
            let var = (sum_sq / WINDOW as f64 - m * m).max(0.0);
            (m + K * var.sqrt().max(0.5)).max(1.8)
        });
        sum += h;
        sum_sq += h * h;
        if t >= WINDOW {
            let old = f64::from(entropy[t - WINDOW]);
            sum -= old;
            sum_sq -= old * old;
        }
    }
    out
}

/// Token indices whose entropy exceeds SRGen's dynamic threshold.
pub fn uncertain_points(entropy: &[f32]) -> Vec<usize> {
    srgen_thresholds(entropy)
        .iter()
        .zip(entropy)
        .enumerate()
        .filter(|(_, (thr, &h))| f64::from(h) > **thr)
        .map(|(t, _)| t)
        .collect()
}

/// Every per-path score of one turn's tokens, with DeepConf window `w`.
pub fn path_scores(t: &Tokens, w: usize) -> PathScores {
    let mean_logprob = mean(&t.logprob);
    // Columns a source could not give are empty: their scores are None.
    let tail = &t.confidence[t.confidence.len().saturating_sub(w.max(1))..];
    let (lowest, bottom) = deepconf_groups(&t.confidence, w);
    PathScores {
        n_tokens: t.len(),
        mean_logprob,
        perplexity: mean_logprob.map(|m| (-m).exp()),
        path_prob: mean_logprob.map(f64::exp),
        mean_entropy: mean(&t.entropy),
        self_certainty: mean(&t.self_certainty),
        conf_mean: mean(&t.confidence),
        conf_tail: mean(tail),
        conf_lowest_group: lowest,
        conf_bottom10: bottom,
        uncertain_points: uncertain_points(&t.entropy).len(),
    }
}

/// The q-quantile (q in [0, 1]) of sorted values, interpolated linearly
/// between order statistics (NumPy's default). `v` must not be empty.
pub fn percentile_sorted(v: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    if i + 1 < v.len() {
        v[i] + (v[i + 1] - v[i]) * f
    } else {
        v[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{TokenValues, TurnBuilder};

    fn tokens(lp: &[f32], ent: &[f32], conf: &[f32]) -> Tokens {
        let mut b = TurnBuilder::new(1);
        for i in 0..lp.len() {
            b = b.token(TokenValues {
                id: i as i32,
                text: "a",
                logprob: lp[i],
                entropy: ent[i],
                self_certainty: 2.0 * i as f32,
                confidence: conf[i],
            });
        }
        b.finish(crate::run::Finish::Stop, 0.0, 0.0).tokens
    }

    #[test]
    fn hand_computed_scores() {
        let t = tokens(
            &[-0.1, -0.5, -1.2, -0.2],
            &[0.5, 1.0, 2.0, 0.5],
            &[4.0, 2.0, 1.0, 3.0],
        );
        let s = path_scores(&t, 2);
        let ml = (-0.1 - 0.5 - 1.2 - 0.2) / 4.0;
        assert!((s.mean_logprob.unwrap() - ml).abs() < 1e-6);
        assert!((s.perplexity.unwrap() - (0.5f64).exp()).abs() < 1e-6);
        assert!((s.path_prob.unwrap() - (-0.5f64).exp()).abs() < 1e-6);
        assert!((s.mean_entropy.unwrap() - 1.0).abs() < 1e-6);
        assert!((s.self_certainty.unwrap() - 3.0).abs() < 1e-6); // (0+2+4+6)/4
        assert!((s.conf_mean.unwrap() - 2.5).abs() < 1e-6);
        // windows of 2: 3.0, 1.5, 2.0
        assert!((s.conf_tail.unwrap() - 2.0).abs() < 1e-6);
        assert!((s.conf_lowest_group.unwrap() - 1.5).abs() < 1e-6);
        // max(1, floor(0.1·3)) = 1 lowest window
        assert!((s.conf_bottom10.unwrap() - 1.5).abs() < 1e-6);
        assert_eq!(s.uncertain_points, 0);
    }

    #[test]
    fn short_trace_uses_whole_mean() {
        let t = tokens(&[-1.0, -1.0], &[0.1, 0.1], &[1.0, 3.0]);
        let s = path_scores(&t, 2048);
        assert_eq!(s.conf_lowest_group, Some(2.0));
        assert_eq!(s.conf_bottom10, Some(2.0));
        assert_eq!(s.conf_tail, Some(2.0));
    }

    #[test]
    fn bottom10_averages_lowest_tenth_of_windows() {
        // 31 values, w = 2 → 30 windows → 3 lowest.
        let conf: Vec<f32> = (0..31).map(|i| i as f32).collect();
        let z = vec![0.0; 31];
        let s = path_scores(&tokens(&z, &z, &conf), 2);
        // window means 0.5, 1.5, 2.5 are the lowest three
        assert!((s.conf_bottom10.unwrap() - 1.5).abs() < 1e-9);
        assert!((s.conf_lowest_group.unwrap() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn empty_path_has_no_scores() {
        let s = path_scores(&Tokens::with_width(1), 2048);
        assert_eq!(s.n_tokens, 0);
        assert!(s.mean_logprob.is_none() && s.conf_lowest_group.is_none());
    }

    #[test]
    fn srgen_threshold() {
        // First 20 tokens: fixed threshold 3.0.
        let mut e = vec![1.0f32; 20];
        e[5] = 3.5; // > 3.0 → uncertain
        e[6] = 2.9; // not
                    // W = previous 20: mean and std computed by hand below.
        e.push(2.7);
        let w = &e[..20];
        let m: f64 = w.iter().map(|&x| f64::from(x)).sum::<f64>() / 20.0;
        let sd = (w.iter().map(|&x| (f64::from(x) - m).powi(2)).sum::<f64>() / 20.0).sqrt();
        let thr = (m + 2.0 * sd.max(0.5)).max(1.8);
        assert!(2.7 > thr, "threshold {thr}");
        assert_eq!(uncertain_points(&e), vec![5, 20]);
        // A flat low trace: threshold floor max(1 + 2·0.5, 1.8) = 2.0.
        let mut flat = vec![1.0f32; 25];
        flat[22] = 1.99;
        flat[23] = 2.1; // W now holds 1.99: threshold 1.0495 + 2·0.5
        assert_eq!(uncertain_points(&flat), vec![23]);
    }

    #[test]
    fn percentiles_interpolate_as_numpy() {
        // numpy.percentile([1, 2, 4, 8], [25, 50, 75]) = 1.75, 3.0, 5.0
        let v = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(percentile_sorted(&v, 0.25), 1.75);
        assert_eq!(percentile_sorted(&v, 0.5), 3.0);
        assert_eq!(percentile_sorted(&v, 0.75), 5.0);
        assert_eq!(percentile_sorted(&v, 1.0), 8.0);
        assert_eq!(percentile_sorted(&[3.0], 0.5), 3.0);
    }
}
