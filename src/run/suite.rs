//! Question suites: JSONL, one question per line,
//! `{"id": "...", "prompt": "..." | "messages": [{"role", "content"}...], "gold": "..."}`.
//! `gold` may be a string, a number, a list (one per user message) or null.

use std::path::Path;

use serde::Deserialize;

use super::model::{Message, Role};

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: String,
    pub conversation: Vec<Message>,
    /// One entry per user message.
    pub gold: Option<Vec<Option<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: serde_json::Value,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    messages: Option<Vec<Message>>,
    #[serde(default)]
    gold: serde_json::Value,
}

/// The longest gold answer read (answers are compared as short strings; a
/// scalar gold is kept once per user message).
const MAX_GOLD: usize = 4096;

fn gold_text(v: &serde_json::Value) -> Result<Option<String>, String> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if s.len() > MAX_GOLD => Err(format!(
            "gold: {} bytes, longer than the {MAX_GOLD} an answer may be",
            s.len()
        )),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(format!(
            "gold: expected a string, a number or null, found {other}"
        )),
    }
}

/// Parse a suite; errors name the line (1-based) and the problem.
pub fn parse_suite(text: &str) -> Result<Vec<Question>, String> {
    let mut out: Vec<Question> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (k, raw) in text.lines().enumerate() {
        let at = k + 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with("//") {
            continue;
        }
        let line: Line =
            serde_json::from_str(raw).map_err(|e| format!("line {at}: not a question ({e})"))?;
        let id = match &line.id {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(format!("line {at}: id must be a string or a number")),
        };
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || id.starts_with('.')
        {
            return Err(format!(
                "line {at}: id {id:?} must be letters, digits, '-', '_' or '.' (it names the run file)"
            ));
        }
        if !ids.insert(id.clone()) {
            return Err(format!("line {at}: id {id:?} is used twice"));
        }
        let conversation = match (line.prompt, line.messages) {
            (Some(p), None) => vec![Message {
                role: Role::User,
                content: p,
            }],
            (None, Some(m)) => m,
            _ => return Err(format!("line {at}: give either \"prompt\" or \"messages\"")),
        };
        super::validate::check_message_count(conversation.len())
            .map_err(|e| format!("line {at}: {e}"))?;
        let n_turns = conversation.iter().filter(|m| m.role == Role::User).count();
        if n_turns == 0 {
            return Err(format!("line {at}: no user message"));
        }
        let gold = match &line.gold {
            serde_json::Value::Array(items) => {
                if items.len() != n_turns {
                    return Err(format!(
                        "line {at}: {} gold answers for {n_turns} user messages",
                        items.len()
                    ));
                }
                let g: Result<Vec<_>, _> = items.iter().map(gold_text).collect();
                Some(g.map_err(|e| format!("line {at}: {e}"))?)
            }
            v => gold_text(v)
                .map_err(|e| format!("line {at}: {e}"))?
                .map(|g| vec![Some(g); n_turns]),
        };
        out.push(Question {
            id,
            conversation,
            gold,
        });
    }
    if out.is_empty() {
        return Err("no questions".into());
    }
    Ok(out)
}

/// Read a suite file; the error names the file.
pub fn read_suite(path: &Path) -> Result<Vec<Question>, String> {
    let bytes = super::io::read_bounded(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| format!("{}: not UTF-8 text ({e})", path.display()))?;
    parse_suite(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_messages_and_gold_forms() {
        let s = r#"{"id": "a", "prompt": "2+2?", "gold": "4"}
{"id": 7, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1+1?"}, {"role": "user", "content": "Sure?"}], "gold": [2, null]}

{"id": "c", "prompt": "x?", "gold": null}"#;
        let q = parse_suite(s).unwrap();
        assert_eq!(q.len(), 3);
        assert_eq!(q[0].gold, Some(vec![Some("4".into())]));
        assert_eq!(q[1].id, "7");
        assert_eq!(q[1].conversation.len(), 3);
        assert_eq!(q[1].gold, Some(vec![Some("2".into()), None]));
        assert_eq!(q[2].gold, None);
    }

    #[test]
    fn bad_lines_are_named() {
        let e =
            parse_suite("{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"a\", \"prompt\": \"y\"}")
                .unwrap_err();
        assert!(e.contains("line 2") && e.contains("twice"), "{e}");
        let e = parse_suite("{\"id\": \"../x\", \"prompt\": \"x\"}").unwrap_err();
        assert!(
            e.contains("line 1") && e.contains("names the run file"),
            "{e}"
        );
        let e = parse_suite("{\"id\": \"a\"}").unwrap_err();
        assert!(e.contains("either"), "{e}");
        let e = parse_suite("not json").unwrap_err();
        assert!(e.starts_with("line 1: not a question"), "{e}");
        assert!(parse_suite("\n\n").is_err());
    }

    #[test]
    fn bounds_are_named_before_anything_is_copied() {
        let long = format!(
            r#"{{"id": "a", "prompt": "x", "gold": "{}"}}"#,
            "9".repeat(5000)
        );
        assert!(parse_suite(&long)
            .unwrap_err()
            .contains("longer than the 4096"));
        let msgs = vec![r#"{"role": "user", "content": "x"}"#; 600].join(",");
        let many = format!(r#"{{"id": "a", "messages": [{msgs}], "gold": "1"}}"#);
        assert!(parse_suite(&many)
            .unwrap_err()
            .contains("600 messages, more than the 512"));
        let twice = "{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"a\", \"prompt\": \"y\"}";
        assert!(parse_suite(twice)
            .unwrap_err()
            .contains("line 2: id \"a\" is used twice"));
    }
}
