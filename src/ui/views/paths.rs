//! Paths side by side, token by token. Each path is one text layout (a
//! single galley), so thousands of tokens cost one label, and hovering
//! finds the token under the pointer from the galley.

use eframe::egui::{self, text::LayoutJob, Color32, FontId, TextFormat};

use crate::run::Tokens;
use crate::ui::app::{App, AppCommand, TOKEN_PAGE};
use crate::ui::state::TokenStat;
use crate::ui::theme;

/// The statistic of token `i`; `None` where the run's source could not
/// give it (a column absent in top-k or text-only runs).
fn stat_value(t: &Tokens, i: usize, stat: TokenStat) -> Option<f32> {
    match stat {
        TokenStat::Entropy => t.entropy.get(i).copied(),
        TokenStat::Logprob => t.logprob.get(i).map(|l| -l),
        TokenStat::SelfCertainty => t.self_certainty.get(i).copied(),
        TokenStat::Confidence => t.confidence.get(i).copied(),
    }
}

/// Why `stat` cannot colour this run's tokens, if it cannot.
fn stat_unavailable(run: &crate::run::Run, stat: TokenStat) -> Option<&'static str> {
    use crate::run::Source;
    match (run.stats_source().source, stat) {
        (Source::Full, _) => None,
        (Source::TopK, TokenStat::SelfCertainty) => {
            Some("needs the full distribution (only the top-k logprobs were returned)")
        }
        (Source::TopK, _) => None,
        (Source::Text, _) => Some("this run holds text only, no logprobs"),
    }
}

/// High values of these statistics mean "certain": invert for the heat map.
fn inverted(stat: TokenStat) -> bool {
    matches!(stat, TokenStat::SelfCertainty | TokenStat::Confidence)
}

