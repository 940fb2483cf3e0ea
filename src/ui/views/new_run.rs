//! The New run panel: model, messages, sampling settings, Start / Stop,
//! progress.

use eframe::egui;

use crate::ui::command::AppCommand;
use crate::ui::context::ViewerContext;
use crate::ui::live::ModelState;
use crate::ui::theme;

/// A numeric field that commits what was typed on Tab, Return or focus
/// loss (and only into itself), clamps to `range` with a visible note, and
/// says when the text is not a number. egui's DragValue hands a typed but
/// uncommitted value to the next field on Tab, so the form uses this.
fn labelled<T>(
    ui: &mut egui::Ui,
    label: &str,
    tip: &str,
    v: &mut T,
    range: std::ops::RangeInclusive<T>,
    _speed: f64,
) where
    T: egui::emath::Numeric + std::str::FromStr + std::fmt::Display,
{
    let l = ui.label(label).on_hover_text(tip);
    let id = ui.make_persistent_id(("num", label));
    let editing: Option<String> = ui.data(|d| d.get_temp(id));
    let mut text = editing.clone().unwrap_or_else(|| v.to_string());
    let resp = ui
        .add(
            egui::TextEdit::singleline(&mut text)
                .id(id.with("edit"))
                .desired_width(90.0),
        )
        .labelled_by(l.id)
        .on_hover_text(tip);
    let note_id = id.with("note");
    // Only once per edit: egui may run a frame's passes twice, and both see
    // the focus lost.
    if resp.lost_focus() && editing.is_some() {
        let note = match text.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => {
                let (lo, hi) = (range.start().to_f64(), range.end().to_f64());
                let c = x.clamp(lo, hi);
                *v = T::from_f64(c);
                (c != x || v.to_f64() != x).then(|| {
                    format!(
                        "{x} is outside {}–{}: set to {}",
                        range.start(),
                        range.end(),
                        v
                    )
                })
            }
            _ if text.trim().is_empty() => None,
            _ => Some(format!("{:?} is not a number: kept {}", text.trim(), v)),
        };
        ui.data_mut(|d| {
            d.remove::<String>(id);
            match note {
                Some(n) => {
                    d.insert_temp(note_id, n);
                }
                None => d.remove::<String>(note_id),
            }
        });
    } else if resp.has_focus() {
        ui.data_mut(|d| d.insert_temp(id, text));
    }
    let note: Option<String> = ui.data(|d| d.get_temp(note_id));
    if let Some(n) = note {
        ui.colored_label(ui.visuals().warn_fg_color, n);
    }
    ui.end_row();
}

