//! The methods that ask the model again (methods.md): their picks, read
//! from the run's `judgements`, and what judging a turn needs from the
//! analysis (`judge_input`).

use super::answers;
use super::methods::Pick;
use super::turn::{outcome, MethodOutcome, PathAnalysis};
use crate::run::judgement::{JudgeTurn, Judgement, JUDGED_METHODS};
use crate::run::Run;

pub const NOT_JUDGED: &str =
    "not judged: asks the model again (reasonscope judge, or Ask the model in the Methods view)";
const P_TRUE_UNKNOWN: &str =
    "P(True) is unknown for some answer (the server's top alternatives lacked \"A\" or \"B\")";
const STALE: &str =
    "the judged answers are not this turn's answers (the answer settings changed since judging)";

/// What judging turn `t` needs: its question, distinct answers, the
/// paths' answers and texts.
pub fn judge_input(run: &Run, t: usize, classes: &[String], paths: &[PathAnalysis]) -> JudgeTurn {
    JudgeTurn {
        turn: t,
        question: run.user_message(t).unwrap_or_default(),
        answers: classes.to_vec(),
        sampled_answers: paths.iter().filter_map(|p| p.answer.clone()).collect(),
        responses: paths
            .iter()
            .filter_map(|p| {
                let text = &run.paths.get(p.index)?.turns.get(t)?.text;
                Some((p.index as u32, text.clone()))
            })
            .collect(),
    }
}

/// What judging `run` needs, for every turn (or only turn `only`) that
/// some path answered.
pub fn inputs(run: &Run, only: Option<usize>, params: &super::AnalysisParams) -> Vec<JudgeTurn> {
    (0..run.n_turns())
        .filter(|t| only.is_none_or(|o| o == *t))
        .map(|t| {
            let a = super::analyze_turn(run, t, params);
            judge_input(run, t, &a.answers, &a.paths)
        })
        .filter(|i| !i.responses.is_empty())
        .collect()
}

fn find<'a>(run: &'a Run, method: &str, t: usize) -> Option<&'a Judgement> {
    run.judgements
        .iter()
        .find(|j| j.method == method && j.turn as usize == t)
}

fn blank(method: &'static str, why: &'static str) -> MethodOutcome {
    super::turn::unavailable_outcome(method, why)
}

/// P(True): the answer with the largest P(True), the earliest on a tie.
fn p_true_pick(j: &Judgement, classes: &[String]) -> Result<Pick, &'static str> {
    let mut votes = Vec::with_capacity(classes.len());
    for (c, class) in classes.iter().enumerate() {
        let a = j
            .answers
            .iter()
            .find(|a| answers::equal(&a.answer, class))
            .ok_or(STALE)?;
        votes.push((c, a.p_true.ok_or(P_TRUE_UNKNOWN)?));
    }
    let best = votes
        .iter()
        .fold(None, |b: Option<(usize, f64)>, &(c, v)| match b {
            Some((_, bv)) if bv >= v => b,
            _ => Some((c, v)),
        });
    Ok(Pick {
        class: best.map(|b| b.0),
        confidence: best.map(|b| b.1),
        votes,
    })
}

/// USC: the answer of the response the judge named.
fn usc_pick(
    j: &Judgement,
    classes: &[String],
    paths: &[PathAnalysis],
) -> Result<(Pick, Option<String>), &'static str> {
    let u = j.usc.as_ref().ok_or(STALE)?;
    let Some(n) = u.pick else {
        let why = u.note.clone().unwrap_or_else(|| "unreadable".into());
        return Ok((
            Pick {
                class: None,
                confidence: None,
                votes: Vec::new(),
            },
            Some(format!("no pick: {why}; the judge wrote {:?}", u.text)),
        ));
    };
    // Picks are 1-based; a 0 from a file is as stale as one past the end.
    let k = (n as usize).checked_sub(1).ok_or(STALE)?;
    let path = *u.responses.get(k).ok_or(STALE)? as usize;
    let pa = paths.iter().find(|p| p.index == path).ok_or(STALE)?;
    let class = match &pa.answer {
        Some(a) => Some(
            classes
                .iter()
                .position(|c| answers::equal(c, a))
                .ok_or(STALE)?,
        ),
        None => None,
    };
    // The prompt numbers responses from 1; paths are numbered from 0.
    let note = format!("picked Response {n} of the prompt = path {path}");
    let note = if class.is_none() {
        format!("{note} has no answer")
    } else {
        note
    };
    Ok((
        Pick {
            class,
            confidence: None,
            votes: class.map(|c| vec![(c, 1.0)]).unwrap_or_default(),
        },
        Some(note),
    ))
}

