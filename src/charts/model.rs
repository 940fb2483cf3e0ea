//! A backend-free description of a chart: what the on-screen plot draws and
//! what SVG, PNG and CSV exports write, so an export is what the user saw.

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// A polyline.
    Line {
        points: Vec<[f64; 2]>,
        width: f32,
        dashed: bool,
    },
    /// Markers.
    Points { points: Vec<[f64; 2]>, radius: f32 },
    /// Vertical bars centred on x.
    Bars { bars: Vec<[f64; 2]>, width: f64 },
    /// A filled band between `lower` and `upper` over `xs`.
    Band {
        xs: Vec<f64>,
        lower: Vec<f64>,
        upper: Vec<f64>,
        /// Fill opacity (0–1).
        opacity: f32,
    },
    /// A horizontal reference line.
    HLine { y: f64 },
    /// Independent straight segments, each with its own width.
    Segments {
        segments: Vec<([f64; 2], [f64; 2], f32)>,
    },
    /// Text labels anchored at points.
    Labels { labels: Vec<([f64; 2], String)> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: Rgb,
    pub mark: Mark,
    /// Listed in the legend.
    pub legend: bool,
    /// 1 = opaque; less to push a series into the background.
    pub opacity: f32,
}

impl Series {
    pub fn new(name: impl Into<String>, color: Rgb, mark: Mark) -> Self {
        Series {
            name: name.into(),
            color,
            mark,
            legend: true,
            opacity: 1.0,
        }
    }

    pub fn unlisted(mut self) -> Self {
        self.legend = false;
        self
    }

