//! Forking and autosave through the CLI, on the real default model.

mod common;

use std::process::Command;

use reasonscope::run::{read_run, validate, Finish};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reasonscope"))
}

#[test]
fn fork_continues_from_the_parents_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().join("parent.json");
    let o = bin()
        .args(["sample", "-q", "--model"])
        .arg(common::model_path())
        .args([
            "--prompt",
            common::PROMPT,
            "-n",
            "2",
            "--max-tokens",
            "40",
            "--seed",
            "9",
            "--threads",
            "2",
            "-o",
        ])
        .arg(&parent)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = read_run(&parent).unwrap();
    let k = 12.min(p.paths[1].turns[0].tokens.len() - 1);
    let out = dir.path().join("forked.json.gz");
    let o = bin()
        .arg("fork")
        .arg(&parent)
        .args([
            "--path",
            "1",
            "--token",
            &k.to_string(),
            "-n",
            "3",
            "--threads",
            "2",
            "-q",
            "--model",
        ])
        .arg(common::model_path())
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f = read_run(&out).unwrap();
    validate(&f).unwrap();
    assert_eq!(f.paths.len(), 5);
    assert_eq!(f.sampling.n_paths, 5);
    // The original paths are unchanged.
    assert_eq!(f.paths[..2], p.paths[..2]);
    let parent_tokens = &p.paths[1].turns[0].tokens;
    let seeds: Vec<u64> = f.paths[2..].iter().map(|x| x.seed).collect();
    assert!(
        seeds.iter().all(|s| !p.paths.iter().any(|q| q.seed == *s)),
        "fresh seeds"
    );
    for new in &f.paths[2..] {
        let fork = new.fork.expect("fork field");
        assert_eq!((fork.path, fork.turn, fork.token), (1, 0, k as u32));
        let t = &new.turns[0].tokens;
        assert!(t.len() > k);
        assert_eq!(t.id[..k], parent_tokens.id[..k]);
        assert_eq!(t.entropy[..k], parent_tokens.entropy[..k]);
        let prefix: String = parent_tokens.text[..k].iter().map(|s| s.as_str()).collect();
        assert!(new.turns[0].text.starts_with(&prefix));
    }
    // A bad token position is refused clearly.
    let o = bin()
        .arg("fork")
        .arg(&parent)
        .args(["--path", "1", "--token", "100000", "-q", "-o"])
        .arg(dir.path().join("x.json"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot fork at token 100000"));
}

#[test]
fn a_killed_sampler_leaves_a_valid_autosave() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("long.json.gz");
    let autosave = dir.path().join("long.autosave.json.gz");
    let mut child = common::spawn_quiet(
        bin()
            .args(["sample", "-q", "--model"])
            .arg(common::model_path())
            .args([
                "--prompt",
                "Write a long story about a dragon who learns to count.",
                "-n",
                "4",
                "--max-tokens",
                "2000",
            ])
            .args(["--threads", "2", "--autosave-secs", "0.5", "-o"])
            .arg(&out),
    );
    // Wait until the autosave holds a good number of tokens, then kill -9.
    let seen = common::await_autosave(&autosave, 40, 120, &out);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(seen >= 40, "the autosave never held 40 tokens");
    assert!(!out.exists(), "killed before the end: no final file");
    let r = read_run(&autosave).expect("the autosave is a valid run");
    validate(&r).unwrap();
    assert_eq!(r.paths.len(), 4);
    assert!(r.total_tokens() >= seen);
    for p in &r.paths {
        let t = &p.turns[0];
        assert!(!t.tokens.is_empty());
        assert_eq!(
            t.finish,
            Finish::Cancelled,
            "paths still sampling are marked cancelled"
        );
    }
}
