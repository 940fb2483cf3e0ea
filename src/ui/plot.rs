//! Drawing a backend-free chart description with egui_plot.

use eframe::egui::{self, Ui};
use egui_plot::{
    Bar, BarChart, FilledArea, HLine, Legend, Line, LineStyle, Plot, PlotPoint, PlotPoints, Points,
    Text,
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
            .map(|s| s.chars().take(12).collect())
            .unwrap_or_default()
    }
}

/// One labelled grid mark per category (every k-th when there are many).
fn category_spacer(n: usize) -> impl Fn(egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    move |input| {
        let every = n.div_ceil(16).max(1);
        let (lo, hi) = input.bounds;
        (0..n)
            .step_by(every)
            .map(|i| i as f64)
            .filter(|&v| v >= lo - 0.5 && v <= hi + 0.5)
            .map(|value| egui_plot::GridMark {
                value,
                step_size: 1e6,
            })
            .collect()
    }
}

/// Draw `chart` with id `id`; `height` in points.
pub fn chart_ui(
    ui: &mut Ui,
    chart: &Chart,
    id: impl std::hash::Hash + std::fmt::Debug,
    height: f32,
    legend: bool,
) -> PlotResponse {
    let ((x0, x1), (y0, y1)) = chart.bounds();
    // A little room above the highest value, so that peaks and the dots on
    // them are not cut by the frame.
    let y1 = y1 + (y1 - y0).abs().max(1e-9) * 0.04;
    let mut plot = Plot::new(("chart", id))
        .height(height)
        .x_axis_label(chart.x.label.clone())
        .y_axis_label(chart.y.label.clone())
        .default_x_bounds(x0, x1)
        .default_y_bounds(y0, y1)
        .allow_scroll(false);
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
        // too much for each frame of a large run's charts).
        let key = ui.make_persistent_id((
            "legend-corner",
            chart as *const Chart as usize,
            chart.series.len(),
            (w * 100.0) as i64,
            (h * 100.0) as i64,
        ));
        let corner = ui.ctx().memory_mut(|m| {
            *m.data
                .get_temp_mut_or_insert_with(key, || chart.legend_corner(w, h))
        });
        let corner = match corner {
            crate::charts::Corner::RightTop => egui_plot::Corner::RightTop,
            crate::charts::Corner::LeftTop => egui_plot::Corner::LeftTop,
            crate::charts::Corner::RightBottom => egui_plot::Corner::RightBottom,
            crate::charts::Corner::LeftBottom => egui_plot::Corner::LeftBottom,
        };
        plot = plot.legend(Legend::default().position(corner));
    }
    if let Some(c) = &chart.x.categories {
        plot = plot
            .x_axis_formatter(category_formatter(c.clone()))
            .x_grid_spacer(category_spacer(c.len()));
    }
    if let Some(c) = &chart.y.categories {
        plot = plot
            .y_axis_formatter(category_formatter(c.clone()))
            .y_grid_spacer(category_spacer(c.len()));
    }
    let r = plot.show(ui, |p| {
        for s in &chart.series {
            let color = if s.opacity < 1.0 {
                theme::color(s.color).gamma_multiply(s.opacity)
            } else {
                theme::color(s.color)
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
                Mark::HLine { y } => p.hline(HLine::new(name, *y).color(color)),
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
