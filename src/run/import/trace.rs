//! What every source format is read into (one prompt's samples, as the
//! source gave them), and how that becomes a run: statistics from the
//! returned candidates as methods.md defines them for top-k sources, text
//! through the UTF-8 joiner, and every unknown said so, never zeros.

use compact_str::CompactString;

use super::words;
use crate::run::model::*;
use crate::run::topk::{self, Candidate};
use crate::run::utf8::Utf8Joiner;

/// One generated token as a source gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenIn {
    /// -1 where the source gives no token ids.
    pub id: i32,
    /// Raw bytes (they may hold part of a UTF-8 character).
    pub bytes: Vec<u8>,
    /// ln p of the sampled token; NaN, −∞ and clamps are read as −∞.
    pub logprob: f32,
    /// The returned candidates, in the source's order.
    pub top: Vec<Candidate>,
}

/// One sampled response.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub text: String,
    pub finish: Finish,
    /// Per-token logprobs where the source has them.
    pub tokens: Option<Vec<TokenIn>>,
    /// Exact full-distribution statistics, one per token (`jsonl` only).
    pub exact: Option<Exact>,
    /// The token columns, when a parser built them as it read (`tokens`
    /// and `exact` are then `None`).
    pub built: Option<BuiltPath>,
}

impl Sample {
    /// The response's text (a built path's, when the parser built it).
    pub fn text(&self) -> &str {
        self.built.as_ref().map_or(&self.text, |b| &b.text)
    }
}

/// Statistics a tool computed over the full distribution (it held the
/// logits): taken as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Exact {
    pub entropy: Vec<f32>,
    pub self_certainty: Vec<f32>,
    pub confidence: Vec<f32>,
}

/// Sampling settings the source recorded (None: not in the source).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SamplingIn {
    pub temperature: Option<f32>,
    pub top_k: Option<u32>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub seed: Option<u64>,
    pub max_tokens: Option<u32>,
}

impl SamplingIn {
    /// Settings from an object of the source (`temperature`, `top_k`,
    /// `top_p`, `min_p`, `seed`, and the first of `max_keys` present).
    pub fn read(v: &serde_json::Value, max_keys: &[&str]) -> Self {
        let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
        SamplingIn {
            temperature: num("temperature").map(|x| x as f32),
            top_k: num("top_k").map(|x| x as u32),
            top_p: num("top_p").map(|x| x as f32),
            min_p: num("min_p").map(|x| x as f32),
            seed: v.get("seed").and_then(serde_json::Value::as_u64),
            max_tokens: max_keys
                .iter()
                .find_map(|k| num(k))
                .filter(|&n| n >= 0.0)
                .map(|x| x as u32),
        }
    }
}

/// One prompt's samples from a source file.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The conversation, when the file holds it.
    pub conversation: Option<Vec<Message>>,
    /// The prompt was raw text (a completion), not chat messages.
    pub plain_prompt: bool,
    pub gold: Option<String>,
    /// The served model's name, when the file says it.
    pub model: Option<String>,
    /// The record's own id (a batch `custom_id`, a `doc_id`).
    pub title: Option<String>,
    pub distribution: Distribution,
    pub sampling: SamplingIn,
    /// Whether the source says why each response ended.
    pub finish_known: bool,
    /// V, when the source says it.
    pub n_vocab: Option<u32>,
    /// A regex that reads the final answer (`answer_pattern`).
    pub answer_pattern: Option<String>,
    pub samples: Vec<Sample>,
}

impl Trace {
    pub fn new(distribution: Distribution) -> Self {
        Trace {
            conversation: None,
            plain_prompt: false,
            gold: None,
            model: None,
            title: None,
            distribution,
            sampling: SamplingIn::default(),
            finish_known: true,
            n_vocab: None,
            answer_pattern: None,
            samples: Vec::new(),
        }
    }
}

