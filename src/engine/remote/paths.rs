//! Sampling N paths through a server, tokens forwarded as they arrive so
//! that views fill live. Path i is sampled with seed + i. Where the server
//! gives the choices of one request with `n` exactly that rule (llama-server
//! and vLLM: choice j gets seed + j) and nothing stops a path on its own
//! (a plain single-turn run), the paths go out as requests with `n` of up
//! to `concurrency` choices, so the prompt is read once per request;
//! otherwise one streamed chat completion per path and turn, at most
//! `concurrency` in flight. A path that fails keeps every token it
//! received and finishes `error`; Stop keeps everything and finishes the
//! open paths `cancelled`.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use compact_str::CompactString;
use crossbeam_channel::{unbounded, RecvTimeoutError, Sender};
use serde_json::{json, Value};

use super::chunk::{EventStream, StreamEvent, StreamToken};
use super::server::{Server, ServerKind};
use crate::engine::error::EngineError;
use crate::engine::events::{Event, TokenRecord};
use crate::engine::forking::{self, ForkPlan};
use crate::engine::method::{online_threshold, window_mean, DecodingMethod, DEEPCONF_PERCENTILE};
use crate::engine::request::{validate_request, SampleRequest};
use crate::run::topk::{self, CONFIDENCE_K};
use crate::run::utf8::Utf8Joiner;
use crate::run::{
    DecodingRecord, DeepConfOnlineRecord, FfsRecord, Finish, Message, OnlineStop, Path, PromptInfo,
    Role, Run, Source, StatsSource, Timing, Tokens, Turn,
};

/// The most candidates read for one streamed token.
const MAX_CANDIDATES: usize = 1024;

/// How often a path waiting for its stream checks Stop.
const POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Read a response body on its own thread, in chunks (an empty chunk: the
/// end), so that a path waiting for a silent server still sees Stop and its
/// idle limit; the thread ends at the body's end or once nobody listens.
fn read_in_background(
    mut reader: impl Read + Send + 'static,
) -> crossbeam_channel::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = crossbeam_channel::bounded(64);
    let spawned = std::thread::Builder::new()
        .name("reasonscope-stream".into())
        .spawn(move || loop {
            let mut buf = vec![0u8; 16 << 10];
            match reader.read(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(buf)).is_err() || n == 0 {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        let (tx, rx2) = crossbeam_channel::bounded(1);
        let _ = tx.send(Err(e));
        return rx2;
    }
    rx
}

/// What a path thread tells the coordinating thread.
enum Msg {
    Event(Event),
    Done {
        path: usize,
        turns: Vec<Turn>,
        prompt_tokens: Option<u32>,
    },
}

/// What of a request this server cannot do, worded for the user.
pub fn refusal(req: &SampleRequest) -> Option<String> {
    if req.drift_reference.is_some() {
        return Some("drift (kl_ref) needs two full next-token distributions per token; a server returns only the top candidates: measure drift with a local model (--model)".into());
    }
    match req.method {
        // CNTP's number of trials is a function of the exact entropy,
        // which a top-k source only bounds.
        DecodingMethod::Cntp { .. } => Some("cntp decides how many trials to sample from each token's exact entropy, and a server returns only the top candidates (the entropy is known between two bounds): sample it with a local model (--model)".into()),
        _ => None,
    }
}

/// The decoding-time rules a batch of paths follows (methods.md): FFS stops
/// every path once one finishes; DeepConf online stops a path once the
/// mean confidence of its last `window` tokens falls below the threshold.
#[derive(Default, Clone, Copy)]
struct Rules {
    ffs: bool,
    online: Option<(f64, usize)>,
}

/// What the paths of a run decide together.
struct Shared {
    /// FFS: the first finisher as the local engine's lockstep decoding
    /// defines it, (tokens, index): fewest tokens, then lowest index.
    ffs_best: std::sync::Mutex<Option<(usize, u32)>>,
    /// FFS: a path is stopped once it holds this many tokens (the
    /// winner's + 1: in lockstep, the others drew one more token on the
    /// step the winner drew its end of generation).
    ffs_limit: AtomicUsize,
    online_stops: std::sync::Mutex<Vec<OnlineStop>>,
    /// vLLM refused k + 1 alternatives (started without
    /// `--max-logprobs 21`): ask for k from then on.
    k_only: std::sync::atomic::AtomicBool,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            ffs_best: Default::default(),
            ffs_limit: AtomicUsize::new(usize::MAX),
            online_stops: Default::default(),
            k_only: Default::default(),
        }
    }
}