    pub fn faded(mut self, opacity: f32) -> Self {
        self.opacity = opacity.clamp(0.0, 1.0);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Axis {
    pub label: String,
    /// Category names at x (or y) = 0, 1, 2, …
    pub categories: Option<Vec<String>>,
    /// Fixed range; automatic when `None`.
    pub range: Option<(f64, f64)>,
    /// A category whose label is always drawn when labels are thinned
    /// (the gold answer on an answer axis).
    pub key: Option<usize>,
}

impl Axis {
    pub fn new(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            ..Default::default()
        }
    }

    pub fn range(mut self, lo: f64, hi: f64) -> Self {
        self.range = Some((lo, hi));
        self
    }

    pub fn categories(mut self, c: Vec<String>) -> Self {
        self.categories = Some(c);
        self
    }

    pub fn key(mut self, k: Option<usize>) -> Self {
        self.key = k;
        self
    }
}

/// The categories of `n` whose labels are drawn when only every `every`-th
/// fits: 0, every, 2·every, …, and `key` always, with the labels too close
/// to it (nearer than `every`) left out so that none overlap.
pub fn labelled_categories(n: usize, every: usize, key: Option<usize>) -> Vec<usize> {
    let every = every.max(1);
    let key = key.filter(|&k| k < n);
    let mut out: Vec<usize> = (0..n)
        .step_by(every)
        .filter(|&i| key.is_none_or(|k| i == k || i.abs_diff(k) >= every))
        .collect();
    if let Some(k) = key {
        if let Err(at) = out.binary_search(&k) {
            out.insert(at, k);
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
}

/// One or more charts in a grid (small multiples share their axes).
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Stable id: `methods`, `entropy`, `branches`, `reflection`, `curves`, `calibration`.
    pub id: &'static str,
    pub title: String,
    pub charts: Vec<Chart>,
    pub columns: usize,
}

impl Figure {
    /// Whether its charts show legends (the app and every export draw the
    /// same): only where they stay readable.
    pub fn shows_legends(&self) -> bool {
        self.charts.len() <= 4
            && self
                .charts
                .iter()
                .all(|c| c.series.iter().filter(|s| s.legend).count() <= 12)
    }
}

impl Chart {
    /// Data bounds over every series ((x0, x1), (y0, y1)), honouring fixed ranges.
    /// Every data point the chart's marks draw (horizontal lines aside).
    fn each_point(&self, f: &mut dyn FnMut(f64, f64)) {
        for s in &self.series {
            match &s.mark {
                Mark::Line { points, .. } | Mark::Points { points, .. } => {
                    points.iter().for_each(|p| f(p[0], p[1]))
                }
                Mark::Bars { bars, width } => bars.iter().for_each(|b| {
                    f(b[0] - width / 2.0, 0.0);
                    f(b[0] + width / 2.0, b[1]);
                }),
                Mark::Band {
                    xs, lower, upper, ..
                } => {
                    for i in 0..xs.len() {
                        f(xs[i], lower[i]);
                        f(xs[i], upper[i]);
                    }
                }
                Mark::HLine { .. } => {}
                Mark::Segments { segments } => segments.iter().for_each(|(a, b, _)| {
                    f(a[0], a[1]);
                    f(b[0], b[1]);
                }),
                Mark::Labels { labels } => labels.iter().for_each(|(p, _)| f(p[0], p[1])),
            }
        }
    }

    /// The corner a legend covers the least data in: the one whose box (the
    /// legend's share `w` of the width and `h` of the height) holds the
    /// fewest points; the top right on a tie.
    pub fn legend_corner(&self, w: f64, h: f64) -> Corner {
        let ((x0, x1), (y0, y1)) = self.bounds();
        let (w, h) = (w.clamp(0.05, 1.0), h.clamp(0.05, 1.0));
        let mut counts = [0usize; 4];
        // Lines count along their length, not only at their vertices (a
        // curve of 8 points still crosses the corner it passes through).
        let along = |f: &mut dyn FnMut(f64, f64)| {
            self.each_point(f);
            let mut densify = |a: [f64; 2], b: [f64; 2]| {
                for k in 1..16 {
                    let t = k as f64 / 16.0;
                    f(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t);
                }
            };
            for s in &self.series {
                match &s.mark {
                    Mark::Line { points, .. } => {
                        points.windows(2).for_each(|w| densify(w[0], w[1]))
                    }
                    Mark::Band {
                        xs, lower, upper, ..
                    } => {
                        for i in 1..xs.len() {
                            densify([xs[i - 1], lower[i - 1]], [xs[i], lower[i]]);
                            densify([xs[i - 1], upper[i - 1]], [xs[i], upper[i]]);
                        }
                    }
                    _ => {}
                }
            }
        };
        along(&mut |x, y| {
            let (u, v) = ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0));
            let (left, right, top, bottom) = (u <= w, u >= 1.0 - w, v >= 1.0 - h, v <= h);
            for (k, inside) in [top && right, top && left, bottom && right, bottom && left]
                .into_iter()
                .enumerate()
            {
                counts[k] += usize::from(inside);
            }
        });
        let k = (0..4).min_by_key(|&k| counts[k]).unwrap_or(0);
        [
            Corner::RightTop,
            Corner::LeftTop,
            Corner::RightBottom,
            Corner::LeftBottom,
        ][k]
    }

    pub fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let mut b = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        self.each_point(&mut |x, y| {
            if x.is_finite() && y.is_finite() {
                b = [b[0].min(x), b[1].max(x), b[2].min(y), b[3].max(y)];
            }
        });
        let hlines: Vec<f64> = self
            .series
            .iter()
            .filter_map(|s| match s.mark {
                Mark::HLine { y } => Some(y),
                _ => None,
            })
            .collect();
        let [mut x0, mut x1, mut y0, mut y1] = b;
        if !x0.is_finite() {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        for y in hlines {
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if let Some(cat) = &self.x.categories {
            x0 = x0.min(-0.5);
            x1 = x1.max(cat.len() as f64 - 0.5);
        }
        let xr = self.x.range.unwrap_or((x0, x1));
        // A data range gets a margin of 4% above and below (as matplotlib's
        // 5%), so that the highest and the lowest line are not drawn on the
        // frame, where they cannot be seen; a fixed range is kept as given.
        let yr = match self.y.range {
            Some(r) => r,
            None => {
                let (a, b) = widen((y0, y1));
                let m = (b - a) * 0.04;
                (a - m, b + m)
            }
        };
        (widen(xr), widen(yr))
    }
}

/// Where a legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    RightTop,
    LeftTop,
    RightBottom,
    LeftBottom,
}

fn widen((a, b): (f64, f64)) -> (f64, f64) {
    if (b - a).abs() < 1e-12 {
        (a - 0.5, b + 0.5)
    } else {
        (a, b)
    }
}

