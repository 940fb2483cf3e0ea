//! Figures for the views: cached by what they depend on, built on a
//! background thread when slow. The cache reads the app's state only
//! through `FigureInputs`, so views and the app share it without either
//! knowing the other.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use eframe::egui;

use super::jobs::{JobDone, SharedTree};
use super::state::{OpenRun, Selection, Settings};
use crate::charts::{self, Figure};

/// Runs larger than this build their figures in a background job, so that
/// no frame waits for them.
pub const HEAVY_TOKENS: usize = 50_000;

/// A run's decoding method and its analysis, as suite figures read them.
pub(crate) type SuiteInput = (String, Arc<Vec<crate::analysis::TurnAnalysis>>);

/// What a figure depends on.
pub struct FigureInputs<'a> {
    pub runs: &'a [OpenRun],
    pub active: usize,
    pub turn: usize,
    pub selection: &'a Selection,
    pub settings: &'a Settings,
    /// Files are still being opened (a suite figure waits for them all).
    pub opening: bool,
}

impl FigureInputs<'_> {
    fn run(&self) -> Option<&OpenRun> {
        self.runs.get(self.active)
    }

    /// Every open run's decoding method and analysis (suite figures).
    pub fn suite_inputs(&self) -> Vec<SuiteInput> {
        self.runs
            .iter()
            .map(|r| (r.run.sampling.method.clone(), r.turns.clone()))
            .collect()
    }

    pub fn request(&self, id: &str) -> charts::FigureRequest {
        let s = self.selection;
        charts::FigureRequest {
            id: id.to_owned(),
            turn: self.turn,
            paths: s.entropy_selected_only.then(|| s.shown_paths.clone()),
            selected: s.selected_token,
            normalized_x: self.settings.normalized_x,
            params: self.settings.params().methods,
        }
    }

    /// Everything figure `id` depends on, as a cache key.
    pub fn key(&self, id: &str) -> String {
        let (s, set) = (self.selection, self.settings);
        if id == "suite" {
            let names: Vec<&str> = self.runs.iter().map(|r| r.name.as_str()).collect();
            return format!("suite|{}|{}|{}", names.join("/"), set.window, set.borda_p);
        }
        format!(
            "{id}|{}|{}|{:?}|{}|{}|{}|{}|{}|{:?}",
            self.active,
            self.turn,
            s.shown_paths,
            s.entropy_selected_only,
            set.normalized_x,
            set.window,
            set.borda_p,
            s.compare_with,
            // Only the entropy figure marks the selected token.
            if id == "entropy" {
                s.selected_token
            } else {
                None
            }
        )
    }

    /// Build figure `id` (the same description the view draws and exports).
    pub fn build(&self, id: &str) -> Option<Figure> {
        let r = self.run()?;
        compute_figure(&self.request(id), &r.run, &r.turns, &self.suite_inputs())
    }
}

/// The one place the app turns a request into a figure (in a job or not).
pub fn compute_figure(
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

/// Built figures and the Branches view's trie, by key; the keys of those a
/// background job is building.
pub struct FigureCache {
    figures: HashMap<String, Arc<Figure>>,
    pending: HashSet<String>,
    tree: Option<(String, SharedTree)>,
    jobs: crossbeam_channel::Sender<JobDone>,
    /// Asked to repaint when a job lands (set on the first frame).
    pub ctx: Option<egui::Context>,
}

impl FigureCache {
    pub fn new(jobs: crossbeam_channel::Sender<JobDone>) -> Self {
        FigureCache {
            figures: HashMap::new(),
            pending: HashSet::new(),
            tree: None,
            jobs,
            ctx: None,
        }
    }

    /// Forget every figure (the runs or the settings they read changed).
    pub fn clear_figures(&mut self) {
        self.figures.clear();
    }

    /// Forget every figure and the trie (a run changed).
    pub fn clear(&mut self) {
        self.figures.clear();
        self.tree = None;
    }

    /// A figure for the current state, cached until the inputs change. For a
    /// large run it is built in a background job: `None` until it is ready
    /// (`pending` then says so).
    pub fn get(&mut self, id: &'static str, inp: &FigureInputs) -> Option<Arc<Figure>> {
        let key = inp.key(id);
        if let Some(f) = self.figures.get(&key) {
            return Some(f.clone());
        }
        let heavy = inp
            .run()
            .is_some_and(|r| r.run.total_tokens() > HEAVY_TOKENS);
        // Accuracy vs N draws 200 subsets per size and fits RPC on each:
        // 40 ms for the bundled 64-path run, too long for a frame
        // (measured by `make soak`). Accuracy curves over a whole suite
        // take seconds. Both are always jobs.
        if heavy || id == "curves" || id == "suite" {
            // Not for a folder still opening: one job when all are in,
            // rather than one per run landing.
            if !(id == "suite" && inp.opening) && self.pending.insert(key.clone()) {
                self.spawn(id, key, inp);
            }
            return None;
        }
        let f = Arc::new(inp.build(id)?);
        self.figures.insert(key, f.clone());
        Some(f)
    }

    pub fn pending(&self, id: &str, inp: &FigureInputs) -> bool {
        self.pending.contains(&inp.key(id))
    }

    /// A figure job finished.
    pub fn landed(&mut self, key: String, figure: Option<Figure>) {
        self.pending.remove(&key);
        if let Some(f) = figure {
            self.figures.insert(key, Arc::new(f));
        }
    }

    /// A trie job finished: kept if it is still the current turn's
    /// (`current`, the key `FigureInputs::key` gives for "tree").
    pub fn tree_landed(&mut self, key: String, tree: SharedTree, current: &str) {
        self.pending.remove(&key);
        if key == current {
            self.tree = Some((key, tree));
        }
    }

    fn spawn(&self, id: &str, key: String, inp: &FigureInputs) {
        let Some(r) = inp.run() else { return };
        let (run, turns) = (r.run.clone(), r.turns.clone());
        let suite = inp.suite_inputs();
        let req = inp.request(id);
        let tx = self.jobs.clone();
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

    /// The current turn's trie and its layout (cached like the figures).
    pub fn tree(&mut self, inp: &FigureInputs) -> Option<SharedTree> {
        let key = inp.key("tree");
        if self.tree.as_ref().is_none_or(|t| t.0 != key) {
            let r = inp.run()?;
            if r.run.total_tokens() > HEAVY_TOKENS {
                // Large tries are built in a background job.
                let (run, turns, turn, tx, ctx) = (
                    r.run.clone(),
                    r.turns.clone(),
                    inp.turn,
                    self.jobs.clone(),
                    self.ctx.clone(),
                );
                if self.pending.insert(key.clone()) {
                    let _ = std::thread::Builder::new()
                        .name("reasonscope-tree".into())
                        .spawn(move || {
                            if let Some(t) = turns.get(turn) {
                                let nodes = charts::turn_tree(&run, t);
                                let ys = charts::tree_layout(&nodes);
                                let _ = tx.send(JobDone::Tree {
                                    key,
                                    tree: Arc::new((nodes, ys)),
                                });
                            }
                            if let Some(c) = ctx {
                                c.request_repaint();
                            }
                        });
                }
                return None;
            }
            let t = r.turns.get(inp.turn)?;
            let nodes = charts::turn_tree(&r.run, t);
            let ys = charts::tree_layout(&nodes);
            self.tree = Some((key, Arc::new((nodes, ys))));
        }
        self.tree.as_ref().map(|t| t.1.clone())
    }
}