/// FFS after the streams: cut every path that ran past the step at which
/// the winner finished (streams run concurrently and are stopped only when
/// they next report), as lockstep decoding would have; the winner.
fn settle_ffs(run: &mut Run, best: Option<(usize, u32)>) -> Option<u32> {
    let (n, winner) = best?;
    for p in run.paths.iter_mut().filter(|p| p.index != winner) {
        let Some(t) = p.turns.first_mut() else {
            continue;
        };
        let finished_later = t.finish == Finish::Stop && t.tokens.len() > n;
        if t.tokens.len() > n + 1 || finished_later {
            t.tokens.truncate(n + 1);
            t.text = t.tokens.text.iter().map(|s| s.as_str()).collect();
            t.finish = Finish::Cancelled;
        }
    }
    Some(winner)
}

/// Sample `req` through `server`; events as the local engine sends them.
pub fn sample(
    server: &Server,
    req: &SampleRequest,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
) -> Result<(), EngineError> {
    validate_request(req)?;
    if let Some(why) = refusal(req) {
        return Err(EngineError::InvalidRequest(why));
    }
    let width = req.top_logprobs.min(CONFIDENCE_K as u32);
    let mut run = skeleton(server, req, width);
    emit(Event::RunStarted {
        skeleton: Box::new(run.clone()),
    });
    let n = req.n_paths as usize;
    let batch = Batch {
        server,
        req,
        width: width as usize,
        clock: Instant::now(),
        cancel,
        shared: Shared::default(),
        fork: None,
    };
    // DeepConf online samples its warm-up paths first, the rest after.
    let first = match req.method {
        DecodingMethod::DeepConfOnline { warmup, .. } => (warmup as usize).min(n),
        _ => n,
    };
    let rules = Rules {
        ffs: req.method == DecodingMethod::Ffs,
        online: None,
    };
    let mut prompt_tokens = batch.run(0..first, rules, &mut run, emit);
    let mut record = DecodingRecord {
        method: req.method.id().into(),
        ..Default::default()
    };
    if rules.ffs {
        let best = *batch.shared.ffs_best.lock().expect("not poisoned");
        record.ffs = Some(FfsRecord {
            winner: settle_ffs(&mut run, best),
        });
    }
    if let DecodingMethod::DeepConfOnline { warmup, window } = req.method {
        let threshold = online_threshold(&run.paths[..first], window as usize);
        if first < n && !cancel.load(Ordering::Relaxed) {
            let rules = Rules {
                online: threshold.map(|t| (t, window as usize)),
                ..Rules::default()
            };
            let pt = batch.run(first..n, rules, &mut run, emit);
            prompt_tokens = prompt_tokens.or(pt);
        }
        let mut stops =
            std::mem::take(&mut *batch.shared.online_stops.lock().expect("not poisoned"));
        stops.sort_by_key(|s| s.path);
        record.deepconf_online = Some(DeepConfOnlineRecord {
            warmup,
            window,
            percentile: DEEPCONF_PERCENTILE,
            threshold,
            stops,
        });
    }
    if req.method != DecodingMethod::Plain {
        run.decoding = Some(record);
    }
    run.prompt = Some(PromptInfo {
        template: "chat".into(),
        note: Some(format!(
            "rendered by {} with the served model's own chat template",
            server.kind.id()
        )),
        n_tokens: prompt_tokens.unwrap_or(0),
    });
    emit(Event::RunFinished { run: Box::new(run) });
    Ok(())
}

