//! What a caller asks of any backend (local llama.cpp or a server over
//! HTTP): the request and its checks. Knows no backend.

use super::error::EngineError;
use super::method::DecodingMethod;
use super::sampler::SamplerParams;
use crate::run::{self, AnswerSpec, Message};

/// What to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRequest {
    pub conversation: Vec<Message>,
    pub n_paths: u32,
    pub sampler: SamplerParams,
    /// Path i uses seed + i.
    pub seed: u64,
    pub max_tokens: u32,
    pub top_logprobs: u32,
    pub gold: Option<Vec<Option<String>>>,
    pub title: Option<String>,
    pub answer: Option<AnswerSpec>,
    /// Measure kl_ref against this reference context from turn 2 on.
    pub drift_reference: Option<run::DriftReference>,
    pub method: DecodingMethod,
}

impl SampleRequest {
    /// Number of user messages: the turns each path answers.
    pub fn n_turns(&self) -> usize {
        self.conversation
            .iter()
            .filter(|m| m.role == crate::run::Role::User)
            .count()
    }

    /// The run's `sampling` object for this request, storing `top_logprobs`
    /// alternatives per token.
    pub fn sampling(&self, top_logprobs: u32) -> crate::run::Sampling {
        crate::run::Sampling {
            n_paths: self.n_paths,
            temperature: self.sampler.temperature,
            top_k: self.sampler.top_k,
            top_p: self.sampler.top_p,
            min_p: self.sampler.min_p,
            seed: self.seed,
            max_tokens: self.max_tokens,
            top_logprobs,
            method: self.method.id().into(),
        }
    }

    /// A one-turn request (optional system message, one user message); gold,
    /// title and answer extraction are left unset.
    pub fn single_turn(
        system: Option<&str>,
        user: &str,
        n_paths: u32,
        sampler: SamplerParams,
        seed: u64,
        max_tokens: u32,
        top_logprobs: u32,
    ) -> Self {
        let mut conversation = Vec::new();
        if let Some(sys) = system.filter(|s| !s.trim().is_empty()) {
            conversation.push(Message {
                role: run::Role::System,
                content: sys.to_owned(),
            });
        }
        conversation.push(Message {
            role: run::Role::User,
            content: user.to_owned(),
        });
        SampleRequest {
            conversation,
            n_paths,
            sampler,
            seed,
            max_tokens,
            top_logprobs,
            gold: None,
            title: None,
            answer: None,
            drift_reference: None,
            method: DecodingMethod::Plain,
        }
    }
}

pub fn validate_request(req: &SampleRequest) -> Result<(), EngineError> {
    let bad = |m: &str| Err(EngineError::InvalidRequest(m.to_owned()));
    if req.n_paths == 0 || req.n_paths > 256 {
        return bad("the number of paths must be between 1 and 256");
    }
    if req.max_tokens == 0 {
        return bad("max tokens must be at least 1");
    }
    if !(0.0..=1.0).contains(&req.sampler.top_p) || !(0.0..=1.0).contains(&req.sampler.min_p) {
        return bad("top-p and min-p must lie in [0, 1]");
    }
    if !req.sampler.temperature.is_finite() || req.sampler.temperature < 0.0 {
        return bad("temperature must be a finite number ≥ 0");
    }
    if req.top_logprobs > 100 {
        return bad("at most 100 alternatives can be stored per token");
    }
    let n_turns = req
        .conversation
        .iter()
        .filter(|m| m.role == run::Role::User)
        .count();
    if n_turns == 0 {
        return bad("the conversation needs a user message");
    }
    if req.conversation.first().map(|m| m.role) != Some(run::Role::System)
        && req.conversation.first().map(|m| m.role) != Some(run::Role::User)
    {
        return bad("the conversation must start with a system or user message");
    }
    if let Some(gold) = &req.gold {
        if gold.len() != n_turns {
            return Err(EngineError::InvalidRequest(format!(
                "{} gold answers for {n_turns} user messages: give one per turn",
                gold.len()
            )));
        }
    }
    if req.method != DecodingMethod::Plain {
        if n_turns > 1 {
            return bad("decoding-time methods (cntp, ffs, deepconf-online) sample one turn: give one user message");
        }
        if let DecodingMethod::DeepConfOnline { warmup, window } = req.method {
            if warmup == 0 || window == 0 {
                return bad("deepconf-online needs at least one warm-up path and a window of at least one token");
            }
        }
        if let DecodingMethod::Cntp { max_trials } = req.method {
            if !(1..=16).contains(&max_trials) {
                return bad("cntp takes 1 to 16 trials");
            }
            // Every trial has its own sequence; llama.cpp allows 256.
            if req.n_paths * max_trials > 256 {
                return Err(EngineError::InvalidRequest(format!(
                    "cntp with {max_trials} trials runs {max_trials} sequences per path: at most {} paths",
                    256 / max_trials
                )));
            }
        }
    }
    if req.drift_reference.is_some() {
        if n_turns < 2 {
            return bad(
                "drift is measured from the second turn on: give at least two user messages",
            );
        }
        if req.n_paths > 128 {
            return bad(
                "with a drift reference at most 128 paths fit (each has a reference sequence)",
            );
        }
    }
    Ok(())
}
