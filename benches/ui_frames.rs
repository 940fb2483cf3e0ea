//! `make bench` (GUI part): frame time of each view on a synthetic run of
//! 64 paths × 4096 tokens, through the kittest harness (CPU work of a frame:
//! layout, plots, analysis caches), median and worst of 100 frames.

use std::time::Instant;

use egui_kittest::Harness;
use reasonscope::run::{synthetic_run, write_run};
use reasonscope::ui::{App, AppCommand, Settings, View};

fn main() {
    let run = synthetic_run(64, 4096, 3);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("big.json.gz");
    write_run(&run, &file).expect("write run");
    let files = vec![file.clone(), file];
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |_cc| App::new(Settings::default(), &files));
    println!("GUI frame time, synthetic 64 paths × 4096 tokens (CPU side of each frame, 100 frames per view)");
    for view in View::ALL {
        h.state_mut().push(AppCommand::SetView(view));
        if view == View::Paths {
            h.state_mut().push(AppCommand::SetPaths(vec![0, 1, 2, 3]));
        }
        // First frames build the cached figures; then steady state.
        let t0 = Instant::now();
        h.step();
        let first = t0.elapsed().as_secs_f64() * 1e3;
        // Large runs build figures in a background job: let it land.
        for _ in 0..20 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            h.step();
        }
        let mut times: Vec<f64> = (0..100)
            .map(|_| {
                let t = Instant::now();
                h.step();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[50];
        let worst = times[99];
        println!(
            "{:<14} median {median:>6.2} ms   worst {worst:>6.2} ms   ({:.2}× the 16 ms budget)   first frame {first:>6.1} ms",
            view.label(),
            worst / 16.0
        );
    }
    suite_folder_frames();
    live_sampling_frames();
}

/// The Suite view over a folder of 200 runs × 16 paths (the suite
/// benchmark's size): time to open the folder, frame times while the suite
/// figure (curves with every RPC fit) is computed in the background, then
/// once it is drawn.
fn suite_folder_frames() {
    let dir = tempfile::tempdir().expect("temp dir");
    for q in 0..200u64 {
        let run = synthetic_run(16, 256, 1000 + q);
        write_run(&run, &dir.path().join(format!("q{q:03}.json.gz"))).expect("write run");
    }
    let folder = vec![dir.path().to_path_buf()];
    let t0 = Instant::now();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |_cc| App::new(Settings::default(), &folder));
    let mut loading = Vec::new();
    while !(h.state().opening.is_empty() && h.state().runs.len() == 200) {
        assert!(t0.elapsed().as_secs() < 300, "the folder did not open");
        let t = Instant::now();
        h.step();
        loading.push(t.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let opened = t0.elapsed().as_secs_f64();
    h.state_mut().push(AppCommand::SetView(View::Suite));
    let mut computing = Vec::new();
    let t1 = Instant::now();
    loop {
        let t = Instant::now();
        h.step();
        computing.push(t.elapsed().as_secs_f64() * 1e3);
        if !h.state().figure_pending("suite") {
            break;
        }
        assert!(t1.elapsed().as_secs() < 300, "the suite figure never came");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let figure_s = t1.elapsed().as_secs_f64();
    h.step();
    let steady: Vec<f64> = (0..100)
        .map(|_| {
            let t = Instant::now();
            h.step();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1], v.len())
    };
    let (lm, lw, ln) = stats(loading);
    let (cm, cw, cn) = stats(computing);
    let (sm, sw, _) = stats(steady);
    println!("Suite, folder of 200 runs × 16 paths:");
    println!(
        "  opening ({opened:.1} s)           median {lm:>6.2} ms   worst {lw:>6.2} ms   ({:.2}× the 16 ms budget, {ln} frames)",
        lw / 16.0
    );
    println!(
        "  figure computing ({figure_s:.1} s)  median {cm:>6.2} ms   worst {cw:>6.2} ms   ({:.2}× the 16 ms budget, {cn} frames)",
        cw / 16.0
    );
    println!(
        "  drawn                    median {sm:>6.2} ms   worst {sw:>6.2} ms   ({:.2}× the 16 ms budget, 100 frames)",
        sw / 16.0
    );
}

/// Frame time while the real default model samples N = 16 paths (the
/// engine runs on its own thread; the frame ingests events and redraws).
fn live_sampling_frames() {
    let model = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !model.exists() {
        println!("live sampling: the default model is missing (make model)");
        return;
    }
    let runs = tempfile::tempdir().expect("temp dir");
    std::env::set_var("REASONSCOPE_RUNS_DIR", runs.path());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(|_cc| App::new(Settings::default(), &[]));
    {
        let f = &mut h.state_mut().settings.form;
        f.model = model;
        f.n_paths = 16;
        f.max_tokens = 256;
        f.user = "Write a long story about a dragon who learns to count.".into();
    }
    h.state_mut().push(AppCommand::StartSample);
    h.step();
    for view in [View::Paths, View::Entropy, View::Methods] {
        h.state_mut().push(AppCommand::SetView(view));
        // Wait until tokens flow.
        while h.state().live.as_ref().is_some_and(|l| l.live.tokens < 64) {
            h.step();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut times = Vec::new();
        for _ in 0..100 {
            if h.state().live.is_none() {
                break;
            }
            let t = Instant::now();
            h.step();
            times.push(t.elapsed().as_secs_f64() * 1e3);
            std::thread::sleep(std::time::Duration::from_millis(16));
        }
        if times.is_empty() {
            continue;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "while sampling N = 16, {:<8} median {:>6.2} ms   worst {:>6.2} ms   ({:.2}× the 16 ms budget, {} frames)",
            view.label(),
            times[times.len() / 2],
            times[times.len() - 1],
            times[times.len() - 1] / 16.0,
            times.len()
        );
    }
    h.state_mut().push(AppCommand::StopSample);
    for _ in 0..500 {
        h.step();
        if h.state().live.is_none() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
