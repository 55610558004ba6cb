//! A small SVG line chart of a KPI: baseline, yearly results and target over the plan's years,
//! the expected path dashed. 600×300, Japanese labels, no scripts: safe to embed in a city page.

use std::fmt::Write;

use super::era;
use super::kpi::YearType;

pub const WIDTH: f64 = 600.0;
pub const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 62.0;
const FONT: &str = "'Noto Sans JP','Hiragino Sans','Yu Gothic',Meiryo,sans-serif";

/// What the chart shows.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub year_type: YearType,
    pub baseline_year: i32,
    pub target_year: i32,
    pub baseline: Option<f64>,
    pub target: Option<f64>,
    /// Measured results, any order.
    pub results: Vec<(i32, f64)>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A value as the axis shows it: no more places than needed, thousands grouped (3,500,000).
fn tick(value: f64) -> String {
    let text = format!("{value:.2}");
    super::text::grouped(text.trim_end_matches('0').trim_end_matches('.'))
}

/// Axis bounds on round numbers (1, 2 or 5 times a power of ten apart), about four steps.
fn nice_axis(low: f64, high: f64) -> (f64, f64, f64) {
    let (low, high) = if high > low {
        (low, high)
    } else {
        (low - low.abs().max(1.0) * 0.1, high + high.abs().max(1.0) * 0.1)
    };
    let rough = (high - low) / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude);
    ((low / step).floor() * step, (high / step).ceil() * step, step)
}

