//! The engine's worker thread: it owns the llama.cpp model and context (they
//! are Send but not Sync) and talks over bounded crossbeam channels. Commands
//! go in, events come out; after each event the optional waker runs so that a
//! GUI can repaint.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

use super::error::EngineError;
use super::events::Event;
use super::model::LoadedModel;
use super::remote::{self, Server, ServerSpec};
use super::request::SampleRequest;
use super::session::{sample, EngineConfig};

pub enum Command {
    /// Load (or replace) the model; it stays loaded between runs.
    LoadModel(PathBuf),
    /// Sample through a server instead (replaces a loaded model).
    Connect(Box<ServerSpec>),
    Sample(Box<SampleRequest>),
    /// Continue `path` of `run` from its first `token` tokens with `m` new paths.
    Fork {
        run: Box<crate::run::Run>,
        path: usize,
        turn: usize,
        token: usize,
        m: u32,
    },
    /// Ask the loaded model (or server) again about sampled turns
    /// (P(True), USC); answers with `Judged`.
    Judge {
        inputs: Vec<crate::run::judgement::JudgeTurn>,
        methods: Vec<String>,
    },
    /// Stop the current run between two decodes (also settable directly
    /// through `Worker::cancel`, which does not wait in the queue).
    Cancel,
    Shutdown,
}

pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// What samples: a local GGUF model or a server.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    Local(PathBuf),
    Server(ServerSpec),
}

/// Handle to the worker thread.
pub struct Worker {
    commands: Sender<Command>,
    events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Capacity of the event channel: a full one makes sampling wait for the
/// reader rather than grow without bound.
const EVENT_CAPACITY: usize = 4096;

impl Worker {
    pub fn spawn(config: EngineConfig, waker: Option<Waker>) -> std::io::Result<Self> {
        let (cmd_tx, cmd_rx) = bounded::<Command>(16);
        let (ev_tx, ev_rx) = bounded::<Event>(EVENT_CAPACITY);
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("reasonscope-engine".into())
            .spawn(move || worker_loop(config, &cmd_rx, &ev_tx, &flag, waker.as_ref()))?;
        Ok(Worker {
            commands: cmd_tx,
            events: ev_rx,
            cancel,
            thread: Some(thread),
        })
    }

    pub fn send(&self, cmd: Command) -> Result<(), EngineError> {
        if matches!(cmd, Command::Cancel) {
            self.cancel.store(true, Ordering::Relaxed);
        }
        self.commands.send(cmd).map_err(|_| EngineError::WorkerGone)
    }

    pub fn load_model(&self, path: impl Into<PathBuf>) -> Result<(), EngineError> {
        self.send(Command::LoadModel(path.into()))
    }

    /// Load the model or reach the server; `ModelLoaded` (or `Error`) follows.
    pub fn open(&self, backend: &Backend) -> Result<(), EngineError> {
        match backend {
            Backend::Local(p) => self.load_model(p),
            Backend::Server(s) => self.connect(s.clone()),
        }
    }

    pub fn connect(&self, spec: ServerSpec) -> Result<(), EngineError> {
        self.send(Command::Connect(Box::new(spec)))
    }

    pub fn sample(&self, req: SampleRequest) -> Result<(), EngineError> {
        self.send(Command::Sample(Box::new(req)))
    }

    pub fn fork(
        &self,
        run: crate::run::Run,
        path: usize,
        turn: usize,
        token: usize,
        m: u32,
    ) -> Result<(), EngineError> {
        self.send(Command::Fork {
            run: Box::new(run),
            path,
            turn,
            token,
            m,
        })
    }

