//! Simple charts of a query's result, drawn as SVG on the server: the
//! workspace page needs no script, and nothing of the result reaches a
//! third-party charting service.
//!
//! A bar or line chart plots the first numeric column against the first
//! column (categories in the order of the rows); a histogram bins the first
//! numeric column into ten intervals of equal width.

use maud::{Markup, html};
use serde_json::{Map, Value};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 56.0;
const TOP: f64 = 16.0;
const RIGHT: f64 = 16.0;
/// Most categories a bar or line chart draws; more would be unreadable.
const MAX_POINTS: usize = 60;
const BINS: usize = 10;

/// Which chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    /// Bars per category.
    Bar,
    /// A line through the rows in order.
    Line,
    /// The distribution of one numeric column.
    Histogram,
}

impl ChartKind {
    /// From the form's value; anything else is no chart.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "bar" => Some(ChartKind::Bar),
            "line" => Some(ChartKind::Line),
            "histogram" => Some(ChartKind::Histogram),
            _ => None,
        }
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn label(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "(null)".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// The chart of `rows`, or a sentence saying why it cannot be drawn.
pub fn render(kind: ChartKind, columns: &[String], rows: &[Map<String, Value>]) -> Markup {
    let numeric = columns.iter().enumerate().find(|(i, c)| {
        (kind == ChartKind::Histogram || *i > 0)
            && rows.iter().any(|r| r.get(*c).and_then(number).is_some())
    });
    let Some((_, y)) = numeric else {
        return html! { p class="hint" { "グラフにする数値の列がありません / no numeric column to chart" } };
    };
    let points: Vec<(String, f64)> = match kind {
        ChartKind::Histogram => histogram(rows, y),
        ChartKind::Bar | ChartKind::Line => rows
            .iter()
            .take(MAX_POINTS)
            .map(|r| {
                (
                    label(r.get(&columns[0])),
                    r.get(y).and_then(number).unwrap_or(0.0),
                )
            })
            .collect(),
    };
    if points.is_empty() {
        return html! { p class="hint" { "行がありません / no rows" } };
    }
    let max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let min = points.iter().map(|p| p.1).fold(0.0_f64, f64::min);
    let span = if max - min > 0.0 { max - min } else { 1.0 };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let step = plot_w / points.len() as f64;
    let y_of = |v: f64| TOP + plot_h * (1.0 - (v - min) / span);
    let x_of = |i: usize| LEFT + step * (i as f64 + 0.5);
    let what = match kind {
        ChartKind::Bar => "bar chart",
        ChartKind::Line => "line chart",
        ChartKind::Histogram => "histogram",
    };
    let x_name = if kind == ChartKind::Histogram {
        y.as_str()
    } else {
        columns[0].as_str()
    };
    let y_name = if kind == ChartKind::Histogram {
        "rows"
    } else {
        y.as_str()
    };
    let line: String = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x_of(i), y_of(p.1)))
        .collect::<Vec<_>>()
        .join(" ");
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {HEIGHT}"))
            role="img" aria-label=(format!("{what}: {y_name} by {x_name}")) data-kind=(what) {
            line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(TOP + plot_h) stroke="currentColor" {}
            line x1=(LEFT) y1=(y_of(0.0_f64.clamp(min, max))) x2=(WIDTH - RIGHT) y2=(y_of(0.0_f64.clamp(min, max))) stroke="currentColor" {}
            @for (v, y_px) in [(max, y_of(max)), (min + span / 2.0, y_of(min + span / 2.0)), (min, y_of(min))] {
                text x=(LEFT - 4.0) y=(y_px + 4.0) text-anchor="end" font-size="11" { (tick(v)) }
            }
            @match kind {
                ChartKind::Line => {
                    polyline points=(line) fill="none" stroke="#1f5fa8" stroke-width="2" {}
                    @for (i, p) in points.iter().enumerate() {
                        circle class="point" cx=(format!("{:.1}", x_of(i))) cy=(format!("{:.1}", y_of(p.1))) r="3" fill="#1f5fa8" {
                            title { (p.0) ": " (tick(p.1)) }
                        }
                    }
                }
                ChartKind::Bar | ChartKind::Histogram => {
                    @for (i, p) in points.iter().enumerate() {
                        @let base = y_of(0.0_f64.clamp(min, max));
                        @let top = y_of(p.1);
                        rect class="bar" x=(format!("{:.1}", LEFT + step * i as f64 + step * 0.1)) y=(format!("{:.1}", top.min(base)))
                            width=(format!("{:.1}", step * 0.8)) height=(format!("{:.1}", (base - top).abs())) fill="#1f5fa8" {
                            title { (p.0) ": " (tick(p.1)) }
                        }
                    }
                }
            }
            @for (i, p) in points.iter().enumerate() {
                @if points.len() <= 20 || i % points.len().div_ceil(20) == 0 {
                    text x=(format!("{:.1}", x_of(i))) y=(HEIGHT - BOTTOM + 14.0) text-anchor="end" font-size="10"
                        transform=(format!("rotate(-35 {:.1} {:.1})", x_of(i), HEIGHT - BOTTOM + 14.0)) {
                        (short(&p.0))
                    }
                }
            }
        }
    }
}

