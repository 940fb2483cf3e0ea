//! What the benchmarks share: the same prompt, path count, length and
//! sampler settings for the engine and remote ones, so their figures
//! compare, and the counting allocator of the memory figures.
#![allow(dead_code)]

pub mod alloc;

use reasonscope::engine::{DecodingMethod, SampleRequest, SamplerParams};
use reasonscope::run::{Message, Role};

pub const PROMPT: &str = "Write a long story about a dragon who learns to count.";
pub const N: u32 = 16;
pub const MAX_TOKENS: u32 = 256;

pub fn request(n: u32, seed: u64) -> SampleRequest {
    SampleRequest {
        conversation: vec![Message {
            role: Role::User,
            content: PROMPT.into(),
        }],
        n_paths: n,
        sampler: SamplerParams {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.0,
        },
        seed,
        max_tokens: MAX_TOKENS,
        top_logprobs: 5,
        gold: None,
        title: None,
        answer: None,
        drift_reference: None,
        method: DecodingMethod::Plain,
    }
}
