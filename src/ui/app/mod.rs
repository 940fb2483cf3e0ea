//! The app shell: its state and the frame loop. Views draw in `views/`;
//! they never mutate state directly, they push `AppCommand`s that `logic`
//! applies once per frame. The rest is split by job: `commands` (applying
//! them, collecting background jobs), `files` (open, import, save, export),
//! `figures` (cached and background figures), `engine_pump` (sampling,
//! forking, judging) and `chrome` (menu, tabs, status, log, help, dialogs,
//! shortcuts).

mod chrome;
mod commands;
mod engine_pump;
mod figures;
mod files;

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

pub(super) fn snap_len(r: &crate::run::Run) -> usize {
    r.paths.len().saturating_sub(1)
}

/// The bundled sample run opened when no file is given (64 paths where the
/// selection methods disagree).
pub const DEFAULT_RUN: (&str, &[u8]) = (
    "multiply-n64.json.gz (bundled sample)",
    include_bytes!("../../../sample_runs/multiply-n64.json.gz"),
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

    /// Every open run's decoding method and analysis (suite figures).
    pub(crate) fn suite_inputs(&self) -> Vec<SuiteInput> {
        self.runs
            .iter()
            .map(|r| (r.run.sampling.method.clone(), r.turns.clone()))
            .collect()
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

/// The one place the app turns a request into a figure (in a job or not).
pub(super) fn compute_figure(
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
