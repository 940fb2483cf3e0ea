//! The run data model: the contract in docs/run-format.md (v1).
//!
//! Field names are fixed by the contract; other programs read these files.
//! Per-token columns are stored column-wise, and the top-k alternatives as
//! flat row-major matrices, so that a 64 × 4096-token run stays compact in
//! memory (see `Rows`).

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "reasonscope.run";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub format: String,
    pub version: u32,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub model: ModelInfo,
    pub sampling: Sampling,
    #[serde(deserialize_with = "super::budget::vec")]
    pub conversation: Vec<Message>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::budget::opt_vec"
    )]
    pub gold: Option<Vec<Option<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerSpec>,
    /// How the conversation was turned into the prompt (project field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptInfo>,
    /// Engine settings that made the run (project field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineInfo>,
    /// The reference context that `tokens.kl_ref` was measured against
    /// (project field; absent when drift was not measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_reference: Option<DriftReference>,
    /// What a decoding-time method did (project field; absent for `plain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoding: Option<DecodingRecord>,
    /// Where the per-token statistics came from; absent = the full
    /// distribution (in-process: every statistic exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatsSource>,
    /// The server that sampled the run (`model.backend` = "remote").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteInfo>,
    /// The file the run was imported from (`model.backend` = "import").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportInfo>,
    #[serde(deserialize_with = "super::budget::vec")]
    pub paths: Vec<Path>,
    /// What the methods that ask the model again read (project field;
    /// absent until a run is judged).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::budget::vec"
    )]
    pub judgements: Vec<super::judgement::Judgement>,
}

/// `stats.source`: how much of each next-token distribution the run saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Full,
    TopK,
    Text,
}

impl Source {
    /// The id written to the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Full => "full",
            Source::TopK => "top-k",
            Source::Text => "text",
        }
    }
}

/// `stats.distribution`: which distribution the returned logprobs describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distribution {
    Raw,
    TemperatureScaled,
    PostSampling,
    Unknown,
}

/// The run's `stats` object (run-format.md, v1 additions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSource {
    pub source: Source,
    /// Candidates returned per position (top-k runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
}

impl StatsSource {
    pub const FULL: StatsSource = StatsSource {
        source: Source::Full,
        k: None,
        distribution: None,
    };
}

/// The run's `remote` object: never holds credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteInfo {
    /// `llama-server`, `vllm`, `sglang` or `openai-compatible`.
    pub server: String,
    /// Base URL, without user, password or key.
    pub url: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The run's `import` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportInfo {
    pub from: String,
    pub file: String,
    /// 1-based record of the file, when it held several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// What a token is (project field): `"source"` (as the file gave
    /// them), `"tokenizer:FILE.gguf"` or `"words"` (text split into words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<String>,
    /// Fields the source did not give (project field): they hold 0 or ""
    /// only because the format requires a value; readers show "unknown".
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::budget::vec"
    )]
    pub unknown: Vec<String>,
    /// What the conversion had to decide (project field), e.g. clamps read
    /// as −∞.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::budget::vec"
    )]
    pub notes: Vec<String>,
}

impl ImportInfo {
    /// Whether the source did not give `field` (e.g. `"prompt"`).
    pub fn is_unknown(&self, field: &str) -> bool {
        self.unknown.iter().any(|u| u == field)
    }
}

/// The record of a decoding-time method (methods.md): its parameters and
/// what it decided while sampling.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DecodingRecord {
    /// Same as `sampling.method`.
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffs: Option<FfsRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deepconf_online: Option<DeepConfOnlineRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cntp: Option<CntpRecord>,
}

/// First Finish Search: every path stops once the first one finishes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FfsRecord {
    /// The path that finished first (`null` if none finished with `stop`).
    pub winner: Option<u32>,
}

