//! What the app holds: open runs with their cached analyses, and the
//! persisted settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::analysis::{analyze_run, AnalysisParams, TurnAnalysis};
use crate::run::Run;

/// The views, in the order of their tabs and number keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum View {
    Methods,
    Paths,
    Entropy,
    Branches,
    Reflection,
    Curves,
    Drift,
    Suite,
    Compare,
}

impl View {
    pub const ALL: [View; 9] = [
        View::Methods,
        View::Paths,
        View::Entropy,
        View::Branches,
        View::Reflection,
        View::Curves,
        View::Drift,
        View::Suite,
        View::Compare,
    ];

    pub fn label(self) -> &'static str {
        match self {
            View::Methods => "Methods",
            View::Paths => "Paths",
            View::Entropy => "Entropy",
            View::Branches => "Branches",
            View::Reflection => "Reflection",
            View::Curves => "Curves",
            View::Drift => "Drift",
            View::Suite => "Suite",
            View::Compare => "Compare runs",
        }
    }

    pub fn tooltip(self) -> &'static str {
        match self {
            View::Methods => "Every selection method side by side: chosen answer, confidence, vote distribution, agreement",
            View::Paths => "Token-level view of 2–4 paths, coloured by a statistic; hover a token for its alternatives",
            View::Entropy => "Per-token entropy and DeepConf window confidence of the paths",
            View::Branches => "The token trie: where paths part ways and which forks decide the answer",
            View::Reflection => "Forward reasoning vs reflection, candidate answers per path",
            View::Curves => "Accuracy vs N and vs tokens; calibration over all open runs with gold answers",
            View::Drift => "Multi-turn runs: how answers and distributions move from turn to turn",
            View::Suite => "All open runs with gold answers as a suite: accuracy, cost, calibration per method and decoding method",
            View::Compare => "Two open runs side by side",
        }
    }
}

/// Statistic that colours tokens in the Paths view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenStat {
    Entropy,
    Logprob,
    SelfCertainty,
    Confidence,
}

impl TokenStat {
    pub const ALL: [TokenStat; 4] = [
        TokenStat::Entropy,
        TokenStat::Logprob,
        TokenStat::SelfCertainty,
        TokenStat::Confidence,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TokenStat::Entropy => "entropy",
            TokenStat::Logprob => "-logprob",
            TokenStat::SelfCertainty => "self-certainty",
            TokenStat::Confidence => "confidence",
        }
    }
}

/// Persisted between sessions (eframe storage). Only settings: never data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub dark: bool,
    pub view: View,
    pub window: usize,
    pub borda_p: f64,
    pub stat: TokenStat,
    pub normalized_x: bool,
    pub recent: Vec<PathBuf>,
    /// The New run form.
    pub form: super::live::RunForm,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dark: false,
            view: View::Methods,
            window: 2048,
            borda_p: 0.5,
            stat: TokenStat::Entropy,
            normalized_x: false,
            recent: Vec::new(),
            form: super::live::RunForm::default(),
        }
    }
}

impl Settings {
    pub fn params(&self) -> AnalysisParams {
        let mut p = AnalysisParams::default();
        p.methods.window = self.window.max(1);
        p.methods.borda_p = self.borda_p;
        p
    }

    pub fn remember(&mut self, path: &std::path::Path) {
        self.recent.retain(|p| p != path);
        self.recent.insert(0, path.to_path_buf());
        self.recent.truncate(10);
    }
}

/// What the user has picked in the views: not persisted.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Paths shown in the Paths view.
    pub shown_paths: Vec<usize>,
    /// (path, token) picked in Paths or Entropy.
    pub selected_token: Option<(usize, usize)>,
    /// Node picked in the Branches view's trie.
    pub selected_node: Option<usize>,
    /// Page of tokens shown in the Paths view.
    pub token_page: usize,
    /// The run Compare sets beside the active one.
    pub compare_with: usize,
    /// Entropy view's table: sort column and descending.
    pub entropy_sort: (usize, bool),
    /// Entropy view: draw only the paths shown in Paths.
    pub entropy_selected_only: bool,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            shown_paths: vec![0, 1],
            selected_token: None,
            selected_node: None,
            token_page: 0,
            compare_with: 0,
            entropy_sort: (0, false),
            entropy_selected_only: false,
        }
    }
}

/// An open run and its analysis, computed for `params`.
pub struct OpenRun {
    pub name: String,
    pub path: Option<PathBuf>,
    /// Shared so that background jobs (figures) can read it.
    pub run: std::sync::Arc<Run>,
    /// Shared so that views can hold the analysis while they mutate the app.
    pub turns: std::sync::Arc<Vec<TurnAnalysis>>,
    pub params: AnalysisParams,
}

impl OpenRun {
    pub fn new(name: String, path: Option<PathBuf>, run: Run, params: &AnalysisParams) -> Self {
        let turns = std::sync::Arc::new(analyze_run(&run, params));
        Self::analysed(name, path, run, turns, params)
    }

    /// From a run already analysed (in a background job).
    pub fn analysed(
        name: String,
        path: Option<PathBuf>,
        run: Run,
        turns: std::sync::Arc<Vec<TurnAnalysis>>,
        params: &AnalysisParams,
    ) -> Self {
        let run = std::sync::Arc::new(run);
        OpenRun {
            name,
            path,
            run,
            turns,
            params: params.clone(),
        }
    }

    /// Replace the run (a live run grew) and recompute its analysis.
    pub fn replace_run(&mut self, run: Run, params: &AnalysisParams) {
        self.turns = std::sync::Arc::new(analyze_run(&run, params));
        self.run = std::sync::Arc::new(run);
        self.params = params.clone();
    }

    /// Recompute when the settings changed.
    pub fn refresh(&mut self, params: &AnalysisParams) -> bool {
        if &self.params == params {
            return false;
        }
        self.turns = std::sync::Arc::new(analyze_run(&self.run, params));
        self.params = params.clone();
        true
    }
}

/// The suite over `runs`: per decoding method, the (run, turn) of every
/// question with a gold answer.
pub fn suite_groups(runs: &[OpenRun]) -> Vec<(String, Vec<(usize, usize)>)> {
    crate::analysis::suite::group_by_label(runs.iter().enumerate().flat_map(|(ri, r)| {
        r.turns
            .iter()
            .filter(|t| t.gold.is_some())
            .map(move |t| (r.run.sampling.method.as_str(), (ri, t.turn)))
    }))
}

/// A turn's analysis held through its run's shared list (cheap to clone).
#[derive(Clone)]
pub struct TurnRef {
    turns: std::sync::Arc<Vec<TurnAnalysis>>,
    index: usize,
}

impl TurnRef {
    pub fn new(turns: std::sync::Arc<Vec<TurnAnalysis>>, index: usize) -> Option<Self> {
        (index < turns.len()).then_some(TurnRef { turns, index })
    }
}

impl std::ops::Deref for TurnRef {
    type Target = TurnAnalysis;
    fn deref(&self) -> &TurnAnalysis {
        &self.turns[self.index]
    }
}
