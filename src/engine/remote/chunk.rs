//! One streamed chat-completion chunk (`chat.completion.chunk`) read into
//! tokens: id (llama-server's `id`, vLLM's `token_id:N`, or -1), raw bytes,
//! logprob and the returned candidates. Pure: no I/O.

use serde_json::Value;

use crate::run::import::entries;

/// A token as the server streamed it (the importers' token: the same
/// entries, read by the same code).
pub use crate::run::import::TokenIn as StreamToken;

/// What one chunk held for one choice (a request with `n` streams its
/// choices interleaved, told apart by `index`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChoiceDelta {
    pub index: usize,
    pub tokens: Vec<StreamToken>,
    /// `delta.content` (and `delta.reasoning_content`) text of the chunk.
    pub text: String,
    pub finish_reason: Option<String>,
}

/// What one chunk held.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chunk {
    pub choices: Vec<ChoiceDelta>,
    pub prompt_tokens: Option<u32>,
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
    // None or empty: a usage-only chunk (stream_options.include_usage).
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (k, choice) in choices.iter().enumerate() {
        let mut c = ChoiceDelta {
            index: match choice.get("index") {
                None => k,
                Some(i) => i
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(|| format!("a streamed choice's index is not a count: {i}"))?,
            },
            ..ChoiceDelta::default()
        };
        if let Some(delta) = choice.get("delta") {
            for key in ["reasoning_content", "content"] {
                if let Some(t) = delta.get(key).and_then(Value::as_str) {
                    c.text.push_str(t);
                }
            }
        }
        c.finish_reason = choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let content = choice
            .pointer("/logprobs/content")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        c.tokens = entries::read_tokens(content, "logprobs.content")?;
        out.choices.push(c);
    }
    Ok(out)
}

/// Largest single SSE event accepted (a chunk holds a few tokens with 20
/// candidates each: a few KiB).
pub const MAX_EVENT: usize = 4 << 20;

/// What the stream's events said, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Chunk(Chunk),
    /// `data: [DONE]`: the server ended the stream on purpose.
    Done,
}

/// A response body read as server-sent events, bounded: the parser holds at
/// most `MAX_EVENT` bytes of one event, so a server that never ends an event
/// cannot fill memory (the parser alone would hold all of it).
pub struct EventStream {
    parser: sse_parse::SseParser,
}

impl Default for EventStream {
    fn default() -> Self {
        EventStream {
            parser: sse_parse::SseParser::new().max_buffer(MAX_EVENT),
        }
    }
}

impl EventStream {
    /// Feed the next bytes (any split); the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, String> {
        self.parser.feed(bytes);
        if self.parser.overflows() > 0 {
            return Err(format!(
                "a streamed event is larger than {} MiB",
                MAX_EVENT >> 20
            ));
        }
        let mut out = Vec::new();
        while let Some(ev) = self.parser.next_event() {
            let data = ev.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                out.push(StreamEvent::Done);
            } else {
                out.push(StreamEvent::Chunk(parse_chunk(data)?));
            }
        }
        Ok(out)
    }
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
        assert_eq!(c.choices.len(), 1);
        let c = &c.choices[0];
        assert_eq!(c.index, 0);
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
        assert!(parse_chunk(r#"{"choices":[{"index":-1,"delta":{}}]}"#)
            .unwrap_err()
            .contains("index"));
    }

    #[test]
    fn choices_of_a_request_with_n_keep_their_index() {
        // As llama-server and vLLM stream them: one choice per chunk, or
        // several.
        let data = r#"{"choices":[{"index":3,"delta":{"content":"a"},"finish_reason":null},
            {"index":1,"delta":{},"finish_reason":"length"}]}"#;
        let c = parse_chunk(data).unwrap();
        let got: Vec<(usize, &str, Option<&str>)> = c
            .choices
            .iter()
            .map(|c| (c.index, c.text.as_str(), c.finish_reason.as_deref()))
            .collect();
        assert_eq!(got, vec![(3, "a", None), (1, "", Some("length"))]);
    }

    #[test]
    fn an_event_that_never_ends_is_refused_not_held() {
        let mut st = EventStream::default();
        let mut fed = 0usize;
        let block = vec![b'x'; 1 << 20];
        let mut r = st.feed(b"data: ");
        while r.is_ok() && fed < 3 * MAX_EVENT {
            r = st.feed(&block);
            fed += block.len();
        }
        assert!(r.unwrap_err().contains("larger than 4 MiB"));
        // Refused within one chunk of the limit.
        assert!(fed <= MAX_EVENT + block.len(), "{fed}");
    }

    #[test]
    fn events_come_out_whatever_the_split() {
        let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n: keep-alive\n\ndata: [DONE]\n\n";
        for cut in 0..body.len() {
            let mut st = EventStream::default();
            let mut evs = st.feed(&body.as_bytes()[..cut]).unwrap();
            evs.extend(st.feed(&body.as_bytes()[cut..]).unwrap());
            assert_eq!(evs.len(), 2, "cut at {cut}");
            assert!(matches!(&evs[0], StreamEvent::Chunk(c) if c.choices[0].text == "a"));
            assert_eq!(evs[1], StreamEvent::Done);
        }
    }
}