/// DeepConf online: warm-up paths set the threshold, later paths stop early.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeepConfOnlineRecord {
    pub warmup: u32,
    pub window: u32,
    /// Percentile of the warm-up paths' lowest group confidence (10).
    pub percentile: f64,
    /// `null` when no warm-up path produced a token.
    pub threshold: Option<f64>,
    #[serde(deserialize_with = "super::budget::vec")]
    pub stops: Vec<OnlineStop>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OnlineStop {
    pub path: u32,
    /// Tokens the path had when it was stopped.
    pub token: u32,
    /// Mean confidence of its last `window` tokens, below the threshold.
    pub window_mean: f64,
}

/// Cautious Next Token Prediction: where trials were sampled and which won.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CntpRecord {
    pub max_trials: u32,
    pub entropy_low: f64,
    pub entropy_high: f64,
    pub punctuation: String,
    /// Tokens sampled in trials that were not kept.
    pub extra_tokens: u64,
    #[serde(deserialize_with = "super::budget::vec")]
    pub steps: Vec<CntpStep>,
}

/// One branching step: trials sampled from the path's state before `token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CntpStep {
    pub path: u32,
    pub turn: u32,
    pub token: u32,
    pub entropy: f64,
    #[serde(deserialize_with = "super::budget::vec")]
    pub trials: Vec<CntpTrial>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CntpTrial {
    #[serde(deserialize_with = "super::budget::vec")]
    pub ids: Vec<i32>,
    pub text: String,
    /// exp(−mean ln p) over the trial's sampled tokens.
    pub perplexity: f64,
    pub kept: bool,
}

/// The context p_reference is taken from for turns ≥ 2 (methods.md, "Drift
/// across turns").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DriftReference {
    /// The system message(s) and the current user message, no earlier turns.
    NoHistory,
    /// The path's own history with `text` inserted as a system message just
    /// before the current user message.
    Reminder { text: String },
    /// The path's own context, unchanged: a control that must measure 0
    /// (checks the measurement itself).
    Same,
}

