//! Run files: the data model, reading/writing (JSON and gzip JSON) and
//! validation. No egui, no llama.cpp.

mod build;
pub mod import;
mod io;
mod model;
mod suite;
pub mod topk;
pub mod utf8;
mod validate;

pub use build::{one_token_turn, run_with_paths, synthetic_run, TokenValues, TurnBuilder};
pub use io::{
    default_import_options, open_any, parse_run_bytes, read_run, read_run_for_analysis,
    run_to_bytes, write_atomic, write_run, Opened, RunError,
};
pub use model::*;
pub use suite::{parse_suite, read_suite, Question};
pub use validate::validate;
