//! Per-method results over a suite of questions (every turn with a gold
//! answer, across runs): accuracy, tokens, calibration.

use serde::Serialize;

use super::calibration::{self, Bin};
use super::curves::tokens_spent;
use super::methods::METHODS;
use super::turn::TurnAnalysis;
use crate::run::judgement::JUDGED_METHODS;

/// What a method's confidence is (methods.md, "confidence shown"): the
/// methods' confidences are different quantities, compared only within a
/// method (ECE, Brier and AUROC are per method).
pub fn confidence_meaning(method: &str) -> &'static str {
    match method {
        "majority" => "the chosen answer's share of the votes",
        "weighted_prob" => "the chosen answer's share of the summed path probabilities",
        "lowest_perplexity" => "the chosen path's probability, 1 / perplexity",
        "borda" => "the chosen answer's share of the Borda votes",
        "rpc" => "the chosen answer's score over the sum of scores",
        "deepconf_low" | "deepconf_high" => {
            "the chosen answer's share of the kept paths' confidence weight (only the kept paths vote: one kept path answering alone gives 1)"
        }
        "p_true" | "p_true_brainstorm" => "the judge's P(True) of the chosen answer",
        _ => "none: this method gives no confidence",
    }
}

/// Methods whose confidence is defined (methods.md, "confidence shown").
pub fn has_confidence(method: &str) -> bool {
    matches!(
        method,
        "majority"
            | "weighted_prob"
            | "lowest_perplexity"
            | "borda"
            | "rpc"
            | "deepconf_low"
            | "deepconf_high"
            | "p_true"
            | "p_true_brainstorm"
    )
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteMethod {
    pub method: &'static str,
    pub n_questions: usize,
    pub accuracy: f64,
    pub ece: Option<f64>,
    pub brier: Option<f64>,
    pub auroc: Option<f64>,
    pub tokens_total: usize,
    pub tokens_sequential: usize,
    /// Questions whose pick was a tie, broken by `turn::TIE_RULE` (a toss-up
    /// counted right or wrong by path order).
    pub ties: usize,
    pub reliability: Option<Vec<Bin>>,
    /// Tokens the judge read and wrote (methods that ask the model again),
    /// also counted in `tokens_total`.
    pub judge_tokens: usize,
    /// P(True) methods: the calibration of every judged answer's P(True)
    /// (the paper's use), not only of the picked one's.
    pub answer_calibration: Option<AnswerCalibration>,
}

impl SuiteMethod {
    /// Wilson's 95% interval of the accuracy over the questions.
    pub fn interval(&self) -> Option<(f64, f64)> {
        let right = (self.accuracy * self.n_questions as f64).round() as usize;
        wilson_interval(right, self.n_questions)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerCalibration {
    pub n_answers: usize,
    pub ece: Option<f64>,
    pub brier: Option<f64>,
    pub auroc: Option<f64>,
    pub reliability: Vec<Bin>,
}

/// (P(True), correct) of every distinct answer the judge read, over the
/// questions with gold answers.
fn answer_pairs(id: &str, qs: &[&TurnAnalysis]) -> Vec<(f64, bool)> {
    qs.iter()
        .filter_map(|q| Some((q.gold.as_deref()?, q.method(id)?)))
        .filter(|(_, o)| o.unavailable.is_none())
        .flat_map(|(gold, o)| {
            o.votes
                .iter()
                .map(move |(a, p)| (*p, super::answers::is_correct(Some(a), gold)))
        })
        .collect()
}

/// Whether method `id` could be computed on every one of these questions
/// (a suite that mixes top-k or text-only runs leaves out what they lack).
pub fn available_everywhere(id: &str, questions: &[&TurnAnalysis]) -> bool {
    questions
        .iter()
        .all(|q| q.method(id).is_some_and(|o| o.unavailable.is_none()))
}

/// Methods some questions have and others lack (judged methods on a
/// partly judged suite, self-certainty beside top-k runs): (id, how many
/// of the questions have it). `suite_methods` leaves them out; this says so.
pub fn partly_available(questions: &[&TurnAnalysis]) -> Vec<(&'static str, usize)> {
    METHODS
        .iter()
        .chain(JUDGED_METHODS.iter())
        .filter_map(|&id| {
            let k = questions
                .iter()
                .filter(|q| q.method(id).is_some_and(|o| o.unavailable.is_none()))
                .count();
            (k > 0 && k < questions.len()).then_some((id, k))
        })
        .collect()
}

/// Per-method metrics over the questions that have gold answers. A question
/// where a method gives no answer counts as wrong with confidence 0.
pub fn suite_methods(questions: &[&TurnAnalysis]) -> Vec<SuiteMethod> {
    let qs: Vec<&TurnAnalysis> = questions
        .iter()
        .copied()
        .filter(|q| q.gold.is_some())
        .collect();
    METHODS
        .iter()
        .chain(JUDGED_METHODS.iter())
        .filter(|&&id| available_everywhere(id, &qs))
        .map(|&id| {
            let mut pairs = Vec::with_capacity(qs.len());
            let mut correct = 0usize;
            let (mut total, mut sequential, mut judge_tokens, mut ties) = (0, 0, 0, 0);
            for q in &qs {
                let outcome = q.method(id);
                ties += usize::from(outcome.is_some_and(|o| !o.tie.is_empty()));
                let ok = outcome.and_then(|o| o.correct).unwrap_or(false);
                correct += usize::from(ok);
                pairs.push((outcome.and_then(|o| o.confidence).unwrap_or(0.0), ok));
                let lens: Vec<usize> = q.candidates.iter().map(|c| c.tokens_spent()).collect();
                let (t, s) = tokens_spent(id, &lens);
                let j = outcome.map_or(0, |o| o.judge_tokens);
                total += t + j;
                sequential += s + j;
                judge_tokens += j;
            }
            let conf = has_confidence(id) && !qs.is_empty();
            SuiteMethod {
                method: id,
                n_questions: qs.len(),
                accuracy: if qs.is_empty() {
                    0.0
                } else {
                    correct as f64 / qs.len() as f64
                },
                ece: conf.then(|| calibration::ece(&pairs)).flatten(),
                brier: conf.then(|| calibration::brier(&pairs)).flatten(),
                auroc: conf.then(|| calibration::auroc(&pairs)).flatten(),
                tokens_total: total,
                tokens_sequential: sequential,
                ties,
                reliability: conf.then(|| calibration::reliability(&pairs)),
                judge_tokens,
                answer_calibration: id.starts_with("p_true").then(|| {
                    let pairs = answer_pairs(id, &qs);
                    AnswerCalibration {
                        n_answers: pairs.len(),
                        ece: calibration::ece(&pairs),
                        brier: calibration::brier(&pairs),
                        auroc: calibration::auroc(&pairs),
                        reliability: calibration::reliability(&pairs),
                    }
                }),
            }
        })
        .collect()
}

/// Items grouped by a label (a run's decoding method), groups and items in
/// order of first appearance.
pub fn group_by_label<'a, T>(
    items: impl IntoIterator<Item = (&'a str, T)>,
) -> Vec<(String, Vec<T>)> {
    let mut groups: Vec<(String, Vec<T>)> = Vec::new();
    for (label, item) in items {
        match groups.iter_mut().find(|g| g.0 == label) {
            Some(g) => g.1.push(item),
            None => groups.push((label.to_owned(), vec![item])),
        }
    }
    groups
}

/// Wilson's 95% score interval for `k` successes in `n` trials.
pub fn wilson_interval(k: usize, n: usize) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let z = 1.959_963_984_540_054_f64;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Questions (indices into `questions`) where the selection methods do not
/// all give the same answer.
pub fn disagreements(questions: &[&TurnAnalysis]) -> Vec<usize> {
    questions
        .iter()
        .enumerate()
        .filter(|(_, q)| {
            // Methods the run cannot compute do not disagree.
            let answers: Vec<Option<&str>> = q
                .methods
                .iter()
                .filter(|m| m.unavailable.is_none())
                .map(|m| m.answer.as_deref())
                .collect();
            if answers.is_empty() {
                return false;
            }
            answers.iter().any(|a| match (a, answers[0]) {
                (Some(x), Some(y)) => !super::answers::equal(x, y),
                (x, y) => x.is_some() != y.is_some(),
            })
        })
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_first_appearance_order() {
        let g = group_by_label([("plain", 1), ("cntp", 2), ("plain", 3)]);
        assert_eq!(
            g,
            vec![
                ("plain".to_string(), vec![1, 3]),
                ("cntp".to_string(), vec![2])
            ]
        );
    }

    #[test]
    fn every_method_with_a_confidence_says_what_it_is() {
        for id in METHODS.iter().chain(JUDGED_METHODS.iter()) {
            let said = confidence_meaning(id);
            assert_eq!(
                has_confidence(id),
                !said.starts_with("none"),
                "{id}: {said}"
            );
        }
    }

    #[test]
    fn wilson_interval_by_hand() {
        // 8 of 10: (0.4902, 0.9433), the textbook values.
        let (lo, hi) = wilson_interval(8, 10).unwrap();
        assert!(
            (lo - 0.4902).abs() < 1e-3 && (hi - 0.9433).abs() < 1e-3,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson_interval(0, 5).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.4345).abs() < 1e-3, "{hi}");
        assert_eq!(wilson_interval(0, 0), None);
    }
}
