//! Question suites and decoding-time methods, with the real default model.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::*;
use reasonscope::engine::{self, method, DecodingMethod};
use reasonscope::run::{read_run, read_suite, validate, Finish};

fn bundled() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/suites/arithmetic-50.jsonl")
}

/// The numbers of a question, in order.
fn numbers(q: &str) -> Vec<i64> {
    q.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn the_bundled_suite_has_fifty_questions_with_right_answers() {
    let qs = read_suite(&bundled()).unwrap();
    assert!(qs.len() >= 50);
    for q in &qs {
        let text = &q.conversation[0].content;
        let n = numbers(text);
        // Each question's wording says which operation it asks for.
        let want = if text.contains("gets") {
            n[0] + n[1]
        } else if text.contains("gives away") {
            n[0] - n[1]
        } else if text.contains("bags with") {
            n[0] * n[1]
        } else if text.contains("equally among") {
            assert_eq!(n[0] % n[1], 0, "{text}");
            n[0] / n[1]
        } else if text.contains("finds") && text.contains("loses") {
            n[0] + n[1] - n[2]
        } else {
            panic!("unknown question form: {text}")
        };
        let gold = q.gold.as_ref().unwrap()[0].as_deref().unwrap();
        assert_eq!(gold, want.to_string(), "{}: {text}", q.id);
    }
}

fn reasonscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reasonscope"))
}

fn suite_cmd(questions: &Path, out: &Path) -> Command {
    let mut c = reasonscope();
    c.args([
        "suite",
        "-q",
        "-n",
        "4",
        "--max-tokens",
        "32",
        "--threads",
        "2",
        "--model",
    ])
    .arg(model_path())
    .arg("--questions")
    .arg(questions)
    .arg("-o")
    .arg(out);
    c
}

fn runs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(".json.gz"));
    v.sort();
    v
}