/// Continue `run`'s path `path` from its first `token` tokens of turn
/// `turn` with `m` new paths, through `server` (forking.rs has the rules);
/// the new paths are appended to the run.
#[allow(clippy::too_many_arguments)]
pub fn fork(
    server: &Server,
    run: &Run,
    path: usize,
    turn: usize,
    token: usize,
    m: u32,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
) -> Result<Run, EngineError> {
    let plan = forking::plan(run, path, turn, token, m, Source::TopK)?;
    let mut result = plan.skeleton(run);
    emit(Event::RunStarted {
        skeleton: Box::new(result.clone()),
    });
    let batch = Batch {
        server,
        req: &plan.req,
        width: run.sampling.top_logprobs as usize,
        clock: Instant::now(),
        cancel,
        shared: Shared::default(),
        fork: Some(&plan),
    };
    let first = plan.indices[0] as usize;
    batch.run(
        first..first + m as usize,
        Rules::default(),
        &mut result,
        emit,
    );
    emit(Event::RunFinished {
        run: Box::new(result.clone()),
    });
    Ok(result)
}

/// What every path of one run shares.
struct Batch<'a> {
    server: &'a Server,
    req: &'a SampleRequest,
    width: usize,
    clock: Instant,
    cancel: &'a AtomicBool,
    shared: Shared,
    /// Set when the paths are a fork's new paths.
    fork: Option<&'a ForkPlan>,
}

impl Batch<'_> {
    /// Path i's seed: seed + i, or a fork's fresh seeds.
    fn seed_of(&self, index: usize) -> u64 {
        match self.fork {
            Some(f) => {
                let j = index - f.indices[0] as usize;
                f.seeds[j]
            }
            None => self.req.seed + index as u64,
        }
    }

    /// Whether paths `range` go out as requests with `n`: the server
    /// seeds choice j with seed + j (llama-server: tools/server/server-task.h
    /// `add_child`; vLLM: `vllm/v1/engine/parallel_sampling.py`), the seeds are seed + i
    /// (not a fork's), the run has one turn and no rule stops a path on
    /// its own (a request's choices end together when it is closed).
    fn uses_n(&self, range: &std::ops::Range<usize>, rules: Rules) -> bool {
        let one_turn = self.req.n_turns() == 1;
        matches!(self.server.kind, ServerKind::LlamaServer | ServerKind::Vllm)
            && self.fork.is_none()
            && !rules.ffs
            && rules.online.is_none()
            && one_turn
            && range.len() > 1
            && self.server.concurrency > 1
            && self.server.use_n
    }

    /// Paths `range` as one request with `n` = its length (seed: its first
    /// path's): every path's turns and the prompt length.
    fn group(
        &self,
        range: std::ops::Range<usize>,
        tx: &Sender<Msg>,
    ) -> (Vec<Vec<Turn>>, Option<u32>) {
        let jobs: Vec<PathJob> = range
            .clone()
            .map(|i| PathJob {
                batch: self,
                index: i,
                rules: Rules::default(),
                tx,
            })
            .collect();
        for j in &jobs {
            j.send(Event::PathStarted {
                path: j.index as u32,
                seed: self.seed_of(j.index),
            });
        }
        let mut states: Vec<TurnState> = jobs.iter().map(|j| j.new_state(None)).collect();
        let messages = turn_messages(&self.req.conversation, &[], 0);
        let seed = self.seed_of(range.start);
        let n = range.len() as u32;
        let mut prompt_tokens = None;
        let outcomes = stream(
            &jobs,
            &mut states,
            &|k| {
                let mut body = request_body(
                    self.server,
                    self.req,
                    messages.clone(),
                    seed,
                    self.req.max_tokens,
                    k,
                );
                body["n"] = json!(n);
                body
            },
            &mut prompt_tokens,
        );
        let turns = jobs
            .iter()
            .zip(states)
            .zip(outcomes)
            .map(|((j, st), outcome)| {
                let turn = j.end_turn(st, outcome);
                j.send(Event::PathFinished {
                    path: j.index as u32,
                    turn: 0,
                    finish: turn.finish,
                    n_tokens: turn.tokens.len() as u32,
                    done: true,
                });
                vec![turn]
            })
            .collect();
        (turns, prompt_tokens)
    }

    /// Sample the paths `range` (at most `concurrency` in flight) into
    /// `run`, forwarding their events; the first turn's prompt length.
    fn run(
        &self,
        range: std::ops::Range<usize>,
        rules: Rules,
        run: &mut Run,
        emit: &mut dyn FnMut(Event),
    ) -> Option<u32> {
        let next = AtomicUsize::new(range.start);
        let (tx, rx) = unbounded::<Msg>();
        let mut prompt_tokens = None;
        let concurrency = (self.server.concurrency as usize).max(1);
        std::thread::scope(|s| {
            if self.uses_n(&range, rules) {
                // Requests with `n` one after another: each holds
                // `concurrency` paths in flight.
                let tx = tx.clone();
                let range = range.clone();
                // A request's choices each take a slot: no more than the
                // server has (llama-server waits for them all at once).
                let width = self
                    .server
                    .slots
                    .map_or(concurrency, |s| concurrency.min(s.max(1) as usize));
                s.spawn(move || {
                    let mut start = range.start;
                    // After Stop too: the paths left still get their
                    // (empty, cancelled) turn, as one request per path does.
                    while start < range.end {
                        let end = (start + width).min(range.end);
                        let (turns, pt) = self.group(start..end, &tx);
                        for (k, turns) in turns.into_iter().enumerate() {
                            let _ = tx.send(Msg::Done {
                                path: start + k,
                                turns,
                                prompt_tokens: pt,
                            });
                        }
                        start = end;
                    }
                });
            } else {
                for _ in 0..concurrency.min(range.len()) {
                    let tx = tx.clone();
                    let next = &next;
                    let end = range.end;
                    s.spawn(move || loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= end {
                            break;
                        }
                        let job = PathJob {
                            batch: self,
                            index: i,
                            rules,
                            tx: &tx,
                        };
                        let (turns, prompt_tokens) = job.run();
                        let _ = tx.send(Msg::Done {
                            path: i,
                            turns,
                            prompt_tokens,
                        });
                    });
                }
            }
            drop(tx);
            for msg in rx {
                match msg {
                    Msg::Event(e) => emit(e),
                    Msg::Done {
                        path,
                        turns,
                        prompt_tokens: pt,
                    } => {
                        prompt_tokens = prompt_tokens.or(pt);
                        run.paths[path].turns = turns;
                    }
                }
            }
        });
        prompt_tokens
    }
}

