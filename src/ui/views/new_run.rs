//! The New run panel: model, messages, sampling settings, Start / Stop,
//! progress.

use eframe::egui;

use crate::ui::app::{App, AppCommand};
use crate::ui::live::ModelState;
use crate::ui::theme;

fn labelled<T: egui::emath::Numeric>(
    ui: &mut egui::Ui,
    label: &str,
    tip: &str,
    v: &mut T,
    range: std::ops::RangeInclusive<T>,
    speed: f64,
) {
    let l = ui.label(label).on_hover_text(tip);
    ui.add(egui::DragValue::new(v).range(range).speed(speed))
        .labelled_by(l.id)
        .on_hover_text(tip);
    ui.end_row();
}

pub fn new_run_ui(app: &mut App, ui: &mut egui::Ui) {
    let sampling = app.live.is_some();
    ui.horizontal(|ui| {
        ui.heading("New run");
        if ui
            .small_button("x")
            .on_hover_text("Close the panel (Ctrl+N)")
            .clicked()
        {
            app.push(AppCommand::ToggleNewRun);
        }
    });
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.add_enabled_ui(!sampling, |ui| {
            let form = &mut app.settings.form;
            let l = ui.label("Model (GGUF)");
            let mut model = form.model.display().to_string();
            if ui.add(egui::TextEdit::singleline(&mut model).desired_width(f32::INFINITY)).labelled_by(l.id).on_hover_text("Path of the GGUF model file").changed() {
                form.model = model.into();
            }
            ui.horizontal(|ui| {
                if ui.button("Browse...").on_hover_text("Choose a GGUF file").clicked() {
                    if let Some(p) = rfd::FileDialog::new().add_filter("GGUF model", &["gguf"]).pick_file() {
                        form.model = p;
                    }
                }
                if ui.button("Default model").on_hover_text("SmolLM2-135M-Instruct (make model)").clicked() {
                    form.model = crate::cli::default_model_path();
                }
                if !form.recent_models.is_empty() {
                    ui.menu_button("Recent", |ui| {
                        for p in form.recent_models.clone() {
                            if ui.button(p.display().to_string()).clicked() {
                                form.model = p;
                                ui.close();
                            }
                        }
                    });
                }
            });
            let l = ui.label("System message (optional)");
            ui.add(egui::TextEdit::multiline(&mut form.system).desired_rows(2).desired_width(f32::INFINITY)).labelled_by(l.id);
            let l = ui.label(if form.follow_ups.is_empty() { "User message" } else { "User message (turn 1)" });
            ui.add(egui::TextEdit::multiline(&mut form.user).desired_rows(4).desired_width(f32::INFINITY)).labelled_by(l.id);
            follow_ups_ui(ui, form);
            egui::Grid::new("sampling-form").num_columns(2).show(ui, |ui| {
                labelled(ui, "Paths (N)", "Number of paths sampled in one batch", &mut form.n_paths, 1..=256, 0.2);
                labelled(ui, "Max tokens", "Longest response per path", &mut form.max_tokens, 1..=8192, 4.0);
                labelled(ui, "Temperature", "0 = greedy", &mut form.temperature, 0.0..=2.0, 0.01);
                labelled(ui, "Top-k", "0 turns top-k off", &mut form.top_k, 0..=1000, 1.0);
                labelled(ui, "Top-p", "1 turns top-p off", &mut form.top_p, 0.0..=1.0, 0.01);
                labelled(ui, "Min-p", "0 turns min-p off", &mut form.min_p, 0.0..=1.0, 0.01);
                labelled(ui, "Seed", "Path i uses seed + i", &mut form.seed, 0..=u64::MAX, 1.0);
                labelled(ui, "Alternatives", "Top-k alternatives stored per token", &mut form.top_logprobs, 1..=100, 0.2);
                let l = ui.label("Method").on_hover_text("Decoding-time method (one turn only): plain sampling, CNTP (trials at uncertain steps), FFS (stop all when the first finishes), DeepConf online (warm-up paths set a confidence threshold, later paths stop below it)");
                egui::ComboBox::from_id_salt("method")
                    .selected_text(form.method.clone())
                    .show_ui(ui, |ui| {
                        for m in ["plain", "cntp", "ffs", "deepconf-online"] {
                            ui.selectable_value(&mut form.method, m.to_owned(), m);
                        }
                    })
                    .response
                    .labelled_by(l.id);
                ui.end_row();
                if form.method == "deepconf-online" {
                    labelled(ui, "Warm-up paths", "Paths sampled fully first; they set the threshold (10th percentile of their lowest group confidence)", &mut form.warmup, 1..=256, 0.2);
                    labelled(ui, "Window", "Tokens in the running confidence window", &mut form.window, 1..=8192, 4.0);
                }
                let l = ui.label("Gold answer").on_hover_text("Optional: the expected final answer");
                ui.add(egui::TextEdit::singleline(&mut form.gold).desired_width(120.0)).labelled_by(l.id);
                ui.end_row();
            });
        });
        ui.horizontal(|ui| {
            if ui.add_enabled(!sampling, egui::Button::new("Start")).on_hover_text("Sample the paths (the model stays loaded)").clicked() {
                app.push(AppCommand::StartSample);
            }
            if ui.add_enabled(sampling, egui::Button::new("Stop")).on_hover_text("Stop now; every sampled token is kept (Esc)").clicked() {
                app.push(AppCommand::StopSample);
            }
            if ui.add_enabled(!sampling && !app.runs.is_empty(), egui::Button::new("Re-run settings")).on_hover_text("Load the open run's settings into the form, to re-run it with changes and compare").clicked() {
                app.push(AppCommand::RerunActive);
            }
        });
        match &app.model {
            ModelState::None => {
                ui.label("The model loads on the first Start.");
            }
            ModelState::Loading { path, progress } => {
                ui.add(egui::ProgressBar::new(*progress).text(format!("loading {}", crate::ui::live::file_label(path))));
            }
            ModelState::Loaded { name, .. } => {
                ui.label(format!("model loaded: {name}"));
            }
            ModelState::Failed { error, .. } => {
                ui.colored_label(theme::error_color(app.settings.dark), format!("model failed to load: {error}"));
            }
        }
        if let Some(l) = &app.live {
            let frac = l.live.finished_paths as f32 / l.total_paths.max(1) as f32;
            let eta = l.eta_secs().map_or(String::new(), |s| format!(" · ETA <= {s:.0} s"));
            ui.add(egui::ProgressBar::new(frac).text(format!(
                "{}/{} paths · {} tokens · {:.1} tokens/s{eta}",
                l.live.finished_paths,
                l.total_paths,
                l.live.tokens,
                l.live.rate()
            )));
            if l.stopping {
                ui.label("stopping...");
            }
        }
    });
}

