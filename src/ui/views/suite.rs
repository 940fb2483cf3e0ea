//! Suite view: every open run with gold answers as one suite, grouped by
//! decoding method (numbers from `analysis::suite`, the same that
//! `reasonscope analyze --format json` reports for the folder).

use eframe::egui;

use super::{export_buttons, figure_ui};
use std::sync::Arc;

use crate::analysis::suite::{disagreements, suite_methods, SuiteMethod};
use crate::analysis::TurnAnalysis;
use crate::ui::command::AppCommand;
use crate::ui::context::ViewerContext;
use crate::ui::figure_cache::SuiteInput;
use crate::ui::state::View;
use crate::ui::theme;

pub fn suite_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Suite");
        export_buttons(cx, ui, "suite");
        if ui
            .button("Open folder...")
            .on_hover_text("Open every run in a folder (the output of `reasonscope suite`)")
            .clicked()
        {
            cx.push(AppCommand::OpenFolderDialog);
        }
    });
    let tables = suite_tables(cx, ui);
    if tables.groups.is_empty() {
        ui.label(
            "No open run has a gold answer. Open a folder of runs made by \
             `reasonscope suite --questions assets/suites/arithmetic-50.jsonl -o DIR/` \
             (or runs sampled with --gold).",
        );
        return;
    }
    egui::ScrollArea::vertical()
        .id_salt(("view-scroll", "suite"))
        .show(ui, |ui| {
            for g in tables.groups.iter() {
                ui.add_space(4.0);
                ui.strong(format!(
                    "Decoding method {}: {} question(s) with gold",
                    g.label, g.n_questions
                ));
                super::suite_methods_table(ui, ("suite-table", &g.label), &g.methods);
                if !g.partial.is_empty() {
                    let some: Vec<String> = g
                        .partial
                        .iter()
                        .map(|(id, k)| format!("{id} ({k} of {})", g.n_questions))
                        .collect();
                    ui.weak(format!(
                        "Not in the table, because only some questions have them: {}",
                        some.join(", ")
                    ));
                }
                if !g.split.is_empty() {
                    ui.add_space(4.0);
                    egui::CollapsingHeader::new(format!(
                        "{} question(s) where the methods disagree",
                        g.split.len()
                    ))
                    .id_salt(("disagree", &g.label))
                    .default_open(true)
                    .show(ui, |ui| disagreement_rows(cx, ui, g));
                }
            }
            ui.add_space(8.0);
            if let Some((done, total)) = cx.opening {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!(
                        "opening runs: {done} of {total}; the charts are drawn once all are open"
                    ));
                });
            } else if let Some(fig) = super::ready_figure(cx, ui, "suite") {
                figure_ui(ui, &fig, theme::PLOT_HEIGHT);
            }
        });
}

/// A question where the methods disagree: (run, turn), link text, gold,
/// each method's answer.
type DisagreementRow = ((usize, usize), String, String, String);

