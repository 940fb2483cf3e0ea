//! Run files: round trips and every kind of bad input from the contract.

use std::io::Write;

use reasonscope::run::*;

fn sample_run() -> Run {
    let turn = |words: &[&str]| {
        let mut b = TurnBuilder::new(3);
        for (i, w) in words.iter().enumerate() {
            b = b.token(TokenValues {
                id: i as i32 + 10,
                text: w,
                logprob: -0.25 * i as f32,
                entropy: 0.5 + i as f32,
                self_certainty: 3.0,
                confidence: 1.5,
            });
        }
        b.finish(Finish::Stop, 0.0, 12.5)
    };
    run_with_paths(
        "What is 3 + 5?",
        Some("8"),
        3,
        vec![
            vec![turn(&["3 + 5", " = ", "8", "é€"])],
            vec![turn(&["The answer is ", "9"])],
            vec![turn(&[])],
        ],
    )
}

fn write_bytes(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The error reading `path`; reading it for analysis only (alternatives
/// not kept) must refuse it with the same message.
fn err_of(path: &std::path::Path) -> String {
    let e = match read_run(path) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => e.to_string(),
    };
    match read_run_for_analysis(path) {
        Ok(_) => panic!("{} was accepted when read for analysis", path.display()),
        Err(a) => assert_eq!(a.to_string(), e, "read for analysis"),
    }
    e
}

#[test]
fn json_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let run = sample_run();
    let p = dir.path().join("r.json");
    write_run(&run, &p).unwrap();
    assert_eq!(read_run(&p).unwrap(), run);
    // Only the file itself: no temporary left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn gzip_round_trip_and_detection_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let run = sample_run();
    let p = dir.path().join("r.json.gz");
    write_run(&run, &p).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
    assert_eq!(read_run(&p).unwrap(), run);
    // Same bytes under a misleading name still load.
    let q = write_bytes(&dir, "looks-plain.json", &bytes);
    assert_eq!(read_run(&q).unwrap(), run);
    // And plain JSON named .gz loads too.
    let plain = run_to_bytes(&run, false).unwrap();
    let r = write_bytes(&dir, "plain.json.gz", &plain);
    assert_eq!(read_run(&r).unwrap(), run);
}

#[test]
fn field_names_follow_the_contract() {
    let v: serde_json::Value =
        serde_json::from_slice(&run_to_bytes(&sample_run(), false).unwrap()).unwrap();
    for k in [
        "format",
        "version",
        "created",
        "model",
        "sampling",
        "conversation",
        "gold",
        "answer",
        "paths",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    let tok = &v["paths"][0]["turns"][0]["tokens"];
    for k in [
        "id",
        "text",
        "logprob",
        "entropy",
        "self_certainty",
        "confidence",
        "top_id",
        "top_text",
        "top_logprob",
    ] {
        assert!(tok.get(k).is_some(), "missing tokens.{k}");
    }
    assert_eq!(tok["top_id"][0].as_array().unwrap().len(), 3);
    assert_eq!(v["paths"][0]["turns"][0]["finish"], "stop");
    assert_eq!(v["answer"]["extract"], "auto");
    assert!(v["paths"][0]["fork"].is_null());
    for k in [
        "n_paths",
        "temperature",
        "top_k",
        "top_p",
        "min_p",
        "seed",
        "max_tokens",
        "top_logprobs",
        "method",
    ] {
        assert!(v["sampling"].get(k).is_some(), "missing sampling.{k}");
    }
}

#[test]
fn not_gzip_nor_json() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(&dir, "x.json", b"hello, I am not a run");
    let e = err_of(&p);
    assert!(
        e.contains("x.json") && e.contains("neither gzip nor a JSON object"),
        "{e}"
    );
}

#[test]
fn truncated_json() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = run_to_bytes(&sample_run(), false).unwrap();
    let p = write_bytes(&dir, "t.json", &bytes[..bytes.len() / 2]);
    let e = err_of(&p);
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = run_to_bytes(&sample_run(), true).unwrap();
    let p = write_bytes(&dir, "t.json.gz", &bytes[..bytes.len() / 2]);
    let e = err_of(&p);
    assert!(e.contains("gzip") && e.contains("truncated"), "{e}");
}

fn mutate(f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_slice(&run_to_bytes(&sample_run(), false).unwrap()).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn wrong_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(
        &dir,
        "f.json",
        &mutate(|v| v["format"] = "something.else".into()),
    );
    let e = err_of(&p);
    assert!(e.contains("format") && e.contains("reasonscope.run"), "{e}");
}

#[test]
fn newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(&dir, "v.json", &mutate(|v| v["version"] = 2.into()));
    let e = err_of(&p);
    assert!(e.contains("version: 2 is newer"), "{e}");
}