/// Later user messages (one per turn), each with an optional gold answer,
/// and the drift reference measured against.
fn follow_ups_ui(ui: &mut egui::Ui, form: &mut crate::ui::live::RunForm) {
    use crate::ui::live::{DriftChoice, FollowUp, DEFAULT_FOLLOW_UP};
    let mut remove = None;
    for (k, f) in form.follow_ups.iter_mut().enumerate() {
        ui.horizontal(|ui| {
            ui.label(format!("User message (turn {})", k + 2));
            if ui
                .small_button("x")
                .on_hover_text("Remove this message")
                .clicked()
            {
                remove = Some(k);
            }
        });
        ui.add(
            egui::TextEdit::multiline(&mut f.message)
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        );
        ui.horizontal(|ui| {
            let l = ui.label("gold");
            ui.add(egui::TextEdit::singleline(&mut f.gold).desired_width(120.0))
                .labelled_by(l.id)
                .on_hover_text("Optional: the expected final answer of this turn");
        });
    }
    if let Some(k) = remove {
        form.follow_ups.remove(k);
    }
    if ui
        .button("+ message")
        .on_hover_text(
            "Add a user message: every path answers it with its own earlier answers in context",
        )
        .clicked()
    {
        form.follow_ups.push(FollowUp {
            message: DEFAULT_FOLLOW_UP.into(),
            gold: form.gold.clone(),
        });
    }
    if !form.follow_ups.is_empty() {
        ui.horizontal(|ui| {
            let l = ui.label("Drift reference").on_hover_text(
                "kl_ref = KL(p_context || p_reference) for every token of turns 2+, decoded in the same batches",
            );
            egui::ComboBox::from_id_salt("drift-ref")
                .selected_text(form.drift.label())
                .show_ui(ui, |ui| {
                    for c in DriftChoice::ALL {
                        ui.selectable_value(&mut form.drift, c, c.label());
                    }
                })
                .response
                .labelled_by(l.id);
        });
        if form.drift == DriftChoice::Reminder {
            let l = ui.label("Reminder (inserted before each later user message)");
            ui.add(
                egui::TextEdit::multiline(&mut form.reminder)
                    .desired_rows(2)
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(l.id);
        }
    }
}
