//! SVG charts drawn on the server: a time series and a schematic map.
//! Sized by `viewBox`, so they scale with the page; colours come from the
//! stylesheet's classes.

use maud::{Markup, html};

/// One line of a chart; `x` in the axes' units (e.g. minutes of the day).
pub struct Series<'a> {
    pub name: &'a str,
    /// Stylesheet class (`s1`, `s2`, …): stroke and fill.
    pub class: &'a str,
    pub points: Vec<(f64, f64)>,
    /// Fill the area under the line.
    pub area: bool,
}

/// A point that breaks a series: no data there, drawn as a gap.
pub const GAP: f64 = f64::NAN;

pub struct Axes {
    pub x_min: f64,
    pub x_max: f64,
    /// Labels along the x axis.
    pub x_ticks: Vec<(f64, String)>,
    /// The y axis runs from 0 to at least this.
    pub y_max: f64,
    /// Appended to the y axis's numbers (`%`).
    pub y_unit: &'static str,
}

const W: f64 = 640.0;
const H: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

/// A time-series chart with a legend; `label` is its accessible name.
pub fn line(label: &str, axes: &Axes, series: &[Series]) -> Markup {
    let y_max = nice(axes.y_max.max(1.0));
    let span = (axes.x_max - axes.x_min).max(f64::MIN_POSITIVE);
    let x = |v: f64| LEFT + (v - axes.x_min) / span * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (1.0 - v / y_max) * (H - TOP - BOTTOM);
    let grid: Vec<f64> = (0..=4).map(|i| y_max * f64::from(i) / 4.0).collect();
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(label) {
                @for g in &grid {
                    line.grid x1=(LEFT) x2=(W - RIGHT) y1=(r(y(*g))) y2=(r(y(*g))) {}
                    text.tick x=(LEFT - 6.0) y=(r(y(*g) + 4.0)) text-anchor="end" { (short(*g)) (axes.y_unit) }
                }
                @for (v, text) in &axes.x_ticks {
                    // The last label ends at the plot's edge instead of running past the picture.
                    @let anchor = if x(*v) > W - RIGHT - 24.0 { "end" } else { "middle" };
                    text.tick x=(r(x(*v))) y=(H - 8.0) text-anchor=(anchor) { (text) }
                }
                @for s in series {
                    @for run in runs(&s.points) {
                        @if s.area {
                            polygon class=(format!("area {}", s.class)) points=(area_points(run, x, y, y(0.0))) {}
                        }
                        polyline class=(format!("line {}", s.class)) points=(points(run, x, y)) {}
                    }
                }
            }
            figcaption.legend {
                @for s in series {
                    span class=(format!("key {}", s.class)) { (s.name) }
                }
            }
        }
    }
}

/// A place on the schematic map.
pub struct Place<'a> {
    /// Longitude and latitude (any planar coordinates).
    pub x: f64,
    pub y: f64,
    pub label: &'a str,
    /// Stylesheet class of its dot (`ok`, `warn`, `off`).
    pub class: &'a str,
    pub href: &'a str,
    /// Dot radius in map units (scale it by size).
    pub radius: f64,
    /// Shown on hover.
    pub title: String,
}

/// The places on a plain background, scaled to fit with a margin.
pub fn map(label: &str, places: &[Place]) -> Markup {
    let (w, h): (f64, f64) = (640.0, 360.0);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in places {
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(p.y);
        y1 = y1.max(p.y);
    }
    // Equal scale on both axes, so the city keeps its shape.
    let span = (x1 - x0).max(y1 - y0).max(0.01);
    let scale = (w - 60.0).min(h - 60.0) / span;
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let px = |v: f64| w / 2.0 + (v - cx) * scale;
    // Latitude grows northwards, the screen downwards.
    let py = |v: f64| h / 2.0 - (v - cy) * scale;
    html! {
        figure.map {
            svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(label) {
                rect.sea x="0" y="0" width=(w) height=(h) rx="8" {}
                @for p in places {
                    a href=(p.href) {
                        circle class=(format!("dot {}", p.class)) cx=(r(px(p.x))) cy=(r(py(p.y))) r=(r(p.radius)) {
                            title { (p.title) }
                        }
                        @if !p.label.is_empty() {
                            text.place x=(r(px(p.x))) y=(r(py(p.y) + 3.5)) text-anchor="middle" { (p.label) }
                        }
                    }
                }
            }
        }
    }
}

fn r(v: f64) -> String {
    format!("{v:.1}")
}

/// The stretches of a series between its gaps ([`GAP`] values), empty ones left out.
fn runs(points: &[(f64, f64)]) -> impl Iterator<Item = &[(f64, f64)]> {
    points.split(|(_, v)| v.is_nan()).filter(|run| !run.is_empty())
}

fn points(points: &[(f64, f64)], x: impl Fn(f64) -> f64, y: impl Fn(f64) -> f64) -> String {
    points.iter().map(|(a, b)| format!("{:.1},{:.1}", x(*a), y(*b))).collect::<Vec<_>>().join(" ")
}

fn area_points(pts: &[(f64, f64)], x: impl Fn(f64) -> f64, y: impl Fn(f64) -> f64, base: f64) -> String {
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else { return String::new() };
    format!("{:.1},{base:.1} {} {:.1},{base:.1}", x(first.0), points(pts, &x, &y), x(last.0))
}

/// The next round number at or above `v` (1, 2, 2.5, 5 × 10ⁿ).
fn nice(v: f64) -> f64 {
    let exp = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * exp >= v {
            return m * exp;
        }
    }
    10.0 * exp
}

fn short(v: f64) -> String {
    if v >= 10_000.0 { format!("{:.1}万", v / 10_000.0) } else { format!("{v:.0}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_and_points_land_inside() {
        assert_eq!(nice(7.0), 10.0);
        assert_eq!(nice(180.0), 200.0);
        assert_eq!(nice(2100.0), 2500.0);
        let axes = Axes { x_min: 0.0, x_max: 100.0, x_ticks: vec![(0.0, "00:00".into())], y_max: 50.0, y_unit: "" };
        let s = Series { name: "a", class: "s1", points: vec![(0.0, 0.0), (100.0, 50.0)], area: true };
        let svg = line("test", &axes, &[s]).into_string();
        assert!(svg.contains("points=\"44.0,194.0 628.0,12.0\""), "{svg}");
        let gapped = Series {
            name: "a",
            class: "s1",
            points: vec![(0.0, 0.0), (10.0, GAP), (20.0, 5.0), (30.0, 6.0)],
            area: false,
        };
        let svg = line("test", &axes, &[gapped]).into_string();
        assert_eq!(svg.matches("<polyline").count(), 2, "a gap splits the line: {svg}");
        let places =
            [Place { x: 120.3, y: 36.0, label: "<a>", class: "ok", href: "/x", radius: 5.0, title: "t".into() }];
        assert!(map("m", &places).into_string().contains("&lt;a&gt;"));
    }
}
