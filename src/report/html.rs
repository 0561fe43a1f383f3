//! The report as one self-contained HTML page: inline SVG drawn here, no scripts, no
//! network, print CSS, so it can be mailed, archived and printed as it is. Every number
//! printed for a party is also in the page's data tables (`data-col` cells), with the
//! exact text `partyline aggregate` writes to CSV, so a reader or a test can check them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{LABEL_GUIDE, PartyRow, Report, num, text};
use crate::export::Table;
use crate::record::STANCES;

const STANCE_COLORS: [&str; 4] = ["#2b8a3e", "#e8590c", "#c92a2a", "#adb5bd"];
const SENTIMENTS: [&str; 3] = ["positive", "negative", "neutral"];
const SENTIMENT_COLORS: [&str; 3] = ["#1c7ed6", "#ae3ec9", "#ced4da"];
/// Charts show at most this many parties (the largest); the data tables keep all.
const MAX_CHART_PARTIES: usize = 25;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", x * 100.0)
    } else {
        "–".into()
    }
}

fn f2(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "–".into()
    }
}

const CSS: &str = r#"
:root { --ink:#212529; --muted:#6c757d; --rule:#dee2e6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #fff; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid var(--ink); padding-bottom: 2px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p.lead, .note { color: var(--muted); margin: 4px 0 12px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 12px system-ui, "DejaVu Sans", sans-serif; fill: var(--ink); }
svg .axis { stroke: #868e96; stroke-width: 1; }
svg .grid { stroke: #e9ecef; stroke-width: 1; }
svg .tick { fill: var(--muted); font-size: 11px; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; margin: 4px 0 8px; font-size: 13px; }
.legend span::before { content: ""; display: inline-block; width: 12px; height: 12px;
  margin-right: 5px; vertical-align: -1px; background: var(--c); }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--rule); padding: 3px 6px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.change td { white-space: nowrap; }
.scroll { overflow-x: auto; }
.method { border: 1px solid var(--rule); background: #f8f9fa; padding: 10px 16px; border-radius: 4px; }
.method dl { display: grid; grid-template-columns: 220px 1fr; gap: 2px 12px; margin: 0; }
.method dt { color: var(--muted); }
.method dd { margin: 0; word-break: break-word; }
.ex td.s { width: 110px; }
.ex .meta { color: var(--muted); font-size: 11.5px; white-space: nowrap; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  section { break-inside: avoid-page; }
  .data, .ex { break-inside: auto; }
  h2 { break-after: avoid; }
  .scroll { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Renders the whole page.
pub fn render(r: &Report) -> String {
    let mut h = String::new();
    let s = &r.aggs.summary;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
<h1>{}</h1>\n<p class=\"lead\">{} sentences in {}; {} with a speaker. \
Stance and sentiment per speaking party, with 95% intervals (bootstrap over documents).</p>\n",
        esc(&r.title),
        esc(&r.title),
        s.sentences,
        plural(s.documents, "document"),
        s.attributed
    );
    if s.documents < 2 {
        h.push_str("<p class=\"note\"><strong>One document only:</strong> intervals resample documents, so they cannot be estimated here and collapse to the point estimate.</p>\n");
    }
    if r.parties.is_empty() {
        h.push_str("<p><strong>No sentence has a speaking party</strong>, so there is nothing to chart per party.</p>\n");
    } else {
        stance_section(&mut h, r);
        net_section(&mut h, r);
        matrix_section(&mut h, r);
        timeline_section(&mut h, r);
        sentiment_section(&mut h, r);
    }
    if let Some(c) = &r.comparison {
        compare_section(&mut h, r, c);
    }
    if !r.parties.is_empty() {
        examples_section(&mut h, r);
        data_section(&mut h, r);
    }
    method_section(&mut h, r);
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn chart_parties(r: &Report) -> Vec<&PartyRow> {
    let mut v = r.parties_by_size();
    v.truncate(MAX_CHART_PARTIES);
    v
}

fn legend(h: &mut String, names: &[&str], colors: &[&str]) {
    h.push_str("<div class=\"legend\">");
    for (n, c) in names.iter().zip(colors) {
        let _ = write!(h, "<span style=\"--c:{c}\">{}</span>", esc(n));
    }
    h.push_str("</div>\n");
}

fn truncated_note(h: &mut String, r: &Report) {
    if r.parties.len() > MAX_CHART_PARTIES {
        let _ = writeln!(
            h,
            "<p class=\"note\">The {MAX_CHART_PARTIES} parties with the most sentences are charted; all {} are in the tables below.</p>",
            r.parties.len()
        );
    }
}

/// A horizontal 0–100% axis with grid lines, for share charts.
fn share_axis(h: &mut String, x0: f64, w: f64, top: f64, bottom: f64) {
    for i in 0..=4 {
        let x = x0 + w * i as f64 / 4.0;
        let _ = write!(
            h,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>\
<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}%</text>",
            bottom + 14.0,
            i * 25
        );
    }
}

fn stance_section(h: &mut String, r: &Report) {
    let parties = chart_parties(r);
    h.push_str("<section id=\"stance\">\n<h2>Stance shares per party</h2>\n<p class=\"note\">Each bar splits a party's sentences by stance; the four lines under it are the 95% interval of each share (dot: the share).</p>\n");
    legend(h, &STANCES, &STANCE_COLORS);
    let (x0, w, row) = (150.0, 620.0, 58.0);
    let height = 16.0 + row * parties.len() as f64 + 24.0;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 860 {height:.0}\" width=\"860\" role=\"img\" aria-label=\"Stance shares per party\">"
    );
    share_axis(h, x0, w, 8.0, height - 22.0);
    for (i, p) in parties.iter().enumerate() {
        let y = 14.0 + row * i as f64;
        let _ = write!(
            h,
            "<g data-party=\"{}\" data-sentences=\"{}\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">n={}</text>",
            esc(&p.party),
            p.sentences,
            x0 - 8.0,
            y + 12.0,
            esc(&p.party),
            x0 + w + 8.0,
            y + 12.0,
            p.sentences
        );
        let mut at = x0;
        for (k, stance) in STANCES.iter().enumerate() {
            let share = if p.share[k].is_finite() {
                p.share[k]
            } else {
                0.0
            };
            let bw = share * w;
            let _ = write!(
                h,
                "<rect x=\"{at:.2}\" y=\"{y:.1}\" width=\"{bw:.2}\" height=\"16\" fill=\"{}\" \
data-stance=\"{stance}\" data-share=\"{}\" data-low=\"{}\" data-high=\"{}\">\
<title>{}: {stance} {} (95% {}–{})</title></rect>",
                STANCE_COLORS[k],
                p.share[k],
                p.low[k],
                p.high[k],
                esc(&p.party),
                pct(p.share[k]),
                pct(p.low[k]),
                pct(p.high[k])
            );
            if bw > 38.0 {
                let _ = write!(
                    h,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" style=\"fill:#fff;font-size:11px\">{}</text>",
                    at + bw / 2.0,
                    y + 12.0,
                    pct(p.share[k])
                );
            }
            at += bw;
            let wy = y + 22.0 + 5.0 * k as f64;
            if p.low[k].is_finite() && p.high[k].is_finite() {
                let _ = write!(
                    h,
                    "<line x1=\"{:.1}\" y1=\"{wy:.1}\" x2=\"{:.1}\" y2=\"{wy:.1}\" stroke=\"{}\" stroke-width=\"2\"/>\
<circle cx=\"{:.1}\" cy=\"{wy:.1}\" r=\"2.4\" fill=\"{}\"/>",
                    x0 + p.low[k] * w,
                    x0 + p.high[k] * w,
                    STANCE_COLORS[k],
                    x0 + share * w,
                    STANCE_COLORS[k]
                );
            }
        }
        h.push_str("</g>");
    }
    h.push_str("</svg>\n");
    truncated_note(h, r);
    h.push_str("</section>\n");
}

/// Net score axis bounds: data-driven, always showing zero, with a little margin.
fn net_domain<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    ((lo - 0.5).floor(), (hi + 0.5).ceil())
}

fn net_axis(h: &mut String, x0: f64, w: f64, lo: f64, hi: f64, top: f64, bottom: f64) {
    let xs = |v: f64| x0 + (v - lo) / (hi - lo) * w;
    let step = if hi - lo > 8.0 { 2.0 } else { 1.0 };
    let mut v = lo;
    while v <= hi + 1e-9 {
        let x = xs(v);
        let class = if v.abs() < 1e-9 { "axis" } else { "grid" };
        let _ = write!(
            h,
            "<line class=\"{class}\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>\
<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{v:+}</text>",
            bottom + 14.0
        );
        v += step;
    }
}

fn net_section(h: &mut String, r: &Report) {
    let parties = chart_parties(r);
    let w = &r.opts.weights.0;
    let _ = write!(
        h,
        "<section id=\"net\">\n<h2>Net cooperation score per party</h2>\n<p class=\"note\">Mean Goldstein-style weight per sentence (conciliatory {:+}, accusatory {:+}, threatening {:+}, neutral {:+}); above zero leans cooperative, below zero leans conflictual. Lines: 95% interval; a party heard in one document only has none, since intervals resample documents.</p>\n",
        w[0], w[1], w[2], w[3]
    );
    let (lo, hi) = net_domain(
        parties
            .iter()
            .flat_map(|p| [&p.net_low, &p.net_high, &p.net]),
    );
    let (x0, width, row) = (150.0, 560.0, 24.0);
    let height = 12.0 + row * parties.len() as f64 + 24.0;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 860 {height:.0}\" width=\"860\" role=\"img\" aria-label=\"Net cooperation score per party\">"
    );
    net_axis(h, x0, width, lo, hi, 4.0, height - 22.0);
    let xs = |v: f64| x0 + (v - lo) / (hi - lo) * width;
    for (i, p) in parties.iter().enumerate() {
        let y = 16.0 + row * i as f64;
        let color = if p.net >= 0.0 {
            STANCE_COLORS[0]
        } else {
            STANCE_COLORS[2]
        };
        let _ = write!(
            h,
            "<g data-party=\"{}\" data-net=\"{}\" data-net-low=\"{}\" data-net-high=\"{}\">\
<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"2.5\"/>\
<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{color}\"><title>{}: {} (95% {} to {})</title></circle>\
<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{} [{}, {}]</text></g>",
            esc(&p.party),
            p.net,
            p.net_low,
            p.net_high,
            x0 - 8.0,
            y + 4.0,
            esc(&p.party),
            xs(p.net_low),
            xs(p.net_high),
            xs(p.net),
            esc(&p.party),
            f2(p.net),
            f2(p.net_low),
            f2(p.net_high),
            x0 + width + 10.0,
            y + 4.0,
            f2(p.net),
            f2(p.net_low),
            f2(p.net_high)
        );
    }
    h.push_str("</svg>\n");
    truncated_note(h, r);
    h.push_str("</section>\n");
}

fn matrix_section(h: &mut String, r: &Report) {
    let t = &r.aggs.dyads;
    h.push_str("<section id=\"matrix\">\n<h2>Who accuses or threatens whom</h2>\n");
    if t.rows.is_empty() {
        h.push_str(
            "<p class=\"note\">No sentence names both a speaker and a target.</p>\n</section>\n",
        );
        return;
    }
    h.push_str("<p class=\"note\">Share of a speaker's sentences about a target that are accusatory or threatening (rows: speaker, columns: target; n: sentences).</p>\n");
    // Parties by how many dyad sentences they take part in, largest first.
    let mut weight: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut cells: BTreeMap<(&str, &str), (f64, i64)> = BTreeMap::new();
    for row in &t.rows {
        let sp = text(t, row, "speaker").unwrap_or_default();
        let tg = text(t, row, "target").unwrap_or_default();
        let n = num(t, row, "sentences").unwrap_or(0.0) as i64;
        let share = num(t, row, "share_accusatory").unwrap_or(0.0)
            + num(t, row, "share_threatening").unwrap_or(0.0);
        weight.entry(sp).or_default().0 += n;
        weight.entry(tg).or_default().1 += n;
        cells.insert((sp, tg), (share, n));
    }
    let ranked = |pick: fn(&(i64, i64)) -> i64| {
        let mut v: Vec<(&str, i64)> = weight
            .iter()
            .map(|(k, w)| (*k, pick(w)))
            .filter(|(_, n)| *n > 0)
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(MAX_CHART_PARTIES);
        v.into_iter().map(|(k, _)| k).collect::<Vec<_>>()
    };
    let speakers = ranked(|w| w.0);
    let targets = ranked(|w| w.1);
    let (x0, y0, cw, ch) = (130.0, 70.0, 52.0, 30.0);
    let width = x0 + cw * targets.len() as f64 + 20.0;
    let height = y0 + ch * speakers.len() as f64 + 10.0;
    let _ = write!(
        h,
        "<div class=\"scroll\"><svg viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" role=\"img\" aria-label=\"Speaker to target matrix\">"
    );
    for (j, tg) in targets.iter().enumerate() {
        let x = x0 + cw * j as f64 + cw / 2.0;
        let _ = write!(
            h,
            "<text x=\"{x:.1}\" y=\"{:.1}\" transform=\"rotate(-40 {x:.1} {:.1})\">{}</text>",
            y0 - 8.0,
            y0 - 8.0,
            esc(tg)
        );
    }
    for (i, sp) in speakers.iter().enumerate() {
        let y = y0 + ch * i as f64;
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 8.0,
            y + ch / 2.0 + 4.0,
            esc(sp)
        );
        for (j, tg) in targets.iter().enumerate() {
            let x = x0 + cw * j as f64;
            match cells.get(&(*sp, *tg)) {
                Some((share, n)) => {
                    let fg = if *share > 0.55 { "#fff" } else { "#212529" };
                    let _ = write!(
                        h,
                        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#c92a2a\" fill-opacity=\"{:.3}\" stroke=\"#dee2e6\" data-speaker=\"{}\" data-target=\"{}\" data-share=\"{share}\" data-n=\"{n}\"><title>{} → {}: {} accusatory or threatening, n={n}</title></rect>\
<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" style=\"fill:{fg};font-size:11px\">{:.0}%</text>\
<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" style=\"fill:{fg};font-size:8.5px\">n={n}</text>",
                        cw,
                        ch,
                        0.06 + 0.94 * share,
                        esc(sp),
                        esc(tg),
                        esc(sp),
                        esc(tg),
                        pct(*share),
                        x + cw / 2.0,
                        y + 13.0,
                        share * 100.0,
                        x + cw / 2.0,
                        y + 25.0
                    );
                }
                None => {
                    let _ = write!(
                        h,
                        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cw:.1}\" height=\"{ch:.1}\" fill=\"#f8f9fa\" stroke=\"#dee2e6\"/>"
                    );
                }
            }
        }
    }
    h.push_str("</svg></div>\n</section>\n");
}

