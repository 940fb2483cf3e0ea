//! Importing what other tools produced: one module per source format,
//! behind one detection function (`detect`) and one streaming driver
//! (`import`). Pure: reads bytes from a reader, hands out runs; the CLI and
//! the app decide where they go.

mod chat_fast;
pub mod entries;
mod jsonl;
mod llama_server;
mod lm_eval;
mod openai_chat;
mod openai_completion;
mod records;
mod sglang;
mod trace;
mod words;

use std::collections::HashMap;
use std::io::Read;

use serde_json::Value;

pub use jsonl::to_line as jsonl_line;
pub use records::{looks_like_run, Layout};
pub use trace::{Exact, Options, Sample, SamplingIn, TokenIn, Tokenizer, Trace};

use super::model::{Finish, Run};

/// A source format; `id()` is its `import.from` id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    LmEval,
    Jsonl,
    Sglang,
    LlamaServer,
    OpenAiCompletion,
    OpenAiChat,
}

impl Format {
    /// Most specific first: detection takes the first that fits.
    pub const ALL: [Format; 6] = [
        Format::LmEval,
        Format::Jsonl,
        Format::Sglang,
        Format::LlamaServer,
        Format::OpenAiCompletion,
        Format::OpenAiChat,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Format::LmEval => "lm-eval",
            Format::Jsonl => "jsonl",
            Format::Sglang => "sglang",
            Format::LlamaServer => "llama-server",
            Format::OpenAiCompletion => "openai-completion",
            Format::OpenAiChat => "openai-chat",
        }
    }

    fn check(self, v: &Value) -> Result<(), String> {
        if !(v.is_object() || self == Format::Sglang && v.is_array()) {
            return Err("not a JSON object".into());
        }
        match self {
            Format::LmEval => lm_eval::check(v),
            Format::Jsonl => jsonl::check(v),
            Format::Sglang => sglang::check(v),
            Format::LlamaServer => llama_server::check(v),
            Format::OpenAiCompletion => openai_completion::check(v),
            Format::OpenAiChat => openai_chat::check(v),
        }
    }

    fn convert(self, v: &Value) -> Result<Vec<Trace>, String> {
        match self {
            Format::LmEval => lm_eval::convert(v),
            Format::Jsonl => jsonl::convert(v),
            Format::Sglang => sglang::convert(v),
            Format::LlamaServer => llama_server::convert(v),
            Format::OpenAiCompletion => openai_completion::convert(v),
            Format::OpenAiChat => openai_chat::convert(v),
        }
    }
}

/// The format of one record, or why none fits (each format tried, and why
/// it failed on this record).
pub fn detect(v: &Value) -> Result<Format, String> {
    let mut why = Vec::new();
    for f in Format::ALL {
        match f.check(v) {
            Ok(()) => return Ok(f),
            Err(e) => why.push(format!("{}: {e}", f.id())),
        }
    }
    if v.get("format").is_some() {
        why.push(format!(
            "reasonscope run: `format` is {}, not \"reasonscope.run\"",
            v["format"]
        ));
    }
    Err(format!(
        "not a format reasonscope imports; tried {}",
        why.join("; ")
    ))
}

/// `finish_reason` as OpenAI-style APIs write it.
fn finish(reason: Option<&str>) -> Finish {
    match reason {
        Some("length") => Finish::Length,
        Some("abort" | "cancelled") => Finish::Cancelled,
        _ => Finish::Stop,
    }
}

/// A response's `choices`, in their `index` order (`n` choices = N paths).
fn choices_in_order(v: &Value) -> Vec<&Value> {
    let mut choices: Vec<&Value> = v
        .get("choices")
        .and_then(Value::as_array)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    choices.sort_by_key(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0));
    choices
}

/// A choice's sample: its text, tokens and `finish_reason`.
fn choice_sample(choice: &Value, text: String, tokens: Option<Vec<TokenIn>>) -> Sample {
    Sample {
        text,
        finish: finish(choice.get("finish_reason").and_then(Value::as_str)),
        tokens,
        exact: None,
        built: None,
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// One imported run and a name for its file (`record-0003`, `doc-12`).
#[derive(Debug)]
pub struct Imported {
    pub run: Run,
    pub name: String,
}

/// How an import went. `problems` name each bad record (file, record,
/// line, field); the good ones were imported.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub format: Option<&'static str>,
    pub records: u64,
    pub runs: u64,
    pub problems: Vec<String>,
    /// Problems past `MAX_PROBLEMS`, counted, not kept (a file of a
    /// million bad lines would otherwise hold a million messages).
    pub problems_left_out: u64,
}

/// The most problems an import keeps word for word.
pub const MAX_PROBLEMS: usize = 100;

impl Summary {
    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.problems_left_out += 1;
        }
    }
}

/// Progress of a streaming import: compressed bytes read so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

