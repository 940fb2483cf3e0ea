//! The app shell: state, commands, menu, status bar, shortcuts. Views draw
//! in `views/`; they never mutate state directly, they push `AppCommand`s
//! that `logic` applies once per frame.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use eframe::egui::{self, Key, KeyboardShortcut, Modifiers};

use super::path_dialog::{native, Answer, Native, PathDialog, Purpose};
use super::state::{OpenRun, Settings, View};
use super::{theme, views};
use crate::charts::{self, Figure};
use crate::engine::Event;
use crate::export::{self, Format};
use crate::run::parse_run_bytes;

fn snap_len(r: &crate::run::Run) -> usize {
    r.paths.len().saturating_sub(1)
}

/// The bundled sample run opened when no file is given (64 paths where the
/// selection methods disagree).
pub const DEFAULT_RUN: (&str, &[u8]) = (
    "multiply-n64.json.gz (bundled sample)",
    include_bytes!("../../sample_runs/multiply-n64.json.gz"),
);

#[derive(Debug, Clone, PartialEq)]
pub enum AppCommand {
    Open(PathBuf),
    OpenDialog,
    /// Pick a folder and open every run in it (a suite).
    OpenFolderDialog,
    Close(usize),
    Activate(usize),
    SetView(View),
    SetTurn(usize),
    /// Show these paths in the Paths view (2–4).
    SetPaths(Vec<usize>),
    NextPath,
    PrevPath,
    SelectToken {
        path: usize,
        token: usize,
    },
    SelectNode(Option<usize>),
    ToggleTheme,
    /// Ask where to save the current view's figure.
    ExportDialog {
        figure: &'static str,
        format: Format,
    },
    /// Ask where to save the active run as a run file (an imported one).
    SaveRunDialog,
    /// Choose a GGUF model for the New run form.
    BrowseModel,
    /// Open the in-app path field (File > Type a path).
    TypePath,
    /// Say something in the status line (a shortcut that cannot act).
    Notice(String),
    /// Save the active run here (never replaces an existing file).
    SaveRunTo(PathBuf),
    /// Save without asking (never replaces an existing file).
    ExportTo {
        figure: &'static str,
        format: Format,
        path: PathBuf,
    },
    ClearMessage,
    ToggleNewRun,
    /// Sample the New run form.
    StartSample,
    /// Stop the live run (every token so far is kept).
    StopSample,
    /// Continue `path` of the active run from its first `token` tokens with `m` new paths.
    Fork {
        path: usize,
        turn: usize,
        token: usize,
        m: u32,
    },
    /// Fill the New run form from the active run, to re-run it with other settings.
    RerunActive,
    SetForkM(u32),
    SetTokenPage(usize),
    /// Answer to "reopen the last autosave?".
    Recover(bool),
    /// Answer to "stop sampling and quit?".
    ConfirmClose(bool),
}

/// Tokens per page in the Paths view.
pub const TOKEN_PAGE: usize = 512;

/// Runs larger than this build their figures in a background job, so that
/// no frame waits for them.
pub const HEAVY_TOKENS: usize = 50_000;

