//! One path's way through its turns, a token at a time: draw a token from
//! its logits row and record it, end a turn (stop, length, context), and
//! queue the next turn on the path's own KV cache (and its drift reference).
//! The batching loop that calls these lives in `session`.

use std::time::Instant;

use compact_str::CompactString;
use llama_cpp_2::context::LlamaContext;

use super::conversation;
use super::error::EngineError;
use super::events::{Event, TokenRecord};
use super::model::LoadedModel;
use super::path_state::{decode_err, Limits, PathState};
use super::request::SampleRequest;
use super::sampler::PathSampler;
use super::stats::{RowStats, TopK};
use crate::run::utf8::Utf8Joiner;
use crate::run::{Finish, Timing, Tokens, Turn};

pub(super) fn ms(clock: Instant) -> f64 {
    clock.elapsed().as_secs_f64() * 1000.0
}

/// A token drawn from a logits row: the end of generation (with its ln p)
/// or a recorded token.
pub(super) enum Drawn {
    Eog { logprob: f64 },
    Token(TokenRecord),
}

/// Where a drawn token goes: its path, turn and index in the turn.
#[derive(Clone, Copy)]
pub(super) struct At {
    pub path: u32,
    pub turn: u32,
    pub index: u32,
}

/// Draw a token with `sampler` from `row` and build its record (statistics
/// of the raw row, text through the UTF-8 joiner). `last` flushes the joiner
/// (the token is the turn's last).
#[allow(clippy::too_many_arguments)]
pub(super) fn draw(
    lm: &LoadedModel,
    sampler: &mut PathSampler,
    joiner: &mut Utf8Joiner,
    row: &[f32],
    stats: &RowStats,
    top: &TopK,
    width: usize,
    at: At,
    kl: Option<f32>,
    last: impl FnOnce(usize) -> bool,
) -> Drawn {
    let tok = sampler.sample(top, row);
    let idx = tok as usize;
    let lse = stats.lse;
    let logprob = f64::from(row[idx]) - lse;
    if lm.is_eog.get(idx).copied().unwrap_or(true) {
        return Drawn::Eog { logprob };
    }
    let mut text = CompactString::from(joiner.push(&lm.piece_bytes[idx]));
    if last(at.index as usize + 1) {
        // An unfinished character at the very end still belongs to the text.
        text.push_str(&joiner.finish());
    }
    let k = width.min(top.items().len());
    let alts = &top.items()[..k];
    Drawn::Token(TokenRecord {
        path: at.path,
        turn: at.turn,
        index: at.index,
        id: tok,
        text,
        logprob: logprob as f32,
        entropy: stats.entropy as f32,
        entropy_hi: None,
        self_certainty: Some(stats.self_certainty as f32),
        confidence: stats.confidence as f32,
        top_id: alts.iter().map(|a| a.1).collect(),
        top_text: alts
            .iter()
            .map(|a| lm.piece_text[a.1 as usize].clone())
            .collect(),
        top_logprob: alts.iter().map(|a| (f64::from(a.0) - lse) as f32).collect(),
        kl_ref: kl,
    })
}

/// How a turn ends after its `n_done`-th token, whose successor would go at
/// position `next_pos`.
pub(super) fn limit_reached(n_done: usize, next_pos: usize, limits: &Limits) -> Option<Finish> {
    if n_done >= limits.max_tokens {
        Some(Finish::Length)
    } else if next_pos + 1 >= limits.seq_len {
        // Its successor would have no position left in the context.
        Some(Finish::ContextFull)
    } else {
        None
    }
}

/// Sample one token for `p` from its logits row and record it; `kl` is
/// kl_ref for this position when drift is measured.
#[allow(clippy::too_many_arguments)]
pub(super) fn step(
    lm: &LoadedModel,
    p: &mut PathState,
    row: &[f32],
    stats: &RowStats,
    kl: Option<f32>,
    top: &TopK,
    limits: &Limits,
    clock: Instant,
    emit: &mut dyn FnMut(Event),
) {
    // The new token goes at the next free position of each sequence.
    let next_pos = p.main.tokens.len().max(if p.measuring {
        p.reference.tokens.len()
    } else {
        0
    });
    let at = At {
        path: p.index,
        turn: p.turn as u32,
        index: p.tokens.len() as u32,
    };
    let drawn = draw(
        lm,
        &mut p.sampler,
        &mut p.joiner,
        row,
        stats,
        top,
        limits.width,
        at,
        kl,
        |n_done| limit_reached(n_done, next_pos, limits).is_some(),
    );
    let rec = match drawn {
        Drawn::Eog { .. } => {
            end_turn(p, Finish::Stop, clock);
            return;
        }
        Drawn::Token(rec) => rec,
    };
    let tok = rec.id;
    rec.push_to(&mut p.tokens);
    p.text.push_str(&rec.text);
    emit(Event::Token(Box::new(rec)));
    // The token is part of the context from now on (decoded next batch).
    p.main.tokens.push(tok);
    if p.measuring {
        p.reference.tokens.push(tok);
    }
    if let Some(f) = limit_reached(p.tokens.len(), next_pos, limits) {
        end_turn(p, f, clock);
    }
}

