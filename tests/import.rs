//! Importing other tools' traces, on files the real programs wrote
//! (tests/data/import, made by scripts/make-import-fixtures.sh with the real
//! llama-server and lm-evaluation-harness), plus every bad input the
//! importer must name.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use reasonscope::analysis::{analyze_run, AnalysisParams};
use reasonscope::run::import::{self, Imported, Options, Summary, MAX_PROBLEMS};
use reasonscope::run::{Distribution, Message, Run, Source};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/import")
        .join(name)
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(name)).unwrap()).unwrap()
}

fn opts(name: &str) -> Options<'static> {
    Options {
        file_name: name.into(),
        prompt: None,
        vocab: None,
        tokenizer: None,
        created: "2026-11-30T00:00:00Z".into(),
    }
}

fn import_bytes(bytes: &[u8], o: &Options) -> Result<(Vec<Imported>, Summary), String> {
    let mut runs = Vec::new();
    let sum = import::import(bytes, o, &mut |r| runs.push(r), &mut |_| {})?;
    Ok((runs, sum))
}

fn import_fixture(name: &str) -> (Vec<Imported>, Summary) {
    import_bytes(&std::fs::read(fixture(name)).unwrap(), &opts(name)).unwrap()
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reasonscope"))
}

/// −(1/k) Σ of the k = min(20, n) best logprobs, recomputed here.
fn confidence_of(top: &[Value]) -> f64 {
    let mut lps: Vec<f64> = top.iter().map(|c| c["logprob"].as_f64().unwrap()).collect();
    lps.sort_by(|a, b| b.total_cmp(a));
    let k = lps.len().min(20);
    -lps[..k].iter().sum::<f64>() / k as f64
}

/// The imported run's tokens equal the response's entries: ids, logprobs,
/// texts (bytes joined), and confidence recomputed from the saved top k.
fn check_tokens_equal(run: &Run, p: usize, entries: &[Value], text: &str) {
    let t = &run.paths[p].turns[0];
    assert_eq!(t.tokens.len(), entries.len(), "path {p}: token count");
    let mut bytes = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(i64::from(t.tokens.id[i]), e["id"].as_i64().unwrap());
        let lp = e
            .get("logprob")
            .and_then(Value::as_f64)
            .unwrap_or_else(|| e["prob"].as_f64().unwrap().ln());
        assert_eq!(
            t.tokens.logprob[i], lp as f32,
            "path {p} token {i}: logprob"
        );
        bytes.extend(
            e["bytes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8),
        );
        if let Some(top) = e.get("top_logprobs").and_then(Value::as_array) {
            let want = confidence_of(top);
            assert!(
                (f64::from(t.tokens.confidence[i]) - want).abs() < 1e-4,
                "path {p} token {i}: confidence {} vs {want}",
                t.tokens.confidence[i]
            );
        }
    }
    assert_eq!(String::from_utf8(bytes).unwrap(), t.text);
    assert_eq!(t.text, text, "path {p}: text");
}

