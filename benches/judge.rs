//! `make bench` (judging part): the methods that ask the model again, timed
//! against sampling the run they judge, on the default model.
//!
//! The run: the bundled 64-path sample run's request (7 × 8, 48 tokens),
//! sampled again here; then P(True) over its distinct answers, P(True) with
//! brainstorm, and USC over all 64 responses. Each figure is a ratio to the
//! sampling time measured in the same process.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use reasonscope::analysis::{judged, AnalysisParams};
use reasonscope::engine::judging::{self, local::LocalJudge};
use reasonscope::engine::{self, EngineConfig, LoadedModel, SampleRequest, SamplerParams};

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let lm = LoadedModel::load(&root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf"), None)
        .expect("the default model (make model)");
    let template = reasonscope::run::read_run(&root.join("sample_runs/multiply-n64.json.gz"))
        .expect("the bundled 64-path run");
    let s = &template.sampling;
    let sampler = SamplerParams {
        temperature: s.temperature,
        top_k: s.top_k,
        top_p: s.top_p,
        min_p: s.min_p,
    };
    let req = SampleRequest {
        conversation: template.conversation.clone(),
        gold: template.gold.clone(),
        ..SampleRequest::single_turn(
            None,
            "",
            s.n_paths,
            sampler,
            s.seed,
            s.max_tokens,
            s.top_logprobs,
        )
    };
    let cfg = EngineConfig::default();
    let t0 = Instant::now();
    let run = engine::sample(&lm, &cfg, &req, &AtomicBool::new(false), &mut |_| {})
        .expect("sampling works");
    let sampling = t0.elapsed().as_secs_f64();
    let inputs = judged::inputs(&run, None, &AnalysisParams::default());
    let answers: usize = inputs.iter().map(|i| i.answers.len()).sum();
    println!(
        "sampled {} paths, {} tokens in {sampling:.2} s ({} distinct answers), {} threads",
        run.paths.len(),
        run.total_tokens(),
        answers,
        cfg.n_threads
    );
    for method in ["p_true", "p_true_brainstorm", "usc"] {
        let mut judge = LocalJudge {
            lm: &lm,
            n_threads: cfg.n_threads,
        };
        let t = Instant::now();
        let js = judging::judge_all(
            &mut judge,
            &inputs,
            &[method.to_owned()],
            &AtomicBool::new(false),
            &mut |_, _| {},
        )
        .expect("judging works");
        let secs = t.elapsed().as_secs_f64();
        let tokens: u64 = js
            .iter()
            .map(|j| j.prompt_tokens + j.generated_tokens)
            .sum();
        println!(
            "{method:<18} {secs:>6.2} s = {:.3} × sampling ({tokens} judge tokens)",
            secs / sampling
        );
    }
}
