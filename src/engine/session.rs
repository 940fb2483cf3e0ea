//! The batched multi-path sampling loop: decode the prompt once on sequence
//! 0, share its KV cache with sequences 1..N-1, then decode one token for
//! every live path per batch. Statistics come from each path's raw logits row
//! (see `stats`); each path has its own seeded sampler chain.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use super::cntp;
use super::conversation::{self, TurnContext};
use super::error::EngineError;
use super::events::Event;
use super::method::{
    cntp_trials, online_threshold, window_mean, DecodingMethod, CNTP_ENTROPY_HIGH,
    CNTP_ENTROPY_LOW, CNTP_PUNCTUATION, DEEPCONF_PERCENTILE,
};
use super::model::{available_memory, backend, backend_name, LoadedModel};
use super::path_state::{decode_err, Limits, PathState, Seq};
use super::prompt;
use super::request::{validate_request, SampleRequest};
use super::sampler::PathSampler;
use super::stats::{row_stats, TopK, CONFIDENCE_K};
use super::stats_pass::{threads_for, Rows, StatsPass};
use super::turns::{end_turn, ms, next_turn, release_finished, step, Turns};
use crate::run::utf8::Utf8Joiner;
use crate::run::{self, DecodingRecord, EngineInfo, Finish, Message, Run, Timing, Tokens, Turn};

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
    /// Append each new turn to a path's KV cache (the default). Off, every
    /// turn decodes the path's whole history again: slower, and only there
    /// to check that reuse changes nothing.
    pub reuse_history: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            n_threads: super::threads::default_threads(),
            kv_unified: false,
            reuse_history: true,
        }
    }
}

/// Largest number of tokens handed to one `decode` call.
const N_BATCH: u32 = 512;

/// Template tokens a turn adds around its user message (end of the previous
/// answer, role markers), a generous bound used to size the KV cache.
const TURN_OVERHEAD: usize = 32;

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
    let (rendered, start) = conversation::first_turn(lm, &req.conversation)?;
    let n = req.n_paths as usize;
    let n_prompt = start.tokens.len();
    let clock = Instant::now();
    let mut skeleton = build_run(lm, cfg, req, &rendered, n_prompt, 0, 0, Vec::new());
    skeleton.paths = (0..n)
        .map(|i| run::Path {
            index: i as u32,
            seed: req.seed + i as u64,
            fork: None,
            turns: Vec::new(),
        })
        .collect();
    // DeepConf online samples its warm-up paths first, the rest after.
    let first = match req.method {
        DecodingMethod::DeepConfOnline { warmup, .. } => (warmup as usize).min(n),
        _ => n,
    };
    let launch_of = |range: std::ops::Range<usize>, rules: Rules| Launch {
        start_turn: 0,
        start: start.clone(),
        reference: None,
        earlier: Vec::new(),
        seeds: range.clone().map(|i| req.seed + i as u64).collect(),
        indices: range.map(|i| i as u32).collect(),
        prefix: None,
        rules,
        clock,
    };
    let rules = Rules {
        ffs: req.method == DecodingMethod::Ffs,
        online: None,
        cntp: match req.method {
            DecodingMethod::Cntp { max_trials } => Some(max_trials),
            _ => None,
        },
    };
    let out = decode_paths(
        lm,
        cfg,
        req,
        &launch_of(0..first, rules),
        cancel,
        emit,
        skeleton.clone(),
    )?;
    let (seq_len, n_batch) = (out.seq_len, out.n_batch);
    let mut failure = out.failure;
    let mut record = DecodingRecord {
        method: req.method.id().into(),
        ..Default::default()
    };
    if req.method == DecodingMethod::Ffs {
        record.ffs = Some(run::FfsRecord {
            winner: out.ffs_winner,
        });
    }
    if let DecodingMethod::Cntp { max_trials } = req.method {
        record.cntp = Some(run::CntpRecord {
            max_trials,
            entropy_low: CNTP_ENTROPY_LOW,
            entropy_high: CNTP_ENTROPY_HIGH,
            punctuation: CNTP_PUNCTUATION.into(),
            extra_tokens: out.cntp_extra,
            steps: out.cntp_steps,
        });
    }
    for p in out.paths {
        let i = p.index as usize;
        skeleton.paths[i] = p.into_path(None);
    }
    if let DecodingMethod::DeepConfOnline { warmup, window } = req.method {
        let threshold = online_threshold(&skeleton.paths[..first], window as usize);
        let mut online = run::DeepConfOnlineRecord {
            warmup,
            window,
            percentile: DEEPCONF_PERCENTILE,
            threshold,
            stops: Vec::new(),
        };
        if first < n && failure.is_none() && !cancel.load(Ordering::Relaxed) {
            let rules = Rules {
                online: threshold.map(|t| (t, window as usize)),
                ..Rules::default()
            };
            let out = decode_paths(
                lm,
                cfg,
                req,
                &launch_of(first..n, rules),
                cancel,
                emit,
                skeleton.clone(),
            )?;
            failure = failure.or(out.failure);
            online.stops = out.online_stops;
            for p in out.paths {
                let i = p.index as usize;
                skeleton.paths[i] = p.into_path(None);
            }
        }
        record.deepconf_online = Some(online);
    }
    let mut run = build_run(
        lm,
        cfg,
        req,
        &rendered,
        n_prompt,
        seq_len,
        n_batch,
        std::mem::take(&mut skeleton.paths),
    );
    if req.method != DecodingMethod::Plain {
        run.decoding = Some(record);
    }
    if let Some(message) = failure {
        emit(Event::Error { message });
    }
    emit(Event::RunFinished {
        run: Box::new(run.clone()),
    });
    Ok(run)
}