/// One decoding method's tables, computed once per set of open analyses.
struct GroupTables {
    label: String,
    n_questions: usize,
    methods: Vec<SuiteMethod>,
    /// Methods only some questions have (left out of the table).
    partial: Vec<(&'static str, usize)>,
    /// The questions where the methods disagree.
    split: Vec<DisagreementRow>,
    /// Widths of the link and gold columns (their longest text), so that the
    /// rows line up as a table.
    widths: (f32, f32),
}

/// The Suite view's tables and the analyses they were computed from (held,
/// so that a replaced analysis never shares an address with a cached one).
struct SuiteTables {
    inputs: Vec<SuiteInput>,
    groups: Vec<GroupTables>,
}

/// The tables for the open runs: cached in egui's memory and recomputed
/// only when a run is opened, closed or re-analysed (a folder of hundreds
/// of runs would otherwise redo them on every frame).
fn suite_tables(cx: &ViewerContext<'_>, ui: &egui::Ui) -> Arc<SuiteTables> {
    let id = egui::Id::unique("suite-tables");
    let cached: Option<Arc<SuiteTables>> = ui.data(|d| d.get_temp(id));
    if let Some(c) = cached.filter(|c| {
        c.inputs.len() == cx.runs.len()
            && c.inputs
                .iter()
                .zip(cx.runs)
                .all(|(a, r)| a.0 == r.run.sampling.method && Arc::ptr_eq(&a.1, &r.turns))
    }) {
        return c;
    }
    let inputs = cx.suite_inputs();
    let names: Vec<&str> = cx.runs.iter().map(|r| r.name.as_str()).collect();
    let groups = crate::ui::state::suite_groups(cx.runs)
        .into_iter()
        .map(|(label, qs)| {
            let questions: Vec<&TurnAnalysis> = qs.iter().map(|&(r, t)| &inputs[r].1[t]).collect();
            let split: Vec<DisagreementRow> = disagreements(&questions)
                .into_iter()
                .map(|k| {
                    let (ri, t) = qs[k];
                    let q = questions[k];
                    let answers: Vec<String> = q
                        .methods
                        .iter()
                        .filter(|m| m.unavailable.is_none())
                        .map(|m| format!("{}: {}", m.method, m.answer.as_deref().unwrap_or("none")))
                        .collect();
                    (
                        (ri, t),
                        format!("{} · turn {}", names[ri], t + 1),
                        q.gold.clone().unwrap_or_else(|| "–".into()),
                        answers.join("  "),
                    )
                })
                .collect();
            let widths = column_widths(ui, &split);
            GroupTables {
                n_questions: questions.len(),
                methods: suite_methods(&questions),
                partial: crate::analysis::suite::partly_available(&questions),
                label,
                split,
                widths,
            }
        })
        .collect();
    let tables = Arc::new(SuiteTables { inputs, groups });
    ui.data_mut(|d| d.insert_temp(id, tables.clone()));
    tables
}

/// The widest link text and gold answer of `split`, as laid out in the
/// body font (once per cache fill).
fn column_widths(ui: &egui::Ui, split: &[DisagreementRow]) -> (f32, f32) {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let width = |text: &str| {
        ui.ctx().fonts_mut(|f| {
            f.layout_no_wrap(text.to_owned(), font.clone(), egui::Color32::WHITE)
                .size()
                .x
        })
    };
    split
        .iter()
        .fold((0.0f32, 0.0f32), |(n, g), (_, name, gold, _)| {
            (n.max(width(name)), g.max(width(gold)))
        })
}

/// The disagreement list, in its own scroll area that lays out only the
/// rows in view (a suite may have hundreds).
fn disagreement_rows(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui, g: &GroupTables) {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + ui.spacing().item_spacing.y;
    ui.horizontal(|ui| {
        ui.strong("question, gold answer, and each method's answer");
    });
    egui::ScrollArea::vertical()
        .id_salt(("disagree-rows", &g.label))
        .max_height(row_height * 12.0)
        .auto_shrink([false, true])
        .show_rows(ui, row_height, g.split.len(), |ui, range| {
            let cell = |ui: &mut egui::Ui, w: f32, add: &mut dyn FnMut(&mut egui::Ui)| {
                ui.allocate_ui_with_layout(
                    egui::vec2(w, row_height),
                    egui::Layout::left_to_right(egui::Align::Center),
                    |ui| {
                        ui.set_min_width(w);
                        add(ui);
                    },
                );
            };
            for ((ri, t), name, gold, answers) in &g.split[range] {
                ui.horizontal(|ui| {
                    cell(ui, g.widths.0, &mut |ui| {
                        if ui
                            .link(name)
                            .on_hover_text("Open this run's Methods view")
                            .clicked()
                        {
                            cx.push(AppCommand::Activate(*ri));
                            cx.push(AppCommand::SetTurn(*t));
                            cx.push(AppCommand::SetView(View::Methods));
                        }
                    });
                    cell(ui, g.widths.1, &mut |ui| {
                        ui.label(egui::RichText::new(gold).strong());
                    });
                    ui.label(answers);
                });
            }
        });
}
