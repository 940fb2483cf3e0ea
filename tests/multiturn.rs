//! Multi-turn conversations and drift measurement on the real default model.

mod common;

use std::sync::atomic::AtomicBool;

use common::*;
use reasonscope::engine::{self, conversation, EngineConfig, SampleRequest};
use reasonscope::run::{validate, DriftReference, Finish, Message, Role, Run};

const TURNS: [&str; 3] = [
    "What is 7 times 8? Answer with a number.",
    "Are you sure? Check your work.",
    "State your final answer.",
];

fn three_turns(n: u32, max_tokens: u32, reference: Option<DriftReference>) -> SampleRequest {
    let mut req = request(TURNS[0], n, max_tokens, 11);
    req.conversation = TURNS
        .iter()
        .map(|c| Message {
            role: Role::User,
            content: (*c).into(),
        })
        .collect();
    req.drift_reference = reference;
    req
}

fn sample_with(lm: &engine::LoadedModel, cfg: &EngineConfig, req: &SampleRequest) -> Run {
    let run =
        engine::sample(lm, cfg, req, &AtomicBool::new(false), &mut |_| {}).expect("sampling works");
    validate(&run).expect("a valid run");
    run
}

/// KL(softmax(p) ‖ softmax(q)) in f64, the textbook two-pass way.
fn kl_direct(p: &[f32], q: &[f32]) -> f64 {
    let lse = |l: &[f32]| {
        let m = l.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        m + l.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln()
    };
    let (lp, lq) = (lse(p), lse(q));
    p.iter()
        .zip(q)
        .map(|(&a, &b)| {
            let la = a as f64 - lp;
            la.exp() * (la - (b as f64 - lq))
        })
        .sum()
}

#[test]
fn each_path_keeps_its_own_history() {
    let lm = load_model();
    let run = sample_with(&lm, &config(), &three_turns(4, 24, None));
    let prompt = engine::prompt_tokens(&lm, &run.conversation).unwrap();
    for (i, p) in run.paths.iter().enumerate() {
        assert_eq!(p.turns.len(), 3, "path {i} answered every turn");
        assert!(p
            .turns
            .iter()
            .all(|t| matches!(t.finish, Finish::Stop | Finish::Length)));
        // Turn 2's context: the prompt, this path's own turn-1 tokens, then
        // the template's continuation holding the second user message.
        let ctx = conversation::turn_context(&lm, &run, i, 1).unwrap();
        let own: Vec<i32> = prompt
            .iter()
            .chain(&p.turns[0].tokens.id)
            .copied()
            .collect();
        assert_eq!(&ctx.tokens[..own.len()], &own[..], "path {i}");
        assert!(ctx.text.contains(&p.turns[0].text));
        assert!(ctx.text.contains(TURNS[1]));
        let ctx3 = conversation::turn_context(&lm, &run, i, 2).unwrap();
        assert!(ctx3.tokens.starts_with(&ctx.tokens));
        assert!(ctx3.text.contains(&p.turns[1].text) && ctx3.text.contains(TURNS[2]));
    }
    // Paths differ, so their contexts differ: nobody shares another's history.
    let c0 = conversation::turn_context(&lm, &run, 0, 2).unwrap();
    let c1 = conversation::turn_context(&lm, &run, 1, 2).unwrap();
    assert_ne!(c0.tokens, c1.tokens);
}

#[test]
fn kv_reuse_equals_decoding_the_history_again() {
    let lm = load_model();
    let req = three_turns(4, 24, Some(DriftReference::NoHistory));
    let reuse = sample_with(&lm, &config(), &req);
    let again = EngineConfig {
        reuse_history: false,
        ..config()
    };
    let fresh = sample_with(&lm, &again, &req);
    for (a, b) in reuse.paths.iter().zip(&fresh.paths) {
        assert_eq!(a.turns.len(), b.turns.len());
        for (ta, tb) in a.turns.iter().zip(&b.turns) {
            assert_eq!(ta.tokens.id, tb.tokens.id, "same seed, same tokens");
            assert_eq!(ta.text, tb.text);
            for k in 0..ta.tokens.len() {
                assert!((ta.tokens.entropy[k] - tb.tokens.entropy[k]).abs() < 1e-3);
                assert!((ta.tokens.logprob[k] - tb.tokens.logprob[k]).abs() < 1e-3);
            }
        }
    }
}

