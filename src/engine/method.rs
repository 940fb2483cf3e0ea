//! Decoding-time methods (methods.md): what each one changes in the sampling
//! loop, and the small rules they apply while paths are sampled.

/// How the paths of a run are decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecodingMethod {
    /// Every path samples to its end.
    Plain,
    /// First Finish Search: every path stops once the first one finishes.
    Ffs,
    /// DeepConf online: `warmup` paths sample fully and set the threshold at
    /// the 10th percentile of their lowest group confidence; later paths stop
    /// once the mean confidence of their last `window` tokens falls below it.
    DeepConfOnline { warmup: u32, window: u32 },
    /// Cautious Next Token Prediction with at most `max_trials` trials.
    Cntp { max_trials: u32 },
}

/// CNTP: a trial ends at the first token whose text holds one of these.
pub const CNTP_PUNCTUATION: &str = ".,\n?!:;)]}";
pub const CNTP_ENTROPY_LOW: f64 = 0.01;
pub const CNTP_ENTROPY_HIGH: f64 = 1.5;
pub const CNTP_MAX_TRIALS: u32 = 10;
pub const DEEPCONF_WARMUP: u32 = 16;
pub const DEEPCONF_PERCENTILE: f64 = 10.0;

impl DecodingMethod {
    /// The id recorded in `sampling.method`.
    pub fn id(&self) -> &'static str {
        match self {
            DecodingMethod::Plain => "plain",
            DecodingMethod::Ffs => "ffs",
            DecodingMethod::DeepConfOnline { .. } => "deepconf_online",
            DecodingMethod::Cntp { .. } => "cntp",
        }
    }

    /// Parse the CLI name (`plain`, `cntp`, `ffs`, `deepconf-online`) with
    /// the DeepConf window.
    pub fn parse(name: &str, window: u32) -> Result<Self, String> {
        match name {
            "plain" => Ok(DecodingMethod::Plain),
            "ffs" => Ok(DecodingMethod::Ffs),
            "cntp" => Ok(DecodingMethod::Cntp {
                max_trials: CNTP_MAX_TRIALS,
            }),
            "deepconf-online" | "deepconf_online" => Ok(DecodingMethod::DeepConfOnline {
                warmup: DEEPCONF_WARMUP,
                window,
            }),
            other => Err(format!(
                "unknown method {other:?}: use plain, cntp, ffs or deepconf-online"
            )),
        }
    }
}

/// DeepConf online's threshold from its warm-up paths: the 10th percentile
/// of their first turns' lowest group confidence (window `w`); `None` when
/// no warm-up path produced a token.
pub fn online_threshold(warmup: &[crate::run::Path], w: usize) -> Option<f64> {
    let lows: Vec<f64> = warmup
        .iter()
        .filter_map(|p| lowest_group_confidence(&p.turns.first()?.tokens.confidence, w))
        .collect();
    percentile(&lows, DEEPCONF_PERCENTILE)
}

/// CNTP's number of trials at entropy `h`:
/// ⌊1 + (M − 1)·clip((H − 0.01)/(1.5 − 0.01), 0, 1)⌋.
pub fn cntp_trials(h: f64, max_trials: u32) -> u32 {
    let x = ((h - CNTP_ENTROPY_LOW) / (CNTP_ENTROPY_HIGH - CNTP_ENTROPY_LOW)).clamp(0.0, 1.0);
    (1.0 + f64::from(max_trials.saturating_sub(1)) * x).floor() as u32
}

/// Whether a token's text ends a CNTP trial.
pub fn ends_trial(text: &str) -> bool {
    text.chars().any(|c| CNTP_PUNCTUATION.contains(c))
}

/// DeepConf's lowest group confidence: the lowest mean over sliding windows
/// of `w` tokens (a trace shorter than `w` is one group). `None` if empty.
pub fn lowest_group_confidence(conf: &[f32], w: usize) -> Option<f64> {
    if conf.is_empty() {
        return None;
    }
    let w = w.max(1);
    if conf.len() <= w {
        return Some(conf.iter().map(|&c| f64::from(c)).sum::<f64>() / conf.len() as f64);
    }
    let mut sum: f64 = conf[..w].iter().map(|&c| f64::from(c)).sum();
    let mut low = sum;
    for i in w..conf.len() {
        sum += f64::from(conf[i]) - f64::from(conf[i - w]);
        low = low.min(sum);
    }
    Some(low / w as f64)
}

/// The `q`-th percentile with linear interpolation between order statistics
/// (NumPy's default).
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = (q / 100.0).clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// The mean confidence of the last `w` tokens, once there are `w`.
pub fn window_mean(conf: &[f32], w: usize) -> Option<f64> {
    (w > 0 && conf.len() >= w).then(|| {
        conf[conf.len() - w..]
            .iter()
            .map(|&c| f64::from(c))
            .sum::<f64>()
            / w as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cntp_trials_follow_the_entropy_rule() {
        assert_eq!(cntp_trials(0.0, 10), 1);
        assert_eq!(cntp_trials(0.01, 10), 1);
        // Two trials from H = 0.01 + 1.49/9.
        assert_eq!(cntp_trials(0.01 + 1.49 / 9.0 - 1e-9, 10), 1);
        assert_eq!(cntp_trials(0.01 + 1.49 / 9.0 + 1e-9, 10), 2);
        assert_eq!(cntp_trials(0.755, 10), 5);
        assert_eq!(cntp_trials(1.5, 10), 10);
        assert_eq!(cntp_trials(9.0, 10), 10);
    }

    #[test]
    fn punctuation_ends_a_trial() {
        assert!(ends_trial(" 8."));
        assert!(ends_trial("\n"));
        assert!(ends_trial(")"));
        assert!(!ends_trial(" apples"));
    }

    #[test]
    fn groups_and_percentiles_by_hand() {
        let c = [3.0f32, 1.0, 2.0, 6.0];
        // Windows of 2: 2, 1.5, 4 → 1.5.
        assert_eq!(lowest_group_confidence(&c, 2), Some(1.5));
        // Shorter than the window: the whole mean.
        assert_eq!(lowest_group_confidence(&c, 10), Some(3.0));
        assert_eq!(lowest_group_confidence(&[], 2), None);
        // NumPy: percentile([1, 2, 3, 4, 5], 10) = 1.4.
        let p = percentile(&[5.0, 1.0, 3.0, 2.0, 4.0], 10.0).unwrap();
        assert!((p - 1.4).abs() < 1e-12);
        assert_eq!(window_mean(&c, 2), Some(4.0));
        assert_eq!(window_mean(&c, 5), None);
    }
}
