//! Loading a GGUF model through llama.cpp, with errors that say what is wrong,
//! and the per-vocabulary tables the sampling loop needs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use compact_str::CompactString;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use sha2::Digest;

use super::error::EngineError;
use crate::run::ModelInfo;

/// llama.cpp's backend may be initialised once per process.
pub fn backend() -> Result<&'static LlamaBackend, EngineError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    let b = BACKEND.get_or_init(|| {
        let mut b = LlamaBackend::init().map_err(|e| e.to_string())?;
        if std::env::var_os("REASONSCOPE_LLAMA_LOG").is_none() {
            b.void_logs();
        }
        Ok(b)
    });
    b.as_ref()
        .map_err(|e| EngineError::InvalidRequest(format!("llama.cpp backend: {e}")))
}

/// The GPU backend this binary was built with ("cpu": none).
pub fn compiled_backend() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else if cfg!(feature = "metal") {
        "metal"
    } else if cfg!(feature = "vulkan") {
        "vulkan"
    } else {
        "cpu"
    }
}

/// What llama.cpp found: the backend runs are recorded with and one line
/// for the user. A GPU build on a machine without that GPU runs (and says
/// it runs) on the CPU; a CPU build says it has no GPU support.
pub struct DeviceReport {
    pub backend: &'static str,
    pub line: String,
}

pub fn device_report() -> &'static DeviceReport {
    static R: OnceLock<DeviceReport> = OnceLock::new();
    R.get_or_init(|| {
        let compiled = compiled_backend();
        if compiled == "cpu" {
            return DeviceReport {
                backend: "cpu",
                line: "CPU build: this binary has no GPU support (build with --features cuda, vulkan or metal)".into(),
            };
        }
        if gpu_layers() == Some(0) {
            return DeviceReport {
                backend: "cpu",
                line: format!("{compiled} build, REASONSCOPE_GPU_LAYERS=0: running on the CPU"),
            };
        }
        let _ = backend();
        use llama_cpp_2::LlamaBackendDeviceType as T;
        let gpus: Vec<String> = llama_cpp_2::list_llama_ggml_backend_devices()
            .into_iter()
            .filter(|d| matches!(d.device_type, T::Gpu | T::IntegratedGpu | T::Accelerator))
            .map(|d| format!("{} ({:.0} GiB)", d.description, d.memory_total as f64 / (1u64 << 30) as f64))
            .collect();
        if gpus.is_empty() {
            DeviceReport {
                backend: "cpu",
                line: format!("{compiled} build, but no {compiled} device was found: running on the CPU"),
            }
        } else {
            DeviceReport {
                backend: compiled,
                line: format!(
                    "{compiled}: {}; every layer offloaded; statistics on {} CPU threads",
                    gpus.join(", "),
                    super::stats_pass::threads_for(compiled)
                ),
            }
        }
    })
}

/// `REASONSCOPE_GPU_LAYERS`: how many layers a GPU build offloads (0 keeps
/// the model on the CPU, e.g. to compare the two); unset: all of them.
fn gpu_layers() -> Option<u32> {
    std::env::var("REASONSCOPE_GPU_LAYERS")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// The backend name recorded in runs: where the model actually runs.
pub fn backend_name() -> &'static str {
    device_report().backend
}

/// A loaded model plus what the sampling loop looks up per token.
pub struct LoadedModel {
    pub model: LlamaModel,
    pub path: PathBuf,
    pub info: ModelInfo,
    pub arch: String,
    /// Raw bytes of every token's piece (special tokens rendered).
    pub piece_bytes: Vec<Vec<u8>>,
    /// Each piece as printable text, for the stored alternatives.
    pub piece_text: Vec<CompactString>,
    pub is_eog: Vec<bool>,
    /// The GGUF's own Jinja chat template (`tokenizer.chat_template`).
    pub chat_template: Option<String>,
    pub template_tokens: super::chat_template::TemplateTokens,
}