/// Turns text into a model's tokens (`--tokenizer MODEL.gguf`); the
/// engine provides it, so that `run` stays free of llama.cpp.
pub trait Tokenizer {
    /// Token ids and their raw bytes; the bytes concatenated are `text`.
    fn tokenize(&self, text: &str) -> Result<Vec<(i32, Vec<u8>)>, String>;
    fn n_vocab(&self) -> u32;
    /// The model's file name (recorded in `import.tokens`).
    fn file_name(&self) -> String;
}

/// Everything a conversion needs besides the records.
pub struct Options<'a> {
    /// The source's file name (no folders).
    pub file_name: String,
    /// `--prompt`: the conversation every record answers.
    pub prompt: Option<Vec<Message>>,
    /// `--vocab-size`: V where the file does not say it.
    pub vocab: Option<u32>,
    pub tokenizer: Option<&'a dyn Tokenizer>,
    /// RFC 3339 time written as the run's `created`.
    pub created: String,
}

/// Build the run of one prompt's samples (`record`: the 1-based record of
/// the file when it held several).
pub fn to_run(
    mut trace: Trace,
    from: &str,
    record: Option<u64>,
    opts: &Options,
) -> Result<Run, String> {
    if trace.samples.is_empty() {
        return Err("holds no sampled response".into());
    }
    let mut unknown: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let conversation = match (trace.conversation.clone(), &opts.prompt) {
        (_, Some(p)) => p.clone(),
        (Some(c), None) if c.iter().any(|m| m.role == Role::User) => c,
        _ => {
            unknown.push("prompt".into());
            Message::users(&[""])
        }
    };
    let exact = trace
        .samples
        .iter()
        .all(|s| s.tokens.is_some() && s.exact.is_some());
    let with_logprobs = exact
        || trace.samples.iter().all(|s| {
            s.built.is_some()
                || s.tokens
                    .as_ref()
                    .is_some_and(|t| t.iter().all(|t| !t.top.is_empty()))
        });
    if !with_logprobs && trace.samples.iter().any(|s| s.tokens.is_some()) {
        notes.push(
            "some responses came without logprobs or alternatives: the run is text only".into(),
        );
    }
    let vocab = opts
        .vocab
        .or(trace.n_vocab)
        .or_else(|| opts.tokenizer.map(|t| t.n_vocab()))
        .filter(|&v| v > 0);
    let (paths, stats, width, tokens_note) = if with_logprobs {
        let (paths, width, clamped) = topk_paths(&mut trace.samples, vocab, exact)?;
        if clamped > 0 {
            notes.push(format!(
                "{clamped} logprobs were NaN, −∞ or clamped (≤ −9000, as vLLM's −9999): read as −∞ (probability 0)"
            ));
        }
        let stats = if exact {
            StatsSource {
                distribution: Some(trace.distribution),
                ..StatsSource::FULL
            }
        } else {
            StatsSource {
                source: Source::TopK,
                k: Some(width as u32),
                distribution: Some(trace.distribution),
            }
        };
        (paths, stats, width, "source".to_owned())
    } else {
        let (paths, how) = text_paths(&trace.samples, opts.tokenizer)?;
        let stats = StatsSource {
            source: Source::Text,
            k: None,
            distribution: None,
        };
        (paths, stats, 0, how)
    };
    if vocab.is_none() {
        unknown.push("model.n_vocab".into());
    }
    if !trace.finish_known {
        unknown.push("paths.finish".into());
    }
    let s = trace.sampling;
    for (name, known) in [
        ("sampling.temperature", s.temperature.is_some()),
        ("sampling.top_k", s.top_k.is_some()),
        ("sampling.top_p", s.top_p.is_some()),
        ("sampling.min_p", s.min_p.is_some()),
        ("sampling.seed", s.seed.is_some()),
        ("sampling.max_tokens", s.max_tokens.is_some()),
    ] {
        if !known {
            unknown.push(name.into());
        }
    }
    let model_name = trace.model.clone().unwrap_or_else(|| {
        unknown.push("model.name".into());
        "unknown".into()
    });
    let model_file = model_name
        .rsplit(['/', '\\'])
        .next()
        .filter(|f| f.ends_with(".gguf"))
        .unwrap_or_default()
        .to_owned();
    let n_turns = conversation.iter().filter(|m| m.role == Role::User).count();
    let gold = trace.gold.clone().map(|g| {
        let mut v = vec![None; n_turns];
        v[n_turns - 1] = Some(g);
        v
    });
    let max_len = paths
        .iter()
        .map(|p: &Path| p.turns[0].tokens.len())
        .max()
        .unwrap_or(0);
    Ok(Run {
        format: FORMAT.into(),
        version: VERSION,
        created: opts.created.clone(),
        title: trace.title.clone(),
        model: ModelInfo {
            name: model_name,
            file: model_file,
            sha256: None,
            n_vocab: vocab.unwrap_or(0),
            n_params: 0,
            n_ctx: 0,
            backend: "import".into(),
        },
        sampling: Sampling {
            n_paths: paths.len() as u32,
            temperature: s.temperature.unwrap_or(0.0),
            top_k: s.top_k.unwrap_or(0),
            top_p: s.top_p.unwrap_or(0.0),
            min_p: s.min_p.unwrap_or(0.0),
            seed: s.seed.unwrap_or(0),
            max_tokens: s.max_tokens.unwrap_or(max_len as u32),
            top_logprobs: width as u32,
            method: "plain".into(),
        },
        conversation,
        gold,
        answer: Some(match trace.answer_pattern.clone() {
            Some(pattern) => AnswerSpec::Regex { pattern },
            None => AnswerSpec::Auto,
        }),
        prompt: trace.plain_prompt.then(|| PromptInfo {
            template: "plain".into(),
            note: Some("the source's prompt was raw text, not chat messages".into()),
            n_tokens: 0,
        }),
        engine: None,
        drift_reference: None,
        decoding: None,
        stats: Some(stats),
        remote: None,
        judgements: Vec::new(),
        import: Some(ImportInfo {
            from: from.into(),
            file: opts.file_name.clone(),
            record,
            tokens: Some(tokens_note),
            unknown,
            notes,
        }),
        paths,
    })
}

