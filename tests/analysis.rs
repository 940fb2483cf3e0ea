//! Selection methods and scores on small runs built in code, against values
//! computed by hand (methods.md).

use reasonscope::analysis::{analyze_turn, AnalysisParams, TurnAnalysis};
use reasonscope::run::{run_with_paths, Finish, Run, TokenValues, Turn, TurnBuilder};

/// A path whose text is `text`, `n` tokens, every token with the given
/// logprob, self-certainty and confidence.
fn path(text: &str, n: usize, logprob: f32, sc: f32, conf: f32) -> Vec<Turn> {
    let mut b = TurnBuilder::new(2);
    for i in 0..n {
        b = b.token(TokenValues {
            id: i as i32,
            text: if i == 0 { text } else { "" },
            logprob,
            entropy: 0.5,
            self_certainty: sc,
            confidence: conf,
        });
    }
    vec![b.finish(Finish::Stop, 0.0, 1.0)]
}

fn ans(a: &str, tag: usize) -> String {
    format!("The answer is {a}. (path {tag})")
}

fn analyze(paths: Vec<Vec<Turn>>, gold: Option<&str>) -> TurnAnalysis {
    let run: Run = run_with_paths("q", gold, 2, paths);
    reasonscope::run::validate(&run).unwrap();
    analyze_turn(&run, 0, &AnalysisParams::default())
}

