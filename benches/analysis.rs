//! `make bench` (analysis part): scores, methods, curves and loading on a
//! synthetic run of 64 paths × 4096 tokens, with the figures the issue sets
//! as targets. Memory is measured with a counting allocator.

use std::time::Instant;

mod common;

use common::alloc::measure_memory;
use reasonscope::analysis::{self, curves, methods, scores, AnalysisParams};
use reasonscope::run::{parse_run_bytes, run_to_bytes, synthetic_run};

#[global_allocator]
static ALLOC: common::alloc::Counting = common::alloc::Counting;

/// The same run as a server returns it (top-k: `self_certainty` absent,
/// `entropy_hi` added): the memory it holds per token once loaded, against
/// the local run's (`local_held` bytes for the same tokens).
fn remote_memory(json: &[u8], local_held: usize) {
    use reasonscope::run::{Column, Distribution, RemoteInfo, Source, StatsSource};
    let mut remote = parse_run_bytes(json).unwrap();
    remote.model.backend = "remote".into();
    remote.remote = Some(RemoteInfo {
        server: "llama-server".into(),
        url: "http://127.0.0.1:8080/v1".into(),
        model: remote.model.name.clone(),
        version: None,
    });
    remote.stats = Some(StatsSource {
        source: Source::TopK,
        k: Some(20),
        distribution: Some(Distribution::Raw),
    });
    for p in &mut remote.paths {
        for t in &mut p.turns {
            t.tokens.self_certainty = Column::absent();
            t.tokens.entropy_hi = Some(t.tokens.entropy.to_vec());
        }
    }
    let rjson = run_to_bytes(&remote, false).unwrap();
    let tokens = remote.total_tokens();
    drop(remote);
    let mut loaded = None;
    let (_, _, held) = measure_memory(|| loaded = Some(parse_run_bytes(&rjson).unwrap()));
    drop(loaded);
    let per = |b: usize| b as f64 / tokens as f64;
    println!(
        "memory per token held: local {:.1} B, remote (top-k columns) {:.1} B: {:.3}× (target: the same)",
        per(local_held),
        per(held),
        held as f64 / local_held as f64
    );
}

