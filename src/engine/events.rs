//! What every backend streams to its listeners while it samples. Knows no
//! backend.

use compact_str::CompactString;

use crate::run::{self, Finish, Run, Tokens};

/// One sampled token as streamed to listeners.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub path: u32,
    pub turn: u32,
    pub index: u32,
    pub id: i32,
    pub text: CompactString,
    pub logprob: f32,
    /// Exact, or the lower bound where only the top k were returned.
    pub entropy: f32,
    /// The entropy's upper bound (top-k sources with a known vocabulary).
    pub entropy_hi: Option<f32>,
    /// Absent unless the full distribution was seen.
    pub self_certainty: Option<f32>,
    pub confidence: f32,
    pub top_id: Vec<i32>,
    pub top_text: Vec<CompactString>,
    pub top_logprob: Vec<f32>,
    /// KL(p_context ‖ p_reference) at this position, when drift is measured.
    pub kl_ref: Option<f32>,
}

/// What the engine reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    ModelLoading {
        progress: f32,
    },
    ModelLoaded {
        info: run::ModelInfo,
        /// A local GGUF without a chat template: prompts use the plain
        /// `User:/Assistant:` layout (the panel says so before sampling).
        plain_prompt: bool,
        /// Where the model runs, in words (`device_report`); empty for a
        /// server.
        device: String,
    },
    /// The run as it starts: settings and conversation, paths with no turns.
    RunStarted {
        skeleton: Box<Run>,
    },
    PathStarted {
        path: u32,
        seed: u64,
    },
    Token(Box<TokenRecord>),
    /// A path ended a turn; `done` when it will answer no further turn.
    PathFinished {
        path: u32,
        turn: u32,
        finish: Finish,
        n_tokens: u32,
        done: bool,
    },
    RunFinished {
        run: Box<Run>,
    },
    /// Judging (`Command::Judge`): prompts read so far.
    JudgeProgress {
        done: usize,
        total: usize,
    },
    /// What judging read, to be recorded in the run (`judging::record`).
    Judged {
        judgements: Vec<run::judgement::Judgement>,
    },
    Error {
        message: String,
    },
}

impl TokenRecord {
    /// Append this token's values to a turn's columns (a column the
    /// backend could not give stays absent).
    pub fn push_to(&self, t: &mut Tokens) {
        t.id.push(self.id);
        t.text.push(self.text.clone());
        t.logprob.push(self.logprob);
        t.entropy.push(self.entropy);
        t.self_certainty.push_opt(self.self_certainty);
        t.confidence.push(self.confidence);
        t.top_id.push_row(&self.top_id);
        t.top_text.push_row(&self.top_text);
        t.top_logprob.push_row(&self.top_logprob);
        if let Some(h) = self.entropy_hi {
            t.entropy_hi.get_or_insert_with(Vec::new).push(h);
        }
        if let Some(k) = self.kl_ref {
            t.kl_ref.get_or_insert_with(Vec::new).push(k);
        }
    }
}