/// The run as it starts: settings, conversation, `stats` and `remote`.
fn skeleton(server: &Server, req: &SampleRequest, width: u32) -> Run {
    Run {
        format: crate::run::FORMAT.into(),
        version: crate::run::VERSION,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        title: req.title.clone(),
        model: server.model_info(),
        sampling: req.sampling(width),
        conversation: req.conversation.clone(),
        gold: req.gold.clone(),
        answer: req.answer.clone(),
        prompt: None,
        engine: None,
        drift_reference: None,
        decoding: None,
        stats: Some(StatsSource {
            source: Source::TopK,
            k: Some(CONFIDENCE_K as u32),
            distribution: Some(server.kind.distribution()),
        }),
        remote: Some(server.remote_info()),
        judgements: Vec::new(),
        import: None,
        paths: (0..req.n_paths)
            .map(|i| Path {
                index: i,
                seed: req.seed + u64::from(i),
                fork: None,
                turns: Vec::new(),
            })
            .collect(),
    }
}

/// The messages for turn `turn` of a path: the conversation up to that
/// user message, with the path's own earlier answers in between.
pub fn turn_messages(conversation: &[Message], answers: &[Turn], turn: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut users = 0;
    for m in conversation {
        match m.role {
            Role::System => out.push(json!({"role": "system", "content": m.content})),
            Role::User => {
                if users > turn {
                    break;
                }
                out.push(json!({"role": "user", "content": m.content}));
                if users < turn {
                    let text = answers.get(users).map(|t| t.text.as_str()).unwrap_or("");
                    out.push(json!({"role": "assistant", "content": text}));
                }
                users += 1;
            }
        }
    }
    out
}

