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
    run: Run,
    inputs: Vec<JudgeTurn>,
    methods: &[String],
    backend: &Backend,
    threads: Option<u32>,
    quiet: bool,
) -> anyhow::Result<Run> {
    let mut out = None;
    judge_runs(vec![(run, inputs)], methods, backend, threads, quiet, |r| {
        out = Some(r);
        Ok(())
    })?;
    out.context("the engine stopped without judging")
}

/// Judge several runs with one loaded model, one after the other; `done`
/// gets each run with its judgements as soon as it is judged.
pub fn judge_runs(
    jobs: Vec<(Run, Vec<JudgeTurn>)>,
    methods: &[String],
    backend: &Backend,
    threads: Option<u32>,
    quiet: bool,
    mut done: impl FnMut(Run) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut config = EngineConfig::default();
    if let Some(t) = threads {
        config.n_threads = t.max(1);
    }
    let total: usize = jobs
        .iter()
        .map(|j| judging::prompt_count(&j.1, methods))
        .sum();
    let worker = Worker::spawn(config, None).context("cannot start the engine thread")?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} prompts {msg}")
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
    let mut jobs = jobs.into_iter();
    // The run being judged, with its prompt count; prompts of the runs
    // before it.
    let mut current: Option<(Run, usize)> = None;
    let mut base = 0usize;
    let mut cancelled = false;
    let start_next = |current: &mut Option<(Run, usize)>,
                      jobs: &mut dyn Iterator<Item = (Run, Vec<JudgeTurn>)>|
     -> anyhow::Result<bool> {
        match jobs.next() {
            Some((run, inputs)) => {
                let prompts = judging::prompt_count(&inputs, methods);
                worker.judge(inputs, methods.to_vec())?;
                *current = Some((run, prompts));
                Ok(true)
            }
            None => Ok(false),
        }
    };
    loop {
        let ev = worker.next_event(std::time::Duration::from_millis(200))?;
        match ev {
            Some(Event::ModelLoaded { info, .. }) => {
                bar.set_prefix("judging");
                bar.set_message(format!("with {}", info.file));
                if !start_next(&mut current, &mut jobs)? {
                    break;
                }
            }
            Some(Event::JudgeProgress { done: d, .. }) => bar.set_position((base + d) as u64),
            Some(Event::Judged { judgements }) => {
                let Some((mut run, prompts)) = current.take() else {
                    continue;
                };
                base += prompts;
                judging::record(&mut run, judgements);
                bar.suspend(|| done(run))?;
                if cancelled || !start_next(&mut current, &mut jobs)? {
                    break;
                }
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
    bar.finish();
    Ok(())
}

/// `reasonscope judge RUN|FOLDER --methods …`: in place (or to `-o` for one
/// run); a folder's runs are judged one after the other, each written as
/// soon as it is judged.
pub fn judge(args: &JudgeArgs) -> anyhow::Result<()> {
    let files = if args.run.is_dir() {
        if args.output.is_some() {
            bail!("-o takes one run; a folder's runs are judged in place");
        }
        super::expand_inputs(std::slice::from_ref(&args.run))
            .into_iter()
            .filter(|f| !f.to_string_lossy().contains(".autosave."))
            .collect()
    } else {
        vec![args.run.clone()]
    };
    let mut jobs = Vec::new();
    let mut outs = Vec::new();
    for f in &files {
        let run = crate::run::read_run(f).map_err(|e| {
            // Another tool's file: judging writes a run, so import it first.
            let mut head = Vec::new();
            if let Ok(file) = std::fs::File::open(f) {
                use std::io::Read;
                let _ = file.take(1024).read_to_end(&mut head);
            }
            if !head.is_empty() && !crate::run::import::looks_like_run(&head) {
                anyhow::anyhow!(
                    "{}: not a reasonscope run file; import it first (reasonscope import {} -o RUN.json.gz), then judge the run",
                    f.display(),
                    f.display()
                )
            } else {
                e.into()
            }
        })?;
        let inputs = inputs(&run, args.turn)?;
        if inputs.is_empty() {
            eprintln!(
                "{}: no path answered any turn; nothing to judge",
                f.display()
            );
            continue;
        }
        outs.push(args.output.clone().unwrap_or_else(|| f.clone()));
        jobs.push((run, inputs));
    }
    if jobs.is_empty() {
        bail!("{}: nothing to judge", args.run.display());
    }
    // A folder that takes no files fails now, not after judging.
    for out in &outs {
        let dir = out
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        super::sample::check_writable(dir)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    let mut outs = outs.into_iter();
    judge_runs(
        jobs,
        &args.methods,
        &args.backend,
        args.threads,
        args.quiet,
        |run| {
            let out = outs.next().context("one output per run")?;
            write_run(&run, &out)?;
            if !args.quiet {
                print_summary(&run, &out);
            }
            Ok(())
        },
    )
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
