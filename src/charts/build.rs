//! Chart descriptions built from analysis results: one function per view.

use super::model::{decimate, Axis, Chart, Figure, Mark, Rgb, Series};
use super::palette;
use crate::analysis::branches::{self, TreeNode, TriePath};
use crate::analysis::curves::CurvePoint;
use crate::analysis::methods::lower_is_better;
use crate::analysis::scores::window_means;
use crate::analysis::suite::SuiteMethod;
use crate::analysis::TurnAnalysis;
use crate::run::Run;

/// Longest polyline drawn or exported (min/max decimation keeps spikes).
pub const MAX_LINE_POINTS: usize = 1200;

/// The turn's answers in axis order (`answers::axis_order`): numbers
/// ascending, then other answers by the paths that gave them.
pub fn answer_axis(t: &TurnAnalysis) -> Vec<String> {
    crate::analysis::answers::axis_order(answer_counts(t))
}

/// Where the gold answer is on an answer axis, when it is there.
pub fn gold_category(t: &TurnAnalysis, axis: &[String]) -> Option<usize> {
    let gold = t.gold.as_deref()?;
    axis.iter()
        .position(|a| crate::analysis::answers::is_correct(Some(a), gold))
}

/// Each answer of the turn and how many paths gave it.
pub fn answer_counts(t: &TurnAnalysis) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = t.answers.iter().map(|a| (a.clone(), 0)).collect();
    for cand in &t.candidates {
        if let Some(c) = cand.class {
            counts[c].1 += 1;
        }
    }
    counts
}

/// Methods view: each method's vote distribution as shares on one shared
/// answer axis (small multiples), the chosen answer coloured by correctness.
pub fn methods_figure(t: &TurnAnalysis) -> Figure {
    methods_figure_on(t, &answer_axis(t))
}

/// The same on a given answer axis (shared by several runs in Compare).
pub fn methods_figure_on(t: &TurnAnalysis, axis: &[String]) -> Figure {
    let axis = axis.to_vec();
    let gold = gold_category(t, &axis);
    // A method the run cannot compute draws no chart (the table says why).
    let charts = t
        .methods
        .iter()
        .filter(|m| m.unavailable.is_none())
        .map(|m| {
            // Larger bar = preferred: shortest ranks by 1/tokens.
            let vals: Vec<(usize, f64)> = m
                .votes
                .iter()
                .filter_map(|(a, v)| {
                    let x = axis.iter().position(|c| c == a)?;
                    let v = if lower_is_better(m.method) {
                        1.0 / v.max(1.0)
                    } else {
                        *v
                    };
                    Some((x, v.max(0.0)))
                })
                .collect();
            let total: f64 = vals.iter().map(|v| v.1).sum();
            let share = |v: f64| if total > 0.0 { v / total } else { 0.0 };
            let chosen = m
                .answer
                .as_ref()
                .and_then(|a| axis.iter().position(|c| c == a));
            let others: Vec<[f64; 2]> = vals
                .iter()
                .filter(|v| Some(v.0) != chosen)
                .map(|v| [v.0 as f64, share(v.1)])
                .collect();
            let picked: Vec<[f64; 2]> = vals
                .iter()
                .filter(|v| Some(v.0) == chosen)
                .map(|v| [v.0 as f64, share(v.1)])
                .collect();
            let verdict = match m.correct {
                Some(true) => "right",
                Some(false) => "wrong",
                None => "",
            };
            // The bars are each answer's share of the method's score; the
            // method's confidence is its own quantity (methods.md), named as
            // such so that the two are not read as one.
            let title = format!(
                "{}: {}{}{}",
                m.method,
                m.answer.as_deref().unwrap_or("none"),
                if verdict.is_empty() {
                    String::new()
                } else {
                    format!(", {verdict}")
                },
                m.confidence
                    .map(|c| format!(" · confidence {c:.2}"))
                    .unwrap_or_default(),
            );
            Chart {
                title,
                x: Axis::new("answer").categories(axis.clone()).key(gold),
                y: Axis::new("score share").range(0.0, 1.0),
                series: vec![
                    Series::new(
                        "other answers",
                        palette::NEUTRAL,
                        Mark::Bars {
                            bars: others,
                            width: 0.7,
                        },
                    ),
                    Series::new(
                        "chosen",
                        palette::verdict(m.correct),
                        Mark::Bars {
                            bars: picked,
                            width: 0.7,
                        },
                    ),
                ],
            }
        })
        .collect();
    Figure {
        id: "methods",
        title: format!("Selection methods, turn {}", t.turn + 1),
        charts,
        columns: 5,
    }
}

