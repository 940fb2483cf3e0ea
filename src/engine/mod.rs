//! The sampling engine on llama.cpp (llama-cpp-2): model loading, batched
//! multi-path sampling with per-token statistics, and the worker thread that
//! streams events. May use `run`; never egui.

pub mod chat_template;
mod cntp;
pub mod conversation;
mod error;
pub mod events;
pub mod forking;
pub mod judging;
pub mod live;
pub mod method;
mod model;
mod path_state;
mod prompt;
pub mod remote;
mod request;
pub mod sampler;
mod session;
pub mod stats;
pub mod stats_pass;
mod threads;
mod tokenizer;
mod turns;
mod worker;

pub use error::EngineError;
pub use events::{Event, TokenRecord};
pub use live::LiveRun;
pub use method::DecodingMethod;
pub use model::{available_memory, backend_name, compiled_backend, device_report, LoadedModel};
pub use prompt::plain as plain_template;
pub use remote::ServerSpec;
pub use request::{validate_request, SampleRequest};
pub use sampler::SamplerParams;
pub use session::{direct_logits, fork, prompt_tokens, sample, EngineConfig};
pub use threads::default_threads;
pub use worker::{Backend, Command, Waker, Worker};
