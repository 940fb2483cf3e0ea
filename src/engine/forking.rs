//! Forking a path at a token, as every backend does it: the checks, the
//! request the new paths are sampled with, their seeds and indices, and
//! the prefix (the parent's first K tokens, with their statistics) they
//! start from. Knows no backend.

use super::error::EngineError;
use super::method::DecodingMethod;
use super::request::{validate_request, SampleRequest};
use super::sampler::SamplerParams;
use crate::run::{self, Finish, Run, Source, Turn};

/// What a fork samples and where its paths start.
#[derive(Debug, Clone)]
pub struct ForkPlan {
    pub req: SampleRequest,
    /// The turn forked in (0-based).
    pub turn: usize,
    /// The parent's turns before `turn`.
    pub earlier: Vec<Turn>,
    /// The parent's first K tokens of `turn` (text rebuilt from them).
    pub prefix: Turn,
    pub seeds: Vec<u64>,
    pub indices: Vec<u32>,
    pub fork: run::Fork,
}

/// Check a fork of `run`'s path `path` at token `token` of turn `turn`
/// into `m` new paths, by a backend whose statistics are `source`.
pub fn plan(
    run: &Run,
    path: usize,
    turn: usize,
    token: usize,
    m: u32,
    source: Source,
) -> Result<ForkPlan, EngineError> {
    let bad = |msg: String| Err(EngineError::InvalidRequest(msg));
    let Some(parent) = run.paths.get(path) else {
        return bad(format!(
            "path {path} does not exist (the run has {} paths)",
            run.paths.len()
        ));
    };
    let Some(parent_turn) = parent.turns.get(turn) else {
        return bad(format!(
            "path {path} has {} turns; cannot fork in turn {}",
            parent.turns.len(),
            turn + 1
        ));
    };
    if token > parent_turn.tokens.len() {
        return bad(format!(
            "path {path} has {} tokens in turn {}; cannot fork at token {token}",
            parent_turn.tokens.len(),
            turn + 1
        ));
    }
    if m == 0 || run.paths.len() + m as usize > 256 {
        return bad("fork 1 to (256 − paths) new paths".into());
    }
    let sp = &run.sampling;
    if token >= sp.max_tokens as usize {
        return bad(format!(
            "token {token} is at the run's max tokens ({})",
            sp.max_tokens
        ));
    }
    // One run holds one kind of statistics: a fork must not mix exact
    // columns with top-k ones.
    let have = run.stats_source().source;
    if have != source {
        return bad(match source {
            Source::Full => "this run's statistics came from a server (top-k): fork it through a server (--server), so that the new paths' statistics are of the same kind".into(),
            _ => "this run was sampled in-process with exact statistics: fork it with a local model (--model); a server gives only top-k statistics".into(),
        });
    }
    let req = SampleRequest {
        conversation: run.conversation.clone(),
        n_paths: m,
        sampler: SamplerParams {
            temperature: sp.temperature,
            top_k: sp.top_k,
            top_p: sp.top_p,
            min_p: sp.min_p,
        },
        seed: sp.seed,
        max_tokens: sp.max_tokens,
        top_logprobs: sp.top_logprobs,
        gold: run.gold.clone(),
        title: run.title.clone(),
        answer: run.answer.clone(),
        drift_reference: run.drift_reference.clone(),
        // A fork continues a path; no decoding-time method applies to it.
        method: DecodingMethod::Plain,
    };
    validate_request(&req)?;
    // Fresh seeds after every seed the run already uses.
    let next_seed = run
        .paths
        .iter()
        .map(|p| p.seed)
        .max()
        .map_or(sp.seed, |s| s + 1);
    let first_index = run.paths.len() as u32;
    let mut prefix = parent_turn.clone();
    prefix.tokens.truncate(token);
    prefix.text = prefix.tokens.text.iter().map(|t| t.as_str()).collect();
    Ok(ForkPlan {
        req,
        turn,
        earlier: parent.turns[..turn].to_vec(),
        prefix,
        seeds: (0..u64::from(m)).map(|j| next_seed + j).collect(),
        indices: (first_index..first_index + m).collect(),
        fork: run::Fork {
            path: path as u32,
            turn: turn as u32,
            token: token as u32,
        },
    })
}

impl ForkPlan {
    /// `run` with the new paths appended, each holding the earlier turns
    /// and the prefix (marked `cancelled` until it is continued).
    pub fn skeleton(&self, run: &Run) -> Run {
        let mut skeleton = run.clone();
        for (j, &idx) in self.indices.iter().enumerate() {
            let mut t = self.prefix.clone();
            t.finish = Finish::Cancelled;
            let mut turns = self.earlier.clone();
            turns.push(t);
            skeleton.paths.push(run::Path {
                index: idx,
                seed: self.seeds[j],
                fork: Some(self.fork),
                turns,
            });
        }
        skeleton.sampling.n_paths = skeleton.paths.len() as u32;
        skeleton
    }
}
