//! One streamed chat-completion chunk (`chat.completion.chunk`) read into
//! tokens: id (llama-server's `id`, vLLM's `token_id:N`, or -1), raw bytes,
//! logprob and the returned candidates. Pure: no I/O.

use compact_str::CompactString;
use serde_json::Value;

use crate::run::topk::Candidate;

/// A token as the server streamed it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamToken {
    pub id: i32,
    pub bytes: Vec<u8>,
    pub logprob: f32,
    /// Returned candidates, as the server listed them.
    pub top: Vec<Candidate>,
}

/// What one chunk held.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chunk {
    pub tokens: Vec<StreamToken>,
    /// `delta.content` (and `delta.reasoning_content`) text of the chunk.
    pub text: String,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<u32>,
}

/// Read a token's id: llama-server's `id` field, or vLLM's
/// `token_id:N` token text (`return_tokens_as_token_ids`).
fn token_id(v: &Value) -> i32 {
    if let Some(id) = v.get("id").and_then(Value::as_i64) {
        return id as i32;
    }
    v.get("token")
        .and_then(Value::as_str)
        .and_then(|t| t.strip_prefix("token_id:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1)
}

/// The raw bytes of a token: `bytes` when given (they may hold part of a
/// UTF-8 character), else its text.
fn token_bytes(v: &Value) -> Vec<u8> {
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

fn logprob(v: &Value) -> Option<f32> {
    match v.get("logprob")? {
        Value::Number(n) => n.as_f64().map(|x| x as f32),
        // Some servers write -inf as null or a string.
        Value::Null => Some(f32::NEG_INFINITY),
        Value::String(s) if s.contains("inf") => Some(f32::NEG_INFINITY),
        _ => None,
    }
}

/// Parse one SSE `data` payload; `Err` names what is wrong with it.
pub fn parse_chunk(data: &str) -> Result<Chunk, String> {
    let v: Value = serde_json::from_str(data).map_err(|e| {
        format!(
            "a streamed event is not JSON ({e}): {}",
            super::http::snippet(data.as_bytes())
        )
    })?;
    if let Some(err) = v.get("error") {
        let msg = err
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| err.to_string());
        return Err(format!("the server reported an error mid-stream: {msg}"));
    }
    let mut out = Chunk {
        prompt_tokens: v
            .pointer("/usage/prompt_tokens")
            .and_then(Value::as_u64)
            .map(|n| n as u32),
        ..Chunk::default()
    };
    let Some(choice) = v.pointer("/choices/0") else {
        // A usage-only chunk (stream_options.include_usage).
        return Ok(out);
    };
    if let Some(delta) = choice.get("delta") {
        for key in ["reasoning_content", "content"] {
            if let Some(t) = delta.get(key).and_then(Value::as_str) {
                out.text.push_str(t);
            }
        }
    }
    out.finish_reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let content = choice
        .pointer("/logprobs/content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, t) in content.iter().enumerate() {
        let lp = logprob(t).ok_or_else(|| format!("logprobs.content[{i}].logprob: missing"))?;
        let top = t
            .get("top_logprobs")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(j, c)| {
                Ok(Candidate {
                    id: token_id(c),
                    text: CompactString::from(String::from_utf8_lossy(&token_bytes(c))),
                    logprob: logprob(c).ok_or_else(|| {
                        format!("logprobs.content[{i}].top_logprobs[{j}].logprob: missing")
                    })?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        out.tokens.push(StreamToken {
            id: token_id(t),
            bytes: token_bytes(t),
            logprob: lp,
            top,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_bytes_and_candidates() {
        let data = r#"{"choices":[{"delta":{"content":"é"},"finish_reason":null,"logprobs":{"content":[
            {"id":5,"token":"\u00e9","bytes":[195,169],"logprob":-0.5,
             "top_logprobs":[{"id":5,"token":"é","bytes":[195,169],"logprob":-0.5},
                             {"token":"token_id:7","bytes":[97],"logprob":-1.5}]}]}}]}"#;
        let c = parse_chunk(data).unwrap();
        assert_eq!(c.text, "é");
        assert_eq!(c.tokens[0].id, 5);
        assert_eq!(c.tokens[0].bytes, vec![195, 169]);
        assert_eq!(c.tokens[0].top[1].id, 7);
        assert_eq!(c.tokens[0].top[1].text, "a");
    }

    #[test]
    fn errors_and_garbage_are_named() {
        assert!(parse_chunk("not json").unwrap_err().contains("not JSON"));
        assert!(parse_chunk(r#"{"error":{"message":"boom"}}"#)
            .unwrap_err()
            .contains("boom"));
        let c = parse_chunk(r#"{"choices":[],"usage":{"prompt_tokens":12}}"#).unwrap();
        assert_eq!(c.prompt_tokens, Some(12));
    }
}
