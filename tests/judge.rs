//! The methods that ask the model again (P(True), USC) on the real default
//! model: values against a direct recomputation from the logits, the A/B
//! token ids, run-file round trips, the real llama-server against the local
//! judge, and the `judge` command.

mod common;
#[path = "common/server.rs"]
mod server;

use std::sync::atomic::AtomicBool;

use reasonscope::analysis::{analyze_turn, judged, AnalysisParams};
use reasonscope::engine::judging::{self, local::LocalJudge, remote::RemoteJudge, Judge};
use reasonscope::engine::{direct_logits, remote, LoadedModel, ServerSpec};
use reasonscope::run::judgement::{JudgeTurn, Judgement};
use reasonscope::run::{read_run, write_run, Run};

fn sample_run() -> Run {
    read_run(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-n16.json.gz"),
    )
    .unwrap()
}

fn inputs(run: &Run) -> Vec<JudgeTurn> {
    judged::inputs(run, Some(0), &AnalysisParams::default())
}

fn methods(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|m| (*m).to_owned()).collect()
}

fn judge_locally(lm: &LoadedModel, run: &Run, ids: &[&str]) -> Vec<Judgement> {
    let mut j = LocalJudge { lm, n_threads: 2 };
    judging::judge_all(
        &mut j,
        &inputs(run),
        &methods(ids),
        &AtomicBool::new(false),
        &mut |_, _| {},
    )
    .unwrap()
}