/// Continue path `path` of `run` from its first `token` tokens of turn
/// `turn` with `m` new paths: the context up to there is decoded once and
/// shared; the earlier turns and the prefix's tokens and statistics are
/// copied from the parent. The new paths answer the remaining turns too and
/// are appended to the run with their `fork` field.
#[allow(clippy::too_many_arguments)]
pub fn fork(
    lm: &LoadedModel,
    cfg: &EngineConfig,
    run: &Run,
    path: usize,
    turn: usize,
    token: usize,
    m: u32,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
) -> Result<Run, EngineError> {
    let plan = super::forking::plan(run, path, turn, token, m, run::Source::Full)?;
    let (rendered, first) = conversation::first_turn(lm, &run.conversation)?;
    let n_prompt = first.tokens.len();
    let start = conversation::turn_context(lm, run, path, turn)?;
    let reference = match (&run.drift_reference, turn) {
        (Some(r), t) if t > 0 => Some(conversation::reference_context(lm, run, path, t, r)?),
        _ => None,
    };
    let launch = Launch {
        start_turn: turn,
        start,
        reference,
        earlier: plan.earlier.clone(),
        seeds: plan.seeds.clone(),
        indices: plan.indices.clone(),
        prefix: Some(plan.prefix.clone()),
        rules: Rules::default(),
        clock: Instant::now(),
    };
    let fork_of = plan.fork;
    let skeleton = plan.skeleton(run);
    let out = decode_paths(lm, cfg, &plan.req, &launch, cancel, emit, skeleton)?;
    let mut result = run.clone();
    result
        .paths
        .extend(out.paths.into_iter().map(|p| p.into_path(Some(fork_of))));
    result.sampling.n_paths = result.paths.len() as u32;
    if result.prompt.is_none() {
        result.prompt = Some(prompt::prompt_info(&rendered, n_prompt));
    }
    if let Some(message) = out.failure {
        emit(Event::Error { message });
    }
    emit(Event::RunFinished {
        run: Box::new(result.clone()),
    });
    Ok(result)
}

/// Where a batch of paths starts.
struct Launch {
    /// The turn the new paths start in, and its context.
    start_turn: usize,
    start: TurnContext,
    /// The drift reference context of that turn, when it is measured there.
    reference: Option<TurnContext>,
    /// Complete turns before `start_turn` (copied from the parent of a fork).
    earlier: Vec<Turn>,
    seeds: Vec<u64>,
    /// Index of each new path in its run.
    indices: Vec<u32>,
    /// Tokens of `start_turn` already generated (copied from the parent).
    prefix: Option<Turn>,
    rules: Rules,
    /// Run start: timings count from here.
    clock: Instant,
}