fn path(index: usize, turn: Turn) -> Path {
    Path {
        index: index as u32,
        seed: 0,
        fork: None,
        turns: vec![turn],
    }
}

/// One path's token columns built a token at a time from its returned
/// candidates, so that a parser can push each entry as it reads it (no
/// per-token structs held for a whole response).
pub struct TopKBuilder {
    vocab: Option<u32>,
    tokens: Tokens,
    /// The rows' width: the fewest candidates any position kept.
    width: Option<usize>,
    joiner: Utf8Joiner,
    text: String,
    hi: Vec<f32>,
    hi_known: bool,
    /// One buffer for every position's logprobs.
    lps: Vec<f32>,
    clamped: usize,
    /// Tokens expected (`reserve`).
    expect: usize,
}

/// A path's columns as `TopKBuilder` left them.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltPath {
    pub tokens: Tokens,
    pub text: String,
    /// `None` for a path without tokens.
    pub width: Option<usize>,
    /// Logprobs that were NaN, −∞ or clamps.
    pub clamped: usize,
}

impl TopKBuilder {
    /// `exact`: every token comes with the tool's own full-distribution
    /// statistics (`push_exact`).
    pub fn new(vocab: Option<u32>, exact: bool) -> Self {
        let mut tokens = Tokens::with_width(0);
        if !exact {
            tokens.self_certainty = Column::absent();
        }
        TopKBuilder {
            vocab,
            tokens,
            width: None,
            joiner: Utf8Joiner::default(),
            text: String::new(),
            hi: Vec::new(),
            hi_known: !exact,
            lps: Vec::new(),
            clamped: 0,
            expect: 0,
        }
    }

