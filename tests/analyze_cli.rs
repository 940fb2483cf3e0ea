//! `reasonscope analyze` on the bundled sample runs and on bad input.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reasonscope"))
}

fn sample_runs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs")
}

fn has(v: &serde_json::Value, keys: &[&str], at: &str) {
    for k in keys {
        assert!(v.get(k).is_some(), "{at} lacks {k}: {v}");
    }
}

#[test]
fn json_report_on_the_sample_runs_holds_every_field() {
    let o = bin()
        .args(["analyze", "--format", "json"])
        .arg(sample_runs())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert!(runs.len() >= 3);
    let mut n_forks = 0;
    for r in runs {
        has(r, &["file", "turns"], "run");
        for t in r["turns"].as_array().unwrap() {
            has(t, &["turn", "gold", "paths", "methods", "forks"], "turn");
            for p in t["paths"].as_array().unwrap() {
                has(
                    p,
                    &[
                        "index",
                        "answer",
                        "correct",
                        "n_tokens",
                        "mean_logprob",
                        "perplexity",
                        "path_prob",
                        "mean_entropy",
                        "self_certainty",
                        "conf_mean",
                        "conf_tail",
                        "conf_lowest_group",
                        "conf_bottom10",
                        "uncertain_points",
                        "reflection",
                    ],
                    "path",
                );
                has(
                    &p["reflection"],
                    &[
                        "first_candidate_token",
                        "share",
                        "markers",
                        "confirmatory",
                        "corrective",
                    ],
                    "reflection",
                );
                assert!(p["n_tokens"].is_u64());
            }
            let methods = t["methods"].as_array().unwrap();
            assert_eq!(methods.len(), 13);
            for m in methods {
                has(
                    m,
                    &["method", "answer", "confidence", "correct", "votes"],
                    "method",
                );
                assert!(m["votes"].is_object());
            }
            for f in t["forks"].as_array().unwrap() {
                n_forks += 1;
                has(
                    f,
                    &["position", "entropy", "decisiveness", "children"],
                    "fork",
                );
                for c in f["children"].as_array().unwrap() {
                    has(c, &["text", "paths", "answers"], "child");
                }
            }
        }
    }
    assert!(n_forks > 0, "real sampled runs fork somewhere");
    let suite = &v["suite"];
    for m in suite["methods"].as_array().unwrap() {
        has(
            m,
            &[
                "method",
                "accuracy",
                "ece",
                "brier",
                "auroc",
                "tokens_total",
                "tokens_sequential",
            ],
            "suite method",
        );
    }
    let curves = suite["curves"].as_array().unwrap();
    assert!(!curves.is_empty());
    for c in curves {
        has(
            c,
            &["method", "n", "accuracy", "low", "high", "mean_tokens"],
            "curve",
        );
    }
}

#[test]
fn table_fits_a_100_column_terminal() {
    let o = bin().arg("analyze").arg(sample_runs()).output().unwrap();
    assert!(o.status.success());
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(s.contains("majority") && s.contains("deepconf_low") && s.contains("path"));
    for line in s.lines() {
        assert!(
            line.chars().count() <= 100,
            "line too wide ({}): {line}",
            line.chars().count()
        );
    }
}

#[test]
fn bad_files_are_reported_and_the_rest_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_dir(sample_runs())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".json.gz"))
        .unwrap();
    std::fs::copy(&good, dir.path().join("a-good.json.gz")).unwrap();
    std::fs::write(
        dir.path().join("b-bad.json"),
        br#"{"format": "reasonscope.run", "version": 7}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("c-junk.json"), b"not json").unwrap();
    let o = bin()
        .args(["analyze", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("b-bad.json: version: 7 is newer"), "{err}");
    assert!(err.contains("c-junk.json: not a run file"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 1);
    assert_eq!(v["errors"].as_array().unwrap().len(), 2);

    // Only bad input: a clear error and a failing exit status.
    let o = bin()
        .arg("analyze")
        .arg(dir.path().join("b-bad.json"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("version: 7 is newer"));
}
