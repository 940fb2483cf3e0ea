//! Every number the app shows: answers, per-path scores, selection methods,
//! branch points, reflection steps, curves and calibration. Pure functions
//! over runs (see ../shared/methods.md): no egui, no llama.cpp, no I/O.

pub mod answers;
pub mod branches;
pub mod calibration;
pub mod curves;
pub mod drift;
pub mod judged;
pub mod lbfgsb;
pub mod methods;
pub mod par;
pub mod reflection;
pub mod report;
pub mod rpc;
pub mod scores;
pub mod suite;
pub mod turn;

pub use methods::{MethodParams, METHODS};
pub use turn::{analyze_run, analyze_turn, AnalysisParams, TurnAnalysis};