/// What stops paths early, by decoding-time method.
#[derive(Debug, Clone, Copy, Default)]
struct Rules {
    /// First Finish Search: stop every path once one finishes.
    ffs: bool,
    /// DeepConf online: (threshold, window).
    online: Option<(f64, usize)>,
    /// CNTP: the most trials at one step.
    cntp: Option<u32>,
}

struct Decoded {
    paths: Vec<PathState>,
    seq_len: usize,
    n_batch: u32,
    failure: Option<String>,
    ffs_winner: Option<u32>,
    online_stops: Vec<run::OnlineStop>,
    cntp_steps: Vec<run::CntpStep>,
    cntp_extra: u64,
}

/// KV cells each sequence needs: its starting context plus, for every turn
/// still to come, the answer and the template's additions.
fn sequence_length(
    lm: &LoadedModel,
    req: &SampleRequest,
    launch: &Launch,
    shared: usize,
    shared_ref: usize,
) -> usize {
    let tok_len = |s: &str| lm.model.vocab().tokenize(s.as_bytes(), false, false).len();
    let reminder = match &req.drift_reference {
        Some(run::DriftReference::Reminder { text }) => tok_len(text) + TURN_OVERHEAD,
        _ => 0,
    };
    let users: Vec<&Message> = req
        .conversation
        .iter()
        .filter(|m| m.role == run::Role::User)
        .collect();
    let later: usize = users
        .iter()
        .skip(launch.start_turn + 1)
        .map(|m| tok_len(&m.content) + TURN_OVERHEAD + reminder)
        .sum();
    let turns_left = users.len() - launch.start_turn;
    shared.max(shared_ref) + reminder + later + turns_left * req.max_tokens as usize
}

