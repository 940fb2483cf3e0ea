use eframe::egui;

use super::{export_buttons, figure_ui};
use crate::ui::context::ViewerContext;
use crate::ui::theme;

/// Why a path has no reflection share (methods.md, "Reflection steps").
const NO_CANDIDATE: &str = "no step states an answer (boxed, \"answer is\", or a line ending in \"= number\"), so there is no first candidate to split forward reasoning from reflection";

pub fn reflection_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Reflection");
        export_buttons(cx, ui, "reflection");
    });
    let Some(t) = cx.shared_turn() else {
        return;
    };
    egui::ScrollArea::vertical()
        .id_salt(("view-scroll", "reflection"))
        .show(ui, |ui| {
            if let Some(fig) = super::ready_figure(cx, ui, "reflection") {
                let h = (t.paths.len() as f32 * 18.0).clamp(200.0, 900.0);
                figure_ui(ui, &fig, h);
            }
            ui.add_space(6.0);
            egui::Grid::new("refl").striped(true).show(ui, |ui| {
                for h in [
                    "path",
                    "first candidate at token",
                    "reflection share",
                    "candidates",
                    "confirmatory",
                    "corrective",
                    "markers",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for p in &t.paths {
                    let r = &p.reflection;
                    ui.label(p.index.to_string());
                    ui.label(
                        r.first_candidate_token
                            .map_or("–".into(), |v| v.to_string()),
                    );
                    match r.share {
                        Some(s) => ui.label(format!("{:.0}%", s * 100.0)),
                        None => ui.label("n/a").on_hover_text(NO_CANDIDATE),
                    };
                    let mut c: Vec<&str> = r
                        .candidates
                        .iter()
                        .take(8)
                        .map(|c| c.answer.as_str())
                        .collect();
                    if r.candidates.len() > 8 {
                        c.push("...");
                    }
                    ui.label(c.join(" -> "));
                    ui.label(r.confirmatory.to_string());
                    let kinds = r
                        .corrective_kinds
                        .map(|k| {
                            format!(
                                " (wrong->right {}, right->wrong {}, wrong->wrong {})",
                                k.wrong_right, k.right_wrong, k.wrong_wrong
                            )
                        })
                        .unwrap_or_default();
                    ui.label(format!("{}{kinds}", r.corrective));
                    // Counts per marker: a long trace can hold hundreds.
                    let mut counts: Vec<(&str, usize)> = Vec::new();
                    for m in &r.markers {
                        match counts.iter_mut().find(|c| c.0 == m.text) {
                            Some(c) => c.1 += 1,
                            None => counts.push((&m.text, 1)),
                        }
                    }
                    let m: Vec<String> = counts
                        .iter()
                        .map(|(t, n)| {
                            if *n > 1 {
                                format!("{t} x{n}")
                            } else {
                                (*t).to_owned()
                            }
                        })
                        .collect();
                    ui.label(m.join(", "));
                    ui.end_row();
                }
            });
            let _ = theme::PLOT_HEIGHT;
        });
}
