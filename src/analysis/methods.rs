//! Selection methods (methods.md, "Selection methods"). Each works on a
//! subset of a turn's paths given by index, so that the same code scores
//! the full run and the random subsets of the accuracy-vs-N curves.
//!
//! Ties always go to the candidate whose lowest path index is smallest: the
//! subset is scanned in path order and a later candidate must be strictly
//! better to win.

use serde::Serialize;

use super::rpc;
use super::scores::PathScores;

pub const METHODS: [&str; 10] = [
    "first",
    "majority",
    "weighted_prob",
    "lowest_perplexity",
    "self_certainty",
    "borda",
    "rpc",
    "deepconf_low",
    "deepconf_high",
    "shortest",
];

/// Why method `id` cannot be computed on a run whose statistics came from
/// `source` (methods.md, "Statistics from top-k logprobs"); `None`: it can.
pub fn unavailable(id: &str, source: crate::run::Source) -> Option<&'static str> {
    use crate::run::Source;
    match (source, id) {
        (Source::Full, _) => None,
        (Source::TopK, "self_certainty") => {
            Some("needs the full distribution (only the top-k logprobs were returned)")
        }
        (Source::TopK, "borda") => {
            Some("ranks paths by self-certainty, which needs the full distribution")
        }
        (Source::TopK, _) => None,
        (Source::Text, "first" | "majority" | "shortest") => None,
        (Source::Text, _) => Some("needs logprobs; this run holds text only"),
    }
}

/// What a run's statistics are when they are not all exact.
pub fn stats_note(run: &crate::run::Run) -> Option<String> {
    use crate::run::Source;
    let st = run.stats_source();
    let from = run
        .remote
        .as_ref()
        .map(|r| r.server.clone())
        .or_else(|| {
            run.import
                .as_ref()
                .map(|i| format!("an imported {} file", i.from))
        })
        .unwrap_or_else(|| "the source".into());
    match st.source {
        Source::Full => None,
        Source::TopK => Some(format!(
            "statistics from the top {} logprobs returned by {from}: entropy is a lower bound{}, {}, self-certainty unavailable",
            st.k.unwrap_or(0),
            if run.paths.iter().flat_map(|p| &p.turns).any(|t| t.tokens.entropy_hi.is_some()) {
                " (upper bound in entropy_hi)"
            } else {
                " (no upper bound: vocabulary size unknown)"
            },
            match st.k {
                Some(k) if k < 20 => format!("confidence over the top {k} (DeepConf's averages 20)"),
                _ => "confidence exact".to_owned(),
            }
        )),
        Source::Text => Some(format!(
            "text only ({from}): no logprobs, so only first, majority and shortest are computed; {}",
            match run.import.as_ref().and_then(|i| i.tokens.as_deref()) {
                Some("words") => "a token is a word or punctuation mark (no tokenizer was given)".to_owned(),
                Some(t) if t.starts_with("tokenizer:") => format!("tokens of {}", &t[10..]),
                _ => "tokens as the source gave them".to_owned(),
            }
        )),
    }
}

/// Whether a method's per-answer values rank lower first (`shortest`
/// reports the fewest tokens per answer).
pub fn lower_is_better(id: &str) -> bool {
    id == "shortest"
}

/// One path as the methods see it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Candidate {
    /// Answer class (index into the pool's answers); `None`: no answer.
    pub class: Option<usize>,
    /// Identical response texts share an id (RPC counts each text once).
    pub text_id: usize,
    pub scores: PathScores,
    /// Tokens sampled for this path but not kept (CNTP trials that lost).
    pub trial_tokens: usize,
}

impl Candidate {
    /// Tokens sampling this path cost: its own and its discarded trials'.
    pub fn tokens_spent(&self) -> usize {
        self.scores.n_tokens + self.trial_tokens
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodParams {
    pub window: usize,
    pub borda_p: f64,
    /// Which Weibull fit RPC uses (methods.md, "RPC optimizer").
    pub rpc_fit: RpcFit,
}

/// RPC's Weibull fit: [`rpc::fit`], which follows SciPy's L-BFGS-B bit for
/// bit, for every answer a run, a question or the suite table reports; or
/// [`rpc::fit_fast`], an analytic-gradient approximation about 12× cheaper,
/// for the accuracy-vs-N curves' tens of thousands of random subsets
/// (curves.rs sets it; it may prune differently on a few subsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RpcFit {
    #[default]
    Exact,
    Fast,
}

impl Default for MethodParams {
    fn default() -> Self {
        MethodParams {
            window: super::scores::DEFAULT_WINDOW,
            borda_p: 0.5,
            rpc_fit: RpcFit::Exact,
        }
    }
}

/// What a method picked on a subset.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub class: Option<usize>,
    pub confidence: Option<f64>,
    /// Vote or weight per answer class, in order of first appearance.
    pub votes: Vec<(usize, f64)>,
}

#[derive(Default)]
struct Tally(Vec<(usize, f64)>);

