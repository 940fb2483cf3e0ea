//! `make soak` (not in CI): the app kept open under the kittest harness for
//! SOAK_SECS seconds (default 1 800: 30 minutes) of simulated use: open and
//! close runs (200 opens by default over the soak), switch views and
//! turns, live-sample with the default model and stop, export figures.
//! Prints resident memory at the start, after each round and at the end
//! (with every run closed), and the frame times throughout (CPU side of
//! each frame). Target: no growth beyond what the open runs hold, every
//! frame < 16 ms.

use std::time::{Duration, Instant};

mod common;

use egui_kittest::Harness;
use reasonscope::export::Format;
use reasonscope::ui::{App, AppCommand, Settings, View};

#[global_allocator]
static ALLOC: common::alloc::Counting = common::alloc::Counting;

/// Heap bytes the app holds, in MiB: everything held since counting began
/// less the soak's own record of frame times (`frames`, 8 bytes a frame:
/// its doublings were the steps of the heap figure).
fn heap_mib(frames: &Vec<f64>) -> f64 {
    let own = (frames.capacity() * std::mem::size_of::<f64>()) as isize;
    (common::alloc::held_now() - own) as f64 / (1 << 20) as f64
}

/// What the egui side holds: widget state entries and textures.
fn egui_counts(h: &Harness<'static, App>) -> String {
    let ctx = &h.ctx;
    let data = ctx.memory(|m| m.data.len());
    let tex = ctx.tex_manager().read().num_allocated();
    format!("egui state {data} entries, {tex} textures")
}

/// Resident memory in MiB (Linux /proc).
fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1 << 20) as f64
}

