//! `make bench` (remote part): the cost of sampling through llama-server
//! over HTTP vs the in-process engine, on the same model, prompt, threads
//! and sampler settings, as ratios measured in the same run.
//!
//! 1. in-process engine, N = 16 × 256 tokens, every statistic recorded;
//! 2. the remote backend through llama-server (-np 16, same threads):
//!    16 concurrent SSE streams with the top 20 candidates per token;
//! 3. the server's own cost of returning 20 alternatives: 16 concurrent
//!    non-streamed requests with top_logprobs 20 vs with no logprobs.
//!
//! Throughput counts sampled tokens over the wall time from the first
//! sampled token to the end (prompt decoding excluded), for 1 and 2.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use reasonscope::engine::{
    self, remote, EngineConfig, Event, LoadedModel, SampleRequest, ServerSpec,
};

mod common;
use common::{MAX_TOKENS, N, PROMPT};

/// The benchmark's request: N paths from seed 42.
fn request() -> SampleRequest {
    common::request(N, 42)
}

/// (tokens, seconds from the first token to the end).
fn timed(sample: impl FnOnce(&mut dyn FnMut(Event))) -> (usize, f64) {
    let mut first: Option<Instant> = None;
    let mut tokens = 0usize;
    let mut end = None;
    sample(&mut |e| match e {
        Event::Token(_) => {
            first.get_or_insert_with(Instant::now);
            tokens += 1;
        }
        Event::RunFinished { .. } => end = Some(Instant::now()),
        _ => {}
    });
    let secs = match (first, end) {
        (Some(f), Some(e)) => (e - f).as_secs_f64(),
        _ => 0.0,
    };
    (tokens, secs)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(
    root: &std::path::Path,
    model: &std::path::Path,
    threads: u32,
) -> Result<(Server, u16), String> {
    let out = Command::new(root.join("scripts/build-llama-server.sh"))
        .output()
        .map_err(|e| format!("cannot run the build script: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new(root.join(".cache/llama-server"))
        .arg("-m")
        .arg(model)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["-np", &N.to_string(), "-c", &(N * 512).to_string()])
        .args(["-t", &threads.to_string(), "--no-webui"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if remote::model_ids(&ServerSpec::new(&format!("http://127.0.0.1:{port}/v1"))).is_ok() {
            return Ok((server, port));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err("llama-server did not start".into())
}

/// N concurrent non-streamed completions; generated tokens per second of wall time.
fn plain_requests(port: u16, top_logprobs: Option<u32>) -> f64 {
    let t0 = Instant::now();
    let tokens: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                s.spawn(move || {
                    let mut body = serde_json::json!({
                        "messages": [{"role": "user", "content": PROMPT}],
                        "max_tokens": MAX_TOKENS, "temperature": 0.8, "top_k": 40,
                        "top_p": 0.95, "min_p": 0.0, "seed": 42 + i,
                    });
                    if let Some(k) = top_logprobs {
                        body["logprobs"] = true.into();
                        body["top_logprobs"] = k.into();
                    }
                    let mut resp =
                        ureq::post(&format!("http://127.0.0.1:{port}/v1/chat/completions"))
                            .send_json(&body)
                            .expect("the server answers");
                    let v: serde_json::Value = resp.body_mut().read_json().expect("JSON");
                    v["usage"]["completion_tokens"].as_u64().unwrap_or(0)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    tokens as f64 / t0.elapsed().as_secs_f64()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let threads = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(engine::default_threads);
    println!("remote benchmark: llama-server vs in-process · {threads} threads · N = {N} · {MAX_TOKENS} tokens");
    let cfg = EngineConfig {
        n_threads: threads,
        ..EngineConfig::default()
    };
    let local = {
        let lm = LoadedModel::load(&model, None).expect("run `make model` first");
        let (t, s) = timed(|emit| {
            engine::sample(&lm, &cfg, &request(), &AtomicBool::new(false), emit)
                .expect("sampling works");
        });
        let r = t as f64 / s;
        println!("in-process engine            {t:>6} tokens {s:>7.2} s {r:>8.1} tokens/s");
        r
    };
    let (server, port) = match start_server(&root, &model, threads) {
        Ok(s) => s,
        Err(e) => {
            println!("llama-server: not available: {e}");
            return;
        }
    };
    let srv = remote::connect(&ServerSpec::new(&format!("http://127.0.0.1:{port}/v1")))
        .expect("connects");
    // Warm-up: the server's first requests allocate its slots.
    let _ = plain_requests(port, None);
    let (t, s) = timed(|emit| {
        remote::sample(&srv, &request(), &AtomicBool::new(false), emit).expect("sampling works");
    });
    let r = t as f64 / s;
    println!("remote (SSE, top 20)         {t:>6} tokens {s:>7.2} s {r:>8.1} tokens/s   ({:.2}× in-process)", r / local);
    let none = plain_requests(port, None);
    let twenty = plain_requests(port, Some(20));
    // Wall time from sending to the last answer (prompts included), so
    // only the ratio between these two rows is meaningful.
    println!(
        "llama-server alone (16 non-streamed requests): no logprobs {none:>8.1} tokens/s; top 20 {twenty:>8.1} tokens/s ({:.2}×)",
        twenty / none
    );
    drop(server);
}
