//! A run assembled from the engine's events as they stream in: what the GUI
//! shows while sampling and what autosaves write. Paths still sampling are
//! marked `cancelled` in a snapshot (they hold every token so far).

use std::time::{Duration, Instant};

use super::events::{Event, TokenRecord};
use crate::run::{Finish, Run, Timing, Tokens, Turn};

#[derive(Debug, Clone, Default)]
pub struct LiveRun {
    pub run: Option<Run>,
    pub tokens: usize,
    pub finished_paths: usize,
    pub started_paths: usize,
    pub done: bool,
    started: Option<Instant>,
    /// (path, turn) still being sampled: a snapshot writes them as
    /// `cancelled`, the app shows them as running.
    running: std::collections::HashSet<(u32, u32)>,
}

impl LiveRun {
    /// Apply one event; returns true when the run changed.
    pub fn apply(&mut self, e: &Event) -> bool {
        match e {
            Event::RunStarted { skeleton } => {
                *self = LiveRun {
                    run: Some((**skeleton).clone()),
                    started: Some(Instant::now()),
                    ..Default::default()
                };
                true
            }
            Event::PathStarted { .. } => {
                self.started_paths += 1;
                false
            }
            Event::Token(t) => {
                self.running.insert((t.path, t.turn));
                self.push(t);
                self.tokens += 1;
                true
            }
            Event::PathFinished {
                path,
                turn,
                finish,
                done,
                ..
            } => {
                if *done {
                    self.finished_paths += 1;
                }
                self.running.remove(&(*path, *turn));
                if let Some(t) = self.turn_mut(*path as usize, *turn as usize) {
                    t.finish = *finish;
                }
                true
            }
            Event::RunFinished { run } => {
                self.run = Some((**run).clone());
                self.done = true;
                self.running.clear();
                true
            }
            _ => false,
        }
    }

    fn turn_mut(&mut self, path: usize, turn: usize) -> Option<&mut Turn> {
        let run = self.run.as_mut()?;
        let width = run.sampling.top_logprobs as usize;
        let p = run.paths.get_mut(path)?;
        while p.turns.len() <= turn {
            p.turns.push(Turn {
                text: String::new(),
                finish: Finish::Cancelled,
                tokens: Tokens::with_width(width),
                timing: Timing::default(),
            });
        }
        p.turns.get_mut(turn)
    }

    fn push(&mut self, r: &TokenRecord) {
        let Some(t) = self.turn_mut(r.path as usize, r.turn as usize) else {
            return;
        };
        r.push_to(&mut t.tokens);
        t.text.push_str(&r.text);
    }

    /// Whether turn `turn` of `path` is still being sampled.
    pub fn is_running(&self, path: usize, turn: usize) -> bool {
        self.running.contains(&(path as u32, turn as u32))
    }

    /// How many paths are still sampling turn `turn`.
    pub fn running_in(&self, turn: usize) -> usize {
        self.running.iter().filter(|r| r.1 as usize == turn).count()
    }

    /// Tokens per second since the run started.
    pub fn rate(&self) -> f64 {
        let secs = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        if secs > 0.0 {
            self.tokens as f64 / secs
        } else {
            0.0
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.map_or(Duration::ZERO, |s| s.elapsed())
    }

    /// A valid run of everything so far (unfinished paths: `cancelled`).
    pub fn snapshot(&self) -> Option<Run> {
        self.run.clone()
    }
}