pub fn line_chart(series: &Series) -> String {
    let mut results = series.results.clone();
    results.sort_by_key(|(year, _)| *year);
    let first_year = series.baseline_year;
    let last_year = series
        .target_year
        .max(results.last().map_or(series.target_year, |(year, _)| *year));
    let start = series.baseline.unwrap_or(0.0);
    let values: Vec<f64> = results
        .iter()
        .map(|(_, value)| *value)
        .chain([start])
        .chain(series.target)
        .collect();
    let (low, high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
            (low.min(*value), high.max(*value))
        });
    let (low, high, step) = nice_axis(low, high);
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let span = f64::from((last_year - first_year).max(1));
    let x = |year: i32| LEFT + plot_width * f64::from(year - first_year) / span;
    let y = |value: f64| TOP + plot_height * (high - value) / (high - low);

    let mut svg = String::new();
    let title = escape(series.name);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" font-family="{FONT}">"#
    );
    let _ = write!(
        svg,
        r##"<title>{title}</title><rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="20" font-size="14" font-weight="bold" fill="#222">{title}</text>"##
    );
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" font-size="11" fill="#555" text-anchor="end">({})</text>"##,
        LEFT - 8.0,
        TOP - 10.0,
        escape(series.unit)
    );
    let ticks = ((high - low) / step).round() as i32;
    for index in 0..=ticks {
        let value = low + step * f64::from(index);
        let at = y(value);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{at:.1}" x2="{:.1}" y2="{at:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#555" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            at + 3.5,
            tick(value)
        );
    }
    for year in first_year..=last_year {
        let at = x(year);
        let _ = write!(
            svg,
            r##"<line x1="{at:.1}" y1="{:.1}" x2="{at:.1}" y2="{:.1}" stroke="#999"/><text x="{at:.1}" y="{:.1}" font-size="10" fill="#333" text-anchor="middle">{year}</text><text x="{at:.1}" y="{:.1}" font-size="8" fill="#666" text-anchor="middle">{}</text>"##,
            TOP + plot_height,
            TOP + plot_height + 4.0,
            TOP + plot_height + 16.0,
            TOP + plot_height + 28.0,
            escape(&era::era_year(year, series.year_type))
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{bottom:.1}" x2="{right:.1}" y2="{bottom:.1}" stroke="#333"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom:.1}" stroke="#333"/>"##,
        bottom = TOP + plot_height,
        right = WIDTH - RIGHT
    );
    if let Some(target) = series.target {
        let _ = write!(
            svg,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888" stroke-width="1.5" stroke-dasharray="6 4"/>"##,
            x(series.baseline_year),
            y(start),
            x(series.target_year),
            y(target)
        );
        let (tx, ty) = (x(series.target_year), y(target));
        let _ = write!(
            svg,
            r##"<path d="M{tx:.1} {:.1} L{:.1} {ty:.1} L{tx:.1} {:.1} L{:.1} {ty:.1} Z" fill="#d9480f"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#d9480f" text-anchor="end">目標 {}</text>"##,
            ty - 6.0,
            tx + 6.0,
            ty + 6.0,
            tx - 6.0,
            tx - 8.0,
            ty - 8.0,
            tick(target)
        );
    }
    let mut points: Vec<(i32, f64)> = series
        .baseline
        .map(|value| (series.baseline_year, value))
        .into_iter()
        .collect();
    points.extend(
        results
            .iter()
            .filter(|(year, _)| *year > series.baseline_year || series.baseline.is_none()),
    );
    if !points.is_empty() {
        let path: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(index, (year, value))| {
                format!("{}{:.1} {:.1}", if index == 0 { "M" } else { "L" }, x(*year), y(*value))
            })
            .collect();
        let _ = write!(
            svg,
            r##"<path d="{}" fill="none" stroke="#1c7ed6" stroke-width="2.5"/>"##,
            path.join(" ")
        );
        for (year, value) in &points {
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#1c7ed6"/>"##,
                x(*year),
                y(*value)
            );
        }
    }
    let legend_y = HEIGHT - 10.0;
    let _ = write!(
        svg,
        r##"<g font-size="10" fill="#333"><line x1="{LEFT}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="#1c7ed6" stroke-width="2.5"/><text x="{:.1}" y="{:.1}">実績</text><line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="#888" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}">目標への計画線</text></g>"##,
        LEFT + 20.0,
        LEFT + 24.0,
        legend_y + 3.5,
        LEFT + 70.0,
        LEFT + 90.0,
        LEFT + 94.0,
        legend_y + 3.5,
        ly = legend_y
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(results: Vec<(i32, f64)>) -> Series<'static> {
        Series {
            name: "国内友好都市との交流活動件数 <&>",
            unit: "件",
            year_type: YearType::Fiscal,
            baseline_year: 2019,
            target_year: 2026,
            baseline: Some(22.0),
            target: Some(30.0),
            results,
        }
    }

    #[test]
    fn labels_names_years_and_escapes() {
        let svg = line_chart(&series(vec![(2022, 26.0), (2021, 24.0)]));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("国内友好都市との交流活動件数 &lt;&amp;&gt;"));
        assert!(!svg.contains("<&>"));
        assert!(svg.contains("(件)"));
        assert!(svg.contains(">2019<") && svg.contains(">令和元年度<") && svg.contains(">令和8年度<"));
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains("目標 30"));
        assert_eq!(svg.matches("<circle").count(), 3, "baseline and two results");
    }

    #[test]
    fn ticks_read_like_the_document() {
        assert_eq!(tick(3_500_000.0), "3,500,000");
        assert_eq!(tick(-1259.0), "-1,259");
        assert_eq!(tick(99.1), "99.1");
        assert_eq!(tick(0.05), "0.05");
        assert_eq!(tick(100.0), "100");
    }

    #[test]
    fn axes_fall_on_round_numbers() {
        assert_eq!(nice_axis(22.0, 30.0), (22.0, 30.0, 2.0));
        assert_eq!(nice_axis(531.0, 1259.0), (400.0, 1400.0, 200.0));
        let (low, high, step) = nice_axis(98.81, 99.10);
        assert!((step - 0.1).abs() < 1e-9 && (low - 98.8).abs() < 1e-9 && (99.1..=99.2 + 1e-9).contains(&high));
        let (low, high, _) = nice_axis(8.0, 8.0);
        assert!(low < 8.0 && high > 8.0);
    }

    #[test]
    fn flat_and_baseline_free_series_still_draw() {
        let mut flat = series(vec![]);
        flat.baseline = Some(8.0);
        flat.target = Some(8.0);
        assert!(!line_chart(&flat).contains("NaN"));
        let mut free = series(vec![(2023, 45.0)]);
        free.baseline = None;
        assert!(!line_chart(&free).contains("NaN"));
    }
}