fn histogram(rows: &[Map<String, Value>], column: &str) -> Vec<(String, f64)> {
    let values: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.get(column).and_then(number))
        .filter(|v| v.is_finite())
        .collect();
    let (Some(lo), Some(hi)) = (
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    ) else {
        return Vec::new();
    };
    let width = if hi > lo {
        (hi - lo) / BINS as f64
    } else {
        1.0
    };
    let mut counts = [0u64; BINS];
    for v in &values {
        let bin = (((v - lo) / width) as usize).min(BINS - 1);
        counts[bin] += 1;
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let from = lo + width * i as f64;
            (format!("{}–{}", tick(from), tick(from + width)), *c as f64)
        })
        .collect()
}

fn tick(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn short(text: &str) -> String {
    if text.chars().count() > 14 {
        let mut s: String = text.chars().take(13).collect();
        s.push('…');
        s
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(pairs: &[(&str, f64)]) -> Vec<Map<String, Value>> {
        pairs
            .iter()
            .map(|(k, v)| {
                let mut m = Map::new();
                m.insert("age_band".into(), Value::String((*k).into()));
                m.insert("persons".into(), serde_json::json!(v));
                m
            })
            .collect()
    }

    #[test]
    fn bars_are_one_per_row_and_scaled_to_the_largest() {
        let cols = vec!["age_band".to_owned(), "persons".to_owned()];
        let svg = render(
            ChartKind::Bar,
            &cols,
            &rows(&[("0-9", 10.0), ("10-19", 20.0)]),
        )
        .into_string();
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        // The tallest bar spans the whole plot height.
        assert!(svg.contains(&format!("height=\"{:.1}\"", HEIGHT - TOP - BOTTOM)));
        assert!(svg.contains("10-19: 20"));
    }

    #[test]
    fn a_histogram_counts_every_value_once() {
        let cols = vec!["age_band".to_owned(), "persons".to_owned()];
        let data = rows(&[("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 10.0)]);
        let svg = render(ChartKind::Histogram, &cols, &data).into_string();
        assert_eq!(svg.matches("class=\"bar\"").count(), BINS);
        let counted: f64 = histogram(&data, "persons").iter().map(|p| p.1).sum();
        assert_eq!(counted, 4.0);
    }

    #[test]
    fn text_without_numbers_is_not_charted() {
        let cols = vec!["age_band".to_owned()];
        let mut m = Map::new();
        m.insert("age_band".into(), Value::String("x".into()));
        let svg = render(ChartKind::Line, &cols, &[m]).into_string();
        assert!(!svg.contains("<svg"));
    }
}
