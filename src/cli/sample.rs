use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{Backend, DecodingMethod, EngineConfig, Event, LiveRun, SampleRequest, Worker};
use crate::run::{write_run, Message, Role, Run};

/// Arguments of `reasonscope sample` (parsed by main.rs).
#[derive(Debug, Clone)]
pub struct SampleArgs {
    pub backend: Backend,
    pub request: SampleRequest,
    pub output: PathBuf,
    pub threads: Option<u32>,
    pub kv_unified: bool,
    pub quiet: bool,
    /// Where the live run is autosaved (default: next to the output).
    pub autosave: Option<PathBuf>,
    pub autosave_secs: f64,
}

pub use crate::run::conversation::Gold;

/// The conversation and per-turn gold answers from the command line:
/// `--system`, `--prompt` and each `--turn` (in that order), or a
/// `--conversation` file; `--gold` once per user message ("" or "-" for
/// a turn without one).
pub fn conversation_from_args(
    system: Option<String>,
    prompt: Option<String>,
    turns: Vec<String>,
    file: Option<&Path>,
    gold: Vec<String>,
) -> anyhow::Result<(Vec<Message>, Gold)> {
    let (mut conversation, file_gold) = match file {
        Some(path) => {
            if prompt.is_some() || !turns.is_empty() {
                bail!("give the user messages either with --prompt/--turn or in --conversation, not both");
            }
            let bytes = crate::run::read_bounded(path).map_err(|e| {
                anyhow::anyhow!("cannot read conversation file {}: {e}", path.display())
            })?;
            crate::run::conversation::parse_conversation(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => {
            let users: Vec<Message> = prompt
                .into_iter()
                .chain(turns)
                .map(|content| Message {
                    role: Role::User,
                    content,
                })
                .collect();
            if users.is_empty() {
                bail!("give a user message with --prompt or --turn (repeat --turn for a multi-turn conversation), or a --conversation file");
            }
            (users, None)
        }
    };
    if let Some(sys) = system.filter(|s| !s.trim().is_empty()) {
        if conversation.first().map(|m| m.role) == Some(Role::System) {
            bail!("--system given but the conversation file already starts with a system message");
        }
        conversation.insert(
            0,
            Message {
                role: Role::System,
                content: sys,
            },
        );
    }
    let n_turns = conversation.iter().filter(|m| m.role == Role::User).count();
    if n_turns == 0 {
        bail!("the conversation has no user message");
    }
    let gold = if gold.is_empty() {
        file_gold
    } else {
        if gold.len() != n_turns {
            bail!(
                "{} --gold for {n_turns} user messages: give --gold once per turn (\"-\" for a turn without one)",
                gold.len()
            );
        }
        Some(
            gold.into_iter()
                .map(|g| Some(g).filter(|g| !g.is_empty() && g != "-"))
                .collect(),
        )
    };
    Ok((conversation, gold))
}

fn check_output(path: &Path) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!(
            "cannot write {}: folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    check_writable(dir).with_context(|| format!("cannot write {}", path.display()))
}

/// Fail now, not after sampling, when `dir` takes no files (read-only, no
/// permission, full): a file is created and removed there.
pub(crate) fn check_writable(dir: &Path) -> anyhow::Result<()> {
    let probe = dir.join(format!(".reasonscope-write-check.{}", std::process::id()));
    let result = std::fs::File::create(&probe).and_then(|mut f| {
        use std::io::Write;
        f.write_all(b"reasonscope")?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    result.with_context(|| format!("folder {} takes no files", dir.display()))
}

/// `reasonscope sample`: sample N paths through the worker thread, show
/// progress on stderr, write the run. Ctrl-C stops sampling and still writes
/// every token sampled so far; meanwhile an autosave is kept up to date.
pub fn sample(args: &SampleArgs) -> anyhow::Result<Run> {
    check_output(&args.output)?;
    let req = args.request.clone();
    crate::engine::validate_request(&req)?;
    if let Backend::Server(_) = &args.backend {
        if let Some(why) = crate::engine::remote::refusal(&req) {
            bail!(why);
        }
    }
    let drive = Drive {
        backend: args.backend.clone(),
        threads: args.threads,
        kv_unified: args.kv_unified,
        quiet: args.quiet,
        total_paths: req.n_paths,
        autosave: args
            .autosave
            .clone()
            .unwrap_or_else(|| autosave_path(&args.output)),
        autosave_secs: args.autosave_secs,
    };
    let run = drive.run(|w| w.sample(req.clone()))?;
    finish_output(&run, &args.output, &drive, args.quiet)?;
    Ok(run)
}

/// `{stem}.autosave.json.gz` next to the output.
pub fn autosave_path(output: &Path) -> PathBuf {
    let stem = crate::run::run_file_stem(output);
    let stem = if stem.is_empty() { "run" } else { &stem };
    output.with_file_name(format!("{stem}.autosave.json.gz"))
}

/// An autosave left by a run that was killed or crashed is moved aside
/// (`{stem}.interrupted.json.gz`, then `-2`, `-3`, …) before this run's
/// first autosave would replace it; where it went, if there was one.
pub fn keep_interrupted(autosave: &Path) -> anyhow::Result<Option<PathBuf>> {
    if !autosave.exists() {
        return Ok(None);
    }
    let stem = crate::run::run_file_stem(autosave);
    let stem = stem.strip_suffix(".autosave").unwrap_or(&stem);
    let kept = (1..)
        .map(|k| match k {
            1 => autosave.with_file_name(format!("{stem}.interrupted.json.gz")),
            k => autosave.with_file_name(format!("{stem}.interrupted-{k}.json.gz")),
        })
        .find(|p| !p.exists())
        .expect("a free name");
    std::fs::rename(autosave, &kept).with_context(|| {
        format!(
            "{} holds a run that was interrupted and cannot be moved aside (move it away, or open it with `reasonscope {}`)",
            autosave.display(),
            autosave.display()
        )
    })?;
    Ok(Some(kept))
}

fn finish_output(run: &Run, output: &Path, drive: &Drive, quiet: bool) -> anyhow::Result<()> {
    write_run(run, output)?;
    // The final file holds everything the autosave held.
    let _ = std::fs::remove_file(&drive.autosave);
    if !quiet {
        eprintln!(
            "wrote {} ({} paths, {} tokens)",
            output.display(),
            run.paths.len(),
            run.total_tokens()
        );
    }
    Ok(())
}

/// How a CLI command drives the engine: model, threads, progress, autosave.
pub struct Drive {
    pub backend: Backend,
    pub threads: Option<u32>,
    pub kv_unified: bool,
    pub quiet: bool,
    pub total_paths: u32,
    pub autosave: PathBuf,
    pub autosave_secs: f64,
}

impl Drive {
    /// Load the model, send the first command once it is loaded, stream
    /// events until the run finishes.
    pub fn run(
        &self,
        start: impl Fn(&Worker) -> Result<(), crate::engine::EngineError>,
    ) -> anyhow::Result<Run> {
        if let Some(kept) = keep_interrupted(&self.autosave)? {
            eprintln!(
                "note: {} held a run that was interrupted; kept as {} (open it with `reasonscope {}`)",
                self.autosave.display(),
                kept.display(),
                kept.display()
            );
        }
        let mut config = EngineConfig {
            kv_unified: self.kv_unified,
            ..EngineConfig::default()
        };
        if let Some(t) = self.threads {
            config.n_threads = t.max(1);
        }
        let worker = Worker::spawn(config, None).context("cannot start the engine thread")?;
        let bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(u64::from(self.total_paths))
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} paths {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(match self.backend {
            Backend::Local(_) => "loading model",
            Backend::Server(_) => "connecting",
        });
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        let cancel_requested = cancel_hook("keeping every token sampled so far");
        worker.open(&self.backend)?;
        let mut live = LiveRun::default();
        let mut last_save = Instant::now();
        let mut sent = false;
        let mut result = None;
        let mut error = None;
        let mut cancelled = false;
        loop {
            let Ok(ev) = worker.next_event(std::time::Duration::from_millis(200)) else {
                break;
            };
            if let Some(ev) = ev {
                live.apply(&ev);
                match ev {
                    Event::ModelLoaded { device, .. } => {
                        if !device.is_empty() && !self.quiet {
                            bar.suspend(|| eprintln!("{device}"));
                        }
                        bar.set_prefix("sampling");
                        start(&worker)?;
                        sent = true;
                    }
                    Event::Token(_) if live.tokens % 8 == 0 => {
                        bar.set_message(progress_message(live.tokens, live.rate()))
                    }
                    Event::PathFinished { done: true, .. } => bar.inc(1),
                    Event::RunFinished { run } => {
                        result = Some(*run);
                        break;
                    }
                    Event::Error { message } => {
                        if !sent || live.run.is_none() {
                            error = Some(message);
                            break;
                        }
                        // A mid-run failure: the run still arrives with its tokens.
                        if self.quiet {
                            eprintln!("error: {message}");
                        } else {
                            bar.println(format!("error: {message}"));
                        }
                    }
                    _ => {}
                }
            }
            if live.run.is_some() && last_save.elapsed().as_secs_f64() >= self.autosave_secs {
                if let Some(snap) = live.snapshot() {
                    if let Err(e) = write_run(&snap, &self.autosave) {
                        bar.println(format!("warning: autosave failed: {e}"));
                    }
                }
                last_save = Instant::now();
            }
            if !cancelled && cancel_requested() {
                worker.cancel();
                cancelled = true;
            }
        }
        bar.set_message(progress_message(live.tokens, live.rate()));
        bar.finish();
        if let Some(e) = error {
            bail!(e);
        }
        result.context("the engine stopped without a run")
    }
}

/// `reasonscope fork`: continue a path of a run from one of its tokens.
#[allow(clippy::too_many_arguments)]
pub fn fork(
    run_path: &Path,
    path: usize,
    turn: usize,
    token: usize,
    m: u32,
    backend: Backend,
    output: &Path,
    autosave_secs: f64,
    threads: Option<u32>,
    quiet: bool,
) -> anyhow::Result<Run> {
    check_output(output)?;
    let run = crate::run::read_run(run_path)?;
    if path >= run.paths.len() {
        bail!(
            "path {path} does not exist (the run has {} paths)",
            run.paths.len()
        );
    }
    let model_file = match &backend {
        Backend::Local(model) => model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Backend::Server(_) => run.model.file.clone(),
    };
    if model_file != run.model.file && !quiet {
        eprintln!(
            "warning: the run was sampled with {}, forking with {model_file}",
            run.model.file
        );
    }
    let drive = Drive {
        backend: backend.clone(),
        threads,
        kv_unified: run.engine.as_ref().is_some_and(|e| e.kv_unified),
        quiet,
        total_paths: m,
        autosave: autosave_path(output),
        autosave_secs,
    };
    let forked = drive.run(|w| w.fork(run.clone(), path, turn, token, m))?;
    finish_output(&forked, output, &drive, quiet)?;
    Ok(forked)
}

fn progress_message(tokens: usize, rate: f64) -> String {
    format!("{tokens} tokens, {rate:.1} tokens/s")
}

/// Ctrl-C sets a flag that the event loop turns into a cancel; a second
/// Ctrl-C exits at once.
pub(crate) fn cancel_hook(message: &'static str) -> impl Fn() -> bool {
    use std::sync::atomic::{AtomicU32, Ordering};
    static HITS: AtomicU32 = AtomicU32::new(0);
    let _ = ctrlc::set_handler(move || {
        if HITS.fetch_add(1, Ordering::SeqCst) >= 1 {
            std::process::exit(130);
        }
        eprintln!("\nstopping: {message} (Ctrl-C again to quit)");
    });
    || HITS.load(Ordering::SeqCst) > 0
}

/// The decoding method from the CLI's name and its DeepConf settings.
pub fn decoding_method(name: &str, warmup: u32, window: u32) -> DecodingMethod {
    match DecodingMethod::parse(name, window) {
        Ok(DecodingMethod::DeepConfOnline { window, .. }) => {
            DecodingMethod::DeepConfOnline { warmup, window }
        }
        Ok(m) => m,
        // clap only lets the listed names through.
        Err(_) => DecodingMethod::Plain,
    }
}
