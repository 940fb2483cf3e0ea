//! The batched multi-path sampling loop: decode the prompt once on sequence
//! 0, share its KV cache with sequences 1..N-1, then decode one token for
//! every live path per batch. Statistics come from each path's raw logits row
//! (see `stats`); each path has its own seeded sampler chain.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use compact_str::CompactString;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use super::error::EngineError;
use super::model::{available_memory, backend, LoadedModel};
use super::prompt;
use super::sampler::{PathSampler, SamplerParams};
use super::stats::{row_stats, RowStats, TopK, CONFIDENCE_K};
use super::utf8::Utf8Joiner;
use crate::run::{
    self, AnswerSpec, EngineInfo, Finish, Message, Run, Sampling, Timing, Tokens, Turn,
};

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
}

impl SampleRequest {
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
        }
    }
}

/// How llama.cpp is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    pub n_threads: u32,
    /// One KV buffer shared by all sequences (the prompt's cells are shared,
    /// not copied) vs one buffer per sequence (the prompt copied into each).
    /// Split is the default: measured on the reference machine it is faster
    /// at 16 × 256 tokens (attention only spans a path's own cells) and, unlike
    /// unified, it gives bit-identical results to sampling each path alone.
    pub kv_unified: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            n_threads: super::threads::default_threads(),
            kv_unified: false,
        }
    }
}

/// One sampled token as streamed to listeners.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub path: u32,
    pub turn: u32,
    pub index: u32,
    pub id: i32,
    pub text: CompactString,
    pub logprob: f32,
    pub entropy: f32,
    pub self_certainty: f32,
    pub confidence: f32,
    pub top_id: Vec<i32>,
    pub top_text: Vec<CompactString>,
    pub top_logprob: Vec<f32>,
}

/// What the engine reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    ModelLoading {
        progress: f32,
    },
    ModelLoaded {
        info: run::ModelInfo,
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
    PathFinished {
        path: u32,
        turn: u32,
        finish: Finish,
        n_tokens: u32,
    },
    RunFinished {
        run: Box<Run>,
    },
    Error {
        message: String,
    },
}

struct PathState {
    /// Index of the path in its run.
    index: u32,
    /// llama.cpp sequence id.
    seq: i32,
    seed: u64,
    sampler: PathSampler,
    joiner: Utf8Joiner,
    tokens: Tokens,
    text: String,
    /// Position at which `last` will be decoded (−1 once its KV is freed).
    pos: i32,
    last: i32,
    finish: Option<Finish>,
    batch_idx: i32,
    timing: Timing,
}

/// Largest number of tokens handed to one `decode` call.
const N_BATCH: u32 = 512;

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
    if !req.conversation.iter().any(|m| m.role == run::Role::User) {
        return bad("the conversation needs a user message");
    }
    Ok(())
}

/// Sample a run. Cancellation (checked between decodes) keeps every token
/// sampled so far; those paths finish as `cancelled`.
pub fn sample(
    lm: &LoadedModel,
    cfg: &EngineConfig,
    req: &SampleRequest,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
) -> Result<Run, EngineError> {
    validate_request(req)?;
    let (rendered, prompt_tokens) = render_first_turn(lm, &req.conversation)?;
    let n = req.n_paths as usize;
    let launch = Launch {
        n_prompt: prompt_tokens.len(),
        context: prompt_tokens,
        seeds: (0..n).map(|i| req.seed + i as u64).collect(),
        indices: (0..n as u32).collect(),
        prefix: None,
    };
    let mut skeleton = build_run(lm, cfg, req, &rendered, launch.n_prompt, 0, 0, Vec::new());
    skeleton.paths = (0..n)
        .map(|i| run::Path {
            index: i as u32,
            seed: req.seed + i as u64,
            fork: None,
            turns: Vec::new(),
        })
        .collect();
    let out = decode_paths(lm, cfg, req, &launch, cancel, emit, skeleton)?;
    let run_paths = out.paths.into_iter().map(|p| p.into_path(None)).collect();
    let run = build_run(
        lm,
        cfg,
        req,
        &rendered,
        launch.n_prompt,
        out.seq_len,
        out.n_batch,
        run_paths,
    );
    emit(Event::RunFinished {
        run: Box::new(run.clone()),
    });
    Ok(run)
}

