//! The app shell: its state and the frame loop. Views draw in `views/`
//! through a `ViewerContext` (`viewer`); they push `AppCommand`s that
//! `logic` applies once per frame. The rest is split by job: `commands`
//! (applying them, collecting background jobs), `files` (open, import,
//! save, export), `engine_pump` (sampling, forking, judging) and `chrome`
//! (menu, tabs, status, log, help, dialogs, shortcuts). Figures are cached
//! in `ui::figure_cache`.

mod chrome;
mod commands;
mod engine_pump;
mod files;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use eframe::egui::{self, Key, KeyboardShortcut, Modifiers};

pub use super::command::{AppCommand, TOKEN_PAGE};
use super::context::ViewerContext;
use super::figure_cache::{FigureCache, FigureInputs};
use super::jobs::{JobDone, Loaded};
use super::path_dialog::{native, Answer, Native, PathDialog, Purpose};
use super::state::{OpenRun, Settings, View};
use super::{theme, views};
use crate::charts::Figure;
use crate::engine::Event;
use crate::export::{self, Format};
use crate::run::parse_run_bytes;

pub(super) fn snap_len(r: &crate::run::Run) -> usize {
    r.paths.len().saturating_sub(1)
}

/// The bundled sample run opened when no file is given: 32 explained
/// answers with reflection, decisive forks and methods that disagree.
pub const DEFAULT_RUN: (&str, &[u8]) = (
    "apples-explained-n32.json.gz (bundled sample)",
    include_bytes!("../../../sample_runs/apples-explained-n32.json.gz"),
);

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
    /// What the user picked in the views.
    pub selection: super::state::Selection,
    pub message: Option<Message>,
    /// Every message of this session, oldest first (the status log).
    pub messages: Vec<Message>,
    log_open: bool,
    /// The in-app path field, while open.
    pub path_dialog: Option<PathDialog>,
    pub help_open: bool,
    commands: Vec<AppCommand>,
    figures: FigureCache,
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
            selection: Default::default(),
            message: None,
            messages: Vec::new(),
            log_open: false,
            path_dialog: None,
            help_open: false,
            commands: Vec::new(),
            figures: FigureCache::new(jobs_tx.clone()),
            analysing: false,
            opening: Vec::new(),
            folder_order: HashMap::new(),
            opening_total: 0,
            import_progress: HashMap::new(),
            jobs_tx,
            jobs_rx,
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

    pub fn run(&self) -> Option<&OpenRun> {
        self.runs.get(self.active)
    }

    /// What the views may touch, borrowed from the app for one frame.
    pub fn viewer(&mut self) -> ViewerContext<'_> {
        let opening = self.opening_progress();
        ViewerContext {
            runs: &self.runs,
            active: self.active,
            turn: self.turn,
            settings: &mut self.settings,
            selection: &mut self.selection,
            figures: &mut self.figures,
            live: self.live.as_ref(),
            judging: self.judging.as_ref(),
            model: &self.model,
            server_models: &mut self.server_models,
            opening,
            commands: &mut self.commands,
        }
    }

    pub(super) fn figure_inputs(&self) -> FigureInputs<'_> {
        FigureInputs {
            runs: &self.runs,
            active: self.active,
            turn: self.turn,
            selection: &self.selection,
            settings: &self.settings,
            opening: !self.opening.is_empty(),
        }
    }

    /// Build figure `id` (the same description the view draws and exports).
    pub fn build_figure(&self, id: &str) -> Option<Figure> {
        self.figure_inputs().build(id)
    }

    /// Whether a background job is building figure `id`.
    pub fn figure_pending(&self, id: &str) -> bool {
        self.figures.pending(id, &self.figure_inputs())
    }

    /// Runs opened and queued since the opening began, while some are
    /// still being read.
    pub fn opening_progress(&self) -> Option<(usize, usize)> {
        let total = self.opening_total.max(self.opening.len());
        (!self.opening.is_empty()).then(|| (total - self.opening.len(), total))
    }

    /// The suite over the open runs: per decoding method, the (run, turn)
    /// of every question with a gold answer.
    pub fn suite_groups(&self) -> Vec<(String, Vec<(usize, usize)>)> {
        super::state::suite_groups(&self.runs)
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
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
            self.figures.ctx = Some(ctx.clone());
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
                .show(ui, |ui| super::views::new_run_ui(&mut self.viewer(), ui));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.runs.is_empty() {
                ui.centered_and_justified(|ui| {
                    ui.label("Open a run file (Ctrl+O) or drop one here.")
                });
                return;
            }
            views::view_ui(&mut self.viewer(), ui);
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

/// Read a run file or import another tool's file (detected by content),
/// and analyse its runs. `progress` gets the fraction of the file read.
pub(super) fn read_loaded(
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
pub(super) fn load_in_background(
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
