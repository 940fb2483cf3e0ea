//! `openai-chat`: chat completion responses (`choices[]` with `message`
//! and `logprobs.content[]`), alone, in a JSON array, as JSONL, or as lines
//! of the OpenAI Batch API's output (`response.body`). vLLM, SGLang,
//! llama-server, LM Studio, OpenAI and hosted APIs all write this shape.

use serde_json::Value;

use super::trace::{Sample, TokenIn, Trace};
use super::{choice_sample, choices_in_order, entries, finish, str_field};
use crate::run::topk::Candidate;
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

/// The fast path for the common case, a chat completion line: typed
/// deserialization borrowing from the line, no `Value` tree (several times
/// faster and smaller). Anything it does not expect returns `None`, and
/// the record goes through `convert`, which names the problem precisely.
pub fn convert_fast(line: &[u8]) -> Option<Vec<Trace>> {
    use std::borrow::Cow;

    use serde::Deserialize;

    /// A logprob: a number, or −∞ written as null or a string ("-inf");
    /// `None` for anything else (the slow path then names it).
    struct Lp(Option<f32>);
    impl<'de> Deserialize<'de> for Lp {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Lp;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a logprob")
                }
                fn visit_f64<E>(self, x: f64) -> Result<Lp, E> {
                    Ok(Lp(Some(x as f32)))
                }
                fn visit_i64<E>(self, x: i64) -> Result<Lp, E> {
                    Ok(Lp(Some(x as f32)))
                }
                fn visit_u64<E>(self, x: u64) -> Result<Lp, E> {
                    Ok(Lp(Some(x as f32)))
                }
                fn visit_unit<E>(self) -> Result<Lp, E> {
                    Ok(Lp(Some(f32::NEG_INFINITY)))
                }
                fn visit_str<E>(self, s: &str) -> Result<Lp, E> {
                    Ok(Lp((s.contains("inf") || s.eq_ignore_ascii_case("nan"))
                        .then_some(f32::NEG_INFINITY)))
                }
            }
            d.deserialize_any(V)
        }
    }
    impl Lp {
        fn get(&self) -> Option<f32> {
            self.0
        }
    }
    /// A token's `bytes` without a heap allocation for the usual short
    /// token (one per candidate: hundreds of thousands per response), in
    /// the size of a `Vec`.
    enum Bytes {
        Inline(u8, [u8; 22]),
        Heap(Vec<u8>),
    }
    impl Bytes {
        fn as_slice(&self) -> &[u8] {
            match self {
                Bytes::Inline(n, b) => &b[..*n as usize],
                Bytes::Heap(v) => v,
            }
        }
    }
    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a list of bytes")
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Bytes, A::Error> {
                    let mut out = Bytes::Inline(0, [0; 22]);
                    while let Some(x) = a.next_element::<u8>()? {
                        match &mut out {
                            Bytes::Inline(n, b) if (*n as usize) < b.len() => {
                                b[*n as usize] = x;
                                *n += 1;
                            }
                            Bytes::Inline(_, b) => {
                                let mut v = b.to_vec();
                                v.push(x);
                                out = Bytes::Heap(v);
                            }
                            Bytes::Heap(v) => v.push(x),
                        }
                    }
                    Ok(out)
                }
            }
            d.deserialize_seq(V)
        }
    }
    #[derive(Deserialize)]
    struct Cand<'a> {
        id: Option<i64>,
        #[serde(borrow)]
        token: Option<Cow<'a, str>>,
        bytes: Option<Bytes>,
        logprob: Lp,
    }
    #[derive(Deserialize)]
    struct Entry<'a> {
        id: Option<i64>,
        #[serde(borrow)]
        token: Option<Cow<'a, str>>,
        bytes: Option<Bytes>,
        logprob: Lp,
        #[serde(borrow, default)]
        top_logprobs: Vec<Cand<'a>>,
    }
    #[derive(Deserialize)]
    struct Logprobs<'a> {
        #[serde(borrow)]
        content: Option<Vec<Entry<'a>>>,
    }
    #[derive(Deserialize)]
    struct Msg<'a> {
        #[serde(borrow)]
        content: Option<Cow<'a, str>>,
        #[serde(borrow)]
        reasoning_content: Option<Cow<'a, str>>,
        #[serde(borrow)]
        reasoning: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct Choice<'a> {
        index: Option<u64>,
        #[serde(borrow)]
        finish_reason: Option<Cow<'a, str>>,
        #[serde(borrow)]
        message: Msg<'a>,
        #[serde(borrow)]
        logprobs: Option<Logprobs<'a>>,
    }
    #[derive(Deserialize)]
    struct Resp<'a> {
        #[serde(borrow)]
        model: Option<Cow<'a, str>>,
        #[serde(borrow)]
        choices: Vec<Choice<'a>>,
    }
    let mut r: Resp = serde_json::from_slice(line).ok()?;
    if r.choices.is_empty() {
        return None;
    }
    let mut trace = Trace::new(Distribution::Raw);
    trace.model = r.model.map(Cow::into_owned);
    r.choices.sort_by_key(|c| c.index.unwrap_or(0));
    for c in r.choices {
        let mut text = String::new();
        for t in [
            &c.message.reasoning_content,
            &c.message.reasoning,
            &c.message.content,
        ]
        .into_iter()
        .flatten()
        {
            text.push_str(t);
        }
        let tokens = match c.logprobs.and_then(|l| l.content) {
            None => None,
            Some(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for e in entries {
                    let (id, bytes) = entries::id_and_bytes(
                        e.id,
                        e.token.as_deref(),
                        e.bytes.as_ref().map(Bytes::as_slice),
                    );
                    let bytes = bytes.to_vec();
                    let mut top = Vec::with_capacity(e.top_logprobs.len());
                    for c in &e.top_logprobs {
                        let (cid, cb) = entries::id_and_bytes(
                            c.id,
                            c.token.as_deref(),
                            c.bytes.as_ref().map(Bytes::as_slice),
                        );
                        top.push(Candidate {
                            id: cid,
                            text: match std::str::from_utf8(cb) {
                                Ok(s) => s.into(),
                                Err(_) => String::from_utf8_lossy(cb).into(),
                            },
                            logprob: c.logprob.get()?,
                        });
                    }
                    out.push(TokenIn {
                        id,
                        bytes,
                        logprob: e.logprob.get()?,
                        top,
                    });
                }
                Some(out)
            }
        };
        trace.samples.push(Sample {
            text,
            finish: finish(c.finish_reason.as_deref()),
            tokens,
            exact: None,
        });
    }
    Some(vec![trace])
}
