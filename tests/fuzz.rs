//! Structure-aware fuzzing of every reader (cargo-fuzz needs a nightly
//! toolchain, which this machine cannot fetch): valid seeds (sample runs,
//! the import fixtures, a suite, SSE chunks, answer texts) are mutated by
//! truncation, byte flips, inserted and repeated slices, swapped JSON
//! types, huge, negative and non-finite numbers, invalid UTF-8, BOMs,
//! duplicated keys and deep nesting. The oracle: no panic, no input slower
//! than a per-input limit, no input whose reading allocates more than a
//! bound proportional to its size (a counting allocator measures each
//! input's peak), and every rejection is a non-empty message. The runs the
//! readers accept are also fed to the analysis and every chart builder.
//! `make test` runs `FUZZ_INPUTS` (default 2 000) inputs per target from a
//! fixed seed; `make fuzz` runs 1 000 000 and prints inputs/s.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Per-thread allocation counts: each input's peak, whatever other test
/// threads do.
struct Counting;

thread_local! {
    static CURRENT: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    static PEAK: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: nothing to count while a thread is being torn down.
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        let p = unsafe { std::alloc::System.alloc(l) };
        if !p.is_null() {
            count(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(p, l) };
        count(-(l.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        let q = unsafe { std::alloc::System.realloc(p, l, n) };
        if !q.is_null() {
            count(n as isize - l.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The peak bytes allocated (above what was held before) while `f` ran on
/// this thread.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.with(|c| c.get());
    PEAK.with(|p| p.set(base));
    let r = f();
    (r, (PEAK.with(|p| p.get()) - base).max(0) as usize)
}

/// The most a reader may allocate for an input of `size` bytes (inflated
/// size for gzip): the run held is about 1.4× its JSON, the analysis-free
/// reading below 3× (README); 16× and 16 MiB leave room for small inputs.
fn bound(size: usize) -> usize {
    16 * size + (16 << 20)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn inputs() -> usize {
    std::env::var("FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// The per-input time limit (generous: the machine is shared).
const LIMIT: Duration = Duration::from_secs(5);

const SPLICES: &[&[u8]] = &[
    b"1e308",
    b"-1e308",
    b"NaN",
    b"-Infinity",
    b"null",
    b"-9999",
    b"18446744073709551616",
    b"-1",
    b"\"\"",
    b"[]",
    b"{}",
    b"\xEF\xBB\xBF",
    b"\xff\xfe",
    b"\"\\ud800\"",
    b"true",
    b"\"format\": \"reasonscope.run\", \"format\": 1,",
];

/// One mutation of `seed`.
fn mutate(seed: &[u8], rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    let rounds = rng.usize(1..4);
    for _ in 0..rounds {
        if v.is_empty() {
            v.extend_from_slice(b"{}");
        }
        let at = rng.usize(0..v.len());
        match rng.u8(0..9) {
            // Truncate.
            0 => v.truncate(at),
            // Flip bytes.
            1 => {
                for _ in 0..rng.usize(1..8) {
                    let i = rng.usize(0..v.len());
                    v[i] ^= 1 << rng.u8(0..8);
                }
            }
            // Replace a number with an extreme value.
            2 => {
                if let Some(i) = v[at..].iter().position(u8::is_ascii_digit) {
                    let s = at + i;
                    let e = s + v[s..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit() || **b == b'.')
                        .count();
                    let rep = SPLICES[rng.usize(0..8)];
                    v.splice(s..e, rep.iter().copied());
                }
            }
            // Splice in a token.
            3 => {
                let rep = SPLICES[rng.usize(0..SPLICES.len())];
                v.splice(at..at, rep.iter().copied());
            }
            // Swap a JSON type: an array opener for an object's, or a string.
            4 => {
                if let Some(i) = v[at..].iter().position(|b| matches!(b, b'{' | b'[' | b'"')) {
                    v[at + i] = [b'[', b'{', b'1', b'"'][rng.usize(0..4)];
                }
            }
            // Repeat a slice (duplicated keys and records).
            5 => {
                let end = (at + rng.usize(1..200)).min(v.len());
                let piece = v[at..end].to_vec();
                v.splice(end..end, piece);
            }
            // Deep nesting.
            6 => {
                let d = rng.usize(50..5000);
                let mut w = vec![b'['; d];
                w.extend_from_slice(&v);
                w.extend(std::iter::repeat_n(b']', d));
                v = w;
            }
            // Delete a slice.
            7 => {
                let end = (at + rng.usize(1..100)).min(v.len());
                v.drain(at..end);
            }
            // Invalid UTF-8 inside.
            _ => v.insert(at, 0xC0 | rng.u8(0..2)),
        }
    }
    v
}

/// What a gzip input inflates to (0 for anything else), capped at 1 GiB.
fn inflated(b: &[u8]) -> usize {
    if !b.starts_with(&[0x1f, 0x8b]) {
        return 0;
    }
    let mut d = flate2::read::GzDecoder::new(b);
    std::io::copy(
        &mut std::io::Read::take(&mut d, 1 << 30),
        &mut std::io::sink(),
    )
    .map_or(0, |n| n as usize)
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Worker threads (`FUZZ_THREADS`; `make fuzz` uses every core, `make
/// test` one): worker t takes inputs t, t + T, t + 2T, … with its own
/// seeded mutation stream, so a run is reproducible for a given T.
fn threads() -> usize {
    std::env::var("FUZZ_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// What one worker saw.
#[derive(Default)]
struct Tally {
    rejected: usize,
    max_ratio: f64,
    max_peak: usize,
    found: Vec<String>,
}

/// Run `target` on `n` mutations of the seeds; panics and slow inputs are
/// saved under target/fuzz-found/ and fail the test.
fn fuzz(name: &str, seeds: &[Vec<u8>], target: impl Fn(&[u8]) -> Result<(), String> + Sync) {
    let n = inputs();
    let workers = threads().min(n.max(1));
    let start = Instant::now();
    let worker = |t: usize| {
        let mut tally = Tally::default();
        let mut rng = fastrand::Rng::with_seed(0x5EED ^ name.len() as u64 ^ ((t as u64) << 32));
        for (k, i) in (t..n).step_by(workers).enumerate() {
            // Long runs (`make fuzz`) say how far they are.
            if k > 0 && k % 100_000 == 0 {
                eprintln!(
                    "fuzz {name}: worker {t}: {k} inputs in {:.0} s, {} problems so far",
                    start.elapsed().as_secs_f64(),
                    tally.found.len()
                );
            }
            let seed = &seeds[i % seeds.len()];
            let input = if i < seeds.len() {
                seed.clone()
            } else {
                mutate(seed, &mut rng)
            };
            let t = Instant::now();
            let (r, peak) = peak_of(|| catch_unwind(AssertUnwindSafe(|| target(&input))));
            let slow = t.elapsed() > LIMIT;
            let size = input.len().max(inflated(&input));
            tally.max_peak = tally.max_peak.max(peak);
            if size >= 64 << 10 {
                tally.max_ratio = tally.max_ratio.max(peak as f64 / size as f64);
            }
            let greedy = peak > bound(size);
            let problem = match r {
                Err(_) => Some("panic"),
                Ok(Err(e)) if e.trim().is_empty() => Some("an empty error message"),
                Ok(Err(_)) => {
                    tally.rejected += 1;
                    None
                }
                Ok(Ok(())) => None,
            };
            if let Some(p) = problem
                .or(slow.then_some("slower than the limit"))
                .or(greedy.then_some("allocated beyond the bound"))
            {
                let dir = root().join("target/fuzz-found");
                let _ = std::fs::create_dir_all(&dir);
                let f = dir.join(format!("{name}-{i}.bin"));
                let _ = std::fs::write(&f, &input);
                tally.found.push(format!("{p}: {}", f.display()));
            }
        }
        tally
    };
    let tallies: Vec<Tally> = if workers == 1 {
        vec![worker(0)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|t| {
                    let worker = &worker;
                    s.spawn(move || worker(t))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a fuzz worker"))
                .collect()
        })
    };
    let rejected: usize = tallies.iter().map(|t| t.rejected).sum();
    let max_ratio = tallies.iter().map(|t| t.max_ratio).fold(0.0, f64::max);
    let max_peak = tallies.iter().map(|t| t.max_peak).max().unwrap_or(0);
    let found: Vec<String> = tallies.into_iter().flat_map(|t| t.found).collect();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "fuzz {name}: {n} inputs in {secs:.1} s ({:.0}/s on {workers} thread(s)), {rejected} rejected with a message, {} problems; peak allocation {:.1} MiB at most, {max_ratio:.1}× the input at most for inputs ≥ 64 KiB",
        n as f64 / secs,
        found.len(),
        max_peak as f64 / (1 << 20) as f64
    );
    assert!(found.is_empty(), "fuzz {name} found:\n{}", found.join("\n"));
}

fn sample_runs() -> Vec<Vec<u8>> {
    [
        "apples-n16.json.gz",
        "apples-3turns-n16.json.gz",
        "apples-cntp-n8.json.gz",
    ]
    .iter()
    .map(|f| {
        let gz = std::fs::read(root().join("sample_runs").join(f)).unwrap();
        let mut json = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut json).unwrap();
        json
    })
    .collect()
}

#[test]
fn run_files_json() {
    fuzz("run-json", &sample_runs(), |b| {
        reasonscope::run::parse_run_bytes(b).map(|_| ())
    });
}

#[test]
fn run_files_gzip() {
    // Mutated before compression (valid gzip, hostile content) and after.
    let seeds = sample_runs();
    fuzz("run-gzip-content", &seeds, |b| {
        reasonscope::run::parse_run_bytes(&gzip(b)).map(|_| ())
    });
    let gz: Vec<Vec<u8>> = seeds.iter().map(|s| gzip(s)).collect();
    fuzz("run-gzip-bytes", &gz, |b| {
        reasonscope::run::parse_run_bytes(b).map(|_| ())
    });
}

#[test]
fn import_formats() {
    let dir = root().join("tests/data/import");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    seeds.push(br#"{"id":"a","prompt":"2+2?","gold":"4","samples":[{"text":"4","tokens":["4"],"token_ids":[19],"logprobs":[-0.1],"top_logprobs":[{"4":-0.1,"5":-2.5}],"entropy":[0.3],"self_certainty":[2.0],"confidence":[1.3]}]}"#.to_vec());
    // Non-ASCII from the first bytes on (the format sniffing reads a head).
    seeds.push(
        format!(
            "{{\"prompt\":\"{}\",\"response\":\"8\"}}\n",
            "苹果é".repeat(200)
        )
        .into_bytes(),
    );
    seeds.push(br#"[{"text":" 8.","meta_info":{"finish_reason":{"type":"stop"},"output_token_logprobs":[[-0.1,17," 8"]],"output_top_logprobs":[[[-0.1,17," 8"],[-2.5,18," 9"]]]}}]"#.to_vec());
    fuzz("import", &seeds, |b| {
        // Made per input: `Options` may hold a tokenizer, which is not Sync.
        let opts = reasonscope::run::import::Options {
            file_name: "fuzz".into(),
            prompt: None,
            vocab: Some(49152),
            tokenizer: None,
            created: "2026-11-30T00:00:00Z".into(),
        };
        reasonscope::run::import::import(
            b,
            &opts,
            &mut |r| {
                // Whatever is imported must be a valid run.
                reasonscope::run::validate(&r.run).expect("an imported run validates");
            },
            &mut |_| {},
        )
        .map(|_| ())
    });
}

#[test]
fn suites_and_answers() {
    let suite = std::fs::read(root().join("assets/suites/arithmetic-50.jsonl")).unwrap();
    fuzz("suite", &[suite], |b| {
        reasonscope::run::parse_suite(&String::from_utf8_lossy(b)).map(|_| ())
    });
    let conversations = [
        br#"[{"role":"system","content":"Be brief."},{"role":"user","content":"Tom has 3 apples and buys 5 more. How many?"}]"#.to_vec(),
        br#"{"conversation":[{"role":"user","content":"2+2?"},{"role":"user","content":"Times 3?"}],"gold":["4",null]}"#.to_vec(),
    ];
    fuzz("conversation", &conversations, |b| {
        reasonscope::run::conversation::parse_conversation(b).map(|_| ())
    });
    let texts: Vec<Vec<u8>> = [
        "The answer is \\boxed{\\frac{1}{2}}.",
        "So 3 + 5 = 8.\nWait, the answer is x + 1.",
        "answer: 1,234.5 dollars",
        "#### 42",
    ]
    .iter()
    .map(|t| t.as_bytes().to_vec())
    .collect();
    fuzz("answers", &texts, |b| {
        let text = String::from_utf8_lossy(b);
        let _ = reasonscope::analysis::answers::extract(&text, None);
        let _ = reasonscope::analysis::reflection::reflection(
            &text,
            &[compact_str::CompactString::from(text.as_ref())],
            Some("8"),
            &reasonscope::analysis::reflection::default_markers(),
        );
        Ok(())
    });
}

#[test]
fn server_stream_chunks() {
    let chat =
        std::fs::read_to_string(root().join("tests/data/import/llama-server-chat.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(chat.lines().next().unwrap()).unwrap();
    // A streamed chunk as llama-server sends it: one token's delta.
    let entry = &first["choices"][0]["logprobs"]["content"][0];
    let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {"content": entry["token"]},
        "finish_reason": null, "logprobs": {"content": [entry]}}]});
    let seeds = vec![
        chunk.to_string().into_bytes(),
        br#"{"choices":[],"usage":{"prompt_tokens":12}}"#.to_vec(),
    ];
    fuzz("sse-chunk", &seeds, |b| {
        reasonscope::engine::remote::chunk::parse_chunk(&String::from_utf8_lossy(b)).map(|_| ())
    });
    // Whole response bodies as streamed (events, comments, usage, [DONE]),
    // fed to the bounded event reader in pieces split at random.
    use reasonscope::engine::remote::chunk::EventStream;
    let entries = first["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap();
    let mut body = String::from(": ping\n\n");
    for (i, e) in entries.iter().take(8).enumerate() {
        let c = serde_json::json!({"choices": [{"index": i % 2, "delta": {"content": e["token"]},
            "finish_reason": null, "logprobs": {"content": [e]}}]});
        body.push_str(&format!("data: {c}\n\n"));
    }
    body.push_str(
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\n",
    );
    body.push_str("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12}}\n\ndata: [DONE]\n\n");
    fuzz("sse-stream", &[body.into_bytes()], |b| {
        let mut r = fastrand::Rng::with_seed(b.len() as u64);
        let mut stream = EventStream::default();
        let mut at = 0;
        while at < b.len() {
            let end = (at + r.usize(1..=256)).min(b.len());
            stream.feed(&b[at..end])?;
            at = end;
        }
        Ok(())
    });
}

#[test]
fn analysis_and_chart_builders_on_accepted_runs() {
    use reasonscope::analysis::{analyze_run, AnalysisParams};
    use reasonscope::charts::{figure_for, FigureRequest, FIGURE_IDS};
    // Mutated as JSON values, not bytes, so that most inputs still parse
    // and validate and reach the builders: numbers made extreme, strings
    // odd, arrays cut, per node with a small probability.
    let seeds: Vec<serde_json::Value> = sample_runs()
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let rng = std::sync::Mutex::new(fastrand::Rng::with_seed(11));
    let (accepted, built) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let indices: Vec<Vec<u8>> = (0..seeds.len()).map(|i| vec![i as u8]).collect();
    fuzz("charts", &indices, |b| {
        let mut v = seeds[b.first().copied().unwrap_or(0) as usize % seeds.len()].clone();
        // One to three mutations per run on average.
        // One draw from the shared stream seeds this input's mutations.
        let mut r = fastrand::Rng::with_seed(rng.lock().unwrap().u64(..));
        let p = r.usize(1..4) as f64 / nodes(&v) as f64;
        mutate_value(&mut v, &mut r, p);
        let bytes = serde_json::to_vec(&v).unwrap();
        let run = reasonscope::run::parse_run_bytes(&bytes)?;
        accepted.fetch_add(1, Relaxed);
        let turns = analyze_run(&run, &AnalysisParams::default());
        let suite: Vec<_> = turns.iter().collect();
        for t in 0..turns.len() {
            for id in FIGURE_IDS {
                let req = FigureRequest {
                    id: id.into(),
                    turn: t,
                    paths: None,
                    selected: Some((0, 0)),
                    normalized_x: t % 2 == 0,
                    params: Default::default(),
                };
                if figure_for(&req, &run, &turns, &suite).is_some() {
                    built.fetch_add(1, Relaxed);
                }
            }
        }
        Ok(())
    });
    eprintln!(
        "charts: {} mutated runs accepted by the reader, {} figures built",
        accepted.load(Relaxed),
        built.load(Relaxed)
    );
    assert!(
        accepted.load(Relaxed) * 4 > inputs(),
        "too few mutated runs were accepted"
    );
}

fn nodes(v: &serde_json::Value) -> usize {
    1 + match v {
        serde_json::Value::Array(a) => a.iter().map(nodes).sum(),
        serde_json::Value::Object(o) => o.values().map(nodes).sum(),
        _ => 0,
    }
}

/// Structure-aware mutation of a JSON value: each node, with probability
/// `p`, becomes an extreme number, an odd string or a shorter array.
fn mutate_value(v: &mut serde_json::Value, rng: &mut fastrand::Rng, p: f64) {
    use serde_json::Value;
    if rng.f64() < p {
        match v {
            Value::Number(_) => {
                *v = match rng.usize(0..8) {
                    0 => serde_json::json!(1e300),
                    1 => serde_json::json!(-1e300),
                    2 => serde_json::json!(0.0),
                    3 => serde_json::json!(-0.0),
                    4 => serde_json::json!(1e-300),
                    5 => serde_json::json!(4294967296i64),
                    6 => serde_json::json!(-1),
                    _ => serde_json::json!(i64::MAX),
                }
            }
            Value::String(s) => {
                *s = ["", "\u{202e}\u{0}x", "../../etc/passwd", "💥💥", "\n\n\n"][rng.usize(0..5)]
                    .repeat(rng.usize(1..4))
            }
            Value::Array(a) if !a.is_empty() => {
                let n = rng.usize(0..a.len());
                a.truncate(n);
            }
            _ => {}
        }
        return;
    }
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| mutate_value(x, rng, p)),
        Value::Object(o) => o.values_mut().for_each(|x| mutate_value(x, rng, p)),
        _ => {}
    }
}