/// Which methods pick the same answer: (method ids, agree[i][j]).
pub fn agreement(t: &TurnAnalysis) -> (Vec<&'static str>, Vec<Vec<bool>>) {
    let avail: Vec<_> = t
        .methods
        .iter()
        .filter(|m| m.unavailable.is_none())
        .collect();
    let ids: Vec<&'static str> = avail.iter().map(|m| m.method).collect();
    let m = avail
        .iter()
        .map(|a| {
            avail
                .iter()
                .map(|b| a.answer.is_some() && a.answer == b.answer)
                .collect()
        })
        .collect();
    (ids, m)
}

/// The agreement matrix as a chart (one marker per pair).
pub fn agreement_chart(t: &TurnAnalysis) -> Chart {
    let (ids, m) = agreement(t);
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for (i, row) in m.iter().enumerate() {
        for (j, &same) in row.iter().enumerate() {
            let p = [j as f64, (ids.len() - 1 - i) as f64];
            if same {
                yes.push(p);
            } else {
                no.push(p);
            }
        }
    }
    let names: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    let mut rev = names.clone();
    rev.reverse();
    Chart {
        title: "Method agreement (same answer)".into(),
        x: Axis::new("").categories(names),
        y: Axis::new("")
            .categories(rev)
            .range(-0.5, ids.len() as f64 - 0.5),
        series: vec![
            Series::new(
                "agree",
                palette::RIGHT,
                Mark::Points {
                    points: yes,
                    radius: 7.0,
                },
            ),
            Series::new(
                "disagree",
                palette::NEUTRAL,
                Mark::Points {
                    points: no,
                    radius: 3.0,
                },
            ),
        ],
    }
}

