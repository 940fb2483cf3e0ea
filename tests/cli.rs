//! The `reasonscope` binary end to end, on the real default model.

mod common;

use std::process::Command;

use reasonscope::run::{read_run, Finish};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_reasonscope"));
    c.env("TZ", "UTC");
    c
}

#[test]
fn sample_writes_a_valid_run_and_info_summarises_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json.gz");
    let o = bin()
        .args(["sample", "--model"])
        .arg(common::model_path())
        .args([
            "--prompt",
            common::PROMPT,
            "-n",
            "3",
            "--max-tokens",
            "24",
            "--seed",
            "5",
            "--gold",
            "8",
            "--threads",
            "2",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("wrote"), "{stderr}");
    let run = read_run(&out).unwrap();
    assert_eq!(run.paths.len(), 3);
    assert_eq!(run.gold, Some(vec![Some("8".to_owned())]));
    assert_eq!(run.sampling.seed, 5);
    assert_eq!(run.model.file, "SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(run
        .paths
        .iter()
        .all(|p| matches!(p.turns[0].finish, Finish::Stop | Finish::Length)));

    let o = bin().arg("info").arg(&out).output().unwrap();
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("paths     3") && s.contains("gold      8") && s.contains("finish"),
        "{s}"
    );
}

#[test]
fn clear_errors_for_bad_model_output_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "sample",
            "--model",
            "/nonexistent/model.gguf",
            "--prompt",
            "hi",
            "-o",
        ])
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/model.gguf does not exist"));

    let o = bin()
        .args([
            "sample",
            "--prompt",
            "hi",
            "-o",
            "/nonexistent/folder/r.json",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"format\": \"reasonscope.run\", \"version\": 1").unwrap();
    let o = bin().arg("info").arg(&bad).output().unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("bad.json") && e.contains("truncated"), "{e}");
}
