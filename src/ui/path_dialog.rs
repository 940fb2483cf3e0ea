//! File choice without a desktop dialog. rfd asks the XDG desktop portal,
//! which minimal Linux desktops and Xvfb do not run: its dialog then
//! returns at once with nothing, which looks exactly like a cancel. A
//! dialog that answers "nothing" faster than a person can is taken as
//! missing, and this in-app path field (with completion) opens instead,
//! saying why; File > Type a path opens it directly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eframe::egui;

use crate::export::Format;

/// What the chosen path is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    Open,
    OpenFolder,
    SaveRun,
    Export {
        figure: &'static str,
        format: Format,
    },
    Model,
}

impl Purpose {
    fn title(&self) -> String {
        match self {
            Purpose::Open => "Open a run file or trace".into(),
            Purpose::OpenFolder => "Open a folder of runs".into(),
            Purpose::SaveRun => "Save the run as".into(),
            Purpose::Export { figure, format } => {
                format!("Export {figure} as {}", format.extension().to_uppercase())
            }
            Purpose::Model => "Choose a GGUF model".into(),
        }
    }
}

/// What a native dialog gave.
pub enum Native<T> {
    Picked(T),
    Cancelled,
    /// It returned nothing at once: no dialog was shown.
    Unavailable,
}

/// Run a native dialog. `REASONSCOPE_NO_NATIVE_DIALOG` skips it (tests,
/// and users who prefer the path field).
pub fn native<T>(ask: impl FnOnce() -> Option<T>) -> Native<T> {
    if std::env::var_os("REASONSCOPE_NO_NATIVE_DIALOG").is_some() {
        return Native::Unavailable;
    }
    let start = Instant::now();
    match ask() {
        Some(t) => Native::Picked(t),
        // Nobody cancels a dialog within 200 ms of its opening.
        None if start.elapsed() < Duration::from_millis(200) => Native::Unavailable,
        None => Native::Cancelled,
    }
}

/// The in-app dialog's state.
pub struct PathDialog {
    pub purpose: Purpose,
    pub text: String,
    /// Why it opened instead of the desktop's dialog.
    pub note: Option<String>,
    focus: bool,
}

/// What the user did this frame.
pub enum Answer {
    Chosen(PathBuf),
    Cancelled,
}

impl PathDialog {
    pub fn new(purpose: Purpose, start: &Path, note: Option<String>) -> Self {
        PathDialog {
            purpose,
            text: start.display().to_string(),
            note,
            focus: true,
        }
    }

    /// Entries of the typed path's folder that start with its last part.
    pub fn completions(&self) -> Vec<String> {
        let typed = Path::new(&self.text);
        let (dir, prefix) = if self.text.ends_with('/') || self.text.is_empty() {
            (typed.to_path_buf(), String::new())
        } else {
            (
                typed.parent().map(Path::to_path_buf).unwrap_or_default(),
                typed
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        };
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let mut out: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        (name.starts_with(&prefix) && !name.starts_with('.')).then(|| {
                            let p = dir.join(&name);
                            let mut s = p.display().to_string();
                            if p.is_dir() {
                                s.push('/');
                            }
                            s.trim_start_matches("./").to_owned()
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out.truncate(40);
        out
    }

    pub fn ui(&mut self, ctx: &egui::Context) -> Option<Answer> {
        let mut answer = None;
        let mut open = true;
        egui::Window::new(self.purpose.title())
            .collapsible(false)
            .default_width(560.0)
            .open(&mut open)
            .show(ctx, |ui| {
                if let Some(n) = &self.note {
                    ui.colored_label(ui.visuals().warn_fg_color, n);
                }
                let l = ui.label("Path");
                let edit = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.text)
                            .desired_width(f32::INFINITY)
                            .id_salt("path-dialog-text"),
                    )
                    .labelled_by(l.id);
                if self.focus {
                    edit.request_focus();
                    self.focus = false;
                }
                let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                ui.label(egui::RichText::new("matching entries (click to fill in):").weak());
                egui::ScrollArea::vertical()
                    .max_height(220.0)
                    .show(ui, |ui| {
                        for c in self.completions() {
                            if ui.selectable_label(false, &c).clicked() {
                                self.text = c;
                                self.focus = true;
                            }
                        }
                    });
                ui.horizontal(|ui| {
                    if ui.button("OK").clicked() || enter {
                        answer = Some(Answer::Chosen(PathBuf::from(self.text.trim())));
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(Answer::Cancelled);
                    }
                });
            });
        if !open || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            answer = Some(Answer::Cancelled);
        }
        answer
    }
}
