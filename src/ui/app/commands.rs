//! Applying the views' `AppCommand`s once per frame, and collecting
//! finished background jobs.

use super::*;

impl App {
    /// Apply queued commands (once per frame).
    pub fn apply_commands(&mut self) {
        let cmds = std::mem::take(&mut self.commands);
        for c in cmds {
            match c {
                AppCommand::Open(p) if p.is_dir() => self.open_folder(&p),
                AppCommand::Open(p) => self.open_async(&p),
                AppCommand::OpenDialog => {
                    match native(|| {
                        rfd::FileDialog::new()
                            .add_filter("run files and traces", &["json", "gz", "jsonl"])
                            .pick_files()
                    }) {
                        Native::Picked(files) => {
                            for f in files {
                                self.open_async(&f);
                            }
                        }
                        Native::Cancelled => {}
                        Native::Unavailable => self.path_field(Purpose::Open, None),
                    }
                }
                AppCommand::TypePath => {
                    self.path_dialog =
                        Some(PathDialog::new(Purpose::Open, &self.start_dir(), None));
                }
                AppCommand::BrowseModel => {
                    match native(|| {
                        rfd::FileDialog::new()
                            .add_filter("GGUF model", &["gguf"])
                            .pick_file()
                    }) {
                        Native::Picked(p) => self.settings.form.model = p,
                        Native::Cancelled => {}
                        Native::Unavailable => self.path_field(Purpose::Model, None),
                    }
                }
                AppCommand::Notice(text) => self.info(text),
                AppCommand::SaveRunDialog => {
                    let Some(r) = self.runs.get(self.active) else {
                        self.error("no run is open to save");
                        continue;
                    };
                    let stem = crate::run::safe_file_stem(r.name.trim_end_matches(" (imported)"));
                    let default = format!("{stem}.json.gz");
                    match native(|| rfd::FileDialog::new().set_file_name(&default).save_file()) {
                        // The dialog already asked before replacing a file.
                        Native::Picked(path) => self.save_run_to(&path, true),
                        Native::Cancelled => {}
                        Native::Unavailable => self.path_field(Purpose::SaveRun, Some(&default)),
                    }
                }
                AppCommand::SaveRunTo(path) => {
                    self.save_run_to(&path, false);
                }
                AppCommand::OpenFolderDialog => {
                    match native(|| rfd::FileDialog::new().pick_folder()) {
                        Native::Picked(dir) => self.open_folder(&dir),
                        Native::Cancelled => {}
                        Native::Unavailable => self.path_field(Purpose::OpenFolder, None),
                    }
                }
                AppCommand::Close(i) => {
                    if i < self.runs.len() {
                        self.runs.remove(i);
                        self.active = self.active.min(self.runs.len().saturating_sub(1));
                        self.selection.compare_with = self
                            .selection
                            .compare_with
                            .min(self.runs.len().saturating_sub(1));
                        self.reset_selection();
                    }
                }
                AppCommand::Activate(i) => {
                    if i < self.runs.len() && i != self.active {
                        self.active = i;
                        self.turn = 0;
                        self.reset_selection();
                    }
                }
                AppCommand::SetView(v) => self.settings.view = v,
                AppCommand::SetTurn(t) => {
                    self.turn = t;
                    self.selection.selected_token = None;
                }
                AppCommand::SetPaths(p) => self.selection.shown_paths = p,
                AppCommand::NextPath | AppCommand::PrevPath => {
                    let n = self.run().map_or(0, |r| r.run.paths.len());
                    if n > 0 {
                        let step = if c == AppCommand::NextPath { 1 } else { n - 1 };
                        for p in &mut self.selection.shown_paths {
                            *p = (*p + step) % n;
                        }
                    }
                }
                AppCommand::SelectToken { path, token } => {
                    self.selection.selected_token = Some((path, token));
                    self.selection.token_page = token / TOKEN_PAGE;
                }
                AppCommand::SelectNode(n) => self.selection.selected_node = n,
                AppCommand::ToggleTheme => self.settings.dark = !self.settings.dark,
                AppCommand::ExportDialog { figure, format } => {
                    let default = format!(
                        "{}-{figure}.{}",
                        crate::run::safe_file_stem(
                            self.run()
                                .map_or("run", |r| r.name.split('.').next().unwrap_or("run"))
                        ),
                        format.extension()
                    );
                    match native(|| rfd::FileDialog::new().set_file_name(&default).save_file()) {
                        // The dialog already asked before replacing a file.
                        Native::Picked(path) => self.export_to(figure, format, &path, true),
                        Native::Cancelled => {}
                        Native::Unavailable => {
                            self.path_field(Purpose::Export { figure, format }, Some(&default))
                        }
                    }
                }
                AppCommand::ExportTo {
                    figure,
                    format,
                    path,
                } => self.export_to(figure, format, &path, false),
                AppCommand::ClearMessage => self.message = None,
                AppCommand::ToggleNewRun => self.panel_open = !self.panel_open,
                AppCommand::SetForkM(m) => self.settings.form.fork_m = m.max(1),
                AppCommand::SetTokenPage(p) => self.selection.token_page = p,
                AppCommand::StartSample => self.start_sample(),
                AppCommand::StartJudging => self.start_judging(),
                AppCommand::StopJudging => {
                    if let (Some(w), Some(_)) = (&self.worker, &self.judging) {
                        w.cancel();
                    }
                }
                AppCommand::StopSample => {
                    if let (Some(w), Some(l)) = (&self.worker, &mut self.live) {
                        w.cancel();
                        l.stopping = true;
                    }
                }
                AppCommand::Fork {
                    path,
                    turn,
                    token,
                    m,
                } => self.start_fork(path, turn, token, m),
                AppCommand::RerunActive => {
                    if let Some(r) = self.run() {
                        let run = (*r.run).clone();
                        self.settings.form.load_from(&run);
                        self.rerun_of = Some(self.active);
                        self.panel_open = true;
                        self.info(
                            "the form holds that run's settings: change them and press Start",
                        );
                    }
                }
                AppCommand::Recover(reopen) => {
                    self.recover = None;
                    let prefix = if reopen { "recovered" } else { "unfinished" };
                    match crate::ui::live::keep_autosave(prefix) {
                        Some(p) if reopen => self.open(&p),
                        Some(p) => self.info(format!("kept the unfinished run as {}", p.display())),
                        None => {}
                    }
                }
                AppCommand::ConfirmClose(quit) => {
                    self.confirm_close = false;
                    if quit {
                        if let Some(w) = &self.worker {
                            w.cancel();
                        }
                        if let Some(snap) = self.live.as_ref().and_then(|l| l.live.snapshot()) {
                            let _ = crate::ui::live::autosave(&snap);
                            let _ = crate::ui::live::save_finished(&snap);
                        }
                        self.allow_close = true;
                        if let Some(ctx) = &self.ctx {
                            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                        }
                    }
                }
            }
        }
        let params = self.settings.params();
        let mut changed = false;
        for r in &mut self.runs {
            changed |= r.refresh(&params);
        }
        if changed {
            self.figures.clear_figures();
        }
        if self.turn >= self.run().map_or(1, |r| r.turns.len().max(1)) {
            self.turn = 0;
        }
    }

