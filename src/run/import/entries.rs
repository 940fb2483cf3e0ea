//! Per-token logprob entries as OpenAI-style APIs write them
//! (`logprobs.content[]`: `token`, `logprob`, `bytes`, `top_logprobs`, and
//! `id` where llama-server adds it; llama-server's native `/completion`
//! writes the same with `prob` / `top_probs` when `post_sampling_probs`).
//! Shared by the importers and the remote backend's stream reader.

use serde_json::Value;

use super::trace::TokenIn;
use crate::run::topk::Candidate;

/// A token's id: llama-server's `id`, or vLLM's `token_id:N` token text
/// (`return_tokens_as_token_ids`); -1 when the source gives none.
pub fn token_id(v: &Value) -> i32 {
    if let Some(id) = v.get("id").and_then(Value::as_i64) {
        return i32::try_from(id).unwrap_or(-1);
    }
    v.get("token")
        .and_then(Value::as_str)
        .and_then(|t| t.strip_prefix("token_id:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1)
}

/// The raw bytes of a token: `bytes` when given (they may hold part of a
/// UTF-8 character), else its text.
pub fn token_bytes(v: &Value) -> Vec<u8> {
    if let Some(b) = v.get("bytes").and_then(Value::as_array) {
        let bytes: Option<Vec<u8>> = b
            .iter()
            .map(|x| x.as_u64().and_then(|x| u8::try_from(x).ok()))
            .collect();
        if let Some(bytes) = bytes {
            return bytes;
        }
    }
    let t = v.get("token").and_then(Value::as_str).unwrap_or_default();
    if t.starts_with("token_id:") {
        return Vec::new();
    }
    t.as_bytes().to_vec()
}

/// A JSON logprob: a number, or −∞ written as null or a string.
pub fn logprob_value(v: &Value) -> Option<f32> {
    match v {
        Value::Number(n) => n.as_f64().map(|x| x as f32),
        Value::Null => Some(f32::NEG_INFINITY),
        Value::String(s) if s.contains("inf") || s.eq_ignore_ascii_case("nan") => {
            Some(f32::NEG_INFINITY)
        }
        _ => None,
    }
}

/// An entry's ln p: `logprob`, or ln of `prob` (post-sampling entries).
pub fn logprob(v: &Value) -> Option<f32> {
    if let Some(l) = v.get("logprob") {
        return logprob_value(l);
    }
    let p = v.get("prob")?.as_f64()?;
    Some(if p > 0.0 {
        p.ln() as f32
    } else {
        f32::NEG_INFINITY
    })
}

/// Read `entries` (one per generated token); `at` names the array in
/// messages, e.g. `choices[1].logprobs.content`.
pub fn read_tokens(entries: &[Value], at: &str) -> Result<Vec<TokenIn>, String> {
    let mut out = Vec::with_capacity(entries.len());
    for (i, t) in entries.iter().enumerate() {
        let lp = logprob(t).ok_or_else(|| format!("{at}[{i}].logprob: missing or not a number"))?;
        let (key, list) = match (t.get("top_logprobs"), t.get("top_probs")) {
            (Some(l), _) => ("top_logprobs", l),
            (None, Some(l)) => ("top_probs", l),
            (None, None) => ("top_logprobs", &Value::Null),
        };
        let list = match list {
            Value::Array(a) => a.as_slice(),
            Value::Null => &[],
            _ => return Err(format!("{at}[{i}].{key}: not an array")),
        };
        let top = list
            .iter()
            .enumerate()
            .map(|(j, c)| {
                Ok(Candidate {
                    id: token_id(c),
                    text: String::from_utf8_lossy(&token_bytes(c)).into(),
                    logprob: logprob(c).ok_or_else(|| {
                        format!("{at}[{i}].{key}[{j}].logprob: missing or not a number")
                    })?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        out.push(TokenIn {
            id: token_id(t),
            bytes: token_bytes(t),
            logprob: lp,
            top,
        });
    }
    Ok(out)
}