/// Mark the current turn of `p` as ended (`next_turn` closes it).
pub(super) fn end_turn(p: &mut PathState, f: Finish, clock: Instant) {
    // Bytes of a character that never completed go to the last token.
    let rest = p.joiner.finish();
    if !rest.is_empty() {
        if let Some(last) = p.tokens.text.last_mut() {
            last.push_str(&rest);
            p.text.push_str(&rest);
        }
    }
    p.turn_end = Some(f);
    p.timing.end_ms = ms(clock);
}

pub(super) struct Turns {
    pub n_turns: usize,
    /// Append each turn to the path's KV cache (false: decode the whole
    /// history again, the check that reuse changes nothing).
    pub reuse: bool,
}

/// Close the turn `p` just ended and, unless it was the last or the run is
/// stopping, queue the next one: the template's continuation on the path's
/// own sequence and, when drift is measured, the reference context on its
/// reference sequence.
#[allow(clippy::too_many_arguments)]
pub(super) fn next_turn(
    lm: &LoadedModel,
    ctx: &mut LlamaContext,
    req: &SampleRequest,
    turns: &Turns,
    p: &mut PathState,
    limits: &Limits,
    stopping: bool,
    clock: Instant,
    emit: &mut dyn FnMut(Event),
) -> Result<(), EngineError> {
    let Some(f) = p.turn_end.take() else {
        return Ok(());
    };
    let width = limits.width;
    let done_turn = Turn {
        text: std::mem::take(&mut p.text),
        finish: f,
        tokens: std::mem::replace(&mut p.tokens, Tokens::with_width(width)),
        timing: p.timing,
    };
    let n_tokens = done_turn.tokens.len() as u32;
    p.done_turns.push(done_turn);
    let go_on =
        matches!(f, Finish::Stop | Finish::Length) && p.turn + 1 < turns.n_turns && !stopping;
    let mut close = |p: &mut PathState, done: bool| {
        if done {
            p.finish = Some(f);
        }
        emit(Event::PathFinished {
            path: p.index,
            turn: p.turn as u32,
            finish: f,
            n_tokens,
            done,
        });
    };
    if !go_on {
        close(p, true);
        return Ok(());
    }
    let next = p.turn + 1;
    let last = p.done_turns.last().expect("just pushed");
    let texts: Vec<&str> = p.done_turns.iter().map(|t| t.text.as_str()).collect();
    let messages = conversation::turn_messages(&req.conversation, &texts, next, None);
    let ctx_next = conversation::extend(lm, &p.start, &last.tokens.id, &last.text, &messages);
    let ref_next = req.drift_reference.as_ref().map(|r| {
        conversation::reference_from(
            lm,
            &req.conversation,
            r,
            &p.start,
            &texts,
            &last.tokens.id,
            next,
        )
    });
    let (ctx_next, ref_next) = match (ctx_next, ref_next.transpose()) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(e), _) | (_, Err(e)) => {
            close(p, true);
            p.finish = Some(Finish::Error);
            return Err(e);
        }
    };
    close(p, false);
    let history = p.main.tokens.len();
    let keeps_history = turns.reuse && ctx_next.kept == history;
    if let Some(r) = ref_next {
        // A reminder reference shares the path's history: copy its cells
        // (before the path's own continuation is decoded) instead of
        // decoding them again.
        if turns.reuse && r.kept == history && p.main.decoded > 0 {
            ctx.copy_kv_cache_seq(p.main.id, p.reference.id, None, None)
                .map_err(decode_err)?;
            p.reference.decoded = p.main.decoded;
        } else {
            ctx.clear_kv_cache_seq(Some(p.reference.id as u32), None, None)
                .map_err(decode_err)?;
            p.reference.decoded = 0;
        }
        p.reference.tokens = r.tokens;
        p.reference.row = None;
        p.measuring = true;
    }
    if !keeps_history {
        ctx.clear_kv_cache_seq(Some(p.main.id as u32), None, None)
            .map_err(decode_err)?;
        p.main.decoded = 0;
    }
    p.main.tokens = ctx_next.tokens.clone();
    p.main.row = None;
    p.start = ctx_next;
    p.turn = next;
    p.joiner = Utf8Joiner::default();
    p.timing = Timing {
        start_ms: ms(clock),
        end_ms: 0.0,
    };
    let longest = p.main.tokens.len().max(if p.measuring {
        p.reference.tokens.len()
    } else {
        0
    });
    if longest + 1 > limits.seq_len {
        // No room left to answer this turn: record it empty.
        end_turn(p, Finish::ContextFull, clock);
        return next_turn(lm, ctx, req, turns, p, limits, true, clock, emit);
    }
    Ok(())
}

/// Free the KV cells of finished paths so that attention over a unified
/// cache does not keep paying for them.
pub(super) fn release_finished(ctx: &mut LlamaContext, paths: &mut [PathState]) {
    for p in paths.iter_mut() {
        if p.finish.is_some() && (p.main.decoded > 0 || p.reference.decoded > 0) {
            for s in [&mut p.main, &mut p.reference] {
                if s.id < 0 {
                    continue;
                }
                let _ = ctx.clear_kv_cache_seq(Some(s.id as u32), None, None);
                s.decoded = 0;
                s.tokens.clear();
                s.row = None;
            }
        }
    }
}