/// Keep at most about `max` points of a long line: per bucket the first,
/// min, max and last point, so spikes survive (min/max decimation).
pub fn decimate(points: &[[f64; 2]], max: usize) -> Vec<[f64; 2]> {
    if points.len() <= max || max < 8 {
        return points.to_vec();
    }
    let buckets = max / 4;
    let per = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(buckets * 4);
    for chunk in points.chunks(per) {
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p[1] < chunk[lo][1] {
                lo = i;
            }
            if p[1] > chunk[hi][1] {
                hi = i;
            }
        }
        let mut idx = [0, lo, hi, chunk.len() - 1];
        idx.sort_unstable();
        let mut last = usize::MAX;
        for i in idx {
            if i != last {
                out.push(chunk[i]);
                last = i;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_legend_goes_where_the_data_is_not() {
        let line = |pts: Vec<[f64; 2]>| Chart {
            title: String::new(),
            x: Axis::new("x"),
            y: Axis::new("y"),
            series: vec![Series::new(
                "s",
                Rgb(0, 0, 0),
                Mark::Line {
                    points: pts,
                    width: 1.0,
                    dashed: false,
                },
            )],
        };
        // Rising curves fill the top right and the bottom left.
        let rising: Vec<[f64; 2]> = (0..=100).map(|i| [i as f64, i as f64]).collect();
        assert_eq!(line(rising).legend_corner(0.3, 0.4), Corner::LeftTop);
        // A curve along the top: a bottom corner.
        let high: Vec<[f64; 2]> = (0..=100)
            .map(|i| [i as f64, 0.9 + (i % 2) as f64 * 0.1])
            .collect();
        let mut c = line(high);
        c.y = Axis::new("y").range(0.0, 1.0);
        assert_eq!(c.legend_corner(0.3, 0.4), Corner::RightBottom);
        // Nothing drawn: the usual top right.
        assert_eq!(line(Vec::new()).legend_corner(0.3, 0.4), Corner::RightTop);
    }

    use super::*;

    #[test]
    fn decimation_keeps_extremes_and_ends() {
        let pts: Vec<[f64; 2]> = (0..10_000)
            .map(|i| [i as f64, if i == 5_000 { 100.0 } else { (i % 7) as f64 }])
            .collect();
        let d = decimate(&pts, 400);
        assert!(d.len() <= 400);
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.iter().any(|p| p[1] == 100.0));
    }

    #[test]
    fn a_key_category_is_always_labelled_without_crowding() {
        assert_eq!(labelled_categories(10, 3, None), [0, 3, 6, 9]);
        // Gold at 4: 3 and 6 are too close to it.
        assert_eq!(labelled_categories(10, 3, Some(4)), [0, 4, 9]);
        // On the grid already: nothing changes.
        assert_eq!(labelled_categories(10, 3, Some(6)), [0, 3, 6, 9]);
        assert_eq!(labelled_categories(5, 1, Some(2)), [0, 1, 2, 3, 4]);
        assert_eq!(labelled_categories(5, 2, Some(9)), [0, 2, 4]);
    }

    #[test]
    fn bounds_cover_series_and_categories() {
        let c = Chart {
            title: String::new(),
            x: Axis::new("x").categories(vec!["a".into(), "b".into(), "c".into()]),
            y: Axis::new("y"),
            series: vec![Series::new(
                "s",
                Rgb(0, 0, 0),
                Mark::Bars {
                    bars: vec![[0.0, 2.0], [1.0, 5.0]],
                    width: 0.8,
                },
            )],
        };
        let ((x0, x1), (y0, y1)) = c.bounds();
        // The data's 0..5 with a margin of 4% of it each side.
        assert_eq!((x0, x1), (-0.5, 2.5));
        assert!(
            (y0 + 0.2).abs() < 1e-12 && (y1 - 5.2).abs() < 1e-12,
            "{y0} {y1}"
        );
        // A fixed range is kept as given.
        let fixed = Chart {
            y: Axis::new("y").range(0.0, 1.0),
            ..c
        };
        assert_eq!(fixed.bounds().1, (0.0, 1.0));
    }
}
