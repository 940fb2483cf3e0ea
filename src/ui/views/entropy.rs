use eframe::egui;

use super::{export_buttons, figure_ui, fmt_opt};
use crate::ui::command::AppCommand;
use crate::ui::context::ViewerContext;
use crate::ui::theme;

pub fn entropy_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Entropy");
        export_buttons(cx, ui, "entropy");
        ui.separator();
        ui.checkbox(
            &mut cx.selection.entropy_selected_only,
            "only the paths shown in Paths",
        )
        .on_hover_text("Otherwise every path of the turn");
        ui.checkbox(&mut cx.settings.normalized_x, "normalized position")
            .on_hover_text("x = token index / path length");
        let l = ui
            .label("DeepConf window")
            .on_hover_text("Sliding window w (tokens)");
        ui.add(egui::DragValue::new(&mut cx.settings.window).range(1..=8192))
            .labelled_by(l.id);
    });
    let Some(t) = cx.shared_turn() else {
        return;
    };
    if let Some(why) = cx
        .run()
        .and_then(|r| crate::charts::entropy_unavailable(&r.run))
    {
        ui.add_space(12.0);
        ui.label(egui::RichText::new(why).weak());
        return;
    }
    let bounds = cx.run().is_some_and(|r| r.run.tokens_have_entropy_bounds());
    egui::ScrollArea::vertical()
        .id_salt(("view-scroll", "entropy"))
        .show(ui, |ui| {
            if let Some(fig) = super::ready_figure(cx, ui, "entropy") {
                ui.weak("Click a line to bring its path forward (the others fade); click an empty spot to show all paths alike. Grey: the middle 50% of paths and their median.");
                let responses = figure_ui(ui, &fig, theme::PLOT_HEIGHT * 0.8);
                if let Some([x, y]) = responses.first().and_then(|r| r.clicked_at) {
                    focus_at(cx, &t, x, y);
                }
            }
            ui.add_space(6.0);
            ui.strong("Per-path summary (click a header to sort, a row to show the path)");
            let (col, desc) = cx.selection.entropy_sort;
            let mut rows: Vec<&crate::analysis::turn::PathAnalysis> = t.paths.iter().collect();
            let key = |p: &crate::analysis::turn::PathAnalysis| -> f64 {
                match col {
                    1 => p.scores.mean_entropy.unwrap_or(f64::NAN),
                    2 => p.scores.n_tokens as f64,
                    3 => p.scores.uncertain_points as f64,
                    4 => p.scores.conf_lowest_group.unwrap_or(f64::NAN),
                    _ => p.index as f64,
                }
            };
            if col == 5 {
                rows.sort_by(|a, b| a.answer.cmp(&b.answer));
            } else {
                rows.sort_by(|a, b| key(a).total_cmp(&key(b)));
            }
            if desc {
                rows.reverse();
            }
            // A top-k run holds the entropy's lower bound: its mean is one.
            let mean_entropy = if bounds {
                "mean entropy (lower bound)"
            } else {
                "mean entropy"
            };
            egui::Grid::new("entropy-strip")
                .striped(true)
                .show(ui, |ui| {
                    for (k, h) in [
                        "path",
                        mean_entropy,
                        "tokens",
                        "uncertain",
                        "lowest group conf",
                        "answer",
                    ]
                    .iter()
                    .enumerate()
                    {
                        let arrow = if k == col {
                            if desc {
                                " v"
                            } else {
                                " ^"
                            }
                        } else {
                            ""
                        };
                        if ui
                            .button(format!("{h}{arrow}"))
                            .on_hover_text("Sort by this column")
                            .clicked()
                        {
                            cx.selection.entropy_sort = (k, if k == col { !desc } else { false });
                        }
                    }
                    ui.end_row();
                    for p in rows {
                        if ui
                            .link(format!("{}", p.index))
                            .on_hover_text("Show this path in Paths")
                            .clicked()
                        {
                            cx.push(AppCommand::SetPaths(vec![p.index]));
                            cx.push(AppCommand::SetView(crate::ui::state::View::Paths));
                        }
                        ui.label(fmt_opt(p.scores.mean_entropy, 3));
                        ui.label(p.scores.n_tokens.to_string());
                        ui.label(p.scores.uncertain_points.to_string());
                        ui.label(fmt_opt(p.scores.conf_lowest_group, 3));
                        ui.label(p.answer.as_deref().unwrap_or("none"));
                        ui.end_row();
                    }
                });
        });
}

/// The path whose entropy line passes nearest the clicked point (within
/// 0.5 nats) becomes the selected token's path; a click away from every
/// line clears the selection.
fn focus_at(cx: &mut ViewerContext<'_>, t: &crate::analysis::TurnAnalysis, x: f64, y: f64) {
    let Some(r) = cx.run() else { return };
    let normalized = cx.settings.normalized_x;
    let shown: Vec<usize> = if cx.selection.entropy_selected_only {
        cx.selection.shown_paths.clone()
    } else {
        t.paths.iter().map(|p| p.index).collect()
    };
    let mut best: Option<(f64, usize, usize)> = None;
    for p in shown {
        let Some(turn) = r.run.paths.get(p).and_then(|pp| pp.turns.get(t.turn)) else {
            continue;
        };
        let n = turn.tokens.entropy.len();
        let i = if normalized { x * n as f64 } else { x }.round();
        if i < 0.0 || i as usize >= n {
            continue;
        }
        let d = (f64::from(turn.tokens.entropy[i as usize]) - y).abs();
        if best.is_none_or(|b| d < b.0) {
            best = Some((d, p, i as usize));
        }
    }
    match best.filter(|b| b.0 < 0.5) {
        Some((_, path, token)) => cx.push(AppCommand::SelectToken { path, token }),
        None => cx.selection.selected_token = None,
    }
}