fn secs(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn main() {
    let run = synthetic_run(64, 4096, 7);
    let params = AnalysisParams::default();
    println!("analysis benchmark: 64 paths × 4096 tokens (synthetic)");

    // Scores + all methods (what the Methods view recomputes).
    let mut cands = Vec::new();
    let t_scores = secs(|| {
        let t = analysis::analyze_turn(&run, 0, &params);
        cands = t.candidates.clone();
    });
    let all: Vec<usize> = (0..cands.len()).collect();
    let t_methods_only = secs(|| {
        for m in methods::METHODS {
            std::hint::black_box(methods::select(m, &cands, &all, &params.methods));
        }
    });
    let t_path_scores = secs(|| {
        for p in &run.paths {
            std::hint::black_box(scores::path_scores(
                &p.turns[0].tokens,
                params.methods.window,
            ));
        }
    });
    println!(
        "per-path scores (64 paths)          {:>8.1} ms",
        t_path_scores * 1e3
    );
    println!(
        "all 10 methods on the scores        {:>8.1} ms",
        t_methods_only * 1e3
    );
    println!(
        "scores + methods                    {:>8.1} ms   target < 50 ms: {:.2}× of target",
        (t_path_scores + t_methods_only) * 1e3,
        (t_path_scores + t_methods_only) / 0.050
    );
    println!(
        "whole turn (+ reflection, branches) {:>8.1} ms",
        t_scores * 1e3
    );

    let turn = analysis::analyze_turn(&run, 0, &params);
    let t_curves = secs(|| {
        std::hint::black_box(curves::accuracy_curves(&[&turn], &params.methods, 200, 1));
    });
    println!(
        "accuracy vs N, all methods, B = 200 {:>8.1} ms   target < 1 s: {:.2}× of target",
        t_curves * 1e3,
        t_curves / 1.0
    );

    let json = run_to_bytes(&run, false).unwrap();
    let gz = run_to_bytes(&run, true).unwrap();
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    println!(
        "run file: {:.1} MiB JSON, {:.1} MiB gzip",
        mib(json.len()),
        mib(gz.len())
    );
    drop(run);
    drop(turn);

    let mut loaded = None;
    let (t_json, peak_json, resident) =
        measure_memory(|| secs(|| loaded = Some(parse_run_bytes(&json).unwrap())));
    drop(loaded);
    let (t_gz, peak_gz, _) = measure_memory(|| {
        secs(|| {
            std::hint::black_box(parse_run_bytes(&gz).unwrap());
        })
    });
    // Baseline: what a notebook does, parse into a generic JSON value.
    let t_value = secs(|| {
        std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&json).unwrap());
    });
    println!(
        "load JSON        {:>7.0} ms (target < 1 s: {:.2}×; generic JSON parse {:.0} ms: {:.2}×)",
        t_json * 1e3,
        t_json,
        t_value * 1e3,
        t_json / t_value
    );
    println!(
        "load gzip JSON   {:>7.0} ms (target < 1.5 s: {:.2}×)",
        t_gz * 1e3,
        t_gz / 1.5
    );
    println!(
        "memory: run held {:.1} MiB = {:.2}× JSON size; peak while loading JSON {:.2}×, gzip {:.2}× (target < 3×)",
        mib(resident),
        resident as f64 / json.len() as f64,
        peak_json as f64 / json.len() as f64,
        peak_gz as f64 / json.len() as f64
    );
    remote_memory(&json, resident);

    // A suite: 200 runs × 16 paths × 256 tokens, read from a folder and
    // analysed as `reasonscope analyze FOLDER` does (scores, methods,
    // curves with B = 200, calibration).
    let dir = std::env::temp_dir().join(format!("reasonscope-suite-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for q in 0..200u64 {
        let run = synthetic_run(16, 256, 1000 + q);
        reasonscope::run::write_run(&run, &dir.join(format!("q{q:03}.json.gz"))).unwrap();
    }
    let mut n_runs = 0;
    let (mut t_load, mut t_runs, mut t_curves) = (0.0, 0.0, 0.0);
    let t_suite = secs(|| {
        let mut runs = Vec::new();
        t_load = secs(|| {
            let files = reasonscope::cli::expand_inputs(std::slice::from_ref(&dir));
            let (r, errors) = reasonscope::cli::load_runs(&files);
            assert!(errors.is_empty());
            runs = r;
        });
        n_runs = runs.len();
        let mut turns = Vec::new();
        t_runs = secs(|| {
            // As `analyze` does it (analysis::report::report).
            turns = analysis::par::par_map(&runs, |(_, r)| analysis::analyze_run(r, &params));
        });
        let all: Vec<&analysis::TurnAnalysis> = turns.iter().flat_map(|t| t.iter()).collect();
        t_curves = secs(|| {
            std::hint::black_box(analysis::report::suite_report(
                &all,
                &params,
                curves::DEFAULT_DRAWS,
            ));
        });
    });
    // Baseline in the same minutes (this machine's speed drifts): what a
    // notebook does to the same folder before any analysis, inflate each
    // file and parse it into generic JSON values, on one core.
    let t_generic = secs(|| {
        for q in 0..200u64 {
            let gz = std::fs::read(dir.join(format!("q{q:03}.json.gz"))).unwrap();
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut json)
                .unwrap();
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&json).unwrap());
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "suite of {n_runs} runs × 16 paths: load + analyze {:>6.2} s (target < 2 s: {:.2}× of target; generic load of the same files {:.2} s: {:.2}×)",
        t_suite,
        t_suite / 2.0,
        t_generic,
        t_suite / t_generic
    );
    println!(
        "  of which: load {t_load:.2} s, per-run analysis {t_runs:.2} s, suite metrics and curves {t_curves:.2} s"
    );
}