#[test]
fn llama_server_chat_completion_with_four_choices() {
    let resp = json("llama-server-chat.json");
    let (runs, sum) = import_fixture("llama-server-chat.json");
    assert_eq!(sum.format, Some("openai-chat"));
    assert!(sum.problems.is_empty(), "{:?}", sum.problems);
    let run = &runs[0].run;
    assert_eq!(run.paths.len(), 4);
    let st = run.stats_source();
    assert_eq!(
        (st.source, st.k, st.distribution),
        (Source::TopK, Some(20), Some(Distribution::Raw))
    );
    assert!(run.paths[0].turns[0].tokens.self_certainty.is_absent());
    assert_eq!(run.model.backend, "import");
    let imp = run.import.as_ref().unwrap();
    assert_eq!(
        (imp.from.as_str(), imp.file.as_str()),
        ("openai-chat", "llama-server-chat.json")
    );
    assert!(imp.is_unknown("prompt") && imp.is_unknown("model.n_vocab"));
    assert!(run.user_message(0).unwrap().contains("prompt unknown"));
    for (p, c) in resp["choices"].as_array().unwrap().iter().enumerate() {
        let entries = c["logprobs"]["content"].as_array().unwrap();
        check_tokens_equal(run, p, entries, c["message"]["content"].as_str().unwrap());
        let finish = c["finish_reason"].as_str().unwrap();
        assert_eq!(run.paths[p].turns[0].finish.as_str(), finish);
        // The entropy's lower bound, recomputed: −Σ q ln q − r ln q_k.
        let t = &run.paths[p].turns[0];
        for (i, e) in entries.iter().enumerate() {
            let mut lps: Vec<f64> = e["top_logprobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["logprob"].as_f64().unwrap())
                .collect();
            lps.sort_by(|a, b| b.total_cmp(a));
            let mass: f64 = lps.iter().map(|l| l.exp()).sum();
            let h: f64 = -lps.iter().map(|l| l.exp() * l).sum::<f64>();
            let lo = h - (1.0 - mass).max(0.0) * lps.last().unwrap();
            assert!((f64::from(t.tokens.entropy[i]) - lo).abs() < 1e-4);
        }
    }
}

#[test]
fn vocab_size_gives_the_entropy_upper_bound() {
    let mut o = opts("llama-server-chat.json");
    o.vocab = Some(49152);
    let (runs, _) = import_bytes(
        &std::fs::read(fixture("llama-server-chat.json")).unwrap(),
        &o,
    )
    .unwrap();
    let t = &runs[0].run.paths[0].turns[0].tokens;
    let hi = t.entropy_hi.as_ref().expect("upper bound with V known");
    assert!(hi.iter().zip(t.entropy.iter()).all(|(h, l)| h >= l));
    assert!(hi.iter().zip(t.entropy.iter()).any(|(h, l)| h > l));
    assert_eq!(runs[0].run.model.n_vocab, 49152);
}

#[test]
fn llama_server_chat_jsonl_gives_one_run_per_response() {
    let (runs, sum) = import_fixture("llama-server-chat.jsonl");
    assert_eq!((sum.records, sum.runs), (3, 3));
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.run.import.as_ref().unwrap().record, Some(i as u64 + 1));
        assert_eq!(r.run.paths.len(), 2);
        assert_eq!(r.run.stats_source().k, Some(5));
        assert_eq!(r.name, format!("record-{:04}", i + 1));
    }
    // With --prompt every response answers it: one run of six paths.
    let mut o = opts("llama-server-chat.jsonl");
    o.prompt = Some(Message::users(&[
        "Sara has 3 stickers and gets 5 more. How many stickers does Sara have now?",
    ]));
    let (runs, _) = import_bytes(
        &std::fs::read(fixture("llama-server-chat.jsonl")).unwrap(),
        &o,
    )
    .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run.paths.len(), 6);
    assert!(!runs[0].run.import.as_ref().unwrap().is_unknown("prompt"));
    assert!(runs[0].run.conversation[0]
        .content
        .starts_with("Sara has 3"));
}

#[test]
fn llama_server_completion_and_native_responses() {
    let resp = json("llama-server-completion.json");
    let (runs, sum) = import_fixture("llama-server-completion.json");
    assert_eq!(sum.format, Some("openai-completion"));
    for (p, c) in resp["choices"].as_array().unwrap().iter().enumerate() {
        check_tokens_equal(
            &runs[0].run,
            p,
            c["logprobs"]["content"].as_array().unwrap(),
            c["text"].as_str().unwrap(),
        );
    }
    // Native /completion: the prompt and the settings are in the response.
    let resp = json("llama-server-native.json");
    let (runs, sum) = import_fixture("llama-server-native.json");
    assert_eq!(sum.format, Some("llama-server"));
    let run = &runs[0].run;
    check_tokens_equal(
        run,
        0,
        resp["completion_probabilities"].as_array().unwrap(),
        resp["content"].as_str().unwrap(),
    );
    assert_eq!(
        run.conversation[0].content,
        resp["prompt"].as_str().unwrap()
    );
    assert_eq!(run.prompt.as_ref().unwrap().template, "plain");
    assert_eq!(run.sampling.temperature, 0.8);
    assert_eq!(run.sampling.seed, 5);
    assert_eq!(run.stats_source().distribution, Some(Distribution::Raw));
    assert!(!run
        .import
        .as_ref()
        .unwrap()
        .is_unknown("sampling.temperature"));
    // post_sampling_probs: probabilities after the sampler chain.
    let resp = json("llama-server-native-post.json");
    let (runs, _) = import_fixture("llama-server-native-post.json");
    let run = &runs[0].run;
    assert_eq!(
        run.stats_source().distribution,
        Some(Distribution::PostSampling)
    );
    check_tokens_equal(
        run,
        0,
        resp["completion_probabilities"].as_array().unwrap(),
        resp["content"].as_str().unwrap(),
    );
}