/// Entropy view: per-token entropy of the chosen paths (with SRGen's
/// uncertain points) and DeepConf's sliding-window confidence.
pub fn entropy_figure(
    run: &Run,
    t: &TurnAnalysis,
    paths: &[usize],
    normalized: bool,
    window: usize,
    selected: Option<(usize, usize)>,
) -> Figure {
    let mut ent = Vec::new();
    let mut conf = Vec::new();
    // The selected token's path is drawn on top, thicker; the others fade.
    let focus = selected.map(|s| s.0).filter(|p| paths.contains(p));
    let (mut top_ent, mut top_conf) = (Vec::new(), Vec::new());
    // The band behind every path, its median over them.
    let mut band = if normalized {
        Vec::new()
    } else {
        quantile_band(run, t.turn, paths)
    };
    let median = band.pop();
    ent.append(&mut band);
    for (k, &pi) in paths.iter().enumerate() {
        let Some(pa) = t.paths.iter().find(|p| p.index == pi) else {
            continue;
        };
        let Some(turn) = run.paths.get(pi).and_then(|p| p.turns.get(t.turn)) else {
            continue;
        };
        let n = turn.tokens.len();
        if n == 0 {
            continue;
        }
        let x = |i: usize| {
            if normalized {
                i as f64 / n.max(1) as f64
            } else {
                i as f64
            }
        };
        let color = palette::categorical(k);
        let focused = focus == Some(pi);
        let dim = |s: Series| {
            if focus.is_some() && !focused {
                s.faded(0.22)
            } else {
                s
            }
        };
        let line_width = if focused { 2.4 } else { 1.2 };
        let (ent, conf) = if focused {
            (&mut top_ent, &mut top_conf)
        } else {
            (&mut ent, &mut conf)
        };
        let pts: Vec<[f64; 2]> = turn
            .tokens
            .entropy
            .iter()
            .enumerate()
            .map(|(i, &h)| [x(i), f64::from(h)])
            .collect();
        let label = format!(
            "path {pi} ({})",
            pa.answer.as_deref().unwrap_or("no answer")
        );
        ent.push(dim(Series::new(
            label.clone(),
            color,
            Mark::Line {
                points: decimate(&pts, MAX_LINE_POINTS),
                width: line_width,
                dashed: false,
            },
        )));
        // The dynamic threshold itself, where few enough paths keep it readable.
        if paths.len() <= 4 {
            let thr: Vec<[f64; 2]> =
                crate::analysis::scores::srgen_thresholds(&turn.tokens.entropy)
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| [x(i), v])
                    .collect();
            ent.push(dim(Series::new(
                format!("SRGen threshold, path {pi}"),
                color,
                Mark::Line {
                    points: decimate(&thr, MAX_LINE_POINTS),
                    width: 1.0,
                    dashed: true,
                },
            )));
        }
        if let Some((_, st)) = selected.filter(|s| s.0 == pi && s.1 < n) {
            ent.push(Series::new(
                format!("selected token {st}"),
                Rgb(20, 20, 20),
                Mark::Points {
                    points: vec![pts[st]],
                    radius: 6.0,
                },
            ));
        }
        let unc: Vec<[f64; 2]> = crate::analysis::scores::uncertain_points(&turn.tokens.entropy)
            .into_iter()
            .map(|i| pts[i])
            .collect();
        if !unc.is_empty() {
            ent.push(dim(Series::new(
                format!("uncertain, path {pi}"),
                color,
                Mark::Points {
                    points: unc,
                    radius: 3.0,
                },
            )
            .unlisted()));
        }
        let w = window.max(1);
        let means = window_means(&turn.tokens.confidence, w);
        // A trace shorter than w has one group: the whole-trace mean, drawn flat.
        let cp: Vec<[f64; 2]> = if n < w {
            vec![[x(0), means[0]], [x(n - 1), means[0]]]
        } else {
            means
                .iter()
                .enumerate()
                .map(|(i, &m)| [x(i + w - 1), m])
                .collect()
        };
        conf.push(dim(Series::new(
            label,
            color,
            Mark::Line {
                points: decimate(&cp, MAX_LINE_POINTS),
                width: line_width,
                dashed: false,
            },
        )));
    }
    ent.extend(median);
    // The focused path last: drawn over the others.
    ent.append(&mut top_ent);
    conf.append(&mut top_conf);
    let xl = if normalized {
        "position in the path (0–1)"
    } else {
        "token"
    };
    Figure {
        id: "entropy",
        title: format!("Entropy, turn {}", t.turn + 1),
        charts: vec![
            Chart {
                // A top-k run stores the entropy's lower bound: say so.
                title: if run.tokens_have_entropy_bounds() {
                    "Entropy per token, lower bound from the top-k logprobs (dots: SRGen uncertain points on it)".into()
                } else {
                    "Entropy per token (dots: SRGen uncertain points)".into()
                },
                x: Axis::new(xl),
                y: Axis::new(if run.tokens_have_entropy_bounds() {
                    "entropy ≥ (nats)"
                } else {
                    "entropy (nats)"
                }),
                series: ent,
            },
            Chart {
                title: {
                    // Paths shorter than the window have one group each:
                    // flat lines, which the title explains.
                    let longest = paths
                        .iter()
                        .filter_map(|&p| run.paths.get(p)?.turns.get(t.turn))
                        .map(|tt| tt.tokens.len())
                        .max()
                        .unwrap_or(0);
                    if longest > 0 && longest < window {
                        format!(
                            "DeepConf window confidence (w = {window} > the longest path, {longest} tokens: each line is its path's mean; set a smaller window to see it move)"
                        )
                    } else {
                        format!("DeepConf window confidence (w = {window})")
                    }
                },
                x: Axis::new(xl),
                y: Axis::new("mean confidence"),
                series: conf,
            },
        ],
        columns: 1,
    }
}

