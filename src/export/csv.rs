//! CSV of a chart description's data: one row per plotted value.

use crate::charts::{Figure, Mark};

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Columns: chart, series, kind, x, y, x2, y2, label. Categorical x values
/// are written as their category name in `label`.
pub fn figure_csv(fig: &Figure) -> String {
    let mut out = String::from("chart,series,kind,x,y,x2,y2,label\n");
    for c in &fig.charts {
        let cat = |x: f64| -> String {
            c.x.categories
                .as_ref()
                .and_then(|cats| cats.get(x.round().max(0.0) as usize).cloned())
                .unwrap_or_default()
        };
        let mut row = |series: &str,
                       kind: &str,
                       x: f64,
                       y: f64,
                       x2: Option<f64>,
                       y2: Option<f64>,
                       label: &str| {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                field(&c.title),
                field(series),
                kind,
                x,
                y,
                x2.map(|v| v.to_string()).unwrap_or_default(),
                y2.map(|v| v.to_string()).unwrap_or_default(),
                field(label)
            ));
        };
        for s in &c.series {
            match &s.mark {
                Mark::Line { points, .. } => points
                    .iter()
                    .for_each(|p| row(&s.name, "line", p[0], p[1], None, None, &cat(p[0]))),
                Mark::Points { points, .. } => points
                    .iter()
                    .for_each(|p| row(&s.name, "point", p[0], p[1], None, None, &cat(p[0]))),
                Mark::Bars { bars, .. } => bars
                    .iter()
                    .for_each(|b| row(&s.name, "bar", b[0], b[1], None, None, &cat(b[0]))),
                Mark::Band {
                    xs, lower, upper, ..
                } => {
                    for i in 0..xs.len() {
                        row(&s.name, "band", xs[i], lower[i], None, Some(upper[i]), "");
                    }
                }
                Mark::HLine { y } => row(&s.name, "hline", f64::NAN, *y, None, None, ""),
                Mark::Segments { segments } => segments.iter().for_each(|(a, b, w)| {
                    row(
                        &s.name,
                        "segment",
                        a[0],
                        a[1],
                        Some(b[0]),
                        Some(b[1]),
                        &format!("width {w}"),
                    )
                }),
                Mark::Labels { labels } => labels
                    .iter()
                    .for_each(|(p, t)| row(&s.name, "label", p[0], p[1], None, None, t)),
            }
        }
    }
    out
}