/// Majority over answers with lm-eval's own `maj@8` answer: equal, or
/// among the answers tied for the most votes.
#[test]
fn lm_eval_log_samples_become_a_suite_folder_matching_its_majority_vote() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("suite");
    let st = bin()
        .args(["import", "-q", "-o"])
        .arg(&out)
        .arg(fixture("lm-eval-samples.jsonl"))
        .status()
        .unwrap();
    assert!(st.success());
    let lines: Vec<Value> = std::fs::read_to_string(fixture("lm-eval-samples.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let docs: Vec<&Value> = lines.iter().filter(|l| l["filter"] == "maj@8").collect();
    assert_eq!(docs.len(), 5);
    let files = reasonscope::cli::expand_inputs(std::slice::from_ref(&out));
    assert_eq!(
        files.len(),
        5,
        "one run per document, filters merged: {files:?}"
    );
    let mut compared = 0;
    for d in docs {
        let run =
            reasonscope::run::read_run(&out.join(format!("doc-{}.json.gz", d["doc_id"]))).unwrap();
        assert_eq!(run.paths.len(), 8);
        assert_eq!(run.stats_source().source, Source::Text);
        assert_eq!(run.gold_for(0), d["target"].as_str());
        for (p, r) in d["resps"][0].as_array().unwrap().iter().enumerate() {
            assert_eq!(run.paths[p].turns[0].text, r.as_str().unwrap());
        }
        let a = analyze_run(&run, &AnalysisParams::default());
        let maj = a[0]
            .methods
            .iter()
            .find(|m| m.method == "majority")
            .unwrap();
        let theirs = d["filtered_resps"][0].as_str().unwrap();
        let best = maj.votes.iter().map(|v| v.1).fold(0.0, f64::max);
        let tied: Vec<&str> = maj
            .votes
            .iter()
            .filter(|v| v.1 == best)
            .map(|v| v.0.as_str())
            .collect();
        assert!(
            tied.contains(&theirs),
            "doc {}: lm-eval {theirs}, ours {tied:?}",
            d["doc_id"]
        );
        if tied.len() == 1 {
            assert_eq!(maj.answer.as_deref(), Some(theirs));
        }
        compared += 1;
    }
    assert_eq!(compared, 5);
    // The folder analyses like any suite.
    let o = bin().arg("analyze").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("text only"));
}

#[test]
fn tokenizer_counts_real_tokens_in_text_only_traces() {
    let model = common::load_model();
    let mut o = opts("lm-eval-samples.jsonl");
    o.tokenizer = Some(&model);
    let (runs, _) = import_bytes(
        &std::fs::read(fixture("lm-eval-samples.jsonl")).unwrap(),
        &o,
    )
    .unwrap();
    let run = &runs[0].run;
    assert_eq!(
        run.import.as_ref().unwrap().tokens.as_deref(),
        Some("tokenizer:SmolLM2-135M-Instruct.Q4_1.gguf")
    );
    assert_eq!(run.model.n_vocab, model.info.n_vocab);
    let t = &run.paths[0].turns[0];
    assert!(t.tokens.id.iter().all(|&i| i >= 0));
    let words = reasonscope::run::import::jsonl_line(run).unwrap();
    assert!(words.contains("token_ids"));
    // Without it, a token is a word: fewer pieces than BPE tokens.
    let (plain, _) = import_fixture("lm-eval-samples.jsonl");
    assert_eq!(
        plain[0].run.import.as_ref().unwrap().tokens.as_deref(),
        Some("words")
    );
    assert!(plain[0].run.paths[0].turns[0].tokens.len() <= t.tokens.len());
}

