use std::path::PathBuf;

/// Everything the engine can refuse or fail at, worded for the user.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("model file {0} does not exist")]
    ModelMissing(PathBuf),
    #[error("{0} is not a GGUF model file (it does not start with the GGUF magic bytes)")]
    NotGguf(PathBuf),
    #[error("llama.cpp could not load {path} (architecture {arch:?}): the architecture may be unsupported by this llama.cpp build, or the file is damaged")]
    LoadFailed { path: PathBuf, arch: String },
    #[error("a context of {n_cells} tokens needs about {need_mib} MiB of KV cache, but only {avail_mib} MiB of memory are available; sample fewer paths or fewer tokens")]
    ContextTooLarge {
        n_cells: u64,
        need_mib: u64,
        avail_mib: u64,
    },
    #[error(
        "llama.cpp could not create a context of {n_cells} tokens for {n_seq} paths: {reason}"
    )]
    ContextCreate {
        n_cells: u32,
        n_seq: u32,
        reason: String,
    },
    #[error("the prompt is {n_prompt} tokens long, but the model's context holds {n_ctx} tokens; shorten the prompt")]
    PromptTooLong { n_prompt: usize, n_ctx: usize },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("cannot render the conversation: {0}")]
    Template(String),
    #[error("llama.cpp failed to decode: {0}")]
    Decode(String),
    /// Talking to a server failed (the message names the URL, never a key).
    #[error("{0}")]
    Remote(String),
    #[error("the engine thread is gone")]
    WorkerGone,
}
