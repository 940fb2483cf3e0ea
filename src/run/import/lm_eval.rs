//! `lm-eval`: lm-evaluation-harness `--log_samples` JSONL. One run per
//! document (`doc_id`), its `repeats` (`resps`) as paths and `target` as
//! gold. lm-eval writes a document once per filter (`maj@k`, `first`, ...)
//! with the same responses: the importer keeps the first and skips the
//! others (`key`). Text only.

use serde_json::Value;

use super::trace::{Sample, SamplingIn, Trace};
use crate::run::{Finish, Message, Role};

pub fn check(v: &Value) -> Result<(), String> {
    for key in ["doc_id", "resps", "arguments"] {
        if v.get(key).is_none() {
            return Err(format!("no `{key}`"));
        }
    }
    Ok(())
}

/// The document a line belongs to (lines of other filters share it).
pub fn key(v: &Value) -> Option<String> {
    v.get("doc_id").map(Value::to_string)
}

/// The prompt of `arguments.gen_args_0.arg_0`: chat messages as a JSON
/// string (`--apply_chat_template`), or a plain prompt.
fn conversation(arg: &Value) -> Result<(Vec<Message>, bool), String> {
    let s = match arg {
        Value::String(s) => s.as_str(),
        Value::Array(a) => a.first().and_then(Value::as_str).unwrap_or_default(),
        _ => return Err("arguments.gen_args_0.arg_0: not a prompt".into()),
    };
    let Ok(Value::Array(msgs)) = serde_json::from_str::<Value>(s) else {
        return Ok((Message::users(&[s]), true));
    };
    let mut out = Vec::new();
    let mut other = String::new();
    // Several turns are joined with their roles said.
    let several = msgs
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) != Some("system"))
        .count()
        > 1;
    for m in &msgs {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        let content = m.get("content").and_then(Value::as_str).unwrap_or_default();
        match role {
            "system" if out.is_empty() => out.push(Message {
                role: Role::System,
                content: content.into(),
            }),
            // Few-shot turns (assistant messages) have no place in a
            // conversation of user messages: they are kept as text.
            _ => {
                if !other.is_empty() {
                    other.push_str("\n\n");
                }
                if several {
                    other.push_str(&format!("{role}: "));
                }
                other.push_str(content);
            }
        }
    }
    out.push(Message {
        role: Role::User,
        content: other,
    });
    Ok((out, false))
}

pub fn convert(v: &Value) -> Result<Vec<Trace>, String> {
    let mut trace = Trace::new(crate::run::Distribution::Unknown);
    let doc_id = v.get("doc_id").map(Value::to_string).unwrap_or_default();
    trace.title = Some(format!("doc {doc_id}"));
    let args = v
        .pointer("/arguments/gen_args_0")
        .or_else(|| v.pointer("/arguments/0"))
        .ok_or("arguments.gen_args_0: missing")?;
    let (conv, plain) = conversation(
        args.get("arg_0")
            .or_else(|| args.get(0))
            .unwrap_or(&Value::Null),
    )?;
    trace.conversation = Some(conv);
    trace.plain_prompt = plain;
    let kw = args
        .get("arg_1")
        .or_else(|| args.get(1))
        .unwrap_or(&Value::Null);
    trace.sampling = SamplingIn::read(kw, &["max_gen_toks", "max_tokens"]);
    trace.gold = match v.get("target") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Array(a)) => a
            .first()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned)),
        _ => None,
    };
    trace.finish_known = false;
    let resps = v
        .get("resps")
        .and_then(Value::as_array)
        .ok_or("resps: not an array")?;
    // `resps` holds one list of repeats per request (one for generate_until).
    let repeats = match resps.first() {
        Some(Value::Array(r)) => r.as_slice(),
        _ => resps.as_slice(),
    };
    for (i, r) in repeats.iter().enumerate() {
        let text = r.as_str().ok_or_else(|| {
            format!("resps[0][{i}]: not a generated text (only generate_until tasks hold reasoning paths)")
        })?;
        trace.samples.push(Sample {
            text: text.to_owned(),
            finish: Finish::Stop,
            tokens: None,
            exact: None,
            built: None,
        });
    }
    Ok(vec![trace])
}
