//! The overview's charts, drawn here in SVG (no chart library in the WASM): jobs finished per
//! period (completed and failed, stacked; lines past [`MAX_BARS`] periods) and the wait and run
//! time percentiles per period, over one of the history's ranges. Each has axes, a legend, and
//! a text summary as its accessible name.

use leptos::prelude::*;

use crate::model::admin::{HistoryRange, MinuteStats, Percentiles};

/// Most periods drawn as bars (and percentiles with dots); more are drawn as lines.
pub const MAX_BARS: usize = 120;

const WIDTH: f64 = 420.0;
const HEIGHT: f64 = 190.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;

/// The smallest "round" number (1, 2 or 5 times a power of ten) at or above `value`.
pub fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= value)
        .unwrap_or(10.0 * power)
}

/// A duration in ms, short, for an axis.
pub fn ms_words(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{:.1} min", ms / 60_000.0)
    }
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

fn y_of(value: f64, max: f64) -> f64 {
    TOP + plot_height() * (1.0 - (value / max).clamp(0.0, 1.0))
}

/// Where the periods go: the range's `slots` periods across the plot, the points given being
/// the last ones (a history younger than the range starts right of the y axis).
#[derive(Clone, Copy)]
struct Span {
    slots: usize,
    offset: usize,
}

impl Span {
    fn of(range: HistoryRange, points: usize) -> Self {
        let slots = (range.points() as usize).max(points).max(1);
        Self {
            slots,
            offset: slots - points,
        }
    }

    fn width(self) -> f64 {
        plot_width() / self.slots as f64
    }

    /// The left edge of point `i`.
    fn x(self, i: usize) -> f64 {
        LEFT + (self.offset + i) as f64 * self.width()
    }

    /// The middle of point `i`.
    fn mid(self, i: usize) -> f64 {
        self.x(i) + self.width() / 2.0
    }
}

/// The axes: three y labels (0, half, max) and three x labels (the range's start, half, now).
fn axes(max: f64, label: fn(f64) -> String, range: HistoryRange) -> impl IntoView {
    let ys = [0.0, max / 2.0, max]
        .into_iter()
        .map(|v| {
            let y = y_of(v, max);
            view! {
                <line class="grid" x1=LEFT x2=WIDTH - RIGHT y1=y y2=y/>
                <text class="axis" x=LEFT - 6.0 y=y + 4.0 text-anchor="end">{label(v)}</text>
            }
        })
        .collect_view();
    let (start, half) = match range {
        HistoryRange::Hour => ("1 h ago", "30 min ago"),
        HistoryRange::Day => ("24 h ago", "12 h ago"),
        HistoryRange::Week => ("7 d ago", "3.5 d ago"),
        HistoryRange::Quarter => ("90 d ago", "45 d ago"),
    };
    let base = HEIGHT - BOTTOM;
    view! {
        {ys}
        <line class="axis-line" x1=LEFT x2=LEFT y1=TOP y2=base/>
        <line class="axis-line" x1=LEFT x2=WIDTH - RIGHT y1=base y2=base/>
        <text class="axis" x=LEFT y=HEIGHT - 6.0>{start}</text>
        <text class="axis" x=LEFT + plot_width() / 2.0 y=HEIGHT - 6.0 text-anchor="middle">{half}</text>
        <text class="axis" x=WIDTH - RIGHT y=HEIGHT - 6.0 text-anchor="end">"now"</text>
    }
}

fn count_label(v: f64) -> String {
    format!("{v:.0}")
}

fn ms_label(v: f64) -> String {
    ms_words(v)
}

