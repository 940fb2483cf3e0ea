use eframe::egui;

use super::fmt_opt;
use crate::charts::{answer_counts, methods_figure_on, palette, Axis, Chart, Mark, Series};
use crate::ui::context::ViewerContext;
use crate::ui::{plot, theme};

/// Histogram of every token's entropy in a run (shares per bin).
fn entropy_hist(run: &crate::run::Run, turn: usize, bins: usize, max: f64) -> Vec<[f64; 2]> {
    let mut counts = vec![0usize; bins];
    let mut total = 0usize;
    for p in &run.paths {
        if let Some(t) = p.turns.get(turn) {
            for &h in &t.tokens.entropy {
                let b = ((f64::from(h) / max) * bins as f64)
                    .floor()
                    .clamp(0.0, bins as f64 - 1.0) as usize;
                counts[b] += 1;
                total += 1;
            }
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            [
                (i as f64 + 0.5) * max / bins as f64,
                c as f64 / total.max(1) as f64,
            ]
        })
        .collect()
}

pub fn compare_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    ui.heading("Compare runs");
    if cx.runs.len() < 2 {
        ui.label("Open a second run (File > Open) to compare two runs side by side, e.g. two temperatures or two models.");
        return;
    }
    let a = cx.active;
    ui.horizontal(|ui| {
        let l = ui.label(format!("{}  vs", cx.runs[a].name));
        egui::ComboBox::from_id_salt("compare-with")
            .selected_text(cx.runs[cx.selection.compare_with].name.clone())
            .show_ui(ui, |ui| {
                for (i, r) in cx.runs.iter().enumerate() {
                    ui.selectable_value(&mut cx.selection.compare_with, i, r.name.clone());
                }
            })
            .response
            .labelled_by(l.id);
    });
    let b = cx.selection.compare_with;
    let turn = cx.turn;
    // One answer axis for both runs' vote charts.
    let mut counts: Vec<(String, usize)> = Vec::new();
    for i in [a, b] {
        if let Some(t) = cx.runs[i].turns.get(turn) {
            for (ans, n) in answer_counts(t) {
                match counts.iter_mut().find(|c| c.0 == ans) {
                    Some(c) => c.1 += n,
                    None => counts.push((ans, n)),
                }
            }
        }
    }
    let shared_axis = crate::analysis::answers::axis_order(counts);
    egui::ScrollArea::vertical()
        .id_salt(("view-scroll", "compare"))
        .show(ui, |ui| {
            ui.columns(2, |cols| {
                for (col, idx) in cols.iter_mut().zip([a, b]) {
                    let r = &cx.runs[idx];
                    col.strong(format!(
                        "{} · {} · T = {} · {} paths",
                        r.name,
                        r.run.model.name,
                        r.run.sampling.temperature,
                        r.run.paths.len()
                    ));
                    let Some(t) = r.turns.get(turn) else {
                        col.label("no such turn");
                        continue;
                    };
                    egui::Grid::new(("cmp", idx)).striped(true).show(col, |ui| {
                        for h in ["method", "answer", "confidence", "correct"] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for m in &t.methods {
                            ui.monospace(m.method);
                            // "unavailable" (with the reason) is not "no answer".
                            match (&m.answer, &m.unavailable) {
                                (Some(a), _) => ui.label(a.as_str()),
                                (None, Some(why)) => ui.weak("unavailable").on_hover_text(*why),
                                (None, None) => ui.label("none"),
                            };
                            ui.label(fmt_opt(m.confidence, 3));
                            match m.correct {
                                Some(true) => {
                                    ui.colored_label(theme::color(palette::RIGHT), "right")
                                }
                                Some(false) => {
                                    ui.colored_label(theme::color(palette::WRONG), "wrong")
                                }
                                None => ui.label("–"),
                            };
                            ui.end_row();
                        }
                    });
                    let fig = methods_figure_on(t, &shared_axis);
                    if let Some(maj) = fig.charts.iter().find(|c| c.title.starts_with("majority")) {
                        col.label(format!("vote distribution: {}", maj.title));
                        plot::chart_ui(
                            col,
                            maj,
                            ("cmp-maj", idx),
                            theme::SMALL_PLOT_HEIGHT,
                            false,
                            0.0,
                        );
                    }
                }
            });
            // Entropy distributions on one shared axis.
            let max = cx
                .runs
                .iter()
                .flat_map(|r| {
                    r.run
                        .paths
                        .iter()
                        .flat_map(|p| p.turns.get(turn))
                        .flat_map(|t| t.tokens.entropy.iter().copied())
                })
                .fold(0.0f32, f32::max)
                .max(0.1) as f64;
            let chart = Chart {
                title: "Token entropy distribution (share of tokens)".into(),
                x: Axis::new("entropy (nats)"),
                y: Axis::new("share"),
                series: [a, b]
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| {
                        let h = entropy_hist(&cx.runs[i].run, turn, 30, max);
                        Series::new(
                            cx.runs[i].name.clone(),
                            crate::charts::palette::categorical(k),
                            Mark::Line {
                                points: h,
                                width: 2.0,
                                dashed: false,
                            },
                        )
                    })
                    .collect(),
            };
            ui.strong(&chart.title);
            plot::chart_ui(
                ui,
                &chart,
                "cmp-entropy",
                theme::PLOT_HEIGHT * 0.8,
                true,
                0.0,
            );
        });
}
