use eframe::egui;

use super::{export_buttons, figure_ui, fmt_opt};
use crate::charts::{agreement, palette};
use crate::ui::command::AppCommand;
use crate::ui::context::ViewerContext;
use crate::ui::theme;

pub fn methods_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Selection methods");
        export_buttons(cx, ui, "methods");
        ui.separator();
        let l = ui
            .label("Borda p")
            .on_hover_text("Exponent of Borda's rank weights (N - r + 1)^p");
        ui.add(egui::Slider::new(&mut cx.settings.borda_p, 0.0..=4.0).step_by(0.1))
            .labelled_by(l.id);
        let l = ui
            .label("DeepConf window")
            .on_hover_text("Sliding window w (tokens) for the group confidences");
        ui.add(egui::DragValue::new(&mut cx.settings.window).range(1..=8192))
            .labelled_by(l.id);
    });
    ask_ui(cx, ui);
    let note = cx
        .run()
        .and_then(|r| crate::analysis::methods::stats_note(&r.run));
    let unfinished = cx.unfinished_note();
    let Some(t) = cx.shared_turn() else {
        return;
    };
    if let Some(u) = unfinished {
        ui.colored_label(theme::error_color(cx.settings.dark), format!("Note: {u}"))
            .on_hover_text("A path cut before its end-of-generation token has not given its final answer: its answer so far is counted as it stands");
    }
    if let Some(note) = note {
        ui.label(egui::RichText::new(note).italics())
            .on_hover_text("methods.md, \"Statistics from top-k logprobs\": a method never uses a value the source could not give");
    }
    egui::ScrollArea::vertical()
        .id_salt(("view-scroll", "methods"))
        .show(ui, |ui| {
            egui::Grid::new("methods-table")
                .striped(true)
                .show(ui, |ui| {
                    for h in ["method", "answer"] {
                        ui.strong(h);
                    }
                    ui.strong("confidence").on_hover_text(
                        "A different quantity for each method (hover a value): compare it within a method, not across",
                    );
                    ui.strong("correct");
                    ui.strong("scores (answer: score), the chosen first")
                        .on_hover_text("What each method ranks answers by (methods.md): votes for majority, summed weights for the weighted methods, the best path's value for lowest_perplexity and self_certainty, tokens for shortest (fewest wins)");
                    ui.end_row();
                    for m in &t.methods {
                        ui.monospace(m.method);
                        if let Some(why) = m.unavailable {
                            ui.weak("unavailable");
                            ui.label("");
                            ui.label("");
                            ui.weak(why);
                            ui.end_row();
                            continue;
                        }
                        if let Some(note) = &m.note {
                            ui.label(m.answer.as_deref().unwrap_or("none"))
                                .on_hover_text(note);
                        } else {
                            match m.tie_note() {
                                Some(note) => {
                                    ui.label(format!(
                                        "{} (tie)",
                                        m.answer.as_deref().unwrap_or("none")
                                    ))
                                    .on_hover_text(note);
                                }
                                None => {
                                    ui.label(m.answer.as_deref().unwrap_or("none"));
                                }
                            }
                        }
                        ui.label(fmt_opt(m.confidence, 3)).on_hover_text(
                            crate::analysis::suite::confidence_meaning(m.method),
                        );
                        let (txt, col) = match m.correct {
                            Some(true) => ("right", theme::color(palette::RIGHT)),
                            Some(false) => ("wrong", theme::color(palette::WRONG)),
                            None => ("–", ui.visuals().text_color()),
                        };
                        ui.colored_label(col, txt);
                        // Past 8 the rest is a hover away.
                        let all: Vec<String> = m
                            .votes_ranked()
                            .iter()
                            .map(|(a, v)| format!("{a}: {}", trim(*v)))
                            .collect();
                        if let Some(note) = &m.note {
                            ui.label(note);
                        } else if all.len() > 8 {
                            ui.label(format!(
                                "{}   … {} more",
                                all[..8].join("   "),
                                all.len() - 8
                            ))
                            .on_hover_text(all.join("\n"));
                        } else {
                            ui.label(all.join("   "));
                        }
                        ui.end_row();
                    }
                });
            // Ties are said, with how they were broken, not only on hover.
            for m in t.methods.iter().filter(|m| m.unavailable.is_none()) {
                if let Some(note) = m.tie_note() {
                    ui.weak(format!("{}: {note}", m.method));
                }
            }
            ui.add_space(8.0);
            if let Some(fig) = super::ready_figure(cx, ui, "methods") {
                figure_ui(ui, &fig, theme::SMALL_PLOT_HEIGHT);
            }
            ui.add_space(8.0);
            ui.strong("Method agreement (same answer)");
            let (ids, m) = agreement(&t);
            egui::Grid::new("agreement")
                .spacing([2.0, 2.0])
                .show(ui, |ui| {
                    ui.label("");
                    for id in &ids {
                        ui.small(column_label(id)).on_hover_text(*id);
                    }
                    ui.end_row();
                    for (i, row) in m.iter().enumerate() {
                        ui.small(ids[i]);
                        for (j, &same) in row.iter().enumerate() {
                            let c = if same {
                                theme::color(palette::RIGHT).gamma_multiply(0.7)
                            } else {
                                ui.visuals().faint_bg_color
                            };
                            let (rect, resp) = ui
                                .allocate_exact_size(egui::vec2(48.0, 14.0), egui::Sense::hover());
                            ui.painter().rect_filled(rect, 2.0, c);
                            resp.on_hover_text(format!(
                                "{} and {}: {}",
                                ids[i],
                                ids[j],
                                if same {
                                    "the same answer"
                                } else {
                                    "different answers"
                                }
                            ));
                        }
                        ui.end_row();
                    }
                });
        });
}

