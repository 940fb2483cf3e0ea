//! Which server answers at a base URL, which model it serves, and what it
//! tells about them (vocabulary, context, slots, version).

use std::time::Duration;

use serde_json::Value;

use super::http::{redact, Http, HttpError};
use crate::run::{Distribution, ModelInfo, RemoteInfo};

/// The server kinds reasonscope knows the request shapes of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    LlamaServer,
    Vllm,
    Sglang,
    OpenAiCompatible,
}

impl ServerKind {
    /// The id written to the run's `remote.server`.
    pub fn id(self) -> &'static str {
        match self {
            ServerKind::LlamaServer => "llama-server",
            ServerKind::Vllm => "vllm",
            ServerKind::Sglang => "sglang",
            ServerKind::OpenAiCompatible => "openai-compatible",
        }
    }

    /// Which distribution the returned logprobs describe by default.
    pub fn distribution(self) -> Distribution {
        match self {
            // Both return the raw logits' softmax unless told otherwise
            // (llama-server: post_sampling_probs; vLLM: --logprobs-mode).
            ServerKind::LlamaServer | ServerKind::Vllm => Distribution::Raw,
            ServerKind::Sglang => Distribution::TemperatureScaled,
            ServerKind::OpenAiCompatible => Distribution::Unknown,
        }
    }

    /// Where to look when the server returned text but no logprobs.
    pub fn logprobs_hint(self) -> &'static str {
        match self {
            ServerKind::LlamaServer => {
                "llama-server returns them for \"logprobs\": true (any recent build)"
            }
            ServerKind::Vllm => "start vLLM with --max-logprobs 20 (or more)",
            ServerKind::Sglang => {
                "SGLang returns them for \"logprobs\": true; check the server's version"
            }
            ServerKind::OpenAiCompatible => {
                "this server may not support \"logprobs\"/\"top_logprobs\" in chat completions"
            }
        }
    }
}

/// How to reach a server (from `--server`, `--server-model`,
/// `--api-key-env`, `--concurrency`, `--timeout` or the New run panel).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub url: String,
    /// The served model to use; `None`: the only one the server lists.
    pub model: Option<String>,
    /// Name of the environment variable that holds the API key.
    pub api_key_env: Option<String>,
    /// Requests in flight at once; `None`: the server's slots, else 8.
    pub concurrency: Option<u32>,
    pub timeout: Duration,
    /// One request per path even where one request with `n` would serve
    /// (`--no-n`: to compare the two, or for a server whose `n` misbehaves).
    pub no_n: bool,
}

impl ServerSpec {
    pub fn new(url: &str) -> Self {
        ServerSpec {
            url: url.to_owned(),
            model: None,
            api_key_env: None,
            concurrency: None,
            timeout: Duration::from_secs(60),
            no_n: false,
        }
    }
}

/// A server that answered, and what it told.
#[derive(Clone)]
pub struct Server {
    pub http: Http,
    pub kind: ServerKind,
    pub model: String,
    pub version: Option<String>,
    pub n_vocab: Option<u32>,
    pub n_ctx: Option<u32>,
    pub n_params: Option<u64>,
    /// Parallel slots the server reported (llama-server `-np`).
    pub slots: Option<u32>,
    pub concurrency: u32,
    /// Whether paths may share a request with `n` (see remote/paths.rs).
    pub use_n: bool,
}

fn u64_at(v: &Value, path: &str) -> Option<u64> {
    v.pointer(path).and_then(Value::as_u64)
}

/// The ids of the models `/models` lists, with each entry.
pub fn list_models(http: &Http) -> Result<Vec<(String, Value)>, HttpError> {
    let url = http.url("/models", false);
    let v = http.get_json(&url)?.ok_or_else(|| {
        HttpError(format!(
            "{}: not found (404): is this the API's base URL? It usually ends in /v1",
            redact(&url)
        ))
    })?;
    let data = v.get("data").and_then(Value::as_array).ok_or_else(|| {
        HttpError(format!(
            "{}: expected an OpenAI model list ({{\"data\": [...]}}), got: {}",
            redact(&url),
            super::http::snippet(v.to_string().as_bytes())
        ))
    })?;
    Ok(data
        .iter()
        .filter_map(|m| Some((m.get("id")?.as_str()?.to_owned(), m.clone())))
        .collect())
}

