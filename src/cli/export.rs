use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::analysis::{analyze_run, AnalysisParams, TurnAnalysis};
use crate::charts::{figure_for, suite_figure, FigureRequest, SuiteGroup};
use crate::export::{export, Format};
use crate::run::{default_import_options, open_any};

pub struct ExportArgs {
    pub runs: Vec<PathBuf>,
    pub chart: String,
    pub format: String,
    pub output: PathBuf,
    pub path: Option<usize>,
    pub turn: usize,
    pub scale: f32,
    pub force: bool,
    pub window: usize,
}

/// `reasonscope export`: the app's chart for a run, written without a window.
pub fn export_chart(a: &ExportArgs) -> anyhow::Result<()> {
    if a.format == "jsonl" {
        return export_jsonl(a);
    }
    if a.chart.is_empty() {
        bail!("--chart is required for png, svg and csv");
    }
    let format = Format::parse(&a.format).context("format must be png, svg, csv or jsonl")?;
    let mut params = AnalysisParams::default();
    params.methods.window = a.window.max(1);
    let mut loaded = Vec::new();
    for f in &super::expand_inputs(&a.runs) {
        let opened = open_any(f, &default_import_options(f), false, &mut |_| {})?;
        for p in opened.summary.iter().flat_map(|s| &s.problems) {
            eprintln!("error: {p}");
        }
        for r in opened.runs {
            let turns = analyze_run(&r.run, &params);
            loaded.push((r.run, turns));
        }
    }
    if loaded.is_empty() {
        bail!("no run to export");
    }
    let (run, turns) = &loaded[0];
    // Turns are numbered from 1, as in the app and `fork --turn`.
    if a.turn == 0 || a.turn > turns.len() {
        bail!(
            "turn {} does not exist (the run has {} turn(s), numbered from 1)",
            a.turn,
            turns.len()
        );
    }
    let turn = a.turn - 1;
    if let Some(p) = a.path {
        if p >= run.paths.len() {
            bail!(
                "path {p} does not exist (the run has {} paths)",
                run.paths.len()
            );
        }
    }
    let suite: Vec<&TurnAnalysis> = loaded.iter().flat_map(|(_, t)| t.iter()).collect();
    let req = FigureRequest {
        id: a.chart.clone(),
        turn,
        paths: a.path.map(|p| vec![p]),
        selected: None,
        normalized_x: false,
        params: params.methods,
    };
    let fig = if a.chart == "suite" {
        let groups = SuiteGroup::by_method(
            loaded
                .iter()
                .map(|(r, ts)| (r.sampling.method.as_str(), ts.as_slice())),
        );
        suite_figure(&groups, &params.methods)
    } else {
        figure_for(&req, run, turns, &suite)
    };
    let fig = fig.with_context(|| match a.chart.as_str() {
        "drift" => "the drift chart needs a run with two or more turns".to_owned(),
        c => format!("the {c} chart needs gold answers, which the run(s) do not have"),
    })?;
    export(&fig, format, &a.output, a.scale, a.force)?;
    eprintln!("wrote {}", a.output.display());
    Ok(())
}

/// `export --format jsonl`: runs as lines of the `jsonl` interchange
/// format (docs/run-format.md), which `import` reads back.
fn export_jsonl(a: &ExportArgs) -> anyhow::Result<()> {
    if a.output.exists() && !a.force {
        bail!("{} exists (--force replaces it)", a.output.display());
    }
    let mut out = String::new();
    for f in &super::expand_inputs(&a.runs) {
        let opened = open_any(f, &default_import_options(f), false, &mut |_| {})?;
        for r in opened.runs {
            let line = crate::run::import::jsonl_line(&r.run)
                .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            out.push_str(&line);
            out.push('\n');
        }
    }
    crate::run::write_atomic(&a.output, out.as_bytes())
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    eprintln!("wrote {}", a.output.display());
    Ok(())
}
