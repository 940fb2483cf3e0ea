//! Colours and sizes of the app in one place (light and dark).

use eframe::egui::{self, Color32};

use crate::charts::Rgb;

pub const STATUS_HEIGHT: f32 = 22.0;
pub const TOKEN_FONT_SIZE: f32 = 13.0;
pub const PLOT_HEIGHT: f32 = 300.0;
pub const SMALL_PLOT_HEIGHT: f32 = 150.0;

pub fn apply(ctx: &egui::Context, dark: bool) {
    ctx.set_visuals(if dark {
        egui::Visuals::dark()
    } else {
        egui::Visuals::light()
    });
}

pub fn color(c: Rgb) -> Color32 {
    Color32::from_rgb(c.0, c.1, c.2)
}

pub fn error_color(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(255, 120, 110)
    } else {
        Color32::from_rgb(190, 30, 30)
    }
}

/// Colour scale for token statistics: low = cool/transparent, high = warm.
/// `t` in 0..1 (already normalised by the caller).
pub fn heat(t: f32, dark: bool) -> Color32 {
    let t = t.clamp(0.0, 1.0);
    let (r, g, b) = (255.0, 200.0 - 150.0 * t, 60.0 - 40.0 * t);
    let alpha = (t * if dark { 170.0 } else { 150.0 }) as u8;
    Color32::from_rgba_unmultiplied(r as u8, g as u8, b as u8, alpha)
}

pub fn uncertain_underline() -> egui::Stroke {
    egui::Stroke::new(2.0, Color32::from_rgb(214, 61, 57))
}

pub fn candidate_underline() -> egui::Stroke {
    egui::Stroke::new(2.0, Color32::from_rgb(46, 160, 67))
}

/// The path's final answer: a box around the token.
pub fn final_answer_stroke() -> egui::Stroke {
    egui::Stroke::new(1.5, Color32::from_rgb(37, 99, 235))
}

pub fn marker_underline() -> egui::Stroke {
    egui::Stroke::new(2.0, Color32::from_rgb(242, 142, 43))
}

/// A step where CNTP sampled trials.
pub fn cntp_underline() -> egui::Stroke {
    egui::Stroke::new(2.0, Color32::from_rgb(176, 122, 161))
}

pub fn selected_token_bg() -> Color32 {
    Color32::from_rgb(120, 170, 255)
}
