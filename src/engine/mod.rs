//! The sampling engine on llama.cpp (llama-cpp-2): model loading, batched
//! multi-path sampling with per-token statistics, and the worker thread that
//! streams events. May use `run`; never egui.

mod cntp;
pub mod conversation;
mod error;
pub mod live;
pub mod method;
mod model;
mod prompt;
pub mod sampler;
mod session;
pub mod stats;
mod threads;
mod turns;
pub mod utf8;
mod worker;

pub use error::EngineError;
pub use live::LiveRun;
pub use method::DecodingMethod;
pub use model::{available_memory, backend_name, LoadedModel};
pub use prompt::plain as plain_template;
pub use sampler::SamplerParams;
pub use session::{
    direct_logits, fork, prompt_tokens, sample, validate_request, EngineConfig, Event,
    SampleRequest, TokenRecord,
};
pub use threads::default_threads;
pub use worker::{Command, Waker, Worker};
