//! `llama-server`: the native `/completion` response (`content`,
//! `completion_probabilities` with `logprob`/`top_logprobs`, or with
//! `prob`/`top_probs` when `post_sampling_probs` was set), which also holds
//! the prompt and the sampling settings.

use serde_json::Value;

use super::trace::{Sample, SamplingIn, Trace};
use super::{entries, str_field};
use crate::run::{Distribution, Finish, Message};

pub fn check(v: &Value) -> Result<(), String> {
    if v.get("content").and_then(Value::as_str).is_none() {
        return Err("no `content` string".into());
    }
    if v.get("completion_probabilities").is_none() && v.get("generation_settings").is_none() {
        return Err("neither `completion_probabilities` nor `generation_settings`".into());
    }
    Ok(())
}

pub fn convert(v: &Value) -> Result<Vec<Trace>, String> {
    let settings = v.get("generation_settings").unwrap_or(&Value::Null);
    let post = settings
        .get("post_sampling_probs")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || v.pointer("/completion_probabilities/0/prob").is_some();
    let mut trace = Trace::new(if post {
        Distribution::PostSampling
    } else {
        Distribution::Raw
    });
    trace.model = str_field(v, "model");
    if let Some(p) = v.get("prompt").and_then(Value::as_str) {
        trace.conversation = Some(Message::users(&[p]));
        trace.plain_prompt = true;
    }
    // llama-server reports the seed it used (or 0xFFFFFFFF: random).
    trace.sampling = SamplingIn::read(settings, &["n_predict"]);
    let tokens = match v.get("completion_probabilities") {
        Some(Value::Array(e)) => Some(entries::read_tokens(e, "completion_probabilities")?),
        None | Some(Value::Null) => None,
        Some(_) => return Err("completion_probabilities: not an array".into()),
    };
    let finish = match v.get("stop_type").and_then(Value::as_str) {
        Some("limit") => Finish::Length,
        Some("eos" | "word") => Finish::Stop,
        // `none`: stopped by the client (streaming aborted).
        Some("none") => Finish::Cancelled,
        _ if v.get("truncated").and_then(Value::as_bool) == Some(true) => Finish::ContextFull,
        _ => Finish::Stop,
    };
    trace.samples.push(Sample {
        text: v
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        finish,
        tokens,
        exact: None,
        built: None,
    });
    Ok(vec![trace])
}