/// Continue path `path` of `run` from its first `token` tokens (turn 0) with
/// `m` new paths: the prompt and that prefix are decoded once and shared; the
/// prefix's tokens and statistics are copied from the parent. The new paths
/// are appended to the run with their `fork` field.
#[allow(clippy::too_many_arguments)]
pub fn fork(
    lm: &LoadedModel,
    cfg: &EngineConfig,
    run: &Run,
    path: usize,
    token: usize,
    m: u32,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
) -> Result<Run, EngineError> {
    let bad = |msg: String| Err(EngineError::InvalidRequest(msg));
    let Some(parent) = run.paths.get(path) else {
        return bad(format!(
            "path {path} does not exist (the run has {} paths)",
            run.paths.len()
        ));
    };
    let Some(turn) = parent.turns.first() else {
        return bad(format!("path {path} has no tokens to fork from"));
    };
    if token > turn.tokens.len() {
        return bad(format!(
            "path {path} has {} tokens; cannot fork at token {token}",
            turn.tokens.len()
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
    };
    validate_request(&req)?;
    let (rendered, mut context) = render_first_turn(lm, &run.conversation)?;
    let n_prompt = context.len();
    context.extend(turn.tokens.id[..token].iter().map(|&t| LlamaToken(t)));
    // Fresh seeds after every seed the run already uses.
    let next_seed = run
        .paths
        .iter()
        .map(|p| p.seed)
        .max()
        .map_or(sp.seed, |s| s + 1);
    let first = run.paths.len() as u32;
    let mut prefix = turn.clone();
    prefix.tokens.truncate(token);
    prefix.text = prefix.tokens.text.iter().map(|t| t.as_str()).collect();
    let launch = Launch {
        n_prompt,
        context,
        seeds: (0..m as u64).map(|j| next_seed + j).collect(),
        indices: (first..first + m).collect(),
        prefix: Some(prefix.clone()),
    };
    let fork_of = run::Fork {
        path: path as u32,
        turn: 0,
        token: token as u32,
    };
    let mut skeleton = run.clone();
    for (j, &idx) in launch.indices.iter().enumerate() {
        let mut t = prefix.clone();
        t.finish = Finish::Cancelled;
        skeleton.paths.push(run::Path {
            index: idx,
            seed: launch.seeds[j],
            fork: Some(fork_of),
            turns: vec![t],
        });
    }
    skeleton.sampling.n_paths = skeleton.paths.len() as u32;
    let out = decode_paths(lm, cfg, &req, &launch, cancel, emit, skeleton)?;
    let mut result = run.clone();
    result
        .paths
        .extend(out.paths.into_iter().map(|p| p.into_path(Some(fork_of))));
    result.sampling.n_paths = result.paths.len() as u32;
    if result.prompt.is_none() {
        result.prompt = Some(prompt::prompt_info(&rendered, n_prompt));
    }
    emit(Event::RunFinished {
        run: Box::new(result.clone()),
    });
    Ok(result)
}

/// Where a batch of paths starts.
struct Launch {
    /// Prompt tokens, then any shared prefix of generated tokens (a fork).
    context: Vec<LlamaToken>,
    n_prompt: usize,
    seeds: Vec<u64>,
    /// Index of each new path in its run.
    indices: Vec<u32>,
    /// The generated tokens already in `context` (copied from the parent).
    prefix: Option<Turn>,
}

struct Decoded {
    paths: Vec<PathState>,
    seq_len: usize,
    n_batch: u32,
}

impl PathState {
    fn into_path(self, fork: Option<run::Fork>) -> run::Path {
        run::Path {
            index: self.index,
            seed: self.seed,
            fork,
            turns: vec![Turn {
                text: self.text,
                finish: self.finish.unwrap_or(Finish::Error),
                tokens: self.tokens,
                timing: self.timing,
            }],
        }
    }
}

/// Decode `launch.context` once on sequence 0, share its KV cache with the
/// other sequences, then sample every path to its end.
fn decode_paths(
    lm: &LoadedModel,
    cfg: &EngineConfig,
    req: &SampleRequest,
    launch: &Launch,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
    skeleton: Run,
) -> Result<Decoded, EngineError> {
    let clock = Instant::now();
    let n = launch.seeds.len();
    let n_prompt = launch.n_prompt;
    let n_context = launch.context.len();
    let n_ctx_train = lm.model.n_ctx_train() as usize;
    if n_context + 1 > n_ctx_train {
        return Err(EngineError::PromptTooLong {
            n_prompt: n_context,
            n_ctx: n_ctx_train,
        });
    }
    let seq_len = (n_prompt + req.max_tokens as usize)
        .min(n_ctx_train)
        .max(n_context + 1);
    let n_cells = if cfg.kv_unified {
        n_context + n * (seq_len - n_context)
    } else {
        n * seq_len
    };
    let n_cells = n_cells.div_ceil(256) * 256;
    let need = n_cells as u64 * lm.kv_bytes_per_cell();
    if let Some(avail) = available_memory() {
        if need > avail / 10 * 9 {
            return Err(EngineError::ContextTooLarge {
                n_cells: n_cells as u64,
                need_mib: need >> 20,
                avail_mib: avail >> 20,
            });
        }
    }
    let n_batch = N_BATCH.max(n as u32);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_cells as u32))
        .with_n_batch(n_batch)
        .with_n_ubatch(n_batch)
        .with_n_seq_max(n as u32)
        .with_kv_unified(cfg.kv_unified)
        .with_n_threads(cfg.n_threads as i32)
        .with_n_threads_batch(cfg.n_threads as i32);
    let mut ctx =
        lm.model
            .new_context(backend()?, params)
            .map_err(|e| EngineError::ContextCreate {
                n_cells: n_cells as u32,
                n_seq: n as u32,
                reason: e.to_string(),
            })?;
    let mut skeleton = skeleton;
    skeleton.model.n_ctx = seq_len as u32;
    if let Some(e) = &mut skeleton.engine {
        e.n_batch = n_batch;
    }
    emit(Event::RunStarted {
        skeleton: Box::new(skeleton),
    });

    // Decode the shared context once, in chunks of at most n_batch tokens.
    let mut batch = LlamaBatch::new(n_batch as usize, 1);
    let mut last_idx = 0;
    for (c, chunk) in launch.context.chunks(n_batch as usize).enumerate() {
        batch.clear();
        let base = c * n_batch as usize;
        for (j, tok) in chunk.iter().enumerate() {
            let is_last = base + j + 1 == n_context;
            batch
                .add(*tok, (base + j) as i32, &[0], is_last)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
            if is_last {
                last_idx = j as i32;
            }
        }
        ctx.decode(&mut batch)
            .map_err(|e| EngineError::Decode(e.to_string()))?;
    }
    for s in 1..n {
        ctx.copy_kv_cache_seq(0, s as i32, None, None)
            .map_err(|e| EngineError::Decode(format!("cannot share the prompt's KV cache: {e}")))?;
    }

    let top_n = (req.top_logprobs as usize)
        .max(CONFIDENCE_K)
        .max(req.sampler.candidates_needed());
    let mut top = TopK::new(top_n);
    let width = req.top_logprobs as usize;
    // A fork starts from the parent's prefix, with its pending UTF-8 bytes.
    let mut joiner = Utf8Joiner::default();
    if let Some(prefix) = &launch.prefix {
        for &id in &prefix.tokens.id {
            if let Some(b) = lm.piece_bytes.get(id as usize) {
                joiner.push(b);
            }
        }
    }
    let mut paths: Vec<PathState> = (0..n)
        .map(|i| {
            let (tokens, text) = match &launch.prefix {
                Some(p) => (p.tokens.clone(), p.text.clone()),
                None => (Tokens::with_width(width), String::new()),
            };
            PathState {
                index: launch.indices[i],
                seq: i as i32,
                seed: launch.seeds[i],
                sampler: PathSampler::new(req.sampler, launch.seeds[i]),
                joiner: joiner.clone(),
                tokens,
                text,
                // `step` advances this to the position of each new token.
                pos: n_context as i32 - 1,
                last: 0,
                finish: None,
                batch_idx: last_idx,
                timing: Timing {
                    start_ms: ms(clock),
                    end_ms: 0.0,
                },
            }
        })
        .collect();
    for p in &paths {
        emit(Event::PathStarted {
            path: p.index,
            seed: p.seed,
        });
    }
    let limits = Limits {
        max_tokens: req.max_tokens as usize,
        seq_len,
        width,
    };

    // First token of every path: all come from the context's last row.
    {
        let row = ctx.get_logits_ith(last_idx);
        let stats = row_stats(row, &mut top);
        for p in &mut paths {
            step(lm, p, row, &stats, &top, &limits, clock, emit);
        }
    }
    let mut failure = None;
    loop {
        release_finished(&mut ctx, &mut paths);
        if paths.iter().all(|p| p.finish.is_some()) {
            break;
        }
        if cancel.load(Ordering::Relaxed) {
            finish_live(&mut paths, Finish::Cancelled, clock, emit, lm);
            break;
        }
        batch.clear();
        for p in paths.iter_mut().filter(|p| p.finish.is_none()) {
            p.batch_idx = batch.n_tokens();
            batch
                .add(LlamaToken(p.last), p.pos, &[p.seq], true)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
        }
        if let Err(e) = ctx.decode(&mut batch) {
            let message = format!(
                "llama.cpp failed to decode: {e}; the paths keep the tokens sampled so far"
            );
            finish_live(&mut paths, Finish::Error, clock, emit, lm);
            failure = Some(message);
            break;
        }
        for p in paths.iter_mut().filter(|p| p.finish.is_none()) {
            let row = ctx.get_logits_ith(p.batch_idx);
            let stats = row_stats(row, &mut top);
            step(lm, p, row, &stats, &top, &limits, clock, emit);
        }
    }
    if let Some(message) = failure {
        emit(Event::Error { message });
    }
    Ok(Decoded {
        paths,
        seq_len,
        n_batch,
    })
}

