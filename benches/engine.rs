//! `make bench` (engine part): aggregate sampling throughput on the default
//! model, printed as ratios against baselines measured in the same run.
//!
//! 1. our engine, N = 16 paths × 256 tokens, every statistic recorded;
//! 2. the same 16 paths sampled one after another (N = 1 each);
//! 3. llama.cpp's own `llama-batched` example on the same model, prompt,
//!    thread count and sampler settings (built by scripts/build-llama-batched.sh).
//!
//! Throughput counts sampled tokens from the first sampled token to the
//! end, as llama-batched does (prompt decoding excluded).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use reasonscope::engine::{self, DecodingMethod, EngineConfig, Event, LoadedModel, SampleRequest};

mod common;
use common::{request, MAX_TOKENS, N};

/// llama-batched feeds its prompt raw (no chat template); a story opening
/// keeps every stream going to the token limit, like our chat prompt does.
const RAW_PROMPT: &str =
    "Once upon a time, in a small village at the foot of the mountains, there lived a dragon who";
/// (tokens, seconds) from the first sampled token to the end of the run.
fn timed(lm: &LoadedModel, cfg: &EngineConfig, req: &SampleRequest) -> (usize, f64) {
    let mut first: Option<Instant> = None;
    let mut tokens = 0usize;
    let run = engine::sample(lm, cfg, req, &AtomicBool::new(false), &mut |e| {
        if let Event::Token(_) = e {
            first.get_or_insert_with(Instant::now);
            tokens += 1;
        }
    })
    .expect("sampling works");
    let secs = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    assert_eq!(tokens, run.total_tokens());
    (tokens, secs)
}

