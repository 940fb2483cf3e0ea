//! `make bench` (GUI part): frame time of each view on a synthetic run of
//! 64 paths × 4096 tokens, through the kittest harness (CPU work of a frame:
//! layout, plots, analysis caches), median and worst of 100 frames.

use std::time::Instant;

use egui_kittest::Harness;
use reasonscope::run::{synthetic_run, write_run};
use reasonscope::ui::{App, AppCommand, Settings, View};

fn main() {
    // `UI_BENCH=live` measures live sampling only.
    if std::env::var("UI_BENCH").is_ok_and(|v| v == "live") {
        live_throughput();
        return;
    }
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
    live_throughput();
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

/// Tokens per second of live sampling in the app (rendered with wgpu, as a
/// window is, and painted when egui asks, as eframe does: at most once per
/// 16 ms) against `reasonscope sample` with the same model and settings,
/// model loading included on both sides.
fn live_throughput() {
    let model = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !model.exists() {
        return;
    }
    // Alternated twice: this shared machine drifts over minutes.
    let (mut cli, mut app) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        cli.push(cli_rate(&model));
        app.push(app_rate(&model));
    }
    let c: f64 = cli.iter().sum::<f64>() / cli.len() as f64;
    let a: f64 = app.iter().map(|x| x.0).sum::<f64>() / app.len() as f64;
    println!(
        "live sampling N = 16 × 256 (model load included): app {a:.1} tokens/s ({} frames painted per run), `reasonscope sample` {c:.1} tokens/s: app = {:.2}× the CLI (target ≥ 0.9×; runs: app {:?}, CLI {:?})",
        app[0].1,
        a / c,
        app.iter().map(|x| (x.0 * 10.0).round() / 10.0).collect::<Vec<_>>(),
        cli.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>()
    );
}

const LIVE_PROMPT: &str = "Write a long story about a dragon who learns to count.";

fn cli_rate(model: &std::path::Path) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("cli.json");
    let t = Instant::now();
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_reasonscope"))
        .args([
            "sample",
            "-q",
            "-n",
            "16",
            "--max-tokens",
            "256",
            "--temperature",
            "0.8",
        ])
        .args([
            "--top-k",
            "40",
            "--top-p",
            "0.95",
            "--min-p",
            "0",
            "--seed",
            "42",
            "--prompt",
            LIVE_PROMPT,
        ])
        .arg("--model")
        .arg(model)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("reasonscope sample runs");
    let secs = t.elapsed().as_secs_f64();
    assert!(st.success());
    reasonscope::run::read_run(&out)
        .expect("cli run")
        .total_tokens() as f64
        / secs
}

/// Tokens/s of the app and the frames it painted.
fn app_rate(model: &std::path::Path) -> (f64, usize) {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("temp dir");
    std::env::set_var("REASONSCOPE_RUNS_DIR", dir.path());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .wgpu()
        .build_eframe(|_cc| App::new(Settings::default(), &[]));
    // When egui wants the next frame (eframe's repaint callback).
    let due: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let d = due.clone();
    h.ctx.set_request_repaint_callback(move |info| {
        let at = Instant::now() + info.delay;
        let mut g = d.lock().expect("lock");
        if g.is_none_or(|x| at < x) {
            *g = Some(at);
        }
    });
    {
        let f = &mut h.state_mut().settings.form;
        f.model = model.to_path_buf();
        f.n_paths = 16;
        f.max_tokens = 256;
        f.temperature = 0.8;
        f.top_k = 40;
        f.top_p = 0.95;
        f.min_p = 0.0;
        f.seed = 42;
        f.user = LIVE_PROMPT.into();
    }
    h.state_mut().push(AppCommand::SetView(View::Paths));
    let t = Instant::now();
    h.state_mut().push(AppCommand::StartSample);
    h.step();
    let mut frames = 0usize;
    let mut last = Instant::now();
    loop {
        let next = due.lock().expect("lock").take();
        match next {
            Some(at) => {
                // vsync: no more than one frame per 16 ms.
                let at = at.max(last + Duration::from_millis(16));
                if let Some(wait) = at.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                last = Instant::now();
                h.step();
                frames += 1;
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
        let app = h.state();
        if app.live.is_none() && app.runs.iter().any(|r| r.path.is_some()) {
            break;
        }
        assert!(t.elapsed().as_secs() < 600, "the live run did not finish");
    }
    let secs = t.elapsed().as_secs_f64();
    let tokens: usize = h
        .state()
        .runs
        .iter()
        .map(|r| r.run.total_tokens())
        .max()
        .unwrap_or(0);
    (tokens as f64 / secs, frames)
}
