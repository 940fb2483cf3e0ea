//! What a view may touch (after rerun's `ViewerContext`): the open runs and
//! their analyses, the settings, the selection, the figure cache, what the
//! engine is doing, and a command queue. Views never see `App`: whatever
//! else they want done, they ask for with an `AppCommand`.

use std::sync::Arc;

use super::command::AppCommand;
use super::figure_cache::{FigureCache, FigureInputs, SuiteInput};
use super::jobs::SharedTree;
use super::live::{Judging, LiveSession, ModelState, ServerModels};
use super::state::{OpenRun, Selection, Settings, TurnRef};
use crate::charts::Figure;

/// The figure cache's view of a context; a macro, so that the cache
/// itself can be borrowed mutably beside it.
macro_rules! inputs {
    ($cx:expr) => {
        FigureInputs {
            runs: $cx.runs,
            active: $cx.active,
            turn: $cx.turn,
            selection: &*$cx.selection,
            settings: &*$cx.settings,
            opening: $cx.opening.is_some(),
        }
    };
}

pub struct ViewerContext<'a> {
    pub runs: &'a [OpenRun],
    /// Index of the active run in `runs`.
    pub active: usize,
    /// The turn shown (0-based; shown as "turn 1").
    pub turn: usize,
    pub settings: &'a mut Settings,
    pub selection: &'a mut Selection,
    pub figures: &'a mut FigureCache,
    /// The live run, while one samples.
    pub live: Option<&'a LiveSession>,
    /// P(True) / USC judging in progress.
    pub judging: Option<&'a Judging>,
    /// The New run panel's model or server.
    pub model: &'a ModelState,
    /// The model list of the server URL in the New run panel.
    pub server_models: &'a mut ServerModels,
    /// Runs opened and queued since the opening began, while some are
    /// still being read.
    pub opening: Option<(usize, usize)>,
    pub commands: &'a mut Vec<AppCommand>,
}

impl ViewerContext<'_> {
    pub fn push(&mut self, c: AppCommand) {
        self.commands.push(c);
    }

    pub fn run(&self) -> Option<&OpenRun> {
        self.runs.get(self.active)
    }

    pub fn turn_analysis(&self) -> Option<&crate::analysis::TurnAnalysis> {
        self.run()?.turns.get(self.turn)
    }

    /// The current turn's analysis, held independently of the context.
    pub fn shared_turn(&self) -> Option<TurnRef> {
        TurnRef::new(self.run()?.turns.clone(), self.turn)
    }

    /// The live session when it samples the active run.
    fn live_of_active(&self) -> Option<&crate::engine::LiveRun> {
        live_of(self.live, self.active)
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

    fn inputs(&self) -> FigureInputs<'_> {
        inputs!(self)
    }

    /// Every open run's decoding method and analysis (suite figures).
    pub fn suite_inputs(&self) -> Vec<SuiteInput> {
        self.inputs().suite_inputs()
    }

    /// Figure `id` for the current state; `None` while a job builds it.
    pub fn figure(&mut self, id: &'static str) -> Option<Arc<Figure>> {
        let inp = inputs!(self);
        self.figures.get(id, &inp)
    }

    pub fn figure_pending(&self, id: &str) -> bool {
        self.figures.pending(id, &self.inputs())
    }

    /// The current turn's trie and its layout; `None` while a job builds it.
    pub fn tree(&mut self) -> Option<SharedTree> {
        let inp = inputs!(self);
        self.figures.tree(&inp)
    }
}

/// The live session's run when it samples run `active`.
pub fn live_of(live: Option<&LiveSession>, active: usize) -> Option<&crate::engine::LiveRun> {
    live.filter(|l| l.run_index == Some(active) && !l.live.done)
        .map(|l| &l.live)
}
