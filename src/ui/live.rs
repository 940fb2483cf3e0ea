//! Live sampling in the app: the New run panel's form, the engine worker
//! (created on first use, model kept loaded between runs), streaming events
//! into an open run, autosave and crash recovery.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::{
    Backend, EngineConfig, Event, LiveRun, SampleRequest, SamplerParams, ServerSpec, Worker,
};
use crate::run::{write_run, AnswerSpec, DriftReference, Message, Role, Run};

/// Seconds between autosaves of a live run (the issue allows losing at most 5).
pub const AUTOSAVE_SECS: f64 = 3.0;
/// Longest a frame spends taking engine events.
pub const INGEST_BUDGET: Duration = Duration::from_millis(4);
/// Shortest interval between re-analyses of a growing run.
pub const REANALYZE_EVERY: Duration = Duration::from_millis(250);

/// The New run form (persisted with the settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunForm {
    pub model: PathBuf,
    pub recent_models: Vec<PathBuf>,
    /// Sample through a server instead of the local model.
    pub use_server: bool,
    /// The server's base URL (…/v1) and the served model chosen.
    pub server_url: String,
    pub server_model: String,
    /// Environment variable holding the server's API key (the key itself
    /// is never stored).
    pub api_key_env: String,
    pub recent_servers: Vec<String>,
    pub system: String,
    pub user: String,
    pub n_paths: u32,
    pub temperature: f32,
    pub top_k: u32,
    pub top_p: f32,
    pub min_p: f32,
    pub max_tokens: u32,
    pub seed: u64,
    pub top_logprobs: u32,
    pub gold: String,
    /// User messages after the first, one per later turn, with their gold.
    pub follow_ups: Vec<FollowUp>,
    pub drift: DriftChoice,
    pub reminder: String,
    /// Decoding-time method: `plain`, `cntp`, `ffs` or `deepconf-online`.
    pub method: String,
    /// deepconf-online's warm-up paths and window.
    pub warmup: u32,
    pub window: u32,
    pub fork_m: u32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FollowUp {
    pub message: String,
    pub gold: String,
}

/// The drift reference chosen in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DriftChoice {
    #[default]
    Off,
    NoHistory,
    Reminder,
}

impl DriftChoice {
    pub const ALL: [DriftChoice; 3] = [
        DriftChoice::Off,
        DriftChoice::NoHistory,
        DriftChoice::Reminder,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DriftChoice::Off => "not measured",
            DriftChoice::NoHistory => "no history",
            DriftChoice::Reminder => "reminder",
        }
    }
}

/// The follow-up a new message starts with (the usual "are you sure?" probe).
pub const DEFAULT_FOLLOW_UP: &str = "Are you sure? Check your work.";

impl Default for RunForm {
    fn default() -> Self {
        RunForm {
            model: crate::cli::default_model_path(),
            recent_models: Vec::new(),
            use_server: false,
            server_url: "http://127.0.0.1:8080/v1".into(),
            server_model: String::new(),
            api_key_env: String::new(),
            recent_servers: Vec::new(),
            system: String::new(),
            user: "Tom has 3 apples and buys 5 more. How many apples does he have?".into(),
            n_paths: 8,
            temperature: 0.7,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            max_tokens: 256,
            seed: 42,
            top_logprobs: 5,
            gold: String::new(),
            follow_ups: Vec::new(),
            drift: DriftChoice::Off,
            reminder: "Remember the original question and answer it.".into(),
            method: "plain".into(),
            warmup: crate::engine::method::DEEPCONF_WARMUP,
            window: 2048,
            fork_m: 4,
        }
    }
}

impl RunForm {
    /// What samples: the local model or the server.
    pub fn backend(&self) -> Backend {
        if self.use_server {
            Backend::Server(self.server_spec())
        } else {
            Backend::Local(self.model.clone())
        }
    }

    pub fn server_spec(&self) -> ServerSpec {
        ServerSpec {
            model: Some(self.server_model.trim().to_owned()).filter(|m| !m.is_empty()),
            api_key_env: Some(self.api_key_env.trim().to_owned()).filter(|v| !v.is_empty()),
            ..ServerSpec::new(self.server_url.trim())
        }
    }

    /// Remember a backend that was used (most recent first).
    pub fn remember(&mut self, b: &Backend) {
        match b {
            Backend::Local(p) => {
                self.recent_models.retain(|q| q != p);
                self.recent_models.insert(0, p.clone());
                self.recent_models.truncate(8);
            }
            Backend::Server(s) => {
                self.recent_servers.retain(|u| u != &s.url);
                self.recent_servers.insert(0, s.url.clone());
                self.recent_servers.truncate(8);
            }
        }
    }

