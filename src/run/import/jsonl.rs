//! `jsonl`: reasonscope's interchange format for any other tool (a
//! notebook, HF `generate`, a script): one prompt per line,
//! `{"id", "prompt" | "messages", "gold"?, "model"?, "n_vocab"?, "sampling"?,
//!   "samples": [{"text", "finish"?, "tokens"?, "token_ids"?, "logprobs"?,
//!                "top_logprobs"?, "entropy"?, "self_certainty"?,
//!                "confidence"?}]}`
//! (docs/run-format.md defines it). `entropy`, `self_certainty` and
//! `confidence`, when every sample has them, are exact full-distribution
//! values (a tool that holds the logits can give them) and make a `full`
//! run; `to_line` writes a run this way, so a round trip keeps every score.

use serde_json::{json, Map, Value};

use super::str_field;
use super::trace::{Exact, Sample, TokenIn, Trace};
use crate::run::topk::Candidate;
use crate::run::{Distribution, Finish, Message, Role, Run, Source};

pub fn check(v: &Value) -> Result<(), String> {
    if v.get("samples").and_then(Value::as_array).is_none() {
        return Err("no `samples` array".into());
    }
    if v.get("prompt").is_none() && v.get("messages").is_none() {
        return Err("neither `prompt` nor `messages`".into());
    }
    Ok(())
}

fn finish_of(s: Option<&str>) -> Result<Finish, String> {
    Ok(match s {
        None | Some("stop") => Finish::Stop,
        Some("length") => Finish::Length,
        Some("context_full") => Finish::ContextFull,
        Some("cancelled") => Finish::Cancelled,
        Some("error") => Finish::Error,
        Some(o) => {
            return Err(format!(
                "{o:?} is not stop, length, context_full, cancelled or error"
            ))
        }
    })
}

/// A per-token array of a sample: an array of `n` entries (one per token).
fn column<'a>(v: &'a Value, at: &str, n: usize) -> Result<&'a [Value], String> {
    let a = v.as_array().ok_or_else(|| format!("{at}: not an array"))?;
    if a.len() != n {
        return Err(format!(
            "{at}: length {}, expected {n} (as tokens)",
            a.len()
        ));
    }
    Ok(a)
}

fn floats(v: &Value, at: &str, n: usize) -> Result<Vec<f32>, String> {
    column(v, at, n)?
        .iter()
        .enumerate()
        .map(|(i, x)| {
            super::entries::logprob_value(x).ok_or_else(|| format!("{at}[{i}]: not a number"))
        })
        .collect()
}

/// One position's alternatives: `[{"token", "logprob", "id"?}]` or
/// `{"token": logprob}`.
fn candidates(v: &Value, at: &str) -> Result<Vec<Candidate>, String> {
    match v {
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(j, c)| {
                Ok(Candidate {
                    id: c.get("id").and_then(Value::as_i64).map_or(-1, |i| i as i32),
                    text: c
                        .get("token")
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("{at}[{j}].token: missing"))?
                        .into(),
                    logprob: c
                        .get("logprob")
                        .and_then(super::entries::logprob_value)
                        .ok_or_else(|| format!("{at}[{j}].logprob: missing or not a number"))?,
                })
            })
            .collect(),
        Value::Object(m) => m
            .iter()
            .map(|(k, l)| {
                Ok(Candidate {
                    id: -1,
                    text: k.as_str().into(),
                    logprob: super::entries::logprob_value(l)
                        .ok_or_else(|| format!("{at}[{k:?}]: not a number"))?,
                })
            })
            .collect(),
        _ => Err(format!("{at}: not a list of alternatives")),
    }
}