/// The model ids a server lists (the New run panel's list).
pub fn model_ids(spec: &ServerSpec) -> Result<Vec<String>, HttpError> {
    let http = Http::new(&spec.url, read_key(spec)?, spec.timeout)?;
    Ok(list_models(&http)?.into_iter().map(|m| m.0).collect())
}

/// The API key from the environment variable the spec names.
fn read_key(spec: &ServerSpec) -> Result<Option<String>, HttpError> {
    let Some(var) = &spec.api_key_env else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(k) if !k.trim().is_empty() => Ok(Some(k.trim().to_owned())),
        _ => Err(HttpError(format!(
            "--api-key-env {var}: the environment variable {var} is not set or empty"
        ))),
    }
}

/// Reach the server, pick the model, find out its kind.
pub fn connect(spec: &ServerSpec) -> Result<Server, HttpError> {
    let http = Http::new(&spec.url, read_key(spec)?, spec.timeout)?;
    let models = list_models(&http)?;
    let (model, entry) = match &spec.model {
        Some(name) => models
            .iter()
            .find(|m| &m.0 == name)
            .cloned()
            .ok_or_else(|| {
                HttpError(format!(
                    "the server does not serve {name:?}; it lists: {}",
                    list(&models)
                ))
            })?,
        None => match models.as_slice() {
            [one] => one.clone(),
            [] => return Err(HttpError("the server lists no model".into())),
            _ => {
                return Err(HttpError(format!(
                    "the server serves several models; choose one with --server-model: {}",
                    list(&models)
                )))
            }
        },
    };
    let owner = entry.get("owned_by").and_then(Value::as_str).unwrap_or("");
    let mut server = Server {
        http: http.clone(),
        kind: ServerKind::OpenAiCompatible,
        model,
        version: None,
        n_vocab: u64_at(&entry, "/meta/n_vocab").map(|v| v as u32),
        n_ctx: u64_at(&entry, "/max_model_len").map(|v| v as u32),
        n_params: u64_at(&entry, "/meta/n_params"),
        slots: None,
        concurrency: 8,
        use_n: !spec.no_n,
    };
    let root = |p: &str| http.url(p, true);
    // llama-server: /props tells slots, context and build.
    let props = if owner == "llamacpp" || owner.is_empty() {
        http.get_json(&root("/props")).ok().flatten()
    } else {
        None
    };
    if let Some(p) =
        props.filter(|p| p.get("total_slots").is_some() || p.get("build_info").is_some())
    {
        server.kind = ServerKind::LlamaServer;
        server.slots = u64_at(&p, "/total_slots").map(|v| v as u32);
        server.n_ctx = u64_at(&p, "/default_generation_settings/n_ctx")
            .map(|v| v as u32)
            .or(server.n_ctx);
        server.version = p
            .get("build_info")
            .and_then(Value::as_str)
            .map(str::to_owned);
    } else if owner == "vllm" {
        server.kind = ServerKind::Vllm;
        server.version = http
            .get_json(&root("/version"))
            .ok()
            .flatten()
            .and_then(|v| v.get("version")?.as_str().map(str::to_owned));
    } else if owner == "sglang" {
        server.kind = ServerKind::Sglang;
        let info = http.get_json(&root("/get_server_info")).ok().flatten();
        server.version = info.and_then(|v| v.get("version")?.as_str().map(str::to_owned));
    }
    server.concurrency = spec.concurrency.or(server.slots).unwrap_or(8).clamp(1, 256);
    Ok(server)
}

fn list(models: &[(String, Value)]) -> String {
    models
        .iter()
        .map(|m| m.0.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Server {
    /// The run's `model` object for this server's model.
    pub fn model_info(&self) -> ModelInfo {
        let file = self
            .model
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&self.model)
            .to_owned();
        ModelInfo {
            name: self.model.clone(),
            file,
            sha256: None,
            n_vocab: self.n_vocab.unwrap_or(0),
            n_params: self.n_params.unwrap_or(0),
            n_ctx: self.n_ctx.unwrap_or(0),
            backend: "remote".into(),
        }
    }

    /// The run's `remote` object (never with credentials).
    pub fn remote_info(&self) -> RemoteInfo {
        RemoteInfo {
            server: self.kind.id().into(),
            // Already checked to hold no credentials (clean_base_url).
            url: self.http.base.clone(),
            model: self.model.clone(),
            version: self.version.clone(),
        }
    }
}
