//! Cautious Next Token Prediction in the batched loop (methods.md): at a step
//! whose entropy calls for k ≥ 2 trials, k trials continue the path from its
//! current state in their own sequences (the path's KV cache copied), each
//! until a token with punctuation; the trial with the lowest perplexity is
//! kept and becomes the path, the others are recorded in the run's side table.

use llama_cpp_2::context::LlamaContext;

use super::events::Event;
use super::method::ends_trial;
use super::path_state::{Branch, Limits, PathState, Seq, Trial};
use super::sampler::{PathSampler, SamplerParams};
use super::stats::{RowStats, TopK};
use super::turns::{draw, end_turn, limit_reached, At, Drawn};
use super::LoadedModel;
use crate::run::{CntpStep, CntpTrial, Finish, Tokens};

/// Seed of trial `j` at token `position` of a path seeded `seed`.
fn trial_seed(seed: u64, position: usize, j: usize) -> u64 {
    seed ^ (position as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (j as u64 + 1).wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
}

/// Start `k` trials for `p` from the logits row it would have sampled from:
/// trial 0 takes over the path's sequence, trial j ≥ 1 gets `extra[j − 1]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn start(
    lm: &LoadedModel,
    p: &mut PathState,
    k: usize,
    extra: &[i32],
    params: SamplerParams,
    row: &[f32],
    stats: &RowStats,
    top: &TopK,
    limits: &Limits,
) {
    let position = p.tokens.len();
    let main = std::mem::replace(
        &mut p.main,
        Seq {
            id: -1,
            tokens: Vec::new(),
            decoded: 0,
            row: None,
        },
    );
    let mut trials: Vec<Trial> = (0..k)
        .map(|j| {
            let seq = if j == 0 {
                Seq {
                    id: main.id,
                    tokens: main.tokens.clone(),
                    decoded: main.decoded,
                    row: None,
                }
            } else {
                Seq {
                    id: extra[j - 1],
                    tokens: main.tokens.clone(),
                    decoded: main.decoded,
                    row: None,
                }
            };
            Trial {
                seq,
                sampler: PathSampler::new(params, trial_seed(p.seed, position, j)),
                joiner: p.joiner.clone(),
                tokens: Tokens::with_width(limits.width),
                text: String::new(),
                records: Vec::new(),
                logprob_sum: 0.0,
                n_drawn: 0,
                end: None,
                done: false,
                fresh: j > 0,
            }
        })
        .collect();
    for t in &mut trials {
        step_trial(
            lm,
            p.index,
            p.turn as u32,
            position,
            t,
            row,
            stats,
            top,
            limits,
        );
    }
    p.branch = Some(Branch {
        position,
        entropy: stats.entropy,
        trials,
    });
}

/// Draw the next token of a trial from its logits row.
#[allow(clippy::too_many_arguments)]
pub(super) fn step_trial(
    lm: &LoadedModel,
    path: u32,
    turn: u32,
    position: usize,
    t: &mut Trial,
    row: &[f32],
    stats: &RowStats,
    top: &TopK,
    limits: &Limits,
) {
    let next_pos = t.seq.tokens.len();
    let at = At {
        path,
        turn,
        index: (position + t.tokens.len()) as u32,
    };
    let drawn = draw(
        lm,
        &mut t.sampler,
        &mut t.joiner,
        row,
        stats,
        top,
        limits.width,
        at,
        None,
        |n_done| limit_reached(n_done, next_pos, limits).is_some(),
    );
    t.n_drawn += 1;
    match drawn {
        Drawn::Eog { logprob } => {
            t.logprob_sum += logprob;
            t.end = Some(Finish::Stop);
            t.done = true;
        }
        Drawn::Token(rec) => {
            t.logprob_sum += f64::from(rec.logprob);
            rec.push_to(&mut t.tokens);
            t.text.push_str(&rec.text);
            t.seq.tokens.push(rec.id);
            let n_done = position + t.tokens.len();
            if let Some(f) = limit_reached(n_done, next_pos, limits) {
                t.end = Some(f);
                t.done = true;
            } else if ends_trial(&rec.text) {
                t.done = true;
            }
            t.records.push(rec);
        }
    }
}

