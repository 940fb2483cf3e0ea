use eframe::egui;

use super::{export_buttons, figure_ui};
use crate::ui::command::AppCommand;
use crate::ui::context::ViewerContext;
use crate::ui::theme;

pub fn branches_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Branches");
        export_buttons(cx, ui, "branches");
        ui.label("(click a node to list its paths)");
    });
    let Some(t) = cx.shared_turn() else { return };
    let Some(tree) = cx.tree() else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("building the token trie...");
        });
        return;
    };
    let (nodes, ys) = (&tree.0, &tree.1);
    let fig = super::ready_figure(cx, ui, "branches");
    egui::ScrollArea::vertical()
        .id_salt(("view-scroll", "branches"))
        .show(ui, |ui| {
            if let Some(fig) = fig {
                let resp = figure_ui(ui, &fig, theme::PLOT_HEIGHT * 1.4);
                if let Some([x, y]) = resp.first().and_then(|r| r.clicked_at) {
                    // Nearest node segment to the click, on the chart's
                    // compressed token axis.
                    let ax = crate::charts::TokenAxis::new(nodes);
                    let best = nodes
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            let (s, e) = (ax.x(n.start), ax.x(n.end));
                            let dx = if x < s {
                                s - x
                            } else if x > e {
                                x - e
                            } else {
                                0.0
                            };
                            (i, dx * 2.0 + (y - ys[i]).abs())
                        })
                        .min_by(|a, b| a.1.total_cmp(&b.1))
                        .map(|b| b.0);
                    cx.push(AppCommand::SelectNode(best));
                }
            }
            if let Some(n) = cx.selection.selected_node.and_then(|i| nodes.get(i)) {
                ui.strong(format!(
                    "Node: tokens {}–{}, {} paths, starts with {:?}",
                    n.start,
                    n.end,
                    n.paths.len(),
                    n.label
                ));
                let answers: Vec<String> = n
                    .answers
                    .iter()
                    .map(|(a, k)| format!("{}: {k}", if a.is_empty() { "none" } else { a }))
                    .collect();
                ui.label(format!("answers below: {}", answers.join(", ")));
                ui.horizontal_wrapped(|ui| {
                    for &p in &n.paths {
                        let idx = t.paths.get(p).map_or(p, |x| x.index);
                        if ui.link(format!("path {idx}")).clicked() {
                            cx.push(AppCommand::SetPaths(vec![idx]));
                            cx.push(AppCommand::SetView(crate::ui::state::View::Paths));
                        }
                    }
                });
            }
            ui.add_space(6.0);
            const SHOWN: usize = 12;
            // Two single paths that part and answer differently score the
            // largest JSD there is (ln 2); a researcher looking for the
            // splits that move the vote can set them aside.
            let hide_id = egui::Id::unique("branches-hide-single-path-splits");
            let mut hide = ui.data(|d| d.get_temp::<bool>(hide_id)).unwrap_or(false);
            let listed: Vec<&crate::analysis::branches::Fork> = t
                .forks
                .iter()
                .filter(|f| !hide || f.children.iter().any(|c| c.paths.len() >= 2))
                .collect();
            ui.horizontal(|ui| {
                ui.strong(if listed.len() > SHOWN {
                    format!(
                        "Most decisive forks: the first {SHOWN} of {}",
                        listed.len()
                    )
                } else {
                    format!("Most decisive forks ({} in all)", listed.len())
                });
                if ui
                    .checkbox(&mut hide, "hide splits of single paths")
                    .on_hover_text(
                        "forks where every branch holds one path: two paths that answer differently \
                         score the largest JSD there is (ln 2 = 0.693) whatever the rest of the run does",
                    )
                    .changed()
                {
                    ui.data_mut(|d| d.insert_temp(hide_id, hide));
                }
            });
            egui::Grid::new("forks").striped(true).show(ui, |ui| {
                for h in [
                    "token",
                    "paths",
                    "entropy",
                    "decisiveness (JSD, nats)",
                    "branches: token x paths -> answers",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for f in listed.iter().take(SHOWN) {
                    ui.label(f.position.to_string());
                    ui.label(f.n_paths.to_string());
                    ui.label(format!("{:.3}", f.entropy));
                    ui.label(format!("{:.3}", f.decisiveness));
                    let kids: Vec<String> = f
                        .children
                        .iter()
                        .map(|c| {
                            let a: Vec<String> = c
                                .answers
                                .iter()
                                .map(|(a, k)| {
                                    format!("{}:{k}", if a.is_empty() { "none" } else { a })
                                })
                                .collect();
                            format!("{:?} x{} -> {}", c.text, c.paths.len(), a.join(" "))
                        })
                        .collect();
                    ui.label(kids.join("   |   "));
                    ui.end_row();
                }
            });
        });
}
