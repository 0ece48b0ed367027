//! The three SVG charts of the HTML report, as maud templates (every label and
//! tooltip is escaped like the rest of the page). SVG elements are written with an
//! explicit end tag (`{}`): inside HTML, `<line ...>` without one would stay open.

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::review::report::Report;

use super::format::{key_label, tail};
use super::text::Text;

const PALETTE: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#8c6d31", "#7f7f7f",
];
const W: f64 = 960.0;

/// A round axis maximum and tick step for values up to `max` (never zero).
pub(super) fn nice_scale(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let raw = max.div_ceil(4);
    let mut base = 1u64;
    while base.saturating_mul(10) <= raw {
        base *= 10;
    }
    let step = [1, 2, 5, 10]
        .iter()
        .map(|m| base.saturating_mul(*m))
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let step = step.max(1);
    (max.div_ceil(step).max(1) * step, step)
}

/// The tick values 0, step, ... up to `top`.
fn ticks((top, step): (u64, u64)) -> Vec<u64> {
    std::iter::successors(Some(0u64), |v| v.checked_add(step.max(1)))
        .take_while(|v| *v <= top)
        .collect()
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

fn day_label(day: Option<&String>, i: usize) -> String {
    match day {
        Some(d) if d.len() == 10 => d[8..].trim_start_matches('0').to_owned(),
        Some(d) => d.clone(),
        None => (i + 1).to_string(),
    }
}

fn day_name(days: &[String], i: usize) -> String {
    days.get(i)
        .cloned()
        .unwrap_or_else(|| format!("day {}", i + 1))
}

/// The `<svg>` element with its accessible title and description and a white
/// background, around `body`.
fn svg(id: &str, h: f64, title: &str, desc: &str, body: Markup) -> Markup {
    html! {
        svg id=(id) class="chart" xmlns="http://www.w3.org/2000/svg"
            viewBox={ "0 0 " (W) " " (f(h)) } width=(W) height=(f(h)) role="img"
            aria-labelledby={ (id) "-title " (id) "-desc" } {
            title id={ (id) "-title" } { (Text(title)) }
            desc id={ (id) "-desc" } { (Text(desc)) }
            rect x="0" y="0" width=(W) height=(f(h)) fill="#ffffff" {}
            (body)
        }
    }
}

/// Plot area: left, top, width, height.
type Area = (f64, f64, f64, f64);

/// Horizontal grid lines and the value axis of a vertical chart.
fn y_axis((left, top, pw, ph): Area, scale: (u64, u64), label: &str) -> Markup {
    let top_val = scale.0 as f64;
    let m = f(top + ph / 2.0);
    html! {
        @for v in ticks(scale) {
            @let y = top + ph - ph * v as f64 / top_val;
            line.grid x1=(f(left)) y1=(f(y)) x2=(f(left + pw)) y2=(f(y)) {}
            text x=(f(left - 6.0)) y=(f(y + 4.0)) text-anchor="end" { (v) }
        }
        line.axis x1=(f(left)) y1=(f(top)) x2=(f(left)) y2=(f(top + ph)) {}
        line.axis x1=(f(left)) y1=(f(top + ph)) x2=(f(left + pw)) y2=(f(top + ph)) {}
        text x="14" y=(m) text-anchor="middle" transform={ "rotate(-90 14 " (m) ")" } { (Text(label)) }
    }
}

fn x_label(left: f64, pw: f64, y: f64, label: &str) -> Markup {
    html! {
        text x=(f(left + pw / 2.0)) y=(f(y)) text-anchor="middle" { (Text(label)) }
    }
}

fn no_data(x: f64, y: f64, msg: &str) -> Markup {
    html! {
        text.none x=(f(x)) y=(f(y)) text-anchor="middle" { (Text(msg)) }
    }
}

/// Whether day `i` of `n` gets a label on the x axis.
fn labelled(i: usize, n: usize) -> bool {
    n <= 10 || i.is_multiple_of(5) || i + 1 == n
}

/// A generous estimate of the width in pixels of `s` in the charts' 11px
/// sans-serif (DejaVu Sans, system-ui): wide enough for the real text, so that
/// entries laid out with it do not overlap.
pub(super) fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | 'f' | 't' | 'r' | 'I' | '.' | ',' | ':' | ';' | '|' | '!' | '\''
            | ' ' => 4.5,
            'm' | 'w' | 'M' | 'W' | '@' | '%' => 11.0,
            c if c.is_ascii_uppercase() => 8.5,
            c if c.is_ascii() => 7.0,
            _ => 11.5,
        })
        .sum()
}

