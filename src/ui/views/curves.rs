use eframe::egui;

use super::{export_buttons, figure_ui};
use crate::analysis::suite::suite_methods;
use crate::ui::context::ViewerContext;
use crate::ui::theme;

pub fn curves_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    let has_gold = cx.turn_analysis().is_some_and(|t| t.gold.is_some());
    ui.horizontal(|ui| {
        ui.heading("Curves");
        if has_gold {
            export_buttons(cx, ui, "curves");
        }
    });
    if !has_gold {
        ui.label("This turn has no gold answer: accuracy curves need one (sample with --gold).");
    }
    egui::ScrollArea::vertical()
        .id_salt(("view-scroll", "curves"))
        .show(ui, |ui| {
            if has_gold {
                if let Some(fig) = super::ready_figure(cx, ui, "curves") {
                    figure_ui(ui, &fig, theme::PLOT_HEIGHT);
                    ui.label(
                        egui::RichText::new(format!(
                            "\"first\" is drawn as a random path's expected accuracy (pass@1, the share of right paths) \
                             at every n; in the table \"first\" is path 0. At n = every path each method sees the whole run, \
                             as in the table, ties included ({}).",
                            crate::analysis::turn::TIE_RULE
                        ))
                        .weak(),
                    );
                }
            }
            let (n_questions, suite) = {
                let all: Vec<&crate::analysis::TurnAnalysis> = cx
                    .runs
                    .iter()
                    .flat_map(|r| r.turns.iter())
                    .filter(|t| t.gold.is_some())
                    .collect();
                (all.len(), suite_methods(&all))
            };
            if n_questions == 0 {
                return;
            }
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                ui.heading(format!(
                    "Suite: {n_questions} question(s) with gold over the open runs"
                ));
                export_buttons(cx, ui, "calibration");
            });
            // The Suite view keeps decoding methods apart; here every open
            // run counts, so a mix is said.
            let methods: Vec<String> = crate::ui::state::suite_groups(cx.runs)
                .into_iter()
                .map(|g| g.0)
                .collect();
            if methods.len() > 1 {
                ui.label(
                    egui::RichText::new(format!(
                        "Runs of {} decoding methods ({}) counted together; the Suite view keeps them apart.",
                        methods.len(),
                        methods.join(", ")
                    ))
                    .weak(),
                );
            }
            super::suite_methods_table(ui, "suite", &suite);
            if let Some(fig) = super::ready_figure(cx, ui, "calibration") {
                figure_ui(ui, &fig, theme::PLOT_HEIGHT);
            }
        });
}