fn softmax_at(logits: &[f32], ids: &[i32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let z: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    ids.iter()
        .map(|&i| (logits[i as usize] as f64 - max).exp() / z)
        .collect()
}

#[test]
fn p_true_equals_a_direct_recomputation_from_the_logits() {
    let lm = common::load_model();
    let run = sample_run();
    let js = judge_locally(&lm, &run, &["p_true", "p_true_brainstorm"]);
    assert_eq!(js.len(), 2);
    let input = &inputs(&run)[0];
    assert!(input.answers.len() >= 2, "the run has several answers");
    // The A/B ids are the tokenizer's own one-token writings of "A" and "B".
    let a_id = lm.model.vocab().tokenize(b"A", false, false);
    let b_id = lm.model.vocab().tokenize(b"B", false, false);
    assert_eq!((a_id.len(), b_id.len()), (1, 1));
    assert_eq!(lm.piece_bytes[a_id[0].0 as usize], b"A");
    let judge = LocalJudge {
        lm: &lm,
        n_threads: 2,
    };
    let mut worst = 0.0f64;
    for j in &js {
        assert_eq!(j.answers.len(), input.answers.len());
        for (a, answer) in j.answers.iter().zip(&input.answers) {
            assert_eq!(&a.answer, answer);
            assert_eq!(a.a.id, Some(a_id[0].0));
            assert_eq!(a.b.id, Some(b_id[0].0));
            let rendered = a.rendered.as_deref().unwrap();
            assert!(rendered.ends_with("The proposed answer is ("), "{rendered}");
            assert!(rendered.contains(&format!("Proposed answer: {answer}.")));
            if j.method == "p_true_brainstorm" {
                assert!(rendered.contains("brainstormed answers"));
            }
            // The same prompt, decoded alone, read directly.
            let prompt = judging::JudgePrompt {
                messages: a
                    .messages
                    .iter()
                    .map(|m| (m.role.clone(), m.content.clone()))
                    .collect(),
                prefix: a.prefix.clone(),
            };
            let (text, ids) = judge.tokens(&prompt).unwrap();
            assert_eq!(text, rendered);
            assert_eq!(a.prompt_tokens as usize, ids.len());
            let logits = direct_logits(&lm, &ids, 2).unwrap();
            let p = softmax_at(&logits, &[a_id[0].0, b_id[0].0]);
            let direct = p[0] / (p[0] + p[1]);
            let got = a.p_true.unwrap();
            worst = worst.max((got - direct).abs());
            // Decoded in the sampler's chunks, the shared prefix changes
            // no number: the same up to the sum over the vocabulary.
            assert!((a.a.p.unwrap() - p[0]).abs() < 1e-12, "{a:?} vs {p:?}");
            assert!(
                (got - direct).abs() < 1e-12,
                "P(True) {got} vs direct {direct}"
            );
        }
    }
    println!("largest |P(True) batched − P(True) alone| = {worst:.2e}");
}

#[test]
fn judgements_round_trip_and_feed_the_methods() {
    let lm = common::load_model();
    let mut run = sample_run();
    let js = judge_locally(&lm, &run, &["p_true", "usc"]);
    judging::record(&mut run, js);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("judged.json.gz");
    write_run(&run, &file).unwrap();
    let back = read_run(&file).unwrap();
    assert_eq!(back.judgements.len(), run.judgements.len());
    for (b, r) in back.judgements.iter().zip(&run.judgements) {
        assert_eq!(b.usc, r.usc);
        assert_eq!((&b.method, b.turn, &b.judge), (&r.method, r.turn, &r.judge));
        assert_eq!(
            (b.prompt_tokens, b.generated_tokens),
            (r.prompt_tokens, r.generated_tokens)
        );
        for (x, y) in b.answers.iter().zip(&r.answers) {
            assert_eq!(
                (&x.answer, &x.messages, &x.rendered),
                (&y.answer, &y.messages, &y.rendered)
            );
            assert_eq!((x.a.id, x.b.id), (y.a.id, y.b.id));
            // serde_json reads floats to within an ulp.
            let close = |u: Option<f64>, v: Option<f64>| {
                (u.unwrap() - v.unwrap()).abs() <= 2.0 * f64::EPSILON * v.unwrap().abs()
            };
            assert!(close(x.p_true, y.p_true) && close(x.a.p, y.a.p) && close(x.b.p, y.b.p));
        }
    }
    let t = analyze_turn(&back, 0, &AnalysisParams::default());
    let p = t.method("p_true").unwrap();
    assert_eq!(p.unavailable, None);
    // The pick is the largest P(True); the confidence is that P(True).
    let best = p.votes.iter().map(|v| v.1).fold(f64::MIN, f64::max);
    assert_eq!(p.confidence, Some(best));
    assert_eq!(p.votes.len(), t.answers.len());
    assert!(p.judge_tokens > 0);
    let u = back.judgements.iter().find(|j| j.method == "usc").unwrap();
    let usc = u.usc.as_ref().unwrap();
    assert_eq!(usc.responses.len(), 16);
    assert!(u.generated_tokens > 0 && u.generated_tokens <= 64);
    let o = t.method("usc").unwrap();
    assert_eq!(o.unavailable, None);
    match usc.pick {
        Some(n) => assert!(o
            .note
            .as_deref()
            .unwrap()
            .starts_with(&format!("Response {n}"))),
        None => assert!(o.note.as_deref().unwrap().starts_with("no pick")),
    }
    // The brainstorm variant was not asked: it says so.
    assert_eq!(
        t.method("p_true_brainstorm").unwrap().unavailable,
        Some(judged::NOT_JUDGED)
    );
    // Judging again replaces, never duplicates.
    let again = judge_locally(&lm, &back, &["p_true"]);
    let mut twice = back.clone();
    judging::record(&mut twice, again);
    assert_eq!(twice.judgements.len(), 2);
}

#[test]
fn a_run_judged_through_llama_server_matches_the_local_judgement() {
    let lm = common::load_model();
    let run = sample_run();
    let local = judge_locally(&lm, &run, &["p_true"]);
    // The server decodes a prompt in batches of at most 63 tokens, as the
    // local engine does: ggml's CPU attention sums in another order from 64
    // rows on, which moved P(True) by up to 0.06 on this model.
    let srv = server::LlamaServer::start_with(4, 2048, &["-b", "63", "-ub", "63"]);
    let server = remote::connect(&ServerSpec {
        timeout: std::time::Duration::from_secs(300),
        ..ServerSpec::new(&srv.url())
    })
    .unwrap();
    let mut rj = RemoteJudge { server: &server };
    assert_eq!(rj.source().server.as_deref(), Some("llama-server"));
    let got = judging::judge_all(
        &mut rj,
        &inputs(&run),
        &methods(&["p_true", "usc"]),
        &AtomicBool::new(false),
        &mut |_, _| {},
    )
    .unwrap();
    let mut worst = 0.0f64;
    for (l, r) in local[0].answers.iter().zip(&got[0].answers) {
        assert_eq!(l.answer, r.answer);
        // llama-server tokenizes the same text to the same prompt and
        // reports the same ids.
        assert_eq!(l.prompt_tokens, r.prompt_tokens, "{}", l.answer);
        assert_eq!(l.a.id, r.a.id);
        let (pl, pr) = (l.p_true.unwrap(), r.p_true.unwrap());
        worst = worst.max((pl - pr).abs());
    }
    println!("largest |P(True) local − P(True) llama-server| = {worst:.2e}");
    // The same tolerance as the sampled logprobs (tests/remote.rs);
    // measured: 2.8e-8.
    assert!(worst < 1e-3, "P(True) differs by {worst}");
    let usc = got[1].usc.as_ref().unwrap();
    assert!(got[1].generated_tokens > 0);
    assert!(!usc.text.is_empty());
}

#[test]
fn the_judge_command_records_judgements_and_analyze_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("judged.json.gz");
    let bin = env!("CARGO_BIN_EXE_reasonscope");
    let src =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-n16.json.gz");
    let st = std::process::Command::new(bin)
        .arg("judge")
        .arg(&src)
        .args(["--methods", "p_true", "-q", "--threads", "2", "--model"])
        .arg(common::model_path())
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let run = read_run(&out).unwrap();
    assert_eq!(run.judgements.len(), 1);
    assert_eq!(run.judgements[0].judge.backend, "llama.cpp");
    let o = std::process::Command::new(bin)
        .args(["analyze", "--format", "json"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let methods = v["runs"][0]["turns"][0]["methods"].as_array().unwrap();
    let p = methods.iter().find(|m| m["method"] == "p_true").unwrap();
    assert!(p["answer"].is_string(), "{p}");
    assert!(p["judge_tokens"].as_u64().unwrap() > 0);
    // Another tool's file: import it first, says the message.
    let chat = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/import/llama-server-chat.json");
    let o = std::process::Command::new(bin)
        .arg("judge")
        .arg(&chat)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("import it first"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A bad method name is refused before anything loads.
    let o = std::process::Command::new(bin)
        .arg("judge")
        .arg(&src)
        .args(["--methods", "p_false"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown judging method"));
}

#[test]
fn sample_judge_and_a_judged_folder() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_reasonscope");
    // `sample --judge`: judged right after sampling, in the same file.
    let out = dir.path().join("s.json.gz");
    let st = std::process::Command::new(bin)
        .args([
            "sample",
            "--prompt",
            common::PROMPT,
            "-n",
            "3",
            "--max-tokens",
            "24",
        ])
        .args(["--threads", "2", "-q", "--judge", "p_true", "--model"])
        .arg(common::model_path())
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let run = read_run(&out).unwrap();
    assert_eq!(run.paths.len(), 3);
    assert_eq!(run.judgements.len(), 1);
    // A folder: every run judged in place with one loaded model.
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_runs");
    for f in ["apples-n16.json.gz", "change-split-n16.json.gz"] {
        std::fs::copy(root.join(f), suite.join(f)).unwrap();
    }
    let st = std::process::Command::new(bin)
        .arg("judge")
        .arg(&suite)
        .args(["--methods", "usc", "-q", "--threads", "2", "--model"])
        .arg(common::model_path())
        .status()
        .unwrap();
    assert!(st.success());
    for f in ["apples-n16.json.gz", "change-split-n16.json.gz"] {
        let r = read_run(&suite.join(f)).unwrap();
        assert_eq!(r.judgements.len(), 1, "{f}");
        assert_eq!(r.judgements[0].method, "usc");
    }
    // -o with a folder is refused.
    let o = std::process::Command::new(bin)
        .arg("judge")
        .arg(&suite)
        .arg("-o")
        .arg(dir.path().join("x.json"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("in place"));
}