    /// Take finished background jobs.
    pub(super) fn poll_jobs(&mut self) {
        while let Ok(done) = self.jobs_rx.try_recv() {
            match done {
                JobDone::Figure { key, figure } => self.figures.landed(key, figure),
                JobDone::Analysed { index, run, turns } => {
                    self.analysing = false;
                    // Only while that run is still the live one (the final run replaces it).
                    if self
                        .live
                        .as_ref()
                        .is_some_and(|l| l.run_index == Some(index))
                    {
                        if let Some(r) = self.runs.get_mut(index) {
                            r.run = std::sync::Arc::new(*run);
                            r.turns = std::sync::Arc::new(turns);
                        }
                        self.figures.clear();
                    }
                }
                JobDone::Failed(e) => self.error(e),
                JobDone::Done(m) => self.info(m),
                JobDone::Tree { key, tree } => {
                    let current = self.figure_inputs().key("tree");
                    self.figures.tree_landed(key, tree, &current);
                }
                JobDone::Opened { path, result } => {
                    self.opening.retain(|p| p != &path);
                    self.import_progress.remove(&path);
                    if self.opening.is_empty() {
                        self.opening_total = 0;
                    }
                    self.opened(&path, *result);
                }
                JobDone::Progress { path, fraction } => {
                    if self.opening.contains(&path) {
                        self.import_progress.insert(path, fraction);
                    }
                }
            }
        }
    }
}
