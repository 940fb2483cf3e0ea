//! Final answers: extraction, normalization and equivalence (methods.md,
//! "Answers").

use std::sync::OnceLock;

use regex::Regex;

use crate::run::AnswerSpec;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("built-in regex"))
}

/// A number as it may appear in text: `\frac{a}{b}`, `a/b`, `-1,234.5`, `.5`.
fn number_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"\\d?frac\{\s*-?\d+(?:\.\d+)?\s*\}\{\s*-?\d+(?:\.\d+)?\s*\}|-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?|-?\.\d+",
    )
}

/// The content of the last `\boxed{...}`, braces matched.
pub fn last_boxed(text: &str) -> Option<&str> {
    let start = text.rfind("\\boxed")?;
    let rest = &text[start + "\\boxed".len()..];
    let open = rest.find('{')?;
    if !rest[..open].trim().is_empty() {
        return None;
    }
    let body = &rest[open + 1..];
    let mut depth = 1usize;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&body[..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Text after the last "answer is" / "answer:" up to the end of its line or
/// sentence, reduced to its first number when it holds one.
fn after_answer_phrase(text: &str) -> Option<String> {
    static R: OnceLock<Regex> = OnceLock::new();
    static VERDICT: OnceLock<Regex> = OnceLock::new();
    let r = re(&R, r"(?i)answer\s*(?:is|:)");
    // "the answer is correct" judges an answer given before; it is not
    // one: the phrase before it counts.
    let verdict = re(
        &VERDICT,
        r"(?i)^(?:(?:not|indeed|also|definitely|clearly|still)\s+)?(?:correct|incorrect|right|wrong|accurate|inaccurate)(?:$|[,;:])",
    );
    let mut prev = None;
    for m in r.find_iter(text).collect::<Vec<_>>().into_iter().rev() {
        let span = answer_span(&text[m.end()..]);
        if !verdict.is_match(span) {
            prev = Some(span);
            break;
        }
    }
    answer_of_span(prev?)
}

/// The rest of the line after an answer phrase, up to the end of its
/// sentence, trimmed.
fn answer_span(rest: &str) -> &str {
    let line = rest.split('\n').next().unwrap_or("");
    // A sentence ends at . ! ? followed by whitespace or the end (not the
    // point of a decimal number).
    let mut end = line.len();
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace())
        {
            end = i;
            break;
        }
    }
    line[..end].trim()
}

/// What an answer phrase's span gives: a boxed answer, the value after
/// "=", an expression as written, its first number, or a short phrase.
fn answer_of_span(span: &str) -> Option<String> {
    if let Some(b) = last_boxed(span) {
        return Some(b.to_owned());
    }
    // "3 + 5 = 8": the value after the last "=".
    let span = span.rsplit('=').next().unwrap_or(span).trim();
    // An expression in a variable ("x + 1") is the answer as written, not
    // the number inside it.
    static EXPR: OnceLock<Regex> = OnceLock::new();
    let expr = re(
        &EXPR,
        r"(?:^|[\s(\d])[A-Za-z]\s*[-+*/^]|[-+*/^]\s*[A-Za-z](?:$|[\s)])",
    );
    if expr.is_match(span) && span.split_whitespace().count() <= 9 {
        return Some(span.to_owned());
    }
    if let Some(n) = number_re().find(span) {
        return Some(n.as_str().to_owned());
    }
    // A short word or phrase ("blue", "yes", "B") is an answer; prose
    // ("the number of apples Tom has") only says what the answer will be.
    if span.is_empty() || span.split_whitespace().count() > 3 {
        None
    } else {
        Some(span.to_owned())
    }
}

/// Extract the final answer of a response (`auto` rules or a regex whose
/// first group is the answer). `None`: the path has no answer.
pub fn extract(text: &str, spec: Option<&AnswerSpec>) -> Option<String> {
    if let Some(AnswerSpec::Regex { pattern }) = spec {
        // The run's pattern, compiled once per thread rather than once per
        // path and per analysis.
        thread_local! {
            static LAST: std::cell::RefCell<Option<(String, Regex)>> =
                const { std::cell::RefCell::new(None) };
        }
        return LAST.with_borrow_mut(|last| {
            if last.as_ref().is_none_or(|(p, _)| p != pattern) {
                *last = Some((pattern.clone(), Regex::new(pattern).ok()?));
            }
            let r = &last.as_ref()?.1;
            let caps = r.captures_iter(text).last()?;
            let g = caps.get(1).or_else(|| caps.get(0))?;
            Some(normalize(g.as_str())).filter(|s| !s.is_empty())
        });
    }
    let raw = if let Some(b) = last_boxed(text) {
        Some(b.to_owned())
    } else if let Some(a) = after_answer_phrase(text) {
        Some(a)
    } else {
        number_re()
            .find_iter(text)
            .last()
            .map(|m| m.as_str().to_owned())
    }?;
    Some(normalize(&raw)).filter(|s| !s.is_empty())
}

