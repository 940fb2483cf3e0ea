use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::run::{Role, Run};

/// `reasonscope info RUN`: a short, human summary of a run file.
pub fn info(path: &Path) -> anyhow::Result<()> {
    let opened = crate::run::open_any(
        path,
        &crate::run::default_import_options(path),
        false,
        &mut |_| {},
    )?;
    if let Some(s) = &opened.summary {
        println!(
            "import    {} ({} record{}, {} run{}{})",
            s.format.unwrap_or("?"),
            s.records,
            if s.records == 1 { "" } else { "s" },
            s.runs,
            if s.runs == 1 { "" } else { "s" },
            if s.problems.is_empty() {
                String::new()
            } else {
                format!(", {} bad records", s.problems.len())
            }
        );
        for p in &s.problems {
            eprintln!("error: {p}");
        }
    }
    for (i, r) in opened.runs.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", run_summary(&r.run));
        if opened.summary.is_some() {
            println!("stats     {}", super::describe_import(&r.run));
        }
        if i == 2 && opened.runs.len() > 3 {
            println!("\n… and {} more runs", opened.runs.len() - 3);
            break;
        }
    }
    Ok(())
}

pub fn run_summary(run: &Run) -> String {
    let mut s = String::new();
    let m = &run.model;
    let sp = &run.sampling;
    let _ = writeln!(
        s,
        "run       {}",
        run.title.as_deref().unwrap_or("(untitled)")
    );
    let _ = writeln!(s, "created   {}", run.created);
    // A model has no zero sizes: 0 is a size the source did not give.
    let size = |field: &str, v: u64, text: String| {
        if v == 0 {
            "?".into()
        } else {
            run.shown(field, text)
        }
    };
    let _ = writeln!(
        s,
        "model     {} ({}; {} params, vocab {}, ctx {}, {})",
        m.name,
        m.file,
        size(
            "model.n_params",
            m.n_params,
            format!("{:.0}M", m.n_params as f64 / 1e6)
        ),
        size("model.n_vocab", u64::from(m.n_vocab), m.n_vocab.to_string()),
        size("model.n_ctx", u64::from(m.n_ctx), m.n_ctx.to_string()),
        m.backend
    );
    let _ = writeln!(
        s,
        "sampling  n={} temperature={} top_k={} top_p={} min_p={} seed={} max_tokens={} top_logprobs={} method={}",
        sp.n_paths,
        run.shown("sampling.temperature", sp.temperature),
        run.shown("sampling.top_k", sp.top_k),
        run.shown("sampling.top_p", sp.top_p),
        run.shown("sampling.min_p", sp.min_p),
        run.shown("sampling.seed", sp.seed),
        run.shown("sampling.max_tokens", sp.max_tokens),
        sp.top_logprobs,
        sp.method
    );
    if let Some(p) = &run.prompt {
        let _ = writeln!(
            s,
            "prompt    {} tokens, {} template{}",
            p.n_tokens,
            p.template,
            p.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
    }
    let mut user_turn = 0;
    for (t, msg) in run.conversation.iter().enumerate() {
        let content = if msg.role == Role::User {
            user_turn += 1;
            run.user_message(user_turn - 1).unwrap_or_default()
        } else {
            msg.content.clone()
        };
        let content: String = content.chars().take(90).collect();
        let _ = writeln!(s, "message   {t} {:?}: {content}", msg.role);
    }
    if let Some(gold) = &run.gold {
        let g: Vec<&str> = gold.iter().map(|g| g.as_deref().unwrap_or("-")).collect();
        let _ = writeln!(s, "gold      {}", g.join(", "));
    }
    let total = run.total_tokens();
    let n = run.paths.len().max(1);
    let _ = writeln!(
        s,
        "paths     {} ({} forked), {} tokens, {:.1} per path",
        run.paths.len(),
        run.paths.iter().filter(|p| p.fork.is_some()).count(),
        total,
        total as f64 / n as f64
    );
    let mut finishes: BTreeMap<&str, usize> = BTreeMap::new();
    for t in run.paths.iter().flat_map(|p| &p.turns) {
        *finishes.entry(t.finish.as_str()).or_default() += 1;
    }
    let f: Vec<String> = finishes.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(s, "finish    {}", f.join(", "));
    if let Some(d) = &run.decoding {
        if let Some(c) = &d.cntp {
            let _ = writeln!(
                s,
                "cntp      {} branching steps, {} trials, {} extra tokens in trials not kept",
                c.steps.len(),
                c.steps.iter().map(|st| st.trials.len()).sum::<usize>(),
                c.extra_tokens
            );
        }
        if let Some(f) = &d.ffs {
            let w = f.winner.map_or("none".into(), |w| format!("path {w}"));
            let _ = writeln!(s, "ffs       first to finish: {w}");
        }
        if let Some(o) = &d.deepconf_online {
            let t = o.threshold.map_or("none".into(), |t| format!("{t:.3}"));
            let _ = writeln!(
                s,
                "deepconf  {} warm-up paths, window {}, threshold {t}, {} paths stopped early",
                o.warmup,
                o.window,
                o.stops.len()
            );
        }
    }
    let wall = run
        .paths
        .iter()
        .flat_map(|p| &p.turns)
        .map(|t| t.timing.end_ms)
        .fold(0.0f64, f64::max);
    if wall > 0.0 {
        let _ = writeln!(
            s,
            "time      {:.1} s, {:.1} tokens/s",
            wall / 1000.0,
            total as f64 / (wall / 1000.0)
        );
    }
    s
}