/// A timeline point: period index, net score, its interval, sentences.
type Point = (usize, f64, f64, f64, f64);

fn timeline_section(h: &mut String, r: &Report) {
    let t = &r.aggs.dates;
    if t.rows.is_empty() {
        h.push_str("<section id=\"timeline\">\n<h2>Net cooperation score over time</h2>\n<p class=\"note\">No document carries a date, so there is no timeline (give documents a <code>date</code> field).</p>\n</section>\n");
        return;
    }
    let period = match r.opts.period {
        crate::aggregate::Period::Day => "day",
        crate::aggregate::Period::Week => "ISO week",
        crate::aggregate::Period::Month => "month",
    };
    let _ = write!(
        h,
        "<section id=\"timeline\">\n<h2>Net cooperation score over time</h2>\n<p class=\"note\">Per {period}, per party; shaded: 95% interval; dot size grows with the number of sentences.</p>\n"
    );
    let periods: Vec<&str> = t
        .rows
        .iter()
        .filter_map(|row| text(t, row, "period"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut series: BTreeMap<&str, Vec<Point>> = BTreeMap::new();
    for row in &t.rows {
        let (Some(p), Some(party)) = (text(t, row, "period"), text(t, row, "party")) else {
            continue;
        };
        let i = periods.iter().position(|x| *x == p).unwrap_or(0);
        series.entry(party).or_default().push((
            i,
            num(t, row, "net_score").unwrap_or(f64::NAN),
            num(t, row, "net_score_low").unwrap_or(f64::NAN),
            num(t, row, "net_score_high").unwrap_or(f64::NAN),
            num(t, row, "sentences").unwrap_or(0.0),
        ));
    }
    let (lo, hi) = net_domain(
        series
            .values()
            .flatten()
            .flat_map(|(_, n, l, hh, _)| [n, l, hh]),
    );
    let order: Vec<&PartyRow> = chart_parties(r)
        .into_iter()
        .filter(|p| series.contains_key(p.party.as_str()))
        .collect();
    let (x0, w, ph) = (150.0, 600.0, 90.0);
    let xs = |i: usize| {
        if periods.len() == 1 {
            x0 + w / 2.0
        } else {
            x0 + w * i as f64 / (periods.len() - 1) as f64
        }
    };
    let ys = |v: f64, top: f64| top + ph - (v - lo) / (hi - lo) * ph;
    let height = order.len() as f64 * (ph + 18.0) + 30.0;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 860 {height:.0}\" width=\"860\" role=\"img\" aria-label=\"Net score over time per party\">"
    );
    for (k, p) in order.iter().enumerate() {
        let top = 8.0 + k as f64 * (ph + 18.0);
        let pts = &series[p.party.as_str()];
        let _ = write!(
            h,
            "<g data-party=\"{}\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
<rect x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{ph:.1}\" fill=\"none\" stroke=\"#e9ecef\"/>\
<line class=\"axis\" x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{hi:+}</text><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{lo:+}</text>",
            esc(&p.party),
            x0 - 10.0,
            top + ph / 2.0 + 4.0,
            esc(&p.party),
            ys(0.0, top),
            x0 + w,
            ys(0.0, top),
            x0 + w + 6.0,
            top + 10.0,
            x0 + w + 6.0,
            top + ph
        );
        if pts.len() > 1 {
            let mut band = String::new();
            for (i, _, _, high, _) in pts.iter() {
                let _ = write!(band, "{:.1},{:.1} ", xs(*i), ys(*high, top));
            }
            for (i, _, low, _, _) in pts.iter().rev() {
                let _ = write!(band, "{:.1},{:.1} ", xs(*i), ys(*low, top));
            }
            let line: String = pts
                .iter()
                .map(|(i, n, ..)| format!("{:.1},{:.1}", xs(*i), ys(*n, top)))
                .collect::<Vec<_>>()
                .join(" ");
            let _ = write!(
                h,
                "<polygon points=\"{}\" fill=\"#4dabf7\" fill-opacity=\"0.18\"/>\
<polyline points=\"{line}\" fill=\"none\" stroke=\"#1864ab\" stroke-width=\"2\"/>",
                band.trim_end()
            );
        }
        for (i, n, low, high, count) in pts {
            let x = xs(*i);
            let _ = write!(
                h,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#1864ab\" stroke-opacity=\"0.5\"/>\
<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"{:.1}\" fill=\"#1864ab\" data-period=\"{}\" data-net=\"{n}\">\
<title>{} {}: {} (95% {} to {}), n={count}</title></circle>",
                ys(*low, top),
                ys(*high, top),
                ys(*n, top),
                (2.0 + count.sqrt()).min(7.0),
                esc(periods[*i]),
                esc(&p.party),
                esc(periods[*i]),
                f2(*n),
                f2(*low),
                f2(*high)
            );
        }
        h.push_str("</g>");
    }
    // Period labels under the last panel, thinned to about eight.
    let last = 8.0 + order.len() as f64 * (ph + 18.0) - 18.0 + 14.0;
    let every = periods.len().div_ceil(8).max(1);
    for (i, p) in periods.iter().enumerate() {
        if i % every == 0 || i + 1 == periods.len() {
            let _ = write!(
                h,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{last:.1}\" text-anchor=\"middle\">{}</text>",
                xs(i),
                esc(p)
            );
        }
    }
    h.push_str("</svg>\n");
    if r.aggs.summary.undated > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} sentences with a speaker have no date and are left out of the timeline.</p>",
            r.aggs.summary.undated
        );
    }
    h.push_str("</section>\n");
}

