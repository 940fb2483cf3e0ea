use std::fmt::Write;
use std::path::PathBuf;

use anyhow::bail;

use crate::analysis::report::{report, Report};
use crate::analysis::AnalysisParams;
use crate::run::Run;

/// Expand folders into the run files they hold (`.json`, `.json.gz`), sorted.
pub fn expand_inputs(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            files.retain(|f| {
                let n = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                f.is_file()
                    && !n.starts_with('.')
                    && [".json", ".json.gz", ".jsonl", ".jsonl.gz"]
                        .iter()
                        .any(|e| n.ends_with(e))
            });
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// Runs read (file name, run) and files that failed (file name, error).
pub type Loaded = (Vec<(String, Run)>, Vec<(String, String)>);

/// Load every input for analysis (alternatives checked, not kept: see
/// `read_run_for_analysis`); bad files are reported and skipped.
pub fn load_runs(inputs: &[PathBuf]) -> Loaded {
    let files = expand_inputs(inputs);
    // Files are independent: read them on every core, in order. A file
    // that is not a run file is imported (several runs when it holds
    // several prompts, named FILE#NAME).
    let results = crate::analysis::par::par_map(&files, |f| {
        let opts = crate::run::default_import_options(f);
        match crate::run::open_any(f, &opts, true, &mut |_| {}) {
            Ok(o) => {
                let name = f.display().to_string();
                let several = o.runs.len() > 1 || o.summary.is_some();
                let mut out: Vec<(String, Result<Run, String>)> = o
                    .runs
                    .into_iter()
                    .map(|r| {
                        let n = if several {
                            format!("{name}#{}", r.name)
                        } else {
                            name.clone()
                        };
                        (n, Ok(r.run))
                    })
                    .collect();
                for p in o.summary.map(|s| s.problems).unwrap_or_default() {
                    out.push((name.clone(), Err(p)));
                }
                out
            }
            Err(e) => vec![(f.display().to_string(), Err(e.to_string()))],
        }
    });
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (name, r) in results.into_iter().flatten() {
        match r {
            Ok(r) => good.push((name, r)),
            Err(e) => bad.push((name, e)),
        }
    }
    (good, bad)
}

/// `reasonscope analyze`.
pub fn analyze(inputs: &[PathBuf], json: bool, params: &AnalysisParams) -> anyhow::Result<()> {
    let (runs, bad) = load_runs(inputs);
    for (_, e) in &bad {
        eprintln!("error: {e}");
    }
    if runs.is_empty() {
        bail!("no run could be analysed ({} input(s) failed)", bad.len());
    }
    let refs: Vec<(String, &Run)> = runs.iter().map(|(f, r)| (f.clone(), r)).collect();
    let rep = report(&refs, params);
    if json {
        let mut v = serde_json::to_value(&rep)?;
        if let Some(obj) = v.as_object_mut() {
            let errors: Vec<serde_json::Value> = bad
                .iter()
                .map(|(f, e)| serde_json::json!({"file": f, "error": e}))
                .collect();
            obj.insert("errors".into(), errors.into());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", table(&rep, &runs));
    }
    Ok(())
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.prec$}"))
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The human table: fits a 100-column terminal.
pub fn table(rep: &Report, runs: &[(String, Run)]) -> String {
    let mut s = String::new();
    for (rr, (_, run)) in rep.runs.iter().zip(runs) {
        for t in &rr.turns {
            let q = run.user_message(t.turn);
            let _ = writeln!(
                s,
                "== {} · turn {} · {} paths · gold {}",
                clip(&rr.file, 50),
                t.turn + 1,
                t.paths.len(),
                t.gold.as_deref().unwrap_or("-")
            );
            if let Some(q) = q {
                let _ = writeln!(s, "   {}", clip(&q.replace('\n', " "), 94));
            }
            if let Some(note) = crate::analysis::methods::stats_note(run) {
                let _ = writeln!(s, "   {note}");
            }
            if let Some(note) = crate::analysis::turn::unfinished_note(run, t.turn, 0) {
                let _ = writeln!(s, "   {}", clip(&note, 96));
            }
            let _ = writeln!(
                s,
                "\n{:<18} {:>10} {:>6} {:>7}  votes",
                "method", "answer", "conf", "correct"
            );
            for m in &t.methods {
                if let Some(why) = m.unavailable {
                    let _ = writeln!(s, "{:<18} — unavailable: {}", m.method, clip(why, 62));
                    continue;
                }
                let mut votes: Vec<(&String, &f64)> = m.votes.iter().collect();
                votes.sort_by(|a, b| b.1.total_cmp(a.1));
                if crate::analysis::methods::lower_is_better(m.method) {
                    votes.reverse();
                }
                let v: Vec<String> = votes
                    .iter()
                    .take(4)
                    .map(|(a, w)| format!("{}:{}", clip(a, 8), trim_num(**w)))
                    .collect();
                let _ = writeln!(
                    s,
                    "{:<18} {:>10} {:>6} {:>7}  {}",
                    m.method,
                    clip(m.answer.as_deref().unwrap_or("-"), 10),
                    opt(m.confidence, 3),
                    yes_no(m.correct),
                    clip(&v.join(" "), 52)
                );
                if !m.tie.is_empty() {
                    let _ = writeln!(
                        s,
                        "{:<18} tie with {}: {}",
                        "",
                        clip(&m.tie.join(", "), 12),
                        crate::analysis::turn::TIE_RULE
                    );
                }
            }
            let _ = writeln!(
                s,
                "\n{:>4} {:>9} {:>3} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>4} {:>6}",
                "path",
                "answer",
                "ok",
                "tokens",
                "mean_lp",
                "ppl",
                "entropy",
                "s_cert",
                "conf",
                "c_low",
                "unc",
                "refl"
            );
            for p in &t.paths {
                let _ = writeln!(
                    s,
                    "{:>4} {:>9} {:>3} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>4} {:>6}",
                    p.index,
                    clip(p.answer.as_deref().unwrap_or("-"), 9),
                    yes_no(p.correct),
                    p.scores.n_tokens,
                    opt(p.scores.mean_logprob, 3),
                    opt(p.scores.perplexity, 3),
                    opt(p.scores.mean_entropy, 3),
                    opt(p.scores.self_certainty, 2),
                    opt(p.scores.conf_mean, 2),
                    opt(p.scores.conf_lowest_group, 2),
                    p.scores.uncertain_points,
                    p.reflection
                        .share
                        .map_or("n/a".into(), |s| format!("{:.0}%", s * 100.0))
                );
            }
            if let Some(f) = t.forks.first() {
                let kids: Vec<String> = f
                    .children
                    .iter()
                    .map(|c| format!("{:?}×{}", clip(&c.text, 10), c.paths.len()))
                    .collect();
                let line = format!(
                    "{} forks; most decisive at token {} (JSD {:.3} nats, entropy {:.2}): {}",
                    t.forks.len(),
                    f.position,
                    f.decisiveness,
                    f.entropy,
                    kids.join(" ")
                );
                let _ = writeln!(s, "\n{}", clip(&line, 100));
            }
            s.push('\n');
        }
        if let Some(d) = &rr.drift {
            let _ = writeln!(
                s,
                "== drift · {} turns\n{:>4} {:>8} {:>10} {:>8}",
                d.turns.len(),
                "turn",
                "changed",
                "D_t",
                "entropy"
            );
            for t in &d.turns {
                let _ = writeln!(
                    s,
                    "{:>4} {:>8} {:>10} {:>8}",
                    t.turn + 1,
                    t.changed_share
                        .map_or("-".into(), |v| format!("{:.0}%", v * 100.0)),
                    opt(t.mean_kl_ref, 4),
                    opt(t.mean_entropy, 3)
                );
            }
            for tr in &d.transitions {
                let _ = writeln!(
                    s,
                    "turn {} -> {}: right->right {} right->wrong {} wrong->right {} wrong->wrong {}; conf {} crit {}",
                    tr.from_turn + 1,
                    tr.to_turn + 1,
                    tr.right_right.map_or("-".into(), |v| v.to_string()),
                    tr.right_wrong.map_or("-".into(), |v| v.to_string()),
                    tr.wrong_right.map_or("-".into(), |v| v.to_string()),
                    tr.wrong_wrong.map_or("-".into(), |v| v.to_string()),
                    opt(tr.confidence_score, 3),
                    opt(tr.critique_score, 3)
                );
            }
            let e = &d.equilibrium;
            let _ = writeln!(
                s,
                "fit D(t+1) - D(t) = a + b D(t): a {}, b {}, equilibrium D* {}\n",
                opt(e.a, 4),
                opt(e.b, 4),
                opt(e.d_star, 4)
            );
        }
    }
    if let Some(suite) = &rep.suite {
        let _ = writeln!(
            s,
            "== suite: {} question(s) with gold\n",
            rep.runs
                .iter()
                .flat_map(|r| &r.turns)
                .filter(|t| t.gold.is_some())
                .count()
        );
        let _ = writeln!(
            s,
            "{:<18} {:>8} {:>11} {:>4} {:>7} {:>7} {:>7} {:>10} {:>10}",
            "method",
            "accuracy",
            "95% (Wilson)",
            "ties",
            "ece",
            "brier",
            "auroc",
            "tokens",
            "sequential",
        );
        for m in &suite.methods {
            let _ = writeln!(
                s,
                "{:<18} {:>8.3} {:>11} {:>4} {:>7} {:>7} {:>7} {:>10} {:>10}",
                m.method,
                m.accuracy,
                m.accuracy_interval
                    .map_or("-".into(), |(lo, hi)| format!("{lo:.2}–{hi:.2}")),
                m.ties,
                opt(m.ece, 3),
                opt(m.brier, 3),
                opt(m.auroc, 3),
                m.tokens_total,
                m.tokens_sequential,
            );
        }
        for m in &suite.methods {
            if m.judge_tokens > 0 {
                let _ = writeln!(
                    s,
                    "{}: {} of its tokens were the judge's (prompts read and answers written)",
                    m.method, m.judge_tokens
                );
            }
            if let Some(c) = &m.answer_calibration {
                let _ = writeln!(
                    s,
                    "{} over every judged answer ({}): ece {} brier {} auroc {}",
                    m.method,
                    c.n_answers,
                    opt(c.ece, 3),
                    opt(c.brier, 3),
                    opt(c.auroc, 3)
                );
            }
        }
    }
    s
}

fn trim_num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}
