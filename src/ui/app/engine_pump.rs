//! The live engine: loading a model or server, sampling, forking and
//! judging, and pumping its events into the open runs.

use super::*;

impl App {
    /// The engine worker, started on first use; loads the model (or
    /// reaches the server) unless it already did.
    pub(super) fn engine_with(
        &mut self,
        backend: &crate::engine::Backend,
    ) -> Option<&crate::engine::Worker> {
        if self.worker.is_none() {
            let ctx = self.ctx.clone().unwrap_or_default();
            match crate::ui::live::spawn_worker(&ctx) {
                Ok(w) => self.worker = Some(w),
                Err(e) => {
                    self.error(format!("cannot start the engine thread: {e}"));
                    return None;
                }
            }
        }
        let loaded = matches!(&self.model, crate::ui::live::ModelState::Loaded { backend: b, .. } | crate::ui::live::ModelState::Loading { backend: b, .. } if b == backend);
        if !loaded {
            let w = self.worker.as_ref()?;
            if let Err(e) = w.open(backend) {
                self.error(e.to_string());
                return None;
            }
            self.model = crate::ui::live::ModelState::Loading {
                backend: backend.clone(),
                progress: 0.0,
            };
            self.settings.form.remember(backend);
        }
        self.worker.as_ref()
    }

    /// Ask the New run panel's model (or server) again about the open
    /// run: P(True), its brainstorm variant and USC on every turn.
    pub fn start_judging(&mut self) {
        if self.live.is_some() || self.judging.is_some() {
            self.error("the engine is busy: wait for the run (or judging) to finish, or stop it");
            return;
        }
        let Some(r) = self.run() else { return };
        let run = r.run.clone();
        let inputs: Vec<_> = r
            .turns
            .iter()
            .map(|a| crate::analysis::judged::judge_input(&run, a.turn, &a.answers, &a.paths))
            .filter(|i| !i.responses.is_empty())
            .collect();
        if inputs.is_empty() {
            self.error("no path answered any turn of this run: nothing to ask the model about");
            return;
        }
        let methods: Vec<String> = crate::run::judgement::JUDGED_METHODS
            .iter()
            .map(|m| (*m).to_owned())
            .collect();
        let total = crate::engine::judging::prompt_count(&inputs, &methods);
        let backend = self.settings.form.backend();
        let Some(w) = self.engine_with(&backend) else {
            return;
        };
        if let Err(e) = w.judge(inputs, methods) {
            self.error(e.to_string());
            return;
        }
        self.judging = Some(crate::ui::live::Judging {
            run,
            done: 0,
            total,
        });
        self.info(format!(
            "asking the model again ({total} prompts): P(True), P(True) with brainstorm, USC"
        ));
    }

    /// Record what judging read in its run, re-analyse, keep it on disk.
    pub(super) fn finish_judging(&mut self, judgements: Vec<crate::run::judgement::Judgement>) {
        let Some(j) = self.judging.take() else { return };
        let params = self.settings.params();
        let Some(r) = self
            .runs
            .iter_mut()
            .find(|r| std::sync::Arc::ptr_eq(&r.run, &j.run))
        else {
            self.error("the judged run was closed: its judgements are dropped");
            return;
        };
        let mut run = (*r.run).clone();
        let n = judgements.len();
        crate::engine::judging::record(&mut run, judgements);
        let path = r.path.clone().filter(|_| run.import.is_none());
        r.replace_run(run, &params);
        // The file is written from the run the view now holds (no copy).
        let run = r.run.clone();
        self.figures.clear();
        match path {
            Some(p) => {
                let tx = self.jobs_tx.clone();
                let shown = p.display().to_string();
                let _ = std::thread::Builder::new()
                    .name("reasonscope-save-judged".into())
                    .spawn(move || {
                        if let Err(e) = crate::run::write_run(&run, &p) {
                            let _ = tx
                                .send(JobDone::Failed(format!("cannot save the judgements: {e}")));
                        }
                    });
                self.info(format!("{n} judgements recorded and saved to {shown}"));
            }
            None => self.info(format!(
                "{n} judgements recorded; File > Save run as (Ctrl+Shift+S) keeps them"
            )),
        }
    }

    pub(super) fn start_sample(&mut self) {
        if self.live.is_some() {
            self.error("a run is already sampling: stop it first");
            return;
        }
        let req = self.settings.form.request();
        if let Err(e) = crate::engine::validate_request(&req) {
            self.error(e.to_string());
            return;
        }
        let backend = self.settings.form.backend();
        if let crate::engine::Backend::Server(_) = &backend {
            if let Some(why) = crate::engine::remote::refusal(&req) {
                self.error(why);
                return;
            }
        }
        let Some(w) = self.engine_with(&backend) else {
            return;
        };
        if let Err(e) = w.sample(req.clone()) {
            self.error(e.to_string());
            return;
        }
        self.live = Some(crate::ui::live::LiveSession::new(
            req.n_paths,
            req.max_tokens,
            None,
        ));
        self.info(format!("sampling {} paths...", req.n_paths));
    }

    pub(super) fn start_fork(&mut self, path: usize, turn: usize, token: usize, m: u32) {
        if self.live.is_some() {
            self.error("a run is already sampling: stop it first");
            return;
        }
        let Some(r) = self.run() else { return };
        let run = (*r.run).clone();
        let target = self.active;
        // A run sampled through a server is continued through a server, a
        // local run with a local model (one run, one kind of statistics).
        let backend = self.settings.form.backend();
        let Some(w) = self.engine_with(&backend) else {
            return;
        };
        if let Err(e) = w.fork(run.clone(), path, turn, token, m) {
            self.error(e.to_string());
            return;
        }
        self.live = Some(crate::ui::live::LiveSession::new(
            m,
            run.sampling.max_tokens,
            Some(target),
        ));
        self.info(format!(
            "resampling {m} paths from path {path} at token {token}"
        ));
    }