/// What a background job hands back.
pub enum JobDone {
    Figure {
        key: String,
        figure: Option<Figure>,
    },
    Opened {
        path: PathBuf,
        result: Box<Result<Loaded, String>>,
    },
    /// Bytes of a file being imported read so far.
    Progress {
        path: PathBuf,
        fraction: f32,
    },
    /// A growing live run, analysed.
    Analysed {
        index: usize,
        run: Box<crate::run::Run>,
        turns: Vec<crate::analysis::TurnAnalysis>,
    },
    Tree {
        key: String,
        tree: std::sync::Arc<(Vec<crate::analysis::branches::TreeNode>, Vec<f64>)>,
    },
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Message {
    pub text: String,
    pub error: bool,
    /// Local time it was given (HH:MM:SS).
    pub at: String,
}

pub struct App {
    pub runs: Vec<OpenRun>,
    pub active: usize,
    pub turn: usize,
    pub settings: Settings,
    /// Paths shown in the Paths view.
    pub shown_paths: Vec<usize>,
    pub selected_token: Option<(usize, usize)>,
    pub selected_node: Option<usize>,
    /// Page of tokens shown in the Paths view.
    pub token_page: usize,
    pub compare_with: usize,
    pub entropy_sort: (usize, bool),
    pub entropy_selected_only: bool,
    pub message: Option<Message>,
    /// Every message of this session, oldest first (the status log).
    pub messages: Vec<Message>,
    log_open: bool,
    /// The in-app path field, while open.
    pub path_dialog: Option<PathDialog>,
    pub help_open: bool,
    commands: Vec<AppCommand>,
    figures: HashMap<String, std::sync::Arc<Figure>>,
    pending_figures: std::collections::HashSet<String>,
    /// A live run's re-analysis is in flight.
    analysing: bool,
    /// Files being read and analysed in the background.
    pub opening: Vec<PathBuf>,
    /// Files of the last opened folder and their rank in it: runs from it
    /// keep this order whatever order their background loads finish in.
    folder_order: HashMap<PathBuf, usize>,
    /// Files queued for opening since `opening` was last empty (progress).
    opening_total: usize,
    /// How far each file being imported has been read (0..1).
    import_progress: HashMap<PathBuf, f32>,
    jobs_tx: crossbeam_channel::Sender<JobDone>,
    jobs_rx: crossbeam_channel::Receiver<JobDone>,
    /// The Branches view's trie and layout, with the key they were built for.
    tree: Option<(String, SharedTree)>,
    /// Save a screenshot here after a few frames, then quit (REASONSCOPE_SCREENSHOT).
    screenshot: Option<(PathBuf, u32)>,
    pub worker: Option<crate::engine::Worker>,
    pub model: super::live::ModelState,
    /// The model list of the server URL in the New run panel.
    pub server_models: super::live::ServerModels,
    pub live: Option<super::live::LiveSession>,
    /// P(True) / USC judging in progress.
    pub judging: Option<super::live::Judging>,
    pub panel_open: bool,
    /// An autosave left by a run that did not finish (crash or kill).
    pub recover: Option<PathBuf>,
    pub confirm_close: bool,
    allow_close: bool,
    /// Run to compare a re-run with once it starts.
    rerun_of: Option<usize>,
    ctx: Option<egui::Context>,
}

impl App {
    /// A new app with `settings`, opening `files` (or the bundled sample run).
    pub fn new(settings: Settings, files: &[PathBuf]) -> Self {
        let (jobs_tx, jobs_rx) = crossbeam_channel::bounded(256);
        let mut app = App {
            runs: Vec::new(),
            active: 0,
            turn: 0,
            settings,
            shown_paths: vec![0, 1],
            selected_token: None,
            selected_node: None,
            token_page: 0,
            compare_with: 0,
            entropy_sort: (0, false),
            entropy_selected_only: false,
            message: None,
            messages: Vec::new(),
            log_open: false,
            path_dialog: None,
            help_open: false,
            commands: Vec::new(),
            figures: HashMap::new(),
            pending_figures: Default::default(),
            analysing: false,
            opening: Vec::new(),
            folder_order: HashMap::new(),
            opening_total: 0,
            import_progress: HashMap::new(),
            jobs_tx,
            jobs_rx,
            tree: None,
            worker: None,
            model: super::live::ModelState::None,
            server_models: Default::default(),
            live: None,
            judging: None,
            panel_open: false,
            recover: Some(super::live::autosave_file()).filter(|p| p.exists()),
            confirm_close: false,
            allow_close: false,
            rerun_of: None,
            ctx: None,
            screenshot: std::env::var_os("REASONSCOPE_SCREENSHOT").map(|p| (PathBuf::from(p), 0)),
        };
        if files.is_empty() {
            app.open_bytes(DEFAULT_RUN.0, DEFAULT_RUN.1);
        }
        for f in files {
            if f.is_dir() {
                app.open_folder(f);
            } else {
                app.open(f);
            }
        }
        if let Some(v) = std::env::var("REASONSCOPE_VIEW").ok().and_then(|v| {
            View::ALL
                .into_iter()
                .find(|x| x.label().eq_ignore_ascii_case(&v))
        }) {
            app.settings.view = v;
        }
        // Screenshots of the dark theme (REASONSCOPE_THEME=dark|light).
        match std::env::var("REASONSCOPE_THEME").as_deref() {
            Ok("dark") => app.settings.dark = true,
            Ok("light") => app.settings.dark = false,
            _ => {}
        }
        app
    }

    pub fn push(&mut self, c: AppCommand) {
        self.commands.push(c);
    }

    /// The live session when it samples the active run.
    fn live_of_active(&self) -> Option<&crate::engine::LiveRun> {
        self.live
            .as_ref()
            .filter(|l| l.run_index == Some(self.active) && !l.live.done)
            .map(|l| &l.live)
    }

    /// Whether turn `turn` of `path` of the active run is still being sampled.
    pub fn is_running(&self, path: usize, turn: usize) -> bool {
        self.live_of_active()
            .is_some_and(|l| l.is_running(path, turn))
    }

    /// "… of N paths unfinished …" for the active run's current turn.
    pub fn unfinished_note(&self) -> Option<String> {
        let running = self.live_of_active().map_or(0, |l| l.running_in(self.turn));
        crate::analysis::turn::unfinished_note(&self.run()?.run, self.turn, running)
    }

    pub fn run(&self) -> Option<&OpenRun> {
        self.runs.get(self.active)
    }

    pub fn turn_analysis(&self) -> Option<&crate::analysis::TurnAnalysis> {
        self.run()?.turns.get(self.turn)
    }

    /// The current turn's analysis, held independently of `self`.
    pub fn shared_turn(&self) -> Option<super::state::TurnRef> {
        super::state::TurnRef::new(self.run()?.turns.clone(), self.turn)
    }

    /// An info message: shown unless an error is waiting to be read (an
    /// error is never replaced by news); every message goes to the log.
    fn info(&mut self, text: impl Into<String>) {
        let m = Message {
            text: text.into(),
            error: false,
            at: chrono::Local::now().format("%H:%M:%S").to_string(),
        };
        if !self.message.as_ref().is_some_and(|m| m.error) {
            self.message = Some(m.clone());
        }
        self.log(m);
    }

    fn error(&mut self, text: impl Into<String>) {
        let m = Message {
            text: text.into(),
            error: true,
            at: chrono::Local::now().format("%H:%M:%S").to_string(),
        };
        self.message = Some(m.clone());
        self.log(m);
    }

    fn log(&mut self, m: Message) {
        const KEEP: usize = 500;
        if self.messages.len() == KEEP {
            self.messages.remove(0);
        }
        self.messages.push(m);
    }

    /// The one open function: CLI, dialog, drag-and-drop, recent files and
    /// tests all come here. A bad file leaves every open run as it was.
    pub fn open(&mut self, path: &Path) {
        let result = read_loaded(path, &self.settings.params(), &mut |_| {});
        self.opened(path, result);
    }