#[test]
fn unequal_columns_name_the_field_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(
        &dir,
        "c.json",
        &mutate(|v| {
            v["paths"][1]["turns"][0]["tokens"]["logprob"]
                .as_array_mut()
                .unwrap()
                .pop();
        }),
    );
    let e = err_of(&p);
    assert!(
        e.ends_with("paths[1].turns[0].tokens.logprob: length 1, expected 2"),
        "{e}"
    );
}

#[test]
fn ragged_alternatives_name_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(
        &dir,
        "a.json",
        &mutate(|v| {
            v["paths"][0]["turns"][0]["tokens"]["top_logprob"][2]
                .as_array_mut()
                .unwrap()
                .pop();
        }),
    );
    let e = err_of(&p);
    assert!(
        e.contains("paths[0].turns[0].tokens.top_logprob[2]: length 2, expected 3"),
        "{e}"
    );
}

#[test]
fn nan_where_a_number_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(run_to_bytes(&sample_run(), false).unwrap()).unwrap();
    let bad = text.replacen("\"entropy\":[0.5", "\"entropy\":[NaN", 1);
    assert_ne!(bad, text);
    let p = write_bytes(&dir, "n.json", bad.as_bytes());
    let e = err_of(&p);
    assert!(e.contains("not valid JSON"), "{e}");
    // null in a number column is reported with its field path.
    let p = write_bytes(
        &dir,
        "n2.json",
        &mutate(|v| v["paths"][0]["turns"][0]["tokens"]["entropy"][1] = serde_json::Value::Null),
    );
    let e = err_of(&p);
    assert!(e.contains("paths[0].turns[0].tokens.entropy[1]"), "{e}");
}

#[test]
fn path_count_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(
        &dir,
        "m.json",
        &mutate(|v| v["sampling"]["n_paths"] = 5.into()),
    );
    let e = err_of(&p);
    assert!(e.contains("sampling.n_paths: 5, but paths holds 3"), "{e}");
}

#[test]
fn too_many_paths_or_messages_are_refused_before_analysis() {
    // A small file of many empty paths and user messages: the analysis
    // walks turns × paths and compares paths pairwise.
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(
        &dir,
        "paths.json",
        &mutate(|v| {
            let empty = serde_json::json!({"index": 0, "seed": 0, "turns": []});
            let paths: Vec<_> = (0..5000)
                .map(|i| {
                    let mut e = empty.clone();
                    e["index"] = i.into();
                    e
                })
                .collect();
            v["paths"] = paths.into();
            v["sampling"]["n_paths"] = 5000.into();
        }),
    );
    let e = err_of(&p);
    assert!(e.contains("paths: 5000 paths, more than the 4096"), "{e}");
    let p = write_bytes(
        &dir,
        "turns.json",
        &mutate(|v| {
            let m = serde_json::json!({"role": "user", "content": "x"});
            v["conversation"] = vec![m; 1000].into();
        }),
    );
    let e = err_of(&p);
    assert!(
        e.contains("conversation: 1000 messages, more than the 512"),
        "{e}"
    );
}

#[test]
fn text_must_equal_token_concatenation() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(
        &dir,
        "t.json",
        &mutate(|v| v["paths"][0]["turns"][0]["text"] = "other".into()),
    );
    let e = err_of(&p);
    assert!(e.contains("paths[0].turns[0].text"), "{e}");
}

