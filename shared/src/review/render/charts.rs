//! The three SVG charts of the HTML report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::review::report::Report;

use super::format::{key_label, tail};
use super::html::esc;

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

fn svg_open(out: &mut String, id: &str, h: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\
<title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>\
<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        W,
        f(h),
        W,
        f(h),
        esc(title),
        esc(desc),
        W,
        f(h),
    );
}

/// Plot area: left, top, width, height.
type Area = (f64, f64, f64, f64);

/// Horizontal grid lines and the value axis of a vertical chart.
fn y_axis(out: &mut String, (left, top, pw, ph): Area, (top_val, step): (u64, u64), label: &str) {
    let mut v = 0;
    while v <= top_val {
        let y = top + ph - ph * v as f64 / top_val as f64;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v}</text>",
            f(left),
            f(y),
            f(left + pw),
            f(y),
            f(left - 6.0),
            f(y + 4.0),
        );
        v += step;
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>\
<text x=\"14\" y=\"{m}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {m})\">{}</text>",
        esc(label),
        l = f(left),
        t = f(top),
        b = f(top + ph),
        r = f(left + pw),
        m = f(top + ph / 2.0),
    );
}

fn x_label(out: &mut String, left: f64, pw: f64, y: f64, label: &str) {
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        f(left + pw / 2.0),
        f(y),
        esc(label)
    );
}

fn no_data(out: &mut String, x: f64, y: f64, msg: &str) {
    let _ = write!(
        out,
        "<text class=\"none\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        f(x),
        f(y),
        esc(msg)
    );
}

/// Daily calls of the top keys: one line per key, with a legend.
pub(super) fn chart_calls_per_key(r: &Report) -> String {
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
    let (top_val, step) = nice_scale(max);
    let x = |i: usize| {
        if n <= 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: u64| top + ph - ph * v as f64 / top_val as f64;

    let mut out = String::new();
    svg_open(
        &mut out,
        "chart-calls-per-key",
        h,
        &format!("Daily KMS calls for the top keys, {}", r.month),
        "One line per key; hover a point for the day's count.",
    );
    y_axis(
        &mut out,
        (left, top, pw, ph),
        (top_val, step),
        "calls per day",
    );
    for i in 0..n {
        if n <= 10 || i % 5 == 0 || i + 1 == n {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                f(x(i)),
                f(top + ph + 16.0),
                esc(&day_label(ch.days.get(i), i))
            );
        }
    }
    x_label(
        &mut out,
        left,
        pw,
        top + ph + 36.0,
        &format!("day of {}", r.month),
    );
    if series.is_empty() || n == 0 {
        no_data(
            &mut out,
            left + pw / 2.0,
            top + ph / 2.0,
            "no key was used this month",
        );
    }
    for (si, s) in series.iter().enumerate() {
        let colour = PALETTE[si % PALETTE.len()];
        let label = key_label(r, &s.name);
        let total: u64 = s.values.iter().sum();
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{},{}", f(x(i)), f(y(*v))))
            .collect();
        let _ = write!(
            out,
            "<g class=\"series\"><title>{} ({}): {total} calls</title><polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            esc(&label),
            esc(&s.name),
            points.join(" ")
        );
        for (i, v) in s.values.iter().enumerate() {
            let day = ch
                .days
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("day {}", i + 1));
            let _ = write!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{colour}\"><title>{}, {}: {v} calls</title></circle>",
                f(x(i)),
                f(y(*v)),
                esc(&label),
                esc(&day)
            );
        }
        let ly = legend_top + si as f64 * 18.0;
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{} — {total} calls<title>{}</title></text></g>",
            f(left),
            f(ly - 10.0),
            f(left + 18.0),
            f(ly),
            esc(&tail(&label, 60)),
            esc(&s.name)
        );
    }
    out.push_str("</svg>");
    out
}