/// The judged methods' rows for turn `t`.
pub fn outcomes(
    run: &Run,
    t: usize,
    classes: &[String],
    paths: &[PathAnalysis],
    gold: Option<&str>,
) -> Vec<MethodOutcome> {
    JUDGED_METHODS
        .iter()
        .map(|&m| {
            let Some(j) = find(run, m, t) else {
                return blank(m, NOT_JUDGED);
            };
            let picked = if m == "usc" {
                usc_pick(j, classes, paths)
            } else {
                p_true_pick(j, classes).map(|p| (p, None))
            };
            let mut o = match picked {
                Ok((pick, note)) => MethodOutcome {
                    note,
                    ..outcome(m, &pick, classes, gold)
                },
                Err(why) => blank(m, why),
            };
            o.judge_tokens = (j.prompt_tokens + j.generated_tokens) as usize;
            o
        })
        .collect()
}

/// (P(True), correct) of every judged answer of every question with a
/// gold answer: the calibration the P(True) paper reports.
pub fn p_true_pairs<'a>(
    judged: impl IntoIterator<Item = (&'a Run, usize)>,
    method: &str,
) -> Vec<(f64, bool)> {
    let mut out = Vec::new();
    for (run, t) in judged {
        let (Some(gold), Some(j)) = (run.gold_for(t), find(run, method, t)) else {
            continue;
        };
        for a in &j.answers {
            if let Some(p) = a.p_true {
                out.push((p, answers::is_correct(Some(&a.answer), gold)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::judgement::{AnswerJudgement, JudgeSource, ReadToken, UscJudgement};

    fn judgement(method: &str) -> Judgement {
        Judgement {
            method: method.into(),
            turn: 0,
            created: String::new(),
            judge: JudgeSource {
                backend: "llama.cpp".into(),
                model: "m.gguf".into(),
                server: None,
            },
            prompt_tokens: 100,
            generated_tokens: 0,
            answers: Vec::new(),
            usc: None,
        }
    }

    fn answer(a: &str, pa: f64, pb: f64) -> AnswerJudgement {
        AnswerJudgement {
            answer: a.into(),
            messages: Vec::new(),
            prefix: String::new(),
            rendered: None,
            a: ReadToken {
                text: "A".into(),
                id: Some(1),
                p: Some(pa),
            },
            b: ReadToken {
                text: "B".into(),
                id: Some(2),
                p: Some(pb),
            },
            p_true: Some(pa / (pa + pb)),
            prompt_tokens: 50,
            note: None,
        }
    }

    #[test]
    fn p_true_picks_the_largest_and_the_earliest_on_a_tie() {
        let classes = vec!["4".to_owned(), "5".to_owned(), "6".to_owned()];
        let mut j = judgement("p_true");
        j.answers = vec![
            answer("4", 0.2, 0.6),
            answer("5", 0.3, 0.1),
            answer("6", 0.6, 0.2),
        ];
        let p = p_true_pick(&j, &classes).unwrap();
        // 0.25, 0.75, 0.75: "5" comes first.
        assert_eq!(p.class, Some(1));
        assert!((p.confidence.unwrap() - 0.75).abs() < 1e-12);
        // An answer not judged: the judgement is stale.
        assert_eq!(p_true_pick(&j, &["7".to_owned()]).unwrap_err(), STALE);
        j.answers[2].p_true = None;
        assert_eq!(p_true_pick(&j, &classes).unwrap_err(), P_TRUE_UNKNOWN);
    }

    #[test]
    fn usc_maps_the_response_number_to_its_path() {
        let classes = vec!["4".to_owned(), "5".to_owned()];
        let path = |index, a: Option<&str>| PathAnalysis {
            index,
            answer: a.map(str::to_owned),
            correct: None,
            scores: Default::default(),
            reflection: crate::analysis::reflection::reflection("", &[], None, &[]),
        };
        let paths = vec![path(0, Some("4")), path(1, None), path(2, Some("5"))];
        let mut j = judgement("usc");
        j.usc = Some(UscJudgement {
            messages: Vec::new(),
            rendered: None,
            responses: vec![0, 1, 2],
            truncated: Vec::new(),
            text: "The most consistent response is Response 3".into(),
            pick: Some(3),
            note: None,
        });
        let (p, note) = usc_pick(&j, &classes, &paths).unwrap();
        assert_eq!(p.class, Some(1));
        assert_eq!(
            note.as_deref(),
            Some("picked Response 3 of the prompt = path 2")
        );
        j.usc.as_mut().unwrap().pick = None;
        let (p, note) = usc_pick(&j, &classes, &paths).unwrap();
        assert_eq!(p.class, None);
        assert!(note.unwrap().starts_with("no pick"));
        // Response 0 and one past the end (a file's) are stale, not a panic.
        for bad in [0, 4] {
            j.usc.as_mut().unwrap().pick = Some(bad);
            assert_eq!(usc_pick(&j, &classes, &paths).unwrap_err(), STALE);
        }
    }

    #[test]
    fn the_suite_counts_judge_tokens_and_calibrates_every_judged_answer() {
        use crate::run::{one_token_turn, run_with_paths};
        // Two questions, answers "8" (right) and "9"; P(True) 0.8 / 0.3 on
        // the first, 0.4 / 0.6 on the second (the second picks wrong).
        let make = |p8: f64, p9: f64| {
            let mut r = run_with_paths(
                "q",
                Some("8"),
                5,
                vec![
                    vec![one_token_turn("The answer is 8.")],
                    vec![one_token_turn("The answer is 9.")],
                ],
            );
            let mut j = judgement("p_true");
            j.answers = vec![answer("8", p8, 1.0 - p8), answer("9", p9, 1.0 - p9)];
            r.judgements.push(j);
            r
        };
        let runs = [make(0.8, 0.3), make(0.4, 0.6)];
        let params = crate::analysis::AnalysisParams::default();
        let turns: Vec<_> = runs
            .iter()
            .map(|r| crate::analysis::analyze_turn(r, 0, &params))
            .collect();
        let qs: Vec<&crate::analysis::TurnAnalysis> = turns.iter().collect();
        let methods = crate::analysis::suite::suite_methods(&qs);
        let m = methods.iter().find(|m| m.method == "p_true").unwrap();
        assert_eq!(m.accuracy, 0.5);
        // 100 prompt tokens per judgement, counted in the total too.
        assert_eq!(m.judge_tokens, 200);
        let majority = methods.iter().find(|m| m.method == "majority").unwrap();
        assert_eq!(m.tokens_total, majority.tokens_total + 200);
        // Every judged answer: (0.8, right) (0.3, wrong) (0.4, right)
        // (0.6, wrong): Brier = (0.04 + 0.09 + 0.36 + 0.36) / 4.
        let c = m.answer_calibration.as_ref().unwrap();
        assert_eq!(c.n_answers, 4);
        assert!((c.brier.unwrap() - 0.2125).abs() < 1e-12);
        // AUROC: of the 4 right-wrong pairs, (0.8 > 0.3), (0.8 > 0.6),
        // (0.4 > 0.3) are ordered, (0.4 < 0.6) is not: 0.75.
        assert!((c.auroc.unwrap() - 0.75).abs() < 1e-12);
        // Not judged: not in the suite table.
        assert!(!methods.iter().any(|m| m.method == "usc"));
    }
}