    /// A file read (and analysed): its runs go to the views. An imported
    /// file's runs have no path (saving one asks where, never over the
    /// source); a file that held several prompts opens in the Suite view.
    fn opened(&mut self, path: &Path, result: Result<Loaded, String>) {
        let l = match result {
            Ok(l) => l,
            Err(e) => return self.error(e),
        };
        let label = super::live::file_label(path);
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
    fn start_dir(&self) -> PathBuf {
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
    fn path_field(&mut self, purpose: Purpose, file_name: Option<&str>) {
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
    fn path_chosen(&mut self, purpose: Purpose, p: PathBuf) -> bool {
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
    fn save_run_to(&mut self, path: &Path, replace: bool) {
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
                    r.name = super::live::file_label(path);
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

    fn add_run(&mut self, r: OpenRun) {
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
        self.compare_with = self.active.saturating_sub(1);
        self.turn = 0;
        self.reset_selection();
    }

    fn reset_selection(&mut self) {
        let n = self.run().map_or(0, |r| r.run.paths.len());
        self.shown_paths = (0..n.min(2)).collect();
        self.selected_token = None;
        self.selected_node = None;
        self.token_page = 0;
        self.figures.clear();
        self.tree = None;
    }

    /// A figure for the current state, cached until the inputs change. For a
    /// large run it is built in a background job: `None` until it is ready
    /// (`figure_pending` then says so).
    pub fn figure(&mut self, id: &'static str) -> Option<std::sync::Arc<Figure>> {
        let key = self.figure_key(id);
        if let Some(f) = self.figures.get(&key) {
            return Some(f.clone());
        }
        if self
            .run()
            .is_some_and(|r| r.run.total_tokens() > HEAVY_TOKENS)
        {
            if self.pending_figures.insert(key.clone()) {
                self.spawn_figure(id, key);
            }
            return None;
        }
        if id == "curves" {
            // Accuracy vs N draws 200 subsets per size and fits RPC on
            // each: 40 ms for the bundled 64-path run, too long for a
            // frame (measured by `make soak`).
            if self.pending_figures.insert(key.clone()) {
                self.spawn_figure(id, key);
            }
            return None;
        }
        if id == "suite" {
            if !self.opening.is_empty() {
                // Not for a folder still opening: one job when all are in,
                // rather than one per run landing.
                return None;
            }
            // Accuracy curves over a whole suite take seconds: always a job.
            if self.pending_figures.insert(key.clone()) {
                self.spawn_figure(id, key);
            }
            return None;
        }
        let f = std::sync::Arc::new(self.build_figure(id)?);
        self.figures.insert(key, f.clone());
        Some(f)
    }

    /// Runs opened and queued since the opening began, while some are
    /// still being read.
    pub fn opening_progress(&self) -> Option<(usize, usize)> {
        let total = self.opening_total.max(self.opening.len());
        (!self.opening.is_empty()).then(|| (total - self.opening.len(), total))
    }

    pub fn figure_pending(&self, id: &str) -> bool {
        self.pending_figures.contains(&self.figure_key(id))
    }

    fn figure_request(&self, id: &str) -> charts::FigureRequest {
        charts::FigureRequest {
            id: id.to_owned(),
            turn: self.turn,
            paths: self.entropy_selected_only.then(|| self.shown_paths.clone()),
            selected: self.selected_token,
            normalized_x: self.settings.normalized_x,
            params: self.settings.params().methods,
        }
    }

    fn spawn_figure(&self, id: &str, key: String) {
        let Some(r) = self.run() else { return };
        let (run, turns) = (r.run.clone(), r.turns.clone());
        let suite = self.suite_inputs();
        let req = self.figure_request(id);
        let tx = self.jobs_tx.clone();
        let ctx = self.ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("reasonscope-figure".into())
            .spawn(move || {
                // A suite figure splits its curves over the cores: leave
                // one to the frames.
                let figure = crate::analysis::par::leaving_one_core(|| {
                    compute_figure(&req, &run, &turns, &suite)
                });
                let _ = tx.send(JobDone::Figure { key, figure });
                if let Some(c) = ctx {
                    c.request_repaint();
                }
            });
        if let Err(e) = spawned {
            eprintln!("cannot start a figure job: {e}");
        }
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

    /// Take finished background jobs.
    fn poll_jobs(&mut self) {
        while let Ok(done) = self.jobs_rx.try_recv() {
            match done {
                JobDone::Figure { key, figure } => {
                    self.pending_figures.remove(&key);
                    if let Some(f) = figure {
                        self.figures.insert(key, std::sync::Arc::new(f));
                    }
                }
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
                        self.tree = None;
                    }
                }
                JobDone::Failed(e) => self.error(e),
                JobDone::Tree { key, tree } => {
                    self.pending_figures.remove(&key);
                    if key == self.figure_key("tree") {
                        self.tree = Some((key, tree));
                    }
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

    /// The current turn's trie and its layout (cached like the figures).
    pub fn tree(
        &mut self,
    ) -> Option<std::sync::Arc<(Vec<crate::analysis::branches::TreeNode>, Vec<f64>)>> {
        let key = self.figure_key("tree");
        if self.tree.as_ref().is_none_or(|t| t.0 != key) {
            let r = self.run()?;
            if r.run.total_tokens() > HEAVY_TOKENS {
                // Large tries are built in a background job.
                let (run, turns, turn, tx, ctx) = (
                    r.run.clone(),
                    r.turns.clone(),
                    self.turn,
                    self.jobs_tx.clone(),
                    self.ctx.clone(),
                );
                if self.pending_figures.insert(key.clone()) {
                    let _ = std::thread::Builder::new()
                        .name("reasonscope-tree".into())
                        .spawn(move || {
                            if let Some(t) = turns.get(turn) {
                                let nodes = charts::turn_tree(&run, t);
                                let ys = charts::tree_layout(&nodes);
                                let _ = tx.send(JobDone::Tree {
                                    key,
                                    tree: std::sync::Arc::new((nodes, ys)),
                                });
                            }
                            if let Some(c) = ctx {
                                c.request_repaint();
                            }
                        });
                }
                return None;
            }
            let t = r.turns.get(self.turn)?;
            let nodes = charts::turn_tree(&r.run, t);
            let ys = charts::tree_layout(&nodes);
            self.tree = Some((key, std::sync::Arc::new((nodes, ys))));
        }
        self.tree.as_ref().map(|t| t.1.clone())
    }

    fn figure_key(&self, id: &str) -> String {
        if id == "suite" {
            let names: Vec<&str> = self.runs.iter().map(|r| r.name.as_str()).collect();
            return format!(
                "suite|{}|{}|{}",
                names.join("/"),
                self.settings.window,
                self.settings.borda_p
            );
        }
        format!(
            "{id}|{}|{}|{:?}|{}|{}|{}|{}|{}|{:?}",
            self.active,
            self.turn,
            self.shown_paths,
            self.entropy_selected_only,
            self.settings.normalized_x,
            self.settings.window,
            self.settings.borda_p,
            self.compare_with,
            // Only the entropy figure marks the selected token.
            if id == "entropy" {
                self.selected_token
            } else {
                None
            }
        )
    }

    /// Build figure `id` (the same description the view draws and exports).
    pub fn build_figure(&self, id: &str) -> Option<Figure> {
        let r = self.run()?;
        compute_figure(
            &self.figure_request(id),
            &r.run,
            &r.turns,
            &self.suite_inputs(),
        )
    }

    /// Every open run's decoding method and analysis (suite figures).
    pub(crate) fn suite_inputs(&self) -> Vec<SuiteInput> {
        self.runs
            .iter()
            .map(|r| (r.run.sampling.method.clone(), r.turns.clone()))
            .collect()
    }

    /// The suite over the open runs: per decoding method, the (run, turn)
    /// of every question with a gold answer.
    pub fn suite_groups(&self) -> Vec<(String, Vec<(usize, usize)>)> {
        crate::analysis::suite::group_by_label(self.runs.iter().enumerate().flat_map(|(ri, r)| {
            r.turns
                .iter()
                .filter(|t| t.gold.is_some())
                .map(move |t| (r.run.sampling.method.as_str(), (ri, t.turn)))
        }))
    }

    fn export_to(&mut self, figure: &str, format: Format, path: &Path, overwrite: bool) {
        let Some(fig) = self.build_figure(figure) else {
            self.error(format!("nothing to export for {figure}"));
            return;
        };
        match export::export(&fig, format, path, 2.0, overwrite) {
            Ok(()) => self.info(format!("exported {} to {}", figure, path.display())),
            Err(e) => self.error(e.to_string()),
        }
    }

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
                        self.compare_with =
                            self.compare_with.min(self.runs.len().saturating_sub(1));
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
                    self.selected_token = None;
                }
                AppCommand::SetPaths(p) => self.shown_paths = p,
                AppCommand::NextPath | AppCommand::PrevPath => {
                    let n = self.run().map_or(0, |r| r.run.paths.len());
                    if n > 0 {
                        let step = if c == AppCommand::NextPath { 1 } else { n - 1 };
                        for p in &mut self.shown_paths {
                            *p = (*p + step) % n;
                        }
                    }
                }
                AppCommand::SelectToken { path, token } => {
                    self.selected_token = Some((path, token));
                    self.token_page = token / TOKEN_PAGE;
                }
                AppCommand::SelectNode(n) => self.selected_node = n,
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
                AppCommand::SetTokenPage(p) => self.token_page = p,
                AppCommand::StartSample => self.start_sample(),
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
                    match super::live::keep_autosave(prefix) {
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
                            let _ = super::live::autosave(&snap);
                            let _ = super::live::save_finished(&snap);
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
            self.figures.clear();
        }
        if self.turn >= self.run().map_or(1, |r| r.turns.len().max(1)) {
            self.turn = 0;
        }
    }

    /// The engine worker, started on first use; loads the model (or
    /// reaches the server) unless it already did.
    fn engine_with(&mut self, backend: &crate::engine::Backend) -> Option<&crate::engine::Worker> {
        if self.worker.is_none() {
            let ctx = self.ctx.clone().unwrap_or_default();
            match super::live::spawn_worker(&ctx) {
                Ok(w) => self.worker = Some(w),
                Err(e) => {
                    self.error(format!("cannot start the engine thread: {e}"));
                    return None;
                }
            }
        }
        let loaded = matches!(&self.model, super::live::ModelState::Loaded { backend: b, .. } | super::live::ModelState::Loading { backend: b, .. } if b == backend);
        if !loaded {
            let w = self.worker.as_ref()?;
            if let Err(e) = w.open(backend) {
                self.error(e.to_string());
                return None;
            }
            self.model = super::live::ModelState::Loading {
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
        self.judging = Some(super::live::Judging {
            run,
            done: 0,
            total,
        });
        self.info(format!(
            "asking the model again ({total} prompts): P(True), P(True) with brainstorm, USC"
        ));
    }

    /// Record what judging read in its run, re-analyse, keep it on disk.
    fn finish_judging(&mut self, judgements: Vec<crate::run::judgement::Judgement>) {
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

    fn start_sample(&mut self) {
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
        self.live = Some(super::live::LiveSession::new(
            req.n_paths,
            req.max_tokens,
            None,
        ));
        self.info(format!("sampling {} paths...", req.n_paths));
    }

    fn start_fork(&mut self, path: usize, turn: usize, token: usize, m: u32) {
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
        self.live = Some(super::live::LiveSession::new(
            m,
            run.sampling.max_tokens,
            Some(target),
        ));
        self.info(format!(
            "resampling {m} paths from path {path} at token {token}"
        ));
    }

    /// Take the engine's events (bounded time per frame) into the live run.
    fn pump_engine(&mut self) {
        let Some(w) = &self.worker else { return };
        let events = super::live::drain(w);
        let params = self.settings.params();
        let mut finished = None;
        for e in events {
            match &e {
                Event::ModelLoading { progress } => {
                    if let super::live::ModelState::Loading { progress: p, .. } = &mut self.model {
                        *p = *progress;
                    }
                }
                Event::ModelLoaded {
                    info,
                    plain_prompt,
                    device,
                } => {
                    let backend = match &self.model {
                        super::live::ModelState::Loading { backend, .. } => backend.clone(),
                        _ => self.settings.form.backend(),
                    };
                    self.model = super::live::ModelState::Loaded {
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
                    if let super::live::ModelState::Loading { backend, .. } = &self.model {
                        self.model = super::live::ModelState::Failed {
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
                            self.compare_with = prev;
                        }
                        self.turn = 0;
                        self.shown_paths = vec![0, 1.min(snap_len(&self.runs[self.active].run))];
                        self.shown_paths.dedup();
                        self.figures.clear();
                        self.tree = None;
                    }
                }
                Event::RunFinished { run } => finished = Some(*run),
                _ => {}
            }
        }
        if let Some(run) = finished {
            let l = self.live.take();
            if let Some(i) = l.and_then(|l| l.run_index) {
                match super::live::save_finished(&run) {
                    Ok(p) => {
                        self.info(format!(
                            "saved {} ({} paths, {} tokens)",
                            p.display(),
                            run.paths.len(),
                            run.total_tokens()
                        ));
                        if let Some(r) = self.runs.get_mut(i) {
                            r.path = Some(p.clone());
                            r.name = super::live::file_label(&p);
                        }
                        self.settings.remember(&p);
                    }
                    Err(e) => self.error(format!("cannot save the run: {e}")),
                }
                if let Some(r) = self.runs.get_mut(i) {
                    r.replace_run(run, &params);
                }
                self.figures.clear();
                self.tree = None;
            }
            return;
        }
        let Some(l) = &mut self.live else { return };
        // Re-analysis and autosave run in background jobs: a frame only
        // clones the snapshot.
        if l.dirty && !self.analysing && l.last_analysis.elapsed() >= super::live::REANALYZE_EVERY {
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
            && l.last_autosave.elapsed().as_secs_f64() >= super::live::AUTOSAVE_SECS
        {
            l.last_autosave = std::time::Instant::now();
            if let Some(snap) = l.live.snapshot() {
                let tx = self.jobs_tx.clone();
                let _ = std::thread::Builder::new()
                    .name("reasonscope-autosave".into())
                    .spawn(move || {
                        if let Err(e) = super::live::autosave(&snap) {
                            let _ = tx.send(JobDone::Failed(format!("autosave failed: {e}")));
                        }
                    });
            }
        }
    }

    fn guard_close(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested()) && self.live.is_some() && !self.allow_close
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm_close = true;
        }
    }

    fn dialogs_ui(&mut self, ctx: &egui::Context) {
        if let Some(p) = self.recover.clone() {
            egui::Window::new("Unfinished run")
                .collapsible(false)
                .resizable(false)
                .show(ctx, |ui| {
                    ui.label(format!(
                        "A live run did not finish last time; its autosave is {}.",
                        p.display()
                    ));
                    ui.horizontal(|ui| {
                        if ui.button("Reopen it").clicked() {
                            self.commands.push(AppCommand::Recover(true));
                        }
                        if ui
                            .button("Not now")
                            .on_hover_text("Keep the file in the runs folder, do not open it")
                            .clicked()
                        {
                            self.commands.push(AppCommand::Recover(false));
                        }
                    });
                });
        }
        if self.confirm_close {
            egui::Window::new("Sampling is running").collapsible(false).resizable(false).show(ctx, |ui| {
                ui.label("Stop sampling and quit? Every token sampled so far is saved in the runs folder.");
                ui.horizontal(|ui| {
                    if ui.button("Stop and quit").clicked() {
                        self.commands.push(AppCommand::ConfirmClose(true));
                    }
                    if ui.button("Keep sampling").clicked() {
                        self.commands.push(AppCommand::ConfirmClose(false));
                    }
                });
            });
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let cmd = Modifiers::COMMAND;
        let mut pushed = Vec::new();
        ctx.input_mut(|i| {
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::O)) {
                pushed.push(AppCommand::OpenDialog);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::T)) {
                pushed.push(AppCommand::ToggleTheme);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::L)) {
                pushed.push(AppCommand::TypePath);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd | Modifiers::SHIFT, Key::S)) {
                pushed.push(AppCommand::SaveRunDialog);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::E)) {
                match views::figure_of(self.settings.view) {
                    Some(f) => pushed.push(AppCommand::ExportDialog {
                        figure: f,
                        format: Format::Png,
                    }),
                    None => pushed.push(AppCommand::Notice(format!(
                        "Ctrl+E: the {} view has no chart to export; its content is text (the other views' charts export to PNG, SVG and CSV)",
                        self.settings.view.label()
                    ))),
                }
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::N)) {
                pushed.push(AppCommand::ToggleNewRun);
            }
            // Start from the keyboard (consumed before the widgets see it).
            if self.panel_open
                && self.live.is_none()
                && i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::Enter))
            {
                pushed.push(AppCommand::StartSample);
            }
            if i.consume_key(Modifiers::NONE, Key::Escape) && self.live.is_some() {
                pushed.push(AppCommand::StopSample);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::W)) {
                pushed.push(AppCommand::Close(self.active));
            }
            if i.consume_key(Modifiers::NONE, Key::F1) {
                self.help_open = !self.help_open;
            }
        });
        // Plain keys only when no text field has focus.
        if !ctx.egui_wants_keyboard_input() {
            ctx.input(|i| {
                let digits = [
                    Key::Num1,
                    Key::Num2,
                    Key::Num3,
                    Key::Num4,
                    Key::Num5,
                    Key::Num6,
                    Key::Num7,
                    Key::Num8,
                    Key::Num9,
                ];
                for (k, v) in digits.iter().zip(View::ALL) {
                    if i.key_pressed(*k) && i.modifiers.is_none() {
                        pushed.push(AppCommand::SetView(v));
                    }
                }
                if i.key_pressed(Key::PageDown) {
                    pushed.push(AppCommand::SetTokenPage(self.token_page + 1));
                }
                if i.key_pressed(Key::PageUp) {
                    pushed.push(AppCommand::SetTokenPage(self.token_page.saturating_sub(1)));
                }
                if i.key_pressed(Key::J) || i.key_pressed(Key::ArrowDown) && i.modifiers.alt {
                    pushed.push(AppCommand::NextPath);
                }
                if i.key_pressed(Key::K) || i.key_pressed(Key::ArrowUp) && i.modifiers.alt {
                    pushed.push(AppCommand::PrevPath);
                }
            });
        }
        self.commands.extend(pushed);
    }

    fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        for p in dropped {
            self.push(AppCommand::Open(p));
        }
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui
                    .button("Open...  (Ctrl+O)")
                    .on_hover_text("Open run files (.json, .json.gz) or other tools' traces (OpenAI-style responses, llama-server, SGLang, lm-eval logs, jsonl): they are imported")
                    .clicked()
                {
                    self.push(AppCommand::OpenDialog);
                    ui.close();
                }
                if ui
                    .button("Open folder...")
                    .on_hover_text("Open every run in a folder, e.g. the output of `reasonscope suite` (Suite view)")
                    .clicked()
                {
                    self.push(AppCommand::OpenFolderDialog);
                    ui.close();
                }
                if ui
                    .button("Type a path...  (Ctrl+L)")
                    .on_hover_text("Open a file or folder by its path, with completion (also used when no desktop file dialog is available)")
                    .clicked()
                {
                    self.push(AppCommand::TypePath);
                    ui.close();
                }
                if ui
                    .add_enabled(!self.runs.is_empty(), egui::Button::new("Save run as...  (Ctrl+Shift+S)"))
                    .on_hover_text("Write the active run as a reasonscope run file (for an imported trace: keeps the conversion)")
                    .clicked()
                {
                    self.push(AppCommand::SaveRunDialog);
                    ui.close();
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label("(none yet)");
                    }
                    for p in self.settings.recent.clone() {
                        if ui.button(p.display().to_string()).clicked() {
                            self.push(AppCommand::Open(p));
                            ui.close();
                        }
                    }
                });
                if ui
                    .button("Open bundled sample run")
                    .on_hover_text("The 64-path sample shipped with reasonscope")
                    .clicked()
                {
                    self.open_bytes(DEFAULT_RUN.0, DEFAULT_RUN.1);
                    ui.close();
                }
                ui.separator();
                if let Some(f) = views::figure_of(self.settings.view) {
                    for fmt in [Format::Png, Format::Svg, Format::Csv] {
                        if ui
                            .button(format!(
                                "Export this view as {}",
                                fmt.extension().to_uppercase()
                            ))
                            .clicked()
                        {
                            self.push(AppCommand::ExportDialog {
                                figure: f,
                                format: fmt,
                            });
                            ui.close();
                        }
                    }
                    ui.separator();
                }
                if ui
                    .add_enabled(
                        !self.runs.is_empty(),
                        egui::Button::new("Close run  (Ctrl+W)"),
                    )
                    .clicked()
                {
                    self.push(AppCommand::Close(self.active));
                    ui.close();
                }
            });
            ui.menu_button("View", |ui| {
                for (k, v) in View::ALL.into_iter().enumerate() {
                    if ui
                        .selectable_label(
                            self.settings.view == v,
                            format!("{}  ({})", v.label(), k + 1),
                        )
                        .on_hover_text(v.tooltip())
                        .clicked()
                    {
                        self.push(AppCommand::SetView(v));
                        ui.close();
                    }
                }
                ui.separator();
                if ui
                    .button(if self.settings.dark {
                        "Light theme  (Ctrl+T)"
                    } else {
                        "Dark theme  (Ctrl+T)"
                    })
                    .clicked()
                {
                    self.push(AppCommand::ToggleTheme);
                    ui.close();
                }
            });
            if ui
                .button("New run")
                .on_hover_text("Sample a prompt with a local model (Ctrl+N)")
                .clicked()
            {
                self.push(AppCommand::ToggleNewRun);
            }
            if ui
                .button("Help")
                .on_hover_text("Keyboard shortcuts (F1)")
                .clicked()
            {
                self.help_open = !self.help_open;
            }
        });
    }

    fn tabs_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for (i, r) in self.runs.iter().enumerate() {
                let resp = ui
                    .selectable_label(i == self.active, &r.name)
                    .on_hover_text(
                        r.path
                            .as_ref()
                            .map_or("bundled".into(), |p| p.display().to_string()),
                    );
                if resp.clicked() {
                    self.commands.push(AppCommand::Activate(i));
                }
                if ui
                    .small_button("x")
                    .on_hover_text("Close this run")
                    .clicked()
                {
                    self.commands.push(AppCommand::Close(i));
                }
            }
        });
        ui.horizontal(|ui| {
            for (k, v) in View::ALL.into_iter().enumerate() {
                if ui
                    .selectable_label(self.settings.view == v, v.label())
                    .on_hover_text(format!("{} ({})", v.tooltip(), k + 1))
                    .clicked()
                {
                    self.commands.push(AppCommand::SetView(v));
                }
            }
            let n_turns = self.run().map_or(0, |r| r.turns.len());
            if n_turns > 1 {
                ui.separator();
                ui.label("turn");
                for t in 0..n_turns {
                    if ui
                        .selectable_label(self.turn == t, (t + 1).to_string())
                        .clicked()
                    {
                        self.commands.push(AppCommand::SetTurn(t));
                    }
                }
            }
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let [p] = self.opening.as_slice() {
                ui.add(egui::Spinner::new());
                match self.import_progress.get(p) {
                    Some(&f) => {
                        ui.add(egui::ProgressBar::new(f).desired_width(200.0).text(format!(
                            "reading {}: {:.0}%",
                            super::live::file_label(p),
                            f * 100.0
                        )));
                    }
                    None => {
                        ui.label(format!("opening {}", super::live::file_label(p)));
                    }
                }
                ui.separator();
            } else if let Some((done, total)) = self.opening_progress() {
                ui.add(egui::Spinner::new());
                ui.add(
                    egui::ProgressBar::new(done as f32 / total as f32)
                        .desired_width(160.0)
                        .text(format!("opening runs: {done} of {total}")),
                );
                ui.separator();
            }
            if let Some(l) = &self.live {
                // No spinner: it asks for a frame every frame, and a frame
                // on a busy CPU is time taken from the engine; the counts
                // below change with every repaint the tokens ask for.
                ui.label(format!(
                    "sampling {}/{} paths, {} tokens, {:.1} tokens/s",
                    l.live.finished_paths,
                    l.total_paths,
                    l.live.tokens,
                    l.live.rate()
                ));
                ui.separator();
            }
            if let Some(r) = self.run() {
                let tokens = r.run.total_tokens();
                ui.label(format!(
                    "{} · {} · {} paths · {} tokens",
                    r.name,
                    r.run.model.name,
                    r.run.paths.len(),
                    tokens
                ));
                if let Some(g) = r.run.gold_for(self.turn) {
                    ui.label(format!("· gold {g}"));
                }
            } else {
                ui.label("no run open: File > Open (Ctrl+O), or drop a run file here");
            }
            if let Some(m) = &self.message {
                ui.separator();
                let color = if m.error {
                    theme::error_color(self.settings.dark)
                } else {
                    ui.visuals().text_color()
                };
                ui.colored_label(color, &m.text);
                if ui.small_button("dismiss").clicked() {
                    self.commands.push(AppCommand::ClearMessage);
                }
            }
            if !self.messages.is_empty() {
                let errors = self.messages.iter().filter(|m| m.error).count();
                let label = if errors > 0 {
                    format!("log ({}, {errors} errors)", self.messages.len())
                } else {
                    format!("log ({})", self.messages.len())
                };
                if ui
                    .small_button(label)
                    .on_hover_text("Every message of this session")
                    .clicked()
                {
                    self.log_open = !self.log_open;
                }
            }
        });
    }

    fn log_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.log_open;
        let dark = self.settings.dark;
        egui::Window::new("Messages")
            .open(&mut open)
            .default_width(640.0)
            .show(ctx, |ui| {
                egui::ScrollArea::vertical()
                    .max_height(400.0)
                    .stick_to_bottom(true)
                    .show(ui, |ui| {
                        for m in &self.messages {
                            ui.horizontal_wrapped(|ui| {
                                ui.monospace(&m.at);
                                if m.error {
                                    ui.colored_label(theme::error_color(dark), &m.text);
                                } else {
                                    ui.label(&m.text);
                                }
                            });
                        }
                    });
            });
        self.log_open = open;
    }

    fn help_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.help_open;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .show(ctx, |ui| {
                egui::Grid::new("keys").striped(true).show(ui, |ui| {
                    for (k, d) in [
                        ("Ctrl+O", "open run files or traces"),
                        ("Ctrl+L", "type a path to open (with completion)"),
                        ("Ctrl+Shift+S", "save the run as a run file"),
                        ("Ctrl+W", "close the current run"),
                        ("Ctrl+E", "export the current view as PNG"),
                        ("Ctrl+T", "light / dark theme"),
                        ("Ctrl+N", "New run panel"),
                        ("Ctrl+Enter", "start sampling (New run panel open)"),
                        ("Esc", "stop the live run"),
                        ("1 to 9", "switch view"),
                        ("J / K", "next / previous path (Paths view)"),
                        ("F1", "this help"),
                    ] {
                        ui.monospace(k);
                        ui.label(d);
                        ui.end_row();
                    }
                });
            });
        self.help_open = open;
    }

    fn screenshot(&mut self, ctx: &egui::Context) {
        let Some((path, frames)) = self.screenshot.as_mut() else {
            return;
        };
        *frames += 1;
        if *frames == 5 {
            let path = path.clone();
            ctx.request_screenshot(move |image| {
                let size = image.size;
                let mut data = Vec::with_capacity(size[0] * size[1] * 4);
                for p in &image.pixels {
                    data.extend_from_slice(&[p.r(), p.g(), p.b(), 255]);
                }
                let png = resvg::tiny_skia::IntSize::from_wh(size[0] as u32, size[1] as u32)
                    .and_then(|s| resvg::tiny_skia::Pixmap::from_vec(data, s))
                    .and_then(|p| p.encode_png().ok());
                match png {
                    Some(bytes) => {
                        if let Err(e) = std::fs::write(&path, bytes) {
                            eprintln!("cannot write screenshot {}: {e}", path.display());
                        }
                    }
                    None => eprintln!("cannot encode the screenshot"),
                }
                std::process::exit(0);
            });
        }
        ctx.request_repaint();
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
        }
        self.guard_close(ctx);
        self.poll_jobs();
        self.pump_engine();
        self.shortcuts(ctx);
        self.dropped_files(ctx);
        self.apply_commands();
        theme::apply(ctx, self.settings.dark);
        self.screenshot(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("menu").show(ui, |ui| {
            self.menu_ui(ui);
            self.tabs_ui(ui);
        });
        egui::Panel::bottom("status")
            .exact_size(theme::STATUS_HEIGHT)
            .show(ui, |ui| self.status_ui(ui));
        if self.panel_open {
            egui::Panel::right("new-run")
                .default_size(340.0)
                .show(ui, |ui| super::views::new_run_ui(self, ui));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.runs.is_empty() {
                ui.centered_and_justified(|ui| {
                    ui.label("Open a run file (Ctrl+O) or drop one here.")
                });
                return;
            }
            views::view_ui(self, ui);
        });
        let ctx = ui.ctx().clone();
        self.help_ui(&ctx);
        self.log_ui(&ctx);
        if let Some(d) = &mut self.path_dialog {
            match d.ui(&ctx) {
                Some(Answer::Chosen(p)) => {
                    let purpose = d.purpose.clone();
                    if self.path_chosen(purpose, p) {
                        self.path_dialog = None;
                    }
                }
                Some(Answer::Cancelled) => self.path_dialog = None,
                None => {}
            }
        }
        self.dialogs_ui(&ctx);
        if self.live.is_some() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        // Commands pushed while drawing are applied at once, not a frame late.
        if !self.commands.is_empty() {
            ctx.request_repaint();
        }
    }

    /// Settings are saved (`save`); egui's own memory is not, so that no
    /// view reopens mid-scroll from an earlier session.
    fn persist_egui_memory(&self) -> bool {
        false
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

/// A run's decoding method and its analysis, as suite figures read them.
pub(crate) type SuiteInput = (String, std::sync::Arc<Vec<crate::analysis::TurnAnalysis>>);

/// What opening one file gave: its runs (name, run, analysis) and, for an
/// import, how it went.
pub struct Loaded {
    pub runs: Vec<(String, crate::run::Run, Vec<crate::analysis::TurnAnalysis>)>,
    pub import: Option<crate::run::import::Summary>,
}

/// Read a run file or import another tool's file (detected by content),
/// and analyse its runs. `progress` gets the fraction of the file read.
fn read_loaded(
    p: &Path,
    params: &crate::analysis::AnalysisParams,
    progress: &mut dyn FnMut(f32),
) -> Result<Loaded, String> {
    let total = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0).max(1);
    let opts = crate::run::default_import_options(p);
    let opened = crate::run::open_any(p, &opts, false, &mut |read| {
        progress((read as f64 / total as f64).min(1.0) as f32)
    })
    .map_err(|e| e.to_string())?;
    let runs = opened
        .runs
        .into_iter()
        .map(|r| {
            let turns = crate::analysis::analyze_run(&r.run, params);
            (r.name, r.run, turns)
        })
        .collect();
    Ok(Loaded {
        runs,
        import: opened.summary,
    })
}