impl Tally {
    fn add(&mut self, class: usize, w: f64) {
        match self.0.iter_mut().find(|(c, _)| *c == class) {
            Some(e) => e.1 += w,
            None => self.0.push((class, w)),
        }
    }

    fn keep_best(&mut self, class: usize, v: f64, better: impl Fn(f64, f64) -> bool) {
        match self.0.iter_mut().find(|(c, _)| *c == class) {
            Some(e) => {
                if better(v, e.1) {
                    e.1 = v;
                }
            }
            None => self.0.push((class, v)),
        }
    }

    /// Largest total; earliest class wins ties. Confidence = its share.
    fn winner_share(self) -> Pick {
        let total: f64 = self.0.iter().map(|e| e.1).sum();
        let mut best: Option<(usize, f64)> = None;
        for &(c, v) in &self.0 {
            if best.is_none_or(|b| v > b.1) {
                best = Some((c, v));
            }
        }
        Pick {
            class: best.map(|b| b.0),
            confidence: best.and_then(|b| (total > 0.0).then(|| b.1 / total)),
            votes: self.0,
        }
    }
}

/// The answered path in `subset` with the best `key` (strictly better to
/// replace an earlier one).
fn best_path(
    cands: &[Candidate],
    subset: &[usize],
    key: impl Fn(&Candidate) -> Option<f64>,
    better: impl Fn(f64, f64) -> bool,
) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for &i in subset {
        let c = &cands[i];
        if c.class.is_none() {
            continue;
        }
        let Some(v) = key(c) else { continue };
        if best.is_none_or(|b| better(v, b.1)) {
            best = Some((i, v));
        }
    }
    best.map(|b| b.0)
}

/// Pick of a single-path selector, with the compared value per answer as
/// its votes.
fn single(
    cands: &[Candidate],
    subset: &[usize],
    key: impl Fn(&Candidate) -> Option<f64> + Copy,
    better: impl Fn(f64, f64) -> bool + Copy,
    conf: impl Fn(&Candidate) -> Option<f64>,
) -> Pick {
    let mut t = Tally::default();
    for &i in subset {
        if let (Some(c), Some(v)) = (cands[i].class, key(&cands[i])) {
            t.keep_best(c, v, better);
        }
    }
    let chosen = best_path(cands, subset, key, better);
    Pick {
        class: chosen.and_then(|i| cands[i].class),
        confidence: chosen.and_then(|i| conf(&cands[i])),
        votes: t.0,
    }
}

/// Apply method `id` to the paths `subset` (indices into `cands`, ascending).
pub fn select(id: &str, cands: &[Candidate], subset: &[usize], params: &MethodParams) -> Pick {
    let answered = || subset.iter().copied().filter(|&i| cands[i].class.is_some());
    match id {
        "first" => {
            let class = subset.first().and_then(|&i| cands[i].class);
            Pick {
                class,
                confidence: None,
                votes: class.map(|c| vec![(c, 1.0)]).unwrap_or_default(),
            }
        }
        "majority" => {
            let mut t = Tally::default();
            for i in answered() {
                t.add(cands[i].class.unwrap_or_default(), 1.0);
            }
            t.winner_share()
        }
        "weighted_prob" => {
            let mut t = Tally::default();
            for i in answered() {
                t.add(
                    cands[i].class.unwrap_or_default(),
                    cands[i].scores.path_prob.unwrap_or(0.0),
                );
            }
            t.winner_share()
        }
        "lowest_perplexity" => single(
            cands,
            subset,
            |c| c.scores.path_prob,
            |a, b| a > b,
            |c| c.scores.path_prob,
        ),
        "self_certainty" => single(
            cands,
            subset,
            |c| c.scores.self_certainty,
            |a, b| a > b,
            |_| None,
        ),
        "shortest" => single(
            cands,
            subset,
            |c| Some(c.scores.n_tokens as f64),
            |a, b| a < b,
            |_| None,
        ),
        "borda" => borda(cands, subset, params.borda_p),
        "rpc" => rpc_select(cands, subset, params.rpc_fit),
        "deepconf_low" => deepconf(cands, subset, 0.1),
        "deepconf_high" => deepconf(cands, subset, 0.9),
        _ => Pick {
            class: None,
            confidence: None,
            votes: Vec::new(),
        },
    }
}

/// Rank all paths by self-certainty (highest first, ties by index, paths
/// without a score last); each answered path adds (N − r + 1)^p.
fn borda(cands: &[Candidate], subset: &[usize], p: f64) -> Pick {
    let n = subset.len();
    let mut order: Vec<usize> = subset.to_vec();
    order.sort_by(|&a, &b| {
        let sa = cands[a].scores.self_certainty.unwrap_or(f64::NEG_INFINITY);
        let sb = cands[b].scores.self_certainty.unwrap_or(f64::NEG_INFINITY);
        sb.total_cmp(&sa).then(a.cmp(&b))
    });
    let mut weight = vec![0.0; cands.len()];
    for (r0, &i) in order.iter().enumerate() {
        weight[i] = ((n - r0) as f64).powf(p);
    }
    let mut t = Tally::default();
    for &i in subset {
        if let Some(c) = cands[i].class {
            t.add(c, weight[i]);
        }
    }
    t.winner_share()
}