    /// Ask the running sample to stop; every token sampled so far is kept.
    pub fn judge(
        &self,
        inputs: Vec<crate::run::judgement::JudgeTurn>,
        methods: Vec<String>,
    ) -> Result<(), EngineError> {
        self.send(Command::Judge { inputs, methods })
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The next event within `wait` (`None` when none came), or
    /// `WorkerGone` once the engine thread has ended.
    pub fn next_event(&self, wait: std::time::Duration) -> Result<Option<Event>, EngineError> {
        match self.events.recv_timeout(wait) {
            Ok(ev) => Ok(Some(ev)),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Ok(None),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(EngineError::WorkerGone),
        }
    }

    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        let _ = self.commands.try_send(Command::Shutdown);
        // Unblock a worker waiting on a full event channel.
        while self.events.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            // Keep draining while it winds down.
            while !t.is_finished() {
                while self.events.try_recv().is_ok() {}
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            let _ = t.join();
        }
    }
}

fn worker_loop(
    config: EngineConfig,
    commands: &Receiver<Command>,
    events: &Sender<Event>,
    cancel: &AtomicBool,
    waker: Option<&Waker>,
) {
    let mut emit = |e: Event| {
        // A closed channel means nobody listens any more: keep going quietly.
        let _ = events.send(e);
        if let Some(w) = waker {
            w();
        }
    };
    let mut model: Option<LoadedModel> = None;
    let mut server: Option<Server> = None;
    while let Ok(cmd) = commands.recv() {
        match cmd {
            Command::Shutdown => break,
            Command::Cancel => {}
            Command::Connect(spec) => {
                model = None;
                server = None;
                emit(Event::ModelLoading { progress: 0.0 });
                match remote::connect(&spec) {
                    Ok(s) => {
                        emit(Event::ModelLoaded {
                            info: s.model_info(),
                            plain_prompt: false,
                            device: String::new(),
                        });
                        server = Some(s);
                    }
                    Err(e) => emit(Event::Error { message: e.0 }),
                }
            }
            Command::LoadModel(path) => {
                model = None;
                server = None;
                let tx = events.clone();
                let progress: Box<dyn FnMut(f32) + Send> = Box::new(move |p| {
                    let _ = tx.try_send(Event::ModelLoading { progress: p });
                });
                match LoadedModel::load(&path, Some(progress)) {
                    Ok(m) => {
                        emit(Event::ModelLoaded {
                            info: m.info.clone(),
                            plain_prompt: m.chat_template.is_none(),
                            device: super::model::device_report().line.clone(),
                        });
                        model = Some(m);
                    }
                    Err(e) => emit(Event::Error {
                        message: e.to_string(),
                    }),
                }
            }
            Command::Sample(req) => {
                cancel.store(false, Ordering::Relaxed);
                if let Some(s) = server.as_ref() {
                    if let Err(e) = remote::sample(s, &req, cancel, &mut emit) {
                        emit(Event::Error {
                            message: e.to_string(),
                        });
                    }
                    continue;
                }
                let Some(m) = model.as_ref() else {
                    emit(Event::Error {
                        message: "no model is loaded".into(),
                    });
                    continue;
                };
                if let Err(e) = sample(m, &config, &req, cancel, &mut emit) {
                    emit(Event::Error {
                        message: e.to_string(),
                    });
                }
            }
            Command::Judge { inputs, methods } => {
                cancel.store(false, Ordering::Relaxed);
                let mut progress = |done, total| {
                    let _ = events.try_send(Event::JudgeProgress { done, total });
                    if let Some(w) = waker {
                        w();
                    }
                };
                let result = match (model.as_ref(), server.as_ref()) {
                    (_, Some(s)) => super::judging::judge_all(
                        &mut super::judging::remote::RemoteJudge { server: s },
                        &inputs,
                        &methods,
                        cancel,
                        &mut progress,
                    ),
                    (Some(m), None) => super::judging::judge_all(
                        &mut super::judging::local::LocalJudge {
                            lm: m,
                            n_threads: config.n_threads,
                        },
                        &inputs,
                        &methods,
                        cancel,
                        &mut progress,
                    ),
                    (None, None) => Err(EngineError::InvalidRequest(
                        "no model is loaded: load one (or connect to a server) to ask it".into(),
                    )),
                };
                match result {
                    Ok(judgements) => emit(Event::Judged { judgements }),
                    Err(e) => emit(Event::Error {
                        message: e.to_string(),
                    }),
                }
            }
            Command::Fork {
                run,
                path,
                turn,
                token,
                m: n,
            } => {
                cancel.store(false, Ordering::Relaxed);
                if let Some(s) = server.as_ref() {
                    if let Err(e) = remote::fork(s, &run, path, turn, token, n, cancel, &mut emit) {
                        emit(Event::Error {
                            message: e.to_string(),
                        });
                    }
                    continue;
                }
                let Some(m) = model.as_ref() else {
                    emit(Event::Error {
                        message: "no model is loaded".into(),
                    });
                    continue;
                };
                if let Err(e) =
                    super::session::fork(m, &config, &run, path, turn, token, n, cancel, &mut emit)
                {
                    emit(Event::Error {
                        message: e.to_string(),
                    });
                }
            }
        }
    }
}
