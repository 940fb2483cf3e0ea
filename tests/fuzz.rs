//! Structure-aware fuzzing of every reader (cargo-fuzz needs a nightly
//! toolchain, which this machine cannot fetch): valid seeds (sample runs,
//! the import fixtures, a suite, SSE chunks, answer texts) are mutated by
//! truncation, byte flips, inserted and repeated slices, swapped JSON
//! types, huge, negative and non-finite numbers, invalid UTF-8, BOMs,
//! duplicated keys and deep nesting. The oracle: no panic, no input slower
//! than a per-input limit, and every rejection is a non-empty message.
//! `make test` runs `FUZZ_INPUTS` (default 2 000) inputs per target from a
//! fixed seed; `make fuzz` runs 1 000 000 and prints inputs/s.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Run `target` on `n` mutations of the seeds; panics and slow inputs are
/// saved under target/fuzz-found/ and fail the test.
fn fuzz(name: &str, seeds: &[Vec<u8>], target: impl Fn(&[u8]) -> Result<(), String>) {
    let n = inputs();
    let mut rng = fastrand::Rng::with_seed(0x5EED ^ name.len() as u64);
    let start = Instant::now();
    let mut rejected = 0usize;
    let mut found: Vec<String> = Vec::new();
    for i in 0..n {
        let seed = &seeds[i % seeds.len()];
        let input = if i < seeds.len() {
            seed.clone()
        } else {
            mutate(seed, &mut rng)
        };
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let slow = t.elapsed() > LIMIT;
        let problem = match r {
            Err(_) => Some("panic"),
            Ok(Err(e)) if e.trim().is_empty() => Some("an empty error message"),
            Ok(Err(_)) => {
                rejected += 1;
                None
            }
            Ok(Ok(())) => None,
        };
        if let Some(p) = problem.or(slow.then_some("slower than the limit")) {
            let dir = root().join("target/fuzz-found");
            let _ = std::fs::create_dir_all(&dir);
            let f = dir.join(format!("{name}-{i}.bin"));
            let _ = std::fs::write(&f, &input);
            found.push(format!("{p}: {}", f.display()));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "fuzz {name}: {n} inputs in {secs:.1} s ({:.0}/s), {rejected} rejected with a message, {} problems",
        n as f64 / secs,
        found.len()
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
    seeds.push(br#"[{"text":" 8.","meta_info":{"finish_reason":{"type":"stop"},"output_token_logprobs":[[-0.1,17," 8"]],"output_top_logprobs":[[[-0.1,17," 8"],[-2.5,18," 9"]]]}}]"#.to_vec());
    let opts = reasonscope::run::import::Options {
        file_name: "fuzz".into(),
        prompt: None,
        vocab: Some(49152),
        tokenizer: None,
        created: "2026-11-30T00:00:00Z".into(),
    };
    fuzz("import", &seeds, |b| {
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
}