    /// Room for `n` tokens (an expected length; rows once their width is
    /// known).
    pub fn reserve(&mut self, n: usize) {
        let t = &mut self.tokens;
        t.id.reserve_exact(n);
        t.text.reserve_exact(n);
        t.logprob.reserve_exact(n);
        t.entropy.reserve_exact(n);
        t.confidence.reserve_exact(n);
        self.hi.reserve_exact(n);
        self.expect = n;
    }

    /// Append a token; `cands` (the returned candidates, in the source's
    /// order) is normalized in place. Statistics as methods.md defines
    /// them for top-k sources.
    pub fn push(
        &mut self,
        id: i32,
        bytes: &[u8],
        logprob: f32,
        cands: &mut Vec<Candidate>,
    ) -> Result<(), String> {
        self.candidates(cands);
        let st = topk::position_stats(&self.lps, self.vocab).ok_or_else(|| {
            format!(
                "token {}: no usable alternatives (all −∞ or NaN)",
                self.tokens.id.len()
            )
        })?;
        match st.entropy_hi {
            Some(h) if self.hi_known => self.hi.push(h),
            _ => self.hi_known = false,
        }
        self.token(id, bytes, logprob, cands, st.entropy_lo, st.confidence);
        Ok(())
    }

    /// Append a token with the tool's own statistics (`exact` builders).
    pub fn push_exact(
        &mut self,
        id: i32,
        bytes: &[u8],
        logprob: f32,
        cands: &mut Vec<Candidate>,
        given: (f32, f32, f32),
    ) {
        let (entropy, self_certainty, confidence) = given;
        self.candidates(cands);
        self.tokens.self_certainty.push(self_certainty);
        self.token(id, bytes, logprob, cands, entropy, confidence);
    }

    /// Normalize the candidates, count clamps, keep their logprobs.
    fn candidates(&mut self, cands: &mut Vec<Candidate>) {
        self.clamped += cands
            .iter()
            .filter(|c| !c.logprob.is_finite() || c.logprob <= topk::CLAMP_FLOOR)
            .count();
        topk::normalize(cands);
        self.lps.clear();
        self.lps.extend(cands.iter().map(|c| c.logprob));
    }

    fn token(
        &mut self,
        id: i32,
        bytes: &[u8],
        logprob: f32,
        cands: &[Candidate],
        entropy: f32,
        confidence: f32,
    ) {
        let width = match self.width {
            None => {
                self.tokens = Tokens {
                    top_id: Rows::new(cands.len()),
                    top_text: Rows::new(cands.len()),
                    top_logprob: Rows::new(cands.len()),
                    ..std::mem::take(&mut self.tokens)
                };
                self.tokens.reserve_rows(self.expect);
                cands.len()
            }
            Some(w) if cands.len() < w => {
                self.tokens.narrow_rows(cands.len());
                cands.len()
            }
            Some(w) => w,
        };
        self.width = Some(width);
        let logprob = if logprob.is_finite() && logprob > topk::CLAMP_FLOOR {
            logprob
        } else {
            self.clamped += 1;
            f32::NEG_INFINITY
        };
        let piece = CompactString::from(self.joiner.push(bytes));
        self.text.push_str(&piece);
        let t = &mut self.tokens;
        t.id.push(id);
        t.text.push(piece);
        t.logprob.push(topk::stored_logprob(logprob));
        t.entropy.push(entropy);
        t.confidence.push(confidence);
        let alts = &cands[..width];
        t.top_id.push_row_iter(alts.iter().map(|c| c.id));
        t.top_text
            .push_row_iter(alts.iter().map(|c| c.text.clone()));
        t.top_logprob
            .push_row_iter(alts.iter().map(|c| topk::stored_logprob(c.logprob)));
    }

    pub fn finish(mut self) -> BuiltPath {
        let rest = self.joiner.finish();
        if let Some(last) = self.tokens.text.last_mut() {
            last.push_str(&rest);
            self.text.push_str(&rest);
        }
        if self.hi_known && !self.hi.is_empty() {
            self.tokens.entropy_hi = Some(self.hi);
        }
        self.tokens.shrink_to_fit();
        BuiltPath {
            tokens: self.tokens,
            text: self.text,
            width: self.width,
            clamped: self.clamped,
        }
    }
}

