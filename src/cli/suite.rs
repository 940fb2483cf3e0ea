//! `reasonscope suite`: sample every question of a JSONL suite into a folder,
//! one run per question (`ID.json.gz`). Resumable: a question whose run file
//! is already there (and reads) is skipped, and a run is written only once
//! complete (atomically), so an interrupted suite leaves no half runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{Backend, EngineConfig, Event, SampleRequest, Worker};
use crate::run::{read_run, read_suite, write_run, AnswerSpec, Question};

/// Arguments of `reasonscope suite`: the questions, the output folder and
/// the sampling settings every question gets (`template.conversation` and
/// `gold` are replaced per question).
pub struct SuiteArgs {
    pub backend: Backend,
    pub questions: PathBuf,
    pub output: PathBuf,
    pub template: SampleRequest,
    pub threads: Option<u32>,
    pub quiet: bool,
}

/// What a suite command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteOutcome {
    pub total: usize,
    pub skipped: usize,
    pub sampled: usize,
    pub failed: Vec<String>,
    pub interrupted: bool,
}

/// The run file of a question.
pub fn run_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.json.gz"))
}

fn request_for(template: &SampleRequest, q: &Question) -> SampleRequest {
    SampleRequest {
        conversation: q.conversation.clone(),
        gold: q.gold.clone(),
        title: Some(q.id.clone()),
        answer: template.answer.clone().or(Some(AnswerSpec::Auto)),
        ..template.clone()
    }
}

pub fn suite(args: &SuiteArgs) -> anyhow::Result<SuiteOutcome> {
    let questions = read_suite(&args.questions).map_err(anyhow::Error::msg)?;
    for q in &questions {
        let req = request_for(&args.template, q);
        crate::engine::validate_request(&req).with_context(|| format!("question {}", q.id))?;
        if let (Backend::Server(_), Some(why)) =
            (&args.backend, crate::engine::remote::refusal(&req))
        {
            bail!("question {}: {why}", q.id);
        }
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create the folder {}", args.output.display()))?;
    super::sample::check_writable(&args.output)?;
    let pending: Vec<&Question> = questions
        .iter()
        .filter(|q| read_run(&run_path(&args.output, &q.id)).is_err())
        .collect();
    let mut outcome = SuiteOutcome {
        total: questions.len(),
        skipped: questions.len() - pending.len(),
        sampled: 0,
        failed: Vec::new(),
        interrupted: false,
    };
    let say = |bar: &ProgressBar, m: String| {
        if !args.quiet {
            bar.println(m);
        }
    };
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(questions.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:30}] {pos}/{len} questions, {elapsed} elapsed, ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_position(outcome.skipped as u64);
    if outcome.skipped > 0 {
        say(
            &bar,
            format!(
                "{} of {} questions already in {}: skipped",
                outcome.skipped,
                questions.len(),
                args.output.display()
            ),
        );
    }
    if pending.is_empty() {
        bar.finish_and_clear();
        return Ok(outcome);
    }
    let mut config = EngineConfig::default();
    if let Some(t) = args.threads {
        config.n_threads = t.max(1);
    }
    let worker = Worker::spawn(config, None).context("cannot start the engine thread")?;
    bar.set_prefix("loading model");
    bar.enable_steady_tick(Duration::from_millis(200));
    // Progress (and the ETA) count only what this invocation samples.
    bar.reset_eta();
    let cancel_requested = super::sample::cancel_hook(
        "the question being sampled is not written; finished ones are kept",
    );
    worker.open(&args.backend)?;
    wait_for_model(&worker)?;
    bar.set_prefix("sampling");
    for q in pending {
        if cancel_requested() {
            outcome.interrupted = true;
            break;
        }
        worker.sample(request_for(&args.template, q))?;
        let start = Instant::now();
        let mut tokens = 0usize;
        let mut cancelled = false;
        let result = loop {
            let Some(ev) = worker.next_event(Duration::from_millis(200))? else {
                if !cancelled && cancel_requested() {
                    worker.cancel();
                    cancelled = true;
                }
                continue;
            };
            match ev {
                Event::Token(_) => {
                    tokens += 1;
                    if tokens.is_multiple_of(16) {
                        let rate = tokens as f64 / start.elapsed().as_secs_f64().max(1e-3);
                        bar.set_message(format!("{}: {tokens} tokens, {rate:.0} tokens/s", q.id));
                    }
                }
                Event::RunFinished { run } => break Ok(*run),
                Event::Error { message } => {
                    // Mid-run failures still deliver the run; only a run that
                    // never started ends here.
                    if tokens == 0 {
                        break Err(message);
                    }
                    say(&bar, format!("{}: {message}", q.id));
                }
                _ => {}
            }
            if !cancelled && cancel_requested() {
                worker.cancel();
                cancelled = true;
            }
        };
        if cancelled {
            outcome.interrupted = true;
            break;
        }
        match result {
            Ok(run) => {
                let path = run_path(&args.output, &q.id);
                write_run(&run, &path).with_context(|| format!("question {}", q.id))?;
                outcome.sampled += 1;
                bar.inc(1);
            }
            Err(message) => {
                say(&bar, format!("question {} failed: {message}", q.id));
                outcome.failed.push(q.id.clone());
            }
        }
    }
    bar.finish_and_clear();
    if !args.quiet {
        let done = outcome.skipped + outcome.sampled;
        eprintln!(
            "{done} of {} questions in {}{}",
            outcome.total,
            args.output.display(),
            if outcome.interrupted {
                " (interrupted: run the same command again to finish the rest)"
            } else {
                ""
            }
        );
    }
    Ok(outcome)
}

fn wait_for_model(worker: &Worker) -> anyhow::Result<()> {
    loop {
        match worker.events().recv() {
            Ok(Event::ModelLoaded { .. }) => return Ok(()),
            Ok(Event::Error { message }) => bail!(message),
            Ok(_) => {}
            Err(_) => bail!("the engine thread stopped"),
        }
    }
}