/// The first turn's prompt text and tokens.
fn render_first_turn(
    lm: &LoadedModel,
    conversation: &[Message],
) -> Result<(prompt::RenderedPrompt, Vec<LlamaToken>), EngineError> {
    let messages = prompt::first_turn_messages(conversation);
    let rendered = prompt::render(&lm.model, &messages)?;
    // add_special follows the model's own BOS setting; parse_special lets the
    // template's control tokens through as tokens.
    let tokens = lm
        .model
        .vocab()
        .tokenize(rendered.text.as_bytes(), true, true);
    Ok((rendered, tokens))
}

/// Token ids of the first turn's prompt, exactly as `sample` feeds them.
pub fn prompt_tokens(lm: &LoadedModel, conversation: &[Message]) -> Result<Vec<i32>, EngineError> {
    Ok(render_first_turn(lm, conversation)?
        .1
        .iter()
        .map(|t| t.0)
        .collect())
}

/// The raw logits after `tokens`, decoded alone in a fresh single-sequence
/// context: the reference that checks and comparisons recompute against.
pub fn direct_logits(
    lm: &LoadedModel,
    tokens: &[i32],
    n_threads: u32,
) -> Result<Vec<f32>, EngineError> {
    if tokens.is_empty() {
        return Err(EngineError::InvalidRequest("no tokens to decode".into()));
    }
    let n_ctx = tokens.len().div_ceil(256) * 256;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx as u32))
        .with_n_batch(N_BATCH)
        .with_n_ubatch(N_BATCH)
        .with_n_seq_max(1)
        .with_n_threads(n_threads as i32)
        .with_n_threads_batch(n_threads as i32);
    let mut ctx =
        lm.model
            .new_context(backend()?, params)
            .map_err(|e| EngineError::ContextCreate {
                n_cells: n_ctx as u32,
                n_seq: 1,
                reason: e.to_string(),
            })?;
    let mut batch = LlamaBatch::new(N_BATCH as usize, 1);
    let mut last = 0;
    for (c, chunk) in tokens.chunks(N_BATCH as usize).enumerate() {
        batch.clear();
        for (j, &t) in chunk.iter().enumerate() {
            let pos = c * N_BATCH as usize + j;
            let is_last = pos + 1 == tokens.len();
            batch
                .add(LlamaToken(t), pos as i32, &[0], is_last)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
            if is_last {
                last = j as i32;
            }
        }
        ctx.decode(&mut batch)
            .map_err(|e| EngineError::Decode(e.to_string()))?;
    }
    Ok(ctx.get_logits_ith(last).to_vec())
}