/// Import every record of `reader` (JSON, a JSON array, JSONL; gzip or
/// not), handing out each run as soon as it is complete so that memory
/// stays bounded by one prompt's runs. Fatal: nothing is recognised (the
/// message says what was tried on the first record). A bad record later on
/// is reported in `Summary::problems` and skipped; a truncated file ends
/// the import with a problem for its last record.
pub fn import(
    reader: impl Read,
    opts: &Options,
    on_run: &mut dyn FnMut(Imported),
    progress: Progress,
) -> Result<Summary, String> {
    let file = opts.file_name.clone();
    let mut sum = Summary::default();
    let mut format: Option<Format> = None;
    let mut fatal: Option<String> = None;
    // One run for the whole file when a prompt is given (every record
    // answers it) or SGLang's array of `n` samples.
    let mut merged: Option<Trace> = None;
    let mut seen_docs: HashMap<String, u64> = HashMap::new();
    // V for the typed fast path, which builds the columns as it parses.
    let vocab = opts
        .vocab
        .or_else(|| opts.tokenizer.map(|t| t.n_vocab()))
        .filter(|&v| v > 0);
    let mut emit =
        |trace: Trace, record: Option<u64>, name: String, sum: &mut Summary, f: Format| {
            let run = trace::to_run(trace, f.id(), record, opts).and_then(|run| {
                super::validate(&run).map(|()| run).map_err(|e| {
                    format!("the converted run is not valid ({e}); please report this")
                })
            });
            match run {
                Ok(run) => {
                    sum.runs += 1;
                    on_run(Imported { run, name });
                }
                Err(e) => sum.problem(match record {
                    Some(r) => format!("{file}: record {r}: {e}"),
                    None => format!("{file}: {e}"),
                }),
            }
        };
    records::read(reader, progress, &mut |rec: records::Record| {
        sum.records += 1;
        let several = rec.layout != Layout::Document;
        let at = if several {
            match rec.line {
                Some(l) => format!("{file}: record {} (line {l})", rec.index),
                None => format!("{file}: record {}", rec.index),
            }
        } else {
            file.clone()
        };
        let raw = match rec.value {
            Ok(v) => v,
            Err(e) => {
                if format.is_none() && rec.index == 1 {
                    fatal = Some(format!(
                        "{at}: not a run file or a trace reasonscope imports: {e}"
                    ));
                    return false;
                }
                sum.problem(format!("{at}: {e}"));
                return true;
            }
        };
        // Chat completion lines: the typed fast path.
        let fast = match (&raw, format) {
            (records::Raw::Line(b), None | Some(Format::OpenAiChat)) => {
                let t = chat_fast::convert(b, vocab);
                if t.is_some() {
                    format = Some(Format::OpenAiChat);
                }
                t
            }
            _ => None,
        };
        let (f, traces) = match fast {
            Some(t) => (Format::OpenAiChat, t),
            None => {
                let value = match raw.into_value() {
                    Ok(v) => v,
                    Err(e) if format.is_none() && rec.index == 1 => {
                        fatal = Some(format!(
                            "{at}: not a run file or a trace reasonscope imports: {e}"
                        ));
                        return false;
                    }
                    Err(e) => {
                        sum.problem(format!("{at}: {e}"));
                        return true;
                    }
                };
                let f = match (detect(&value), format) {
                    (Ok(f), None) => {
                        format = Some(f);
                        f
                    }
                    (Ok(f), Some(first)) if f == first => f,
                    (Ok(f), Some(first)) => {
                        sum.problem(format!(
                            "{at}: a {} record in a {} file (mixed formats are not imported together)",
                            f.id(),
                            first.id()
                        ));
                        return true;
                    }
                    (Err(e), None) => {
                        fatal = Some(format!("{at}: {e}"));
                        return false;
                    }
                    (Err(e), Some(first)) => {
                        sum.problem(format!("{at}: not a {} record ({e})", first.id()));
                        return true;
                    }
                };
                if f == Format::LmEval {
                    if let Some(k) = lm_eval::key(&value) {
                        if seen_docs.contains_key(&k) {
                            // The same document under another filter: same paths.
                            return true;
                        }
                        seen_docs.insert(k, rec.index);
                    }
                }
                match f.convert(&value) {
                    Ok(t) => (f, t),
                    Err(e) => {
                        sum.problem(format!("{at}: {e}"));
                        return true;
                    }
                }
            }
        };
        let merge_all = opts.prompt.is_some() && f != Format::LmEval && f != Format::Jsonl
            || (f == Format::Sglang && rec.layout == Layout::Array);
        for t in traces {
            if merge_all {
                let m = match &mut merged {
                    Some(m) => {
                        m.samples.extend(t.samples);
                        m
                    }
                    None => merged.insert(t),
                };
                // Bounded as it grows, not when the run is checked at the
                // end: a file of tiny records would otherwise all be held.
                if m.samples.len() > super::MAX_PATHS {
                    fatal = Some(format!(
                        "{at}: more than {} samples for one run, the most a run may hold{}",
                        super::MAX_PATHS,
                        if opts.prompt.is_some() {
                            " (without --prompt, each record is a run of its own)"
                        } else {
                            ""
                        }
                    ));
                    return false;
                }
            } else {
                let name = match (&t.title, f) {
                    (Some(title), Format::LmEval) => super::safe_file_stem(title),
                    _ if several => format!("record-{:04}", rec.index),
                    _ => "run".to_owned(),
                };
                emit(t, several.then_some(rec.index), name, &mut sum, f);
            }
        }
        true
    })
    .map_err(|e| format!("{file}: {e}"))?;
    if let Some(e) = fatal {
        return Err(e);
    }
    let Some(f) = format else {
        return Err(format!("{file}: holds no record (empty file)"));
    };
    if let Some(t) = merged {
        // One run from every record: no single record to name.
        emit(t, None, "run".into(), &mut sum, f);
    }
    sum.format = Some(f.id());
    if sum.problems_left_out > 0 {
        let more = sum.problems_left_out;
        sum.problems.push(format!("… and {more} more problems"));
    }
    if sum.runs == 0 && !sum.problems.is_empty() {
        return Err(sum.problems.join("\n"));
    }
    Ok(sum)
}
