//! The Drift view's figure: answers per turn as an alluvial chart (bands
//! between turns carry the paths that moved between answers), the KL drift
//! D_t with its fitted equilibrium, and each path's answer trajectory.

use super::model::{Axis, Chart, Figure, Mark, Rgb, Series};
use super::palette;
use crate::analysis::drift::{self, Drift};
use crate::analysis::TurnAnalysis;
use crate::run::Run;

/// Vertical extent of one answer's node when every path gives it.
const NODE_SPAN: f64 = 0.8;
/// Half width of a node bar and of the gap a band leaves beside it.
const NODE_HALF: f64 = 0.04;
/// Points per band edge.
const BAND_STEPS: usize = 24;

/// The label shown for an answer ("" is a path without a final answer).
fn answer_label(a: &str) -> String {
    if a.is_empty() {
        "(no answer)".into()
    } else {
        a.to_owned()
    }
}

/// The answers on the shared axis, most votes over all turns first.
fn answer_axis(d: &Drift) -> Vec<String> {
    let mut total: Vec<(String, usize)> = Vec::new();
    for t in &d.turns {
        for (a, n) in &t.votes {
            match total.iter_mut().find(|e| e.0 == *a) {
                Some(e) => e.1 += n,
                None => total.push((a.clone(), *n)),
            }
        }
    }
    crate::analysis::answers::axis_order(total)
}

fn turn_axis(n: usize) -> Vec<String> {
    (1..=n).map(|t| format!("turn {t}")).collect()
}

fn smoothstep(u: f64) -> f64 {
    u * u * (3.0 - 2.0 * u)
}

/// The figure, or `None` for a single-turn run (nothing drifts).
pub fn drift_figure(run: &Run, turns: &[TurnAnalysis]) -> Option<Figure> {
    if turns.len() < 2 {
        return None;
    }
    let d = drift::drift(run, turns);
    let traj = drift::trajectories(run, turns, &d);
    let axis = answer_axis(&d);
    let gold: Vec<&str> = (0..turns.len()).filter_map(|t| run.gold_for(t)).collect();
    let cat_names: Vec<String> = axis
        .iter()
        .map(|a| {
            let l = answer_label(a);
            if !a.is_empty() && gold.iter().any(|g| crate::analysis::answers::equal(a, g)) {
                format!("{l} (gold)")
            } else {
                l
            }
        })
        .collect();
    let color_of = |a: &str| -> Rgb {
        if a.is_empty() {
            palette::NEUTRAL
        } else {
            palette::categorical(axis.iter().position(|x| x == a).unwrap_or(0))
        }
    };
    let index_of = |a: &str| axis.iter().position(|x| x == a).unwrap_or(0) as f64;
    Some(Figure {
        id: "drift",
        title: format!("Drift across {} turns", turns.len()),
        charts: vec![
            alluvial_chart(&traj, &axis, &cat_names, &color_of, &index_of, turns.len()),
            kl_chart(run, &d, turns.len()),
            trajectory_chart(&traj, &axis, &color_of, turns.len()),
        ],
        columns: 1,
    })
}

