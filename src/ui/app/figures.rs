//! Figures for the views: cached by what they depend on, built on a
//! background thread when slow, and the suite's groups.

use super::*;

impl App {
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

    pub(super) fn figure_request(&self, id: &str) -> charts::FigureRequest {
        charts::FigureRequest {
            id: id.to_owned(),
            turn: self.turn,
            paths: self.entropy_selected_only.then(|| self.shown_paths.clone()),
            selected: self.selected_token,
            normalized_x: self.settings.normalized_x,
            params: self.settings.params().methods,
        }
    }

    pub(super) fn spawn_figure(&self, id: &str, key: String) {
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

    pub(super) fn figure_key(&self, id: &str) -> String {
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
}