impl DriftReference {
    /// Parse the CLI form: `no-history` or `reminder:TEXT`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "no-history" => return Ok(DriftReference::NoHistory),
            "same" => return Ok(DriftReference::Same),
            _ => {}
        }
        match s.strip_prefix("reminder:") {
            Some(text) if !text.trim().is_empty() => Ok(DriftReference::Reminder {
                text: text.to_owned(),
            }),
            Some(_) => Err("reminder: needs a text, e.g. reminder:\"Answer the original question.\"".into()),
            None => Err(format!(
                "unknown drift reference {s:?}: use no-history, reminder:\"TEXT\" or same (a control that measures 0)"
            )),
        }
    }

    pub fn label(&self) -> String {
        match self {
            DriftReference::NoHistory => "no history".into(),
            DriftReference::Reminder { text } => format!("reminder: {text}"),
            DriftReference::Same => "same context (control)".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    /// File name only, never a full path.
    pub file: String,
    pub sha256: Option<String>,
    pub n_vocab: u32,
    pub n_params: u64,
    pub n_ctx: u32,
    pub backend: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    pub n_paths: u32,
    pub temperature: f32,
    pub top_k: u32,
    pub top_p: f32,
    pub min_p: f32,
    pub seed: u64,
    pub max_tokens: u32,
    pub top_logprobs: u32,
    pub method: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    /// One user message per text, in order (a conversation without system message).
    pub fn users(texts: &[&str]) -> Vec<Message> {
        texts
            .iter()
            .map(|c| Message {
                role: Role::User,
                content: (*c).to_owned(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "extract", rename_all = "lowercase")]
pub enum AnswerSpec {
    Auto,
    Regex { pattern: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptInfo {
    /// `"chat"` (the model's own template) or `"plain"` (fallback for base models).
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Number of prompt tokens of the first turn.
    pub n_tokens: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub n_threads: u32,
    pub kv_unified: bool,
    pub n_batch: u32,
    pub llama_cpp: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Path {
    pub index: u32,
    pub seed: u64,
    #[serde(default)]
    pub fork: Option<Fork>,
    #[serde(deserialize_with = "super::budget::vec")]
    pub turns: Vec<Turn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fork {
    pub path: u32,
    pub turn: u32,
    pub token: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    Stop,
    Length,
    ContextFull,
    Cancelled,
    Error,
}

impl Finish {
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::ContextFull => "context_full",
            Finish::Cancelled => "cancelled",
            Finish::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub text: String,
    pub finish: Finish,
    pub tokens: Tokens,
    pub timing: Timing,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timing {
    pub start_ms: f64,
    pub end_ms: f64,
}

/// Per-token columns; every column has one entry per generated token.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(deserialize_with = "super::budget::vec")]
    pub id: Vec<i32>,
    #[serde(deserialize_with = "super::budget::vec")]
    pub text: Vec<CompactString>,
    /// The statistics columns below are absent where the run's source could
    /// not give them (`stats`); an absent column reads as empty.
    #[serde(default = "Column::absent", skip_serializing_if = "Column::is_absent")]
    pub logprob: Column<f32>,
    /// Exact entropy, or its lower bound in a top-k run.
    #[serde(default = "Column::absent", skip_serializing_if = "Column::is_absent")]
    pub entropy: Column<f32>,
    #[serde(default = "Column::absent", skip_serializing_if = "Column::is_absent")]
    pub self_certainty: Column<f32>,
    #[serde(default = "Column::absent", skip_serializing_if = "Column::is_absent")]
    pub confidence: Column<f32>,
    #[serde(default = "Rows::absent", skip_serializing_if = "Rows::is_absent")]
    pub top_id: Rows<i32>,
    #[serde(default = "Rows::absent", skip_serializing_if = "Rows::is_absent")]
    pub top_text: Rows<CompactString>,
    #[serde(default = "Rows::absent", skip_serializing_if = "Rows::is_absent")]
    pub top_logprob: Rows<f32>,
    /// Top-k runs: an upper bound of the entropy (methods.md).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::budget::opt_vec"
    )]
    pub entropy_hi: Option<Vec<f32>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::budget::opt_vec"
    )]
    pub kl_ref: Option<Vec<f32>>,
}

/// A statistics column a run may lack: `absent()` when the file had none
/// (it then reads as an empty slice and is not written back).
#[derive(Debug, Clone, PartialEq)]
pub struct Column<T>(Option<Vec<T>>);

impl<T> Default for Column<T> {
    /// Present and empty (a column being filled).
    fn default() -> Self {
        Column(Some(Vec::new()))
    }
}

impl<T> Column<T> {
    pub fn absent() -> Self {
        Column(None)
    }

    pub fn is_absent(&self) -> bool {
        self.0.is_none()
    }

    /// Append a value; `None` marks the column absent (a source that cannot
    /// give it). Mixing both leaves a length that validation refuses.
    pub fn push_opt(&mut self, v: Option<T>) {
        match (v, &mut self.0) {
            (Some(v), Some(col)) => col.push(v),
            (Some(v), None) => self.0 = Some(vec![v]),
            (None, Some(col)) if col.is_empty() => self.0 = None,
            (None, _) => {}
        }
    }

    pub fn push(&mut self, v: T) {
        self.push_opt(Some(v));
    }

    pub fn truncate(&mut self, n: usize) {
        if let Some(c) = &mut self.0 {
            c.truncate(n);
        }
    }

    pub fn shrink_to_fit(&mut self) {
        if let Some(c) = &mut self.0 {
            c.shrink_to_fit();
        }
    }

    /// Room for `n` more values (nothing for an absent column).
    pub fn reserve_exact(&mut self, n: usize) {
        if let Some(c) = &mut self.0 {
            c.reserve_exact(n);
        }
    }
}

impl<T> From<Vec<T>> for Column<T> {
    fn from(v: Vec<T>) -> Self {
        Column(Some(v))
    }
}

impl<T> std::ops::Deref for Column<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl<'a, T> IntoIterator for &'a Column<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Serialize> Serialize for Column<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_deref().unwrap_or(&[]).serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Column<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::budget::vec(d).map(|v| Column(Some(v)))
    }
}

impl Tokens {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// Empty columns whose alternatives rows hold `width` entries each.
    pub fn with_width(width: usize) -> Self {
        Tokens {
            top_id: Rows::new(width),
            top_text: Rows::new(width),
            top_logprob: Rows::new(width),
            ..Default::default()
        }
    }

    /// Room for `n` more rows of alternatives.
    pub fn reserve_rows(&mut self, n: usize) {
        let w = self.top_id.width;
        // A hint, not a promise: a long path's length times a first token
        // of 10 000 alternatives once asked for hundreds of GB at once.
        const MOST: usize = 1 << 22;
        let n = n.min(MOST / w.max(1));
        self.top_id.data.reserve_exact(n * w);
        self.top_text.data.reserve_exact(n * w);
        self.top_logprob.data.reserve_exact(n * w);
    }

    /// Keep the `width` best alternatives of every token.
    pub fn narrow_rows(&mut self, width: usize) {
        self.top_id.narrow(width);
        self.top_text.narrow(width);
        self.top_logprob.narrow(width);
    }

    /// Drop the spare capacity that growing the columns while parsing left
    /// (up to half of each), so that a loaded run holds what it contains.
    pub fn shrink_to_fit(&mut self) {
        self.id.shrink_to_fit();
        self.text.shrink_to_fit();
        self.logprob.shrink_to_fit();
        self.entropy.shrink_to_fit();
        self.self_certainty.shrink_to_fit();
        self.confidence.shrink_to_fit();
        self.top_id.data.shrink_to_fit();
        self.top_text.data.shrink_to_fit();
        self.top_logprob.data.shrink_to_fit();
        if let Some(kl) = &mut self.kl_ref {
            kl.shrink_to_fit();
        }
        if let Some(hi) = &mut self.entropy_hi {
            hi.shrink_to_fit();
        }
    }

    /// Keep the first `n` tokens (used when forking a path at a token).
    pub fn truncate(&mut self, n: usize) {
        self.id.truncate(n);
        self.text.truncate(n);
        self.logprob.truncate(n);
        self.entropy.truncate(n);
        self.self_certainty.truncate(n);
        self.confidence.truncate(n);
        self.top_id.truncate_rows(n);
        self.top_text.truncate_rows(n);
        self.top_logprob.truncate_rows(n);
        if let Some(kl) = &mut self.kl_ref {
            kl.truncate(n);
        }
        if let Some(hi) = &mut self.entropy_hi {
            hi.truncate(n);
        }
    }
}

/// A list of equal-width rows stored flat (row-major). In JSON it is an
/// array of arrays. Rows of another width are accepted when reading (they are
/// left out of the data and noted in `ragged`) so that validation, not the
/// parser, reports the problem with its field path.
#[derive(Debug, Clone, Default)]
pub struct Rows<T> {
    width: usize,
    data: Vec<T>,
    /// Lengths of rows whose width differs from `width` (index, len); empty
    /// for every well-formed file.
    ragged: Vec<(usize, usize)>,
    n_rows: usize,
    /// Read for analysis only: the rows were counted and measured but their
    /// values not kept (see `read_run_for_analysis`).
    values_skipped: bool,
    /// The file had no such column (a text-only run); not written back.
    absent: bool,
}

impl<T: Clone> Rows<T> {
    pub fn new(width: usize) -> Self {
        Rows {
            width,
            data: Vec::new(),
            ragged: Vec::new(),
            n_rows: 0,
            values_skipped: false,
            absent: false,
        }
    }

    pub fn absent() -> Self {
        Rows {
            absent: true,
            ..Rows::new(0)
        }
    }

    pub fn is_absent(&self) -> bool {
        self.absent
    }

    /// Whether the values were left unread (a run read for analysis only).
    pub fn values_skipped(&self) -> bool {
        self.values_skipped
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn len(&self) -> usize {
        self.n_rows
    }

    pub fn is_empty(&self) -> bool {
        self.n_rows == 0
    }

    /// The first row whose length differs from the width, if any.
    pub fn first_ragged(&self) -> Option<(usize, usize)> {
        self.ragged.first().copied()
    }

    /// Row `i`; empty for a ragged row, or when the values were skipped.
    pub fn row(&self, i: usize) -> &[T] {
        if !self.ragged.is_empty() || self.values_skipped {
            return &[];
        }
        &self.data[i * self.width..(i + 1) * self.width]
    }

    /// Append a row; it must have `width` entries.
    pub fn push_row(&mut self, row: &[T]) {
        debug_assert_eq!(row.len(), self.width);
        self.data.extend_from_slice(row);
        self.n_rows += 1;
        self.absent = false;
    }

    /// Append a row given as `width` values (no temporary row).
    pub fn push_row_iter(&mut self, row: impl IntoIterator<Item = T>) {
        let before = self.data.len();
        self.data.extend(row);
        debug_assert_eq!(self.data.len() - before, self.width);
        self.n_rows += 1;
        self.absent = false;
    }

    /// Keep the first `width` entries of every row (no-op when not
    /// narrower, or for ragged rows).
    pub fn narrow(&mut self, width: usize) {
        if width >= self.width || !self.ragged.is_empty() {
            return;
        }
        let old = self.width;
        let mut i = 0;
        self.data.retain(|_| {
            i += 1;
            (i - 1) % old < width
        });
        self.width = width;
    }

    pub fn truncate_rows(&mut self, n: usize) {
        if n < self.n_rows && self.ragged.is_empty() {
            self.data.truncate(n * self.width);
            self.n_rows = n;
        }
    }
}

/// Equal content; the width of an empty list does not matter (JSON `[]`
/// does not carry it).
impl<T: PartialEq> PartialEq for Rows<T> {
    fn eq(&self, other: &Self) -> bool {
        self.n_rows == other.n_rows
            && self.values_skipped == other.values_skipped
            && self.data == other.data
            && self.ragged == other.ragged
            && self.absent == other.absent
            && (self.width == other.width || self.n_rows == 0)
    }
}

impl<T: Serialize + Clone> Serialize for Rows<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        if self.values_skipped {
            // Writing it would lose the alternatives the file had.
            return Err(S::Error::custom(
                "the alternatives of this run were not loaded (read for analysis only)",
            ));
        }
        let mut seq = s.serialize_seq(Some(self.n_rows))?;
        for i in 0..self.n_rows {
            seq.serialize_element(self.row(i))?;
        }
        seq.end()
    }
}

impl<'de, T: Deserialize<'de> + Clone> Deserialize<'de> for Rows<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Clone> serde::de::Visitor<'de> for V<T> {
            type Value = Rows<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of arrays")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Rows<T>, A::Error> {
                let mut rows = Rows::new(0);
                // Read for analysis only: rows are counted and measured
                // (validation checks their shape), their values not kept.
                rows.values_skipped = SKIP_ALTERNATIVES.get();
                loop {
                    // Each kept row is appended in place (no Vec per row: a
                    // run file holds one row per token in each of three
                    // columns).
                    let len = if rows.values_skipped {
                        seq.next_element_seed(CountRow)?
                    } else {
                        seq.next_element_seed(AppendRow(&mut rows.data, rows.width))?
                    };
                    let Some(len) = len else { break };
                    if rows.n_rows == 0 {
                        rows.width = len;
                        // Grow in whole rows from here on, as appending a
                        // parsed row would.
                        rows.data.shrink_to_fit();
                    } else if len != rows.width {
                        // Kept out of `data`, which holds only full-width
                        // rows (and nothing when values are skipped).
                        rows.data.truncate(rows.data.len().saturating_sub(len));
                        super::budget::charge::<(usize, usize), A::Error>(1)?;
                        rows.ragged.push((rows.n_rows, len));
                    }
                    rows.n_rows += 1;
                }
                Ok(rows)
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

std::thread_local! {
    /// Set while a run is read for analysis only: alternatives rows are then
    /// counted, not stored (analysis never reads them; they are most of a
    /// run file's values).
    static SKIP_ALTERNATIVES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `f` with the alternatives rows (`top_id`, `top_text`, `top_logprob`) of
/// every run it parses on this thread counted and measured, not stored.
pub(crate) fn with_alternatives_skipped<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SKIP_ALTERNATIVES.set(self.0);
        }
    }
    let _restore = Restore(SKIP_ALTERNATIVES.replace(true));
    f()
}

