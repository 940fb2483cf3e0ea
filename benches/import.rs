//! `make bench` (import part): importing 200 OpenAI-format chat responses
//! × 16 choices × 256 tokens with 20 alternatives each (a JSONL of about
//! 1 GB, written here), against reading the same runs as our own run files;
//! and the streaming import's peak memory against importing its largest
//! record alone. `IMPORT_BENCH_RESPONSES` sets the count. A large line's
//! choices are parsed on every core (`run::import::chat_fast`); reading
//! our run files uses one.

mod common;

use std::io::{BufWriter, Write};
use std::time::Instant;

use common::alloc::measure_memory;
use reasonscope::run::import::{self, Options};
use reasonscope::run::{read_run, write_run};

#[global_allocator]
static ALLOC: common::alloc::Counting = common::alloc::Counting;

const CHOICES: usize = 16;
const TOKENS: usize = 256;
const ALTS: usize = 20;
const WORDS: [&str; 12] = [
    " the", " apples", " so", " we", " add", " 3", " and", " 5", ",", " wait", "\\n", " total",
];

fn bytes_of(w: &str) -> String {
    let w = w.replace("\\n", "\n");
    let b: Vec<String> = w.bytes().map(|b| b.to_string()).collect();
    b.join(",")
}

/// One chat completion response as llama-server writes it.
fn response(out: &mut impl Write, i: usize, rng: &mut fastrand::Rng) -> std::io::Result<()> {
    write!(
        out,
        r#"{{"id":"chatcmpl-{i}","object":"chat.completion","model":"bench.gguf","choices":["#
    )?;
    for c in 0..CHOICES {
        let picks: Vec<usize> = (0..TOKENS).map(|_| rng.usize(0..WORDS.len())).collect();
        let text: String = picks.iter().map(|&w| WORDS[w]).collect();
        if c > 0 {
            out.write_all(b",")?;
        }
        write!(
            out,
            r#"{{"index":{c},"finish_reason":"length","message":{{"role":"assistant","content":"{text}"}},"logprobs":{{"content":["#
        )?;
        for (t, &w) in picks.iter().enumerate() {
            if t > 0 {
                out.write_all(b",")?;
            }
            let lp = -rng.f32() * 0.5;
            write!(
                out,
                r#"{{"id":{w},"token":"{}","bytes":[{}],"logprob":{lp},"top_logprobs":["#,
                WORDS[w],
                bytes_of(WORDS[w])
            )?;
            for k in 0..ALTS {
                let (id, word, l) = if k == 0 {
                    (w, WORDS[w], lp)
                } else {
                    let a = (w + k) % WORDS.len();
                    (
                        100 + k * 12 + a,
                        WORDS[a],
                        lp - k as f32 * 0.7 - rng.f32() * 0.1,
                    )
                };
                if k > 0 {
                    out.write_all(b",")?;
                }
                write!(
                    out,
                    r#"{{"id":{id},"token":"{word}","bytes":[{}],"logprob":{l}}}"#,
                    bytes_of(word)
                )?;
            }
            out.write_all(b"]}")?;
        }
        out.write_all(b"]}}")?;
    }
    out.write_all(b"]}\n")
}

fn opts() -> Options<'static> {
    Options {
        file_name: "bench.jsonl".into(),
        prompt: None,
        vocab: None,
        tokenizer: None,
        created: "2026-11-30T00:00:00Z".into(),
    }
}

fn import_file(path: &std::path::Path) -> (u64, usize) {
    let f = std::fs::File::open(path).unwrap();
    let mut tokens = 0usize;
    let sum = import::import(
        f,
        &opts(),
        &mut |r| tokens += r.run.total_tokens(),
        &mut |_| {},
    )
    .unwrap();
    assert!(sum.problems.is_empty(), "{:?}", sum.problems);
    (sum.runs, tokens)
}

fn main() {
    let n: usize = std::env::var("IMPORT_BENCH_RESPONSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("responses.jsonl");
    let one = dir.path().join("one.jsonl");
    let t = Instant::now();
    {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut w = BufWriter::new(std::fs::File::create(&jsonl).unwrap());
        for i in 0..n {
            response(&mut w, i, &mut rng).unwrap();
        }
        w.flush().unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut w = BufWriter::new(std::fs::File::create(&one).unwrap());
        response(&mut w, 0, &mut rng).unwrap();
    }
    let size = std::fs::metadata(&jsonl).unwrap().len();
    println!(
        "import: {n} responses × {CHOICES} choices × {TOKENS} tokens × {ALTS} alternatives, {:.0} MB JSONL (written in {:.1} s)",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    // The same runs as our own run files (JSON, not gzip: both sides parse
    // the same kind of text).
    let runs_dir = dir.path().join("runs");
    std::fs::create_dir(&runs_dir).unwrap();
    let mut files = Vec::new();
    import::import(
        std::fs::File::open(&jsonl).unwrap(),
        &opts(),
        &mut |r| {
            let p = runs_dir.join(format!("{}.json", r.name));
            write_run(&r.run, &p).unwrap();
            files.push(p);
        },
        &mut |_| {},
    )
    .unwrap();
    let run_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    // Written back before timing (writeback would compete for the CPUs),
    // and the page cache warm for both; the best of three runs of each,
    // alternating (the machine is shared).
    for f in files.iter().chain([&jsonl]) {
        std::fs::File::open(f).unwrap().sync_all().unwrap();
    }
    let _ = std::fs::read(&jsonl);
    let (mut t_own, mut t_import) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let t = Instant::now();
        let mut own_tokens = 0;
        for f in &files {
            own_tokens += read_run(f).unwrap().total_tokens();
        }
        t_own = t_own.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let (n_runs, tokens) = import_file(&jsonl);
        t_import = t_import.min(t.elapsed().as_secs_f64());
        assert_eq!((n_runs as usize, tokens), (n, own_tokens));
    }
    println!(
        "  time (best of 3): import {t_import:.2} s ({:.0} MB/s, {} threads), our run files ({:.0} MB) {t_own:.2} s: {:.2}× (target ≤ 2×)",
        size as f64 / 1e6 / t_import,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        run_bytes as f64 / 1e6,
        t_import / t_own
    );
    let (_, peak_own, _) = measure_memory(|| {
        for f in &files {
            drop(read_run(f).unwrap());
        }
    });
    let (_, peak_import, _) = measure_memory(|| import_file(&jsonl));
    let (_, peak_one, _) = measure_memory(|| import_file(&one));
    let (held, _, held_bytes) = measure_memory(|| read_run(&files[0]).unwrap());
    drop(held);
    println!(
        "  peak memory: import {:.1} MiB, our run files {:.1} MiB: {:.2}× (target ≤ 2×)",
        peak_import as f64 / 1048576.0,
        peak_own as f64 / 1048576.0,
        peak_import as f64 / peak_own as f64
    );
    println!(
        "  streaming: the whole {:.0} MB file peaks at {:.2}× the import of its largest record alone ({:.1} MiB; target < 2×); one run holds {:.1} MiB",
        size as f64 / 1e6,
        peak_import as f64 / peak_one as f64,
        peak_one as f64 / 1048576.0,
        held_bytes as f64 / 1048576.0
    );
}