/// Where most paths' entropy lies, token by token: the band between the
/// 25th and 75th percentile (linear interpolation) over the paths still
/// generating at that token, and their median; drawn behind the paths,
/// where at least 4 paths are shown and at least 3 reach the token.
fn quantile_band(run: &Run, turn: usize, paths: &[usize]) -> Vec<Series> {
    if paths.len() < 4 {
        return Vec::new();
    }
    let cols: Vec<&[f32]> = paths
        .iter()
        .filter_map(|&p| run.paths.get(p)?.turns.get(turn))
        .map(|t| &t.tokens.entropy[..])
        .collect();
    let longest = cols.iter().map(|c| c.len()).max().unwrap_or(0);
    let (mut xs, mut lo, mut mid, mut hi) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut at = Vec::with_capacity(cols.len());
    for i in 0..longest {
        at.clear();
        at.extend(cols.iter().filter_map(|c| c.get(i)).map(|&h| f64::from(h)));
        if at.len() < 3 {
            break;
        }
        at.sort_by(f64::total_cmp);
        xs.push(i as f64);
        lo.push(crate::analysis::scores::percentile_sorted(&at, 0.25));
        mid.push([
            i as f64,
            crate::analysis::scores::percentile_sorted(&at, 0.5),
        ]);
        hi.push(crate::analysis::scores::percentile_sorted(&at, 0.75));
    }
    if xs.is_empty() {
        return Vec::new();
    }
    let grey = Rgb(140, 140, 150);
    vec![
        Series::new(
            "middle 50% of paths",
            grey,
            Mark::Band {
                xs,
                lower: lo,
                upper: hi,
                opacity: 0.35,
            },
        ),
        Series::new(
            "median of paths",
            grey,
            Mark::Line {
                points: decimate(&mid, MAX_LINE_POINTS),
                width: 2.0,
                dashed: true,
            },
        ),
    ]
}

/// The trie nodes of a turn (for the Branches view).
pub fn turn_tree(run: &Run, t: &TurnAnalysis) -> Vec<TreeNode> {
    let trie: Vec<TriePath> = t
        .paths
        .iter()
        .filter_map(|pa| {
            let tt = run.paths.get(pa.index)?.turns.get(t.turn)?;
            Some(TriePath {
                ids: &tt.tokens.id,
                texts: &tt.tokens.text,
                entropy: &tt.tokens.entropy,
                answer: pa.answer.clone(),
            })
        })
        .collect();
    branches::tree(&trie)
}

/// Vertical position of every tree node: leaves in depth-first order, parents
/// at the mean of their children.
pub fn tree_layout(nodes: &[TreeNode]) -> Vec<f64> {
    fn place(nodes: &[TreeNode], i: usize, next: &mut f64, y: &mut [f64]) {
        if nodes[i].children.is_empty() {
            y[i] = *next;
            *next += 1.0;
        } else {
            for &c in &nodes[i].children {
                place(nodes, c, next, y);
            }
            y[i] = nodes[i].children.iter().map(|&c| y[c]).sum::<f64>()
                / nodes[i].children.len() as f64;
        }
    }
    let mut y = vec![0.0; nodes.len()];
    if !nodes.is_empty() {
        place(nodes, 0, &mut 0.0, &mut y);
    }
    y
}

/// Branches view: the collapsed token trie; edge width ∝ paths, colour =
/// the dominant answer below (green/red with gold), decisive forks labelled.
/// The Branches chart's x axis: forks sit at whole numbers in token order
/// and the chains between them are compressed linearly, so that forks in
/// the first tokens of long paths do not crowd into a sliver; after the
/// last fork the paths run to x = forks + 1.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenAxis {
    forks: Vec<usize>,
    max: usize,
}

impl TokenAxis {
    pub fn new(nodes: &[crate::analysis::branches::TreeNode]) -> Self {
        let mut forks: Vec<usize> = nodes
            .iter()
            .filter(|n| n.children.len() >= 2)
            .map(|n| n.end)
            .collect();
        forks.push(0);
        forks.sort_unstable();
        forks.dedup();
        let max = nodes.iter().map(|n| n.end).max().unwrap_or(0);
        TokenAxis { forks, max }
    }

    /// x of token position `pos`.
    pub fn x(&self, pos: usize) -> f64 {
        let k = self.forks.partition_point(|&f| f <= pos);
        let i = k.saturating_sub(1);
        let lo = self.forks[i];
        let hi = self
            .forks
            .get(i + 1)
            .copied()
            .unwrap_or(self.max.max(lo + 1));
        i as f64 + (pos.saturating_sub(lo)) as f64 / (hi - lo).max(1) as f64
    }