/// Paths with top-k statistics; returns them, the common number of
/// alternatives kept per token and how many logprobs were clamps.
/// With `exact`, the samples' own full-distribution statistics are kept.
fn topk_paths(
    samples: &mut [Sample],
    vocab: Option<u32>,
    exact: bool,
) -> Result<(Vec<Path>, usize, usize), String> {
    let mut built = Vec::with_capacity(samples.len());
    for (p, s) in samples.iter_mut().enumerate() {
        if let Some(b) = s.built.take() {
            built.push((b, s.finish));
            continue;
        }
        let mut b = TopKBuilder::new(vocab, exact);
        for (i, tk) in s.tokens.iter_mut().flatten().enumerate() {
            match s.exact.as_ref().filter(|_| exact) {
                Some(e) => b.push_exact(
                    tk.id,
                    &tk.bytes,
                    tk.logprob,
                    &mut tk.top,
                    (e.entropy[i], e.self_certainty[i], e.confidence[i]),
                ),
                None => b
                    .push(tk.id, &tk.bytes, tk.logprob, &mut tk.top)
                    .map_err(|e| format!("response {p}, {e}"))?,
            }
        }
        // The entries are in the columns now.
        s.tokens = None;
        built.push((b.finish(), s.finish));
    }
    // The rows' width is the fewest any position kept (vLLM may return k
    // or k+1 distinct candidates).
    let width = built.iter().filter_map(|(b, _)| b.width).min().unwrap_or(0);
    let mut clamped = 0;
    let mut paths = Vec::with_capacity(built.len());
    for (p, (mut b, finish)) in built.into_iter().enumerate() {
        clamped += b.clamped;
        if b.width.is_some_and(|w| w > width) {
            b.tokens.narrow_rows(width);
            b.tokens.shrink_to_fit();
        }
        paths.push(path(
            p,
            Turn {
                text: b.text,
                finish,
                tokens: b.tokens,
                timing: Timing::default(),
            },
        ));
    }
    Ok((paths, width, clamped))
}

/// Text-only paths: tokens from the given tokenizer, else words.
fn text_paths(
    samples: &[Sample],
    tokenizer: Option<&dyn Tokenizer>,
) -> Result<(Vec<Path>, String), String> {
    let how = match tokenizer {
        Some(t) => format!("tokenizer:{}", t.file_name()),
        None => "words".to_owned(),
    };
    let mut paths = Vec::with_capacity(samples.len());
    for (p, s) in samples.iter().enumerate() {
        let mut tokens = Tokens {
            logprob: Column::absent(),
            entropy: Column::absent(),
            self_certainty: Column::absent(),
            confidence: Column::absent(),
            top_id: Rows::absent(),
            top_text: Rows::absent(),
            top_logprob: Rows::absent(),
            ..Tokens::default()
        };
        match tokenizer {
            Some(tk) => {
                let mut joiner = Utf8Joiner::default();
                let pieces = tk
                    .tokenize(s.text())
                    .map_err(|e| format!("response {p}: cannot tokenize: {e}"))?;
                for (id, bytes) in pieces {
                    tokens.id.push(id);
                    tokens.text.push(joiner.push(&bytes).into());
                }
                let rest = joiner.finish();
                if let Some(last) = tokens.text.last_mut() {
                    last.push_str(&rest);
                }
            }
            None => {
                for w in words::split(s.text()) {
                    tokens.id.push(-1);
                    tokens.text.push(w.into());
                }
            }
        }
        let joined: String = tokens.text.iter().map(|t| t.as_str()).collect();
        if joined != s.text() {
            return Err(format!(
                "response {p}: the tokenizer's pieces do not give the text back"
            ));
        }
        paths.push(path(
            p,
            Turn {
                text: s.text().to_owned(),
                finish: s.finish,
                tokens,
                timing: Timing::default(),
            },
        ));
    }
    Ok((paths, how))
}
