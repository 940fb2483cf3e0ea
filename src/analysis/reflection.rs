//! Reflection steps ("First Try Matters"; methods.md, "Reflection steps").

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use super::answers;

pub const DEFAULT_MARKERS: [&str; 17] = [
    "wait",
    "hmm",
    "actually",
    "alternatively",
    "let me check",
    "let me verify",
    "double-check",
    "re-check",
    "on second thought",
    "let me reconsider",
    "i made a mistake",
    "double check",
    "recheck",
    "let's check",
    "let's verify",
    "let's double-check",
    "hold on",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Byte range in the response text.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateAnswer {
    pub step: usize,
    pub answer: String,
    /// Token holding the step's last character.
    pub token: usize,
    pub correct: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marker {
    pub text: String,
    pub token: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct CorrectiveKinds {
    pub wrong_right: usize,
    pub right_wrong: usize,
    pub wrong_wrong: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reflection {
    /// The tokens where the path's final answer is written (first and last,
    /// at its last occurrence in the text), when it is found there.
    pub final_answer_tokens: Option<(usize, usize)>,
    pub steps: Vec<Step>,
    pub candidates: Vec<CandidateAnswer>,
    pub first_candidate_token: Option<usize>,
    /// Share of tokens after the first candidate; `None` without one (no
    /// step states an answer: there is no forward part to split off, and
    /// a 0 would read as "no reflection").
    pub share: Option<f64>,
    pub markers: Vec<Marker>,
    pub confirmatory: usize,
    pub corrective: usize,
    /// With gold: how the corrective reflections changed correctness.
    pub corrective_kinds: Option<CorrectiveKinds>,
}

/// Split at line breaks, and at sentence ends within lines over 200 chars.
pub fn steps(text: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let line_end = line_start + line.len();
        if line.chars().count() > 200 {
            let b = line.as_bytes();
            let mut s = line_start;
            for i in 0..b.len() {
                if matches!(b[i], b'.' | b'!' | b'?') && b.get(i + 1).is_some_and(|c| *c == b' ') {
                    out.push(Step {
                        start: s,
                        end: line_start + i + 2,
                    });
                    s = line_start + i + 2;
                }
            }
            if s < line_end {
                out.push(Step {
                    start: s,
                    end: line_end,
                });
            }
        } else {
            out.push(Step {
                start: line_start,
                end: line_end,
            });
        }
        line_start = line_end;
    }
    out.retain(|s| !text[s.start..s.end].trim().is_empty());
    out
}

/// The answer a step states, if it states one: boxed, "answer is", or a
/// line ending in "= number".
pub fn step_answer(step: &str) -> Option<String> {
    static ANS: OnceLock<Regex> = OnceLock::new();
    static EQ: OnceLock<Regex> = OnceLock::new();
    let ans = ANS.get_or_init(|| Regex::new(r"(?i)answer\s*(?:is|:)").expect("regex"));
    let eq = EQ.get_or_init(|| {
        Regex::new(r"=\s*\$?\s*(-?[\d.,]*\d(?:\s*/\s*\d+)?)\s*\$?\s*\.?\s*$").expect("regex")
    });
    if answers::last_boxed(step).is_some() || ans.is_match(step) {
        return answers::extract(step, None);
    }
    let c = eq.captures(step.trim_end())?;
    Some(answers::normalize(&c[1]))
}

/// Token index holding byte `pos` of the text, given token texts.
fn token_at(token_ends: &[usize], pos: usize) -> usize {
    token_ends
        .partition_point(|&e| e <= pos)
        .min(token_ends.len().saturating_sub(1))
}

fn marker_regex(markers: &[String]) -> Option<Regex> {
    if markers.is_empty() {
        return None;
    }
    // Compiling takes ~0.5 ms and every path of every run uses the same
    // list: keep the last one compiled (per thread; Regex clones are cheap).
    thread_local! {
        static LAST: std::cell::RefCell<Option<(Vec<String>, Option<Regex>)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((m, r)) = last.as_ref() {
            if m.as_slice() == markers {
                return r.clone();
            }
        }
        // Straight and curly apostrophes alike ("let’s check").
        let alts: Vec<String> = markers
            .iter()
            .map(|m| regex::escape(m).replace('\'', "['’]"))
            .collect();
        let r = Regex::new(&format!(r"(?i)\b(?:{})\b", alts.join("|"))).ok();
        *last = Some((markers.to_vec(), r.clone()));
        r
    })
}

/// Analyse one response: `token_texts` concatenate to `text`.
pub fn reflection(
    text: &str,
    token_texts: &[compact_str::CompactString],
    gold: Option<&str>,
    markers: &[String],
) -> Reflection {
    let mut ends = Vec::with_capacity(token_texts.len());
    let mut acc = 0;
    for t in token_texts {
        acc += t.len();
        ends.push(acc);
    }
    let n = token_texts.len();
    let steps = steps(text);
    let mut candidates = Vec::new();
    for (si, s) in steps.iter().enumerate() {
        let step = &text[s.start..s.end];
        if let Some(a) = step_answer(step) {
            // On the answer itself (its last occurrence in the step, or the
            // step's last number), not on the period after it.
            let at = step
                .rfind(a.as_str())
                .or_else(|| answers::last_number_at(step))
                .map_or(s.end.saturating_sub(1), |p| s.start + p);
            let token = if n == 0 { 0 } else { token_at(&ends, at) };
            let correct = gold.map(|g| answers::is_correct(Some(&a), g));
            candidates.push(CandidateAnswer {
                step: si,
                answer: a,
                token,
                correct,
            });
        }
    }
    let first = candidates.first().map(|c| c.token);
    let share = match first {
        Some(t) if n > 0 => Some((n - t - 1) as f64 / n as f64),
        _ => None,
    };
    let found = match marker_regex(markers) {
        Some(r) if n > 0 => r
            .find_iter(text)
            .map(|m| Marker {
                text: m.as_str().to_lowercase(),
                token: token_at(&ends, m.start()),
            })
            .collect(),
        _ => Vec::new(),
    };
    let (mut confirmatory, mut corrective) = (0, 0);
    let mut kinds = CorrectiveKinds::default();
    for w in candidates.windows(2) {
        if answers::equal(&w[0].answer, &w[1].answer) {
            confirmatory += 1;
        } else {
            corrective += 1;
            match (w[0].correct, w[1].correct) {
                (Some(false), Some(true)) => kinds.wrong_right += 1,
                (Some(true), Some(false)) => kinds.right_wrong += 1,
                (Some(false), Some(false)) => kinds.wrong_wrong += 1,
                _ => {}
            }
        }
    }
    Reflection {
        final_answer_tokens: None,
        steps,
        candidates,
        first_candidate_token: first,
        share,
        markers: found,
        confirmatory,
        corrective,
        corrective_kinds: gold.map(|_| kinds),
    }
}

/// The first and last tokens of the last occurrence of `answer` in `text`.
pub fn answer_tokens(
    text: &str,
    token_texts: &[compact_str::CompactString],
    answer: &str,
) -> Option<(usize, usize)> {
    if answer.is_empty() || token_texts.is_empty() {
        return None;
    }
    let pos = text.rfind(answer)?;
    let mut acc = 0;
    let ends: Vec<usize> = token_texts
        .iter()
        .map(|t| {
            acc += t.len();
            acc
        })
        .collect();
    Some((
        token_at(&ends, pos),
        token_at(&ends, pos + answer.len() - 1),
    ))
}

pub fn default_markers() -> Vec<String> {
    DEFAULT_MARKERS.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use compact_str::CompactString;

    fn toks(s: &str) -> Vec<CompactString> {
        // One token per word (spaces attached to the following word).
        let mut out = Vec::new();
        let mut cur = String::new();
        for c in s.chars() {
            if c == ' ' && !cur.is_empty() {
                out.push(CompactString::from(cur.as_str()));
                cur.clear();
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(CompactString::from(cur.as_str()));
        }
        out
    }

    #[test]
    fn prose_after_answer_is_not_a_candidate_and_markers_are_found_in_their_variants() {
        // Found by trying the app: the first line only says what the answer
        // will be; the markers were missed in their common spellings.
        let text = "The answer is the number of apples Tom has.\nLet’s check: 3 + 5 = 8\nHold on, double check it. The answer is 8.";
        let r = reflection(text, &toks(text), Some("8"), &default_markers());
        let answers: Vec<&str> = r.candidates.iter().map(|c| c.answer.as_str()).collect();
        assert_eq!(answers, vec!["8", "8"]);
        let found: Vec<&str> = r.markers.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(found, vec!["let’s check", "hold on", "double check"]);
    }

    #[test]
    fn candidates_share_and_corrections() {
        let text = "3 + 4 = 7\nWait, let me check.\nActually 3 + 5 = 8\nSo the answer is 8.\nDone";
        let t = toks(text);
        let r = reflection(text, &t, Some("8"), &default_markers());
        let answers: Vec<&str> = r.candidates.iter().map(|c| c.answer.as_str()).collect();
        assert_eq!(answers, vec!["7", "8", "8"]);
        assert_eq!(r.steps.len(), 5);
        // First candidate ends at token "7\nWait," … token index of the '7'.
        let first = r.first_candidate_token.unwrap();
        let upto: String = t[..=first].iter().map(|s| s.as_str()).collect();
        assert!(upto.contains("= 7"), "{upto}");
        assert!((r.share.unwrap() - (t.len() - first - 1) as f64 / t.len() as f64).abs() < 1e-12);
        assert_eq!(r.confirmatory, 1);
        assert_eq!(r.corrective, 1);
        assert_eq!(r.corrective_kinds.unwrap().wrong_right, 1);
        let m: Vec<&str> = r.markers.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(m, vec!["wait", "let me check", "actually"]);
    }

    #[test]
    fn no_candidate_means_no_reflection() {
        let text = "I am not sure about this one";
        let r = reflection(text, &toks(text), None, &default_markers());
        assert!(r.first_candidate_token.is_none());
        assert_eq!(r.share, None);
        assert!(r.corrective_kinds.is_none());
    }

    #[test]
    fn long_lines_split_at_sentences() {
        let long = format!("{} First part. Second part! Third", "x".repeat(200));
        let s = steps(&long);
        assert_eq!(s.len(), 3);
        assert_eq!(&long[s[1].start..s[1].end], "Second part! ");
    }

    #[test]
    fn user_markers() {
        let text = "Let me think. Eureka!";
        let r = reflection(text, &toks(text), None, &["eureka".to_owned()]);
        assert_eq!(r.markers.len(), 1);
    }
}

#[cfg(test)]
mod answer_tokens_tests {
    use super::*;
    use compact_str::CompactString;

    #[test]
    fn the_final_answer_and_candidates_sit_on_the_number() {
        let toks: Vec<CompactString> = [
            "So", " Tom", " has", " 1", "00", " apples", ".", "\n", "= 1", "00", ".",
        ]
        .iter()
        .map(|t| CompactString::from(*t))
        .collect();
        let text: String = toks.iter().map(|t| t.as_str()).collect();
        // The last "100" spans tokens 8 ("= 1") and 9 ("00").
        assert_eq!(answer_tokens(&text, &toks, "100"), Some((8, 9)));
        // The candidate of the line "= 100." is on its number, not the period.
        let r = reflection(&text, &toks, None, &[]);
        assert_eq!(r.candidates.last().map(|c| c.token), Some(8));
    }
}
