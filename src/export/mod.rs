//! Exports of chart descriptions: SVG (written here, text stays text), PNG
//! (rendered from that SVG with resvg) and CSV (the plotted data), and safe
//! file writing. No egui.

mod csv;
mod png;
mod svg;

use std::path::Path;

pub use csv::figure_csv;
pub use png::svg_to_png;
pub use svg::{figure_size, figure_svg, fmt_tick, ticks};

use crate::charts::Figure;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "svg" => Some(Format::Svg),
            "png" => Some(Format::Png),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
            Format::Csv => "csv",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0} already exists; choose another name or allow replacing it (--force)")]
    Exists(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot render {0}")]
    Render(String),
}

/// The bytes of a figure in `format` (PNG at `scale`).
pub fn render(fig: &Figure, format: Format, scale: f32) -> Result<Vec<u8>, ExportError> {
    Ok(match format {
        Format::Svg => figure_svg(fig).into_bytes(),
        Format::Csv => figure_csv(fig).into_bytes(),
        Format::Png => svg_to_png(&figure_svg(fig), scale).map_err(ExportError::Render)?,
    })
}

/// Write `bytes` to `path` atomically; never replaces a file unless `overwrite`.
pub fn write_new(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), ExportError> {
    if path.exists() && !overwrite {
        return Err(ExportError::Exists(path.display().to_string()));
    }
    if path.is_dir() {
        return Err(ExportError::Write {
            path: path.display().to_string(),
            reason: "it is a folder".into(),
        });
    }
    crate::run::write_atomic(path, bytes).map_err(|e| ExportError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Render and write in one step.
pub fn export(
    fig: &Figure,
    format: Format,
    path: &Path,
    scale: f32,
    overwrite: bool,
) -> Result<(), ExportError> {
    let bytes = render(fig, format, scale)?;
    write_new(path, &bytes, overwrite)
}
