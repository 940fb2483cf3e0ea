//! Drift view: answers, transitions and KL drift across the turns of a
//! multi-turn run (numbers from `analysis::drift`, chart from `charts`).

use eframe::egui;

use super::{export_buttons, figure_ui, fmt_opt};
use crate::analysis::drift::drift;
use crate::ui::context::ViewerContext;
use crate::ui::theme;

pub fn drift_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Drift across turns");
        export_buttons(cx, ui, "drift");
    });
    let Some(r) = cx.run() else { return };
    let (run, turns) = (r.run.clone(), r.turns.clone());
    if turns.len() < 2 {
        ui.label(
            "This run has one turn, so nothing can drift. Sample a conversation with several \
             user messages (New run: \"+ message\", or `reasonscope sample --turn ... --turn ...`), \
             with a drift reference to measure the distribution drift too.",
        );
        return;
    }
    let d = drift(&run, &turns);
    egui::ScrollArea::vertical().id_salt(("view-scroll", "drift")).show(ui, |ui| {
        if let Some(reference) = &run.drift_reference {
            ui.label(format!(
                "kl_ref measured against: {} (turn 1 of a no-history reference is the reference itself: D = 0)",
                reference.label()
            ));
        }
        let eq = &d.equilibrium;
        ui.label(format!(
            "Fit D(t+1) - D(t) = a + b D(t):  a = {}, b = {},  equilibrium D* = {}",
            fmt_opt(eq.a, 4),
            fmt_opt(eq.b, 4),
            eq.d_star
                .map_or("none (needs b < 0 and 2 measured steps)".into(), |v| format!("{v:.4}"))
        ));
        // Two parameters through two steps: the line passes through both.
        let steps = d.turns.iter().filter(|t| t.mean_kl_ref.is_some()).count().saturating_sub(1);
        if eq.a.is_some() && steps <= 2 {
            ui.weak(format!(
                "{steps} measured steps for 2 parameters: the fit passes through them exactly (no error estimate); more turns make it a fit"
            ));
        }
        ui.add_space(4.0);
        egui::Grid::new("drift-turns").striped(true).show(ui, |ui| {
            for h in ["turn", "votes", "changed", "D_t (mean kl_ref, nats)", "mean entropy (nats)"] {
                ui.strong(h);
            }
            ui.end_row();
            for t in &d.turns {
                ui.label(format!("{}", t.turn + 1));
                let votes: Vec<String> = t
                    .votes
                    .iter()
                    .map(|(a, n)| {
                        let a = if a.is_empty() { "(none)" } else { a.as_str() };
                        format!("{a}: {n}")
                    })
                    .collect();
                // Past 5 answers the rest is a hover away, and says so.
                if votes.len() > 5 {
                    ui.label(format!("{}   … {} more", votes[..5].join("   "), votes.len() - 5))
                        .on_hover_text(votes.join("\n"));
                } else {
                    ui.label(votes.join("   "));
                }
                ui.label(t.changed_share.map_or("–".into(), |v| format!("{:.0}%", v * 100.0)));
                ui.label(fmt_opt(t.mean_kl_ref, 4));
                ui.label(fmt_opt(t.mean_entropy, 3));
                ui.end_row();
            }
        });
        ui.add_space(4.0);
        egui::Grid::new("drift-transitions")
            .striped(true)
            .show(ui, |ui| {
                for h in [
                    "turns",
                    "right->right",
                    "right->wrong",
                    "wrong->right",
                    "wrong->wrong",
                ] {
                    ui.strong(h);
                }
                ui.strong("confidence score")
                    .on_hover_text("P(right at t+1 | right at t): how often a right path stays right");
                ui.strong("critique score")
                    .on_hover_text("P(right at t+1 | wrong at t): how often a wrong path is corrected");
                ui.end_row();
                for tr in &d.transitions {
                    ui.label(format!("{} -> {}", tr.from_turn + 1, tr.to_turn + 1));
                    for v in [tr.right_right, tr.right_wrong, tr.wrong_right, tr.wrong_wrong] {
                        ui.label(v.map_or("–".into(), |v| v.to_string()));
                    }
                    ui.label(fmt_opt(tr.confidence_score, 3))
                        .on_hover_text("P(right at t+1 | right at t)");
                    ui.label(fmt_opt(tr.critique_score, 3))
                        .on_hover_text("P(right at t+1 | wrong at t)");
                    ui.end_row();
                }
            });
        ui.add_space(6.0);
        if let Some(fig) = super::ready_figure(cx, ui, "drift") {
            let rows = run.paths.len() as f32;
            figure_ui(ui, &fig, (rows * 22.0).clamp(theme::SMALL_PLOT_HEIGHT, 600.0));
        }
    });
}