pub fn paths_ui(app: &mut App, ui: &mut egui::Ui) {
    let Some(r) = app.run() else { return };
    let Some(t) = app.turn_analysis() else { return };
    let n_paths = r.run.paths.len();
    let turn = t.turn;
    let running: Vec<usize> = (0..n_paths).filter(|&p| app.is_running(p, turn)).collect();
    let stat = app.settings.stat;
    let dark = app.settings.dark;
    let mut shown = app.shown_paths.clone();
    shown.retain(|&p| p < n_paths);
    let mut commands = Vec::new();
    let mut new_stat = stat;

    ui.horizontal(|ui| {
        ui.heading("Paths");
        let l = ui
            .label("colour by")
            .on_hover_text("Statistic that colours each token (warm = uncertain)");
        egui::ComboBox::from_id_salt("stat")
            .selected_text(stat.label())
            .show_ui(ui, |ui| {
                for s in TokenStat::ALL {
                    match stat_unavailable(&r.run, s) {
                        None => {
                            ui.selectable_value(&mut new_stat, s, s.label());
                        }
                        Some(why) => {
                            ui.add_enabled(false, egui::Button::selectable(false, s.label()))
                                .on_disabled_hover_text(format!("unavailable: {why}"));
                        }
                    }
                }
            })
            .response
            .labelled_by(l.id);
        ui.separator();
        let l = ui.label("columns");
        for k in 0..shown.len() {
            let mut p = shown[k];
            egui::ComboBox::from_id_salt(("col", k))
                .width(70.0)
                .selected_text(format!("path {p}"))
                .show_ui(ui, |ui| {
                    for i in 0..n_paths {
                        ui.selectable_value(&mut p, i, format!("path {i}"));
                    }
                })
                .response
                .labelled_by(l.id);
            if p != shown[k] {
                let mut s = shown.clone();
                s[k] = p;
                commands.push(AppCommand::SetPaths(s));
            }
        }
        if shown.len() < 4
            && shown.len() < n_paths
            && ui
                .small_button("+")
                .on_hover_text("Add a column (up to 4)")
                .clicked()
        {
            let mut s = shown.clone();
            s.push((shown.last().copied().unwrap_or(0) + 1) % n_paths);
            commands.push(AppCommand::SetPaths(s));
        }
        if shown.len() > 1
            && ui
                .small_button("-")
                .on_hover_text("Remove the last column")
                .clicked()
        {
            let mut s = shown.clone();
            s.pop();
            commands.push(AppCommand::SetPaths(s));
        }
        ui.label("(J / K: next / previous paths)");
    });

    // One colour scale for the whole turn (every path, not only the shown
    // ones), so that a colour means the same value as J/K move.
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for path in &r.run.paths {
        if let Some(tt) = path.turns.get(turn) {
            for v in (0..tt.tokens.len()).filter_map(|i| stat_value(&tt.tokens, i, stat)) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let no_stat = stat_unavailable(&r.run, stat);
    ui.horizontal(|ui| {
        if let Some(why) = no_stat {
            // No scale for values that do not exist.
            ui.label(
                egui::RichText::new(format!(
                    "tokens not coloured ({} unavailable: {why})",
                    stat.label()
                ))
                .weak(),
            );
            if let Some(t) = r.run.import.as_ref().and_then(|i| i.tokens.as_deref()) {
                if t == "words" {
                    ui.label(egui::RichText::new("(a token is a word or punctuation mark)").weak());
                }
            }
        } else {
            ui.label(format!(
                "{} {:.2}",
                stat.label(),
                if inverted(stat) { hi } else { lo }
            ));
            let (rect, _) = ui.allocate_exact_size(egui::vec2(160.0, 12.0), egui::Sense::hover());
            for k in 0..32 {
                let x0 = rect.left() + rect.width() * k as f32 / 32.0;
                let x1 = rect.left() + rect.width() * (k + 1) as f32 / 32.0;
                ui.painter().rect_filled(
                    egui::Rect::from_x_y_ranges(x0..=x1, rect.y_range()),
                    0.0,
                    theme::heat(k as f32 / 31.0, dark),
                );
            }
            ui.label(format!(
                "{:.2}  (warm = uncertain)",
                if inverted(stat) { lo } else { hi }
            ));
        }
        ui.separator();
        ui.label("underlines:");
        ui.label(
            egui::RichText::new("red: uncertain point").color(theme::uncertain_underline().color),
        )
        .on_hover_text("SRGen uncertain point");
        ui.label(
            egui::RichText::new("blue: final answer").color(theme::final_answer_stroke().color),
        )
        .on_hover_text("Where the path writes the answer the methods count");
        ui.label(
            egui::RichText::new("green: candidate answer")
                .color(theme::candidate_underline().color),
        )
        .on_hover_text("End of a step stating a candidate answer");
        ui.label(
            egui::RichText::new("orange: reflection marker").color(theme::marker_underline().color),
        )
        .on_hover_text("Reflection marker (wait, actually, ...)");
    });

    if let Some((sp, st)) = app.selected_token.filter(|s| shown.contains(&s.0)) {
        ui.horizontal(|ui| {
            ui.label(format!("selected: path {sp}, token {st}"));
            let sampling = app.live.is_some();
            let l = ui.label("new paths");
            let mut m = app.settings.form.fork_m;
            ui.add(egui::DragValue::new(&mut m).range(1..=64)).labelled_by(l.id);
            if ui
                .add_enabled(!sampling, egui::Button::new(format!("Resample from here x {m}")))
                .on_hover_text("Keep this path's tokens before the selected one and sample new continuations (the prefix is decoded once)")
                .clicked()
            {
                commands.push(AppCommand::Fork {
                    path: sp,
                    turn,
                    token: st,
                    m,
                });
            }
            if m != app.settings.form.fork_m {
                commands.push(AppCommand::SetForkM(m));
            }
        });
    }
    // Long paths are shown a page of tokens at a time, so that no frame lays
    // out thousands of tokens.
    let longest = shown
        .iter()
        .filter_map(|&p| r.run.paths[p].turns.get(turn))
        .map(|t| t.tokens.len())
        .max()
        .unwrap_or(0);
    let pages = longest.div_ceil(TOKEN_PAGE).max(1);
    let page = app.token_page.min(pages - 1);
    let range = page * TOKEN_PAGE..((page + 1) * TOKEN_PAGE).min(longest);
    if pages > 1 {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(page > 0, egui::Button::new("< previous"))
                .on_hover_text("Previous tokens (Page Up)")
                .clicked()
            {
                commands.push(AppCommand::SetTokenPage(page - 1));
            }
            ui.label(format!(
                "tokens {}-{} of {longest}",
                range.start,
                range.end.saturating_sub(1)
            ));
            if ui
                .add_enabled(page + 1 < pages, egui::Button::new("next >"))
                .on_hover_text("Next tokens (Page Down)")
                .clicked()
            {
                commands.push(AppCommand::SetTokenPage(page + 1));
            }
        });
    }
    let col_width = (ui.available_width() / shown.len().max(1) as f32 - 10.0).max(150.0);
    egui::ScrollArea::vertical()
        .id_salt("paths-scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.horizontal_top(|ui| {
                for &p in &shown {
                    let Some(tt) = r.run.paths[p].turns.get(turn) else {
                        continue;
                    };
                    let pa = t.paths.iter().find(|x| x.index == p);
                    ui.vertical(|ui| {
                        ui.set_width(col_width);
                        let verdict = match pa.and_then(|x| x.correct) {
                            Some(true) => " · right",
                            Some(false) => " · wrong",
                            None => "",
                        };
                        ui.strong(format!(
                            "path {p} · answer {}{verdict} · {} tokens · {}",
                            pa.and_then(|x| x.answer.as_deref()).unwrap_or("none"),
                            tt.tokens.len(),
                            if running.contains(&p) {
                                "running"
                            } else if r.run.import.as_ref().is_some_and(|i| i.is_unknown("paths.finish")) {
                                "end unknown"
                            } else {
                                tt.finish.as_str()
                            }
                        ));
                        if let Some(f) = r.run.paths[p].fork {
                            ui.small(format!("forked from path {} at token {}", f.path, f.token));
                        }
                        let uncertain =
                            crate::analysis::scores::uncertain_points(&tt.tokens.entropy);
                        let final_toks = pa.and_then(|x| x.reflection.final_answer_tokens);
                        let (cand, marks): (Vec<usize>, Vec<usize>) =
                            pa.map_or((Vec::new(), Vec::new()), |x| {
                                (
                                    x.reflection.candidates.iter().map(|c| c.token).collect(),
                                    x.reflection.markers.iter().map(|m| m.token).collect(),
                                )
                            });
                        let selected = app.selected_token.filter(|s| s.0 == p).map(|s| s.1);
                        // CNTP: the steps where this path sampled trials.
                        let cntp_steps: Vec<&crate::run::CntpStep> = r
                            .run
                            .decoding
                            .as_ref()
                            .and_then(|d| d.cntp.as_ref())
                            .map(|c| {
                                c.steps
                                    .iter()
                                    .filter(|s| s.path as usize == p && s.turn as usize == turn)
                                    .collect()
                            })
                            .unwrap_or_default();
                        if !cntp_steps.is_empty() {
                            ui.small(format!(
                                "CNTP branched at {} steps (purple underline, italic; hover for the trials)",
                                cntp_steps.len()
                            ));
                        }
                        let mut job = LayoutJob::default();
                        job.wrap.max_width = col_width;
                        let mut starts = Vec::with_capacity(tt.tokens.len());
                        let mut chars = 0usize;
                        let color = ui.visuals().text_color();
                        for i in range.start..range.end.min(tt.tokens.len()) {
                            // No colour where the source gave no value.
                            let background = stat_value(&tt.tokens, i, stat).map_or(
                                Color32::TRANSPARENT,
                                |v| {
                                    let x = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
                                    theme::heat(if inverted(stat) { 1.0 - x } else { x }, dark)
                                },
                            );
                            let mut fmt = TextFormat {
                                font_id: FontId::monospace(theme::TOKEN_FONT_SIZE),
                                color,
                                background,
                                ..Default::default()
                            };
                            if uncertain.binary_search(&i).is_ok() {
                                fmt.underline = theme::uncertain_underline();
                            }
                            if marks.contains(&i) {
                                fmt.underline = theme::marker_underline();
                            }
                            if cand.contains(&i) {
                                fmt.underline = theme::candidate_underline();
                            }
                            if cntp_steps.iter().any(|s| s.token as usize == i) {
                                fmt.underline = theme::cntp_underline();
                                fmt.italics = true;
                            }
                            if final_toks.is_some_and(|(a, b)| (a..=b).contains(&i)) {
                                // The final answer: bold blue text, underlined.
                                fmt.color = theme::final_answer_stroke().color;
                                fmt.underline = theme::final_answer_stroke();
                            }
                            if selected == Some(i) {
                                fmt.background = theme::selected_token_bg();
                                fmt.color = Color32::BLACK;
                            }
                            starts.push(chars);
                            let text = tt.tokens.text[i].as_str();
                            chars += text.chars().count();
                            job.append(text, 0.0, fmt);
                        }
                        let galley = ui.fonts_mut(|f| f.layout_job(job));
                        let resp =
                            ui.add(egui::Label::new(galley.clone()).sense(egui::Sense::click()));
                        if let Some(pos) = resp.hover_pos() {
                            let cursor = galley.cursor_from_pos(pos - resp.rect.min);
                            let ci: usize = cursor.index.into();
                            let tok = range.start
                                + starts.partition_point(|&s| s <= ci).saturating_sub(1);
                            if tok < tt.tokens.len() {
                                let resp = resp.clone();
                                let step = cntp_steps.iter().find(|s| s.token as usize == tok);
                                resp.on_hover_ui_at_pointer(|ui| {
                                    token_tooltip(
                                        ui,
                                        &tt.tokens,
                                        tok,
                                        uncertain.binary_search(&tok).is_ok(),
                                    );
                                    if let Some(s) = step {
                                        cntp_tooltip(ui, s);
                                    }
                                });
                                if ui.input(|i| i.pointer.primary_clicked()) {
                                    commands.push(AppCommand::SelectToken {
                                        path: p,
                                        token: tok,
                                    });
                                }
                            }
                        }
                    });
                }
            });
        });
    app.settings.stat = new_stat;
    for c in commands {
        app.push(c);
    }
}

