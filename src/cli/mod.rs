//! `reasonscope` subcommands. Parsing lives in main.rs; each subcommand is a
//! function here that calls the same library code the GUI uses.

mod analyze;
mod export;
mod import;
mod info;
mod judge;
mod sample;

pub use analyze::{analyze, expand_inputs, load_runs, table};
pub use export::{export_chart, ExportArgs};
pub use import::{describe as describe_import, import_files, ImportArgs};
pub use info::{info, run_summary};
pub use judge::inputs as judge_inputs;
pub use judge::print_summary as print_judge_summary;
pub use judge::{judge, judge_run, parse_methods, JudgeArgs};
mod suite;
pub use sample::{
    autosave_path, conversation_from_args, decoding_method, fork, sample, SampleArgs,
};
pub use suite::{run_path as suite_run_path, suite, SuiteArgs, SuiteOutcome};

/// Where the default model lives after `make model`.
pub const DEFAULT_MODEL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The default model path: `REASONSCOPE_MODEL`, else `models/…` next to the
/// current folder, else next to the executable's project.
pub fn default_model_path() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("REASONSCOPE_MODEL") {
        return p.into();
    }
    let local = std::path::PathBuf::from(DEFAULT_MODEL);
    if local.exists() {
        return local;
    }
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_MODEL);
    if manifest.exists() {
        return manifest;
    }
    local
}
