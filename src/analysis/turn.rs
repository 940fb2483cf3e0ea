//! Everything computed for one turn of a run: answers, per-path scores,
//! reflection, every selection method and the branch points.

use serde::Serialize;

use super::answers;
use super::branches::{self, Fork, TriePath};
use super::methods::{self, Candidate, MethodParams, Pick, METHODS};
use super::reflection::{self, Reflection};
use super::scores::{self, PathScores};
use crate::run::Run;

/// Settings of the analysis (the GUI and the CLI expose them).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisParams {
    pub methods: MethodParams,
    pub markers: Vec<String>,
}

impl Default for AnalysisParams {
    fn default() -> Self {
        AnalysisParams {
            methods: MethodParams::default(),
            markers: reflection::default_markers(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathAnalysis {
    /// Index of the path in the run.
    pub index: usize,
    pub answer: Option<String>,
    pub correct: Option<bool>,
    pub scores: PathScores,
    pub reflection: Reflection,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodOutcome {
    pub method: &'static str,
    pub answer: Option<String>,
    pub confidence: Option<f64>,
    pub correct: Option<bool>,
    /// Answer → vote or weight, in order of first appearance.
    pub votes: Vec<(String, f64)>,
    /// Why the method could not be computed on this run (its statistics'
    /// source lacks what it needs); then it has no answer.
    pub unavailable: Option<&'static str>,
    /// Other answers with exactly the winner's vote or value: the tie was
    /// broken by `TIE_RULE`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tie: Vec<String>,
    /// What the reader should know about this pick (USC: the response
    /// named, or why none was read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Tokens the judge read and wrote (methods that ask the model again).
    #[serde(skip_serializing_if = "is_zero")]
    pub judge_tokens: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// How every method breaks a tie (methods.rs: the earliest class or path
/// wins), said wherever a tie is shown.
pub const TIE_RULE: &str = "path order decides: the earliest path's answer wins";

impl MethodOutcome {
    /// The votes as a reader should see them: the chosen answer first (a
    /// cut list must not hide it), then best first (fewest tokens for
    /// `shortest`), equal values in order of first appearance.
    pub fn votes_ranked(&self) -> Vec<&(String, f64)> {
        let lower = super::methods::lower_is_better(self.method);
        let mut votes: Vec<&(String, f64)> = self.votes.iter().collect();
        votes.sort_by(|a, b| {
            let chosen = |v: &(String, f64)| self.answer.as_deref() == Some(v.0.as_str());
            let by_value = if lower {
                a.1.total_cmp(&b.1)
            } else {
                b.1.total_cmp(&a.1)
            };
            chosen(b).cmp(&chosen(a)).then(by_value)
        });
        votes
    }

    /// "tie with 3, 5 (broken by …)", when there was one.
    pub fn tie_note(&self) -> Option<String> {
        (!self.tie.is_empty()).then(|| format!("tie with {} ({TIE_RULE})", self.tie.join(", ")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnAnalysis {
    pub turn: usize,
    pub gold: Option<String>,
    /// Distinct answers (classes), in order of first appearance.
    pub answers: Vec<String>,
    pub paths: Vec<PathAnalysis>,
    pub candidates: Vec<Candidate>,
    pub methods: Vec<MethodOutcome>,
    pub forks: Vec<Fork>,
}

impl TurnAnalysis {
    pub fn method(&self, id: &str) -> Option<&MethodOutcome> {
        self.methods.iter().find(|m| m.method == id)
    }
}

/// Group answers into classes with `answers::equal`.
fn classify(answers_: &[Option<String>]) -> (Vec<String>, Vec<Option<usize>>) {
    let mut classes: Vec<String> = Vec::new();
    let ids = answers_
        .iter()
        .map(|a| {
            let a = a.as_ref()?;
            Some(match classes.iter().position(|c| answers::equal(c, a)) {
                Some(i) => i,
                None => {
                    classes.push(a.clone());
                    classes.len() - 1
                }
            })
        })
        .collect();
    (classes, ids)
}

fn text_ids(texts: &[&str]) -> Vec<usize> {
    let mut seen: Vec<&str> = Vec::new();
    texts
        .iter()
        .map(|t| match seen.iter().position(|s| s == t) {
            Some(i) => i,
            None => {
                seen.push(t);
                seen.len() - 1
            }
        })
        .collect()
}

/// Turn a pick into answers and correctness.
pub fn outcome(
    method: &'static str,
    pick: &Pick,
    classes: &[String],
    gold: Option<&str>,
) -> MethodOutcome {
    let answer = pick.class.map(|c| classes[c].clone());
    // Exactly equal votes or values (one path's choice for `first` is not
    // a vote).
    let winner = pick
        .class
        .and_then(|w| pick.votes.iter().find(|e| e.0 == w).map(|e| e.1));
    let tie = match winner {
        Some(wv) if method != "first" => pick
            .votes
            .iter()
            .filter(|&&(c, v)| Some(c) != pick.class && v == wv)
            .map(|&(c, _)| classes[c].clone())
            .collect(),
        _ => Vec::new(),
    };
    MethodOutcome {
        tie,
        method,
        correct: gold.map(|g| answers::is_correct(answer.as_deref(), g)),
        answer,
        confidence: pick.confidence,
        votes: pick
            .votes
            .iter()
            .map(|&(c, v)| (classes[c].clone(), v))
            .collect(),
        unavailable: None,
        note: None,
        judge_tokens: 0,
    }
}

/// The row of a method that cannot be computed: no answer, no verdict.
pub(crate) fn unavailable_outcome(method: &'static str, why: &'static str) -> MethodOutcome {
    MethodOutcome {
        method,
        answer: None,
        confidence: None,
        correct: None,
        votes: Vec::new(),
        unavailable: Some(why),
        tie: Vec::new(),
        note: None,
        judge_tokens: 0,
    }
}

/// Analyse turn `t` over the paths that answered it.
pub fn analyze_turn(run: &Run, t: usize, params: &AnalysisParams) -> TurnAnalysis {
    let gold = run.gold_for(t).map(str::to_owned);
    let spec = run.answer.as_ref();
    let turns: Vec<(usize, &crate::run::Turn)> = run
        .paths
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.turns.get(t).map(|tt| (i, tt)))
        .collect();
    let raw_answers: Vec<Option<String>> = turns
        .iter()
        .map(|(_, tt)| answers::extract(&tt.text, spec))
        .collect();
    let (classes, class_ids) = classify(&raw_answers);
    let texts: Vec<&str> = turns.iter().map(|(_, tt)| tt.text.as_str()).collect();
    let tids = text_ids(&texts);
    let window = params.methods.window;
    let mut paths = Vec::with_capacity(turns.len());
    let mut candidates = Vec::with_capacity(turns.len());
    for (k, (i, tt)) in turns.iter().enumerate() {
        let s = scores::path_scores(&tt.tokens, window);
        let answer = class_ids[k].map(|c| classes[c].clone());
        let final_answer_tokens = answer
            .as_deref()
            .and_then(|a| reflection::answer_tokens(&tt.text, &tt.tokens.text, a));
        candidates.push(Candidate {
            class: class_ids[k],
            text_id: tids[k],
            scores: s,
            trial_tokens: trial_tokens(run, *i, t),
        });
        paths.push(PathAnalysis {
            index: *i,
            correct: gold
                .as_deref()
                .map(|g| answers::is_correct(answer.as_deref(), g)),
            answer,
            scores: s,
            reflection: reflection::Reflection {
                final_answer_tokens,
                ..reflection::reflection(
                    &tt.text,
                    &tt.tokens.text,
                    gold.as_deref(),
                    &params.markers,
                )
            },
        });
    }
    let all: Vec<usize> = (0..candidates.len()).collect();
    let source = run.stats_source().source;
    let mut methods: Vec<MethodOutcome> = METHODS
        .iter()
        .map(|&m| match methods::unavailable(m, source) {
            Some(why) => unavailable_outcome(m, why),
            None => outcome(
                m,
                &methods::select(m, &candidates, &all, &params.methods),
                &classes,
                gold.as_deref(),
            ),
        })
        .collect();
    methods.extend(super::judged::outcomes(
        run,
        t,
        &classes,
        &paths,
        gold.as_deref(),
    ));
    let trie: Vec<TriePath> = turns
        .iter()
        .zip(&paths)
        .map(|((_, tt), pa)| TriePath {
            ids: &tt.tokens.id,
            texts: &tt.tokens.text,
            entropy: &tt.tokens.entropy,
            answer: pa.answer.clone(),
        })
        .collect();
    let forks = branches::forks(&trie);
    TurnAnalysis {
        turn: t,
        gold,
        answers: classes,
        paths,
        candidates,
        methods,
        forks,
    }
}

/// Tokens of the CNTP trials that path `path` sampled in turn `turn` and
/// did not keep (they cost compute like kept tokens; 0 for other methods).
fn trial_tokens(run: &Run, path: usize, turn: usize) -> usize {
    run.decoding
        .as_ref()
        .and_then(|d| d.cntp.as_ref())
        .map_or(0, |c| {
            c.steps
                .iter()
                .filter(|s| s.path as usize == path && s.turn as usize == turn)
                .flat_map(|s| s.trials.iter().filter(|t| !t.kept))
                .map(|t| t.ids.len())
                .sum()
        })
}

/// Every turn of a run.
pub fn analyze_run(run: &Run, params: &AnalysisParams) -> Vec<TurnAnalysis> {
    (0..run.n_turns())
        .map(|t| analyze_turn(run, t, params))
        .collect()
}

/// "5 of 16 paths unfinished (3 running, 2 cut at the token limit): …"
/// when some paths of turn `t` did not end with their end-of-generation
/// token; their answers so far are counted as votes, which the reader must
/// know. `running`: paths still being sampled (shown as `cancelled` in the
/// run until they end).
pub fn unfinished_note(run: &Run, t: usize, running: usize) -> Option<String> {
    use crate::run::Finish;
    let mut counts = [0usize; 4];
    let mut answered = 0;
    for p in &run.paths {
        let Some(turn) = p.turns.get(t) else { continue };
        answered += 1;
        match turn.finish {
            Finish::Stop => {}
            Finish::Length => counts[0] += 1,
            Finish::ContextFull => counts[1] += 1,
            Finish::Cancelled => counts[2] += 1,
            Finish::Error => counts[3] += 1,
        }
    }
    let stopped = counts[2].saturating_sub(running);
    let parts: Vec<String> = [
        (running, "running"),
        (counts[0], "cut at the token limit"),
        (counts[1], "cut by a full context"),
        (stopped, "stopped"),
        (counts[3], "ended by an error"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let n: usize = counts.iter().sum();
    (n > 0).then(|| {
        format!(
            "{n} of {answered} paths unfinished ({}): their answers so far count as votes",
            parts.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn votes_are_ranked_chosen_first_then_best_first() {
        let outcome = |method: &'static str, answer: &str, votes: &[(&str, f64)]| MethodOutcome {
            method,
            answer: Some(answer.into()),
            confidence: None,
            correct: None,
            votes: votes.iter().map(|(a, v)| ((*a).to_owned(), *v)).collect(),
            unavailable: None,
            tie: Vec::new(),
            note: None,
            judge_tokens: 0,
        };
        let names = |m: &MethodOutcome| -> Vec<String> {
            m.votes_ranked().iter().map(|(a, _)| a.clone()).collect()
        };
        // A tie between 8 and 3, broken for 3 (it came first): 3, then 8,
        // then the rest by votes, equal votes in order of appearance.
        let m = outcome(
            "majority",
            "3",
            &[
                ("0", 1.0),
                ("3", 5.0),
                ("1", 3.0),
                ("8", 5.0),
                ("24", 4.0),
                ("2", 3.0),
            ],
        );
        assert_eq!(names(&m), ["3", "8", "24", "1", "2", "0"]);
        // Fewest tokens first for `shortest`.
        let m = outcome("shortest", "5", &[("7", 90.0), ("5", 12.0), ("6", 40.0)]);
        assert_eq!(names(&m), ["5", "6", "7"]);
    }

    use crate::run::{one_token_turn, run_with_paths};

    fn methods_of(answers: &[&str]) -> Vec<super::MethodOutcome> {
        let paths = answers
            .iter()
            .map(|a| vec![one_token_turn(&format!("The answer is {a}."))])
            .collect();
        let run = run_with_paths("q", Some("3"), 1, paths);
        crate::analysis::analyze_run(&run, &crate::analysis::AnalysisParams::default())
            .remove(0)
            .methods
    }

    #[test]
    fn unfinished_paths_are_counted_by_why() {
        let mut paths: Vec<Vec<crate::run::Turn>> = (0..4)
            .map(|_| vec![one_token_turn("The answer is 3.")])
            .collect();
        paths[1][0].finish = crate::run::Finish::Length;
        paths[2][0].finish = crate::run::Finish::Cancelled;
        paths[3][0].finish = crate::run::Finish::Cancelled;
        let run = run_with_paths("q", None, 1, paths);
        assert_eq!(
            super::unfinished_note(&run, 0, 1).unwrap(),
            "3 of 4 paths unfinished (1 running, 1 cut at the token limit, 1 stopped): their answers so far count as votes"
        );
        let done = run_with_paths("q", None, 1, vec![vec![one_token_turn("3")]]);
        assert_eq!(super::unfinished_note(&done, 0, 0), None);
    }

    #[test]
    fn a_tie_is_said_with_how_it_was_broken() {
        // 1 and 3 have two votes each: the earliest path's answer, 1, wins.
        let m = methods_of(&["1", "3", "3", "1", "5"]);
        let maj = m.iter().find(|m| m.method == "majority").unwrap();
        assert_eq!(maj.answer.as_deref(), Some("1"));
        assert_eq!(maj.tie, vec!["3".to_owned()]);
        assert!(maj.tie_note().unwrap().contains("earliest path"));
        // One path's answer is not a vote: `first` never ties.
        assert!(m
            .iter()
            .find(|m| m.method == "first")
            .unwrap()
            .tie
            .is_empty());
        // A clear winner has no tie.
        let m = methods_of(&["1", "3", "3"]);
        assert!(m
            .iter()
            .find(|m| m.method == "majority")
            .unwrap()
            .tie
            .is_empty());
    }
}
