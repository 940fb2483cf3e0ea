//! SVG from a chart description. Text stays text (`<text>` elements).

use std::fmt::Write;

use crate::charts::{Chart, Figure, Mark};

/// Size of one chart cell in a figure.
pub fn cell_size(fig: &Figure) -> (f64, f64) {
    if fig.charts.len() == 1 {
        (900.0, 520.0)
    } else if fig.columns == 1 {
        (900.0, 360.0)
    } else {
        (340.0, 240.0)
    }
}

/// Total size of the figure's SVG.
pub fn figure_size(fig: &Figure) -> (f64, f64) {
    let (w, h) = cell_size(fig);
    let cols = fig.columns.clamp(1, fig.charts.len().max(1));
    let rows = fig.charts.len().div_ceil(cols).max(1);
    (w * cols as f64, 40.0 + h * rows as f64)
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// "Nice" tick values covering [lo, hi].
pub fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = (hi - lo).abs();
    if !span.is_finite() || span == 0.0 {
        return vec![lo];
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= target as f64 + 0.5)
        .unwrap_or(10.0 * mag);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

pub fn fmt_tick(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

#[allow(clippy::too_many_arguments)]
fn chart_svg(
    out: &mut String,
    c: &Chart,
    ox: f64,
    oy: f64,
    w: f64,
    h: f64,
    legend: bool,
    uid: usize,
) {
    let (ml, mr, mt, mb) = (58.0, 16.0, 26.0, 44.0);
    let (pw, ph) = (w - ml - mr, h - mt - mb);
    let ((x0, x1), (y0, y1)) = c.bounds();
    let sx = |x: f64| ox + ml + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| oy + mt + ph - (y - y0) / (y1 - y0) * ph;
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" font-weight="bold">{}</text>"#,
        ox + ml,
        oy + 16.0,
        escape(&clip(&c.title, 80))
    );
    let _ = writeln!(
        out,
        r##"<rect x="{:.1}" y="{:.1}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#999" stroke-width="1"/>"##,
        ox + ml,
        oy + mt
    );
    // X axis ticks / categories.
    match &c.x.categories {
        Some(cats) => {
            let n = cats.len().max(1);
            let every = n.div_ceil(12).max(1);
            for i in crate::charts::labelled_categories(cats.len(), every, c.x.key) {
                let cat = &cats[i];
                let x = sx(i as f64);
                if x < ox + ml - 1.0 || x > ox + ml + pw + 1.0 {
                    continue;
                }
                let _ = writeln!(
                    out,
                    r##"<text x="{x:.1}" y="{:.1}" font-size="9" text-anchor="middle" fill="#444">{}</text>"##,
                    oy + mt + ph + 13.0,
                    escape(&clip(cat, 10))
                );
            }
        }
        None => {
            for t in ticks(x0, x1, 6) {
                let x = sx(t);
                let _ = writeln!(
                    out,
                    r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/>"##,
                    oy + mt,
                    oy + mt + ph
                );
                let _ = writeln!(
                    out,
                    r##"<text x="{x:.1}" y="{:.1}" font-size="9" text-anchor="middle" fill="#444">{}</text>"##,
                    oy + mt + ph + 13.0,
                    fmt_tick(t)
                );
            }
        }
    }
    match &c.y.categories {
        Some(cats) => {
            let every = cats.len().div_ceil(20).max(1);
            for (i, cat) in cats.iter().enumerate().step_by(every) {
                let _ = writeln!(
                    out,
                    r##"<text x="{:.1}" y="{:.1}" font-size="9" text-anchor="end" fill="#444">{}</text>"##,
                    ox + ml - 4.0,
                    sy(i as f64) + 3.0,
                    escape(&clip(cat, 12))
                );
            }
        }
        None => {
            for t in ticks(y0, y1, 5) {
                let y = sy(t);
                let _ = writeln!(
                    out,
                    r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/>"##,
                    ox + ml,
                    ox + ml + pw
                );
                let _ = writeln!(
                    out,
                    r##"<text x="{:.1}" y="{:.1}" font-size="9" text-anchor="end" fill="#444">{}</text>"##,
                    ox + ml - 4.0,
                    y + 3.0,
                    fmt_tick(t)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#222">{}</text>"##,
        ox + ml + pw / 2.0,
        oy + h - 8.0,
        escape(&c.x.label)
    );
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#222" transform="rotate(-90 {:.1} {:.1})">{}</text>"##,
        ox + 12.0,
        oy + mt + ph / 2.0,
        ox + 12.0,
        oy + mt + ph / 2.0,
        escape(&c.y.label)
    );
    let _ = writeln!(
        out,
        r#"<clipPath id="clip{uid}"><rect x="{:.1}" y="{:.1}" width="{pw:.1}" height="{ph:.1}"/></clipPath>"#,
        ox + ml,
        oy + mt
    );
    let _ = writeln!(out, r#"<g clip-path="url(#clip{uid})">"#);
    for s in &c.series {
        let col = s.color.hex();
        // A faded series: its strokes and fills at its opacity.
        let op = if s.opacity < 1.0 {
            format!(r#" opacity="{:.2}""#, s.opacity)
        } else {
            String::new()
        };
        match &s.mark {
            Mark::Line {
                points,
                width,
                dashed,
            } => {
                let pts: Vec<String> = points
                    .iter()
                    .map(|p| format!("{:.1},{:.1}", sx(p[0]), sy(p[1])))
                    .collect();
                let dash = if *dashed {
                    r#" stroke-dasharray="5 4""#
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke="{col}" stroke-width="{width}"{dash}{op}/>"#,
                    pts.join(" ")
                );
            }
            Mark::Points { points, radius } => {
                for p in points {
                    let _ = writeln!(
                        out,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="{radius}" fill="{col}"{op}/>"#,
                        sx(p[0]),
                        sy(p[1])
                    );
                }
            }
            Mark::Bars { bars, width } => {
                for b in bars {
                    let (xa, xb) = (sx(b[0] - width / 2.0), sx(b[0] + width / 2.0));
                    let (ya, yb) = (sy(b[1].max(0.0)), sy(0.0f64.min(b[1])));
                    let _ = writeln!(
                        out,
                        r#"<rect x="{xa:.1}" y="{ya:.1}" width="{:.1}" height="{:.1}" fill="{col}"/>"#,
                        xb - xa,
                        (yb - ya).max(0.0)
                    );
                }
            }
            Mark::Band {
                xs,
                lower,
                upper,
                opacity,
            } => {
                let mut pts: Vec<String> = xs
                    .iter()
                    .zip(upper)
                    .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
                    .collect();
                pts.extend(
                    xs.iter()
                        .zip(lower)
                        .rev()
                        .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y))),
                );
                let _ = writeln!(
                    out,
                    r#"<polygon points="{}" fill="{col}" fill-opacity="{opacity}" stroke="none"/>"#,
                    pts.join(" ")
                );
            }
            Mark::HLine { y } => {
                let _ = writeln!(
                    out,
                    r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{col}" stroke-dasharray="4 3"/>"#,
                    ox + ml,
                    sy(*y),
                    ox + ml + pw,
                    sy(*y)
                );
            }
            Mark::Segments { segments } => {
                for (a, b, wd) in segments {
                    let _ = writeln!(
                        out,
                        r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{col}" stroke-width="{wd:.1}" stroke-linecap="round"/>"#,
                        sx(a[0]),
                        sy(a[1]),
                        sx(b[0]),
                        sy(b[1])
                    );
                }
            }
            Mark::Labels { labels } => {
                for (p, t) in labels {
                    let _ = writeln!(
                        out,
                        r#"<text x="{:.1}" y="{:.1}" font-size="9" text-anchor="middle" fill="{col}">{}</text>"#,
                        sx(p[0]),
                        sy(p[1]),
                        escape(&clip(t, 14))
                    );
                }
            }
        }
    }
    let _ = writeln!(out, "</g>");
    if legend {
        let items: Vec<&crate::charts::Series> = c.series.iter().filter(|s| s.legend).collect();
        let shown = items.len().min(14);
        if shown > 0 {
            let lw = 170.0;
            let lx = ox + ml + pw - lw - 6.0;
            let ly = oy + mt + 6.0;
            let _ = writeln!(
                out,
                r##"<rect x="{lx:.1}" y="{ly:.1}" width="{lw}" height="{:.1}" fill="#ffffff" fill-opacity="0.85" stroke="#ccc"/>"##,
                8.0 + 13.0 * shown as f64
            );
            for (k, s) in items.iter().take(shown).enumerate() {
                let y = ly + 12.0 + 13.0 * k as f64;
                let _ = writeln!(
                    out,
                    r#"<rect x="{:.1}" y="{:.1}" width="10" height="8" fill="{}"/>"#,
                    lx + 6.0,
                    y - 7.0,
                    s.color.hex()
                );
                let _ = writeln!(
                    out,
                    r##"<text x="{:.1}" y="{y:.1}" font-size="9" fill="#222">{}</text>"##,
                    lx + 20.0,
                    escape(&clip(&s.name, 30))
                );
            }
        }
    }
}

/// The whole figure as an SVG document.
pub fn figure_svg(fig: &Figure) -> String {
    let (cw, ch) = cell_size(fig);
    let (w, h) = figure_size(fig);
    let cols = fig.columns.clamp(1, fig.charts.len().max(1));
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Ubuntu, sans-serif">"#
    );
    let _ = writeln!(out, r##"<rect width="{w}" height="{h}" fill="#ffffff"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="12" y="26" font-size="16" font-weight="bold" fill="#111">{}</text>"##,
        escape(&fig.title)
    );
    let legend = fig.shows_legends();
    for (i, c) in fig.charts.iter().enumerate() {
        let (col, row) = (i % cols, i / cols);
        chart_svg(
            &mut out,
            c,
            col as f64 * cw,
            40.0 + row as f64 * ch,
            cw,
            ch,
            legend,
            i,
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks() {
        let f = |v: Vec<f64>| v.into_iter().map(fmt_tick).collect::<Vec<_>>().join(" ");
        assert_eq!(f(ticks(0.0, 1.0, 5)), "0 0.2 0.4 0.6 0.8 1");
        assert_eq!(f(ticks(0.0, 100.0, 5)), "0 20 40 60 80 100");
        assert_eq!(f(ticks(-0.3, 2.6, 6)), "0 0.5 1 1.5 2 2.5");
        assert_eq!(fmt_tick(0.25), "0.25");
        assert_eq!(fmt_tick(40.0), "40");
    }

    #[test]
    fn escapes_text() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