/// Deserializes one JSON array without keeping its entries; yields their
/// number.
struct CountRow;

impl<'de> serde::de::DeserializeSeed<'de> for CountRow {
    type Value = usize;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CountRow {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}

/// Deserializes one JSON array by appending its entries to a Vec, with
/// room reserved for the expected row width first; yields how many it
/// appended.
struct AppendRow<'a, T>(&'a mut Vec<T>, usize);

impl<'de, T: Deserialize<'de>> serde::de::DeserializeSeed<'de> for AppendRow<'_, T> {
    type Value = usize;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for AppendRow<'_, T> {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let start = self.0.len();
        self.0.reserve(self.1);
        while let Some(v) = seq.next_element::<T>()? {
            super::budget::charge::<T, A::Error>(1)?;
            self.0.push(v);
        }
        Ok(self.0.len() - start)
    }
}

impl Run {
    /// Number of user messages, i.e. turns each path answers.
    pub fn n_turns(&self) -> usize {
        self.conversation
            .iter()
            .filter(|m| m.role == Role::User)
            .count()
    }

    /// Where the statistics came from (absent `stats`: the full distribution).
    pub fn stats_source(&self) -> StatsSource {
        self.stats.unwrap_or(StatsSource::FULL)
    }

    /// Whether `tokens.entropy` holds lower bounds (a top-k run), not exact
    /// entropies.
    pub fn tokens_have_entropy_bounds(&self) -> bool {
        self.stats_source().source == Source::TopK
    }