struct Limits {
    max_tokens: usize,
    seq_len: usize,
    width: usize,
}

fn ms(clock: Instant) -> f64 {
    clock.elapsed().as_secs_f64() * 1000.0
}

/// Sample one token for `p` from its logits row and record it.
#[allow(clippy::too_many_arguments)]
fn step(
    lm: &LoadedModel,
    p: &mut PathState,
    row: &[f32],
    stats: &RowStats,
    top: &TopK,
    limits: &Limits,
    clock: Instant,
    emit: &mut dyn FnMut(Event),
) {
    let tok = p.sampler.sample(top, row);
    let idx = tok as usize;
    if lm.is_eog.get(idx).copied().unwrap_or(true) {
        finish(p, Finish::Stop, clock, emit, lm);
        return;
    }
    let mut text = CompactString::from(p.joiner.push(&lm.piece_bytes[idx]));
    let n_done = p.tokens.len() + 1;
    let ends = if n_done >= limits.max_tokens {
        Some(Finish::Length)
    } else if p.pos as usize + 1 >= limits.seq_len {
        // The new token would go at position pos + 1, which the context lacks.
        Some(Finish::ContextFull)
    } else {
        None
    };
    if ends.is_some() {
        // An unfinished character at the very end still belongs to the text.
        text.push_str(&p.joiner.finish());
    }
    let lse = stats.lse;
    let k = limits.width.min(top.items().len());
    let alts = &top.items()[..k];
    let rec = TokenRecord {
        path: p.index,
        turn: 0,
        index: p.tokens.len() as u32,
        id: tok,
        text,
        logprob: (f64::from(row[idx]) - lse) as f32,
        entropy: stats.entropy as f32,
        self_certainty: stats.self_certainty as f32,
        confidence: stats.confidence as f32,
        top_id: alts.iter().map(|a| a.1).collect(),
        top_text: alts
            .iter()
            .map(|a| lm.piece_text[a.1 as usize].clone())
            .collect(),
        top_logprob: alts.iter().map(|a| (f64::from(a.0) - lse) as f32).collect(),
    };
    push_record(&mut p.tokens, &rec);
    p.text.push_str(&rec.text);
    emit(Event::Token(Box::new(rec)));
    p.last = tok;
    p.pos += 1;
    if let Some(f) = ends {
        finish(p, f, clock, emit, lm);
    }
}

