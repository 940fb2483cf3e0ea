//! Judging through a server: the P(True) prompt's assistant opening is
//! sent as a final assistant message that the server continues
//! (llama-server's prefill; vLLM's and SGLang's `continue_final_message`),
//! and p("A"), p("B") are read from the first token's top alternatives.

use serde_json::{json, Value};

use super::{ChoiceRead, Generated, Judge, JudgePrompt};
use crate::engine::error::EngineError;
use crate::engine::remote::{Server, ServerKind};
use crate::run::import::entries::entry_id_and_bytes;
use crate::run::judgement::{JudgeSource, ReadToken};

/// Alternatives asked for (OpenAI's maximum; what llama-server allows).
const TOP: u32 = 20;

/// The largest answer read for a request of `max_tokens` tokens: room for
/// the server's own fields, and for each token, escaped, with its 20
/// alternatives. A server sending more is refused, so `concurrency`
/// requests in flight hold a few MiB, not `concurrency` × 64 MiB.
fn answer_limit(max_tokens: u32) -> u64 {
    (1 << 20) + u64::from(max_tokens) * (16 << 10)
}

pub struct RemoteJudge<'a> {
    pub server: &'a Server,
}

fn remote_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Remote(e.to_string())
}

fn body(server: &Server, p: &JudgePrompt, max_tokens: u32, read: bool) -> Value {
    let mut messages: Vec<Value> = p
        .messages
        .iter()
        .map(|(r, c)| json!({"role": r, "content": c}))
        .collect();
    let prefill = !p.prefix.is_empty();
    if prefill {
        messages.push(json!({"role": "assistant", "content": p.prefix}));
    }
    let mut b = json!({
        "model": server.model,
        "messages": messages,
        "max_tokens": max_tokens,
        "stream": false,
    });
    let o = b.as_object_mut().expect("an object");
    if read {
        // Temperature 1: SGLang's logprobs are temperature-scaled, and the
        // one token sampled is not used.
        o.insert("temperature".into(), json!(1.0));
        o.insert("logprobs".into(), json!(true));
        o.insert("top_logprobs".into(), json!(TOP));
    } else {
        o.insert("temperature".into(), json!(0.0));
    }
    if server.kind == ServerKind::LlamaServer {
        // A prompt continued from another request's cached prefix is
        // decoded in other batches, and ggml's kernels then sum in another
        // order: on the default model that moved p("A") by 0.02. Every
        // prompt is decoded whole, so its numbers do not depend on what the
        // server did before.
        o.insert("cache_prompt".into(), json!(false));
    }
    if prefill && matches!(server.kind, ServerKind::Vllm | ServerKind::Sglang) {
        o.insert("continue_final_message".into(), json!(true));
        o.insert("add_generation_prompt".into(), json!(false));
    }
    b
}