pub fn new_run_ui(cx: &mut ViewerContext<'_>, ui: &mut egui::Ui) {
    let sampling = cx.live.is_some();
    ui.horizontal(|ui| {
        ui.heading("New run");
        if ui
            .small_button("x")
            .on_hover_text("Close the panel (Ctrl+N)")
            .clicked()
        {
            cx.push(AppCommand::ToggleNewRun);
        }
    });
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.add_enabled_ui(!sampling, |ui| {
            source_ui(ui, cx);
            let form = &mut cx.settings.form;
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
            if ui.add_enabled(!sampling, egui::Button::new("Start")).on_hover_text("Sample the paths (the model stays loaded; Ctrl+Enter)").clicked() {
                cx.push(AppCommand::StartSample);
            }
            if ui.add_enabled(sampling, egui::Button::new("Stop")).on_hover_text("Stop now; every sampled token is kept (Esc)").clicked() {
                cx.push(AppCommand::StopSample);
            }
            if ui.add_enabled(!sampling && !cx.runs.is_empty(), egui::Button::new("Re-run settings")).on_hover_text("Load the open run's settings into the form, to re-run it with changes and compare").clicked() {
                cx.push(AppCommand::RerunActive);
            }
        });
        match &cx.model {
            ModelState::None => {
                ui.label(if cx.settings.form.use_server { "The server is reached on the first Start." } else { "The model loads on the first Start." });
            }
            ModelState::Loading { backend, progress } => {
                let what = crate::ui::live::backend_label(backend);
                ui.add(egui::ProgressBar::new(*progress).text(match backend {
                    crate::engine::Backend::Local(_) => format!("loading {what}"),
                    crate::engine::Backend::Server(_) => format!("connecting to {what}"),
                }));
            }
            ModelState::Loaded {
                name,
                backend,
                plain_prompt,
                device,
            } => {
                ui.label(match backend {
                    crate::engine::Backend::Local(_) => format!("model loaded: {name}"),
                    crate::engine::Backend::Server(_) => format!("server ready: {name} at {}", crate::ui::live::backend_label(backend)),
                });
                if !device.is_empty() {
                    ui.label(egui::RichText::new(device.as_str()).small())
                        .on_hover_text("Where llama.cpp runs the model: the GPU backend this binary was built with and the devices it found");
                }
                if *plain_prompt {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "This GGUF has no chat template: prompts use a plain User:/Assistant: layout, which an instruction-tuned model may not follow. The run records it.",
                    );
                }
            }
            ModelState::Failed { error, backend } => {
                ui.colored_label(theme::error_color(cx.settings.dark), match backend {
                    crate::engine::Backend::Local(_) => format!("model failed to load: {error}"),
                    crate::engine::Backend::Server(_) => format!("server not usable: {error}"),
                });
            }
        }
        if let Some(l) = &cx.live {
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

/// A local GGUF model: path, Browse, default, recent.
/// Returns whether Browse was clicked (the app opens the dialog).
fn local_model_ui(ui: &mut egui::Ui, form: &mut crate::ui::live::RunForm) -> bool {
    let mut browse = false;
    let l = ui.label("Model (GGUF)");
    let mut model = form.model.display().to_string();
    if ui
        .add(egui::TextEdit::singleline(&mut model).desired_width(f32::INFINITY))
        .labelled_by(l.id)
        .on_hover_text("Path of the GGUF model file")
        .changed()
    {
        form.model = model.into();
    }
    ui.horizontal(|ui| {
        if ui
            .button("Browse...")
            .on_hover_text("Choose a GGUF file")
            .clicked()
        {
            browse = true;
        }
        if ui
            .button("Default model")
            .on_hover_text("SmolLM2-135M-Instruct (make model)")
            .clicked()
        {
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
    browse
}

/// Where the paths are sampled: a local GGUF model or a server.
fn source_ui(ui: &mut egui::Ui, cx: &mut ViewerContext<'_>) {
    let form = &mut cx.settings.form;
    ui.horizontal(|ui| {
        ui.selectable_value(&mut form.use_server, false, "Local GGUF")
            .on_hover_text("Sample in this process with llama.cpp: every statistic exact");
        ui.selectable_value(&mut form.use_server, true, "Server (OpenAI API)")
            .on_hover_text("Sample through llama-server, vLLM, SGLang or another OpenAI-compatible server: entropy becomes a bound, self-certainty is unavailable");
    });
    if !form.use_server {
        if local_model_ui(ui, form) {
            cx.push(AppCommand::BrowseModel);
        }
        return;
    }
    let l = ui.label("Server URL (base, e.g. http://127.0.0.1:8080/v1)");
    let r = ui
        .add(egui::TextEdit::singleline(&mut form.server_url).desired_width(f32::INFINITY))
        .labelled_by(l.id)
        .on_hover_text("The API's base URL; its model list is fetched when you leave the field");
    let fetch_now = r.lost_focus();
    ui.horizontal(|ui| {
        let l = ui.label("API key variable");
        ui.add(
            egui::TextEdit::singleline(&mut form.api_key_env)
                .desired_width(140.0)
                .hint_text("none"),
        )
        .labelled_by(l.id)
        .on_hover_text(
            "Name of an environment variable that holds the API key (the key is never stored)",
        );
        if !form.recent_servers.is_empty() {
            ui.menu_button("Recent", |ui| {
                for u in form.recent_servers.clone() {
                    if ui.button(&u).clicked() {
                        form.server_url = u;
                        ui.close();
                    }
                }
            });
        }
    });
    let spec = form.server_spec();
    let refetch = ui
        .button("Fetch models")
        .on_hover_text("Ask the server which models it serves")
        .clicked();
    if refetch {
        cx.server_models.url.clear();
    }
    if (fetch_now || refetch || cx.server_models.url.is_empty()) && !spec.url.trim().is_empty() {
        let ctx = ui.ctx().clone();
        cx.server_models.fetch(&spec, &ctx);
    }
    let form = &mut cx.settings.form;
    match cx.server_models.get() {
        None => {
            ui.label("asking the server for its models...");
        }
        Some(Err(e)) => {
            ui.colored_label(theme::error_color(cx.settings.dark), e);
        }
        Some(Ok(models)) => {
            if form.server_model.is_empty() || !models.contains(&form.server_model) {
                if let [one] = models.as_slice() {
                    form.server_model = one.clone();
                }
            }
            let l = ui.label("Served model");
            egui::ComboBox::from_id_salt("server-model")
                .selected_text(if form.server_model.is_empty() {
                    "choose a model"
                } else {
                    form.server_model.as_str()
                })
                .show_ui(ui, |ui| {
                    for m in models {
                        ui.selectable_value(&mut form.server_model, m.clone(), m);
                    }
                })
                .response
                .labelled_by(l.id);
        }
    }
    ui.label(egui::RichText::new("Over a server: entropy is a lower bound (with an upper bound when the vocabulary size is known), confidence is exact from the top 20, self-certainty and Borda are unavailable; fork, drift and decoding-time methods need a local model.").weak());
}