/// Votes per turn on one answer axis, with bands for the paths that went
/// from each answer to each answer between consecutive turns.
fn alluvial_chart(
    traj: &[Vec<Option<String>>],
    axis: &[String],
    cat_names: &[String],
    color_of: &dyn Fn(&str) -> Rgb,
    index_of: &dyn Fn(&str) -> f64,
    n_turns: usize,
) -> Chart {
    // Node extent per (turn, answer): centred on the answer's row; the
    // largest node fills NODE_SPAN of its row.
    let count = |t: usize, a: &str| traj.iter().filter(|p| p[t].as_deref() == Some(a)).count();
    let largest = (0..n_turns)
        .flat_map(|t| axis.iter().map(move |a| (t, a)))
        .map(|(t, a)| count(t, a))
        .max()
        .unwrap_or(1)
        .max(1);
    let unit = NODE_SPAN / largest as f64;
    let node_lo = |t: usize, a: &str| index_of(a) - count(t, a) as f64 * unit / 2.0;
    let mut series: Vec<Series> = Vec::new();
    // Bands, stacked inside each node by the other end's row.
    for t in 0..n_turns - 1 {
        let mut out_used: Vec<f64> = vec![0.0; axis.len()];
        let mut in_used: Vec<f64> = vec![0.0; axis.len()];
        let mut flows: Vec<(usize, usize, usize)> = Vec::new();
        for (ai, a) in axis.iter().enumerate() {
            for (bi, b) in axis.iter().enumerate() {
                let n = traj
                    .iter()
                    .filter(|p| p[t].as_deref() == Some(a) && p[t + 1].as_deref() == Some(b))
                    .count();
                if n > 0 {
                    flows.push((ai, bi, n));
                }
            }
        }
        // Incoming stacks are ordered by source row: sort a copy for them.
        let mut in_start = vec![0.0; flows.len()];
        let mut by_src: Vec<usize> = (0..flows.len()).collect();
        by_src.sort_by_key(|&k| (flows[k].1, flows[k].0));
        for k in by_src {
            let (_, bi, n) = flows[k];
            in_start[k] = node_lo(t + 1, &axis[bi]) + in_used[bi];
            in_used[bi] += n as f64 * unit;
        }
        for (k, &(ai, bi, n)) in flows.iter().enumerate() {
            let h = n as f64 * unit;
            let src = node_lo(t, &axis[ai]) + out_used[ai];
            out_used[ai] += h;
            let dst = in_start[k];
            let (x0, x1) = (t as f64 + NODE_HALF, (t + 1) as f64 - NODE_HALF);
            let xs: Vec<f64> = (0..=BAND_STEPS)
                .map(|i| x0 + (x1 - x0) * i as f64 / BAND_STEPS as f64)
                .collect();
            let lower: Vec<f64> = (0..=BAND_STEPS)
                .map(|i| src + (dst - src) * smoothstep(i as f64 / BAND_STEPS as f64))
                .collect();
            let upper: Vec<f64> = lower.iter().map(|y| y + h).collect();
            let a = &axis[ai];
            let b = &axis[bi];
            let name = format!(
                "turn {} {} -> turn {} {}: {n} paths",
                t + 1,
                answer_label(a),
                t + 2,
                answer_label(b)
            );
            series.push(
                Series::new(
                    name,
                    color_of(a),
                    Mark::Band {
                        xs,
                        lower,
                        upper,
                        opacity: 0.35,
                    },
                )
                .unlisted(),
            );
        }
    }
    // Nodes: one thick vertical segment per (turn, answer), and its count.
    let mut labels = Vec::new();
    for (ai, a) in axis.iter().enumerate() {
        let mut segs = Vec::new();
        for t in 0..n_turns {
            let c = count(t, a);
            if c == 0 {
                continue;
            }
            let lo = node_lo(t, a);
            segs.push(([t as f64, lo], [t as f64, lo + c as f64 * unit], 7.0));
            labels.push(([t as f64 + 0.12, ai as f64 + 0.1], format!("{c}")));
        }
        if !segs.is_empty() {
            series.push(Series::new(
                cat_names[ai].clone(),
                color_of(a),
                Mark::Segments { segments: segs },
            ));
        }
    }
    series.push(Series::new("paths per answer", palette::INK, Mark::Labels { labels }).unlisted());
    Chart {
        title: "Answers per turn (bands: paths moving between answers)".into(),
        x: Axis::new("turn")
            .categories(turn_axis(n_turns))
            .range(-0.3, n_turns as f64 - 0.7),
        y: Axis::new("answer")
            .categories(cat_names.to_vec())
            .range(-0.6, axis.len().max(1) as f64 - 0.4),
        series,
    }
}

/// D_t per turn (mean kl_ref), each path's mean faintly, and the fitted
/// equilibrium D* as a horizontal line.
fn kl_chart(run: &Run, d: &Drift, n_turns: usize) -> Chart {
    let mut series = Vec::new();
    let per_path = drift::path_kl(run, n_turns);
    let faint: Vec<[f64; 2]> = per_path
        .iter()
        .flat_map(|p| {
            p.iter()
                .enumerate()
                .filter_map(|(t, k)| k.map(|k| [t as f64, k]))
        })
        .collect();
    if !faint.is_empty() {
        series.push(Series::new(
            "path mean kl_ref",
            palette::NEUTRAL,
            Mark::Points {
                points: faint,
                radius: 2.0,
            },
        ));
    }
    let dt: Vec<[f64; 2]> = d
        .turns
        .iter()
        .filter_map(|t| t.mean_kl_ref.map(|k| [t.turn as f64, k]))
        .collect();
    let kl_top = series
        .iter()
        .filter_map(|s| match &s.mark {
            Mark::Points { points, .. } => points.iter().map(|p| p[1]).reduce(f64::max),
            _ => None,
        })
        .fold(d.equilibrium.d_star.unwrap_or(0.0), f64::max)
        .max(
            d.turns
                .iter()
                .filter_map(|t| t.mean_kl_ref)
                .fold(0.0, f64::max),
        )
        .max(0.1);
    let reference = run
        .drift_reference
        .as_ref()
        .map_or("not measured".into(), |r| r.label());
    if dt.is_empty() {
        series.push(
            Series::new(
                "note",
                palette::NEUTRAL,
                Mark::Labels {
                    labels: vec![(
                        [(n_turns as f64 - 1.0) / 2.0, 0.5],
                        "not measured: sample with --drift-reference".into(),
                    )],
                },
            )
            .unlisted(),
        );
    } else {
        series.push(Series::new(
            "D_t",
            palette::ACCENT,
            Mark::Line {
                points: dt.clone(),
                width: 2.0,
                dashed: false,
            },
        ));
        series.push(
            Series::new(
                "D_t points",
                palette::ACCENT,
                Mark::Points {
                    points: dt,
                    radius: 4.0,
                },
            )
            .unlisted(),
        );
    }
    if let Some(ds) = d.equilibrium.d_star {
        series.push(Series::new(
            format!("equilibrium D* = {ds:.3}"),
            palette::REFLECT,
            Mark::HLine { y: ds },
        ));
    }
    let eq = d.equilibrium.d_star.map_or(String::new(), |v| {
        format!("; dashed: equilibrium D* = {v:.3}")
    });
    Chart {
        title: format!("KL drift D_t = mean kl_ref (reference: {reference}; dots: paths{eq})"),
        x: Axis::new("turn")
            .categories(turn_axis(n_turns))
            .range(-0.3, n_turns as f64 - 0.7),
        y: Axis::new("KL (nats)").range(0.0, kl_top * 1.15),
        series,
    }
}

