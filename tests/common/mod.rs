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
        title: None,
        answer: None,
    }
}

pub const PROMPT: &str = "Tom has 3 apples and buys 5 more. How many apples does he have?";