#[test]
fn jsonl_round_trip_gives_the_same_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-n16.json.gz");
    let line = dir.path().join("apples.jsonl");
    let back = dir.path().join("apples.json.gz");
    assert!(bin()
        .args(["export", "--format", "jsonl", "-o"])
        .arg(&line)
        .arg(&src)
        .status()
        .unwrap()
        .success());
    assert!(bin()
        .args(["import", "-q", "-o"])
        .arg(&back)
        .arg(&line)
        .status()
        .unwrap()
        .success());
    let a = reasonscope::run::read_run(&src).unwrap();
    let b = reasonscope::run::read_run(&back).unwrap();
    assert_eq!(b.stats_source().source, Source::Full);
    let p = AnalysisParams::default();
    let (ra, rb) = (analyze_run(&a, &p), analyze_run(&b, &p));
    assert_eq!(
        serde_json::to_value(&ra[0].methods).unwrap(),
        serde_json::to_value(&rb[0].methods).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&ra[0].paths).unwrap(),
        serde_json::to_value(&rb[0].paths).unwrap()
    );
    assert_eq!(a.paths[3].turns[0].tokens, b.paths[3].turns[0].tokens);
    assert_eq!(a.conversation, b.conversation);
    assert_eq!(a.gold, b.gold);
}

#[test]
fn batch_api_output_lines_are_read_through_response_body() {
    let body = json("llama-server-chat.json");
    let line = serde_json::json!({"id": "batch_req_1", "custom_id": "q01",
        "response": {"status_code": 200, "body": body}, "error": null});
    let bytes = format!("{line}\n{line}\n");
    let (runs, sum) = import_bytes(bytes.as_bytes(), &opts("batch_output.jsonl")).unwrap();
    assert_eq!((sum.format, runs.len()), (Some("openai-chat"), 2));
    assert_eq!(runs[0].run.title.as_deref(), Some("q01"));
    assert_eq!(runs[0].run.paths.len(), 4);
}

#[test]
fn gzip_input_is_inflated_as_a_stream() {
    let raw = std::fs::read(fixture("llama-server-chat.jsonl")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&raw).unwrap();
    let gz = enc.finish().unwrap();
    let (runs, sum) = import_bytes(&gz, &opts("chat.jsonl.gz")).unwrap();
    assert_eq!((runs.len(), sum.problems.len()), (3, 0));
}

// ---- bad input: one clear message naming the file, the record and the field

#[test]
fn unknown_format_says_what_was_tried() {
    let e = import_bytes(br#"{"foo": 1}"#, &opts("x.json")).unwrap_err();
    assert!(
        e.starts_with("x.json: not a format reasonscope imports"),
        "{e}"
    );
    for id in [
        "lm-eval",
        "jsonl",
        "sglang",
        "llama-server",
        "openai-completion",
        "openai-chat",
    ] {
        assert!(e.contains(&format!("{id}: ")), "{id} missing in {e}");
    }
    assert!(e.contains("no `choices` array"), "{e}");
    let e = import_bytes(b"", &opts("empty.json")).unwrap_err();
    assert!(e.contains("empty file"), "{e}");
    let e = import_bytes(b"hello", &opts("t.txt")).unwrap_err();
    assert!(e.contains("not valid JSON"), "{e}");
}

#[test]
fn truncated_files_are_named_as_such() {
    let raw = std::fs::read(fixture("llama-server-chat.json")).unwrap();
    let e = import_bytes(&raw[..raw.len() / 2], &opts("cut.json")).unwrap_err();
    assert!(e.contains("cut.json") && e.contains("truncated"), "{e}");
    // JSONL cut in its last line: the good lines are imported, the cut one
    // reported with its record and line.
    let raw = std::fs::read(fixture("llama-server-chat.jsonl")).unwrap();
    let (runs, sum) = import_bytes(&raw[..raw.len() - 100], &opts("cut.jsonl")).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(sum.problems.len(), 1);
    assert!(
        sum.problems[0].starts_with("cut.jsonl: record 3 (line 3): truncated"),
        "{:?}",
        sum.problems
    );
    // A JSON array cut in an element.
    let arr = format!(
        "[{}]",
        std::fs::read_to_string(fixture("llama-server-chat.jsonl"))
            .unwrap()
            .trim()
            .replace('\n', ",")
    );
    let (runs, sum) =
        import_bytes(&arr.as_bytes()[..arr.len() - 50], &opts("cut-array.json")).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        sum.problems[0].contains("record 3") && sum.problems[0].contains("truncated"),
        "{:?}",
        sum.problems
    );
}