fn sample(s: &Value, at: &str) -> Result<Sample, String> {
    let text = s
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.text: missing or not a string"))?
        .to_owned();
    let finish = finish_of(s.get("finish").and_then(Value::as_str))
        .map_err(|e| format!("{at}.finish: {e}"))?;
    let Some(toks) = s.get("tokens") else {
        if s.get("logprobs").is_some() || s.get("top_logprobs").is_some() {
            return Err(format!(
                "{at}.tokens: missing (logprobs need the tokens they belong to)"
            ));
        }
        return Ok(Sample {
            text,
            finish,
            tokens: None,
            exact: None,
            built: None,
        });
    };
    let toks = toks
        .as_array()
        .ok_or_else(|| format!("{at}.tokens: not an array"))?;
    let n = toks.len();
    let texts: Vec<&str> = toks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.as_str()
                .ok_or_else(|| format!("{at}.tokens[{i}]: not a string"))
        })
        .collect::<Result<_, _>>()?;
    if texts.concat() != text {
        return Err(format!(
            "{at}.tokens: concatenated, they do not give `text`"
        ));
    }
    let ids: Vec<i32> = match s.get("token_ids") {
        None => vec![-1; n],
        Some(v) => {
            let a = column(v, &format!("{at}.token_ids"), n)?;
            a.iter()
                .enumerate()
                .map(|(i, x)| {
                    x.as_i64()
                        .and_then(|x| i32::try_from(x).ok())
                        .ok_or_else(|| format!("{at}.token_ids[{i}]: not a token id"))
                })
                .collect::<Result<_, _>>()?
        }
    };
    let Some(lps) = s.get("logprobs") else {
        return Ok(Sample {
            text,
            finish,
            tokens: None,
            exact: None,
            built: None,
        });
    };
    let lps = floats(lps, &format!("{at}.logprobs"), n)?;
    let tops: Vec<Vec<Candidate>> = match s.get("top_logprobs") {
        None => vec![Vec::new(); n],
        Some(v) => {
            let a = column(v, &format!("{at}.top_logprobs"), n)?;
            a.iter()
                .enumerate()
                .map(|(i, c)| candidates(c, &format!("{at}.top_logprobs[{i}]")))
                .collect::<Result<_, _>>()?
        }
    };
    let exact = match (
        s.get("entropy"),
        s.get("self_certainty"),
        s.get("confidence"),
    ) {
        (Some(e), Some(sc), Some(c)) => Some(Exact {
            entropy: floats(e, &format!("{at}.entropy"), n)?,
            self_certainty: floats(sc, &format!("{at}.self_certainty"), n)?,
            confidence: floats(c, &format!("{at}.confidence"), n)?,
        }),
        _ => None,
    };
    let tokens = texts
        .iter()
        .zip(ids)
        .zip(lps)
        .zip(tops)
        .map(|(((t, id), logprob), top)| TokenIn {
            id,
            bytes: t.as_bytes().to_vec(),
            logprob,
            top,
        })
        .collect();
    Ok(Sample {
        text,
        finish,
        tokens: Some(tokens),
        exact,
        built: None,
    })
}

pub fn convert(v: &Value) -> Result<Vec<Trace>, String> {
    let mut trace = Trace::new(Distribution::Unknown);
    if let Some(d) = v.get("distribution") {
        trace.distribution = serde_json::from_value(d.clone()).map_err(|_| {
            format!("distribution: {d} is not raw, temperature-scaled, post-sampling or unknown")
        })?;
    }
    trace.title = v
        .get("id")
        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned));
    trace.model = str_field(v, "model");
    trace.n_vocab = v.get("n_vocab").and_then(Value::as_u64).map(|x| x as u32);
    if let Some(sp) = v.get("sampling") {
        trace.sampling = super::trace::SamplingIn::read(sp, &["max_tokens"]);
    }
    trace.conversation = Some(match (v.get("prompt"), v.get("messages")) {
        (Some(Value::String(p)), _) => Message::users(&[p]),
        (_, Some(m)) => serde_json::from_value::<Vec<Message>>(m.clone())
            .map_err(|e| format!("messages: {e} (roles: system, user)"))?,
        _ => return Err("prompt: not a string".into()),
    });
    trace.gold = match v.get("gold") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Null) | None => None,
        Some(_) => return Err("gold: not a string".into()),
    };
    if let Some(p) = v.get("answer_pattern").and_then(Value::as_str) {
        trace.answer_pattern = Some(p.to_owned());
    }
    let samples = v
        .get("samples")
        .and_then(Value::as_array)
        .ok_or("samples: not an array")?;
    for (i, s) in samples.iter().enumerate() {
        trace.samples.push(sample(s, &format!("samples[{i}]"))?);
    }
    trace.finish_known = samples.iter().all(|s| s.get("finish").is_some());
    Ok(vec![trace])
}

