//! The window's chrome: menu, tabs, status bar, message log, help,
//! dialogs, keyboard shortcuts, dropped files and screenshots.

use super::*;

impl App {
    pub(super) fn guard_close(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested()) && self.live.is_some() && !self.allow_close
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm_close = true;
        }
    }

    pub(super) fn dialogs_ui(&mut self, ctx: &egui::Context) {
        if let Some(p) = self.recover.clone() {
            egui::Window::new("Unfinished run")
                .collapsible(false)
                .resizable(false)
                .show(ctx, |ui| {
                    ui.label(format!(
                        "A live run did not finish last time; its autosave is {}.",
                        p.display()
                    ));
                    ui.horizontal(|ui| {
                        if ui.button("Reopen it").clicked() {
                            self.commands.push(AppCommand::Recover(true));
                        }
                        if ui
                            .button("Not now")
                            .on_hover_text("Keep the file in the runs folder, do not open it")
                            .clicked()
                        {
                            self.commands.push(AppCommand::Recover(false));
                        }
                    });
                });
        }
        if self.confirm_close {
            egui::Window::new("Sampling is running").collapsible(false).resizable(false).show(ctx, |ui| {
                ui.label("Stop sampling and quit? Every token sampled so far is saved in the runs folder.");
                ui.horizontal(|ui| {
                    if ui.button("Stop and quit").clicked() {
                        self.commands.push(AppCommand::ConfirmClose(true));
                    }
                    if ui.button("Keep sampling").clicked() {
                        self.commands.push(AppCommand::ConfirmClose(false));
                    }
                });
            });
        }
    }

    pub(super) fn shortcuts(&mut self, ctx: &egui::Context) {
        let cmd = Modifiers::COMMAND;
        let mut pushed = Vec::new();
        ctx.input_mut(|i| {
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::O)) {
                pushed.push(AppCommand::OpenDialog);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::T)) {
                pushed.push(AppCommand::ToggleTheme);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::L)) {
                pushed.push(AppCommand::TypePath);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd | Modifiers::SHIFT, Key::S)) {
                pushed.push(AppCommand::SaveRunDialog);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::E)) {
                match views::figure_of(self.settings.view) {
                    Some(f) => pushed.push(AppCommand::ExportDialog {
                        figure: f,
                        format: Format::Png,
                    }),
                    None => pushed.push(AppCommand::Notice(format!(
                        "Ctrl+E: the {} view has no chart to export; its content is text (the other views' charts export to PNG, SVG and CSV)",
                        self.settings.view.label()
                    ))),
                }
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::N)) {
                pushed.push(AppCommand::ToggleNewRun);
            }
            // Start from the keyboard (consumed before the widgets see it).
            if self.panel_open
                && self.live.is_none()
                && i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::Enter))
            {
                pushed.push(AppCommand::StartSample);
            }
            if i.consume_key(Modifiers::NONE, Key::Escape) && self.live.is_some() {
                pushed.push(AppCommand::StopSample);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(cmd, Key::W)) {
                pushed.push(AppCommand::Close(self.active));
            }
            if i.consume_key(Modifiers::NONE, Key::F1) {
                self.help_open = !self.help_open;
            }
        });
        // Plain keys only when no text field has focus.
        if !ctx.egui_wants_keyboard_input() {
            ctx.input(|i| {
                let digits = [
                    Key::Num1,
                    Key::Num2,
                    Key::Num3,
                    Key::Num4,
                    Key::Num5,
                    Key::Num6,
                    Key::Num7,
                    Key::Num8,
                    Key::Num9,
                ];
                for (k, v) in digits.iter().zip(View::ALL) {
                    if i.key_pressed(*k) && i.modifiers.is_none() {
                        pushed.push(AppCommand::SetView(v));
                    }
                }
                if i.key_pressed(Key::PageDown) {
                    pushed.push(AppCommand::SetTokenPage(self.selection.token_page + 1));
                }
                if i.key_pressed(Key::PageUp) {
                    pushed.push(AppCommand::SetTokenPage(
                        self.selection.token_page.saturating_sub(1),
                    ));
                }
                if i.key_pressed(Key::J) || i.key_pressed(Key::ArrowDown) && i.modifiers.alt {
                    pushed.push(AppCommand::NextPath);
                }
                if i.key_pressed(Key::K) || i.key_pressed(Key::ArrowUp) && i.modifiers.alt {
                    pushed.push(AppCommand::PrevPath);
                }
            });
        }
        self.commands.extend(pushed);
    }

    pub(super) fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        for p in dropped {
            self.push(AppCommand::Open(p));
        }
    }

    pub(super) fn menu_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui
                    .button("Open...  (Ctrl+O)")
                    .on_hover_text("Open run files (.json, .json.gz) or other tools' traces (OpenAI-style responses, llama-server, SGLang, lm-eval logs, jsonl): they are imported")
                    .clicked()
                {
                    self.push(AppCommand::OpenDialog);
                    ui.close();
                }
                if ui
                    .button("Open folder...")
                    .on_hover_text("Open every run in a folder, e.g. the output of `reasonscope suite` (Suite view)")
                    .clicked()
                {
                    self.push(AppCommand::OpenFolderDialog);
                    ui.close();
                }
                if ui
                    .button("Type a path...  (Ctrl+L)")
                    .on_hover_text("Open a file or folder by its path, with completion (also used when no desktop file dialog is available)")
                    .clicked()
                {
                    self.push(AppCommand::TypePath);
                    ui.close();
                }
                if ui
                    .add_enabled(!self.runs.is_empty(), egui::Button::new("Save run as...  (Ctrl+Shift+S)"))
                    .on_hover_text("Write the active run as a reasonscope run file (for an imported trace: keeps the conversion)")
                    .clicked()
                {
                    self.push(AppCommand::SaveRunDialog);
                    ui.close();
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label("(none yet)");
                    }
                    for p in self.settings.recent.clone() {
                        if ui.button(p.display().to_string()).clicked() {
                            self.push(AppCommand::Open(p));
                            ui.close();
                        }
                    }
                });
                if ui
                    .button("Open bundled sample run")
                    .on_hover_text("The 64-path sample shipped with reasonscope")
                    .clicked()
                {
                    self.open_bytes(DEFAULT_RUN.0, DEFAULT_RUN.1);
                    ui.close();
                }
                ui.separator();
                if let Some(f) = views::figure_of(self.settings.view) {
                    for fmt in [Format::Png, Format::Svg, Format::Csv] {
                        if ui
                            .button(format!(
                                "Export this view as {}",
                                fmt.extension().to_uppercase()
                            ))
                            .clicked()
                        {
                            self.push(AppCommand::ExportDialog {
                                figure: f,
                                format: fmt,
                            });
                            ui.close();
                        }
                    }
                    ui.separator();
                }
                if ui
                    .add_enabled(
                        !self.runs.is_empty(),
                        egui::Button::new("Close run  (Ctrl+W)"),
                    )
                    .clicked()
                {
                    self.push(AppCommand::Close(self.active));
                    ui.close();
                }
            });
            ui.menu_button("View", |ui| {
                for (k, v) in View::ALL.into_iter().enumerate() {
                    if ui
                        .selectable_label(
                            self.settings.view == v,
                            format!("{}  ({})", v.label(), k + 1),
                        )
                        .on_hover_text(v.tooltip())
                        .clicked()
                    {
                        self.push(AppCommand::SetView(v));
                        ui.close();
                    }
                }
                ui.separator();
                if ui
                    .button(if self.settings.dark {
                        "Light theme  (Ctrl+T)"
                    } else {
                        "Dark theme  (Ctrl+T)"
                    })
                    .clicked()
                {
                    self.push(AppCommand::ToggleTheme);
                    ui.close();
                }
            });
            if ui
                .button("New run")
                .on_hover_text("Sample a prompt with a local model (Ctrl+N)")
                .clicked()
            {
                self.push(AppCommand::ToggleNewRun);
            }
            if ui
                .button("Help")
                .on_hover_text("Keyboard shortcuts (F1)")
                .clicked()
            {
                self.help_open = !self.help_open;
            }
        });
    }

    pub(super) fn tabs_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for (i, r) in self.runs.iter().enumerate() {
                let resp = ui
                    .selectable_label(i == self.active, &r.name)
                    .on_hover_text(
                        r.path
                            .as_ref()
                            .map_or("bundled".into(), |p| p.display().to_string()),
                    );
                if resp.clicked() {
                    self.commands.push(AppCommand::Activate(i));
                }
                if ui
                    .small_button("x")
                    .on_hover_text("Close this run")
                    .clicked()
                {
                    self.commands.push(AppCommand::Close(i));
                }
            }
        });
        ui.horizontal(|ui| {
            for (k, v) in View::ALL.into_iter().enumerate() {
                if ui
                    .selectable_label(self.settings.view == v, v.label())
                    .on_hover_text(format!("{} ({})", v.tooltip(), k + 1))
                    .clicked()
                {
                    self.commands.push(AppCommand::SetView(v));
                }
            }
            let n_turns = self.run().map_or(0, |r| r.turns.len());
            if n_turns > 1 {
                ui.separator();
                ui.label("turn");
                for t in 0..n_turns {
                    if ui
                        .selectable_label(self.turn == t, (t + 1).to_string())
                        .clicked()
                    {
                        self.commands.push(AppCommand::SetTurn(t));
                    }
                }
            }
        });
    }

    pub(super) fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let [p] = self.opening.as_slice() {
                ui.add(egui::Spinner::new());
                match self.import_progress.get(p) {
                    Some(&f) => {
                        ui.add(egui::ProgressBar::new(f).desired_width(200.0).text(format!(
                            "reading {}: {:.0}%",
                            crate::ui::live::file_label(p),
                            f * 100.0
                        )));
                    }
                    None => {
                        ui.label(format!("opening {}", crate::ui::live::file_label(p)));
                    }
                }
                ui.separator();
            } else if let Some((done, total)) = self.opening_progress() {
                ui.add(egui::Spinner::new());
                ui.add(
                    egui::ProgressBar::new(done as f32 / total as f32)
                        .desired_width(160.0)
                        .text(format!("opening runs: {done} of {total}")),
                );
                ui.separator();
            }
            if let Some(l) = &self.live {
                // No spinner: it asks for a frame every frame, and a frame
                // on a busy CPU is time taken from the engine; the counts
                // below change with every repaint the tokens ask for.
                ui.label(format!(
                    "sampling {}/{} paths, {} tokens, {:.1} tokens/s",
                    l.live.finished_paths,
                    l.total_paths,
                    l.live.tokens,
                    l.live.rate()
                ));
                ui.separator();
            }
            if let Some(r) = self.run() {
                let tokens = r.run.total_tokens();
                ui.label(format!(
                    "{} · {} · {} paths · {} tokens",
                    r.name,
                    r.run.model.name,
                    r.run.paths.len(),
                    tokens
                ));
                if let Some(g) = r.run.gold_for(self.turn) {
                    ui.label(format!("· gold {g}"));
                }
            } else {
                ui.label("no run open: File > Open (Ctrl+O), or drop a run file here");
            }
            if let Some(m) = &self.message {
                ui.separator();
                let color = if m.error {
                    theme::error_color(self.settings.dark)
                } else {
                    ui.visuals().text_color()
                };
                ui.colored_label(color, &m.text);
                if ui.small_button("dismiss").clicked() {
                    self.commands.push(AppCommand::ClearMessage);
                }
            }
            if !self.messages.is_empty() {
                let errors = self.messages.iter().filter(|m| m.error).count();
                let label = if errors > 0 {
                    format!("log ({}, {errors} errors)", self.messages.len())
                } else {
                    format!("log ({})", self.messages.len())
                };
                if ui
                    .small_button(label)
                    .on_hover_text("Every message of this session")
                    .clicked()
                {
                    self.log_open = !self.log_open;
                }
            }
        });
    }

    pub(super) fn log_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.log_open;
        let dark = self.settings.dark;
        egui::Window::new("Messages")
            .open(&mut open)
            .default_width(640.0)
            .show(ctx, |ui| {
                egui::ScrollArea::vertical()
                    .max_height(400.0)
                    .stick_to_bottom(true)
                    .show(ui, |ui| {
                        for m in &self.messages {
                            ui.horizontal_wrapped(|ui| {
                                ui.monospace(&m.at);
                                if m.error {
                                    ui.colored_label(theme::error_color(dark), &m.text);
                                } else {
                                    ui.label(&m.text);
                                }
                            });
                        }
                    });
            });
        self.log_open = open;
    }

    pub(super) fn help_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.help_open;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .show(ctx, |ui| {
                egui::Grid::new("keys").striped(true).show(ui, |ui| {
                    for (k, d) in [
                        ("Ctrl+O", "open run files or traces"),
                        ("Ctrl+L", "type a path to open (with completion)"),
                        ("Ctrl+Shift+S", "save the run as a run file"),
                        ("Ctrl+W", "close the current run"),
                        ("Ctrl+E", "export the current view as PNG"),
                        ("Ctrl+T", "light / dark theme"),
                        ("Ctrl+N", "New run panel"),
                        ("Ctrl+Enter", "start sampling (New run panel open)"),
                        ("Esc", "stop the live run"),
                        ("1 to 9", "switch view"),
                        ("J / K", "next / previous path (Paths view)"),
                        ("F1", "this help"),
                    ] {
                        ui.monospace(k);
                        ui.label(d);
                        ui.end_row();
                    }
                });
            });
        self.help_open = open;
    }

    pub(super) fn screenshot(&mut self, ctx: &egui::Context) {
        let Some((path, frames)) = self.screenshot.as_mut() else {
            return;
        };
        *frames += 1;
        if *frames == 5 {
            let path = path.clone();
            ctx.request_screenshot(move |image| {
                let size = image.size;
                let mut data = Vec::with_capacity(size[0] * size[1] * 4);
                for p in &image.pixels {
                    data.extend_from_slice(&[p.r(), p.g(), p.b(), 255]);
                }
                let png = resvg::tiny_skia::IntSize::from_wh(size[0] as u32, size[1] as u32)
                    .and_then(|s| resvg::tiny_skia::Pixmap::from_vec(data, s))
                    .and_then(|p| p.encode_png().ok());
                match png {
                    Some(bytes) => {
                        if let Err(e) = std::fs::write(&path, bytes) {
                            eprintln!("cannot write screenshot {}: {e}", path.display());
                        }
                    }
                    None => eprintln!("cannot encode the screenshot"),
                }
                std::process::exit(0);
            });
        }
        ctx.request_repaint();
    }
}