    /// Tick labels: the token position of each fork, then the end.
    pub fn labels(&self) -> Vec<String> {
        let mut l: Vec<String> = self.forks.iter().map(|f| f.to_string()).collect();
        l.push(format!("{} (end)", self.max));
        l
    }
}

pub fn branches_figure(run: &Run, t: &TurnAnalysis) -> Figure {
    let nodes = turn_tree(run, t);
    let y = tree_layout(&nodes);
    let ax = TokenAxis::new(&nodes);
    let axis = answer_axis(t);
    let total = t.paths.len().max(1) as f32;
    type Segments = Vec<([f64; 2], [f64; 2], f32)>;
    let mut by_color: Vec<(Rgb, String, Segments)> = Vec::new();
    let mut labels = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let top = n
            .answers
            .iter()
            .max_by_key(|a| a.1)
            .map(|a| a.0.clone())
            .unwrap_or_default();
        let (color, name) = if top.is_empty() {
            (palette::NEUTRAL, "no answer".to_owned())
        } else if let Some(g) = t.gold.as_deref() {
            let ok = crate::analysis::answers::is_correct(Some(&top), g);
            (
                palette::verdict(Some(ok)),
                // The most common answer below the node, not most paths:
                // 2 right of 9 can lead when the other 7 split.
                if ok {
                    "leading answer right".into()
                } else {
                    "leading answer wrong".into()
                },
            )
        } else {
            let k = axis.iter().position(|a| *a == top).unwrap_or(0);
            (palette::categorical(k), format!("leading answer {top}"))
        };
        let width = 1.0 + 7.0 * n.paths.len() as f32 / total;
        let mut segs = vec![(
            [ax.x(n.start), y[i]],
            [ax.x(n.end.max(n.start)), y[i]],
            width,
        )];
        for &c in &n.children {
            segs.push((
                [ax.x(n.end), y[i]],
                [ax.x(nodes[c].start), y[c]],
                1.0 + 7.0 * nodes[c].paths.len() as f32 / total,
            ));
        }
        match by_color.iter_mut().find(|e| e.0 == color) {
            Some(e) => e.2.extend(segs),
            None => by_color.push((color, name, segs)),
        }
        if n.children.len() >= 2 {
            if let Some(f) = t
                .forks
                .iter()
                .take(3)
                .find(|f| f.position == n.end && f.n_paths == n.paths.len())
            {
                labels.push((
                    [ax.x(n.end), y[i] + 0.35],
                    format!("JSD {:.2}", f.decisiveness),
                ));
            }
        }
    }
    let mut series: Vec<Series> = by_color
        .into_iter()
        .map(|(c, name, segs)| Series::new(name, c, Mark::Segments { segments: segs }))
        .collect();
    let forks: Vec<[f64; 2]> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.children.len() >= 2)
        .map(|(i, n)| [ax.x(n.end), y[i]])
        .collect();
    series.push(Series::new(
        "fork",
        palette::MARK,
        Mark::Points {
            points: forks,
            radius: 3.0,
        },
    ));
    if !labels.is_empty() {
        series.push(
            Series::new("most decisive forks", palette::INK, Mark::Labels { labels }).unlisted(),
        );
    }
    Figure {
        id: "branches",
        title: format!("Branches, turn {}", t.turn + 1),
        charts: vec![Chart {
            title: format!(
                "Token trie of {} paths ({} forks)",
                t.paths.len(),
                t.forks.len()
            ),
            x: Axis::new("token at each fork (the chains between forks compressed)")
                .categories(ax.labels()),
            y: Axis::new("paths (stacked by branch)"),
            series,
        }],
        columns: 1,
    }
}