/// The request body for one path's turn, in this server's best shape;
/// `max_tokens` is what is left of the turn's budget.
pub fn request_body(
    server: &Server,
    req: &SampleRequest,
    messages: Vec<Value>,
    seed: u64,
    max_tokens: u32,
    k: u32,
) -> Value {
    let mut body = json!({
        "model": server.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": max_tokens,
        "temperature": req.sampler.temperature,
        "top_p": req.sampler.top_p,
        "seed": seed,
        "logprobs": true,
        "top_logprobs": k,
    });
    let o = body.as_object_mut().expect("an object");
    // vLLM and SGLang turn top-k off with -1, llama-server with 0.
    let top_k = match (server.kind, req.sampler.top_k) {
        (ServerKind::Vllm | ServerKind::Sglang, 0) => -1,
        (_, k) => i64::from(k),
    };
    match server.kind {
        ServerKind::LlamaServer | ServerKind::Vllm | ServerKind::Sglang => {
            o.insert("top_k".into(), json!(top_k));
            o.insert("min_p".into(), json!(req.sampler.min_p));
            if server.kind == ServerKind::LlamaServer {
                o.insert("cache_prompt".into(), json!(true));
            }
            if server.kind == ServerKind::Vllm {
                // Exact ids: tokens come back as "token_id:N".
                o.insert("return_tokens_as_token_ids".into(), json!(true));
            }
        }
        // OpenAI and unknown servers refuse fields they do not know.
        ServerKind::OpenAiCompatible => {}
    }
    body
}

struct PathJob<'a> {
    batch: &'a Batch<'a>,
    index: usize,
    rules: Rules,
    tx: &'a Sender<Msg>,
}

/// One turn as it streams in.
struct TurnState {
    /// Which turn of the conversation.
    turn: usize,
    /// What the server said about its end, once it did.
    finish_reason: Option<Finish>,
    tokens: Tokens,
    text: String,
    joiner: Utf8Joiner,
    start_ms: f64,
    streamed_text: String,
}

