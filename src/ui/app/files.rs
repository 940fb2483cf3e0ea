//! Opening, importing, saving and exporting files: the synchronous and
//! background paths, the path field fallback and the selection they reset.

use super::*;

impl App {
    /// The one open function: CLI, dialog, drag-and-drop, recent files and
    /// tests all come here. A bad file leaves every open run as it was.
    pub fn open(&mut self, path: &Path) {
        let result = read_loaded(path, &self.settings.params(), &mut |_| {});
        self.opened(path, result);
    }

    /// A file read (and analysed): its runs go to the views. An imported
    /// file's runs have no path (saving one asks where, never over the
    /// source); a file that held several prompts opens in the Suite view.
    pub(super) fn opened(&mut self, path: &Path, result: Result<Loaded, String>) {
        let l = match result {
            Ok(l) => l,
            Err(e) => return self.error(e),
        };
        let label = crate::ui::live::file_label(path);
        let n_runs = l.runs.len();
        let params = self.settings.params();
        let mut n_paths = 0;
        for (name, run, turns) in l.runs {
            n_paths += run.paths.len();
            let (name, p) = match &l.import {
                None => (label.clone(), Some(path.to_path_buf())),
                Some(_) if n_runs == 1 => (format!("{label} (imported)"), None),
                Some(_) => (format!("{label} · {name}"), None),
            };
            self.add_run(OpenRun::analysed(
                name,
                p,
                run,
                std::sync::Arc::new(turns),
                &params,
            ));
        }
        if !self.folder_order.contains_key(path) {
            self.settings.remember(path);
        }
        match &l.import {
            None => self.info(format!("opened {} ({n_paths} paths)", path.display())),
            Some(sum) => {
                if n_runs > 1 {
                    self.settings.view = View::Suite;
                }
                let what = format!(
                    "imported {} ({}, {} record{}) as {n_runs} run{}; File > Save run as… keeps it as a run file",
                    path.display(),
                    sum.format.unwrap_or("?"),
                    sum.records,
                    if sum.records == 1 { "" } else { "s" },
                    if n_runs == 1 { "" } else { "s" },
                );
                if sum.problems.is_empty() {
                    self.info(what);
                } else {
                    self.error(format!(
                        "{what}; {} record(s) could not be imported: {}",
                        sum.problems.len(),
                        sum.problems.join("; ")
                    ));
                }
            }
        }
    }

    /// Where the path field starts: the folder of the last file opened.
    pub(super) fn start_dir(&self) -> PathBuf {
        let dir = self
            .settings
            .recent
            .first()
            .and_then(|p| {
                if p.is_dir() {
                    Some(p.clone())
                } else {
                    p.parent().map(Path::to_path_buf)
                }
            })
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let mut s = dir.display().to_string();
        if !s.ends_with('/') {
            s.push('/');
        }
        PathBuf::from(s)
    }

    /// The in-app path field, because no desktop dialog answered.
    pub(super) fn path_field(&mut self, purpose: Purpose, file_name: Option<&str>) {
        let mut start = self.start_dir();
        if let Some(f) = file_name {
            start = start.join(f);
        }
        self.path_dialog = Some(PathDialog::new(
            purpose,
            &start,
            Some("No desktop file dialog answered (is an XDG desktop portal running?): type the path instead.".into()),
        ));
    }

    /// Act on the path field's answer; a path that cannot be used keeps it
    /// open with the reason.
    pub(super) fn path_chosen(&mut self, purpose: Purpose, p: PathBuf) -> bool {
        let missing = || !p.exists();
        match purpose {
            Purpose::Open | Purpose::OpenFolder | Purpose::Model if missing() => {
                self.error(format!("{}: no such file or folder", p.display()));
                return false;
            }
            Purpose::Open => self.push(AppCommand::Open(p)),
            Purpose::OpenFolder => self.open_folder(&p),
            Purpose::Model => self.settings.form.model = p,
            Purpose::SaveRun => self.save_run_to(&p, false),
            Purpose::Export { figure, format } => self.export_to(figure, format, &p, false),
        }
        true
    }