fn pick<'a>(t: &'a TurnAnalysis, m: &str) -> (Option<&'a str>, Option<f64>) {
    let o = t.method(m).unwrap();
    (o.answer.as_deref(), o.confidence)
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

#[test]
fn ties_go_to_the_lowest_path_index() {
    let t = analyze(
        vec![
            path(&ans("9", 0), 4, -0.5, 2.0, 1.0),
            path(&ans("8", 1), 4, -0.5, 2.0, 1.0),
            path(&ans("8", 2), 4, -0.5, 2.0, 1.0),
            path(&ans("9", 3), 4, -0.5, 2.0, 1.0),
        ],
        Some("8"),
    );
    for m in [
        "majority",
        "weighted_prob",
        "lowest_perplexity",
        "self_certainty",
        "deepconf_low",
        "deepconf_high",
        "shortest",
        "first",
    ] {
        assert_eq!(pick(&t, m).0, Some("9"), "{m}");
    }
    assert!(close(pick(&t, "majority").1, 0.5));
    assert_eq!(t.method("majority").unwrap().correct, Some(false));
    assert_eq!(
        t.method("majority").unwrap().votes,
        vec![("9".to_owned(), 2.0), ("8".to_owned(), 2.0)]
    );
}

#[test]
fn unanswered_paths_do_not_vote() {
    let t = analyze(
        vec![
            path("no idea", 3, -0.1, 9.0, 9.0),
            path(&ans("7", 1), 5, -1.0, 1.0, 1.0),
            path("still nothing", 2, -0.1, 9.0, 9.0),
            path(&ans("7", 3), 5, -2.0, 1.0, 1.0),
        ],
        Some("7"),
    );
    assert_eq!(pick(&t, "first").0, None);
    assert_eq!(t.method("first").unwrap().correct, Some(false));
    let (a, c) = pick(&t, "majority");
    assert_eq!(a, Some("7"));
    assert!(close(c, 1.0));
    // lowest perplexity among answered: path 1 (logprob −1), confidence its path_prob.
    assert!(close(pick(&t, "lowest_perplexity").1, (-1.0f64).exp()));
    // shortest among answered paths only: both have 5 tokens.
    assert_eq!(pick(&t, "shortest").0, Some("7"));
    // Borda: unanswered paths take ranks 1 and 2 (self-certainty 9), give no votes.
    assert_eq!(pick(&t, "borda").0, Some("7"));
    assert!(t.paths[0].answer.is_none() && t.paths[0].correct == Some(false));
}

#[test]
fn a_single_path() {
    let t = analyze(vec![path(&ans("3", 0), 6, -0.7, 4.0, 2.0)], Some("3"));
    for m in reasonscope::analysis::METHODS {
        assert_eq!(pick(&t, m).0, Some("3"), "{m}");
        assert_eq!(t.method(m).unwrap().correct, Some(true));
    }
    assert!(close(pick(&t, "rpc").1, 1.0));
    let s = &t.paths[0].scores;
    assert!(close(s.mean_logprob, -0.7));
    assert!(close(s.perplexity, 0.7f64.exp()));
    assert!(close(s.conf_lowest_group, 2.0));
    assert!(t.forks.is_empty());
}

#[test]
fn all_paths_identical() {
    let paths: Vec<_> = (0..5)
        .map(|_| path("The answer is 12.", 3, -0.2, 3.0, 2.0))
        .collect();
    let t = analyze(paths, Some("12"));
    for m in reasonscope::analysis::METHODS {
        assert_eq!(pick(&t, m).0, Some("12"), "{m}");
    }
    // Confidence shares are 1; RPC counts the single distinct text once.
    assert!(close(pick(&t, "majority").1, 1.0));
    assert!(close(pick(&t, "rpc").1, 1.0));
    let rpc_votes = &t.method("rpc").unwrap().votes;
    assert_eq!(rpc_votes.len(), 1);
    assert!((rpc_votes[0].1 - (-0.2f64).exp()).abs() < 1e-6);
    assert!(t.forks.is_empty());
}

#[test]
fn sixty_four_paths() {
    let paths: Vec<_> = (0..64)
        .map(|i| {
            let a = if i % 8 < 5 { "8" } else { "9" };
            path(
                &ans(a, i),
                10 + i % 7,
                -0.3 - 0.01 * i as f32,
                2.0 + 0.01 * i as f32,
                1.0 + 0.02 * (i % 5) as f32,
            )
        })
        .collect();
    let t = analyze(paths, Some("8"));
    assert_eq!(t.paths.len(), 64);
    let (a, c) = pick(&t, "majority");
    assert_eq!(a, Some("8"));
    assert!(close(c, 40.0 / 64.0));
    // weighted_prob by hand
    let (mut w8, mut w9) = (0.0f64, 0.0f64);
    for i in 0..64 {
        let p = f64::from(-0.3f32 - 0.01 * i as f32).exp();
        if i % 8 < 5 {
            w8 += p;
        } else {
            w9 += p;
        }
    }
    let (a, c) = pick(&t, "weighted_prob");
    assert_eq!(a, Some("8"));
    assert!((c.unwrap() - w8 / (w8 + w9)).abs() < 1e-5);
    // Highest self-certainty is path 63 (answer 9: 63 % 8 = 7).
    assert_eq!(pick(&t, "self_certainty").0, Some("9"));
    // Lowest perplexity is path 0 (answer 8).
    assert_eq!(pick(&t, "lowest_perplexity").0, Some("8"));
    // Shortest: 10 tokens at i % 7 == 0; the first such is path 0 → 8.
    assert_eq!(pick(&t, "shortest").0, Some("8"));
}

#[test]
fn rpc_pruning_changes_the_winner() {
    // Twelve low-probability paths answer 5, four high-probability paths
    // answer 6: Σ path_prob favours 5 (4.26 vs 3.61), but the mixture
    // separates the clusters and pruning removes every low one.
    let mut paths = Vec::new();
    for i in 0..12 {
        paths.push(path(
            &ans("5", i),
            4,
            (0.30f32 + 0.01 * i as f32).ln(),
            1.0,
            1.0,
        ));
    }
    for i in 0..4 {
        paths.push(path(
            &ans("6", 12 + i),
            4,
            (0.88f32 + 0.015 * i as f32).ln(),
            1.0,
            1.0,
        ));
    }
    let t = analyze(paths, Some("6"));
    let s5: f64 = (0..12).map(|i| 0.30 + 0.01 * i as f64).sum();
    let s6: f64 = (0..4).map(|i| 0.88 + 0.015 * i as f64).sum();
    assert!(s5 > s6);
    let (a, c) = pick(&t, "weighted_prob");
    assert_eq!(a, Some("5"));
    assert!((c.unwrap() - s5 / (s5 + s6)).abs() < 1e-5);
    assert_eq!(pick(&t, "majority").0, Some("5"));
    let (a, c) = pick(&t, "rpc");
    assert_eq!(a, Some("6"));
    assert!(close(c, 1.0), "{c:?}");
    assert_eq!(t.method("rpc").unwrap().correct, Some(true));
}

#[test]
fn rpc_without_pruning_below_four_paths() {
    let t = analyze(
        vec![
            path(&ans("5", 0), 4, 0.3f32.ln(), 1.0, 1.0),
            path(&ans("5", 1), 4, 0.31f32.ln(), 1.0, 1.0),
            path(&ans("6", 2), 4, 0.5f32.ln(), 1.0, 1.0),
        ],
        None,
    );
    let (a, c) = pick(&t, "rpc");
    assert_eq!(a, Some("5"));
    assert!((c.unwrap() - 0.61 / 1.11).abs() < 1e-5);
}

#[test]
fn deepconf_filtering_changes_the_winner() {
    // Nine paths say 4 with low confidence; one says 2 with the highest.
    let mut paths: Vec<_> = (0..9)
        .map(|i| path(&ans("4", i), 5, -0.5, 1.0, 1.0 + 0.01 * i as f32))
        .collect();
    paths.push(path(&ans("2", 9), 5, -0.5, 1.0, 5.0));
    let t = analyze(paths, Some("2"));
    // ⌈0.1·10⌉ = 1 path kept: the confident one.
    let (a, c) = pick(&t, "deepconf_low");
    assert_eq!(a, Some("2"));
    assert!(close(c, 1.0));
    // ⌈0.9·10⌉ = 9 kept: path 0 (conf 1.00) is dropped; 4 wins by weight.
    let (a, c) = pick(&t, "deepconf_high");
    assert_eq!(a, Some("4"));
    let w4: f64 = (1..9).map(|i| 1.0 + 0.01 * i as f64).sum();
    assert!((c.unwrap() - w4 / (w4 + 5.0)).abs() < 1e-5);
    assert_eq!(pick(&t, "majority").0, Some("4"));
}

#[test]
fn borda_exponent_changes_the_winner() {
    // Ranks by self-certainty: r1 → "B", r2 → "A", r3 → "A", r4, r5 unanswered.
    let paths = vec![
        path(&ans("1", 0), 3, -0.5, 9.0, 1.0),
        path(&ans("2", 1), 3, -0.5, 8.0, 1.0),
        path(&ans("2", 2), 3, -0.5, 7.0, 1.0),
        path("nothing", 3, -0.5, 6.0, 1.0),
        path("nothing here", 3, -0.5, 5.0, 1.0),
    ];
    let run: Run = run_with_paths("q", None, 2, paths);
    let mut params = AnalysisParams::default();
    // p = 0.5: "1" gets √5 = 2.236; "2" gets √4 + √3 = 3.732.
    let t = analyze_turn(&run, 0, &params);
    let (a, c) = pick(&t, "borda");
    assert_eq!(a, Some("2"));
    let (b1, b2) = (5f64.sqrt(), 2.0 + 3f64.sqrt());
    assert!((c.unwrap() - b2 / (b1 + b2)).abs() < 1e-9);
    // p = 4: 625 vs 256 + 81 = 337.
    params.methods.borda_p = 4.0;
    let t = analyze_turn(&run, 0, &params);
    let (a, c) = pick(&t, "borda");
    assert_eq!(a, Some("1"));
    assert!((c.unwrap() - 625.0 / 962.0).abs() < 1e-9);
}

#[test]
fn accuracy_curves_and_suite_metrics() {
    use reasonscope::analysis::{curves, suite};
    // Question 1: all 4 paths right. Question 2: 1 of 4 right.
    let q1 = analyze(
        (0..4)
            .map(|i| path(&ans("1", i), 3, -0.5, 1.0, 1.0))
            .collect(),
        Some("1"),
    );
    let q2 = analyze(
        vec![
            path(&ans("2", 0), 2, -0.5, 1.0, 1.0),
            path(&ans("3", 1), 4, -0.5, 1.0, 1.0),
            path(&ans("3", 2), 4, -0.5, 1.0, 1.0),
            path(&ans("3", 3), 4, -0.5, 1.0, 1.0),
        ],
        Some("2"),
    );
    let qs = vec![&q1, &q2];
    let c = curves::accuracy_curves(&qs, &Default::default(), 200, 1);
    let at = |m: &str, n: usize| c.iter().find(|p| p.method == m && p.n == n).unwrap();
    // n = N: every draw is the whole set: majority right on q1 only.
    assert!((at("majority", 4).accuracy - 0.5).abs() < 1e-12);
    assert_eq!(at("majority", 4).low, 0.5);
    // n = 1: expected accuracy (1 + 1/4) / 2 = 0.625, within sampling error.
    assert!((at("majority", 1).accuracy - 0.625).abs() < 0.06);
    assert!(at("majority", 1).low < at("majority", 1).accuracy);
    // Tokens at n = 4: q1 12, q2 14 → mean 13; shortest: 4·3 and 4·2 → 10.
    assert!((at("majority", 4).mean_tokens - 13.0).abs() < 1e-12);
    assert!((at("shortest", 4).mean_tokens - 10.0).abs() < 1e-12);
    assert_eq!(at("shortest", 4).accuracy, 1.0);
    // `first` answers with one random path: (4/4 + 1/4) / 2 = 0.625 at every
    // n, exactly (not path 0's answer, which q2's path 0 would make 1.0 at
    // n = 4), on the mean path length: (3 + (2 + 4 + 4 + 4) / 4) / 2.
    for n in [1, 2, 4] {
        assert!((at("first", n).accuracy - 0.625).abs() < 1e-12, "n = {n}");
        assert!((at("first", n).mean_tokens - 3.25).abs() < 1e-12);
    }

    let s = suite::suite_methods(&qs);
    let maj = s.iter().find(|m| m.method == "majority").unwrap();
    assert_eq!(maj.accuracy, 0.5);
    assert_eq!((maj.tokens_total, maj.tokens_sequential), (26, 7));
    // Confidences: q1 1.0 right, q2 0.75 wrong → Brier (0 + 0.5625)/2
    assert!((maj.brier.unwrap() - 0.28125).abs() < 1e-12);
    assert!((maj.ece.unwrap() - (0.0 + 0.75) / 2.0).abs() < 1e-12);
    assert_eq!(maj.auroc, Some(1.0));
    let first = s.iter().find(|m| m.method == "first").unwrap();
    assert!(first.ece.is_none() && first.auroc.is_none());
}

/// The curves' shortcut (`select_class`) picks what `select` picks, and
/// RPC's "certain class" holds whenever it speaks, on real runs.
#[test]
fn select_class_equals_select_on_random_subsets_of_real_runs() {
    use reasonscope::analysis::methods::{rpc_certain_class, select, select_class, METHODS};
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs");
    let params = reasonscope::analysis::AnalysisParams::default();
    let mut rng = fastrand::Rng::with_seed(7);
    let (mut certain, mut checked) = (0, 0);
    for name in [
        "apples-n16.json.gz",
        "change-split-n16.json.gz",
        "multiply-n64.json.gz",
        "apples-3turns-n16.json.gz",
    ] {
        let run = reasonscope::run::read_run(&dir.join(name)).unwrap();
        for t in reasonscope::analysis::analyze_run(&run, &params) {
            let n = t.candidates.len();
            for _ in 0..300 {
                let k = rng.usize(1..=n);
                let mut subset: Vec<usize> = (0..n).collect();
                rng.shuffle(&mut subset);
                subset.truncate(k);
                subset.sort_unstable();
                for id in METHODS {
                    let want = select(id, &t.candidates, &subset, &params.methods).class;
                    assert_eq!(
                        select_class(id, &t.candidates, &subset, &params.methods),
                        want,
                        "{id} {name} {subset:?}"
                    );
                }
                if let Some(c) = rpc_certain_class(&t.candidates, &subset) {
                    certain += 1;
                    assert_eq!(
                        Some(c),
                        select("rpc", &t.candidates, &subset, &params.methods).class
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(
        certain > 0 && certain < checked,
        "the shortcut fired {certain} of {checked} times"
    );
}

/// A CNTP run's tokens spent count the trials it sampled and discarded.
#[test]
fn cntp_trials_count_as_tokens_spent() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs");
    let run = reasonscope::run::read_run(&dir.join("apples-cntp-n8.json.gz")).unwrap();
    let t = analyze_turn(&run, 0, &AnalysisParams::default());
    let trials: usize = run
        .decoding
        .as_ref()
        .unwrap()
        .cntp
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .flat_map(|s| s.trials.iter().filter(|x| !x.kept))
        .map(|x| x.ids.len())
        .sum();
    assert!(trials > 0);
    let suite = reasonscope::analysis::suite::suite_methods(&[&t]);
    let majority = suite.iter().find(|m| m.method == "majority").unwrap();
    assert_eq!(majority.tokens_total, run.total_tokens() + trials);
}

/// `reasonscope analyze` reads runs without their alternatives: every
/// bundled run must analyse exactly as when read whole.
#[test]
fn runs_read_for_analysis_analyse_as_when_read_whole() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs");
    let params = reasonscope::analysis::AnalysisParams::default();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let whole = reasonscope::run::read_run(&path).unwrap();
        let lean = reasonscope::run::read_run_for_analysis(&path).unwrap();
        assert_eq!(
            reasonscope::analysis::analyze_run(&whole, &params),
            reasonscope::analysis::analyze_run(&lean, &params),
            "{}",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 5);
}

/// A suite where one run is judged and one is not: the judged methods are
/// named as partly available (and left out of the table), the rest are not.
#[test]
fn partly_available_methods_are_named_with_their_count() {
    use reasonscope::analysis::suite::{partly_available, suite_methods};
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs");
    let params = reasonscope::analysis::AnalysisParams::default();
    let turns: Vec<_> = ["multiply-n64.json.gz", "apples-n16.json.gz"]
        .iter()
        .map(|f| {
            let run = reasonscope::run::read_run(&dir.join(f)).unwrap();
            reasonscope::analysis::analyze_run(&run, &params).remove(0)
        })
        .collect();
    let qs: Vec<_> = turns.iter().collect();
    assert_eq!(
        partly_available(&qs),
        vec![("p_true", 1), ("p_true_brainstorm", 1), ("usc", 1)]
    );
    let table = suite_methods(&qs);
    assert!(table
        .iter()
        .all(|m| !m.method.starts_with("p_true") && m.method != "usc"));
    assert!(table.iter().any(|m| m.method == "majority"));
    assert!(partly_available(&qs[..1]).is_empty());
}