impl PathJob<'_> {
    fn send(&self, e: Event) {
        let _ = self.tx.send(Msg::Event(e));
    }

    /// Milliseconds since the run started, to the microsecond (a short
    /// decimal reads back as the same f64).
    fn ms(&self) -> f64 {
        (self.batch.clock.elapsed().as_secs_f64() * 1e6).round() / 1000.0
    }

    /// Whether Stop was pressed.
    fn stopped(&self) -> bool {
        self.batch.cancel.load(Ordering::Relaxed)
    }

    /// FFS: whether this path has reached the step at which another path
    /// finished.
    fn ffs_cut(&self, st: &TurnState) -> bool {
        self.rules.ffs && st.tokens.len() >= self.batch.shared.ffs_limit.load(Ordering::Relaxed)
    }

    /// Every turn of the path; stops at the first turn that does not end
    /// with `stop` or `length`.
    fn run(&self) -> (Vec<Turn>, Option<u32>) {
        let seed = self.batch.seed_of(self.index);
        self.send(Event::PathStarted {
            path: self.index as u32,
            seed,
        });
        let n_turns = self.batch.req.n_turns();
        // A fork starts in its turn, after the parent's earlier turns, from
        // the parent's prefix.
        let (start, mut turns, mut prefix) = match self.batch.fork {
            Some(f) => (f.turn, f.earlier.clone(), Some(&f.prefix)),
            None => (0, Vec::new(), None),
        };
        let mut prompt_tokens = None;
        for t in start..n_turns {
            let (turn, pt) = self.turn(t, &turns, seed, prefix.take());
            if t == start {
                prompt_tokens = pt;
            }
            let finish = turn.finish;
            let done = t + 1 == n_turns || !matches!(finish, Finish::Stop | Finish::Length);
            self.send(Event::PathFinished {
                path: self.index as u32,
                turn: t as u32,
                finish,
                n_tokens: turn.tokens.len() as u32,
                done,
            });
            turns.push(turn);
            if done {
                break;
            }
        }
        (turns, prompt_tokens)
    }

    fn new_state(&self, prefix: Option<&Turn>) -> TurnState {
        TurnState {
            turn: 0,
            tokens: prefix.map_or_else(
                || Tokens::with_width(self.batch.width),
                |p| p.tokens.clone(),
            ),
            text: prefix.map_or_else(String::new, |p| p.text.clone()),
            joiner: Utf8Joiner::default(),
            start_ms: self.ms(),
            streamed_text: String::new(),
            finish_reason: None,
        }
    }

    fn turn(
        &self,
        t: usize,
        earlier: &[Turn],
        seed: u64,
        prefix: Option<&Turn>,
    ) -> (Turn, Option<u32>) {
        let mut st = self.new_state(prefix);
        st.turn = t;
        let mut messages = turn_messages(&self.batch.req.conversation, earlier, t);
        let mut max_tokens = self.batch.req.max_tokens;
        if !st.text.is_empty() {
            // Continue the prefix: servers continue a final assistant
            // message (llama-server and vLLM prefill it).
            messages.push(json!({"role": "assistant", "content": st.text}));
            max_tokens = max_tokens.saturating_sub(st.tokens.len() as u32).max(1);
        }
        let mut prompt_tokens = None;
        let mut states = [st];
        let [outcome] = <[_; 1]>::try_from(stream(
            std::slice::from_ref(self),
            &mut states,
            &|k| {
                request_body(
                    self.batch.server,
                    self.batch.req,
                    messages.clone(),
                    seed,
                    max_tokens,
                    k,
                )
            },
            &mut prompt_tokens,
        ))
        .expect("one outcome per lane");
        let [st] = states;
        (self.end_turn(st, outcome), prompt_tokens)
    }

    /// The turn a stream left in `st`: a failure is reported, and bytes of
    /// a character that never completed go to the last token.
    fn end_turn(&self, mut st: TurnState, outcome: Result<Finish, String>) -> Turn {
        let finish = match outcome {
            Ok(f) => f,
            Err(message) => {
                self.send(Event::Error {
                    message: format!("path {}: {message}", self.index),
                });
                Finish::Error
            }
        };
        let rest = st.joiner.finish();
        if !rest.is_empty() {
            if let Some(last) = st.tokens.text.last_mut() {
                last.push_str(&rest);
                st.text.push_str(&rest);
            }
        }
        Turn {
            text: st.text,
            finish,
            tokens: st.tokens,
            timing: Timing {
                start_ms: st.start_ms,
                end_ms: self.ms(),
            },
        }
    }

    /// After its stream ended: this lane's finish, or why it has none.
    fn settle(&self, st: &TurnState, saw_done: bool) -> Result<Finish, String> {
        if st.tokens.is_empty() && !st.streamed_text.is_empty() {
            return Err(format!(
                "the server returned text but no logprobs: {}",
                self.batch.server.kind.logprobs_hint()
            ));
        }
        let finish = match st.finish_reason {
            Some(f) => f,
            None if saw_done => Finish::Stop,
            None => return Err("the stream ended before the server said the answer was finished (the server stopped or the connection was cut)".into()),
        };
        if finish == Finish::Stop && self.rules.ffs {
            let mine = (st.tokens.len(), self.index as u32);
            let mut best = self.batch.shared.ffs_best.lock().expect("not poisoned");
            if best.is_none_or(|b| mine < b) {
                *best = Some(mine);
                self.batch
                    .shared
                    .ffs_limit
                    .store(mine.0 + 1, Ordering::Relaxed);
            }
        }
        Ok(finish)
    }

    /// DeepConf online: whether the path's window mean fell below the
    /// threshold with its newest token (then the stop is recorded).
    fn online_stop(&self, st: &TurnState) -> bool {
        let Some((threshold, w)) = self.rules.online else {
            return false;
        };
        // A path at its last token ends with `length`, as in the local
        // engine (the limit is checked before the rule).
        if st.tokens.len() >= self.batch.req.max_tokens as usize {
            return false;
        }
        match window_mean(&st.tokens.confidence, w) {
            Some(mean) if mean < threshold => {
                self.batch
                    .shared
                    .online_stops
                    .lock()
                    .expect("not poisoned")
                    .push(OnlineStop {
                        path: self.index as u32,
                        token: st.tokens.len() as u32,
                        window_mean: mean,
                    });
                true
            }
            _ => false,
        }
    }

    /// Record one streamed token: statistics from its candidates, text
    /// through the UTF-8 joiner.
    fn token(&self, t: usize, tok: StreamToken, st: &mut TurnState) -> Result<(), String> {
        // Bounds on what a server may send: past the limit a path would
        // grow without end; 20 or 21 candidates were asked for, so a
        // thousand is a server that does not answer what was asked.
        let limit = self.batch.req.max_tokens as usize;
        if st.tokens.len() >= limit {
            return Err(format!(
                "the server sent more than the {limit} tokens asked for"
            ));
        }
        if tok.top.len() > MAX_CANDIDATES {
            return Err(format!(
                "the server returned {} candidates for token {}, {} were asked for",
                tok.top.len(),
                st.tokens.len(),
                self.batch.width
            ));
        }
        let mut cands = tok.top;
        topk::normalize(&mut cands);
        let lps: Vec<f32> = cands.iter().map(|c| c.logprob).collect();
        let stats = topk::position_stats(&lps, self.batch.server.n_vocab).ok_or_else(|| {
            format!(
                "token {} came with no usable candidates (top_logprobs empty or all −∞)",
                st.tokens.len()
            )
        })?;
        if cands.len() < self.batch.width {
            return Err(format!(
                "the server returned {} candidates for token {}, {} were asked for",
                cands.len(),
                st.tokens.len(),
                self.batch.width
            ));
        }
        let alts = &cands[..self.batch.width];
        let logprob = if tok.logprob.is_finite() && tok.logprob > topk::CLAMP_FLOOR {
            tok.logprob
        } else {
            return Err(format!(
                "token {}: the sampled token's logprob is {} (clamped or missing)",
                st.tokens.len(),
                tok.logprob
            ));
        };
        let text = CompactString::from(st.joiner.push(&tok.bytes));
        let rec = TokenRecord {
            path: self.index as u32,
            turn: t as u32,
            index: st.tokens.len() as u32,
            id: tok.id,
            text,
            logprob,
            entropy: stats.entropy_lo,
            entropy_hi: stats.entropy_hi,
            self_certainty: None,
            confidence: stats.confidence,
            top_id: alts.iter().map(|c| c.id).collect(),
            top_text: alts.iter().map(|c| c.text.clone()).collect(),
            top_logprob: alts
                .iter()
                .map(|c| topk::stored_logprob(c.logprob))
                .collect(),
            kl_ref: None,
        };
        rec.push_to(&mut st.tokens);
        st.text.push_str(&rec.text);
        self.send(Event::Token(Box::new(rec)));
        Ok(())
    }
}

