//! Judging with the in-process model: the prompts of one batch share their
//! common token prefix (decoded once on sequence 0, its KV cache copied to
//! the others), then every prompt's own tail is decoded in the same
//! batches; probabilities come from the raw logits row (temperature 1).

use std::num::NonZeroU32;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use super::{ChoiceRead, Generated, Judge, JudgePrompt};
use crate::engine::error::EngineError;
use crate::engine::model::{backend, LoadedModel};
use crate::engine::session::MAX_SEQ_CHUNK;
use crate::run::judgement::{JudgeSource, ReadToken};

/// Largest number of tokens handed to one `decode` call.
const N_BATCH: usize = 512;
/// Prompts decoded side by side (one KV sequence each).
const GROUP: usize = 16;

pub struct LocalJudge<'a> {
    pub lm: &'a LoadedModel,
    pub n_threads: u32,
}

fn decode_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Decode(e.to_string())
}

/// Decode `toks` on sequence 0 from position 0, `chunk` tokens per batch;
/// with `logits_last`, the last token's logits are kept and its index in
/// the final batch returned.
fn decode_prefix(
    ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
    batch: &mut LlamaBatch,
    toks: &[i32],
    chunk: usize,
    logits_last: bool,
) -> Result<i32, EngineError> {
    let mut last = 0;
    for (c, part) in toks.chunks(chunk).enumerate() {
        batch.clear();
        for (j, &t) in part.iter().enumerate() {
            let pos = c * chunk + j;
            let is_last = logits_last && pos + 1 == toks.len();
            batch
                .add(LlamaToken(t), pos as i32, &[0], is_last)
                .map_err(decode_err)?;
            if is_last {
                last = j as i32;
            }
        }
        ctx.decode(batch).map_err(decode_err)?;
    }
    Ok(last)
}

impl LocalJudge<'_> {
    /// The prompt's text (template, then the assistant's opening) and ids.
    pub fn tokens(&self, p: &JudgePrompt) -> Result<(String, Vec<i32>), EngineError> {
        let rendered = crate::engine::prompt::render(self.lm, &p.messages)?;
        let text = format!("{}{}", rendered.text, p.prefix);
        let ids = crate::engine::conversation::tokenize(self.lm, &text, true);
        if ids.is_empty() {
            return Err(EngineError::InvalidRequest(
                "the judging prompt is empty".into(),
            ));
        }
        Ok((text, ids))
    }

    fn context(
        &self,
        n_seq: usize,
        per_seq: usize,
    ) -> Result<llama_cpp_2::context::LlamaContext<'_>, EngineError> {
        let n_ctx = self.lm.info.n_ctx.max(1) as usize;
        if per_seq > n_ctx {
            return Err(EngineError::PromptTooLong {
                n_prompt: per_seq,
                n_ctx,
            });
        }
        // Split KV: each sequence its own cells, as the sampler has them.
        let cells = per_seq.div_ceil(256) * 256 * n_seq;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(cells as u32))
            .with_n_batch(N_BATCH as u32)
            .with_n_ubatch(N_BATCH as u32)
            .with_n_seq_max(n_seq as u32)
            .with_kv_unified(false)
            .with_n_threads(self.n_threads as i32)
            .with_n_threads_batch(self.n_threads as i32);
        self.lm
            .model
            .new_context(backend()?, params)
            .map_err(|e| EngineError::ContextCreate {
                n_cells: cells as u32,
                n_seq: n_seq as u32,
                reason: e.to_string(),
            })
    }

    /// The logits row after each of `prompts` (token ids), decoded together.
    /// At most `MAX_SEQ_CHUNK` tokens of a sequence go in one batch, as in
    /// the sampler: then a token's logits do not depend on how its context
    /// was chunked, so sharing the prefix changes no number (the tests
    /// compare with each prompt decoded alone).
    fn last_rows(&self, prompts: &[Vec<i32>]) -> Result<Vec<Vec<f32>>, EngineError> {
        let min_len = prompts.iter().map(Vec::len).min().unwrap_or(0);
        // Shared prefix, leaving every prompt at least one token of its own
        // (its last token's logits are the ones read).
        let mut common = 0;
        while common + 1 < min_len && prompts.iter().all(|p| p[common] == prompts[0][common]) {
            common += 1;
        }
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let mut ctx = self.context(prompts.len(), longest)?;
        let mut batch = LlamaBatch::new(N_BATCH, prompts.len() as i32);
        decode_prefix(
            &mut ctx,
            &mut batch,
            &prompts[0][..common],
            MAX_SEQ_CHUNK,
            false,
        )?;
        if common > 0 {
            for s in 1..prompts.len() {
                ctx.copy_kv_cache_seq(0, s as i32, None, None)
                    .map_err(|e| {
                        EngineError::Decode(format!("cannot share the prompt's KV cache: {e}"))
                    })?;
            }
        }
        // Every prompt's tail: each batch takes up to MAX_SEQ_CHUNK tokens
        // of as many sequences as fit in N_BATCH.
        let mut next: Vec<usize> = vec![common; prompts.len()];
        let mut rows = vec![Vec::new(); prompts.len()];
        while next.iter().zip(prompts).any(|(n, p)| *n < p.len()) {
            batch.clear();
            let mut wanted = Vec::new();
            let mut used = 0;
            for (s, p) in prompts.iter().enumerate() {
                let take = (p.len() - next[s]).min(MAX_SEQ_CHUNK);
                if take == 0 || used + take > N_BATCH {
                    continue;
                }
                for pos in next[s]..next[s] + take {
                    let last = pos + 1 == p.len();
                    batch
                        .add(LlamaToken(p[pos]), pos as i32, &[s as i32], last)
                        .map_err(decode_err)?;
                    if last {
                        wanted.push((s, used as i32 + (pos - next[s]) as i32));
                    }
                }
                next[s] += take;
                used += take;
            }
            ctx.decode(&mut batch).map_err(decode_err)?;
            for (s, i) in wanted {
                rows[s] = ctx.get_logits_ith(i).to_vec();
            }
        }
        Ok(rows)
    }

    /// The id of a one-token text ("A"), as this tokenizer writes it.
    fn choice_id(&self, text: &str) -> (i32, Option<String>) {
        let ids = crate::engine::conversation::tokenize(self.lm, text, false);
        let note = (ids.len() != 1).then(|| {
            format!(
                "{text:?} is {} tokens for this tokenizer; read its first",
                ids.len()
            )
        });
        (ids.first().copied().unwrap_or(0), note)
    }
}

