//! Drift across turns (methods.md, "Drift across turns"): how answers move
//! between consecutive turns, the confidence and critique scores, and the
//! KL drift D_t with its fitted equilibrium.

use serde::Serialize;

use super::answers;
use super::turn::TurnAnalysis;
use crate::run::Run;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftTurn {
    pub turn: usize,
    /// Answer → number of paths ("" = no answer), most frequent first.
    pub votes: Vec<(String, usize)>,
    /// Share of paths whose answer changed since the previous turn.
    pub changed_share: Option<f64>,
    /// D_t: mean kl_ref over each path's tokens, averaged over paths.
    pub mean_kl_ref: Option<f64>,
    pub mean_entropy: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionCount {
    pub from: String,
    pub to: String,
    pub n: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub from_turn: usize,
    pub to_turn: usize,
    pub counts: Vec<TransitionCount>,
    pub right_right: Option<usize>,
    pub right_wrong: Option<usize>,
    pub wrong_right: Option<usize>,
    pub wrong_wrong: Option<usize>,
    /// P(right at t+1 | right at t).
    pub confidence_score: Option<f64>,
    /// P(right at t+1 | wrong at t).
    pub critique_score: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Equilibrium {
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// −a/b when b < 0.
    pub d_star: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub turns: Vec<DriftTurn>,
    pub transitions: Vec<Transition>,
    pub equilibrium: Equilibrium,
}

/// Each path's answer label per turn (`None`: the path did not reach it).
fn labels(t: &TurnAnalysis, n_paths: usize) -> Vec<Option<String>> {
    let mut out = vec![None; n_paths];
    for p in &t.paths {
        if p.index < n_paths {
            out[p.index] = Some(p.answer.clone().unwrap_or_default());
        }
    }
    out
}

fn same(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() {
        a == b
    } else {
        answers::equal(a, b)
    }
}

/// Least squares fit of y = a + b·x; `None` with fewer than two distinct x.
pub fn fit_line(xs: &[f64], ys: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return None;
    }
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

/// Each path's answer per turn (`None`: the path did not answer that turn;
/// "": it answered without a final answer). Equal answers (methods.md
/// answer equality) share one label: the one the turn's votes list.
pub fn trajectories(run: &Run, turns: &[TurnAnalysis], d: &Drift) -> Vec<Vec<Option<String>>> {
    let n = run.paths.len();
    let mut out = vec![vec![None; turns.len()]; n];
    for (t, ta) in turns.iter().enumerate() {
        for (i, label) in labels(ta, n).into_iter().enumerate() {
            out[i][t] = label.map(|a| {
                d.turns
                    .get(t)
                    .and_then(|dt| dt.votes.iter().find(|v| same(&v.0, &a)))
                    .map_or(a, |v| v.0.clone())
            });
        }
    }
    out
}

/// Mean kl_ref of each path in each turn (`None` where not measured).
pub fn path_kl(run: &Run, n_turns: usize) -> Vec<Vec<Option<f64>>> {
    run.paths
        .iter()
        .map(|p| {
            (0..n_turns)
                .map(|t| {
                    let k = p.turns.get(t)?.tokens.kl_ref.as_ref()?;
                    (!k.is_empty())
                        .then(|| k.iter().map(|&v| f64::from(v)).sum::<f64>() / k.len() as f64)
                })
                .collect()
        })
        .collect()
}

/// Drift over every turn of a run (`turns` from `analyze_run`).
pub fn drift(run: &Run, turns: &[TurnAnalysis]) -> Drift {
    let n = run.paths.len();
    let per_turn: Vec<Vec<Option<String>>> = turns.iter().map(|t| labels(t, n)).collect();
    let mut out_turns = Vec::new();
    let per_path_kl = path_kl(run, turns.len());
    // With the no-history reference the first turn's context is the
    // reference itself: D_1 = 0 exactly, without measuring it.
    let measured = run
        .paths
        .iter()
        .any(|p| p.turns.iter().any(|t| t.tokens.kl_ref.is_some()));
    let no_history = matches!(
        run.drift_reference,
        Some(crate::run::DriftReference::NoHistory)
    );
    for (t, ta) in turns.iter().enumerate() {
        let first_turn_is_reference = t == 0 && measured && no_history;
        let mut votes: Vec<(String, usize)> = Vec::new();
        for a in per_turn[t].iter().flatten() {
            match votes.iter_mut().find(|v| same(&v.0, a)) {
                Some(v) => v.1 += 1,
                None => votes.push((a.clone(), 1)),
            }
        }
        votes.sort_by_key(|v| std::cmp::Reverse(v.1));
        let changed_share = (t > 0).then(|| {
            let pairs: Vec<(&String, &String)> = per_turn[t - 1]
                .iter()
                .zip(&per_turn[t])
                .filter_map(|(a, b)| Some((a.as_ref()?, b.as_ref()?)))
                .collect();
            (!pairs.is_empty()).then(|| {
                pairs.iter().filter(|(a, b)| !same(a, b)).count() as f64 / pairs.len() as f64
            })
        });
        let kls: Vec<f64> = per_path_kl.iter().filter_map(|p| p[t]).collect();
        let ents: Vec<f64> = ta
            .paths
            .iter()
            .filter_map(|p| p.scores.mean_entropy)
            .collect();
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        out_turns.push(DriftTurn {
            turn: t,
            votes,
            changed_share: changed_share.flatten(),
            mean_kl_ref: mean(&kls).or_else(|| first_turn_is_reference.then_some(0.0)),
            mean_entropy: mean(&ents),
        });
    }
    let mut transitions = Vec::new();
    for t in 1..turns.len() {
        let mut counts: Vec<TransitionCount> = Vec::new();
        let gold = (turns[t - 1].gold.clone(), turns[t].gold.clone());
        let (mut rr, mut rw, mut wr, mut ww) = (0, 0, 0, 0);
        for (a, b) in per_turn[t - 1].iter().zip(&per_turn[t]) {
            let (Some(a), Some(b)) = (a, b) else { continue };
            match counts
                .iter_mut()
                .find(|c| same(&c.from, a) && same(&c.to, b))
            {
                Some(c) => c.n += 1,
                None => counts.push(TransitionCount {
                    from: a.clone(),
                    to: b.clone(),
                    n: 1,
                }),
            }
            if let (Some(g0), Some(g1)) = (&gold.0, &gold.1) {
                let ra =
                    answers::is_correct(Some(a).filter(|s| !s.is_empty()).map(|s| s.as_str()), g0);
                let rb =
                    answers::is_correct(Some(b).filter(|s| !s.is_empty()).map(|s| s.as_str()), g1);
                match (ra, rb) {
                    (true, true) => rr += 1,
                    (true, false) => rw += 1,
                    (false, true) => wr += 1,
                    (false, false) => ww += 1,
                }
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.n));
        let has_gold = gold.0.is_some() && gold.1.is_some();
        let ratio = |num: usize, den: usize| (has_gold && den > 0).then(|| num as f64 / den as f64);
        transitions.push(Transition {
            from_turn: t - 1,
            to_turn: t,
            counts,
            right_right: has_gold.then_some(rr),
            right_wrong: has_gold.then_some(rw),
            wrong_right: has_gold.then_some(wr),
            wrong_wrong: has_gold.then_some(ww),
            confidence_score: ratio(rr, rr + rw),
            critique_score: ratio(wr, wr + ww),
        });
    }
    // D_{t+1} − D_t = a + b·D_t over consecutive turns with D measured.
    let d: Vec<Option<f64>> = out_turns.iter().map(|t| t.mean_kl_ref).collect();
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for w in d.windows(2) {
        if let (Some(a), Some(b)) = (w[0], w[1]) {
            xs.push(a);
            ys.push(b - a);
        }
    }
    let fit = fit_line(&xs, &ys);
    let equilibrium = Equilibrium {
        a: fit.map(|f| f.0),
        b: fit.map(|f| f.1),
        d_star: fit.filter(|f| f.1 < 0.0).map(|f| -f.0 / f.1),
    };
    Drift {
        turns: out_turns,
        transitions,
        equilibrium,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyze_run, AnalysisParams};
    use crate::run::{run_with_paths, Message, Role};

    fn turn(text: &str, kl: f32) -> crate::run::Turn {
        let mut t = crate::run::one_token_turn(text);
        t.tokens.kl_ref = Some(vec![kl]);
        t
    }

    #[test]
    fn transitions_scores_and_equilibrium_by_hand() {
        // 4 paths × 3 turns; gold 8 each turn.
        // turn 0: 8, 8, 7, 7   turn 1: 8, 7, 8, 7   turn 2: 8, 8, 8, 7
        let answers = [
            ["8", "8", "8"],
            ["8", "7", "8"],
            ["7", "8", "8"],
            ["7", "7", "7"],
        ];
        let kl = [0.0f32, 0.5, 0.75];
        let paths = answers
            .iter()
            .map(|a| {
                (0..3)
                    .map(|t| turn(&format!("The answer is {}.", a[t]), kl[t]))
                    .collect()
            })
            .collect();
        let mut run = run_with_paths("q", None, 1, paths);
        run.conversation = vec![
            Message {
                role: Role::User,
                content: "q".into(),
            },
            Message {
                role: Role::User,
                content: "sure?".into(),
            },
            Message {
                role: Role::User,
                content: "final".into(),
            },
        ];
        run.gold = Some(vec![Some("8".into()); 3]);
        let turns = analyze_run(&run, &AnalysisParams::default());
        let d = drift(&run, &turns);
        assert_eq!(
            d.turns[0].votes,
            vec![("8".to_owned(), 2), ("7".to_owned(), 2)]
        );
        assert_eq!(d.turns[0].changed_share, None);
        // 0→1: paths 1 and 2 change: 2 of 4.
        assert_eq!(d.turns[1].changed_share, Some(0.5));
        let t01 = &d.transitions[0];
        assert_eq!(
            (
                t01.right_right,
                t01.right_wrong,
                t01.wrong_right,
                t01.wrong_wrong
            ),
            (Some(1), Some(1), Some(1), Some(1))
        );
        assert_eq!(t01.confidence_score, Some(0.5));
        assert_eq!(t01.critique_score, Some(0.5));
        assert!(t01
            .counts
            .iter()
            .any(|c| c.from == "8" && c.to == "7" && c.n == 1));
        // 1→2: right: paths 0, 2 stay right; wrong: path 1 → right, path 3 stays wrong.
        let t12 = &d.transitions[1];
        assert_eq!(t12.confidence_score, Some(1.0));
        assert_eq!(t12.critique_score, Some(0.5));
        // D = 0, 0.5, 0.75: ΔD = 0.5 at D=0, 0.25 at D=0.5 → b = −0.5, a = 0.5, D* = 1.
        assert!((d.equilibrium.b.unwrap() + 0.5).abs() < 1e-9);
        assert!((d.equilibrium.a.unwrap() - 0.5).abs() < 1e-9);
        assert!((d.equilibrium.d_star.unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn no_kl_means_no_equilibrium() {
        assert_eq!(fit_line(&[1.0], &[2.0]), None);
        assert_eq!(fit_line(&[1.0, 1.0], &[2.0, 3.0]), None);
        let (a, b) = fit_line(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]).unwrap();
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
    }

    #[test]
    fn no_history_reference_makes_the_first_turn_zero() {
        // Turns 2 and 3 measured (D = 0.4, 0.6); turn 1 has no kl_ref.
        let kl = [None, Some(0.4f32), Some(0.6)];
        let paths = (0..2)
            .map(|_| {
                (0..3)
                    .map(|t| {
                        let mut x = turn("The answer is 8.", 0.0);
                        x.tokens.kl_ref = kl[t].map(|k| vec![k]);
                        x
                    })
                    .collect()
            })
            .collect();
        let mut run = run_with_paths("q", None, 1, paths);
        run.conversation = Message::users(&["q", "sure?", "final"]);
        let turns = analyze_run(&run, &AnalysisParams::default());
        assert_eq!(drift(&run, &turns).turns[0].mean_kl_ref, None);
        run.drift_reference = Some(crate::run::DriftReference::NoHistory);
        let d = drift(&run, &turns);
        assert_eq!(d.turns[0].mean_kl_ref, Some(0.0));
        // ΔD = 0.4 at D = 0, 0.2 at D = 0.4 → b = −0.5, a = 0.4, D* = 0.8.
        assert!((d.equilibrium.b.unwrap() + 0.5).abs() < 1e-6);
        assert!((d.equilibrium.d_star.unwrap() - 0.8).abs() < 1e-6);
    }
}
