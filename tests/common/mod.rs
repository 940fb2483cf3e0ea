//! Shared helpers for the integration tests: the real default model.
#![allow(dead_code)]

use std::path::PathBuf;

use reasonscope::engine::{EngineConfig, LoadedModel, SampleRequest, SamplerParams};
use reasonscope::run::{Message, Role};

/// The default model, fetched by `make model`. Tests fail (not skip) without
/// it: the set-up is responsible for providing it.
pub fn model_path() -> PathBuf {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        p.is_file(),
        "the default model is missing at {}; run `make model`",
        p.display()
    );
    p
}

pub fn load_model() -> LoadedModel {
    LoadedModel::load(&model_path(), None).expect("the default model loads")
}

pub fn config() -> EngineConfig {
    EngineConfig {
        n_threads: 2,
        kv_unified: false,
        reuse_history: true,
    }
}

pub fn request(prompt: &str, n: u32, max_tokens: u32, seed: u64) -> SampleRequest {
    SampleRequest {
        conversation: vec![Message {
            role: Role::User,
            content: prompt.into(),
        }],
        n_paths: n,
        sampler: SamplerParams {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
        },
        seed,
        max_tokens,
        top_logprobs: 5,
        gold: None,
        drift_reference: None,
        method: reasonscope::engine::DecodingMethod::Plain,
        title: None,
        answer: None,
    }
}

/// `reasonscope sample` of the default model on `PROMPT`, then `args`,
/// writing `out` (the caller adds environment and runs it).
pub fn sample_command(args: &[&str], out: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_reasonscope"));
    c.env("TZ", "UTC")
        .args(["sample", "--model"])
        .arg(model_path())
        .args(["--prompt", PROMPT])
        .args(args)
        .arg("-o")
        .arg(out);
    c
}

pub const PROMPT: &str = "Tom has 3 apples and buys 5 more. How many apples does he have?";

/// The one helper that builds every GUI test harness.
pub mod ui {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use egui_kittest::kittest::{By, Queryable};
    use egui_kittest::Harness;
    use reasonscope::ui::{App, Settings};

    /// The real app at 1280 × 800, light theme, UTC, with its own temporary
    /// data and runs folders (so autosaves never leak between tests).
    pub fn harness(files: &[PathBuf]) -> Harness<'static, App> {
        harness_with(files, |_| {})
    }

    pub fn harness_with(
        files: &[PathBuf],
        prepare: impl FnOnce(&std::path::Path),
    ) -> Harness<'static, App> {
        static N: AtomicUsize = AtomicUsize::new(0);
        std::env::set_var("TZ", "UTC");
        let data = std::env::temp_dir().join(format!(
            "reasonscope-ui-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let runs = data.join("runs");
        std::fs::create_dir_all(&runs).unwrap();
        std::env::set_var("XDG_DATA_HOME", &data);
        std::env::set_var("REASONSCOPE_RUNS_DIR", &runs);
        prepare(&runs);
        let files = files.to_vec();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1280.0, 800.0))
            .wgpu()
            .build_eframe(move |_cc| App::new(Settings::default(), &files));
        h.run_steps(3);
        h
    }

    pub fn click(h: &mut Harness<'static, App>, label: &str) {
        h.get(By::new().label(label).role(egui::accesskit::Role::Button))
            .click();
        h.run_steps(3);
    }

    pub fn content(h: &Harness<'static, App>, text: &str) -> bool {
        h.query_all_by_label_contains(text).next().is_some()
    }

    /// Step (with real time passing) until `text` shows or the timeout.
    pub fn step_until_shown(h: &mut Harness<'static, App>, secs: u64, text: &str) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed().as_secs() < secs {
            h.step();
            if content(h, text) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Step (with real time passing) until `done` or the timeout.
    pub fn step_until(
        h: &mut Harness<'static, App>,
        secs: u64,
        mut done: impl FnMut(&App) -> bool,
    ) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed().as_secs() < secs {
            h.step();
            if done(h.state()) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }
}

/// Start `cmd` with its output discarded.
pub fn spawn_quiet(cmd: &mut std::process::Command) -> std::process::Child {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The tokens in the autosave at `path` once it is a run holding at least
/// `min` (polled every 100 ms); 0 when `secs` pass or `done` (the final
/// output) appears first.
pub fn await_autosave(
    path: &std::path::Path,
    min: usize,
    secs: u64,
    done: &std::path::Path,
) -> usize {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(secs) && !done.exists() {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if let Ok(r) = reasonscope::run::read_run(path) {
            if r.total_tokens() >= min {
                return r.total_tokens();
            }
        }
    }
    0
}
