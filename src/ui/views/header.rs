//! The header every view of a run starts with: the question (expandable,
//! with the system message and, in multi-turn runs, every turn's message),
//! the gold answer, the model and the run's settings, and what the run
//! cannot say (a plain prompt layout, fields an import did not hold).

use eframe::egui;

use crate::run::{Role, Run};
use crate::ui::context::ViewerContext;

/// "SmolLM2 · cpu · N 16 · T 0.7 · top-k 40 · …" in one line.
pub fn settings_line(run: &Run) -> String {
    let s = &run.sampling;
    let mut parts = vec![
        format!("{} ({})", run.model.name, run.model.backend),
        format!("N {}", run.paths.len()),
        format!("T {}", run.shown("sampling.temperature", s.temperature)),
        format!("top-k {}", run.shown("sampling.top_k", s.top_k)),
        format!("top-p {}", run.shown("sampling.top_p", s.top_p)),
        format!("min-p {}", run.shown("sampling.min_p", s.min_p)),
        format!(
            "max {} tokens",
            run.shown("sampling.max_tokens", s.max_tokens)
        ),
    ];
    if s.method != "plain" {
        parts.push(format!("method {}", s.method));
    }
    parts.join(" · ")
}

/// What the reader must know before trusting the views, if anything.
pub fn caveats(run: &Run) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = run.prompt.as_ref().filter(|p| p.template == "plain") {
        out.push(match &p.note {
            Some(n) => format!("plain prompt layout, not the model's chat template: {n}"),
            None => "plain prompt layout, not the model's chat template".into(),
        });
    }
    if let Some(i) = &run.import {
        if i.from != "synthetic" {
            let mut s = format!("imported from a {} file ({})", i.from, i.file);
            if !i.unknown.is_empty() {
                s.push_str(&format!("; not in the file: {}", i.unknown.join(", ")));
            }
            out.push(s);
        }
    }
    out
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let mut out: String = line.chars().take(max).collect();
    if line.chars().count() > max || s.trim().lines().count() > 1 {
        out.push_str(" …");
    }
    out
}

pub fn header_ui(cx: &ViewerContext<'_>, ui: &mut egui::Ui) {
    let Some(r) = cx.run() else { return };
    let run = &r.run;
    let turn = cx.turn;
    let question = run.user_message(turn).unwrap_or_default();
    let n_turns = run.n_turns();
    let title = if n_turns > 1 {
        format!(
            "Turn {} of {n_turns}: {}",
            turn + 1,
            first_line(&question, 140)
        )
    } else {
        format!("Question: {}", first_line(&question, 140))
    };
    egui::CollapsingHeader::new(title)
        .id_salt(("run-header", cx.active))
        .show(ui, |ui| {
            for m in run.conversation.iter().filter(|m| m.role == Role::System) {
                ui.label(egui::RichText::new(format!("system: {}", m.content)).weak());
            }
            for t in 0..n_turns {
                let text = run.user_message(t).unwrap_or_default();
                let label = if n_turns > 1 {
                    format!("turn {}: {text}", t + 1)
                } else {
                    text
                };
                if t == turn {
                    ui.label(egui::RichText::new(label).strong());
                } else {
                    ui.label(label);
                }
                if let Some(g) = run.gold_for(t) {
                    ui.label(egui::RichText::new(format!("gold: {g}")).weak());
                }
            }
        });
    ui.horizontal_wrapped(|ui| {
        match run.gold_for(turn) {
            Some(g) => ui.strong(format!("gold {g}")),
            None => ui.weak("no gold answer"),
        };
        ui.separator();
        ui.label(settings_line(run));
        for c in caveats(run) {
            ui.separator();
            ui.colored_label(ui.visuals().warn_fg_color, c);
        }
    });
    ui.separator();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_settings_show_as_unknown_and_plain_layouts_are_said() {
        let mut run = crate::run::synthetic_run(2, 4, 1);
        assert!(settings_line(&run).contains("T 0.7"));
        assert!(
            caveats(&run).is_empty(),
            "a synthetic run has nothing to declare"
        );
        let imp = run.import.as_mut().unwrap();
        imp.from = "openai-chat".into();
        imp.unknown = vec!["sampling.temperature".into(), "prompt".into()];
        run.prompt = Some(crate::run::PromptInfo {
            template: "plain".into(),
            note: Some("the GGUF has no chat template".into()),
            n_tokens: 3,
        });
        assert!(settings_line(&run).contains("T ?"));
        let c = caveats(&run);
        assert!(
            c[0].contains("no chat template")
                && c[1].contains("not in the file: sampling.temperature, prompt")
        );
    }
}