    pub fn request(&self) -> SampleRequest {
        let sampler = SamplerParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
        };
        let base = SampleRequest::single_turn(
            Some(&self.system),
            &self.user,
            self.n_paths,
            sampler,
            self.seed,
            self.max_tokens,
            self.top_logprobs,
        );
        let mut conversation = base.conversation.clone();
        conversation.extend(self.follow_ups.iter().map(|f| Message {
            role: Role::User,
            content: f.message.clone(),
        }));
        let golds: Vec<Option<String>> = std::iter::once(&self.gold)
            .chain(self.follow_ups.iter().map(|f| &f.gold))
            .map(|g| Some(g.trim().to_owned()).filter(|g| !g.is_empty()))
            .collect();
        let drift_reference = match (self.follow_ups.is_empty(), self.drift) {
            (true, _) | (_, DriftChoice::Off) => None,
            (false, DriftChoice::NoHistory) => Some(DriftReference::NoHistory),
            (false, DriftChoice::Reminder) => Some(DriftReference::Reminder {
                text: self.reminder.clone(),
            }),
        };
        SampleRequest {
            conversation,
            gold: golds.iter().any(Option::is_some).then_some(golds),
            title: Some(self.user.chars().take(40).collect()),
            answer: Some(AnswerSpec::Auto),
            drift_reference,
            method: crate::cli::decoding_method(&self.method, self.warmup, self.window),
            ..base
        }
    }

    /// Fill the form from a run's settings (re-run with other settings).
    pub fn load_from(&mut self, run: &Run) {
        self.system = run
            .conversation
            .iter()
            .find(|m| m.role == Role::System)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let users: Vec<&str> = run
            .conversation
            .iter()
            .filter(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .collect();
        self.user = users.first().copied().unwrap_or_default().to_owned();
        self.follow_ups = users
            .iter()
            .enumerate()
            .skip(1)
            .map(|(t, m)| FollowUp {
                message: (*m).to_owned(),
                gold: run.gold_for(t).unwrap_or_default().to_owned(),
            })
            .collect();
        match &run.drift_reference {
            None | Some(DriftReference::Same) => self.drift = DriftChoice::Off,
            Some(DriftReference::NoHistory) => self.drift = DriftChoice::NoHistory,
            Some(DriftReference::Reminder { text }) => {
                self.drift = DriftChoice::Reminder;
                self.reminder = text.clone();
            }
        }
        let s = &run.sampling;
        (
            self.n_paths,
            self.temperature,
            self.top_k,
            self.top_p,
            self.min_p,
        ) = (s.n_paths, s.temperature, s.top_k, s.top_p, s.min_p);
        (self.max_tokens, self.seed, self.top_logprobs) = (s.max_tokens, s.seed, s.top_logprobs);
        self.gold = run.gold_for(0).unwrap_or_default().to_owned();
        self.method = run.sampling.method.replace('_', "-");
        if let Some(d) = run
            .decoding
            .as_ref()
            .and_then(|d| d.deepconf_online.as_ref())
        {
            (self.warmup, self.window) = (d.warmup, d.window);
        }
    }
}

/// Model state as the UI sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    None,
    Loading {
        backend: Backend,
        progress: f32,
    },
    Loaded {
        backend: Backend,
        name: String,
        /// No chat template in the GGUF: the plain layout is used.
        plain_prompt: bool,
        /// Where the model runs (empty for a server).
        device: String,
    },
    Failed {
        backend: Backend,
        error: String,
    },
}

/// The models a server lists, fetched in the background when its URL is
/// entered in the New run panel.
#[derive(Default)]
pub struct ServerModels {
    /// The URL the list is (being) fetched for.
    pub url: String,
    pub result: std::sync::Arc<std::sync::Mutex<Option<ModelList>>>,
}

/// A server's model ids, or why they could not be fetched.
pub type ModelList = Result<Vec<String>, String>;

impl ServerModels {
    /// Fetch the list for `spec` unless it is already fetched or fetching.
    pub fn fetch(&mut self, spec: &ServerSpec, ctx: &eframe::egui::Context) {
        if self.url == spec.url {
            return;
        }
        self.url = spec.url.clone();
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
        self.result = slot.clone();
        let spec = ServerSpec {
            timeout: Duration::from_secs(10),
            ..spec.clone()
        };
        let ctx = ctx.clone();
        let _ = std::thread::Builder::new()
            .name("reasonscope-models".into())
            .spawn(move || {
                let r = crate::engine::remote::model_ids(&spec).map_err(|e| e.0);
                if let Ok(mut s) = slot.lock() {
                    *s = Some(r);
                }
                ctx.request_repaint();
            });
    }

    /// `None` while fetching (or never fetched).
    pub fn get(&self) -> Option<ModelList> {
        self.result.lock().ok().and_then(|r| r.clone())
    }
}

/// For labels: the model file's name, or the server's URL.
pub fn backend_label(b: &Backend) -> String {
    match b {
        Backend::Local(p) => file_label(p),
        Backend::Server(s) => crate::engine::remote::http::redact(&s.url),
    }
}

/// The model being asked again about an open run (Methods view).
pub struct Judging {
    /// The run judged, as it was when judging started (found again by
    /// pointer: runs may be opened and closed meanwhile).
    pub run: std::sync::Arc<crate::run::Run>,
    pub done: usize,
    pub total: usize,
}

