//! Accuracy vs N and vs tokens (methods.md, "Curves and calibration").

use serde::Serialize;

use super::answers;
use super::methods::{self, MethodParams, RpcFit, METHODS};
use super::turn::TurnAnalysis;

pub const DEFAULT_DRAWS: usize = 200;
pub const DEFAULT_SEED: u64 = 0x5eed;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    pub method: &'static str,
    pub n: usize,
    pub accuracy: f64,
    /// 95% interval: mean ± 1.96·sd/√B over the B draws' accuracies.
    pub low: f64,
    pub high: f64,
    /// Mean tokens spent per question at this n.
    pub mean_tokens: f64,
}

/// Subset sizes 1, 2, 4, … and N itself.
pub fn sizes(n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut k = 1;
    while k < n {
        out.push(k);
        k *= 2;
    }
    if n > 0 {
        out.push(n);
    }
    out
}

/// Tokens a method spends on the paths `subset` (all of them run; `first`
/// runs one; `shortest` stops every path when the first finishes).
pub fn tokens_spent(method: &str, lens: &[usize]) -> (usize, usize) {
    match method {
        "first" => {
            let l = lens.first().copied().unwrap_or(0);
            (l, l)
        }
        "shortest" => {
            let m = lens.iter().copied().min().unwrap_or(0);
            (m * lens.len(), m)
        }
        _ => (lens.iter().sum(), lens.iter().copied().max().unwrap_or(0)),
    }
}

/// Draw `b` random subsets of size `n` from `total` paths (sorted, seeded).
fn draw(
    rng: &mut fastrand::Rng,
    total: usize,
    n: usize,
    out: &mut Vec<usize>,
    pool: &mut Vec<usize>,
) {
    pool.clear();
    pool.extend(0..total);
    // Partial Fisher–Yates.
    for i in 0..n {
        let j = rng.usize(i..total);
        pool.swap(i, j);
    }
    out.clear();
    out.extend_from_slice(&pool[..n]);
    out.sort_unstable();
}

/// Per method: correct answers per draw (`acc[m][b]`) and tokens spent.
struct Counts {
    acc: Vec<Vec<f64>>,
    toks: Vec<f64>,
}