/// Reflection view: one row per path, forward reasoning vs reflection, with
/// candidate answers (confirmatory / corrective) marked and labelled.
pub fn reflection_figure(t: &TurnAnalysis) -> Figure {
    let mut fwd = Vec::new();
    let mut refl = Vec::new();
    let (mut first, mut confirm, mut correct) = (Vec::new(), Vec::new(), Vec::new());
    let mut labels = Vec::new();
    let n_rows = t.paths.len();
    let mut names = Vec::new();
    for (row, p) in t.paths.iter().enumerate() {
        let y = (n_rows - 1 - row) as f64;
        names.push(match p.reflection.share {
            Some(s) => format!("path {} ({:.0}%)", p.index, s * 100.0),
            None => format!("path {} (n/a)", p.index),
        });
        let n = p.scores.n_tokens as f64;
        match p.reflection.first_candidate_token {
            Some(f) => {
                fwd.push(([0.0, y], [f as f64 + 1.0, y], 6.0));
                refl.push(([f as f64 + 1.0, y], [n, y], 6.0));
            }
            None => fwd.push(([0.0, y], [n, y], 6.0)),
        }
        for (k, c) in p.reflection.candidates.iter().enumerate() {
            let pt = [c.token as f64 + 1.0, y];
            if k == 0 {
                first.push(pt);
            } else if crate::analysis::answers::equal(
                &p.reflection.candidates[k - 1].answer,
                &c.answer,
            ) {
                confirm.push(pt);
            } else {
                correct.push(pt);
            }
            labels.push(([pt[0], y + 0.3], c.answer.clone()));
        }
    }
    names.reverse();
    let series = vec![
        Series::new(
            "forward reasoning",
            palette::FORWARD,
            Mark::Segments { segments: fwd },
        ),
        Series::new(
            "reflection",
            palette::REFLECT,
            Mark::Segments { segments: refl },
        ),
        Series::new(
            "first candidate",
            palette::MARK,
            Mark::Points {
                points: first,
                radius: 4.0,
            },
        ),
        Series::new(
            "confirmatory",
            palette::RIGHT,
            Mark::Points {
                points: confirm,
                radius: 4.0,
            },
        ),
        Series::new(
            "corrective",
            palette::WRONG,
            Mark::Points {
                points: correct,
                radius: 4.0,
            },
        ),
        Series::new("candidate answers", palette::INK, Mark::Labels { labels }).unlisted(),
    ];
    Figure {
        id: "reflection",
        title: format!("Reflection, turn {}", t.turn + 1),
        charts: vec![Chart {
            title: "Forward reasoning vs reflection (row label: reflection share)".into(),
            x: Axis::new("token"),
            y: Axis::new("")
                .categories(names)
                .range(-0.5, n_rows as f64 - 0.5),
            series,
        }],
        columns: 1,
    }
}

/// Curves view: accuracy vs N and vs mean tokens, every method, with 95% bands.
pub fn curves_figure(points: &[CurvePoint]) -> Figure {
    let mut by_n = Vec::new();
    let mut by_tokens = Vec::new();
    for (k, m) in crate::analysis::METHODS.iter().enumerate() {
        let pts: Vec<&CurvePoint> = points.iter().filter(|p| p.method == *m).collect();
        if pts.is_empty() {
            continue;
        }
        let c = palette::categorical(k);
        by_n.push(
            Series::new(
                format!("{m} 95%"),
                c,
                Mark::Band {
                    xs: pts.iter().map(|p| p.n as f64).collect(),
                    lower: pts.iter().map(|p| p.low).collect(),
                    upper: pts.iter().map(|p| p.high).collect(),
                    opacity: 0.16,
                },
            )
            .unlisted(),
        );
        by_n.push(Series::new(
            *m,
            c,
            Mark::Line {
                points: pts.iter().map(|p| [p.n as f64, p.accuracy]).collect(),
                width: 1.5,
                dashed: false,
            },
        ));
        by_tokens.push(Series::new(
            *m,
            c,
            Mark::Line {
                points: pts.iter().map(|p| [p.mean_tokens, p.accuracy]).collect(),
                width: 1.5,
                dashed: false,
            },
        ));
    }
    Figure {
        id: "curves",
        title: "Accuracy vs samples and tokens".into(),
        charts: vec![
            Chart {
                title: "Accuracy vs N (B = 200 subsets, 95% band)".into(),
                x: Axis::new("paths sampled (N)"),
                y: Axis::new("accuracy").range(0.0, 1.0),
                series: by_n,
            },
            Chart {
                title: "Accuracy vs tokens spent".into(),
                x: Axis::new("mean tokens per question"),
                y: Axis::new("accuracy").range(0.0, 1.0),
                series: by_tokens,
            },
        ],
        columns: 2,
    }
}