/// Stream one request whose choice j goes to `jobs[j]` / `states[j]` (one
/// lane, or a request with `n`); `body(k)` is the request asking for k
/// alternatives. Each lane's finish, or why it failed: a failure of the
/// request or the stream fails every lane still open; a lane that stops
/// on its own (FFS, DeepConf online, a bad token) leaves the others going.
fn stream(
    jobs: &[PathJob],
    states: &mut [TurnState],
    body: &dyn Fn(u32) -> Value,
    prompt_tokens: &mut Option<u32>,
) -> Vec<Result<Finish, String>> {
    let mut done: Vec<Option<Result<Finish, String>>> = vec![None; jobs.len()];
    let failed = stream_lanes(jobs, states, body, prompt_tokens, &mut done);
    jobs.iter()
        .zip(states.iter())
        .zip(done)
        .map(|((j, st), d)| match (d, &failed) {
            (Some(d), _) => d,
            (None, Err(e)) => Err(e.clone()),
            (None, Ok(saw_done)) => j.settle(st, *saw_done),
        })
        .collect()
}

/// `stream`'s reading loop: lanes that end early get their outcome in
/// `done`; `Ok(saw [DONE])` once the stream ended, `Err` when it failed.
fn stream_lanes(
    jobs: &[PathJob],
    states: &mut [TurnState],
    body: &dyn Fn(u32) -> Value,
    prompt_tokens: &mut Option<u32>,
    done: &mut [Option<Result<Finish, String>>],
) -> Result<bool, String> {
    let batch = jobs[0].batch;
    // vLLM lists the sampled token first and may drop the k-th best for
    // it: k + 1 alternatives keep the best k exact (re-sorted and
    // de-duplicated when read).
    let k_only = &batch.shared.k_only;
    let extra = batch.server.kind == ServerKind::Vllm && !k_only.load(Ordering::Relaxed);
    let k = CONFIDENCE_K as u32 + u32::from(extra);
    let url = batch.server.http.url("/chat/completions", false);
    let cancelled = |done: &mut [Option<Result<Finish, String>>]| {
        for d in done.iter_mut().filter(|d| d.is_none()) {
            *d = Some(Ok(Finish::Cancelled));
        }
        Ok(false)
    };
    if jobs[0].stopped() {
        return cancelled(done);
    }
    let resp = match batch.server.http.post(&url, &body(k)) {
        Ok(r) => r,
        // "Requested sample logprobs of 21, which is greater than max
        // allowed: 20": this server was started without
        // --max-logprobs 21.
        Err(e) if extra && e.0.contains("logprobs") => {
            k_only.store(true, Ordering::Relaxed);
            batch
                .server
                .http
                .post(&url, &body(CONFIDENCE_K as u32))
                .map_err(|e| e.0)?
        }
        Err(e) => return Err(e.0),
    };
    let chunks = read_in_background(resp.into_body().into_reader());
    let idle = batch.server.http.timeout;
    let mut last_byte = Instant::now();
    let mut stream = EventStream::default();
    let mut saw_done = false;
    loop {
        if jobs[0].stopped() {
            // Dropping the channel ends the reader thread at its next
            // chunk, which closes the connection: the server stops
            // generating.
            return cancelled(done);
        }
        let bytes = match chunks.recv_timeout(POLL) {
            Ok(Ok(b)) if b.is_empty() => break,
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(format!("the stream broke off: {e}")),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) if last_byte.elapsed() < idle => continue,
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "the server sent nothing for {:.0} s mid-answer (raise --timeout if it is only slow)",
                    idle.as_secs_f64()
                ))
            }
        };
        last_byte = Instant::now();
        for ev in stream.feed(&bytes)? {
            let chunk = match ev {
                StreamEvent::Done => {
                    saw_done = true;
                    continue;
                }
                StreamEvent::Chunk(c) => c,
            };
            if chunk.prompt_tokens.is_some() {
                *prompt_tokens = chunk.prompt_tokens;
            }
            for c in chunk.choices {
                let (Some(job), Some(st)) = (jobs.get(c.index), states.get_mut(c.index)) else {
                    return Err(format!(
                        "the server streamed choice {}, but {} were asked for",
                        c.index,
                        jobs.len()
                    ));
                };
                if done[c.index].is_some() {
                    continue;
                }
                st.streamed_text.push_str(&c.text);
                for tok in c.tokens {
                    if let Err(e) = job.token(st.turn, tok, st) {
                        done[c.index] = Some(Err(e));
                        break;
                    }
                    if job.online_stop(st) || job.ffs_cut(st) {
                        done[c.index] = Some(Ok(Finish::Cancelled));
                        break;
                    }
                }
                if let Some(r) = c.finish_reason {
                    st.finish_reason = Some(match r.as_str() {
                        "length" => Finish::Length,
                        _ => Finish::Stop,
                    });
                }
            }
            if done.iter().all(Option::is_some) {
                // Every lane ended on its own: close the stream.
                return Ok(saw_done);
            }
        }
    }
    Ok(saw_done)
}