#[test]
fn missing_file_and_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let e = err_of(&dir.path().join("nope.json"));
    assert!(e.contains("cannot read"), "{e}");
    let e = write_run(&sample_run(), &dir.path().join("no/such/folder/r.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn empty_and_garbage_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_bytes(&dir, "e.json", b"");
    let e = err_of(&p);
    assert!(e.contains("e.json"), "{e}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"\x00\x01binary").unwrap();
    let p = write_bytes(&dir, "g.json.gz", &gz.finish().unwrap());
    let e = err_of(&p);
    // It is gzip: the message says its content is what is wrong.
    assert!(
        e.contains("gzip, but its content is not a JSON object"),
        "{e}"
    );
}

#[test]
fn read_for_analysis_keeps_everything_but_the_alternatives() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.json.gz");
    write_run(&sample_run(), &p).unwrap();
    let full = read_run(&p).unwrap();
    let lean = read_run_for_analysis(&p).unwrap();
    let (ft, lt) = (
        &full.paths[0].turns[0].tokens,
        &lean.paths[0].turns[0].tokens,
    );
    assert_eq!((ft.top_text.len(), ft.top_text.width()), (4, 3));
    assert_eq!((lt.top_text.len(), lt.top_text.width()), (4, 3));
    assert!(lt.top_text.values_skipped() && lt.top_text.row(1).is_empty());
    assert!(!ft.top_text.values_skipped() && ft.top_text.row(1).len() == 3);
    // Everything else is the same run.
    let strip = |r: &Run| {
        let mut r = r.clone();
        for t in r.paths.iter_mut().flat_map(|p| p.turns.iter_mut()) {
            let n = t.tokens.len();
            t.tokens.top_id = Rows::new(0);
            t.tokens.top_text = Rows::new(0);
            t.tokens.top_logprob = Rows::new(0);
            assert_eq!(t.tokens.len(), n);
        }
        r
    };
    assert_eq!(strip(&full), strip(&lean));
    // Writing it back would lose the alternatives: refused.
    let e = run_to_bytes(&lean, false).unwrap_err();
    assert!(e.contains("not loaded"), "{e}");
    // The mode ends with the read: the next plain read keeps them.
    assert!(!read_run(&p).unwrap().paths[0].turns[0]
        .tokens
        .top_id
        .values_skipped());
}

/// A run as a server returns it: top-20 statistics, no self-certainty.
fn topk_run() -> serde_json::Value {
    let mut v = serde_json::to_value(sample_run()).unwrap();
    v["model"]["backend"] = "remote".into();
    v["stats"] = serde_json::json!({"source": "top-k", "k": 20, "distribution": "raw"});
    v["remote"] = serde_json::json!({"server": "llama-server", "url": "http://127.0.0.1:8080/v1", "model": "m"});
    for p in v["paths"].as_array_mut().unwrap() {
        let tok = &mut p["turns"][0]["tokens"];
        let n = tok["id"].as_array().unwrap().len();
        tok.as_object_mut().unwrap().remove("self_certainty");
        let lo: Vec<f64> = tok["entropy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        tok["entropy_hi"] = lo.iter().map(|x| x + 0.5).collect::<Vec<_>>().into();
        assert_eq!(lo.len(), n);
    }
    v
}

#[test]
fn topk_and_text_runs_hold_only_what_their_source_gives() {
    let dir = tempfile::tempdir().unwrap();
    let ok = topk_run();
    let p = write_bytes(&dir, "topk.json", ok.to_string().as_bytes());
    let run = read_run(&p).unwrap();
    assert!(run.paths[0].turns[0].tokens.self_certainty.is_absent());
    // Written back, absent columns stay absent.
    let q = dir.path().join("back.json");
    write_run(&run, &q).unwrap();
    assert_eq!(read_run(&q).unwrap(), run);
    assert!(!std::fs::read_to_string(&q)
        .unwrap()
        .contains("self_certainty"));

    let refused = |name: &str, v: serde_json::Value, want: &str| {
        let p = write_bytes(&dir, name, v.to_string().as_bytes());
        let e = err_of(&p);
        assert!(e.contains(want), "{name}: {e}");
    };
    let mut v = ok.clone();
    v["paths"][0]["turns"][0]["tokens"]["self_certainty"] = serde_json::json!([0.0, 0.0, 0.0, 0.0]);
    refused("sc.json", v, "paths[0].turns[0].tokens.self_certainty: present, but stats.source \"top-k\" cannot give it");
    let mut v = ok.clone();
    v["paths"][0]["turns"][0]["tokens"]["entropy_hi"][1] = serde_json::json!(0.0);
    refused("hi.json", v, "paths[0].turns[0].tokens.entropy_hi[1]");
    let mut v = ok.clone();
    v.as_object_mut().unwrap().remove("remote");
    refused("noremote.json", v, "remote: missing");
    let mut v = ok.clone();
    v["model"]["backend"] = "cpu".into();
    refused("cpu.json", v, "stats.source");
    let mut v = ok.clone();
    v["remote"]["url"] = "http://u:p@h/v1".into();
    refused("cred.json", v, "remote.url");
    let mut v = ok.clone();
    v["paths"][1]["turns"][0]["tokens"]
        .as_object_mut()
        .unwrap()
        .remove("confidence");
    refused(
        "noconf.json",
        v,
        "paths[1].turns[0].tokens.confidence: missing",
    );

    // Text only: ids and texts, nothing else.
    let mut v = ok.clone();
    v["stats"] = serde_json::json!({"source": "text"});
    for p in v["paths"].as_array_mut().unwrap() {
        let tok = p["turns"][0]["tokens"].as_object_mut().unwrap();
        for c in [
            "logprob",
            "entropy",
            "confidence",
            "top_id",
            "top_text",
            "top_logprob",
            "entropy_hi",
        ] {
            tok.remove(c);
        }
    }
    let p = write_bytes(&dir, "text.json", v.to_string().as_bytes());
    let run = read_run(&p).unwrap();
    let a = reasonscope::analysis::analyze_run(&run, &Default::default());
    for m in &a[0].methods {
        let ok = ["first", "majority", "shortest"].contains(&m.method);
        assert_eq!(m.unavailable.is_none(), ok, "{}", m.method);
    }
    assert_eq!(
        a[0].method("majority").unwrap().answer.as_deref(),
        Some("8")
    );
}