/// Reliability diagram of every method with a confidence.
pub fn calibration_figure(methods: &[SuiteMethod]) -> Figure {
    let mut series = vec![Series::new(
        "perfect calibration",
        palette::NEUTRAL,
        Mark::Line {
            points: vec![[0.0, 0.0], [1.0, 1.0]],
            width: 1.0,
            dashed: true,
        },
    )];
    for (k, m) in methods.iter().enumerate() {
        let Some(bins) = &m.reliability else { continue };
        let pts: Vec<[f64; 2]> = bins
            .iter()
            .filter_map(|b| Some([b.mean_confidence?, b.accuracy?]))
            .collect();
        let name = format!(
            "{} (ECE {})",
            m.method,
            m.ece.map_or("-".into(), |e| format!("{e:.3}"))
        );
        let c = palette::categorical(k);
        series.push(Series::new(
            name.clone(),
            c,
            Mark::Line {
                points: pts.clone(),
                width: 1.5,
                dashed: false,
            },
        ));
        series.push(
            Series::new(
                name,
                c,
                Mark::Points {
                    points: pts,
                    radius: 3.0,
                },
            )
            .unlisted(),
        );
        // P(True) as its paper reports it: every judged answer, not only
        // the picked one (dashed, in the method's colour).
        if let Some(a) = &m.answer_calibration {
            let pts: Vec<[f64; 2]> = a
                .reliability
                .iter()
                .filter_map(|b| Some([b.mean_confidence?, b.accuracy?]))
                .collect();
            series.push(Series::new(
                format!(
                    "{}, every judged answer (ECE {})",
                    m.method,
                    a.ece.map_or("-".into(), |e| format!("{e:.3}"))
                ),
                c,
                Mark::Line {
                    points: pts,
                    width: 1.5,
                    dashed: true,
                },
            ));
        }
    }
    Figure {
        id: "calibration",
        title: "Calibration".into(),
        charts: vec![Chart {
            title: "Reliability diagram (10 bins)".into(),
            x: Axis::new("confidence").range(0.0, 1.0),
            y: Axis::new("accuracy").range(0.0, 1.0),
            series,
        }],
        columns: 1,
    }
}

/// Which figure to build, with the view settings that shape it.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureRequest {
    /// One of `FIGURE_IDS`.
    pub id: String,
    pub turn: usize,
    /// Paths of the entropy figure (None: all).
    pub paths: Option<Vec<usize>>,
    /// The selected (path, token), marked where a figure shows that token.
    pub selected: Option<(usize, usize)>,
    pub normalized_x: bool,
    pub params: crate::analysis::MethodParams,
}

pub const FIGURE_IDS: [&str; 8] = [
    "methods",
    "agreement",
    "entropy",
    "branches",
    "reflection",
    "curves",
    "calibration",
    "drift",
];

/// The one place that turns a request into a figure: the GUI's views, its
/// exports and `reasonscope export` all call it.
/// Why a run has no entropy or confidence to draw (a text-only import),
/// said instead of an empty chart.
pub fn entropy_unavailable(run: &Run) -> Option<String> {
    (run.stats_source().source == crate::run::Source::Text).then(|| {
        format!(
            "Entropy and DeepConf confidence are unavailable: this run holds text only{} (no logprobs). \
             Answers, votes, branch points and reflection steps are in the other views.",
            run.import
                .as_ref()
                .map(|i| format!(", imported from a {} file", i.from))
                .unwrap_or_default()
        )
    })
}

