//! Run files: the data model, reading/writing (JSON and gzip JSON) and
//! validation. No egui, no llama.cpp.

mod budget;
mod build;
pub mod conversation;
pub mod import;
mod io;
pub mod judgement;
mod model;
mod suite;
pub mod topk;
pub mod utf8;
mod validate;

pub use build::{one_token_turn, run_with_paths, synthetic_run, TokenValues, TurnBuilder};
pub use io::{
    default_import_options, open_any, parse_run_bytes, read_bounded, read_run,
    read_run_for_analysis, run_to_bytes, write_atomic, write_run, Opened, RunError,
};
pub use model::*;
pub use suite::{parse_suite, read_suite, Question};
pub use validate::{validate, MAX_MESSAGES, MAX_PATHS};

/// A run file's name without its `.json.gz` or `.json` (`out.json.gz` →
/// `out`); empty when the path has no file name.
pub fn run_file_stem(path: &std::path::Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.trim_end_matches(".gz")
        .trim_end_matches(".json")
        .to_owned()
}

/// A file name stem made from data (a title, a record's id): letters,
/// digits, '-', '_' and '.' only, no leading '.', at most 80 characters, so
/// that no run or trace can name a file outside the folder it is written
/// to ("../", absolute paths, control characters).
pub fn safe_file_stem(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    let t = mapped.trim_matches(|c| c == '-' || c == '.');
    if t.is_empty() {
        "run".into()
    } else {
        t.to_owned()
    }
}

#[cfg(test)]
mod stem_tests {
    #[test]
    fn stems_cannot_leave_their_folder() {
        use super::safe_file_stem as s;
        assert_eq!(s("doc 12"), "doc-12");
        assert_eq!(s("../../etc/passwd"), "etc-passwd");
        assert_eq!(s("/abs\\path\n\u{7}x"), "abs-path--x");
        assert_eq!(s(".."), "run");
        assert_eq!(s(""), "run");
        assert!(!s("a/b").contains('/'));
    }
}
