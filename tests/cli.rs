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

/// The statistics pass spread over cores (as on a GPU machine) records the
/// same bits as on one core: sampled tokens, every statistic and the drift
/// KL of a two-turn run.
#[test]
fn stats_pass_threads_do_not_change_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let run_with = |threads: &str| {
        let out = dir.path().join(format!("run-{threads}.json"));
        let o = common::sample_command(
            &[
                "--turn",
                "Are you sure?",
                "-n",
                "5",
                "--max-tokens",
                "12",
                "--seed",
                "11",
                "--drift-reference",
                "no-history",
                "--threads",
                "2",
            ],
            &out,
        )
        .env("REASONSCOPE_STATS_THREADS", threads)
        .output()
        .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        read_run(&out).unwrap()
    };
    let (one, two) = (run_with("1"), run_with("2"));
    assert_eq!(one.paths.len(), 5);
    let mut kl = 0;
    for (a, b) in one.paths.iter().zip(&two.paths) {
        assert_eq!(a.turns.len(), 2);
        for (x, y) in a.turns.iter().zip(&b.turns) {
            assert_eq!(x.text, y.text);
            let (s, t) = (&x.tokens, &y.tokens);
            assert_eq!((&s.id, &s.top_id), (&t.id, &t.top_id));
            let bits = |c: &[f32]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&s.logprob), bits(&t.logprob));
            assert_eq!(bits(&s.entropy), bits(&t.entropy));
            assert_eq!(bits(&s.self_certainty), bits(&t.self_certainty));
            assert_eq!(bits(&s.confidence), bits(&t.confidence));
            assert_eq!(s.kl_ref, t.kl_ref);
            kl += s.kl_ref.as_ref().map_or(0, Vec::len);
        }
    }
    assert!(kl > 0, "the second turn measured drift");
}
