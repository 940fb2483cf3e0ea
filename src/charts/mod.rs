//! Chart descriptions (series, axes, labels, colours) built from analysis
//! results. Backend-free: the GUI draws them with egui_plot and `export`
//! writes them as SVG, PNG and CSV. No egui, no file I/O.

mod build;
mod drift;
mod model;
pub mod palette;
mod suite;

pub use build::*;
pub use drift::drift_figure;
pub use model::*;
pub use suite::{suite_figure, SuiteGroup};