/// Draw subsets of `n` paths of each question (seeded per question and n)
/// and count what every method gets right.
fn count_questions(
    qs: &[&TurnAnalysis],
    n: usize,
    params: &MethodParams,
    draws: usize,
    seed: u64,
) -> Counts {
    let mut acc = vec![vec![0.0f64; draws]; METHODS.len()];
    let mut toks = vec![0.0f64; METHODS.len()];
    let mut subset = Vec::new();
    let mut pool = Vec::new();
    // RPC's fits use the fast fit: the exact one, SciPy's iterates bit for
    // bit, costs about 12× as much, and the curves fit tens of thousands of
    // subsets (methods.md, "RPC in the curves"). A draw of every path is the
    // run itself: there the curve takes the answer the per-run analysis got
    // with the exact fit (the accuracy table's), at no cost.
    let bulk = MethodParams {
        rpc_fit: RpcFit::Fast,
        ..*params
    };
    for q in qs {
        let mut rng =
            fastrand::Rng::with_seed(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let gold = q.gold.as_deref().unwrap_or_default();
        let correct_class: Vec<bool> = q
            .answers
            .iter()
            .map(|a| answers::is_correct(Some(a), gold))
            .collect();
        // When n is every candidate, every draw is the same subset:
        // select once and count it for all draws (same numbers, B× less work).
        let distinct = if n == q.candidates.len() { 1 } else { draws };
        let whole_run_rpc = q.method("rpc").filter(|o| {
            distinct == 1 && params.rpc_fit == RpcFit::Exact && o.unavailable.is_none()
        });
        // `first` answers with one path. A random subset's first path is a
        // uniformly random path, so its expected accuracy is the share of
        // right paths at every n (exact; the subsets here are sorted, and
        // their lowest index would stand for path 0 alone). Tokens alike.
        let first = METHODS.iter().position(|m| *m == "first");
        if let Some(f) = first {
            let n_all = q.candidates.len() as f64;
            let right = q
                .candidates
                .iter()
                .filter(|c| c.class.is_some_and(|k| correct_class[k]))
                .count() as f64;
            for a in &mut acc[f] {
                *a += right / n_all;
            }
            let mean_len =
                q.candidates.iter().map(|c| c.tokens_spent()).sum::<usize>() as f64 / n_all;
            toks[f] += draws as f64 * mean_len;
        }
        for b in 0..distinct {
            draw(&mut rng, q.candidates.len(), n, &mut subset, &mut pool);
            let lens: Vec<usize> = subset
                .iter()
                .map(|&i| q.candidates[i].tokens_spent())
                .collect();
            let copies = if distinct == 1 { draws } else { 1 };
            for (m, id) in METHODS.iter().enumerate() {
                if Some(m) == first {
                    continue;
                }
                let correct = match whole_run_rpc.filter(|_| *id == "rpc") {
                    Some(o) => o.correct == Some(true),
                    None => methods::select_class(id, &q.candidates, &subset, &bulk)
                        .is_some_and(|c| correct_class[c]),
                };
                if correct {
                    for a in &mut acc[m][b..b + copies] {
                        *a += 1.0;
                    }
                }
                toks[m] += (copies * tokens_spent(id, &lens).0) as f64;
            }
        }
    }
    Counts { acc, toks }
}

/// Accuracy vs N over questions (turns with gold), every method; subset
/// sizes up to the smallest question's path count.
pub fn accuracy_curves(
    questions: &[&TurnAnalysis],
    params: &MethodParams,
    draws: usize,
    seed: u64,
) -> Vec<CurvePoint> {
    let qs: Vec<&TurnAnalysis> = questions
        .iter()
        .copied()
        .filter(|q| q.gold.is_some() && !q.candidates.is_empty())
        .collect();
    let Some(min_n) = qs.iter().map(|q| q.candidates.len()).min() else {
        return Vec::new();
    };
    let draws = draws.max(1);
    let mut out = Vec::new();
    for n in sizes(min_n) {
        // Questions are independent: count them over the cores, then add the
        // per-draw counts (integers, so the sum does not depend on the split).
        let parts =
            super::par::par_chunks(&qs, |part| count_questions(part, n, params, draws, seed));
        let mut acc = vec![vec![0.0f64; draws]; METHODS.len()];
        let mut toks = vec![0.0f64; METHODS.len()];
        for part in parts {
            for m in 0..METHODS.len() {
                for (a, b) in acc[m].iter_mut().zip(&part.acc[m]) {
                    *a += b;
                }
                toks[m] += part.toks[m];
            }
        }
        let nq = qs.len() as f64;
        for (m, id) in METHODS.iter().enumerate() {
            // A method a run cannot compute draws no line (not a zero line).
            if !super::suite::available_everywhere(id, &qs) {
                continue;
            }
            let per_draw: Vec<f64> = acc[m].iter().map(|a| a / nq).collect();
            let mean = per_draw.iter().sum::<f64>() / draws as f64;
            let var = per_draw.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / draws as f64;
            let half = 1.96 * var.sqrt() / (draws as f64).sqrt();
            out.push(CurvePoint {
                method: id,
                n,
                accuracy: mean,
                low: (mean - half).max(0.0),
                high: (mean + half).min(1.0),
                mean_tokens: toks[m] / (draws as f64 * nq),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_two_then_n() {
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(6), vec![1, 2, 4, 6]);
        assert_eq!(sizes(64), vec![1, 2, 4, 8, 16, 32, 64]);
    }

    #[test]
    fn tokens_by_method() {
        assert_eq!(tokens_spent("majority", &[3, 5, 4]), (12, 5));
        assert_eq!(tokens_spent("first", &[3, 5, 4]), (3, 3));
        assert_eq!(tokens_spent("shortest", &[3, 5, 4]), (9, 3));
    }

    #[test]
    fn draws_are_distinct_sorted_and_seeded() {
        let mut a = fastrand::Rng::with_seed(1);
        let mut b = fastrand::Rng::with_seed(1);
        let (mut s1, mut s2, mut p) = (Vec::new(), Vec::new(), Vec::new());
        draw(&mut a, 10, 4, &mut s1, &mut p);
        draw(&mut b, 10, 4, &mut s2, &mut p);
        assert_eq!(s1, s2);
        assert!(s1.windows(2).all(|w| w[0] < w[1]));
    }
}