/// ln Σ exp(ℓ) in f64 (the sampler's f32 partial sums would cost P(True)
/// its 7th digit; one row per prompt makes the f64 pass free).
fn log_sum_exp_f64(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    max + logits
        .iter()
        .map(|&l| (f64::from(l) - max).exp())
        .sum::<f64>()
        .ln()
}

impl Judge for LocalJudge<'_> {
    fn source(&self) -> JudgeSource {
        JudgeSource {
            backend: "llama.cpp".into(),
            model: self.lm.info.file.clone(),
            server: None,
        }
    }

    fn read_choices(
        &mut self,
        prompts: &[JudgePrompt],
        choices: &[&str],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<ChoiceRead>, EngineError> {
        let ids: Vec<(i32, Option<String>)> = choices.iter().map(|c| self.choice_id(c)).collect();
        let note = ids.iter().find_map(|i| i.1.clone());
        let mut out = Vec::with_capacity(prompts.len());
        for group in prompts.chunks(GROUP) {
            let tokenized = group
                .iter()
                .map(|p| self.tokens(p))
                .collect::<Result<Vec<_>, _>>()?;
            let token_lists: Vec<Vec<i32>> = tokenized.iter().map(|t| t.1.clone()).collect();
            let rows = self.last_rows(&token_lists)?;
            for ((text, toks), row) in tokenized.into_iter().zip(rows) {
                let lse = log_sum_exp_f64(&row);
                out.push(ChoiceRead {
                    tokens: choices
                        .iter()
                        .zip(&ids)
                        .map(|(c, (id, _))| ReadToken {
                            text: (*c).to_owned(),
                            id: Some(*id),
                            p: row.get(*id as usize).map(|&l| (f64::from(l) - lse).exp()),
                        })
                        .collect(),
                    prompt_tokens: toks.len() as u64,
                    rendered: Some(text),
                    note: note.clone(),
                });
            }
            done(out.len());
        }
        Ok(out)
    }

    fn generate(
        &mut self,
        prompt: &JudgePrompt,
        max_tokens: u32,
    ) -> Result<Generated, EngineError> {
        let (text, toks) = self.tokens(prompt)?;
        let mut ctx = self.context(1, toks.len() + max_tokens as usize)?;
        let mut batch = LlamaBatch::new(N_BATCH, 1);
        // Whole batches here: USC's prompt holds every response (thousands
        // of tokens), and ggml's CPU attention for at most 63 rows of a
        // sequence (what keeps P(True) independent of chunking) took 83 s
        // for 2 000 tokens on the default model, against 3 s in batches of
        // 512. USC reads a greedy answer, not probabilities.
        let mut last = decode_prefix(&mut ctx, &mut batch, &toks, N_BATCH, true)?;
        let mut bytes = Vec::new();
        let mut generated = 0u64;
        for pos in toks.len()..toks.len() + max_tokens as usize {
            // Greedy: the largest logit, the lowest id on a tie.
            let row = ctx.get_logits_ith(last);
            let best = row
                .iter()
                .enumerate()
                .fold((0usize, f32::NEG_INFINITY), |b, (i, &l)| {
                    if l > b.1 {
                        (i, l)
                    } else {
                        b
                    }
                })
                .0;
            if self.lm.is_eog.get(best).copied().unwrap_or(false) {
                break;
            }
            generated += 1;
            bytes.extend_from_slice(self.lm.piece_bytes.get(best).map_or(&[][..], Vec::as_slice));
            batch.clear();
            batch
                .add(LlamaToken(best as i32), pos as i32, &[0], true)
                .map_err(decode_err)?;
            ctx.decode(&mut batch).map_err(decode_err)?;
            last = 0;
        }
        Ok(Generated {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            prompt_tokens: toks.len() as u64,
            generated_tokens: generated,
            rendered: Some(text),
        })
    }

    fn fit(&self, prompt: &JudgePrompt) -> Option<(usize, usize)> {
        let n = self.tokens(prompt).ok()?.1.len();
        Some((n, self.lm.info.n_ctx.max(1) as usize))
    }
}