fn sentiment_section(h: &mut String, r: &Report) {
    let parties: Vec<&PartyRow> = chart_parties(r)
        .into_iter()
        .filter(|p| p.sentiment.iter().any(|s| s.is_some()))
        .collect();
    if parties.is_empty() {
        return;
    }
    h.push_str("<section id=\"sentiment\">\n<h2>Sentiment shares per party</h2>\n");
    legend(h, &SENTIMENTS, &SENTIMENT_COLORS);
    let (x0, w, row) = (150.0, 620.0, 24.0);
    let height = 10.0 + row * parties.len() as f64 + 24.0;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 860 {height:.0}\" width=\"860\" role=\"img\" aria-label=\"Sentiment shares per party\">"
    );
    share_axis(h, x0, w, 4.0, height - 22.0);
    for (i, p) in parties.iter().enumerate() {
        let y = 8.0 + row * i as f64;
        let _ = write!(
            h,
            "<g data-party=\"{}\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            esc(&p.party),
            x0 - 8.0,
            y + 12.0,
            esc(&p.party)
        );
        let mut at = x0;
        for (k, s) in SENTIMENTS.iter().enumerate() {
            let share = p.sentiment[k].unwrap_or(0.0);
            let bw = share * w;
            let _ = write!(
                h,
                "<rect x=\"{at:.2}\" y=\"{y:.1}\" width=\"{bw:.2}\" height=\"16\" fill=\"{}\" data-sentiment=\"{s}\" data-share=\"{share}\"><title>{}: {s} {}</title></rect>",
                SENTIMENT_COLORS[k],
                esc(&p.party),
                pct(share)
            );
            if bw > 38.0 {
                let fg = if k == 2 { "#212529" } else { "#fff" };
                let _ = write!(
                    h,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" style=\"fill:{fg};font-size:11px\">{}</text>",
                    at + bw / 2.0,
                    y + 12.0,
                    pct(share)
                );
            }
            at += bw;
        }
        h.push_str("</g>");
    }
    h.push_str("</svg>\n</section>\n");
}

