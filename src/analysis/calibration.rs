//! Calibration over a suite of questions: ECE, Brier score, AUROC and the
//! reliability diagram (methods.md, "Curves and calibration").

use serde::Serialize;

pub const N_BINS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    /// (lower, upper]; the first bin also holds 0.
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    pub mean_confidence: Option<f64>,
    pub accuracy: Option<f64>,
}

fn bin_of(c: f64) -> usize {
    // Lower edge exclusive: (b/10, (b+1)/10]; 0 goes to the first bin.
    ((c * N_BINS as f64).ceil() as isize - 1).clamp(0, N_BINS as isize - 1) as usize
}

/// Reliability diagram bins for (confidence, correct) pairs.
pub fn reliability(pairs: &[(f64, bool)]) -> Vec<Bin> {
    let mut sum_c = [0.0; N_BINS];
    let mut sum_a = [0.0; N_BINS];
    let mut count = [0usize; N_BINS];
    for &(c, ok) in pairs {
        let b = bin_of(c);
        sum_c[b] += c;
        sum_a[b] += f64::from(u8::from(ok));
        count[b] += 1;
    }
    (0..N_BINS)
        .map(|b| Bin {
            lower: b as f64 / N_BINS as f64,
            upper: (b + 1) as f64 / N_BINS as f64,
            count: count[b],
            mean_confidence: (count[b] > 0).then(|| sum_c[b] / count[b] as f64),
            accuracy: (count[b] > 0).then(|| sum_a[b] / count[b] as f64),
        })
        .collect()
}

/// Expected calibration error over 10 equal-width bins.
pub fn ece(pairs: &[(f64, bool)]) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as f64;
    Some(
        reliability(pairs)
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| {
                b.count as f64 / n
                    * (b.accuracy.unwrap_or(0.0) - b.mean_confidence.unwrap_or(0.0)).abs()
            })
            .sum(),
    )
}

pub fn brier(pairs: &[(f64, bool)]) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    Some(
        pairs
            .iter()
            .map(|&(c, ok)| (c - f64::from(u8::from(ok))).powi(2))
            .sum::<f64>()
            / pairs.len() as f64,
    )
}

/// AUROC of confidence against correctness (Mann–Whitney; ties count one
/// half). `None` when all answers are right or all wrong.
pub fn auroc(pairs: &[(f64, bool)]) -> Option<f64> {
    let pos: Vec<f64> = pairs.iter().filter(|p| p.1).map(|p| p.0).collect();
    let neg: Vec<f64> = pairs.iter().filter(|p| !p.1).map(|p| p.0).collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    // Rank-based: sort negatives, count below/equal for each positive.
    let mut sorted = neg.clone();
    sorted.sort_by(f64::total_cmp);
    let mut u = 0.0;
    for &p in &pos {
        let below = sorted.partition_point(|&x| x < p);
        let upto = sorted.partition_point(|&x| x <= p);
        u += below as f64 + 0.5 * (upto - below) as f64;
    }
    Some(u / (pos.len() * neg.len()) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        let p = [
            (0.9, true),
            (0.8, false),
            (0.3, true),
            (0.1, false),
            (1.0, true),
        ];
        // Bins: 0.9→(0.8,0.9], 0.8→(0.7,0.8], 0.3→(0.2,0.3], 0.1→(0,0.1], 1.0→(0.9,1]
        let bins = reliability(&p);
        assert_eq!(bins[8].count, 1);
        assert_eq!(bins[7].count, 1);
        assert_eq!(bins[2].count, 1);
        assert_eq!(bins[0].count, 1);
        assert_eq!(bins[9].count, 1);
        let e = (0.1 + 0.8 + 0.7 + 0.1 + 0.0) / 5.0;
        assert!((ece(&p).unwrap() - e).abs() < 1e-12);
        let b = (0.01 + 0.64 + 0.49 + 0.01 + 0.0) / 5.0;
        assert!((brier(&p).unwrap() - b).abs() < 1e-12);
        // positives 0.9, 0.3, 1.0 vs negatives 0.8, 0.1: pairs won 2 + 1 + 2 = 5 of 6
        assert!((auroc(&p).unwrap() - 5.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn zero_goes_to_first_bin_and_ties_count_half() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(0.1), 0);
        assert_eq!(bin_of(0.1000001), 1);
        assert_eq!(auroc(&[(0.5, true), (0.5, false)]), Some(0.5));
        assert_eq!(auroc(&[(0.5, true)]), None);
        assert_eq!(ece(&[]), None);
    }
}
