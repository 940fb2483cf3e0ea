//! `sglang`: the native `/generate` response (`text`, `meta_info` with
//! `output_token_logprobs` as `[logprob, id, text]` triples and
//! `output_top_logprobs` as lists of them). With `n` > 1 SGLang answers a
//! JSON array, one object per sample: such an array is one prompt. Its
//! logprobs are temperature-scaled unless the server was told otherwise.

use serde_json::Value;

use super::trace::{Sample, TokenIn, Trace};
use super::{entries, finish};
use crate::run::topk::Candidate;
use crate::run::Distribution;

pub fn check(v: &Value) -> Result<(), String> {
    let one = match v {
        Value::Array(a) => a.first().ok_or("an empty array")?,
        o => o,
    };
    if one.get("text").and_then(Value::as_str).is_none() {
        return Err("no `text` string".into());
    }
    if one.get("meta_info").and_then(Value::as_object).is_none() {
        return Err("no `meta_info` object".into());
    }
    Ok(())
}

/// A `[logprob, id, text]` triple; `None` text when SGLang was not asked
/// for texts (`return_text_in_logprobs`).
fn triple(v: &Value, at: &str) -> Result<(f32, i32, Option<String>), String> {
    let a = v
        .as_array()
        .filter(|a| a.len() >= 2)
        .ok_or_else(|| format!("{at}: not a [logprob, id, text] triple"))?;
    let lp = entries::logprob_value(&a[0]).ok_or_else(|| format!("{at}[0]: not a number"))?;
    let id = a[1]
        .as_i64()
        .and_then(|i| i32::try_from(i).ok())
        .ok_or_else(|| format!("{at}[1]: not a token id"))?;
    Ok((lp, id, a.get(2).and_then(Value::as_str).map(str::to_owned)))
}

fn sample(v: &Value, at: &str) -> Result<Sample, String> {
    let text = v
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}text: missing or not a string"))?
        .to_owned();
    let meta = v.get("meta_info").unwrap_or(&Value::Null);
    let reason = meta
        .pointer("/finish_reason/type")
        .or_else(|| meta.get("finish_reason"))
        .and_then(Value::as_str);
    let mut tokens = None;
    if let Some(Value::Array(out)) = meta.get("output_token_logprobs") {
        let tops: &[Value] = match meta.get("output_top_logprobs") {
            Some(Value::Array(t)) => t,
            _ => &[],
        };
        if !tops.is_empty() && tops.len() != out.len() {
            return Err(format!(
                "{at}meta_info.output_top_logprobs: length {}, expected {} (as output_token_logprobs)",
                tops.len(),
                out.len()
            ));
        }
        let mut toks = Vec::with_capacity(out.len());
        let mut texts_known = true;
        for (i, t) in out.iter().enumerate() {
            let (lp, id, txt) = triple(t, &format!("{at}meta_info.output_token_logprobs[{i}]"))?;
            texts_known &= txt.is_some();
            let top = match tops.get(i) {
                Some(Value::Array(c)) => c
                    .iter()
                    .enumerate()
                    .map(|(j, c)| {
                        let (lp, id, txt) =
                            triple(c, &format!("{at}meta_info.output_top_logprobs[{i}][{j}]"))?;
                        Ok(Candidate {
                            id,
                            text: txt.unwrap_or_default().into(),
                            logprob: lp,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?,
                _ => Vec::new(),
            };
            toks.push(TokenIn {
                id,
                bytes: txt.unwrap_or_default().into_bytes(),
                logprob: lp,
                top,
            });
        }
        // Without token texts the pieces cannot be placed in the text: the
        // response is imported as text.
        if texts_known {
            tokens = Some(toks);
        }
    }
    Ok(Sample {
        text,
        finish: finish(reason),
        tokens,
        exact: None,
        built: None,
    })
}

pub fn convert(v: &Value) -> Result<Vec<Trace>, String> {
    let mut trace = Trace::new(Distribution::TemperatureScaled);
    match v {
        Value::Array(a) => {
            for (i, s) in a.iter().enumerate() {
                trace.samples.push(sample(s, &format!("[{i}]."))?);
            }
        }
        o => trace.samples.push(sample(o, "")?),
    }
    Ok(vec![trace])
}