/// Check the file before handing it to llama.cpp, so that a missing or
/// non-GGUF file gets a precise message instead of a generic failure.
fn check_gguf(path: &Path) -> Result<(), EngineError> {
    if !path.is_file() {
        return Err(EngineError::ModelMissing(path.to_path_buf()));
    }
    let mut magic = [0u8; 4];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok();
    if !ok || &magic != b"GGUF" {
        return Err(EngineError::NotGguf(path.to_path_buf()));
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(format!("{:x}", h.finalize()))
}

fn gguf_str(path: &Path, key: &str) -> Option<String> {
    let g = llama_cpp_2::gguf::GgufContext::from_file(path)?;
    let idx = g.find_key(key);
    if idx < 0 {
        return None;
    }
    g.val_str(idx).map(str::to_owned)
}

impl LoadedModel {
    /// Load `path`. `progress` receives 0..1 while llama.cpp reads tensors.
    pub fn load(
        path: &Path,
        progress: Option<Box<dyn FnMut(f32) + Send>>,
    ) -> Result<Self, EngineError> {
        check_gguf(path)?;
        let backend = backend()?;
        let arch = gguf_str(path, "general.architecture").unwrap_or_else(|| "unknown".into());
        let mut params = LlamaModelParams::default();
        // Always explicit: llama.cpp's default (-1) offloads every layer
        // wherever a device exists, even when we record "cpu".
        let layers = if backend_name() == "cpu" {
            0
        } else {
            gpu_layers().unwrap_or(999)
        };
        params = params.with_n_gpu_layers(layers);
        if let Some(mut cb) = progress {
            params = params.with_progress_callback(move |p| {
                cb(p);
                true
            });
        }
        let model = LlamaModel::load_from_file(backend, path, &params).map_err(|_| {
            EngineError::LoadFailed {
                path: path.to_path_buf(),
                arch: arch.clone(),
            }
        })?;
        let vocab = model.vocab();
        let n_vocab = vocab.n_tokens().max(0) as usize;
        let mut piece_bytes = Vec::with_capacity(n_vocab);
        let mut piece_text = Vec::with_capacity(n_vocab);
        let mut is_eog = Vec::with_capacity(n_vocab);
        for id in 0..n_vocab {
            let tok = LlamaToken(id as i32);
            let bytes = vocab.token_to_piece(tok, true, None);
            piece_text.push(CompactString::from(String::from_utf8_lossy(&bytes)));
            piece_bytes.push(bytes);
            is_eog.push(vocab.is_eog(tok));
        }
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = gguf_str(path, "general.name")
            .unwrap_or_else(|| file.trim_end_matches(".gguf").to_owned());
        let info = ModelInfo {
            name,
            file,
            sha256: sha256_file(path),
            n_vocab: n_vocab as u32,
            n_params: model.n_params(),
            n_ctx: model.n_ctx_train(),
            backend: backend_name().into(),
        };
        let chat_template = model
            .chat_template(None)
            .ok()
            .and_then(|t| t.to_string().ok())
            .filter(|t| !t.trim().is_empty());
        let vocab = model.vocab();
        let text_of = |t| {
            vocab
                .text(t)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let template_tokens = super::chat_template::TemplateTokens {
            bos: text_of(vocab.bos()),
            eos: text_of(vocab.eos()),
            adds_bos: vocab.should_add_bos(),
        };
        Ok(LoadedModel {
            model,
            path: path.to_path_buf(),
            info,
            arch,
            piece_bytes,
            piece_text,
            is_eog,
            chat_template,
            template_tokens,
        })
    }

    /// Bytes of KV cache per token cell (f16 K and V over all layers).
    pub fn kv_bytes_per_cell(&self) -> u64 {
        let m = &self.model;
        let n_head = u64::from(m.n_head().max(1));
        let head_dim = m.n_embd() as u64 / n_head;
        let kv_dim = u64::from(m.n_head_kv()) * head_dim;
        2 * u64::from(m.n_layer()) * kv_dim * 2
    }
}

/// Available memory in bytes (Linux), for refusing contexts that cannot fit.
pub fn available_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
