//! Drawing a backend-free chart description with egui_plot.

use eframe::egui::{self, Ui};
use egui_plot::{
    Bar, BarChart, FilledArea, HLine, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoint,
    PlotPoints, Points, Text,
};

use super::theme;
use crate::charts::{Chart, Mark};

/// What the user did on a plot this frame.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlotResponse {
    /// Plot coordinates of a click, if any.
    pub clicked_at: Option<[f64; 2]>,
}

fn category_formatter(
    cats: Vec<String>,
) -> impl Fn(egui_plot::GridMark, &std::ops::RangeInclusive<f64>) -> String {
    move |mark, _| {
        let v = mark.value;
        if (v - v.round()).abs() > 1e-6 || v < 0.0 {
            return String::new();
        }
        cats.get(v.round() as usize)
            .map(|s| short_label(s))
            .unwrap_or_default()
    }
}

/// Longest category label drawn on an axis, in characters.
const LABEL_CHARS: usize = 16;

/// A category's axis label: whole, or cut with "…" (hover gives it whole).
fn short_label(s: &str) -> String {
    if s.chars().count() <= LABEL_CHARS {
        s.to_owned()
    } else {
        s.chars().take(LABEL_CHARS - 1).chain(['…']).collect()
    }
}

/// A hovered value: its category's name, a whole number as one, else with
/// four decimals.
fn hover_value(categories: Option<&[String]>, v: f64) -> String {
    if let Some(c) = categories {
        let i = v.round();
        return match (i >= 0.0).then(|| c.get(i as usize)).flatten() {
            Some(name) => name.clone(),
            None => String::new(),
        };
    }
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.4}")
    }
}

/// Labelled ticks at 1, 2 or 5 × 10^k, about `factor` times the thinnest
/// grid spacing apart (egui_plot's default powers of ten leave a range of
/// 0–1500 with the single label "1000"), with unlabelled lines between.
fn nice_spacer(factor: f64) -> impl Fn(egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    fn nice(v: f64) -> f64 {
        let p = 10f64.powf(v.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * p)
            .find(|&s| s >= v * (1.0 - 1e-9))
            .unwrap_or(10.0 * p)
    }
    move |input| {
        let base = input.base_step_size;
        let (lo, hi) = input.bounds;
        if !(base.is_finite() && base > 0.0 && lo.is_finite() && hi.is_finite()) {
            return Vec::new();
        }
        let major = nice(base * factor);
        let minor = nice(base).min(major);
        let first = (lo / minor).ceil() as i64;
        let last = (hi / minor).floor() as i64;
        if last < first || last - first > 2000 {
            return Vec::new();
        }
        (first..=last)
            .map(|i| {
                let value = i as f64 * minor;
                let on_major = ((value / major) - (value / major).round()).abs() < 1e-6;
                egui_plot::GridMark {
                    // Exact multiples print without float noise.
                    value: if on_major {
                        (value / major).round() * major
                    } else {
                        value
                    },
                    step_size: if on_major { major } else { minor },
                }
            })
            .collect()
    }
}

/// A tick's label with as many decimals as its step needs (egui_plot's own
/// assumes powers of ten and printed 1.5 and 2.5 both as "2").
fn tick_label(mark: egui_plot::GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    let decimals = (-mark.step_size.log10() - 1e-9).ceil().clamp(0.0, 12.0) as usize;
    let v = if mark.value.abs() < mark.step_size * 1e-6 {
        0.0
    } else {
        mark.value
    };
    format!("{v:.decimals$}")
}

/// The label extent, in points, a category axis must leave to each label:
/// along x the longest label's width (at most `LABEL_CHARS` are drawn),
/// along y one line.
fn category_extent(cats: &[String], along_x: bool) -> f64 {
    if along_x {
        let chars = cats
            .iter()
            .map(|c| c.chars().count().min(12))
            .max()
            .unwrap_or(1);
        chars as f64 * 7.0 + 10.0
    } else {
        16.0
    }
}