/// llama-batched's (tokens, seconds), or why it could not run. It assigns
/// the prompt to every sequence at once, which llama.cpp only allows with a
/// unified KV cache, so it runs with -kvu.
/// `LLAMA_BATCHED` names a built binary (scripts/gpu-check.sh carries one
/// linked to the same llama.cpp libraries as ours).
fn llama_batched(
    model: &PathBuf,
    n_prompt: usize,
    threads: u32,
    n: u32,
) -> Result<(usize, f64), String> {
    let bin = match std::env::var_os("LLAMA_BATCHED") {
        Some(b) => PathBuf::from(b),
        None => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let out = Command::new(root.join("scripts/build-llama-batched.sh"))
                .output()
                .map_err(|e| format!("cannot run the build script: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "the build failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            root.join(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    // On a GPU every layer goes there, as ours does.
    let ngl = if engine::backend_name() == "cpu" {
        "0"
    } else {
        "999"
    };
    let out = Command::new(&bin)
        .arg("-m")
        .arg(model)
        // -n is the total length, prompt included.
        .args([
            "-p",
            RAW_PROMPT,
            "-np",
            &n.to_string(),
            "-n",
            &(n_prompt + MAX_TOKENS as usize).to_string(),
        ])
        .args([
            "-t",
            &threads.to_string(),
            "-tb",
            &threads.to_string(),
            "-kvu",
            "-ngl",
            ngl,
        ])
        .args([
            "--temp", "0.8", "--top-k", "40", "--top-p", "0.95", "-s", "42",
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    // "... main: decoded 4096 tokens in 24.51 s, speed: 167.10 t/s"
    let line = log
        .lines()
        .find(|l| l.contains("decoded") && l.contains("speed"))
        .ok_or_else(|| {
            format!(
                "no throughput line in its output (exit {:?})",
                out.status.code()
            )
        })?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let pos = words
        .iter()
        .position(|w| *w == "decoded")
        .ok_or("unexpected output")?;
    let tokens: usize = words
        .get(pos + 1)
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("cannot read {line:?}"))?;
    let secs: f64 = words
        .get(pos + 4)
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("cannot read {line:?}"))?;
    Ok((tokens, secs))
}

fn main() {
    let model = std::env::var_os("ENGINE_BENCH_MODEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        PathBuf::from,
    );
    let lm = LoadedModel::load(&model, None).expect("run `make model` first");
    let threads = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(engine::default_threads);
    if let Ok(list) = std::env::var("ENGINE_BENCH_PATHS") {
        return against_llama_batched(&lm, &model, threads, &list);
    }
    println!(
        "engine benchmark: {} · {} threads · N = {N} · {MAX_TOKENS} tokens",
        lm.info.name, threads
    );

    let unified = EngineConfig {
        n_threads: threads,
        kv_unified: true,
        reuse_history: true,
    };
    let split = EngineConfig {
        n_threads: threads,
        kv_unified: false,
        reuse_history: true,
    };
    // Warm-up (page cache, allocator).
    timed(
        &lm,
        &split,
        &SampleRequest {
            max_tokens: 16,
            ..request(4, 1)
        },
    );

    let (t_ours, s_ours) = timed(&lm, &split, &request(N, 42));
    let ours = t_ours as f64 / s_ours;
    println!("ours, batched, split KV     {t_ours:>6} tokens {s_ours:>7.2} s {ours:>8.1} tokens/s   (default)");

    let (t_uni, s_uni) = timed(&lm, &unified, &request(N, 42));
    let r_uni = t_uni as f64 / s_uni;
    println!("ours, batched, unified KV   {t_uni:>6} tokens {s_uni:>7.2} s {r_uni:>8.1} tokens/s   ({:.2}× split)", r_uni / ours);

    let (mut t_seq, mut s_seq) = (0, 0.0);
    for i in 0..N {
        let (t, s) = timed(&lm, &split, &request(1, 42 + u64::from(i)));
        t_seq += t;
        s_seq += s;
    }
    let seq = t_seq as f64 / s_seq;
    println!("ours, one path at a time    {t_seq:>6} tokens {s_seq:>7.2} s {seq:>8.1} tokens/s   (batched = {:.2}× this)", ours / seq);

    if threads > 1 {
        let one = EngineConfig {
            n_threads: 1,
            kv_unified: false,
            reuse_history: true,
        };
        let (t1, s1) = timed(&lm, &one, &request(N, 42));
        let r1 = t1 as f64 / s1;
        println!("ours, batched, 1 thread     {t1:>6} tokens {s1:>7.2} s {r1:>8.1} tokens/s   ({:.2}× {threads} threads)", r1 / ours);
    }

    let n_prompt = lm
        .model
        .vocab()
        .tokenize(RAW_PROMPT.as_bytes(), true, false)
        .len();
    // Forking: M = 8 paths continued at token 100 of a 256-token path vs 8
    // fresh paths of the same length (the fork decodes the prefix once and
    // samples only the continuations).
    let long = engine::sample(
        &lm,
        &split,
        &request(1, 7),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("sampling works");
    let parent_len = long.paths[0].turns[0].tokens.len();
    if parent_len > 100 {
        let t0 = Instant::now();
        let forked = engine::fork(
            &lm,
            &split,
            &long,
            0,
            0,
            100,
            8,
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .expect("fork works");
        let fork_secs = t0.elapsed().as_secs_f64();
        let fork_tokens: usize = forked.paths[1..]
            .iter()
            .map(|p| p.turns[0].tokens.len() - 100)
            .sum();
        let t0 = Instant::now();
        let fresh = engine::sample(
            &lm,
            &split,
            &request(8, 300),
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .expect("sampling works");
        let fresh_secs = t0.elapsed().as_secs_f64();
        println!(
            "fork 8 paths at token 100      {fork_secs:>6.2} s ({fork_tokens} new tokens)   fresh 8 paths {fresh_secs:>6.2} s ({} tokens)   fork = {:.2}× the time of fresh",
            fresh.total_tokens(),
            fork_secs / fresh_secs
        );
    } else {
        println!("fork benchmark skipped: the parent path ended at {parent_len} tokens");
    }

    match llama_batched(&model, n_prompt, threads, N) {
        Ok((t, s)) => {
            let lb = t as f64 / s;
            println!("llama-batched (unified KV)   {t:>6} tokens {s:>7.2} s {lb:>8.1} tokens/s");
            println!("ratio: ours (default, split KV) / llama-batched = {:.2}×; ours unified / llama-batched = {:.2}×", ours / lb, r_uni / lb);
        }
        Err(e) => println!("llama-batched: not available: {e}"),
    }

    // CNTP vs plain on the first 10 questions of the bundled suite, same N
    // and seeds: tokens the model drew (kept + trials) and wall time.
    let suite = reasonscope::run::read_suite(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/suites/arithmetic-50.jsonl"),
    )
    .expect("the bundled suite reads");
    let (mut plain_tok, mut plain_s, mut cntp_tok, mut cntp_s) = (0u64, 0.0, 0u64, 0.0);
    let (mut plain_right, mut cntp_right) = (0, 0);
    let params = reasonscope::analysis::AnalysisParams::default();
    for q in suite.iter().take(10) {
        for cntp in [false, true] {
            let req = SampleRequest {
                conversation: q.conversation.clone(),
                gold: q.gold.clone(),
                max_tokens: 64,
                method: if cntp {
                    DecodingMethod::Cntp { max_trials: 10 }
                } else {
                    DecodingMethod::Plain
                },
                ..request(4, 7)
            };
            let t0 = Instant::now();
            let run = engine::sample(&lm, &split, &req, &AtomicBool::new(false), &mut |_| {})
                .expect("sampling works");
            let secs = t0.elapsed().as_secs_f64();
            let extra = run
                .decoding
                .as_ref()
                .and_then(|d| d.cntp.as_ref())
                .map_or(0, |c| c.extra_tokens);
            let drawn = run.total_tokens() as u64 + extra;
            let right = reasonscope::analysis::analyze_turn(&run, 0, &params)
                .method("majority")
                .and_then(|m| m.correct)
                .unwrap_or(false);
            if cntp {
                (cntp_tok, cntp_s) = (cntp_tok + drawn, cntp_s + secs);
                cntp_right += usize::from(right);
            } else {
                (plain_tok, plain_s) = (plain_tok + drawn, plain_s + secs);
                plain_right += usize::from(right);
            }
        }
    }
    println!(
        "cntp vs plain, 10 suite questions, N = 4, 64 tokens: tokens drawn {cntp_tok} vs {plain_tok} ({:.2}×), wall {cntp_s:.1} s vs {plain_s:.1} s ({:.2}×), majority right {cntp_right}/10 vs {plain_right}/10",
        cntp_tok as f64 / plain_tok.max(1) as f64,
        cntp_s / plain_s.max(1e-9)
    );
}

/// `ENGINE_BENCH_PATHS=16,64,256` (scripts/gpu-check.sh): only our engine
/// (every statistic recorded) against llama-batched, at each N, one line
/// each that the script reads.
fn against_llama_batched(lm: &LoadedModel, model: &PathBuf, threads: u32, list: &str) {
    let cfg = EngineConfig {
        n_threads: threads,
        kv_unified: false,
        reuse_history: true,
    };
    let n_prompt = lm
        .model
        .vocab()
        .tokenize(RAW_PROMPT.as_bytes(), true, false)
        .len();
    println!(
        "engine vs llama-batched: {} · backend {} · {threads} threads · {MAX_TOKENS} tokens",
        lm.info.name,
        engine::backend_name()
    );
    timed(
        lm,
        &cfg,
        &SampleRequest {
            max_tokens: 16,
            ..request(4, 1)
        },
    );
    for n in list.split(',').filter_map(|n| n.trim().parse::<u32>().ok()) {
        let (t, s) = timed(lm, &cfg, &request(n, 42));
        let ours = t as f64 / s;
        match llama_batched(model, n_prompt, threads, n) {
            Ok((lt, ls)) => {
                let lb = lt as f64 / ls;
                println!(
                    "N={n:<4} ours {ours:>9.1} tokens/s   llama-batched {lb:>9.1} tokens/s   ratio {:.2}x",
                    ours / lb
                );
            }
            Err(e) => {
                println!("N={n:<4} ours {ours:>9.1} tokens/s   llama-batched: not available: {e}")
            }
        }
    }
}