/// Decode the launch context once on sequence 0 (and its drift reference
/// once on the first reference sequence), share their KV cache with the
/// other paths, then sample every path through every remaining turn.
fn decode_paths(
    lm: &LoadedModel,
    cfg: &EngineConfig,
    req: &SampleRequest,
    launch: &Launch,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
    skeleton: Run,
) -> Result<Decoded, EngineError> {
    let clock = launch.clock;
    let n = launch.seeds.len();
    let n_turns = skeleton.n_turns();
    let prefix_ids: &[i32] = launch.prefix.as_ref().map_or(&[], |p| &p.tokens.id);
    let shared: Vec<i32> = launch
        .start
        .tokens
        .iter()
        .chain(prefix_ids)
        .copied()
        .collect();
    let shared_ref: Option<Vec<i32>> = launch
        .reference
        .as_ref()
        .map(|r| r.tokens.iter().chain(prefix_ids).copied().collect());
    let measured = req.drift_reference.is_some();
    // CNTP: each path has M − 1 extra sequences for its trials.
    let trial_seqs = launch
        .rules
        .cntp
        .map_or(0, |m| m.saturating_sub(1) as usize);
    let n_seq = if measured {
        2 * n
    } else {
        n * (1 + trial_seqs)
    };
    let n_ctx_train = lm.model.n_ctx_train() as usize;
    let longest = shared.len().max(shared_ref.as_ref().map_or(0, Vec::len));
    if longest + 1 > n_ctx_train {
        return Err(EngineError::PromptTooLong {
            n_prompt: longest,
            n_ctx: n_ctx_train,
        });
    }
    let shared_ref_len = shared_ref.as_ref().map_or(0, Vec::len);
    let seq_len = sequence_length(lm, req, launch, shared.len(), shared_ref_len)
        .min(n_ctx_train)
        .max(longest + 1);
    let n_cells = if cfg.kv_unified {
        shared.len() + shared_ref_len + n_seq * (seq_len - shared.len().min(seq_len))
    } else {
        n_seq * seq_len
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
    let n_batch = N_BATCH.max(n_seq as u32);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_cells as u32))
        .with_n_batch(n_batch)
        .with_n_ubatch(n_batch)
        .with_n_seq_max(n_seq as u32)
        .with_kv_unified(cfg.kv_unified)
        .with_n_threads(cfg.n_threads as i32)
        .with_n_threads_batch(cfg.n_threads as i32);
    let mut ctx =
        lm.model
            .new_context(backend()?, params)
            .map_err(|e| EngineError::ContextCreate {
                n_cells: n_cells as u32,
                n_seq: n_seq as u32,
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

    // The shared contexts, decoded once (the reference's in the same
    // batches); both last tokens come in the final batch so that their
    // logits rows are read together.
    let ref_seq0 = n as i32;
    let mut first_main = Seq {
        id: 0,
        tokens: shared.clone(),
        decoded: 0,
        row: None,
    };
    let mut first_ref = Seq {
        id: ref_seq0,
        tokens: shared_ref.clone().unwrap_or_default(),
        decoded: 0,
        row: None,
    };
    let mut batch = LlamaBatch::new(n_batch as usize, 1);
    while first_main.row.is_none() {
        batch.clear();
        if shared_ref.is_some() {
            schedule_seqs(
                &mut batch,
                &mut [&mut first_main, &mut first_ref],
                n_batch as usize,
            )?;
        } else {
            schedule_seqs(&mut batch, &mut [&mut first_main], n_batch as usize)?;
        }
        ctx.decode(&mut batch).map_err(decode_err)?;
    }
    let main_row = first_main.row.unwrap_or_default();
    let ref_row = first_ref.row.unwrap_or_default();
    for s in 1..n {
        ctx.copy_kv_cache_seq(0, s as i32, None, None)
            .map_err(|e| EngineError::Decode(format!("cannot share the prompt's KV cache: {e}")))?;
        if shared_ref.is_some() {
            ctx.copy_kv_cache_seq(ref_seq0, ref_seq0 + s as i32, None, None)
                .map_err(|e| {
                    EngineError::Decode(format!("cannot share the reference's KV cache: {e}"))
                })?;
        }
    }

    let top_n = (req.top_logprobs as usize)
        .max(CONFIDENCE_K)
        .max(req.sampler.candidates_needed());
    let mut top = TopK::new(top_n);
    let width = req.top_logprobs as usize;
    // A fork starts from the parent's prefix, with its pending UTF-8 bytes.
    let mut joiner = Utf8Joiner::default();
    for &id in prefix_ids {
        if let Some(b) = lm.piece_bytes.get(id as usize) {
            joiner.push(b);
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
                seed: launch.seeds[i],
                sampler: PathSampler::new(req.sampler, launch.seeds[i]),
                joiner: joiner.clone(),
                main: Seq {
                    id: i as i32,
                    tokens: shared.clone(),
                    decoded: shared.len(),
                    row: Some(main_row),
                },
                reference: Seq {
                    // No reference sequence exists when drift is not measured.
                    id: if measured { ref_seq0 + i as i32 } else { -1 },
                    tokens: shared_ref.clone().unwrap_or_default(),
                    decoded: shared_ref_len,
                    row: shared_ref.as_ref().map(|_| ref_row),
                },
                measuring: shared_ref.is_some(),
                turn: launch.start_turn,
                start: launch.start.clone(),
                done_turns: launch.earlier.clone(),
                tokens,
                text,
                timing: Timing {
                    start_ms: ms(clock),
                    end_ms: 0.0,
                },
                turn_end: None,
                finish: None,
                branch: None,
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
    let turns = Turns {
        n_turns,
        reuse: cfg.reuse_history,
    };

    let mut pass = StatsPass::new(n, top_n, threads_for(backend_name()));
    let mut failure = None;
    let mut ffs_winner = None;
    let mut online_stops = Vec::new();
    let mut cntp_steps = Vec::new();
    let mut cntp_extra = 0u64;
    loop {
        // The statistics of every ready row first (on several cores when
        // the model runs on a GPU); branching paths' trials go below.
        let rows: Vec<Option<Rows>> = paths
            .iter()
            .map(|p| {
                let main = p.main.row.filter(|_| {
                    p.branch.is_none()
                        && p.finish.is_none()
                        && p.turn_end.is_none()
                        && (!p.measuring || p.reference.row.is_some())
                })?;
                let reference = p.reference.row.filter(|_| p.measuring);
                Some((
                    ctx.get_logits_ith(main),
                    reference.map(|r| ctx.get_logits_ith(r)),
                ))
            })
            .collect();
        pass.run(&rows);
        drop(rows);
        // Sample for every path whose logits rows are in the last batch.
        for (i, p) in paths.iter_mut().enumerate() {
            if let Some(b) = &mut p.branch {
                for t in b.trials.iter_mut().filter(|t| !t.done) {
                    let Some(r) = t.seq.row.take() else { continue };
                    let row = ctx.get_logits_ith(r);
                    let stats = row_stats(row, &mut top);
                    let (index, turn, at) = (p.index, p.turn as u32, p.tokens.len());
                    cntp::step_trial(lm, index, turn, at, t, row, &stats, &top, &limits);
                }
                continue;
            }
            let ready = p.finish.is_none()
                && p.turn_end.is_none()
                && p.main.row.is_some()
                && (!p.measuring || p.reference.row.is_some());
            if !ready {
                continue;
            }
            let row = ctx.get_logits_ith(p.main.row.take().unwrap_or_default());
            let slot = &pass.slots[i];
            debug_assert!(slot.ready);
            let (stats, row_top) = (slot.stats, &slot.top);
            if let Some(m) = launch.rules.cntp {
                let k = cntp_trials(stats.entropy, m) as usize;
                if k >= 2 {
                    let i = p.main.id as usize;
                    let extra: Vec<i32> = (0..k - 1)
                        .map(|j| (n + i * trial_seqs + j) as i32)
                        .collect();
                    cntp::start(lm, p, k, &extra, req.sampler, row, &stats, row_top, &limits);
                    continue;
                }
            }
            let kl = if p.measuring {
                p.reference.row.take();
                slot.kl
            } else {
                None
            };
            step(lm, p, row, &stats, kl, row_top, &limits, clock, emit);
            if let Some((threshold, w)) = launch.rules.online {
                if p.turn_end.is_none() {
                    if let Some(mean) = window_mean(&p.tokens.confidence, w) {
                        if mean < threshold {
                            online_stops.push(run::OnlineStop {
                                path: p.index,
                                token: p.tokens.len() as u32,
                                window_mean: mean,
                            });
                            end_turn(p, Finish::Cancelled, clock);
                        }
                    }
                }
            }
        }
        if launch.rules.ffs && ffs_winner.is_none() {
            ffs_winner = paths
                .iter()
                .filter(|p| p.turn_end == Some(Finish::Stop))
                .map(|p| p.index)
                .min();
            if ffs_winner.is_some() {
                for p in paths
                    .iter_mut()
                    .filter(|p| p.finish.is_none() && p.turn_end.is_none())
                {
                    end_turn(p, Finish::Cancelled, clock);
                }
            }
        }
        // CNTP: copy KV into new trials, keep the best of finished branches.
        for (i, p) in paths.iter_mut().enumerate() {
            if let Some(b) = &mut p.branch {
                if let Err(e) = cntp::copy_fresh(&mut ctx, b) {
                    failure.get_or_insert(e);
                }
            }
            match cntp::resolve(&mut ctx, p, i as i32, clock, emit) {
                Ok(Some((step, extra))) => {
                    cntp_steps.push(step);
                    cntp_extra += extra;
                }
                Ok(None) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        let stopping = cancel.load(Ordering::Relaxed) || failure.is_some();
        if stopping {
            for (i, p) in paths.iter_mut().enumerate() {
                cntp::abandon(p, i as i32);
            }
            let f = if failure.is_some() {
                Finish::Error
            } else {
                Finish::Cancelled
            };
            for p in paths
                .iter_mut()
                .filter(|p| p.finish.is_none() && p.turn_end.is_none())
            {
                end_turn(p, f, clock);
            }
        }
        for p in paths.iter_mut().filter(|p| p.turn_end.is_some()) {
            if let Err(e) = next_turn(lm, &mut ctx, req, &turns, p, &limits, stopping, clock, emit)
            {
                failure.get_or_insert(format!("cannot start the next turn: {e}"));
            }
        }
        release_finished(&mut ctx, &mut paths);
        if paths.iter().all(|p| p.finish.is_some()) {
            break;
        }
        batch.clear();
        let mut room = n_batch as usize;
        for p in paths.iter_mut().filter(|p| p.finish.is_none()) {
            room = schedule(&mut batch, p, room)?;
        }
        if batch.n_tokens() == 0 {
            failure = Some("internal error: live paths with nothing to decode; stopped".into());
            continue;
        }
        if let Err(e) = ctx.decode(&mut batch) {
            failure = Some(format!(
                "llama.cpp failed to decode: {e}; the paths keep the tokens sampled so far"
            ));
            for p in paths.iter_mut() {
                p.main.row = None;
                p.reference.row = None;
            }
        }
    }
    Ok(Decoded {
        paths,
        seq_len,
        n_batch,
        failure,
        ffs_winner,
        online_stops,
        cntp_steps,
        cntp_extra,
    })
}

/// Most tokens of one sequence in one batch. From 64 query rows per
/// sequence ggml's CPU flash attention switches to a tiled kernel that sums in
/// another order; staying under it keeps every token's logits independent of
/// how its context was chunked (appending a turn to the KV cache gives the
/// same numbers as decoding the history again).
pub(crate) const MAX_SEQ_CHUNK: usize = 63;

/// Add what `p` waits to decode to `batch`, within `room` tokens; returns the
/// room left.
fn schedule(batch: &mut LlamaBatch, p: &mut PathState, room: usize) -> Result<usize, EngineError> {
    if let Some(b) = &mut p.branch {
        let mut seqs: Vec<&mut Seq> = b
            .trials
            .iter_mut()
            .filter(|t| !t.done)
            .map(|t| &mut t.seq)
            .collect();
        return schedule_seqs(batch, &mut seqs, room);
    }
    if p.measuring {
        schedule_seqs(batch, &mut [&mut p.main, &mut p.reference], room)
    } else {
        schedule_seqs(batch, &mut [&mut p.main], room)
    }
}

/// Add the pending tokens of `seqs` (one path's sequences) to `batch`. Their
/// final tokens, whose logits are read, go in together in one batch; until
/// everything fits, only earlier tokens are added.
fn schedule_seqs(
    batch: &mut LlamaBatch,
    seqs: &mut [&mut Seq],
    room: usize,
) -> Result<usize, EngineError> {
    let need: usize = seqs.iter().map(|s| s.pending()).sum();
    if need == 0 {
        return Ok(room);
    }
    let whole = need <= room && seqs.iter().all(|s| s.pending() <= MAX_SEQ_CHUNK);
    let mut room = room;
    for s in seqs.iter_mut() {
        let pending = s.pending();
        let take = if whole {
            pending
        } else {
            pending.saturating_sub(1).min(MAX_SEQ_CHUNK).min(room)
        };
        for k in 0..take {
            let pos = s.decoded + k;
            let logits = whole && k + 1 == pending;
            if logits {
                s.row = Some(batch.n_tokens());
            }
            batch
                .add(LlamaToken(s.tokens[pos]), pos as i32, &[s.id], logits)
                .map_err(decode_err)?;
        }
        s.decoded += take;
        room -= take;
    }
    Ok(room)
}

/// The token ids of the first turn's context and the prompt it renders.
pub fn prompt_tokens(lm: &LoadedModel, conversation: &[Message]) -> Result<Vec<i32>, EngineError> {
    Ok(conversation::first_turn(lm, conversation)?.1.tokens)
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
    // Chunked like the engine so that the numbers are comparable.
    for (c, chunk) in tokens.chunks(MAX_SEQ_CHUNK).enumerate() {
        batch.clear();
        for (j, &t) in chunk.iter().enumerate() {
            let pos = c * MAX_SEQ_CHUNK + j;
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
        sampling: req.sampling(req.top_logprobs),
        conversation: req.conversation.clone(),
        gold: req.gold.clone(),
        answer: req.answer.clone(),
        prompt: Some(prompt::prompt_info(rendered, n_prompt)),
        drift_reference: req.drift_reference.clone(),
        decoding: None,
        engine: Some(EngineInfo {
            n_threads: cfg.n_threads,
            kv_unified: cfg.kv_unified,
            n_batch,
            llama_cpp: "llama-cpp-2 0.1.160".into(),
        }),
        stats: None,
        remote: None,
        judgements: Vec::new(),
        import: None,
        paths,
    }
}