/// Failed calls per day, as bars.
pub(super) fn chart_failures_per_day(r: &Report) -> String {
    let ch = &r.charts;
    let vals = &ch.failures_per_day;
    let n = vals.len();
    let (left, top, right) = (64.0, 16.0, 16.0);
    let (pw, ph) = (W - left - right, 180.0);
    let h = top + ph + 48.0;
    let max = vals.iter().copied().max().unwrap_or(0);
    let (top_val, step) = nice_scale(max);
    let band = pw / n.max(1) as f64;
    let mut out = String::new();
    let total: u64 = vals.iter().sum();
    svg_open(
        &mut out,
        "chart-failures-per-day",
        h,
        &format!("Failed KMS calls per day, {}: {total} in all", r.month),
        "One bar per day; hover a bar for the day's count.",
    );
    y_axis(
        &mut out,
        (left, top, pw, ph),
        (top_val, step),
        "failed calls",
    );
    for (i, v) in vals.iter().enumerate() {
        let bh = ph * *v as f64 / top_val as f64;
        let day = ch
            .days
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("day {}", i + 1));
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#d55e00\"><title>{}: {v} failed calls</title></rect>",
            f(left + band * i as f64 + band * 0.15),
            f(top + ph - bh),
            f(band * 0.7),
            f(bh),
            esc(&day)
        );
        if n <= 10 || i % 5 == 0 || i + 1 == n {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                f(left + band * (i as f64 + 0.5)),
                f(top + ph + 16.0),
                esc(&day_label(ch.days.get(i), i))
            );
        }
    }
    if n == 0 {
        no_data(
            &mut out,
            left + pw / 2.0,
            top + ph / 2.0,
            "no data for this month",
        );
    } else if total == 0 {
        no_data(
            &mut out,
            left + pw / 2.0,
            top + ph / 2.0,
            "no failed call this month",
        );
    }
    x_label(
        &mut out,
        left,
        pw,
        top + ph + 36.0,
        &format!("day of {}", r.month),
    );
    out.push_str("</svg>");
    out
}

/// Calls per principal, stacked by operation (the 7 most frequent operations get
/// their own colour, the rest is "other").
pub(super) fn chart_operations_per_principal(r: &Report) -> String {
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
    let legend_items = named.len() + usize::from(has_other);
    let per_line = 4;
    let legend_top = top + ph + 50.0;
    let h = legend_top + legend_items.div_ceil(per_line).max(1) as f64 * 18.0 + 6.0;
    let max = rows
        .iter()
        .map(|(_, o)| o.iter().map(|x| x.1).sum::<u64>())
        .max()
        .unwrap_or(0);
    let (top_val, step) = nice_scale(max);
    let x = |v: u64| pw * v as f64 / top_val as f64;

    let mut out = String::new();
    svg_open(
        &mut out,
        "chart-operations-per-principal",
        h,
        &format!("KMS operations per principal, {}", r.month),
        "One bar per principal, split by operation; hover a segment for its count.",
    );
    let mut v = 0;
    while v <= top_val {
        let gx = left + x(v);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{v}</text>",
            f(gx),
            f(top),
            f(gx),
            f(top + ph),
            f(gx),
            f(top + ph + 16.0)
        );
        v += step;
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>",
        l = f(left),
        t = f(top),
        b = f(top + ph),
        r = f(left + pw),
    );
    x_label(&mut out, left, pw, top + ph + 36.0, "calls this month");
    if rows.is_empty() {
        no_data(
            &mut out,
            left + pw / 2.0,
            top + ph / 2.0 + 4.0,
            "no KMS call this month",
        );
    }
    for (ri, (principal, pops)) in rows.iter().enumerate() {
        let y = top + ri as f64 * row_h + 4.0;
        let total: u64 = pops.iter().map(|o| o.1).sum();
        let _ = write!(
            out,
            "<g class=\"principal\"><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}<title>{}: {total} calls</title></text>",
            f(left - 8.0),
            f(y + 12.0),
            esc(&tail(principal, 32)),
            esc(principal)
        );
        let mut acc = 0u64;
        for (op, v) in pops {
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {} {v} calls</title></rect>",
                f(left + x(acc)),
                f(y),
                f(x(*v)),
                f(row_h - 8.0),
                colour(op),
                esc(principal),
                esc(op)
            );
            acc += v;
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\">{total}</text></g>",
            f(left + x(acc) + 4.0),
            f(y + 12.0)
        );
    }
    let legend: Vec<(&str, &str)> = named
        .iter()
        .map(|o| (*o, colour(o)))
        .chain(has_other.then_some(("other operations", PALETTE[7])))
        .collect();
    for (i, (op, col)) in legend.iter().enumerate() {
        let lx = left + (i % per_line) as f64 * (pw / per_line as f64);
        let ly = legend_top + (i / per_line) as f64 * 18.0;
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{col}\"/><text x=\"{}\" y=\"{}\">{}<title>{}</title></text>",
            f(lx),
            f(ly - 10.0),
            f(lx + 18.0),
            f(ly),
            esc(&tail(op, 30)),
            esc(op)
        );
    }
    out.push_str("</svg>");
    out
}