fn main() {
    common::alloc::count_from_now();
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let runs: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("sample_runs"))
        .expect("sample_runs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    let model = root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let tmp = tempfile::tempdir().expect("temp dir");
    std::env::set_var("REASONSCOPE_RUNS_DIR", tmp.path());
    std::env::set_var("XDG_DATA_HOME", tmp.path());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(|_cc| App::new(Settings::default(), &[]));
    {
        let f = &mut h.state_mut().settings.form;
        f.model = model;
        f.n_paths = 4;
        f.max_tokens = 64;
    }
    let live_runs = std::env::var("SOAK_LIVE").map_or(true, |v| v != "0");
    let mut frames: Vec<f64> = Vec::new();
    // Where the slow frames were: (what the app was doing, count, worst).
    let slow: std::cell::RefCell<Vec<(String, usize, f64)>> = Default::default();
    let step = |h: &mut Harness<'static, App>, frames: &mut Vec<f64>| {
        let t = Instant::now();
        h.step();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        frames.push(ms);
        if ms >= 16.0 {
            let what = format!(
                "{:?}{}",
                h.state().settings.view,
                if h.state().live.is_some() {
                    ", live"
                } else {
                    ""
                }
            );
            let mut s = slow.borrow_mut();
            match s.iter_mut().find(|e| e.0 == what) {
                Some(e) => {
                    e.1 += 1;
                    e.2 = e.2.max(ms);
                }
                None => s.push((what, 1, ms)),
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    for _ in 0..10 {
        step(&mut h, &mut frames);
    }
    println!(
        "soak for {secs} s; resident memory at the start {:.1} MiB",
        rss_mib()
    );
    let mut baseline = None;
    let t0 = Instant::now();
    let (mut opened, mut samples, mut exports, mut round) = (0usize, 0usize, 0usize, 0usize);
    while t0.elapsed().as_secs() < secs {
        round += 1;
        // Open every sample run, walk every view of each.
        for f in &runs {
            h.state_mut().push(AppCommand::Open(f.clone()));
            opened += 1;
            while !h.state().opening.is_empty() {
                step(&mut h, &mut frames);
            }
            for view in View::ALL {
                h.state_mut().push(AppCommand::SetView(view));
                for _ in 0..3 {
                    step(&mut h, &mut frames);
                }
            }
            h.state_mut().push(AppCommand::SetTurn(1));
            step(&mut h, &mut frames);
            h.state_mut().push(AppCommand::SetTurn(0));
            step(&mut h, &mut frames);
        }
        // Export a figure of the active run.
        h.state_mut().push(AppCommand::SetView(View::Methods));
        step(&mut h, &mut frames);
        h.state_mut().push(AppCommand::ExportTo {
            figure: "methods",
            format: Format::Svg,
            path: tmp.path().join(format!("m{round}.svg")),
        });
        exports += 1;
        for _ in 0..5 {
            step(&mut h, &mut frames);
        }
        // Live-sample and stop after a moment (SOAK_LIVE=0: not, to tell
        // the app's own memory from the engine's).
        if !live_runs {
            while !h.state().runs.is_empty() {
                h.state_mut().push(AppCommand::Close(0));
                step(&mut h, &mut frames);
            }
            let rss = rss_mib();
            println!("round {round} at {:.0} s: {opened} runs opened, {exports} exports; resident {rss:.1} MiB, heap {:.2} MiB with no run open; {}", t0.elapsed().as_secs_f64(), heap_mib(&frames), egui_counts(&h));
            baseline.get_or_insert((rss, heap_mib(&frames)));
            continue;
        }
        h.state_mut().push(AppCommand::StartSample);
        samples += 1;
        let live = Instant::now();
        while live.elapsed() < Duration::from_secs(3) {
            step(&mut h, &mut frames);
        }
        h.state_mut().push(AppCommand::StopSample);
        while h.state().live.is_some() && live.elapsed() < Duration::from_secs(60) {
            step(&mut h, &mut frames);
        }
        // Close everything.
        while !h.state().runs.is_empty() {
            h.state_mut().push(AppCommand::Close(0));
            step(&mut h, &mut frames);
        }
        for _ in 0..5 {
            step(&mut h, &mut frames);
        }
        let rss = rss_mib();
        println!(
            "round {round} at {:.0} s: {opened} runs opened, {samples} live runs, {exports} exports; resident {rss:.1} MiB, heap {:.2} MiB with no run open; {}",
            t0.elapsed().as_secs_f64(),
            heap_mib(&frames),
            egui_counts(&h),
        );
        // The baseline: after the first round (model loaded, fonts and
        // caches warm).
        baseline.get_or_insert((rss, heap_mib(&frames)));
    }
    let (start_rss, start_heap) = baseline.unwrap_or((0.0, 0.0));
    let (end_rss, end_heap) = (rss_mib(), heap_mib(&frames));
    frames.sort_by(f64::total_cmp);
    let pct = |q: f64| frames[((frames.len() - 1) as f64 * q) as usize];
    let over = frames.iter().filter(|&&f| f >= 16.0).count();
    println!(
        "resident memory with every run closed: after round 1 {start_rss:.1} MiB, at the end {end_rss:.1} MiB ({:+.1} MiB)",
        end_rss - start_rss
    );
    println!(
        "heap held with every run closed: after round 1 {start_heap:.2} MiB, at the end {end_heap:.2} MiB ({:+.3} MiB)",
        end_heap - start_heap
    );
    println!(
        "{} frames: median {:.2} ms, p99 {:.2} ms, worst {:.2} ms; {over} frames ≥ 16 ms ({:.3}%)",
        frames.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0),
        100.0 * over as f64 / frames.len() as f64
    );
    for (what, n, worst) in slow.borrow().iter() {
        println!("  {n} frames ≥ 16 ms in {what} (worst {worst:.1} ms)");
    }
    // SOAK_KEEP=1: the app is not dropped, so a heap profiler (heaptrack)
    // lists everything it still holds at the end by where it was allocated;
    // two soaks of different lengths, compared, show what grows.
    if std::env::var("SOAK_KEEP").is_ok_and(|v| v == "1") {
        std::mem::forget(h);
    }
}