#[test]
fn suite_samples_every_question_and_resumes_after_an_interruption() {
    let dir = tempfile::tempdir().unwrap();
    let questions = dir.path().join("five.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(bundled())
        .unwrap()
        .lines()
        .take(5)
        .map(str::to_owned)
        .collect();
    std::fs::write(&questions, lines.join("\n")).unwrap();
    let out = dir.path().join("runs");
    // Interrupt (Ctrl-C) once two runs are written.
    let mut child = suite_cmd(&questions, &out).spawn().unwrap();
    let start = Instant::now();
    while runs_in(&out).len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no runs written"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the interruption"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let first = runs_in(&out);
    assert!(
        first.len() >= 2 && first.len() < 5,
        "{} runs after the interruption",
        first.len()
    );
    assert_eq!(
        status.code(),
        Some(130),
        "an interrupted suite exits with 130"
    );
    let stamps: Vec<_> = first
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    // Again: the rest is sampled, the first ones are not redone.
    let ok = suite_cmd(&questions, &out).status().unwrap();
    assert!(ok.success());
    let all = runs_in(&out);
    assert_eq!(all.len(), 5);
    for (p, t) in first.iter().zip(&stamps) {
        assert_eq!(
            std::fs::metadata(p).unwrap().modified().unwrap(),
            *t,
            "{} was redone",
            p.display()
        );
    }
    for p in &all {
        let run = read_run(p).unwrap();
        validate(&run).unwrap();
        assert_eq!(run.paths.len(), 4);
        assert!(run.gold.is_some());
    }
    // A third time there is nothing to do.
    let out3 = suite_cmd(&questions, &out).output().unwrap();
    assert!(out3.status.success());
}

fn sample(req: &engine::SampleRequest) -> reasonscope::run::Run {
    let lm = load_model();
    let run = engine::sample(&lm, &config(), req, &AtomicBool::new(false), &mut |_| {}).unwrap();
    validate(&run).unwrap();
    run
}

#[test]
fn ffs_stops_every_path_when_the_first_finishes() {
    let mut req = request("What is 7 times 8? Answer briefly.", 6, 96, 5);
    req.method = DecodingMethod::Ffs;
    let run = sample(&req);
    assert_eq!(run.sampling.method, "ffs");
    let winner = run.decoding.as_ref().unwrap().ffs.as_ref().unwrap().winner;
    let w = winner.expect("a path finished") as usize;
    let wt = &run.paths[w].turns[0];
    assert_eq!(wt.finish, Finish::Stop);
    for (i, p) in run.paths.iter().enumerate() {
        let t = &p.turns[0];
        if i == w {
            continue;
        }
        // Nobody ran past the step at which the winner finished: every
        // other path either finished on that step too or was stopped there.
        assert!(t.tokens.len() <= wt.tokens.len() + 1, "path {i}");
        assert!(
            matches!(t.finish, Finish::Cancelled | Finish::Stop),
            "path {i}: {:?}",
            t.finish
        );
        if t.finish == Finish::Stop {
            assert!(t.tokens.len() >= wt.tokens.len(), "the winner was first");
        } else {
            assert_eq!(
                t.tokens.len(),
                wt.tokens.len() + 1,
                "stopped on the same step"
            );
        }
    }
}

#[test]
fn deepconf_online_stops_a_path_exactly_when_its_window_mean_falls_below_the_threshold() {
    let (warmup, window) = (3u32, 4usize);
    let mut stops = 0;
    for seed in 1..=4 {
        let mut req = request(
            "Tom has 3 apples and buys 5 more. How many apples does he have?",
            10,
            48,
            seed,
        );
        req.method = DecodingMethod::DeepConfOnline {
            warmup,
            window: window as u32,
        };
        let run = sample(&req);
        assert_eq!(run.sampling.method, "deepconf_online");
        let rec = run
            .decoding
            .as_ref()
            .unwrap()
            .deepconf_online
            .clone()
            .unwrap();
        // The threshold: the 10th percentile of the warm-up paths' lowest
        // group confidence, recomputed here from the analysis' own scores.
        let lows: Vec<f64> = run.paths[..warmup as usize]
            .iter()
            .filter_map(|p| {
                reasonscope::analysis::scores::path_scores(&p.turns[0].tokens, window)
                    .conf_lowest_group
            })
            .collect();
        let threshold = method::percentile(&lows, 10.0).unwrap();
        assert!((rec.threshold.unwrap() - threshold).abs() < 1e-9);
        for p in &run.paths[..warmup as usize] {
            assert_ne!(
                p.turns[0].finish,
                Finish::Cancelled,
                "warm-up paths run to their end"
            );
        }
        for p in &run.paths[warmup as usize..] {
            let c = &p.turns[0].tokens.confidence;
            let first_below = (window..=c.len())
                .find(|&k| method::window_mean(&c[..k], window).unwrap() < threshold);
            let stop = rec.stops.iter().find(|s| s.path == p.index);
            match first_below {
                // Its last allowed token: the length limit ends it first.
                Some(k) if k == req.max_tokens as usize => {
                    assert_eq!(p.turns[0].finish, Finish::Length);
                    assert!(stop.is_none());
                }
                Some(k) => {
                    assert_eq!(k, c.len(), "path {} ran past its stop", p.index);
                    assert_eq!(p.turns[0].finish, Finish::Cancelled);
                    let s = stop.expect("the stop is recorded");
                    assert_eq!(s.token as usize, k);
                    stops += 1;
                }
                None => assert!(
                    stop.is_none(),
                    "path {} stopped above the threshold",
                    p.index
                ),
            }
        }
    }
    assert!(stops > 0, "no path was stopped in four runs");
}

#[test]
fn cntp_branches_where_the_entropy_rule_says_and_keeps_the_lowest_perplexity_trial() {
    let mut req = request(
        "Tom has 3 apples and buys 5 more. How many apples does he have?",
        3,
        40,
        9,
    );
    req.method = DecodingMethod::Cntp { max_trials: 10 };
    let run = sample(&req);
    assert_eq!(run.sampling.method, "cntp");
    let rec = run.decoding.as_ref().unwrap().cntp.clone().unwrap();
    assert!(!rec.steps.is_empty(), "no step had high enough entropy");
    let mut extra_ids = 0u64;
    for p in &run.paths {
        let t = &p.turns[0].tokens;
        let mut pos = 0;
        while pos < t.len() {
            let h = f64::from(t.entropy[pos]);
            match rec
                .steps
                .iter()
                .find(|s| s.path == p.index && s.token as usize == pos)
            {
                Some(step) => {
                    // A branching step: as many trials as the rule gives.
                    assert!((step.entropy - h).abs() < 1e-4);
                    assert_eq!(
                        step.trials.len() as u32,
                        method::cntp_trials(h, 10),
                        "path {} token {pos}",
                        p.index
                    );
                    assert!(step.trials.len() >= 2);
                    let kept: Vec<_> = step.trials.iter().filter(|x| x.kept).collect();
                    assert_eq!(kept.len(), 1);
                    let best = step
                        .trials
                        .iter()
                        .map(|x| x.perplexity)
                        .fold(f64::INFINITY, f64::min);
                    assert_eq!(
                        kept[0].perplexity, best,
                        "the kept trial has the lowest perplexity"
                    );
                    let n = kept[0].ids.len();
                    assert_eq!(
                        &t.id[pos..pos + n],
                        &kept[0].ids[..],
                        "the kept trial's tokens are the path's"
                    );
                    // Its perplexity is that of its tokens (unless it ended the turn).
                    if pos + n < t.len() {
                        let mean: f64 = t.logprob[pos..pos + n]
                            .iter()
                            .map(|&l| f64::from(l))
                            .sum::<f64>()
                            / n as f64;
                        assert!((kept[0].perplexity - (-mean).exp()).abs() < 1e-4);
                        // A trial runs to its first punctuation token.
                        assert!(method::ends_trial(&t.text[pos + n - 1]));
                        assert!(t.text[pos..pos + n - 1]
                            .iter()
                            .all(|x| !method::ends_trial(x)));
                    }
                    extra_ids += step
                        .trials
                        .iter()
                        .filter(|x| !x.kept)
                        .map(|x| x.ids.len() as u64)
                        .sum::<u64>();
                    pos += n.max(1);
                }
                None => {
                    // Elsewhere a single token, where the rule gives one trial.
                    assert_eq!(
                        method::cntp_trials(h, 10),
                        1,
                        "path {} token {pos}: H = {h}",
                        p.index
                    );
                    pos += 1;
                }
            }
        }
    }
    // Extra tokens: every token the discarded trials drew.
    assert!(rec.extra_tokens >= extra_ids);
}

#[test]
fn decoding_methods_refuse_what_they_cannot_run() {
    let mut req = request(PROMPT, 32, 16, 1);
    req.method = DecodingMethod::Cntp { max_trials: 10 };
    let e = engine::validate_request(&req).unwrap_err().to_string();
    assert!(e.contains("at most 25 paths"), "{e}");
    let mut req = request(PROMPT, 4, 16, 1);
    req.method = DecodingMethod::Ffs;
    req.conversation
        .push(reasonscope::run::Message::users(&["Sure?"]).remove(0));
    let e = engine::validate_request(&req).unwrap_err().to_string();
    assert!(e.contains("one user message"), "{e}");
}
