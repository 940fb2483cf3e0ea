//! Paths side by side, token by token. Each path is one text layout (a
//! single galley), so thousands of tokens cost one label, and hovering
//! finds the token under the pointer from the galley.

use eframe::egui::{self, text::LayoutJob, Color32, FontId, TextFormat};

use crate::run::Tokens;
use crate::ui::command::{AppCommand, TOKEN_PAGE};
use crate::ui::context::ViewerContext;
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

pub fn paths_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    let Some(r) = cx.run() else { return };
    let Some(t) = cx.turn_analysis() else { return };
    let run = &r.run;
    let n_paths = run.paths.len();
    let turn = t.turn;
    let running: Vec<usize> = (0..n_paths).filter(|&p| cx.is_running(p, turn)).collect();
    let stat = cx.settings.stat;
    let mut shown = cx.selection.shown_paths.clone();
    shown.retain(|&p| p < n_paths);
    let mut commands = Vec::new();
    let mut new_stat = stat;

    toolbar_ui(ui, run, stat, &mut new_stat, &shown, &mut commands);
    let scale = colour_scale(run, turn, stat);
    legend_ui(ui, run, stat, scale, cx.settings.dark);
    if let Some(sel) = cx.selection.selected_token.filter(|s| shown.contains(&s.0)) {
        fork_ui(
            ui,
            sel,
            turn,
            cx.settings.form.fork_m,
            cx.live.is_some(),
            &mut commands,
        );
    }
    // Long paths are shown a page of tokens at a time, so that no frame lays
    // out thousands of tokens.
    let longest = shown
        .iter()
        .filter_map(|&p| run.paths[p].turns.get(turn))
        .map(|t| t.tokens.len())
        .max()
        .unwrap_or(0);
    let range = page_ui(ui, cx.selection.token_page, longest, &mut commands);
    let frame = Shared {
        run,
        analysis: t,
        turn,
        stat,
        scale,
        dark: cx.settings.dark,
        range,
        width: (ui.available_width() / shown.len().max(1) as f32 - 10.0).max(150.0),
        running: &running,
        selected: cx.selection.selected_token,
    };
    egui::ScrollArea::vertical()
        .id_salt("paths-scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.horizontal_top(|ui| {
                for &p in &shown {
                    column_ui(ui, &frame, p, &mut commands);
                }
            });
        });
    cx.settings.stat = new_stat;
    for c in commands {
        cx.push(c);
    }
}