#[test]
fn a_file_of_bad_records_keeps_the_first_problems_and_counts_the_rest() {
    let good =
        r#"{"id":"a","prompt":"2+2?","samples":[{"text":"4","tokens":["4"],"logprobs":[-0.1]}]}"#;
    let bad = r#"{"id":"b","prompt":"2+3?","samples":[{"text":"5 ok","tokens":["5"," ok"],"logprobs":[-0.1]}]}"#;
    let mut text = format!("{good}\n");
    for _ in 0..150 {
        text.push_str(bad);
        text.push('\n');
    }
    let (runs, sum) = import_bytes(text.as_bytes(), &opts("many.jsonl")).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(sum.problems.len(), MAX_PROBLEMS + 1);
    assert_eq!(sum.problems_left_out, 50);
    assert!(sum.problems[1].contains("record 3 (line 3)"));
    assert_eq!(sum.problems[MAX_PROBLEMS], "… and 50 more problems");
}

#[test]
fn mismatched_lengths_name_the_field() {
    let line = r#"{"id":"a","prompt":"2+2?","samples":[{"text":"4","tokens":["4"],"logprobs":[-0.1],"top_logprobs":[[{"token":"4","logprob":-0.1}]]}]}
{"id":"b","prompt":"2+3?","samples":[{"text":"5 ok","tokens":["5"," ok"],"logprobs":[-0.1]}]}
{"id":"c","prompt":"2+4?","samples":[{"text":"6","tokens":["7"]}]}"#;
    let (runs, sum) = import_bytes(line.as_bytes(), &opts("m.jsonl")).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(sum.problems.len(), 2);
    assert_eq!(
        sum.problems[0],
        "m.jsonl: record 2 (line 2): samples[0].logprobs: length 1, expected 2 (as tokens)"
    );
    assert!(sum.problems[1]
        .contains("record 3 (line 3): samples[0].tokens: concatenated, they do not give `text`"));
    // The legacy completion lists too.
    let legacy = r#"{"object":"text_completion","model":"m","choices":[{"index":0,"text":"ab","finish_reason":"stop",
        "logprobs":{"tokens":["a","b"],"token_logprobs":[-0.5],"top_logprobs":[{"a":-0.5},{"b":-0.1}],"text_offset":[0,1]}}]}"#;
    let e = import_bytes(legacy.as_bytes(), &opts("l.json")).unwrap_err();
    assert_eq!(
        e,
        "l.json: choices[0].logprobs.token_logprobs: length 1, expected 2 (as tokens)"
    );
}

