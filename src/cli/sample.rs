use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{EngineConfig, Event, SampleRequest, SamplerParams, Worker};
use crate::run::{write_run, AnswerSpec, Message, Role, Run};

/// Arguments of `reasonscope sample` (parsed by main.rs).
#[derive(Debug, Clone)]
pub struct SampleArgs {
    pub model: PathBuf,
    pub prompt: String,
    pub system: Option<String>,
    pub n_paths: u32,
    pub max_tokens: u32,
    pub temperature: f32,
    pub top_k: u32,
    pub top_p: f32,
    pub min_p: f32,
    pub seed: u64,
    pub top_logprobs: u32,
    pub gold: Option<String>,
    pub answer_regex: Option<String>,
    pub title: Option<String>,
    pub output: PathBuf,
    pub threads: Option<u32>,
    pub kv_unified: bool,
    pub quiet: bool,
}

impl SampleArgs {
    pub fn request(&self) -> SampleRequest {
        let mut conversation = Vec::new();
        if let Some(sys) = &self.system {
            conversation.push(Message {
                role: Role::System,
                content: sys.clone(),
            });
        }
        conversation.push(Message {
            role: Role::User,
            content: self.prompt.clone(),
        });
        SampleRequest {
            conversation,
            n_paths: self.n_paths,
            sampler: SamplerParams {
                temperature: self.temperature,
                top_k: self.top_k,
                top_p: self.top_p,
                min_p: self.min_p,
            },
            seed: self.seed,
            max_tokens: self.max_tokens,
            top_logprobs: self.top_logprobs,
            gold: self.gold.clone().map(|g| vec![Some(g)]),
            title: self.title.clone(),
            answer: self
                .answer_regex
                .clone()
                .map(|pattern| AnswerSpec::Regex { pattern }),
        }
    }
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
    Ok(())
}

/// `reasonscope sample`: sample N paths through the worker thread, show
/// progress on stderr, write the run. Ctrl-C stops sampling and still writes
/// every token sampled so far.
pub fn sample(args: &SampleArgs) -> anyhow::Result<Run> {
    check_output(&args.output)?;
    let req = args.request();
    crate::engine::validate_request(&req)?;
    let mut config = EngineConfig {
        kv_unified: args.kv_unified,
        ..EngineConfig::default()
    };
    if let Some(t) = args.threads {
        config.n_threads = t.max(1);
    }
    let worker = Worker::spawn(config, None).context("cannot start the engine thread")?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(u64::from(args.n_paths))
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} paths {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix("loading model");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let cancel_worker = worker_cancel_hook(&worker);
    worker.load_model(&args.model)?;
    let mut started = None;
    let mut tokens = 0u64;
    let mut sent_sample = false;
    let mut result = None;
    let mut error = None;
    for ev in worker.events().iter() {
        match ev {
            Event::ModelLoaded { .. } => {
                bar.set_prefix("sampling");
                worker.sample(req.clone())?;
                sent_sample = true;
            }
            Event::RunStarted { .. } => started = Some(Instant::now()),
            Event::Token(_) => {
                tokens += 1;
                if tokens % 8 == 0 {
                    bar.set_message(progress_message(tokens, started));
                }
            }
            Event::PathFinished { .. } => bar.inc(1),
            Event::RunFinished { run } => {
                result = Some(*run);
                break;
            }
            Event::Error { message } => {
                if !sent_sample || started.is_none() {
                    error = Some(message);
                    break;
                }
                // A mid-run failure: the run still arrives with its tokens.
                if args.quiet {
                    eprintln!("error: {message}");
                } else {
                    bar.println(format!("error: {message}"));
                }
            }
            Event::ModelLoading { .. } | Event::PathStarted { .. } => {}
        }
        if cancel_worker() {
            worker.cancel();
        }
    }
    bar.set_message(progress_message(tokens, started));
    bar.finish();
    if let Some(e) = error {
        bail!(e);
    }
    let run = result.context("the engine stopped without a run")?;
    write_run(&run, &args.output)?;
    if !args.quiet {
        eprintln!(
            "wrote {} ({} paths, {} tokens)",
            args.output.display(),
            run.paths.len(),
            run.total_tokens()
        );
    }
    Ok(run)
}

fn progress_message(tokens: u64, started: Option<Instant>) -> String {
    let secs = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
    let rate = if secs > 0.0 {
        tokens as f64 / secs
    } else {
        0.0
    };
    format!("{tokens} tokens, {rate:.1} tokens/s")
}

/// Ctrl-C sets a flag that the event loop turns into a cancel; a second
/// Ctrl-C exits at once.
fn worker_cancel_hook(_w: &Worker) -> impl Fn() -> bool {
    use std::sync::atomic::{AtomicU32, Ordering};
    static HITS: AtomicU32 = AtomicU32::new(0);
    let _ = ctrlc::set_handler(|| {
        if HITS.fetch_add(1, Ordering::SeqCst) >= 1 {
            std::process::exit(130);
        }
        eprintln!("\nstopping: keeping every token sampled so far (Ctrl-C again to quit)");
    });
    || HITS.load(Ordering::SeqCst) > 0
}