#[test]
fn kl_ref_equals_a_direct_recomputation() {
    let lm = load_model();
    for reference in [
        DriftReference::NoHistory,
        DriftReference::Reminder {
            text: "Remember: the question is what 7 times 8 is.".into(),
        },
    ] {
        let run = sample_with(&lm, &config(), &three_turns(3, 16, Some(reference.clone())));
        assert_eq!(run.drift_reference.as_ref(), Some(&reference));
        assert!(
            run.paths[0].turns[0].tokens.kl_ref.is_none(),
            "turn 1 is not measured"
        );
        let mut checked = 0;
        for (i, p) in run.paths.iter().enumerate() {
            for turn in 1..p.turns.len() {
                let t = &p.turns[turn];
                let kl = t.tokens.kl_ref.as_ref().expect("turns ≥ 2 carry kl_ref");
                assert_eq!(kl.len(), t.tokens.len());
                let ctx = conversation::turn_context(&lm, &run, i, turn).unwrap();
                let refc = conversation::reference_context(&lm, &run, i, turn, &reference).unwrap();
                assert_ne!(ctx.tokens, refc.tokens);
                for k in [0, t.tokens.len() / 2] {
                    if k >= t.tokens.len() {
                        continue;
                    }
                    let with = |base: &[i32]| -> Vec<i32> {
                        base.iter().chain(&t.tokens.id[..k]).copied().collect()
                    };
                    let p_ctx = engine::direct_logits(&lm, &with(&ctx.tokens), 2).unwrap();
                    let p_ref = engine::direct_logits(&lm, &with(&refc.tokens), 2).unwrap();
                    let want = kl_direct(&p_ctx, &p_ref);
                    let got = f64::from(kl[k]);
                    assert!(
                        (got - want).abs() < 2e-3 + 2e-3 * want,
                        "{reference:?} path {i} turn {turn} token {k}: {got} vs {want}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 4, "enough tokens were checked ({checked})");
    }
}

#[test]
fn kl_ref_is_zero_when_the_reference_is_the_context() {
    let lm = load_model();
    let run = sample_with(
        &lm,
        &config(),
        &three_turns(3, 16, Some(DriftReference::Same)),
    );
    let mut n = 0;
    for p in &run.paths {
        for t in &p.turns[1..] {
            for &k in t.tokens.kl_ref.as_ref().unwrap() {
                assert!(k.abs() < 1e-4, "kl_ref {k}");
                n += 1;
            }
        }
    }
    assert!(n > 10);
}

#[test]
fn fork_in_a_later_turn_keeps_earlier_turns_and_continues() {
    let lm = load_model();
    let run = sample_with(&lm, &config(), &three_turns(2, 16, None));
    let k = run.paths[0].turns[1].tokens.len().min(3);
    let forked = engine::fork(
        &lm,
        &config(),
        &run,
        0,
        1,
        k,
        2,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    validate(&forked).unwrap();
    assert_eq!(forked.paths.len(), 4);
    for p in &forked.paths[2..] {
        let f = p.fork.unwrap();
        assert_eq!((f.path, f.turn, f.token), (0, 1, k as u32));
        assert_eq!(p.turns[0], run.paths[0].turns[0]);
        assert_eq!(
            p.turns[1].tokens.id[..k],
            run.paths[0].turns[1].tokens.id[..k]
        );
        assert_eq!(p.turns.len(), 3, "the fork answers the remaining turn too");
    }
}

#[test]
fn drift_needs_two_turns() {
    let lm = load_model();
    let mut req = request(PROMPT, 2, 8, 1);
    req.drift_reference = Some(DriftReference::NoHistory);
    let err = engine::sample(&lm, &config(), &req, &AtomicBool::new(false), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("second turn"), "{err}");
}