    /// Take the engine's events (bounded time per frame) into the live run.
    pub(super) fn pump_engine(&mut self) {
        let Some(w) = &self.worker else { return };
        let events = crate::ui::live::drain(w);
        let params = self.settings.params();
        let mut finished = None;
        for e in events {
            match &e {
                Event::ModelLoading { progress } => {
                    if let crate::ui::live::ModelState::Loading { progress: p, .. } =
                        &mut self.model
                    {
                        *p = *progress;
                    }
                }
                Event::ModelLoaded {
                    info,
                    plain_prompt,
                    device,
                } => {
                    let backend = match &self.model {
                        crate::ui::live::ModelState::Loading { backend, .. } => backend.clone(),
                        _ => self.settings.form.backend(),
                    };
                    self.model = crate::ui::live::ModelState::Loaded {
                        backend,
                        name: info.name.clone(),
                        plain_prompt: *plain_prompt,
                        device: device.clone(),
                    };
                }
                Event::JudgeProgress { done, total } => {
                    if let Some(j) = &mut self.judging {
                        j.done = *done;
                        j.total = *total;
                    }
                }
                Event::Judged { judgements } => {
                    self.finish_judging(judgements.clone());
                }
                Event::Error { message } => {
                    if let crate::ui::live::ModelState::Loading { backend, .. } = &self.model {
                        self.model = crate::ui::live::ModelState::Failed {
                            backend: backend.clone(),
                            error: message.clone(),
                        };
                    }
                    self.judging = None;
                    // A run that never started is over; one that did goes on to RunFinished.
                    if self.live.as_ref().is_some_and(|l| l.live.run.is_none()) {
                        self.live = None;
                    }
                    self.error(message.clone());
                }
                _ => {}
            }
            let Some(l) = &mut self.live else { continue };
            if l.live.apply(&e) {
                l.dirty = true;
            }
            match e {
                Event::RunStarted { .. } if l.run_index.is_none() => {
                    if let Some(snap) = l.live.snapshot() {
                        let title = snap.title.clone().unwrap_or_else(|| "run".into());
                        self.runs
                            .push(OpenRun::new(format!("live: {title}"), None, snap, &params));
                        l.run_index = Some(self.runs.len() - 1);
                        self.active = self.runs.len() - 1;
                        if let Some(prev) = self.rerun_of.take() {
                            self.selection.compare_with = prev;
                        }
                        self.turn = 0;
                        self.selection.shown_paths =
                            vec![0, 1.min(snap_len(&self.runs[self.active].run))];
                        self.selection.shown_paths.dedup();
                        self.figures.clear();
                    }
                }
                Event::RunFinished { run } => finished = Some(*run),
                _ => {}
            }
        }
        if let Some(run) = finished {
            let l = self.live.take();
            if let Some(i) = l.and_then(|l| l.run_index) {
                match crate::ui::live::save_finished(&run) {
                    Ok(p) => {
                        self.info(format!(
                            "saved {} ({} paths, {} tokens)",
                            p.display(),
                            run.paths.len(),
                            run.total_tokens()
                        ));
                        if let Some(r) = self.runs.get_mut(i) {
                            r.path = Some(p.clone());
                            r.name = crate::ui::live::file_label(&p);
                        }
                        self.settings.remember(&p);
                    }
                    Err(e) => self.error(format!("cannot save the run: {e}")),
                }
                if let Some(r) = self.runs.get_mut(i) {
                    r.replace_run(run, &params);
                }
                self.figures.clear();
            }
            return;
        }
        let Some(l) = &mut self.live else { return };
        // Re-analysis and autosave run in background jobs: a frame only
        // clones the snapshot.
        if l.dirty
            && !self.analysing
            && l.last_analysis.elapsed() >= crate::ui::live::REANALYZE_EVERY
        {
            if let (Some(i), Some(snap)) = (l.run_index, l.live.snapshot()) {
                l.dirty = false;
                l.last_analysis = std::time::Instant::now();
                self.analysing = true;
                let (tx, ctx) = (self.jobs_tx.clone(), self.ctx.clone());
                let spawned = std::thread::Builder::new()
                    .name("reasonscope-analyse".into())
                    .spawn(move || {
                        let turns = crate::analysis::analyze_run(&snap, &params);
                        let _ = tx.send(JobDone::Analysed {
                            index: i,
                            run: Box::new(snap),
                            turns,
                        });
                        if let Some(c) = ctx {
                            c.request_repaint();
                        }
                    });
                if spawned.is_err() {
                    self.analysing = false;
                }
            }
        }
        let Some(l) = &mut self.live else { return };
        if l.live.run.is_some()
            && l.last_autosave.elapsed().as_secs_f64() >= crate::ui::live::AUTOSAVE_SECS
        {
            l.last_autosave = std::time::Instant::now();
            if let Some(snap) = l.live.snapshot() {
                let tx = self.jobs_tx.clone();
                let _ = std::thread::Builder::new()
                    .name("reasonscope-autosave".into())
                    .spawn(move || {
                        if let Err(e) = crate::ui::live::autosave(&snap) {
                            let _ = tx.send(JobDone::Failed(format!("autosave failed: {e}")));
                        }
                    });
            }
        }
    }
}