#[test]
fn clamps_nan_and_minus_infinity_read_as_minus_infinity_and_said() {
    let mut resp = json("llama-server-chat.json");
    let top = resp["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        .as_array_mut()
        .unwrap();
    top[19]["logprob"] = serde_json::json!(-9999.0);
    top[18]["logprob"] = Value::Null;
    top[17]["logprob"] = serde_json::json!("-inf");
    let (runs, sum) = import_bytes(resp.to_string().as_bytes(), &opts("clamped.json")).unwrap();
    assert!(sum.problems.is_empty());
    let imp = runs[0].run.import.as_ref().unwrap();
    assert!(
        imp.notes.iter().any(
            |n| n.starts_with("3 logprobs were NaN, −∞ or clamped") && n.contains("read as −∞")
        ),
        "{:?}",
        imp.notes
    );
    let t = &runs[0].run.paths[0].turns[0].tokens;
    // Stored as the clamp value (JSON has no −∞); statistics over the 17 finite.
    assert_eq!(t.top_logprob.row(0)[19], -9999.0);
    assert!(t.entropy[0].is_finite() && t.confidence[0].is_finite());
    let want = confidence_of(
        &resp["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            .as_array()
            .unwrap()[..17],
    );
    assert!((f64::from(t.confidence[0]) - want).abs() < 1e-4);
}

#[test]
fn mixed_formats_in_one_jsonl_import_the_first_format_and_report_the_rest() {
    let chat = std::fs::read_to_string(fixture("llama-server-chat.jsonl")).unwrap();
    let chat: Vec<&str> = chat.lines().collect();
    let lm = std::fs::read_to_string(fixture("lm-eval-samples.jsonl")).unwrap();
    let mixed = format!("{}\n{}\n{}\n", chat[0], lm.lines().next().unwrap(), chat[1]);
    let (runs, sum) = import_bytes(mixed.as_bytes(), &opts("mixed.jsonl")).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        sum.problems,
        vec!["mixed.jsonl: record 2 (line 2): a lm-eval record in a openai-chat file (mixed formats are not imported together)"]
    );
}

#[test]
fn sglang_generate_responses() {
    // SGLang's /generate shape (return_logprob, top_logprobs_num 2,
    // return_text_in_logprobs), n = 2: an array is one prompt's samples.
    let one = |t: &str| {
        serde_json::json!({"text": t, "meta_info": {"id": "x", "finish_reason": {"type": "length", "length": 2},
            "prompt_tokens": 5, "completion_tokens": 2,
            "output_token_logprobs": [[-0.1, 17, " 8"], [-0.7, 13, "."]],
            "output_top_logprobs": [[[-0.1, 17, " 8"], [-2.5, 18, " 9"]], [[-0.7, 13, "."], [-0.9, 198, "\n"]]]}})
    };
    let doc = serde_json::json!([one(" 8."), one(" 8.")]);
    let (runs, sum) = import_bytes(doc.to_string().as_bytes(), &opts("sg.json")).unwrap();
    assert_eq!(sum.format, Some("sglang"));
    assert_eq!(runs.len(), 1);
    let run = &runs[0].run;
    assert_eq!(run.paths.len(), 2);
    assert_eq!(
        run.stats_source().distribution,
        Some(Distribution::TemperatureScaled)
    );
    assert_eq!(run.paths[0].turns[0].tokens.id, vec![17, 13]);
    assert_eq!(run.paths[0].turns[0].finish.as_str(), "length");
    // Lengths that disagree are named.
    let mut bad = one("x");
    bad["meta_info"]["output_top_logprobs"]
        .as_array_mut()
        .unwrap()
        .pop();
    let e = import_bytes(bad.to_string().as_bytes(), &opts("sg.json")).unwrap_err();
    assert!(
        e.contains("meta_info.output_top_logprobs: length 1, expected 2"),
        "{e}"
    );
}

#[test]
fn analyze_info_and_export_open_imports_directly() {
    let f = fixture("llama-server-chat.json");
    let o = bin().arg("info").arg(&f).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        out.contains("import    openai-chat (1 record, 1 run)"),
        "{out}"
    );
    assert!(out.contains("self-certainty unavailable"), "{out}");
    let o = bin()
        .args(["analyze", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let methods = v["runs"][0]["turns"][0]["methods"].as_array().unwrap();
    let sc = methods
        .iter()
        .find(|m| m["method"] == "self_certainty")
        .unwrap();
    assert!(sc["unavailable"]
        .as_str()
        .unwrap()
        .contains("full distribution"));
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("e.svg");
    let st = bin()
        .args(["export", "--chart", "entropy", "--format", "svg", "-o"])
        .arg(&svg)
        .arg(&f)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::read_to_string(&svg)
        .unwrap()
        .contains("lower bound"));
    // A bad file among good ones: named, the others analysed.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, br#"{"choices": 3}"#).unwrap();
    let o = bin().arg("analyze").arg(&bad).arg(&f).output().unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.json") && err.contains("not a format reasonscope imports"),
        "{err}"
    );
}

#[test]
fn import_never_replaces_a_file_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json.gz");
    let f = fixture("llama-server-native.json");
    assert!(bin()
        .args(["import", "-q", "-o"])
        .arg(&out)
        .arg(&f)
        .status()
        .unwrap()
        .success());
    let o = bin()
        .args(["import", "-q", "-o"])
        .arg(&out)
        .arg(&f)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists (--force replaces it)"));
    assert!(bin()
        .args(["import", "-q", "--force", "-o"])
        .arg(&out)
        .arg(&f)
        .status()
        .unwrap()
        .success());
}