fn token_tooltip(ui: &mut egui::Ui, t: &Tokens, i: usize, uncertain: bool) {
    ui.strong(format!("token {i}: {:?}", t.text[i].as_str()));
    // Each value as exact as the run's source gave it (methods.md).
    let logprob = t.logprob.get(i).map_or("logprob unavailable".into(), |l| {
        format!("logprob {l:.3} (p = {:.3})", l.exp())
    });
    let entropy = match (
        t.entropy.get(i),
        t.entropy_hi.as_ref().and_then(|h| h.get(i)),
    ) {
        (Some(lo), Some(hi)) => format!("entropy between {lo:.3} and {hi:.3} (top-k bounds)"),
        (Some(h), None) if t.self_certainty.is_absent() => {
            format!("entropy ≥ {h:.3} (top-k lower bound)")
        }
        (Some(h), None) => format!("entropy {h:.3}"),
        (None, _) => "entropy unavailable".into(),
    };
    let sc = t.self_certainty.get(i).map_or(
        "self-certainty unavailable (needs the full distribution)".into(),
        |v| format!("self-certainty {v:.2}"),
    );
    let conf = t
        .confidence
        .get(i)
        .map_or("confidence unavailable".into(), |c| {
            format!("confidence {c:.2}")
        });
    ui.label(format!(
        "{logprob}  ·  {entropy}  ·  {sc}  ·  {conf}{}",
        if uncertain {
            "  ·  uncertain point"
        } else {
            ""
        }
    ));
    egui::Grid::new("alts").striped(true).show(ui, |ui| {
        ui.strong("alternative");
        ui.strong("p");
        ui.strong("logprob");
        ui.end_row();
        let (ids, texts, lps) = (t.top_id.row(i), t.top_text.row(i), t.top_logprob.row(i));
        for k in 0..lps.len() {
            let chosen = ids[k] == t.id[i];
            let label = format!(
                "{:?}{}",
                texts[k].as_str(),
                if chosen { "  (sampled)" } else { "" }
            );
            ui.monospace(label);
            ui.label(format!("{:.3}", lps[k].exp()));
            ui.label(format!("{:.3}", lps[k]));
            ui.end_row();
        }
    });
}

/// The trials CNTP sampled at one step, the kept one marked.
fn cntp_tooltip(ui: &mut egui::Ui, s: &crate::run::CntpStep) {
    ui.separator();
    ui.strong(format!(
        "CNTP: {} trials at entropy {:.3} (lowest perplexity kept)",
        s.trials.len(),
        s.entropy
    ));
    egui::Grid::new("cntp-trials").striped(true).show(ui, |ui| {
        ui.strong("trial");
        ui.strong("perplexity");
        ui.strong("");
        ui.end_row();
        for t in &s.trials {
            let text: String = t.text.chars().take(60).collect();
            ui.monospace(format!("{text:?}"));
            ui.label(format!("{:.3}", t.perplexity));
            ui.label(if t.kept { "kept" } else { "" });
            ui.end_row();
        }
    });
}
