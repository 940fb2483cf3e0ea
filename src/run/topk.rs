//! Statistics from top-k logprobs (methods.md, "Statistics from top-k
//! logprobs"): what a server or an imported file returns for each position
//! is the k most probable candidates, so entropy is known only between two
//! bounds, DeepConf's confidence is exact for k = 20, and self-certainty is
//! unavailable. Shared by the remote backend and the importers.

/// Candidates DeepConf's token confidence averages over.
pub const CONFIDENCE_K: usize = 20;

/// Logprobs at or below this are servers' stand-ins for −∞ (vLLM clamps
/// at −9999); they are read as probability 0.
pub const CLAMP_FLOOR: f32 = -9000.0;

/// A logprob as stored in a run file: JSON has no −∞, so a candidate read
/// as −∞ is written as vLLM's clamp value, which readers take back as −∞.
pub fn stored_logprob(l: f32) -> f32 {
    if l.is_finite() {
        l
    } else {
        -9999.0
    }
}

/// One returned candidate: token id (-1 when the source gives none), its
/// text and ln q.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: i32,
    pub text: compact_str::CompactString,
    pub logprob: f32,
}

/// What one position's candidates give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopKStats {
    /// −(1/k) Σ ln q_i over the min(20, returned) best finite candidates.
    pub confidence: f32,
    /// −Σ q_i ln q_i − r·ln q_k: the entropy's lower bound.
    pub entropy_lo: f32,
    /// −Σ q_i ln q_i − r·ln(r / (V − k)); `None` when V is unknown.
    pub entropy_hi: Option<f32>,
    /// Whether a clamped or non-finite logprob was read as −∞.
    pub clamped: bool,
}

/// Sort candidates most probable first and drop repeats of the same token
/// (by id, or by text where ids are missing): vLLM lists the sampled token
/// first and may repeat it among the top k. Clamped values become −∞.
pub fn normalize(cands: &mut Vec<Candidate>) -> bool {
    let mut clamped = false;
    for c in cands.iter_mut() {
        if !c.logprob.is_finite() || c.logprob <= CLAMP_FLOOR {
            clamped |= c.logprob != f32::NEG_INFINITY;
            c.logprob = f32::NEG_INFINITY;
        }
    }
    // Stable: equal logprobs keep the server's order; a sorted list is left
    // as it is (the usual case) without moving anything.
    if !cands.is_sorted_by(|a, b| a.logprob >= b.logprob) {
        cands.sort_by(|a, b| b.logprob.total_cmp(&a.logprob));
    }
    // A long list (a source that gives hundreds of alternatives) is sorted
    // out through sets: the scan below is quadratic in the list's length.
    if cands.len() > 64 {
        let mut ids = std::collections::HashSet::with_capacity(cands.len());
        let mut texts = std::collections::HashSet::new();
        cands.retain(|c| {
            if c.id >= 0 {
                ids.insert(c.id)
            } else {
                texts.insert(c.text.clone())
            }
        });
        return clamped;
    }
    // Repeats are rare: a 256-bit filter of the ids seen so far lets most
    // candidates skip the scan of those before them (20 per token, for
    // every token of an import).
    let mut seen = [0u64; 4];
    let mut i = 0;
    while i < cands.len() {
        let c = &cands[i];
        let repeat = if c.id >= 0 {
            let h = (c.id as u32).wrapping_mul(0x9E37_79B1) >> 24;
            let (word, bit) = ((h >> 6) as usize, 1u64 << (h & 63));
            let maybe = seen[word] & bit != 0;
            seen[word] |= bit;
            maybe && cands[..i].iter().any(|d| d.id == c.id)
        } else {
            cands[..i].iter().any(|d| d.id < 0 && d.text == c.text)
        };
        if repeat {
            cands.remove(i);
        } else {
            i += 1;
        }
    }
    clamped
}