pub fn figure_for(
    req: &FigureRequest,
    run: &Run,
    turns: &[TurnAnalysis],
    suite: &[&TurnAnalysis],
) -> Option<Figure> {
    let t = turns.get(req.turn)?;
    Some(match req.id.as_str() {
        "methods" => methods_figure(t),
        "agreement" => Figure {
            id: "methods",
            title: "Method agreement".into(),
            charts: vec![agreement_chart(t)],
            columns: 1,
        },
        "entropy" if entropy_unavailable(run).is_some() => return None,
        "entropy" => {
            let paths: Vec<usize> = req
                .paths
                .clone()
                .unwrap_or_else(|| t.paths.iter().map(|p| p.index).collect());
            entropy_figure(
                run,
                t,
                &paths,
                req.normalized_x,
                req.params.window,
                req.selected,
            )
        }
        "branches" => branches_figure(run, t),
        "reflection" => reflection_figure(t),
        "drift" => super::drift::drift_figure(run, turns)?,
        "curves" => {
            t.gold.as_ref()?;
            let pts = crate::analysis::curves::accuracy_curves(
                &[t],
                &req.params,
                crate::analysis::curves::DEFAULT_DRAWS,
                crate::analysis::curves::DEFAULT_SEED,
            );
            curves_figure(&pts)
        }
        "calibration" => {
            let with_gold: Vec<&TurnAnalysis> =
                suite.iter().copied().filter(|t| t.gold.is_some()).collect();
            if with_gold.is_empty() {
                return None;
            }
            calibration_figure(&crate::analysis::suite::suite_methods(&with_gold))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_branches_axis_spreads_early_forks_and_keeps_token_order() {
        let run = crate::run::synthetic_run(8, 120, 5);
        let t = &crate::analysis::analyze_run(&run, &crate::analysis::AnalysisParams::default())[0];
        let nodes = turn_tree(&run, t);
        let ax = TokenAxis::new(&nodes);
        // Monotone in the token position; every fork on a whole number.
        let xs: Vec<f64> = (0..=120).map(|p| ax.x(p)).collect();
        assert!(xs.windows(2).all(|w| w[0] <= w[1]));
        for (i, f) in ax.forks.iter().enumerate() {
            assert_eq!(ax.x(*f), i as f64);
        }
        // The synthetic paths share their first 30 tokens and fork after
        // them: the shared chain takes one unit, not a quarter of the axis.
        assert!(ax.forks.len() >= 2);
        assert_eq!(ax.x(ax.forks[1]), 1.0);
        assert_eq!(ax.labels().len(), ax.forks.len() + 1);
    }

    #[test]
    fn the_selected_path_is_drawn_on_top_and_the_others_fade() {
        let run = crate::run::synthetic_run(6, 80, 9);
        let turns = crate::analysis::analyze_run(&run, &crate::analysis::AnalysisParams::default());
        let all: Vec<usize> = (0..6).collect();
        let fig = entropy_figure(&run, &turns[0], &all, false, 16, Some((3, 10)));
        let ent = &fig.charts[0].series;
        // Behind the paths: the middle-50% band of the 6 paths.
        assert_eq!(ent[0].name, "middle 50% of paths");
        let lines: Vec<&Series> = ent.iter().filter(|s| s.name.starts_with("path ")).collect();
        assert_eq!(lines.len(), 6);
        let last = lines.last().unwrap();
        assert!(last.name.starts_with("path 3 "), "{}", last.name);
        assert_eq!(last.opacity, 1.0);
        assert!(lines[..5].iter().all(|s| s.opacity < 0.5));
        // The band holds the 25th-75th percentile of the paths at token 0.
        let Mark::Band { lower, upper, .. } = &ent[0].mark else {
            panic!("not a band")
        };
        let mut at0: Vec<f64> = (0..6)
            .map(|p| f64::from(run.paths[p].turns[0].tokens.entropy[0]))
            .collect();
        at0.sort_by(f64::total_cmp);
        assert_eq!(
            lower[0],
            crate::analysis::scores::percentile_sorted(&at0, 0.25)
        );
        assert_eq!(
            upper[0],
            crate::analysis::scores::percentile_sorted(&at0, 0.75)
        );
        // No selection: nothing fades.
        let fig = entropy_figure(&run, &turns[0], &all, false, 16, None);
        assert!(fig.charts[0].series.iter().all(|s| s.opacity == 1.0));
    }

    #[test]
    fn flat_confidence_lines_are_explained() {
        let run = crate::run::synthetic_run(4, 200, 3);
        let turns = crate::analysis::analyze_run(&run, &crate::analysis::AnalysisParams::default());
        let title = |w| {
            entropy_figure(&run, &turns[0], &[0, 1], false, w, None).charts[1]
                .title
                .clone()
        };
        assert!(title(2048).contains("> the longest path, 200 tokens"));
        assert_eq!(title(64), "DeepConf window confidence (w = 64)");
    }
}
