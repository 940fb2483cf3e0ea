//! What background jobs (opening files, building figures, analysing a
//! growing live run) hand back to the app, through one channel.

use std::path::PathBuf;

use crate::charts::Figure;

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
        tree: SharedTree,
    },
    Failed(String),
    /// A job went well (a finished export): said in the status line.
    Done(String),
}

/// What opening one file gave: its runs (name, run, analysis) and, for an
/// import, how it went.
pub struct Loaded {
    pub runs: Vec<(String, crate::run::Run, Vec<crate::analysis::TurnAnalysis>)>,
    pub import: Option<crate::run::import::Summary>,
}

/// A turn's trie and its layout, shared with the job that built it.
pub type SharedTree = std::sync::Arc<(Vec<crate::analysis::branches::TreeNode>, Vec<f64>)>;
