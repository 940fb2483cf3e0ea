//! `openai-completion`: legacy `/v1/completions` responses. The logprobs
//! come as parallel lists (`tokens`, `token_logprobs`, `top_logprobs` keyed
//! by token text, `text_offset`), or, from llama-server, as the chat
//! format's `logprobs.content[]`.

use serde_json::Value;

use super::trace::{TokenIn, Trace};
use super::{choice_sample, choices_in_order, entries, str_field};
use crate::run::topk::Candidate;
use crate::run::Distribution;

pub fn check(v: &Value) -> Result<(), String> {
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .ok_or("no `choices` array")?;
    let first = choices.first().ok_or("`choices` is empty")?;
    if first.get("text").and_then(Value::as_str).is_none() {
        return Err("`choices[0]` has no `text` (not a completion)".into());
    }
    Ok(())
}

/// The legacy parallel lists of one choice.
fn legacy_tokens(lp: &Value, at: &str) -> Result<Vec<TokenIn>, String> {
    let list = |key: &str| -> Result<&[Value], String> {
        lp.get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("{at}.{key}: missing or not an array"))
    };
    let tokens = list("tokens")?;
    let lps = list("token_logprobs")?;
    let tops = list("top_logprobs")?;
    for (key, len) in [("token_logprobs", lps.len()), ("top_logprobs", tops.len())] {
        if len != tokens.len() {
            return Err(format!(
                "{at}.{key}: length {len}, expected {} (as tokens)",
                tokens.len()
            ));
        }
    }
    let mut out = Vec::with_capacity(tokens.len());
    for (i, ((t, l), top)) in tokens.iter().zip(lps).zip(tops).enumerate() {
        let text = t
            .as_str()
            .ok_or_else(|| format!("{at}.tokens[{i}]: not a string"))?;
        let logprob = entries::logprob_value(l)
            .ok_or_else(|| format!("{at}.token_logprobs[{i}]: not a number"))?;
        let top = match top {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| {
                    let (id, bytes) = entries::id_and_bytes(None, Some(k), None);
                    Ok(Candidate {
                        id,
                        text: String::from_utf8_lossy(bytes).into(),
                        logprob: entries::logprob_value(v).ok_or_else(|| {
                            format!("{at}.top_logprobs[{i}][{k:?}]: not a number")
                        })?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
            Value::Null => Vec::new(),
            _ => return Err(format!("{at}.top_logprobs[{i}]: not an object")),
        };
        let (id, bytes) = entries::id_and_bytes(None, Some(text), None);
        out.push(TokenIn {
            id,
            bytes: bytes.to_vec(),
            logprob,
            top,
        });
    }
    Ok(out)
}

pub fn convert(v: &Value) -> Result<Vec<Trace>, String> {
    let mut trace = Trace::new(Distribution::Raw);
    trace.model = str_field(v, "model");
    trace.plain_prompt = true;
    for (i, c) in choices_in_order(v).iter().enumerate() {
        let at = format!("choices[{i}]");
        let text = c
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.text: missing or not a string"))?
            .to_owned();
        let tokens = match c.get("logprobs") {
            None | Some(Value::Null) => None,
            Some(lp) => match lp.get("content") {
                Some(Value::Array(e)) => {
                    Some(entries::read_tokens(e, &format!("{at}.logprobs.content"))?)
                }
                _ if lp.get("tokens").is_some() => {
                    Some(legacy_tokens(lp, &format!("{at}.logprobs"))?)
                }
                _ => None,
            },
        };
        trace.samples.push(choice_sample(c, text, tokens));
    }
    Ok(vec![trace])
}
