//! The Suite view's figure: per-method accuracy with 95% intervals for each
//! group of runs (one group per decoding method), accuracy against tokens
//! spent per question (every group on one chart, so decoding-time and
//! selection methods meet at equal budget), and the reliability diagram.

use super::model::{Axis, Chart, Figure, Mark, Series};
use super::palette;
use crate::analysis::curves::{accuracy_curves, DEFAULT_DRAWS, DEFAULT_SEED};
use crate::analysis::suite::{group_by_label, suite_methods};
use crate::analysis::{MethodParams, TurnAnalysis, METHODS};
use crate::run::judgement::JUDGED_METHODS;

/// Questions sampled with one decoding method (`plain`, `cntp`, ...).
pub struct SuiteGroup<'a> {
    pub label: String,
    pub questions: Vec<&'a TurnAnalysis>,
}

impl<'a> SuiteGroup<'a> {
    /// The turns of several runs grouped by decoding method (each run's
    /// `sampling.method`), groups in order of first appearance.
    pub fn by_method(runs: impl IntoIterator<Item = (&'a str, &'a [TurnAnalysis])>) -> Vec<Self> {
        group_by_label(
            runs.into_iter()
                .flat_map(|(label, turns)| turns.iter().map(move |t| (label, t))),
        )
        .into_iter()
        .map(|(label, questions)| SuiteGroup { label, questions })
        .collect()
    }
}

/// `None` when no question has a gold answer.
pub fn suite_figure(groups: &[SuiteGroup], params: &MethodParams) -> Option<Figure> {
    let groups: Vec<&SuiteGroup> = groups
        .iter()
        .filter(|g| g.questions.iter().any(|q| q.gold.is_some()))
        .collect();
    if groups.is_empty() {
        return None;
    }
    let g_n = groups.len() as f64;
    let golds: Vec<Vec<&TurnAnalysis>> = groups
        .iter()
        .map(|g| {
            g.questions
                .iter()
                .copied()
                .filter(|q| q.gold.is_some())
                .collect()
        })
        .collect();
    let per_group: Vec<Vec<crate::analysis::suite::SuiteMethod>> =
        golds.iter().map(|q| suite_methods(q)).collect();
    // The methods that ask the model again get a place when some group
    // was judged.
    let categories: Vec<&str> = METHODS
        .iter()
        .copied()
        .chain(
            JUDGED_METHODS
                .iter()
                .copied()
                .filter(|j| per_group.iter().flatten().any(|m| m.method == *j)),
        )
        .collect();
    let mut acc_series = Vec::new();
    let mut budget_series = Vec::new();
    let mut calibration = None;
    let mut by_n = None;
    for (gi, g) in groups.iter().enumerate() {
        let color = palette::categorical(gi);
        let with_gold = &golds[gi];
        let methods = &per_group[gi];
        let dx = (gi as f64 - (g_n - 1.0) / 2.0) * 0.7 / g_n;
        let mut points = Vec::new();
        let mut bars = Vec::new();
        for m in methods {
            // At the method's own category: a method unavailable for these
            // runs leaves its place empty.
            let Some(k) = categories.iter().position(|id| *id == m.method) else {
                continue;
            };
            let x = k as f64 + dx;
            points.push([x, m.accuracy]);
            if let Some((lo, hi)) = m.interval() {
                bars.push(([x, lo], [x, hi], 2.0));
            }
        }
        let name = format!("{} ({} questions)", g.label, with_gold.len());
        acc_series.push(Series::new(
            name.clone(),
            color,
            Mark::Points {
                points,
                radius: 4.0,
            },
        ));
        acc_series.push(Series::new(name, color, Mark::Segments { segments: bars }).unlisted());
        // Accuracy against mean tokens per question as n grows (majority),
        // and every method at the group's full N.
        let curve = accuracy_curves(with_gold, params, DEFAULT_DRAWS, DEFAULT_SEED);
        let maj: Vec<[f64; 2]> = curve
            .iter()
            .filter(|c| c.method == "majority")
            .map(|c| [c.mean_tokens, c.accuracy])
            .collect();
        budget_series.push(Series::new(
            format!("{}: majority over n paths", g.label),
            color,
            Mark::Line {
                points: maj,
                width: 2.0,
                dashed: false,
            },
        ));
        if by_n.is_none() {
            let mut c = super::build::curves_figure(&curve).charts.remove(0);
            c.title = format!(
                "Accuracy vs N, every selection method, {} (95% bands over 200 draws)",
                g.label
            );
            by_n = Some(c);
        }
        let n_max = curve.iter().map(|c| c.n).max().unwrap_or(0);
        let mut full: Vec<[f64; 2]> = curve
            .iter()
            .filter(|c| c.n == n_max)
            .map(|c| [c.mean_tokens, c.accuracy])
            .collect();
        let mut labels: Vec<([f64; 2], String)> = curve
            .iter()
            .filter(|c| c.n == n_max && c.method != "majority")
            .map(|c| ([c.mean_tokens, c.accuracy], c.method.to_owned()))
            .collect();
        // Judged methods at their full cost: sampling plus what the judge
        // read and wrote.
        for m in methods
            .iter()
            .filter(|m| JUDGED_METHODS.contains(&m.method))
        {
            let p = [
                m.tokens_total as f64 / m.n_questions.max(1) as f64,
                m.accuracy,
            ];
            full.push(p);
            labels.push((p, m.method.to_owned()));
        }
        budget_series.push(
            Series::new(
                format!("{}: each method at n = {n_max}", g.label),
                color,
                Mark::Points {
                    points: full,
                    radius: 3.5,
                },
            )
            .unlisted(),
        );
        // Method names only where few groups keep them readable.
        if groups.len() == 1 {
            budget_series.push(
                Series::new(
                    format!("{} methods", g.label),
                    color,
                    Mark::Labels { labels },
                )
                .unlisted(),
            );
        }
        if calibration.is_none() {
            let mut c = super::build::calibration_figure(methods).charts.remove(0);
            c.title = format!("Reliability diagram, {} (10 bins)", g.label);
            calibration = Some(c);
        }
    }
    let key: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| format!("{} {}", palette::categorical_name(i), g.label))
        .collect();
    let key = key.join(", ");
    let mut charts = vec![
        Chart {
            title: format!("Accuracy per selection method, 95% Wilson intervals ({key})"),
            x: Axis::new("method").categories(categories.iter().map(|m| (*m).to_owned()).collect()),
            y: Axis::new("accuracy").range(0.0, 1.0),
            series: acc_series,
        },
        Chart {
            title: format!("Accuracy vs tokens per question: majority over n paths (lines), every method at full N (dots); {key}"),
            x: Axis::new("mean tokens per question"),
            y: Axis::new("accuracy").range(0.0, 1.0),
            series: budget_series,
        },
    ];
    charts.extend(by_n);
    charts.extend(calibration);
    Some(Figure {
        id: "suite",
        title: "Suite".into(),
        charts,
        columns: 1,
    })
}