/// Resource bounds: a gzip that does not hold JSON is refused before it is
/// inflated, a run file may not inflate past its limit, and a record longer
/// than the record limit is reported while the others are imported.
#[test]
fn readers_bound_what_they_inflate_and_hold() {
    let dir = tempfile::tempdir().unwrap();
    // 200 MB of zeros in ~200 kB: refused at its first bytes.
    let bomb = dir.path().join("bomb.json.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        enc.write_all(&zeros).unwrap();
    }
    std::fs::write(&bomb, enc.finish().unwrap()).unwrap();
    let t = std::time::Instant::now();
    let e = reasonscope::run::read_run(&bomb).unwrap_err().to_string();
    assert!(
        e.contains("gzip, but its content is not a JSON object"),
        "{e}"
    );
    assert!(t.elapsed().as_secs() < 5);
    // A real run file that inflates past the limit (its gzip within it)
    // names the limit and how to raise it.
    let src = dir.path().join("big.json.gz");
    let big = reasonscope::run::synthetic_run(16, 2000, 1);
    reasonscope::run::write_run(&big, &src).unwrap();
    let limit = (std::fs::metadata(&src).unwrap().len() >> 20) + 1;
    assert!(reasonscope::run::run_to_bytes(&big, false).unwrap().len() as u64 > limit << 20);
    let o = bin()
        .arg("info")
        .arg(&src)
        .env("REASONSCOPE_MAX_INFLATE_MB", limit.to_string())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("inflates to more than {limit} MiB"))
            && err.contains("REASONSCOPE_MAX_INFLATE_MB"),
        "{err}"
    );
    // The same run as plain JSON, a suite and a conversation file over the
    // limit are refused before they are read.
    let plain = dir.path().join("big.json");
    reasonscope::run::write_run(&reasonscope::run::synthetic_run(16, 2000, 1), &plain).unwrap();
    let o = bin()
        .arg("analyze")
        .arg(&plain)
        .env("REASONSCOPE_MAX_INFLATE_MB", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("larger than 1 MiB") && err.contains("REASONSCOPE_MAX_INFLATE_MB"),
        "{err}"
    );
    // What the JSON becomes is bounded too: 200 000 tokens of `0,` and
    // `"",` are 1 MB of JSON (a few kB of gzip) but 5.6 MB of columns.
    let mut v: serde_json::Value = serde_json::from_slice(
        &reasonscope::run::run_to_bytes(&reasonscope::run::synthetic_run(1, 4, 1), false).unwrap(),
    )
    .unwrap();
    let n = 200_000;
    v["paths"][0]["turns"][0]["tokens"] = serde_json::json!({
        "id": vec![0; n],
        "text": vec![""; n],
    });
    let json = serde_json::to_vec(&v).unwrap();
    assert!(json.len() < 1 << 20, "{}", json.len());
    let empty = dir.path().join("empty-strings.json.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&json).unwrap();
    std::fs::write(&empty, enc.finish().unwrap()).unwrap();
    let info_with_limit = |mb: &str| {
        let o = bin()
            .arg("info")
            .arg(&empty)
            .env("REASONSCOPE_MAX_INFLATE_MB", mb)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let err = info_with_limit("1");
    assert!(
        err.contains("paths[0].turns[0].tokens.")
            && err.contains("would take more than 1 MiB in memory")
            && err.contains("REASONSCOPE_MAX_INFLATE_MB"),
        "{err}"
    );
    // With room for it, the parse gets through (validation then names what
    // such a run lacks).
    let err = info_with_limit("16");
    assert!(!err.contains("in memory"), "{err}");
    let big_text = dir.path().join("big.jsonl");
    let line = r#"{"id": "q", "prompt": "What is 1 plus 1?", "gold": "2"}"#;
    std::fs::write(&big_text, format!("{line}\n").repeat(30_000)).unwrap();
    let o = bin()
        .args(["suite", "-o"])
        .arg(dir.path().join("suite-out"))
        .arg("--questions")
        .arg(&big_text)
        .env("REASONSCOPE_MAX_INFLATE_MB", "1")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("larger than 1 MiB"));
    let o = bin()
        .args(["sample", "-o"])
        .arg(dir.path().join("c.json"))
        .arg("--conversation")
        .arg(&big_text)
        .env("REASONSCOPE_MAX_INFLATE_MB", "1")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("larger than 1 MiB"));
    // A 2 MB line among good ones, with a 1 MiB record limit.
    let chat = std::fs::read_to_string(fixture("llama-server-chat.jsonl")).unwrap();
    let first = chat.lines().next().unwrap();
    let long = format!("{{\"pad\": \"{}\", \"choices\": []}}", "x".repeat(2 << 20));
    // Import `text` as `name` with a 1 MiB record limit: what it said, and
    // how many runs it wrote.
    let import_limited = |name: &str, text: String| {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let o = bin()
            .args(["import", "-q", "-o"])
            .arg(&out)
            .arg(&file)
            .env("REASONSCOPE_MAX_RECORD_MB", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        (err, reasonscope::cli::expand_inputs(&[out]).len())
    };
    let (err, runs) = import_limited("long.jsonl", format!("{first}\n{long}\n{first}\n"));
    assert!(
        err.contains("record 2 (line 2): longer than 1 MiB"),
        "{err}"
    );
    assert_eq!(runs, 2, "the good records are imported");
    // The same in a JSON array: the long element is refused at the limit,
    // not parsed whole; the array cannot be read past it.
    let (err, runs) = import_limited("long.json", format!("[{first},\n{long},\n{first}]"));
    assert!(err.contains("record 2: longer than 1 MiB"), "{err}");
    assert_eq!(runs, 1);
}