/// Read and analyse one file off the GUI thread and hand it to the app.
fn load_in_background(
    p: &Path,
    params: &crate::analysis::AnalysisParams,
    tx: &crossbeam_channel::Sender<JobDone>,
    ctx: Option<&egui::Context>,
) {
    let mut last = 0.0f32;
    let result = read_loaded(p, params, &mut |f| {
        // A few dozen updates per file are enough for a progress bar.
        if f - last >= 0.02 {
            last = f;
            let _ = tx.try_send(JobDone::Progress {
                path: p.to_path_buf(),
                fraction: f,
            });
            if let Some(c) = ctx {
                c.request_repaint();
            }
        }
    });
    let _ = tx.send(JobDone::Opened {
        path: p.to_path_buf(),
        result: Box::new(result),
    });
    if let Some(c) = ctx {
        c.request_repaint();
    }
}

/// The one place the app turns a request into a figure (in a job or not).
fn compute_figure(
    req: &charts::FigureRequest,
    run: &crate::run::Run,
    turns: &[crate::analysis::TurnAnalysis],
    suite: &[SuiteInput],
) -> Option<Figure> {
    if req.id == "suite" {
        let groups =
            charts::SuiteGroup::by_method(suite.iter().map(|(m, ts)| (m.as_str(), ts.as_slice())));
        return charts::suite_figure(&groups, &req.params);
    }
    let all: Vec<&crate::analysis::TurnAnalysis> = suite.iter().flat_map(|s| s.1.iter()).collect();
    charts::figure_for(req, run, turns, &all)
}

/// A turn's trie and its layout, shared with the job that built it.
type SharedTree = std::sync::Arc<(Vec<crate::analysis::branches::TreeNode>, Vec<f64>)>;