/// Completed and failed jobs per period: stacked bars, or lines (all finished, failed) past
/// [`MAX_BARS`] periods.
pub fn throughput(points: &[MinuteStats], range: HistoryRange) -> impl IntoView + use<> {
    let span = Span::of(range, points.len());
    let max = nice_ceiling(
        points
            .iter()
            .map(|m| (m.completed + m.failed) as f64)
            .fold(0.0, f64::max),
    );
    let (done, failed): (u64, u64) = points
        .iter()
        .fold((0, 0), |(c, f), m| (c + m.completed, f + m.failed));
    let summary = format!(
        "Jobs finished per {} over the last {}: {done} completed and {failed} failed in all",
        range.period_words(),
        range.span_words()
    );
    let label = summary.clone();
    let base = HEIGHT - BOTTOM;
    let marks = if points.len() <= MAX_BARS {
        let width = (span.width() - 1.0).max(1.0);
        points
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let x = span.x(i);
                let completed_top = y_of(m.completed as f64, max);
                let all_top = y_of((m.completed + m.failed) as f64, max);
                let tip = format!(
                    "{}: {} completed, {} failed",
                    crate::model::time::clock(m.at),
                    m.completed,
                    m.failed
                );
                view! {
                    <g>
                        <title>{tip}</title>
                        <rect class="done" x=x y=completed_top width=width height=base - completed_top/>
                        <rect class="failed" x=x y=all_top width=width height=completed_top - all_top/>
                    </g>
                }
            })
            .collect_view()
            .into_any()
    } else {
        // Areas down to the axis: all finished (green), failed in front (red).
        let area = |value: fn(&MinuteStats) -> u64| {
            let mut points_text = format!("{:.1},{base:.1}", span.x(0));
            for (i, m) in points.iter().enumerate() {
                points_text.push_str(&format!(
                    " {:.1},{:.1}",
                    span.mid(i),
                    y_of(value(m) as f64, max)
                ));
            }
            points_text.push_str(&format!(" {:.1},{base:.1}", span.x(points.len())));
            points_text
        };
        view! {
            <polygon class="done" points=area(|m| m.completed + m.failed)/>
            <polygon class="failed" points=area(|m| m.failed)/>
        }
        .into_any()
    };
    view! {
        <figure class="chart" data-chart="throughput">
            <figcaption>
                "Throughput "
                <span class="legend"><i class="key done"></i>"completed"</span>
                <span class="legend"><i class="key failed"></i>"failed"</span>
            </figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=label>
                <title>{summary}</title>
                {axes(max, count_label, range)}
                {marks}
            </svg>
        </figure>
    }
}

/// p50, p95 and p99 of a time per period, as lines (gaps where a period had no job).
pub fn percentiles(
    title: &'static str,
    points: &[MinuteStats],
    range: HistoryRange,
    pick: fn(&MinuteStats) -> Percentiles,
) -> impl IntoView + use<> {
    let span = Span::of(range, points.len());
    let values: Vec<Percentiles> = points.iter().map(pick).collect();
    let max = nice_ceiling(
        values
            .iter()
            .flat_map(|p| [p.p50, p.p95, p.p99])
            .flatten()
            .map(|v| v as f64)
            .fold(0.0, f64::max),
    );
    let line = |get: fn(&Percentiles) -> Option<u64>| -> String {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                get(p).map(|v| format!("{:.1},{:.1}", span.mid(i), y_of(v as f64, max)))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let last = values.iter().rev().find(|p| p.p50.is_some()).copied();
    let period = range.period_words();
    let summary = match last {
        Some(p) => format!(
            "{title} per {period}, last {period} with jobs: p50 {}, p95 {}, p99 {}",
            ms_words(p.p50.unwrap_or(0) as f64),
            ms_words(p.p95.unwrap_or(0) as f64),
            ms_words(p.p99.unwrap_or(0) as f64)
        ),
        None => format!(
            "{title} per {period}: no job finished in the last {}",
            range.span_words()
        ),
    };
    let label = summary.clone();
    let dotted = points.len() <= MAX_BARS;
    let dots = |get: fn(&Percentiles) -> Option<u64>, class: &'static str| {
        dotted.then(|| {
            values
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    get(p).map(|v| {
                        view! {
                            <circle class=class cx=span.mid(i) cy=y_of(v as f64, max) r="1.6"/>
                        }
                    })
                })
                .collect_view()
        })
    };
    view! {
        <figure class="chart">
            <figcaption>
                {title} " "
                <span class="legend"><i class="key p50"></i>"p50"</span>
                <span class="legend"><i class="key p95"></i>"p95"</span>
                <span class="legend"><i class="key p99"></i>"p99"</span>
            </figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=label>
                <title>{summary}</title>
                {axes(max, ms_label, range)}
                <polyline class="p99" points=line(|p| p.p99)/>
                <polyline class="p95" points=line(|p| p.p95)/>
                <polyline class="p50" points=line(|p| p.p50)/>
                {dots(|p| p.p99, "p99")}
                {dots(|p| p.p95, "p95")}
                {dots(|p| p.p50, "p50")}
            </svg>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(45.0), 50.0);
        assert_eq!(nice_ceiling(100.0), 100.0);
        assert_eq!(nice_ceiling(1001.0), 2000.0);
        assert_eq!(ms_words(950.0), "950 ms");
        assert_eq!(ms_words(1500.0), "1.5 s");
    }
}
