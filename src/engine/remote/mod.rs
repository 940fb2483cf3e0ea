//! The second backend: an OpenAI-compatible server over HTTP(S)
//! (llama-server, vLLM, SGLang, hosted APIs). It shares requests, events
//! and path records with the local engine and never touches llama.cpp.
//! Statistics follow methods.md "Statistics from top-k logprobs".

pub mod chunk;
pub mod http;
pub mod paths;
pub mod server;

pub use http::HttpError;
pub use paths::{fork, refusal, sample};
pub use server::{connect, model_ids, Server, ServerKind, ServerSpec};
