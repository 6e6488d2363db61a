//! The overview's charts, drawn here in SVG (no chart library in the WASM): jobs finished per
//! minute (completed and failed, stacked) and the wait and run time percentiles per minute.
//! Each has axes, a legend, and a text summary as its accessible name.

use leptos::prelude::*;

use crate::model::admin::{MinuteStats, Percentiles};

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

/// The axes: three y labels (0, half, max) and three x labels (an hour ago, half, now).
fn axes(max: f64, label: fn(f64) -> String, span_minutes: usize) -> impl IntoView {
    let half = span_minutes / 2;
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
    let base = HEIGHT - BOTTOM;
    view! {
        {ys}
        <line class="axis-line" x1=LEFT x2=LEFT y1=TOP y2=base/>
        <line class="axis-line" x1=LEFT x2=WIDTH - RIGHT y1=base y2=base/>
        <text class="axis" x=LEFT y=HEIGHT - 6.0>{format!("{span_minutes} min ago")}</text>
        <text class="axis" x=LEFT + plot_width() / 2.0 y=HEIGHT - 6.0 text-anchor="middle">
            {format!("{half} min ago")}
        </text>
        <text class="axis" x=WIDTH - RIGHT y=HEIGHT - 6.0 text-anchor="end">"now"</text>
    }
}

fn count_label(v: f64) -> String {
    format!("{v:.0}")
}

fn ms_label(v: f64) -> String {
    ms_words(v)
}

/// Completed and failed jobs per minute, stacked bars.
pub fn throughput(minutes: &[MinuteStats]) -> impl IntoView + use<> {
    let n = minutes.len().max(1);
    let max = nice_ceiling(
        minutes
            .iter()
            .map(|m| (m.completed + m.failed) as f64)
            .fold(0.0, f64::max),
    );
    let step = plot_width() / n as f64;
    let width = (step - 1.0).max(1.0);
    let (done, failed): (u64, u64) = minutes
        .iter()
        .fold((0, 0), |(c, f), m| (c + m.completed, f + m.failed));
    let summary = format!(
        "Jobs finished per minute over the last {n} minutes: {done} completed and {failed} failed in all"
    );
    let label = summary.clone();
    let bars = minutes
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let x = LEFT + i as f64 * step;
            let completed_top = y_of(m.completed as f64, max);
            let all_top = y_of((m.completed + m.failed) as f64, max);
            let base = HEIGHT - BOTTOM;
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
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>
                "Throughput "
                <span class="legend"><i class="key done"></i>"completed"</span>
                <span class="legend"><i class="key failed"></i>"failed"</span>
            </figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=label>
                <title>{summary}</title>
                {axes(max, count_label, n)}
                {bars}
            </svg>
        </figure>
    }
}

/// p50, p95 and p99 of a time per minute, as lines (gaps where a minute had no job).
pub fn percentiles(
    title: &'static str,
    minutes: &[MinuteStats],
    pick: fn(&MinuteStats) -> Percentiles,
) -> impl IntoView + use<> {
    let n = minutes.len().max(1);
    let values: Vec<Percentiles> = minutes.iter().map(pick).collect();
    let max = nice_ceiling(
        values
            .iter()
            .flat_map(|p| [p.p50, p.p95, p.p99])
            .flatten()
            .map(|v| v as f64)
            .fold(0.0, f64::max),
    );
    let step = plot_width() / n as f64;
    let line = |get: fn(&Percentiles) -> Option<u64>| -> String {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                get(p).map(|v| {
                    format!(
                        "{:.1},{:.1}",
                        LEFT + (i as f64 + 0.5) * step,
                        y_of(v as f64, max)
                    )
                })
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let last = values.iter().rev().find(|p| p.p50.is_some()).copied();
    let summary = match last {
        Some(p) => format!(
            "{title} per minute, last minute with jobs: p50 {}, p95 {}, p99 {}",
            ms_words(p.p50.unwrap_or(0) as f64),
            ms_words(p.p95.unwrap_or(0) as f64),
            ms_words(p.p99.unwrap_or(0) as f64)
        ),
        None => format!("{title} per minute: no job finished in the last {n} minutes"),
    };
    let label = summary.clone();
    let dots = |get: fn(&Percentiles) -> Option<u64>, class: &'static str| {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                get(p).map(|v| {
                    view! {
                        <circle class=class cx=LEFT + (i as f64 + 0.5) * step cy=y_of(v as f64, max) r="1.6"/>
                    }
                })
            })
            .collect_view()
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
                {axes(max, ms_label, n)}
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
