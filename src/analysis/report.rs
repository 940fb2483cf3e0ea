//! The JSON report of `reasonscope analyze --format json`: a contract other
//! tools read, so its field names are fixed (issue "Analysis", item 7).

use std::collections::BTreeMap;

use serde::Serialize;

use super::curves::{self, CurvePoint};
use super::suite::{self, SuiteMethod};
use super::turn::{analyze_run, AnalysisParams, TurnAnalysis};
use crate::run::Run;

#[derive(Debug, Serialize)]
pub struct Report {
    pub runs: Vec<RunReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suite: Option<SuiteReport>,
}

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub file: String,
    pub turns: Vec<TurnReport>,
    /// Multi-turn runs only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftReport>,
}

#[derive(Debug, Serialize)]
pub struct DriftTurnReport {
    pub turn: usize,
    pub votes: BTreeMap<String, usize>,
    pub changed_share: Option<f64>,
    pub mean_kl_ref: Option<f64>,
    pub mean_entropy: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct DriftReport {
    pub turns: Vec<DriftTurnReport>,
    pub transitions: Vec<super::drift::Transition>,
    pub equilibrium: super::drift::Equilibrium,
}

fn drift_report(run: &Run, turns: &[TurnAnalysis]) -> Option<DriftReport> {
    if turns.len() < 2 {
        return None;
    }
    let d = super::drift::drift(run, turns);
    Some(DriftReport {
        turns: d
            .turns
            .into_iter()
            .map(|t| DriftTurnReport {
                turn: t.turn,
                votes: t.votes.into_iter().collect(),
                changed_share: finite(t.changed_share),
                mean_kl_ref: finite(t.mean_kl_ref),
                mean_entropy: finite(t.mean_entropy),
            })
            .collect(),
        transitions: d.transitions,
        equilibrium: d.equilibrium,
    })
}

#[derive(Debug, Serialize)]
pub struct TurnReport {
    pub turn: usize,
    pub gold: Option<String>,
    pub paths: Vec<PathReport>,
    pub methods: Vec<MethodReport>,
    pub forks: Vec<ForkReport>,
}

#[derive(Debug, Serialize)]
pub struct ReflectionReport {
    pub first_candidate_token: Option<usize>,
    pub share: Option<f64>,
    pub markers: Vec<MarkerReport>,
    pub confirmatory: usize,
    pub corrective: usize,
}

#[derive(Debug, Serialize)]
pub struct MarkerReport {
    pub text: String,
    pub token: usize,
}

#[derive(Debug, Serialize)]
pub struct PathReport {
    pub index: usize,
    pub answer: Option<String>,
    pub correct: Option<bool>,
    /// n_tokens, mean_logprob, …, uncertain_points under their own names
    /// (serde_json writes a non-finite score as null).
    #[serde(flatten)]
    pub scores: super::scores::PathScores,
    pub reflection: ReflectionReport,
}

#[derive(Debug, Serialize)]
pub struct MethodReport {
    pub method: &'static str,
    pub answer: Option<String>,
    pub confidence: Option<f64>,
    pub correct: Option<bool>,
    pub votes: BTreeMap<String, f64>,
    /// Why the method could not be computed on this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<&'static str>,
    /// Answers tied with the winner (broken by path order).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tie: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub judge_tokens: usize,
}

#[derive(Debug, Serialize)]
pub struct ForkChildReport {
    pub text: String,
    pub paths: Vec<usize>,
    pub answers: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
pub struct ForkReport {
    pub position: usize,
    pub entropy: f64,
    pub decisiveness: f64,
    pub children: Vec<ForkChildReport>,
}

#[derive(Debug, Serialize)]
pub struct SuiteMethodReport {
    pub method: &'static str,
    pub n_questions: usize,
    pub accuracy: f64,
    /// Wilson's 95% interval of the accuracy over the questions.
    pub accuracy_interval: Option<(f64, f64)>,
    pub ece: Option<f64>,
    pub brier: Option<f64>,
    pub auroc: Option<f64>,
    pub tokens_total: usize,
    pub tokens_sequential: usize,
    /// Questions whose pick was a tie broken by path order.
    pub ties: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub judge_tokens: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_calibration: Option<suite::AnswerCalibration>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub struct SuiteReport {
    pub methods: Vec<SuiteMethodReport>,
    pub curves: Vec<CurvePoint>,
}

/// Non-finite numbers become null (JSON has no NaN).
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

pub fn turn_report(t: &TurnAnalysis) -> TurnReport {
    TurnReport {
        turn: t.turn,
        gold: t.gold.clone(),
        paths: t
            .paths
            .iter()
            .map(|p| {
                let s = &p.scores;
                PathReport {
                    index: p.index,
                    answer: p.answer.clone(),
                    correct: p.correct,
                    scores: *s,
                    reflection: ReflectionReport {
                        first_candidate_token: p.reflection.first_candidate_token,
                        share: p.reflection.share,
                        markers: p
                            .reflection
                            .markers
                            .iter()
                            .map(|m| MarkerReport {
                                text: m.text.clone(),
                                token: m.token,
                            })
                            .collect(),
                        confirmatory: p.reflection.confirmatory,
                        corrective: p.reflection.corrective,
                    },
                }
            })
            .collect(),
        methods: t
            .methods
            .iter()
            .map(|m| MethodReport {
                method: m.method,
                answer: m.answer.clone(),
                confidence: finite(m.confidence),
                correct: m.correct,
                votes: m.votes.iter().cloned().collect(),
                unavailable: m.unavailable,
                tie: m.tie.clone(),
                note: m.note.clone(),
                judge_tokens: m.judge_tokens,
            })
            .collect(),
        forks: t
            .forks
            .iter()
            .map(|f| ForkReport {
                position: f.position,
                entropy: f.entropy,
                decisiveness: f.decisiveness,
                children: f
                    .children
                    .iter()
                    .map(|c| ForkChildReport {
                        text: c.text.clone(),
                        paths: c.paths.clone(),
                        answers: c.answers.iter().cloned().collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Suite metrics and curves over every turn with gold of the given analyses.
pub fn suite_report(
    all: &[&TurnAnalysis],
    params: &AnalysisParams,
    draws: usize,
) -> Option<SuiteReport> {
    let with_gold: Vec<&TurnAnalysis> = all.iter().copied().filter(|t| t.gold.is_some()).collect();
    if with_gold.is_empty() {
        return None;
    }
    let methods = suite::suite_methods(&with_gold)
        .into_iter()
        .map(|m: SuiteMethod| SuiteMethodReport {
            method: m.method,
            n_questions: m.n_questions,
            accuracy: m.accuracy,
            accuracy_interval: m.interval(),
            ece: finite(m.ece),
            brier: finite(m.brier),
            auroc: finite(m.auroc),
            tokens_total: m.tokens_total,
            tokens_sequential: m.tokens_sequential,
            ties: m.ties,
            judge_tokens: m.judge_tokens,
            answer_calibration: m.answer_calibration,
        })
        .collect();
    let curves = curves::accuracy_curves(&with_gold, &params.methods, draws, curves::DEFAULT_SEED);
    Some(SuiteReport { methods, curves })
}

/// The whole report over named runs.
pub fn report(runs: &[(String, &Run)], params: &AnalysisParams) -> Report {
    let analyses: Vec<(String, Vec<TurnAnalysis>)> =
        super::par::par_map(runs, |(f, r)| (f.clone(), analyze_run(r, params)));
    let all: Vec<&TurnAnalysis> = analyses.iter().flat_map(|(_, ts)| ts.iter()).collect();
    let suite = suite_report(&all, params, curves::DEFAULT_DRAWS);
    Report {
        runs: analyses
            .iter()
            .zip(runs)
            .map(|((f, ts), (_, run))| RunReport {
                file: f.clone(),
                turns: ts.iter().map(turn_report).collect(),
                drift: drift_report(run, ts),
            })
            .collect(),
        suite,
    }
}
