//! `openai-chat`: chat completion responses (`choices[]` with `message`
//! and `logprobs.content[]`), alone, in a JSON array, as JSONL, or as lines
//! of the OpenAI Batch API's output (`response.body`). vLLM, SGLang,
//! llama-server, LM Studio, OpenAI and hosted APIs all write this shape.

use serde_json::Value;

use super::trace::Trace;
use super::{choice_sample, choices_in_order, entries, str_field};
use crate::run::Distribution;

/// The response object of a record (a Batch API line wraps it).
fn body(v: &Value) -> &Value {
    v.pointer("/response/body").unwrap_or(v)
}

pub fn check(v: &Value) -> Result<(), String> {
    let b = body(v);
    let choices = b
        .get("choices")
        .and_then(Value::as_array)
        .ok_or("no `choices` array")?;
    let first = choices.first().ok_or("`choices` is empty")?;
    if first.get("message").is_none() {
        return Err("`choices[0]` has no `message` (not a chat completion)".into());
    }
    Ok(())
}

pub fn convert(v: &Value) -> Result<Vec<Trace>, String> {
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        return Err(format!("the batch line holds an error: {e}"));
    }
    let b = body(v);
    let at = if std::ptr::eq(b, v) {
        ""
    } else {
        "response.body."
    };
    let mut trace = Trace::new(Distribution::Raw);
    trace.model = str_field(b, "model");
    trace.title = str_field(v, "custom_id");
    for (i, c) in choices_in_order(b).iter().enumerate() {
        let at = format!("{at}choices[{i}]");
        let msg = c
            .get("message")
            .ok_or_else(|| format!("{at}.message: missing"))?;
        let mut text = String::new();
        for key in ["reasoning_content", "reasoning", "content"] {
            if let Some(t) = msg.get(key).and_then(Value::as_str) {
                text.push_str(t);
            }
        }
        let tokens = match c.pointer("/logprobs/content") {
            Some(Value::Array(e)) => {
                Some(entries::read_tokens(e, &format!("{at}.logprobs.content"))?)
            }
            Some(Value::Null) | None => None,
            Some(_) => return Err(format!("{at}.logprobs.content: not an array")),
        };
        trace.samples.push(choice_sample(c, text, tokens));
    }
    Ok(vec![trace])
}