/// Copy the path's KV cache into trials that just started (before the next
/// decode reads them).
pub(super) fn copy_fresh(ctx: &mut LlamaContext, b: &mut Branch) -> Result<(), String> {
    let from = b.trials[0].seq.id;
    for t in b.trials.iter_mut().filter(|t| t.fresh) {
        ctx.copy_kv_cache_seq(from, t.seq.id, None, None)
            .map_err(|e| format!("cannot copy a path's KV cache for a CNTP trial: {e}"))?;
        t.fresh = false;
    }
    Ok(())
}

/// When every trial of `p`'s branch is done: keep the lowest-perplexity
/// trial (its tokens join the path and stream out), record all of them, and
/// hand the path its sequence back. Returns the step and the extra tokens.
pub(super) fn resolve(
    ctx: &mut LlamaContext,
    p: &mut PathState,
    main_id: i32,
    clock: std::time::Instant,
    emit: &mut dyn FnMut(Event),
) -> Result<Option<(CntpStep, u64)>, String> {
    if !p
        .branch
        .as_ref()
        .is_some_and(|b| b.trials.iter().all(|t| t.done))
    {
        return Ok(None);
    }
    let Some(b) = p.branch.take() else {
        return Ok(None);
    };
    let ppl: Vec<f64> = b.trials.iter().map(Trial::perplexity).collect();
    let win = (0..ppl.len())
        .min_by(|&a, &c| ppl[a].total_cmp(&ppl[c]).then(a.cmp(&c)))
        .unwrap_or(0);
    let step = CntpStep {
        path: p.index,
        turn: p.turn as u32,
        token: b.position as u32,
        entropy: b.entropy,
        trials: b
            .trials
            .iter()
            .enumerate()
            .map(|(j, t)| CntpTrial {
                ids: t.tokens.id.clone(),
                text: t.text.clone(),
                perplexity: ppl[j],
                kept: j == win,
            })
            .collect(),
    };
    let extra: u64 = b
        .trials
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != win)
        .map(|(_, t)| t.n_drawn as u64)
        .sum();
    let mut trials = b.trials;
    let kept = trials.swap_remove(win);
    if kept.seq.id != main_id {
        ctx.copy_kv_cache_seq(kept.seq.id, main_id, None, None)
            .map_err(|e| format!("cannot keep a CNTP trial's KV cache: {e}"))?;
    }
    for t in &trials {
        if t.seq.id != main_id {
            let _ = ctx.clear_kv_cache_seq(Some(t.seq.id as u32), None, None);
        }
    }
    if kept.seq.id != main_id {
        let _ = ctx.clear_kv_cache_seq(Some(kept.seq.id as u32), None, None);
    }
    p.main = Seq {
        id: main_id,
        tokens: kept.seq.tokens,
        decoded: kept.seq.decoded,
        row: None,
    };
    p.joiner = kept.joiner;
    for rec in kept.records {
        rec.push_to(&mut p.tokens);
        p.text.push_str(&rec.text);
        emit(Event::Token(Box::new(rec)));
    }
    if let Some(f) = kept.end {
        end_turn(p, f, clock);
    }
    Ok(Some((step, extra)))
}

/// Drop an unfinished branch (the run is stopping): the path keeps the
/// tokens it had and its own sequence.
pub(super) fn abandon(p: &mut PathState, main_id: i32) {
    if let Some(b) = p.branch.take() {
        let t0 = b.trials.into_iter().next();
        let (tokens, decoded) = t0.map_or((Vec::new(), 0), |t| {
            // Trial 0's sequence holds the path's context plus its own draws;
            // only the decoded part up to the branch point is the path's.
            (t.seq.tokens, t.seq.decoded)
        });
        let keep = decoded.min(tokens.len());
        p.main = Seq {
            id: main_id,
            tokens: tokens[..keep].to_vec(),
            decoded: keep,
            row: None,
        };
    }
}
