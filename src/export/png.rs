//! PNG rendered from the SVG (resvg), with egui's bundled font so that text
//! renders the same on every machine.

use std::sync::{Arc, OnceLock};

fn fontdb() -> Arc<resvg::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
        db.load_font_data(epaint_default_fonts::HACK_REGULAR.to_vec());
        Arc::new(db)
    })
    .clone()
}

/// Render an SVG document to PNG bytes at `scale` (1.0 = the SVG's size).
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>, String> {
    let db = fontdb();
    let family = db
        .faces()
        .next()
        .and_then(|f| f.families.first().map(|n| n.0.clone()))
        .unwrap_or_else(|| "Ubuntu".into());
    let opts = resvg::usvg::Options {
        font_family: family,
        fontdb: db,
        ..Default::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg, &opts).map_err(|e| format!("invalid SVG: {e}"))?;
    let size = tree.size();
    let scale = scale.clamp(0.1, 8.0);
    let (w, h) = (
        (size.width() * scale).ceil() as u32,
        (size.height() * scale).ceil() as u32,
    );
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w.max(1), h.max(1)).ok_or("image too large")?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| format!("cannot encode PNG: {e}"))
}
