//! The run's `judgements`: what the methods that ask the model again
//! (`p_true`, `p_true_brainstorm`, `usc`; methods.md) asked and read, kept
//! in the run so that anyone can re-check them.

use serde::{Deserialize, Serialize};

/// Method ids of the judged methods, in the order they are shown.
pub const JUDGED_METHODS: [&str; 3] = ["p_true", "p_true_brainstorm", "usc"];

/// One judging pass of one method over one turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// `p_true`, `p_true_brainstorm` or `usc`.
    pub method: String,
    /// The turn judged (0-based, as everywhere in the file).
    pub turn: u32,
    pub created: String,
    /// Who judged: `llama.cpp` with the model file, or the server.
    pub judge: JudgeSource,
    /// Tokens the judge read (prompts) and wrote (USC's answer).
    pub prompt_tokens: u64,
    pub generated_tokens: u64,
    /// P(True): one entry per distinct answer, in order of first appearance.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::budget::vec"
    )]
    pub answers: Vec<AnswerJudgement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usc: Option<UscJudgement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeSource {
    /// `llama.cpp` (in-process) or `remote`.
    pub backend: String,
    /// The model file's name, or the server's model id.
    pub model: String,
    /// The server kind (`llama-server`, `vllm`, …) for `remote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// A message the judge was shown (before its chat template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgeMessage {
    pub role: String,
    pub content: String,
}

/// A token the judge's next-token distribution was read at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadToken {
    pub text: String,
    /// The tokenizer's id (absent when the server returns none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    /// Its probability; absent when the server's top alternatives did not
    /// hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerJudgement {
    pub answer: String,
    #[serde(deserialize_with = "super::budget::vec")]
    pub messages: Vec<JudgeMessage>,
    /// Text the assistant's turn starts with ("The proposed answer is (").
    pub prefix: String,
    /// The prompt as the judge's template rendered it (in-process only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<String>,
    /// "A" (True) and "B" (False).
    pub a: ReadToken,
    pub b: ReadToken,
    /// p(A) / (p(A) + p(B)); absent when either is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_true: Option<f64>,
    pub prompt_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UscJudgement {
    #[serde(deserialize_with = "super::budget::vec")]
    pub messages: Vec<JudgeMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<String>,
    /// Path index of Response 1, 2, … (the turn's paths in order).
    #[serde(deserialize_with = "super::budget::vec")]
    pub responses: Vec<u32>,
    /// Response numbers (from 1) whose text was cut to fit the context,
    /// with the characters kept of each.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::budget::vec"
    )]
    pub truncated: Vec<Truncation>,
    /// What the judge wrote (greedy, at most 64 tokens).
    pub text: String,
    /// The response number read from it; absent when unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    pub response: u32,
    pub kept_chars: u32,
    pub total_chars: u32,
}

/// What judging one turn needs from the analysis (the distinct answers
/// and the responses), so that the engine judges without knowing how
/// answers are extracted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JudgeTurn {
    /// 0-based turn.
    pub turn: usize,
    /// The turn's user message.
    pub question: String,
    /// Distinct answers, in order of first appearance.
    pub answers: Vec<String>,
    /// The answers of the turn's paths in path order (unanswered paths left
    /// out), for the brainstorm variant's list.
    pub sampled_answers: Vec<String>,
    /// (path index, response text) of every path that reached the turn.
    pub responses: Vec<(u32, String)>,
}

/// The response number in a USC answer: "The most consistent response is
/// Response 3", "response 3.", "Response #3", case-insensitive; the first
/// "response N" after "most consistent response is" if that sentence is
/// there, else the first anywhere. `Err` says why no pick was read.
pub fn parse_usc(text: &str, n_responses: usize) -> Result<u32, String> {
    let lower = text.to_lowercase();
    const SENTENCE: &str = "most consistent response is";
    // "… is Response 3", "… is response #3", "… is 3".
    let in_sentence = lower.find(SENTENCE).and_then(|i| {
        let rest = lower[i + SENTENCE.len()..].trim_start();
        number_after(rest.strip_prefix("response").unwrap_or(rest))
    });
    match in_sentence.or_else(|| first_response_number(&lower)) {
        Some(n) if n >= 1 && n as usize <= n_responses => Ok(n),
        Some(n) => Err(format!(
            "the judge named Response {n}, but there are {n_responses} responses"
        )),
        None => Err("no \"Response N\" in the judge's answer".into()),
    }
}

/// The number that starts `s` ("3", "#3", "number 3", ": 3").
fn number_after(s: &str) -> Option<u32> {
    let s = s.trim_start();
    let s = s
        .strip_prefix("number")
        .unwrap_or(s)
        .trim_start()
        .trim_start_matches(['#', ':'])
        .trim_start();
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The N of the first "response N" ("response #N", "response number N").
fn first_response_number(s: &str) -> Option<u32> {
    let mut rest = s;
    while let Some(i) = rest.find("response") {
        rest = &rest[i + "response".len()..];
        if let Some(n) = number_after(rest) {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usc_answers_are_parsed_as_methods_md_defines() {
        assert_eq!(
            parse_usc("The most consistent response is Response 3", 4),
            Ok(3)
        );
        assert_eq!(parse_usc("response 3.", 4), Ok(3));
        assert_eq!(parse_usc("The most consistent response is 2.", 4), Ok(2));
        assert!(parse_usc("The most consistent response is Response X.", 4).is_err());
        assert_eq!(
            parse_usc("The most consistent response is response #2.", 4),
            Ok(2)
        );
        // Earlier mentions do not count once the sentence is there.
        assert_eq!(
            parse_usc(
                "Responses 1 and 2 differ. The most consistent response is Response 4",
                4
            ),
            Ok(4)
        );
        assert!(parse_usc("I cannot decide.", 4)
            .unwrap_err()
            .contains("no \"Response N\""));
        assert!(parse_usc("The most consistent response is Response 9", 4)
            .unwrap_err()
            .contains("there are 4"));
        assert!(parse_usc("Response 0", 4).is_err());
    }
}