    /// Save the active run as a run file; `ask` false for tests and
    /// scripts (then an existing file is never replaced).
    pub(super) fn save_run_to(&mut self, path: &Path, replace: bool) {
        let Some(run) = self.runs.get(self.active).map(|r| r.run.clone()) else {
            return self.error("no run is open to save");
        };
        if !replace && path.exists() {
            return self.error(format!("{} exists; not replaced", path.display()));
        }
        match crate::run::write_run(&run, path) {
            Ok(()) => {
                if let Some(r) = self.runs.get_mut(self.active) {
                    r.path = Some(path.to_path_buf());
                    r.name = crate::ui::live::file_label(path);
                }
                self.settings.remember(path);
                self.info(format!("saved the run as {}", path.display()));
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    pub fn open_bytes(&mut self, name: &str, bytes: &[u8]) {
        match parse_run_bytes(bytes) {
            Ok(run) => self.add_run(OpenRun::new(
                name.to_owned(),
                None,
                run,
                &self.settings.params(),
            )),
            Err(e) => self.error(format!("{name}: {e}")),
        }
    }

    pub(super) fn add_run(&mut self, r: OpenRun) {
        // A run of the folder being opened goes before the folder's later
        // files already open.
        let rank = |p: &Option<PathBuf>| p.as_ref().and_then(|p| self.folder_order.get(p).copied());
        let at = match rank(&r.path) {
            Some(k) => self
                .runs
                .iter()
                .position(|o| rank(&o.path).is_some_and(|j| j > k))
                .unwrap_or(self.runs.len()),
            None => self.runs.len(),
        };
        self.runs.insert(at, r);
        self.active = at;
        self.selection.compare_with = self.active.saturating_sub(1);
        self.turn = 0;
        self.reset_selection();
    }

    pub(super) fn reset_selection(&mut self) {
        let n = self.run().map_or(0, |r| r.run.paths.len());
        self.selection.shown_paths = (0..n.min(2)).collect();
        self.selection.selected_token = None;
        self.selection.selected_node = None;
        self.selection.token_page = 0;
        self.figures.clear();
    }

    /// Open every run file in `dir` (in the background) and show the Suite view.
    pub fn open_folder(&mut self, dir: &Path) {
        let files = crate::cli::expand_inputs(&[dir.to_path_buf()]);
        if files.is_empty() {
            self.error(format!(
                "{}: no run files (.json, .json.gz) in this folder",
                dir.display()
            ));
            return;
        }
        self.folder_order = files.iter().cloned().zip(0..).collect();
        self.settings.remember(dir);
        // One background job reads the folder, over every core but the one
        // that draws the frames (a thread per file would take them all).
        let fresh: Vec<PathBuf> = files
            .iter()
            .filter(|f| !self.opening.contains(f))
            .cloned()
            .collect();
        self.opening.extend(fresh.iter().cloned());
        self.opening_total += fresh.len();
        let (tx, ctx, params) = (
            self.jobs_tx.clone(),
            self.ctx.clone(),
            self.settings.params(),
        );
        let job = fresh.clone();
        let spawned = std::thread::Builder::new()
            .name("reasonscope-open".into())
            .spawn(move || {
                crate::analysis::par::leaving_one_core(|| {
                    crate::analysis::par::par_map(&job, |p| {
                        load_in_background(p, &params, &tx, ctx.as_ref())
                    })
                });
            });
        if spawned.is_err() {
            // No thread: open here instead.
            for f in &fresh {
                self.opening.retain(|p| p != f);
                self.open(f);
            }
        }
        self.settings.view = View::Suite;
        self.info(format!(
            "opening {} runs from {}",
            files.len(),
            dir.display()
        ));
    }

    /// Read and analyse a run file in the background (large files take a
    /// while); it opens when ready.
    pub fn open_async(&mut self, path: &Path) {
        if self.opening.iter().any(|p| p == path) {
            return;
        }
        self.opening.push(path.to_path_buf());
        self.opening_total += 1;
        let (p, tx, ctx, params) = (
            path.to_path_buf(),
            self.jobs_tx.clone(),
            self.ctx.clone(),
            self.settings.params(),
        );
        let spawned = std::thread::Builder::new()
            .name("reasonscope-open".into())
            .spawn(move || load_in_background(&p, &params, &tx, ctx.as_ref()));
        if spawned.is_err() {
            // No thread: open here instead.
            self.opening.retain(|p| p != path);
            self.open(path);
        }
    }

    /// Export `figure`: the figure is built here, drawn (a PNG through
    /// resvg takes a good part of a second) and written on a job thread,
    /// so that no frame waits for it.
    pub(super) fn export_to(&mut self, figure: &str, format: Format, path: &Path, overwrite: bool) {
        let Some(fig) = self.build_figure(figure) else {
            self.error(format!("nothing to export for {figure}"));
            return;
        };
        let (tx, ctx) = (self.jobs_tx.clone(), self.ctx.clone());
        let (name, path) = (figure.to_owned(), path.to_path_buf());
        let job = move || {
            let done = match export::export(&fig, format, &path, 2.0, overwrite) {
                Ok(()) => JobDone::Done(format!("exported {name} to {}", path.display())),
                Err(e) => JobDone::Failed(e.to_string()),
            };
            let _ = tx.send(done);
            if let Some(c) = ctx {
                c.request_repaint();
            }
        };
        if let Err(e) = std::thread::Builder::new()
            .name("reasonscope-export".into())
            .spawn(job)
        {
            self.error(format!("cannot start the export: {e}"));
        }
    }
}