/// One row per path: its answer at each turn.
fn trajectory_chart(
    traj: &[Vec<Option<String>>],
    axis: &[String],
    color_of: &dyn Fn(&str) -> Rgb,
    n_turns: usize,
) -> Chart {
    let mut series = Vec::new();
    let mut links = Vec::new();
    let mut labels = Vec::new();
    for (i, p) in traj.iter().enumerate() {
        for t in 0..n_turns.saturating_sub(1) {
            if let (Some(a), Some(b)) = (&p[t], &p[t + 1]) {
                let w = if a == b { 1.0 } else { 2.5 };
                links.push(([t as f64, i as f64], [(t + 1) as f64, i as f64], w));
            }
        }
        for (t, a) in p.iter().enumerate() {
            if let Some(a) = a {
                labels.push(([t as f64 + 0.18, i as f64 + 0.25], answer_label(a)));
            }
        }
    }
    series.push(
        Series::new(
            "path (thick: answer changed)",
            palette::NEUTRAL,
            Mark::Segments { segments: links },
        )
        .unlisted(),
    );
    for a in axis {
        let pts: Vec<[f64; 2]> = traj
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                p.iter()
                    .enumerate()
                    .filter(|(_, x)| x.as_deref() == Some(a.as_str()))
                    .map(move |(t, _)| [t as f64, i as f64])
            })
            .collect();
        if !pts.is_empty() {
            series.push(Series::new(
                answer_label(a),
                color_of(a),
                Mark::Points {
                    points: pts,
                    radius: 5.0,
                },
            ));
        }
    }
    series.push(Series::new("answer", palette::INK, Mark::Labels { labels }).unlisted());
    Chart {
        title: "Answer trajectory of each path".into(),
        x: Axis::new("turn")
            .categories(turn_axis(n_turns))
            .range(-0.3, n_turns as f64 - 0.4),
        y: Axis::new("path")
            .categories((0..traj.len()).map(|i| format!("path {i}")).collect())
            .range(-0.6, traj.len() as f64 - 0.4),
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyze_run, AnalysisParams};
    use crate::run::{run_with_paths, Message};

    fn turn(text: &str) -> crate::run::Turn {
        crate::run::one_token_turn(text)
    }

    #[test]
    fn bands_carry_every_path_and_nodes_count_votes() {
        // 3 paths: 8→8, 8→7, 7→7.
        let answers = [["8", "8"], ["8", "7"], ["7", "7"]];
        let paths = answers
            .iter()
            .map(|a| {
                a.iter()
                    .map(|x| turn(&format!("The answer is {x}.")))
                    .collect()
            })
            .collect();
        let mut run = run_with_paths("q", None, 1, paths);
        run.conversation = Message::users(&["q", "sure?"]);
        let turns = analyze_run(&run, &AnalysisParams::default());
        let fig = drift_figure(&run, &turns).expect("two turns");
        let alluvial = &fig.charts[0];
        let bands: Vec<&Series> = alluvial
            .series
            .iter()
            .filter(|s| matches!(s.mark, Mark::Band { .. }))
            .collect();
        assert_eq!(bands.len(), 3, "8→8, 8→7, 7→7");
        // The largest node (answer 7 in turn 2, 2 paths) fills NODE_SPAN.
        let unit = NODE_SPAN / 2.0;
        let total: f64 = bands
            .iter()
            .map(|s| match &s.mark {
                Mark::Band { lower, upper, .. } => upper[0] - lower[0],
                _ => 0.0,
            })
            .sum();
        assert!((total - 3.0 * unit).abs() < 1e-9);
        // Turn 2 has answer 7 twice: its node spans 2 units.
        let seven = alluvial
            .series
            .iter()
            .find(|s| s.name == "7")
            .expect("a node series for 7");
        let Mark::Segments { segments } = &seven.mark else {
            panic!("nodes are segments")
        };
        let t2 = segments.iter().find(|s| s.0[0] == 1.0).unwrap();
        assert!(((t2.1[1] - t2.0[1]) - 2.0 * unit).abs() < 1e-9);
        // Single-turn runs have no drift figure.
        assert!(drift_figure(&run, &turns[..1]).is_none());
    }
}