/// The statistics of one position from its candidates' logprobs (sorted,
/// most probable first, as `normalize` leaves them); `vocab` = V when known.
pub fn position_stats(logprobs: &[f32], vocab: Option<u32>) -> Option<TopKStats> {
    let finite = || {
        logprobs
            .iter()
            .filter(|l| l.is_finite())
            .map(|&l| f64::from(l).min(0.0))
    };
    let n = finite().count();
    if n == 0 {
        return None;
    }
    let clamped = n != logprobs.len();
    let kc = n.min(CONFIDENCE_K);
    let confidence = -finite().take(kc).sum::<f64>() / kc as f64;
    let (mut mass, mut h_known, mut ln_qk) = (0.0f64, 0.0f64, 0.0f64);
    for l in finite() {
        let q = l.exp();
        mass += q;
        h_known -= q * l;
        ln_qk = l;
    }
    let r = (1.0 - mass).max(0.0);
    let entropy_lo = h_known - r * ln_qk;
    let k = n as f64;
    let entropy_hi = vocab.and_then(|v| {
        let v = f64::from(v);
        if r == 0.0 {
            Some(h_known)
        } else if v > k {
            Some(h_known - r * (r / (v - k)).ln())
        } else {
            None
        }
    });
    Some(TopKStats {
        confidence: confidence as f32,
        entropy_lo: entropy_lo as f32,
        entropy_hi: entropy_hi.map(|h| h.max(entropy_lo) as f32),
        clamped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: i32, lp: f32) -> Candidate {
        Candidate {
            id,
            text: format!("t{id}").into(),
            logprob: lp,
        }
    }

    #[test]
    fn bounds_by_hand() {
        // q = 0.5, 0.25; r = 0.25; V = 4 (two other tokens, 0.125 each).
        let lps = [0.5f32.ln(), 0.25f32.ln()];
        let s = position_stats(&lps, Some(4)).unwrap();
        let known = -(0.5 * 0.5f64.ln() + 0.25 * 0.25f64.ln());
        assert!((f64::from(s.entropy_lo) - (known - 0.25 * 0.25f64.ln())).abs() < 1e-6);
        // Tail spread evenly: the exact entropy of (0.5, 0.25, 0.125, 0.125).
        let exact = -(0.5 * 0.5f64.ln() + 0.25 * 0.25f64.ln() + 2.0 * 0.125 * 0.125f64.ln());
        assert!((f64::from(s.entropy_hi.unwrap()) - exact).abs() < 1e-6);
        assert!((f64::from(s.confidence) - -(0.5f64.ln() + 0.25f64.ln()) / 2.0).abs() < 1e-6);
        assert!(s.entropy_lo <= s.entropy_hi.unwrap());
        // V unknown: no upper bound.
        assert_eq!(position_stats(&lps, None).unwrap().entropy_hi, None);
    }

    #[test]
    fn whole_mass_returned_gives_exact_entropy() {
        let lps = [0.75f32.ln(), 0.25f32.ln()];
        let s = position_stats(&lps, Some(1000)).unwrap();
        assert!((s.entropy_lo - s.entropy_hi.unwrap()).abs() < 1e-6);
    }

    #[test]
    fn confidence_uses_the_best_twenty() {
        let lps: Vec<f32> = (0..25).map(|i| -(i as f32) - 1.0).collect();
        let s = position_stats(&lps, None).unwrap();
        let want = (1..=20).map(|i| i as f64).sum::<f64>() / 20.0;
        assert!((f64::from(s.confidence) - want).abs() < 1e-5);
    }

    #[test]
    fn normalize_keeps_the_first_of_each_id_whatever_the_filter_says() {
        // Many ids over a small range: the filter's bits collide and
        // repeats are frequent; the result is the plain first-seen rule.
        let mut rng = fastrand::Rng::with_seed(3);
        // Lists past 64 go through sets; ids below 0 are told apart by text.
        for _ in 0..200 {
            let n = rng.usize(1..2000);
            let mut c: Vec<Candidate> = (0..n)
                .map(|k| cand(rng.i32(-4..600), -(k as f32) * 0.001))
                .collect();
            let mut want: Vec<i32> = Vec::new();
            for x in &c {
                if !want.contains(&x.id) {
                    want.push(x.id);
                }
            }
            normalize(&mut c);
            assert_eq!(c.iter().map(|x| x.id).collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn normalize_sorts_dedups_and_reads_clamps_as_minus_infinity() {
        // vLLM: the sampled token first, then the top k (it among them).
        let mut c = vec![
            cand(7, -2.0),
            cand(3, -0.1),
            cand(7, -2.0),
            cand(9, -9999.0),
        ];
        assert!(normalize(&mut c));
        let ids: Vec<i32> = c.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![3, 7, 9]);
        assert_eq!(c[2].logprob, f32::NEG_INFINITY);
        let lps: Vec<f32> = c.iter().map(|c| c.logprob).collect();
        let s = position_stats(&lps, Some(10)).unwrap();
        assert!(s.clamped && s.confidence.is_finite());
        // Without ids, repeats are recognised by text.
        let mut c = vec![
            Candidate {
                id: -1,
                text: "a".into(),
                logprob: -1.0,
            },
            Candidate {
                id: -1,
                text: "a".into(),
                logprob: -1.0,
            },
        ];
        assert!(!normalize(&mut c));
        assert_eq!(c.len(), 1);
    }
}