fn usage(v: &Value, field: &str) -> u64 {
    v.pointer(&format!("/usage/{field}"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// p of each choice among the first token's alternatives (and the token
/// itself, which vLLM lists apart).
fn read_tokens(v: &Value, choices: &[&str]) -> Vec<ReadToken> {
    let first = v.pointer("/choices/0/logprobs/content/0");
    let mut entries: Vec<&Value> = Vec::new();
    if let Some(f) = first {
        entries.push(f);
        if let Some(alts) = f.get("top_logprobs").and_then(Value::as_array) {
            entries.extend(alts);
        }
    }
    choices
        .iter()
        .map(|c| {
            let hit = entries.iter().find_map(|e| {
                let (id, bytes) = entry_id_and_bytes(e);
                (bytes == c.as_bytes()).then(|| {
                    let lp = e.get("logprob").and_then(Value::as_f64);
                    (id, lp)
                })
            });
            ReadToken {
                text: (*c).to_owned(),
                id: hit.and_then(|h| (h.0 >= 0).then_some(h.0)),
                // vLLM's −9999 stands for "no probability"; a positive or
                // non-finite logprob is no probability either (a rounding
                // above 0 is read as 0: p = 1).
                p: hit
                    .and_then(|h| h.1)
                    .filter(|lp| *lp > -9000.0 && *lp <= 1e-6)
                    .map(|lp| lp.min(0.0).exp()),
            }
        })
        .collect()
}

impl RemoteJudge<'_> {
    fn post(&self, b: &Value, max_tokens: u32) -> Result<Value, EngineError> {
        let url = self.server.http.url("/chat/completions", false);
        self.server
            .http
            .post_json(&url, b, answer_limit(max_tokens))
            .map_err(remote_err)
    }
}

impl Judge for RemoteJudge<'_> {
    fn source(&self) -> JudgeSource {
        JudgeSource {
            backend: "remote".into(),
            model: self.server.model.clone(),
            server: Some(self.server.kind.id().into()),
        }
    }

    fn read_choices(
        &mut self,
        prompts: &[JudgePrompt],
        choices: &[&str],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<ChoiceRead>, EngineError> {
        let note = (self.server.kind == ServerKind::OpenAiCompatible).then(|| {
            "this server may not continue an assistant message: the prompt may differ from methods.md's"
                .to_owned()
        });
        let width = self.server.concurrency.max(1) as usize;
        let mut out = Vec::with_capacity(prompts.len());
        let this: &Self = self;
        for group in prompts.chunks(width) {
            let answers: Vec<Result<Value, EngineError>> = std::thread::scope(|s| {
                let handles: Vec<_> = group
                    .iter()
                    .map(|p| {
                        let b = body(this.server, p, 1, true);
                        s.spawn(move || this.post(&b, 1))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(remote_err("a request thread panicked")))
                    })
                    .collect()
            });
            for a in answers {
                let v = a?;
                out.push(ChoiceRead {
                    tokens: read_tokens(&v, choices),
                    prompt_tokens: usage(&v, "prompt_tokens"),
                    rendered: None,
                    note: note.clone(),
                });
            }
            done(out.len());
        }
        Ok(out)
    }

    fn generate(
        &mut self,
        prompt: &JudgePrompt,
        max_tokens: u32,
    ) -> Result<Generated, EngineError> {
        let v = self.post(&body(self.server, prompt, max_tokens, false), max_tokens)?;
        let text = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| remote_err("the server's answer holds no choices[0].message.content"))?;
        Ok(Generated {
            text: text.to_owned(),
            prompt_tokens: usage(&v, "prompt_tokens"),
            generated_tokens: usage(&v, "completion_tokens"),
            rendered: None,
        })
    }

    fn fit(&self, _prompt: &JudgePrompt) -> Option<(usize, usize)> {
        // The server counts; a prompt too long comes back as its error.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_read_from_the_alternatives() {
        let v = json!({"choices": [{"logprobs": {"content": [{
        "id": 5, "token": "A", "logprob": -0.1, "bytes": [65],
        "top_logprobs": [
            {"id": 5, "token": "A", "logprob": -0.1, "bytes": [65]},
            {"id": 6, "token": "B", "logprob": -2.5, "bytes": [66]}
        ]}]}}]});
        let r = read_tokens(&v, &["A", "B", "C"]);
        assert_eq!(r[0].id, Some(5));
        assert!((r[0].p.unwrap() - (-0.1f64).exp()).abs() < 1e-15);
        assert!((r[1].p.unwrap() - (-2.5f64).exp()).abs() < 1e-15);
        assert_eq!(r[2].p, None);
    }

    #[test]
    fn a_logprob_above_zero_is_no_probability() {
        let entry = |lp: f64| {
            json!({"choices": [{"logprobs": {"content": [{
            "id": 5, "token": "A", "logprob": lp, "bytes": [65], "top_logprobs": []}]}}]})
        };
        assert_eq!(read_tokens(&entry(5.0), &["A"])[0].p, None);
        assert_eq!(read_tokens(&entry(-9999.0), &["A"])[0].p, None);
        assert_eq!(read_tokens(&entry(1e-9), &["A"])[0].p, Some(1.0));
        // JSON has no NaN: a string where the number should be.
        let v = json!({"choices": [{"logprobs": {"content": [{
            "id": 5, "token": "A", "logprob": "NaN", "bytes": [65]}]}}]});
        assert_eq!(read_tokens(&v, &["A"])[0].p, None);
    }
}
