//! The methods that ask the model again (methods.md): P(True), its
//! brainstorm variant and Universal Self-Consistency. This module builds
//! their prompts and turns what a backend read into the run's
//! `judgements`; it knows neither backend. `local` asks the in-process
//! model, `remote` a server.

pub mod local;
pub mod remote;

use crate::run::judgement::{
    parse_usc, AnswerJudgement, JudgeMessage, JudgeSource, JudgeTurn, Judgement, ReadToken,
    Truncation, UscJudgement, JUDGED_METHODS,
};

use super::EngineError;

/// What the assistant's turn starts with in a P(True) prompt.
pub const P_TRUE_PREFIX: &str = "The proposed answer is (";
/// The sampled answers the brainstorm variant lists (the paper's 5).
pub const BRAINSTORM: usize = 5;
/// USC's answer: greedy, at most this many tokens.
pub const USC_MAX_TOKENS: u32 = 64;

/// Messages plus the text the assistant's turn starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgePrompt {
    pub messages: Vec<(String, String)>,
    pub prefix: String,
}

/// A backend's reading of the next-token distribution after a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRead {
    pub tokens: Vec<ReadToken>,
    pub prompt_tokens: u64,
    pub rendered: Option<String>,
    pub note: Option<String>,
}

/// A backend's greedy answer to a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub text: String,
    pub prompt_tokens: u64,
    pub generated_tokens: u64,
    pub rendered: Option<String>,
}

