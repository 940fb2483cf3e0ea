//! One module per view; each draws what `analysis`/`charts` computed.

mod branches;
mod compare;
mod curves;
mod drift;
mod entropy;
mod header;
mod methods;
mod new_run;
mod paths;
mod reflection;
mod suite;

use eframe::egui;

pub use new_run::new_run_ui;

use super::command::AppCommand;
use super::context::ViewerContext;
use super::state::View;
use crate::export::Format;

/// The figure a view exports (None: the view has no single figure).
pub fn figure_of(view: View) -> Option<&'static str> {
    match view {
        View::Methods => Some("methods"),
        View::Paths => None,
        View::Entropy => Some("entropy"),
        View::Branches => Some("branches"),
        View::Reflection => Some("reflection"),
        View::Curves => Some("curves"),
        View::Drift => Some("drift"),
        View::Suite => Some("suite"),
        View::Compare => None,
    }
}

pub fn view_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    // Suite and Compare span several runs: no single run's header.
    if !matches!(cx.settings.view, View::Suite | View::Compare) {
        header::header_ui(cx, ui);
    }
    match cx.settings.view {
        View::Methods => methods::methods_ui(cx, ui),
        View::Paths => paths::paths_ui(cx, ui),
        View::Entropy => entropy::entropy_ui(cx, ui),
        View::Branches => branches::branches_ui(cx, ui),
        View::Reflection => reflection::reflection_ui(cx, ui),
        View::Curves => curves::curves_ui(cx, ui),
        View::Drift => drift::drift_ui(cx, ui),
        View::Suite => suite::suite_ui(cx, ui),
        View::Compare => compare::compare_ui(cx, ui),
    }
}

/// The figure when it is ready; a spinner while a background job builds it.
pub fn ready_figure(
    cx: &mut ViewerContext<'_>,
    ui: &mut egui::Ui,
    id: &'static str,
) -> Option<std::sync::Arc<crate::charts::Figure>> {
    let f = cx.figure(id);
    if f.is_none() && cx.figure_pending(id) {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("computing the chart...");
        });
    }
    f
}

/// PNG / SVG / CSV buttons for a figure.
pub fn export_buttons(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui, figure: &'static str) {
    ui.label("Export:");
    for f in [Format::Png, Format::Svg, Format::Csv] {
        let name = f.extension().to_uppercase();
        if ui
            .small_button(&name)
            .on_hover_text(format!("Save this chart ({figure}) as {name}"))
            .clicked()
        {
            cx.push(AppCommand::ExportDialog { figure, format: f });
        }
    }
}

/// Draw every chart of a figure in a grid of `columns`.
pub fn figure_ui(
    ui: &mut egui::Ui,
    fig: &crate::charts::Figure,
    height: f32,
) -> Vec<super::plot::PlotResponse> {
    let cols = fig.columns.max(1);
    // The visible width, not the content's: a wide table above (a long
    // row of answers) must not push the charts past the window's edge.
    let visible = ui.clip_rect().right() - ui.cursor().left();
    let width = (ui.available_width().min(visible) / cols as f32 - 8.0).max(120.0);
    let legend = fig.shows_legends();
    // Charts stacked in one column (entropy over DeepConf confidence) get
    // y axes of one width, so that their token axes line up.
    let y_axis_min = if cols == 1 && fig.charts.len() > 1 {
        56.0
    } else {
        0.0
    };
    let mut out = Vec::new();
    for (r, row) in fig.charts.chunks(cols).enumerate() {
        ui.horizontal(|ui| {
            for (c, chart) in row.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.set_width(width);
                    // One line, so the small multiples of a row stay level;
                    // a title cut short is whole on hover.
                    ui.add(
                        egui::Label::new(egui::RichText::new(&chart.title).strong().size(12.0))
                            .truncate(),
                    );
                    out.push(super::plot::chart_ui(
                        ui,
                        chart,
                        (fig.id, r, c),
                        height,
                        legend,
                        y_axis_min,
                    ));
                });
            }
        });
    }
    out
}

pub fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.prec$}"))
}

/// Per-method suite metrics: accuracy with its 95% Wilson interval, ECE,
/// Brier, AUROC and tokens (Curves and Suite views).
pub fn suite_methods_table(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    methods: &[crate::analysis::suite::SuiteMethod],
) {
    egui::Grid::new(id).striped(true).show(ui, |ui| {
        for h in [
            "method",
            "accuracy",
            "95% interval",
            "ties",
            "ECE",
            "Brier",
            "AUROC",
            "tokens",
            "sequential tokens",
        ] {
            ui.strong(h);
        }
        ui.end_row();
        for m in methods {
            ui.monospace(m.method);
            ui.label(format!("{:.3}", m.accuracy));
            ui.label(
                m.interval()
                    .map_or("–".into(), |(lo, hi)| format!("{lo:.2} – {hi:.2}")),
            );
            ui.label(m.ties.to_string()).on_hover_text(format!(
                "questions whose pick was a tie ({}): counted right or wrong by path order",
                crate::analysis::turn::TIE_RULE
            ));
            let calibration = |ui: &mut egui::Ui, v: Option<f64>, of_answers: Option<f64>| {
                let r = ui.label(fmt_opt(v, 3));
                if let Some(c) = &m.answer_calibration {
                    r.on_hover_text(format!(
                        "of the picked answers' P(True); over every judged answer ({}): {}",
                        c.n_answers,
                        fmt_opt(of_answers, 3)
                    ));
                }
            };
            let c = m.answer_calibration.as_ref();
            calibration(ui, m.ece, c.and_then(|c| c.ece));
            calibration(ui, m.brier, c.and_then(|c| c.brier));
            calibration(ui, m.auroc, c.and_then(|c| c.auroc));
            let r = ui.label(m.tokens_total.to_string());
            if m.judge_tokens > 0 {
                r.on_hover_text(format!(
                    "{} sampling + {} the judge read and wrote",
                    m.tokens_total - m.judge_tokens,
                    m.judge_tokens
                ));
            }
            ui.label(m.tokens_sequential.to_string());
            ui.end_row();
        }
    });
}