/// Legend entries (a 12px swatch, then the label) laid out left to right, in rows
/// no wider than `width`: each entry's x offset and row. An entry wider than a row
/// gets a row of its own.
pub(super) fn legend_layout(labels: &[String], width: f64) -> Vec<(f64, usize)> {
    let mut out = Vec::with_capacity(labels.len());
    let (mut x, mut row) = (0.0, 0);
    for l in labels {
        let w = legend_entry_width(l);
        if x > 0.0 && x + w > width {
            x = 0.0;
            row += 1;
        }
        out.push((x, row));
        x += w + LEGEND_GAP;
    }
    out
}

/// Swatch, gap, label.
pub(super) fn legend_entry_width(label: &str) -> f64 {
    18.0 + text_width(label)
}

/// Space between two legend entries on a row.
pub(super) const LEGEND_GAP: f64 = 20.0;

/// Daily calls of the top keys: one line per key, with a legend.
pub(super) fn chart_calls_per_key(r: &Report) -> Markup {
    let ch = &r.charts;
    let series = &ch.calls_per_key;
    let n = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(ch.days.len());
    let (left, top, right) = (64.0, 16.0, 16.0);
    let (pw, ph) = (W - left - right, 220.0);
    let legend_top = top + ph + 52.0;
    let h = legend_top + series.len().max(1) as f64 * 18.0 + 6.0;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let scale = nice_scale(max);
    let x = |i: usize| {
        if n <= 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: u64| top + ph - ph * v as f64 / scale.0 as f64;
    let body = html! {
        (y_axis((left, top, pw, ph), scale, "calls per day"))
        @for i in (0..n).filter(|i| labelled(*i, n)) {
            text x=(f(x(i))) y=(f(top + ph + 16.0)) text-anchor="middle" {
                (Text(&day_label(ch.days.get(i), i)))
            }
        }
        (x_label(left, pw, top + ph + 36.0, &format!("day of {}", r.month)))
        @if series.is_empty() || n == 0 {
            (no_data(left + pw / 2.0, top + ph / 2.0, "no key was used this month"))
        }
        @for (si, s) in series.iter().enumerate() {
            @let colour = PALETTE[si % PALETTE.len()];
            @let label = key_label(r, &s.name);
            @let total: u64 = s.values.iter().sum();
            @let points: Vec<String> = s.values.iter().enumerate()
                .map(|(i, v)| format!("{},{}", f(x(i)), f(y(*v))))
                .collect();
            @let ly = legend_top + si as f64 * 18.0;
            g.series {
                title { (Text(&label)) " (" (Text(&s.name)) "): " (total) " calls" }
                polyline fill="none" stroke=(colour) stroke-width="2" points=(points.join(" ")) {}
                @for (i, v) in s.values.iter().enumerate() {
                    circle cx=(f(x(i))) cy=(f(y(*v))) r="2.5" fill=(colour) {
                        title { (Text(&label)) ", " (Text(&day_name(&ch.days, i))) ": " (v) " calls" }
                    }
                }
                rect x=(f(left)) y=(f(ly - 10.0)) width="12" height="12" fill=(colour) {}
                text x=(f(left + 18.0)) y=(f(ly)) {
                    (Text(&tail(&label, 60))) " — " (total) " calls"
                    title { (Text(&s.name)) }
                }
            }
        }
    };
    svg(
        "chart-calls-per-key",
        h,
        &format!("Daily KMS calls for the top keys, {}", r.month),
        "One line per key; hover a point for the day's count.",
        body,
    )
}

/// Failed calls per day, as bars.
pub(super) fn chart_failures_per_day(r: &Report) -> Markup {
    let ch = &r.charts;
    let vals = &ch.failures_per_day;
    let n = vals.len();
    let (left, top, right) = (64.0, 16.0, 16.0);
    let (pw, ph) = (W - left - right, 180.0);
    let h = top + ph + 48.0;
    let max = vals.iter().copied().max().unwrap_or(0);
    let scale = nice_scale(max);
    let band = pw / n.max(1) as f64;
    let total: u64 = vals.iter().sum();
    let body = html! {
        (y_axis((left, top, pw, ph), scale, "failed calls"))
        @for (i, v) in vals.iter().enumerate() {
            @let bh = ph * *v as f64 / scale.0 as f64;
            rect x=(f(left + band * i as f64 + band * 0.15)) y=(f(top + ph - bh))
                width=(f(band * 0.7)) height=(f(bh)) fill="#d55e00" {
                title { (Text(&day_name(&ch.days, i))) ": " (v) " failed calls" }
            }
            @if labelled(i, n) {
                text x=(f(left + band * (i as f64 + 0.5))) y=(f(top + ph + 16.0)) text-anchor="middle" {
                    (Text(&day_label(ch.days.get(i), i)))
                }
            }
        }
        @if n == 0 {
            (no_data(left + pw / 2.0, top + ph / 2.0, "no data for this month"))
        } @else if total == 0 {
            (no_data(left + pw / 2.0, top + ph / 2.0, "no failed call this month"))
        }
        (x_label(left, pw, top + ph + 36.0, &format!("day of {}", r.month)))
    };
    svg(
        "chart-failures-per-day",
        h,
        &format!("Failed KMS calls per day, {}: {total} in all", r.month),
        "One bar per day; hover a bar for the day's count.",
        body,
    )
}

/// Calls per principal, stacked by operation (the 7 most frequent operations get
/// their own colour, the rest is "other").
pub(super) fn chart_operations_per_principal(r: &Report) -> Markup {
    let rows = &r.charts.operations_per_principal;
    let mut op_totals: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, ops) in rows {
        for (op, v) in ops {
            *op_totals.entry(op.as_str()).or_default() += v;
        }
    }
    let mut ops: Vec<(&str, u64)> = op_totals.into_iter().collect();
    ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let named: Vec<&str> = ops.iter().take(7).map(|o| o.0).collect();
    let has_other = ops.len() > named.len();
    let colour = |op: &str| {
        named
            .iter()
            .position(|o| *o == op)
            .map_or(PALETTE[7], |i| PALETTE[i])
    };

    let (left, top, right, row_h) = (230.0, 16.0, 24.0, 24.0);
    let pw = W - left - right;
    let ph = row_h * rows.len().max(1) as f64;
    let legend: Vec<(&str, &str)> = named
        .iter()
        .map(|o| (*o, colour(o)))
        .chain(has_other.then_some(("other operations", PALETTE[7])))
        .collect();
    let labels: Vec<String> = legend.iter().map(|(op, _)| tail(op, 30)).collect();
    let places = legend_layout(&labels, pw);
    let legend_rows = places.last().map_or(1, |p| p.1 + 1);
    let legend_top = top + ph + 50.0;
    let h = legend_top + legend_rows as f64 * 18.0 + 6.0;
    let max = rows
        .iter()
        .map(|(_, o)| o.iter().map(|x| x.1).sum::<u64>())
        .max()
        .unwrap_or(0);
    let scale = nice_scale(max);
    let x = |v: u64| pw * v as f64 / scale.0 as f64;

    let body = html! {
        @for v in ticks(scale) {
            @let gx = left + x(v);
            line.grid x1=(f(gx)) y1=(f(top)) x2=(f(gx)) y2=(f(top + ph)) {}
            text x=(f(gx)) y=(f(top + ph + 16.0)) text-anchor="middle" { (v) }
        }
        line.axis x1=(f(left)) y1=(f(top)) x2=(f(left)) y2=(f(top + ph)) {}
        line.axis x1=(f(left)) y1=(f(top + ph)) x2=(f(left + pw)) y2=(f(top + ph)) {}
        (x_label(left, pw, top + ph + 36.0, "calls this month"))
        @if rows.is_empty() {
            (no_data(left + pw / 2.0, top + ph / 2.0 + 4.0, "no KMS call this month"))
        }
        @for (ri, (principal, pops)) in rows.iter().enumerate() {
            @let y = top + ri as f64 * row_h + 4.0;
            @let total: u64 = pops.iter().map(|o| o.1).sum();
            @let starts: Vec<u64> = pops.iter().scan(0u64, |acc, (_, v)| {
                let s = *acc;
                *acc += v;
                Some(s)
            }).collect();
            g.principal {
                text x=(f(left - 8.0)) y=(f(y + 12.0)) text-anchor="end" {
                    (Text(&tail(principal, 32)))
                    title { (Text(principal)) ": " (total) " calls" }
                }
                @for ((op, v), start) in pops.iter().zip(&starts) {
                    rect x=(f(left + x(*start))) y=(f(y)) width=(f(x(*v))) height=(f(row_h - 8.0)) fill=(colour(op)) {
                        title { (Text(principal)) ": " (Text(op)) " " (v) " calls" }
                    }
                }
                text x=(f(left + x(total) + 4.0)) y=(f(y + 12.0)) { (total) }
            }
        }
        @for (((op, col), label), (dx, row)) in legend.iter().zip(&labels).zip(&places) {
            @let lx = left + dx;
            @let ly = legend_top + *row as f64 * 18.0;
            g.legend {
                rect x=(f(lx)) y=(f(ly - 10.0)) width="12" height="12" fill=(col) {}
                text x=(f(lx + 18.0)) y=(f(ly)) {
                    (Text(label))
                    title { (Text(op)) }
                }
            }
        }
    };
    svg(
        "chart-operations-per-principal",
        h,
        &format!("KMS operations per principal, {}", r.month),
        "One bar per principal, split by operation; hover a segment for its count.",
        body,
    )
}
