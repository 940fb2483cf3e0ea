//! The eframe/egui desktop app. It draws what `analysis` computes through
//! `charts` descriptions (the same ones `export` writes); state changes go
//! through `AppCommand`s. Views see the app only through a
//! `context::ViewerContext`.

pub mod app;
pub mod command;
mod context;
mod figure_cache;
mod jobs;
pub mod live;
pub mod path_dialog;
mod plot;
pub mod state;
pub mod theme;
mod views;

pub use app::App;
pub use command::AppCommand;
pub use live::DriftChoice;
pub use state::{Settings, TokenStat, View};

/// The window's first size: `REASONSCOPE_WINDOW=WIDTHxHEIGHT` (for
/// screenshots at a given size), else 1280 × 800.
fn window_size() -> [f32; 2] {
    std::env::var("REASONSCOPE_WINDOW")
        .ok()
        .and_then(|v| {
            let (w, h) = v.split_once(['x', 'X'])?;
            Some([w.trim().parse().ok()?, h.trim().parse().ok()?])
        })
        .filter(|[w, h]: &[f32; 2]| (320.0..=8192.0).contains(w) && (240.0..=8192.0).contains(h))
        .unwrap_or([1280.0, 800.0])
}

/// Open the window on `files` (the bundled sample run when empty).
pub fn run_app(files: Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size(window_size())
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
