//! Suite view: every open run with gold answers as one suite, grouped by
//! decoding method (numbers from `analysis::suite`, the same that
//! `reasonscope analyze --format json` reports for the folder).

use eframe::egui;

use super::{export_buttons, figure_ui};
use crate::analysis::suite::{disagreements, suite_methods};
use crate::analysis::TurnAnalysis;
use crate::ui::app::{App, AppCommand};
use crate::ui::state::View;
use crate::ui::theme;

pub fn suite_ui(app: &mut App, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Suite");
        export_buttons(app, ui, "suite");
        if ui
            .button("Open folder...")
            .on_hover_text("Open every run in a folder (the output of `reasonscope suite`)")
            .clicked()
        {
            app.push(AppCommand::OpenFolderDialog);
        }
    });
    let groups = app.suite_groups();
    if groups.is_empty() {
        ui.label(
            "No open run has a gold answer. Open a folder of runs made by \
             `reasonscope suite --questions assets/suites/arithmetic-50.jsonl -o DIR/` \
             (or runs sampled with --gold).",
        );
        return;
    }
    let runs: Vec<(String, std::sync::Arc<Vec<TurnAnalysis>>)> = app
        .runs
        .iter()
        .map(|r| (r.name.clone(), r.turns.clone()))
        .collect();
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (label, qs) in &groups {
            let questions: Vec<&TurnAnalysis> = qs.iter().map(|&(r, t)| &runs[r].1[t]).collect();
            ui.add_space(4.0);
            ui.strong(format!(
                "Decoding method {label}: {} question(s) with gold",
                questions.len()
            ));
            let methods = suite_methods(&questions);
            super::suite_methods_table(ui, ("suite-table", label), &methods);
            let split = disagreements(&questions);
            if !split.is_empty() {
                ui.add_space(4.0);
                egui::CollapsingHeader::new(format!(
                    "{} question(s) where the methods disagree",
                    split.len()
                ))
                .id_salt(("disagree", label))
                .default_open(true)
                .show(ui, |ui| {
                    egui::Grid::new(("disagree-grid", label))
                        .striped(true)
                        .show(ui, |ui| {
                            ui.strong("question");
                            ui.strong("gold");
                            ui.strong("answers (method: answer)");
                            ui.end_row();
                            for &k in split.iter().take(100) {
                                let (ri, t) = qs[k];
                                let q = questions[k];
                                let name = format!("{} · turn {}", runs[ri].0, t + 1);
                                if ui
                                    .link(name)
                                    .on_hover_text("Open this run's Methods view")
                                    .clicked()
                                {
                                    app.push(AppCommand::Activate(ri));
                                    app.push(AppCommand::SetTurn(t));
                                    app.push(AppCommand::SetView(View::Methods));
                                }
                                ui.label(q.gold.as_deref().unwrap_or("–"));
                                let a: Vec<String> = q
                                    .methods
                                    .iter()
                                    .map(|m| {
                                        format!(
                                            "{}: {}",
                                            m.method,
                                            m.answer.as_deref().unwrap_or("none")
                                        )
                                    })
                                    .collect();
                                ui.label(a.join("  "));
                                ui.end_row();
                            }
                        });
                });
            }
        }
        ui.add_space(8.0);
        if let Some(fig) = super::ready_figure(app, ui, "suite") {
            figure_ui(ui, &fig, theme::PLOT_HEIGHT);
        }
    });
}