/// A method id short enough for a matrix column and still unlike every
/// other (cutting at 8 characters made two "deepconf" columns).
fn column_label(id: &str) -> &str {
    match id {
        "weighted_prob" => "w_prob",
        "lowest_perplexity" => "low_ppl",
        "self_certainty" => "self_cert",
        "deepconf_low" => "dc_low",
        "deepconf_high" => "dc_high",
        "p_true_brainstorm" => "p_true_b",
        other => other,
    }
}

/// "Ask the model": P(True) and USC for the open run, with progress.
fn ask_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    use crate::ui::live::ModelState;
    ui.horizontal(|ui| {
        if let Some(j) = &cx.judging {
            let (done, total) = (j.done, j.total.max(1));
            ui.add(
                egui::ProgressBar::new(done as f32 / total as f32)
                    .desired_width(200.0)
                    .text(format!("asking the model: {done}/{total} prompts")),
            );
            if ui.button("Stop").clicked() {
                cx.push(AppCommand::StopJudging);
            }
            return;
        }
        let model = match &cx.model {
            ModelState::Loaded { name, .. } => Some(name.clone()),
            _ => None,
        };
        let busy = cx.live.is_some();
        let judged = cx.run().is_some_and(|r| !r.run.judgements.is_empty());
        let label = if judged {
            "Ask the model again"
        } else {
            "Ask the model"
        };
        let hover = match &model {
            Some(m) => format!(
                "P(True), P(True) with brainstorm and Universal Self-Consistency: {m} reads every distinct answer (and all responses, for USC) of every turn"
            ),
            None => "P(True), P(True) with brainstorm and Universal Self-Consistency: loads the New run panel's model (or server) first".into(),
        };
        let clicked = ui
            .add_enabled(!busy, egui::Button::new(label))
            .on_hover_text(hover)
            .on_disabled_hover_text("a run is sampling: wait for it, or stop it")
            .clicked();
        match &model {
            Some(m) => ui.weak(format!("P(True), P(True) with brainstorm, USC · judge: {m}")),
            None => ui.weak("P(True), P(True) with brainstorm, USC · judge: the New run panel's model"),
        };
        if clicked {
            cx.push(AppCommand::StartJudging);
        }
    });
}

fn trim(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn matrix_column_labels_tell_every_method_apart() {
        let ids: Vec<&str> = crate::analysis::methods::METHODS
            .iter()
            .chain(crate::run::judgement::JUDGED_METHODS.iter())
            .copied()
            .collect();
        let mut labels: Vec<&str> = ids.iter().map(|id| super::column_label(id)).collect();
        assert!(labels.iter().all(|l| l.chars().count() <= 9), "{labels:?}");
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), ids.len());
    }
}