/// The heading, the statistic that colours tokens, and the shown columns.
fn toolbar_ui(
    ui: &mut egui::Ui,
    run: &crate::run::Run,
    stat: TokenStat,
    new_stat: &mut TokenStat,
    shown: &[usize],
    commands: &mut Vec<AppCommand>,
) {
    let n_paths = run.paths.len();
    ui.horizontal(|ui| {
        ui.heading("Paths");
        let l = ui
            .label("colour by")
            .on_hover_text("Statistic that colours each token (warm = uncertain)");
        egui::ComboBox::from_id_salt("stat")
            .selected_text(stat.label())
            .show_ui(ui, |ui| {
                for s in TokenStat::ALL {
                    match stat_unavailable(run, s) {
                        None => {
                            ui.selectable_value(new_stat, s, s.label());
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
                let mut s = shown.to_vec();
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
            let mut s = shown.to_vec();
            s.push((shown.last().copied().unwrap_or(0) + 1) % n_paths);
            commands.push(AppCommand::SetPaths(s));
        }
        if shown.len() > 1
            && ui
                .small_button("-")
                .on_hover_text("Remove the last column")
                .clicked()
        {
            let mut s = shown.to_vec();
            s.pop();
            commands.push(AppCommand::SetPaths(s));
        }
        ui.label("(J / K: next / previous paths)");
    });
}

/// One colour scale for the whole turn (every path, not only the shown
/// ones), so that a colour means the same value as J/K move: (lo, hi).
fn colour_scale(run: &crate::run::Run, turn: usize, stat: TokenStat) -> (f32, f32) {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for path in &run.paths {
        if let Some(tt) = path.turns.get(turn) {
            for v in (0..tt.tokens.len()).filter_map(|i| stat_value(&tt.tokens, i, stat)) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    if lo.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// The colour scale (or why there is none) and what the underlines mean.
fn legend_ui(
    ui: &mut egui::Ui,
    run: &crate::run::Run,
    stat: TokenStat,
    (lo, hi): (f32, f32),
    dark: bool,
) {
    ui.horizontal(|ui| {
        if let Some(why) = stat_unavailable(run, stat) {
            // No scale for values that do not exist.
            ui.label(
                egui::RichText::new(format!(
                    "tokens not coloured ({} unavailable: {why})",
                    stat.label()
                ))
                .weak(),
            );
            if let Some(t) = run.import.as_ref().and_then(|i| i.tokens.as_deref()) {
                if t == "words" {
                    ui.label(egui::RichText::new("(a token is a word or punctuation mark)").weak());
                }
            }
        } else {
            // Every statistic here is in nats (methods.md).
            ui.label(format!(
                "{} (nats) {:.2}",
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
}

/// The selected token and "Resample from here" (a fork at it).
fn fork_ui(
    ui: &mut egui::Ui,
    (path, token): (usize, usize),
    turn: usize,
    fork_m: u32,
    sampling: bool,
    commands: &mut Vec<AppCommand>,
) {
    ui.horizontal(|ui| {
        ui.label(format!("selected: path {path}, token {token}"));
        let l = ui.label("new paths");
        let mut m = fork_m;
        ui.add(egui::DragValue::new(&mut m).range(1..=64)).labelled_by(l.id);
        if ui
            .add_enabled(!sampling, egui::Button::new(format!("Resample from here x {m}")))
            .on_hover_text("Keep this path's tokens before the selected one and sample new continuations (the prefix is decoded once)")
            .clicked()
        {
            commands.push(AppCommand::Fork { path, turn, token, m });
        }
        if m != fork_m {
            commands.push(AppCommand::SetForkM(m));
        }
    });
}

/// Previous / next page buttons when the longest shown path needs more
/// than one page; the token range of the page shown.
fn page_ui(
    ui: &mut egui::Ui,
    page: usize,
    longest: usize,
    commands: &mut Vec<AppCommand>,
) -> std::ops::Range<usize> {
    let pages = longest.div_ceil(TOKEN_PAGE).max(1);
    let page = page.min(pages - 1);
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
    range
}

/// What every column of a frame shares.
struct Shared<'a> {
    run: &'a crate::run::Run,
    analysis: &'a crate::analysis::TurnAnalysis,
    turn: usize,
    stat: TokenStat,
    scale: (f32, f32),
    dark: bool,
    /// The page of tokens shown.
    range: std::ops::Range<usize>,
    width: f32,
    running: &'a [usize],
    selected: Option<(usize, usize)>,
}

/// Where one path's tokens get underlines and marks.
struct Marks<'a> {
    uncertain: Vec<usize>,
    final_answer: Option<(usize, usize)>,
    candidates: Vec<usize>,
    markers: Vec<usize>,
    /// CNTP: the steps where this path sampled trials.
    cntp: Vec<&'a crate::run::CntpStep>,
    selected: Option<usize>,
}

impl<'a> Marks<'a> {
    fn of(f: &Shared<'a>, p: usize, tokens: &Tokens) -> Self {
        let pa = f.analysis.paths.iter().find(|x| x.index == p);
        let (candidates, markers) = pa.map_or((Vec::new(), Vec::new()), |x| {
            (
                x.reflection.candidates.iter().map(|c| c.token).collect(),
                x.reflection.markers.iter().map(|m| m.token).collect(),
            )
        });
        let cntp = f
            .run
            .decoding
            .as_ref()
            .and_then(|d| d.cntp.as_ref())
            .map(|c| {
                c.steps
                    .iter()
                    .filter(|s| s.path as usize == p && s.turn as usize == f.turn)
                    .collect()
            })
            .unwrap_or_default();
        Marks {
            uncertain: crate::analysis::scores::uncertain_points(&tokens.entropy),
            final_answer: pa.and_then(|x| x.reflection.final_answer_tokens),
            candidates,
            markers,
            cntp,
            selected: f.selected.filter(|s| s.0 == p).map(|s| s.1),
        }
    }

    /// Token `i`'s look: background from the statistic, then underlines
    /// by priority (the final answer and the selection win).
    fn format(&self, f: &Shared, tokens: &Tokens, i: usize, color: Color32) -> TextFormat {
        let (lo, hi) = f.scale;
        // No colour where the source gave no value.
        let background = stat_value(tokens, i, f.stat).map_or(Color32::TRANSPARENT, |v| {
            let x = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
            theme::heat(if inverted(f.stat) { 1.0 - x } else { x }, f.dark)
        });
        let mut fmt = TextFormat {
            font_id: FontId::monospace(theme::TOKEN_FONT_SIZE),
            color,
            background,
            ..Default::default()
        };
        if self.uncertain.binary_search(&i).is_ok() {
            fmt.underline = theme::uncertain_underline();
        }
        if self.markers.contains(&i) {
            fmt.underline = theme::marker_underline();
        }
        if self.candidates.contains(&i) {
            fmt.underline = theme::candidate_underline();
        }
        if self.cntp.iter().any(|s| s.token as usize == i) {
            fmt.underline = theme::cntp_underline();
            fmt.italics = true;
        }
        if self.final_answer.is_some_and(|(a, b)| (a..=b).contains(&i)) {
            // The final answer: bold blue text, underlined.
            fmt.color = theme::final_answer_stroke().color;
            fmt.underline = theme::final_answer_stroke();
        }
        if self.selected == Some(i) {
            fmt.background = theme::selected_token_bg();
            fmt.color = Color32::BLACK;
        }
        fmt
    }
}

/// One path: its header line, then its tokens as one galley; hovering a
/// token shows its statistics, clicking selects it.
fn column_ui(ui: &mut egui::Ui, f: &Shared, p: usize, commands: &mut Vec<AppCommand>) {
    let Some(tt) = f.run.paths[p].turns.get(f.turn) else {
        return;
    };
    ui.vertical(|ui| {
        ui.set_width(f.width);
        column_header_ui(ui, f, p, tt);
        let marks = Marks::of(f, p, &tt.tokens);
        if !marks.cntp.is_empty() {
            ui.label(
                egui::RichText::new(format!(
                    "CNTP branched at {} steps (purple underline, italic; hover for the trials)",
                    marks.cntp.len()
                ))
                .weak(),
            );
        }
        let mut job = LayoutJob::default();
        job.wrap.max_width = f.width;
        let mut starts = Vec::with_capacity(tt.tokens.len());
        let mut chars = 0usize;
        let color = ui.visuals().text_color();
        for i in f.range.start..f.range.end.min(tt.tokens.len()) {
            starts.push(chars);
            let text = tt.tokens.text[i].as_str();
            chars += text.chars().count();
            job.append(text, 0.0, marks.format(f, &tt.tokens, i, color));
        }
        let galley = ui.fonts_mut(|fonts| fonts.layout_job(job));
        let resp = ui.add(egui::Label::new(galley.clone()).sense(egui::Sense::click()));
        let Some(pos) = resp.hover_pos() else { return };
        let ci: usize = galley.cursor_from_pos(pos - resp.rect.min).index.into();
        let tok = f.range.start + starts.partition_point(|&s| s <= ci).saturating_sub(1);
        if tok >= tt.tokens.len() {
            return;
        }
        let step = marks.cntp.iter().find(|s| s.token as usize == tok);
        resp.on_hover_ui_at_pointer(|ui| {
            token_tooltip(
                ui,
                &tt.tokens,
                tok,
                marks.uncertain.binary_search(&tok).is_ok(),
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
    });
}

/// "path 3 · answer 42 · right · 212 tokens · stop", and where it was forked.
fn column_header_ui(ui: &mut egui::Ui, f: &Shared, p: usize, tt: &crate::run::Turn) {
    let pa = f.analysis.paths.iter().find(|x| x.index == p);
    let verdict = match pa.and_then(|x| x.correct) {
        Some(true) => " · right",
        Some(false) => " · wrong",
        None => "",
    };
    ui.strong(format!(
        "path {p} · answer {}{verdict} · {} tokens · {}",
        pa.and_then(|x| x.answer.as_deref()).unwrap_or("none"),
        tt.tokens.len(),
        if f.running.contains(&p) {
            "running"
        } else if f
            .run
            .import
            .as_ref()
            .is_some_and(|i| i.is_unknown("paths.finish"))
        {
            "end unknown"
        } else {
            tt.finish.as_str()
        }
    ));
    if let Some(fk) = f.run.paths[p].fork {
        ui.label(
            egui::RichText::new(format!(
                "forked from path {} at token {}",
                fk.path, fk.token
            ))
            .weak(),
        );
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