/// A record's id names its file: it cannot name one outside the folder.
#[test]
fn imported_file_names_stay_in_their_folder() {
    let dir = tempfile::tempdir().unwrap();
    let lm = std::fs::read_to_string(fixture("lm-eval-samples.jsonl")).unwrap();
    let mut lines: Vec<serde_json::Value> = lm
        .lines()
        .take(2)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["doc_id"] = serde_json::json!("../../escaped");
    let src = dir.path().join("hostile.jsonl");
    std::fs::write(
        &src,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let out = dir.path().join("a/b");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    assert!(bin()
        .args(["import", "-q", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap()
        .success());
    let files = reasonscope::cli::expand_inputs(std::slice::from_ref(&out));
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.parent() == Some(out.as_path())));
    assert!(!dir.path().join("escaped.json.gz").exists());
}

/// Records merged into one run (`--prompt`) are bounded as they arrive:
/// past `MAX_PATHS` samples the import stops and says why, instead of
/// holding every record until the run is checked.
#[test]
fn records_merged_into_one_run_stop_at_the_path_limit() {
    let line = r#"{"choices":[{"finish_reason":"stop","index":0,"message":{"role":"assistant","content":"4"},"logprobs":{"content":[{"id":52,"token":"4","bytes":[52],"logprob":-0.1,"top_logprobs":[{"id":52,"token":"4","bytes":[52],"logprob":-0.1}]}]}}]}"#;
    let mut o = opts("many.jsonl");
    o.prompt = Some(Message::users(&["What is 2 + 2?"]));
    let n = reasonscope::run::MAX_PATHS;
    let (runs, sum) = import_bytes(format!("{line}\n").repeat(n).as_bytes(), &o).unwrap();
    assert_eq!((runs.len(), runs[0].run.paths.len()), (1, n), "{sum:?}");
    let e = import_bytes(format!("{line}\n").repeat(n + 1).as_bytes(), &o).unwrap_err();
    assert!(
        e.contains(&format!("record {} (line {})", n + 1, n + 1))
            && e.contains("more than 4096 samples for one run")
            && e.contains("without --prompt"),
        "{e}"
    );
}

/// A run file's name given with `-o` for a file that holds several prompts
/// names their folder without the extension (not a folder called
/// `x.json.gz`).
#[test]
fn a_run_file_name_for_several_prompts_names_a_folder_without_its_extension() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chat.run.json.gz");
    let o = bin()
        .args(["import", "-q", "-o"])
        .arg(&out)
        .arg(fixture("llama-server-chat.jsonl"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists());
    let folder = dir.path().join("chat.run");
    assert_eq!(reasonscope::cli::expand_inputs(&[folder]).len(), 3);
}