/// What a judging backend does.
pub trait Judge {
    fn source(&self) -> JudgeSource;
    /// For each prompt, the probabilities of the one-token `choices` as the
    /// next token (the raw distribution, temperature 1). `done` is called
    /// with the number of prompts read so far.
    fn read_choices(
        &mut self,
        prompts: &[JudgePrompt],
        choices: &[&str],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<ChoiceRead>, EngineError>;
    /// Greedy decoding of at most `max_tokens` tokens.
    fn generate(&mut self, prompt: &JudgePrompt, max_tokens: u32)
        -> Result<Generated, EngineError>;
    /// Tokens the prompt takes and the most a prompt plus `max_tokens` may
    /// take, when the backend knows (USC cuts responses to fit).
    fn fit(&self, prompt: &JudgePrompt) -> Option<(usize, usize)>;
}

fn user(content: String) -> Vec<(String, String)> {
    vec![("user".to_owned(), content)]
}

/// The P(True) prompt for `answer` (methods.md: the last user message,
/// the proposed answer, the question; the assistant starts "The proposed
/// answer is (").
pub fn p_true_prompt(question: &str, answer: &str, brainstorm: &[String]) -> JudgePrompt {
    let mut s = format!("{question}\n\n");
    if !brainstorm.is_empty() {
        s.push_str("Here are some brainstormed answers:\n");
        for a in brainstorm {
            s.push_str(a);
            s.push('\n');
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "Proposed answer: {answer}. Is the proposed answer (A) True or (B) False?"
    ));
    JudgePrompt {
        messages: user(s),
        prefix: P_TRUE_PREFIX.to_owned(),
    }
}

/// The USC prompt over `responses` (Chen et al. 2023, numbered from 1).
pub fn usc_prompt(question: &str, responses: &[String]) -> JudgePrompt {
    let mut s = format!("I have generated the following responses to the question: {question}\n\n");
    for (i, r) in responses.iter().enumerate() {
        s.push_str(&format!("Response {}: {}\n\n", i + 1, r.trim()));
    }
    s.push_str(
        "Evaluate these responses.\nSelect the most consistent response based on majority consensus.\nStart your answer with \"The most consistent response is Response X\" (without quotes).",
    );
    JudgePrompt {
        messages: user(s),
        prefix: String::new(),
    }
}

/// The last `keep` characters of `s` (a response's end holds its answer).
fn tail(s: &str, keep: usize) -> String {
    let n = s.chars().count();
    let cut: String = s.chars().skip(n.saturating_sub(keep)).collect();
    format!("…{cut}")
}

/// The USC prompt with responses cut (from the start, each to the same
/// share) until it fits the judge's context with room for the answer.
fn usc_prompt_fitting(
    judge: &dyn Judge,
    question: &str,
    texts: &[String],
) -> Result<(JudgePrompt, Vec<Truncation>), EngineError> {
    let mut prompt = usc_prompt(question, texts);
    let mut kept: Vec<usize> = texts.iter().map(|t| t.chars().count()).collect();
    let totals = kept.clone();
    // Each attempt is counted once; the ninth that still does not fit
    // fails (the loop ends without a break only by a return).
    for attempt in 0..=8 {
        let Some((n, limit)) = judge.fit(&prompt) else {
            break;
        };
        let room = limit.saturating_sub(USC_MAX_TOKENS as usize);
        if n <= room {
            break;
        }
        let too_long = EngineError::PromptTooLong {
            n_prompt: n + USC_MAX_TOKENS as usize,
            n_ctx: limit,
        };
        // Shrink every response by the share the prompt is over, a little
        // more for the tokens a cut does not save.
        let over = (n - room) as f64 / n as f64;
        let longest = *kept.iter().max().unwrap_or(&0);
        let cap = ((longest as f64) * (1.0 - over * 1.25)).floor().max(0.0) as usize;
        if attempt == 8 || cap == 0 || cap >= longest {
            return Err(too_long);
        }
        for k in kept.iter_mut() {
            *k = (*k).min(cap);
        }
        let cut: Vec<String> = texts
            .iter()
            .zip(&kept)
            .zip(&totals)
            .map(|((t, &k), &total)| if k < total { tail(t, k) } else { t.clone() })
            .collect();
        prompt = usc_prompt(question, &cut);
    }
    let truncated = kept
        .iter()
        .zip(&totals)
        .enumerate()
        .filter(|(_, (k, t))| k < t)
        .map(|(i, (&k, &t))| Truncation {
            response: i as u32 + 1,
            kept_chars: k as u32,
            total_chars: t as u32,
        })
        .collect();
    Ok((prompt, truncated))
}

fn messages(p: &JudgePrompt) -> Vec<JudgeMessage> {
    p.messages
        .iter()
        .map(|(role, content)| JudgeMessage {
            role: role.clone(),
            content: content.clone(),
        })
        .collect()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Judge one turn with one method. `progress(done, total)` counts prompts.
pub fn judge_turn(
    judge: &mut dyn Judge,
    method: &str,
    input: &JudgeTurn,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Judgement, EngineError> {
    if !JUDGED_METHODS.contains(&method) {
        return Err(EngineError::InvalidRequest(format!(
            "unknown judging method {method:?}; choose from {}",
            JUDGED_METHODS.join(", ")
        )));
    }
    let mut j = Judgement {
        method: method.to_owned(),
        turn: input.turn as u32,
        created: now(),
        judge: judge.source(),
        prompt_tokens: 0,
        generated_tokens: 0,
        answers: Vec::new(),
        usc: None,
    };
    if method == "usc" {
        progress(0, 1);
        let texts: Vec<String> = input.responses.iter().map(|r| r.1.clone()).collect();
        let (prompt, truncated) = usc_prompt_fitting(judge, &input.question, &texts)?;
        let g = judge.generate(&prompt, USC_MAX_TOKENS)?;
        let (pick, note) = match parse_usc(&g.text, texts.len()) {
            Ok(n) => (Some(n), None),
            Err(e) => (None, Some(e)),
        };
        j.prompt_tokens = g.prompt_tokens;
        j.generated_tokens = g.generated_tokens;
        j.usc = Some(UscJudgement {
            messages: messages(&prompt),
            rendered: g.rendered,
            responses: input.responses.iter().map(|r| r.0).collect(),
            truncated,
            text: g.text,
            pick,
            note,
        });
        progress(1, 1);
        return Ok(j);
    }
    let brainstorm: Vec<String> = if method == "p_true_brainstorm" {
        input
            .sampled_answers
            .iter()
            .take(BRAINSTORM)
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let prompts: Vec<JudgePrompt> = input
        .answers
        .iter()
        .map(|a| p_true_prompt(&input.question, a, &brainstorm))
        .collect();
    let total = prompts.len();
    progress(0, total);
    let reads = judge.read_choices(&prompts, &["A", "B"], &mut |d| progress(d, total))?;
    for ((answer, prompt), read) in input.answers.iter().zip(&prompts).zip(reads) {
        let [a, b]: [ReadToken; 2] = read.tokens.try_into().map_err(|_| {
            EngineError::InvalidRequest("the judge read the wrong number of tokens".into())
        })?;
        let p_true = match (a.p, b.p) {
            (Some(pa), Some(pb)) if pa + pb > 0.0 => Some(pa / (pa + pb)),
            _ => None,
        };
        let note = read.note.or_else(|| {
            p_true.is_none().then(|| {
                "p(A) or p(B) is unknown: the server's top alternatives did not hold it".to_owned()
            })
        });
        j.prompt_tokens += read.prompt_tokens;
        j.answers.push(AnswerJudgement {
            answer: answer.clone(),
            messages: messages(prompt),
            prefix: prompt.prefix.clone(),
            rendered: read.rendered,
            a,
            b,
            p_true,
            prompt_tokens: read.prompt_tokens,
            note,
        });
    }
    Ok(j)
}

/// Prompts judging `inputs` with `methods` takes (the progress total).
pub fn prompt_count(inputs: &[JudgeTurn], methods: &[String]) -> usize {
    inputs
        .iter()
        .map(|i| {
            methods
                .iter()
                .map(|m| if m == "usc" { 1 } else { i.answers.len() })
                .sum::<usize>()
        })
        .sum()
}

/// Judge every turn of `inputs` with every method; `progress(done,
/// total)` counts prompts. Stops between prompts batches once `cancel` is
/// set, keeping what was judged.
pub fn judge_all(
    judge: &mut dyn Judge,
    inputs: &[JudgeTurn],
    methods: &[String],
    cancel: &std::sync::atomic::AtomicBool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Judgement>, EngineError> {
    let total = prompt_count(inputs, methods);
    let mut base = 0;
    let mut out = Vec::new();
    for input in inputs {
        for m in methods {
            if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(out);
            }
            if input.answers.is_empty() && m != "usc" {
                continue;
            }
            let j = judge_turn(judge, m, input, &mut |d, _| progress(base + d, total))?;
            base += if m == "usc" { 1 } else { input.answers.len() };
            out.push(j);
        }
    }
    Ok(out)
}

/// Put `new` into `run.judgements`, replacing an earlier judgement of the
/// same method and turn.
pub fn record(run: &mut crate::run::Run, new: Vec<Judgement>) {
    for j in new {
        run.judgements
            .retain(|o| !(o.method == j.method && o.turn == j.turn));
        run.judgements.push(j);
    }
    run.judgements
        .sort_by_key(|j| (j.turn, JUDGED_METHODS.iter().position(|m| *m == j.method)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_say_what_methods_md_says() {
        let p = p_true_prompt("What is 2+2?", "4", &[]);
        assert_eq!(
            p.messages[0].1,
            "What is 2+2?\n\nProposed answer: 4. Is the proposed answer (A) True or (B) False?"
        );
        assert_eq!(p.prefix, "The proposed answer is (");
        let b = p_true_prompt("Q", "4", &["4".into(), "5".into()]);
        assert!(b.messages[0]
            .1
            .contains("brainstormed answers:\n4\n5\n\nProposed answer: 4."));
        let u = usc_prompt("Q", &["a".into(), "b".into()]);
        assert!(u.messages[0].1.contains("Response 1: a\n\nResponse 2: b"));
        assert!(u.messages[0]
            .1
            .contains("Start your answer with \"The most consistent response is Response X\""));
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abcdef", 2), "…ef");
    }
}