/// A run being sampled (or forked) right now.
pub struct LiveSession {
    pub live: LiveRun,
    /// Index of the open run it updates (set when the run starts).
    pub run_index: Option<usize>,
    /// Whether it replaces an existing open run (a fork) or is new.
    pub fork_of: Option<usize>,
    pub total_paths: u32,
    pub max_tokens: u32,
    pub last_analysis: Instant,
    pub last_autosave: Instant,
    pub dirty: bool,
    pub stopping: bool,
}

impl LiveSession {
    pub fn new(total_paths: u32, max_tokens: u32, fork_of: Option<usize>) -> Self {
        LiveSession {
            live: LiveRun::default(),
            run_index: fork_of,
            fork_of,
            total_paths,
            max_tokens,
            last_analysis: Instant::now(),
            last_autosave: Instant::now(),
            dirty: false,
            stopping: false,
        }
    }

    /// An upper bound on the seconds left: every unfinished path running to
    /// max tokens at the current rate.
    pub fn eta_secs(&self) -> Option<f64> {
        let rate = self.live.rate();
        if rate <= 0.0 {
            return None;
        }
        let budget = f64::from(self.total_paths) * f64::from(self.max_tokens);
        let left_paths = f64::from(self.total_paths).max(1.0) - self.live.finished_paths as f64;
        let left = (budget - self.live.tokens as f64).max(0.0)
            * (left_paths / f64::from(self.total_paths).max(1.0));
        Some(left / rate)
    }
}

/// Where live runs are saved: `REASONSCOPE_RUNS_DIR`, else the data folder.
pub fn runs_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("REASONSCOPE_RUNS_DIR") {
        return d.into();
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("reasonscope/runs")
}

pub fn autosave_file() -> PathBuf {
    runs_dir().join("autosave.json.gz")
}

/// Write the live snapshot atomically to the autosave file.
pub fn autosave(run: &Run) -> Result<(), String> {
    let f = autosave_file();
    if let Some(d) = f.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    write_run(run, &f).map_err(|e| e.to_string())
}

/// Move the autosave to a named file in the runs folder (a finished or
/// recovered run keeps its data; nothing is deleted).
pub fn keep_autosave(prefix: &str) -> Option<PathBuf> {
    let from = autosave_file();
    if !from.exists() {
        return None;
    }
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let to = runs_dir().join(format!("{prefix}-{stamp}.json.gz"));
    std::fs::rename(&from, &to).ok().map(|_| to)
}

/// A finished run's file name: the time, then its title made safe (the
/// title is data: the name cannot leave the folder).
fn finished_name(title: Option<&str>, stamp: &str) -> String {
    let title = title.unwrap_or("run").to_lowercase();
    let slug: String = crate::run::safe_file_stem(&title)
        .chars()
        .take(30)
        .collect();
    format!("{stamp}-{}.json.gz", slug.trim_end_matches(['-', '.']))
}

/// Save a finished live run in the runs folder; returns its path.
pub fn save_finished(run: &Run) -> Result<PathBuf, String> {
    let dir = runs_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let path = dir.join(finished_name(run.title.as_deref(), &stamp.to_string()));
    write_run(run, &path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(autosave_file());
    Ok(path)
}

/// The worker, created on first use with a waker that repaints the UI.
/// Every token wakes it, so the repaint is asked for within 50 ms rather
/// than at once: while sampling the UI paints at most 20 frames a second
/// and leaves the cores to the engine.
pub fn spawn_worker(ctx: &eframe::egui::Context) -> std::io::Result<Worker> {
    let c = ctx.clone();
    Worker::spawn(
        EngineConfig::default(),
        Some(std::sync::Arc::new(move || {
            c.request_repaint_after(Duration::from_millis(50))
        })),
    )
}

/// Take events for at most `INGEST_BUDGET`.
pub fn drain(worker: &Worker) -> Vec<Event> {
    let start = Instant::now();
    let mut out = Vec::new();
    while start.elapsed() < INGEST_BUDGET {
        match worker.events().try_recv() {
            Ok(e) => out.push(e),
            Err(_) => break,
        }
    }
    out
}

pub fn file_label(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

#[cfg(test)]
mod name_tests {
    #[test]
    fn a_finished_runs_name_stays_in_its_folder() {
        let n = |t| super::finished_name(t, "20261201-020000");
        assert_eq!(
            n(Some("Apples, 3 turns")),
            "20261201-020000-apples--3-turns.json.gz"
        );
        assert_eq!(
            n(Some("../../etc/passwd")),
            "20261201-020000-etc-passwd.json.gz"
        );
        assert_eq!(n(Some("/abs\\x\n")), "20261201-020000-abs-x.json.gz");
        assert_eq!(n(None), "20261201-020000-run.json.gz");
        // Cut at 30 characters, without a trailing separator.
        assert_eq!(
            n(Some("a very long title that goes on - and on")),
            "20261201-020000-a-very-long-title-that-goes-on.json.gz"
        );
    }
}