/// One labelled grid mark per category, or every k-th where labels
/// `extent` points long would otherwise run into each other.
fn category_spacer(
    n: usize,
    extent: f64,
    key: Option<usize>,
) -> impl Fn(egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    move |input| {
        // egui_plot's base step is the plot units in its minimum grid
        // spacing (8 points): one category is one unit.
        let units_per_point = input.base_step_size / 8.0;
        let every = ((extent * units_per_point).ceil() as usize).clamp(1, n.max(1));
        let (lo, hi) = input.bounds;
        crate::charts::labelled_categories(n, every, key)
            .into_iter()
            .map(|i| i as f64)
            .filter(|&v| v >= lo - 0.5 && v <= hi + 0.5)
            .map(|value| egui_plot::GridMark {
                value,
                step_size: 1e6,
            })
            .collect()
    }
}

/// What a cached legend corner was counted for: the chart (its address,
/// series count and bounds) and the legend's size.
type LegendKey = (usize, usize, [u64; 4], i64, i64);

/// Draw `chart` with id `id`; `height` in points; its y axis (label and
/// ticks) at least `y_axis_min` wide.
pub fn chart_ui(
    ui: &mut Ui,
    chart: &Chart,
    id: impl std::hash::Hash + std::fmt::Debug,
    height: f32,
    legend: bool,
    y_axis_min: f32,
) -> PlotResponse {
    let ((x0, x1), (y0, y1)) = chart.bounds();
    let id_hash = {
        use std::hash::Hasher;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        h.finish()
    };
    let mut plot = Plot::new(("chart", id))
        .height(height)
        .x_axis_label(chart.x.label.clone())
        .y_axis_label(chart.y.label.clone())
        .default_x_bounds(x0, x1)
        .default_y_bounds(y0, y1)
        .y_axis_min_width(y_axis_min)
        .allow_scroll(false)
        // Softer than the text colour egui_plot starts from: major lines
        // drawn in it competed with the data.
        .grid_color(ui.visuals().weak_text_color().gamma_multiply(0.7));
    if legend {
        // Where it covers the least data (curves often end top right),
        // judged with the legend's own size: a row per listed series.
        let listed: Vec<&str> = chart
            .series
            .iter()
            .filter(|s| s.legend && !s.name.is_empty())
            .map(|s| s.name.as_str())
            .collect();
        let widest = listed.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let w = (widest as f64 * 7.0 + 36.0) / f64::from(ui.available_width().max(1.0));
        let h = (listed.len() as f64 * 16.0 + 12.0) / f64::from(height.max(1.0));
        // Counted once per chart and legend size (a pass over every point,
        // too much for each frame of a large run's charts), in one slot per
        // plot: keyed by the chart itself, live sampling's new charts
        // several times a second added entries for as long as the app ran.
        let slot = ui.make_persistent_id(("legend-corner", id_hash));
        let this = (
            chart as *const Chart as usize,
            chart.series.len(),
            [x0, x1, y0, y1].map(f64::to_bits),
            (w * 100.0) as i64,
            (h * 100.0) as i64,
        );
        let corner = ui.ctx().memory_mut(|m| {
            let cached = m.data.get_temp::<(LegendKey, crate::charts::Corner)>(slot);
            match cached {
                Some((k, c)) if k == this => c,
                _ => {
                    let c = chart.legend_corner(w, h);
                    m.data.insert_temp(slot, (this, c));
                    c
                }
            }
        });
        let corner = match corner {
            crate::charts::Corner::RightTop => egui_plot::Corner::RightTop,
            crate::charts::Corner::LeftTop => egui_plot::Corner::LeftTop,
            crate::charts::Corner::RightBottom => egui_plot::Corner::RightBottom,
            crate::charts::Corner::LeftBottom => egui_plot::Corner::LeftBottom,
        };
        plot = plot.legend(Legend::default().position(corner));
    }
    // Hovering a mark names it and its values in the axes' own terms
    // (the category at a category axis; whole token positions as such).
    let (xl, yl) = (chart.x.label.clone(), chart.y.label.clone());
    let (xc, yc) = (chart.x.categories.clone(), chart.y.categories.clone());
    plot = plot.label_formatter(move |pos| {
        let (name, v) = match pos {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => (*plot_name, position),
            HoverPosition::Elsewhere { position } => ("", position),
        };
        let head = if name.is_empty() {
            String::new()
        } else {
            format!("{name}\n")
        };
        Some(format!(
            "{head}{}: {}\n{}: {}",
            if xl.is_empty() { "x" } else { &xl },
            hover_value(xc.as_deref(), v.x),
            if yl.is_empty() { "y" } else { &yl },
            hover_value(yc.as_deref(), v.y)
        ))
    });
    // Category axes get their labels but no grid lines: a line per
    // category at full strength read as heavy separators between bars.
    plot = plot.show_grid([chart.x.categories.is_none(), chart.y.categories.is_none()]);
    plot = match &chart.x.categories {
        Some(c) => plot
            .x_axis_formatter(category_formatter(c.clone()))
            .x_grid_spacer(category_spacer(
                c.len(),
                category_extent(c, true),
                chart.x.key,
            )),
        None => plot
            .x_axis_formatter(tick_label)
            .x_grid_spacer(nice_spacer(10.0)),
    };
    plot = match &chart.y.categories {
        Some(c) => plot
            .y_axis_formatter(category_formatter(c.clone()))
            .y_grid_spacer(category_spacer(
                c.len(),
                category_extent(c, false),
                chart.y.key,
            )),
        None => plot
            .y_axis_formatter(tick_label)
            .y_grid_spacer(nice_spacer(4.0)),
    };
    let ink = ui.visuals().text_color();
    let r = plot.show(ui, |p| {
        for s in &chart.series {
            let base = if s.color == crate::charts::palette::INK {
                ink
            } else {
                theme::color(s.color)
            };
            let color = if s.opacity < 1.0 {
                base.gamma_multiply(s.opacity)
            } else {
                base
            };
            let name = if s.legend {
                s.name.clone()
            } else {
                String::new()
            };
            match &s.mark {
                Mark::Line {
                    points,
                    width,
                    dashed,
                } => {
                    let mut l = Line::new(name, PlotPoints::from(points.clone()))
                        .color(color)
                        .width(*width);
                    if *dashed {
                        l = l.style(LineStyle::dashed_loose());
                    }
                    p.line(l);
                }
                Mark::Points { points, radius } => p.points(
                    Points::new(name, PlotPoints::from(points.clone()))
                        .color(color)
                        .radius(*radius),
                ),
                Mark::Bars { bars, width } => {
                    let bars = bars
                        .iter()
                        .map(|b| Bar::new(b[0], b[1]).width(*width))
                        .collect();
                    p.bar_chart(BarChart::new(name, bars).color(color));
                }
                Mark::Band {
                    xs,
                    lower,
                    upper,
                    opacity,
                } => {
                    p.add(
                        FilledArea::new(name, xs, lower, upper)
                            .fill_color(color.gamma_multiply(*opacity)),
                    );
                }
                // Dashed, as the SVG export draws it and the titles say.
                Mark::HLine { y } => p.hline(
                    HLine::new(name, *y)
                        .color(color)
                        .style(LineStyle::dashed_loose()),
                ),
                Mark::Segments { segments } => {
                    for (k, (a, b, w)) in segments.iter().enumerate() {
                        let n = if k == 0 { name.clone() } else { String::new() };
                        p.line(
                            Line::new(n, PlotPoints::from(vec![*a, *b]))
                                .color(color)
                                .width(*w),
                        );
                    }
                }
                Mark::Labels { labels } => {
                    for (pt, t) in labels {
                        p.text(
                            Text::new(
                                name.clone(),
                                PlotPoint::new(pt[0], pt[1]),
                                egui::RichText::new(t).size(10.0),
                            )
                            .color(color),
                        );
                    }
                }
            }
        }
    });
    let clicked_at = if r.response.clicked() {
        r.response
            .hover_pos()
            .map(|pos| r.transform.value_from_position(pos))
            .map(|v| [v.x, v.y])
    } else {
        None
    };
    PlotResponse { clicked_at }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_one_two_five_and_labelled_ones_far_apart() {
        // 0–1500 over ~620 px (8 px thinnest spacing): labels every 200.
        let marks = nice_spacer(10.0)(egui_plot::GridInput {
            bounds: (0.0, 1500.0),
            base_step_size: 1500.0 / 620.0 * 8.0,
        });
        let majors: Vec<f64> = marks
            .iter()
            .filter(|m| m.step_size == 200.0)
            .map(|m| m.value)
            .collect();
        assert_eq!(
            majors,
            vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1200.0, 1400.0]
        );
        assert!(marks
            .iter()
            .all(|m| m.step_size == 200.0 || m.step_size == 20.0));
        // Fractions: 0.0–1.0 with a 0.2 major step, printed without noise.
        let marks = nice_spacer(4.0)(egui_plot::GridInput {
            bounds: (0.0, 1.0),
            base_step_size: 0.04,
        });
        let majors: Vec<f64> = marks
            .iter()
            .filter(|m| m.step_size == 0.2)
            .map(|m| m.value)
            .collect();
        let want = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
        assert_eq!(majors.len(), want.len());
        assert!(majors.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12));
        // Degenerate input draws nothing rather than looping.
        assert!(nice_spacer(10.0)(egui_plot::GridInput {
            bounds: (0.0, f64::INFINITY),
            base_step_size: 1.0,
        })
        .is_empty());
    }

    #[test]
    fn tick_labels_carry_the_decimals_their_step_needs() {
        let t =
            |value, step_size| tick_label(egui_plot::GridMark { value, step_size }, &(0.0..=1.0));
        assert_eq!(t(1.5, 0.5), "1.5");
        assert_eq!(t(2.5, 0.5), "2.5");
        assert_eq!(t(0.6000000000000001, 0.2), "0.6");
        assert_eq!(t(1000.0, 200.0), "1000");
        assert_eq!(t(0.05, 0.05), "0.05");
        assert_eq!(t(-1e-17, 0.1), "0.0");
        assert_eq!(t(3.0, 1.0), "3");
    }

    #[test]
    fn long_category_labels_are_cut_visibly() {
        assert_eq!(short_label("path 12 (58%)"), "path 12 (58%)");
        assert_eq!(short_label("the number of apples"), "the number of a…");
    }

    #[test]
    fn category_labels_are_thinned_only_where_they_would_collide() {
        let cats: Vec<String> = [
            "0", "1", "2", "3", "4", "5", "6", "8", "11", "12", "15", "24", "3x + 1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let marks = |points: f64, extent: f64| -> Vec<f64> {
            // 13 categories drawn over `points` (bounds −0.5 .. 12.5).
            let input = egui_plot::GridInput {
                bounds: (-0.5, 12.5),
                base_step_size: 13.0 / points * 8.0,
            };
            category_spacer(13, extent, None)(input)
                .iter()
                .map(|m| m.value)
                .collect()
        };
        let wide = category_extent(&cats, true);
        assert_eq!(wide, 6.0 * 7.0 + 10.0);
        // A 1200-point chart has room for every label.
        assert_eq!(marks(1200.0, wide).len(), 13);
        // 200 points: 15 per category, a 52-point label: every 4th.
        assert_eq!(marks(200.0, wide), vec![0.0, 4.0, 8.0, 12.0]);
        // Stacked along y, 16 points a line: 260 points hold them all,
        // 200 every other one.
        let tall = category_extent(&cats, false);
        assert_eq!(marks(260.0, tall).len(), 13);
        assert_eq!(marks(200.0, tall).len(), 7);
    }

    #[test]
    fn hover_names_categories_and_whole_positions() {
        let cats = vec!["54".to_owned(), "56".to_owned()];
        assert_eq!(hover_value(Some(&cats), 1.0), "56");
        assert_eq!(hover_value(Some(&cats), 0.2), "54");
        assert_eq!(hover_value(Some(&cats), 7.0), "");
        assert_eq!(hover_value(None, 42.0), "42");
        assert_eq!(hover_value(None, 0.34427), "0.3443");
    }
}