fn compare_section(h: &mut String, r: &Report, c: &super::Comparison) {
    let _ = write!(
        h,
        "<section id=\"compare\">\n<h2>Change per party: B minus A</h2>\n<p class=\"note\">A: {}; B: {}. Parties that speak in both. Intervals: 95% percentile bootstrap of the difference, resampling each side's documents ({} draws, seed {}).</p>\n",
        esc(&c.label_a),
        esc(&c.label_b),
        r.opts.bootstrap,
        r.opts.seed
    );
    if c.rows.is_empty() {
        h.push_str("<p>No party speaks in both A and B.</p>\n</section>\n");
        return;
    }
    let (lo, hi) = net_domain(c.rows.iter().flat_map(|x| [&x.net.0, &x.net.1, &x.net.2]));
    let (x0, width, row) = (150.0, 560.0, 24.0);
    let height = 12.0 + row * c.rows.len() as f64 + 24.0;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 860 {height:.0}\" width=\"860\" role=\"img\" aria-label=\"Change of net score\">"
    );
    net_axis(h, x0, width, lo, hi, 4.0, height - 22.0);
    let xs = |v: f64| x0 + (v - lo) / (hi - lo) * width;
    for (i, x) in c.rows.iter().enumerate() {
        let y = 16.0 + row * i as f64;
        let color = if x.net.0 >= 0.0 {
            STANCE_COLORS[0]
        } else {
            STANCE_COLORS[2]
        };
        let _ = write!(
            h,
            "<g data-party=\"{}\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"2.5\"/>\
<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{color}\"/>\
<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{:+.2} [{:+.2}, {:+.2}]</text></g>",
            esc(&x.party),
            x0 - 8.0,
            y + 4.0,
            esc(&x.party),
            xs(x.net.1),
            xs(x.net.2),
            xs(x.net.0),
            x0 + width + 10.0,
            y + 4.0,
            x.net.0,
            x.net.1,
            x.net.2
        );
    }
    h.push_str("</svg>\n");
    h.push_str("<table class=\"change\"><thead><tr><th>party</th><th class=\"n\">n A</th><th class=\"n\">n B</th><th class=\"n\">net score A → B</th><th class=\"n\">change [95%]</th>");
    for s in STANCES {
        let _ = write!(h, "<th class=\"n\">{s}, points [95%]</th>");
    }
    h.push_str("</tr></thead><tbody>\n");
    for x in &c.rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} → {}</td><td class=\"n\">{:+.2} [{:+.2}, {:+.2}]</td>",
            esc(&x.party),
            x.sentences_a,
            x.sentences_b,
            f2(x.net_a),
            f2(x.net_b),
            x.net.0,
            x.net.1,
            x.net.2
        );
        for (d, lo, hi) in x.share {
            let _ = write!(
                h,
                "<td class=\"n\">{:+.1} [{:+.1}, {:+.1}]</td>",
                d * 100.0,
                lo * 100.0,
                hi * 100.0
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n<h3>Change table (shares 0–1)</h3>\n");
    data_table(h, &c.table(), "change-data");
    h.push_str("</section>\n");
}

fn examples_section(h: &mut String, r: &Report) {
    h.push_str("<section id=\"examples\" class=\"ex\">\n<h2>Example sentences</h2>\n<p class=\"note\">For each party and stance, the three sentences the model was most confident about (highest probability of that stance among sentences labeled with it); hand-coded sentences without probabilities in input order.</p>\n");
    for p in chart_parties(r) {
        let Some(lists) = r.examples.get(&p.party) else {
            continue;
        };
        let _ = write!(
            h,
            "<h3>{}</h3>\n<table data-party=\"{}\"><tbody>",
            esc(&p.party),
            esc(&p.party)
        );
        for (k, stance) in STANCES.iter().enumerate() {
            for (j, e) in lists[k].iter().enumerate() {
                h.push_str("<tr>");
                if j == 0 {
                    let _ = write!(
                        h,
                        "<td class=\"s\" rowspan=\"{}\"><span style=\"color:{}\">■</span> {stance}</td>",
                        lists[k].len(),
                        STANCE_COLORS[k]
                    );
                }
                let p = e.p.map_or(String::new(), |p| format!(", p={p:.2}"));
                let _ = write!(
                    h,
                    "<td>{}<br><span class=\"meta\">{} #{}{}</span></td></tr>",
                    esc(&e.text),
                    esc(&e.doc),
                    e.n,
                    p
                );
            }
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");
}

/// A table with every column and the exact text CSV export writes.
fn data_table(h: &mut String, t: &Table, id: &str) {
    let _ = write!(
        h,
        "<div class=\"scroll\"><table id=\"{id}\" class=\"data\"><thead><tr>"
    );
    for c in &t.columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>\n");
    for row in &t.rows {
        let key = row.first().map(|c| c.to_text()).unwrap_or_default();
        let _ = write!(h, "<tr data-party=\"{}\">", esc(&key));
        for (c, cell) in t.columns.iter().zip(row) {
            let class = match cell {
                crate::export::Cell::Int(_) | crate::export::Cell::Num(_) => " class=\"n\"",
                _ => "",
            };
            let _ = write!(
                h,
                "<td{class} data-col=\"{}\">{}</td>",
                esc(c),
                esc(&cell.to_text())
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
}

fn data_section(h: &mut String, r: &Report) {
    h.push_str("<section id=\"data\" class=\"data\">\n<h2>Per-party table</h2>\n<p class=\"note\">The numbers behind the charts, as <code>partyline aggregate</code> writes them (shares 0–1).</p>\n");
    data_table(h, &r.aggs.parties, "party-data");
    h.push_str("</section>\n");
}

fn method_section(h: &mut String, r: &Report) {
    let s = &r.aggs.summary;
    let m = &r.method;
    h.push_str("<section id=\"method\" class=\"method\">\n<h2>Method</h2>\n<dl>");
    let mut item = |k: &str, v: String| {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), v);
    };
    match &m.model {
        Some(man) => {
            item("model", esc(&man.name));
            item(
                "encoder",
                format!(
                    "{} ({}{})",
                    esc(&man.encoder_name),
                    esc(&man.encoder),
                    if man.int8 { ", int8" } else { "" }
                ),
            );
            item(
                "encoder packages",
                esc(&man
                    .encoder_packages
                    .iter()
                    .map(|p| format!("{} {}", p.name, p.version))
                    .collect::<Vec<_>>()
                    .join(", ")),
            );
            item("model created", esc(&man.created));
            item("partyline version (training)", esc(&man.partyline_version));
            item("heads sha256", esc(&man.heads_sha256));
            item(
                "training data",
                format!(
                    "{} documents, {} sentences (train); {} documents, {} sentences (dev)",
                    man.data.train_documents,
                    man.data.train_sentences,
                    man.data.dev_documents,
                    man.data.dev_sentences
                ),
            );
            item(
                "dev macro-F1",
                format!(
                    "stance {:.3}, sentiment {:.3}",
                    man.scores.dev_stance_macro_f1, man.scores.dev_sentiment_macro_f1
                ),
            );
        }
        None => item(
            "model",
            "none run here: the inputs were already coded sentence records".into(),
        ),
    }
    item(
        "input files",
        m.inputs
            .iter()
            .map(|p| esc(&p.display().to_string()))
            .collect::<Vec<_>>()
            .join("<br>"),
    );
    item("label guide", esc(LABEL_GUIDE));
    item("sentences", s.sentences.to_string());
    item("documents", s.documents.to_string());
    item(
        "attributed / unattributed",
        format!("{} / {}", s.attributed, s.unattributed),
    );
    item("undated (with a speaker)", s.undated.to_string());
    item(
        "skipped (bad records, empty documents)",
        m.skipped.to_string(),
    );
    let w = &r.opts.weights.0;
    item(
        "net score weights",
        format!(
            "conciliatory {:+}, accusatory {:+}, threatening {:+}, neutral {:+}",
            w[0], w[1], w[2], w[3]
        ),
    );
    item(
        "intervals",
        format!(
            "95% percentile bootstrap over documents, {} draws, seed {}",
            r.opts.bootstrap, r.opts.seed
        ),
    );
    item(
        "generated by",
        format!("partyline {}", env!("CARGO_PKG_VERSION")),
    );
    h.push_str("</dl>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<b>\"A&B\"</b> 'x'"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt; &#39;x&#39;"
        );
    }
}
