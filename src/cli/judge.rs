//! `reasonscope judge`: ask the model again about a run's answers (P(True),
//! USC; methods.md) and record what it read in the run's `judgements`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use crate::analysis::{self, judged, AnalysisParams};
use crate::engine::{judging, Backend, EngineConfig, Event, Worker};
use crate::run::judgement::{JudgeTurn, JUDGED_METHODS};
use crate::run::{write_run, Run};

#[derive(Debug, Clone)]
pub struct JudgeArgs {
    pub run: PathBuf,
    pub methods: Vec<String>,
    pub backend: Backend,
    /// Where to write the judged run (default: the run file itself).
    pub output: Option<PathBuf>,
    /// Judge only this turn (0-based); default every turn.
    pub turn: Option<usize>,
    pub threads: Option<u32>,
    pub quiet: bool,
}

/// Method ids from "p_true,usc" (or "all"), checked.
pub fn parse_methods(list: &str) -> anyhow::Result<Vec<String>> {
    if list.trim() == "all" {
        return Ok(JUDGED_METHODS.iter().map(|m| (*m).to_owned()).collect());
    }
    let mut out = Vec::new();
    for m in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        if !JUDGED_METHODS.contains(&m) {
            bail!(
                "unknown judging method {m:?}; choose from {} (or all)",
                JUDGED_METHODS.join(", ")
            );
        }
        if !out.iter().any(|o| o == m) {
            out.push(m.to_owned());
        }
    }
    if out.is_empty() {
        bail!("--methods names no method");
    }
    Ok(out)
}

/// What judging `run` needs, turn by turn (every turn, or `only`).
pub fn inputs(run: &Run, only: Option<usize>) -> anyhow::Result<Vec<JudgeTurn>> {
    let n = run.n_turns();
    if let Some(t) = only {
        if t >= n {
            bail!("turn {}: the run has {n} turn(s)", t + 1);
        }
    }
    Ok(judged::inputs(run, only, &AnalysisParams::default()))
}

/// Judge `run` in place with the backend; returns it with its judgements.
pub fn judge_run(
    mut run: Run,
    inputs: Vec<JudgeTurn>,
    methods: &[String],
    backend: &Backend,
    threads: Option<u32>,
    quiet: bool,
) -> anyhow::Result<Run> {
    let mut config = EngineConfig::default();
    if let Some(t) = threads {
        config.n_threads = t.max(1);
    }
    let total = judging::prompt_count(&inputs, methods);
    let worker = Worker::spawn(config, None).context("cannot start the engine thread")?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} prompts")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(match backend {
        Backend::Local(_) => "loading model",
        Backend::Server(_) => "connecting",
    });
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let cancel_requested = super::sample::cancel_hook("keeping what was judged so far");
    worker.open(backend)?;
    let mut inputs = Some(inputs);
    let mut cancelled = false;
    loop {
        let ev = match worker
            .events()
            .recv_timeout(std::time::Duration::from_millis(200))
        {
            Ok(ev) => Some(ev),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                bail!("the engine stopped while judging")
            }
        };
        match ev {
            Some(Event::ModelLoaded { info, .. }) => {
                if info.file != run.model.file && !quiet {
                    bar.suspend(|| {
                        eprintln!(
                            "note: the run was sampled with {}, judged by {}",
                            run.model.file, info.file
                        )
                    });
                }
                bar.set_prefix("judging");
                worker.judge(inputs.take().unwrap_or_default(), methods.to_vec())?;
            }
            Some(Event::JudgeProgress { done, .. }) => bar.set_position(done as u64),
            Some(Event::Judged { judgements }) => {
                bar.finish();
                judging::record(&mut run, judgements);
                return Ok(run);
            }
            Some(Event::Error { message }) => {
                bar.abandon();
                bail!(message)
            }
            _ => {}
        }
        if !cancelled && cancel_requested() {
            worker.cancel();
            cancelled = true;
        }
    }
}

/// `reasonscope judge RUN --methods …`.
pub fn judge(args: &JudgeArgs) -> anyhow::Result<Run> {
    let run = crate::run::read_run(&args.run)?;
    let inputs = inputs(&run, args.turn)?;
    if inputs.is_empty() {
        bail!(
            "{}: no path answered any turn; nothing to judge",
            args.run.display()
        );
    }
    let run = judge_run(
        run,
        inputs,
        &args.methods,
        &args.backend,
        args.threads,
        args.quiet,
    )?;
    let out = args.output.as_deref().unwrap_or(&args.run);
    write_run(&run, out)?;
    if !args.quiet {
        print_summary(&run, out);
    }
    Ok(run)
}

/// One line per judged method and turn: the pick and the tokens it took.
pub fn print_summary(run: &Run, out: &Path) {
    let params = AnalysisParams::default();
    for t in 0..run.n_turns() {
        let a = analysis::analyze_turn(run, t, &params);
        for id in JUDGED_METHODS {
            let Some(o) = a.method(id) else { continue };
            if o.unavailable == Some(judged::NOT_JUDGED) {
                continue;
            }
            let pick = match (&o.answer, o.unavailable) {
                (_, Some(why)) => format!("unavailable: {why}"),
                (Some(ans), None) => match o.confidence {
                    Some(c) => format!("{ans} (P(True) {c:.3})"),
                    None => ans.clone(),
                },
                (None, None) => "no answer".into(),
            };
            let note = o
                .note
                .as_deref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default();
            eprintln!(
                "turn {} {id:<18} {pick}{note}; {} judge tokens",
                t + 1,
                o.judge_tokens
            );
        }
    }
    eprintln!("wrote {}", out.display());
}