/// Append one token's values to a turn's columns.
pub(crate) fn push_record(t: &mut Tokens, r: &TokenRecord) {
    t.id.push(r.id);
    t.text.push(r.text.clone());
    t.logprob.push(r.logprob);
    t.entropy.push(r.entropy);
    t.self_certainty.push(r.self_certainty);
    t.confidence.push(r.confidence);
    t.top_id.push_row(&r.top_id);
    t.top_text.push_row(&r.top_text);
    t.top_logprob.push_row(&r.top_logprob);
}

fn finish(
    p: &mut PathState,
    f: Finish,
    clock: Instant,
    emit: &mut dyn FnMut(Event),
    _lm: &LoadedModel,
) {
    // Bytes of a character that never completed go to the last token.
    let rest = p.joiner.finish();
    if !rest.is_empty() {
        if let Some(last) = p.tokens.text.last_mut() {
            last.push_str(&rest);
            p.text.push_str(&rest);
        }
    }
    p.finish = Some(f);
    p.timing.end_ms = ms(clock);
    emit(Event::PathFinished {
        path: p.index,
        turn: 0,
        finish: f,
        n_tokens: p.tokens.len() as u32,
    });
}

fn finish_live(
    paths: &mut [PathState],
    f: Finish,
    clock: Instant,
    emit: &mut dyn FnMut(Event),
    lm: &LoadedModel,
) {
    for p in paths.iter_mut().filter(|p| p.finish.is_none()) {
        finish(p, f, clock, emit, lm);
    }
}

/// Free the KV cells of finished paths so that attention over a unified
/// cache does not keep paying for them.
fn release_finished(ctx: &mut LlamaContext, paths: &mut [PathState]) {
    for p in paths.iter_mut() {
        if p.finish.is_some() && p.pos >= 0 {
            // Positions are not needed after a path ends.
            let _ = ctx.clear_kv_cache_seq(Some(p.seq as u32), None, None);
            p.pos = -1;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build_run(
    lm: &LoadedModel,
    cfg: &EngineConfig,
    req: &SampleRequest,
    rendered: &prompt::RenderedPrompt,
    n_prompt: usize,
    seq_len: usize,
    n_batch: u32,
    paths: Vec<run::Path>,
) -> Run {
    let mut model = lm.info.clone();
    model.n_ctx = seq_len as u32;
    Run {
        format: run::FORMAT.into(),
        version: run::VERSION,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        title: req.title.clone(),
        model,
        sampling: Sampling {
            n_paths: req.n_paths,
            temperature: req.sampler.temperature,
            top_k: req.sampler.top_k,
            top_p: req.sampler.top_p,
            min_p: req.sampler.min_p,
            seed: req.seed,
            max_tokens: req.max_tokens,
            top_logprobs: req.top_logprobs,
            method: "plain".into(),
        },
        conversation: req.conversation.clone(),
        gold: req.gold.clone(),
        answer: req.answer.clone(),
        prompt: Some(prompt::prompt_info(rendered, n_prompt)),
        engine: Some(EngineInfo {
            n_threads: cfg.n_threads,
            kv_unified: cfg.kv_unified,
            n_batch,
            llama_cpp: "llama-cpp-2 0.1.160".into(),
        }),
        paths,
    }
}
