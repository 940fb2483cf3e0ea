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
    MethodOutcome {
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
    }
}

/// The row of a method that cannot be computed: no answer, no verdict.
fn unavailable_outcome(method: &'static str, why: &'static str) -> MethodOutcome {
    MethodOutcome {
        method,
        answer: None,
        confidence: None,
        correct: None,
        votes: Vec::new(),
        unavailable: Some(why),
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
            reflection: reflection::reflection(
                &tt.text,
                &tt.tokens.text,
                gold.as_deref(),
                &params.markers,
            ),
        });
    }
    let all: Vec<usize> = (0..candidates.len()).collect();
    let source = run.stats_source().source;
    let methods = METHODS
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