    /// A field's value as shown to people: "?" where an import did not
    /// hold it (the file has a placeholder there, e.g. `sampling.top_k`).
    pub fn shown(&self, field: &str, value: impl std::fmt::Display) -> String {
        if self.import.as_ref().is_some_and(|i| i.is_unknown(field)) {
            "?".into()
        } else {
            value.to_string()
        }
    }

    /// The user message of turn `t` as shown to people: an imported run
    /// whose file held no prompt says so instead of showing nothing.
    pub fn user_message(&self, t: usize) -> Option<String> {
        let m = self
            .conversation
            .iter()
            .filter(|m| m.role == Role::User)
            .nth(t)?;
        if m.content.is_empty() && self.import.as_ref().is_some_and(|i| i.is_unknown("prompt")) {
            return Some(
                "(prompt unknown: the imported file does not hold it; import with --prompt)".into(),
            );
        }
        Some(m.content.clone())
    }

    /// The gold answer of turn `t`, when known.
    pub fn gold_for(&self, t: usize) -> Option<&str> {
        self.gold.as_ref()?.get(t)?.as_deref()
    }

    /// Total generated tokens over all paths and turns.
    pub fn total_tokens(&self) -> usize {
        self.paths
            .iter()
            .flat_map(|p| &p.turns)
            .map(|t| t.tokens.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_hint_is_capped() {
        // A trillion rows of 10 000 alternatives asked for: at most 2^22
        // cells are reserved (it aborted the process before).
        let mut t = Tokens {
            top_id: Rows::new(10_000),
            ..Tokens::default()
        };
        t.reserve_rows(1 << 40);
        assert!(t.top_id.data.capacity() <= 1 << 22);
        t.reserve_rows(3);
        assert!(t.top_id.data.capacity() >= 30_000);
    }

    #[test]
    fn rows_read_flat_and_keep_ragged_rows_out() {
        let r: Rows<i32> = serde_json::from_str("[[1, 2], [3, 4], [5, 6]]").unwrap();
        assert_eq!((r.len(), r.width(), r.row(1)), (3, 2, &[3, 4][..]));
        assert_eq!(r.first_ragged(), None);
        let r: Rows<i32> = serde_json::from_str("[[1, 2], [3], [4, 5, 6], [7, 8]]").unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r.first_ragged(), Some((1, 1)));
        assert_eq!(r.data, vec![1, 2, 7, 8]);
        let r: Rows<i32> = serde_json::from_str("[]").unwrap();
        assert!(r.is_empty());
        assert!(serde_json::from_str::<Rows<i32>>("[[1, \"x\"]]").is_err());
    }
}
