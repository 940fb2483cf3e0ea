//! The eframe/egui desktop app. It draws what `analysis` computes through
//! `charts` descriptions (the same ones `export` writes); state changes go
//! through `AppCommand`s.

pub mod app;
pub mod live;
pub mod path_dialog;
mod plot;
pub mod state;
pub mod theme;
mod views;

pub use app::{App, AppCommand};
pub use live::DriftChoice;
pub use state::{Settings, TokenStat, View};

/// Open the window on `files` (the bundled sample run when empty).
pub fn run_app(files: Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_title("reasonscope")
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "reasonscope",
        options,
        Box::new(move |cc| {
            let settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            Ok(Box::new(App::new(settings, &files)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