/// The order of answers on a chart's axis, the same wherever it is drawn:
/// numeric answers ascending, then the others by votes (most first, ties in
/// the given order). `counts`: each answer and its votes.
pub fn axis_order(counts: Vec<(String, usize)>) -> Vec<String> {
    let (mut nums, mut words): (Vec<_>, Vec<_>) = counts
        .into_iter()
        .map(|(a, n)| (parse_number(&a), a, n))
        .partition(|e| e.0.is_some());
    nums.sort_by(|a, b| {
        a.0.unwrap_or(0.0)
            .total_cmp(&b.0.unwrap_or(0.0))
            .then(a.1.cmp(&b.1))
    });
    words.sort_by_key(|w| std::cmp::Reverse(w.2));
    nums.into_iter().chain(words).map(|e| e.1).collect()
}

/// Byte position of the last number in `text`.
pub fn last_number_at(text: &str) -> Option<usize> {
    number_re().find_iter(text).last().map(|m| m.start())
}

/// Parse a normalized answer as a number: integers, decimals, `a/b`, `\frac{a}{b}`.
pub fn parse_number(s: &str) -> Option<f64> {
    static FRAC: OnceLock<Regex> = OnceLock::new();
    let frac = re(
        &FRAC,
        r"^\\d?frac\{\s*(-?\d+(?:\.\d+)?)\s*\}\{\s*(-?\d+(?:\.\d+)?)\s*\}$",
    );
    if let Some(c) = frac.captures(s) {
        return ratio(&c[1], &c[2]);
    }
    if let Some((a, b)) = s.split_once('/') {
        return ratio(a.trim(), b.trim());
    }
    static NUM: OnceLock<Regex> = OnceLock::new();
    let num = re(&NUM, r"^-?(?:\d+(?:\.\d*)?|\.\d+)$");
    if num.is_match(s) {
        return s.parse().ok().filter(|v: &f64| v.is_finite());
    }
    None
}

fn ratio(a: &str, b: &str) -> Option<f64> {
    let a: f64 = a.parse().ok()?;
    let b: f64 = b.parse().ok()?;
    if b == 0.0 {
        return None;
    }
    Some(a / b)
}

/// Canonical text of a number: integers without a point, others in the
/// shortest form that round-trips.
pub fn canonical_number(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v}");
        s
    }
}