/// A single-turn run as one `jsonl` line (the round trip of `convert`).
pub fn to_line(run: &Run) -> Result<String, String> {
    if run.n_turns() != 1 {
        return Err(format!(
            "the run has {} turns; the jsonl format holds one prompt and its answers",
            run.n_turns()
        ));
    }
    let full = run.stats_source().source == Source::Full;
    let text_only = run.stats_source().source == Source::Text;
    let samples: Vec<Value> = run
        .paths
        .iter()
        .filter_map(|p| p.turns.first())
        .map(|t| {
            let tk = &t.tokens;
            let mut s = Map::new();
            s.insert("text".into(), json!(t.text));
            s.insert("finish".into(), json!(t.finish.as_str()));
            s.insert("tokens".into(), json!(tk.text));
            if tk.id.iter().any(|&i| i >= 0) {
                s.insert("token_ids".into(), json!(tk.id));
            }
            if !text_only {
                s.insert("logprobs".into(), json!(&tk.logprob[..]));
                let tops: Vec<Value> = (0..tk.len())
                    .map(|i| {
                        let (ids, texts, lps) =
                            (tk.top_id.row(i), tk.top_text.row(i), tk.top_logprob.row(i));
                        Value::Array(
                            (0..ids.len())
                                .map(
                                    |j| json!({"id": ids[j], "token": texts[j], "logprob": lps[j]}),
                                )
                                .collect(),
                        )
                    })
                    .collect();
                s.insert("top_logprobs".into(), Value::Array(tops));
            }
            if full {
                s.insert("entropy".into(), json!(&tk.entropy[..]));
                s.insert("self_certainty".into(), json!(&tk.self_certainty[..]));
                s.insert("confidence".into(), json!(&tk.confidence[..]));
            }
            Value::Object(s)
        })
        .collect();
    let mut line = Map::new();
    line.insert("id".into(), json!(run.title.clone().unwrap_or_default()));
    let users: Vec<&Message> = run
        .conversation
        .iter()
        .filter(|m| m.role == Role::User)
        .collect();
    if run.conversation.len() == 1 {
        line.insert("prompt".into(), json!(users[0].content));
    } else {
        line.insert("messages".into(), json!(run.conversation));
    }
    if let Some(g) = run.gold_for(0) {
        line.insert("gold".into(), json!(g));
    }
    if let Some(crate::run::AnswerSpec::Regex { pattern }) = &run.answer {
        line.insert("answer_pattern".into(), json!(pattern));
    }
    line.insert("model".into(), json!(run.model.name));
    let sp = &run.sampling;
    let unknown = |f: &str| {
        run.import
            .as_ref()
            .is_some_and(|i| i.is_unknown(&format!("sampling.{f}")))
    };
    let mut sampling = Map::new();
    for (k, v) in [
        ("temperature", json!(sp.temperature)),
        ("top_k", json!(sp.top_k)),
        ("top_p", json!(sp.top_p)),
        ("min_p", json!(sp.min_p)),
        ("seed", json!(sp.seed)),
        ("max_tokens", json!(sp.max_tokens)),
    ] {
        if !unknown(k) {
            sampling.insert(k.into(), v);
        }
    }
    line.insert("sampling".into(), Value::Object(sampling));
    if run.model.n_vocab > 0 {
        line.insert("n_vocab".into(), json!(run.model.n_vocab));
    }
    if let Some(d) = run.stats.and_then(|s| s.distribution) {
        line.insert(
            "distribution".into(),
            serde_json::to_value(d).unwrap_or(Value::Null),
        );
    } else if full {
        line.insert("distribution".into(), json!("raw"));
    }
    line.insert("samples".into(), Value::Array(samples));
    serde_json::to_string(&Value::Object(line)).map_err(|e| e.to_string())
}