/// DeepConf offline: keep the ⌈q·N⌉ answered paths with the highest
/// conf_lowest_group, then vote weighted by it.
fn deepconf(cands: &[Candidate], subset: &[usize], q: f64) -> Pick {
    let keep = (q * subset.len() as f64).ceil() as usize;
    let mut scored: Vec<(usize, f64)> = subset
        .iter()
        .filter_map(|&i| {
            Some((i, cands[i].scores.conf_lowest_group?)).filter(|_| cands[i].class.is_some())
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(keep.max(1));
    scored.sort_by_key(|e| e.0);
    let mut t = Tally::default();
    for (i, conf) in scored {
        t.add(cands[i].class.unwrap_or_default(), conf);
    }
    t.winner_share()
}

/// The class `select` picks, skipping work that cannot change it: RPC's
/// Weibull fit only decides which below-mean paths are pruned, so when one
/// answer wins under every possible pruning the fit is not needed. The
/// accuracy curves call this hundreds of thousands of times.
pub fn select_class(
    id: &str,
    cands: &[Candidate],
    subset: &[usize],
    params: &MethodParams,
) -> Option<usize> {
    if id == "rpc" {
        if let Some(c) = rpc_certain_class(cands, subset) {
            return Some(c);
        }
    }
    select(id, cands, subset, params).class
}

/// The class RPC picks whatever its fit prunes, if there is one. A path at
/// or above the mean path_prob is never pruned; below it, it may be. Each
/// distinct (answer, text) counts the first of its paths that is not pruned,
/// so its weight lies between bounds; an answer whose lowest weight beats
/// every other answer's highest wins in every case.
pub fn rpc_certain_class(cands: &[Candidate], subset: &[usize]) -> Option<usize> {
    let probs: Vec<(usize, f64)> = subset
        .iter()
        .filter_map(|&i| Some((i, cands[i].scores.path_prob?)))
        .collect();
    if probs.len() < 4 {
        // No fit happens: nothing to skip.
        return None;
    }
    let mean = probs.iter().map(|p| p.1).sum::<f64>() / probs.len() as f64;
    // Per (class, text): (lowest, highest) weight it can add, and whether
    // an unprunable path already fixed it.
    let mut keys: Vec<((usize, usize), f64, f64, bool)> = Vec::new();
    for &(i, x) in &probs {
        let Some(c) = cands[i].class else { continue };
        let key = (c, cands[i].text_id);
        let safe = x >= mean;
        match keys.iter_mut().find(|k| k.0 == key) {
            Some(k) if k.3 => {}
            Some(k) => {
                k.1 = k.1.min(x);
                k.2 = k.2.max(x);
                k.3 = safe;
            }
            None => keys.push((key, x, x, safe)),
        }
    }
    let mut bounds: Vec<(usize, f64, f64)> = Vec::new();
    for (key, lo, hi, fixed) in keys {
        // Every path of the key may be pruned unless one is at or above the mean.
        let lo = if fixed { lo } else { 0.0 };
        match bounds.iter_mut().find(|b| b.0 == key.0) {
            Some(b) => {
                b.1 += lo;
                b.2 += hi;
            }
            None => bounds.push((key.0, lo, hi)),
        }
    }
    bounds.iter().find_map(|&(c, lo, _)| {
        bounds
            .iter()
            .filter(|b| b.0 != c)
            .all(|b| lo > b.2)
            .then_some(c)
    })
}

/// Reasoning-Pruning Perplexity Consistency.
fn rpc_select(cands: &[Candidate], subset: &[usize], how: RpcFit) -> Pick {
    let probs: Vec<(usize, f64)> = subset
        .iter()
        .filter_map(|&i| Some((i, cands[i].scores.path_prob?)))
        .collect();
    let mut pruned = vec![false; cands.len()];
    if probs.len() >= 4 {
        let xs: Vec<f64> = probs.iter().map(|p| p.1).collect();
        let fit = match how {
            RpcFit::Exact => rpc::fit(&xs),
            RpcFit::Fast => rpc::fit_fast(&xs),
        };
        if let Some(m) = fit {
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            for (&(i, x), high) in probs.iter().zip(m.posteriors_high(&xs)) {
                pruned[i] = high < 0.5 && x < mean;
            }
        }
    }
    let mut t = Tally::default();
    let mut seen: Vec<(usize, usize)> = Vec::new();
    for &(i, x) in &probs {
        let Some(c) = cands[i].class else { continue };
        if pruned[i] {
            continue;
        }
        let key = (c, cands[i].text_id);
        if seen.contains(&key) {
            // A repeated text adds nothing, but the answer keeps its place.
            t.add(c, 0.0);
            continue;
        }
        seen.push(key);
        t.add(c, x);
    }
    t.winner_share()
}