/// Normalize an answer: trim, drop `$` and `\text{}` wrappers, a leading
/// `x =`, a trailing period, thousands separators; numbers in canonical form.
pub fn normalize(raw: &str) -> String {
    let mut s = raw.trim().replace('$', "");
    static TEXT: OnceLock<Regex> = OnceLock::new();
    let text = re(&TEXT, r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}");
    while text.is_match(&s) {
        s = text.replace_all(&s, "$1").into_owned();
    }
    let mut s = s.trim().to_owned();
    static VAR: OnceLock<Regex> = OnceLock::new();
    let var = re(&VAR, r"^[A-Za-z]\s*=\s*");
    if let Some(m) = var.find(&s) {
        s = s[m.end()..].trim().to_owned();
    }
    while s.ends_with('.') {
        s.pop();
        s = s.trim_end().to_owned();
    }
    static THOUSANDS: OnceLock<Regex> = OnceLock::new();
    let thousands = re(&THOUSANDS, r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$");
    if thousands.is_match(&s) {
        s = s.replace(',', "");
    }
    static DFRAC: OnceLock<Regex> = OnceLock::new();
    let spaces = re(&DFRAC, r"\s+");
    let compact = spaces.replace_all(&s, "").into_owned();
    if let Some(v) = parse_number(&compact) {
        return canonical_number(v);
    }
    s
}

/// Two normalized answers are equal when both parse as numbers within 1e-9
/// relative, or their strings are equal.
pub fn equal(a: &str, b: &str) -> bool {
    match (parse_number(a), parse_number(b)) {
        (Some(x), Some(y)) => {
            let scale = x.abs().max(y.abs());
            (x - y).abs() <= 1e-9 * scale.max(f64::MIN_POSITIVE) || x == y
        }
        _ => a == b,
    }
}

/// Correctness against a gold answer (normalized first).
pub fn is_correct(answer: Option<&str>, gold: &str) -> bool {
    answer.is_some_and(|a| equal(a, &normalize(gold)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, expected extracted answer)
    const CASES: &[(&str, Option<&str>)] = &[
        ("So the result is \\boxed{42}.", Some("42")),
        ("\\boxed{\\frac{1}{2}}", Some("0.5")),
        ("first \\boxed{3} then \\boxed{5}", Some("5")),
        ("\\boxed{x = 5}", Some("5")),
        ("\\boxed{\\text{blue}}", Some("blue")),
        ("nested \\boxed{\\{a, {b}\\}} end", Some("\\{a, {b}\\}")),
        ("\\boxed{1,234}", Some("1234")),
        ("\\boxed{ -7 }", Some("-7")),
        ("\\boxed{3.50}", Some("3.5")),
        ("\\boxed{\\dfrac{3}{4}}", Some("0.75")),
        ("The answer is 42.", Some("42")),
        ("the answer is 42", Some("42")),
        ("THE ANSWER IS: 17 apples", Some("17")),
        ("answer: $1,234$", Some("1234")),
        ("Answer: 3.5.", Some("3.5")),
        ("The answer is -3. Then we check 10.", Some("-3")),
        ("The answer is 1/2", Some("0.5")),
        ("The answer is \\frac{2}{4}", Some("0.5")),
        ("The answer is x = 5.", Some("5")),
        ("Answer is $8$ dollars", Some("8")),
        ("The final answer is 12\nbut then 13", Some("12")),
        ("The answer is blue.", Some("blue")),
        ("The answer is 0.50", Some("0.5")),
        ("I think the answer is 8.0!", Some("8")),
        ("The answer is 2,000,000.", Some("2000000")),
        ("He has 3 + 5 = 8 apples.", Some("8")),
        ("We get 12 and then 15", Some("15")),
        ("x = 5", Some("5")),
        ("no numbers here at all", None),
        ("", None),
        ("It costs -4 degrees", Some("-4")),
        ("3.14159 is pi", Some("3.14159")),
        ("so it is 7.", Some("7")),
        ("Total: 1,000 apples", Some("1000")),
        ("ratio 3/4", Some("0.75")),
        ("The answer is 42. The answer is 43.", Some("43")),
        ("answer is \\boxed{9} but earlier \\boxed{8}", Some("8")),
        ("#### 8", Some("8")),
        ("Value .5", Some("0.5")),
        ("The answer is $\\frac{1}{2}$.", Some("0.5")),
        // Found by trying the app (issue: answer extraction).
        ("The answer is x + 1.", Some("x + 1")),
        ("So the answer is 2x + 1", Some("2x + 1")),
        ("The answer is 3 + 5 = 8.", Some("8")),
        (
            "The answer is the number of apples Tom has. He has 8.",
            Some("8"),
        ),
        ("The answer is \\text{yes}.", Some("yes")),
        // A verdict on an answer is not one (texts from a SmolLM2 run).
        ("The answer is 2, so the answer is correct.\n\nSo, Tom has 2 apples.", Some("2")),
        ("So, no, our answer is not correct. The answer is that Tom has 3 apples.", Some("3")),
        ("we get 8, which is indeed correct. Let's check if the answer is correct.", Some("8")),
        ("The answer is 7.\n\nIn this example, the answer is correct, but in a more logical way.", Some("7")),
        ("answer:", None),
    ];

    #[test]
    fn extraction_table() {
        for (text, want) in CASES {
            assert_eq!(
                extract(text, Some(&AnswerSpec::Auto)).as_deref(),
                *want,
                "text: {text:?}"
            );
        }
        assert!(CASES.len() >= 40);
    }

    #[test]
    fn regex_extraction_uses_first_group_of_last_match() {
        let spec = AnswerSpec::Regex {
            pattern: r"#### (\S+)".into(),
        };
        assert_eq!(
            extract("#### 3\nwait\n#### 4", Some(&spec)).as_deref(),
            Some("4")
        );
        assert_eq!(extract("none", Some(&spec)), None);
        // Another pattern after it (the compiled one is kept per thread),
        // a bad one, then the first again.
        let other = AnswerSpec::Regex {
            pattern: r"ANSWER: (\d+)".into(),
        };
        assert_eq!(
            extract("#### 3 ANSWER: 7", Some(&other)).as_deref(),
            Some("7")
        );
        let bad = AnswerSpec::Regex {
            pattern: "(".into(),
        };
        assert_eq!(extract("#### 3", Some(&bad)), None);
        assert_eq!(
            extract("#### 3 ANSWER: 7", Some(&spec)).as_deref(),
            Some("3")
        );
    }

    #[test]
    fn equivalence() {
        assert!(equal(&normalize("8.0"), &normalize("8")));
        assert!(equal(&normalize("1/2"), &normalize("0.5")));
        assert!(equal(&normalize("\\frac{1}{2}"), &normalize("0.5")));
        assert!(equal(&normalize("$1,234$"), &normalize("1234")));
        assert!(equal(&normalize("x = 5."), &normalize("5")));
        assert!(equal("0.1", "0.10000000000000001"));
        assert!(!equal("0.1", "0.1001"));
        assert!(!equal("blue", "Blue"));
        assert!(equal(&normalize("\\text{blue}"), "blue"));
        assert!(is_correct(Some("8"), "8.00"));
        assert!(!is_correct(None, "8"));
        assert!(!is_correct(Some("9"), "8"));
    }
}

#[cfg(test)]
mod axis_tests {
    use super::axis_order;

    #[test]
    fn numbers_ascending_then_words_by_votes() {
        let c = |v: &[(&str, usize)]| v.iter().map(|(a, n)| ((*a).to_owned(), *n)).collect();
        assert_eq!(
            axis_order(c(&[
                ("8", 8),
                ("28", 1),
                ("3", 3),
                ("blue", 1),
                ("yes", 4),
                ("0.5", 1)
            ])),
            vec!["0.5", "3", "8", "28", "yes", "blue"]
        );
    }
}
