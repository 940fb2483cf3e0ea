//! What views ask of the app. Views never change the app's state; they
//! push commands, which the app applies once per frame.

use std::path::PathBuf;

use super::state::View;
use crate::export::Format;

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
    /// Ask the New run panel's model (or server) about the active run:
    /// P(True), its brainstorm variant and USC.
    StartJudging,
    /// Stop judging (the run is left as it was).
    StopJudging,
}

/// Tokens per page in the Paths view.
pub const TOKEN_PAGE: usize = 512;
