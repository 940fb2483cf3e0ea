//! Per-token logprob entries as OpenAI-style APIs write them
//! (`logprobs.content[]`: `token`, `logprob`, `bytes`, `top_logprobs`, and
//! `id` where llama-server adds it; llama-server's native `/completion`
//! writes the same with `prob` / `top_probs` when `post_sampling_probs`).
//! Shared by the importers and the remote backend's stream reader.

use serde_json::Value;

use super::trace::TokenIn;
use crate::run::topk::Candidate;

/// A token's id and raw bytes from its fields, whoever wrote them: the id
/// is llama-server's `id`, or vLLM's `token_id:N` token text
/// (`return_tokens_as_token_ids`), -1 when the source gives none; the
/// bytes are `bytes` when given (they may hold part of a UTF-8 character),
/// else the token's text (none for `token_id:N`).
pub fn id_and_bytes<'a>(
    id: Option<i64>,
    token: Option<&'a str>,
    bytes: Option<&'a [u8]>,
) -> (i32, &'a [u8]) {
    let tok = token.unwrap_or_default();
    let vllm = tok.strip_prefix("token_id:");
    let id = match (id, vllm) {
        (Some(i), _) => i32::try_from(i).unwrap_or(-1),
        (None, Some(n)) => n.parse().unwrap_or(-1),
        (None, None) => -1,
    };
    let bytes = match (bytes, vllm) {
        (Some(b), _) => b,
        (None, Some(_)) => &[],
        (None, None) => tok.as_bytes(),
    };
    (id, bytes)
}

/// Whether a token's text may differ from its bytes: servers write a partial
/// UTF-8 character as `byte: \xe2` (llama-server), `bytes:\xe2\x80`
/// (OpenAI) or with U+FFFD (vLLM), and vLLM's ids as `token_id:N`.
pub fn text_unreliable(token: &str) -> bool {
    token.contains('\u{FFFD}')
        || token.starts_with("byte: \\x")
        || token.starts_with("bytes:\\x")
        || token.starts_with("token_id:")
}

/// A returned candidate's text: its token's text, unless that may differ
/// from its bytes (then the bytes, a partial character as U+FFFD).
pub fn candidate_text(token: Option<&str>, bytes: &[u8]) -> compact_str::CompactString {
    match token {
        Some(t) if !text_unreliable(t) => t.into(),
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => s.into(),
            Err(_) => String::from_utf8_lossy(bytes).into(),
        },
    }
}

/// `id_and_bytes` of a JSON entry.
pub fn entry_id_and_bytes(v: &Value) -> (i32, Vec<u8>) {
    let bytes: Option<Vec<u8>> = v.get("bytes").and_then(Value::as_array).and_then(|b| {
        b.iter()
            .map(|x| x.as_u64().and_then(|x| u8::try_from(x).ok()))
            .collect()
    });
    let (id, b) = id_and_bytes(
        v.get("id").and_then(Value::as_i64),
        v.get("token").and_then(Value::as_str),
        bytes.as_deref(),
    );
    (id, b.to_vec())
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
                let (id, bytes) = entry_id_and_bytes(c);
                Ok(Candidate {
                    id,
                    text: candidate_text(c.get("token").and_then(Value::as_str), &bytes),
                    logprob: logprob(c).ok_or_else(|| {
                        format!("{at}[{i}].{key}[{j}].logprob: missing or not a number")
                    })?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let (id, bytes) = entry_id_and_bytes(t);
        out.push(TokenIn {
            id,
            bytes,
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
    fn a_candidates_text_is_its_token_unless_that_may_not_be_its_bytes() {
        assert_eq!(candidate_text(Some(" the"), b" the"), " the");
        // Partial characters as llama-server, OpenAI and vLLM write them.
        assert_eq!(candidate_text(Some("byte: \\xe2"), &[0xe2]), "\u{FFFD}");
        assert_eq!(
            candidate_text(Some("bytes:\\xe2\\x80"), &[0xe2, 0x80]),
            "\u{FFFD}"
        );
        assert_eq!(candidate_text(Some("\u{FFFD}"), &[0xe2, 0x80]), "\u{FFFD}");
        assert_eq!(candidate_text(Some("token_id:42"), b"x"), "x");
        // The English word is not a byte marker; no token: the bytes.
        assert!(!text_unreliable("bytes"));
        assert_eq!(candidate_text(None, "é".as_bytes()), "é");
    }
}
