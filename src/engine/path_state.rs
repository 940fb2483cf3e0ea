//! The state of a path in the llama.cpp backend's batched loop: its
//! sequences, its current turn, its CNTP trials, and the limits a turn runs
//! under. Shared by the loop (session), the per-token steps (turns) and
//! CNTP (cntp), so that none of them depends on another for its types.

use super::conversation::TurnContext;
use super::error::EngineError;
use super::events::TokenRecord;
use super::sampler::PathSampler;
use crate::run::utf8::Utf8Joiner;
use crate::run::{self, Finish, Timing, Tokens, Turn};

/// One llama.cpp sequence: the tokens it stands for, the first `decoded` of
/// which are in its KV cache (the rest wait for the next batches).
pub(super) struct Seq {
    pub id: i32,
    pub tokens: Vec<i32>,
    pub decoded: usize,
    /// Row of the last batch's logits for this sequence's newest position.
    pub row: Option<i32>,
}

impl Seq {
    pub fn pending(&self) -> usize {
        self.tokens.len() - self.decoded
    }
}

pub(super) struct PathState {
    /// Index of the path in its run.
    pub index: u32,
    pub seed: u64,
    pub sampler: PathSampler,
    pub joiner: Utf8Joiner,
    pub main: Seq,
    /// The drift reference sequence (teacher-forced on this path's tokens).
    pub reference: Seq,
    /// Whether this turn records kl_ref (the reference sequence is in use).
    pub measuring: bool,
    /// Current turn and the context it started from.
    pub turn: usize,
    pub start: TurnContext,
    pub done_turns: Vec<Turn>,
    pub tokens: Tokens,
    pub text: String,
    pub timing: Timing,
    /// Set when the current turn has ended, until the next one starts.
    pub turn_end: Option<Finish>,
    /// Set when the path has answered its last turn (or was stopped).
    pub finish: Option<Finish>,
    /// CNTP trials in progress.
    pub branch: Option<Branch>,
}

impl PathState {
    pub fn into_path(self, fork: Option<run::Fork>) -> run::Path {
        run::Path {
            index: self.index,
            seed: self.seed,
            fork,
            turns: self.done_turns,
        }
    }
}

pub(super) fn decode_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Decode(e.to_string())
}

pub(super) struct Limits {
    pub max_tokens: usize,
    pub seq_len: usize,
    pub width: usize,
}

/// One CNTP trial: a continuation of its path in its own sequence.
pub(super) struct Trial {
    pub seq: Seq,
    pub sampler: PathSampler,
    pub joiner: Utf8Joiner,
    pub tokens: Tokens,
    pub text: String,
    pub records: Vec<TokenRecord>,
    /// Σ ln p over the drawn tokens, the terminating end-of-generation included.
    pub logprob_sum: f64,
    pub n_drawn: usize,
    /// How the turn ends if this trial is kept (None: it goes on).
    pub end: Option<Finish>,
    pub done: bool,
    /// Its KV cache still has to be copied from the path's.
    pub fresh: bool,
}

impl Trial {
    pub fn perplexity(&self) -> f64 {
        (-self.logprob_sum / self.n_drawn.max(1) as f64).exp()
    }
}

/// A branching step of one path.
pub(super) struct Branch {
    /// Tokens the path had when the trials started.
    pub position: usize,
    pub entropy: f64,
    pub trials: Vec<Trial>,
}
